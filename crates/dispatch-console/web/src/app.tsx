// The shell: sign-in, who is signed in, language, the feeds' connection state, and the
// screens the principal's role is for. Actions inside screens are shown only when the
// server's role table permits their RPC (session.may); a screen reached by hand anyway gets the
// API's refusal, shown as it came.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { Role } from "./gen/dispatch/v1/principal_pb";
import { setLang, useLang, useText } from "./i18n";
import { roleLabel } from "./labels";
import { closeFeeds, openFeeds, WATCH_INCIDENTS, WATCH_REFERRALS, WATCH_UNITS } from "./feeds";
import type { LinkState } from "./live";
import { navigate, useRoute } from "./route";
import { may, signIn, signOut, useSession } from "./session";
import type { Refusal } from "./api";
import { CallTakerScreen } from "./screens/calltaker";
import { QueueScreen } from "./screens/queue";
import { IncidentScreen } from "./screens/incident";
import { UnitBoardScreen } from "./screens/units";
import { MapScreen } from "./screens/map";
import { AuditScreen } from "./screens/audit";
import { VideoScreen } from "./screens/video";
import { PartnerScreen } from "./screens/partner";
import { ReportsScreen } from "./screens/reports";
import { OperationsScreen } from "./screens/operations";
import { RefusalView } from "./widgets";

const T = {
  signInTitle: { es: "Iniciar sesión", en: "Sign in" },
  token: { es: "Token de acceso", en: "Access token" },
  tokenHelp: {
    es: "Se guarda sólo en esta pestaña hasta cerrar sesión.",
    en: "Kept in this tab only, until you sign out.",
  },
  signIn: { es: "Entrar", en: "Sign in" },
  signOut: { es: "Salir", en: "Sign out" },
  calls: { es: "Llamadas", en: "Calls" },
  queue: { es: "Incidentes", en: "Incidents" },
  units: { es: "Unidades", en: "Units" },
  map: { es: "Mapa", en: "Map" },
  audit: { es: "Auditoría", en: "Audit" },
  cameras: { es: "Cámaras", en: "Cameras" },
  referrals: { es: "Canalizaciones", en: "Referrals" },
  reports: { es: "Reportes", en: "Reports" },
  operations: { es: "Operativos", en: "Operations" },
  noScreens: {
    es: "Esta consola no tiene pantallas para este rol.",
    en: "This console has no screens for this role.",
  },
  live: { es: "En vivo", en: "Live" },
  connecting: { es: "Conectando…", en: "Connecting…" },
  reconnecting: { es: "Conexión perdida: reconectando y recuperando lo ocurrido…", en: "Connection lost: reconnecting and catching up…" },
  resyncing: { es: "Resincronizando…", en: "Resynchronising…" },
  refused: { es: "El servidor cerró la sesión", en: "The server ended the session" },
  stopped: { es: "Detenido", en: "Stopped" },
  menu: { es: "Pantallas", en: "Screens" },
};

type ScreenId = "calls" | "queue" | "units" | "map" | "audit" | "cameras" | "referrals" | "reports" | "operations";

/** The screens each role works at, first is the default; each also needs its feed's RPC. */
const SCREENS_BY_ROLE: Partial<Record<Role, ScreenId[]>> = {
  [Role.CALL_TAKER]: ["calls", "queue", "map"],
  [Role.DISPATCHER]: ["queue", "units", "map", "calls", "operations"],
  [Role.SUPERVISOR]: ["queue", "units", "map", "calls", "referrals", "cameras", "audit", "reports", "operations"],
  [Role.VIDEO_OPERATOR]: ["cameras", "calls", "map", "operations"],
  // A federal agency's liaison: its operations and their incidents, nothing else.
  [Role.LIAISON]: ["operations"],
  [Role.PARTNER_AGENCY]: ["referrals"],
  [Role.ADMIN]: ["audit", "reports"],
};

const SCREEN_NEEDS: Record<ScreenId, string> = {
  calls: "CallIntakeService/CreateCall",
  queue: WATCH_INCIDENTS.method,
  units: WATCH_UNITS.method,
  map: "UnitAssignmentService/ListUnits",
  audit: "DirectoryService/ListAuditRecords",
  cameras: "UnitAssignmentService/NearestCameras",
  referrals: WATCH_REFERRALS.method,
  reports: "ReportingService/GetIntervalReport",
  operations: "OperationService/ListOperations",
};

export function App() {
  const session = useSession();
  useLang();
  return session === null ? <SignIn /> : <Shell />;
}

function SignIn() {
  const t = useText(T);
  const [token, setTokenValue] = useState("");
  const [error, setError] = useState<Refusal | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const refused = await signIn(token.trim());
    setBusy(false);
    if (refused !== null) setError(refused);
  };
  return (
    <main class="signin">
      <form onSubmit={submit} class="panel" aria-labelledby="signin-title">
        <h1 id="signin-title">dispatch · {t.signInTitle}</h1>
        <LangSwitch />
        <label>
          {t.token}
          <input
            ref={input}
            data-testid="signin-token"
            type="password"
            autocomplete="off"
            value={token}
            onInput={(e) => setTokenValue(e.currentTarget.value)}
            required
          />
        </label>
        <p class="hint">{t.tokenHelp}</p>
        {error !== null && <RefusalView refusal={error} />}
        <button data-testid="signin-submit" type="submit" disabled={busy || token.trim() === ""}>
          {t.signIn}
        </button>
      </form>
    </main>
  );
}

