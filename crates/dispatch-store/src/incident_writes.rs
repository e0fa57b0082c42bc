//! The writes every change to an incident shares: a new incident's row, a note, corrections
//! to its fields, and the version bump that tells other readers it moved.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::event::IncidentEvent;
use dispatch_domain::ids::{IncidentId, OperationId};
use dispatch_domain::incident::{Incident, IncidentChanges, Transition};
use dispatch_domain::location::Location;
use dispatch_domain::reporting::areas::{Areas, stamp_cell};

use crate::Error;
use crate::events::{self, About};
use crate::schema::{incident_notes, incident_operations, incidents};

/// A new version of the incident: its etag changes and `updated_at` moves.
pub(crate) async fn bump(conn: &mut AsyncPgConnection, id: IncidentId) -> Result<(), Error> {
    diesel::update(incidents::table.find(id.0))
        .set((
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes corrections to a locked incident: the fields given, a new version, and the events
/// that say what changed and why.
pub(crate) async fn apply_changes(
    conn: &mut AsyncPgConnection,
    actor: &str,
    incident: &Incident,
    changes: &IncidentChanges,
    reason: &str,
) -> Result<(), Error> {
    let id = incident.id;
    incident.status.apply(Transition::Update, &id.name())?;
    let mut fields = Vec::new();
    if let Some(incident_type) = &changes.incident_type {
        diesel::update(incidents::table.find(id.0))
            .set(incidents::incident_type.eq(incident_type))
            .execute(conn)
            .await?;
        fields.push("incident_type");
    }
    if let Some(location) = &changes.location {
        diesel::update(incidents::table.find(id.0))
            .set((
                incidents::latitude.eq(location.point.latitude()),
                incidents::longitude.eq(location.point.longitude()),
                incidents::uncertainty_m.eq(location.uncertainty_m),
                incidents::location_source.eq(location.source.as_str()),
                incidents::civic_address.eq(&location.civic_address),
                // Reports place an incident where it is now; its area stays the opening one.
                incidents::h3_cell.eq(stamp_cell(&location.point)),
            ))
            .execute(conn)
            .await?;
        fields.push("location");
    }
    if let Some(summary) = &changes.summary {
        diesel::update(incidents::table.find(id.0))
            .set(incidents::summary.eq(summary))
            .execute(conn)
            .await?;
        fields.push("summary");
    }
    let mut entries = Vec::new();
    if let Some(priority) = changes.priority {
        let priority = i16::from(priority);
        diesel::update(incidents::table.find(id.0))
            .set(incidents::priority.eq(priority))
            .execute(conn)
            .await?;
        fields.push("priority");
        if incident.priority != Some(priority) {
            entries.push(IncidentEvent::PriorityChanged {
                from: incident.priority,
                to: priority,
                reason: reason.to_owned(),
            });
        }
    }
    bump(conn, id).await?;
    entries.insert(
        0,
        IncidentEvent::Updated {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            reason: reason.to_owned(),
        },
    );
    let about = About::incident(id);
    events::append(conn, actor, entries.into_iter().map(|e| (about, e.into()))).await
}

/// A new incident's row.
#[derive(Insertable)]
#[diesel(table_name = incidents)]
pub(crate) struct NewIncident<'a> {
    pub id: Uuid,
    pub folio: &'a str,
    pub incident_type: Option<&'a str>,
    pub priority: Option<i16>,
    pub latitude: f64,
    pub longitude: f64,
    pub uncertainty_m: f64,
    pub location_source: &'static str,
    pub civic_address: &'a str,
    pub summary: &'a str,
    pub linked_call_count: i32,
    pub first_call_at: DateTime<Utc>,
    pub last_call_at: DateTime<Utc>,
    pub created_by: &'a str,
    /// The centre's area the incident opens in ("" for none).
    pub area: &'a str,
    /// Its location's H3 cell; `station_area` is stamped by [`Self::insert`] from the stations.
    pub h3_cell: i64,
    /// The planned operation it opens inside, written by [`Self::insert`] in the same
    /// transaction (`incidents` is at diesel's 32 columns, so not through this derive).
    #[diesel(skip_insertion)]
    pub operation: Option<OperationId>,
}

impl<'a> NewIncident<'a> {
    /// A NEW incident at `location` (in its area of `areas`), with no calls yet counted
    /// (`first_call_at` and `last_call_at` at `at`).
    pub(crate) fn at(
        id: IncidentId,
        folio: &'a str,
        location: &'a Location,
        at: DateTime<Utc>,
        created_by: &'a str,
        areas: &'a Areas,
    ) -> Self {
        Self {
            id: id.0,
            folio,
            incident_type: None,
            priority: None,
            latitude: location.point.latitude(),
            longitude: location.point.longitude(),
            uncertainty_m: location.uncertainty_m,
            location_source: location.source.as_str(),
            civic_address: &location.civic_address,
            summary: "",
            linked_call_count: 0,
            first_call_at: at,
            last_call_at: at,
            created_by,
            area: areas.area_of(&location.point),
            h3_cell: stamp_cell(&location.point),
            operation: None,
        }
    }

    /// Inserts the row, with its station area (the nearest station now).
    pub(crate) async fn insert(&self, conn: &mut AsyncPgConnection) -> Result<(), Error> {
        diesel::insert_into(incidents::table)
            .values(self)
            .execute(conn)
            .await?;
        if let Some(operation) = self.operation {
            diesel::update(incident_operations::table.find(self.id))
                .set(incident_operations::operation_id.eq(operation.0))
                .execute(conn)
                .await?;
        }
        crate::geography::stamp_station_areas(conn, &[IncidentId(self.id)]).await
    }
}

/// Appends a note by `author` (written at `written_at`, else now) to an incident the caller
/// has locked, with its event by `actor`; returns the note's id.
pub(crate) async fn insert_note(
    conn: &mut AsyncPgConnection,
    actor: &str,
    id: IncidentId,
    author: &str,
    text: &str,
    written_at: Option<DateTime<Utc>>,
) -> Result<i64, Error> {
    let note_id = diesel::insert_into(incident_notes::table)
        .values((
            incident_notes::incident_id.eq(id.0),
            incident_notes::author.eq(author),
            incident_notes::text.eq(text),
            written_at.map(|at| incident_notes::created_at.eq(at)),
        ))
        .returning(incident_notes::id)
        .get_result(conn)
        .await?;
    let note = IncidentEvent::NoteAdded {
        text: text.to_owned(),
    };
    events::append_one(conn, actor, About::incident(id), note).await?;
    Ok(note_id)
}
