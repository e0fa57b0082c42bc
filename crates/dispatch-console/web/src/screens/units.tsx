// The unit status board: every unit, live from WatchUnits, grouped by agency, station or type
// and filtered by agency, station, type, status and call sign; stale positions flagged;
// one-action status changes per row and a command bar. 1,311 units render as one plain table
// whose rows are memoised on the unit object: a live event re-renders only its row.
import { memo } from "./dispatch-memo";
import { useEffect, useMemo, useState } from "preact/hooks";
import { feedScreen } from "./dispatch-refusal";
import { ColGroup, FilterSelect, HeadCells, SearchBox, StatusBadge, useNow } from "../widgets";
import { feedIfPermitted, units, WATCH_INCIDENTS, WATCH_UNITS } from "../feeds";
import { useSnapshotIn, useThrottledLive } from "./dispatch-live";
import { may } from "../session";
import { useLang, useText, type Lang } from "../i18n";
import { clock, idOf, toDate, unitStatusClass } from "../format";
import { enumValues, unitStatusLabel, unitTypeLabel } from "../labels";
import { UnitStatus, UnitType, type Unit } from "../gen/dispatch/v1/unit_pb";
import { agencyCode, isStale, stationLabel, unitNextStatuses, useDirectory, type Directory } from "./dispatch-directory";
import { CommandBar, setStatus, type ActionResult } from "./units-command";
import "./dispatch.css";

const T = {
  title: { es: "Tablero de unidades", en: "Unit board" },
  agency: { es: "Corporación", en: "Agency" },
  station: { es: "Base", en: "Station" },
  type: { es: "Tipo", en: "Type" },
  status: { es: "Estado", en: "Status" },
  allAgencies: { es: "Todas las corporaciones", en: "Every agency" },
  allStations: { es: "Todas las bases", en: "Every station" },
  allTypes: { es: "Todos los tipos", en: "Every type" },
  allStatuses: { es: "Todos los estados", en: "Every status" },
  callSign: { es: "Clave", en: "Call sign" },
  search: { es: "Buscar clave", en: "Find call sign" },
  groupBy: { es: "Agrupar por", en: "Group by" },
  none: { es: "Sin agrupar", en: "No grouping" },
  staleOnly: { es: "Sólo posiciones viejas", en: "Stale positions only" },
  since: { es: "Desde", en: "Since" },
  incident: { es: "Incidente", en: "Incident" },
  position: { es: "Posición", en: "Position" },
  actions: { es: "Cambiar a", en: "Change to" },
  stale: { es: "vieja", en: "stale" },
  noFix: { es: "sin posición", en: "no fix" },
  loading: { es: "Cargando unidades…", en: "Loading units…" },
  shown: { es: "mostradas de", en: "shown of" },
  units: { es: "unidades", en: "units" },
  noneMatch: { es: "Ninguna unidad coincide con los filtros.", en: "No unit matches the filters." },
  available: { es: "disponibles", en: "available" },
  staleCount: { es: "con posición vieja o sin posición", en: "with a stale fix or none" },
};

type GroupBy = "agency" | "station" | "type" | "status" | "none";
const STATUSES = enumValues<UnitStatus>(UnitStatus);
const TYPES = enumValues<UnitType>(UnitType);

const collator = new Intl.Collator("es", { numeric: true });
const FIRST_ROWS = 120;
const STEP_ROWS = 300;

export const UnitBoardScreen = feedScreen(WATCH_UNITS, T.title, Board);

