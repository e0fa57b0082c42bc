//! Planned operations: the operation with its agencies, staged units and cameras (written in one
//! transaction; PostgreSQL refuses a unit staged for two operations whose windows overlap, by an
//! exclusion constraint), watch orders, the calls and incidents tagged with an operation, and
//! the staging check the assignment transaction runs.

mod report;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::ids::{AgencyId, CameraId, IncidentId, OperationId, UnitId, WatchOrderId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::operation::{
    CrowdRule, NewOperation, NewWatchOrder, Operation, Staging, WatchOrder, WatchTarget, Window,
};
use dispatch_domain::referral::Polygon;

pub use report::OperationReportInputs;

use crate::schema::{
    incident_operations, operation_agencies, operation_cameras, operation_units, operations,
    watch_orders,
};
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, newest_first_after};

/// The constraint that keeps a unit in one operation at a time.
const ONE_OPERATION_AT_A_TIME: &str = "operation_units_one_operation_at_a_time";

#[derive(Queryable, Selectable)]
#[diesel(table_name = operations)]
struct OperationRow {
    id: Uuid,
    name: String,
    zones: serde_json::Value,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    command_post_id: Option<Uuid>,
    crowd_radius_m: f64,
    crowd_window_s: i32,
    crowd_type_required: bool,
    crowd_calls_per_day: f64,
    created_by: String,
    created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = watch_orders)]
struct WatchOrderRow {
    id: Uuid,
    operation_id: Uuid,
    camera_id: Option<Uuid>,
    zone_index: Option<i32>,
    instruction: String,
    until: DateTime<Utc>,
    created_by: String,
    created_at: DateTime<Utc>,
}

fn zones_json(zones: &[Polygon]) -> serde_json::Value {
    let ring = |points: &[GeoPoint]| -> Vec<[f64; 2]> {
        points
            .iter()
            .map(|p| [p.longitude(), p.latitude()])
            .collect()
    };
    serde_json::Value::from(
        zones
            .iter()
            .map(|zone| {
                let mut rings = vec![ring(zone.exterior())];
                rings.extend(zone.holes().map(ring));
                serde_json::json!(rings)
            })
            .collect::<Vec<_>>(),
    )
}

fn zones_of(value: serde_json::Value) -> Result<Vec<Polygon>, Error> {
    let rings: Vec<Vec<Vec<[f64; 2]>>> =
        serde_json::from_value(value).map_err(|e| Error::Internal(format!("zones: {e}")))?;
    rings
        .iter()
        .map(|zone| Polygon::from_geojson_rings(zone).map_err(|v| Error::Internal(v.to_string())))
        .collect()
}

fn watch_order(row: WatchOrderRow) -> Result<WatchOrder, Error> {
    let target = match (row.camera_id, row.zone_index) {
        (Some(camera), None) => WatchTarget::Camera(CameraId(camera)),
        (None, Some(zone)) => WatchTarget::Zone(u32::try_from(zone).unwrap_or(0)),
        _ => return Err(Error::Internal(format!("watch order {} target", row.id))),
    };
    Ok(WatchOrder {
        order: NewWatchOrder {
            id: WatchOrderId(row.id),
            operation: OperationId(row.operation_id),
            target,
            instruction: row.instruction,
            until: row.until,
        },
        created_by: row.created_by,
        created_at: row.created_at,
    })
}

