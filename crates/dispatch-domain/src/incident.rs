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
    pub fn check_can_link_call(self, folio: &str) -> Result<(), Error> {
        match self {
            Self::New | Self::Triaged | Self::Dispatched | Self::OnScene | Self::Resolved => Ok(()),
            Self::Closed | Self::Cancelled => Err(Error::WrongState {
                entity: format!("incident {folio}"),
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
