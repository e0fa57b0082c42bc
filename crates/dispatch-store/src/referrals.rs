//! Victim-care referrals to partner agencies: consent, lifecycle, follow-ups, the partner feed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use dispatch_domain::event::{IncidentEvent, PartnerEvent};
use dispatch_domain::ids::{FollowUpId, IncidentId, PartnerId, ReferralId};
use dispatch_domain::referral::{
    AgeRange, Consent, FollowUpOutcome, FollowUpRecord, FollowUpState, NewReferral, ReferralAction,
    ReferralHistoryKind, ReferralStatus, SafeContact, SafeContactChannel, Victim,
    check_can_record_follow_up, check_incident_can_refer, check_readdress,
};

use dispatch_domain::referral::{FollowUp, HistoryEntry, Referral};

use crate::error::parse;
use crate::events::{self, About};
use crate::idempotency::Claimed;
use crate::incidents::lock_incident;
use crate::partners::Partner;
use crate::resource::Resource;
use crate::rows::needs_from;
use crate::schema::{follow_ups, referral_history, referrals};
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, newest_first_after};

fn victim_json(victim: &Victim) -> Value {
    json!({
        "alias": victim.alias,
        "full_name": victim.full_name,
        "age_range": victim.age_range.as_str(),
        "gender": victim.gender,
        "language": victim.language,
        "safe_contact": victim.safe_contact.as_ref().map(|c| json!({
            "channel": c.channel.as_str(), "value": c.value, "safe_times": c.safe_times,
        })),
        "safety_notes": victim.safety_notes,
    })
}

