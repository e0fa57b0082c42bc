// The console's live feeds, one of each per signed-in tab, opened when a screen first needs
// them and kept while signed in (each holds one of the browser's ~6 connections per origin).
import { api } from "./api";
import { LiveCollection, type WatchMessage } from "./live";
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

let incidentFeed: LiveCollection<Incident, IncidentEvent> | null = null;
let unitFeed: LiveCollection<Unit, UnitEvent> | null = null;
let referralFeed: LiveCollection<Referral, ReferralEvent> | null = null;

/** Every incident that is not closed or cancelled, live. */
export function incidents(): LiveCollection<Incident, IncidentEvent> {
  if (incidentFeed === null) {
    incidentFeed = new LiveCollection<Incident, IncidentEvent>({
      open: (afterSequence, signal) =>
        api.triage.watchIncidents({ afterSequence, statuses: OPEN_STATUSES }, { signal }) as AsyncIterable<
          WatchMessage<Incident, IncidentEvent>
        >,
      key: (incident) => incident.name,
      itemOf: (event) => event.incident,
    });
    incidentFeed.start();
  }
  return incidentFeed;
}

/** Every unit, live. */
export function units(): LiveCollection<Unit, UnitEvent> {
  if (unitFeed === null) {
    unitFeed = new LiveCollection<Unit, UnitEvent>({
      open: (afterSequence, signal) =>
        api.units.watchUnits({ afterSequence }, { signal }) as AsyncIterable<WatchMessage<Unit, UnitEvent>>,
      key: (unit) => unit.name,
      itemOf: (event) => event.unit,
      // Positions stream in by the hundred a second; anything else is shown at once.
      urgent: (event) => event.kind !== UnitEventKind.POSITION_CHANGED,
    });
    unitFeed.start();
  }
  return unitFeed;
}

/** The referrals this principal may see (a partner: only its own), live. */
export function referrals(): LiveCollection<Referral, ReferralEvent> {
  if (referralFeed === null) {
    referralFeed = new LiveCollection<Referral, ReferralEvent>({
      open: (afterSequence, signal) =>
        api.referrals.watchReferrals({ afterSequence }, { signal }) as AsyncIterable<
          WatchMessage<Referral, ReferralEvent>
        >,
      key: (referral) => referral.name,
      itemOf: (event) => event.referral,
    });
    referralFeed.start();
  }
  return referralFeed;
}

/** Every feed that is open, for the connection indicator. */
export function openFeeds(): LiveCollection<unknown, { sequence: bigint; leftFilter: boolean }>[] {
  return [incidentFeed, unitFeed, referralFeed].filter((feed) => feed !== null) as never;
}

/** Closes every feed (sign-out). */
export function closeFeeds(): void {
  incidentFeed?.stop();
  unitFeed?.stop();
  referralFeed?.stop();
  incidentFeed = unitFeed = referralFeed = null;
}
