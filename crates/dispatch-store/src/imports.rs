//! EIDO imports: an incident another system sent becomes one of ours, or updates the one it
//! became. The incident, its calls and notes are written by the same functions every other
//! write uses (`incidents`, `calls`); this module decides which of them to run, and keeps
//! which sender's incident, calls and notes became which of ours (`eido_imports`,
//! `eido_import_parts`), so that the same version twice, or an older one, changes nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::event::IncidentEvent;
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::incident::{IncidentChanges, Transition};
use dispatch_standards::eido::import::EidoImport;

use crate::calls::record_linked_call;
use crate::events::{self, About};
use crate::incidents::{
    IncidentDetail, NewIncident, apply_changes, insert_note, load_detail, load_incident,
    lock_incident,
};
use crate::operations::operation_at;
use crate::schema::{eido_import_parts, eido_imports};
use crate::{Error, Idempotency, Store, Written};

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new incident.
    Created,
    /// A newer version updated the incident it became.
    Updated,
    /// The version we hold, or an older one: nothing changed. Also the answer to a retried
    /// request (same request id), which writes nothing.
    Unchanged,
}

/// The incident an import made or updated, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub detail: IncidentDetail,
    pub outcome: ImportOutcome,
    /// The sender's tracking identifier and the version we hold now.
    pub tracking_id: String,
    pub version: DateTime<Utc>,
}

/// The import row as stored, and the component ids of the calls and notes it brought.
struct Known {
    incident: IncidentId,
    version: DateTime<Utc>,
    calls: Vec<String>,
    notes: Vec<String>,
}

async fn known(
    conn: &mut AsyncPgConnection,
    tracking_id: &str,
    lock: bool,
) -> Result<Option<Known>, Error> {
    let query = eido_imports::table
        .find(tracking_id)
        .select((eido_imports::incident_id, eido_imports::version_at));
    let row: Option<(Uuid, DateTime<Utc>)> = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    let Some((incident, version)) = row else {
        return Ok(None);
    };
    let parts: Vec<(String, String)> = eido_import_parts::table
        .filter(eido_import_parts::tracking_id.eq(tracking_id))
        .select((eido_import_parts::component, eido_import_parts::foreign_id))
        .load(conn)
        .await?;
    let of = |kind: &str| {
        parts
            .iter()
            .filter(|(component, _)| component == kind)
            .map(|(_, id)| id.clone())
            .collect()
    };
    Ok(Some(Known {
        incident: IncidentId(incident),
        version,
        calls: of("call"),
        notes: of("note"),
    }))
}

/// What a write will do, decided before its transaction from what is stored, and checked
/// again under the import row's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Create {
        incident: IncidentId,
    },
    Update {
        incident: IncidentId,
        new_calls: usize,
    },
    Unchanged {
        incident: IncidentId,
    },
}

fn plan(import: &EidoImport, known: Option<&Known>) -> Plan {
    match known {
        None => Plan::Create {
            incident: IncidentId::new_v7(),
        },
        Some(known) if import.version > known.version => Plan::Update {
            incident: known.incident,
            new_calls: import
                .calls
                .iter()
                .filter(|c| !known.calls.contains(&c.foreign_id))
                .count(),
        },
        Some(known) => Plan::Unchanged {
            incident: known.incident,
        },
    }
}

impl Plan {
    /// Whether what is stored now (read under the lock) still calls for this plan: another
    /// import may have committed between the read that made it and the lock.
    fn still_holds(&self, import: &EidoImport, now: Option<&Known>) -> bool {
        match (self, now) {
            (Self::Create { .. }, None) => true,
            (Self::Create { .. }, Some(_)) | (_, None) => false,
            (planned, Some(known)) => {
                known.incident == planned.incident()
                    && matches!(planned, Self::Update { .. }) == (import.version > known.version)
            }
        }
    }

    fn incident(&self) -> IncidentId {
        match *self {
            Self::Create { incident }
            | Self::Update { incident, .. }
            | Self::Unchanged { incident } => incident,
        }
    }
}

