// The call taker's screen, keyboard first (as in TicketsCAD): the cursor starts in the form;
// possible duplicates appear beside it as soon as a location is typed (FindDuplicateCandidates
// with a probe: nothing is written); Ctrl+Enter records the call; then one key links it to a
// suggestion (Alt+1..9), opens a new incident (Alt+N) or disposes of it (Alt+D); Alt+C (or
// typing in the first field) starts the next call. The call taker's recent calls below.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api, refusal, requestId, type Refusal } from "../api";
import { useText } from "../i18n";
import { useSession, may } from "../session";
import { clock, distance, idOf, incidentStatusClass, toDate } from "../format";
import { EnumSelect, HeadCells, RefusalView } from "../widgets";
import { CallChannel, CallDisposition, CallState, type Call, type DuplicateCandidate } from "../gen/dispatch/v1/call_pb";
import { LocationSource } from "../gen/dispatch/v1/common_pb";
import { IncidentView } from "../gen/dispatch/v1/incident_pb";
import type { IncidentType } from "../gen/dispatch/v1/incident_type_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateCallRequestSchema } from "../gen/dispatch/v1/call_intake_service_pb";
import { CALL_STATES, CHANNELS, DISPOSITIONS, DUPLICATE_REASONS, LOCATION_SOURCES, enumValues, incidentStatusLabel, labelOf, type EnumNames, type Labels } from "../labels";
import { plausibleCallback, span } from "./calltaker-format";
import { formatLatLon, parseLatLon, takeCallDraft } from "./calltaker-draft";
import { PointMap } from "./calltaker-map";
import "./calltaker.css";

export { setCallDraft, type CallDraft } from "./calltaker-draft";

const T = {
  title: { es: "Nueva llamada", en: "New call" },
  channel: { es: "Canal", en: "Channel" },
  callback: { es: "Número de devolución", en: "Callback number" },
  location: { es: "Ubicación (lat, lon)", en: "Location (lat, lon)" },
  locationHelp: { es: "p. ej. 19.4326, -99.1332, o haga clic en el mapa", en: "e.g. 19.4326, -99.1332, or click the map" },
  locationBad: { es: "Escriba latitud, longitud en grados decimales", en: "Type latitude, longitude in decimal degrees" },
  uncertainty: { es: "Incertidumbre (m)", en: "Uncertainty (m)" },
  source: { es: "Origen de la ubicación", en: "Location source" },
  address: { es: "Dirección o referencia", en: "Address or landmark" },
  caller: { es: "Nombre de quien llama", en: "Caller's name" },
  type: { es: "Tipo de incidente", en: "Incident type" },
  typeHelp: { es: "Código o nombre · ↑↓ elegir · Enter/Tab tomar", en: "Code or name · ↑↓ choose · Enter/Tab take" },
  account: { es: "Relato", en: "Account" },
  device: { es: "Dispositivo de origen", en: "Source device" },
  clearDevice: { es: "Quitar", en: "Remove" },
  fromIncident: { es: "Visto desde el incidente", en: "Seen from incident" },
  submit: { es: "Registrar llamada", en: "Record call" },
  mapLabel: { es: "Mapa: haga clic para fijar la ubicación", en: "Map: click to set the location" },
  suggestions: { es: "Posibles duplicados", en: "Possible duplicates" },
  likelihood: { es: "Probabilidad de que sea el mismo incidente", en: "Likelihood that it is the same incident" },
  noSuggestions: { es: "Ningún incidente abierto coincide.", en: "No open incident matches." },
  needLocation: { es: "Escriba una ubicación para buscar duplicados.", en: "Type a location to look for duplicates." },
  searching: { es: "Buscando…", en: "Searching…" },
  away: { es: "a {d}", en: "{d} away" },
  old: { es: "antigüedad", en: "age" },
  calls: { es: "llamadas", en: "calls" },
  call1: { es: "llamada", en: "call" },
  link: { es: "Vincular", en: "Link" },
  currentCall: { es: "Llamada en curso", en: "Current call" },
  openIncident: { es: "Abrir incidente nuevo", en: "Open a new incident" },
  dispose: { es: "Cerrar sin incidente", en: "Dispose" },
  disposeReason: { es: "Motivo", en: "Reason" },
  disposeNote: { es: "Nota", en: "Note" },
  disposeNoteRequired: { es: "Nota (obligatoria para «Otra»)", en: "Note (required for “Other”)" },
  confirm: { es: "Confirmar", en: "Confirm" },
  cancel: { es: "Cancelar", en: "Cancel" },
  nextCall: { es: "Siguiente llamada", en: "Next call" },
  linkedTo: { es: "Vinculada al incidente", en: "Linked to incident" },
  openedIncident: { es: "Incidente abierto", en: "Incident opened" },
  disposedAs: { es: "Cerrada sin incidente:", en: "Disposed:" },
  replayed: { es: "(ya estaba registrada)", en: "(already recorded)" },
  recent: { es: "Mis llamadas recientes", en: "My recent calls" },
  resume: { es: "Retomar", en: "Take up" },
  noRecent: { es: "Aún no hay llamadas.", en: "No calls yet." },
  folio: { es: "Folio", en: "Folio" },
  received: { es: "Recibida", en: "Received" },
  state: { es: "Estado", en: "State" },
  incident: { es: "Incidente / motivo", en: "Incident / reason" },
  keys: { es: "Teclas", en: "Keys" },
  kSubmit: { es: "registrar", en: "record" },
  kLink: { es: "vincular a la sugerencia", en: "link to suggestion" },
  kOpen: { es: "incidente nuevo", en: "new incident" },
  kDispose: { es: "cerrar sin incidente", en: "dispose" },
  kNext: { es: "siguiente llamada", en: "next call" },
  typeUnknown: { es: "Código fuera del catálogo", en: "Code not in the catalogue" },
};

