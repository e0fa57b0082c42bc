//! VictimCareReferralService on the wire: referrals, their history and follow-ups as messages.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_NOTE_CHARS, check_length};
use dispatch_domain::ids::{FollowUpId, IncidentId, PartnerId, ReferralId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{
    AgeRange, ConsentDraft, FollowUpOutcome, FollowUpRecord, FollowUpRecordDraft, FollowUpStatus,
    Need, NewReferral, ReferralDraft, ReferralHistoryKind, ReferralStatus, SafeContactChannel,
    SafeContactDraft, VictimDraft, decline_reason, suggestion_limit, validate_needs,
    validate_status_update,
};
use dispatch_domain::referral::{FollowUp, HistoryEntry, Referral};
use dispatch_proto::v1 as pb;
use dispatch_store::{Page, TimeCursor};

use super::enums::{WireEnum, enum_filter, wire_or_unspecified};
use super::wire::{self, Fields as _, mutation, timestamp, valid};
use crate::services::request::{self, Mutation};

pub fn follow_up_message(follow_up: &FollowUp) -> pb::FollowUp {
    let now = Utc::now();
    pb::FollowUp {
        name: follow_up.name(),
        due_time: Some(timestamp(follow_up.due_at)),
        done_time: follow_up.done_at.map(timestamp),
        status: follow_up.state.status_at(follow_up.due_at, now).wire(),
        outcome: follow_up.outcome.map_or(0, WireEnum::wire),
        outcome_note: follow_up.outcome_note.clone(),
        recorded_by: follow_up.recorded_by.clone(),
        create_time: Some(timestamp(follow_up.created_at)),
        scheduled: follow_up.scheduled,
    }
}

/// A stored history kind on the wire; one this server does not know is UNSPECIFIED.
fn history_kind(kind: &str) -> i32 {
    wire_or_unspecified(ReferralHistoryKind::parse(kind))
}

/// One history entry on the wire: the same in GetReferral and in the WatchReferrals event that
/// recorded it.
pub fn history_entry(referral: ReferralId, entry: &HistoryEntry) -> pb::ReferralHistoryEntry {
    pb::ReferralHistoryEntry {
        time: Some(timestamp(entry.time)),
        kind: history_kind(&entry.kind),
        actor: entry.actor.clone(),
        from_status: entry.from_status.map_or(0, WireEnum::wire),
        to_status: entry.to_status.map_or(0, WireEnum::wire),
        partner: entry.partner.map(|p| p.name()).unwrap_or_default(),
        note: entry.note.clone(),
        follow_up: entry
            .follow_up
            .map(|f| f.name(referral))
            .unwrap_or_default(),
    }
}

pub fn referral_message(referral: &Referral) -> pb::Referral {
    let victim = &referral.victim;
    pb::Referral {
        name: referral.id.name(),
        incident: referral.incident.name(),
        victim: Some(pb::Victim {
            alias: victim.alias.clone(),
            full_name: victim.full_name.clone(),
            age_range: victim.age_range.wire(),
            gender: victim.gender.clone(),
            language: victim.language.clone(),
            safe_contact: victim.safe_contact.as_ref().map(|c| pb::SafeContact {
                channel: c.channel.wire(),
                value: c.value.clone(),
                safe_times: c.safe_times.clone(),
            }),
            safety_notes: victim.safety_notes.clone(),
        }),
        needs: referral.needs.iter().map(|n| n.wire()).collect(),
        partner: referral.partner.name(),
        status: referral.status.wire(),
        decline_reason: referral.decline_reason.clone(),
        life_threat_medical_handoff: referral.life_threat_medical_handoff,
        consent: Some(match &referral.consent {
            Some(consent) => pb::Consent {
                given: true,
                given_by: consent.given_by.clone(),
                given_time: Some(timestamp(consent.given_at)),
                scope: consent.scope.clone(),
            },
            None => pb::Consent::default(),
        }),
        notes: referral.notes.clone(),
        history: referral
            .history
            .iter()
            .map(|entry| history_entry(referral.id, entry))
            .collect(),
        follow_ups: referral.follow_ups.iter().map(follow_up_message).collect(),
        create_time: Some(timestamp(referral.created_at)),
        update_time: Some(timestamp(referral.updated_at)),
        etag: request::etag(referral.version),
        requested_by: referral.requested_by.clone(),
        status_time: Some(timestamp(referral.status_at)),
    }
}

pub struct SuggestPartners {
    pub at: GeoPoint,
    pub needs: Vec<Need>,
    pub limit: usize,
}

impl TryFrom<pb::SuggestPartnersRequest> for SuggestPartners {
    type Error = Violations;

    fn try_from(message: pb::SuggestPartnersRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let at = wire::required_point("location", message.location.as_ref(), &mut violations);
        let needs = violations.collect(validate_needs("needs", &needs_from(&message.needs)));
        let limit = violations.collect(suggestion_limit(message.limit));
        valid(violations, || {
            Some(Self {
                at: at?,
                needs: needs?,
                limit: limit?,
            })
        })
    }
}

fn needs_from(needs: &[i32]) -> Vec<Option<Need>> {
    needs.iter().map(|v| Need::from_wire(*v)).collect()
}

pub struct CreateReferral {
    pub mutation: Mutation,
    pub referral: NewReferral,
}

impl TryFrom<pb::CreateReferralRequest> for CreateReferral {
    type Error = Violations;

    fn try_from(message: pb::CreateReferralRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let consent = message.consent.unwrap_or_default();
        let given_at = violations.collect(wire::datetime(
            "consent.given_time",
            consent.given_time.as_ref(),
        ));
        let draft = ReferralDraft {
            incident: message.incident,
            victim: message.victim.map(|v| VictimDraft {
                alias: v.alias,
                full_name: v.full_name,
                age_range: AgeRange::from_wire(v.age_range),
                gender: v.gender,
                language: v.language,
                safe_contact: v.safe_contact.map(|c| SafeContactDraft {
                    channel: SafeContactChannel::from_wire(c.channel),
                    value: c.value,
                    safe_times: c.safe_times,
                }),
                safety_notes: v.safety_notes,
            }),
            needs: needs_from(&message.needs),
            partner: message.partner,
            consent: ConsentDraft {
                given: consent.given,
                given_by: consent.given_by,
                given_at: given_at.flatten(),
                scope: consent.scope,
            },
            life_threat_medical_handoff: message.life_threat_medical_handoff,
            notes: message.notes,
        };
        let referral = violations.collect(draft.validate(Utc::now()));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                referral: referral?,
            })
        })
    }
}

