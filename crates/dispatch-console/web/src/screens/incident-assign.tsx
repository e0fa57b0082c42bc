// Recommend → ranked candidates → assign, and the units assigned to the incident. The
// recommendation's picked candidates start selected; assigning anything else needs an override
// reason, stored with the assignment (AssignUnits with the recommendation's name).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { may } from "../session";
import { useText } from "../i18n";
import { clock, distance, toDate } from "../format";
import { assignmentLabel, unitStatusLabel, unitTypeLabel } from "../labels";
import { HeadCells, RefusalView, StatusBadge } from "../widgets";
import { AssignmentStatus, type Assignment, type Incident } from "../gen/dispatch/v1/incident_pb";
import type { Recommendation } from "../gen/dispatch/v1/recommendation_pb";
import { UnitStatus } from "../gen/dispatch/v1/unit_pb";
import { agencyCode, unitNextStatuses, useDirectory } from "./dispatch-directory";
import { assignmentClass, duration, LineField, useMutation, useTextAction, Who } from "./incident-common";

const T = {
  title: { es: "Recomendación y asignación", en: "Recommend and assign" },
  recommend: { es: "Recomendar unidades", en: "Recommend units" },
  again: { es: "Recomendar de nuevo", en: "Recommend again" },
  requirement: { es: "Requisito", en: "Requirement" },
  rank: { es: "#", en: "#" },
  unit: { es: "Unidad", en: "Unit" },
  type: { es: "Tipo", en: "Type" },
  agency: { es: "Corporación", en: "Agency" },
  eta: { es: "Tiempo estimado", en: "ETA" },
  dist: { es: "Distancia", en: "Distance" },
  why: { es: "Por qué", en: "Why" },
  fix: { es: "Posición", en: "Position" },
  stale: { es: "posición vieja", en: "stale fix" },
  ago: { es: "hace {}", en: "{} ago" },
  select: { es: "Enviar", en: "Send" },
  picked: { es: "recomendada", en: "recommended" },
  alreadyAssigned: { es: "ya asignadas", en: "already assigned" },
  shortfall: { es: "Faltan", en: "Short by" },
  shortfallUnits: { es: "unidad(es) con", en: "unit(s) with" },
  totalShortfall: { es: "Faltante total", en: "Total shortfall" },
  noCandidates: { es: "Ninguna unidad disponible con esta capacidad.", en: "No available unit with this capability." },
  override: { es: "Motivo para no seguir la recomendación (obligatorio)", en: "Why not follow the recommendation (required)" },
  assign: { es: "Asignar seleccionadas", en: "Assign selected" },
  assigned: { es: "Asignadas", en: "Assigned" },
  planOverridden: { es: "plan sustituido", en: "plan overridden" },
  units: { es: "Unidades asignadas", en: "Assigned units" },
  none: { es: "Ninguna unidad asignada.", en: "No unit assigned." },
  history: { es: "Asignaciones terminadas", en: "Finished assignments" },
  status: { es: "Estado", en: "Status" },
  times: { es: "Despacho", en: "Dispatched" },
  onScene: { es: "En sitio", en: "On scene" },
  by: { es: "por", en: "by" },
  overrideWas: { es: "sin seguir la recomendación", en: "override" },
  release: { es: "Retirar", en: "Release" },
  releaseReason: { es: "Motivo del retiro", en: "Reason for release" },
  releaseSubmit: { es: "Retirar unidad", en: "Release unit" },
  cancel: { es: "Cancelar", en: "Cancel" },
  to: { es: "→", en: "→" },
  made: { es: "Hecha", en: "Made" },
  selectedCount: { es: "seleccionadas", en: "selected" },
};

