// Small pieces every screen uses.
import type { Ref } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Refusal } from "./api";
import { labelOf, type EnumNames, type Labels } from "./labels";

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

/** The choices of a select over some values of an enum: each value's name, shown as its label. */
export function enumChoices<E extends number>(names: EnumNames, values: readonly E[], labels: Labels<E>): Choice[] {
  return values.map((value) => ({ value: names[value], label: labelOf(labels, value) }));
}

/**
 * A select over some values of an enum: each option submits the value's name and shows its
 * label; `all`, when given, is a first option meaning no value (UNSPECIFIED). `label` names the
 * select for screen readers when no `<label>` holds it.
 */
export function EnumSelect<E extends number>(props: {
  testid: string;
  names: EnumNames;
  values: readonly E[];
  labels: Labels<E>;
  value: E;
  onChange: (value: E) => void;
  label?: string;
  all?: string;
  disabled?: boolean;
  selectRef?: Ref<HTMLSelectElement>;
  onKeyDown?: (event: KeyboardEvent) => void;
}) {
  const { names, values } = props;
  return (
    <select
      ref={props.selectRef}
      data-testid={props.testid}
      aria-label={props.label}
      value={names[props.value]}
      disabled={props.disabled}
      onChange={(e) => {
        const name = e.currentTarget.value;
        props.onChange(values.find((value) => names[value] === name) ?? (0 as E));
      }}
      onKeyDown={props.onKeyDown}
    >
      {props.all !== undefined && <option value={names[0]}>{props.all}</option>}
      <Options choices={enumChoices(names, values, props.labels)} />
    </select>
  );
}

/** What a select field shows and does: `all`, when given, is a first choice (value "") meaning "any". */
interface SelectProps {
  label: string;
  testid: string;
  value: string;
  all?: string;
  choices: readonly Choice[];
  onChange: (value: string) => void;
}

/** A select labelled by its caption. */
export function SelectField(props: SelectProps) {
  return (
    <label>
      {props.label}
      <FieldSelect {...props} />
    </label>
  );
}

/** A toolbar filter: a select whose label only screen readers hear; `all` means "no filter". */
export function FilterSelect(props: SelectProps) {
  return (
    <label class="dsp-inline">
      <span class="sr-only">{props.label}</span>
      <FieldSelect {...props} />
    </label>
  );
}

function FieldSelect(props: SelectProps) {
  return (
    <select data-testid={props.testid} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
      {props.all !== undefined && <option value="">{props.all}</option>}
      <Options choices={props.choices} />
    </select>
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