function Board() {
  const t = useText(T);
  const lang = useLang();
  const feed = units();
  const version = useThrottledLive(feed);
  const incidentFeed = feedIfPermitted(WATCH_INCIDENTS);
  useThrottledLive(incidentFeed, 1000);
  const directory = useDirectory();
  const [agency, setAgency] = useState("");
  const [station, setStation] = useState("");
  const [type, setType] = useState("");
  const [status, setStatusFilter] = useState("");
  const [query, setQuery] = useState("");
  const [staleOnly, setStaleOnly] = useState(false);
  const [groupBy, setGroupBy] = useState<GroupBy>("agency");
  const [result, setResult] = useState<ActionResult | null>(null);
  const canAct = may("UnitAssignmentService/SetUnitStatus");
  // Fixes age without events: stale flags are re-read every half minute (rows whose flag flips re-render).
  const staleClock = useNow(30_000);

  const all = useMemo(
    () => [...feed.items.values()].sort((a, b) => collator.compare(a.callSign, b.callSign)),
    [version, feed.items],
  );
  const rows = useMemo(() => {
    const q = query.trim().toUpperCase();
    return all.filter(
      (u) =>
        (agency === "" || u.agency === agency) &&
        (station === "" || u.homeStation === station) &&
        (type === "" || UnitType[u.unitType] === type) &&
        (status === "" || UnitStatus[u.status] === status) &&
        (!staleOnly || isStale(u, staleClock)) &&
        (q === "" || u.callSign.toUpperCase().includes(q)),
    );
  }, [all, agency, station, type, status, query, staleOnly, staleClock]);

  const groups = useMemo(() => {
    const out = new Map<string, Unit[]>();
    for (const u of rows) {
      const key =
        groupBy === "agency"
          ? u.agency
          : groupBy === "station"
            ? u.homeStation
            : groupBy === "type"
              ? UnitType[u.unitType]
              : groupBy === "status"
                ? UnitStatus[u.status]
                : "";
      let list = out.get(key);
      if (list === undefined) out.set(key, (list = []));
      list.push(u);
    }
    const label = (key: string) =>
      groupBy === "agency"
        ? `${agencyCode(directory, key)} · ${directory.agencies.get(key)?.displayName ?? ""}`
        : groupBy === "station"
          ? `${agencyCode(directory, directory.stations.get(key)?.agency ?? "")} · ${stationLabel(directory, key)}`
          : groupBy === "type"
            ? unitTypeLabel(UnitType[key as keyof typeof UnitType] as UnitType, lang)
            : groupBy === "status"
              ? unitStatusLabel(UnitStatus[key as keyof typeof UnitStatus] as UnitStatus, lang)
              : "";
    // Statuses keep their lifecycle order; the rest sort by name.
    const order = (key: string) => (groupBy === "status" ? STATUSES.indexOf(UnitStatus[key as keyof typeof UnitStatus] as UnitStatus) : 0);
    return [...out.entries()]
      .map(([key, list]) => ({ key, label: label(key), list }))
      .sort((a, b) => order(a.key) - order(b.key) || a.label.localeCompare(b.label));
  }, [rows, groupBy, directory, lang]);

  const agencies = useMemo(() => [...directory.agencies.values()].sort((a, b) => a.code.localeCompare(b.code)), [directory]);
  const stations = useMemo(
    () =>
      [...directory.stations.values()]
        .filter((s) => agency === "" || s.agency === agency)
        .sort((a, b) => a.displayName.localeCompare(b.displayName)),
    [directory, agency],
  );

  const snapshotIn = useSnapshotIn(feed, "units");

  // 1,311 rows at once would hold the page for a third of a second: the first rows render at
  // once, the rest in steps between frames (the board answers input meanwhile).
  // A new filter or grouping starts over from the first rows.
  const filterKey = [agency, station, type, status, query, staleOnly, groupBy].join("|");
  const [progress, setProgress] = useState({ key: filterKey, limit: FIRST_ROWS });
  const limit = progress.key === filterKey ? progress.limit : FIRST_ROWS;
  useEffect(() => {
    if (limit >= rows.length) return;
    const timer = setTimeout(() => setProgress({ key: filterKey, limit: limit + STEP_ROWS }), 0);
    return () => clearTimeout(timer);
  }, [limit, rows.length, filterKey]);
  let budget = limit;
  const shown = groups.map((g) => {
    const list = g.list.slice(0, Math.max(0, budget));
    budget -= list.length;
    return list;
  });

  const available = useMemo(() => rows.filter((u) => u.status === UnitStatus.AVAILABLE).length, [rows]);
  const stale = useMemo(() => rows.filter((u) => isStale(u, staleClock)).length, [rows, staleClock]);
  const folioOf = (name: string) => (name === "" ? "" : (incidentFeed?.items.get(name)?.folio ?? name));

  return (
    <section class="dsp-screen" aria-labelledby="units-title" data-testid="unit-board-screen">
      <div class="dsp-toolbar">
        <h1 id="units-title">
          {t.title}{" "}
          <span class="dsp-count" data-testid="unit-count">
            {rows.length === all.length ? all.length : `${rows.length} ${t.shown} ${all.length}`} {t.units} · {available} {t.available}
            {stale > 0 && (
              <span class="stale" data-testid="unit-stale-count">
                {" "}
                · {stale} {t.staleCount}
              </span>
            )}
          </span>
        </h1>
      </div>
      <CommandBar units={feed.items} result={result} onResult={setResult} />
      <div class="dsp-toolbar" role="group" aria-label={t.title}>
        <FilterSelect
          label={t.agency}
          testid="unit-filter-agency"
          value={agency}
          all={t.allAgencies}
          choices={agencies.map((a) => ({ value: a.name, label: `${a.code} · ${a.displayName}` }))}
          onChange={(value) => {
            setAgency(value);
            setStation("");
          }}
        />
        <FilterSelect
          label={t.station}
          testid="unit-filter-station"
          value={station}
          all={t.allStations}
          choices={stations.map((s) => ({ value: s.name, label: s.displayName || s.code }))}
          onChange={setStation}
        />
        <FilterSelect
          label={t.type}
          testid="unit-filter-type"
          value={type}
          all={t.allTypes}
          choices={TYPES.map((ty) => ({ value: UnitType[ty], label: unitTypeLabel(ty) }))}
          onChange={setType}
        />
        <FilterSelect
          label={t.status}
          testid="unit-filter-status"
          value={status}
          all={t.allStatuses}
          choices={STATUSES.map((s) => ({ value: UnitStatus[s], label: unitStatusLabel(s) }))}
          onChange={setStatusFilter}
        />
        <SearchBox label={t.search} testid="unit-filter-text" value={query} onInput={setQuery} />
        <label class="dsp-inline">
          <input type="checkbox" data-testid="unit-filter-stale" checked={staleOnly} onChange={(e) => setStaleOnly(e.currentTarget.checked)} />
          {t.staleOnly}
        </label>
        <label class="dsp-inline">
          {t.groupBy}
          <select data-testid="unit-group-by" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as GroupBy)}>
            <option value="agency">{t.agency}</option>
            <option value="station">{t.station}</option>
            <option value="type">{t.type}</option>
            <option value="status">{t.status}</option>
            <option value="none">{t.none}</option>
          </select>
        </label>
      </div>
      {!snapshotIn && <p class="hint">{t.loading}</p>}
      {snapshotIn && rows.length === 0 && <p class="hint">{t.noneMatch}</p>}
      <div class="dsp-table-wrap" data-testid="unit-board" role="region" aria-label={t.title}>
        {/* One header table, then each group in chunks of rows: a chunk off screen is neither laid
            out nor painted (content-visibility), so live changes cost only what is visible. The
            tables share fixed column widths so their columns line up. */}
        <table class="dsp-table unit-table ub-head" aria-hidden="true">
          <Cols canAct={canAct} />
          <thead>
            <HeadRow t={t} canAct={canAct} />
          </thead>
        </table>
        {groups.map((g, gi) => (
          <section key={g.key} class="ub-block" data-testid="unit-group" data-group={g.key} aria-label={g.label}>
            {groupBy !== "none" && (
              <h2 class="ub-group-title">
                {g.label}
                <span>
                  {g.list.length} {t.units} · {g.list.filter((u) => u.status === UnitStatus.AVAILABLE).length} {t.available}
                </span>
              </h2>
            )}
            {chunks(shown[gi]).map((chunk, ci) => (
              <div key={ci} class="ub-chunk" style={{ containIntrinsicSize: `auto ${chunk.length * ROW_PX}px` }}>
                <table class="dsp-table unit-table">
                  <Cols canAct={canAct} />
                  <thead class="sr-only">
                    <HeadRow t={t} canAct={canAct} />
                  </thead>
                  <tbody>
                    {chunk.map((u) => (
                      <UnitRow
                        key={u.name}
                        unit={u}
                        directory={directory}
                        lang={lang}
                        folio={folioOf(u.currentIncident)}
                        stale={isStale(u, staleClock)}
                        canAct={canAct}
                        onResult={setResult}
                      />
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
          </section>
        ))}
      </div>
    </section>
  );
}

const CHUNK = 40;
/** A row's usual height, for the size a chunk not yet rendered is taken to have. */
const ROW_PX = 29;

function chunks<X>(list: X[]): X[][] {
  const out: X[][] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
}

const COLUMNS = ["c-callsign", "c-type", "c-agency", "c-station", "c-status", "c-since", "c-incident", "c-position"];

function Cols({ canAct }: { canAct: boolean }) {
  return <ColGroup classes={canAct ? [...COLUMNS, "c-actions"] : COLUMNS} />;
}

function HeadRow({ t, canAct }: { t: Record<keyof typeof T, string>; canAct: boolean }) {
  return (
    <HeadCells
      columns={[t.callSign, t.type, t.agency, t.station, t.status, t.since, t.incident, t.position, ...(canAct ? [t.actions] : [])]}
    />
  );
}

const ROW_T = {
  stale: T.stale,
  noFix: T.noFix,
};

const UnitRow = memo(function UnitRow({
  unit,
  directory,
  lang,
  folio,
  stale,
  canAct,
  onResult,
}: {
  unit: Unit;
  directory: Directory;
  lang: Lang;
  folio: string;
  stale: boolean;
  canAct: boolean;
  onResult: (r: ActionResult) => void;
}) {
  const [busy, setBusy] = useState(false);
  const statusName = UnitStatus[unit.status] ?? "UNSPECIFIED";
  const pos = unit.position;
  const fix = toDate(pos?.fixTime);
  const act = async (target: UnitStatus) => {
    setBusy(true);
    onResult(await setStatus(unit, target));
    setBusy(false);
  };
  return (
    <tr data-testid="unit-row" data-unit={unit.name} data-callsign={unit.callSign} data-status={statusName} data-stale={stale ? "true" : "false"}>
      <td title={unit.callSign}>
        <strong class="mono">{unit.callSign}</strong>
      </td>
      <td>{unitTypeLabel(unit.unitType, lang)}</td>
      <td>{agencyCode(directory, unit.agency)}</td>
      <td class="dsp-ellipsis">{stationLabel(directory, unit.homeStation)}</td>
      <td>
        <StatusBadge tone={unitStatusClass(unit.status)} testid="unit-status" label={unitStatusLabel(unit.status, lang)} />
      </td>
      <td class="mono">{clock(toDate(unit.statusTime))}</td>
      <td>
        {unit.currentIncident !== "" && (
          <a href={`#/incidents/${idOf(unit.currentIncident)}`} class="mono" data-testid="unit-incident">
            {folio.startsWith("incidents/") ? `…${idOf(folio).slice(-6)}` : folio}
          </a>
        )}
      </td>
      <td>
        {pos === undefined ? (
          <span class="stale-flag" data-testid="unit-stale">
            {ROW_T.noFix[lang]}
          </span>
        ) : stale ? (
          <span class="stale-flag" data-testid="unit-stale" title={`${pos.point?.latitude.toFixed(5)}, ${pos.point?.longitude.toFixed(5)}`}>
            {ROW_T.stale[lang]} · {clock(fix).slice(0, 5)}
          </span>
        ) : (
          <span class="hint mono" title={`${pos.point?.latitude.toFixed(5)}, ${pos.point?.longitude.toFixed(5)}`}>
            {clock(fix)}
          </span>
        )}
      </td>
      {canAct && (
        <td>
          <div class="unit-actions">
            {unitNextStatuses(unit.status).map((target) => (
              <button
                key={target}
                type="button"
                data-testid="unit-status-action"
                data-status={UnitStatus[target]}
                disabled={busy}
                onClick={() => void act(target)}
              >
                {unitStatusLabel(target, lang)}
              </button>
            ))}
          </div>
        </td>
      )}
    </tr>
  );
});
