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
}
