// One incident, kept live: read in FULL view, and read again whenever the incidents feed shows
// it changed (or left the open set). Its calls, timeline and notes; triage with the questions
// of its type, the determinant and response plan they gave; recommend, assign, release; status
// changes, close with C5's codes, cancel, merge. Each action is shown only when the server's
// role table lets this principal call its RPC; each refusal is shown as it came.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, refusal, type Refusal } from "../api";
import { feedIfPermitted, WATCH_INCIDENTS } from "../feeds";
import type { LiveCollection, LiveEvent } from "../live";
import { may } from "../session";
import { useText } from "../i18n";
import { age, clock, incidentStatusClass, toDate } from "../format";
import { CHANNELS, incidentStatusLabel, labelOf, timelineLabel } from "../labels";
import { RefusalView, StatusBadge, useNow } from "../widgets";
import { IncidentStatus, IncidentView, TimelineEntryKind, type Incident } from "../gen/dispatch/v1/incident_pb";
import { CallChannel, type Call } from "../gen/dispatch/v1/call_pb";
import { principalCache, typeLabel, useDirectory, whereOf } from "./dispatch-directory";
import { priorityClass, startOf } from "./queue";
import { closingLabel, useTextAction, Who } from "./incident-common";
import { TriagePanel } from "./incident-triage";
import { AssignedUnits, RecommendPanel } from "./incident-assign";
import { LifecyclePanel } from "./incident-lifecycle";
import "./dispatch.css";

const T = {
  back: { es: "← Incidentes", en: "← Incidents" },
  loading: { es: "Cargando incidente…", en: "Loading incident…" },
  priority: { es: "Prioridad", en: "Priority" },
  type: { es: "Tipo", en: "Type" },
  where: { es: "Ubicación", en: "Location" },
  uncertainty: { es: "incertidumbre", en: "uncertainty" },
  summary: { es: "Resumen", en: "Summary" },
  age: { es: "Antigüedad", en: "Age" },
  opened: { es: "Abierto", en: "Opened" },
  closedAs: { es: "Cierre", en: "Closed as" },
  duplicateOf: { es: "Duplicado de", en: "Duplicate of" },
  calls: { es: "Llamadas vinculadas", en: "Linked calls" },
  timeline: { es: "Bitácora", en: "Timeline" },
  notes: { es: "Notas", en: "Notes" },
  noNotes: { es: "Sin notas.", en: "No notes." },
  newNote: { es: "Nueva nota", en: "New note" },
  addNote: { es: "Agregar nota", en: "Add note" },
  callback: { es: "Devolver llamada a", en: "Callback" },
  closedNote: { es: "Nota de cierre", en: "Closing note" },
  untyped: { es: "sin tipo", en: "no type" },
};

const timeOf = (i: Incident) => {
  const t = i.updateTime;
  return t === undefined ? 0n : t.seconds * 1_000_000_000n + BigInt(t.nanos);
};

export function IncidentScreen({ id }: { id: string }) {
  // Another incident is another page: no state (a recommendation, a half-typed note) carries over.
  return <IncidentPage key={id} id={id} />;
}

function IncidentPage({ id }: { id: string }) {
  const t = useText(T);
  const name = `incidents/${id}`;
  const [incident, setIncidentState] = useState<Incident | null>(null);
  const [loadError, setLoadError] = useState<Refusal | null>(null);
  const current = useRef<Incident | null>(null);
  const feed = feedIfPermitted(WATCH_INCIDENTS);
  const live = useFeedItem(feed, name);

  /** Keeps the newest of what we hold and what arrived (a slow read never goes back in time). */
  const setIncident = useCallback((next: Incident) => {
    if (next.name !== name) return;
    const held = current.current;
    if (held !== null && held.name === name && timeOf(next) < timeOf(held)) return;
    current.current = next;
    setIncidentState(next);
  }, [name]);

  // Read it (again) on arrival, and whenever the feed shows a change to it: one read at a time,
  // and one more after it when changes came meanwhile (a busy incident is never starved).
  const reading = useRef(false);
  const again = useRef(false);
  const mounted = useRef(true);
  useEffect(() => () => void (mounted.current = false), []);
  const read = useCallback(() => {
    if (reading.current) {
      again.current = true;
      return;
    }
    reading.current = true;
    api.triage
      .getIncident({ name, view: IncidentView.FULL })
      .then((r) => {
        if (!mounted.current || r.incident === undefined) return;
        setLoadError(null);
        setIncident(r.incident);
      })
      .catch((error) => {
        if (mounted.current) setLoadError(refusal(error));
      })
      .finally(() => {
        reading.current = false;
        if (again.current && mounted.current) {
          again.current = false;
          read();
        }
      });
  }, [name, setIncident]);
  useEffect(read, [live, read]);

  if (incident === null) {
    return (
      <section class="dsp-screen">
        <a href="#/queue">{t.back}</a>
        {loadError !== null ? <RefusalView refusal={loadError} /> : <p class="hint">{t.loading}</p>}
      </section>
    );
  }
  const terminal = incident.status === IncidentStatus.CLOSED || incident.status === IncidentStatus.CANCELLED;
  const statusName = IncidentStatus[incident.status] ?? "UNSPECIFIED";
  return (
    <section
      class="dsp-screen inc-page"
      data-testid="incident-page"
      data-incident={incident.name}
      data-status={statusName}
      data-etag={incident.etag}
      aria-labelledby="incident-title"
    >
      <IncidentHead incident={incident} />
      {loadError !== null && (
        <div class="inc-head">
          <RefusalView refusal={loadError} />
        </div>
      )}
      <div class="inc-col">
        <TriagePanel incident={incident} onIncident={setIncident} />
        {!terminal && may("UnitAssignmentService/RecommendUnits") && (
          <RecommendPanel incident={incident} onIncident={setIncident} />
        )}
        <AssignedUnits incident={incident} onIncident={setIncident} />
        {!terminal && <LifecyclePanel incident={incident} onIncident={setIncident} />}
      </div>
      <div class="inc-col">
        <CallsPanel incident={incident} />
        <NotesPanel incident={incident} onIncident={setIncident} />
        <TimelinePanel incident={incident} />
      </div>
    </section>
  );
}

