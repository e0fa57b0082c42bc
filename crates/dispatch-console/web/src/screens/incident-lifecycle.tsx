// An incident's lifecycle: the dispatcher-driven status changes (ON_SCENE, RESOLVED), closing
// with C5's codes (DUPLICATE names the incident kept), cancelling with a reason, merging into
// another incident. Each shown only when the role may call its RPC; each refusal shown.
import { useState } from "preact/hooks";
import { api } from "../api";
import { incidents } from "../feeds";
import { may } from "../session";
import { useText } from "../i18n";
import { incidentStatusLabel } from "../labels";
import { RefusalView } from "../widgets";
import { ClosingCode, IncidentStatus, type Incident } from "../gen/dispatch/v1/incident_pb";
import { activeAssignments, resolveIncident } from "./dispatch-directory";
import { CLOSING, LineField, useMutation, useTextAction } from "./incident-common";
import { currentLang } from "../i18n";

const T = {
  title: { es: "Estado y cierre", en: "Status and closing" },
  to: { es: "Pasar a", en: "Move to" },
  close: { es: "Cerrar con código", en: "Close with code" },
  code: { es: "Código de cierre C5", en: "C5 closing code" },
  choose: { es: "— elegir —", en: "— choose —" },
  duplicateOf: { es: "Duplicado de (folio o nombre)", en: "Duplicate of (folio or name)" },
  note: { es: "Nota (opcional)", en: "Note (optional)" },
  closeSubmit: { es: "Cerrar incidente", en: "Close incident" },
  unitsStill: {
    es: "Hay unidades asignadas: libérelas o retírelas antes de cerrar.",
    en: "Units are still assigned: clear or release them before closing.",
  },
  cancel: { es: "Cancelar incidente", en: "Cancel incident" },
  cancelReason: { es: "Motivo de la cancelación", en: "Reason for cancelling" },
  cancelSubmit: { es: "Cancelar incidente", en: "Cancel incident" },
  merge: { es: "Fusionar en otro incidente", en: "Merge into another incident" },
  mergeInto: { es: "Incidente que se conserva (folio o nombre)", en: "Incident to keep (folio or name)" },
  mergeSubmit: { es: "Fusionar", en: "Merge" },
  notFound: {
    es: "No se encontró ese incidente entre los abiertos: escriba su folio completo o su nombre.",
    en: "No open incident matches: type its full folio or its name.",
  },
  same: { es: "Es este mismo incidente.", en: "That is this incident." },
  mergedInto: { es: "Fusionado en", en: "Merged into" },
};

/** The ChangeIncidentStatus targets legal from a status (the domain state machine). */
function statusTargets(status: IncidentStatus): IncidentStatus[] {
  switch (status) {
    case IncidentStatus.DISPATCHED:
      return [IncidentStatus.ON_SCENE];
    case IncidentStatus.ON_SCENE:
      return [IncidentStatus.RESOLVED];
    default:
      return [];
  }
}