interface Form {
  channel: CallChannel;
  callback: string;
  location: string;
  uncertainty: string;
  source: LocationSource;
  address: string;
  caller: string;
  type: string;
  account: string;
  sourceDeviceId: string;
  /** The incident a video operator raised the call from (a hint only, never sent). */
  seenFrom: string;
}

const EMPTY: Form = {
  channel: CallChannel.VOICE_911,
  callback: "",
  location: "",
  uncertainty: "",
  source: LocationSource.CALLER_DESCRIBED,
  address: "",
  caller: "",
  type: "",
  account: "",
  sourceDeviceId: "",
  seenFrom: "",
};

interface Outcome {
  /** The incident the call was linked to or opened; empty when disposed. */
  incident: string;
  incidentFolio: string;
  opened: boolean;
  state: CallState;
  disposition: CallDisposition;
}

// The catalogue changes rarely: read once per page load.
let typesCache: Promise<IncidentType[]> | null = null;
function incidentTypes(): Promise<IncidentType[]> {
  if (typesCache === null) {
    typesCache = (async () => {
      const out: IncidentType[] = [];
      let pageToken = "";
      do {
        const page = await api.triage.listIncidentTypes({ pageSize: 500, pageToken });
        out.push(...page.incidentTypes);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return out;
    })();
    typesCache.catch(() => (typesCache = null));
  }
  return typesCache;
}

/** Folds case and accents, for matching what is typed against codes and names. */
function fold(text: string): string {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
}

function formFromDraft(): Form {
  const draft = takeCallDraft();
  if (draft === null) return EMPTY;
  return {
    ...EMPTY,
    channel: draft.channel,
    // The device's registered position as it is (no rounding).
    location: `${draft.latitude}, ${draft.longitude}`,
    uncertainty: String(draft.uncertaintyM),
    source: draft.source,
    account: draft.account,
    sourceDeviceId: draft.sourceDeviceId,
    seenFrom: draft.incident,
  };
}

const DISPOSITION_VALUES = enumValues<CallDisposition>(CallDisposition);

export function CallTakerScreen() {
  const t = useText(T);
  const session = useSession();
  const me = session?.principal.name ?? "";
  const [form, setForm] = useState<Form>(formFromDraft);
  const [types, setTypes] = useState<IncidentType[]>([]);
  const [current, setCurrent] = useState<Call | null>(null);
  const [replayed, setReplayed] = useState(false);
  const [candidates, setCandidates] = useState<DuplicateCandidate[]>([]);
  const [probing, setProbing] = useState(false);
  const [probeRefusal, setProbeRefusal] = useState<Refusal | null>(null);
  const [submitRefusal, setSubmitRefusal] = useState<Refusal | null>(null);
  const [actionRefusal, setActionRefusal] = useState<Refusal | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const [disposing, setDisposing] = useState(false);
  const [disposeReason, setDisposeReason] = useState<CallDisposition>(CallDisposition.HANG_UP);
  const [disposeNote, setDisposeNote] = useState("");
  const [recent, setRecent] = useState<Call[]>([]);
  const [recentRefusal, setRecentRefusal] = useState<Refusal | null>(null);

  const firstField = useRef<HTMLInputElement>(null);
  const currentPanel = useRef<HTMLDivElement>(null);
  const disposeSelect = useRef<HTMLSelectElement>(null);
  /** The create attempt: its idempotency key and the payload it was sent with. */
  const attempt = useRef<{ id: string; payload: string } | null>(null);
  /** Idempotency keys of actions in flight or refused, reused when the same action is retried. */
  const actionIds = useRef(new Map<string, string>());
  /** Calls taken in this session (shown even if ListCalls pages them out). */
  const sessionCalls = useRef(new Map<string, Call>());
  /** Incident folios seen (suggestions, outcomes), for the recent calls table. */
  const folios = useRef(new Map<string, string>());
  const probeSeq = useRef(0);

  const canLink = may("CallIntakeService/LinkCallToIncident");
  const canOpen = may("CallIntakeService/OpenIncidentFromCall");
  const canDispose = may("CallIntakeService/DisposeCall");
  const canProbe = may("CallIntakeService/FindDuplicateCandidates");

  const point = useMemo(() => parseLatLon(form.location), [form.location]);
  const uncertaintyM = form.uncertainty.trim() === "" ? 0 : Number(form.uncertainty);
  const typeByCode = useMemo(() => new Map(types.map((type) => [type.code, type])), [types]);
  const open = current !== null && current.state === CallState.OPEN;
  const locked = current !== null;

  const typeField = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // A call raised from a device already has its channel and position: start at its type.
    if (form.sourceDeviceId !== "") typeField.current?.focus();
    else firstField.current?.focus();
    incidentTypes().then(setTypes, () => undefined);
    void loadRecent();
  }, []);

  // Possible duplicates while the call is typed: a probe, debounced; nothing is written.
  useEffect(() => {
    if (current !== null || !canProbe) return;
    const seq = ++probeSeq.current;
    if (point === null) {
      setCandidates([]);
      setProbeRefusal(null);
      setProbing(false);
      return;
    }
    const code = form.type.trim().toUpperCase();
    const timer = setTimeout(async () => {
      setProbing(true);
      try {
        const response = await api.calls.findDuplicateCandidates({
          probe: {
            location: {
              point,
              uncertaintyM: Number.isFinite(uncertaintyM) && uncertaintyM >= 0 ? uncertaintyM : 0,
              source: form.source,
            },
            incidentTypeHint: typeByCode.has(code) ? code : "",
            callbackNumber: plausibleCallback(form.callback) ?? "",
          },
        });
        if (seq !== probeSeq.current) return;
        remember(response.duplicateCandidates);
        setCandidates(response.duplicateCandidates);
        setProbeRefusal(null);
      } catch (error) {
        if (seq !== probeSeq.current) return;
        setProbeRefusal(refusal(error));
      } finally {
        if (seq === probeSeq.current) setProbing(false);
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [point?.latitude, point?.longitude, uncertaintyM, form.type, form.callback, form.source, current, typeByCode]);

  function remember(list: DuplicateCandidate[]): void {
    for (const candidate of list) folios.current.set(candidate.incident, candidate.incidentFolio);
  }

  async function loadRecent(): Promise<void> {
    try {
      // ListCalls has no call-taker filter: read the last day's newest calls and keep ours.
      const response = await api.calls.listCalls({
        pageSize: 200,
        received: { start: timestampFromDate(new Date(Date.now() - 24 * 3600 * 1000)) },
      });
      const mine = new Map<string, Call>();
      for (const call of sessionCalls.current.values()) mine.set(call.name, call);
      for (const call of response.calls) if (call.callTaker === me) mine.set(call.name, call);
      const list = [...mine.values()].sort(
        (a, b) => (toDate(b.receivedTime)?.getTime() ?? 0) - (toDate(a.receivedTime)?.getTime() ?? 0),
      );
      const shown = list.slice(0, 12);
      // Name each linked incident by its folio (read once per incident, the basic view).
      const unknown = [...new Set(shown.map((call) => call.incident))].filter((name) => name !== "" && !folios.current.has(name));
      if (unknown.length > 0 && may("IncidentTriageService/GetIncident")) {
        await Promise.all(
          unknown.map((name) =>
            api.triage.getIncident({ name, view: IncidentView.BASIC }).then(
              (response) => response.incident !== undefined && folios.current.set(name, response.incident.folio),
              () => undefined,
            ),
          ),
        );
      }
      setRecent(shown);
      setRecentRefusal(null);
    } catch (error) {
      setRecentRefusal(refusal(error));
    }
  }

  function tookCall(call: Call): void {
    setCurrent(call);
    sessionCalls.current.set(call.name, call);
  }

  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));

  function request(): MessageInitShape<typeof CreateCallRequestSchema> {
    const code = form.type.trim().toUpperCase();
    return {
      channel: form.channel,
      callbackNumber: form.callback.trim(),
      callerName: form.caller.trim(),
      // Unparseable text is sent as no location: the server's refusal names the field.
      location:
        point === null
          ? undefined
          : {
              point,
              uncertaintyM: form.uncertainty.trim() === "" ? 0 : Number(form.uncertainty),
              source: form.source,
              civicAddress: form.address.trim(),
            },
      account: form.account,
      incidentTypeHint: code,
      sourceDeviceId: form.sourceDeviceId,
    };
  }

  async function submit(): Promise<void> {
    if (locked || busy) return;
    const body = request();
    const payload = JSON.stringify(body);
    // One key per call attempt: a retry of the same submission reuses it (the server replays
    // the original call); a changed form is a new attempt.
    if (attempt.current === null || attempt.current.payload !== payload) attempt.current = { id: requestId(), payload };
    setBusy(true);
    try {
      const response = await api.calls.createCall({ ...body, requestId: attempt.current.id });
      if (response.call === undefined) throw new Error("CreateCall answered without a call");
      probeSeq.current++;
      tookCall(response.call);
      setReplayed(response.replayed);
      remember(response.duplicateCandidates);
      setCandidates(response.duplicateCandidates);
      setProbeRefusal(null);
      setSubmitRefusal(null);
      attempt.current = null;
      void loadRecent();
      requestAnimationFrame(() => currentPanel.current?.focus());
    } catch (error) {
      setSubmitRefusal(refusal(error));
    } finally {
      setBusy(false);
    }
  }

  function keyFor(action: string): string {
    let id = actionIds.current.get(action);
    if (id === undefined) {
      id = requestId();
      actionIds.current.set(action, id);
    }
    return id;
  }

  async function act(action: string, run: (id: string) => Promise<{ call?: Call; outcome: Outcome }>): Promise<void> {
    if (busy) return;
    setBusy(true);
    try {
      const result = await run(keyFor(action));
      actionIds.current.delete(action);
      if (result.call !== undefined) tookCall(result.call);
      if (result.outcome.incident !== "") folios.current.set(result.outcome.incident, result.outcome.incidentFolio);
      setOutcome(result.outcome);
      setActionRefusal(null);
      setDisposing(false);
      void loadRecent();
      // The call is done: the cursor goes back to the first field; typing there starts the next.
      requestAnimationFrame(() => {
        firstField.current?.focus();
        firstField.current?.select();
      });
    } catch (error) {
      setActionRefusal(refusal(error));
    } finally {
      setBusy(false);
    }
  }

  function link(candidate: DuplicateCandidate | undefined): void {
    if (candidate === undefined || current === null || !open) return;
    const call = current;
    void act(`link:${call.name}:${candidate.incident}`, async (id) => {
      const response = await api.calls.linkCallToIncident({ requestId: id, name: call.name, incident: candidate.incident });
      return {
        call: response.call,
        outcome: {
          incident: response.incident?.name ?? candidate.incident,
          incidentFolio: response.incident?.folio ?? candidate.incidentFolio,
          opened: false,
          state: response.call?.state ?? CallState.LINKED,
          disposition: CallDisposition.UNSPECIFIED,
        },
      };
    });
  }

  function openIncident(): void {
    if (current === null || !open) return;
    const call = current;
    void act(`open:${call.name}`, async (id) => {
      const response = await api.calls.openIncidentFromCall({ requestId: id, name: call.name });
      return {
        call: response.call,
        outcome: {
          incident: response.incident?.name ?? "",
          incidentFolio: response.incident?.folio ?? "",
          opened: true,
          state: response.call?.state ?? CallState.LINKED,
          disposition: CallDisposition.UNSPECIFIED,
        },
      };
    });
  }

  function startDispose(): void {
    if (current === null || !open) return;
    setDisposing(true);
    requestAnimationFrame(() => disposeSelect.current?.focus());
  }

  function dispose(): void {
    if (current === null || !open) return;
    const call = current;
    const disposition = disposeReason;
    const note = disposeNote.trim();
    void act(`dispose:${call.name}:${disposition}:${note}`, async (id) => {
      const response = await api.calls.disposeCall({ requestId: id, name: call.name, disposition, note });
      return {
        call: response.call,
        outcome: {
          incident: "",
          incidentFolio: "",
          opened: false,
          state: response.call?.state ?? CallState.DISPOSED,
          disposition,
        },
      };
    });
  }

  /** Clears everything for the next call; `callback` is what was typed to start it. */
  function nextCall(callback = ""): void {
    probeSeq.current++;
    setForm({ ...EMPTY, callback });
    setCurrent(null);
    setReplayed(false);
    setCandidates([]);
    setOutcome(null);
    setProbeRefusal(null);
    setSubmitRefusal(null);
    setActionRefusal(null);
    setDisposing(false);
    setDisposeReason(CallDisposition.HANG_UP);
    setDisposeNote("");
    attempt.current = null;
    requestAnimationFrame(() => firstField.current?.focus());
  }

  /** Takes up an OPEN call again (e.g. after a reload): its form, locked, and its candidates now. */
  async function resume(call: Call): Promise<void> {
    if (open || busy) return;
    nextCall();
    setForm({
      ...EMPTY,
      channel: call.channel,
      callback: call.callbackNumber,
      location: call.location?.point !== undefined ? `${call.location.point.latitude}, ${call.location.point.longitude}` : "",
      uncertainty: call.location !== undefined ? String(call.location.uncertaintyM) : "",
      source: call.location?.source ?? LocationSource.CALLER_DESCRIBED,
      address: call.location?.civicAddress ?? "",
      caller: call.callerName,
      type: call.incidentTypeHint,
      account: call.account,
      sourceDeviceId: call.sourceDeviceId,
    });
    tookCall(call);
    requestAnimationFrame(() => currentPanel.current?.focus());
    try {
      const response = await api.calls.findDuplicateCandidates({ name: call.name });
      remember(response.duplicateCandidates);
      setCandidates(response.duplicateCandidates);
    } catch (error) {
      setProbeRefusal(refusal(error));
    }
  }

  // The screen's keys, read through a ref so the listener always sees the current state.
  const keys = useRef<(event: KeyboardEvent) => void>(() => undefined);
  keys.current = (event: KeyboardEvent) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      if (!locked) {
        event.preventDefault();
        void submit();
      }
      return;
    }
    if (event.key === "Escape" && disposing) {
      event.preventDefault();
      setDisposing(false);
      currentPanel.current?.focus();
      return;
    }
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const digit = /^Digit([1-9])$/.exec(event.code);
    if (digit !== null) {
      if (open && canLink) {
        event.preventDefault();
        link(candidates[Number(digit[1]) - 1]);
      }
      return;
    }
    switch (event.code) {
      case "KeyN":
        if (open && canOpen) {
          event.preventDefault();
          openIncident();
        }
        break;
      case "KeyD":
        if (open && canDispose) {
          event.preventDefault();
          startDispose();
        }
        break;
      case "KeyC":
        // An open call is never dropped by a key: link, open or dispose it first.
        if (!open) {
          event.preventDefault();
          nextCall();
        }
        break;
    }
  };
  useEffect(() => {
    const listener = (event: KeyboardEvent) => keys.current(event);
    document.addEventListener("keydown", listener);
    return () => document.removeEventListener("keydown", listener);
  }, []);

  const onFirstFieldInput = (value: string) => {
    if (current !== null && !open) nextCall(value);
    else set("callback", value);
  };

  const typeKnown = form.type.trim() === "" || typeByCode.has(form.type.trim().toUpperCase());
  const chosenType = typeByCode.get(form.type.trim().toUpperCase());

  return (
    <div class="calltaker">
      <section class="ct-form panel" aria-labelledby="ct-title">
        <h2 id="ct-title">{t.title}</h2>
        <form
          data-testid="call-form"
          onKeyDown={(event) => {
            // Only Ctrl+Enter records the call: a plain Enter in a field never submits by accident.
            if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && event.target instanceof HTMLInputElement) {
              event.preventDefault();
            }
          }}
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          {form.sourceDeviceId !== "" && (
            <p class="ct-device" data-testid="call-source-device" data-device={form.sourceDeviceId}>
              {t.device}: <code>{form.sourceDeviceId}</code>
              {form.seenFrom !== "" && (
                <>
                  {" "}
                  · {t.fromIncident} <a href={`#/incidents/${idOf(form.seenFrom)}`}>{folios.current.get(form.seenFrom) ?? idOf(form.seenFrom).slice(-8)}</a>
                </>
              )}{" "}
              {!locked && (
                <button type="button" onClick={() => set("sourceDeviceId", "")}>
                  {t.clearDevice}
                </button>
              )}
            </p>
          )}
          <div class="ct-row">
            <EnumField
              label={t.channel}
              testid="call-channel"
              names={CallChannel}
              labels={CHANNELS}
              value={form.channel}
              disabled={open}
              onChange={(channel) => {
                // After a finished call, choosing a channel starts the next one (as typing does).
                if (current !== null && !open) nextCall();
                set("channel", channel);
              }}
            />
            <label>
              {t.callback}
              <input
                ref={firstField}
                data-testid="call-callback"
                type="tel"
                autocomplete="off"
                value={form.callback}
                readOnly={open}
                onInput={(e) => onFirstFieldInput(e.currentTarget.value)}
              />
            </label>
            <FormField label={t.caller} testid="call-caller" value={form.caller} readOnly={locked} onInput={(v) => set("caller", v)} />
          </div>
          <div class="ct-row">
            <label class="grow">
              {t.location}
              <input
                data-testid="call-location"
                autocomplete="off"
                value={form.location}
                readOnly={locked}
                aria-invalid={form.location.trim() !== "" && point === null}
                aria-describedby="ct-location-help"
                placeholder="19.4326, -99.1332"
                onInput={(e) => set("location", e.currentTarget.value)}
              />
              <span id="ct-location-help" class={`hint ${form.location.trim() !== "" && point === null ? "bad" : ""}`}>
                {form.location.trim() !== "" && point === null ? t.locationBad : t.locationHelp}
              </span>
            </label>
            <FormField
              class="narrow"
              label={t.uncertainty}
              testid="call-uncertainty"
              numeric
              value={form.uncertainty}
              readOnly={locked}
              onInput={(v) => set("uncertainty", v)}
            />
            <EnumField
              label={t.source}
              testid="call-location-source"
              names={LocationSource}
              labels={LOCATION_SOURCES}
              value={form.source}
              disabled={locked}
              onChange={(source) => set("source", source)}
            />
          </div>
          <div class="ct-row">
            <FormField class="grow" label={t.address} testid="call-address" value={form.address} readOnly={locked} onInput={(v) => set("address", v)} />
            <TypeAhead
              inputRef={typeField}
              value={form.type}
              types={types}
              locked={locked}
              label={t.type}
              help={typeKnown ? (chosenType?.displayName ?? t.typeHelp) : t.typeUnknown}
              bad={!typeKnown}
              onChange={(value) => set("type", value)}
            />
          </div>
          <label>
            {t.account}
            <textarea
              data-testid="call-account"
              rows={3}
              value={form.account}
              readOnly={locked}
              onInput={(e) => set("account", e.currentTarget.value)}
            />
          </label>
          {submitRefusal !== null && <RefusalView refusal={submitRefusal} />}
          <div class="ct-submit">
            <button data-testid="call-submit" type="submit" disabled={locked || busy}>
              {t.submit} <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
            </button>
          </div>
        </form>
        <CurrentCall
          panel={currentPanel}
          call={current}
          replayed={replayed}
          outcome={outcome}
          busy={busy}
          canOpen={canOpen}
          canDispose={canDispose}
          disposing={disposing}
          disposeReason={disposeReason}
          disposeNote={disposeNote}
          disposeSelect={disposeSelect}
          refused={actionRefusal}
          onOpen={openIncident}
          onStartDispose={startDispose}
          onReason={setDisposeReason}
          onNote={setDisposeNote}
          onDispose={dispose}
          onCancelDispose={() => {
            setDisposing(false);
            currentPanel.current?.focus();
          }}
          onNext={() => nextCall()}
        />
      </section>

      <section class="ct-side" aria-label={t.suggestions}>
        <PointMap
          point={point}
          uncertaintyM={Number.isFinite(uncertaintyM) ? uncertaintyM : 0}
          label={t.mapLabel}
          testid="call-map"
          onPick={locked ? undefined : (lat, lon) => set("location", formatLatLon(lat, lon))}
        />
        <div class="panel ct-suggestions">
          <h2>
            {t.suggestions} {probing && <span class="hint">{t.searching}</span>}
          </h2>
          {probeRefusal !== null && <RefusalView refusal={probeRefusal} />}
          <ol data-testid="duplicate-suggestions" class="suggestions">
            {candidates.map((candidate, index) => (
              <Suggestion
                key={candidate.incident}
                candidate={candidate}
                rank={index + 1}
                type={typeByCode.get(candidate.incidentType)}
                canLink={open && canLink}
                linked={current !== null && current.incident === candidate.incident}
                busy={busy}
                onLink={() => link(candidate)}
              />
            ))}
          </ol>
          {candidates.length === 0 && probeRefusal === null && (
            <p class="hint">{point === null && current === null ? t.needLocation : t.noSuggestions}</p>
          )}
        </div>
        <KeyHints canLink={canLink} canOpen={canOpen} canDispose={canDispose} />
      </section>

      <section class="ct-recent panel" aria-labelledby="ct-recent-title">
        <h2 id="ct-recent-title">{t.recent}</h2>
        {recentRefusal !== null && <RefusalView refusal={recentRefusal} />}
        <table data-testid="recent-calls">
          <thead>
            <HeadCells columns={[t.folio, t.received, t.channel, t.type, t.state, t.incident, ""]} />
          </thead>
          <tbody>
            {recent.map((call) => (
              <tr key={call.name} data-testid="recent-call" data-call={call.name} data-state={CallState[call.state]}>
                <td class="mono">{call.folio}</td>
                <td>{clock(toDate(call.receivedTime))}</td>
                <td>{labelOf(CHANNELS, call.channel)}</td>
                <td class="mono">{call.incidentTypeHint || "—"}</td>
                <td class={`ct-state ct-state-${CallState[call.state]?.toLowerCase()}`}>{labelOf(CALL_STATES, call.state)}</td>
                <td>
                  {call.incident !== "" ? (
                    <a href={`#/incidents/${idOf(call.incident)}`}>
                      {folios.current.get(call.incident) || idOf(call.incident).slice(-8)}
                    </a>
                  ) : call.disposition !== CallDisposition.UNSPECIFIED ? (
                    labelOf(DISPOSITIONS, call.disposition)
                  ) : (
                    "—"
                  )}
                </td>
                <td>
                  {call.state === CallState.OPEN && call.name !== current?.name && !open && (
                    <button data-testid="recent-call-resume" type="button" onClick={() => void resume(call)}>
                      {t.resume}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {recent.length === 0 && recentRefusal === null && <p class="hint">{t.noRecent}</p>}
      </section>
    </div>
  );
}

function TypeAhead(props: {
  inputRef: { current: HTMLInputElement | null };
  value: string;
  types: IncidentType[];
  locked: boolean;
  label: string;
  help: string;
  bad: boolean;
  onChange: (value: string) => void;
}) {
  const { value, types, locked, label, help, bad, onChange } = props;
  const [expanded, setExpanded] = useState(false);
  const [active, setActive] = useState(0);
  const query = fold(value.trim());
  const matches = useMemo(() => {
    if (query === "") return types.slice(0, 8);
    const scored: [number, IncidentType][] = [];
    for (const type of types) {
      const code = fold(type.code);
      const name = fold(type.displayName);
      const score = code === query ? 0 : code.startsWith(query) ? 1 : code.includes(query) ? 2 : name.includes(query) ? 3 : -1;
      if (score >= 0) scored.push([score, type]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1].code.localeCompare(b[1].code));
    return scored.slice(0, 8).map(([, type]) => type);
  }, [query, types]);
  const shown = expanded && !locked && matches.length > 0;
  const pick = (type: IncidentType | undefined) => {
    if (type === undefined) return;
    onChange(type.code);
    setExpanded(false);
  };
  const onKeyDown = (event: KeyboardEvent) => {
    if (locked) return;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!expanded) {
          setExpanded(true);
          setActive(0);
        } else setActive((i) => Math.min(i + 1, matches.length - 1));
        break;
      case "ArrowUp":
        event.preventDefault();
        setActive((i) => Math.max(i - 1, 0));
        break;
      case "Enter":
        if (event.ctrlKey || event.metaKey || !shown) return;
        event.preventDefault();
        pick(matches[active]);
        break;
      case "Tab":
        // Tab takes the highlighted type (and moves on) once something was typed.
        if (shown && query !== "" && !event.shiftKey) pick(matches[active]);
        break;
      case "Escape":
        if (shown) {
          event.preventDefault();
          event.stopPropagation();
          setExpanded(false);
        }
        break;
    }
  };
  return (
    <div class="typeahead">
      <label>
        {label}
        <input
          ref={props.inputRef}
          data-testid="call-type"
          role="combobox"
          aria-expanded={shown}
          aria-controls="ct-type-options"
          aria-autocomplete="list"
          aria-activedescendant={shown ? `ct-type-${active}` : undefined}
          aria-invalid={bad}
          autocomplete="off"
          spellcheck={false}
          value={value}
          readOnly={locked}
          onInput={(e) => {
            onChange(e.currentTarget.value);
            setExpanded(true);
            setActive(0);
          }}
          onKeyDown={onKeyDown}
          onBlur={() => setExpanded(false)}
        />
        <span class={`hint ${bad ? "bad" : ""}`} data-testid="call-type-name">
          {help}
        </span>
      </label>
      {shown && (
        <ul id="ct-type-options" role="listbox" class="typeahead-list" data-testid="call-type-options">
          {matches.map((type, index) => (
            <li
              key={type.code}
              id={`ct-type-${index}`}
              role="option"
              aria-selected={index === active}
              class={index === active ? "active" : ""}
              data-testid="call-type-option"
              data-code={type.code}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(type);
              }}
            >
              <code>{type.code}</code> <span>{type.displayName}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Suggestion(props: {
  candidate: DuplicateCandidate;
  rank: number;
  type: IncidentType | undefined;
  canLink: boolean;
  linked: boolean;
  busy: boolean;
  onLink: () => void;
}) {
  const t = useText(T);
  const { candidate, rank, type, canLink, linked, busy, onLink } = props;
  return (
    <li data-testid="duplicate-suggestion" data-incident={candidate.incident} data-rank={rank} class={`suggestion ${linked ? "linked" : ""}`}>
      <div class="sg-head">
        <span class="sg-rank" aria-hidden="true">
          {rank}
        </span>
        <a class="mono" href={`#/incidents/${idOf(candidate.incident)}`}>
          {candidate.incidentFolio}
        </a>
        <span class={incidentStatusClass(candidate.status)}>{incidentStatusLabel(candidate.status)}</span>
        <span class="sg-score" title={t.likelihood}>
          {Math.round(candidate.likelihood * 100)}%
        </span>
      </div>
      <div class="sg-type">
        <code>{candidate.incidentType || "—"}</code> {type?.displayName ?? ""}
      </div>
      <div class="sg-facts">
        <span data-testid="suggestion-distance">
          {t.away.replace("{d}", distance(candidate.distanceM))}
        </span>
        <span data-testid="suggestion-age">
          {t.old} {span(candidate.age)}
        </span>
        <span data-testid="suggestion-calls">
          {candidate.linkedCallCount} {candidate.linkedCallCount === 1 ? t.call1 : t.calls}
        </span>
      </div>
      <div class="sg-reasons">
        {candidate.reasons.map((reason) => (
          <span key={reason} class="chip" data-reason={reason}>
            {labelOf(DUPLICATE_REASONS, reason)}
          </span>
        ))}
      </div>
      <p class="sg-why">{candidate.explanation}</p>
      {linked && <span class="sg-linked">✓ {t.linkedTo}</span>}
      {canLink && (
        <button data-testid="link-suggestion" type="button" disabled={busy} onClick={onLink}>
          {t.link} {rank <= 9 && (
            <>
              <kbd>Alt</kbd>+<kbd>{rank}</kbd>
            </>
          )}
        </button>
      )}
    </li>
  );
}

function CurrentCall(props: {
  panel: { current: HTMLDivElement | null };
  call: Call | null;
  replayed: boolean;
  outcome: Outcome | null;
  busy: boolean;
  canOpen: boolean;
  canDispose: boolean;
  disposing: boolean;
  disposeReason: CallDisposition;
  disposeNote: string;
  disposeSelect: { current: HTMLSelectElement | null };
  refused: Refusal | null;
  onOpen: () => void;
  onStartDispose: () => void;
  onReason: (reason: CallDisposition) => void;
  onNote: (note: string) => void;
  onDispose: () => void;
  onCancelDispose: () => void;
  onNext: () => void;
}) {
  const t = useText(T);
  const { call, outcome } = props;
  if (call === null) return null;
  const open = call.state === CallState.OPEN;
  const noteRequired = props.disposeReason === CallDisposition.OTHER;
  return (
    <div
      ref={props.panel}
      tabIndex={-1}
      class={`ct-current ct-state-${CallState[call.state]?.toLowerCase()}`}
      data-testid="current-call"
      data-call={call.name}
      data-state={CallState[call.state]}
      aria-live="polite"
    >
      <h3>
        {t.currentCall}: <span class="mono" data-testid="current-call-folio">{call.folio}</span>{" "}
        <span class="ct-badge">{labelOf(CALL_STATES, call.state)}</span> {props.replayed && <span class="hint">{t.replayed}</span>}
      </h3>
      {open && (
        <div class="ct-actions">
          {props.canOpen && (
            <button data-testid="open-incident" type="button" disabled={props.busy} onClick={props.onOpen}>
              {t.openIncident} <kbd>Alt</kbd>+<kbd>N</kbd>
            </button>
          )}
          {props.canDispose && !props.disposing && (
            <button data-testid="dispose-call" type="button" class="danger" disabled={props.busy} onClick={props.onStartDispose}>
              {t.dispose} <kbd>Alt</kbd>+<kbd>D</kbd>
            </button>
          )}
        </div>
      )}
      {open && props.disposing && (
        <form
          class="ct-dispose"
          data-testid="dispose-form"
          onSubmit={(event) => {
            event.preventDefault();
            props.onDispose();
          }}
        >
          <label>
            {t.disposeReason}
            <EnumSelect
              selectRef={props.disposeSelect}
              testid="dispose-reason"
              names={CallDisposition}
              values={DISPOSITION_VALUES}
              labels={DISPOSITIONS}
              value={props.disposeReason}
              onChange={props.onReason}
              onKeyDown={(event) => {
                if (event.key === "Enter" && !event.ctrlKey) {
                  event.preventDefault();
                  props.onDispose();
                }
              }}
            />
          </label>
          <label class="grow">
            {noteRequired ? t.disposeNoteRequired : t.disposeNote}
            <input
              data-testid="dispose-note"
              value={props.disposeNote}
              required={noteRequired}
              onInput={(e) => props.onNote(e.currentTarget.value)}
            />
          </label>
          <button data-testid="dispose-confirm" type="submit" class="danger" disabled={props.busy}>
            {t.confirm} <kbd>Enter</kbd>
          </button>
          <button type="button" onClick={props.onCancelDispose}>
            {t.cancel} <kbd>Esc</kbd>
          </button>
        </form>
      )}
      {props.refused !== null && <RefusalView refusal={props.refused} />}
      {outcome !== null && (
        <div class="ct-outcome" data-testid="call-outcome" data-incident={outcome.incident} data-state={CallState[outcome.state]}>
          {outcome.incident !== "" ? (
            <>
              {outcome.opened ? t.openedIncident : t.linkedTo}{" "}
              <a class="mono" href={`#/incidents/${idOf(outcome.incident)}`} data-testid="call-outcome-incident">
                {outcome.incidentFolio || idOf(outcome.incident)}
              </a>
            </>
          ) : (
            <>
              {t.disposedAs} {labelOf(DISPOSITIONS, outcome.disposition)}
            </>
          )}
        </div>
      )}
      {!open && (
        <button data-testid="next-call" type="button" onClick={props.onNext}>
          {t.nextCall} <kbd>Alt</kbd>+<kbd>C</kbd>
        </button>
      )}
    </div>
  );
}

function KeyHints(props: { canLink: boolean; canOpen: boolean; canDispose: boolean }) {
  const t = useText(T);
  return (
    <p class="ct-keys hint" data-testid="call-keys">
      {t.keys}: <kbd>Ctrl</kbd>+<kbd>Enter</kbd> {t.kSubmit}
      {props.canLink && (
        <>
          {" · "}
          <kbd>Alt</kbd>+<kbd>1</kbd>…<kbd>9</kbd> {t.kLink}
        </>
      )}
      {props.canOpen && (
        <>
          {" · "}
          <kbd>Alt</kbd>+<kbd>N</kbd> {t.kOpen}
        </>
      )}
      {props.canDispose && (
        <>
          {" · "}
          <kbd>Alt</kbd>+<kbd>D</kbd> {t.kDispose}
        </>
      )}
      {" · "}
      <kbd>Alt</kbd>+<kbd>C</kbd> {t.kNext}
    </p>
  );
}

/** A one-line text box of the call form, labelled by its caption. */
function FormField(props: {
  label: string;
  testid: string;
  value: string;
  readOnly: boolean;
  class?: string;
  numeric?: boolean;
  onInput: (value: string) => void;
}) {
  return (
    <label class={props.class}>
      {props.label}
      <input
        data-testid={props.testid}
        inputMode={props.numeric ? "numeric" : undefined}
        autocomplete="off"
        value={props.value}
        readOnly={props.readOnly}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </label>
  );
}

/** A select of the call form over the values of an enum a request may carry, labelled by its caption. */
function EnumField<E extends number>(props: {
  label: string;
  testid: string;
  names: EnumNames;
  labels: Labels<E>;
  value: E;
  disabled: boolean;
  onChange: (value: E) => void;
}) {
  return (
    <label>
      {props.label}
      <EnumSelect
        testid={props.testid}
        names={props.names}
        values={enumValues<E>(props.names)}
        labels={props.labels}
        value={props.value}
        disabled={props.disabled}
        onChange={props.onChange}
      />
    </label>
  );
}