function IncidentHead({ incident }: { incident: Incident }) {
  const t = useText(T);
  // Arriving from the queue by keyboard, the focus starts at the incident, not at the page's top.
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (document.activeElement === null || document.activeElement === document.body) title.current?.focus();
  }, []);
  const directory = useDirectory();
  const now = useNow();
  const loc = incident.location;
  return (
    <>
      <div class="inc-head">
        <a href="#/queue" data-testid="incident-back">
          {t.back}
        </a>
        <h1 id="incident-title" data-testid="incident-folio" tabIndex={-1} ref={title}>
          {incident.folio}
        </h1>
        <StatusBadge tone={incidentStatusClass(incident.status)} testid="incident-status" label={incidentStatusLabel(incident.status)} />
        <span>
          {t.priority}{" "}
          <span class={priorityClass(incident.priority)} data-testid="incident-priority">
            {incident.priority}
          </span>
        </span>
        <span data-testid="incident-type" data-type={incident.incidentType}>
          {incident.incidentType === "" ? <span class="hint">{t.untyped}</span> : `${typeLabel(directory, incident.incidentType)} (${incident.incidentType})`}
        </span>
        <span>
          {t.age} <span class="mono" data-testid="incident-age">{age(startOf(incident), now)}</span>
        </span>
      </div>
      <dl class="inc-facts inc-head panel">
        <dt>{t.where}</dt>
        <dd>
          {whereOf(incident)}
          {loc?.point !== undefined && loc.civicAddress !== "" && (
            <span class="hint">
              {" "}
              ({loc.point.latitude.toFixed(5)}, {loc.point.longitude.toFixed(5)})
            </span>
          )}
          {loc !== undefined && (
            <span class="hint">
              {" "}
              · {t.uncertainty} {Math.round(loc.uncertaintyM)} m
            </span>
          )}
        </dd>
        {incident.summary !== "" && (
          <>
            <dt>{t.summary}</dt>
            <dd>{incident.summary}</dd>
          </>
        )}
        <dt>{t.opened}</dt>
        <dd>{clock(toDate(incident.createTime))}</dd>
        {incident.closingCode !== 0 && (
          <>
            <dt>{t.closedAs}</dt>
            <dd data-testid="incident-closing-code">{closingLabel(incident.closingCode)}</dd>
          </>
        )}
        {incident.duplicateOf !== "" && (
          <>
            <dt>{t.duplicateOf}</dt>
            <dd>
              <a href={`#/incidents/${incident.duplicateOf.slice("incidents/".length)}`} data-testid="incident-duplicate-of">
                {incident.duplicateOf}
              </a>
            </dd>
          </>
        )}
        {incident.closingNote !== "" && (
          <>
            <dt>{t.closedNote}</dt>
            <dd>{incident.closingNote}</dd>
          </>
        )}
      </dl>
    </>
  );
}

/** Calls are read one by one (GetCall) when the role may; otherwise their names are shown. */
const callCache = principalCache<string, Promise<Call | null>>();
function readCall(name: string): Promise<Call | null> {
  let p = callCache().get(name);
  if (p === undefined) {
    p = api.calls
      .getCall({ name })
      .then((r) => r.call ?? null)
      .catch(() => {
        callCache().delete(name);
        return null;
      });
    callCache().set(name, p);
  }
  return p;
}

