// The map: incidents, units (available, busy, stale, out of service), cameras and stations on
// a plain background with a scale, no tiles (a centre's network fetches none). Units, cameras
// and stations are drawn on one canvas (1,311 units stay fast); incidents are HTML markers
// that take the keyboard focus and open their page. Labels are tooltips (no glyph files).
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as L from "leaflet";
import { api, refusal, type Refusal } from "../api";
import { feedIfPermitted, WATCH_INCIDENTS, WATCH_UNITS } from "../feeds";
import type { LiveCollection } from "../live";
import { useThrottledLive } from "./dispatch-live";
import { may } from "../session";
import { currentLang, useText } from "../i18n";
import { idOf } from "../format";
import { DEVICE_KINDS, incidentStatusLabel, labelOf, unitStatusLabel, unitTypeLabel } from "../labels";
import { navigate } from "../route";
import { RefusalView, useNow } from "../widgets";
import { UnitStatus, type Unit, type UnitEvent } from "../gen/dispatch/v1/unit_pb";
import type { Incident, IncidentEvent } from "../gen/dispatch/v1/incident_pb";
import type { Camera, Station } from "../gen/dispatch/v1/directory_pb";
import { DeviceKind } from "../gen/dispatch/v1/directory_pb";
import { followSize } from "./calltaker-map";
import { allCameras, allPages, isStale, typeLabel, useDirectory, whereOf, type Directory } from "./dispatch-directory";
import "./dispatch.css";

const T = {
  title: { es: "Mapa", en: "Map" },
  legend: { es: "Leyenda", en: "Legend" },
  incidents: { es: "Incidentes", en: "Incidents" },
  byPriority: { es: "prioridad ≥8 · 5–7 · <5", en: "priority ≥8 · 5–7 · <5" },
  available: { es: "Unidad disponible", en: "Unit available" },
  busy: { es: "Unidad ocupada", en: "Unit busy" },
  stale: { es: "Unidad con posición vieja", en: "Unit with a stale fix" },
  oos: { es: "Unidad fuera de servicio", en: "Unit out of service" },
  cameras: { es: "Cámaras y botones", en: "Cameras and buttons" },
  stations: { es: "Bases", en: "Stations" },
  fit: { es: "Ver todo", en: "Fit all" },
  priority: { es: "prioridad", en: "priority" },
  open: { es: "Intro o clic: abrir", en: "Enter or click: open" },
  baseLayer: {
    es: "Mapa base: las calles del centro (DISPATCH_MAP_GEOJSON), sin servidor de mosaicos.",
    en: "Base map: the centre's own roads (DISPATCH_MAP_GEOJSON), no tile server.",
  },
  noTiles: {
    es: "Sin mapa base: fondo liso con escala (la red del centro no descarga mosaicos).",
    en: "No base map: plain background with a scale (the centre's network fetches no tiles).",
  },
  station: { es: "Base", en: "Station" },
  stalePos: { es: "posición vieja", en: "stale fix" },
};

type UnitClass = "available" | "busy" | "stale" | "oos";

function unitClass(u: Unit, now: number): UnitClass {
  if (isStale(u, now)) return "stale";
  if (u.status === UnitStatus.AVAILABLE) return "available";
  if (u.status === UnitStatus.OUT_OF_SERVICE) return "oos";
  return "busy";
}

const UNIT_STYLE: Record<UnitClass, L.CircleMarkerOptions> = {
  available: { radius: 5, color: "#0b3d22", weight: 1, fillColor: "#3ddc84", fillOpacity: 0.95, dashArray: undefined },
  busy: { radius: 6, color: "#4d3300", weight: 1.5, fillColor: "#ffb020", fillOpacity: 0.95, dashArray: undefined },
  stale: { radius: 5, color: "#c7d0d9", weight: 1.5, fillColor: "#6b7785", fillOpacity: 0.8, dashArray: "2 2" },
  oos: { radius: 4, color: "#6b7785", weight: 1, fillColor: "#39424c", fillOpacity: 0.9, dashArray: undefined },
};

