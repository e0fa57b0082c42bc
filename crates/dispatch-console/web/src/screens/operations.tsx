// Planned operations (OperationService): the list, newest first, every page; one operation with
// its zones, staged units and cameras on the map, its cameras to watch with their watch orders,
// its open incidents (the incidents feed, by the operation each incident is tagged with), and a
// stand-down for who may. Every part is read only when the role may call its RPC; a liaison's
// lists are its agency's, as the API scopes them.
import { useEffect, useState } from "preact/hooks";
import { api, refusal, requestId, type Refusal } from "../api";
import { useText } from "../i18n";
import { may } from "../session";
import { navigate } from "../route";
import { feedIfPermitted, WATCH_INCIDENTS, WATCH_UNITS } from "../feeds";
import type { LiveCollection, LiveEvent } from "../live";
import { idOf, incidentStatusClass, toDate } from "../format";
import { incidentStatusLabel } from "../labels";
import { HeadCells, RefusalView, SelectField } from "../widgets";
import type { Camera } from "../gen/dispatch/v1/directory_pb";
import type { CameraToWatch, Operation } from "../gen/dispatch/v1/operation_pb";
import { allCameras, allPages, typeLabel, useDirectory } from "./dispatch-directory";
import { OperationMap, type OperationMark } from "./operations-map";
import "./dispatch.css";
import "./operations.css";

const T = {
  title: { es: "Operativos", en: "Operations" },
  name: { es: "Operativo", en: "Operation" },
  window: { es: "Vigencia", en: "Window" },
  standing: { es: "permanente", en: "standing" },
  state: { es: "Estado", en: "State" },
  active: { es: "en vigor", en: "in force" },
  inactive: { es: "fuera de vigencia", en: "not in force" },
  zones: { es: "Zonas", en: "Zones" },
  zone: { es: "Zona", en: "Zone" },
  staged: { es: "Unidades asignadas al operativo", en: "Staged units" },
  cameras: { es: "Cámaras", en: "Cameras" },
  none: { es: "Ningún operativo.", en: "No operation." },
  loading: { es: "Cargando…", en: "Loading…" },
  back: { es: "← Operativos", en: "← Operations" },
  mapLabel: { es: "Mapa del operativo", en: "The operation's map" },
  incidents: { es: "Incidentes abiertos del operativo", en: "The operation's open incidents" },
  noIncidents: { es: "Ningún incidente abierto en sus zonas.", en: "No open incident in its zones." },
  folio: { es: "Folio", en: "Folio" },
  type: { es: "Tipo", en: "Type" },
  status: { es: "Estatus", en: "Status" },
  toWatch: { es: "Cámaras a vigilar y consignas", en: "Cameras to watch and watch orders" },
  recent: { es: "Incidentes 24 h", en: "Incidents 24 h" },
  orders: { es: "Consignas", en: "Watch orders" },
  until: { es: "hasta", en: "until" },
  code: { es: "Código", en: "Code" },
  unit: { es: "Unidad", en: "Unit" },
  commandPost: { es: "Puesto de mando", en: "Command post" },
  standDown: { es: "Dar por concluido ahora", en: "Stand down now" },
  confirm: { es: "¿Concluir el operativo ahora? Sus unidades quedan liberadas.", en: "Stand the operation down now? Its units are released." },
  yes: { es: "Concluir", en: "Stand down" },
  newOrder: { es: "Nueva consigna", en: "New watch order" },
  on: { es: "Sobre", en: "On" },
  instruction: { es: "Qué vigilar", en: "What to watch for" },
  forHours: { es: "Durante (horas)", en: "For (hours)" },
  add: { es: "Agregar consigna", en: "Add the order" },
  no: { es: "Cancelar", en: "Cancel" },
};

function when(time: Operation["startTime"]): string {
  return toDate(time)?.toLocaleString() ?? "—";
}

export function OperationsScreen({ id }: { id: string | undefined }) {
  return id === undefined ? <OperationList /> : <OperationView name={`operations/${id}`} />;
}

