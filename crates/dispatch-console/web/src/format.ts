// Formats shared by every screen (times, ages, distances, names, status colours); the enums'
// labels are in labels.ts.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { currentLang } from "./i18n";
import { IncidentStatus } from "./gen/dispatch/v1/incident_pb";
import { UnitStatus } from "./gen/dispatch/v1/unit_pb";

/** A CSS class per incident status (colours in styles.css). */
export const incidentStatusClass = (status: IncidentStatus) => `st-inc-${IncidentStatus[status]?.toLowerCase() ?? "unknown"}`;

/** A CSS class per unit status (colours in styles.css). */
export const unitStatusClass = (status: UnitStatus) => `st-unit-${UnitStatus[status]?.toLowerCase() ?? "unknown"}`;

export function toDate(time: Timestamp | undefined): Date | null {
  if (time === undefined) return null;
  return new Date(Number(time.seconds) * 1000 + Math.floor(time.nanos / 1e6));
}

/** "4:07" or "1:02:09": how long since `since` (a ticking age timer). */
export function age(since: Date | null, now: number = Date.now()): string {
  if (since === null) return "—";
  const total = Math.max(0, Math.floor((now - since.getTime()) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export function clock(time: Date | null): string {
  if (time === null) return "—";
  return time.toLocaleTimeString(currentLang() === "es" ? "es-MX" : "en-GB", { hour12: false });
}

export function distance(metres: number | undefined): string {
  if (metres === undefined) return "—";
  return metres < 1000 ? `${Math.round(metres)} m` : `${(metres / 1000).toFixed(1)} km`;
}

/** "resources/{uuid}" → the uuid. */
export function idOf(name: string): string {
  return name.slice(name.indexOf("/") + 1);
}
