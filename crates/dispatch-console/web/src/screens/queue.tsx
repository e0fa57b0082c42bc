// The dispatcher's incident queue: every open incident, live from WatchIncidents, most urgent
// first (priority, then the oldest), with age timers that tick. One timer for the whole table
// (useNow), rows memoised on the incident object so a live event re-renders only its row.
import { createContext } from "preact";
import { memo } from "./dispatch-memo";
import { useContext, useMemo, useRef, useState } from "preact/hooks";
import { incidents, WATCH_INCIDENTS } from "../feeds";
import { feedScreen } from "./dispatch-refusal";
import { useSnapshotIn, useThrottledLive } from "./dispatch-live";
import { useText } from "../i18n";
import { age, idOf, incidentStatusClass, toDate } from "../format";
import { incidentStatusLabel } from "../labels";
import { ColGroup, FilterSelect, HeadCells, SearchBox, StatusBadge, useNow } from "../widgets";
import { IncidentStatus, type Incident } from "../gen/dispatch/v1/incident_pb";
import { activeAssignments, typeLabel, useDirectory, whereOf, type Directory } from "./dispatch-directory";
import "./dispatch.css";

const T = {
  title: { es: "Incidentes abiertos", en: "Open incidents" },
  folio: { es: "Folio", en: "Folio" },
  priority: { es: "Prioridad", en: "Priority" },
  type: { es: "Tipo", en: "Type" },
  status: { es: "Estado", en: "Status" },
  age: { es: "Antigüedad", en: "Age" },
  where: { es: "Ubicación", en: "Location" },
  units: { es: "Unidades", en: "Units" },
  calls: { es: "Llamadas", en: "Calls" },
  all: { es: "Todos los estados", en: "Every status" },
  filter: { es: "Filtrar por estado", en: "Filter by status" },
  search: { es: "Buscar (folio, tipo, lugar)", en: "Search (folio, type, place)" },
  empty: { es: "No hay incidentes abiertos.", en: "No open incidents." },
  loading: { es: "Cargando incidentes…", en: "Loading incidents…" },
  shown: { es: "mostrados", en: "shown" },
  help: {
    es: "↑/↓ para moverse, Intro para abrir el incidente.",
    en: "↑/↓ to move, Enter to open the incident.",
  },
  untyped: { es: "sin tipo", en: "no type" },
};

const QUEUE_STATUSES = [
  IncidentStatus.NEW,
  IncidentStatus.TRIAGED,
  IncidentStatus.DISPATCHED,
  IncidentStatus.ON_SCENE,
  IncidentStatus.RESOLVED,
];


/** The table's one clock (whole seconds): only the age cells read it, so a tick re-renders them alone. */
const Second = createContext(0);

function AgeCell({ since }: { since: Date | null }) {
  const second = useContext(Second);
  return (
    <td class="num mono" data-testid="incident-age">
      {age(since, second * 1000)}
    </td>
  );
}

/** Priority class for colour (10 highest). */
export function priorityClass(priority: number): string {
  return priority >= 8 ? "priority priority-high" : priority >= 5 ? "priority priority-mid" : "priority";
}

/** When the incident started: its first call, else its creation. */
export function startOf(incident: Incident): Date | null {
  return toDate(incident.firstCallReceivedTime ?? incident.createTime);
}

function sortKey(a: Incident, b: Incident): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ta = startOf(a)?.getTime() ?? 0;
  const tb = startOf(b)?.getTime() ?? 0;
  if (ta !== tb) return ta - tb;
  return a.name < b.name ? -1 : 1;
}

export const QueueScreen = feedScreen(WATCH_INCIDENTS, T.title, Queue);

