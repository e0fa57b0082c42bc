//! Follow-ups: when to call the victim back, how a follow-up reads at a given moment, and what
//! recording one takes.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{FollowUpOutcome, FollowUpState, FollowUpStatus, MAX_NOTE_CHARS, Need, ReferralStatus};
use crate::call::{MAX_CLOCK_SKEW, check_length};
use crate::{Error, Violations};

/// The furthest a scheduled follow-up may lie after the referral.
pub const MAX_FOLLOW_UP_OFFSET: Duration = Duration::days(366);

/// When follow-ups fall due, as offsets from the referral's creation: one list for referrals of
/// gender-violence victims (the caller knows the incident's category) and one per need. A
/// referral gets the union of the lists that apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpPolicy {
    gender_violence: Vec<Duration>,
    per_need: BTreeMap<Need, Vec<Duration>>,
}

impl Default for FollowUpPolicy {
    /// Mexico City's *765 line: 2 days, 3 days and 1 week after, for gender violence; nothing
    /// per need.
    fn default() -> Self {
        Self {
            gender_violence: vec![Duration::days(2), Duration::days(3), Duration::days(7)],
            per_need: BTreeMap::new(),
        }
    }
}

impl FollowUpPolicy {
    /// Every offset must be positive and at most [`MAX_FOLLOW_UP_OFFSET`]. Paths are
    /// `gender_violence[i]` and `per_need.{need}[i]`.
    pub fn new(
        gender_violence: Vec<Duration>,
        per_need: BTreeMap<Need, Vec<Duration>>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        check_offsets(&mut violations, "gender_violence", &gender_violence);
        for (need, offsets) in &per_need {
            check_offsets(&mut violations, &format!("per_need.{need}"), offsets);
        }
        violations.into_result(|| Self {
            gender_violence,
            per_need,
        })
    }

    /// The default with `need`'s offsets replaced (an empty list removes them).
    pub fn with_need(mut self, need: Need, offsets: Vec<Duration>) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        check_offsets(&mut violations, &format!("per_need.{need}"), &offsets);
        if offsets.is_empty() {
            self.per_need.remove(&need);
        } else {
            self.per_need.insert(need, offsets);
        }
        violations.into_result(|| self)
    }

    pub fn gender_violence_offsets(&self) -> &[Duration] {
        &self.gender_violence
    }

    pub fn need_offsets(&self, need: Need) -> &[Duration] {
        self.per_need.get(&need).map_or(&[], Vec::as_slice)
    }

    /// When the follow-ups of a referral created at `created` fall due: sorted, without
    /// duplicates (a need and gender violence asking for the same day make one follow-up).
    pub fn schedule(
        &self,
        created: DateTime<Utc>,
        needs: &[Need],
        gender_violence: bool,
    ) -> Vec<DateTime<Utc>> {
        let by_need = needs.iter().flat_map(|&need| self.need_offsets(need));
        let general = if gender_violence {
            self.gender_violence.as_slice()
        } else {
            &[]
        };
        let mut due: Vec<DateTime<Utc>> = general
            .iter()
            .chain(by_need)
            .filter_map(|&offset| created.checked_add_signed(offset))
            .collect();
        due.sort_unstable();
        due.dedup();
        due
    }
}

fn check_offsets(violations: &mut Violations, field: &str, offsets: &[Duration]) {
    for (i, offset) in offsets.iter().enumerate() {
        if *offset <= Duration::zero() || *offset > MAX_FOLLOW_UP_OFFSET {
            violations.add(
                format!("{field}[{i}]"),
                format!(
                    "must be after the referral and at most {} days later",
                    MAX_FOLLOW_UP_OFFSET.num_days()
                ),
            );
        }
    }
}

/// Parses a list of offsets such as `2d,3d,1w` or `12h, 7d` (units h, d, w; whole numbers), for
/// configuration.
pub fn parse_offsets(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let split = part.len().saturating_sub(1);
            let (number, unit) = (part.get(..split), part.get(split..));
            let number: Option<i64> = number.and_then(|n| n.parse().ok());
            let offset = match (number, unit) {
                (Some(n), Some("h")) => Duration::try_hours(n),
                (Some(n), Some("d")) => Duration::try_days(n),
                (Some(n), Some("w")) => Duration::try_weeks(n),
                _ => None,
            };
            match offset {
                Some(offset) if offset > Duration::zero() && offset <= MAX_FOLLOW_UP_OFFSET => {
                    Ok(offset)
                }
                _ => Err(format!(
                    "{part:?} is not an offset: a whole number of hours, days or weeks such as \
                     12h, 2d or 1w, up to {} days",
                    MAX_FOLLOW_UP_OFFSET.num_days()
                )),
            }
        })
        .collect()
}

