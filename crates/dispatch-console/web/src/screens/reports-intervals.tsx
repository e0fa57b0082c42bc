// Intervals (GetIntervalReport): grouped by up to two dimensions, a row per group and interval
// with its count, p50, p90, mean and longest, what was left out and why, and each target's
// result (met or not, with the share within the threshold); then the p50 and p90 of one interval
// per group as bars, with its targets drawn across.
import { useState } from "preact/hooks";
import { api } from "../api";
import { useText } from "../i18n";
import { enumValues, INTERVAL_KINDS, labelOf, REPORT_DIMENSIONS, unitTypeLabel } from "../labels";
import { EnumSelect, HeadCells, RefusalView } from "../widgets";
import {
  IntervalKind,
  ReportDimension,
  type GroupKey,
  type IntervalGroup,
  type IntervalStatistics,
  type IntervalTarget,
  type TargetCompliance,
} from "../gen/dispatch/v1/reporting_service_pb";
import { UnitType } from "../gen/dispatch/v1/unit_pb";
import { typeLabel, useDirectory, type Directory } from "./dispatch-directory";
import { GroupBarsChart } from "./reports-chart";
import { count, percent, periodKey, seconds, span, useReport } from "./reports-format";
import type { PeriodInit } from "./reports-period";

const T = {
  groupBy: { es: "Agrupar por", en: "Group by" },
  thenBy: { es: "y por", en: "then by" },
  none: { es: "(sin agrupar)", en: "(no grouping)" },
  interval: { es: "Intervalo", en: "Interval" },
  allIntervals: { es: "Todos los intervalos", en: "Every interval" },
  chartOf: { es: "Gráfica de", en: "Chart of" },
  group: { es: "Grupo", en: "Group" },
  total: { es: "Total", en: "Total" },
  count: { es: "Medidos", en: "Measured" },
  p50: { es: "p50", en: "p50" },
  p90: { es: "p90", en: "p90" },
  mean: { es: "Media", en: "Mean" },
  max: { es: "Máximo", en: "Longest" },
  excluded: { es: "Excluidos: sin hora / neg. / canc.", en: "Left out: missing / neg. / canc." },
  compliance: { es: "Cumplimiento de metas", en: "Compliance with targets" },
  met: { es: "Cumple", en: "Met" },
  notMet: { es: "No cumple", en: "Not met" },
  noneRecorded: { es: "(sin dato)", en: "(none recorded)" },
  priority: { es: "Prioridad", en: "Priority" },
  incidents: { es: "incidentes", en: "incidents" },
  assignments: { es: "asignaciones", en: "assignments" },
  targets: { es: "Metas", en: "Targets" },
  every: { es: "toda unidad", en: "every unit" },
  within: { es: "dentro de", en: "within" },
  loading: { es: "Calculando…", en: "Computing…" },
  noGroups: { es: "Ningún incidente en el periodo.", en: "No incident in the period." },
  chartTitle: { es: "p50 y p90 por grupo, con las metas", en: "p50 and p90 per group, with the targets" },
  missing: { es: "sin hora", en: "missing time" },
  negative: { es: "negativo", en: "negative" },
  cancelled: { es: "cancelado", en: "cancelled" },
};

const DIMENSIONS = enumValues<ReportDimension>(ReportDimension);
const KINDS = enumValues<IntervalKind>(IntervalKind);

