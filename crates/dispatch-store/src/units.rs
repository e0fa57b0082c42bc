//! Stations, units, positions, assignments, recommendations and fixed devices (cameras).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Nullable, Timestamptz};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use dispatch_domain::directory::{
    Camera, DeviceKind, Position, Station, Unit, UnitStatus, UnitType,
};
use dispatch_domain::ids::{AgencyId, CameraId, IncidentId, RecommendationId, StationId, UnitId};
use dispatch_domain::incident::{Incident, Transition};
use dispatch_domain::location::{BoundingBox, GeoPoint};
use dispatch_domain::triage::Requirement;

use crate::calls::lock_incident;
use crate::idempotency::Claim;
use crate::incidents::IncidentDetail;
use crate::rows::{NewEvent, plan_from_json, plan_json};
use crate::schema::{assignments, cameras, events, incidents, recommendations, stations, units};
use crate::{Error, Idempotency, Page, Store};

/// A validated new station.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStation {
    pub agency: AgencyId,
    pub code: String,
    pub display_name: String,
    pub location: GeoPoint,
    pub address: String,
}

/// A validated new unit.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUnit {
    pub agency: AgencyId,
    pub home_station: Option<StationId>,
    pub call_sign: String,
    pub unit_type: UnitType,
    pub capabilities: Vec<String>,
    /// AVAILABLE or OUT_OF_SERVICE.
    pub status: UnitStatus,
}

/// A validated new fixed device.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCamera {
    pub code: String,
    pub kind: DeviceKind,
    pub location: GeoPoint,
    pub description: String,
    pub agency: Option<AgencyId>,
    pub active: bool,
}

/// Corrections to a unit's record; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitChanges {
    pub call_sign: Option<String>,
    pub unit_type: Option<UnitType>,
    pub capabilities: Option<Vec<String>>,
    pub home_station: Option<Option<StationId>>,
}

/// Corrections to a device; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraChanges {
    pub location: Option<GeoPoint>,
    pub description: Option<String>,
    pub agency: Option<Option<AgencyId>>,
    pub active: Option<bool>,
}

/// Which units to list.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub agency: Option<AgencyId>,
    pub station: Option<StationId>,
    pub unit_types: Vec<UnitType>,
    pub statuses: Vec<UnitStatus>,
    pub capabilities: Vec<String>,
    pub area: Option<BoundingBox>,
    pub include_decommissioned: bool,
}

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct CameraFilter {
    pub kinds: Vec<DeviceKind>,
    pub agency: Option<AgencyId>,
    pub area: Option<BoundingBox>,
    pub include_inactive: bool,
    pub code: Option<String>,
}

/// One position report, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionUpdate {
    pub unit: UnitId,
    pub position: Position,
}

/// What became of a batch of position reports, by index in the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PositionOutcome {
    /// Stored: the unit's newest fix. The last entry per unit, with its position.
    pub applied: Vec<(usize, UnitId, Position)>,
    /// Older than the fix already stored (last fix wins).
    pub superseded: Vec<usize>,
    pub unknown: Vec<usize>,
    pub decommissioned: Vec<usize>,
}

/// A unit's part in an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub incident: IncidentId,
    pub unit: UnitId,
    /// The unit's agency.
    pub agency: AgencyId,
    pub call_sign: String,
    pub unit_type: UnitType,
    pub capabilities: Vec<String>,
    pub recommendation: Option<RecommendationId>,
    pub override_reason: String,
    pub assigned_by: String,
    pub dispatched_at: DateTime<Utc>,
    pub en_route_at: Option<DateTime<Utc>>,
    pub on_scene_at: Option<DateTime<Utc>>,
    pub transporting_at: Option<DateTime<Utc>>,
    pub at_hospital_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: String,
}

impl Assignment {
    pub fn is_active(&self) -> bool {
        self.cleared_at.is_none() && self.released_at.is_none()
    }
}

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
#[diesel(table_name = units, check_for_backend(diesel::pg::Pg))]
struct UnitRow {
    id: Uuid,
    agency_id: Uuid,
    home_station_id: Option<Uuid>,
    call_sign: String,
    unit_type: String,
    capabilities: Vec<String>,
    status: String,
    status_at: DateTime<Utc>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    accuracy_m: Option<f64>,
    heading_deg: Option<f64>,
    speed_mps: Option<f64>,
    fix_time: Option<DateTime<Utc>>,
    current_incident_id: Option<Uuid>,
    decommissioned_at: Option<DateTime<Utc>>,
}

fn internal(what: &str, value: &str) -> Error {
    Error::Internal(format!("unexpected {what} {value:?} in the database"))
}

impl TryFrom<UnitRow> for Unit {
    type Error = Error;