function OperationList() {
  const t = useText(T);
  const [list, setList] = useState<Operation[] | null>(null);
  const [refused, setRefused] = useState<Refusal | null>(null);
  useEffect(() => {
    let live = true;
    allPages(async (pageToken) => {
      const r = await api.operations.listOperations({ pageSize: 200, pageToken });
      return { items: r.operations, next: r.nextPageToken };
    })
      .then((all) => live && setList(all))
      .catch((error) => live && setRefused(refusal(error)));
    return () => void (live = false);
  }, []);
  return (
    <section class="dsp-screen op-screen" aria-labelledby="op-title" data-testid="operations-screen">
      <div class="dsp-toolbar">
        <h1 id="op-title">{t.title}</h1>
        {list === null && refused === null && <span class="hint">{t.loading}</span>}
      </div>
      {refused !== null && <RefusalView refusal={refused} />}
      {list !== null && list.length === 0 && <p class="hint">{t.none}</p>}
      {list !== null && list.length > 0 && (
        <div class="dsp-table-wrap">
          <table class="dsp-table" data-testid="op-list">
            <thead>
              <HeadCells columns={[t.name, t.window, t.state, { label: t.zones, num: true }, { label: t.staged, num: true }, { label: t.cameras, num: true }]} />
            </thead>
            <tbody>
              {list.map((o) => (
                <tr key={o.name} data-testid="op-row" data-operation={o.name} data-active={o.active ? "true" : "false"}>
                  <td>
                    <a href={`#/operations/${idOf(o.name)}`} data-testid="op-open">
                      {o.displayName}
                    </a>
                  </td>
                  <td>
                    {when(o.startTime)} – {o.endTime === undefined ? t.standing : when(o.endTime)}
                  </td>
                  <td>{o.active ? t.active : t.inactive}</td>
                  <td class="num">{o.zones.length}</td>
                  <td class="num">{o.stagedUnits.length}</td>
                  <td class="num">{o.cameras.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const NO_ITEMS: ReadonlyMap<string, never> = new Map<string, never>();

/** The items of a feed this role may follow (re-rendering on its changes); none otherwise. */
function useFeedItems<T, E extends LiveEvent>(collection: LiveCollection<T, E> | null): ReadonlyMap<string, T> {
  const [, setVersion] = useState(0);
  useEffect(() => {
    if (collection === null) return;
    const off = collection.subscribe(() => setVersion(collection.changeCount));
    // A change announced between this render and now found no listener yet.
    setVersion(collection.changeCount);
    return off;
  }, [collection]);
  return collection?.items ?? NO_ITEMS;
}

function OperationView({ name }: { name: string }) {
  const t = useText(T);
  const directory = useDirectory();
  const [operation, setOperation] = useState<Operation | null>(null);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const [toWatch, setToWatch] = useState<CameraToWatch[]>([]);
  const [cameras, setCameras] = useState<Camera[]>([]);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const incidents = useFeedItems(feedIfPermitted(WATCH_INCIDENTS));
  const units = useFeedItems(feedIfPermitted(WATCH_UNITS));

  useEffect(() => {
    let live = true;
    api.operations
      .getOperation({ name })
      .then((r) => live && setOperation(r.operation ?? null))
      .catch((error) => live && setRefused(refusal(error)));
    if (may("DirectoryService/ListCameras")) {
      allCameras()
        .then((all) => live && setCameras(all))
        .catch(() => undefined);
    }
    return () => void (live = false);
  }, [name]);

  // The cameras to watch, read again after a watch order is added.
  const [ordersRead, setOrdersRead] = useState(0);
  useEffect(() => {
    if (!may("OperationService/ListCamerasToWatch")) return;
    let live = true;
    api.operations
      .listCamerasToWatch({ pageSize: 500 })
      .then((r) => live && setToWatch(r.cameras.filter((c) => c.operation === name)))
      .catch((error) => live && setRefused(refusal(error)));
    return () => void (live = false);
  }, [name, ordersRead]);

  const standDown = async () => {
    setConfirming(false);
    setBusy(true);
    try {
      const r = await api.operations.standDownOperation({ requestId: requestId(), name });
      setOperation(r.operation ?? null);
      setRefused(null);
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setBusy(false);
    }
  };

  const mine = [...incidents.values()]
    .filter((i) => i.operation === name)
    .sort((a, b) => a.folio.localeCompare(b.folio));
  const unitMap = units;
  const stagedMarks: OperationMark[] = (operation?.stagedUnits ?? []).flatMap((unit) => {
    const point = unitMap.get(unit)?.position?.point;
    return point === undefined ? [] : [{ name: unit, latitude: point.latitude, longitude: point.longitude, label: unitMap.get(unit)?.callSign ?? unit }];
  });
  const cameraMarks: OperationMark[] = (operation?.cameras ?? []).flatMap((camera) => {
    const found = cameras.find((c) => c.name === camera);
    const point = found?.location;
    return point === undefined ? [] : [{ name: camera, latitude: point.latitude, longitude: point.longitude, label: found?.code ?? camera }];
  });
  const incidentMarks: OperationMark[] = mine.flatMap((i) => {
    const point = i.location?.point;
    return point === undefined ? [] : [{ name: i.name, latitude: point.latitude, longitude: point.longitude, label: i.folio }];
  });
  const cameraCode = (camera: string) => cameras.find((c) => c.name === camera)?.code ?? toWatch.find((c) => c.camera === camera)?.code ?? camera;

  return (
    <section class="dsp-screen op-screen" aria-labelledby="op-title" data-testid="operation-screen" data-operation={name} data-active={operation?.active ? "true" : "false"}>
      <div class="dsp-toolbar">
        <a href="#/operations" onClick={(e) => (e.preventDefault(), navigate("operations"))}>
          {t.back}
        </a>
        <h1 id="op-title" data-testid="op-name">{operation?.displayName ?? t.loading}</h1>
        {operation !== null && (
          <span class="hint" data-testid="op-window">
            {when(operation.startTime)} – {operation.endTime === undefined ? t.standing : when(operation.endTime)} · {operation.active ? t.active : t.inactive}
          </span>
        )}
        {operation?.active && may("OperationService/StandDownOperation") && !confirming && (
          <button type="button" data-testid="op-stand-down" disabled={busy} onClick={() => setConfirming(true)}>
            {t.standDown}
          </button>
        )}
        {operation?.active && confirming && (
          <span class="op-confirm" role="alert">
            {t.confirm}{" "}
            <button type="button" data-testid="op-stand-down-confirm" onClick={() => void standDown()}>
              {t.yes}
            </button>{" "}
            <button type="button" data-testid="op-stand-down-cancel" onClick={() => setConfirming(false)}>
              {t.no}
            </button>
          </span>
        )}
      </div>
      {refused !== null && <RefusalView refusal={refused} />}
      {operation !== null && (
        <div class="op-layout">
          <OperationMap zones={operation.zones} units={stagedMarks} cameras={cameraMarks} incidents={incidentMarks} label={t.mapLabel} zoneLabel={t.zone} />
          <div class="op-side">
            <h2>{t.incidents}</h2>
            {mine.length === 0 ? (
              <p class="hint" data-testid="op-no-incidents">{t.noIncidents}</p>
            ) : (
              <table class="dsp-table" data-testid="op-incidents">
                <thead>
                  <HeadCells columns={[t.folio, t.type, t.status]} />
                </thead>
                <tbody>
                  {mine.map((i) => (
                    <tr key={i.name} data-testid="op-incident" data-incident={i.name}>
                      <td>
                        <a href={`#/incidents/${idOf(i.name)}`}>{i.folio}</a>
                      </td>
                      <td>{typeLabel(directory, i.incidentType)}</td>
                      <td class={incidentStatusClass(i.status)}>{incidentStatusLabel(i.status)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <h2>{t.staged}</h2>
            <ul class="op-units" data-testid="op-staged">
              {operation.commandPost !== "" && (
                <li data-testid="op-command-post" data-unit={operation.commandPost}>
                  {t.commandPost}: {unitMap.get(operation.commandPost)?.callSign ?? operation.commandPost}
                </li>
              )}
              {operation.stagedUnits.map((unit) => (
                <li key={unit} data-testid="op-staged-unit" data-unit={unit}>
                  {unitMap.get(unit)?.callSign ?? unit}
                </li>
              ))}
            </ul>
            <h2>{t.toWatch}</h2>
            <table class="dsp-table" data-testid="op-cameras">
              <thead>
                <HeadCells columns={[t.code, t.zone, { label: t.recent, num: true }, t.orders]} />
              </thead>
              <tbody>
                {(toWatch.length > 0 ? toWatch.map((c) => c.camera) : operation.cameras).map((camera) => {
                  const watched = toWatch.find((c) => c.camera === camera);
                  return (
                    <tr key={camera} data-testid="op-camera-row" data-camera={camera} data-orders={String(watched?.orders.length ?? 0)}>
                      <td class="mono">{cameraCode(camera)}</td>
                      <td>{watched === undefined || watched.zone < 0 ? "—" : watched.zone}</td>
                      <td class="num">{watched?.recentIncidents ?? "—"}</td>
                      <td>
                        {(watched?.orders ?? []).map((order) => (
                          <div key={order.name} data-testid="op-order">
                            {order.instruction} · {t.until} {toDate(order.until)?.toLocaleTimeString() ?? "—"}
                          </div>
                        ))}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {operation.active && may("OperationService/AddWatchOrder") && (
              <WatchOrderForm operation={operation} cameraCode={cameraCode} onAdded={() => setOrdersRead((n) => n + 1)} />
            )}
          </div>
        </div>
      )}
    </section>
  );
}

/** A new watch order on one of the operation's cameras or zones, for the next hours. */
function WatchOrderForm(props: { operation: Operation; cameraCode: (camera: string) => string; onAdded: () => void }) {
  const t = useText(T);
  const { operation } = props;
  const [target, setTarget] = useState("zone:0");
  const [instruction, setInstruction] = useState("");
  const [hours, setHours] = useState("2");
  const [refused, setRefused] = useState<Refusal | null>(null);
  const [busy, setBusy] = useState(false);
  const choices = [
    ...operation.zones.map((_, i) => ({ value: `zone:${i}`, label: `${t.zone} ${i}` })),
    ...operation.cameras.map((c) => ({ value: `camera:${c}`, label: props.cameraCode(c) })),
  ];
  const submit = async (event: Event) => {
    event.preventDefault();
    const [kind, value] = [target.slice(0, target.indexOf(":")), target.slice(target.indexOf(":") + 1)];
    const until = Date.now() + Number(hours) * 3_600_000;
    setBusy(true);
    try {
      await api.operations.addWatchOrder({
        requestId: requestId(),
        watchOrder: {
          operation: operation.name,
          target: kind === "camera" ? { case: "camera", value } : { case: "zone", value: Number(value) },
          instruction: instruction.trim(),
          until: { seconds: BigInt(Math.floor(until / 1000)), nanos: 0 },
        },
      });
      setInstruction("");
      setRefused(null);
      props.onAdded();
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="op-order-form" data-testid="op-order-form" onSubmit={(e) => void submit(e)}>
      <h2>{t.newOrder}</h2>
      <SelectField label={t.on} testid="op-order-target" value={target} choices={choices} onChange={setTarget} />
      <label>
        {t.instruction}
        <input data-testid="op-order-instruction" value={instruction} maxLength={1000} onInput={(e) => setInstruction(e.currentTarget.value)} required />
      </label>
      <label>
        {t.forHours}
        <input data-testid="op-order-hours" type="number" min="1" max="24" value={hours} onInput={(e) => setHours(e.currentTarget.value)} required />
      </label>
      <button type="submit" data-testid="op-order-submit" disabled={busy || instruction.trim() === ""}>
        {t.add}
      </button>
      {refused !== null && <RefusalView refusal={refused} />}
    </form>
  );
}
