//! Victim-care referrals: a victim of an incident referred, with consent, to a partner agency
//! (hospital, Cruz Roja, women's centre, shelter, legal aid, ...), the referral's lifecycle, its
//! follow-up schedule, and which partners to suggest for a victim at a place with given needs.
//!
//! Everything here is pure: the caller loads the incident, the partner and the clock, and passes
//! them in.

pub mod area;
pub mod draft;
pub mod follow_up;
pub mod record;
pub mod suggest;

pub use area::{Polygon, ServiceArea};
pub use draft::{
    Consent, ConsentDraft, NewReferral, PartnerFacts, ReferralDraft, SafeContact, SafeContactDraft,
    Victim, VictimDraft, check_incident_can_refer, check_partner_rules, check_readdress,
    decline_reason, validate_needs,
};
pub use follow_up::{
    FollowUpPolicy, FollowUpRecord, FollowUpRecordDraft, check_can_record_follow_up, parse_offsets,
};
pub use record::{FollowUp, HistoryEntry, Referral};
pub use suggest::{PartnerCandidate, Suggestion, suggest, suggestion_limit};

use crate::{Error, Violations, call::check_length};

/// The most any note, reason or outcome text of a referral may hold.
pub const MAX_NOTE_CHARS: usize = 4_000;

text_enum! {
    /// A victim-care need; also the services a partner agency offers (`ReferralNeed`).
    pub enum Need {
        /// Medical care (hospital, Cruz Roja).
        Medical => "medical",
        Psychological => "psychological",
        Legal => "legal",
        Shelter => "shelter",
        SocialProgram => "social_program",
        ChildProtection => "child_protection",
        /// Follow-up calls, as the *765 line makes.
        FollowUpCalls => "follow_up_calls",
    }
}

impl Need {
    /// For people: `social program` rather than `social_program`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Medical => "medical",
            Self::Psychological => "psychological",
            Self::Legal => "legal",
            Self::Shelter => "shelter",
            Self::SocialProgram => "social program",
            Self::ChildProtection => "child protection",
            Self::FollowUpCalls => "follow-up calls",
        }
    }
}

text_enum! {
    /// Kind of victim-care partner.
    pub enum PartnerKind {
        /// The only kind that may receive a life-threat hand-off without consent.
        Hospital => "hospital",
        RedCross => "red_cross",
        WomensCentre => "womens_centre",
        Shelter => "shelter",
        LegalAid => "legal_aid",
        PsychologicalCare => "psychological_care",
        ChildProtection => "child_protection",
        SocialProgram => "social_program",
        Other => "other",
    }
}

text_enum! {
    /// Age bracket of a victim (minimum necessary data: no birth date).
    pub enum AgeRange {
        /// Under 12.
        Child => "child",
        /// 12 to 17.
        Adolescent => "adolescent",
        /// 18 to 59.
        Adult => "adult",
        /// 60 and over.
        OlderAdult => "older_adult",
        Unknown => "unknown",
    }
}

text_enum! {
    /// How a victim may be contacted without endangering them.
    pub enum SafeContactChannel {
        Phone => "phone",
        Sms => "sms",
        MessagingApp => "messaging_app",
        Email => "email",
        /// In person only; the value says where.
        InPerson => "in_person",
    }
}

text_enum! {
    /// Outcome of a follow-up contact.
    pub enum FollowUpOutcome {
        ReachedSafe => "reached_safe",
        ReachedNeedsSupport => "reached_needs_support",
        /// Escalate.
        ReachedInDanger => "reached_in_danger",
        NotReached => "not_reached",
        DeclinedContact => "declined_contact",
        /// Anything else; a note is required.
        Other => "other",
    }
}

