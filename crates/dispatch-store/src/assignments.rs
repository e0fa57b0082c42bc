//! Assignments: a unit's part in an incident as stored, read back per incident, and ended
//! (cleared, released, out of service); and the recommendations they were made from.
//!
//! The commands that commit units (assign, release, field status) answer with the incident's
//! detail, so they live above `incidents` in `dispatching`; this module stays below it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::directory::{UnitStatus, UnitType};
use dispatch_domain::event::{AssignmentEnd, UnitEvent};
use dispatch_domain::ids::{AgencyId, IncidentId, RecommendationId, UnitId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;

use dispatch_domain::assignment::Assignment;

use crate::error::{parse, point};
use crate::events::{self, About};
use crate::idempotency::Claimed;
use crate::rows::{plan_from_json, plan_json};
use crate::schema::{assignments, recommendations, units};
use crate::units::lock_unit;
use crate::{Error, Idempotency, Store, find_one};

/// A stored recommendation: the decision record of what the engine proposed and from what.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationRecord {
    pub id: RecommendationId,
    pub incident: IncidentId,
    pub created_by: String,
    pub plan: Vec<Requirement>,
    pub plan_overridden: bool,
    pub incident_point: GeoPoint,
    /// The fills as the server renders them (candidates, ranks, ETAs, reasons, picks).
    pub fills: serde_json::Value,
    pub total_shortfall: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = recommendations, check_for_backend(diesel::pg::Pg))]
struct RecommendationRow {
    id: Uuid,
    incident_id: Uuid,
    created_by: String,
    plan: serde_json::Value,
    plan_overridden: bool,
    incident_latitude: f64,
    incident_longitude: f64,
    fills: serde_json::Value,
    total_shortfall: i32,
    created_at: DateTime<Utc>,
}

impl TryFrom<RecommendationRow> for RecommendationRecord {
    type Error = Error;

    fn try_from(row: RecommendationRow) -> Result<Self, Error> {
        Ok(RecommendationRecord {
            id: RecommendationId(row.id),
            incident: IncidentId(row.incident_id),
            created_by: row.created_by,
            plan: plan_from_json(&row.plan)?,
            plan_overridden: row.plan_overridden,
            incident_point: point(row.incident_latitude, row.incident_longitude)?,
            fills: row.fills,
            total_shortfall: row.total_shortfall,
            created_at: row.created_at,
        })
    }
}

async fn load_recommendation(
    conn: &mut AsyncPgConnection,
    id: RecommendationId,
) -> Result<RecommendationRecord, Error> {
    let query = recommendations::table
        .find(id.0)
        .select(RecommendationRow::as_select());
    find_one::<_, RecommendationRow, _>(conn, query, || id.name()).await
}

#[derive(Debug, Queryable)]
struct AssignmentRow {
    incident_id: Uuid,
    unit_id: Uuid,
    recommendation_id: Option<Uuid>,
    override_reason: String,
    assigned_by: String,
    dispatched_at: DateTime<Utc>,
    en_route_at: Option<DateTime<Utc>>,
    on_scene_at: Option<DateTime<Utc>>,
    transporting_at: Option<DateTime<Utc>>,
    at_hospital_at: Option<DateTime<Utc>>,
    cleared_at: Option<DateTime<Utc>>,
    released_at: Option<DateTime<Utc>>,
    release_reason: String,
    call_sign: String,
    unit_type: String,
    capabilities: Vec<String>,
    agency_id: Uuid,
}

/// Assignments of one incident, oldest first, with the units' call signs.
pub(crate) async fn load_assignments(
    conn: &mut AsyncPgConnection,
    incident: IncidentId,
) -> Result<Vec<Assignment>, Error> {
    load_assignments_of(conn, &[incident]).await
}

