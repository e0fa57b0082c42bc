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

/// Cuts `text` to at most `max` characters, on a character boundary.
/// An entry's detail as it is stored.
pub(crate) fn truncate_detail(detail: &str) -> &str {
    truncate_chars(detail, AUDIT_DETAIL_MAX_CHARS)
}

/// The longest request id kept: a request's id is the client's text, kept as received for a
/// refused request (a valid one is a UUID, 36 characters).
const AUDIT_REQUEST_ID_MAX_CHARS: usize = 200;

/// Text from a request as the trail can keep it: PostgreSQL's text refuses NUL, and a refused
/// request whose id held one left no record at all (found by the hostile-input test), so each
/// NUL is kept as U+FFFD.
fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

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
        let request_id = truncate_chars(&entry.request_id, AUDIT_REQUEST_ID_MAX_CHARS);
        diesel::insert_into(audit_records::table)
            .values((
                audit_records::principal.eq(storable(&entry.principal)),
                audit_records::role.eq(storable(&entry.role)),
                audit_records::agency.eq(storable(&entry.agency)),
                audit_records::action.eq(entry.action.as_str()),
                audit_records::method.eq(storable(&entry.method)),
                audit_records::resource.eq(storable(&entry.resource)),
                audit_records::peer.eq(storable(&entry.peer)),
                audit_records::outcome.eq(entry.outcome.as_str()),
                audit_records::status_code.eq(storable(&entry.status_code)),
                audit_records::request_id.eq(storable(request_id)),
                audit_records::detail.eq(storable(truncate_detail(&entry.detail))),
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
}
