//! The append-only audit trail: who did what, with which outcome.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use dispatch_domain::audit::{AuditAction, AuditEntry, AuditOutcome, AuditRecord};

use crate::error::parse;
use crate::schema::audit_records;
use crate::{Error, Page, Store};

/// The longest audit detail kept; longer ones are cut (the column refuses more).
pub const AUDIT_DETAIL_MAX_CHARS: usize = 2000;

/// Which audit records to list; empty or `None` means any. `from` is inclusive, `until`
/// exclusive; principal and resource match exactly.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub principal: Option<String>,
    pub resource: Option<String>,
    pub actions: Vec<AuditAction>,
    pub outcomes: Vec<AuditOutcome>,
}

/// The longest request id kept: a request's id is the client's text, kept as received for a
/// refused request (a valid one is a UUID, 36 characters).
const AUDIT_REQUEST_ID_MAX_CHARS: usize = 200;

/// An entry as the trail keeps it, however it is written (alone, or in a batch of calls): its
/// detail and request id cut to their limits, and each NUL as U+FFFD, since PostgreSQL's text
/// refuses NUL (a refused request whose id held one left no record at all: found by the
/// hostile-input test). Borrowed when there is nothing to change.
pub(crate) fn stored(entry: &AuditEntry) -> Cow<'_, AuditEntry> {
    let texts = [
        &entry.principal,
        &entry.role,
        &entry.agency,
        &entry.method,
        &entry.resource,
        &entry.peer,
        &entry.status_code,
        &entry.request_id,
        &entry.detail,
    ];
    let too_long = |text: &str, max| text.chars().nth(max).is_some();
    if texts.iter().all(|text| !text.contains('\0'))
        && !too_long(&entry.request_id, AUDIT_REQUEST_ID_MAX_CHARS)
        && !too_long(&entry.detail, AUDIT_DETAIL_MAX_CHARS)
    {
        return Cow::Borrowed(entry);
    }
    let keep = |text: &str, max| truncate_chars(text, max).replace('\0', "\u{FFFD}");
    Cow::Owned(AuditEntry {
        principal: keep(&entry.principal, usize::MAX),
        role: keep(&entry.role, usize::MAX),
        agency: keep(&entry.agency, usize::MAX),
        action: entry.action,
        method: keep(&entry.method, usize::MAX),
        resource: keep(&entry.resource, usize::MAX),
        peer: keep(&entry.peer, usize::MAX),
        outcome: entry.outcome,
        status_code: keep(&entry.status_code, usize::MAX),
        request_id: keep(&entry.request_id, AUDIT_REQUEST_ID_MAX_CHARS),
        detail: keep(&entry.detail, AUDIT_DETAIL_MAX_CHARS),
    })
}

/// Cuts `text` to at most `max` characters, on a character boundary.
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_records, check_for_backend(diesel::pg::Pg))]
struct AuditRow {
    id: i64,
    occurred_at: DateTime<Utc>,
    principal: String,
    role: String,
    agency: String,
    action: String,
    method: String,
    resource: String,
    peer: String,
    outcome: String,
    status_code: String,
    request_id: String,
    detail: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<Self, Error> {
        Ok(AuditRecord {
            id: row.id,
            occurred_at: row.occurred_at,
            entry: AuditEntry {
                action: parse("audit action", &row.action, AuditAction::parse)?,
                outcome: parse("audit outcome", &row.outcome, AuditOutcome::parse)?,
                principal: row.principal,
                role: row.role,
                agency: row.agency,
                method: row.method,
                resource: row.resource,
                peer: row.peer,
                status_code: row.status_code,
                request_id: row.request_id,
                detail: row.detail,
            },
        })
    }
}

impl Store {
    /// Appends one audit record (its detail cut to 2000 characters). Not idempotent: every call
    /// is a record.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), Error> {
        let mut conn = self.conn().await?;
        let entry = stored(entry);
        diesel::insert_into(audit_records::table)
            .values((
                audit_records::principal.eq(&entry.principal),
                audit_records::role.eq(&entry.role),
                audit_records::agency.eq(&entry.agency),
                audit_records::action.eq(entry.action.as_str()),
                audit_records::method.eq(&entry.method),
                audit_records::resource.eq(&entry.resource),
                audit_records::peer.eq(&entry.peer),
                audit_records::outcome.eq(entry.outcome.as_str()),
                audit_records::status_code.eq(&entry.status_code),
                audit_records::request_id.eq(&entry.request_id),
                audit_records::detail.eq(&entry.detail),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Audit records newest first (by id), filtered, a page at a time (the cursor is the last
    /// id).
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &Page<i64>,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), Error> {
        let mut query = audit_records::table
            .select(AuditRow::as_select())
            .order(audit_records::id.desc())
            .into_boxed();
        if let Some(from) = filter.from {
            query = query.filter(audit_records::occurred_at.ge(from));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_records::occurred_at.lt(until));
        }
        if let Some(principal) = &filter.principal {
            query = query.filter(audit_records::principal.eq(principal));
        }
        if let Some(resource) = &filter.resource {
            query = query.filter(audit_records::resource.eq(resource));
        }
        if !filter.actions.is_empty() {
            query = query
                .filter(audit_records::action.eq_any(filter.actions.iter().map(|a| a.as_str())));
        }
        if !filter.outcomes.is_empty() {
            query = query
                .filter(audit_records::outcome.eq_any(filter.outcomes.iter().map(|o| o.as_str())));
        }
        let query = page.query(query, |query, after| {
            query.filter(audit_records::id.lt(*after))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &AuditRow| row.id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(AUDIT_DETAIL_MAX_CHARS + 10);
        let cut = truncate_chars(&long, AUDIT_DETAIL_MAX_CHARS);
        assert_eq!(cut.chars().count(), AUDIT_DETAIL_MAX_CHARS);
        assert_eq!(truncate_chars("short", AUDIT_DETAIL_MAX_CHARS), "short");
    }

    fn entry() -> AuditEntry {
        AuditEntry {
            principal: "maria".into(),
            role: "call_taker".into(),
            agency: "C5".into(),
            action: AuditAction::Mutation,
            method: "/dispatch.v1.CallIntakeService/CreateCall".into(),
            resource: "calls/0190".into(),
            peer: "127.0.0.1:5000".into(),
            outcome: AuditOutcome::Success,
            status_code: "OK".into(),
            request_id: "6f1c1c5e-6bb2-4c39-9d0e-6a4f1f8e2f11".into(),
            detail: "linked".into(),
        }
    }

    #[test]
    fn an_entry_the_trail_can_keep_is_stored_as_it_is() {
        let entry = entry();
        assert!(matches!(stored(&entry), Cow::Borrowed(kept) if *kept == entry));
    }

    #[test]
    fn nuls_become_replacement_characters_and_long_texts_are_cut() {
        let entry = AuditEntry {
            principal: "ma\0ria".into(),
            request_id: format!("\0{}", "x".repeat(500)),
            detail: "é".repeat(3000),
            ..entry()
        };
        let kept = stored(&entry);
        assert_eq!(kept.principal, "ma\u{FFFD}ria");
        assert_eq!(kept.request_id.chars().count(), AUDIT_REQUEST_ID_MAX_CHARS);
        assert!(kept.request_id.starts_with('\u{FFFD}'));
        assert_eq!(kept.detail, "é".repeat(AUDIT_DETAIL_MAX_CHARS));
        assert_eq!(kept.role, entry.role);
    }
}