    fn try_from(row: UnitRow) -> Result<Self, Error> {
        let position = match (row.latitude, row.longitude, row.accuracy_m, row.fix_time) {
            (Some(lat), Some(lon), Some(accuracy_m), Some(fix_time)) => Some(Position {
                point: GeoPoint::new(lat, lon).map_err(|v| Error::Internal(v.to_string()))?,
                accuracy_m,
                heading_deg: row.heading_deg,
                speed_mps: row.speed_mps,
                fix_time,
            }),
            _ => None,
        };
        Ok(Unit {
            id: UnitId(row.id),
            agency: AgencyId(row.agency_id),
            home_station: row.home_station_id.map(StationId),
            call_sign: row.call_sign,
            unit_type: UnitType::parse(&row.unit_type)
                .ok_or_else(|| internal("unit type", &row.unit_type))?,
            capabilities: row.capabilities,
            status: UnitStatus::parse(&row.status)
                .ok_or_else(|| internal("unit status", &row.status))?,
            status_at: row.status_at,
            current_incident: row.current_incident_id.map(IncidentId),
            position,
            decommissioned_at: row.decommissioned_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = stations, check_for_backend(diesel::pg::Pg))]
struct StationRow {
    id: Uuid,
    agency_id: Uuid,
    code: String,
    display_name: String,
    latitude: f64,
    longitude: f64,
    address: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<StationRow> for Station {
    type Error = Error;

    fn try_from(row: StationRow) -> Result<Self, Error> {
        Ok(Station {
            id: StationId(row.id),
            agency: AgencyId(row.agency_id),
            code: row.code,
            display_name: row.display_name,
            location: GeoPoint::new(row.latitude, row.longitude)
                .map_err(|v| Error::Internal(v.to_string()))?,
            address: row.address,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = cameras, check_for_backend(diesel::pg::Pg))]
struct CameraRow {
    id: Uuid,
    code: String,
    kind: String,
    latitude: f64,
    longitude: f64,
    description: String,
    agency_id: Option<Uuid>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CameraRow> for Camera {
    type Error = Error;

    fn try_from(row: CameraRow) -> Result<Self, Error> {
        Ok(Camera {
            id: CameraId(row.id),
            code: row.code,
            kind: DeviceKind::parse(&row.kind).ok_or_else(|| internal("device kind", &row.kind))?,
            location: GeoPoint::new(row.latitude, row.longitude)
                .map_err(|v| Error::Internal(v.to_string()))?,
            description: row.description,
            agency: row.agency_id.map(AgencyId),
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
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
                unit_type: UnitType::parse(&row.unit_type)
                    .ok_or_else(|| internal("unit type", &row.unit_type))?,
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

async fn lock_unit(conn: &mut AsyncPgConnection, id: UnitId) -> Result<Unit, Error> {
    let row: UnitRow = units::table
        .find(id.0)
        .select(UnitRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(id.name()))?;
    row.try_into()
}

async fn load_unit(conn: &mut AsyncPgConnection, id: UnitId) -> Result<Unit, Error> {
    let row: UnitRow = units::table
        .find(id.0)
        .select(UnitRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(id.name()))?;
    row.try_into()
}

fn unit_event<'a>(
    actor: &'a str,
    kind: &'a str,
    unit: UnitId,
    incident: Option<IncidentId>,
    details: serde_json::Value,
) -> NewEvent<'a> {
    NewEvent {
        actor,
        kind,
        call_id: None,
        incident_id: incident.map(|i| i.0),
        unit_id: Some(unit.0),
        details,
    }
}

fn bad_resource(resource: &str) -> Error {
    Error::Internal(format!("unexpected stored resource {resource:?}"))
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
        end_assignment(conn, actor, *unit, from, incident, End::Released, reason).await?;
    }
    Ok(ids)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Finished the job.
    Cleared,
    /// Taken off it before finishing.
    Released,
    /// Broke down or otherwise out of service mid-job.
    OutOfService,
}

async fn end_assignment(
    conn: &mut AsyncPgConnection,
    actor: &str,
    unit: UnitId,
    from: UnitStatus,
    incident: IncidentId,
    end: End,
    reason: &str,
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
                .set(assignments::cleared_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?;
        }
        End::Released | End::OutOfService => {
            diesel::update(active)
                .set((
                    assignments::released_at.eq(diesel::dsl::now),
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
            units::status_at.eq(diesel::dsl::now),
            units::current_incident_id.eq(None::<Uuid>),
            units::version.eq(units::version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let kind = match end {
        End::Cleared => "unit_cleared",
        End::Released | End::OutOfService => "unit_released",
    };
    diesel::insert_into(events::table)
        .values(unit_event(
            actor,
            kind,
            unit,
            Some(incident),
            json!({ "reason": reason, "status": status.as_str(), "from": from.as_str(), "to": status.as_str() }),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

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
    diesel::insert_into(events::table)
        .values(NewEvent {
            actor,
            kind: "status_changed",
            call_id: None,
            incident_id: Some(incident.id.0),
            unit_id: None,
            details: json!({ "from": incident.status.as_str(), "to": next.as_str(), "note": "" }),
        })
        .execute(conn)
        .await?;
    Ok(())
}

impl Store {
    pub async fn create_station(
        &self,
        key: &Idempotency,
        actor: &str,
        station: &NewStation,
    ) -> Result<(Station, bool), Error> {
        let mut conn = self.conn().await?;
        let id = StationId::new_v7();
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
                diesel::insert_into(stations::table)
                    .values((
                        stations::id.eq(id.0),
                        stations::agency_id.eq(station.agency.0),
                        stations::code.eq(&station.code),
                        stations::display_name.eq(&station.display_name),
                        stations::latitude.eq(station.location.latitude()),
                        stations::longitude.eq(station.location.longitude()),
                        stations::address.eq(&station.address),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| taken(error, "the agency's station code", &station.code))?;
                diesel::insert_into(events::table)
                    .values(NewEvent {
                        actor,
                        kind: "station_created",
                        call_id: None,
                        incident_id: None,
                        unit_id: None,
                        details: json!({ "station": id.name(), "code": station.code }),
                    })
                    .execute(conn)
                    .await?;
                Ok(None)
            })
            .await?;
        let id = match &replay {
            Some(resource) => {
                StationId::parse_name("resource", resource).map_err(|_| bad_resource(resource))?
            }
            None => id,
        };
        let row: StationRow = stations::table
            .find(id.0)
            .select(StationRow::as_select())
            .first(&mut conn)
            .await?;
        Ok((row.try_into()?, replay.is_some()))
    }

    pub async fn get_station(&self, id: StationId) -> Result<Station, Error> {
        let mut conn = self.conn().await?;
        let row: StationRow = stations::table
            .find(id.0)
            .select(StationRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| Error::NotFound(id.name()))?;
        row.try_into()
    }

    /// Stations by code, a page at a time.
    pub async fn list_stations(
        &self,
        agency: Option<AgencyId>,
        area: Option<BoundingBox>,
        page: &Page<String>,
    ) -> Result<(Vec<Station>, Option<String>), Error> {
        let mut conn = self.conn().await?;
        let mut query = stations::table
            .select(StationRow::as_select())
            .order((stations::code.asc(), stations::id.asc()))
            .limit(page.size + 1)
            .into_boxed();
        if let Some(agency) = agency {
            query = query.filter(stations::agency_id.eq(agency.0));
        }
        if let Some(area) = area {
            query = query
                .filter(stations::latitude.between(area.south, area.north))
                .filter(stations::longitude.between(area.west, area.east));
        }
        // Codes repeat across agencies: the cursor is "code/id" (a code never holds a '/').
        if let Some(after) = &page.after {
            match after
                .split_once('/')
                .and_then(|(code, id)| Some((code, Uuid::parse_str(id).ok()?)))
            {
                Some((code, id)) => {
                    query = query.filter(
                        stations::code
                            .gt(code.to_owned())
                            .or(stations::code.eq(code.to_owned()).and(stations::id.gt(id))),
                    );
                }
                None => query = query.filter(stations::code.gt(after)),
            }
        }
        let rows: Vec<StationRow> = query.load(&mut conn).await?;
        let (rows, more) = page.split(rows);
        let next = more
            .then(|| rows.last().map(|r| format!("{}/{}", r.code, r.id)))
            .flatten();
        Ok((
            rows.into_iter()
                .map(Station::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
    }

    pub async fn create_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        unit: &NewUnit,
    ) -> Result<(Unit, bool), Error> {
        let mut conn = self.conn().await?;
        let id = UnitId::new_v7();
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
                diesel::insert_into(units::table)
                    .values((
                        units::id.eq(id.0),
                        units::agency_id.eq(unit.agency.0),
                        units::home_station_id.eq(unit.home_station.map(|s| s.0)),
                        units::call_sign.eq(&unit.call_sign),
                        units::unit_type.eq(unit.unit_type.as_str()),
                        units::capabilities.eq(&unit.capabilities),
                        units::status.eq(unit.status.as_str()),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| taken(error, "call sign", &unit.call_sign))?;
                diesel::insert_into(events::table)
                    .values(unit_event(
                        actor,
                        "unit_created",
                        id,
                        None,
                        json!({ "call_sign": unit.call_sign, "to": unit.status.as_str() }),
                    ))
                    .execute(conn)
                    .await?;
                Ok(None)
            })
            .await?;
        let id = match &replay {
            Some(resource) => {
                UnitId::parse_name("resource", resource).map_err(|_| bad_resource(resource))?
            }
            None => id,
        };
        Ok((load_unit(&mut conn, id).await?, replay.is_some()))
    }

    pub async fn get_unit(&self, id: UnitId) -> Result<Unit, Error> {
        load_unit(&mut *self.conn().await?, id).await
    }

    pub async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Unit>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<UnitRow> = units::table
            .filter(units::id.eq_any(ids.iter().map(|id| id.0)))
            .select(UnitRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(Unit::try_from).collect()
    }

    /// Every unit in service or not, except decommissioned ones: what the engine is built from.
    pub async fn all_units(&self) -> Result<Vec<Unit>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<UnitRow> = units::table
            .filter(units::decommissioned_at.is_null())
            .select(UnitRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(Unit::try_from).collect()
    }

    /// Units by call sign, filtered, a page at a time.
    pub async fn list_units(
        &self,
        filter: &UnitFilter,
        page: &Page<String>,
    ) -> Result<(Vec<Unit>, Option<String>), Error> {
        let mut conn = self.conn().await?;
        let mut query = units::table
            .select(UnitRow::as_select())
            .order(units::call_sign.asc())
            .limit(page.size + 1)
            .into_boxed();
        if let Some(agency) = filter.agency {
            query = query.filter(units::agency_id.eq(agency.0));
        }
        if let Some(station) = filter.station {
            query = query.filter(units::home_station_id.eq(station.0));
        }
        if !filter.unit_types.is_empty() {
            query =
                query.filter(units::unit_type.eq_any(filter.unit_types.iter().map(|t| t.as_str())));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(units::status.eq_any(filter.statuses.iter().map(|s| s.as_str())));
        }
        if !filter.capabilities.is_empty() {
            query = query.filter(units::capabilities.contains(&filter.capabilities));
        }
        if let Some(area) = filter.area {
            query = query
                .filter(units::latitude.between(area.south, area.north))
                .filter(units::longitude.between(area.west, area.east));
        }
        if !filter.include_decommissioned {
            query = query.filter(units::decommissioned_at.is_null());
        }
        if let Some(after) = &page.after {
            query = query.filter(units::call_sign.gt(after));
        }
        let rows: Vec<UnitRow> = query.load(&mut conn).await?;
        let (rows, more) = page.split(rows);
        let next = more
            .then(|| rows.last().map(|r| r.call_sign.clone()))
            .flatten();
        Ok((
            rows.into_iter()
                .map(Unit::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
    }

    /// Corrects a unit's record; the etag is required.
    pub async fn update_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        id: UnitId,
        changes: &UnitChanges,
        expected_version: i64,
    ) -> Result<(Unit, bool), Error> {
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                let unit = lock_unit(conn, id).await?;
                check_version(&unit, Some(expected_version))?;
                if unit.decommissioned_at.is_some() {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: id.name(),
                        current: "decommissioned".into(),
                        action: "be updated".into(),
                    }
                    .into());
                }
                let row = units::table.find(id.0);
                if let Some(call_sign) = &changes.call_sign {
                    diesel::update(row)
                        .set(units::call_sign.eq(call_sign))
                        .execute(conn)
                        .await
                        .map_err(|error| taken(error, "call sign", call_sign))?;
                }
                if let Some(unit_type) = changes.unit_type {
                    diesel::update(row).set(units::unit_type.eq(unit_type.as_str())).execute(conn).await?;
                }
                if let Some(capabilities) = &changes.capabilities {
                    diesel::update(row).set(units::capabilities.eq(capabilities)).execute(conn).await?;
                }
                if let Some(station) = changes.home_station {
                    diesel::update(row)
                        .set(units::home_station_id.eq(station.map(|s| s.0)))
                        .execute(conn)
                        .await
                        .map_err(|error| taken(error, "home station", ""))?;
                }
                diesel::update(row)
                    .set((units::version.eq(units::version + 1), units::updated_at.eq(diesel::dsl::now)))
                    .execute(conn)
                    .await?;
                diesel::insert_into(events::table)
                    .values(unit_event(actor, "unit_updated", id, None, json!({ "call_sign": changes.call_sign, "capabilities": changes.capabilities })))
                    .execute(conn)
                    .await?;
                Ok(false)
            })
            .await?;
        Ok((load_unit(&mut conn, id).await?, replayed))
    }

    /// Corrects a device's record.
    pub async fn update_camera(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CameraId,
        changes: &CameraChanges,
    ) -> Result<(Camera, bool), Error> {
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                let row = cameras::table.find(id.0);
                let found: Option<Uuid> = row
                    .select(cameras::id)
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                if found.is_none() {
                    return Err(Error::NotFound(id.name()));
                }
                if let Some(location) = changes.location {
                    diesel::update(row)
                        .set((
                            cameras::latitude.eq(location.latitude()),
                            cameras::longitude.eq(location.longitude()),
                        ))
                        .execute(conn)
                        .await?;
                }
                if let Some(description) = &changes.description {
                    diesel::update(row)
                        .set(cameras::description.eq(description))
                        .execute(conn)
                        .await?;
                }
                if let Some(agency) = changes.agency {
                    diesel::update(row)
                        .set(cameras::agency_id.eq(agency.map(|a| a.0)))
                        .execute(conn)
                        .await
                        .map_err(|error| taken(error, "agency", ""))?;
                }
                if let Some(active) = changes.active {
                    diesel::update(row)
                        .set(cameras::active.eq(active))
                        .execute(conn)
                        .await?;
                }
                diesel::update(row)
                    .set(cameras::updated_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
                diesel::insert_into(events::table)
                    .values(NewEvent {
                        actor,
                        kind: "camera_updated",
                        call_id: None,
                        incident_id: None,
                        unit_id: None,
                        details: json!({ "camera": id.name(), "active": changes.active }),
                    })
                    .execute(conn)
                    .await?;
                Ok(false)
            })
            .await?;
        Ok((self.camera_with(&mut conn, id).await?, replayed))
    }

    /// Takes a unit out of the fleet for good (sold, written off). Refused while committed.
    pub async fn decommission_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        id: UnitId,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<(Unit, bool), Error> {
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                let unit = lock_unit(conn, id).await?;
                check_version(&unit, expected_version)?;
                if unit.status.is_committed() || unit.decommissioned_at.is_some() {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: id.name(),
                        current: if unit.decommissioned_at.is_some() {
                            "decommissioned".into()
                        } else {
                            unit.status.to_string()
                        },
                        action: "be decommissioned".into(),
                    }
                    .into());
                }
                diesel::update(units::table.find(id.0))
                    .set((
                        units::status.eq(UnitStatus::OutOfService.as_str()),
                        units::status_at.eq(diesel::dsl::now),
                        units::decommissioned_at.eq(diesel::dsl::now),
                        units::version.eq(units::version + 1),
                        units::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                diesel::insert_into(events::table)
                    .values(unit_event(
                        actor,
                        "unit_decommissioned",
                        id,
                        None,
                        json!({ "reason": reason, "from": unit.status.as_str(), "to": UnitStatus::OutOfService.as_str() }),
                    ))
                    .execute(conn)
                    .await?;
                Ok(false)
            })
            .await?;
        Ok((load_unit(&mut conn, id).await?, replayed))
    }

    /// Stores a batch of position reports in one statement: per unit the newest fix wins; an
    /// older fix than the stored one is superseded, not an error.
    /// Stores a batch of position reports, last fix wins, in one statement. A unit whose move
    /// was last announced on the event log longer than `position_announce_interval` ago gets a
    /// `unit_position` event in the same statement: consoles and the engines of other processes
    /// follow those, so they see a moving unit at most that interval late.
    pub async fn report_positions(
        &self,
        actor: &str,
        updates: &[PositionUpdate],
    ) -> Result<PositionOutcome, Error> {
        let mut outcome = PositionOutcome::default();
        if updates.is_empty() {
            return Ok(outcome);
        }
        let mut conn = self.conn().await?;
        let ids: Vec<Uuid> = updates
            .iter()
            .map(|u| u.unit.0)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let known: Vec<(Uuid, Option<DateTime<Utc>>)> = units::table
            .filter(units::id.eq_any(&ids))
            .select((units::id, units::decommissioned_at))
            .load(&mut conn)
            .await?;
        let known: HashMap<Uuid, bool> = known
            .into_iter()
            .map(|(id, gone)| (id, gone.is_some()))
            .collect();
        // The newest fix per unit within the batch; the rest of that unit's reports are older.
        let mut newest: HashMap<Uuid, usize> = HashMap::new();
        for (index, update) in updates.iter().enumerate() {
            match known.get(&update.unit.0) {
                None => outcome.unknown.push(index),
                Some(true) => outcome.decommissioned.push(index),
                Some(false) => match newest.get(&update.unit.0) {
                    Some(&best) if updates[best].position.fix_time >= update.position.fix_time => {
                        outcome.superseded.push(index);
                    }
                    Some(&best) => {
                        outcome.superseded.push(best);
                        newest.insert(update.unit.0, index);
                    }
                    None => {
                        newest.insert(update.unit.0, index);
                    }
                },
            }
        }
        let mut batch: Vec<usize> = newest.into_values().collect();
        batch.sort_unstable();
        let column = |f: &dyn Fn(&PositionUpdate) -> f64| {
            batch.iter().map(|&i| f(&updates[i])).collect::<Vec<f64>>()
        };
        let optional = |f: &dyn Fn(&PositionUpdate) -> Option<f64>| {
            batch
                .iter()
                .map(|&i| f(&updates[i]))
                .collect::<Vec<Option<f64>>>()
        };
        #[derive(QueryableByName)]
        struct Applied {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: Uuid,
        }
        let applied: Vec<Applied> = diesel::sql_query(
            "WITH moved AS ( \
               UPDATE units AS u SET latitude = v.latitude, longitude = v.longitude, \
                    accuracy_m = v.accuracy_m, heading_deg = v.heading_deg, speed_mps = v.speed_mps, \
                    fix_time = v.fix_time, \
                    position_announced_at = CASE \
                        WHEN u.position_announced_at IS NULL \
                          OR u.position_announced_at <= now() - make_interval(secs => $8) \
                        THEN now() ELSE u.position_announced_at END \
               FROM unnest($1::uuid[], $2::float8[], $3::float8[], $4::float8[], $5::float8[], \
                           $6::float8[], $7::timestamptz[]) \
                    AS v(id, latitude, longitude, accuracy_m, heading_deg, speed_mps, fix_time) \
               WHERE u.id = v.id AND u.decommissioned_at IS NULL \
                 AND (u.fix_time IS NULL OR v.fix_time > u.fix_time) \
               RETURNING u.id, u.position_announced_at = now() AS announce), \
             announced AS ( \
               INSERT INTO events (actor, kind, unit_id) \
               SELECT $9, 'unit_position', id FROM moved WHERE announce) \
             SELECT id FROM moved",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(batch.iter().map(|&i| updates[i].unit.0).collect::<Vec<_>>())
        .bind::<Array<Double>, _>(column(&|u| u.position.point.latitude()))
        .bind::<Array<Double>, _>(column(&|u| u.position.point.longitude()))
        .bind::<Array<Double>, _>(column(&|u| u.position.accuracy_m))
        .bind::<Array<Nullable<Double>>, _>(optional(&|u| u.position.heading_deg))
        .bind::<Array<Nullable<Double>>, _>(optional(&|u| u.position.speed_mps))
        .bind::<Array<Timestamptz>, _>(batch.iter().map(|&i| updates[i].position.fix_time).collect::<Vec<_>>())
        .bind::<Double, _>(self.config.position_announce_interval.as_secs_f64())
        .bind::<diesel::sql_types::Text, _>(actor)
        .load(&mut conn)
        .await?;
        let applied: HashSet<Uuid> = applied.into_iter().map(|a| a.id).collect();
        for index in batch {
            let update = &updates[index];
            if applied.contains(&update.unit.0) {
                outcome
                    .applied
                    .push((index, update.unit, update.position.clone()));
            } else {
                outcome.superseded.push(index);
            }
        }
        outcome.superseded.sort_unstable();
        Ok(outcome)
    }

    /// Records what the engine recommended; a retry with the same request id returns the first
    /// record instead.
    pub async fn save_recommendation(
        &self,
        key: &Idempotency,
        record: &RecommendationRecord,
    ) -> Result<RecommendationRecord, Error> {
        let mut conn = self.conn().await?;
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &record.id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
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
                Ok(None)
            })
            .await?;
        drop(conn);
        match replay {
            None => Ok(record.clone()),
            Some(resource) => {
                let id = RecommendationId::parse_name("resource", &resource)
                    .map_err(|_| bad_resource(&resource))?;
                self.get_recommendation(id).await
            }
        }
    }

    pub async fn get_recommendation(
        &self,
        id: RecommendationId,
    ) -> Result<RecommendationRecord, Error> {
        let mut conn = self.conn().await?;
        #[expect(
            clippy::type_complexity,
            reason = "one row's columns, used once just below"
        )]
        let row: Option<(
            Uuid,
            String,
            serde_json::Value,
            bool,
            f64,
            f64,
            serde_json::Value,
            i32,
            DateTime<Utc>,
        )> = recommendations::table
            .find(id.0)
            .select((
                recommendations::incident_id,
                recommendations::created_by,
                recommendations::plan,
                recommendations::plan_overridden,
                recommendations::incident_latitude,
                recommendations::incident_longitude,
                recommendations::fills,
                recommendations::total_shortfall,
                recommendations::created_at,
            ))
            .first(&mut conn)
            .await
            .optional()?;
        let (
            incident,
            created_by,
            plan,
            plan_overridden,
            lat,
            lon,
            fills,
            total_shortfall,
            created_at,
        ) = row.ok_or_else(|| Error::NotFound(id.name()))?;
        Ok(RecommendationRecord {
            id,
            incident: IncidentId(incident),
            created_by,
            plan: plan_from_json(&plan)?,
            plan_overridden,
            incident_point: GeoPoint::new(lat, lon).map_err(|v| Error::Internal(v.to_string()))?,
            fills,
            total_shortfall,
            created_at,
        })
    }

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

    /// Commits units to an incident: all of them or none. A unit already committed anywhere
    /// (also through another server a moment earlier) refuses the whole request, naming it.
    #[expect(clippy::too_many_arguments, reason = "one request's worth of inputs")]
    pub async fn assign_units(
        &self,
        key: &Idempotency,
        actor: &str,
        incident_id: IncidentId,
        unit_ids: &[UnitId],
        recommendation: Option<RecommendationId>,
        override_reason: &str,
        as_recommended: &HashSet<UnitId>,
    ) -> Result<(IncidentDetail, Vec<Unit>, bool), Error> {
        // The reason explains the units that were not the recommendation's picks, only them.
        let reason_for = |unit: UnitId| {
            if as_recommended.contains(&unit) {
                ""
            } else {
                override_reason
            }
        };
        let mut sorted: Vec<UnitId> = unit_ids.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &incident_id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                // Lock order everywhere: incident, then units by id.
                let incident = lock_incident(conn, incident_id).await?;
                incident
                    .status
                    .apply(Transition::Dispatch, &incident_id.name())?;
                let mut conflicts = Vec::new();
                let mut locked = Vec::with_capacity(sorted.len());
                for &id in &sorted {
                    let unit = lock_unit(conn, id).await?;
                    if unit.decommissioned_at.is_some() {
                        conflicts.push((id.name(), "decommissioned".to_owned()));
                    } else if unit.status != UnitStatus::Available {
                        let current = match unit.current_incident {
                            Some(other) => format!("{} on {other}", unit.status),
                            None => unit.status.to_string(),
                        };
                        conflicts.push((id.name(), current));
                    }
                    locked.push(unit);
                }
                if !conflicts.is_empty() {
                    return Err(dispatch_domain::Error::Conflicts {
                        conflicts,
                        action: "assign units".into(),
                    }
                    .into());
                }
                for unit in &locked {
                    diesel::insert_into(assignments::table)
                        .values((
                            assignments::incident_id.eq(incident_id.0),
                            assignments::unit_id.eq(unit.id.0),
                            assignments::recommendation_id.eq(recommendation.map(|r| r.0)),
                            assignments::override_reason.eq(reason_for(unit.id)),
                            assignments::assigned_by.eq(actor),
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
                            units::status_at.eq(diesel::dsl::now),
                            units::current_incident_id.eq(incident_id.0),
                            units::version.eq(units::version + 1),
                            units::updated_at.eq(diesel::dsl::now),
                        ))
                        .execute(conn)
                        .await?;
                }
                diesel::insert_into(events::table)
                    .values(
                        locked
                            .iter()
                            .map(|unit| {
                                unit_event(
                                    actor,
                                    "unit_dispatched",
                                    unit.id,
                                    Some(incident_id),
                                    json!({
                                        "call_sign": unit.call_sign,
                                        "from": unit.status.as_str(),
                                        "to": UnitStatus::Dispatched.as_str(),
                                        "recommendation": recommendation.map(|r| r.name()),
                                        "override_reason": reason_for(unit.id),
                                    }),
                                )
                            })
                            .collect::<Vec<_>>(),
                    )
                    .execute(conn)
                    .await?;
                set_incident_status(conn, actor, &incident, Transition::Dispatch).await?;
                Ok(false)
            })
            .await?;
        drop(conn);
        let detail = self.incident_detail(incident_id).await?;
        Ok((detail, self.get_units(&sorted).await?, replayed))
    }

    /// Takes a unit off an incident before it finished; it becomes available at once.
    pub async fn release_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        unit_id: UnitId,
        incident_id: IncidentId,
        reason: &str,
    ) -> Result<(Unit, IncidentDetail, bool), Error> {
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &unit_id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                lock_incident(conn, incident_id).await?;
                let unit = lock_unit(conn, unit_id).await?;
                if unit.current_incident != Some(incident_id) {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: unit_id.name(),
                        current: match unit.current_incident {
                            Some(other) => format!("{} on {other}", unit.status),
                            None => unit.status.to_string(),
                        },
                        action: format!("be released from {incident_id}"),
                    }
                    .into());
                }
                end_assignment(
                    conn,
                    actor,
                    unit_id,
                    unit.status,
                    incident_id,
                    End::Released,
                    reason,
                )
                .await?;
                Ok(false)
            })
            .await?;
        let unit = load_unit(&mut conn, unit_id).await?;
        drop(conn);
        Ok((unit, self.incident_detail(incident_id).await?, replayed))
    }

    /// A status reported from the field or by a dispatcher. On scene moves a dispatched
    /// incident on scene; available clears the unit from its incident, out of service releases it.
    #[expect(clippy::too_many_arguments, reason = "one request's worth of inputs")]
    pub async fn set_unit_status(
        &self,
        key: &Idempotency,
        actor: &str,
        unit_id: UnitId,
        to: UnitStatus,
        incident_hint: Option<IncidentId>,
        note: &str,
        expected_version: Option<i64>,
    ) -> Result<(Unit, Option<IncidentDetail>, bool), Error> {
        let mut conn = self.conn().await?;
        // Lock order is incident, then unit: find the incident first, then check it held.
        let current = load_unit(&mut conn, unit_id).await?.current_incident;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(_) = key.claim(conn, &unit_id.name()).await? {
                    return Ok::<_, Error>(true);
                }
                let incident = match current {
                    Some(incident) => Some(lock_incident(conn, incident).await?),
                    None => None,
                };
                let unit = lock_unit(conn, unit_id).await?;
                if unit.current_incident != current {
                    return Err(Error::Conflict(format!("{unit_id} changed incident meanwhile")));
                }
                check_version(&unit, expected_version)?;
                if let (Some(hint), Some(current)) = (incident_hint, unit.current_incident)
                    && hint != current
                {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: unit_id.name(),
                        current: format!("{} on {current}", unit.status),
                        action: format!("report status for {hint}"),
                    }
                    .into());
                }
                if unit.decommissioned_at.is_some() {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: unit_id.name(),
                        current: "decommissioned".into(),
                        action: format!("become {to}"),
                    }
                    .into());
                }
                let next = unit.status.report(to, &unit_id.name())?;
                if next == unit.status {
                    return Ok(false);
                }
                match (incident, next) {
                    (Some(incident), UnitStatus::Available) => {
                        end_assignment(conn, actor, unit_id, unit.status, incident.id, End::Cleared, note).await?;
                    }
                    (Some(incident), UnitStatus::OutOfService) => {
                        end_assignment(conn, actor, unit_id, unit.status, incident.id, End::OutOfService, note).await?;
                    }
                    (Some(incident), field_status) => {
                        let active = assignments::table
                            .filter(assignments::unit_id.eq(unit_id.0))
                            .filter(assignments::incident_id.eq(incident.id.0))
                            .filter(assignments::cleared_at.is_null().and(assignments::released_at.is_null()));
                        let stamp = match field_status {
                            UnitStatus::EnRoute => diesel::update(active).set(assignments::en_route_at.eq(diesel::dsl::now)).execute(conn).await,
                            UnitStatus::OnScene => diesel::update(active).set(assignments::on_scene_at.eq(diesel::dsl::now)).execute(conn).await,
                            UnitStatus::Transporting => {
                                diesel::update(active).set(assignments::transporting_at.eq(diesel::dsl::now)).execute(conn).await
                            }
                            UnitStatus::AtHospital => {
                                diesel::update(active).set(assignments::at_hospital_at.eq(diesel::dsl::now)).execute(conn).await
                            }
                            UnitStatus::Available | UnitStatus::Dispatched | UnitStatus::OutOfService => Ok(0),
                        };
                        stamp?;
                        diesel::update(units::table.find(unit_id.0))
                            .set((
                                units::status.eq(field_status.as_str()),
                                units::status_at.eq(diesel::dsl::now),
                                units::version.eq(units::version + 1),
                                units::updated_at.eq(diesel::dsl::now),
                            ))
                            .execute(conn)
                            .await?;
                        let kind = match field_status {
                            UnitStatus::EnRoute => "unit_en_route",
                            UnitStatus::OnScene => "unit_on_scene",
                            UnitStatus::Transporting => "unit_transporting",
                            UnitStatus::AtHospital => "unit_at_hospital",
                            UnitStatus::Available | UnitStatus::Dispatched | UnitStatus::OutOfService => "unit_status_changed",
                        };
                        diesel::insert_into(events::table)
                            .values(unit_event(
                                actor,
                                kind,
                                unit_id,
                                Some(incident.id),
                                json!({ "call_sign": unit.call_sign, "note": note, "from": unit.status.as_str(), "to": field_status.as_str() }),
                            ))
                            .execute(conn)
                            .await?;
                        if field_status == UnitStatus::OnScene && incident.status == dispatch_domain::incident::IncidentStatus::Dispatched {
                            set_incident_status(conn, actor, &incident, Transition::ArriveOnScene).await?;
                        }
                    }
                    (None, status) => {
                        diesel::update(units::table.find(unit_id.0))
                            .set((
                                units::status.eq(status.as_str()),
                                units::status_at.eq(diesel::dsl::now),
                                units::version.eq(units::version + 1),
                                units::updated_at.eq(diesel::dsl::now),
                            ))
                            .execute(conn)
                            .await?;
                        diesel::insert_into(events::table)
                            .values(unit_event(
                                actor,
                                "unit_status_changed",
                                unit_id,
                                None,
                                json!({ "from": unit.status.as_str(), "to": status.as_str(), "note": note }),
                            ))
                            .execute(conn)
                            .await?;
                    }
                }
                Ok(false)
            })
            .await?;
        let unit = load_unit(&mut conn, unit_id).await?;
        drop(conn);
        let incident = match current.or(unit.current_incident) {
            Some(incident) => Some(self.incident_detail(incident).await?),
            None => None,
        };
        Ok((unit, incident, replayed))
    }

    pub async fn create_camera(
        &self,
        key: &Idempotency,
        actor: &str,
        camera: &NewCamera,
    ) -> Result<(Camera, bool), Error> {
        let mut conn = self.conn().await?;
        let id = CameraId::new_v7();
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
                diesel::insert_into(cameras::table)
                    .values((
                        cameras::id.eq(id.0),
                        cameras::code.eq(&camera.code),
                        cameras::kind.eq(camera.kind.as_str()),
                        cameras::latitude.eq(camera.location.latitude()),
                        cameras::longitude.eq(camera.location.longitude()),
                        cameras::description.eq(&camera.description),
                        cameras::agency_id.eq(camera.agency.map(|a| a.0)),
                        cameras::active.eq(camera.active),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| taken(error, "device code", &camera.code))?;
                diesel::insert_into(events::table)
                    .values(NewEvent {
                        actor,
                        kind: "camera_created",
                        call_id: None,
                        incident_id: None,
                        unit_id: None,
                        details: json!({ "camera": id.name(), "code": camera.code }),
                    })
                    .execute(conn)
                    .await?;
                Ok(None)
            })
            .await?;
        let id = match &replay {
            Some(resource) => {
                CameraId::parse_name("resource", resource).map_err(|_| bad_resource(resource))?
            }
            None => id,
        };
        Ok((self.camera_with(&mut conn, id).await?, replay.is_some()))
    }

    async fn camera_with(
        &self,
        conn: &mut AsyncPgConnection,
        id: CameraId,
    ) -> Result<Camera, Error> {
        let row: CameraRow = cameras::table
            .find(id.0)
            .select(CameraRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| Error::NotFound(id.name()))?;
        row.try_into()
    }

    pub async fn get_camera(&self, id: CameraId) -> Result<Camera, Error> {
        self.camera_with(&mut *self.conn().await?, id).await
    }

    pub async fn get_cameras(&self, ids: &[CameraId]) -> Result<Vec<Camera>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<CameraRow> = cameras::table
            .filter(cameras::id.eq_any(ids.iter().map(|id| id.0)))
            .select(CameraRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(Camera::try_from).collect()
    }

    /// Every active device: what the engine's camera index is built from.
    pub async fn all_cameras(&self) -> Result<Vec<Camera>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<CameraRow> = cameras::table
            .filter(cameras::active.eq(true))
            .select(CameraRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(Camera::try_from).collect()
    }

    /// Devices by code, filtered, a page at a time.
    pub async fn list_cameras(
        &self,
        filter: &CameraFilter,
        page: &Page<String>,
    ) -> Result<(Vec<Camera>, Option<String>), Error> {
        let mut conn = self.conn().await?;
        let mut query = cameras::table
            .select(CameraRow::as_select())
            .order(cameras::code.asc())
            .limit(page.size + 1)
            .into_boxed();
        if !filter.kinds.is_empty() {
            query = query.filter(cameras::kind.eq_any(filter.kinds.iter().map(|k| k.as_str())));
        }
        if let Some(agency) = filter.agency {
            query = query.filter(cameras::agency_id.eq(agency.0));
        }
        if let Some(area) = filter.area {
            query = query
                .filter(cameras::latitude.between(area.south, area.north))
                .filter(cameras::longitude.between(area.west, area.east));
        }
        if !filter.include_inactive {
            query = query.filter(cameras::active.eq(true));
        }
        if let Some(code) = &filter.code {
            query = query.filter(cameras::code.eq(code));
        }
        if let Some(after) = &page.after {
            query = query.filter(cameras::code.gt(after));
        }
        let rows: Vec<CameraRow> = query.load(&mut conn).await?;
        let (rows, more) = page.split(rows);
        let next = more.then(|| rows.last().map(|r| r.code.clone())).flatten();
        Ok((
            rows.into_iter()
                .map(Camera::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
    }
}

fn check_version(unit: &Unit, expected: Option<i64>) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != unit.version => Err(Error::Stale(unit.id.name())),
        _ => Ok(()),
    }
}

/// A unique violation on insert means the code is taken; say which.
fn taken(error: diesel::result::Error, what: &str, value: &str) -> Error {
    match Error::from(error) {
        Error::AlreadyExists(_) => Error::AlreadyExists(format!("{what} {value:?} is taken")),
        // A foreign key names an agency or station that does not exist.
        Error::Internal(message) if message.contains("foreign key") => {
            Error::NotFound(format!("the agency or station referred to ({message})"))
        }
        other => other,
    }
}
