// Pieces the incident page's sections share: running a mutation (busy, refusal, one request id
// per attempt so a retry of the same action is the same request), closing codes and formats.
import type { Ref } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { api, refusal, requestId, type Refusal } from "../api";
import { currentLang } from "../i18n";
import { currentSession, may } from "../session";
import { AssignmentStatus, ClosingCode, DeterminantLevel, type Incident } from "../gen/dispatch/v1/incident_pb";
import { principalCache } from "./dispatch-directory";

export interface Mutation {
  busy: boolean;
  refused: Refusal | null;
  clear: () => void;
  /**
   * Runs `call` with a request id. The same `key` (the action and its payload) after a failure
   * reuses the id, so a retry after a lost answer never applies twice; a success forgets it.
   */
  run: <R>(key: string, call: (requestId: string) => Promise<R>) => Promise<R | null>;
}

export function useMutation(): Mutation {
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const pending = useRef<{ key: string; id: string } | null>(null);
  const run = async <R,>(key: string, call: (requestId: string) => Promise<R>): Promise<R | null> => {
    if (pending.current?.key !== key) pending.current = { key, id: requestId() };
    const id = pending.current.id;
    setBusy(true);
    setRefused(null);
    try {
      const result = await call(id);
      pending.current = null;
      return result;
    } catch (error) {
      setRefused(refusal(error));
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { busy, refused, clear: () => setRefused(null), run };
}

/** An incident action that sends a text someone typed (a note, a reason), with its form's state. */
export interface TextAction extends Mutation {
  text: string;
  setText: (text: string) => void;
  /** Whether there is nothing to send yet. */
  blank: boolean;
  submit: (event: Event) => Promise<void>;
}

/**
 * The form of an incident action that needs a text: a blank text sends nothing; `action` gives
 * the request's key and call for the trimmed text; on success the form empties, the changed
 * incident goes to `onIncident`, then `onDone` runs.
 */
export function useTextAction(
  onIncident: (incident: Incident) => void,
  action: (text: string) => [key: string, call: (requestId: string) => Promise<{ incident?: Incident }>],
  onDone?: () => void,
): TextAction {
  const [text, setText] = useState("");
  const m = useMutation();
  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = text.trim();
    if (trimmed === "") return;
    const r = await m.run(...action(trimmed));
    if (r?.incident === undefined) return;
    setText("");
    onIncident(r.incident);
    onDone?.();
  };
  return { ...m, text, setText, blank: text.trim() === "", submit };
}

export const assignmentClass = (s: AssignmentStatus) =>
  s === AssignmentStatus.CLEARED || s === AssignmentStatus.RELEASED
    ? `st-asg-${AssignmentStatus[s].toLowerCase()}`
    : `st-unit-${(AssignmentStatus[s] ?? "unknown").toLowerCase()}`;

/** C5's closing codes with their letters. */
export const CLOSING: { code: ClosingCode; letter: string; label: { es: string; en: string } }[] = [
  { code: ClosingCode.CONFIRMED, letter: "A", label: { es: "Afirmativo (confirmado)", en: "Confirmed" } },
  { code: ClosingCode.NEGATIVE, letter: "N", label: { es: "Negativo (nadie requirió ayuda)", en: "Negative (no help needed)" } },
  { code: ClosingCode.DUPLICATE, letter: "D", label: { es: "Duplicado", en: "Duplicate" } },
  { code: ClosingCode.FALSE, letter: "F", label: { es: "Falso", en: "False report" } },
  { code: ClosingCode.INFORMATIVE, letter: "I", label: { es: "Informativo", en: "Informative" } },
];
export const closingLabel = (code: ClosingCode) => {
  const c = CLOSING.find((x) => x.code === code);
  return c === undefined ? ClosingCode[code] : `${c.letter} · ${c.label[currentLang()]}`;
};

const LEVELS: Partial<Record<DeterminantLevel, string>> = {
  [DeterminantLevel.OMEGA]: "Omega",
  [DeterminantLevel.ALPHA]: "Alpha",
  [DeterminantLevel.BRAVO]: "Bravo",
  [DeterminantLevel.CHARLIE]: "Charlie",
  [DeterminantLevel.DELTA]: "Delta",
  [DeterminantLevel.ECHO]: "Echo",
};
export const levelLabel = (level: DeterminantLevel) => LEVELS[level] ?? "—";

/** "4 min 05 s" for an ETA. */
export function duration(d: Duration | undefined): string {
  if (d === undefined) return "—";
  const total = Math.max(0, Math.round(Number(d.seconds) + d.nanos / 1e9));
  if (total < 60) return `${total} s`;
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A principal, as far as a dispatcher can tell: themselves by name, "system", or a short id. */
export function who(name: string): string {
  if (name === "" || name === "system") return name === "" ? "—" : "system";
  const session = currentSession();
  if (session !== null && session.principal.name === name) return session.principal.displayName;
  // UUIDv7: the first digits are the creation time (alike for principals made together); the
  // last ones are random and tell them apart.
  const id = name.slice(name.indexOf("/") + 1);
  return `${name.slice(0, name.indexOf("/") + 1)}…${id.slice(-6)}`;
}

const principalNames = principalCache<string, Promise<string | null>>();

/** A principal by display name when this role may read principals (supervisors), else who(). */
export function Who({ name }: { name: string }) {
  const [label, setLabel] = useState(() => who(name));
  useEffect(() => {
    setLabel(who(name));
    if (!name.startsWith("principals/") || !may("DirectoryService/GetPrincipal")) return;
    if (currentSession()?.principal.name === name) return;
    let found = principalNames().get(name);
    if (found === undefined) {
      found = api.directory
        .getPrincipal({ name })
        .then((r) => r.principal?.displayName ?? null)
        .catch(() => null);
      principalNames().set(name, found);
    }
    let stale = false;
    void found.then((display) => {
      if (!stale && display !== null) setLabel(display);
    });
    return () => void (stale = true);
  }, [name]);
  return <>{label}</>;
}

/** A one-line text box of an incident form (a reason, a note), labelled by its caption. */
export function LineField(props: {
  label: string;
  testid: string;
  value: string;
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
  inputRef?: Ref<HTMLInputElement>;
  onInput: (value: string) => void;
}) {
  return (
    <label class="grow-input">
      {props.label}
      <input
        data-testid={props.testid}
        required={props.required}
        maxLength={props.maxLength}
        value={props.value}
        ref={props.inputRef}
        placeholder={props.placeholder}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </label>
  );
}
