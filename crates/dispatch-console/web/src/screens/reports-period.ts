// The period every report takes: whole days from one date to another (both included) in an IANA
// time zone, as the [start, end) instants ReportPeriod carries. Hours of day and week are the
// server's to compute in that zone; the console only turns dates into instants.
import type { ReportPeriod } from "../gen/dispatch/v1/reporting_service_pb";

/** The contract's default zone (an empty time_zone means this too). */
export const DEFAULT_ZONE = "America/Mexico_City";

/** What the period picker holds: dates as `YYYY-MM-DD`, the zone as typed. */
export interface PeriodChoice {
  from: string;
  to: string;
  zone: string;
}

/** A plain ReportPeriod (the generated type's fields, without its message brand). */
export type PeriodInit = Pick<ReportPeriod, "timeZone"> & {
  startTime: { seconds: bigint; nanos: number };
  endTime: { seconds: bigint; nanos: number };
};

/** Whether the browser knows `zone` (an IANA name). */
export function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Today's date in `zone`, `YYYY-MM-DD`. */
export function today(zone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: knownZone(zone) ? zone : DEFAULT_ZONE,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(new Date());
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/** `date` moved by `days` (calendar arithmetic, no zone involved). */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  const moved = new Date(Date.UTC(y, m - 1, d + days));
  return moved.toISOString().slice(0, 10);
}

/** The last seven days, today included, in the default zone. */
export function lastWeek(): PeriodChoice {
  const to = today(DEFAULT_ZONE);
  return { from: addDays(to, -6), to, zone: DEFAULT_ZONE };
}

/** How far ahead of UTC `zone`'s wall clock is at the instant `ms`, in milliseconds. */
function offsetAt(ms: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(ms));
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(n("year"), n("month") - 1, n("day"), n("hour"), n("minute"), n("second"));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant `date`'s midnight begins in `zone` (UTC when the browser does not know it). */
export function midnight(date: string, zone: string): number {
  const [y, m, d] = date.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  if (!knownZone(zone)) return wall;
  // The offset at the guess, then at the answer: right across a change of offset too.
  const guess = wall - offsetAt(wall, zone);
  return wall - offsetAt(guess, zone);
}

function stamp(ms: number): { seconds: bigint; nanos: number } {
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 };
}

/**
 * The request's period: from `from`'s midnight to the midnight after `to`, in the zone. A zone
 * the browser does not know is still sent, for the server to judge (its refusal is shown).
 */
export function toPeriod(choice: PeriodChoice): PeriodInit {
  const zone = choice.zone.trim() === "" ? DEFAULT_ZONE : choice.zone.trim();
  return {
    startTime: stamp(midnight(choice.from, zone)),
    endTime: stamp(midnight(addDays(choice.to, 1), zone)),
    timeZone: zone,
  };
}

/** A few zones to pick from (any IANA name may be typed). */
export const ZONES = [
  "America/Mexico_City",
  "America/Monterrey",
  "America/Tijuana",
  "America/Cancun",
  "America/Los_Angeles",
  "America/New_York",
  "UTC",
];
