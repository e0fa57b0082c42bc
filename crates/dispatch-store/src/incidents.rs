//! Incidents: corrections, notes, the status lifecycle, merges, closing, reading.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::event::{Cancellation, Closing, IncidentEvent, Merge};
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::incident::{
    ClosingCode, Incident, IncidentChanges, IncidentStatus, Merger, Note, Transition, TriageRecord,
};
use dispatch_domain::location::BoundingBox;
use dispatch_domain::reporting::areas::Areas;
use dispatch_domain::triage::{Answer, AnswerValue, Determinant, Level, Outcome};

use dispatch_domain::assignment::Assignment;

use crate::assignments::{load_assignments, release_all};
use crate::events::{self, About};
use crate::idempotency::WriteFn;
pub(crate) use crate::incident_writes::{NewIncident, apply_changes, bump, insert_note};
use crate::rows::EventRecord;
use crate::rows::{IncidentRow, plan_from_json};
use crate::schema::{assignments, calls, incident_notes, incidents, triage_records, units};
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, find_one, newest_first_after};

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub min_priority: Option<i16>,
    pub max_priority: Option<i16>,
    pub incident_types: Vec<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_until: Option<DateTime<Utc>>,
    pub area: Option<BoundingBox>,
}

/// An incident with everything a dispatcher's screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub calls: Vec<CallId>,
    pub notes: Vec<Note>,
    pub triage_history: Vec<TriageRecord>,
    pub timeline: Vec<EventRecord>,
    /// Units sent, active and past, oldest first.
    pub assignments: Vec<Assignment>,
}

/// Which of the dispatcher-driven statuses to move to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldStatus {
    OnScene,
    Resolved,
}

pub(crate) fn stale(incident: &Incident, expected: Option<i64>) -> Result<(), Error> {
    incident
        .check_version(expected)
        .map_err(|stale| Error::Stale(stale.0))
}

/// The incident, locked, if it is still at the version (etag) the caller saw.
pub(crate) async fn lock_current(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    expected: Option<i64>,
) -> Result<Incident, Error> {
    let incident = lock_incident(conn, id).await?;
    stale(&incident, expected)?;
    Ok(incident)
}

