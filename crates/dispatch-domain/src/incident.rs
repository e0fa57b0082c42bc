//! Incidents: what happened, where, and how far along its handling is.

use crate::Error;

text_enum! {
    pub enum IncidentStatus {
        New => "new",
        Triaged => "triaged",
        Dispatched => "dispatched",
        OnScene => "on_scene",
        Resolved => "resolved",
        Closed => "closed",
        Cancelled => "cancelled",
    }
}

impl IncidentStatus {
    /// Still being handled: new calls may join it.
    pub fn is_open(self) -> bool {
        match self {
            Self::New | Self::Triaged | Self::Dispatched | Self::OnScene => true,
            Self::Resolved | Self::Closed | Self::Cancelled => false,
        }
    }

    /// A call can be linked to an incident until it is closed or cancelled.
    pub fn check_can_link_call(self, subject: &str) -> Result<(), Error> {
        match self {
            Self::New | Self::Triaged | Self::Dispatched | Self::OnScene | Self::Resolved => Ok(()),
            Self::Closed | Self::Cancelled => Err(Error::WrongState {
                subject: subject.to_owned(),
                current: self.to_string(),
                action: "link a call".to_owned(),
            }),
        }
    }
}

/// Something that moves an incident along its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Triage or re-triage on new information.
    Triage,
    /// Units assigned.
    Dispatch,
    /// A unit reached the scene.
    ArriveOnScene,
    /// Field work finished.
    Resolve,
    Close(ClosingCode),
    Cancel,
    /// Type, location, summary or priority corrected; merging another incident in.
    Update,
}

impl Transition {
    fn describe(self) -> String {
        match self {
            Self::Triage => "triage".into(),
            Self::Dispatch => "dispatch units".into(),
            Self::ArriveOnScene => "go on scene".into(),
            Self::Resolve => "resolve".into(),
            Self::Close(code) => format!("close as {code}"),
            Self::Cancel => "cancel".into(),
            Self::Update => "update".into(),
        }
    }
}

impl IncidentStatus {
    /// The lifecycle: NEW -> TRIAGED -> DISPATCHED -> ON_SCENE -> RESOLVED -> CLOSED; assignment
    /// may skip triage; any status but the two terminal ones may be closed or cancelled; triage
    /// and updates are allowed until then and keep the status (except NEW, which triage moves
    /// on). Returns the status after the transition.
    pub fn apply(self, transition: Transition, subject: &str) -> Result<IncidentStatus, Error> {
        use IncidentStatus::{Cancelled, Closed, Dispatched, New, OnScene, Resolved, Triaged};
        let next = match (self, transition) {
            (Closed | Cancelled, _) => None,
            (New, Transition::Triage) => Some(Triaged),
            (Triaged | Dispatched | OnScene | Resolved, Transition::Triage) => Some(self),
            (New | Triaged, Transition::Dispatch) => Some(Dispatched),
            (Dispatched | OnScene, Transition::Dispatch) => Some(self),
            (Resolved, Transition::Dispatch) => None,
            (Dispatched, Transition::ArriveOnScene) => Some(OnScene),
            (New | Triaged | OnScene | Resolved, Transition::ArriveOnScene) => None,
            (OnScene, Transition::Resolve) => Some(Resolved),
            (New | Triaged | Dispatched | Resolved, Transition::Resolve) => None,
            (New | Triaged | Dispatched | OnScene | Resolved, Transition::Close(_)) => Some(Closed),
            (New | Triaged | Dispatched | OnScene | Resolved, Transition::Cancel) => {
                Some(Cancelled)
            }
            (New | Triaged | Dispatched | OnScene | Resolved, Transition::Update) => Some(self),
        };
        next.ok_or_else(|| Error::WrongState {
            subject: subject.to_owned(),
            current: self.to_string(),
            action: transition.describe(),
        })
    }
}

text_enum! {
    /// C5's closing codes.
    pub enum ClosingCode {
        /// A: a unit arrived and confirmed the emergency.
        Confirmed => "confirmed",
        /// N: a unit arrived, nobody needed help.
        Negative => "negative",
        /// D: reported two or more times; another incident is kept.
        Duplicate => "duplicate",
        /// F: false.
        False => "false",
        /// I: confirmed, information added.
        Informative => "informative",
    }
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: crate::ids::IncidentId,
    pub folio: String,
    pub status: IncidentStatus,
    pub incident_type: Option<String>,
    pub priority: Option<i16>,
    pub location: crate::location::Location,
    pub summary: String,
    pub linked_call_count: i32,
    pub first_call_at: chrono::DateTime<chrono::Utc>,
    pub last_call_at: chrono::DateTime<chrono::Utc>,
    pub closing_code: Option<ClosingCode>,
    pub duplicate_of: Option<crate::ids::IncidentId>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub version: i64,
    /// The current triage; `None` until triaged.
    pub triage: Option<TriageState>,
    /// When the status last changed.
    pub status_at: chrono::DateTime<chrono::Utc>,
    pub closing_note: String,
    /// The planned operation whose zones the incident opened inside while it was in force.
    pub operation: Option<crate::ids::OperationId>,
}