/// The operations of `rows` with their members, in the rows' order.
async fn assemble(
    conn: &mut AsyncPgConnection,
    rows: Vec<OperationRow>,
) -> Result<Vec<Operation>, Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut agencies: HashMap<Uuid, Vec<AgencyId>> = HashMap::new();
    for (op, agency) in operation_agencies::table
        .filter(operation_agencies::operation_id.eq_any(&ids))
        .order((
            operation_agencies::created_at,
            operation_agencies::agency_id,
        ))
        .select((
            operation_agencies::operation_id,
            operation_agencies::agency_id,
        ))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        agencies.entry(op).or_default().push(AgencyId(agency));
    }
    let mut staged: HashMap<Uuid, Vec<UnitId>> = HashMap::new();
    for (op, unit) in operation_units::table
        .filter(operation_units::operation_id.eq_any(&ids))
        .order((operation_units::created_at, operation_units::unit_id))
        .select((operation_units::operation_id, operation_units::unit_id))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        staged.entry(op).or_default().push(UnitId(unit));
    }
    let mut cameras: HashMap<Uuid, Vec<CameraId>> = HashMap::new();
    for (op, camera) in operation_cameras::table
        .filter(operation_cameras::operation_id.eq_any(&ids))
        .order((operation_cameras::created_at, operation_cameras::camera_id))
        .select((
            operation_cameras::operation_id,
            operation_cameras::camera_id,
        ))
        .load::<(Uuid, Uuid)>(conn)
        .await?
    {
        cameras.entry(op).or_default().push(CameraId(camera));
    }
    rows.into_iter()
        .map(|row| {
            Ok(Operation {
                spec: NewOperation {
                    id: OperationId(row.id),
                    name: row.name,
                    zones: zones_of(row.zones)?,
                    window: Window {
                        start: row.starts_at,
                        end: row.ends_at,
                    },
                    agencies: agencies.remove(&row.id).unwrap_or_default(),
                    command_post: row.command_post_id.map(UnitId),
                    staged: staged.remove(&row.id).unwrap_or_default(),
                    cameras: cameras.remove(&row.id).unwrap_or_default(),
                    crowd_rule: Some(CrowdRule {
                        radius_m: row.crowd_radius_m,
                        window: Duration::seconds(i64::from(row.crowd_window_s)),
                        type_required: row.crowd_type_required,
                        local_calls_per_day: row.crowd_calls_per_day,
                    }),
                },
                created_by: row.created_by,
                created_at: row.created_at,
            })
        })
        .collect()
}

async fn load_operation(conn: &mut AsyncPgConnection, id: OperationId) -> Result<Operation, Error> {
    let query = operations::table
        .find(id.0)
        .select(OperationRow::as_select());
    let row: OperationRow = query
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(id.name()))?;
    Ok(assemble(conn, vec![row]).await?.remove(0))
}

/// Operations in force at `at` (standing ones included), oldest first.
pub(crate) async fn active_at(
    conn: &mut AsyncPgConnection,
    at: DateTime<Utc>,
) -> Result<Vec<Operation>, Error> {
    let rows = operations::table
        .filter(operations::starts_at.le(at))
        .filter(operations::ends_at.is_null().or(operations::ends_at.gt(at)))
        .order((operations::created_at, operations::id))
        .select(OperationRow::as_select())
        .load(conn)
        .await?;
    assemble(conn, rows).await
}