function LangSwitch() {
  const lang = useLang();
  return (
    <div class="lang" role="group" aria-label="Idioma / Language">
      <button data-testid="lang-es" aria-pressed={lang === "es"} onClick={() => setLang("es")} type="button">
        ES
      </button>
      <button data-testid="lang-en" aria-pressed={lang === "en"} onClick={() => setLang("en")} type="button">
        EN
      </button>
    </div>
  );
}

const STATE_RANK: Record<LinkState, number> = {
  live: 0,
  stopped: 0,
  connecting: 1,
  resyncing: 2,
  reconnecting: 3,
  refused: 4,
};

/** What the indicator shows of the open feeds: it re-renders only when this changes. */
function linkSignature(feeds: ReturnType<typeof openFeeds>): string {
  return feeds.map((feed) => `${feed.state}:${feed.reason}:${feed.resumes}:${feed.resyncs}`).join();
}

/** The worst state of the open feeds, and how often they resumed and resynced. */
function useLinkState(): { state: LinkState; reason: string; resumes: number; resyncs: number } {
  const [, set] = useState(0);
  const feeds = openFeeds();
  const shown = linkSignature(feeds);
  useEffect(() => {
    // The feeds open now: a screen below may have opened one after this rendered. Events do
    // not re-render the shell (every screen would render again with it); state changes do.
    const check = () => {
      if (linkSignature(openFeeds()) !== shown) set((n) => n + 1);
    };
    const offs = openFeeds().map((feed) => feed.subscribe(check));
    // A change announced between this render and these subscriptions found no listener.
    check();
    return () => offs.forEach((off) => off());
  });
  let worst: { state: LinkState; reason: string } = { state: "live", reason: "" };
  for (const feed of feeds) {
    if (STATE_RANK[feed.state] > STATE_RANK[worst.state]) worst = { state: feed.state, reason: feed.reason };
  }
  const resumes = feeds.reduce((sum, feed) => sum + feed.resumes, 0);
  const resyncs = feeds.reduce((sum, feed) => sum + feed.resyncs, 0);
  return { ...worst, resumes, resyncs };
}

function Shell() {
  const t = useText(T);
  const session = useSession()!;
  const route = useRoute();
  const screens = (SCREENS_BY_ROLE[session.principal.role] ?? []).filter((id) => may(SCREEN_NEEDS[id]));
  const link = useLinkState();
  const [first] = screens;
  useEffect(() => {
    if (route.length === 0 && first !== undefined) navigate(first);
  }, [route.length, first]);
  const out = () => {
    closeFeeds();
    signOut();
    navigate();
  };
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">dispatch</span>
        <nav aria-label={t.menu}>
          {screens.map((id) => (
            <a
              key={id}
              data-testid={`nav-${id}`}
              href={`#/${id}`}
              aria-current={route[0] === id || (id === "queue" && route[0] === "incidents") ? "page" : undefined}
            >
              {t[id]}
            </a>
          ))}
        </nav>
        <span class={`link link-${link.state}`} data-testid="link-state"
          data-state={link.state}
          data-resumes={link.resumes}
          data-resyncs={link.resyncs}
          title={link.reason}
        >
          {t[link.state]}
        </span>
        <span class="whoami" data-testid="whoami">
          <strong>{session.principal.displayName}</strong> · <span data-testid="role">{roleLabel(session.principal.role)}</span>
        </span>
        <LangSwitch />
        <button data-testid="signout" type="button" onClick={out}>
          {t.signOut}
        </button>
      </header>
      {link.state !== "live" && link.state !== "stopped" && link.state !== "connecting" && (
        <div class={`banner banner-${link.state}`} role="alert" data-testid="link-banner">
          {t[link.state]} {link.reason}
        </div>
      )}
      <main class="screen">
        <Screen route={route} fallback={screens.length === 0 ? <p>{t.noScreens}</p> : null} />
      </main>
    </div>
  );
}

function Screen({ route, fallback }: { route: string[]; fallback: ComponentChildren }) {
  switch (route[0]) {
    case "calls":
      return <CallTakerScreen />;
    case "queue":
      return <QueueScreen />;
    case "incidents":
      return route[1] !== undefined ? <IncidentScreen id={route[1]} /> : <QueueScreen />;
    case "units":
      return <UnitBoardScreen />;
    case "map":
      return <MapScreen />;
    case "audit":
      return <AuditScreen />;
    case "cameras":
      return <VideoScreen />;
    case "referrals":
      return <PartnerScreen />;
    case "reports":
      return <ReportsScreen tab={route[1]} />;
    case "operations":
      return <OperationsScreen id={route[1]} />;
    default:
      return <>{fallback}</>;
  }
}
