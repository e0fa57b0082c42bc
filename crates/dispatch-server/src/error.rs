//! The one mapping from every error the server can meet to a `tonic::Status`.
//!
//! Exhaustive on purpose: a new error variant does not compile until someone decides what the
//! client sees. Internal errors are logged in full and returned opaque.

use std::borrow::Cow;

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
    /// A handler's own NOT_FOUND: a resource outside the caller's scope reads as a missing one.
    #[error("{0} not found")]
    NotFound(String),
}

/// A request a handler takes as it arrived converts without fail.
impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(violations) => invalid(&violations),
            Error::Domain(error) => domain(error),
            Error::Store(error) => store(error),
            Error::NotFound(what) => not_found(&what),
        }
    }
}

/// A status travels in HTTP/2 headers (trailers): `grpc-message` percent-encoded (up to three
/// bytes a byte) and `grpc-status-details-bin` in base64 (four bytes for three, and it repeats
/// the message). Clients cap the header list they accept, commonly at 16 KiB (hyper/tonic,
/// grpc-core), counting every name and value plus 32 bytes each; a status past that reaches
/// the client as an HTTP/2 protocol error instead of the status. So whatever the request held,
/// every status this server builds keeps its message within [`MAX_MESSAGE_BYTES`] and its
/// details within [`MAX_DETAILS_BYTES`]: under 8 KiB of headers in all.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The encoded `google.rpc.Status` of `grpc-status-details-bin` (message included).
pub const MAX_DETAILS_BYTES: usize = 3 * 1024;
/// What the listed violations (or precondition failures) may take of the details.
const ITEMS_BUDGET: usize = MAX_DETAILS_BYTES - MAX_MESSAGE_BYTES - 256;
/// One item's texts: a field path, subject or description echoing the request is cut here.
const MAX_TEXT_BYTES: usize = 160;
/// Protobuf framing of one item (tags, lengths, the repeated field's own tag).
const ITEM_OVERHEAD: usize = 12;

/// The one constructor of a status with details: the message and details bounded as above.
fn status(code: Code, message: &str, details: ErrorDetails) -> Status {
    let message = truncate_bytes(message, MAX_MESSAGE_BYTES);
    let status = Status::with_error_details(code, message.as_ref(), details);
    debug_assert!(status.details().len() <= MAX_DETAILS_BYTES);
    status
}

/// A status without details, its message bounded: for a handler's own refusals, whose message
/// may quote the request.
pub fn plain(code: Code, message: &str) -> Status {
    Status::new(
        code,
        truncate_bytes(message, MAX_MESSAGE_BYTES).into_owned(),
    )
}

/// NOT_FOUND for `what` (a resource name, maybe as the client spelled it).
pub fn not_found(what: &str) -> Status {
    plain(Code::NotFound, &format!("{what} not found"))
}

/// Items of a list sent in the details, within [`ITEMS_BUDGET`].
struct Budget {
    left: usize,
    listed: usize,
}

impl Budget {
    fn new() -> Self {
        Self {
            left: ITEMS_BUDGET,
            listed: 0,
        }
    }

    /// The texts, cut to size, if they still fit (the first item always does).
    fn take<'a>(&mut self, texts: [&'a str; 3]) -> Option<[Cow<'a, str>; 3]> {
        let texts = texts.map(|text| truncate_bytes(text, MAX_TEXT_BYTES));
        let cost = ITEM_OVERHEAD + texts.iter().map(|t| t.len()).sum::<usize>();
        if self.listed > 0 && cost > self.left {
            return None;
        }
        self.left = self.left.saturating_sub(cost);
        self.listed += 1;
        Some(texts)
    }
}