/// A status change, with its time, on the incident row.
pub(crate) async fn set_status(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    from: IncidentStatus,
    to: IncidentStatus,
) -> Result<(), Error> {
    if from == to {
        return Ok(());
    }
    diesel::update(incidents::table.find(id.0))
        .set((
            incidents::status.eq(to.as_str()),
            incidents::status_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn lock_incident(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
) -> Result<Incident, Error> {
    let query = incidents::table.find(id.0).select(IncidentRow::as_select());
    find_one::<_, IncidentRow, _>(conn, query.for_update(), || id.name()).await
}

pub(crate) async fn load_incident(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
) -> Result<Incident, Error> {
    let query = incidents::table.find(id.0).select(IncidentRow::as_select());
    find_one::<_, IncidentRow, _>(conn, query, || id.name()).await
}

/// Closing needs every unit cleared or released first: the refusal names them.
async fn refuse_active_units(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
    action: &str,
) -> Result<(), Error> {
    let active: Vec<(Uuid, String)> = assignments::table
        .inner_join(units::table)
        .filter(assignments::incident_id.eq(id.0))
        .filter(
            assignments::cleared_at
                .is_null()
                .and(assignments::released_at.is_null()),
        )
        .select((assignments::unit_id, units::status))
        .load(conn)
        .await?;
    if active.is_empty() {
        return Ok(());
    }
    Err(dispatch_domain::Error::Conflicts {
        conflicts: active
            .into_iter()
            .map(|(unit, status)| {
                (
                    dispatch_domain::ids::UnitId(unit).name(),
                    format!("{status} on {id}"),
                )
            })
            .collect(),
        action: format!("{action} {id} while units are still assigned"),
    }
    .into())
}

/// Moves an incident to a terminal status, stamping the area (of `areas`) it ends in.
#[expect(
    clippy::too_many_arguments,
    reason = "the terminal status's fields, and the areas its close_area comes from"
)]
async fn finish(
    conn: &mut AsyncPgConnection,
    actor: &str,
    areas: &Areas,
    incident: &Incident,
    status: IncidentStatus,
    code: Option<ClosingCode>,
    duplicate_of: Option<IncidentId>,
    note: &str,
) -> Result<(), Error> {
    let id = incident.id;
    diesel::update(incidents::table.find(id.0))
        .set((
            incidents::status.eq(status.as_str()),
            incidents::status_at.eq(diesel::dsl::now),
            incidents::closing_code.eq(code.map(ClosingCode::as_str)),
            incidents::closing_note.eq(note),
            incidents::duplicate_of.eq(duplicate_of.map(|d| d.0)),
            incidents::closed_at.eq(diesel::dsl::now),
            incidents::close_area.eq(areas.area_of(&incident.location.point)),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let from = incident.status;
    let ended = match code {
        Some(closing_code) => IncidentEvent::Closed {
            from,
            details: Closing {
                closing_code,
                note: note.to_owned(),
                duplicate_of,
            },
        },
        None => IncidentEvent::Cancelled {
            from,
            details: Cancellation {
                reason: note.to_owned(),
            },
        },
    };
    events::append_one(conn, actor, About::incident(id), ended).await
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = triage_records, check_for_backend(diesel::pg::Pg))]
struct TriageRow {
    triaged_by: String,
    incident_type: String,
    answers: serde_json::Value,
    determinant_code: String,
    determinant_level: String,
    determinant_description: String,
    priority: i16,
    previous_priority: Option<i16>,
    response_plan: serde_json::Value,
    created_at: DateTime<Utc>,
}

fn answer_from_json(value: &serde_json::Value) -> Answer {
    let value_of = || {
        if let Some(b) = value.get("yes_no").and_then(serde_json::Value::as_bool) {
            Some(AnswerValue::YesNo(b))
        } else if let Some(c) = value.get("choice").and_then(serde_json::Value::as_str) {
            Some(AnswerValue::Choice(c.to_owned()))
        } else {
            value
                .get("number")
                .and_then(serde_json::Value::as_f64)
                .map(AnswerValue::Number)
        }
    };
    Answer {
        question_id: value
            .get("question_id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        value: value_of(),
    }
}

async fn load_triage_history(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
) -> Result<Vec<TriageRecord>, Error> {
    let rows: Vec<TriageRow> = triage_records::table
        .filter(triage_records::incident_id.eq(id.0))
        .order(triage_records::id.asc())
        .select(TriageRow::as_select())
        .load(conn)
        .await?;
    let priority =
        |p: i16| u8::try_from(p).map_err(|_| Error::Internal(format!("stored priority {p}")));
    rows.into_iter()
        .map(|row| {
            Ok(TriageRecord {
                triaged_at: row.created_at,
                triaged_by: row.triaged_by,
                incident_type: row.incident_type,
                answers: row
                    .answers
                    .as_array()
                    .map(|a| a.iter().map(answer_from_json).collect())
                    .unwrap_or_default(),
                outcome: Outcome {
                    determinant: Determinant {
                        code: row.determinant_code,
                        level: Level::parse(&row.determinant_level).ok_or_else(|| {
                            Error::Internal(format!("stored level {}", row.determinant_level))
                        })?,
                        description: row.determinant_description,
                    },
                    priority: priority(row.priority)?,
                    plan: plan_from_json(&row.response_plan)?,
                },
                previous_priority: row.previous_priority.map(priority).transpose()?,
            })
        })
        .collect()
}

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = crate::schema::events, check_for_backend(diesel::pg::Pg))]
struct TimelineRow {
    seq: i64,
    occurred_at: DateTime<Utc>,
    actor: String,
    kind: String,
    call_id: Option<Uuid>,
    incident_id: Option<Uuid>,
    unit_id: Option<Uuid>,
    details: serde_json::Value,
}

/// The incident's events and those of every incident merged into it, in order.
pub(crate) async fn load_timeline(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
) -> Result<Vec<EventRecord>, Error> {
    let rows: Vec<TimelineRow> = diesel::sql_query(
        "WITH RECURSIVE family(id) AS ( \
             SELECT $1::uuid \
             UNION SELECT i.id FROM incidents i JOIN family f ON i.duplicate_of = f.id) \
         SELECT e.seq, e.occurred_at, e.actor, e.kind, e.call_id, e.incident_id, e.unit_id, e.details \
         FROM events e WHERE e.incident_id IN (SELECT id FROM family) ORDER BY e.seq",
    )
    .bind::<diesel::sql_types::Uuid, _>(id.0)
    .load(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(EventRecord {
                sequence: row.seq,
                time: row.occurred_at,
                actor: row.actor,
                call: row.call_id.map(CallId),
                incident: row.incident_id.map(IncidentId),
                unit: row.unit_id.map(dispatch_domain::ids::UnitId),
                event: events::read(row.seq, &row.kind, row.details)?,
            })
        })
        .collect()
}