/// The operations in force at some moment from `from` to `until`, oldest first: one read for
/// a batch of calls, each of which keeps those in force when it was received (`Staging`).
pub(crate) async fn active_during(
    conn: &mut AsyncPgConnection,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Operation>, Error> {
    let rows = operations::table
        .filter(operations::starts_at.le(until))
        .filter(
            operations::ends_at
                .is_null()
                .or(operations::ends_at.gt(from)),
        )
        .order((operations::created_at, operations::id))
        .select(OperationRow::as_select())
        .load(conn)
        .await?;
    assemble(conn, rows).await
}

/// The operation a call or incident at `point`, received at `at`, belongs to: the oldest in
/// force then whose zones contain it. Read on the caller's connection, so a write can tag in
/// its own transaction.
pub(crate) async fn operation_at(
    conn: &mut AsyncPgConnection,
    point: &GeoPoint,
    at: DateTime<Utc>,
) -> Result<Option<OperationId>, Error> {
    let staging = Staging::new(active_at(conn, at).await?, at);
    Ok(staging.operation_at(point).map(Operation::id))
}

/// A foreign key or the exclusion constraint refusing a staged unit, as the caller's error.
fn staging_error(error: DieselError, what: &str) -> Error {
    if let DieselError::DatabaseError(kind, info) = &error {
        if info.constraint_name() == Some(ONE_OPERATION_AT_A_TIME) {
            return dispatch_domain::Error::Conflicts {
                conflicts: vec![(
                    what.to_owned(),
                    "staged for another operation whose window overlaps".into(),
                )],
                action: "stage units".into(),
            }
            .into();
        }
        if matches!(kind, DatabaseErrorKind::ForeignKeyViolation) {
            return Error::NotFound(what.to_owned());
        }
    }
    Error::from(error)
}

/// Stages `units` (those already staged for the operation stay as they are). No ON CONFLICT:
/// it would swallow the exclusion constraint's refusal too.
async fn insert_staged(
    conn: &mut AsyncPgConnection,
    operation: OperationId,
    units: &[UnitId],
) -> Result<(), Error> {
    let already: Vec<Uuid> = operation_units::table
        .filter(operation_units::operation_id.eq(operation.0))
        .select(operation_units::unit_id)
        .load(conn)
        .await?;
    let mut fresh: Vec<UnitId> = units
        .iter()
        .copied()
        .filter(|u| !already.contains(&u.0))
        .collect();
    fresh.sort();
    fresh.dedup();
    for unit in &fresh {
        diesel::insert_into(operation_units::table)
            .values((
                operation_units::operation_id.eq(operation.0),
                operation_units::unit_id.eq(unit.0),
            ))
            .execute(conn)
            .await
            .map_err(|e| staging_error(e, &unit.name()))?;
    }
    Ok(())
}

impl Store {
    pub async fn create_operation(
        &self,
        key: &Idempotency,
        actor: &str,
        operation: &NewOperation,
    ) -> Result<Written<Operation>, Error> {
        let id = operation.id;
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let rule = operation.crowd_rule.unwrap_or_default();
                diesel::insert_into(operations::table)
                    .values((
                        operations::id.eq(id.0),
                        operations::name.eq(&operation.name),
                        operations::zones.eq(zones_json(&operation.zones)),
                        operations::starts_at.eq(operation.window.start),
                        operations::ends_at.eq(operation.window.end),
                        operations::command_post_id.eq(operation.command_post.map(|u| u.0)),
                        operations::crowd_radius_m.eq(rule.radius_m),
                        operations::crowd_window_s
                            .eq(i32::try_from(rule.window.num_seconds()).unwrap_or(i32::MAX)),
                        operations::crowd_type_required.eq(rule.type_required),
                        operations::crowd_calls_per_day.eq(rule.local_calls_per_day),
                        operations::created_by.eq(actor),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|e| staging_error(e, "operation.command_post"))?;
                for agency in &operation.agencies {
                    diesel::insert_into(operation_agencies::table)
                        .values((
                            operation_agencies::operation_id.eq(id.0),
                            operation_agencies::agency_id.eq(agency.0),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await
                        .map_err(|e| staging_error(e, &agency.name()))?;
                }
                insert_staged(conn, id, &operation.staged).await?;
                for camera in &operation.cameras {
                    diesel::insert_into(operation_cameras::table)
                        .values((
                            operation_cameras::operation_id.eq(id.0),
                            operation_cameras::camera_id.eq(camera.0),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await
                        .map_err(|e| staging_error(e, &camera.name()))?;
                }
                Ok(())
            },
            async |conn, claimed| {
                let id = claimed.resource(id, OperationId::parse_name)?;
                load_operation(conn, id).await
            },
        )
        .await
    }

    /// Stages more units for an operation (those already staged stay).
    pub async fn stage_units(
        &self,
        key: &Idempotency,
        id: OperationId,
        units: &[UnitId],
    ) -> Result<Written<Operation>, Error> {
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let query = operations::table
                    .find(id.0)
                    .select(operations::id)
                    .for_update();
                let _: Uuid = query
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| Error::NotFound(id.name()))?;
                insert_staged(conn, id, units).await
            },
            async |conn, _| load_operation(conn, id).await,
        )
        .await
    }

    /// Stands an operation down at `at`: its window ends then (the domain's
    /// `Window::stood_down`, checked under the operation's row lock). Its staged units' copies
    /// of the window follow by a trigger, so they are free to be staged again from `at`.
    pub async fn stand_down_operation(
        &self,
        key: &Idempotency,
        id: OperationId,
        at: DateTime<Utc>,
    ) -> Result<Written<Operation>, Error> {
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let query = operations::table
                    .find(id.0)
                    .select((operations::starts_at, operations::ends_at))
                    .for_update();
                let (start, end): (DateTime<Utc>, Option<DateTime<Utc>>) = query
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| Error::NotFound(id.name()))?;
                let window = Window { start, end }.stood_down(&id.name(), at)?;
                diesel::update(operations::table.find(id.0))
                    .set(operations::ends_at.eq(window.end))
                    .execute(conn)
                    .await?;
                Ok(())
            },
            async |conn, _| load_operation(conn, id).await,
        )
        .await
    }

    pub async fn get_operation(&self, id: OperationId) -> Result<Operation, Error> {
        load_operation(&mut *self.conn().await?, id).await
    }

    /// Operations, newest first (by creation), a page at a time; with `agency`, only those it
    /// takes part in.
    pub async fn list_operations(
        &self,
        agency: Option<AgencyId>,
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<Operation>, Option<TimeCursor>), Error> {
        let conn = &mut *self.conn().await?;
        let mut query = operations::table
            .order((operations::created_at.desc(), operations::id.desc()))
            .select(OperationRow::as_select())
            .into_boxed();
        if let Some(agency) = agency {
            query = query.filter(
                operations::id.eq_any(
                    operation_agencies::table
                        .filter(operation_agencies::agency_id.eq(agency.0))
                        .select(operation_agencies::operation_id),
                ),
            );
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(
                operations::created_at,
                operations::id,
                after
            ))
        });
        let (rows, more) = page.split(query.load::<OperationRow>(conn).await?);
        let next = rows.last().filter(|_| more).map(|row| TimeCursor {
            time: row.created_at,
            id: row.id,
        });
        Ok((assemble(conn, rows).await?, next))
    }

    /// The operations in force at `at`, oldest first.
    pub async fn active_operations(&self, at: DateTime<Utc>) -> Result<Staging, Error> {
        let operations = active_at(&mut *self.conn().await?, at).await?;
        Ok(Staging::new(operations, at))
    }

    pub async fn add_watch_order(
        &self,
        key: &Idempotency,
        actor: &str,
        order: &NewWatchOrder,
    ) -> Result<Written<WatchOrder>, Error> {
        let id = order.id;
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let (camera, zone) = match order.target {
                    WatchTarget::Camera(camera) => (Some(camera.0), None),
                    WatchTarget::Zone(zone) => (None, Some(i32::try_from(zone).unwrap_or(0))),
                };
                diesel::insert_into(watch_orders::table)
                    .values((
                        watch_orders::id.eq(id.0),
                        watch_orders::operation_id.eq(order.operation.0),
                        watch_orders::camera_id.eq(camera),
                        watch_orders::zone_index.eq(zone),
                        watch_orders::instruction.eq(&order.instruction),
                        watch_orders::until.eq(order.until),
                        watch_orders::created_by.eq(actor),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|e| staging_error(e, "watch_order.camera"))?;
                Ok(())
            },
            async |conn, claimed| {
                let id = claimed.resource(id, WatchOrderId::parse_name)?;
                let query = watch_orders::table
                    .find(id.0)
                    .select(WatchOrderRow::as_select());
                let row: WatchOrderRow = query
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| Error::NotFound(id.name()))?;
                watch_order(row)
            },
        )
        .await
    }

    /// The watch orders of `operations` still current at `now`, soonest to expire first.
    pub async fn current_watch_orders(
        &self,
        operations: &[OperationId],
        now: DateTime<Utc>,
    ) -> Result<Vec<WatchOrder>, Error> {
        let rows: Vec<WatchOrderRow> = watch_orders::table
            .filter(watch_orders::operation_id.eq_any(operations.iter().map(|o| o.0)))
            .filter(watch_orders::until.gt(now))
            .order((watch_orders::until, watch_orders::id))
            .select(WatchOrderRow::as_select())
            .load(&mut *self.conn().await?)
            .await?;
        rows.into_iter().map(watch_order).collect()
    }

    /// Where the incidents opened since `since` are: the look-back of the watch list.
    pub async fn recent_incident_points(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<GeoPoint>, Error> {
        let rows: Vec<(f64, f64)> = incident_operations::table
            .filter(incident_operations::first_call_at.ge(since))
            .select((
                incident_operations::latitude,
                incident_operations::longitude,
            ))
            .load(&mut *self.conn().await?)
            .await?;
        rows.into_iter()
            .map(|(lat, lon)| crate::error::point(lat, lon))
            .collect()
    }

    /// The operation an incident was tagged with.
    pub async fn incident_operation(
        &self,
        incident: IncidentId,
    ) -> Result<Option<OperationId>, Error> {
        let query = incident_operations::table
            .find(incident.0)
            .select(incident_operations::operation_id);
        let tagged: Option<Uuid> = query
            .first(&mut *self.conn().await?)
            .await
            .optional()?
            .ok_or_else(|| Error::NotFound(incident.name()))?;
        Ok(tagged.map(OperationId))
    }

    /// Whether `incident` belongs to an operation `agency` takes part in: what a liaison may see.
    pub async fn incident_visible_to_agency(
        &self,
        incident: IncidentId,
        agency: AgencyId,
    ) -> Result<bool, Error> {
        let count: i64 = incident_operations::table
            .filter(incident_operations::id.eq(incident.0))
            .filter(
                incident_operations::operation_id.eq_any(
                    operation_agencies::table
                        .filter(operation_agencies::agency_id.eq(agency.0))
                        .select(operation_agencies::operation_id.nullable()),
                ),
            )
            .count()
            .get_result(&mut *self.conn().await?)
            .await?;
        Ok(count > 0)
    }

    /// The incidents of the operations `agency` takes part in.
    pub async fn incidents_of_agency_operations(
        &self,
        agency: AgencyId,
    ) -> Result<Vec<IncidentId>, Error> {
        let ids: Vec<Uuid> = incident_operations::table
            .filter(
                incident_operations::operation_id.eq_any(
                    operation_agencies::table
                        .filter(operation_agencies::agency_id.eq(agency.0))
                        .select(operation_agencies::operation_id.nullable()),
                ),
            )
            .select(incident_operations::id)
            .load(&mut *self.conn().await?)
            .await?;
        Ok(ids.into_iter().map(IncidentId).collect())
    }
}