fn victim_from_json(value: &Value) -> Result<Victim, Error> {
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let age = text("age_range");
    Ok(Victim {
        alias: text("alias"),
        full_name: text("full_name"),
        age_range: parse("age range", &age, AgeRange::parse)?,
        gender: text("gender"),
        language: text("language"),
        safe_contact: match value.get("safe_contact") {
            Some(contact) if !contact.is_null() => {
                let channel = contact["channel"].as_str().unwrap_or_default();
                Some(SafeContact {
                    channel: parse("safe contact channel", channel, SafeContactChannel::parse)?,
                    value: contact["value"].as_str().unwrap_or_default().to_owned(),
                    safe_times: contact["safe_times"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
            _ => None,
        },
        safety_notes: text("safety_notes"),
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = referrals, check_for_backend(diesel::pg::Pg))]
struct ReferralRow {
    id: Uuid,
    incident_id: Uuid,
    partner_id: Uuid,
    status: String,
    victim: Value,
    needs: Vec<String>,
    consent_given_by: Option<String>,
    consent_given_at: Option<DateTime<Utc>>,
    consent_scope: Option<String>,
    life_threat_medical_handoff: bool,
    decline_reason: String,
    notes: String,
    requested_by: String,
    version: i64,
    status_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = follow_ups, check_for_backend(diesel::pg::Pg))]
struct FollowUpRow {
    id: Uuid,
    referral_id: Uuid,
    due_at: DateTime<Utc>,
    state: String,
    done_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    outcome_note: String,
    recorded_by: String,
    scheduled: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<FollowUpRow> for FollowUp {
    type Error = Error;

    fn try_from(row: FollowUpRow) -> Result<Self, Error> {
        Ok(FollowUp {
            id: FollowUpId(row.id),
            referral: ReferralId(row.referral_id),
            due_at: row.due_at,
            state: parse("follow-up state", &row.state, FollowUpState::parse)?,
            done_at: row.done_at,
            outcome: row
                .outcome
                .as_deref()
                .map(|o| parse("follow-up outcome", o, FollowUpOutcome::parse))
                .transpose()?,
            outcome_note: row.outcome_note,
            recorded_by: row.recorded_by,
            scheduled: row.scheduled,
            created_at: row.created_at,
        })
    }
}

async fn load_referral(
    conn: &mut AsyncPgConnection,
    id: ReferralId,
    lock: bool,
) -> Result<Referral, Error> {
    let query = referrals::table.find(id.0).select(ReferralRow::as_select());
    let row: Option<ReferralRow> = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let row = row.ok_or_else(|| Error::NotFound(id.name()))?;
    #[expect(clippy::type_complexity, reason = "one row's columns, used just below")]
    let history: Vec<(
        i64,
        DateTime<Utc>,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<Uuid>,
        String,
        Option<Uuid>,
    )> = referral_history::table
        .filter(referral_history::referral_id.eq(id.0))
        .order(referral_history::id.asc())
        .select((
            referral_history::id,
            referral_history::created_at,
            referral_history::kind,
            referral_history::actor,
            referral_history::from_status,
            referral_history::to_status,
            referral_history::partner_id,
            referral_history::note,
            referral_history::follow_up,
        ))
        .load(conn)
        .await?;
    let follow: Vec<FollowUpRow> = follow_ups::table
        .filter(follow_ups::referral_id.eq(id.0))
        .order((follow_ups::due_at.asc(), follow_ups::id.asc()))
        .select(FollowUpRow::as_select())
        .load(conn)
        .await?;
    let status = |s: Option<String>| s.as_deref().and_then(ReferralStatus::parse);
    Ok(Referral {
        id: ReferralId(row.id),
        incident: IncidentId(row.incident_id),
        partner: PartnerId(row.partner_id),
        status: parse("referral status", &row.status, ReferralStatus::parse)?,
        victim: victim_from_json(&row.victim)?,
        needs: needs_from(&row.needs)?,
        consent: match (
            row.consent_given_by,
            row.consent_given_at,
            row.consent_scope,
        ) {
            (Some(given_by), Some(given_at), Some(scope)) => Some(Consent {
                given_by,
                given_at,
                scope,
            }),
            _ => None,
        },
        life_threat_medical_handoff: row.life_threat_medical_handoff,
        decline_reason: row.decline_reason,
        notes: row.notes,
        requested_by: row.requested_by,
        version: row.version,
        status_at: row.status_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        history: history
            .into_iter()
            .map(
                |(id, time, kind, actor, from, to, partner, note, follow_up)| HistoryEntry {
                    id,
                    time,
                    kind,
                    actor,
                    from_status: status(from),
                    to_status: status(to),
                    partner: partner.map(PartnerId),
                    note,
                    follow_up: follow_up.map(FollowUpId),
                },
            )
            .collect(),
        follow_ups: follow
            .into_iter()
            .map(FollowUp::try_from)
            .collect::<Result<_, _>>()?,
    })
}

/// Accept, decline, start, hold, resume, complete or cancel a referral, within the caller's
/// scope (a partner's own referrals), under its etag when one is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralTransition {
    pub referral: ReferralId,
    pub action: ReferralAction,
    /// The reason given (a decline's is kept as its decline reason).
    pub note: String,
    pub expected_version: Option<i64>,
    pub scope: Option<PartnerId>,
}

/// Send a declined referral to another partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readdress {
    pub referral: ReferralId,
    pub partner: PartnerId,
    pub note: String,
    pub expected_version: Option<i64>,
}

/// Record a follow-up of a referral: the scheduled one named, or an unscheduled one.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpRecording {
    pub referral: ReferralId,
    /// `None`: an unscheduled follow-up.
    pub follow_up: Option<FollowUpId>,
    pub record: FollowUpRecord,
    pub scope: Option<PartnerId>,
}

/// Which follow-ups to list; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpFilter {
    /// One partner's referrals only.
    pub partner: Option<PartnerId>,
    pub referral: Option<ReferralId>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_from: Option<DateTime<Utc>>,
    pub pending_only: bool,
    pub limit: i64,
}

/// A line of a referral's history, as written.
struct HistoryLine<'a> {
    referral: ReferralId,
    /// The partner the referral is addressed to after the change.
    partner: PartnerId,
    kind: ReferralHistoryKind,
    from: Option<ReferralStatus>,
    to: Option<ReferralStatus>,
    note: &'a str,
    follow_up: Option<FollowUpId>,
}

/// History line plus the event that announces it on the partner's feed.
async fn record(
    conn: &mut AsyncPgConnection,
    actor: &str,
    line: HistoryLine<'_>,
) -> Result<(), Error> {
    let history: i64 = diesel::insert_into(referral_history::table)
        .values((
            referral_history::referral_id.eq(line.referral.0),
            referral_history::kind.eq(line.kind.as_str()),
            referral_history::actor.eq(actor),
            referral_history::from_status.eq(line.from.map(ReferralStatus::as_str)),
            referral_history::to_status.eq(line.to.map(ReferralStatus::as_str)),
            referral_history::partner_id.eq(line.partner.0),
            referral_history::note.eq(line.note),
            referral_history::follow_up.eq(line.follow_up.map(|f| f.0)),
        ))
        .returning(referral_history::id)
        .get_result(conn)
        .await?;
    // The partner's feed points at the history line: no victim data in the event log, the
    // reader fetches the referral, within its scope.
    let announced = PartnerEvent::referral(line.kind, history);
    let about = About::partner(line.partner, Some(line.referral));
    events::append_one(conn, actor, about, announced).await
}