function Queue() {
  const t = useText(T);
  const feed = incidents();
  const version = useThrottledLive(feed);
  const directory = useDirectory();
  const now = useNow();
  const [status, setStatus] = useState<string>("");
  const [query, setQuery] = useState("");
  const table = useRef<HTMLTableElement>(null);

  const all = useMemo(() => [...feed.items.values()].sort(sortKey), [version, feed.items]);
  const rows = useMemo(() => {
    const q = query.trim().toLowerCase();
    return all.filter((incident) => {
      if (status !== "" && IncidentStatus[incident.status] !== status) return false;
      if (q === "") return true;
      return (
        incident.folio.toLowerCase().includes(q) ||
        incident.incidentType.toLowerCase().includes(q) ||
        typeLabel(directory, incident.incidentType).toLowerCase().includes(q) ||
        whereOf(incident).toLowerCase().includes(q) ||
        incident.summary.toLowerCase().includes(q)
      );
    });
  }, [all, status, query, directory]);
  const counts = useMemo(() => {
    const c = new Map<IncidentStatus, number>();
    for (const incident of all) c.set(incident.status, (c.get(incident.status) ?? 0) + 1);
    return c;
  }, [all]);

  const snapshotIn = useSnapshotIn(feed, "queue");

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Home" && event.key !== "End") return;
    const links = Array.from(table.current?.querySelectorAll<HTMLAnchorElement>("a.row-link") ?? []);
    if (links.length === 0) return;
    const at = links.findIndex((link) => link === document.activeElement);
    let next = at;
    if (event.key === "ArrowDown") next = at < 0 ? 0 : Math.min(links.length - 1, at + 1);
    else if (event.key === "ArrowUp") next = at < 0 ? 0 : Math.max(0, at - 1);
    else if (event.key === "Home") next = 0;
    else next = links.length - 1;
    event.preventDefault();
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  };

  return (
    <section class="dsp-screen" aria-labelledby="queue-title" data-testid="queue-screen">
      <div class="dsp-toolbar">
        <h1 id="queue-title">
          {t.title} <span class="dsp-count" data-testid="queue-count">{all.length}</span>
        </h1>
        <FilterSelect
          label={t.filter}
          testid="queue-filter-status"
          value={status}
          all={`${t.all} (${all.length})`}
          choices={QUEUE_STATUSES.map((s) => ({ value: IncidentStatus[s], label: `${incidentStatusLabel(s)} (${counts.get(s) ?? 0})` }))}
          onChange={setStatus}
        />
        <SearchBox
          label={t.search}
          testid="queue-search"
          value={query}
          onInput={setQuery}
          onKeyDown={(e) => {
            if (e.key !== "ArrowDown") return;
            e.preventDefault();
            table.current?.querySelector<HTMLAnchorElement>("a.row-link")?.focus();
          }}
        />
        {rows.length !== all.length && (
          <span class="hint">
            {rows.length} {t.shown}
          </span>
        )}
        <span class="hint dsp-grow">{t.help}</span>
      </div>
      {!snapshotIn ? (
        <p class="hint">{t.loading}</p>
      ) : all.length === 0 ? (
        <p class="hint" data-testid="queue-empty">
          {t.empty}
        </p>
      ) : null}
      <div class="dsp-table-wrap">
        <table class="dsp-table queue" data-testid="incident-queue" ref={table} onKeyDown={onKeyDown}>
          <ColGroup classes={["c-folio", "c-priority", "c-type", "c-status", "c-age", "c-where", "c-units", "c-calls"]} />
          <thead>
            <HeadCells
              columns={[
                t.folio,
                t.priority,
                t.type,
                t.status,
                { label: t.age, num: true },
                t.where,
                { label: t.units, num: true },
                { label: t.calls, num: true },
              ]}
            />
          </thead>
          <Second.Provider value={Math.floor(now / 1000)}>
            <tbody>
              {rows.map((incident) => (
                <QueueRow key={incident.name} incident={incident} directory={directory} untyped={t.untyped} />
              ))}
            </tbody>
          </Second.Provider>
        </table>
      </div>
    </section>
  );
}

const QueueRow = memo(function QueueRow({
  incident,
  directory,
  untyped,
}: {
  incident: Incident;
  directory: Directory;
  untyped: string;
}) {
  const href = `#/incidents/${idOf(incident.name)}`;
  const statusName = IncidentStatus[incident.status] ?? "UNSPECIFIED";
  const units = activeAssignments(incident).length;
  const open = (event: MouseEvent) => {
    // The whole row opens the incident; the folio link does it natively.
    if ((event.target as HTMLElement).closest("a") !== null) return;
    location.hash = href;
  };
  return (
    <tr
      data-testid="incident-row"
      data-incident={incident.name}
      data-status={statusName}
      data-priority={incident.priority}
      class={`status-row-${statusName.toLowerCase()}`}
      onClick={open}
    >
      <td>
        <a class="row-link mono" href={href}>
          {incident.folio}
        </a>
      </td>
      <td>
        <span class={priorityClass(incident.priority)}>{incident.priority}</span>
      </td>
      <td class="dsp-ellipsis" title={incident.incidentType}>
        {incident.incidentType === "" ? <span class="hint">{untyped}</span> : typeLabel(directory, incident.incidentType)}
      </td>
      <td>
        <StatusBadge tone={incidentStatusClass(incident.status)} testid="incident-status" label={incidentStatusLabel(incident.status)} />
      </td>
      <AgeCell since={startOf(incident)} />
      <td class="dsp-ellipsis" title={incident.summary}>
        {whereOf(incident)}
      </td>
      <td class="num" data-testid="incident-units">
        {units}
      </td>
      <td class="num" data-testid="incident-calls-count">
        {incident.linkedCallCount}
      </td>
    </tr>
  );
});
