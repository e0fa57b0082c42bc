// Small pieces every screen uses.
import { useEffect, useState } from "preact/hooks";
import type { Refusal } from "./api";

/** A refusal from the API, shown as it came: its code, its message, each field it named. */
export function RefusalView({ refusal }: { refusal: Refusal }) {
  return (
    <div class="refusal" role="alert" data-testid="refusal" data-code={refusal.code}>
      <strong>{refusal.code}</strong> {refusal.message}
      {refusal.violations.length > 0 && (
        <ul>
          {refusal.violations.map((v) => (
            <li key={v.field} data-field={v.field}>
              <code>{v.field}</code>: {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The current time, re-read every second (for age timers that tick). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