pub struct ListReferrals {
    pub page: Page<TimeCursor>,
    pub partner: Option<PartnerId>,
    pub incident: Option<IncidentId>,
    pub statuses: Vec<ReferralStatus>,
}

impl TryFrom<pb::ListReferralsRequest> for ListReferrals {
    type Error = Violations;

    fn try_from(message: pb::ListReferralsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let partner = violations.optional("partner", &message.partner, PartnerId::parse_name);
        let incident = violations.optional("incident", &message.incident, IncidentId::parse_name);
        let statuses =
            violations.collect(enum_filter::<ReferralStatus>("statuses", &message.statuses));
        valid(violations, || {
            Some(Self {
                page: page?,
                partner,
                incident,
                statuses: statuses?,
            })
        })
    }
}

/// What every change of a referral's status carries: the referral, a note, the etag it was read
/// at. AcceptReferral, DeclineReferral (its note the reason) and UpdateReferralStatus convert
/// into one.
pub struct Transition {
    pub mutation: Mutation,
    pub referral: ReferralId,
    pub note: String,
    pub etag: Option<i64>,
}

impl Transition {
    fn check(
        mutation: Result<Mutation, Violations>,
        name: &str,
        note: String,
        etag: &str,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = violations.collect(mutation);
        let referral = violations.collect(ReferralId::parse_name("name", name));
        check_length(&mut violations, "note", &note, MAX_NOTE_CHARS);
        let etag = violations.collect(request::etag_from("etag", etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                referral: referral?,
                note,
                etag: etag?,
            })
        })
    }
}

impl TryFrom<pb::AcceptReferralRequest> for Transition {
    type Error = Violations;

    fn try_from(message: pb::AcceptReferralRequest) -> Result<Self, Violations> {
        let mutation = Mutation::of(&message, &message.request_id, |m| m.request_id.clear());
        Self::check(mutation, &message.name, message.note, &message.etag)
    }
}

impl TryFrom<pb::DeclineReferralRequest> for Transition {
    type Error = Violations;

    /// The reason first, alone: a decline without one is refused for that.
    fn try_from(message: pb::DeclineReferralRequest) -> Result<Self, Violations> {
        let reason = decline_reason(&message.reason)?;
        let mutation = Mutation::of(&message, &message.request_id, |m| m.request_id.clear());
        Self::check(mutation, &message.name, reason, &message.etag)
    }
}

pub struct UpdateReferralStatus {
    pub target: ReferralStatus,
    pub transition: Transition,
}

impl TryFrom<pb::UpdateReferralStatusRequest> for UpdateReferralStatus {
    type Error = Violations;