impl FollowUpState {
    /// How the follow-up reads at `now`: PENDING once its due time has passed is OVERDUE.
    pub fn status_at(self, due: DateTime<Utc>, now: DateTime<Utc>) -> FollowUpStatus {
        match self {
            Self::Pending if due < now => FollowUpStatus::Overdue,
            Self::Pending => FollowUpStatus::Pending,
            Self::Done => FollowUpStatus::Done,
            Self::Cancelled => FollowUpStatus::Cancelled,
        }
    }

    /// The stored states a status filter selects (OVERDUE and PENDING are both stored as
    /// pending; the caller compares `due` with `now` to tell them apart).
    pub fn for_status(status: FollowUpStatus) -> Self {
        match status {
            FollowUpStatus::Pending | FollowUpStatus::Overdue => Self::Pending,
            FollowUpStatus::Done => Self::Done,
            FollowUpStatus::Cancelled => Self::Cancelled,
        }
    }

    /// Cancelling a referral cancels its pending follow-ups; done ones stay done.
    pub fn on_referral_cancelled(self) -> Self {
        match self {
            Self::Pending | Self::Cancelled => Self::Cancelled,
            Self::Done => Self::Done,
        }
    }
}

/// RecordFollowUp as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpRecordDraft {
    /// `None` for UNSPECIFIED.
    pub outcome: Option<FollowUpOutcome>,
    pub outcome_note: String,
    /// `None`: now.
    pub done_at: Option<DateTime<Utc>>,
}

/// A valid follow-up record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpRecord {
    pub outcome: FollowUpOutcome,
    pub outcome_note: String,
    pub done_at: DateTime<Utc>,
}

impl FollowUpRecordDraft {
    /// Outcome required; a note required for OTHER and at most 4000 characters; the contact
    /// not in the future. Paths use the wire names (`done_time`).
    pub fn validate(self, now: DateTime<Utc>) -> Result<FollowUpRecord, Violations> {
        let mut violations = Violations::new();
        if self.outcome.is_none() {
            violations.add("outcome", "required: how the contact went");
        }
        if self.outcome == Some(FollowUpOutcome::Other) && self.outcome_note.trim().is_empty() {
            violations.add("outcome_note", "required when the outcome is other");
        }
        check_length(
            &mut violations,
            "outcome_note",
            &self.outcome_note,
            MAX_NOTE_CHARS,
        );
        let done_at = self.done_at.unwrap_or(now);
        if done_at > now + MAX_CLOCK_SKEW {
            violations.add("done_time", "is in the future");
        }
        match self.outcome {
            Some(outcome) if violations.is_empty() => Ok(FollowUpRecord {
                outcome,
                outcome_note: self.outcome_note,
                done_at,
            }),
            _ => Err(violations),
        }
    }
}

