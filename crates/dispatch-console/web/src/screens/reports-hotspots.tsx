// Hot spots (GetHotSpotReport): the period's incidents per H3 cell on the map (no tiles: the
// centre's own roads under them when dispatchd has them, as on the map screen), each cell shaded
// by its count with the previous period's count and the change in its tooltip; the hour-of-week
// counts as a 7×24 grid (a click filters by that hour); a filter by incident type.
import { useEffect, useRef, useState } from "preact/hooks";
import * as L from "leaflet";
import { api } from "../api";
import { useText } from "../i18n";
import { FilterSelect, HeadCells, RefusalView } from "../widgets";
import type { HotSpotCell } from "../gen/dispatch/v1/reporting_service_pb";
import { followSize } from "./calltaker-map";
import { drawBaseLayer } from "./map";
import { typeLabel, useDirectory } from "./dispatch-directory";
import { HourOfWeekGrid } from "./reports-chart";
import { change, count, periodKey, useReport } from "./reports-format";
import type { PeriodInit } from "./reports-period";

const T = {
  type: { es: "Tipo de incidente", en: "Incident type" },
  allTypes: { es: "Todos los tipos", en: "Every type" },
  resolution: { es: "Tamaño de celda", en: "Cell size" },
  total: { es: "Incidentes en el periodo", en: "Incidents in the period" },
  previous: { es: "periodo anterior", en: "previous period" },
  cells: { es: "celdas", en: "cells" },
  count: { es: "Incidentes", en: "Incidents" },
  before: { es: "Antes", en: "Before" },
  change: { es: "Cambio", en: "Change" },
  fresh: { es: "nuevo", en: "new" },
  cell: { es: "Celda H3", en: "H3 cell" },
  week: { es: "Incidentes por hora de la semana (clic: filtrar por esa hora)", en: "Incidents by hour of the week (click: filter by that hour)" },
  hourFilter: { es: "Sólo la hora", en: "Only the hour" },
  clearHour: { es: "Todas las horas", en: "Every hour" },
  types: { es: "Por tipo", en: "By type" },
  loading: { es: "Calculando…", en: "Computing…" },
  noCells: { es: "Ningún incidente con ubicación en el periodo.", en: "No located incident in the period." },
  mapLabel: { es: "Mapa de zonas calientes", en: "Hot-spot map" },
  shade: { es: "Incidentes por celda", en: "Incidents per cell" },
  days: { es: "Lun,Mar,Mié,Jue,Vie,Sáb,Dom", en: "Mon,Tue,Wed,Thu,Fri,Sat,Sun" },
};

/** H3 resolutions offered, with each cell's rough area. */
const RESOLUTIONS = [
  { value: "7", label: "7 · ~5 km²" },
  { value: "8", label: "8 · ~0.7 km²" },
  { value: "9", label: "9 · ~0.1 km²" },
];