/// The incident with its calls, notes, triage history and timeline (including the timelines
/// of incidents merged into it).
pub(crate) async fn load_detail(
    conn: &mut AsyncPgConnection,
    id: IncidentId,
) -> Result<IncidentDetail, Error> {
    let incident = load_incident(conn, id).await?;
    let calls: Vec<Uuid> = calls::table
        .filter(calls::incident_id.eq(id.0))
        .order((calls::received_at.asc(), calls::id.asc()))
        .select(calls::id)
        .load(conn)
        .await?;
    let notes: Vec<(String, String, DateTime<Utc>)> = incident_notes::table
        .filter(incident_notes::incident_id.eq(id.0))
        .order(incident_notes::id.asc())
        .select((
            incident_notes::author,
            incident_notes::text,
            incident_notes::created_at,
        ))
        .load(conn)
        .await?;
    let triage_history = load_triage_history(conn, id).await?;
    let timeline = load_timeline(conn, id).await?;
    let assignments = load_assignments(conn, id).await?;
    Ok(IncidentDetail {
        incident,
        calls: calls.into_iter().map(CallId).collect(),
        notes: notes
            .into_iter()
            .map(|(author, text, created_at)| Note {
                author,
                text,
                created_at,
            })
            .collect(),
        triage_history,
        timeline,
        assignments,
    })
}

impl Store {
    /// The outline of a write to one incident: [`Store::write_once`] for the incident, which
    /// answers with its detail.
    pub(crate) async fn write_incident<W>(
        &self,
        key: &Idempotency,
        id: IncidentId,
        write: W,
    ) -> Result<Written<IncidentDetail>, Error>
    where
        for<'c> W: WriteFn<'c, (), Fut: Send> + Send,
    {
        self.write_once(key, &id.name(), write, async |conn, _| {
            load_detail(conn, id).await
        })
        .await
    }

    /// Corrects type, location, summary or priority. The etag is required: two dispatchers never
    /// overwrite each other silently.
    pub async fn update_incident(
        &self,
        key: &Idempotency,
        actor: &str,
        id: IncidentId,
        changes: &IncidentChanges,
        reason: &str,
        expected_version: i64,
    ) -> Result<Written<IncidentDetail>, Error> {
        self.write_incident(key, id, async |conn| {
            let incident = lock_current(conn, id, Some(expected_version)).await?;
            apply_changes(conn, actor, &incident, changes, reason).await
        })
        .await
    }

    /// Appends a note; allowed in every status (late information arrives after closing too).
    pub async fn add_incident_note(
        &self,
        key: &Idempotency,
        actor: &str,
        id: IncidentId,
        text: &str,
    ) -> Result<Written<IncidentDetail>, Error> {
        self.write_incident(key, id, async |conn| {
            lock_incident(conn, id).await?;
            insert_note(conn, actor, id, actor, text, None).await?;
            bump(conn, id).await
        })
        .await
    }

