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

/** One choice of a select: the value it submits and the text it shows. */
export interface Choice {
  value: string;
  label: string;
}

/** The `<option>`s of a select, one per choice. */
export function Options({ choices }: { choices: readonly Choice[] }) {
  return (
    <>
      {choices.map((c) => (
        <option key={c.value} value={c.value}>
          {c.label}
        </option>
      ))}
    </>
  );
}

/**
 * A toolbar filter: a select whose label only screen readers hear, with an optional first
 * choice (value "") that means "no filter".
 */
export function FilterSelect(props: {
  label: string;
  testid: string;
  value: string;
  all?: string;
  choices: readonly Choice[];
  onChange: (value: string) => void;
}) {
  return (
    <label class="dsp-inline">
      <span class="sr-only">{props.label}</span>
      <select data-testid={props.testid} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.all !== undefined && <option value="">{props.all}</option>}
        <Options choices={props.choices} />
      </select>
    </label>
  );
}

/** A toolbar search box: its placeholder is its label. */
export function SearchBox(props: {
  label: string;
  testid: string;
  value: string;
  onInput: (value: string) => void;
  onKeyDown?: (event: KeyboardEvent) => void;
}) {
  return (
    <label class="dsp-inline">
      <span class="sr-only">{props.label}</span>
      <input
        type="search"
        data-testid={props.testid}
        placeholder={props.label}
        value={props.value}
        onInput={(e) => props.onInput(e.currentTarget.value)}
        onKeyDown={props.onKeyDown}
      />
    </label>
  );
}

/** A table's column widths: one `<col>` per class (the widths are in the screen's stylesheet). */
export function ColGroup({ classes }: { classes: readonly string[] }) {
  return (
    <colgroup>
      {classes.map((c) => (
        <col key={c} class={c} />
      ))}
    </colgroup>
  );
}

/** A column of a table's head: its title, and whether it holds numbers (right-aligned). */
export type Column = string | { label: string; num: true };

/** A table's head row, every cell a column header. */
export function HeadCells({ columns }: { columns: readonly Column[] }) {
  return (
    <tr>
      {columns.map((c, i) =>
        typeof c === "string" ? (
          <th key={i} scope="col">
            {c}
          </th>
        ) : (
          <th key={i} scope="col" class="num">
            {c.label}
          </th>
        ),
      )}
    </tr>
  );
}

/** A status as a coloured dot and its name; `tone` is the class that colours it. */
export function StatusBadge({ tone, testid, label }: { tone: string; testid: string; label: string }) {
  return (
    <span class={`dsp-status ${tone}`} data-testid={testid}>
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}
