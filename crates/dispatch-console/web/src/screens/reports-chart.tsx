// The reports' charts, as inline SVG and plain elements (a chart library would outweigh them):
// p50/p90 bars per group with the targets drawn across, a share bar for table cells, columns
// per hour, and the 7×24 hour-of-week grid. Every mark carries its number as text too (a
// tooltip or a label), never colour or length alone.

/** One group's bars: its label, p50 and p90 in seconds (null when nothing was measured). */
export interface GroupBar {
  key: string;
  label: string;
  p50: number | null;
  p90: number | null;
}

/** A target drawn across the bars: its threshold in seconds and what it says. */
export interface TargetLine {
  seconds: number;
  label: string;
}

const WIDTH = 720;
const LABEL_W = 190;
const ROW_H = 26;
const AXIS_H = 22;

/** Round steps for an axis reaching `max`. */
function ticks(max: number): number[] {
  const rough = max / 5;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
  const step = steps.find((s) => s >= rough) ?? Math.ceil(rough / 3600) * 3600;
  const out: number[] = [];
  for (let t = 0; t <= max; t += step) out.push(t);
  return out;
}

/**
 * Horizontal bars, one row per group: p50 (lighter) and p90 (stronger) from a common zero, each
 * target a dashed vertical line with its label. `format` writes seconds for the labels.
 */