export function RecommendPanel({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const directory = useDirectory();
  const [rec, setRec] = useState<Recommendation | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState("");
  const [done, setDone] = useState<string[] | null>(null);
  const recommend = useMutation();
  const assign = useMutation();
  const canAssign = may("UnitAssignmentService/AssignUnits");

  const picked = useMemo(() => {
    const set = new Set<string>();
    for (const fill of rec?.fills ?? []) for (const c of fill.candidates) if (c.picked) set.add(c.unit);
    return set;
  }, [rec]);
  /** Units in the order the recommendation lists them. */
  const order = useMemo(() => (rec?.fills ?? []).flatMap((f) => f.candidates.map((c) => c.unit)), [rec]);
  const differs = selected.size !== picked.size || [...selected].some((u) => !picked.has(u));

  const doRecommend = async () => {
    setDone(null);
    const r = await recommend.run(`recommend:${incident.name}`, (requestId) =>
      api.units.recommendUnits({ requestId, incident: incident.name }),
    );
    if (r?.recommendation !== undefined) {
      const next = r.recommendation;
      setRec(next);
      const pre = new Set<string>();
      for (const fill of next.fills) for (const c of fill.candidates) if (c.picked) pre.add(c.unit);
      setSelected(pre);
      setReason("");
      assign.clear();
    }
  };

  const doAssign = async (event: Event) => {
    event.preventDefault();
    if (rec === null || selected.size === 0) return;
    const units = order.filter((u) => selected.has(u));
    const overrideReason = differs ? reason.trim() : "";
    const r = await assign.run(`assign:${rec.name}:${units.join(",")}:${overrideReason}`, (requestId) =>
      api.units.assignUnits({ requestId, incident: incident.name, units, recommendation: rec.name, overrideReason }),
    );
    if (r?.incident !== undefined) {
      onIncident(r.incident);
      setDone(r.units.map((u) => u.callSign));
      setRec(null);
      setSelected(new Set());
      setReason("");
    }
  };

  const toggle = (unit: string) =>
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(unit)) next.delete(unit);
      else next.add(unit);
      return next;
    });

  return (
    <section class="panel" data-testid="recommendation" aria-labelledby="rec-title">
      <h2 id="rec-title">{t.title}</h2>
      <div class="inc-actions">
        <button type="button" data-testid="recommend" onClick={doRecommend} disabled={recommend.busy}>
          {rec === null ? t.recommend : t.again}
        </button>
        {rec !== null && (
          <span class="hint" data-testid="recommendation-name" data-recommendation={rec.name}>
            {t.made} {clock(toDate(rec.createTime))}
            {rec.planOverridden && ` · ${t.planOverridden}`}
          </span>
        )}
        {done !== null && (
          <span class="ok-msg" data-testid="assign-result" role="status">
            {t.assigned}: {done.join(", ")}
          </span>
        )}
      </div>
      {recommend.refused !== null && <RefusalView refusal={recommend.refused} />}
      {rec !== null && (
        <form onSubmit={doAssign} class="inc-subform">
          {rec.totalShortfall > 0 && (
            <p class="shortfall" data-testid="total-shortfall" data-shortfall={rec.totalShortfall}>
              {t.totalShortfall}: {rec.totalShortfall}
            </p>
          )}
          <div class="dsp-table-wrap">
            <table class="dsp-table cand-table" data-testid="candidates">
              <thead>
                <HeadCells
                  columns={[t.select, t.rank, t.unit, { label: t.eta, num: true }, { label: t.dist, num: true }, t.fix, t.why]}
                />
              </thead>
              {rec.fills.map((fill, fi) => {
                const req = fill.requirement;
                return (
                  <tbody key={fi} data-testid="fill" data-capability={req?.capability ?? ""}>
                    <tr class="ub-group">
                      <th colSpan={7} scope="colgroup">
                        {t.requirement}: <strong>{req?.count ?? 0}</strong> × <code>{req?.capability ?? "?"}</code>
                        {req?.description !== undefined && req.description !== "" && <span>{req.description}</span>}
                        {fill.alreadyAssigned.length > 0 && (
                          <span>
                            · {fill.alreadyAssigned.length} {t.alreadyAssigned}
                          </span>
                        )}
                        {fill.shortfall > 0 && (
                          <span class="shortfall" data-testid="shortfall" data-capability={req?.capability ?? ""} data-shortfall={fill.shortfall}>
                            · {t.shortfall} {fill.shortfall} {t.shortfallUnits} {req?.capability ?? ""}
                          </span>
                        )}
                      </th>
                    </tr>
                    {fill.candidates.length === 0 && (
                      <tr>
                        <td colSpan={7} class="hint">
                          {t.noCandidates}
                        </td>
                      </tr>
                    )}
                    {fill.candidates.map((c) => (
                      <tr
                        key={c.unit}
                        data-testid="candidate"
                        data-unit={c.unit}
                        data-callsign={c.callSign}
                        data-rank={c.rank}
                        data-picked={c.picked ? "true" : "false"}
                        class={c.picked ? "picked" : undefined}
                      >
                        <td>
                          <input
                            type="checkbox"
                            data-testid="candidate-select"
                            aria-label={`${t.select} ${c.callSign}`}
                            checked={selected.has(c.unit)}
                            disabled={!canAssign}
                            onChange={() => toggle(c.unit)}
                          />
                        </td>
                        <td class="num">{c.rank}</td>
                        <td>
                          <strong class="mono">{c.callSign}</strong>
                          {c.picked && <span class="picked-tag"> {t.picked}</span>}
                          <div class="hint">
                            {unitTypeLabel(c.unitType)} · {agencyCode(directory, c.agency)}
                          </div>
                        </td>
                        <td class="num mono" data-testid="candidate-eta">
                          {duration(c.eta)}
                        </td>
                        <td class="num mono" data-testid="candidate-distance">
                          {distance(c.straightLineM)}
                        </td>
                        <td>
                          {c.stalePosition ? (
                            <span class="stale-flag" data-testid="candidate-stale" title={`${t.stale}`}>
                              {t.stale} · {t.ago.replace("{}", duration(c.positionAge))}
                            </span>
                          ) : (
                            <span class="hint">{t.ago.replace("{}", duration(c.positionAge))}</span>
                          )}
                        </td>
                        <td class="cand-why" data-testid="candidate-why">
                          {c.reason}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                );
              })}
            </table>
          </div>
          {canAssign && (
            <div class="inc-actions inc-subform">
              {differs && (
                <LineField label={t.override} testid="override-reason" required maxLength={4000} value={reason} onInput={setReason} />
              )}
              <button
                type="submit"
                data-testid="assign"
                disabled={assign.busy || selected.size === 0 || (differs && reason.trim() === "")}
              >
                {t.assign} ({selected.size})
              </button>
            </div>
          )}
          {assign.refused !== null && <RefusalView refusal={assign.refused} />}
        </form>
      )}
    </section>
  );
}

const ACTIVE_TO_UNIT: Partial<Record<AssignmentStatus, UnitStatus>> = {
  [AssignmentStatus.DISPATCHED]: UnitStatus.DISPATCHED,
  [AssignmentStatus.EN_ROUTE]: UnitStatus.EN_ROUTE,
  [AssignmentStatus.ON_SCENE]: UnitStatus.ON_SCENE,
  [AssignmentStatus.TRANSPORTING]: UnitStatus.TRANSPORTING,
  [AssignmentStatus.AT_HOSPITAL]: UnitStatus.AT_HOSPITAL,
};

export function AssignedUnits({ incident, onIncident }: { incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const active = incident.assignments.filter((a) => ACTIVE_TO_UNIT[a.status] !== undefined);
  const finished = incident.assignments.filter((a) => ACTIVE_TO_UNIT[a.status] === undefined);
  return (
    <section class="panel" data-testid="assigned-units" aria-labelledby="assigned-title">
      <h2 id="assigned-title">
        {t.units} <span class="dsp-count">{active.length}</span>
      </h2>
      {active.length === 0 && <p class="hint">{t.none}</p>}
      {active.length > 0 && (
        <table class="dsp-table">
          <thead>
            <HeadCells columns={[t.unit, t.status, t.times, ""]} />
          </thead>
          <tbody>
            {active.map((a) => (
              <AssignedRow key={`${a.unit}:${String(a.dispatchTime?.seconds ?? 0n)}`} a={a} incident={incident} onIncident={onIncident} />
            ))}
          </tbody>
        </table>
      )}
      {finished.length > 0 && (
        <details class="inc-subform">
          <summary>
            {t.history} ({finished.length})
          </summary>
          <ul class="inc-list">
            {finished.map((a, i) => (
              <li key={i} data-testid="assignment-done" data-unit={a.unit} data-status={AssignmentStatus[a.status]}>
                <strong class="mono">{a.callSign}</strong>{" "}
                <span class={assignmentClass(a.status)}>{assignmentLabel(a.status)}</span>
                <span class="hint">
                  {" "}
                  · {clock(toDate(a.dispatchTime))} → {clock(toDate(a.clearTime ?? a.releaseTime))}
                  {a.releaseReason !== "" && ` · ${a.releaseReason}`}
                </span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

function AssignedRow({ a, incident, onIncident }: { a: Assignment; incident: Incident; onIncident: (i: Incident) => void }) {
  const t = useText(T);
  const [releasing, setReleasing] = useState(false);
  const release = useTextAction(
    onIncident,
    (reason) => [
      `release:${incident.name}:${a.unit}:${reason}`,
      (requestId) => api.units.releaseUnit({ requestId, unit: a.unit, incident: incident.name, reason }),
    ],
    () => setReleasing(false),
  );
  const status = useMutation();
  const unitStatus = ACTIVE_TO_UNIT[a.status] ?? UnitStatus.UNSPECIFIED;
  const canRelease = may("UnitAssignmentService/ReleaseUnit");
  const canStatus = may("UnitAssignmentService/SetUnitStatus");
  const reasonInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (releasing) reasonInput.current?.focus();
  }, [releasing]);

  const setStatus = async (target: UnitStatus) => {
    const r = await status.run(`status:${a.unit}:${incident.name}:${target}`, (requestId) =>
      api.units.setUnitStatus({ requestId, unit: a.unit, status: target, incident: incident.name }),
    );
    // The incident's timeline changed too: its feed event brings the fresh page; read it now anyway.
    if (r !== null) {
      const fresh = await api.triage.getIncident({ name: incident.name }).catch(() => null);
      if (fresh?.incident !== undefined) onIncident(fresh.incident);
    }
  };
  return (
    <>
      <tr data-testid="assigned-unit" data-unit={a.unit} data-callsign={a.callSign} data-status={AssignmentStatus[a.status]}>
        <td>
          <strong class="mono">{a.callSign}</strong> <span class="hint">{unitTypeLabel(a.unitType)}</span>
          {a.overrideReason !== "" && (
            <div class="hint dsp-wrap" title={a.overrideReason}>
              {t.overrideWas}: {a.overrideReason}
            </div>
          )}
        </td>
        <td>
          <StatusBadge tone={assignmentClass(a.status)} testid="assigned-status" label={assignmentLabel(a.status)} />
        </td>
        <td>
          <span class="mono">{clock(toDate(a.dispatchTime))}</span>
          {a.onSceneTime !== undefined && (
            <span class="mono">
              {" "}
              · {t.onScene} {clock(toDate(a.onSceneTime))}
            </span>
          )}
          <div class="hint">
            {t.by} <Who name={a.assignedBy} />
          </div>
        </td>
        <td>
          <div class="unit-actions">
            {canStatus &&
              unitNextStatuses(unitStatus).map((target) => (
                <button
                  key={target}
                  type="button"
                  data-testid="unit-status-action"
                  data-status={UnitStatus[target]}
                  disabled={status.busy}
                  onClick={() => void setStatus(target)}
                >
                  {t.to} {unitStatusLabel(target)}
                </button>
              ))}
            {canRelease && !releasing && (
              <button type="button" class="danger" data-testid="release" onClick={() => setReleasing(true)}>
                {t.release}
              </button>
            )}
          </div>
        </td>
      </tr>
      {(releasing || release.refused !== null || status.refused !== null) && (
        <tr>
          <td colSpan={4}>
            {releasing && (
              <form class="inc-actions" onSubmit={release.submit}>
                <LineField
                  label={t.releaseReason}
                  testid="release-reason"
                  required
                  maxLength={4000}
                  value={release.text}
                  inputRef={reasonInput}
                  onInput={release.setText}
                />
                <button type="submit" class="danger" data-testid="release-submit" disabled={release.busy || release.blank}>
                  {t.releaseSubmit}
                </button>
                <button type="button" onClick={() => setReleasing(false)}>
                  {t.cancel}
                </button>
              </form>
            )}
            {release.refused !== null && <RefusalView refusal={release.refused} />}
            {status.refused !== null && <RefusalView refusal={status.refused} />}
          </td>
        </tr>
      )}
    </>
  );
}