/// Moves a referral to `next`, addressed to `partner`, with `decline_reason`.
async fn set_status(
    conn: &mut AsyncPgConnection,
    id: ReferralId,
    next: ReferralStatus,
    partner: PartnerId,
    decline_reason: &str,
) -> Result<(), Error> {
    diesel::update(referrals::table.find(id.0))
        .set((
            referrals::status.eq(next.as_str()),
            referrals::partner_id.eq(partner.0),
            referrals::decline_reason.eq(decline_reason),
            referrals::status_at.eq(diesel::dsl::now),
            referrals::version.eq(referrals::version + 1),
            referrals::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A referral locked for a change: NOT_FOUND outside `scope`, `Stale` if its version is not
/// the `expected` one.
async fn lock_referral(
    conn: &mut AsyncPgConnection,
    id: ReferralId,
    scope: Option<PartnerId>,
    expected: Option<i64>,
) -> Result<Referral, Error> {
    let referral = load_referral(conn, id, true).await?;
    in_scope(&referral, scope)?;
    match expected {
        Some(v) if v != referral.version => Err(Error::Stale(id.name())),
        _ => Ok(referral),
    }
}

/// A referral outside the caller's partner scope reads exactly like a missing one.
fn in_scope(referral: &Referral, scope: Option<PartnerId>) -> Result<(), Error> {
    match scope {
        Some(partner) if partner != referral.partner => Err(Error::NotFound(referral.id.name())),
        _ => Ok(()),
    }
}

impl Store {
    /// Refers a victim to a partner, with the follow-ups due at `follow_ups`.
    pub async fn create_referral(
        &self,
        key: &Idempotency,
        actor: &str,
        referral: &NewReferral,
        follow_up_due: &[DateTime<Utc>],
    ) -> Result<Written<Referral>, Error> {
        let id = ReferralId::new_v7();
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let incident = lock_incident(conn, referral.incident).await?;
                check_incident_can_refer(incident.status, &referral.incident.name())?;
                let partner = Partner::read(conn, referral.partner).await?;
                referral.check_preconditions(&partner.facts())?;
                diesel::insert_into(referrals::table)
                    .values((
                        referrals::id.eq(id.0),
                        referrals::incident_id.eq(referral.incident.0),
                        referrals::partner_id.eq(referral.partner.0),
                        referrals::status.eq(ReferralStatus::Requested.as_str()),
                        referrals::victim.eq(victim_json(&referral.victim)),
                        referrals::needs.eq(referral
                            .needs
                            .iter()
                            .map(|n| n.as_str().to_owned())
                            .collect::<Vec<_>>()),
                        referrals::consent_given_by
                            .eq(referral.consent.as_ref().map(|c| c.given_by.clone())),
                        referrals::consent_given_at
                            .eq(referral.consent.as_ref().map(|c| c.given_at)),
                        referrals::consent_scope
                            .eq(referral.consent.as_ref().map(|c| c.scope.clone())),
                        referrals::life_threat_medical_handoff
                            .eq(referral.life_threat_medical_handoff),
                        referrals::notes.eq(&referral.notes),
                        referrals::requested_by.eq(actor),
                    ))
                    .execute(conn)
                    .await?;
                for due in follow_up_due {
                    diesel::insert_into(follow_ups::table)
                        .values((
                            follow_ups::id.eq(FollowUpId::new_v7().0),
                            follow_ups::referral_id.eq(id.0),
                            follow_ups::due_at.eq(*due),
                        ))
                        .execute(conn)
                        .await?;
                }
                let created = HistoryLine {
                    referral: id,
                    partner: referral.partner,
                    kind: ReferralHistoryKind::Created,
                    from: None,
                    to: Some(ReferralStatus::Requested),
                    note: "",
                    follow_up: None,
                };
                record(conn, actor, created).await?;
                let referred = IncidentEvent::ReferralCreated {
                    referral: id,
                    partner: referral.partner,
                };
                events::append_one(conn, actor, About::incident(referral.incident), referred).await
            },
            async |conn, claimed| {
                let id = claimed.resource(id, ReferralId::parse_name)?;
                load_referral(conn, id, false).await
            },
        )
        .await
    }

    /// A referral; outside `scope` (a partner's own) it is NOT_FOUND.
    pub async fn get_referral(
        &self,
        id: ReferralId,
        scope: Option<PartnerId>,
    ) -> Result<Referral, Error> {
        let referral = load_referral(&mut *self.conn().await?, id, false).await?;
        in_scope(&referral, scope)?;
        Ok(referral)
    }

    /// Referrals newest first; `partner` limits to one partner's (a partner sees only its own).
    pub async fn list_referrals(
        &self,
        partner: Option<PartnerId>,
        incident: Option<IncidentId>,
        statuses: &[ReferralStatus],
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<Referral>, Option<TimeCursor>), Error> {
        let mut conn = self.conn().await?;
        let mut query = referrals::table
            .select(referrals::id)
            .order((referrals::created_at.desc(), referrals::id.desc()))
            .into_boxed();
        if let Some(partner) = partner {
            query = query.filter(referrals::partner_id.eq(partner.0));
        }
        if let Some(incident) = incident {
            query = query.filter(referrals::incident_id.eq(incident.0));
        }
        if !statuses.is_empty() {
            query = query.filter(referrals::status.eq_any(statuses.iter().map(|s| s.as_str())));
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(
                referrals::created_at,
                referrals::id,
                after
            ))
        });
        let ids: Vec<Uuid> = query.load(&mut conn).await?;
        let (ids, more) = page.split(ids);
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            list.push(load_referral(&mut conn, ReferralId(id), false).await?);
        }
        let next = if more {
            list.last().map(|r| TimeCursor {
                time: r.created_at,
                id: r.id.0,
            })
        } else {
            None
        };
        Ok((list, next))
    }

    /// Accept, decline, start, hold, resume, complete or cancel, within the caller's scope.
    pub async fn transition_referral(
        &self,
        key: &Idempotency,
        actor: &str,
        change: &ReferralTransition,
    ) -> Result<Written<Referral>, Error> {
        let id = change.referral;
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let referral =
                    lock_referral(conn, id, change.scope, change.expected_version).await?;
                let next = referral.status.apply(change.action, &id.name())?;
                let decline = if change.action == ReferralAction::Decline {
                    change.note.as_str()
                } else {
                    ""
                };
                set_status(conn, id, next, referral.partner, decline).await?;
                if next == ReferralStatus::Cancelled {
                    diesel::update(
                        follow_ups::table
                            .filter(follow_ups::referral_id.eq(id.0))
                            .filter(follow_ups::state.eq("pending")),
                    )
                    .set(follow_ups::state.eq("cancelled"))
                    .execute(conn)
                    .await?;
                }
                let kind = match change.action {
                    ReferralAction::Accept => ReferralHistoryKind::Accepted,
                    ReferralAction::Decline => ReferralHistoryKind::Declined,
                    _ => ReferralHistoryKind::StatusChanged,
                };
                let line = HistoryLine {
                    referral: id,
                    partner: referral.partner,
                    kind,
                    from: Some(referral.status),
                    to: Some(next),
                    note: &change.note,
                    follow_up: None,
                };
                record(conn, actor, line).await
            },
            async |conn, _| load_referral(conn, id, false).await,
        )
        .await
    }

    /// Sends a declined referral to another partner; its history stays.
    pub async fn readdress_referral(
        &self,
        key: &Idempotency,
        actor: &str,
        change: &Readdress,
    ) -> Result<Written<Referral>, Error> {
        let id = change.referral;
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let referral = lock_referral(conn, id, None, change.expected_version).await?;
                let partner = Partner::read(conn, change.partner).await?;
                let next = check_readdress(
                    referral.status,
                    &id.name(),
                    referral.partner,
                    &referral.needs,
                    referral.life_threat_medical_handoff,
                    &partner.facts(),
                )?;
                set_status(conn, id, next, change.partner, "").await?;
                // The old partner's feed ends with its own decline: the referral's later life
                // belongs to the new partner alone.
                let line = HistoryLine {
                    referral: id,
                    partner: change.partner,
                    kind: ReferralHistoryKind::Readdressed,
                    from: Some(referral.status),
                    to: Some(next),
                    note: &change.note,
                    follow_up: None,
                };
                record(conn, actor, line).await
            },
            async |conn, _| load_referral(conn, id, false).await,
        )
        .await
    }

    /// Records a follow-up: the scheduled one named, or an unscheduled one. Answers the
    /// referral and the follow-up recorded.
    pub async fn record_follow_up(
        &self,
        key: &Idempotency,
        actor: &str,
        recording: &FollowUpRecording,
    ) -> Result<Written<(Referral, FollowUpId)>, Error> {
        let referral_id = recording.referral;
        let outcome = &recording.record;
        let new_id = FollowUpId::new_v7();
        self.write_once(
            key,
            &referral_id.name(),
            async |conn| {
                let referral = lock_referral(conn, referral_id, recording.scope, None).await?;
                // A named follow-up must belong to this referral.
                let existing = match recording.follow_up {
                    Some(id) => Some(
                        referral
                            .follow_ups
                            .iter()
                            .find(|x| x.id == id)
                            .ok_or_else(|| Error::NotFound(id.name(referral_id)))?,
                    ),
                    None => None,
                };
                let name = existing.map(FollowUp::name).unwrap_or_default();
                check_can_record_follow_up(
                    referral.status,
                    &referral_id.name(),
                    existing.map(|x| (x.state, name.as_str())),
                )?;
                let target = match existing {
                    Some(existing) => {
                        diesel::update(follow_ups::table.find(existing.id.0))
                            .set((
                                follow_ups::state.eq("done"),
                                follow_ups::done_at.eq(outcome.done_at),
                                follow_ups::outcome.eq(outcome.outcome.as_str()),
                                follow_ups::outcome_note.eq(&outcome.outcome_note),
                                follow_ups::recorded_by.eq(actor),
                            ))
                            .execute(conn)
                            .await?;
                        existing.id
                    }
                    None => {
                        diesel::insert_into(follow_ups::table)
                            .values((
                                follow_ups::id.eq(new_id.0),
                                follow_ups::referral_id.eq(referral_id.0),
                                follow_ups::due_at.eq(outcome.done_at),
                                follow_ups::state.eq("done"),
                                follow_ups::done_at.eq(outcome.done_at),
                                follow_ups::outcome.eq(outcome.outcome.as_str()),
                                follow_ups::outcome_note.eq(&outcome.outcome_note),
                                follow_ups::recorded_by.eq(actor),
                                follow_ups::scheduled.eq(false),
                            ))
                            .execute(conn)
                            .await?;
                        new_id
                    }
                };
                let line = HistoryLine {
                    referral: referral_id,
                    partner: referral.partner,
                    kind: ReferralHistoryKind::FollowUpRecorded,
                    from: None,
                    to: None,
                    note: outcome.outcome.as_str(),
                    follow_up: Some(target),
                };
                record(conn, actor, line).await?;
                Ok(target)
            },
            async |conn, claimed| {
                let target = match claimed {
                    Claimed::New(target) => target,
                    Claimed::Replay(_) => recording.follow_up.unwrap_or(new_id),
                };
                Ok((load_referral(conn, referral_id, false).await?, target))
            },
        )
        .await
    }

    /// Follow-ups, soonest due first, each with the partner its referral is addressed to.
    pub async fn list_follow_ups(
        &self,
        filter: &FollowUpFilter,
    ) -> Result<Vec<(FollowUp, PartnerId)>, Error> {
        let mut conn = self.conn().await?;
        let mut query = follow_ups::table
            .inner_join(referrals::table)
            .select((FollowUpRow::as_select(), referrals::partner_id))
            .order((follow_ups::due_at.asc(), follow_ups::id.asc()))
            .limit(filter.limit)
            .into_boxed();
        if let Some(partner) = filter.partner {
            query = query.filter(referrals::partner_id.eq(partner.0));
        }
        if let Some(referral) = filter.referral {
            query = query.filter(follow_ups::referral_id.eq(referral.0));
        }
        if let Some(before) = filter.due_before {
            query = query.filter(follow_ups::due_at.lt(before));
        }
        if let Some(from) = filter.due_from {
            query = query.filter(follow_ups::due_at.ge(from));
        }
        if filter.pending_only {
            query = query.filter(follow_ups::state.eq("pending"));
        }
        let rows: Vec<(FollowUpRow, Uuid)> = query.load(&mut conn).await?;
        rows.into_iter()
            .map(|(row, partner)| Ok((FollowUp::try_from(row)?, PartnerId(partner))))
            .collect()
    }
}
