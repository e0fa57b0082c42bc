// The partner agency's screen: only its referrals, live (WatchReferrals scopes them by role: a
// partner sees those addressed to it, a supervisor all), newest first; accept, decline with a
// reason, move the status on; the follow-ups due and overdue; its capacity.
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, refusal, requestId, type Refusal } from "../api";
import { useText } from "../i18n";
import { may, useSession } from "../session";
import { referrals } from "../feeds";
import { useLive } from "../live";
import { idOf, toDate } from "../format";
import { EnumSelect, HeadCells, RefusalView, useNow } from "../widgets";
import {
  FollowUpOutcome,
  FollowUpStatus,
  ReferralStatus,
  type FollowUp,
  type Referral,
} from "../gen/dispatch/v1/referral_pb";
import type { PartnerAgency } from "../gen/dispatch/v1/directory_pb";
import { AGE_RANGES, FOLLOW_UP_OUTCOMES, FOLLOW_UP_STATUSES, NEEDS, REFERRAL_STATUSES, SAFE_CHANNELS, enumValues, labelOf } from "../labels";
import { relative, when } from "./partner-format";
import "./partner.css";

const T = {
  referrals: { es: "Canalizaciones", en: "Referrals" },
  none: { es: "No hay canalizaciones.", en: "No referrals." },
  created: { es: "Recibida", en: "Received" },
  victim: { es: "Víctima", en: "Victim" },
  partner: { es: "Institución", en: "Partner" },
  needs: { es: "Necesidades", en: "Needs" },
  contact: { es: "Contacto seguro", en: "Safe contact" },
  notes: { es: "Notas", en: "Notes" },
  status: { es: "Estado", en: "Status" },
  actions: { es: "Acciones", en: "Actions" },
  accept: { es: "Aceptar", en: "Accept" },
  decline: { es: "Rechazar", en: "Decline" },
  declineReason: { es: "Motivo del rechazo", en: "Reason for declining" },
  declineNeedsReason: { es: "Escriba el motivo para rechazar.", en: "Type the reason to decline." },
  newStatus: { es: "Nuevo estado", en: "New status" },
  statusNote: { es: "Nota (obligatoria para cancelar)", en: "Note (required to cancel)" },
  apply: { es: "Aplicar", en: "Apply" },
  incident: { es: "Incidente", en: "Incident" },
  handoff: { es: "Traslado médico urgente (sin consentimiento)", en: "Life-threat medical hand-off (no consent)" },
  consentBy: { es: "Consentimiento de", en: "Consent by" },
  safety: { es: "Seguridad", en: "Safety" },
  declinedBecause: { es: "Motivo", en: "Reason" },
  followUps: { es: "Seguimientos", en: "Follow-ups" },
  noFollowUps: { es: "No hay seguimientos pendientes.", en: "No follow-ups." },
  due: { es: "Vence", en: "Due" },
  outcome: { es: "Resultado", en: "Outcome" },
  outcomeNote: { es: "Nota del resultado", en: "Outcome note" },
  record: { es: "Registrar", en: "Record" },
  capacity: { es: "Capacidad", en: "Capacity" },
  available: { es: "Lugares disponibles", en: "Available slots" },
  total: { es: "Lugares totales", en: "Total slots" },
  notAccepting: { es: "No recibe canalizaciones (desvío)", en: "Not accepting referrals (diversion)" },
  capacityNote: { es: "Nota", en: "Note" },
  save: { es: "Guardar capacidad", en: "Save capacity" },
  saved: { es: "Guardado", en: "Saved" },
  updated: { es: "Actualizada", en: "Updated" },
  loading: { es: "Cargando…", en: "Loading…" },
  feedRefused: { es: "El servidor rechazó la lista en vivo:", en: "The server refused the live list:" },
  overdueCount: { es: "vencidos", en: "overdue" },
  dueCount: { es: "pendientes", en: "due" },
};

/** What UpdateReferralStatus may move a referral to from each status (referral.proto). */
const NEXT: Partial<Record<ReferralStatus, ReferralStatus[]>> = {
  [ReferralStatus.REQUESTED]: [ReferralStatus.CANCELLED],
  [ReferralStatus.DECLINED]: [ReferralStatus.CANCELLED],
  [ReferralStatus.ACCEPTED]: [ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED],
  [ReferralStatus.IN_PROGRESS]: [ReferralStatus.ON_HOLD, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED],
  [ReferralStatus.ON_HOLD]: [ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED],
};

