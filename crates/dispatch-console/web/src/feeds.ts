// The console's live feeds, one of each per signed-in tab, opened when a screen first needs
// them and kept while signed in (each holds one of the browser's ~6 connections per origin).
import { api } from "./api";
import { may } from "./session";
import { LiveCollection, type LiveEvent, type LiveOptions, type WatchMessage } from "./live";
import { IncidentStatus, type Incident, type IncidentEvent } from "./gen/dispatch/v1/incident_pb";
import { UnitEventKind, type Unit, type UnitEvent } from "./gen/dispatch/v1/unit_pb";
import type { Referral, ReferralEvent } from "./gen/dispatch/v1/referral_pb";

/** The statuses of an incident still being worked. */
export const OPEN_STATUSES = [
  IncidentStatus.NEW,
  IncidentStatus.TRIAGED,
  IncidentStatus.DISPATCHED,
  IncidentStatus.ON_SCENE,
  IncidentStatus.RESOLVED,
];

/** A Watch RPC the console follows: its method in the server's role table, and how to open it. */
export interface Watch<T, E extends LiveEvent> extends Omit<LiveOptions<T, E>, "key"> {
  method: string;
}

/** Every incident that is not closed or cancelled. */
export const WATCH_INCIDENTS: Watch<Incident, IncidentEvent> = {
  method: "IncidentTriageService/WatchIncidents",
  open: (afterSequence, signal) =>
    api.triage.watchIncidents({ afterSequence, statuses: OPEN_STATUSES }, { signal }) as AsyncIterable<
      WatchMessage<Incident, IncidentEvent>
    >,
  itemOf: (event) => event.incident,
};

/** Every unit. */
export const WATCH_UNITS: Watch<Unit, UnitEvent> = {
  method: "UnitAssignmentService/WatchUnits",
  open: (afterSequence, signal) =>
    api.units.watchUnits({ afterSequence }, { signal }) as AsyncIterable<WatchMessage<Unit, UnitEvent>>,
  itemOf: (event) => event.unit,
  // Positions stream in by the hundred a second; anything else is shown at once.
  urgent: (event) => event.kind !== UnitEventKind.POSITION_CHANGED,
};

/** The referrals this principal may see (a partner: only its own). */
export const WATCH_REFERRALS: Watch<Referral, ReferralEvent> = {
  method: "VictimCareReferralService/WatchReferrals",
  open: (afterSequence, signal) =>
    api.referrals.watchReferrals({ afterSequence }, { signal }) as AsyncIterable<WatchMessage<Referral, ReferralEvent>>,
  itemOf: (event) => event.referral,
};

/** The open feeds, by their method, in the order they were opened. */
const open = new Map<string, LiveCollection<unknown, LiveEvent>>();

/**
 * The live feed of `watch`, opened on first use and kept until sign-out. Every feed carries
 * resources, kept by their name.
 */
export function feed<T extends { name: string }, E extends LiveEvent>(watch: Watch<T, E>): LiveCollection<T, E> {
  let live = open.get(watch.method) as LiveCollection<T, E> | undefined;
  if (live === undefined) {
    live = new LiveCollection<T, E>({ key: (item) => item.name, ...watch });
    live.start();
    open.set(watch.method, live as never);
  }
  return live;
}

/** The live feed of `watch` when this role may follow it, else null. */
export function feedIfPermitted<T extends { name: string }, E extends LiveEvent>(watch: Watch<T, E>): LiveCollection<T, E> | null {
  return may(watch.method) ? feed(watch) : null;
}

export const incidents = () => feed(WATCH_INCIDENTS);
export const units = () => feed(WATCH_UNITS);
export const referrals = () => feed(WATCH_REFERRALS);

/** Every feed that is open, for the connection indicator. */
export function openFeeds(): LiveCollection<unknown, LiveEvent>[] {
  return [...open.values()];
}

/** Closes every feed (sign-out). */
export function closeFeeds(): void {
  for (const live of open.values()) live.stop();
  open.clear();
}