/// What the latest triage decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageState {
    pub determinant: crate::triage::Determinant,
    pub plan: Vec<crate::triage::Requirement>,
    pub triaged_at: chrono::DateTime<chrono::Utc>,
}

impl Incident {
    /// Checks a caller's etag (the row version), when given.
    pub fn check_version(&self, expected: Option<i64>) -> Result<(), StaleVersion> {
        match expected {
            Some(expected) if expected != self.version => Err(StaleVersion(self.id.name())),
            _ => Ok(()),
        }
    }
}

/// The caller's etag is not the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleVersion(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSITIONS: [Transition; 11] = [
        Transition::Triage,
        Transition::Dispatch,
        Transition::ArriveOnScene,
        Transition::Resolve,
        Transition::Close(ClosingCode::Confirmed),
        Transition::Close(ClosingCode::Negative),
        Transition::Close(ClosingCode::Duplicate),
        Transition::Close(ClosingCode::False),
        Transition::Close(ClosingCode::Informative),
        Transition::Cancel,
        Transition::Update,
    ];

    /// The lifecycle written out as a table: every (status, transition) pair and its outcome.
    fn expected(status: IncidentStatus, transition: Transition) -> Option<IncidentStatus> {
        use IncidentStatus::*;
        match (status, transition) {
            (Closed | Cancelled, _) => None,
            (New, Transition::Triage) => Some(Triaged),
            (_, Transition::Triage) => Some(status),
            (New | Triaged, Transition::Dispatch) => Some(Dispatched),
            (Dispatched | OnScene, Transition::Dispatch) => Some(status),
            (Dispatched, Transition::ArriveOnScene) => Some(OnScene),
            (OnScene, Transition::Resolve) => Some(Resolved),
            (_, Transition::Close(_)) => Some(Closed),
            (_, Transition::Cancel) => Some(Cancelled),
            (_, Transition::Update) => Some(status),
            _ => None,
        }
    }

    #[test]
    fn every_transition_from_every_status_follows_the_table() {
        let mut legal = 0;
        for &status in IncidentStatus::ALL {
            for transition in TRANSITIONS {
                let outcome = status.apply(transition, "incidents/x");
                assert_eq!(
                    outcome.as_ref().ok().copied(),
                    expected(status, transition),
                    "{status} {transition:?}"
                );
                if let Err(Error::WrongState {
                    subject, current, ..
                }) = &outcome
                {
                    assert_eq!(subject, "incidents/x");
                    assert_eq!(
                        current,
                        status.as_str(),
                        "the refusal names the current status"
                    );
                }
                legal += usize::from(outcome.is_ok());
            }
        }
        // NEW 9, TRIAGED 9, DISPATCHED 10, ON_SCENE 10, RESOLVED 8; the terminal two allow nothing.
        assert_eq!(legal, 46);
    }

    #[test]
    fn the_happy_path_reaches_closed() {
        let mut status = IncidentStatus::New;
        for transition in [
            Transition::Triage,
            Transition::Dispatch,
            Transition::ArriveOnScene,
            Transition::Resolve,
            Transition::Close(ClosingCode::Confirmed),
        ] {
            status = status.apply(transition, "incidents/x").unwrap();
        }
        assert_eq!(status, IncidentStatus::Closed);
        assert!(!status.is_open());
    }
}

/// One triage, as kept in the incident's triage history.
#[derive(Debug, Clone, PartialEq)]
pub struct TriageRecord {
    pub triaged_at: chrono::DateTime<chrono::Utc>,
    pub triaged_by: String,
    pub incident_type: String,
    pub answers: Vec<crate::triage::Answer>,
    pub outcome: crate::triage::Outcome,
    pub previous_priority: Option<u8>,
}

/// Corrections to an incident; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentChanges {
    pub incident_type: Option<String>,
    pub location: Option<crate::location::Location>,
    pub summary: Option<String>,
    pub priority: Option<u8>,
}

impl IncidentChanges {
    pub fn is_empty(&self) -> bool {
        self.incident_type.is_none()
            && self.location.is_none()
            && self.summary.is_none()
            && self.priority.is_none()
    }
}

/// A validated request to triage (or re-triage) an incident with its type's protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Triage {
    pub incident: crate::ids::IncidentId,
    /// The type to triage as; `None` keeps the incident's own.
    pub incident_type: Option<String>,
    pub answers: Vec<crate::triage::Answer>,
    pub expected_version: Option<i64>,
}

/// A validated request to merge `duplicate` into `survivor`.
#[derive(Debug, Clone, PartialEq)]
pub struct Merger {
    pub survivor: crate::ids::IncidentId,
    pub duplicate: crate::ids::IncidentId,
    pub survivor_version: Option<i64>,
    pub duplicate_version: Option<i64>,
    pub note: String,
}

/// A note on an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub author: String,
    pub text: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
