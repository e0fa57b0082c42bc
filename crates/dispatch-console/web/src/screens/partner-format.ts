// Dates as the partner's screen shows them, in the current language.
import { currentLang } from "../i18n";

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