export function HotSpotsTab({ period }: { period: PeriodInit }) {
  const t = useText(T);
  const directory = useDirectory();
  const [incidentType, setIncidentType] = useState("");
  const [hourOfWeek, setHourOfWeek] = useState<number | null>(null);
  const [resolution, setResolution] = useState("8");
  const report = useReport(`${periodKey(period)}|${incidentType}|${hourOfWeek}|${resolution}`, () =>
    api.reports.getHotSpotReport({
      period,
      incidentType,
      hourOfWeek: hourOfWeek ?? undefined,
      resolution: Number(resolution),
    }),
  );
  const data = report.data;
  const days = t.days.split(",");
  const typeChoices = (data?.types ?? []).map((x) => ({
    value: x.incidentType,
    label: `${typeLabel(directory, x.incidentType)} (${count(x.count)})`,
  }));
  if (incidentType !== "" && !typeChoices.some((c) => c.value === incidentType)) {
    typeChoices.push({ value: incidentType, label: typeLabel(directory, incidentType) });
  }
  const tip = (cell: HotSpotCell) =>
    `<strong>${count(cell.count)}</strong> ${t.count.toLowerCase()}<br>${t.before}: ${count(cell.previousCount)}<br>${t.change}: ${change(cell.change, t.fresh)}`;

  return (
    <div class="rp-tab" data-testid="rp-hotspots" data-busy={report.busy ? "true" : "false"}>
      <div class="dsp-toolbar">
        <FilterSelect label={t.type} testid="rp-hs-type" value={incidentType} all={t.allTypes} choices={typeChoices} onChange={setIncidentType} />
        <FilterSelect label={t.resolution} testid="rp-hs-resolution" value={resolution} choices={RESOLUTIONS} onChange={setResolution} />
        {hourOfWeek !== null && (
          <button type="button" data-testid="rp-hs-hour-clear" onClick={() => setHourOfWeek(null)}>
            {t.hourFilter} {days[Math.floor(hourOfWeek / 24)]} {String(hourOfWeek % 24).padStart(2, "0")}:00 · {t.clearHour}
          </button>
        )}
        {report.busy && <span class="hint">{t.loading}</span>}
        {data !== null && (
          <span class="hint" data-testid="rp-hs-total" data-total={String(data.total)} data-previous={String(data.previousTotal)}>
            {t.total}: <strong>{count(data.total)}</strong> ({t.previous}: {count(data.previousTotal)}) · {count(data.cells.length)} {t.cells}
          </span>
        )}
      </div>
      {report.refused !== null && <RefusalView refusal={report.refused} />}
      <div class="rp-hs-layout">
        <CellMap cells={data?.cells ?? []} tip={tip} label={t.mapLabel} legend={t.shade} />
        <div class="rp-hs-side">
          <h2>{t.week}</h2>
          <HourOfWeekGrid
            counts={(data?.hourOfWeekCounts ?? []).map(Number)}
            days={days}
            picked={hourOfWeek}
            onPick={setHourOfWeek}
            title={t.week}
          />
          {data !== null && data.cells.length === 0 && <p class="hint">{t.noCells}</p>}
          {data !== null && data.cells.length > 0 && (
            <div class="rp-hs-cells">
              <table class="dsp-table" data-testid="rp-hs-cells">
                <thead>
                  <HeadCells columns={[t.cell, { label: t.count, num: true }, { label: t.before, num: true }, { label: t.change, num: true }]} />
                </thead>
                <tbody>
                  {data.cells.slice(0, 15).map((c) => (
                    <tr key={c.cell} data-testid="rp-hs-row" data-cell={c.cell} data-count={String(c.count)}>
                      <td class="mono">{c.cell}</td>
                      <td class="num">{count(c.count)}</td>
                      <td class="num">{count(c.previousCount)}</td>
                      <td class="num">{change(c.change, t.fresh)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

/** How strong a cell of `n` incidents is drawn, 0.2..0.8, on a log scale up to the busiest. */
function strength(n: number, top: number): number {
  const k = top <= 1 ? 1 : Math.log(Math.max(n, 1)) / Math.log(top);
  return 0.2 + 0.6 * k;
}

/** Red, from faint (one incident) to strong (the busiest cell). */
function shade(n: number, top: number): L.PathOptions {
  return { color: "#ff8a8a", weight: 1, fillColor: "#ff3b3b", fillOpacity: strength(n, top) };
}

/** The legend's swatch of `n` incidents, as the map draws it over its background. */
function fill(n: number, top: number): string {
  return `rgba(255, 59, 59, ${strength(n, top)})`;
}

/** The map of cells: drawn as SVG paths (one per cell, each named by its H3 index). */
function CellMap(props: { cells: HotSpotCell[]; tip: (cell: HotSpotCell) => string; label: string; legend: string }) {
  const { cells } = props;
  // The tooltip is written when opened, in the language of the moment.
  const tip = useRef(props.tip);
  tip.current = props.tip;
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const [drawn, setDrawn] = useState(0);
  const [base, setBase] = useState(false);
  const top = Math.max(0, ...cells.map((c) => Number(c.count)));

  useEffect(() => {
    if (host.current === null) return;
    // No zoom or fade animations: the tab can be left (and the map removed) while one runs, and
    // Leaflet's pending animation frame then reads a removed pane ("_leaflet_pos").
    const m = L.map(host.current, {
      attributionControl: false, zoomSnap: 0.25, minZoom: 3, maxZoom: 18, center: [19.4326, -99.1332], zoom: 11,
      zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false,
    });
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(m);
    const roads = L.canvas({ padding: 0.3 });
    layer.current = L.layerGroup().addTo(m);
    map.current = m;
    void drawBaseLayer(m, roads, () => map.current === m).then(setBase);
    const unfollow = followSize(m, host.current);
    return () => {
      unfollow();
      m.remove();
      map.current = null;
      layer.current = null;
    };
  }, []);

  useEffect(() => {
    const m = map.current;
    const g = layer.current;
    if (m === null || g === null) return;
    g.clearLayers();
    const bounds = L.latLngBounds([]);
    for (const cell of cells) {
      if (cell.boundary.length < 3) continue;
      const ring = cell.boundary.map((p) => L.latLng(p.latitude, p.longitude));
      const polygon = L.polygon(ring, { ...shade(Number(cell.count), top), className: "rp-hs-cell" })
        .bindTooltip(() => tip.current(cell), { sticky: true })
        .addTo(g);
      const path = polygon.getElement();
      path?.setAttribute("data-testid", "rp-hs-cell");
      path?.setAttribute("data-cell", cell.cell);
      path?.setAttribute("data-count", String(cell.count));
      for (const p of ring) bounds.extend(p);
    }
    if (bounds.isValid()) m.fitBounds(bounds, { padding: [24, 24], maxZoom: 15, animate: false });
    setDrawn(cells.length);
  }, [cells]);

  return (
    <div class="map-wrap rp-hs-map">
      <div ref={host} data-testid="rp-hs-map" data-cells={drawn} data-base={base ? "true" : "false"} aria-label={props.label} style={{ position: "absolute", inset: 0 }} />
      {top > 0 && (
        <div class="map-legend rp-hs-legend" aria-hidden="true">
          {props.legend}: 1
          {[1, Math.ceil(top ** (1 / 3)), Math.ceil(top ** (2 / 3)), top].map((n, i) => (
            <span key={i} class="rp-hs-swatch" style={{ background: fill(n, top) }} />
          ))}
          {top}
        </div>
      )}
    </div>
  );
}