    /// ON_SCENE or RESOLVED, by the dispatcher.
    pub async fn change_incident_status(
        &self,
        key: &Idempotency,
        actor: &str,
        id: IncidentId,
        target: FieldStatus,
        note: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<IncidentDetail>, Error> {
        self.write_incident(key, id, async |conn| {
            let incident = lock_current(conn, id, expected_version).await?;
            let transition = match target {
                FieldStatus::OnScene => Transition::ArriveOnScene,
                FieldStatus::Resolved => Transition::Resolve,
            };
            let next = incident.status.apply(transition, &id.name())?;
            set_status(conn, id, incident.status, next).await?;
            bump(conn, id).await?;
            let changed = IncidentEvent::StatusChanged {
                from: incident.status,
                to: next,
                note: note.to_owned(),
            };
            events::append_one(conn, actor, About::incident(id), changed).await
        })
        .await
    }

    /// Closes with a C5 code other than duplicate (a duplicate is a merge).
    pub async fn close_incident(
        &self,
        key: &Idempotency,
        actor: &str,
        id: IncidentId,
        code: ClosingCode,
        note: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<IncidentDetail>, Error> {
        self.write_incident(key, id, async |conn| {
            let incident = lock_current(conn, id, expected_version).await?;
            incident.status.apply(Transition::Close(code), &id.name())?;
            refuse_active_units(conn, id, "close").await?;
            finish(
                conn,
                actor,
                &self.config().areas,
                &incident,
                IncidentStatus::Closed,
                Some(code),
                None,
                note,
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Cancels an incident opened in error or withdrawn.
    pub async fn cancel_incident(
        &self,
        key: &Idempotency,
        actor: &str,
        id: IncidentId,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<IncidentDetail>, Error> {
        self.write_incident(key, id, async |conn| {
            let incident = lock_current(conn, id, expected_version).await?;
            incident.status.apply(Transition::Cancel, &id.name())?;
            release_all(conn, actor, id, reason).await?;
            finish(
                conn,
                actor,
                &self.config().areas,
                &incident,
                IncidentStatus::Cancelled,
                None,
                None,
                reason,
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Merges `duplicate` into `survivor`: its calls move over, its timeline is shown with the
    /// survivor's, and it is closed as a duplicate of the survivor.
    pub async fn merge_incidents(
        &self,
        key: &Idempotency,
        actor: &str,
        command: &Merger,
    ) -> Result<Written<(IncidentDetail, IncidentDetail)>, Error> {
        let Merger {
            survivor,
            duplicate,
            survivor_version,
            duplicate_version,
            ref note,
        } = *command;
        self.write_once(
            key,
            &duplicate.name(),
            async |conn| {
                // Two incidents: lock in id order, so concurrent merges cannot deadlock.
                let (first, second) = if survivor < duplicate {
                    (survivor, duplicate)
                } else {
                    (duplicate, survivor)
                };
                let first = lock_incident(conn, first).await?;
                let second = lock_incident(conn, second).await?;
                let (kept, merged) = if first.id == survivor {
                    (first, second)
                } else {
                    (second, first)
                };
                stale(&kept, survivor_version)?;
                stale(&merged, duplicate_version)?;
                kept.status.apply(Transition::Update, &survivor.name())?;
                merged
                    .status
                    .apply(Transition::Close(ClosingCode::Duplicate), &duplicate.name())?;
                let moved = diesel::update(calls::table.filter(calls::incident_id.eq(duplicate.0)))
                    .set((
                        calls::incident_id.eq(survivor.0),
                        calls::version.eq(calls::version + 1),
                        calls::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                let moved =
                    i32::try_from(moved).map_err(|_| Error::Internal("too many calls".into()))?;
                // Units still working the duplicate now work the survivor.
                diesel::update(
                    assignments::table
                        .filter(assignments::incident_id.eq(duplicate.0))
                        .filter(
                            assignments::cleared_at
                                .is_null()
                                .and(assignments::released_at.is_null()),
                        ),
                )
                .set(assignments::incident_id.eq(survivor.0))
                .execute(conn)
                .await?;
                diesel::update(units::table.filter(units::current_incident_id.eq(duplicate.0)))
                    .set(units::current_incident_id.eq(survivor.0))
                    .execute(conn)
                    .await?;
                diesel::update(incidents::table.find(survivor.0))
                    .set((
                        incidents::linked_call_count.eq(incidents::linked_call_count + moved),
                        incidents::first_call_at.eq(kept.first_call_at.min(merged.first_call_at)),
                        incidents::last_call_at.eq(kept.last_call_at.max(merged.last_call_at)),
                    ))
                    .execute(conn)
                    .await?;
                diesel::update(incidents::table.find(duplicate.0))
                    .set(incidents::linked_call_count.eq(0))
                    .execute(conn)
                    .await?;
                bump(conn, survivor).await?;
                let merge = |incident, folio: &str| Merge {
                    incident,
                    folio: folio.to_owned(),
                    calls: moved,
                    note: note.to_owned(),
                };
                let merged_in = IncidentEvent::MergedIn(merge(duplicate, &merged.folio));
                let merged_into = IncidentEvent::MergedInto(merge(survivor, &kept.folio));
                events::append(
                    conn,
                    actor,
                    [
                        (About::incident(survivor), merged_in.into()),
                        (About::incident(duplicate), merged_into.into()),
                    ],
                )
                .await?;
                finish(
                    conn,
                    actor,
                    &self.config().areas,
                    &merged,
                    IncidentStatus::Closed,
                    Some(ClosingCode::Duplicate),
                    Some(survivor),
                    note,
                )
                .await?;
                Ok(())
            },
            async |conn, _| {
                Ok((
                    load_detail(conn, survivor).await?,
                    load_detail(conn, duplicate).await?,
                ))
            },
        )
        .await
    }

    pub async fn get_incident(&self, id: IncidentId) -> Result<Incident, Error> {
        load_incident(&mut *self.conn().await?, id).await
    }

    /// The incident with its calls, notes, triage history and timeline (including the timelines
    /// of incidents merged into it).
    pub async fn incident_detail(&self, id: IncidentId) -> Result<IncidentDetail, Error> {
        load_detail(&mut *self.conn().await?, id).await
    }

    /// Incidents newest first, filtered, a page at a time.
    pub async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<Incident>, Option<TimeCursor>), Error> {
        let mut query = incidents::table
            .select(IncidentRow::as_select())
            .order((incidents::created_at.desc(), incidents::id.desc()))
            .into_boxed();
        if !filter.statuses.is_empty() {
            query =
                query.filter(incidents::status.eq_any(filter.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(min) = filter.min_priority {
            query = query.filter(incidents::priority.ge(min));
        }
        if let Some(max) = filter.max_priority {
            query = query.filter(incidents::priority.le(max));
        }
        if !filter.incident_types.is_empty() {
            query = query.filter(incidents::incident_type.eq_any(&filter.incident_types));
        }
        if let Some(from) = filter.created_from {
            query = query.filter(incidents::created_at.ge(from));
        }
        if let Some(until) = filter.created_until {
            query = query.filter(incidents::created_at.lt(until));
        }
        if let Some(area) = filter.area {
            query = query.filter(incidents::latitude.between(area.south, area.north));
            query = if area.west <= area.east {
                query.filter(incidents::longitude.between(area.west, area.east))
            } else {
                // A box across the antimeridian.
                query.filter(
                    incidents::longitude
                        .ge(area.west)
                        .or(incidents::longitude.le(area.east)),
                )
            };
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(
                incidents::created_at,
                incidents::id,
                after
            ))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &IncidentRow| TimeCursor {
                time: row.created_at,
                id: row.id,
            },
        )
    }
}