text_enum! {
    /// A follow-up as stored. OVERDUE is never stored: see [`FollowUpState::status_at`].
    pub enum FollowUpState {
        Pending => "pending",
        Done => "done",
        /// No longer needed: the referral was cancelled first.
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// A follow-up as read: its stored state, with PENDING past its due time shown as OVERDUE.
    pub enum FollowUpStatus {
        Pending => "pending",
        Overdue => "overdue",
        Done => "done",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// What one entry of a referral's append-only history records.
    pub enum ReferralHistoryKind {
        Created => "created",
        Accepted => "accepted",
        Declined => "declined",
        /// Any change made through UpdateReferralStatus.
        StatusChanged => "status_changed",
        Readdressed => "readdressed",
        FollowUpRecorded => "follow_up_recorded",
    }
}

text_enum! {
    /// Lifecycle of a referral, after FHIR Task statuses.
    pub enum ReferralStatus {
        /// Sent to the partner, awaiting an answer.
        Requested => "requested",
        Accepted => "accepted",
        /// The partner declined with a reason; the referral can be re-addressed.
        Declined => "declined",
        /// The partner is providing care.
        InProgress => "in_progress",
        OnHold => "on_hold",
        /// Terminal.
        Completed => "completed",
        /// Terminal.
        Cancelled => "cancelled",
    }
}

/// Something that moves a referral along its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferralAction {
    /// The partner accepts (AcceptReferral).
    Accept,
    /// The partner declines with a reason (DeclineReferral; see [`decline_reason`]).
    Decline,
    /// Care begins.
    Start,
    /// Care pauses.
    Hold,
    /// Care resumes after a pause.
    Resume,
    Complete,
    /// Also cancels the referral's pending follow-ups.
    Cancel,
    /// A declined referral goes to another partner (ReaddressReferral; see [`check_readdress`]).
    Readdress,
}

impl ReferralAction {
    pub const ALL: [Self; 8] = [
        Self::Accept,
        Self::Decline,
        Self::Start,
        Self::Hold,
        Self::Resume,
        Self::Complete,
        Self::Cancel,
        Self::Readdress,
    ];

    fn describe(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Start => "start",
            Self::Hold => "put on hold",
            Self::Resume => "resume",
            Self::Complete => "complete",
            Self::Cancel => "cancel",
            Self::Readdress => "re-address",
        }
    }

    /// The history entry the action appends.
    pub fn history_kind(self) -> ReferralHistoryKind {
        match self {
            Self::Accept => ReferralHistoryKind::Accepted,
            Self::Decline => ReferralHistoryKind::Declined,
            Self::Start | Self::Hold | Self::Resume | Self::Complete | Self::Cancel => {
                ReferralHistoryKind::StatusChanged
            }
            Self::Readdress => ReferralHistoryKind::Readdressed,
        }
    }
}

impl ReferralStatus {
    /// COMPLETED and CANCELLED: nothing moves a referral out of them.
    pub fn is_terminal(self) -> bool {
        match self {
            Self::Completed | Self::Cancelled => true,
            Self::Requested | Self::Accepted | Self::Declined | Self::InProgress | Self::OnHold => {
                false
            }
        }
    }

    /// The lifecycle (referral.proto): REQUESTED -> ACCEPTED | DECLINED; ACCEPTED ->
    /// IN_PROGRESS; IN_PROGRESS <-> ON_HOLD; ACCEPTED | IN_PROGRESS | ON_HOLD -> COMPLETED;
    /// DECLINED -> REQUESTED (re-addressed to another partner); any non-terminal status ->
    /// CANCELLED. Returns the status after the action; anything else is `WrongState` naming the
    /// current status.
    pub fn apply(self, action: ReferralAction, subject: &str) -> Result<ReferralStatus, Error> {
        use ReferralAction as A;
        use ReferralStatus::{
            Accepted, Cancelled, Completed, Declined, InProgress, OnHold, Requested,
        };
        let next = match (self, action) {
            (Completed | Cancelled, _) => None,
            (Requested, A::Accept) => Some(Accepted),
            (Requested, A::Decline) => Some(Declined),
            (Accepted, A::Start) => Some(InProgress),
            (InProgress, A::Hold) => Some(OnHold),
            (OnHold, A::Resume) => Some(InProgress),
            (Accepted | InProgress | OnHold, A::Complete) => Some(Completed),
            (Requested | Accepted | Declined | InProgress | OnHold, A::Cancel) => Some(Cancelled),
            (Declined, A::Readdress) => Some(Requested),
            (Accepted | Declined | InProgress | OnHold, A::Accept | A::Decline)
            | (Requested | Declined | InProgress | OnHold, A::Start)
            | (Requested | Accepted | Declined | OnHold, A::Hold)
            | (Requested | Accepted | Declined | InProgress, A::Resume)
            | (Requested | Declined, A::Complete)
            | (Requested | Accepted | InProgress | OnHold, A::Readdress) => None,
        };
        next.ok_or_else(|| Error::WrongState {
            subject: subject.to_owned(),
            current: self.to_string(),
            action: action.describe().to_owned(),
        })
    }

    /// UpdateReferralStatus: moves to `target` (IN_PROGRESS, ON_HOLD, COMPLETED or CANCELLED)
    /// with the action that leads there (IN_PROGRESS from ON_HOLD is a resume, otherwise a
    /// start). Other targets are `Invalid` on `status` (INVALID_ARGUMENT: use Accept, Decline or
    /// Readdress); an illegal move is `WrongState`. Check the request first with
    /// [`validate_status_update`].
    pub fn update_to(
        self,
        target: ReferralStatus,
        subject: &str,
    ) -> Result<(ReferralStatus, ReferralAction), Error> {
        let action = ReferralAction::for_update(self, target)?;
        Ok((self.apply(action, subject)?, action))
    }
}