export function LifecyclePanel({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const canStatus = may("IncidentTriageService/ChangeIncidentStatus");
  const canClose = may("IncidentTriageService/CloseIncident");
  const canCancel = may("IncidentTriageService/CancelIncident");
  const canMerge = may("IncidentTriageService/MergeIncidents");
  const status = useMutation();
  const targets = canStatus ? statusTargets(incident.status) : [];
  if (!canStatus && !canClose && !canCancel && !canMerge) return null;

  const change = async (target: IncidentStatus) => {
    const r = await status.run(`status:${incident.name}:${target}`, (requestId) =>
      api.triage.changeIncidentStatus({ requestId, name: incident.name, status: target }),
    );
    if (r?.incident !== undefined) onIncident(r.incident);
  };

  return (
    <section class="panel" data-testid="lifecycle" aria-labelledby="life-title">
      <h2 id="life-title">{t.title}</h2>
      {targets.length > 0 && (
        <div class="inc-actions">
          {targets.map((target) => (
            <button
              key={target}
              type="button"
              data-testid={`incident-status-${IncidentStatus[target]}`}
              disabled={status.busy}
              onClick={() => void change(target)}
            >
              {t.to} {incidentStatusLabel(target)}
            </button>
          ))}
        </div>
      )}
      {status.refused !== null && <RefusalView refusal={status.refused} />}
      {canClose && <CloseForm incident={incident} onIncident={onIncident} />}
      {canMerge && <MergeForm incident={incident} onIncident={onIncident} />}
      {canCancel && <CancelForm incident={incident} onIncident={onIncident} />}
    </section>
  );
}

function CloseForm({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const [code, setCode] = useState("");
  const [dup, setDup] = useState("");
  const [note, setNote] = useState("");
  const [local, setLocal] = useState("");
  const m = useMutation();
  const stillAssigned = activeAssignments(incident).length;
  const isDuplicate = code === ClosingCode[ClosingCode.DUPLICATE];

  const submit = async (event: Event) => {
    event.preventDefault();
    setLocal("");
    const closingCode = ClosingCode[code as keyof typeof ClosingCode] as ClosingCode | undefined;
    if (closingCode === undefined) return;
    let duplicateOf = "";
    if (isDuplicate) {
      const found = resolveIncident(dup, incidents().items);
      if (found === null) return setLocal(t.notFound);
      if (found === incident.name) return setLocal(t.same);
      duplicateOf = found;
    }
    const r = await m.run(`close:${incident.name}:${code}:${duplicateOf}:${note.trim()}`, (requestId) =>
      api.triage.closeIncident({ requestId, name: incident.name, closingCode, duplicateOf, note: note.trim() }),
    );
    if (r?.incident !== undefined) onIncident(r.incident);
  };

  return (
    <form class="inc-actions inc-subform" data-testid="close-form" onSubmit={submit} aria-label={t.close}>
      <label>
        {t.code}
        <select data-testid="close-code" value={code} required onChange={(e) => setCode(e.currentTarget.value)}>
          <option value="">{t.choose}</option>
          {CLOSING.map((c) => (
            <option key={c.code} value={ClosingCode[c.code]}>
              {c.letter} · {c.label[currentLang()]}
            </option>
          ))}
        </select>
      </label>
      {isDuplicate && (
        <label>
          {t.duplicateOf}
          <input data-testid="close-duplicate-of" required value={dup} onInput={(e) => setDup(e.currentTarget.value)} placeholder="INC/…" />
        </label>
      )}
      <LineField label={t.note} testid="close-note" maxLength={4000} value={note} onInput={setNote} />
      <button type="submit" data-testid="close-submit" disabled={m.busy || code === ""}>
        {t.closeSubmit}
      </button>
      {stillAssigned > 0 && <p class="hint">{t.unitsStill}</p>}
      {local !== "" && (
        <p class="shortfall" role="alert" data-testid="close-local-error">
          {local}
        </p>
      )}
      {m.refused !== null && <RefusalView refusal={m.refused} />}
    </form>
  );
}

function MergeForm({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const [into, setInto] = useState("");
  const [local, setLocal] = useState("");
  const [merged, setMerged] = useState<Incident | null>(null);
  const m = useMutation();
  const submit = async (event: Event) => {
    event.preventDefault();
    setLocal("");
    const survivor = resolveIncident(into, incidents().items);
    if (survivor === null) return setLocal(t.notFound);
    if (survivor === incident.name) return setLocal(t.same);
    const r = await m.run(`merge:${incident.name}:${survivor}`, (requestId) =>
      api.triage.mergeIncidents({ requestId, survivor, duplicate: incident.name }),
    );
    if (r !== null) {
      if (r.survivor !== undefined) setMerged(r.survivor);
      if (r.duplicate !== undefined) onIncident(r.duplicate);
    }
  };
  return (
    <form class="inc-actions inc-subform" data-testid="merge-form" onSubmit={submit} aria-label={t.merge}>
      <LineField label={t.mergeInto} testid="merge-into" required value={into} placeholder="INC/…" onInput={setInto} />
      <button type="submit" data-testid="merge-submit" disabled={m.busy || into.trim() === ""}>
        {t.mergeSubmit}
      </button>
      {local !== "" && (
        <p class="shortfall" role="alert" data-testid="merge-local-error">
          {local}
        </p>
      )}
      {merged !== null && (
        <p class="ok-msg" role="status">
          {t.mergedInto} <a href={`#/incidents/${merged.name.slice("incidents/".length)}`}>{merged.folio}</a>
        </p>
      )}
      {m.refused !== null && <RefusalView refusal={m.refused} />}
    </form>
  );
}

function CancelForm({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const m = useTextAction(onIncident, (reason) => [
    `cancel:${incident.name}:${reason}`,
    (requestId) => api.triage.cancelIncident({ requestId, name: incident.name, reason }),
  ]);
  return (
    <form class="inc-actions inc-subform" data-testid="cancel-form" onSubmit={m.submit} aria-label={t.cancel}>
      <LineField label={t.cancelReason} testid="cancel-reason" required maxLength={4000} value={m.text} onInput={m.setText} />
      <button type="submit" class="danger" data-testid="cancel-submit" disabled={m.busy || m.blank}>
        {t.cancelSubmit}
      </button>
      {m.refused !== null && <RefusalView refusal={m.refused} />}
    </form>
  );
}
