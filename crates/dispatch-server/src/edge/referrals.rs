//! VictimCareReferralService on the wire: referrals, their history and follow-ups as messages.

use chrono::Utc;

use dispatch_domain::ids::ReferralId;
use dispatch_domain::referral::ReferralHistoryKind;
use dispatch_domain::referral::{FollowUp, HistoryEntry, Referral};
use dispatch_proto::v1 as pb;

use super::enums::{WireEnum, wire_or_unspecified};
use super::wire::timestamp;
use crate::services::request;

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