export function IntervalsTab({ period }: { period: PeriodInit }) {
  const t = useText(T);
  const directory = useDirectory();
  const [first, setFirst] = useState<ReportDimension>(ReportDimension.UNSPECIFIED);
  const [second, setSecond] = useState<ReportDimension>(ReportDimension.UNSPECIFIED);
  const [shown, setShown] = useState<IntervalKind>(IntervalKind.UNSPECIFIED);
  const [charted, setCharted] = useState<IntervalKind>(IntervalKind.CALL_PROCESSING);
  const groupBy = [first, second].filter((d, i, all) => d !== ReportDimension.UNSPECIFIED && all.indexOf(d) === i);
  const report = useReport(`${periodKey(period)}|${groupBy.join(",")}`, () =>
    api.reports.getIntervalReport({ period, groupBy }),
  );
  const data = report.data;
  const groups: { key: string; label: string; group: IntervalGroup }[] = [];
  if (data?.total !== undefined) groups.push({ key: "total", label: t.total, group: data.total });
  for (const g of data?.groups ?? []) groups.push({ key: groupKey(g.keys), label: groupLabel(g.keys, directory, t), group: g });
  const charts = (data?.groups.length ?? 0) > 0 ? groups.filter((g) => g.key !== "total") : groups;
  const targetText = (target: IntervalTarget) => targetLabel(target, t.every);

  return (
    <div class="rp-tab" data-testid="rp-intervals" data-busy={report.busy ? "true" : "false"}>
      <div class="dsp-toolbar">
        <label class="dsp-inline">
          {t.groupBy}
          <EnumSelect
            testid="rp-group-1"
            names={ReportDimension}
            values={DIMENSIONS}
            labels={REPORT_DIMENSIONS}
            value={first}
            all={t.none}
            onChange={(d) => {
              setFirst(d);
              if (d === ReportDimension.UNSPECIFIED || d === second) setSecond(ReportDimension.UNSPECIFIED);
            }}
          />
        </label>
        <label class="dsp-inline">
          {t.thenBy}
          <EnumSelect
            testid="rp-group-2"
            names={ReportDimension}
            values={DIMENSIONS.filter((d) => d !== first)}
            labels={REPORT_DIMENSIONS}
            value={second}
            all={t.none}
            disabled={first === ReportDimension.UNSPECIFIED}
            onChange={setSecond}
          />
        </label>
        <label class="dsp-inline">
          {t.interval}
          <EnumSelect testid="rp-interval" names={IntervalKind} values={KINDS} labels={INTERVAL_KINDS} value={shown} all={t.allIntervals} onChange={setShown} />
        </label>
        {report.busy && <span class="hint">{t.loading}</span>}
        {data !== null && (
          <span class="hint" data-testid="rp-interval-counts" data-incidents={String(data.incidents)} data-assignments={String(data.assignments)}>
            {count(data.incidents)} {t.incidents} · {count(data.assignments)} {t.assignments}
          </span>
        )}
      </div>
      {report.refused !== null && <RefusalView refusal={report.refused} />}
      {data !== null && (
        <>
          <p class="hint rp-targets" data-testid="rp-targets">
            {t.targets}: {data.targets.map((x) => `${labelOf(INTERVAL_KINDS, x.interval)} ${targetText(x)}${x.source !== "" ? ` (${x.source})` : ""}`).join(" · ")}
          </p>
          <div class="dsp-table-wrap rp-table-wrap">
            <table class="dsp-table rp-table" data-testid="rp-interval-table">
              <thead>
                <HeadCells
                  columns={[
                    t.group,
                    t.interval,
                    { label: t.count, num: true },
                    { label: t.p50, num: true },
                    { label: t.p90, num: true },
                    { label: t.mean, num: true },
                    { label: t.max, num: true },
                    { label: t.excluded, num: true },
                    t.compliance,
                  ]}
                />
              </thead>
              <tbody>
                {groups.map(({ key, label, group }) =>
                  rowsOf(group, shown, key === "total").map((stats, i) => (
                    <IntervalRow key={`${key}-${stats.interval}`} groupKey={key} groupLabel={i === 0 ? label : ""} stats={stats} t={t} />
                  )),
                )}
              </tbody>
            </table>
          </div>
          {data.groups.length === 0 && groupBy.length > 0 && <p class="hint">{t.noGroups}</p>}
          <div class="dsp-toolbar">
            <label class="dsp-inline">
              {t.chartOf}
              <EnumSelect testid="rp-chart-interval" names={IntervalKind} values={KINDS} labels={INTERVAL_KINDS} value={charted} onChange={setCharted} />
            </label>
          </div>
          <GroupBarsChart
            testid="rp-interval-chart"
            title={`${labelOf(INTERVAL_KINDS, charted)}: ${t.chartTitle}`}
            legend={{ p50: t.p50, p90: t.p90 }}
            format={(s) => span(Math.round(s))}
            bars={charts.map(({ key, label, group }) => {
              const stats = group.intervals.find((s) => s.interval === charted);
              return { key, label, p50: seconds(stats?.p50), p90: seconds(stats?.p90) };
            })}
            targets={data.targets
              .filter((x) => x.interval === charted)
              .map((x) => ({ seconds: seconds(x.threshold) ?? 0, label: targetText(x) }))}
          />
        </>
      )}
    </div>
  );
}