function priorityLevel(p: number): string {
  return p >= 8 ? "p-high" : p >= 5 ? "p-mid" : "p-low";
}

export function MapScreen() {
  return <MapView unitFeed={feedIfPermitted(WATCH_UNITS)} incidentFeed={feedIfPermitted(WATCH_INCIDENTS)} />;
}

function MapView({
  unitFeed,
  incidentFeed,
}: {
  unitFeed: LiveCollection<Unit, UnitEvent> | null;
  incidentFeed: LiveCollection<Incident, IncidentEvent> | null;
}) {
  const t = useText(T);
  const directory = useDirectory();
  const host = useRef<HTMLDivElement>(null);
  const [baseLoaded, setBaseLoaded] = useState(false);
  const map = useRef<L.Map | null>(null);
  const layers = useRef<{
    renderer: L.Canvas;
    stations: L.LayerGroup;
    cameras: L.LayerGroup;
    units: L.LayerGroup;
    incidents: L.LayerGroup;
  } | null>(null);
  const unitMarkers = useRef(new Map<string, { marker: L.CircleMarker; unit: Unit; cls: UnitClass }>());
  const incidentMarkers = useRef(new Map<string, { marker: L.Marker; incident: Incident }>());
  const fitted = useRef(false);
  const [listed, setListed] = useState<Map<string, Unit> | null>(null);
  const [cams, setCams] = useState<Camera[]>([]);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const [show, setShow] = useState<Layers>({ incidents: true, units: true, cameras: true, stations: true });
  const unitVersion = useThrottledLive(unitFeed, 500);
  // Fixes age without events: stale markers are re-judged every half minute.
  const staleClock = useNow(30_000);
  const incidentVersion = useThrottledLive(incidentFeed, 250);

  // The map itself, once.
  useEffect(() => {
    if (host.current === null) return;
    const renderer = L.canvas({ padding: 0.3 });
    const m = L.map(host.current, {
      preferCanvas: true,
      renderer,
      attributionControl: false,
      zoomSnap: 0.25,
      minZoom: 3,
      maxZoom: 19,
      center: [19.4326, -99.1332],
      zoom: 11,
    });
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(m);
    const groups = {
      renderer,
      stations: L.layerGroup().addTo(m),
      cameras: L.layerGroup().addTo(m),
      units: L.layerGroup().addTo(m),
      incidents: L.layerGroup().addTo(m),
    };
    layers.current = groups;
    map.current = m;
    void drawBaseLayer(m, renderer, () => map.current === m).then((drawn) => drawn && setBaseLoaded(true));
    const unfollow = followSize(m, host.current);
    return () => {
      unfollow();
      m.remove();
      map.current = null;
      layers.current = null;
      unitMarkers.current.clear();
      incidentMarkers.current.clear();
    };
  }, []);

  // Units for a role without the unit feed: listed once.
  useEffect(() => {
    if (unitFeed !== null) return;
    allPages(async (pageToken) => {
      const r = await api.units.listUnits({ pageSize: 500, pageToken });
      return { items: r.units, next: r.nextPageToken };
    })
      .then((list) => setListed(new Map(list.map((u) => [u.name, u]))))
      .catch((error) => setRefused(refusal(error)));
  }, [unitFeed]);

  useEffect(() => {
    if (!may("DirectoryService/ListCameras")) return;
    allCameras()
      .then(setCams)
      .catch((error) => setRefused(refusal(error)));
  }, []);

  const unitItems = unitFeed?.items ?? listed ?? new Map<string, Unit>();

  // Stations.
  useEffect(() => {
    const g = layers.current;
    if (g === null) return;
    g.stations.clearLayers();
    for (const s of directory.stations.values()) {
      const p = s.location;
      if (p === undefined) continue;
      L.circleMarker([p.latitude, p.longitude], {
        renderer: g.renderer,
        radius: 6,
        color: "#e8edf2",
        weight: 2,
        fillColor: "#1b2530",
        fillOpacity: 1,
      })
        .bindTooltip(() => stationTip(directory, s))
        .addTo(g.stations);
    }
    fit();
  }, [directory]);

  // Cameras.
  useEffect(() => {
    const g = layers.current;
    if (g === null) return;
    g.cameras.clearLayers();
    for (const c of cams) {
      const p = c.location;
      if (p === undefined || !c.active) continue;
      L.circleMarker([p.latitude, p.longitude], {
        renderer: g.renderer,
        radius: 3,
        color: "#1b2530",
        weight: 1,
        fillColor: "#8ab4ff",
        fillOpacity: 0.9,
      })
        .bindTooltip(() => cameraTip(c))
        .addTo(g.cameras);
    }
  }, [cams]);

  // Units: only changed units are touched.
  useEffect(() => {
    const g = layers.current;
    if (g === null) return;
    const markers = unitMarkers.current;
    dropMarkersNotIn(markers, unitItems);
    for (const unit of unitItems.values()) {
      const p = unit.position?.point;
      const entry = markers.get(unit.name);
      if (p === undefined) {
        if (entry !== undefined) {
          entry.marker.remove();
          markers.delete(unit.name);
        }
        continue;
      }
      if (entry === undefined) {
        const cls = unitClass(unit, staleClock);
        const marker = L.circleMarker([p.latitude, p.longitude], { renderer: g.renderer, ...UNIT_STYLE[cls] });
        const record = { marker, unit, cls };
        marker.bindTooltip(() => unitTip(directory, record.unit));
        marker.addTo(g.units);
        markers.set(unit.name, record);
      } else if (entry.unit !== unit || entry.cls !== unitClass(unit, staleClock)) {
        const before = entry.unit;
        entry.unit = unit;
        const q = before.position?.point;
        if (q === undefined || q.latitude !== p.latitude || q.longitude !== p.longitude) entry.marker.setLatLng([p.latitude, p.longitude]);
        const was = entry.cls;
        entry.cls = unitClass(unit, staleClock);
        if (was !== entry.cls) entry.marker.setStyle(UNIT_STYLE[entry.cls]);
      }
    }
    fit();
  }, [unitVersion, listed, staleClock]);

  // Incidents: HTML markers, focusable, open their page.
  useEffect(() => {
    const g = layers.current;
    if (g === null || incidentFeed === null) return;
    const markers = incidentMarkers.current;
    const items = incidentFeed.items;
    dropMarkersNotIn(markers, items);
    for (const incident of items.values()) {
      const p = incident.location?.point;
      const entry = markers.get(incident.name);
      if (p === undefined) continue;
      if (entry === undefined) {
        const marker = L.marker([p.latitude, p.longitude], {
          icon: incidentIcon(incident),
          keyboard: true,
          title: incident.folio,
          riseOnHover: true,
        });
        const record = { marker, incident };
        marker.bindTooltip(() => incidentTip(directory, record.incident), { direction: "top", offset: [0, -6] });
        const open = () => navigate("incidents", idOf(record.incident.name));
        marker.on("click", open);
        marker.on("keypress", (e) => {
          const key = (e as L.LeafletKeyboardEvent).originalEvent;
          if (key.key === "Enter" || key.key === " ") open();
        });
        marker.addTo(g.incidents);
        markers.set(incident.name, record);
      } else if (entry.incident !== incident) {
        const before = entry.incident;
        entry.incident = incident;
        const q = before.location?.point;
        if (q === undefined || q.latitude !== p.latitude || q.longitude !== p.longitude) entry.marker.setLatLng([p.latitude, p.longitude]);
        if (before.priority !== incident.priority || before.status !== incident.status) entry.marker.setIcon(incidentIcon(incident));
      }
    }
  }, [incidentVersion]);

  // Layer toggles.
  useEffect(() => {
    const m = map.current;
    const g = layers.current;
    if (m === null || g === null) return;
    for (const key of ["incidents", "units", "cameras", "stations"] as const) {
      if (show[key] && !m.hasLayer(g[key])) g[key].addTo(m);
      if (!show[key] && m.hasLayer(g[key])) g[key].remove();
    }
  }, [show]);

  /** Fits the view to everything once, when the first data arrives. */
  function fit(force = false) {
    const m = map.current;
    if (m === null || (fitted.current && !force)) return;
    const points: L.LatLngExpression[] = [];
    for (const s of directory.stations.values()) if (s.location !== undefined) points.push([s.location.latitude, s.location.longitude]);
    for (const { unit } of unitMarkers.current.values()) {
      const p = unit.position?.point;
      if (p !== undefined) points.push([p.latitude, p.longitude]);
    }
    for (const { incident } of incidentMarkers.current.values()) {
      const p = incident.location?.point;
      if (p !== undefined) points.push([p.latitude, p.longitude]);
    }
    if (points.length < 2) return;
    m.fitBounds(L.latLngBounds(points), { padding: [20, 20] });
    fitted.current = true;
  }

  const counts = useMemo(() => {
    const c: Record<UnitClass, number> = { available: 0, busy: 0, stale: 0, oos: 0 };
    for (const u of unitItems.values()) if (u.position !== undefined) c[unitClass(u, staleClock)]++;
    return c;
  }, [unitVersion, listed, staleClock]);
  const incidentCount = incidentFeed?.items.size ?? 0;
  const toggle = (key: keyof typeof show) => setShow((s) => ({ ...s, [key]: !s[key] }));

  return (
    <section class="dsp-screen" aria-label={t.title} data-testid="map-screen">
      {refused !== null && <RefusalView refusal={refused} />}
      <div class="map-wrap">
        <div ref={host} data-testid="map" style={{ position: "absolute", inset: 0 }} />
        <div class="map-legend" data-testid="map-legend" role="group" aria-label={t.legend}>
          <ul>
            <LayerToggle layer="incidents" show={show} onToggle={toggle}>
              <Swatch kind="sw-incident" label={t.incidents} count={incidentCount} />
            </LayerToggle>
            <li class="legend-indent">
              <span class="sw sw-incident" aria-hidden="true" />
              <span class="sw sw-incident p-mid" aria-hidden="true" />
              <span class="sw sw-incident p-low" aria-hidden="true" /> {t.byPriority}
            </li>
            <LayerToggle layer="units" show={show} onToggle={toggle}>
              <Swatch kind="sw-available" label={t.available} count={counts.available} />
            </LayerToggle>
            <li class="legend-indent">
              <Swatch kind="sw-busy" label={t.busy} count={counts.busy} />
            </li>
            <li class="legend-indent">
              <Swatch kind="sw-stale" label={t.stale} count={counts.stale} />
            </li>
            <li class="legend-indent">
              <Swatch kind="sw-oos" label={t.oos} count={counts.oos} />
            </li>
            <LayerToggle layer="cameras" show={show} onToggle={toggle}>
              <Swatch kind="sw-camera" label={t.cameras} count={cams.length} />
            </LayerToggle>
            <LayerToggle layer="stations" show={show} onToggle={toggle}>
              <Swatch kind="sw-station" label={t.stations} count={directory.stations.size} />
            </LayerToggle>
            <li>
              <button type="button" data-testid="map-fit" onClick={() => fit(true)}>
                {t.fit}
              </button>
            </li>
          </ul>
          <p class="hint">{t.open}</p>
        </div>
      </div>
      <p class="hint" data-testid="map-base" data-loaded={baseLoaded ? "true" : "false"}>
        {baseLoaded ? t.baseLayer : t.noTiles}
      </p>
    </section>
  );
}

