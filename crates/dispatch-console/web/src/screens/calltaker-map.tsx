// The call taker's small map: no tiles (none can be fetched), a plain background with a scale;
// a click sets the call's location; the point and its uncertainty circle are drawn.
import { useEffect, useRef } from "preact/hooks";
import * as L from "leaflet";

/** The demo city's centre, where the map opens when no point is known. */
const HOME: L.LatLngTuple = [19.4326, -99.1332];

/**
 * Keeps a map's drawing the size of its container, which may be sized after the first paint
 * or resized with the window. Returns what stops it.
 */
export function followSize(map: L.Map, container: HTMLElement): () => void {
  const resize = new ResizeObserver(() => map.invalidateSize());
  resize.observe(container);
  return () => resize.disconnect();
}

/** Another point to show (e.g. a camera), with a label in its tooltip. */
export interface Mark {
  key: string;
  latitude: number;
  longitude: number;
  label: string;
}

export interface PointMapProps {
  point: { latitude: number; longitude: number } | null;
  uncertaintyM: number;
  onPick?: (latitude: number, longitude: number) => void;
  label: string;
  testid?: string;
  marks?: Mark[];
  /** Fit the view to the point and the marks whenever they change. */
  fit?: boolean;
}

export function PointMap({ point, uncertaintyM, onPick, label, testid, marks, fit }: PointMapProps) {
  const host = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const marker = useRef<L.CircleMarker | null>(null);
  const circle = useRef<L.Circle | null>(null);
  const markLayer = useRef<L.LayerGroup | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;

  useEffect(() => {
    if (host.current === null) return;
    const m = L.map(host.current, { center: HOME, zoom: 13, attributionControl: false, zoomSnap: 0.5 });
    L.control.scale({ imperial: false }).addTo(m);
    m.on("click", (event: L.LeafletMouseEvent) => pick.current?.(event.latlng.lat, event.latlng.lng));
    map.current = m;
    markLayer.current = L.layerGroup().addTo(m);
    const unfollow = followSize(m, host.current);
    return () => {
      unfollow();
      m.remove();
      map.current = null;
      marker.current = circle.current = null;
      markLayer.current = null;
    };
  }, []);

  useEffect(() => {
    const m = map.current;
    if (m === null) return;
    marker.current?.remove();
    circle.current?.remove();
    marker.current = circle.current = null;
    if (point === null) return;
    const at: L.LatLngTuple = [point.latitude, point.longitude];
    if (uncertaintyM > 0) {
      circle.current = L.circle(at, {
        radius: uncertaintyM,
        color: "#ffb020",
        weight: 1,
        fillOpacity: 0.15,
        interactive: false,
      }).addTo(m);
    }
    marker.current = L.circleMarker(at, {
      radius: 6,
      color: "#06121f",
      weight: 2,
      fillColor: "#ffd84d",
      fillOpacity: 1,
      interactive: false,
    }).addTo(m);
    if (fit) return;
    if (circle.current !== null && uncertaintyM > 150) m.fitBounds(circle.current.getBounds(), { maxZoom: 16 });
    else if (!m.getBounds().pad(-0.1).contains(at)) m.setView(at, Math.max(m.getZoom(), 14));
  }, [point?.latitude, point?.longitude, uncertaintyM]);

  const markKey = (marks ?? []).map((mark) => mark.key).join(",");
  useEffect(() => {
    const m = map.current;
    const layer = markLayer.current;
    if (m === null || layer === null) return;
    layer.clearLayers();
    const bounds: L.LatLngTuple[] = point === null ? [] : [[point.latitude, point.longitude]];
    for (const mark of marks ?? []) {
      const at: L.LatLngTuple = [mark.latitude, mark.longitude];
      bounds.push(at);
      L.circleMarker(at, { radius: 5, color: "#5cb3ff", weight: 2, fillColor: "#0f1419", fillOpacity: 1 })
        .bindTooltip(mark.label, { direction: "top", permanent: true, className: "mark-label", offset: [0, -4] })
        .addTo(layer);
    }
    if (fit && bounds.length > 0) m.fitBounds(L.latLngBounds(bounds), { padding: [24, 24], maxZoom: 16, animate: false });
  }, [markKey, fit, point?.latitude, point?.longitude]);

  return <div ref={host} class="point-map" role="application" aria-label={label} data-testid={testid} />;
}