impl ReferralAction {
    /// The action UpdateReferralStatus means by `target`, given the current status.
    pub fn for_update(
        current: ReferralStatus,
        target: ReferralStatus,
    ) -> Result<ReferralAction, Violations> {
        match target {
            ReferralStatus::InProgress if current == ReferralStatus::OnHold => Ok(Self::Resume),
            ReferralStatus::InProgress => Ok(Self::Start),
            ReferralStatus::OnHold => Ok(Self::Hold),
            ReferralStatus::Completed => Ok(Self::Complete),
            ReferralStatus::Cancelled => Ok(Self::Cancel),
            ReferralStatus::Requested | ReferralStatus::Accepted | ReferralStatus::Declined => {
                Err(Violations::single("status", not_an_update_target(target)))
            }
        }
    }
}

fn not_an_update_target(target: ReferralStatus) -> String {
    format!(
        "must be in_progress, on_hold, completed or cancelled, got {target}: use \
         AcceptReferral, DeclineReferral or ReaddressReferral"
    )
}

/// Checks an UpdateReferralStatus request: the target (`None` for UNSPECIFIED) and the note,
/// which is required when cancelling. Paths are relative to the request.
pub fn validate_status_update(
    target: Option<ReferralStatus>,
    note: &str,
) -> Result<ReferralStatus, Violations> {
    let mut violations = Violations::new();
    match target {
        None => violations.add(
            "status",
            "required: in_progress, on_hold, completed or cancelled",
        ),
        Some(
            target @ (ReferralStatus::Requested
            | ReferralStatus::Accepted
            | ReferralStatus::Declined),
        ) => violations.add("status", not_an_update_target(target)),
        Some(
            ReferralStatus::InProgress
            | ReferralStatus::OnHold
            | ReferralStatus::Completed
            | ReferralStatus::Cancelled,
        ) => {}
    }
    if target == Some(ReferralStatus::Cancelled) && note.trim().is_empty() {
        violations.add("note", "required when cancelling: why");
    }
    check_length(&mut violations, "note", note, MAX_NOTE_CHARS);
    match target {
        Some(target) if violations.is_empty() => Ok(target),
        _ => Err(violations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PartnerId, ReferralId};

    /// The lifecycle written out as a table: every (status, action) pair and its outcome.
    fn expected(status: ReferralStatus, action: ReferralAction) -> Option<ReferralStatus> {
        use ReferralAction as A;
        use ReferralStatus::*;
        match (status, action) {
            (Requested, A::Accept) => Some(Accepted),
            (Requested, A::Decline) => Some(Declined),
            (Requested, A::Cancel) => Some(Cancelled),
            (Accepted, A::Start) => Some(InProgress),
            (Accepted, A::Complete) => Some(Completed),
            (Accepted, A::Cancel) => Some(Cancelled),
            (InProgress, A::Hold) => Some(OnHold),
            (InProgress, A::Complete) => Some(Completed),
            (InProgress, A::Cancel) => Some(Cancelled),
            (OnHold, A::Resume) => Some(InProgress),
            (OnHold, A::Complete) => Some(Completed),
            (OnHold, A::Cancel) => Some(Cancelled),
            (Declined, A::Readdress) => Some(Requested),
            (Declined, A::Cancel) => Some(Cancelled),
            _ => None,
        }
    }

    #[test]
    fn every_action_from_every_status_follows_the_table() {
        let mut legal = 0;
        for &status in ReferralStatus::ALL {
            for action in ReferralAction::ALL {
                let outcome = status.apply(action, "referrals/x");
                assert_eq!(
                    outcome.as_ref().ok().copied(),
                    expected(status, action),
                    "{status} {action:?}"
                );
                match &outcome {
                    Err(Error::WrongState {
                        subject,
                        current,
                        action: what,
                    }) => {
                        assert_eq!(subject, "referrals/x");
                        assert_eq!(current, status.as_str(), "names the current status");
                        assert_eq!(what, action.describe());
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                    Ok(_) => legal += 1,
                }
            }
        }
        // REQUESTED 3, ACCEPTED 3, IN_PROGRESS 3, ON_HOLD 3, DECLINED 2; terminal ones nothing.
        assert_eq!(legal, 14);
        for &status in ReferralStatus::ALL {
            let moves = ReferralAction::ALL
                .iter()
                .any(|&action| status.apply(action, "r").is_ok());
            assert_eq!(moves, !status.is_terminal(), "{status}");
        }
    }

    #[test]
    fn the_proto_wins_over_the_loose_description() {
        // IN_PROGRESS <-> ON_HOLD only: an accepted referral is started before it is paused.
        assert!(
            ReferralStatus::Accepted
                .apply(ReferralAction::Hold, "r")
                .is_err()
        );
        // ON_HOLD may complete; DECLINED is not terminal and may be cancelled.
        assert_eq!(
            ReferralStatus::OnHold.apply(ReferralAction::Complete, "r"),
            Ok(ReferralStatus::Completed)
        );
        assert_eq!(
            ReferralStatus::Declined.apply(ReferralAction::Cancel, "r"),
            Ok(ReferralStatus::Cancelled)
        );
    }

    #[test]
    fn a_declined_referral_is_readdressed_and_runs_to_completion() {
        let mut status = ReferralStatus::Requested;
        for action in [
            ReferralAction::Decline,
            ReferralAction::Readdress,
            ReferralAction::Accept,
            ReferralAction::Start,
            ReferralAction::Hold,
            ReferralAction::Resume,
            ReferralAction::Complete,
        ] {
            status = status.apply(action, "referrals/x").unwrap();
        }
        assert_eq!(status, ReferralStatus::Completed);
    }

    #[test]
    fn update_targets_map_to_actions() {
        use ReferralStatus::*;
        assert_eq!(
            OnHold.update_to(InProgress, "r"),
            Ok((InProgress, ReferralAction::Resume))
        );
        assert_eq!(
            Accepted.update_to(InProgress, "r"),
            Ok((InProgress, ReferralAction::Start))
        );
        assert_eq!(
            InProgress.update_to(OnHold, "r"),
            Ok((OnHold, ReferralAction::Hold))
        );
        assert_eq!(
            OnHold.update_to(Cancelled, "r"),
            Ok((Cancelled, ReferralAction::Cancel))
        );
        assert!(matches!(
            Requested.update_to(InProgress, "r"),
            Err(Error::WrongState { ref current, .. }) if current == "requested"
        ));
        for target in [Requested, Accepted, Declined] {
            assert!(matches!(
                Requested.update_to(target, "r"),
                Err(Error::Invalid(_))
            ));
        }
    }

    #[test]
    fn status_update_requests() {
        use ReferralStatus::*;
        assert_eq!(validate_status_update(Some(Completed), ""), Ok(Completed));
        assert_eq!(
            validate_status_update(Some(Cancelled), "victim moved away"),
            Ok(Cancelled)
        );
        let fields = |result: Result<ReferralStatus, Violations>| -> Vec<String> {
            result
                .unwrap_err()
                .iter()
                .map(|v| v.field.clone())
                .collect()
        };
        assert_eq!(fields(validate_status_update(None, "")), ["status"]);
        assert_eq!(
            fields(validate_status_update(Some(Accepted), "")),
            ["status"]
        );
        assert_eq!(
            fields(validate_status_update(Some(Cancelled), " ")),
            ["note"]
        );
        assert_eq!(
            fields(validate_status_update(Some(OnHold), &"x".repeat(4_001))),
            ["note"]
        );
    }

    #[test]
    fn history_kinds() {
        assert_eq!(
            ReferralAction::Accept.history_kind(),
            ReferralHistoryKind::Accepted
        );
        assert_eq!(
            ReferralAction::Readdress.history_kind(),
            ReferralHistoryKind::Readdressed
        );
        assert_eq!(
            ReferralAction::Hold.history_kind(),
            ReferralHistoryKind::StatusChanged
        );
    }

    #[test]
    fn text_round_trips() {
        for &need in Need::ALL {
            assert_eq!(Need::parse(need.as_str()), Some(need));
        }
        assert_eq!(Need::ALL.len(), 7);
        assert_eq!(PartnerKind::ALL.len(), 9);
        assert_eq!(
            PartnerKind::parse("womens_centre"),
            Some(PartnerKind::WomensCentre)
        );
        assert_eq!(
            ReferralStatus::parse("in_progress"),
            Some(ReferralStatus::InProgress)
        );
        assert_eq!(Need::SocialProgram.label(), "social program");
    }

    #[test]
    fn names() {
        let id = uuid::Uuid::now_v7();
        let (partner, referral) = (PartnerId(id), ReferralId(id));
        assert_eq!(
            PartnerId::parse_name("partner", &partner.name()),
            Ok(partner)
        );
        assert_eq!(
            ReferralId::parse_name("name", &referral.name()),
            Ok(referral)
        );
        for bad in ["", "partners/", "partners/x", "referrals/0", "partnersX"] {
            let error = PartnerId::parse_name("partner", bad).unwrap_err();
            assert_eq!(error.iter().next().unwrap().field, "partner", "{bad}");
        }
        assert!(PartnerId::parse_name("p", &referral.name()).is_err());
    }
}