/// RecordFollowUp's preconditions: not on a DECLINED or CANCELLED referral, and not for a
/// scheduled follow-up already DONE or CANCELLED. `follow_up` is the scheduled one being
/// completed with its name, `None` for an ad-hoc record.
pub fn check_can_record_follow_up(
    referral_status: ReferralStatus,
    referral: &str,
    follow_up: Option<(FollowUpState, &str)>,
) -> Result<(), Error> {
    match referral_status {
        ReferralStatus::Declined | ReferralStatus::Cancelled => {
            return Err(Error::WrongState {
                subject: referral.to_owned(),
                current: referral_status.to_string(),
                action: "record a follow-up".to_owned(),
            });
        }
        ReferralStatus::Requested
        | ReferralStatus::Accepted
        | ReferralStatus::InProgress
        | ReferralStatus::OnHold
        | ReferralStatus::Completed => {}
    }
    match follow_up {
        Some((state @ (FollowUpState::Done | FollowUpState::Cancelled), name)) => {
            Err(Error::WrongState {
                subject: name.to_owned(),
                current: state.to_string(),
                action: "record it".to_owned(),
            })
        }
        Some((FollowUpState::Pending, _)) | None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-08T22:15:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn gender_violence_gets_the_765_schedule_by_default() {
        let policy = FollowUpPolicy::default();
        let t = created();
        assert_eq!(
            policy.schedule(t, &[Need::Shelter, Need::Legal], true),
            [
                t + Duration::days(2),
                t + Duration::days(3),
                t + Duration::days(7)
            ]
        );
        assert!(
            policy.schedule(t, &[Need::Shelter], false).is_empty(),
            "no schedule for other incidents by default"
        );
    }

    #[test]
    fn schedules_are_configurable_per_need_and_deduplicated() {
        let policy = FollowUpPolicy::default()
            .with_need(Need::Psychological, vec![Duration::days(7)])
            .unwrap()
            .with_need(
                Need::Legal,
                vec![Duration::days(14), Duration::days(2), Duration::days(14)],
            )
            .unwrap();
        let t = created();
        assert_eq!(
            policy.schedule(t, &[Need::Psychological], false),
            [t + Duration::days(7)]
        );
        assert_eq!(
            policy.schedule(t, &[Need::Psychological, Need::Legal], true),
            [
                t + Duration::days(2),
                t + Duration::days(3),
                t + Duration::days(7),
                t + Duration::days(14)
            ],
            "sorted, one per instant"
        );
        assert!(policy.schedule(t, &[Need::Medical], false).is_empty());
        let removed = policy.with_need(Need::Legal, vec![]).unwrap();
        assert!(removed.need_offsets(Need::Legal).is_empty());
    }

    #[test]
    fn a_policy_refuses_offsets_not_after_the_referral() {
        let mut per_need = BTreeMap::new();
        per_need.insert(Need::Shelter, vec![Duration::days(1), Duration::zero()]);
        let violations =
            FollowUpPolicy::new(vec![Duration::days(-1), Duration::days(400)], per_need)
                .unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "gender_violence[0]",
                "gender_violence[1]",
                "per_need.shelter[1]"
            ]
        );
        let policy = FollowUpPolicy::new(vec![], BTreeMap::new()).unwrap();
        assert!(
            policy
                .schedule(created(), &[Need::Shelter], true)
                .is_empty()
        );
    }

    #[test]
    fn offsets_parse_from_text() {
        assert_eq!(
            parse_offsets("2d, 3d,1w"),
            Ok(vec![
                Duration::days(2),
                Duration::days(3),
                Duration::days(7)
            ])
        );
        assert_eq!(parse_offsets("12h"), Ok(vec![Duration::hours(12)]));
        assert_eq!(parse_offsets(""), Ok(vec![]));
        for bad in ["2", "d", "0d", "-1d", "2x", "400d", "1.5d", "2dd"] {
            assert!(parse_offsets(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_at_read_time() {
        let due = created();
        let before = due - Duration::minutes(1);
        let after = due + Duration::minutes(1);
        assert_eq!(
            FollowUpState::Pending.status_at(due, before),
            FollowUpStatus::Pending
        );
        assert_eq!(
            FollowUpState::Pending.status_at(due, due),
            FollowUpStatus::Pending,
            "due now is not yet overdue"
        );
        assert_eq!(
            FollowUpState::Pending.status_at(due, after),
            FollowUpStatus::Overdue
        );
        assert_eq!(
            FollowUpState::Done.status_at(due, after),
            FollowUpStatus::Done
        );
        assert_eq!(
            FollowUpState::Cancelled.status_at(due, after),
            FollowUpStatus::Cancelled
        );
        for &status in FollowUpStatus::ALL {
            let state = FollowUpState::for_status(status);
            assert!(
                [state.status_at(due, before), state.status_at(due, after)].contains(&status),
                "{status}"
            );
        }
        for (state, after) in [
            (FollowUpState::Pending, FollowUpState::Cancelled),
            (FollowUpState::Done, FollowUpState::Done),
        ] {
            assert_eq!(state.on_referral_cancelled(), after, "{state:?}");
        }
    }

    #[test]
    fn recording_a_follow_up() {
        let now = created();
        let record = FollowUpRecordDraft {
            outcome: Some(FollowUpOutcome::ReachedSafe),
            ..FollowUpRecordDraft::default()
        }
        .validate(now)
        .unwrap();
        assert_eq!(record.done_at, now);
        let bad = FollowUpRecordDraft {
            outcome: None,
            outcome_note: "x".repeat(MAX_NOTE_CHARS + 1),
            done_at: Some(now + Duration::hours(1)),
        };
        let violations = bad.validate(now).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["outcome", "outcome_note", "done_time"]);
        let other = FollowUpRecordDraft {
            outcome: Some(FollowUpOutcome::Other),
            ..FollowUpRecordDraft::default()
        };
        let violations = other.validate(now).unwrap_err();
        assert_eq!(violations.iter().next().unwrap().field, "outcome_note");
    }

    #[test]
    fn follow_ups_are_recorded_only_on_live_referrals_and_only_once() {
        for &status in ReferralStatus::ALL {
            let outcome = check_can_record_follow_up(status, "referrals/r", None);
            let refused = matches!(status, ReferralStatus::Declined | ReferralStatus::Cancelled);
            assert_eq!(outcome.is_err(), refused, "{status}");
        }
        let name = "referrals/r/follow-ups/f";
        for &state in FollowUpState::ALL {
            let outcome = check_can_record_follow_up(
                ReferralStatus::Accepted,
                "referrals/r",
                Some((state, name)),
            );
            match outcome {
                Ok(()) => assert_eq!(state, FollowUpState::Pending),
                Err(Error::WrongState {
                    subject, current, ..
                }) => {
                    assert_eq!(subject, name);
                    assert_eq!(current, state.as_str());
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }
}