pub fn invalid(violations: &Violations) -> Status {
    // A request with a thousand bad elements gets as many named as fit, and a count.
    let mut details = ErrorDetails::new();
    let mut budget = Budget::new();
    let mut message = String::from("invalid request: ");
    let mut in_message = 0;
    for violation in violations.iter() {
        // A path cut short still names a field: its outer part.
        let path = truncate_path(&violation.field, MAX_TEXT_BYTES);
        let Some([field, description, _]) = budget.take([&path, &violation.description, ""]) else {
            continue;
        };
        details.add_bad_request_violation(field.as_ref(), description.as_ref());
        // The message lists what fits, leaving room for the count.
        let entry = format!("{field}: {description}");
        if in_message == 0 || message.len() + entry.len() + 2 <= MAX_MESSAGE_BYTES - 32 {
            if in_message > 0 {
                message.push_str("; ");
            }
            message.push_str(&entry);
            in_message += 1;
        }
    }
    let total = violations.iter().count();
    if total > in_message {
        message = truncate_bytes(&message, MAX_MESSAGE_BYTES - 32).into_owned();
        message.push_str(&format!("; and {} more", total - in_message));
    }
    status(Code::InvalidArgument, &message, details)
}

/// A field path of at most `max` bytes: whole segments from the outside in.
fn truncate_path(path: &str, max: usize) -> Cow<'_, str> {
    if path.len() <= max {
        return Cow::Borrowed(path);
    }
    let mut end = max;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    match path[..end].rfind('.') {
        Some(dot) if dot > 0 => Cow::Borrowed(&path[..dot]),
        _ => truncate_bytes(path, max),
    }
}

/// `text` cut to at most `max` bytes at a character boundary, marked with an ellipsis when cut.
fn truncate_bytes(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let ellipsis = "\u{2026}";
    let mut end = max.saturating_sub(ellipsis.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ellipsis}", &text[..end]))
}

fn domain(error: DomainError) -> Status {
    match error {
        DomainError::Invalid(violations) => invalid(&violations),
        DomainError::WrongState {
            ref subject,
            ref current,
            ..
        } => {
            let current = format!("current state: {current}");
            let mut details = ErrorDetails::new();
            if let Some([kind, subject, description]) =
                Budget::new().take(["STATE", subject, &current])
            {
                details.add_precondition_failure_violation(kind, subject, description);
            }
            status(Code::FailedPrecondition, &error.to_string(), details)
        }
        DomainError::Conflicts { ref conflicts, .. } => {
            let mut details = ErrorDetails::new();
            let mut budget = Budget::new();
            for (subject, current) in conflicts {
                let current = format!("current state: {current}");
                if let Some([kind, subject, description]) =
                    budget.take(["STATE", subject, &current])
                {
                    details.add_precondition_failure_violation(kind, subject, description);
                }
            }
            status(Code::FailedPrecondition, &error.to_string(), details)
        }
    }
}

