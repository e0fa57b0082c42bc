// The directory the dispatcher's screens name things from (agencies, stations, cameras, the
// incident type catalogue), read once per signed-in tab and kept: it changes rarely and every
// screen reads it by name. Each list is read only when the role may (may(...)); otherwise empty.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { currentSession, may } from "../session";
import type { Agency, Camera, Station } from "../gen/dispatch/v1/directory_pb";
import type { IncidentType } from "../gen/dispatch/v1/incident_type_pb";
import { AssignmentStatus, type Incident } from "../gen/dispatch/v1/incident_pb";
import { UnitStatus, type Unit } from "../gen/dispatch/v1/unit_pb";

export interface Directory {
  agencies: Map<string, Agency>;
  stations: Map<string, Station>;
  /** By code ("MED-FALL"). */
  types: Map<string, IncidentType>;
}

const EMPTY: Directory = { agencies: new Map(), stations: new Map(), types: new Map() };

/** Reads every page of a list RPC. */
export async function allPages<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let token = "";
  for (let guard = 0; guard < 200; guard++) {
    const { items, next } = await page(token);
    out.push(...items);
    if (next === "") break;
    token = next;
  }
  return out;
}

/**
 * A cache that belongs to whoever is signed in: emptied when another principal signs in in this
 * tab (what one role may read is never served to the next).
 */
export function principalCache<K, V>(): () => Map<K, V> {
  let owner: string | null = null;
  const map = new Map<K, V>();
  return () => {
    const now = currentSession()?.principal.name ?? null;
    if (now !== owner) {
      map.clear();
      owner = now;
    }
    return map;
  };
}

let loaded: Directory | null = null;
let loading: Promise<Directory> | null = null;
let loadedFor: string | null = null;

/** Forgets the directory and cameras when the principal changed. */
function checkOwner(): void {
  const now = currentSession()?.principal.name ?? null;
  if (now === loadedFor) return;
  loadedFor = now;
  loaded = null;
  loading = null;
  cameras = null;
}
const listeners = new Set<(d: Directory) => void>();

async function load(): Promise<Directory> {
  const [agencies, stations, types] = await Promise.all([
    may("DirectoryService/ListAgencies")
      ? allPages(async (pageToken) => {
          const r = await api.directory.listAgencies({ pageSize: 500, pageToken });
          return { items: r.agencies, next: r.nextPageToken };
        })
      : Promise.resolve([] as Agency[]),
    may("DirectoryService/ListStations")
      ? allPages(async (pageToken) => {
          const r = await api.directory.listStations({ pageSize: 500, pageToken });
          return { items: r.stations, next: r.nextPageToken };
        })
      : Promise.resolve([] as Station[]),
    may("IncidentTriageService/ListIncidentTypes")
      ? allPages(async (pageToken) => {
          const r = await api.triage.listIncidentTypes({ pageSize: 500, pageToken });
          return { items: r.incidentTypes, next: r.nextPageToken };
        })
      : Promise.resolve([] as IncidentType[]),
  ]);
  return {
    agencies: new Map(agencies.map((a) => [a.name, a])),
    stations: new Map(stations.map((s) => [s.name, s])),
    types: new Map(types.map((t) => [t.code, t])),
  };
}

function ensure(): void {
  checkOwner();
  if (loaded !== null || loading !== null) return;
  loading = load()
    .then((d) => {
      loaded = d;
      for (const l of listeners) l(d);
      return d;
    })
    .catch((error) => {
      // Shown as empty names; the screens still work by resource name. Try again next time.
      console.warn("directory not read", error);
      loading = null;
      return EMPTY;
    });
}

/** The directory, empty until read (re-renders when it arrives). */
export function useDirectory(): Directory {
  checkOwner();
  const [value, set] = useState<Directory>(loaded ?? EMPTY);
  useEffect(() => {
    listeners.add(set);
    ensure();
    if (loaded !== null) set(loaded);
    return () => void listeners.delete(set);
  }, []);
  return value;
}

let cameras: Promise<Camera[]> | null = null;

/** Every active camera, panic button and plate reader (read once). */
export function allCameras(): Promise<Camera[]> {
  checkOwner();
  if (cameras === null) {
    cameras = allPages(async (pageToken) => {
      const r = await api.directory.listCameras({ pageSize: 500, pageToken });
      return { items: r.cameras, next: r.nextPageToken };
    }).catch((error) => {
      cameras = null;
      throw error;
    });
  }
  return cameras;
}

