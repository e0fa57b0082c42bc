// The console's live feeds, one of each per signed-in tab, opened when a screen first needs
// them and kept while signed in (each holds one of the browser's ~6 connections per origin).
import { api } from "./api";
import { LiveCollection, type LiveEvent, type LiveOptions, type WatchMessage } from "./live";
import { IncidentStatus, type Incident, type IncidentEvent } from "./gen/dispatch/v1/incident_pb";

/** The statuses of an incident still being worked. */
export const OPEN_STATUSES = [
  IncidentStatus.NEW,
  IncidentStatus.TRIAGED,
  IncidentStatus.DISPATCHED,
  IncidentStatus.ON_SCENE,
  IncidentStatus.RESOLVED,
];
import { UnitEventKind, type Unit, type UnitEvent } from "./gen/dispatch/v1/unit_pb";
import type { Referral, ReferralEvent } from "./gen/dispatch/v1/referral_pb";

/** The open feeds, by what they carry, in the order they were opened. */
const open = new Map<string, LiveCollection<unknown, LiveEvent>>();

/**
 * The feed of `kind`, opened on first use with `options` and kept until sign-out. Every feed
 * carries resources, kept by their name.
 */
function feed<T extends { name: string }, E extends LiveEvent>(
  kind: string,
  options: () => Omit<LiveOptions<T, E>, "key">,
): LiveCollection<T, E> {
  let live = open.get(kind) as LiveCollection<T, E> | undefined;
  if (live === undefined) {
    live = new LiveCollection<T, E>({ key: (item) => item.name, ...options() });
    live.start();
    open.set(kind, live as never);
  }
  return live;
}

/** Every incident that is not closed or cancelled, live. */
export function incidents(): LiveCollection<Incident, IncidentEvent> {
  return feed("incidents", () => ({
    open: (afterSequence, signal) =>
      api.triage.watchIncidents({ afterSequence, statuses: OPEN_STATUSES }, { signal }) as AsyncIterable<
        WatchMessage<Incident, IncidentEvent>
      >,
    itemOf: (event) => event.incident,
  }));
}

/** Every unit, live. */
export function units(): LiveCollection<Unit, UnitEvent> {
  return feed("units", () => ({
    open: (afterSequence, signal) =>
      api.units.watchUnits({ afterSequence }, { signal }) as AsyncIterable<WatchMessage<Unit, UnitEvent>>,
    itemOf: (event) => event.unit,
    // Positions stream in by the hundred a second; anything else is shown at once.
    urgent: (event) => event.kind !== UnitEventKind.POSITION_CHANGED,
  }));
}

/** The referrals this principal may see (a partner: only its own), live. */
export function referrals(): LiveCollection<Referral, ReferralEvent> {
  return feed("referrals", () => ({
    open: (afterSequence, signal) =>
      api.referrals.watchReferrals({ afterSequence }, { signal }) as AsyncIterable<WatchMessage<Referral, ReferralEvent>>,
    itemOf: (event) => event.referral,
  }));
}

/** Every feed that is open, for the connection indicator. */
export function openFeeds(): LiveCollection<unknown, LiveEvent>[] {
  return [...open.values()];
}

/** Closes every feed (sign-out). */
export function closeFeeds(): void {
  for (const live of open.values()) live.stop();
  open.clear();
}
