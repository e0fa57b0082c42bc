// The audit trail search (supervisors and administrators): ListAuditRecords with its filters
// (time range, principal, resource, actions, outcomes), newest first, a page at a time. The
// search is itself audited by the server.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, refusal, type Refusal } from "../api";
import { may } from "../session";
import { currentLang, useText } from "../i18n";
import { idOf, toDate } from "../format";
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, enumValues, labelOf, roleLabel } from "../labels";
import { enumChoices, HeadCells, Options, RefusalView, SelectField } from "../widgets";
import { AuditAction, AuditOutcome, type AuditRecord } from "../gen/dispatch/v1/audit_pb";
import type { Principal } from "../gen/dispatch/v1/principal_pb";
import { allPages } from "./dispatch-directory";
import "./dispatch.css";

const T = {
  title: { es: "Bitácora de auditoría", en: "Audit trail" },
  from: { es: "Desde", en: "From" },
  to: { es: "Hasta", en: "Until" },
  principal: { es: "Quién", en: "Principal" },
  anyone: { es: "Cualquiera", en: "Anyone" },
  principalHint: { es: "principals/…", en: "principals/…" },
  resource: { es: "Recurso", en: "Resource" },
  resourceHint: { es: "incidents/… , units/… , calls/…", en: "incidents/… , units/… , calls/…" },
  action: { es: "Acción", en: "Action" },
  anyAction: { es: "Todas las acciones", en: "Every action" },
  outcome: { es: "Resultado", en: "Outcome" },
  anyOutcome: { es: "Todos los resultados", en: "Every outcome" },
  pageSize: { es: "Por página", en: "Per page" },
  search: { es: "Buscar", en: "Search" },
  reset: { es: "Limpiar", en: "Clear" },
  time: { es: "Hora", en: "Time" },
  role: { es: "Rol", en: "Role" },
  method: { es: "Método", en: "Method" },
  code: { es: "Código", en: "Code" },
  detail: { es: "Detalle", en: "Detail" },
  peer: { es: "Origen", en: "Peer" },
  prev: { es: "← Anteriores (más nuevos)", en: "← Newer" },
  next: { es: "Siguientes (más viejos) →", en: "Older →" },
  page: { es: "Página", en: "Page" },
  none: { es: "Ningún registro coincide.", en: "No record matches." },
  searching: { es: "Buscando…", en: "Searching…" },
};

const ACTIONS = enumValues<AuditAction>(AuditAction);
const OUTCOMES = enumValues<AuditOutcome>(AuditOutcome);
const PAGE_SIZES = [25, 50, 100, 200];

interface Filters {
  from: string;
  to: string;
  principal: string;
  resource: string;
  action: string;
  outcome: string;
  pageSize: number;
}
const EMPTY: Filters = { from: "", to: "", principal: "", resource: "", action: "", outcome: "", pageSize: 50 };

function stamp(local: string) {
  if (local === "") return undefined;
  const ms = new Date(local).getTime();
  if (Number.isNaN(ms)) return undefined;
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: 0 };
}

function fullTime(d: Date | null): string {
  if (d === null) return "—";
  return d.toLocaleString(currentLang() === "es" ? "es-MX" : "en-GB", { hour12: false });
}