    /// The target first, then the referral's name, each alone; then what every transition
    /// carries.
    fn try_from(message: pb::UpdateReferralStatusRequest) -> Result<Self, Violations> {
        let target =
            validate_status_update(ReferralStatus::from_wire(message.status), &message.note)?;
        ReferralId::parse_name("name", &message.name)?;
        let mutation = Mutation::of(&message, &message.request_id, |m| m.request_id.clear());
        let transition = Transition::check(mutation, &message.name, message.note, &message.etag)?;
        Ok(Self { target, transition })
    }
}

pub struct ReaddressReferral {
    pub mutation: Mutation,
    pub referral: ReferralId,
    pub partner: PartnerId,
    pub note: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::ReaddressReferralRequest> for ReaddressReferral {
    type Error = Violations;

    fn try_from(message: pb::ReaddressReferralRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let referral = violations.collect(ReferralId::parse_name("name", &message.name));
        let partner = violations.collect(PartnerId::parse_name("partner", &message.partner));
        check_length(&mut violations, "note", &message.note, MAX_NOTE_CHARS);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                referral: referral?,
                partner: partner?,
                note: message.note,
                etag: etag?,
            })
        })
    }
}

pub struct RecordFollowUp {
    pub mutation: Mutation,
    pub referral: ReferralId,
    /// The scheduled follow-up this contact was; an unscheduled one when `None`.
    pub follow_up: Option<FollowUpId>,
    pub record: FollowUpRecord,
}

impl TryFrom<pb::RecordFollowUpRequest> for RecordFollowUp {
    type Error = Violations;

    fn try_from(message: pb::RecordFollowUpRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let referral = violations.collect(ReferralId::parse_name("referral", &message.referral));
        let parse_follow_up = |field: &str, name: &str| {
            name.rsplit_once("/follow-ups/")
                .and_then(|(_, id)| Uuid::parse_str(id).ok().map(FollowUpId))
                .ok_or_else(|| {
                    Violations::single(field, "must be a referrals/{uuid}/follow-ups/{uuid} name")
                })
        };
        let follow_up = violations.optional("follow_up", &message.follow_up, parse_follow_up);
        let done_at = violations.collect(wire::datetime("done_time", message.done_time.as_ref()));
        let record = done_at.and_then(|done_at| {
            violations.collect(
                FollowUpRecordDraft {
                    outcome: FollowUpOutcome::from_wire(message.outcome),
                    outcome_note: message.outcome_note,
                    done_at,
                }
                .validate(Utc::now()),
            )
        });
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                referral: referral?,
                follow_up,
                record: record?,
            })
        })
    }
}

pub struct ListFollowUps {
    pub size: i64,
    pub referral: Option<ReferralId>,
    pub partner: Option<PartnerId>,
    pub statuses: Vec<FollowUpStatus>,
    pub due_from: Option<DateTime<Utc>>,
    pub due_until: Option<DateTime<Utc>>,
}

impl TryFrom<pb::ListFollowUpsRequest> for ListFollowUps {
    type Error = Violations;

    fn try_from(message: pb::ListFollowUpsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let size = violations.collect(request::page_size(message.page_size));
        let referral = violations.optional("referral", &message.referral, ReferralId::parse_name);
        let partner = violations.optional("partner", &message.partner, PartnerId::parse_name);
        let statuses =
            violations.collect(enum_filter::<FollowUpStatus>("statuses", &message.statuses));
        let (due_from, due_until) = wire::time_range("due", message.due.as_ref(), &mut violations);
        valid(violations, || {
            Some(Self {
                size: size?,
                referral,
                partner,
                statuses: statuses?,
                due_from,
                due_until,
            })
        })
    }
}

/// The referrals a WatchReferrals stream shows, and the sequence it resumes after (0: a
/// snapshot first).
pub struct WatchReferrals {
    /// The partner asked for; every partner's (a supervisor) when `None`.
    pub partner: Option<PartnerId>,
    pub statuses: Vec<ReferralStatus>,
    pub after: i64,
}

impl TryFrom<pb::WatchReferralsRequest> for WatchReferrals {
    type Error = Violations;

    fn try_from(message: pb::WatchReferralsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let partner = violations.optional("partner", &message.partner, PartnerId::parse_name);
        let statuses =
            violations.collect(enum_filter::<ReferralStatus>("statuses", &message.statuses));
        request::check_after(message.after_sequence, &mut violations);
        valid(violations, || {
            Some(Self {
                partner,
                statuses: statuses?,
                after: message.after_sequence,
            })
        })
    }
}
