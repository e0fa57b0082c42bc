//! Dispatching: committing units to an incident, releasing them, and the statuses they report
//! while committed. Each answer carries the incident's detail, so this module sits above both
//! `incidents` and `assignments`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use dispatch_domain::assignment::Dispatch;
use dispatch_domain::directory::{Unit, UnitStatus};
use dispatch_domain::event::{FieldStatus, IncidentEvent, UnitEvent};
use dispatch_domain::ids::{IncidentId, UnitId};
use dispatch_domain::incident::{Incident, IncidentStatus, Transition};
use dispatch_domain::unit::{
    StatusReport, check_assignable, check_dispatch_time, check_not_before,
};

use crate::assignments::{End, at_or_now, end_assignment, ever_committed};
use crate::events::{self, About};
use crate::incidents::{IncidentDetail, load_detail, lock_incident};
use crate::resource::Resource;
use crate::schema::{assignments, incidents, units};
use crate::units::{check_version, load_units, lock_unit};
use crate::{Error, Idempotency, Store, Written};

async fn set_incident_status(
    conn: &mut AsyncPgConnection,
    actor: &str,
    incident: &Incident,
    transition: Transition,
) -> Result<(), Error> {
    let next = incident.status.apply(transition, &incident.id.name())?;
    if next == incident.status {
        return Ok(());
    }
    diesel::update(incidents::table.find(incident.id.0))
        .set((
            incidents::status.eq(next.as_str()),
            incidents::status_at.eq(diesel::dsl::now),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let changed = IncidentEvent::StatusChanged {
        from: incident.status,
        to: next,
        note: String::new(),
    };
    events::append_one(conn, actor, About::incident(incident.id), changed).await
}

/// How a stage's report is recorded on the event log.
type RecordStage = fn(FieldStatus) -> UnitEvent;

/// The stages a committed unit reports on its way through an incident: each stamps its column
/// of the unit's active assignment and is recorded as its own event.
const FIELD_STAGES: [(UnitStatus, &str, RecordStage); 4] = [
    (UnitStatus::EnRoute, "en_route_at", UnitEvent::EnRoute),
    (UnitStatus::OnScene, "on_scene_at", UnitEvent::OnScene),
    (
        UnitStatus::Transporting,
        "transporting_at",
        UnitEvent::Transporting,
    ),
    (
        UnitStatus::AtHospital,
        "at_hospital_at",
        UnitEvent::AtHospital,
    ),
];

/// Stamps `column` (one of [`FIELD_STAGES`]'s) of the unit's active assignment on the incident
/// `at` (a back-entered time), or with the transaction's time.
async fn stamp_assignment(
    conn: &mut AsyncPgConnection,
    unit: UnitId,
    incident: IncidentId,
    column: &'static str,
    at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    use diesel::sql_types::{Nullable, Timestamptz, Uuid};
    diesel::sql_query(format!(
        "UPDATE assignments SET {column} = coalesce($3, now()) \
         WHERE unit_id = $1 AND incident_id = $2 AND cleared_at IS NULL AND released_at IS NULL"
    ))
    .bind::<Uuid, _>(unit.0)
    .bind::<Uuid, _>(incident.0)
    .bind::<Nullable<Timestamptz>, _>(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A unit's new status, with its time (back-entered, or now), on the unit's row.
async fn set_unit_row_status(
    conn: &mut AsyncPgConnection,
    unit: UnitId,
    status: UnitStatus,
    at: Option<DateTime<Utc>>,
) -> Result<(), Error> {
    diesel::update(units::table.find(unit.0))
        .set((
            units::status.eq(status.as_str()),
            units::status_at.eq(at_or_now(at)),
            units::version.eq(units::version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Since when an uncommitted unit has been in its status: back-dated for a fleet taking its
/// history ([`Unit::check_status_time`] says when that is allowed).
async fn restate_since(
    conn: &mut AsyncPgConnection,
    unit: UnitId,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    diesel::update(units::table.find(unit.0))
        .set((
            units::status_at.eq(at),
            units::version.eq(units::version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    /// Commits units to an incident: all of them or none. A unit already committed anywhere
    /// (also through another server a moment earlier) refuses the whole request, naming it.
    pub async fn assign_units(
        &self,
        key: &Idempotency,
        actor: &str,
        command: &Dispatch,
    ) -> Result<Written<(IncidentDetail, Vec<Unit>)>, Error> {
        let (incident_id, recommendation) = (command.incident, command.recommendation);
        let sorted = command.units_in_lock_order();
        self.write_once(
            key,
            &incident_id.name(),
            async |conn| {
                // Lock order everywhere: incident, then units by id.
                let incident = lock_incident(conn, incident_id).await?;
                incident
                    .status
                    .apply(Transition::Dispatch, &incident_id.name())?;
                let mut locked = Vec::with_capacity(sorted.len());
                for &id in &sorted {
                    locked.push(lock_unit(conn, id).await?);
                }
                check_assignable(&locked)?;
                let staged_outside = crate::operations::check_staging(
                    conn,
                    &incident.location.point,
                    &sorted,
                    !command.override_reason.is_empty(),
                    command.at.unwrap_or_else(Utc::now),
                )
                .await?;
                // A staged unit sent outside its operation keeps the reason, recommended or not.
                let reason_for = |unit: UnitId| {
                    if staged_outside.contains(&unit) {
                        command.override_reason.as_str()
                    } else {
                        command.reason_for(unit)
                    }
                };
                if let Some(at) = command.at {
                    check_dispatch_time(&locked, incident.first_call_at, at)?;
                }
                for unit in &locked {
                    diesel::insert_into(assignments::table)
                        .values((
                            assignments::incident_id.eq(incident_id.0),
                            assignments::unit_id.eq(unit.id.0),
                            assignments::recommendation_id.eq(recommendation.map(|r| r.0)),
                            assignments::override_reason.eq(reason_for(unit.id)),
                            assignments::assigned_by.eq(actor),
                            assignments::dispatched_at.eq(at_or_now(command.at)),
                        ))
                        .execute(conn)
                        .await
                        .map_err(|error| match Error::from(error) {
                            // The partial unique index: the last line of defence.
                            Error::AlreadyExists(_) => dispatch_domain::Error::Conflicts {
                                conflicts: vec![(
                                    unit.id.name(),
                                    "committed to another incident".into(),
                                )],
                                action: "assign units".into(),
                            }
                            .into(),
                            other => other,
                        })?;
                    diesel::update(units::table.find(unit.id.0))
                        .set((
                            units::status.eq(UnitStatus::Dispatched.as_str()),
                            units::status_at.eq(at_or_now(command.at)),
                            units::current_incident_id.eq(incident_id.0),
                            units::version.eq(units::version + 1),
                            units::updated_at.eq(diesel::dsl::now),
                        ))
                        .execute(conn)
                        .await?;
                }
                let dispatched = locked.iter().map(|unit| {
                    let dispatched = UnitEvent::Dispatched {
                        call_sign: unit.call_sign.clone(),
                        from: unit.status,
                        to: UnitStatus::Dispatched,
                        recommendation,
                        override_reason: reason_for(unit.id).to_owned(),
                    };
                    (About::unit(unit.id, Some(incident_id)), dispatched.into())
                });
                events::append(conn, actor, dispatched).await?;
                set_incident_status(conn, actor, &incident, Transition::Dispatch).await?;
                Ok(())
            },
            async |conn, _| {
                Ok((
                    load_detail(conn, incident_id).await?,
                    load_units(conn, &sorted).await?,
                ))
            },
        )
        .await
    }

    /// Takes a unit off an incident before it finished; it becomes available at once (or
    /// `at`, back-entered: not before its current status time).
    pub async fn release_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        unit_id: UnitId,
        incident_id: IncidentId,
        reason: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<Written<(Unit, IncidentDetail)>, Error> {
        self.write_once(
            key,
            &unit_id.name(),
            async |conn| {
                lock_incident(conn, incident_id).await?;
                let unit = lock_unit(conn, unit_id).await?;
                unit.check_releasable(incident_id)?;
                if let Some(at) = at {
                    let what = format!("{unit_id}'s current status time");
                    check_not_before("release_time", at, unit.status_at, &what)?;
                }
                end_assignment(
                    conn,
                    actor,
                    unit_id,
                    unit.status,
                    incident_id,
                    End::Released,
                    reason,
                    at,
                )
                .await?;
                Ok(())
            },
            async |conn, _| {
                Ok((
                    Unit::read(conn, unit_id).await?,
                    load_detail(conn, incident_id).await?,
                ))
            },
        )
        .await
    }

    /// A status reported from the field or by a dispatcher. On scene moves a dispatched
    /// incident on scene; available clears the unit from its incident, out of service releases it.
    pub async fn set_unit_status(
        &self,
        key: &Idempotency,
        actor: &str,
        report: &StatusReport,
    ) -> Result<Written<(Unit, Option<IncidentDetail>)>, Error> {
        let StatusReport {
            unit: unit_id,
            status: to,
            incident: incident_hint,
            ref note,
            expected_version,
            at,
        } = *report;
        // Lock order is incident, then unit: find the incident first, then check it held.
        let mut conn = self.conn().await?;
        let current = Unit::read(&mut conn, unit_id).await?.current_incident;
        // On the connection that read the unit: a request never holds two.
        let claimed = key
            .write_once(&mut conn, &unit_id.name(), async |conn| {
                let incident = match current {
                    Some(incident) => Some(lock_incident(conn, incident).await?),
                    None => None,
                };
                let unit = lock_unit(conn, unit_id).await?;
                if unit.current_incident != current {
                    return Err(Error::Conflict(format!(
                        "{unit_id} changed incident meanwhile"
                    )));
                }
                check_version(&unit, expected_version)?;
                let next = unit.report_status(to, incident_hint)?;
                if let Some(at) = at {
                    let restating = next == unit.status && at < unit.status_at;
                    let ever = !restating || ever_committed(conn, unit_id).await?;
                    unit.check_status_time(next, at, ever)?;
                    if restating {
                        // A new fleet's history: since when the unit has been in its status.
                        restate_since(conn, unit_id, at).await?;
                        return Ok(());
                    }
                }
                if next == unit.status {
                    return Ok(());
                }
                match (incident, next) {
                    (Some(incident), UnitStatus::Available | UnitStatus::OutOfService) => {
                        let end = if next == UnitStatus::Available {
                            End::Cleared
                        } else {
                            End::OutOfService
                        };
                        let from = unit.status;
                        end_assignment(conn, actor, unit_id, from, incident.id, end, note, at)
                            .await?;
                    }
                    (incident, status) => {
                        let on = incident.as_ref().map(|incident| incident.id);
                        let stage = FIELD_STAGES.iter().find(|(stage, ..)| *stage == status);
                        if let (Some(on), Some((_, column, _))) = (on, stage) {
                            stamp_assignment(conn, unit_id, on, column, at).await?;
                        }
                        set_unit_row_status(conn, unit_id, status, at).await?;
                        let reported = FieldStatus {
                            call_sign: unit.call_sign.clone(),
                            note: note.clone(),
                            from: unit.status,
                            to: status,
                        };
                        let reported = match (on, stage) {
                            (Some(_), Some((_, _, event))) => event(reported),
                            _ => UnitEvent::StatusChanged {
                                call_sign: on.map(|_| reported.call_sign),
                                note: reported.note,
                                from: reported.from,
                                to: reported.to,
                            },
                        };
                        events::append_one(conn, actor, About::unit(unit_id, on), reported).await?;
                        if let Some(incident) = &incident
                            && status == UnitStatus::OnScene
                            && incident.status == IncidentStatus::Dispatched
                        {
                            set_incident_status(conn, actor, incident, Transition::ArriveOnScene)
                                .await?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
        claimed
            .answer(&mut conn, async |conn, _| {
                let unit = Unit::read(conn, unit_id).await?;
                let incident = match current.or(unit.current_incident) {
                    Some(incident) => Some(load_detail(conn, incident).await?),
                    None => None,
                };
                Ok((unit, incident))
            })
            .await
    }
}