export function GroupBarsChart(props: {
  bars: GroupBar[];
  targets: TargetLine[];
  format: (seconds: number) => string;
  title: string;
  legend: { p50: string; p90: string };
  testid: string;
}) {
  const { bars, targets, format } = props;
  const top = Math.max(1, ...bars.flatMap((b) => [b.p50 ?? 0, b.p90 ?? 0]), ...targets.map((t) => t.seconds));
  const max = top * 1.08;
  const plot = WIDTH - LABEL_W - 60;
  const x = (s: number) => LABEL_W + (s / max) * plot;
  // A band above the bars for the targets' labels, one line each.
  const head = AXIS_H + targets.length * 13;
  const height = head + AXIS_H + bars.length * ROW_H + 8;
  const axis = ticks(max);
  return (
    <figure class="rp-chart" data-testid={props.testid}>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label={props.title}>
        <title>{props.title}</title>
        <g class="rp-legend" transform={`translate(${LABEL_W}, 12)`}>
          <rect x="0" y="-8" width="12" height="8" class="rp-p50" />
          <text x="16" y="0">{props.legend.p50}</text>
          <rect x="90" y="-8" width="12" height="8" class="rp-p90" />
          <text x="106" y="0">{props.legend.p90}</text>
        </g>
        {axis.map((t) => (
          <g key={t} class="rp-axis">
            <line x1={x(t)} x2={x(t)} y1={head} y2={height - AXIS_H} />
            <text x={x(t)} y={height - 6} text-anchor="middle">
              {format(t)}
            </text>
          </g>
        ))}
        {bars.map((b, i) => {
          const y = head + 4 + i * ROW_H;
          return (
            <g key={b.key} data-testid="rp-bar-group" data-group={b.key} data-p50={b.p50 ?? ""} data-p90={b.p90 ?? ""}>
              <text class="rp-label" x={LABEL_W - 6} y={y + 15} text-anchor="end">
                {b.label.length > 26 ? `${b.label.slice(0, 25)}…` : b.label}
              </text>
              {b.p90 !== null && (
                <rect class="rp-p90" x={LABEL_W} y={y + 2} width={Math.max(1, x(b.p90) - LABEL_W)} height={ROW_H - 6}>
                  <title>{`${b.label} · p90 ${format(b.p90)}`}</title>
                </rect>
              )}
              {b.p50 !== null && (
                <rect class="rp-p50" x={LABEL_W} y={y + 7} width={Math.max(1, x(b.p50) - LABEL_W)} height={ROW_H - 16}>
                  <title>{`${b.label} · p50 ${format(b.p50)}`}</title>
                </rect>
              )}
              {b.p90 !== null && (
                <text class="rp-value" x={x(b.p90) + 4} y={y + 15}>
                  {format(b.p90)}
                </text>
              )}
            </g>
          );
        })}
        {targets.map((t, i) => (
          <g key={`${t.label}-${i}`} class="rp-target" data-testid="rp-target" data-seconds={t.seconds}>
            <line x1={x(t.seconds)} x2={x(t.seconds)} y1={AXIS_H + 2 + i * 13} y2={height - AXIS_H} />
            <text x={x(t.seconds) - 4} y={AXIS_H + 11 + i * 13} text-anchor="end">
              {t.label}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

/** A share (0..1) as a bar inside a table cell, its percentage written beside it. */
export function ShareBar({ share, text, tone = "" }: { share: number; text: string; tone?: string }) {
  const width = Math.max(0, Math.min(1, share)) * 100;
  return (
    <span class={`rp-share ${tone}`} data-share={share}>
      <span class="rp-share-track" aria-hidden="true">
        <span class="rp-share-fill" style={{ width: `${width}%` }} />
      </span>
      <span class="rp-share-text">{text}</span>
    </span>
  );
}

/** Columns, one per value (e.g. per hour), each with its label under it and its text as a tooltip. */
export function ColumnChart(props: {
  values: number[];
  labels: string[];
  texts: string[];
  /** How the tallest column's value is written on the axis. */
  top: (value: number) => string;
  title: string;
  testid: string;
}) {
  const { values } = props;
  const width = WIDTH;
  const height = 170;
  const base = height - 22;
  const peak = Math.max(...values, 0);
  const top = peak || 1;
  const slot = (width - 20) / Math.max(values.length, 1);
  return (
    <figure class="rp-chart" data-testid={props.testid}>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={props.title}>
        <title>{props.title}</title>
        <line class="rp-baseline" x1="10" x2={width - 10} y1={base} y2={base} />
        <line class="rp-baseline" x1="10" x2={width - 10} y1={18} y2={18} stroke-dasharray="2 4" />
        <text x="12" y="13">{props.top(peak)}</text>
        {values.map((v, i) => {
          const h = (v / top) * (base - 18);
          const x = 10 + i * slot;
          return (
            <g key={i} data-testid="rp-column" data-value={v}>
              <rect class="rp-p90" x={x + slot * 0.15} y={base - h} width={slot * 0.7} height={Math.max(h, v > 0 ? 1 : 0)}>
                <title>{`${props.labels[i]} · ${props.texts[i]}`}</title>
              </rect>
              <text class="rp-axis-label" x={x + slot / 2} y={height - 6} text-anchor="middle">
                {props.labels[i]}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/**
 * The week as 7 rows (Monday first) of 24 hours, each cell shaded by its count and titled with
 * it; clicking a cell picks that hour of the week (again: no hour).
 */
export function HourOfWeekGrid(props: {
  counts: number[];
  days: string[];
  picked: number | null;
  onPick: (hourOfWeek: number | null) => void;
  title: string;
}) {
  const top = Math.max(...props.counts, 0) || 1;
  return (
    <div class="rp-heat" role="grid" aria-label={props.title} data-testid="rp-heat">
      <div class="rp-heat-row" role="row">
        <span class="rp-heat-day" />
        {Array.from({ length: 24 }, (_, h) => (
          <span key={h} class="rp-heat-hour" role="columnheader">
            {h % 3 === 0 ? String(h).padStart(2, "0") : ""}
          </span>
        ))}
      </div>
      {props.days.map((day, d) => (
        <div key={day} class="rp-heat-row" role="row">
          <span class="rp-heat-day" role="rowheader">
            {day}
          </span>
          {Array.from({ length: 24 }, (_, h) => {
            const how = d * 24 + h;
            const n = props.counts[how] ?? 0;
            const picked = props.picked === how;
            return (
              <button
                key={h}
                type="button"
                role="gridcell"
                class={`rp-heat-cell${picked ? " picked" : ""}`}
                data-testid="rp-heat-cell"
                data-hour-of-week={how}
                data-count={n}
                aria-pressed={picked}
                title={`${day} ${String(h).padStart(2, "0")}:00 · ${n}`}
                style={{ background: n === 0 ? undefined : `rgba(255, 92, 92, ${0.15 + 0.85 * (n / top)})` }}
                onClick={() => props.onPick(picked ? null : how)}
              />
            );
          })}
        </div>
      ))}
    </div>
  );
}