/// In the assignment's transaction: a unit staged for an operation in force may go to an
/// incident outside that operation's zones only with an override reason (FAILED_PRECONDITION
/// naming the unit otherwise), even when a recommendation made before it was staged picked it.
/// The operations are read in the same transaction. Returns the staged units sent outside,
/// whose assignments record the reason.
pub(crate) async fn check_staging(
    conn: &mut AsyncPgConnection,
    incident: &GeoPoint,
    units: &[UnitId],
    has_reason: bool,
    at: DateTime<Utc>,
) -> Result<Vec<UnitId>, Error> {
    let staged: Vec<Uuid> = operation_units::table
        .filter(operation_units::unit_id.eq_any(units.iter().map(|u| u.0)))
        .select(operation_units::unit_id)
        .load(conn)
        .await?;
    if staged.is_empty() {
        return Ok(Vec::new());
    }
    let staging = Staging::new(active_at(conn, at).await?, at);
    let outside: Vec<(UnitId, String)> = units
        .iter()
        .filter_map(|&unit| Some((unit, staging.refusal(unit, incident)?)))
        .collect();
    if has_reason || outside.is_empty() {
        Ok(outside.into_iter().map(|(unit, _)| unit).collect())
    } else {
        let conflicts = outside
            .into_iter()
            .map(|(unit, why)| (unit.name(), why))
            .collect();
        Err(dispatch_domain::Error::Conflicts {
            conflicts,
            action: "assign units without an override_reason".into(),
        }
        .into())
    }
}