export function AuditScreen() {
  const t = useText(T);
  const lang = currentLang();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [query, setQuery] = useState<Filters>(EMPTY);
  /** Page tokens of the pages before the current one, and the current one. */
  const [tokens, setTokens] = useState<string[]>([""]);
  const [records, setRecords] = useState<AuditRecord[] | null>(null);
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal | null>(null);
  const [principals, setPrincipals] = useState<Map<string, Principal>>(new Map());

  useEffect(() => {
    if (!may("DirectoryService/ListPrincipals")) return;
    allPages(async (pageToken) => {
      const r = await api.directory.listPrincipals({ pageSize: 500, pageToken });
      return { items: r.principals, next: r.nextPageToken };
    })
      .then((list) => setPrincipals(new Map(list.map((p) => [p.name, p]))))
      .catch(() => undefined);
  }, []);

  const pageToken = tokens[tokens.length - 1];
  useEffect(() => {
    let stale = false;
    setBusy(true);
    setRefused(null);
    const f = query;
    const start = stamp(f.from);
    const end = stamp(f.to);
    api.directory
      .listAuditRecords({
        pageSize: f.pageSize,
        pageToken,
        time: start === undefined && end === undefined ? undefined : { start, end },
        principal: f.principal.trim(),
        resource: f.resource.trim(),
        actions: f.action === "" ? [] : [AuditAction[f.action as keyof typeof AuditAction]],
        outcomes: f.outcome === "" ? [] : [AuditOutcome[f.outcome as keyof typeof AuditOutcome]],
      })
      .then((r) => {
        if (stale) return;
        setRecords(r.auditRecords);
        setNext(r.nextPageToken);
      })
      .catch((error) => {
        if (stale) return;
        setRecords(null);
        setNext("");
        setRefused(refusal(error));
      })
      .finally(() => !stale && setBusy(false));
    return () => void (stale = true);
  }, [query, pageToken]);

  const submit = (event: Event) => {
    event.preventDefault();
    setQuery({ ...draft });
    setTokens([""]);
  };
  const set = (key: keyof Filters) => (value: string) =>
    setDraft((d) => ({ ...d, [key]: key === "pageSize" ? Number(value) : value }));
  const edited = (key: keyof Filters) => (e: { currentTarget: { value: string } }) => set(key)(e.currentTarget.value);

  const principalList = useMemo(
    () => [...principals.values()].sort((a, b) => a.displayName.localeCompare(b.displayName)),
    [principals],
  );
  const actionLabel = (a: AuditAction) => labelOf(AUDIT_ACTIONS, a, lang, AuditAction[a]);
  const outcomeLabel = (o: AuditOutcome) => labelOf(AUDIT_OUTCOMES, o, lang, AuditOutcome[o]);

  return (
    <section class="dsp-screen" aria-labelledby="audit-title" data-testid="audit-screen">
      <h1 id="audit-title">{t.title}</h1>
      <form class="panel audit-form" data-testid="audit-search" onSubmit={submit}>
        <label>
          {t.from}
          <input type="datetime-local" data-testid="audit-from" value={draft.from} onInput={edited("from")} />
        </label>
        <label>
          {t.to}
          <input type="datetime-local" data-testid="audit-to" value={draft.to} onInput={edited("to")} />
        </label>
        <label>
          {t.principal}
          {principalList.length > 0 ? (
            <select data-testid="audit-principal" value={draft.principal} onChange={edited("principal")}>
              <option value="">{t.anyone}</option>
              <Options choices={principalList.map((p) => ({ value: p.name, label: `${p.displayName} · ${roleLabel(p.role)}` }))} />
            </select>
          ) : (
            <input data-testid="audit-principal" value={draft.principal} placeholder={t.principalHint} onInput={edited("principal")} />
          )}
        </label>
        <label>
          {t.resource}
          <input data-testid="audit-resource" value={draft.resource} placeholder={t.resourceHint} onInput={edited("resource")} />
        </label>
        <SelectField
          label={t.action}
          testid="audit-action"
          value={draft.action}
          all={t.anyAction}
          choices={enumChoices(AuditAction, ACTIONS, AUDIT_ACTIONS)}
          onChange={set("action")}
        />
        <SelectField
          label={t.outcome}
          testid="audit-outcome"
          value={draft.outcome}
          all={t.anyOutcome}
          choices={enumChoices(AuditOutcome, OUTCOMES, AUDIT_OUTCOMES)}
          onChange={set("outcome")}
        />
        <SelectField
          label={t.pageSize}
          testid="audit-page-size"
          value={String(draft.pageSize)}
          choices={PAGE_SIZES.map((n) => ({ value: String(n), label: String(n) }))}
          onChange={set("pageSize")}
        />
        <div class="actions">
          <button type="submit" data-testid="audit-submit" disabled={busy}>
            {t.search}
          </button>
          <button
            type="button"
            data-testid="audit-reset"
            onClick={() => {
              setDraft(EMPTY);
              setQuery(EMPTY);
              setTokens([""]);
            }}
          >
            {t.reset}
          </button>
        </div>
      </form>
      {refused !== null && <RefusalView refusal={refused} />}
      <div class="dsp-toolbar">
        <button type="button" data-testid="audit-prev" disabled={busy || tokens.length <= 1} onClick={() => setTokens((s) => s.slice(0, -1))}>
          {t.prev}
        </button>
        <span class="hint" data-testid="audit-page" data-page={tokens.length}>
          {t.page} {tokens.length}
          {busy && ` · ${t.searching}`}
        </span>
        <button type="button" data-testid="audit-next" disabled={busy || next === ""} onClick={() => setTokens((s) => [...s, next])}>
          {t.next}
        </button>
      </div>
      {records !== null && records.length === 0 && (
        <p class="hint" data-testid="audit-empty">
          {t.none}
        </p>
      )}
      {records !== null && records.length > 0 && (
        <div class="dsp-table-wrap">
          <table class="dsp-table" data-testid="audit-results">
            <thead>
              <HeadCells columns={[t.time, t.principal, t.action, t.method, t.resource, t.outcome, t.detail]} />
            </thead>
            <tbody>
              {records.map((r) => {
                const p = principals.get(r.principal);
                const outcome = AuditOutcome[r.outcome] ?? "UNSPECIFIED";
                return (
                  <tr
                    key={r.name}
                    data-testid="audit-row"
                    data-record={r.name}
                    data-action={AuditAction[r.action]}
                    data-outcome={outcome}
                    data-method={r.method}
                    data-principal={r.principal}
                  >
                    <td class="mono">{fullTime(toDate(r.time))}</td>
                    <td>
                      {p?.displayName ?? (r.principal === "" ? "—" : <span class="mono">{r.principal}</span>)}
                      <div class="hint">{roleLabel(r.role)}</div>
                    </td>
                    <td>{actionLabel(r.action)}</td>
                    <td class="mono">{r.method.replace(/^\/dispatch\.v1\./, "")}</td>
                    <td class="mono">
                      {r.resource.startsWith("incidents/") ? <a href={`#/incidents/${idOf(r.resource)}`}>{r.resource}</a> : r.resource}
                    </td>
                    <td>
                      <span class={`outcome-${outcome.toLowerCase()}`}>{outcomeLabel(r.outcome)}</span>
                      <div class="hint mono">{r.statusCode}</div>
                    </td>
                    <td class="audit-detail">
                      {r.detail}
                      <div class="hint mono">{r.peer}</div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
