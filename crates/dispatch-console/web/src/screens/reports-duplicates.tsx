// Duplicates (GetDuplicateReport): the share of the period's calls that were linked to an
// incident another call had opened, for every call, per channel (bars in the table) and per
// hour of day (columns).
import { api } from "../api";
import { useText } from "../i18n";
import { CHANNELS, labelOf } from "../labels";
import { HeadCells, RefusalView } from "../widgets";
import { CallChannel } from "../gen/dispatch/v1/call_pb";
import type { DuplicateShare } from "../gen/dispatch/v1/reporting_service_pb";
import { ColumnChart, ShareBar } from "./reports-chart";
import { count, percent, periodKey, useReport } from "./reports-format";
import type { PeriodInit } from "./reports-period";

const T = {
  total: { es: "Todas las llamadas", en: "Every call" },
  byChannel: { es: "Por canal", en: "By channel" },
  byHour: { es: "Proporción de duplicadas por hora del día", en: "Share of duplicates by hour of day" },
  channel: { es: "Canal", en: "Channel" },
  calls: { es: "Llamadas", en: "Calls" },
  duplicates: { es: "Duplicadas", en: "Duplicates" },
  share: { es: "Proporción", en: "Share" },
  disposed: { es: "Cerradas sin incidente", en: "Disposed" },
  open: { es: "Abiertas", en: "Open" },
  loading: { es: "Calculando…", en: "Computing…" },
};

export function DuplicatesTab({ period }: { period: PeriodInit }) {
  const t = useText(T);
  const report = useReport(periodKey(period), () => api.reports.getDuplicateReport({ period }));
  const data = report.data;
  const columns = [t.channel, { label: t.calls, num: true as const }, { label: t.duplicates, num: true as const }, t.share, { label: t.disposed, num: true as const }, { label: t.open, num: true as const }];
  return (
    <div class="rp-tab" data-testid="rp-duplicates" data-busy={report.busy ? "true" : "false"}>
      {report.busy && <span class="hint">{t.loading}</span>}
      {report.refused !== null && <RefusalView refusal={report.refused} />}
      {data !== null && (
        <>
          <section class="panel rp-section">
            <h2>{t.byChannel}</h2>
            <table class="dsp-table" data-testid="rp-dup-channels">
              <thead>
                <HeadCells columns={columns} />
              </thead>
              <tbody>
                {data.channels.map((c) => (
                  <ShareRow key={c.channel} testid="rp-dup-channel" id={CallChannel[c.channel] ?? String(c.channel)} label={labelOf(CHANNELS, c.channel, undefined, CallChannel[c.channel])} share={c.share} />
                ))}
                {data.total !== undefined && <ShareRow testid="rp-dup-total" id="*" label={t.total} share={data.total} />}
              </tbody>
            </table>
          </section>
          <section class="panel rp-section">
            <h2>{t.byHour}</h2>
            <ColumnChart
              testid="rp-dup-hours"
              title={t.byHour}
              values={data.hours.map((h) => h.share?.share ?? 0)}
              top={(v) => percent(v)}
              labels={data.hours.map((h) => String(h.hour).padStart(2, "0"))}
              texts={data.hours.map((h) => `${percent(h.share?.share ?? 0)} · ${count(h.share?.duplicates ?? 0n)} / ${count(h.share?.calls ?? 0n)}`)}
            />
          </section>
        </>
      )}
    </div>
  );
}

function ShareRow({ testid, id, label, share }: { testid: string; id: string; label: string; share: DuplicateShare | undefined }) {
  const s = share?.share ?? 0;
  return (
    <tr data-testid={testid} data-channel={id} data-calls={String(share?.calls ?? 0n)} data-duplicates={String(share?.duplicates ?? 0n)} class={id === "*" ? "rp-total" : undefined}>
      <td>{label}</td>
      <td class="num">{count(share?.calls ?? 0n)}</td>
      <td class="num">{count(share?.duplicates ?? 0n)}</td>
      <td>
        <ShareBar share={s} text={percent(s)} />
      </td>
      <td class="num">{count(share?.disposed ?? 0n)}</td>
      <td class="num">{count(share?.open ?? 0n)}</td>
    </tr>
  );
}