type Layers = { incidents: boolean; units: boolean; cameras: boolean; stations: boolean };

/** A legend line with its checkbox, which shows or hides the layer. */
function LayerToggle(props: { layer: keyof Layers; show: Layers; onToggle: (layer: keyof Layers) => void; children: ComponentChildren }) {
  return (
    <li>
      <label>
        <input type="checkbox" data-testid={`map-layer-${props.layer}`} checked={props.show[props.layer]} onChange={() => props.onToggle(props.layer)} />
        {props.children}
      </label>
    </li>
  );
}

/** A legend line: the marker's swatch, what it stands for, how many are on the map. */
function Swatch({ kind, label, count }: { kind: string; label: string; count: number }) {
  return (
    <>
      <span class={`sw ${kind}`} aria-hidden="true" /> {label} ({count})
    </>
  );
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The centre's own base layer (its roads), when dispatchd has one: drawn once, under everything,
 * on `renderer`, if `wanted()` still holds when it arrives. None configured (404) leaves the
 * plain background. Whether it was drawn.
 */
export async function drawBaseLayer(m: L.Map, renderer: L.Renderer, wanted: () => boolean): Promise<boolean> {
  try {
    const response = await fetch("map/base.geojson");
    if (!response.ok) return false;
    const layer = (await response.json()) as GeoJSON.FeatureCollection;
    if (!wanted()) return false;
    L.geoJSON(layer, {
      interactive: false,
      style: (feature) => ({ ...baseLayerStyle(feature?.properties?.highway), renderer }),
    })
      .addTo(m)
      .bringToBack();
    return true;
  } catch {
    return false;
  }
}

/** Major roads wider and lighter than streets; all of them quiet behind the markers. */
function baseLayerStyle(highway: unknown): L.PathOptions {
  const major = typeof highway === "string" && /^(motorway|trunk|primary|secondary)/.test(highway);
  return { color: major ? "#5b6b7c" : "#3a4654", weight: major ? 2.5 : 1.2, opacity: 0.9 };
}

function incidentIcon(incident: Incident): L.DivIcon {
  return L.divIcon({
    className: "map-inc-icon",
    html: `<div class="map-inc ${priorityLevel(incident.priority)}" data-testid="map-incident" data-incident="${esc(incident.name)}" data-priority="${incident.priority}"></div>`,
    iconSize: [12, 12],
    iconAnchor: [6, 6],
  });
}

function incidentTip(directory: Directory, incident: Incident): string {
  const lang = currentLang();
  return `<strong>${esc(incident.folio)}</strong> · ${esc(incidentStatusLabel(incident.status))} · ${T.priority[lang]} ${incident.priority}<br>${esc(
    typeLabel(directory, incident.incidentType),
  )}<br>${esc(whereOf(incident))}`;
}

function unitTip(directory: Directory, unit: Unit): string {
  const lang = currentLang();
  const agency = directory.agencies.get(unit.agency)?.code ?? "";
  return `<strong>${esc(unit.callSign)}</strong> · ${esc(unitStatusLabel(unit.status))}${isStale(unit, Date.now()) ? ` · ${T.stalePos[lang]}` : ""}<br>${esc(
    unitTypeLabel(unit.unitType),
  )} ${esc(agency)}`;
}

function cameraTip(c: Camera): string {
  // A device of a kind this console does not know is drawn, and named, as a camera.
  const known = c.kind === DeviceKind.PANIC_BUTTON || c.kind === DeviceKind.PLATE_READER ? c.kind : DeviceKind.CAMERA;
  const kind = labelOf(DEVICE_KINDS, known);
  return `<strong>${esc(c.code)}</strong> · ${esc(kind)}${c.description !== "" ? `<br>${esc(c.description)}` : ""}`;
}

function stationTip(directory: Directory, s: Station): string {
  const lang = currentLang();
  const agency = directory.agencies.get(s.agency)?.code ?? "";
  return `<strong>${esc(s.displayName || s.code)}</strong> · ${T.station[lang]} ${esc(agency)}${s.address !== "" ? `<br>${esc(s.address)}` : ""}`;
}

/** Removes from the map, and forgets, the marker of every item no longer in `items`. */
function dropMarkersNotIn(markers: Map<string, { marker: L.Layer }>, items: ReadonlyMap<string, unknown>): void {
  for (const [name, entry] of markers) {
    if (!items.has(name)) {
      entry.marker.remove();
      markers.delete(name);
    }
  }
}
