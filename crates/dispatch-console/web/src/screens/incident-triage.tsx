// Triage on the incident page: the key questions of the incident's type (GetIncidentType), one
// input per question by its kind, TriageIncident; then the determinant and response plan the
// server decided. Answers of the latest triage of the same type are filled in again.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, refusal, type Refusal } from "../api";
import { may } from "../session";
import { useText } from "../i18n";
import { clock, toDate } from "../format";
import { Options, RefusalView } from "../widgets";
import { IncidentStatus, type Incident, type TriageAnswer } from "../gen/dispatch/v1/incident_pb";
import { QuestionKind, type IncidentType, type Question } from "../gen/dispatch/v1/incident_type_pb";
import { principalCache, useDirectory } from "./dispatch-directory";
import { levelLabel, useMutation, Who } from "./incident-common";

const T = {
  title: { es: "Clasificación (triage)", en: "Triage" },
  type: { es: "Tipo de incidente", en: "Incident type" },
  choose: { es: "— elegir —", en: "— choose —" },
  yes: { es: "Sí", en: "Yes" },
  no: { es: "No", en: "No" },
  unanswered: { es: "— sin respuesta —", en: "— unanswered —" },
  submit: { es: "Clasificar", en: "Triage" },
  retriage: { es: "Reclasificar", en: "Re-triage" },
  determinant: { es: "Determinante", en: "Determinant" },
  plan: { es: "Plan de respuesta", en: "Response plan" },
  noTriage: { es: "Sin clasificar todavía.", en: "Not triaged yet." },
  noPlan: { es: "Sin plan de respuesta.", en: "No response plan." },
  loadingQuestions: { es: "Cargando preguntas…", en: "Loading questions…" },
  noQuestions: { es: "Este tipo no tiene preguntas.", en: "This type has no questions." },
  required: { es: "obligatoria", en: "required" },
  range: { es: "entre", en: "between" },
  and: { es: "y", en: "and" },
  units: { es: "unidad(es) con", en: "unit(s) with" },
  lastBy: { es: "Última clasificación", en: "Last triage" },
  priorityWas: { es: "prioridad", en: "priority" },
};

const typeCache = principalCache<string, Promise<IncidentType>>();
function readType(code: string): Promise<IncidentType> {
  let p = typeCache().get(code);
  if (p === undefined) {
    p = api.triage.getIncidentType({ name: `incident-types/${code}` }).then((r) => {
      if (r.incidentType === undefined) throw new Error("no incident type in the response");
      return r.incidentType;
    });
    p.catch(() => typeCache().delete(code));
    typeCache().set(code, p);
  }
  return p;
}

/** An answer as typed: "yes"/"no", a choice, or a number's text; "" unanswered. */
type Answers = Record<string, string>;

function answersFrom(incident: Incident, code: string): Answers {
  const out: Answers = {};
  const last = [...incident.triageHistory].reverse().find((r) => r.incidentType === code);
  for (const a of last?.answers ?? []) {
    if (a.value.case === "yesNo") out[a.questionId] = a.value.value ? "yes" : "no";
    else if (a.value.case === "choice") out[a.questionId] = a.value.value;
    else if (a.value.case === "number") out[a.questionId] = String(a.value.value);
  }
  return out;
}

function toAnswer(q: Question, text: string): TriageAnswer | null {
  if (text === "") return null;
  const base = { questionId: q.id } as const;
  switch (q.kind) {
    case QuestionKind.YES_NO:
      return { ...base, value: { case: "yesNo", value: text === "yes" } } as TriageAnswer;
    case QuestionKind.CHOICE:
      return { ...base, value: { case: "choice", value: text } } as TriageAnswer;
    case QuestionKind.NUMBER:
      return { ...base, value: { case: "number", value: Number(text) } } as TriageAnswer;
    default:
      return null;
  }
}