const OUTCOME_VALUES = enumValues<FollowUpOutcome>(FollowUpOutcome);

/** Idempotency keys per action, kept until the action succeeds (a retry reuses its key). */
function useActionKeys() {
  const keys = useRef(new Map<string, string>());
  return {
    key(action: string): string {
      let id = keys.current.get(action);
      if (id === undefined) {
        id = requestId();
        keys.current.set(action, id);
      }
      return id;
    },
    done(action: string): void {
      keys.current.delete(action);
    },
  };
}

export function PartnerScreen() {
  const t = useText(T);
  const session = useSession();
  const partner = session?.principal.partner ?? "";
  const feed = useLive(referrals());
  const now = useNow(30_000);
  // A supervisor sees every partner's referrals: name the partner of each.
  const [partnerNames, setPartnerNames] = useState<Map<string, string> | null>(null);
  useEffect(() => {
    if (partner !== "" || !may("DirectoryService/ListPartnerAgencies")) return;
    (async () => {
      const names = new Map<string, string>();
      let pageToken = "";
      do {
        const page = await api.directory.listPartnerAgencies({ pageSize: 500, pageToken });
        for (const agency of page.partnerAgencies) names.set(agency.name, agency.displayName);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      setPartnerNames(names);
    })().catch(() => setPartnerNames(new Map()));
  }, [partner]);
  const list = useMemo(
    () =>
      [...feed.items.values()].sort(
        (a, b) => (toDate(b.createTime)?.getTime() ?? 0) - (toDate(a.createTime)?.getTime() ?? 0) || b.name.localeCompare(a.name),
      ),
    [feed.changeCount, feed.items],
  );

  return (
    <div class="partner">
      {partner !== "" && may("DirectoryService/GetPartnerAgency") && <CapacityPanel partner={partner} />}
      <section class="panel" aria-labelledby="pt-referrals">
        <h2 id="pt-referrals">
          {t.referrals} <span class="hint">({list.length})</span>
        </h2>
        <div class="pt-table">
          <table data-testid="referral-list">
            <thead>
              <HeadCells columns={[t.created, ...(partner === "" ? [t.partner] : []), t.victim, t.needs, t.contact, t.notes, t.status, t.actions]} />
            </thead>
            <tbody>
              {list.map((referral) => (
                <ReferralRow
                  key={referral.name}
                  referral={referral}
                  now={now}
                  partnerName={partner === "" ? (partnerNames?.get(referral.partner) ?? shortId(referral.partner)) : null}
                />
              ))}
            </tbody>
          </table>
          {feed.state === "refused" && (
            <div class="refusal" role="alert" data-testid="feed-refused">
              {t.feedRefused} {feed.reason}
            </div>
          )}
          {list.length === 0 && feed.state !== "refused" && <p class="hint">{feed.state === "live" ? t.none : t.loading}</p>}
        </div>
      </section>
      {/* Shown to whoever reaches this screen: a role that may not list follow-ups sees the API's refusal. */}
      <FollowUps partner={partner} referrals={feed.items} version={feed.changeCount} />
    </div>
  );
}

function ReferralRow({ referral, partnerName, now }: { referral: Referral; partnerName: string | null; now: number }) {
  const t = useText(T);
  const keys = useActionKeys();
  const [reason, setReason] = useState("");
  const [next, setNext] = useState<ReferralStatus | null>(null);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const [hint, setHint] = useState("");
  const victim = referral.victim;
  const session = useSession();
  // A partner answers a request by accepting or declining it; cancelling a request (or a
  // declined one) is the centre's.
  const isPartner = (session?.principal.partner ?? "") !== "";
  const targets = (NEXT[referral.status] ?? []).filter(
    (status) =>
      !(
        isPartner &&
        status === ReferralStatus.CANCELLED &&
        (referral.status === ReferralStatus.REQUESTED || referral.status === ReferralStatus.DECLINED)
      ),
  );
  const chosen = next !== null && targets.includes(next) ? next : targets[0];
  const requested = referral.status === ReferralStatus.REQUESTED;

  const run = async (action: string, call: (id: string) => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    try {
      await call(keys.key(action));
      keys.done(action);
      setRefused(null);
      setHint("");
      after?.();
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setBusy(false);
    }
  };
  const accept = () =>
    run(`accept:${referral.name}`, (id) => api.referrals.acceptReferral({ requestId: id, name: referral.name, etag: referral.etag }));
  const decline = () => {
    const text = reason.trim();
    if (text === "") {
      setHint(t.declineNeedsReason);
      return;
    }
    void run(
      `decline:${referral.name}:${text}`,
      (id) => api.referrals.declineReferral({ requestId: id, name: referral.name, reason: text, etag: referral.etag }),
      () => setReason(""),
    );
  };
  const move = () => {
    if (chosen === undefined) return;
    const text = note.trim();
    void run(
      `status:${referral.name}:${chosen}:${text}`,
      (id) => api.referrals.updateReferralStatus({ requestId: id, name: referral.name, status: chosen, note: text, etag: referral.etag }),
      () => {
        setNote("");
        setNext(null);
      },
    );
  };

  const created = toDate(referral.createTime);
  return (
    <tr data-testid="referral-row" data-referral={referral.name} data-status={ReferralStatus[referral.status]} class={`pt-row pt-${ReferralStatus[referral.status]?.toLowerCase()}`}>
      <td>
        <div>{when(created)}</div>
        <div class="hint">{relative(created, now)}</div>
        <div class="hint">
          {t.incident}{" "}
          {may("IncidentTriageService/GetIncident") ? (
            <a class="mono" href={`#/incidents/${idOf(referral.incident)}`}>
              {shortId(referral.incident)}
            </a>
          ) : (
            <span class="mono">{shortId(referral.incident)}</span>
          )}
        </div>
      </td>
      {partnerName !== null && <td data-testid="referral-partner">{partnerName}</td>}
      <td>
        <strong>{victim?.alias || victim?.fullName || "—"}</strong>
        {victim?.fullName && victim.alias && <div>{victim.fullName}</div>}
        {victim !== undefined && (
          <div class="hint">
            {[labelOf(AGE_RANGES, victim.ageRange), victim.gender, victim.language].filter((part) => part !== "").join(" · ")}
          </div>
        )}
      </td>
      <td>
        <ul class="pt-needs">
          {referral.needs.map((need) => (
            <li key={need}>{labelOf(NEEDS, need)}</li>
          ))}
        </ul>
        {referral.lifeThreatMedicalHandoff && <div class="pt-warn">{t.handoff}</div>}
      </td>
      <td>
        {victim?.safeContact !== undefined ? (
          <>
            <div>
              {labelOf(SAFE_CHANNELS, victim.safeContact.channel)}: <span class="mono">{victim.safeContact.value}</span>
            </div>
            {victim.safeContact.safeTimes && <div class="hint">{victim.safeContact.safeTimes}</div>}
          </>
        ) : (
          "—"
        )}
      </td>
      <td class="pt-notes">
        {victim?.safetyNotes && (
          <div class="pt-warn">
            {t.safety}: {victim.safetyNotes}
          </div>
        )}
        {referral.notes && <div>{referral.notes}</div>}
        {referral.consent?.given && (
          <div class="hint">
            {t.consentBy} {referral.consent.givenBy}
            {referral.consent.scope ? ` (${referral.consent.scope})` : ""}
          </div>
        )}
        {referral.declineReason && (
          <div class="hint">
            {t.declinedBecause}: {referral.declineReason}
          </div>
        )}
      </td>
      <td>
        <span class={`pt-status pt-status-${ReferralStatus[referral.status]?.toLowerCase()}`}>{labelOf(REFERRAL_STATUSES, referral.status)}</span>
        <div class="hint">{relative(toDate(referral.statusTime), now)}</div>
      </td>
      <td class="pt-actions">
        {requested && may("VictimCareReferralService/AcceptReferral") && (
          <button data-testid="referral-accept" type="button" disabled={busy} onClick={() => void accept()}>
            {t.accept}
          </button>
        )}
        {requested && may("VictimCareReferralService/DeclineReferral") && (
          <InlineForm onSubmit={decline}>
            <NoteInput testid="decline-reason" label={t.declineReason} value={reason} required maxLength={4000} onInput={setReason} />
            <button data-testid="referral-decline" type="submit" class="danger" disabled={busy}>
              {t.decline}
            </button>
          </InlineForm>
        )}
        {targets.length > 0 && may("VictimCareReferralService/UpdateReferralStatus") && (
          <InlineForm onSubmit={move}>
            <EnumSelect
              testid="referral-status"
              label={t.newStatus}
              names={ReferralStatus}
              values={targets}
              labels={REFERRAL_STATUSES}
              value={chosen}
              onChange={setNext}
            />
            <NoteInput
              testid="referral-status-note"
              label={t.statusNote}
              placeholder={chosen === ReferralStatus.CANCELLED ? t.statusNote : t.capacityNote}
              value={note}
              onInput={setNote}
            />
            <button data-testid="referral-status-submit" type="submit" disabled={busy}>
              {t.apply}
            </button>
          </InlineForm>
        )}
        {hint !== "" && <p class="hint bad" role="alert">{hint}</p>}
        {refused !== null && <RefusalView refusal={refused} />}
      </td>
    </tr>
  );
}

/** A form inside a row: submitting it runs `onSubmit`, never reloads the page. */
function InlineForm({ onSubmit, children }: { onSubmit: () => void; children: ComponentChildren }) {
  return (
    <form
      class="pt-inline"
      onSubmit={(event) => {
        event.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}

/** A text box of a row's form, labelled for screen readers and, unless told otherwise, by its placeholder. */
function NoteInput(props: {
  testid: string;
  label: string;
  placeholder?: string;
  value: string;
  required?: boolean;
  maxLength?: number;
  onInput: (value: string) => void;
}) {
  return (
    <input
      data-testid={props.testid}
      aria-label={props.label}
      placeholder={props.placeholder ?? props.label}
      value={props.value}
      required={props.required}
      maxLength={props.maxLength}
      onInput={(e) => props.onInput(e.currentTarget.value)}
    />
  );
}

type DueState = "due" | "overdue" | "done";

/** "referrals/{uuid}/follow-ups/{uuid}" → "referrals/{uuid}". */
function referralOf(followUp: FollowUp): string {
  return followUp.name.slice(0, followUp.name.indexOf("/follow-ups/"));
}

/** A short, distinguishing form of a resource name (UUIDv7s share their leading time bits). */
function shortId(name: string): string {
  return idOf(name).slice(-8);
}

function dueState(followUp: FollowUp, now: number): DueState {
  if (followUp.status === FollowUpStatus.DONE) return "done";
  if (followUp.status === FollowUpStatus.OVERDUE) return "overdue";
  // PENDING is computed at read time: one that fell due since is overdue now.
  const due = toDate(followUp.dueTime);
  return due !== null && due.getTime() < now ? "overdue" : "due";
}

function FollowUps({ partner, referrals, version }: { partner: string; referrals: Map<string, Referral>; version: number }) {
  const t = useText(T);
  const now = useNow(30_000);
  const [items, setItems] = useState<FollowUp[] | null>(null);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const seq = useRef(0);

  const load = async () => {
    const mine = ++seq.current;
    try {
      const out: FollowUp[] = [];
      let pageToken = "";
      do {
        const page = await api.referrals.listFollowUps({
          partner,
          statuses: [FollowUpStatus.OVERDUE, FollowUpStatus.PENDING, FollowUpStatus.DONE],
          pageSize: 500,
          pageToken,
        });
        out.push(...page.followUps);
        pageToken = page.nextPageToken;
      } while (pageToken !== "" && out.length < 2000);
      if (mine !== seq.current) return;
      setItems(out);
      setRefused(null);
    } catch (error) {
      if (mine === seq.current) setRefused(refusal(error));
    }
  };

  // Follow-ups change with their referral (recorded, cancelled): re-read on the feed's changes.
  useEffect(() => {
    const timer = setTimeout(() => void load(), items === null ? 0 : 300);
    return () => clearTimeout(timer);
  }, [partner, version]);

  const rows = useMemo(() => {
    // A follow-up of a declined or cancelled referral is nobody's work here (RecordFollowUp
    // refuses it): left out.
    const closed = (followUp: FollowUp) => {
      const status = referrals.get(referralOf(followUp))?.status;
      return status === ReferralStatus.DECLINED || status === ReferralStatus.CANCELLED;
    };
    const list = (items ?? []).filter((followUp) => !closed(followUp)).map((followUp) => ({ followUp, state: dueState(followUp, now) }));
    const order: Record<DueState, number> = { overdue: 0, due: 1, done: 2 };
    // Overdue first, then due, then the done ones (newest done first).
    return list.sort((a, b) => {
      if (a.state !== b.state) return order[a.state] - order[b.state];
      if (a.state === "done") return (toDate(b.followUp.doneTime)?.getTime() ?? 0) - (toDate(a.followUp.doneTime)?.getTime() ?? 0);
      return (toDate(a.followUp.dueTime)?.getTime() ?? 0) - (toDate(b.followUp.dueTime)?.getTime() ?? 0);
    });
  }, [items, now, version]);
  const overdue = rows.filter((row) => row.state === "overdue").length;
  const due = rows.filter((row) => row.state === "due").length;

  return (
    <section class="panel" aria-labelledby="pt-followups">
      <h2 id="pt-followups">
        {t.followUps}{" "}
        <span class="hint">
          <span class={overdue > 0 ? "pt-overdue-count" : ""} data-testid="followups-overdue">
            {overdue} {t.overdueCount}
          </span>{" "}
          · {due} {t.dueCount}
        </span>
      </h2>
      {refused !== null && <RefusalView refusal={refused} />}
      <div class="pt-table">
        <table data-testid="followup-list">
          <thead>
            <HeadCells columns={[t.due, t.victim, t.status, t.outcome, t.actions]} />
          </thead>
          <tbody>
            {rows.map(({ followUp, state }) => (
              <FollowUpRow
                key={followUp.name}
                followUp={followUp}
                state={state}
                referral={referrals.get(referralOf(followUp))}
                now={now}
                onDone={() => void load()}
              />
            ))}
          </tbody>
        </table>
        {items !== null && rows.length === 0 && <p class="hint">{t.noFollowUps}</p>}
        {items === null && refused === null && <p class="hint">{t.loading}</p>}
      </div>
    </section>
  );
}

function FollowUpRow(props: { followUp: FollowUp; state: DueState; referral: Referral | undefined; now: number; onDone: () => void }) {
  const t = useText(T);
  const { followUp, state, referral, now } = props;
  const keys = useActionKeys();
  const [outcome, setOutcome] = useState<FollowUpOutcome>(FollowUpOutcome.REACHED_SAFE);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const referralName = referralOf(followUp);
  const due = toDate(followUp.dueTime);
  const record = async () => {
    const text = note.trim();
    const action = `followup:${followUp.name}:${outcome}:${text}`;
    setBusy(true);
    try {
      await api.referrals.recordFollowUp({
        requestId: keys.key(action),
        referral: referralName,
        followUp: followUp.name,
        outcome,
        outcomeNote: text,
      });
      keys.done(action);
      setRefused(null);
      props.onDone();
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-testid="followup-row" data-followup={followUp.name} data-referral={referralName} data-due-state={state} class={`pt-fu-${state}`}>
      <td>
        <div>{when(due)}</div>
        <div class="hint">{state === "done" ? when(toDate(followUp.doneTime)) : relative(due, now)}</div>
      </td>
      <td>
        <strong>{referral?.victim?.alias || referral?.victim?.fullName || shortId(referralName)}</strong>
        {referral !== undefined && <div class="hint">{labelOf(REFERRAL_STATUSES, referral.status)}</div>}
      </td>
      <td>
        <span class={`pt-due pt-due-${state}`}>{state === "overdue" ? labelOf(FOLLOW_UP_STATUSES, FollowUpStatus.OVERDUE) : labelOf(FOLLOW_UP_STATUSES, followUp.status)}</span>
      </td>
      <td>
        {followUp.outcome !== FollowUpOutcome.UNSPECIFIED ? labelOf(FOLLOW_UP_OUTCOMES, followUp.outcome) : "—"}
        {followUp.outcomeNote && <div class="hint">{followUp.outcomeNote}</div>}
      </td>
      <td class="pt-actions">
        {state !== "done" && may("VictimCareReferralService/RecordFollowUp") && (
          <InlineForm onSubmit={() => void record()}>
            <EnumSelect
              testid="followup-outcome"
              label={t.outcome}
              names={FollowUpOutcome}
              values={OUTCOME_VALUES}
              labels={FOLLOW_UP_OUTCOMES}
              value={outcome}
              onChange={setOutcome}
            />
            <NoteInput testid="followup-note" label={t.outcomeNote} value={note} onInput={setNote} />
            <button data-testid="followup-record" type="submit" disabled={busy}>
              {t.record}
            </button>
          </InlineForm>
        )}
        {refused !== null && <RefusalView refusal={refused} />}
      </td>
    </tr>
  );
}

function CapacityPanel({ partner }: { partner: string }) {
  const t = useText(T);
  const keys = useActionKeys();
  const [agency, setAgency] = useState<PartnerAgency | null>(null);
  const [available, setAvailable] = useState("");
  const [total, setTotal] = useState("");
  const [notAccepting, setNotAccepting] = useState(false);
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);

  const show = (value: PartnerAgency) => {
    setAgency(value);
    setAvailable(String(value.capacity?.availableSlots ?? 0));
    setTotal(String(value.capacity?.totalSlots ?? 0));
    setNotAccepting(value.capacity?.notAccepting ?? false);
    setNote(value.capacity?.note ?? "");
  };

  useEffect(() => {
    api.directory.getPartnerAgency({ name: partner }).then(
      (response) => response.partnerAgency !== undefined && show(response.partnerAgency),
      (error) => setRefused(refusal(error)),
    );
  }, [partner]);

  const submit = async (event: Event) => {
    event.preventDefault();
    const capacity = {
      // The inputs take whole numbers only (min 0, step 1: the browser checks before submitting).
      availableSlots: Math.trunc(Number(available)) || 0,
      totalSlots: Math.trunc(Number(total)) || 0,
      notAccepting,
      note: note.trim(),
    };
    const action = `capacity:${JSON.stringify(capacity)}:${agency?.etag ?? ""}`;
    setBusy(true);
    setSaved(false);
    try {
      const response = await api.directory.updatePartnerCapacity({
        requestId: keys.key(action),
        partner,
        capacity,
        etag: agency?.etag ?? "",
      });
      keys.done(action);
      if (response.partnerAgency !== undefined) show(response.partnerAgency);
      setRefused(null);
      setSaved(true);
    } catch (error) {
      setRefused(refusal(error));
    } finally {
      setBusy(false);
    }
  };

  const canSave = may("DirectoryService/UpdatePartnerCapacity");
  return (
    <section class="panel pt-capacity" aria-labelledby="pt-capacity">
      <h2 id="pt-capacity">
        {agency?.displayName ?? ""} · {t.capacity}
        {agency?.capacity?.updateTime && (
          <span class="hint">
            {" "}
            {t.updated} {when(toDate(agency.capacity.updateTime))}
          </span>
        )}
      </h2>
      <form data-testid="capacity-form" class="pt-capacity-form" onSubmit={submit}>
        <CountField label={t.available} testid="capacity-available" value={available} disabled={!canSave} onInput={setAvailable} />
        <CountField label={t.total} testid="capacity-total" value={total} disabled={!canSave} onInput={setTotal} />
        <label class="pt-check">
          <input
            data-testid="capacity-not-accepting"
            type="checkbox"
            checked={notAccepting}
            disabled={!canSave}
            onChange={(e) => setNotAccepting(e.currentTarget.checked)}
          />
          {t.notAccepting}
        </label>
        <label class="grow">
          {t.capacityNote}
          <input data-testid="capacity-note" value={note} maxLength={500} disabled={!canSave} onInput={(e) => setNote(e.currentTarget.value)} />
        </label>
        {canSave && (
          <button data-testid="capacity-submit" type="submit" disabled={busy || agency === null}>
            {t.save}
          </button>
        )}
        {saved && (
          <span class="pt-saved" data-testid="capacity-saved" role="status">
            {t.saved}
          </span>
        )}
      </form>
      {refused !== null && <RefusalView refusal={refused} />}
    </section>
  );
}

/** A whole number of places, at least 0, of the capacity form. */
function CountField(props: { label: string; testid: string; value: string; disabled: boolean; onInput: (value: string) => void }) {
  return (
    <label>
      {props.label}
      <input
        data-testid={props.testid}
        type="number"
        min={0}
        step={1}
        value={props.value}
        disabled={props.disabled}
        onInput={(e) => props.onInput(e.currentTarget.value)}
      />
    </label>
  );
}
