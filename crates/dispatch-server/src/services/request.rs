//! Request plumbing every service shares: the idempotency key of a mutating request, page
//! tokens and etags.

use chrono::DateTime;
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::ids::RequestId;
use dispatch_store::{Idempotency, Page, TimeCursor};

use crate::auth::Principal;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// What makes a mutating request idempotent, taken from the request as it arrived: its
/// `request_id`, and its bytes without the id (a retry must send the same request).
#[derive(Debug, Clone)]
pub struct Mutation {
    request_id: RequestId,
    canonical: Vec<u8>,
}

impl Mutation {
    pub fn of<M: prost::Message + Clone>(
        message: &M,
        request_id: &str,
        clear_id: impl FnOnce(&mut M),
    ) -> Result<Self, Violations> {
        crate::auth::note_request_id(request_id);
        let request_id = RequestId::parse("request_id", request_id)?;
        let mut canonical = message.clone();
        clear_id(&mut canonical);
        Ok(Self {
            request_id,
            canonical: canonical.encode_to_vec(),
        })
    }

    /// The key the store claims for `method` on behalf of `principal`.
    pub fn key(self, method: &'static str, principal: &Principal) -> Idempotency {
        Idempotency {
            request_id: self.request_id.0,
            method,
            principal: principal.name.clone(),
            request: self.canonical,
        }
    }
}

pub fn page_size(value: i32) -> Result<i64, Violations> {
    match i64::from(value) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(Violations::single("page_size", "must not be negative")),
        size => Ok(size.min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens of newest-first lists: `t.<microseconds>.<uuid>`. Opaque to clients.
pub fn time_page(page_size_value: i32, token: &str) -> Result<Page<TimeCursor>, Violations> {
    let size = page_size(page_size_value)?;
    if token.is_empty() {
        return Ok(Page { size, after: None });
    }
    let parse = || -> Option<TimeCursor> {
        let rest = token.strip_prefix("t.")?;
        let (micros, id) = rest.split_once('.')?;
        Some(TimeCursor {
            time: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    };
    parse()
        .map(|cursor| Page {
            size,
            after: Some(cursor),
        })
        .ok_or_else(|| Violations::single("page_token", "not a token this server issued"))
}

pub fn time_token(cursor: Option<TimeCursor>) -> String {
    cursor.map_or_else(String::new, |c| {
        format!("t.{}.{}", c.time.timestamp_micros(), c.id)
    })
}

/// Longest code a `c.` page token may carry: longer than any code or call sign the directory
/// accepts.
const MAX_TOKEN_CODE_BYTES: usize = 1024;

/// Page tokens of lists ordered by a code: `c.<code>`.
pub fn code_page(page_size_value: i32, token: &str) -> Result<Page<String>, Violations> {
    let size = page_size(page_size_value)?;
    if token.is_empty() {
        return Ok(Page { size, after: None });
    }
    token
        .strip_prefix("c.")
        // Codes are short and never hold a NUL (PostgreSQL text cannot): no such token was issued.
        .filter(|code| code.len() <= MAX_TOKEN_CODE_BYTES && !code.contains('\0'))
        .map(|code| Page {
            size,
            after: Some(code.to_owned()),
        })
        .ok_or_else(|| Violations::single("page_token", "not a token this server issued"))
}

pub fn code_token(code: Option<String>) -> String {
    code.map_or_else(String::new, |code| format!("c.{code}"))
}

/// Etags are the row version; an empty etag means "don't check".
pub fn etag_from(field: &str, etag: &str) -> Result<Option<i64>, Violations> {
    if etag.is_empty() {
        return Ok(None);
    }
    etag.strip_prefix('v')
        .and_then(|version| version.parse().ok())
        .map(Some)
        .ok_or_else(|| Violations::single(field, "not an etag this server issued"))
}

pub fn etag(version: i64) -> String {
    format!("v{version}")
}

/// The resume point of a Watch request: a sequence already seen, or 0 for a snapshot first.
pub fn check_after(after: i64, violations: &mut Violations) {
    if after < 0 {
        violations.add("after_sequence", "must not be negative");
    }
}

/// The etag an update must carry: the version of the resource (`what`) as the caller last read it.
pub fn required_etag(
    field: &str,
    etag: &str,
    what: &str,
    violations: &mut Violations,
) -> Option<i64> {
    match violations.collect(etag_from(field, etag)) {
        Some(Some(version)) => Some(version),
        Some(None) => {
            violations.add(
                field,
                format!("required: the etag of the {what} as you last read it"),
            );
            None
        }
        None => None,
    }
}
