// Small formats of the call taker's screen.
import type { Duration } from "@bufbuild/protobuf/wkt";

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