export function TriagePanel({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const directory = useDirectory();
  const canTriage =
    may("IncidentTriageService/TriageIncident") &&
    incident.status !== IncidentStatus.CLOSED &&
    incident.status !== IncidentStatus.CANCELLED;
  const [code, setCode] = useState(incident.incidentType);
  const [type, setType] = useState<IncidentType | null>(null);
  const [typeError, setTypeError] = useState<Refusal | null>(null);
  const [answers, setAnswers] = useState<Answers>(() => answersFrom(incident, incident.incidentType));
  const m = useMutation();

  // Another console changed the type: follow it unless this one is choosing another.
  useEffect(() => setCode(incident.incidentType), [incident.incidentType]);

  useEffect(() => {
    setType(null);
    setTypeError(null);
    if (code === "" || !canTriage || !may("IncidentTriageService/GetIncidentType")) return;
    let stale = false;
    readType(code)
      .then((found) => !stale && setType(found))
      .catch((error) => !stale && setTypeError(refusal(error)));
    setAnswers(answersFrom(incident, code));
    return () => void (stale = true);
  }, [code, canTriage]);

  const types = useMemo(() => [...directory.types.values()].sort((a, b) => a.code.localeCompare(b.code)), [directory]);
  const questions = type?.protocol?.questions ?? [];

  const submit = async (event: Event) => {
    event.preventDefault();
    const given = questions.map((q) => toAnswer(q, answers[q.id] ?? "")).filter((a): a is TriageAnswer => a !== null);
    const newType = code !== incident.incidentType ? code : "";
    const key = `triage:${incident.name}:${newType}:${JSON.stringify(answers)}`;
    const r = await m.run(key, (requestId) =>
      api.triage.triageIncident({ requestId, name: incident.name, incidentType: newType, answers: given }),
    );
    if (r?.incident !== undefined) onIncident(r.incident);
  };

  const last = incident.triageHistory[incident.triageHistory.length - 1];
  return (
    <section class="panel" data-testid="triage" aria-labelledby="triage-title">
      <h2 id="triage-title">{t.title}</h2>
      <Outcome incident={incident} />
      {last !== undefined && (
        <p class="hint">
          {t.lastBy}: {clock(toDate(last.triageTime))} · <Who name={last.triagedBy} /> · {t.priorityWas} {last.previousPriority} → {last.priority}
        </p>
      )}
      {canTriage && (
        <form class="inc-subform" data-testid="triage-form" onSubmit={submit}>
          <label>
            {t.type}
            <select data-testid="triage-type" value={code} onChange={(e) => setCode(e.currentTarget.value)}>
              {code === "" && <option value="">{t.choose}</option>}
              {code !== "" && !directory.types.has(code) && <option value={code}>{code}</option>}
              <Options choices={types.map((it) => ({ value: it.code, label: `${it.code} · ${it.displayName}` }))} />
            </select>
          </label>
          {typeError !== null && <RefusalView refusal={typeError} />}
          {code !== "" && type === null && typeError === null && <p class="hint">{t.loadingQuestions}</p>}
          {type !== null && questions.length === 0 && <p class="hint">{t.noQuestions}</p>}
          <div class="triage-grid">
            {questions.map((q) => (
              <QuestionInput
                key={q.id}
                q={q}
                value={answers[q.id] ?? ""}
                onChange={(value) => setAnswers((prev) => ({ ...prev, [q.id]: value }))}
              />
            ))}
          </div>
          <div class="inc-actions">
            <button type="submit" data-testid="triage-submit" disabled={m.busy || code === ""}>
              {incident.triageHistory.length > 0 ? t.retriage : t.submit}
            </button>
          </div>
          {m.refused !== null && <RefusalView refusal={m.refused} />}
        </form>
      )}
    </section>
  );
}

function QuestionInput({ q, value, onChange }: { q: Question; value: string; onChange: (v: string) => void }) {
  const t = useText(T);
  const id = `q-${q.id}`;
  const labelText = (
    <span class={q.required ? "required" : undefined} title={q.required ? t.required : undefined}>
      {q.text}
    </span>
  );
  const choices =
    q.kind === QuestionKind.YES_NO
      ? [
          { value: "yes", label: t.yes },
          { value: "no", label: t.no },
        ]
      : q.choices.map((c) => ({ value: c, label: c }));
  const input =
    q.kind === QuestionKind.YES_NO || q.kind === QuestionKind.CHOICE ? (
      <select id={id} data-testid="triage-answer" value={value} required={q.required} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{t.unanswered}</option>
        <Options choices={choices} />
      </select>
    ) : (
      <input
        id={id}
        data-testid="triage-answer"
        type="number"
        step="any"
        min={q.min}
        max={q.max}
        required={q.required}
        value={value}
        onInput={(e) => onChange(e.currentTarget.value)}
      />
    );
  return (
    <label data-testid="triage-question" data-question={q.id} data-kind={QuestionKind[q.kind]}>
      {labelText}
      {input}
      {q.kind === QuestionKind.NUMBER && (q.min !== undefined || q.max !== undefined) && (
        <span class="hint">
          {t.range} {q.min ?? "−∞"} {t.and} {q.max ?? "∞"}
        </span>
      )}
      {q.helpText !== "" && <span class="hint">{q.helpText}</span>}
    </label>
  );
}

/** The determinant and response plan the latest triage gave. */
function Outcome({ incident }: { incident: Incident }) {
  const t = useText(T);
  const d = incident.determinant;
  const plan = incident.responsePlan;
  return (
    <div class="inc-facts-wrap">
      <div data-testid="triage-determinant" class="determinant" data-code={d?.code ?? ""} data-level={d === undefined ? "" : String(d.level)}>
        {t.determinant}:{" "}
        {d === undefined || d.code === "" ? (
          <span class="hint">{t.noTriage}</span>
        ) : (
          <>
            <code>{d.code}</code> · {levelLabel(d.level)} · {d.description}
          </>
        )}
      </div>
      <div data-testid="response-plan">
        {t.plan}:
        {plan === undefined || plan.requirements.length === 0 ? (
          <span class="hint"> {t.noPlan}</span>
        ) : (
          <ul class="plan-list">
            {plan.requirements.map((r, i) => (
              <li key={i} data-testid="plan-requirement" data-capability={r.capability} data-count={r.count}>
                <strong>{r.count}</strong> {t.units} <code>{r.capability}</code>
                {r.description !== "" && <span class="hint"> · {r.description}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