/// Assignments of several incidents, oldest first.
pub(crate) async fn load_assignments_of(
    conn: &mut AsyncPgConnection,
    incidents: &[IncidentId],
) -> Result<Vec<Assignment>, Error> {
    let rows: Vec<AssignmentRow> = assignments::table
        .inner_join(units::table)
        .filter(assignments::incident_id.eq_any(incidents.iter().map(|id| id.0)))
        .order(assignments::id.asc())
        .select((
            assignments::incident_id,
            assignments::unit_id,
            assignments::recommendation_id,
            assignments::override_reason,
            assignments::assigned_by,
            assignments::dispatched_at,
            assignments::en_route_at,
            assignments::on_scene_at,
            assignments::transporting_at,
            assignments::at_hospital_at,
            assignments::cleared_at,
            assignments::released_at,
            assignments::release_reason,
            units::call_sign,
            units::unit_type,
            units::capabilities,
            units::agency_id,
        ))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Assignment {
                incident: IncidentId(row.incident_id),
                unit: UnitId(row.unit_id),
                agency: AgencyId(row.agency_id),
                unit_type: parse("unit type", &row.unit_type, UnitType::parse)?,
                call_sign: row.call_sign,
                capabilities: row.capabilities,
                recommendation: row.recommendation_id.map(RecommendationId),
                override_reason: row.override_reason,
                assigned_by: row.assigned_by,
                dispatched_at: row.dispatched_at,
                en_route_at: row.en_route_at,
                on_scene_at: row.on_scene_at,
                transporting_at: row.transporting_at,
                at_hospital_at: row.at_hospital_at,
                cleared_at: row.cleared_at,
                released_at: row.released_at,
                release_reason: row.release_reason,
            })
        })
        .collect()
}

/// Releases (or clears) every active assignment of an incident: units become available. Used by
/// cancel; the caller holds the incident's lock.
pub(crate) async fn release_all(
    conn: &mut AsyncPgConnection,
    actor: &str,
    incident: IncidentId,
    reason: &str,
) -> Result<Vec<UnitId>, Error> {
    let active: Vec<Uuid> = assignments::table
        .filter(assignments::incident_id.eq(incident.0))
        .filter(
            assignments::cleared_at
                .is_null()
                .and(assignments::released_at.is_null()),
        )
        .select(assignments::unit_id)
        .load(conn)
        .await?;
    let mut ids: Vec<UnitId> = active.into_iter().map(UnitId).collect();
    ids.sort();
    for unit in &ids {
        let from = lock_unit(conn, *unit).await?.status;
        end_assignment(
            conn,
            actor,
            *unit,
            from,
            incident,
            End::Released,
            reason,
            None,
        )
        .await?;
    }
    Ok(ids)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Finished the job.
    Cleared,
    /// Taken off it before finishing.
    Released,
    /// Broke down or otherwise out of service mid-job.
    OutOfService,
}

/// PostgreSQL's `coalesce` over a back-entered time and the transaction's `now()`.
mod sql {
    diesel::define_sql_function! {
        /// The first of its arguments that is not null.
        fn coalesce(
            given: diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            otherwise: diesel::sql_types::Timestamptz,
        ) -> diesel::sql_types::Timestamptz;
    }
}

/// A back-entered time, or the transaction's time when none was given.
pub(crate) fn at_or_now(
    at: Option<DateTime<Utc>>,
) -> sql::coalesce<Option<DateTime<Utc>>, diesel::dsl::now> {
    sql::coalesce(at, diesel::dsl::now)
}

