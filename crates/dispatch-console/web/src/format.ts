// Labels and formats shared by every screen, in both languages.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { currentLang, type Lang } from "./i18n";
import { Role } from "./gen/dispatch/v1/principal_pb";
import { IncidentStatus } from "./gen/dispatch/v1/incident_pb";
import { UnitStatus, UnitType } from "./gen/dispatch/v1/unit_pb";

type Labels<E extends number> = Partial<Record<E, { es: string; en: string }>>;

function label<E extends number>(labels: Labels<E>, value: E, lang: Lang = currentLang()): string {
  return labels[value]?.[lang] ?? String(value);
}

const ROLES: Labels<Role> = {
  [Role.CALL_TAKER]: { es: "Operador de llamadas", en: "Call taker" },
  [Role.DISPATCHER]: { es: "Despachador", en: "Dispatcher" },
  [Role.SUPERVISOR]: { es: "Supervisor", en: "Supervisor" },
  [Role.VIDEO_OPERATOR]: { es: "Videomonitorista", en: "Video operator" },
  [Role.FIELD_UNIT]: { es: "Unidad", en: "Field unit" },
  [Role.PARTNER_AGENCY]: { es: "Institución aliada", en: "Partner agency" },
  [Role.GATEWAY]: { es: "Pasarela", en: "Gateway" },
  [Role.ADMIN]: { es: "Administración", en: "Administrator" },
};

export const roleLabel = (role: Role, lang?: Lang) => label(ROLES, role, lang);

const INCIDENT_STATUSES: Labels<IncidentStatus> = {
  [IncidentStatus.NEW]: { es: "Nuevo", en: "New" },
  [IncidentStatus.TRIAGED]: { es: "Clasificado", en: "Triaged" },
  [IncidentStatus.DISPATCHED]: { es: "Despachado", en: "Dispatched" },
  [IncidentStatus.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [IncidentStatus.RESOLVED]: { es: "Resuelto", en: "Resolved" },
  [IncidentStatus.CLOSED]: { es: "Cerrado", en: "Closed" },
  [IncidentStatus.CANCELLED]: { es: "Cancelado", en: "Cancelled" },
};

export const incidentStatusLabel = (status: IncidentStatus, lang?: Lang) => label(INCIDENT_STATUSES, status, lang);

/** A CSS class per incident status (colours in styles.css). */
export const incidentStatusClass = (status: IncidentStatus) => `st-inc-${IncidentStatus[status]?.toLowerCase() ?? "unknown"}`;

const UNIT_STATUSES: Labels<UnitStatus> = {
  [UnitStatus.AVAILABLE]: { es: "Disponible", en: "Available" },
  [UnitStatus.DISPATCHED]: { es: "Despachada", en: "Dispatched" },
  [UnitStatus.EN_ROUTE]: { es: "En camino", en: "En route" },
  [UnitStatus.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [UnitStatus.TRANSPORTING]: { es: "Trasladando", en: "Transporting" },
  [UnitStatus.AT_HOSPITAL]: { es: "En hospital", en: "At hospital" },
  [UnitStatus.OUT_OF_SERVICE]: { es: "Fuera de servicio", en: "Out of service" },
};

export const unitStatusLabel = (status: UnitStatus, lang?: Lang) => label(UNIT_STATUSES, status, lang);

/** A CSS class per unit status (colours in styles.css). */
export const unitStatusClass = (status: UnitStatus) => `st-unit-${UnitStatus[status]?.toLowerCase() ?? "unknown"}`;

const UNIT_TYPES: Labels<UnitType> = {
  [UnitType.PATROL]: { es: "Patrulla", en: "Patrol" },
  [UnitType.MOTORCYCLE]: { es: "Motocicleta", en: "Motorcycle" },
  [UnitType.ALS_AMBULANCE]: { es: "Ambulancia avanzada", en: "ALS ambulance" },
  [UnitType.BLS_AMBULANCE]: { es: "Ambulancia básica", en: "BLS ambulance" },
  [UnitType.ENGINE]: { es: "Bomba", en: "Engine" },
  [UnitType.LADDER]: { es: "Escala", en: "Ladder" },
  [UnitType.RESCUE]: { es: "Rescate", en: "Rescue" },
  [UnitType.HAZMAT]: { es: "Materiales peligrosos", en: "Hazmat" },
  [UnitType.CHIEF]: { es: "Jefatura", en: "Chief" },
  [UnitType.MOBILE_COMMAND_POST]: { es: "Puesto de mando móvil", en: "Mobile command post" },
  [UnitType.DRONE]: { es: "Dron", en: "Drone" },
  [UnitType.CIVIL_PROTECTION]: { es: "Protección civil", en: "Civil protection" },
  [UnitType.CROWD_CONTROL]: { es: "Control de multitudes", en: "Crowd control" },
  [UnitType.OTHER]: { es: "Otra", en: "Other" },
};

export const unitTypeLabel = (type: UnitType, lang?: Lang) => label(UNIT_TYPES, type, lang);

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
