// The video operator's screen: the cameras (and panic buttons, plate readers) nearest an open
// incident or a typed point, nearest first; one button raises a call from a device: the call
// taker screen opens prefilled (channel, the device's position, its code as the source device).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, refusal, type Refusal } from "../api";
import { useText } from "../i18n";
import { may } from "../session";
import { incidents } from "../feeds";
import { useLive } from "../live";
import { distance, toDate } from "../format";
import { navigate } from "../route";
import { EnumSelect, HeadCells, RefusalView } from "../widgets";
import { CallChannel } from "../gen/dispatch/v1/call_pb";
import { LocationSource } from "../gen/dispatch/v1/common_pb";
import { DeviceKind } from "../gen/dispatch/v1/directory_pb";
import type { CameraHit } from "../gen/dispatch/v1/unit_assignment_service_pb";
import { DEVICE_KINDS, incidentStatusLabel, labelOf } from "../labels";
import { formatLatLon, parseLatLon, setCallDraft } from "./calltaker-draft";
import { PointMap } from "./calltaker-map";
import "./video.css";

const T = {
  title: { es: "Cámaras cercanas", en: "Nearest cameras" },
  incident: { es: "Incidente abierto", en: "Open incident" },
  noIncident: { es: "— ninguno: usar la ubicación —", en: "— none: use the location —" },
  point: { es: "o ubicación (lat, lon)", en: "or location (lat, lon)" },
  radius: { es: "Radio (m)", en: "Radius (m)" },
  kind: { es: "Dispositivos", en: "Devices" },
  kindCol: { es: "Tipo", en: "Kind" },
  allKinds: { es: "Todos", en: "All" },
  search: { es: "Buscar", en: "Search" },
  code: { es: "Código", en: "Code" },
  distance: { es: "Distancia", en: "Distance" },
  description: { es: "Descripción", en: "Description" },
  position: { es: "Posición", en: "Position" },
  none: { es: "Ningún dispositivo activo en el radio.", en: "No active device within the radius." },
  pick: { es: "Elija un incidente o escriba una ubicación.", en: "Pick an incident or type a location." },
  raise: { es: "Levantar llamada", en: "Raise a call" },
  mapLabel: { es: "Mapa de dispositivos; clic fija la ubicación", en: "Map of devices; a click sets the location" },
  badPoint: { es: "Escriba latitud, longitud en grados decimales", en: "Type latitude, longitude in decimal degrees" },
};

const KIND_VALUES = [DeviceKind.CAMERA, DeviceKind.PANIC_BUTTON, DeviceKind.PLATE_READER];

/** The channel a report from each kind of device comes in on. */
const CHANNEL_OF: Record<DeviceKind, CallChannel> = {
  [DeviceKind.UNSPECIFIED]: CallChannel.CAMERA,
  [DeviceKind.CAMERA]: CallChannel.CAMERA,
  [DeviceKind.PANIC_BUTTON]: CallChannel.PANIC_BUTTON,
  [DeviceKind.PLATE_READER]: CallChannel.PLATE_READER,
};

