//! The open-data export's reads: a period's published calls, oldest first, a page at a time,
//! with what the export needs of each call's incident. Nothing of the caller is selected.
//! What is published and how is decided in `dispatch_domain::reporting::open_data`.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use dispatch_domain::call::{CallState, Channel};
use dispatch_domain::event::IncidentEvent;
use dispatch_domain::incident::ClosingCode;
use dispatch_domain::reporting::open_data::{
    Outcome, PUBLISHED_DISPOSITION, ReportedCall, ReportedIncident,
};

use crate::error::{parse, point};
use crate::prepared::{BindNext, PreparedSql};
use crate::{Error, Page, Store};

/// Position in the export: the last row's received time and folio (folios are unique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedCursor {
    pub received_at: DateTime<Utc>,
    pub folio: String,
}

/// A call of the export and its incident's columns (NULL without one).
#[derive(QueryableByName)]
struct ReportedRow {
    #[diesel(sql_type = Text)]
    folio: String,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Timestamptz)]
    received_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Double)]
    latitude: f64,
    #[diesel(sql_type = Double)]
    longitude: f64,
    #[diesel(sql_type = Text)]
    incident_type_hint: String,
    #[diesel(sql_type = Bool)]
    linked: bool,
    #[diesel(sql_type = Nullable<Text>)]
    incident_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    area: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    close_area: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    closing_code: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    opened_by_this_call: bool,
}

impl TryFrom<ReportedRow> for ReportedCall {
    type Error = Error;

    fn try_from(row: ReportedRow) -> Result<Self, Error> {
        let state = parse("call state", &row.state, CallState::parse)?;
        let outcome = if row.linked {
            Outcome::Linked(ReportedIncident {
                incident_type: row.incident_type,
                area: row.area.unwrap_or_default(),
                close_area: row.close_area,
                closing_code: row
                    .closing_code
                    .map(|code| parse("closing code", &code, ClosingCode::parse))
                    .transpose()?,
                closed_at: row.closed_at,
                opened_by_this_call: row.opened_by_this_call,
            })
        } else if state == CallState::Disposed {
            // Disposed is final: the call's last change is its disposal.
            Outcome::Prank { at: row.updated_at }
        } else {
            Outcome::Open
        };
        Ok(Self {
            folio: row.folio,
            channel: parse("channel", &row.channel, Channel::parse)?,
            received_at: row.received_at,
            point: point(row.latitude, row.longitude)?,
            incident_type_hint: row.incident_type_hint,
            outcome,
        })
    }
}

impl Store {
    /// The calls received in `[start, end)` that the export publishes (linked, open, or
    /// disposed as a prank), oldest first by received time then folio, one page after
    /// `page.after`; and the cursor of the next page when another follows.
    ///
    /// A call "opened" its incident when the incident's creation event names it: a call linked
    /// to an incident another call opened, or moved into a survivor by a merge, did not.
    pub async fn open_data_calls(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        page: &Page<ReceivedCursor>,
    ) -> Result<(Vec<ReportedCall>, Option<ReceivedCursor>), Error> {
        // The first page starts after (start, ""): every folio sorts after the empty one.
        let (after_time, after_folio) = match &page.after {
            Some(cursor) => (cursor.received_at, cursor.folio.as_str()),
            None => (start, ""),
        };
        let rows: Vec<ReportedRow> = PreparedSql(
            "SELECT c.folio, c.channel, c.state, c.received_at, c.updated_at, \
                    c.latitude, c.longitude, c.incident_type_hint, \
                    (c.incident_id IS NOT NULL) AS linked, \
                    i.incident_type, i.area, i.close_area, i.closing_code, i.closed_at, \
                    EXISTS (SELECT 1 FROM events e \
                            WHERE e.call_id = c.id AND e.kind = $7 \
                              AND e.incident_id = c.incident_id) AS opened_by_this_call \
             FROM calls c LEFT JOIN incidents i ON i.id = c.incident_id \
             WHERE c.received_at >= $1 AND c.received_at < $2 \
               AND (c.state <> 'disposed' OR c.disposition = $3) \
               AND (c.received_at, c.folio) > ($4, $5) \
             ORDER BY c.received_at, c.folio \
             LIMIT $6",
        )
        .bind::<Timestamptz, _>(start)
        .bind::<Timestamptz, _>(end)
        .bind::<Text, _>(PUBLISHED_DISPOSITION.as_str())
        .bind::<Timestamptz, _>(after_time)
        .bind::<Text, _>(after_folio)
        .bind::<BigInt, _>(page.limit())
        .bind::<Text, _>(IncidentEvent::CREATED)
        .load(&mut *self.conn().await?)
        .await?;
        page.finish(rows, |row: &ReportedRow| ReceivedCursor {
            received_at: row.received_at,
            folio: row.folio.clone(),
        })
    }
}