/** "SSC" for "agencies/…", or the name when unknown. */
export function agencyCode(directory: Directory, name: string): string {
  return directory.agencies.get(name)?.code ?? (name === "" ? "—" : name.slice(0, 17));
}

export function stationLabel(directory: Directory, name: string): string {
  if (name === "") return "—";
  const s = directory.stations.get(name);
  return s === undefined ? name.slice(0, 17) : s.displayName || s.code;
}

export function typeLabel(directory: Directory, code: string): string {
  if (code === "") return "—";
  return directory.types.get(code)?.displayName ?? code;
}

/** Where an incident is, in a few words. */
export function whereOf(incident: Incident): string {
  const loc = incident.location;
  if (loc === undefined) return "—";
  if (loc.civicAddress !== "") return loc.civicAddress;
  const p = loc.point;
  return p === undefined ? "—" : `${p.latitude.toFixed(4)}, ${p.longitude.toFixed(4)}`;
}

/**
 * An incident named by what a dispatcher types: its folio ("INC/261203/00042", or just
 * "00042" / "42" for today's), its name ("incidents/<uuid>") or its uuid. Looked up among the
 * open incidents of the live feed; a name or uuid is taken as given.
 */
export function resolveIncident(text: string, open: Map<string, Incident>): string | null {
  const raw = text.trim();
  if (raw === "") return null;
  if (raw.startsWith("incidents/")) return raw;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) return `incidents/${raw.toLowerCase()}`;
  const folio = raw.toUpperCase();
  let best: Incident | null = null;
  for (const incident of open.values()) {
    if (incident.folio === folio) return incident.name;
    if (/^\d{1,5}$/.test(folio)) {
      const suffix = `/${folio.padStart(5, "0")}`;
      if (incident.folio.endsWith(suffix) && (best === null || incident.folio > best.folio)) best = incident;
    }
  }
  return best?.name ?? null;
}

/** The units assigned and still working on an incident. */
export function activeAssignments(incident: Incident) {
  return incident.assignments.filter(
    (a) =>
      a.status !== AssignmentStatus.CLEARED && a.status !== AssignmentStatus.RELEASED && a.status !== AssignmentStatus.UNSPECIFIED,
  );
}

/** A unit found by call sign (case-insensitive). */
export function unitByCallSign(units: Map<string, Unit>, callSign: string): Unit | null {
  const want = callSign.trim().toUpperCase();
  for (const unit of units.values()) if (unit.callSign.toUpperCase() === want) return unit;
  return null;
}

/**
 * The status changes a dispatcher makes in one action from a unit's status (the state machine of
 * unit.proto: forward along the assignment, clear to AVAILABLE from any committed status,
 * AVAILABLE <-> OUT_OF_SERVICE). DISPATCHED is never a target: AssignUnits makes it.
 */
export function unitNextStatuses(status: UnitStatus): UnitStatus[] {
  switch (status) {
    case UnitStatus.AVAILABLE:
      return [UnitStatus.OUT_OF_SERVICE];
    case UnitStatus.OUT_OF_SERVICE:
      return [UnitStatus.AVAILABLE];
    case UnitStatus.DISPATCHED:
      return [UnitStatus.EN_ROUTE, UnitStatus.AVAILABLE];
    case UnitStatus.EN_ROUTE:
      return [UnitStatus.ON_SCENE, UnitStatus.AVAILABLE];
    case UnitStatus.ON_SCENE:
      return [UnitStatus.TRANSPORTING, UnitStatus.AVAILABLE];
    case UnitStatus.TRANSPORTING:
      return [UnitStatus.AT_HOSPITAL, UnitStatus.AVAILABLE];
    case UnitStatus.AT_HOSPITAL:
      return [UnitStatus.AVAILABLE];
    default:
      return [];
  }
}

/**
 * The server's stale age for unit positions by default (UnitPosition.stale: 30 minutes). The
 * server computes `stale` when it reads a unit, and a feed sends a unit again only when it
 * changes: a unit that stops reporting turns stale on the board by this clock too.
 */
export const STALE_MS = 30 * 60 * 1000;

/** No position, the server called it stale, or its fix has grown older than the stale age since. */
export function isStale(unit: Unit, now: number): boolean {
  const pos = unit.position;
  if (pos === undefined) return true;
  if (pos.stale) return true;
  const fix = pos.fixTime;
  return fix !== undefined && now - (Number(fix.seconds) * 1000 + Math.floor(fix.nanos / 1e6)) > STALE_MS;
}