export function VideoScreen() {
  const t = useText(T);
  const feed = useLive(incidents());
  const [incident, setIncident] = useState("");
  const [pointText, setPointText] = useState("");
  const [radius, setRadius] = useState("1000");
  const [kind, setKind] = useState<DeviceKind>(DeviceKind.UNSPECIFIED);
  const [hits, setHits] = useState<CameraHit[] | null>(null);
  const [origin, setOrigin] = useState<{ latitude: number; longitude: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const seq = useRef(0);
  const first = useRef<HTMLSelectElement>(null);

  const open = useMemo(
    () =>
      [...feed.items.values()].sort(
        (a, b) => (toDate(b.createTime)?.getTime() ?? 0) - (toDate(a.createTime)?.getTime() ?? 0),
      ),
    [feed.changeCount, feed.items],
  );
  const point = parseLatLon(pointText);
  const chosen = incident !== "" ? feed.items.get(incident) : undefined;

  useEffect(() => first.current?.focus(), []);

  const search = async () => {
    const mine = ++seq.current;
    const target =
      incident !== ""
        ? ({ case: "incident", value: incident } as const)
        : point !== null
          ? ({ case: "point", value: point } as const)
          : null;
    if (target === null) {
      setHits(null);
      return;
    }
    setBusy(true);
    try {
      const response = await api.units.nearestCameras({
        target,
        radiusM: Number(radius),
        limit: 25,
        kinds: kind === DeviceKind.UNSPECIFIED ? [] : [kind],
      });
      if (mine !== seq.current) return;
      setHits(response.hits);
      const where = target.case === "point" ? target.value : chosen?.location?.point;
      setOrigin(where !== undefined ? { latitude: where.latitude, longitude: where.longitude } : null);
      setRefused(null);
    } catch (error) {
      if (mine === seq.current) setRefused(refusal(error));
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  };

  // Picking an incident (or another kind) searches at once.
  useEffect(() => {
    if (incident !== "") void search();
  }, [incident, kind]);

  const raise = (hit: CameraHit) => {
    const camera = hit.camera;
    if (camera?.location === undefined) return;
    setCallDraft({
      channel: CHANNEL_OF[camera.kind] ?? CallChannel.CAMERA,
      latitude: camera.location.latitude,
      longitude: camera.location.longitude,
      uncertaintyM: 0,
      source: LocationSource.FIXED_DEVICE,
      sourceDeviceId: camera.code,
      account: "",
      incident,
    });
    navigate("calls");
  };

  const canRaise = may("CallIntakeService/CreateCall");
  const marks = (hits ?? []).flatMap((hit, index) =>
    hit.camera?.location === undefined
      ? []
      : [{ key: hit.camera.name, latitude: hit.camera.location.latitude, longitude: hit.camera.location.longitude, label: String(index + 1) }],
  );

  return (
    <div class="video">
      <section class="panel vd-search" aria-labelledby="vd-title">
        <h2 id="vd-title">{t.title}</h2>
        <form
          class="vd-form"
          onSubmit={(event) => {
            event.preventDefault();
            void search();
          }}
        >
          <label class="grow">
            {t.incident}
            <select ref={first} data-testid="camera-incident" value={incident} onChange={(e) => setIncident(e.currentTarget.value)}>
              <option value="">{t.noIncident}</option>
              {open.map((item) => (
                <option key={item.name} value={item.name}>
                  {item.folio} · {item.incidentType || "—"} · {incidentStatusLabel(item.status)}
                  {item.summary ? ` · ${item.summary.slice(0, 60)}` : ""}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t.point}
            <input
              data-testid="camera-point"
              value={pointText}
              placeholder="19.4326, -99.1332"
              aria-invalid={pointText.trim() !== "" && point === null}
              title={t.badPoint}
              onInput={(e) => {
                setPointText(e.currentTarget.value);
                if (e.currentTarget.value.trim() !== "") setIncident("");
              }}
            />
          </label>
          <label class="vd-radius">
            {t.radius}
            <input data-testid="camera-radius" type="number" min={1} max={10000} step={1} value={radius} onInput={(e) => setRadius(e.currentTarget.value)} />
          </label>
          <label>
            {t.kind}
            <EnumSelect
              testid="camera-kind"
              names={DeviceKind}
              values={KIND_VALUES}
              labels={DEVICE_KINDS}
              value={kind}
              all={t.allKinds}
              onChange={setKind}
            />
          </label>
          <button data-testid="camera-search" type="submit" disabled={busy}>
            {t.search}
          </button>
        </form>
        {refused !== null && <RefusalView refusal={refused} />}
      </section>
      <div class="vd-body">
        <section class="panel vd-list">
          <table data-testid="camera-list">
            <thead>
              <HeadCells columns={["#", t.code, t.kindCol, t.distance, t.description, ""]} />
            </thead>
            <tbody>
              {(hits ?? []).map((hit, index) => (
                <tr key={hit.camera?.name} data-testid="camera-row" data-camera={hit.camera?.name} data-code={hit.camera?.code}>
                  <td class="mono">{index + 1}</td>
                  <td class="mono nowrap">{hit.camera?.code}</td>
                  <td>{hit.camera !== undefined ? labelOf(DEVICE_KINDS, hit.camera.kind) : ""}</td>
                  <td data-testid="camera-distance">{distance(hit.distanceM)}</td>
                  <td>
                    {hit.camera?.description}
                    {hit.camera?.location !== undefined && (
                      <div class="hint mono">{formatLatLon(hit.camera.location.latitude, hit.camera.location.longitude)}</div>
                    )}
                  </td>
                  <td>
                    {canRaise && (
                      <button data-testid="camera-call" type="button" onClick={() => raise(hit)}>
                        {t.raise}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {hits === null && <p class="hint">{t.pick}</p>}
          {hits !== null && hits.length === 0 && <p class="hint">{t.none}</p>}
        </section>
        <PointMap
          point={origin}
          uncertaintyM={0}
          label={t.mapLabel}
          testid="camera-map"
          marks={marks}
          fit
          onPick={(lat, lon) => {
            setIncident("");
            setPointText(formatLatLon(lat, lon));
          }}
        />
      </div>
    </div>
  );
}
