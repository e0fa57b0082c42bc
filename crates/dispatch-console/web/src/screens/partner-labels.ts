// Labels of the referral enums, in both languages.
import { AgeRange, FollowUpOutcome, FollowUpStatus, ReferralNeed, ReferralStatus, SafeContactChannel } from "../gen/dispatch/v1/referral_pb";
import { currentLang } from "../i18n";
import type { Labels } from "./calltaker-labels";

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

export const OUTCOMES: Labels<FollowUpOutcome> = {
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

/** "5 dic 09:54": a date and time, short, in the current language. */
export function when(date: Date | null): string {
  if (date === null) return "—";
  const locale = currentLang() === "es" ? "es-MX" : "en-GB";
  return `${date.toLocaleDateString(locale, { day: "numeric", month: "short" })} ${date.toLocaleTimeString(locale, {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  })}`;
}

/** "in 2 d 3 h" / "3 h ago", for due dates. */
export function relative(date: Date | null, now: number): string {
  if (date === null) return "";
  const diff = date.getTime() - now;
  const abs = Math.abs(diff) / 1000;
  const es = currentLang() === "es";
  // Within a minute either way (clocks of browser and server differ a little): now.
  if (abs < 60) return es ? "ahora" : "now";
  const text =
    abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 48 * 3600 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86400)} d`;
  return diff >= 0 ? (es ? `en ${text}` : `in ${text}`) : es ? `hace ${text}` : `${text} ago`;
}
