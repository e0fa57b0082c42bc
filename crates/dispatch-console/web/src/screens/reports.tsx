// The supervisor's reports (ReportingService): one period picker (dates and zone) shared by four
// tabs — response-time intervals against their targets, hot spots on the H3 grid, unit-hour
// utilization and first-due, the share of duplicate calls. Each tab is offered only when the
// server's role table lets the principal call its RPC; every report is read fresh and audited by
// the server. Definitions are the API's (README.md, "Reports"): the console only draws them.
import { useState } from "preact/hooks";
import { useText } from "../i18n";
import { may } from "../session";
import { navigate } from "../route";
import { Options } from "../widgets";
import { DEFAULT_ZONE, knownZone, lastWeek, toPeriod, ZONES, type PeriodChoice } from "./reports-period";
import { IntervalsTab } from "./reports-intervals";
import { HotSpotsTab } from "./reports-hotspots";
import { UtilizationTab } from "./reports-utilization";
import { DuplicatesTab } from "./reports-duplicates";
import "./dispatch.css";
import "./reports.css";

const T = {
  title: { es: "Reportes", en: "Reports" },
  from: { es: "Desde (día)", en: "From (day)" },
  to: { es: "Hasta (día, incluido)", en: "To (day, included)" },
  zone: { es: "Zona horaria", en: "Time zone" },
  show: { es: "Consultar", en: "Show" },
  unknownZone: { es: "Zona que este navegador no conoce: el servidor la juzgará.", en: "A zone this browser does not know: the server will judge it." },
  intervals: { es: "Tiempos de respuesta", en: "Intervals" },
  hotspots: { es: "Zonas calientes", en: "Hot spots" },
  utilization: { es: "Utilización", en: "Utilization" },
  duplicates: { es: "Duplicadas", en: "Duplicates" },
  tabs: { es: "Reportes", en: "Reports" },
  periodHint: {
    es: "Incidentes cuya primera llamada se recibió en el periodo (horas en la zona elegida).",
    en: "Incidents whose first call was received in the period (hours in the chosen zone).",
  },
};

type TabId = "intervals" | "hotspots" | "utilization" | "duplicates";

const TABS: { id: TabId; method: string }[] = [
  { id: "intervals", method: "ReportingService/GetIntervalReport" },
  { id: "hotspots", method: "ReportingService/GetHotSpotReport" },
  { id: "utilization", method: "ReportingService/GetUtilizationReport" },
  { id: "duplicates", method: "ReportingService/GetDuplicateReport" },
];

export function ReportsScreen({ tab }: { tab: string | undefined }) {
  const t = useText(T);
  const [draft, setDraft] = useState<PeriodChoice>(lastWeek);
  const [choice, setChoice] = useState<PeriodChoice>(draft);
  // Reached by hand without any report permitted: the intervals tab, for the API's refusal.
  const permitted = TABS.filter((x) => may(x.method));
  const tabs = permitted.length > 0 ? permitted : TABS.slice(0, 1);
  const current = tabs.find((x) => x.id === tab) ?? tabs[0];
  const period = toPeriod(choice);
  const edit = (key: keyof PeriodChoice) => (e: { currentTarget: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: e.currentTarget.value }));
  const submit = (event: Event) => {
    event.preventDefault();
    setChoice({ ...draft });
  };
  return (
    <section
      class="dsp-screen rp-screen"
      aria-labelledby="reports-title"
      data-testid="reports-screen"
      data-start={String(period.startTime.seconds)}
      data-end={String(period.endTime.seconds)}
      data-zone={period.timeZone}
    >
      <div class="dsp-toolbar">
        <h1 id="reports-title">{t.title}</h1>
        <form class="rp-period" data-testid="rp-period" onSubmit={submit}>
          <label>
            {t.from}
            <input type="date" data-testid="rp-from" value={draft.from} max={draft.to} onInput={edit("from")} required />
          </label>
          <label>
            {t.to}
            <input type="date" data-testid="rp-to" value={draft.to} min={draft.from} onInput={edit("to")} required />
          </label>
          <label>
            {t.zone}
            <input data-testid="rp-zone" list="rp-zones" value={draft.zone} placeholder={DEFAULT_ZONE} onInput={edit("zone")} />
            <datalist id="rp-zones">
              <Options choices={ZONES.map((z) => ({ value: z, label: z }))} />
            </datalist>
          </label>
          <button type="submit" data-testid="rp-show">
            {t.show}
          </button>
        </form>
      </div>
      <p class="hint">
        {t.periodHint}
        {draft.zone.trim() !== "" && !knownZone(draft.zone.trim()) && ` ${t.unknownZone}`}
      </p>
      <div class="rp-tabs" role="tablist" aria-label={t.tabs}>
        {tabs.map((x) => (
          <button
            key={x.id}
            type="button"
            role="tab"
            data-testid={`rp-tab-${x.id}`}
            aria-selected={x.id === current?.id}
            onClick={() => navigate("reports", x.id)}
          >
            {t[x.id]}
          </button>
        ))}
      </div>
      <div class="rp-body" role="tabpanel" data-testid={`rp-panel-${current?.id ?? "none"}`}>
        {current?.id === "intervals" && <IntervalsTab period={period} />}
        {current?.id === "hotspots" && <HotSpotsTab period={period} />}
        {current?.id === "utilization" && <UtilizationTab period={period} />}
        {current?.id === "duplicates" && <DuplicatesTab period={period} />}
      </div>
    </section>
  );
}
