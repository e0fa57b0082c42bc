//! The audit trail's vocabulary: what a record is about, how the request ended, and the record.

use chrono::{DateTime, Utc};

text_enum! {
    /// What an audit record is about.
    pub enum AuditAction {
        Mutation => "mutation",
        VictimDataRead => "victim_data_read",
        AuthenticationFailure => "authentication_failure",
        CredentialIssued => "credential_issued",
        CredentialRevoked => "credential_revoked",
        AuditRead => "audit_read",
        /// An open stream ended because its credential stopped being valid.
        StreamEnded => "stream_ended",
        /// A report read (ReportingService).
        ReportRead => "report_read",
    }
}

text_enum! {
    /// How the audited request ended.
    pub enum AuditOutcome {
        Success => "success",
        /// Refused: unauthenticated or not allowed.
        Denied => "denied",
        /// Allowed, but failed (invalid, not found, internal...).
        Failure => "failure",
    }
}

/// One audit record to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The principal's name (or what was claimed, for a failed authentication), or empty.
    pub principal: String,
    pub role: String,
    pub agency: String,
    pub action: AuditAction,
    /// The RPC, e.g. `/dispatch.v1.CallIntakeService/CreateCall`.
    pub method: String,
    pub resource: String,
    /// Where the request came from (the peer address).
    pub peer: String,
    pub outcome: AuditOutcome,
    /// The gRPC status code's name, e.g. `OK`, `PERMISSION_DENIED`.
    pub status_code: String,
    pub request_id: String,
    /// Cut to 2000 characters when stored. Never a secret.
    pub detail: String,
}

/// A stored audit record: the entry as appended, with its place and time in the trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub entry: AuditEntry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_words_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        }
        for outcome in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(outcome.as_str()), Some(*outcome));
        }
    }
}
