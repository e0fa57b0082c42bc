// One operation on the map (no tiles: the centre's own roads under it when dispatchd has them):
// its zones as polygons, its staged units where they last reported, its cameras, each named in
// its tooltip, and its open incidents. The view fits the zones.
import { useEffect, useRef, useState } from "preact/hooks";
import * as L from "leaflet";
import type { Polygon } from "../gen/dispatch/v1/common_pb";
import { followSize } from "./calltaker-map";
import { drawBaseLayer } from "./map";

/** A point drawn on the operation's map. */
export interface OperationMark {
  name: string;
  latitude: number;
  longitude: number;
  label: string;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function OperationMap(props: {
  zones: Polygon[];
  units: OperationMark[];
  cameras: OperationMark[];
  incidents: OperationMark[];
  label: string;
  zoneLabel: string;
}) {
  const { zones, units, cameras, incidents } = props;
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const layer = useRef<L.LayerGroup | null>(null);
  const [base, setBase] = useState(false);
  const [drawn, setDrawn] = useState({ zones: 0, units: 0, cameras: 0, incidents: 0 });

  useEffect(() => {
    if (host.current === null) return;
    // No animations: the screen can be left while one runs (see the hot-spot map).
    const m = L.map(host.current, {
      attributionControl: false, zoomSnap: 0.25, minZoom: 3, maxZoom: 18, center: [19.4326, -99.1332], zoom: 13,
      zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false,
    });
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(m);
    layer.current = L.layerGroup().addTo(m);
    map.current = m;
    void drawBaseLayer(m, L.canvas({ padding: 0.3 }), () => map.current === m).then(setBase);
    const unfollow = followSize(m, host.current);
    return () => {
      unfollow();
      m.remove();
      map.current = null;
      layer.current = null;
    };
  }, []);

  const key = JSON.stringify([zones.map((z) => z.points.length), units, cameras, incidents, props.zoneLabel]);
  useEffect(() => {
    const m = map.current;
    const g = layer.current;
    if (m === null || g === null) return;
    g.clearLayers();
    const bounds = L.latLngBounds([]);
    zones.forEach((zone, index) => {
      const ring = zone.points.map((p) => L.latLng(p.latitude, p.longitude));
      if (ring.length < 3) return;
      const polygon = L.polygon(ring, { color: "#ffb020", weight: 2, fillColor: "#ffb020", fillOpacity: 0.12 })
        .bindTooltip(`${esc(props.zoneLabel)} ${index}`, { sticky: true })
        .addTo(g);
      const path = polygon.getElement();
      path?.setAttribute("data-testid", "op-zone");
      path?.setAttribute("data-zone", String(index));
      for (const p of ring) bounds.extend(p);
    });
    const marks = (list: OperationMark[], testid: string, style: L.CircleMarkerOptions) => {
      for (const mark of list) {
        const marker = L.circleMarker([mark.latitude, mark.longitude], { radius: 6, weight: 2, fillOpacity: 1, ...style })
          .bindTooltip(esc(mark.label), { direction: "top", offset: [0, -4] })
          .addTo(g);
        const path = marker.getElement();
        path?.setAttribute("data-testid", testid);
        path?.setAttribute("data-name", mark.name);
      }
    };
    marks(units, "op-unit", { color: "#06121f", fillColor: "#4cc38a" });
    marks(cameras, "op-camera", { color: "#5cb3ff", fillColor: "#0f1419" });
    marks(incidents, "op-incident-mark", { color: "#06121f", fillColor: "#ff3b3b", radius: 5 });
    if (bounds.isValid()) m.fitBounds(bounds, { padding: [24, 24], maxZoom: 17, animate: false });
    setDrawn({ zones: zones.length, units: units.length, cameras: cameras.length, incidents: incidents.length });
  }, [key]);

  return (
    <div class="map-wrap op-map">
      <div
        ref={host}
        data-testid="op-map"
        data-zones={drawn.zones}
        data-units={drawn.units}
        data-cameras={drawn.cameras}
        data-incidents={drawn.incidents}
        data-base={base ? "true" : "false"}
        aria-label={props.label}
        style={{ position: "absolute", inset: 0 }}
      />
    </div>
  );
}