/** The rows a group shows: the interval picked, or every interval measured or left out. */
function rowsOf(group: IntervalGroup, shown: IntervalKind, total: boolean): IntervalStatistics[] {
  if (shown !== IntervalKind.UNSPECIFIED) return group.intervals.filter((s) => s.interval === shown);
  if (total) return group.intervals;
  return group.intervals.filter((s) => s.count > 0n || s.excludedMissing + s.excludedNegative + s.excludedCancelled > 0n);
}

function IntervalRow(props: { groupKey: string; groupLabel: string; stats: IntervalStatistics; t: Record<keyof typeof T, string> }) {
  const { stats, t } = props;
  const p50 = seconds(stats.p50);
  const p90 = seconds(stats.p90);
  const mean = seconds(stats.mean);
  return (
    <tr
      data-testid="rp-interval-row"
      data-group={props.groupKey}
      data-interval={IntervalKind[stats.interval] ?? String(stats.interval)}
      data-count={String(stats.count)}
      data-p50={p50 ?? ""}
      data-p90={p90 ?? ""}
      data-mean={mean ?? ""}
      class={props.groupLabel !== "" ? "rp-group-start" : undefined}
    >
      <th scope="row" class="rp-group">
        {props.groupLabel}
      </th>
      <td>{labelOf(INTERVAL_KINDS, stats.interval)}</td>
      <td class="num">{count(stats.count)}</td>
      <td class="num mono">{span(p50)}</td>
      <td class="num mono">{span(p90)}</td>
      <td class="num mono">{span(mean)}</td>
      <td class="num mono">{span(seconds(stats.max))}</td>
      <td class="num mono" title={`${t.missing} / ${t.negative} / ${t.cancelled}`}>
        {`${stats.excludedMissing} / ${stats.excludedNegative} / ${stats.excludedCancelled}`}
      </td>
      <td>
        <div class="rp-compliance">
          {stats.compliance.map((c, i) => (
            <Compliance key={i} c={c} t={t} />
          ))}
        </div>
      </td>
    </tr>
  );
}

function Compliance({ c, t }: { c: TargetCompliance; t: Record<keyof typeof T, string> }) {
  const target = c.target;
  const label = target === undefined ? "" : targetLabel(target, t.every);
  return (
    <span
      class={`rp-met ${c.met ? "met" : "not-met"}`}
      data-testid="rp-compliance"
      data-met={c.met ? "true" : "false"}
      data-share={c.share}
      title={`${count(c.within)} / ${count(c.count)} ${t.within} ${label}`}
    >
      <span aria-hidden="true">{c.met ? "✓" : "✗"}</span> {c.met ? t.met : t.notMet} · {percent(c.share)} · {label}
    </span>
  );
}

/** "p90 ≤ 1:20 · Engine": the target's percentile, threshold and unit type. */
function targetLabel(target: IntervalTarget, every: string): string {
  const pct = Math.round((target.percentile === 0 ? 0.9 : target.percentile) * 100);
  const who = target.unitType === UnitType.UNSPECIFIED ? every : unitTypeLabel(target.unitType);
  return `p${pct} ≤ ${span(seconds(target.threshold))} · ${who}`;
}

function groupKey(keys: GroupKey[]): string {
  return keys.map((k) => k.value).join("|");
}

/** A group's keys as a person reads them: type names, unit type labels, "07:00". */
function groupLabel(keys: GroupKey[], directory: Directory, t: Record<keyof typeof T, string>): string {
  return keys.map((k) => keyLabel(k, directory, t)).join(" · ");
}

function keyLabel(key: GroupKey, directory: Directory, t: Record<keyof typeof T, string>): string {
  if (key.value === "") return t.noneRecorded;
  switch (key.dimension) {
    case ReportDimension.INCIDENT_TYPE:
      return typeLabel(directory, key.value);
    case ReportDimension.PRIORITY:
      return `${t.priority} ${key.value}`;
    case ReportDimension.UNIT_TYPE: {
      const value = UnitType[key.value.toUpperCase() as keyof typeof UnitType];
      return typeof value === "number" ? unitTypeLabel(value) : key.value;
    }
    case ReportDimension.HOUR_OF_DAY:
      return `${key.value}:00`;
    default:
      return key.value;
  }
}
