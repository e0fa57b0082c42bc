// How the reports show their numbers: durations as the wire's whole seconds, shares as
// percentages, counts with the language's grouping; and the one way a tab asks for its report.
import { useEffect, useState } from "preact/hooks";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { refusal, type Refusal } from "../api";
import { currentLang } from "../i18n";

/** A Duration's whole seconds; null when unset (no measurement). */
export function seconds(d: Duration | undefined): number | null {
  return d === undefined ? null : Number(d.seconds);
}

/** "45 s", "4:07" or "1:02:09"; "—" when unset. */
export function span(total: number | null): string {
  if (total === null) return "—";
  if (Math.abs(total) < 60) return `${total} s`;
  const sign = total < 0 ? "-" : "";
  const abs = Math.abs(total);
  const h = Math.floor(abs / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${sign}${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/** Hours, one decimal: "12.5 h". */
export function hours(d: Duration | undefined): string {
  const s = seconds(d);
  return s === null ? "—" : `${(s / 3600).toLocaleString(locale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 })} h`;
}

/** "87.5 %". */
export function percent(share: number): string {
  return `${(share * 100).toLocaleString(locale(), { maximumFractionDigits: 1, minimumFractionDigits: 1 })} %`;
}

/** "+25 %" / "-40 %"; "nuevo" / "new" when there was nothing before. */
export function change(value: number | undefined, fresh: string): string {
  if (value === undefined) return fresh;
  const pct = Math.round(value * 100);
  return `${pct > 0 ? "+" : ""}${pct} %`;
}

export function count(n: bigint | number): string {
  return Number(n).toLocaleString(locale());
}

function locale(): string {
  return currentLang() === "es" ? "es-MX" : "en-GB";
}

/** A report as a tab holds it: the answer, the API's refusal, or neither while asked. */
export interface Report<R> {
  data: R | null;
  refused: Refusal | null;
  busy: boolean;
}

/**
 * Asks for a report whenever `key` (what the request depends on, as a string) changes; an
 * answer to an older request is dropped.
 */
export function useReport<R>(key: string, ask: () => Promise<R>): Report<R> {
  const [report, setReport] = useState<Report<R>>({ data: null, refused: null, busy: true });
  useEffect(() => {
    let stale = false;
    setReport((r) => ({ ...r, busy: true }));
    ask()
      .then((data) => !stale && setReport({ data, refused: null, busy: false }))
      .catch((error) => !stale && setReport({ data: null, refused: refusal(error), busy: false }));
    return () => void (stale = true);
  }, [key]);
  return report;
}

/** A period's request key: its instants and zone. */
export function periodKey(period: { startTime: { seconds: bigint }; endTime: { seconds: bigint }; timeZone: string }): string {
  return `${period.startTime.seconds}/${period.endTime.seconds}/${period.timeZone}`;
}
