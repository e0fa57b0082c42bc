// Every wire enum the console shows, labelled in both languages, in one place (as the server
// declares its enum mappings once in edge/enums.rs and dispatchctl its names in one list): a
// screen shows a value with its `...Label` function or `labelOf(TABLE, value)`, and offers
// values in a select with widgets' `EnumSelect`.
import { currentLang, type Lang } from "./i18n";
import { AuditAction, AuditOutcome } from "./gen/dispatch/v1/audit_pb";
import { CallChannel, CallDisposition, CallState, DuplicateReason } from "./gen/dispatch/v1/call_pb";
import { LocationSource } from "./gen/dispatch/v1/common_pb";
import { DeviceKind } from "./gen/dispatch/v1/directory_pb";
import { AssignmentStatus, IncidentStatus, TimelineEntryKind } from "./gen/dispatch/v1/incident_pb";
import { Role } from "./gen/dispatch/v1/principal_pb";
import { IntervalKind, ReportDimension } from "./gen/dispatch/v1/reporting_service_pb";
import { AgeRange, FollowUpOutcome, FollowUpStatus, ReferralNeed, ReferralStatus, SafeContactChannel } from "./gen/dispatch/v1/referral_pb";
import { UnitStatus, UnitType } from "./gen/dispatch/v1/unit_pb";

/** An enum's labels: each value's text in Spanish and English. */
export type Labels<E extends number> = Partial<Record<E, { es: string; en: string }>>;

/** An enum's names by value, as generated (`CallChannel[CallChannel.RADIO] === "RADIO"`). */
export type EnumNames = { [value: number]: string };

/** A value's label in `lang`; a value without one (newer than this console) shows as `fallback`. */
export function labelOf<E extends number>(labels: Labels<E>, value: E, lang: Lang = currentLang(), fallback = String(value)): string {
  return labels[value]?.[lang] ?? fallback;
}

/** Every value of an enum a request may carry (all but UNSPECIFIED), in the enum's order. */
export function enumValues<E extends number>(names: EnumNames): E[] {
  // A numeric enum maps names to values too: those entries are the values, in declaration order.
  return (Object.values(names) as unknown[]).filter((value) => typeof value === "number" && value !== 0) as E[];
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
  [Role.LIAISON]: { es: "Enlace de institución", en: "Agency liaison" },
};

export const roleLabel = (role: Role, lang?: Lang) => labelOf(ROLES, role, lang);

