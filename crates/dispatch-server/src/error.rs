//! The one mapping from every error the server can meet to a `tonic::Status`.
//!
//! Exhaustive on purpose: a new error variant does not compile until someone decides what the
//! client sees. Internal errors are logged in full and returned opaque.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use dispatch_domain::{Error as DomainError, Violations};
use dispatch_store::Error as StoreError;

const DOMAIN: &str = "dispatch.v1";

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] Violations),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => invalid(&violations),
            Error::Domain(error) => domain(error),
            Error::Store(error) => store(error),
        }
    }
}

pub fn invalid(violations: &Violations) -> Status {
    // Error details travel in HTTP/2 trailers, which clients cap (often at 16 KiB): a request
    // with a thousand bad elements gets the first few named and a count, not a broken stream.
    let mut details = ErrorDetails::new();
    let mut message = String::from("invalid request: ");
    let total = violations.iter().count();
    for (i, violation) in violations.iter().take(MAX_VIOLATIONS_SHOWN).enumerate() {
        let description = truncate_chars(&violation.description, MAX_DESCRIPTION_CHARS);
        details.add_bad_request_violation(&violation.field, description);
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&violation.field);
        message.push_str(": ");
        message.push_str(description);
    }
    if total > MAX_VIOLATIONS_SHOWN {
        message.push_str(&format!("; and {} more", total - MAX_VIOLATIONS_SHOWN));
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// Violations named in one INVALID_ARGUMENT.
const MAX_VIOLATIONS_SHOWN: usize = 20;
const MAX_DESCRIPTION_CHARS: usize = 200;

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

fn domain(error: DomainError) -> Status {
    match error {
        DomainError::Invalid(violations) => invalid(&violations),
        DomainError::WrongState {
            ref subject,
            ref current,
            ..
        } => {
            let mut details = ErrorDetails::new();
            details.add_precondition_failure_violation(
                "STATE",
                subject,
                format!("current state: {current}"),
            );
            Status::with_error_details(Code::FailedPrecondition, error.to_string(), details)
        }
        DomainError::Conflicts { ref conflicts, .. } => {
            let mut details = ErrorDetails::new();
            for (subject, current) in conflicts {
                details.add_precondition_failure_violation(
                    "STATE",
                    subject,
                    format!("current state: {current}"),
                );
            }
            Status::with_error_details(Code::FailedPrecondition, error.to_string(), details)
        }
    }
}

fn store(error: StoreError) -> Status {
    match error {
        StoreError::Domain(error) => domain(error),
        StoreError::NotFound(what) => Status::not_found(format!("{what} not found")),
        StoreError::AlreadyExists(message) => {
            with_reason(Code::AlreadyExists, message, "CODE_TAKEN")
        }
        error @ StoreError::RequestIdReused { .. } => {
            with_reason(Code::AlreadyExists, error.to_string(), "REQUEST_ID_REUSED")
        }
        error @ StoreError::Stale(_) => {
            with_reason(Code::Aborted, error.to_string(), "ETAG_MISMATCH")
        }
        StoreError::Conflict(message) => {
            tracing::info!(%message, "transaction lost a race");
            Status::aborted("conflicting concurrent change; retry")
        }
        StoreError::Unavailable(message) => {
            tracing::warn!(%message, "database unavailable");
            Status::unavailable("database unavailable; retry later")
        }
        error @ (StoreError::Config(_) | StoreError::Internal(_)) => {
            tracing::error!(%error, "internal error");
            Status::internal("internal error")
        }
    }
}

fn with_reason(code: Code, message: String, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(reason, DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}