fn store(error: StoreError) -> Status {
    match error {
        StoreError::Domain(error) => domain(error),
        StoreError::NotFound(what) => not_found(&what),
        StoreError::AlreadyExists(message) => {
            with_reason(Code::AlreadyExists, &message, "CODE_TAKEN")
        }
        error @ StoreError::RequestIdReused { .. } => {
            with_reason(Code::AlreadyExists, &error.to_string(), "REQUEST_ID_REUSED")
        }
        error @ StoreError::Stale(_) => {
            with_reason(Code::Aborted, &error.to_string(), "ETAG_MISMATCH")
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

/// A request message larger than the configured limit: RESOURCE_EXHAUSTED, as gRPC specifies,
/// with the limit in the message and in an ErrorInfo (reason "REQUEST_TOO_LARGE", metadata
/// "limit_bytes"), so that a client can tell it from a rate or concurrency limit: retrying
/// the same request cannot succeed.
pub fn request_too_large(length: usize, limit: usize) -> Status {
    let metadata = std::collections::HashMap::from([("limit_bytes".to_owned(), limit.to_string())]);
    let details = ErrorDetails::with_error_info("REQUEST_TOO_LARGE", DOMAIN, metadata);
    status(
        Code::ResourceExhausted,
        &format!(
            "request message of {length} bytes is larger than the limit of {limit} bytes \
             (DISPATCH_MAX_REQUEST_BYTES)"
        ),
        details,
    )
}

fn with_reason(code: Code, message: &str, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(reason, DOMAIN, std::collections::HashMap::new());
    status(code, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client's header limit counts: every name and value, plus 32 bytes each.
    fn header_bytes(status: Status) -> usize {
        let response: http::Response<()> = status.into_http();
        response
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum()
    }

    fn hostile_violations(count: usize, text: &str) -> Violations {
        let mut violations = Violations::new();
        for i in 0..count {
            violations.add(
                format!("unit.capabilities[{i}]"),
                format!("unknown capability {text:?}"),
            );
        }
        violations
    }

    #[test]
    fn invalid_argument_fits_a_client_header_limit_whatever_the_input() {
        for text in [
            "NaN",
            "\u{0}\u{1b}\"% ",
            &"🚑".repeat(2_000),
            &"\"".repeat(70_000),
        ] {
            for count in [1, 20, 51, 1_001] {
                let status = invalid(&hostile_violations(count, text));
                assert!(status.message().len() <= MAX_MESSAGE_BYTES);
                assert!(status.details().len() <= MAX_DETAILS_BYTES);
                let bad_request = status.get_details_bad_request().expect("a BadRequest");
                assert!(!bad_request.field_violations.is_empty());
                assert_eq!(
                    bad_request.field_violations[0].field,
                    "unit.capabilities[0]"
                );
                if count > 50 {
                    assert!(status.message().ends_with(" more"), "{}", status.message());
                }
                let bytes = header_bytes(status);
                assert!(
                    bytes < 8 * 1024,
                    "{count} x {text:.10}: {bytes} header bytes"
                );
            }
        }
    }

    #[test]
    fn a_short_refusal_is_whole() {
        let status = invalid(&Violations::single("page_size", "must not be negative"));
        assert_eq!(
            status.message(),
            "invalid request: page_size: must not be negative"
        );
        let bad_request = status.get_details_bad_request().expect("a BadRequest");
        assert_eq!(bad_request.field_violations.len(), 1);
        assert_eq!(
            bad_request.field_violations[0].description,
            "must not be negative"
        );
    }

    #[test]
    fn every_other_status_is_bounded_too() {
        let huge = "é".repeat(300_000);
        let statuses = [
            Status::from(Error::Store(StoreError::NotFound(huge.clone()))),
            Status::from(Error::Store(StoreError::AlreadyExists(huge.clone()))),
            Status::from(Error::Domain(DomainError::WrongState {
                subject: huge.clone(),
                current: huge.clone(),
                action: huge.clone(),
            })),
        ];
        for status in statuses {
            assert!(status.message().len() <= MAX_MESSAGE_BYTES);
            assert!(status.details().len() <= MAX_DETAILS_BYTES);
            assert!(header_bytes(status) < 8 * 1024);
        }
    }

    #[test]
    fn a_long_path_is_cut_to_whole_segments() {
        let path = format!("answers[0].{}.number", "nested".repeat(40));
        assert_eq!(truncate_path(&path, MAX_TEXT_BYTES), "answers[0]");
        assert_eq!(truncate_path("location.point", 160), "location.point");
        let status = invalid(&Violations::single(path, "not a number"));
        let bad_request = status.get_details_bad_request().expect("a BadRequest");
        assert_eq!(bad_request.field_violations[0].field, "answers[0]");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_bytes("short", 10), "short");
        let ambulances = "🚑".repeat(100);
        let cut = truncate_bytes(&ambulances, 50);
        assert!(cut.len() <= 50);
        assert!(cut.ends_with('\u{2026}'));
        assert!(cut.trim_end_matches('\u{2026}').chars().all(|c| c == '🚑'));
    }
}