function CallsPanel({ incident }: { incident: Incident }) {
  const t = useText(T);
  const [calls, setCalls] = useState<Map<string, Call>>(new Map());
  const canRead = may("CallIntakeService/GetCall");
  const key = incident.calls.join(",");
  useEffect(() => {
    if (!canRead) return;
    let stale = false;
    void Promise.all(incident.calls.map(readCall)).then((found) => {
      if (stale) return;
      setCalls(new Map(found.filter((c): c is Call => c !== null).map((c) => [c.name, c])));
    });
    return () => void (stale = true);
  }, [key, canRead]);
  return (
    <section class="panel" data-testid="incident-calls" aria-labelledby="calls-title">
      <h2 id="calls-title">
        {t.calls} <span class="dsp-count">{incident.linkedCallCount}</span>
      </h2>
      <ul class="inc-list">
        {incident.calls.map((name) => {
          const call = calls.get(name);
          return (
            <li key={name} data-testid="incident-call" data-call={name}>
              {call === undefined ? (
                <span class="mono">{name}</span>
              ) : (
                <>
                  <span class="tl-time">{clock(toDate(call.receivedTime))}</span>
                  <strong class="mono">{call.folio}</strong> · {labelOf(CHANNELS, call.channel, undefined, CallChannel[call.channel])}
                  {call.callbackNumber !== "" && (
                    <span class="hint">
                      {" "}
                      · {t.callback} <span class="mono">{call.callbackNumber}</span>
                    </span>
                  )}
                  {call.account !== "" && <div class="note-text">{call.account}</div>}
                </>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function NotesPanel({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const m = useTextAction(onIncident, (text) => [
    `note:${incident.name}:${text}`,
    (requestId) => api.triage.addIncidentNote({ requestId, name: incident.name, text }),
  ]);
  return (
    <section class="panel" data-testid="incident-notes" aria-labelledby="notes-title">
      <h2 id="notes-title">
        {t.notes} <span class="dsp-count">{incident.notes.length}</span>
      </h2>
      <ul class="inc-list inc-scroll">
        {incident.notes.length === 0 && <li class="hint">{t.noNotes}</li>}
        {incident.notes.map((note, i) => (
          <li key={i} data-testid="incident-note">
            <span class="note-meta">
              {clock(toDate(note.createTime))} · <Who name={note.author} />
            </span>
            <div class="note-text">{note.text}</div>
          </li>
        ))}
      </ul>
      {may("IncidentTriageService/AddIncidentNote") && (
        <form class="inc-actions inc-subform" onSubmit={m.submit}>
          <label class="grow-input">
            {t.newNote}
            <textarea
              data-testid="note-text"
              rows={2}
              maxLength={4000}
              value={m.text}
              onInput={(e) => m.setText(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void m.submit(e);
              }}
            />
          </label>
          <button type="submit" data-testid="note-submit" disabled={m.busy || m.blank}>
            {t.addNote}
          </button>
          {m.refused !== null && <RefusalView refusal={m.refused} />}
        </form>
      )}
    </section>
  );
}

function TimelinePanel({ incident }: { incident: Incident }) {
  const t = useText(T);
  const entries = [...incident.timeline].reverse();
  return (
    <section class="panel" data-testid="incident-timeline" aria-labelledby="timeline-title">
      <h2 id="timeline-title">
        {t.timeline} <span class="dsp-count">{incident.timeline.length}</span>
      </h2>
      <ol class="inc-list inc-scroll" reversed>
        {entries.map((entry) => (
          <li
            key={String(entry.sequence)}
            data-testid="timeline-entry"
            data-kind={entry.kind === 0 ? "UNSPECIFIED" : timelineKindName(entry.kind)}
            data-sequence={String(entry.sequence)}
          >
            <span class="tl-time">{clock(toDate(entry.time))}</span>
            <span class="tl-kind">{timelineLabel(entry.kind)}</span>
            <span>{entry.description}</span>
            <span class="hint"> · <Who name={entry.actor} /></span>
          </li>
        ))}
      </ol>
    </section>
  );
}

const timelineKindName = (kind: TimelineEntryKind) => TimelineEntryKind[kind] ?? String(kind);

/**
 * This incident as the feed last delivered it (a new object on every change to it), following
 * only it: the busy feed's other incidents do not re-render the page. Undefined when the role
 * has no feed or the incident left the open set.
 */
function useFeedItem<T, E extends LiveEvent>(feed: LiveCollection<T, E> | null, name: string): T | undefined {
  const [item, set] = useState(() => feed?.items.get(name));
  useEffect(() => {
    if (feed === null) return;
    set(() => feed.items.get(name));
    return feed.subscribe(() => set(() => feed.items.get(name)));
  }, [feed, name]);
  return item;
}
