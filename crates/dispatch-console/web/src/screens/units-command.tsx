// The unit board's command bar, for dispatchers who live on the keyboard: "/" focuses it;
// "/s P-CUH1-04 os" sets a unit's status, "/i INC/261203/00042" (or "/i 42") opens an incident.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, refusal, requestId, type Refusal } from "../api";
import { incidents } from "../feeds";
import { may } from "../session";
import { useText } from "../i18n";
import { idOf } from "../format";
import { unitStatusLabel } from "../labels";
import { navigate } from "../route";
import { RefusalView } from "../widgets";
import { UnitStatus, type Unit } from "../gen/dispatch/v1/unit_pb";
import { resolveIncident, unitByCallSign } from "./dispatch-directory";

const T = {
  label: { es: "Comando", en: "Command" },
  placeholder: { es: "/s P-CUH1-04 os   ·   /i 00042", en: "/s P-CUH1-04 os   ·   /i 00042" },
  help: {
    es: "/ para escribir · /s <clave> <código>: av disponible, er en camino, os en sitio, tr trasladando, ah en hospital, oos fuera de servicio · /i <folio> abre un incidente",
    en: "/ to type · /s <call sign> <code>: av available, er en route, os on scene, tr transporting, ah at hospital, oos out of service · /i <folio> opens an incident",
  },
  run: { es: "Ejecutar", en: "Run" },
  unknownCommand: { es: "Comando desconocido. Use /s o /i.", en: "Unknown command. Use /s or /i." },
  usageS: { es: "Uso: /s <clave> <código> (av, dp, er, os, tr, ah, oos)", en: "Usage: /s <call sign> <code> (av, dp, er, os, tr, ah, oos)" },
  usageI: { es: "Uso: /i <folio>", en: "Usage: /i <folio>" },
  unknownCode: { es: "Código desconocido", en: "Unknown code" },
  unknownUnit: { es: "No hay una unidad con la clave", en: "No unit has the call sign" },
  unknownIncident: { es: "No hay un incidente abierto con el folio", en: "No open incident has the folio" },
  done: { es: "ahora", en: "now" },
  opening: { es: "Abriendo", en: "Opening" },
  notAllowed: { es: "Su rol no puede cambiar el estado de unidades.", en: "Your role may not change unit statuses." },
};

export const STATUS_CODES: Record<string, UnitStatus> = {
  av: UnitStatus.AVAILABLE,
  dp: UnitStatus.DISPATCHED,
  er: UnitStatus.EN_ROUTE,
  os: UnitStatus.ON_SCENE,
  tr: UnitStatus.TRANSPORTING,
  ah: UnitStatus.AT_HOSPITAL,
  oos: UnitStatus.OUT_OF_SERVICE,
};

/** What the last action (a command or a row's button) did. */
export interface ActionResult {
  ok: boolean;
  text: string;
  refusal?: Refusal;
}

/** Sets a unit's status with the etag the board shows (ABORTED if it changed meanwhile). */
export async function setStatus(unit: Unit, status: UnitStatus, id: string = requestId()): Promise<ActionResult> {
  try {
    const r = await api.units.setUnitStatus({ requestId: id, unit: unit.name, status, etag: unit.etag });
    const after = r.unit?.status ?? status;
    return { ok: true, text: `${unit.callSign} → ${unitStatusLabel(after)}` };
  } catch (error) {
    return { ok: false, text: `${unit.callSign} → ${unitStatusLabel(status)}`, refusal: refusal(error) };
  }
}

export function CommandBar({
  units,
  result,
  onResult,
}: {
  units: Map<string, Unit>;
  result: ActionResult | null;
  onResult: (r: ActionResult) => void;
}) {
  const t = useText(T);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target !== null && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
      event.preventDefault();
      input.current?.focus();
      if (input.current !== null && input.current.value === "") setText("/");
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const parts = text.trim().split(/\s+/).filter((p) => p !== "");
    const verb = (parts[0] ?? "").toLowerCase();
    if (verb === "/s" || verb === "s") {
      if (parts.length !== 3) return onResult({ ok: false, text: t.usageS });
      const status = STATUS_CODES[parts[2].toLowerCase()];
      if (status === undefined) return onResult({ ok: false, text: `${t.unknownCode} "${parts[2]}". ${t.usageS}` });
      const unit = unitByCallSign(units, parts[1]);
      if (unit === null) return onResult({ ok: false, text: `${t.unknownUnit} ${parts[1]}` });
      setBusy(true);
      const r = await setStatus(unit, status);
      setBusy(false);
      onResult(r.ok ? { ...r, text: `${r.text} (${t.done})` } : r);
      if (r.ok) setText("");
      return;
    }
    if (verb === "/i" || verb === "i") {
      if (parts.length !== 2) return onResult({ ok: false, text: t.usageI });
      const found = resolveIncident(parts[1], incidents().items);
      if (found === null) return onResult({ ok: false, text: `${t.unknownIncident} ${parts[1]}` });
      onResult({ ok: true, text: `${t.opening} ${incidents().items.get(found)?.folio ?? found}` });
      setText("");
      navigate("incidents", idOf(found));
      return;
    }
    onResult({ ok: false, text: t.unknownCommand });
  };

  return (
    <div class="cmd-wrap">
      <form class="cmd-bar" onSubmit={submit} role="search" aria-label={t.label}>
        <label class="dsp-inline">
          <kbd>/</kbd>
          <span class="sr-only">{t.label}</span>
          <input
            ref={input}
            data-testid="command-bar"
            value={text}
            placeholder={t.placeholder}
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") e.currentTarget.blur();
            }}
          />
        </label>
        <button type="submit" disabled={busy || text.trim() === ""}>
          {t.run}
        </button>
      </form>
      <div
        data-testid="command-result"
        class={`cmd-result ${result === null ? "" : result.ok ? "ok" : "bad"}`}
        data-ok={result === null ? "" : String(result.ok)}
        role="status"
        aria-live="polite"
      >
        {result?.text}
        {result?.refusal !== undefined && <RefusalView refusal={result.refusal} />}
      </div>
      {!may("UnitAssignmentService/SetUnitStatus") && <p class="hint">{t.notAllowed}</p>}
      <p class="hint">{t.help}</p>
    </div>
  );
}
