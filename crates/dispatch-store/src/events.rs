//! The event log's rows as typed [`Event`]s: the one place that turns an event into its `kind`
//! and `details` columns and back, and the one append every writer uses.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use dispatch_domain::event::Event;
use dispatch_domain::ids::{CallId, IncidentId, PartnerId, ReferralId, UnitId};

use crate::Error;
use crate::schema::events;

/// The rows an event is about (its subject columns): what timelines, unit watches and partner
/// feeds select it by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct About {
    pub call: Option<CallId>,
    pub incident: Option<IncidentId>,
    pub unit: Option<UnitId>,
    pub referral: Option<ReferralId>,
    pub partner: Option<PartnerId>,
}

impl About {
    /// About nothing in particular (directory and security events).
    pub fn nothing() -> Self {
        Self::default()
    }

    pub fn incident(incident: IncidentId) -> Self {
        Self {
            incident: Some(incident),
            ..Self::default()
        }
    }

    /// A unit, and the incident it is on, if any.
    pub fn unit(unit: UnitId, incident: Option<IncidentId>) -> Self {
        Self {
            unit: Some(unit),
            incident,
            ..Self::default()
        }
    }

    /// A call, and the incident it is linked to, if any.
    pub fn call(call: CallId, incident: Option<IncidentId>) -> Self {
        Self {
            call: Some(call),
            incident,
            ..Self::default()
        }
    }

    /// A partner's feed; `referral` for referral events.
    pub fn partner(partner: PartnerId, referral: Option<ReferralId>) -> Self {
        Self {
            partner: Some(partner),
            referral,
            ..Self::default()
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewEventRow<'a> {
    actor: &'a str,
    kind: &'static str,
    call_id: Option<Uuid>,
    incident_id: Option<Uuid>,
    unit_id: Option<Uuid>,
    referral_id: Option<Uuid>,
    partner_id: Option<Uuid>,
    details: Value,
}

/// Appends events made by `actor`, in order, in the caller's transaction.
pub(crate) async fn append(
    conn: &mut AsyncPgConnection,
    actor: &str,
    entries: impl IntoIterator<Item = (About, Event)>,
) -> Result<(), Error> {
    let rows = entries
        .into_iter()
        .map(|(about, event)| {
            Ok(NewEventRow {
                actor,
                kind: event.kind(),
                call_id: about.call.map(|id| id.0),
                incident_id: about.incident.map(|id| id.0),
                unit_id: about.unit.map(|id| id.0),
                referral_id: about.referral.map(|id| id.0),
                partner_id: about.partner.map(|id| id.0),
                details: details(&event)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(events::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends one event made by `actor`.
pub(crate) async fn append_one(
    conn: &mut AsyncPgConnection,
    actor: &str,
    about: About,
    event: impl Into<Event>,
) -> Result<(), Error> {
    append(conn, actor, [(about, event.into())]).await
}

/// The `details` column of an event (for writers in SQL, such as `record_call`).
pub(crate) fn details(event: &Event) -> Result<Value, Error> {
    let unwritable = |why: String| Error::Internal(format!("event {}: {why}", event.kind()));
    match serde_json::to_value(event).map_err(|error| unwritable(error.to_string()))? {
        Value::Object(mut stored) => stored
            .remove("details")
            .ok_or_else(|| unwritable("no details".into())),
        other => Err(unwritable(format!("stored as {other}"))),
    }
}

/// Reads a stored row's `kind` and `details` columns. A row that does not read is a bug in a
/// writer (or a hand-made row), reported with its `seq`.
pub(crate) fn read(seq: i64, kind: &str, details: Value) -> Result<Event, Error> {
    serde_json::from_value(json!({ "kind": kind, "details": details })).map_err(|error| {
        Error::Internal(format!("unreadable event {seq} of kind {kind:?}: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_row_names_its_seq() {
        let error = read(42, "note_added", json!({})).expect_err("no text");
        assert!(error.to_string().contains("42"), "{error}");
    }
}
