// Labels of the call intake enums, in both languages, and small formats the call screens share.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { currentLang, type Lang } from "../i18n";
import type { Choice } from "../widgets";
import { CallChannel, CallDisposition, CallState, DuplicateReason } from "../gen/dispatch/v1/call_pb";
import { LocationSource } from "../gen/dispatch/v1/common_pb";
import { DeviceKind } from "../gen/dispatch/v1/directory_pb";

export type Labels<E extends number> = Partial<Record<E, { es: string; en: string }>>;

export function labelOf<E extends number>(labels: Labels<E>, value: E, lang: Lang = currentLang()): string {
  return labels[value]?.[lang] ?? String(value);
}

/** The choices of a select over some values of an enum: each value's name, shown as its label. */
export function enumChoices<E extends number>(names: { [value: number]: string }, values: readonly E[], labels: Labels<E>): Choice[] {
  return values.map((value) => ({ value: names[value], label: labelOf(labels, value) }));
}

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

export const REASONS: Labels<DuplicateReason> = {
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

/** "45 s", "3 min", "1 h 20 min", "2 d 4 h": a protobuf Duration, rounded for reading. */
export function span(duration: Duration | undefined): string {
  if (duration === undefined) return "—";
  const total = Math.max(0, Number(duration.seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Whether a callback number looks like what CreateCall accepts (the server decides). */
export function plausibleCallback(text: string): string | null {
  const stripped = text.replace(/[\s\-.()]/g, "");
  if (/^\+[1-9]\d{6,14}$/.test(stripped) || /^[0-9*#]{2,15}$/.test(stripped)) return stripped;
  return null;
}