const INCIDENT_STATUSES: Labels<IncidentStatus> = {
  [IncidentStatus.NEW]: { es: "Nuevo", en: "New" },
  [IncidentStatus.TRIAGED]: { es: "Clasificado", en: "Triaged" },
  [IncidentStatus.DISPATCHED]: { es: "Despachado", en: "Dispatched" },
  [IncidentStatus.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [IncidentStatus.RESOLVED]: { es: "Resuelto", en: "Resolved" },
  [IncidentStatus.CLOSED]: { es: "Cerrado", en: "Closed" },
  [IncidentStatus.CANCELLED]: { es: "Cancelado", en: "Cancelled" },
};

export const incidentStatusLabel = (status: IncidentStatus, lang?: Lang) => labelOf(INCIDENT_STATUSES, status, lang);

const UNIT_STATUSES: Labels<UnitStatus> = {
  [UnitStatus.AVAILABLE]: { es: "Disponible", en: "Available" },
  [UnitStatus.DISPATCHED]: { es: "Despachada", en: "Dispatched" },
  [UnitStatus.EN_ROUTE]: { es: "En camino", en: "En route" },
  [UnitStatus.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [UnitStatus.TRANSPORTING]: { es: "Trasladando", en: "Transporting" },
  [UnitStatus.AT_HOSPITAL]: { es: "En hospital", en: "At hospital" },
  [UnitStatus.OUT_OF_SERVICE]: { es: "Fuera de servicio", en: "Out of service" },
};

export const unitStatusLabel = (status: UnitStatus, lang?: Lang) => labelOf(UNIT_STATUSES, status, lang);

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

export const unitTypeLabel = (type: UnitType, lang?: Lang) => labelOf(UNIT_TYPES, type, lang);

const TIMELINE_KINDS: Labels<TimelineEntryKind> = {
  [TimelineEntryKind.CREATED]: { es: "Creado", en: "Created" },
  [TimelineEntryKind.CALL_LINKED]: { es: "Llamada vinculada", en: "Call linked" },
  [TimelineEntryKind.TRIAGED]: { es: "Clasificado", en: "Triaged" },
  [TimelineEntryKind.PRIORITY_CHANGED]: { es: "Prioridad cambiada", en: "Priority changed" },
  [TimelineEntryKind.UPDATED]: { es: "Actualizado", en: "Updated" },
  [TimelineEntryKind.NOTE_ADDED]: { es: "Nota", en: "Note" },
  [TimelineEntryKind.UNIT_DISPATCHED]: { es: "Unidad despachada", en: "Unit dispatched" },
  [TimelineEntryKind.UNIT_EN_ROUTE]: { es: "Unidad en camino", en: "Unit en route" },
  [TimelineEntryKind.UNIT_ON_SCENE]: { es: "Unidad en sitio", en: "Unit on scene" },
  [TimelineEntryKind.UNIT_TRANSPORTING]: { es: "Unidad trasladando", en: "Unit transporting" },
  [TimelineEntryKind.UNIT_AT_HOSPITAL]: { es: "Unidad en hospital", en: "Unit at hospital" },
  [TimelineEntryKind.UNIT_CLEARED]: { es: "Unidad liberada (disponible)", en: "Unit cleared" },
  [TimelineEntryKind.UNIT_RELEASED]: { es: "Unidad retirada", en: "Unit released" },
  [TimelineEntryKind.STATUS_CHANGED]: { es: "Estado cambiado", en: "Status changed" },
  [TimelineEntryKind.MERGED_IN]: { es: "Fusionado aquí", en: "Merged in" },
  [TimelineEntryKind.MERGED_INTO]: { es: "Fusionado en otro", en: "Merged into" },
  [TimelineEntryKind.CLOSED]: { es: "Cerrado", en: "Closed" },
  [TimelineEntryKind.CANCELLED]: { es: "Cancelado", en: "Cancelled" },
  [TimelineEntryKind.REFERRAL_CREATED]: { es: "Canalización creada", en: "Referral created" },
};

export const timelineLabel = (kind: TimelineEntryKind) =>
  labelOf(TIMELINE_KINDS, kind, undefined, TimelineEntryKind[kind] ?? String(kind));

const ASSIGNMENT_STATUSES: Labels<AssignmentStatus> = {
  [AssignmentStatus.DISPATCHED]: { es: "Despachada", en: "Dispatched" },
  [AssignmentStatus.EN_ROUTE]: { es: "En camino", en: "En route" },
  [AssignmentStatus.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [AssignmentStatus.TRANSPORTING]: { es: "Trasladando", en: "Transporting" },
  [AssignmentStatus.AT_HOSPITAL]: { es: "En hospital", en: "At hospital" },
  [AssignmentStatus.CLEARED]: { es: "Terminó", en: "Cleared" },
  [AssignmentStatus.RELEASED]: { es: "Retirada", en: "Released" },
};

export const assignmentLabel = (status: AssignmentStatus) =>
  labelOf(ASSIGNMENT_STATUSES, status, undefined, AssignmentStatus[status] ?? String(status));

export const CHANNELS: Labels<CallChannel> = {
  [CallChannel.VOICE_911]: { es: "911 voz", en: "911 voice" },
  [CallChannel.APP_911]: { es: "App 911", en: "911 app" },
  [CallChannel.PANIC_BUTTON]: { es: "Botón de pánico", en: "Panic button" },
  [CallChannel.CAMERA]: { es: "Cámara (videomonitoreo)", en: "Camera (video)" },
  [CallChannel.RADIO]: { es: "Radio", en: "Radio" },
  [CallChannel.SOCIAL_MEDIA]: { es: "Redes sociales", en: "Social media" },
  [CallChannel.WOMENS_LINE]: { es: "Línea Mujeres *765", en: "Women's line *765" },
  [CallChannel.PLATE_READER]: { es: "Lector de placas", en: "Plate reader" },
  [CallChannel.ALARM_COMPANY]: { es: "Empresa de alarmas", en: "Alarm company" },
  [CallChannel.TEXT]: { es: "Mensaje de texto", en: "Text message" },
  [CallChannel.PARTNER_APP]: { es: "App de institución aliada", en: "Partner app" },
};

export const CALL_STATES: Labels<CallState> = {
  [CallState.OPEN]: { es: "Abierta", en: "Open" },
  [CallState.LINKED]: { es: "Vinculada", en: "Linked" },
  [CallState.DISPOSED]: { es: "Cerrada sin incidente", en: "Disposed" },
};

export const DISPOSITIONS: Labels<CallDisposition> = {
  [CallDisposition.HANG_UP]: { es: "Colgó", en: "Hang-up" },
  [CallDisposition.PRANK]: { es: "Broma", en: "Prank" },
  [CallDisposition.MISDIAL]: { es: "Marcó por error", en: "Misdial" },
  [CallDisposition.INFORMATION_REQUEST]: { es: "Solicitud de información", en: "Information request" },
  [CallDisposition.NON_EMERGENCY_REFERRED]: { es: "No es emergencia, canalizada", en: "Non-emergency, referred" },
  [CallDisposition.TEST]: { es: "Prueba", en: "Test" },
  [CallDisposition.ABANDONED]: { es: "Abandonada", en: "Abandoned" },
  [CallDisposition.OTHER]: { es: "Otra (con nota)", en: "Other (with a note)" },
};

export const DUPLICATE_REASONS: Labels<DuplicateReason> = {
  [DuplicateReason.WITHIN_RADIUS]: { es: "cerca", en: "nearby" },
  [DuplicateReason.WITHIN_TIME_WINDOW]: { es: "reciente", en: "recent" },
  [DuplicateReason.COMPATIBLE_TYPE]: { es: "tipo compatible", en: "compatible type" },
  [DuplicateReason.SAME_TYPE]: { es: "mismo tipo", en: "same type" },
  [DuplicateReason.SAME_CALLBACK_NUMBER]: { es: "mismo número", en: "same callback number" },
  [DuplicateReason.SAME_SOURCE_DEVICE]: { es: "mismo dispositivo", en: "same device" },
};

export const LOCATION_SOURCES: Labels<LocationSource> = {
  [LocationSource.CALLER_DESCRIBED]: { es: "Descrita por quien llama", en: "Described by the caller" },
  [LocationSource.DEVICE]: { es: "Teléfono (GPS/AML)", en: "Handset (GPS/AML)" },
  [LocationSource.NETWORK]: { es: "Red del operador", en: "Carrier network" },
  [LocationSource.FIXED_DEVICE]: { es: "Dispositivo fijo", en: "Fixed device" },
  [LocationSource.DISPATCHER]: { es: "Capturada por el centro", en: "Entered by the centre" },
};

export const DEVICE_KINDS: Labels<DeviceKind> = {
  [DeviceKind.CAMERA]: { es: "Cámara", en: "Camera" },
  [DeviceKind.PANIC_BUTTON]: { es: "Botón de pánico", en: "Panic button" },
  [DeviceKind.PLATE_READER]: { es: "Lector de placas", en: "Plate reader" },
};

export const REFERRAL_STATUSES: Labels<ReferralStatus> = {
  [ReferralStatus.REQUESTED]: { es: "Solicitada", en: "Requested" },
  [ReferralStatus.ACCEPTED]: { es: "Aceptada", en: "Accepted" },
  [ReferralStatus.DECLINED]: { es: "Rechazada", en: "Declined" },
  [ReferralStatus.IN_PROGRESS]: { es: "En atención", en: "In progress" },
  [ReferralStatus.ON_HOLD]: { es: "En pausa", en: "On hold" },
  [ReferralStatus.COMPLETED]: { es: "Concluida", en: "Completed" },
  [ReferralStatus.CANCELLED]: { es: "Cancelada", en: "Cancelled" },
};

export const NEEDS: Labels<ReferralNeed> = {
  [ReferralNeed.MEDICAL]: { es: "Atención médica", en: "Medical care" },
  [ReferralNeed.PSYCHOLOGICAL]: { es: "Atención psicológica", en: "Psychological care" },
  [ReferralNeed.LEGAL]: { es: "Asesoría jurídica", en: "Legal aid" },
  [ReferralNeed.SHELTER]: { es: "Refugio", en: "Shelter" },
  [ReferralNeed.SOCIAL_PROGRAM]: { es: "Programas sociales", en: "Social programmes" },
  [ReferralNeed.CHILD_PROTECTION]: { es: "Protección infantil", en: "Child protection" },
  [ReferralNeed.FOLLOW_UP_CALLS]: { es: "Llamadas de seguimiento", en: "Follow-up calls" },
};

export const AGE_RANGES: Labels<AgeRange> = {
  [AgeRange.CHILD]: { es: "Niña/niño (<12)", en: "Child (<12)" },
  [AgeRange.ADOLESCENT]: { es: "Adolescente (12–17)", en: "Adolescent (12–17)" },
  [AgeRange.ADULT]: { es: "Adulta/o (18–59)", en: "Adult (18–59)" },
  [AgeRange.OLDER_ADULT]: { es: "Persona mayor (60+)", en: "Older adult (60+)" },
  [AgeRange.UNKNOWN]: { es: "Edad desconocida", en: "Age unknown" },
};

export const SAFE_CHANNELS: Labels<SafeContactChannel> = {
  [SafeContactChannel.PHONE]: { es: "Teléfono", en: "Phone" },
  [SafeContactChannel.SMS]: { es: "SMS", en: "SMS" },
  [SafeContactChannel.MESSAGING_APP]: { es: "Mensajería", en: "Messaging app" },
  [SafeContactChannel.EMAIL]: { es: "Correo", en: "Email" },
  [SafeContactChannel.IN_PERSON]: { es: "En persona", en: "In person" },
};

export const FOLLOW_UP_OUTCOMES: Labels<FollowUpOutcome> = {
  [FollowUpOutcome.REACHED_SAFE]: { es: "Contactada, a salvo", en: "Reached, safe" },
  [FollowUpOutcome.REACHED_NEEDS_SUPPORT]: { es: "Contactada, necesita apoyo", en: "Reached, needs support" },
  [FollowUpOutcome.REACHED_IN_DANGER]: { es: "Contactada, en peligro", en: "Reached, in danger" },
  [FollowUpOutcome.NOT_REACHED]: { es: "No se logró contactar", en: "Not reached" },
  [FollowUpOutcome.DECLINED_CONTACT]: { es: "Rechazó el contacto", en: "Declined contact" },
  [FollowUpOutcome.OTHER]: { es: "Otro (con nota)", en: "Other (with a note)" },
};

export const FOLLOW_UP_STATUSES: Labels<FollowUpStatus> = {
  [FollowUpStatus.PENDING]: { es: "Pendiente", en: "Due" },
  [FollowUpStatus.OVERDUE]: { es: "Vencido", en: "Overdue" },
  [FollowUpStatus.DONE]: { es: "Hecho", en: "Done" },
  [FollowUpStatus.CANCELLED]: { es: "Cancelado", en: "Cancelled" },
};

export const AUDIT_ACTIONS: Labels<AuditAction> = {
  [AuditAction.MUTATION]: { es: "Cambio", en: "Mutation" },
  [AuditAction.VICTIM_DATA_READ]: { es: "Lectura de datos de víctimas", en: "Victim data read" },
  [AuditAction.AUTHENTICATION_FAILURE]: { es: "Autenticación fallida", en: "Authentication failure" },
  [AuditAction.CREDENTIAL_ISSUED]: { es: "Credencial emitida", en: "Credential issued" },
  [AuditAction.CREDENTIAL_REVOKED]: { es: "Credencial revocada", en: "Credential revoked" },
  [AuditAction.AUDIT_READ]: { es: "Consulta de auditoría", en: "Audit read" },
  [AuditAction.STREAM_ENDED]: { es: "Flujo terminado", en: "Stream ended" },
  [AuditAction.REPORT_READ]: { es: "Consulta de reporte", en: "Report read" },
};

export const AUDIT_OUTCOMES: Labels<AuditOutcome> = {
  [AuditOutcome.SUCCESS]: { es: "Éxito", en: "Success" },
  [AuditOutcome.DENIED]: { es: "Denegado", en: "Denied" },
  [AuditOutcome.FAILURE]: { es: "Falla", en: "Failure" },
};

export const REPORT_DIMENSIONS: Labels<ReportDimension> = {
  [ReportDimension.INCIDENT_TYPE]: { es: "Tipo de incidente", en: "Incident type" },
  [ReportDimension.PRIORITY]: { es: "Prioridad", en: "Priority" },
  [ReportDimension.AGENCY]: { es: "Institución", en: "Agency" },
  [ReportDimension.UNIT_TYPE]: { es: "Tipo de unidad", en: "Unit type" },
  [ReportDimension.AREA]: { es: "Alcaldía", en: "Area" },
  [ReportDimension.STATION_AREA]: { es: "Zona de base", en: "Station area" },
  [ReportDimension.HOUR_OF_DAY]: { es: "Hora del día", en: "Hour of day" },
};

export const INTERVAL_KINDS: Labels<IntervalKind> = {
  [IntervalKind.CALL_PROCESSING]: { es: "Procesamiento de la llamada", en: "Call processing" },
  [IntervalKind.TURNOUT]: { es: "Salida", en: "Turnout" },
  [IntervalKind.TRAVEL]: { es: "Traslado al sitio", en: "Travel" },
  [IntervalKind.FIRST_ARRIVAL_TRAVEL]: { es: "Traslado de la primera unidad", en: "First-arrival travel" },
  [IntervalKind.TOTAL_RESPONSE]: { es: "Respuesta total", en: "Total response" },
  [IntervalKind.ON_SCENE]: { es: "En sitio", en: "On scene" },
  [IntervalKind.TRANSPORT]: { es: "Traslado al hospital", en: "Transport" },
  [IntervalKind.AT_HOSPITAL]: { es: "En hospital", en: "At hospital" },
};