async fn record_import(
    conn: &mut AsyncPgConnection,
    actor: &str,
    import: &EidoImport,
    incident: IncidentId,
) -> Result<(), Error> {
    let row = (
        eido_imports::tracking_id.eq(&import.tracking_id),
        eido_imports::incident_id.eq(incident.0),
        eido_imports::version_at.eq(import.version),
        eido_imports::issuing_element.eq(&import.issuing_element),
        eido_imports::agency.eq(&import.agency),
        eido_imports::common_type.eq(&import.foreign_type.common),
        eido_imports::internal_type.eq(&import.foreign_type.internal_code),
        eido_imports::internal_type_text.eq(&import.foreign_type.internal_text),
        eido_imports::document.eq(&import.document),
        eido_imports::imported_by.eq(actor),
    );
    let written = diesel::insert_into(eido_imports::table)
        .values(row)
        .on_conflict(eido_imports::tracking_id)
        .do_update()
        .set((row, eido_imports::updated_at.eq(diesel::dsl::now)))
        .execute(conn)
        .await?;
    if written != 1 {
        return Err(Error::Internal(format!(
            "import of {} wrote {written} rows",
            import.tracking_id
        )));
    }
    Ok(())
}

/// Adds the calls and notes of `import` that `known` does not have to the incident, each
/// recorded as a part of the import.
async fn add_parts(
    conn: &mut AsyncPgConnection,
    actor: &str,
    import: &EidoImport,
    incident: IncidentId,
    known: Option<&Known>,
    folios: &mut Vec<String>,
) -> Result<(), Error> {
    let is_known =
        |list: fn(&Known) -> &Vec<String>, id: &String| known.is_some_and(|k| list(k).contains(id));
    for imported in &import.calls {
        if is_known(|k| &k.calls, &imported.foreign_id) {
            continue;
        }
        let folio = folios.pop().ok_or_else(|| {
            Error::Conflict(format!(
                "{} was imported concurrently; retry",
                import.tracking_id
            ))
        })?;
        let id = CallId::new_v7();
        // Read again for each call: the previous one moved its counts and call times.
        let current = load_incident(conn, incident).await?;
        record_linked_call(conn, actor, id, &folio, &imported.call, &current).await?;
        diesel::insert_into(eido_import_parts::table)
            .values((
                eido_import_parts::tracking_id.eq(&import.tracking_id),
                eido_import_parts::component.eq("call"),
                eido_import_parts::foreign_id.eq(&imported.foreign_id),
                eido_import_parts::call_id.eq(id.0),
            ))
            .execute(conn)
            .await?;
    }
    for note in &import.notes {
        if is_known(|k| &k.notes, &note.foreign_id) {
            continue;
        }
        let note_id = insert_note(
            conn,
            actor,
            incident,
            &note.author,
            &note.text,
            Some(note.written_at),
        )
        .await?;
        diesel::insert_into(eido_import_parts::table)
            .values((
                eido_import_parts::tracking_id.eq(&import.tracking_id),
                eido_import_parts::component.eq("note"),
                eido_import_parts::foreign_id.eq(&note.foreign_id),
                eido_import_parts::note_id.eq(note_id),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What a newer version changes on the incident: the fields that differ from it.
fn changes(import: &EidoImport, current: &dispatch_domain::incident::Incident) -> IncidentChanges {
    IncidentChanges {
        incident_type: import
            .incident_type
            .clone()
            .filter(|t| current.incident_type.as_ref() != Some(t)),
        location: Some(import.location.clone()).filter(|l| *l != current.location),
        // An EIDO has no summary: the incident's stays as our staff wrote it.
        summary: None,
        priority: import
            .priority
            .filter(|p| current.priority != Some(i16::from(*p))),
    }
}

impl Store {
    /// Imports an EIDO: creates our incident for a tracking id seen for the first time, updates
    /// it for a newer version (changed fields, calls and notes not brought before), and changes
    /// nothing for the version we hold or an older one. One transaction with the request id.
    pub async fn import_eido(
        &self,
        key: &Idempotency,
        actor: &str,
        import: &EidoImport,
    ) -> Result<Written<Imported>, Error> {
        let mut conn = self.conn().await?;
        if let Some(resource) = key.lookup(&mut conn).await? {
            let incident = IncidentId::parse_name("resource", &resource)
                .map_err(|_| crate::error::bad_resource(&resource))?;
            let imported = self
                .answer_import(&mut conn, import, incident, ImportOutcome::Unchanged)
                .await?;
            return Ok(Written::new(imported, true));
        }
        let before = known(&mut conn, &import.tracking_id, false).await?;
        let planned = plan(import, before.as_ref());
        if let Plan::Update { incident, .. } = planned {
            // Refuse what will be refused before drawing folios: a refused request writes
            // nothing (checked again under the lock).
            let current = load_incident(&mut conn, incident).await?;
            current.status.apply(Transition::Update, &incident.name())?;
        }
        // Folios are drawn before the transaction (as every write does: the counter is held
        // for an instant only); a number left unused is a gap, never a reuse.
        let needed = match planned {
            Plan::Create { .. } => import.calls.len(),
            Plan::Update { new_calls, .. } => new_calls,
            Plan::Unchanged { .. } => 0,
        };
        let incident_folio = match planned {
            Plan::Create { .. } => Some(
                self.next_folio(&mut conn, "incident", &self.config().incident_folio_prefix)
                    .await?,
            ),
            Plan::Update { .. } | Plan::Unchanged { .. } => None,
        };
        let mut call_folios = Vec::with_capacity(needed);
        for _ in 0..needed {
            call_folios.push(
                self.next_folio(&mut conn, "call", &self.config().call_folio_prefix)
                    .await?,
            );
        }
        call_folios.reverse();
        let incident = planned.incident();
        let claimed = key
            .write_once(&mut conn, &incident.name(), async |conn| {
                let now_known = known(conn, &import.tracking_id, true).await?;
                if !planned.still_holds(import, now_known.as_ref()) {
                    return Err(Error::Conflict(format!(
                        "{} was imported concurrently; retry",
                        import.tracking_id
                    )));
                }
                match planned {
                    Plan::Create { incident } => {
                        let folio = incident_folio.as_deref().unwrap_or_default();
                        let first_call = import.calls.iter().map(|c| c.call.received_at).min();
                        let opened_at = first_call.unwrap_or(import.version);
                        NewIncident {
                            incident_type: import.incident_type.as_deref(),
                            priority: import.priority.map(i16::from),
                            // Inside an operation's zones while it was in force: tagged in
                            // this transaction, like an incident opened from our own call.
                            operation: operation_at(conn, &import.location.point, opened_at)
                                .await?,
                            ..NewIncident::at(
                                incident,
                                folio,
                                &import.location,
                                opened_at,
                                actor,
                                &self.config().areas,
                            )
                        }
                        .insert(conn)
                        .await?;
                        let created = IncidentEvent::Created {
                            folio: folio.to_owned(),
                            incident_type: import.incident_type.clone(),
                            from_call: String::new(),
                        };
                        events::append_one(conn, actor, About::incident(incident), created).await?;
                        record_import(conn, actor, import, incident).await?;
                        add_parts(conn, actor, import, incident, None, &mut call_folios).await?;
                        Ok(ImportOutcome::Created)
                    }
                    Plan::Update { incident, .. } => {
                        let current = lock_incident(conn, incident).await?;
                        let reason = format!(
                            "EIDO {} of {}",
                            import.tracking_id,
                            import.version.to_rfc3339()
                        );
                        apply_changes(conn, actor, &current, &changes(import, &current), &reason)
                            .await?;
                        record_import(conn, actor, import, incident).await?;
                        add_parts(
                            conn,
                            actor,
                            import,
                            incident,
                            now_known.as_ref(),
                            &mut call_folios,
                        )
                        .await?;
                        Ok(ImportOutcome::Updated)
                    }
                    Plan::Unchanged { .. } => Ok(ImportOutcome::Unchanged),
                }
            })
            .await?;
        let replayed = claimed.replayed();
        let outcome = match &claimed {
            crate::idempotency::Claimed::New(outcome) => *outcome,
            crate::idempotency::Claimed::Replay(_) => ImportOutcome::Unchanged,
        };
        let incident = claimed.resource(incident, IncidentId::parse_name)?;
        let imported = self
            .answer_import(&mut conn, import, incident, outcome)
            .await?;
        Ok(Written::new(imported, replayed))
    }

    async fn answer_import(
        &self,
        conn: &mut AsyncPgConnection,
        import: &EidoImport,
        incident: IncidentId,
        outcome: ImportOutcome,
    ) -> Result<Imported, Error> {
        let version = known(conn, &import.tracking_id, false)
            .await?
            .map_or(import.version, |k| k.version);
        Ok(Imported {
            detail: load_detail(conn, incident).await?,
            outcome,
            tracking_id: import.tracking_id.clone(),
            version,
        })
    }
}