/// Ends the unit's active assignment on the incident `at` (a back-entered time, or now).
#[expect(
    clippy::too_many_arguments,
    reason = "one ending, described in full by its caller"
)]
pub(crate) async fn end_assignment(
    conn: &mut AsyncPgConnection,
    actor: &str,
    unit: UnitId,
    from: UnitStatus,
    incident: IncidentId,
    end: End,
    reason: &str,
    at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    let active = assignments::table
        .filter(assignments::unit_id.eq(unit.0))
        .filter(assignments::incident_id.eq(incident.0))
        .filter(
            assignments::cleared_at
                .is_null()
                .and(assignments::released_at.is_null()),
        );
    match end {
        End::Cleared => {
            diesel::update(active)
                .set(assignments::cleared_at.eq(at_or_now(at).nullable()))
                .execute(conn)
                .await?;
        }
        End::Released | End::OutOfService => {
            diesel::update(active)
                .set((
                    assignments::released_at.eq(at_or_now(at).nullable()),
                    assignments::release_reason.eq(reason),
                ))
                .execute(conn)
                .await?;
        }
    }
    let status = match end {
        End::Cleared | End::Released => UnitStatus::Available,
        End::OutOfService => UnitStatus::OutOfService,
    };
    diesel::update(units::table.find(unit.0))
        .set((
            units::status.eq(status.as_str()),
            units::status_at.eq(at_or_now(at)),
            units::current_incident_id.eq(None::<Uuid>),
            units::version.eq(units::version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let ended = AssignmentEnd {
        reason: reason.to_owned(),
        status,
        from,
        to: status,
    };
    let ended = match end {
        End::Cleared => UnitEvent::Cleared(ended),
        End::Released | End::OutOfService => UnitEvent::Released(ended),
    };
    events::append_one(conn, actor, About::unit(unit, Some(incident)), ended).await
}

/// Whether the unit was ever committed to an incident (its history has an assignment).
pub(crate) async fn ever_committed(
    conn: &mut AsyncPgConnection,
    unit: UnitId,
) -> Result<bool, Error> {
    Ok(diesel::select(diesel::dsl::exists(
        assignments::table.filter(assignments::unit_id.eq(unit.0)),
    ))
    .get_result(conn)
    .await?)
}

impl Store {
    /// The assignments, active and past, of each of `incidents` (one query), oldest first.
    pub async fn assignments_of_incidents(
        &self,
        incidents: &[IncidentId],
    ) -> Result<HashMap<IncidentId, Vec<Assignment>>, Error> {
        let mut by_incident: HashMap<IncidentId, Vec<Assignment>> = HashMap::new();
        for assignment in load_assignments_of(&mut *self.conn().await?, incidents).await? {
            by_incident
                .entry(assignment.incident)
                .or_default()
                .push(assignment);
        }
        Ok(by_incident)
    }

    /// The incident's assignments, active and past.
    pub async fn incident_assignments(
        &self,
        incident: IncidentId,
    ) -> Result<Vec<Assignment>, Error> {
        load_assignments(&mut *self.conn().await?, incident).await
    }

    /// Records what the engine recommended; a retry with the same request id returns the first
    /// record instead.
    pub async fn save_recommendation(
        &self,
        key: &Idempotency,
        record: &RecommendationRecord,
    ) -> Result<RecommendationRecord, Error> {
        self.write_once(
            key,
            &record.id.name(),
            async |conn| {
                diesel::insert_into(recommendations::table)
                    .values((
                        recommendations::id.eq(record.id.0),
                        recommendations::incident_id.eq(record.incident.0),
                        recommendations::created_by.eq(&record.created_by),
                        recommendations::plan.eq(plan_json(&record.plan)),
                        recommendations::plan_overridden.eq(record.plan_overridden),
                        recommendations::incident_latitude.eq(record.incident_point.latitude()),
                        recommendations::incident_longitude.eq(record.incident_point.longitude()),
                        recommendations::fills.eq(&record.fills),
                        recommendations::total_shortfall.eq(record.total_shortfall),
                        recommendations::created_at.eq(record.created_at),
                    ))
                    .execute(conn)
                    .await?;
                Ok(())
            },
            async |conn, claimed| match claimed {
                Claimed::New(()) => Ok(record.clone()),
                Claimed::Replay(_) => {
                    let id = claimed.resource(record.id, RecommendationId::parse_name)?;
                    load_recommendation(conn, id).await
                }
            },
        )
        .await
        .map(|written| written.value)
    }

    pub async fn get_recommendation(
        &self,
        id: RecommendationId,
    ) -> Result<RecommendationRecord, Error> {
        load_recommendation(&mut *self.conn().await?, id).await
    }
}
