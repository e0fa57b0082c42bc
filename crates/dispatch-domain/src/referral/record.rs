//! Referrals as recorded: the referral with its history and follow-ups.

use crate::ids::{FollowUpId, IncidentId, PartnerId, ReferralId};
use crate::referral::{Consent, FollowUpOutcome, FollowUpState, Need, ReferralStatus, Victim};
use chrono::{DateTime, Utc};

/// One line of a referral's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub from_status: Option<ReferralStatus>,
    pub to_status: Option<ReferralStatus>,
    pub partner: Option<PartnerId>,
    pub note: String,
    pub follow_up: Option<FollowUpId>,
}

/// A follow-up as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUp {
    pub id: FollowUpId,
    pub referral: ReferralId,
    pub due_at: DateTime<Utc>,
    pub state: FollowUpState,
    pub done_at: Option<DateTime<Utc>>,
    pub outcome: Option<FollowUpOutcome>,
    pub outcome_note: String,
    pub recorded_by: String,
    pub scheduled: bool,
    pub created_at: DateTime<Utc>,
}

/// A referral with its history and follow-ups.
#[derive(Debug, Clone, PartialEq)]
pub struct Referral {
    pub id: ReferralId,
    pub incident: IncidentId,
    pub partner: PartnerId,
    pub status: ReferralStatus,
    pub victim: Victim,
    pub needs: Vec<Need>,
    pub consent: Option<Consent>,
    pub life_threat_medical_handoff: bool,
    pub decline_reason: String,
    pub notes: String,
    pub requested_by: String,
    pub version: i64,
    pub status_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<HistoryEntry>,
    pub follow_ups: Vec<FollowUp>,
}

impl FollowUp {
    /// `referrals/{uuid}/follow-ups/{uuid}`.
    pub fn name(&self) -> String {
        self.id.name(self.referral)
    }
}
