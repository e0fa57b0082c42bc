// Utilization (GetUtilizationReport): unit-hour utilization (committed / on duty) per unit, per
// unit type and per home station, each as a bar; and per station area how often the first unit
// sent came from another station (first due busy or unsuitable).
import { api } from "../api";
import { useText } from "../i18n";
import { unitTypeLabel } from "../labels";
import { HeadCells, RefusalView } from "../widgets";
import type { FirstDue, Utilization } from "../gen/dispatch/v1/reporting_service_pb";
import { ShareBar } from "./reports-chart";
import { count, hours, percent, periodKey, useReport } from "./reports-format";
import type { PeriodInit } from "./reports-period";

const T = {
  units: { es: "Por unidad", en: "Per unit" },
  types: { es: "Por tipo de unidad", en: "Per unit type" },
  stations: { es: "Por base", en: "Per station" },
  firstDue: { es: "Primera unidad por zona de base", en: "First due per station area" },
  unit: { es: "Unidad", en: "Unit" },
  type: { es: "Tipo", en: "Type" },
  station: { es: "Base", en: "Station" },
  onDuty: { es: "En servicio", en: "On duty" },
  committed: { es: "Comprometida", en: "Committed" },
  uhu: { es: "Utilización (UHU)", en: "Unit-hour utilization" },
  assignments: { es: "Asignaciones", en: "Assignments" },
  area: { es: "Zona de base", en: "Station area" },
  incidents: { es: "Incidentes", en: "Incidents" },
  elsewhere: { es: "Primera unidad de otra base", en: "First unit from elsewhere" },
  share: { es: "Proporción", en: "Share" },
  all: { es: "Todas las zonas", en: "Every area" },
  noStation: { es: "(sin base)", en: "(no station)" },
  loading: { es: "Calculando…", en: "Computing…" },
  none: { es: "Ninguna unidad en servicio en el periodo.", en: "No unit on duty in the period." },
};

type Texts = Record<keyof typeof T, string>;

export function UtilizationTab({ period }: { period: PeriodInit }) {
  const t = useText(T);
  const report = useReport(periodKey(period), () => api.reports.getUtilizationReport({ period }));
  const data = report.data;
  return (
    <div class="rp-tab rp-columns" data-testid="rp-utilization" data-busy={report.busy ? "true" : "false"}>
      {report.busy && <span class="hint">{t.loading}</span>}
      {report.refused !== null && <RefusalView refusal={report.refused} />}
      {data !== null && (
        <>
          {data.units.length === 0 && <p class="hint">{t.none}</p>}
          <UtilizationTable title={t.units} testid="rp-util-units" rows={data.units} first={t.unit} showType t={t} />
          <UtilizationTable title={t.types} testid="rp-util-types" rows={data.unitTypes} first={t.type} t={t} typed />
          <UtilizationTable title={t.stations} testid="rp-util-stations" rows={data.stations} first={t.station} t={t} />
          <section class="panel rp-section">
            <h2>{t.firstDue}</h2>
            <table class="dsp-table" data-testid="rp-first-due">
              <thead>
                <HeadCells columns={[t.area, { label: t.incidents, num: true }, { label: t.elsewhere, num: true }, t.share]} />
              </thead>
              <tbody>
                {data.firstDue.map((f) => (
                  <FirstDueRow key={f.stationArea} row={f} label={f.stationArea === "" ? t.noStation : f.stationArea} />
                ))}
                {data.firstDueTotal !== undefined && <FirstDueRow row={data.firstDueTotal} label={t.all} total />}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}

function UtilizationTable(props: { title: string; testid: string; rows: Utilization[]; first: string; t: Texts; showType?: boolean; typed?: boolean }) {
  const { t } = props;
  const columns = [
    props.first,
    ...(props.showType ? [t.type] : []),
    { label: t.onDuty, num: true as const },
    { label: t.committed, num: true as const },
    t.uhu,
    { label: t.assignments, num: true as const },
  ];
  return (
    <section class="panel rp-section">
      <h2>{props.title}</h2>
      <table class="dsp-table" data-testid={props.testid}>
        <thead>
          <HeadCells columns={columns} />
        </thead>
        <tbody>
          {props.rows.map((u, i) => (
            <tr key={`${u.unit}-${u.label}-${i}`} data-testid="rp-util-row" data-label={u.label} data-uhu={u.unitHourUtilization}>
              <td>{props.typed ? unitTypeLabel(u.unitType) : u.label === "" ? t.noStation : u.label}</td>
              {props.showType && <td>{unitTypeLabel(u.unitType)}</td>}
              <td class="num mono">{hours(u.onDuty)}</td>
              <td class="num mono">{hours(u.committed)}</td>
              <td>
                <ShareBar share={u.unitHourUtilization} text={percent(u.unitHourUtilization)} />
              </td>
              <td class="num">{count(u.assignments)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function FirstDueRow({ row, label, total = false }: { row: FirstDue; label: string; total?: boolean }) {
  return (
    <tr data-testid="rp-first-due-row" data-area={total ? "*" : row.stationArea} class={total ? "rp-total" : undefined}>
      <td>{label}</td>
      <td class="num">{count(row.incidents)}</td>
      <td class="num">{count(row.firstUnitFromElsewhere)}</td>
      <td>
        <ShareBar share={row.share} text={percent(row.share)} tone="warn" />
      </td>
    </tr>
  );
}
