//! Units and their positions: the fleet's records, statuses outside an incident, position reports.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::directory::{Position, Unit, UnitStatus, UnitType};
use dispatch_domain::event::{Event, UnitEvent};
use dispatch_domain::ids::{AgencyId, StationId, UnitId};
use dispatch_domain::location::BoundingBox;

use crate::error::taken;
use crate::events::{self, About};
use crate::rows::UnitRow;
use crate::schema::units;
use crate::{Error, Idempotency, Page, Store, Written, find_one};

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

/// Corrections to a unit's record; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitChanges {
    pub call_sign: Option<String>,
    pub unit_type: Option<UnitType>,
    pub capabilities: Option<Vec<String>>,
    pub home_station: Option<Option<StationId>>,
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

pub(crate) async fn lock_unit(conn: &mut AsyncPgConnection, id: UnitId) -> Result<Unit, Error> {
    let query = units::table.find(id.0).select(UnitRow::as_select());
    find_one::<_, UnitRow, _>(conn, query.for_update(), || id.name()).await
}

/// The units of `ids` that exist, in no particular order.
pub(crate) async fn load_units(
    conn: &mut AsyncPgConnection,
    ids: &[UnitId],
) -> Result<Vec<Unit>, Error> {
    let rows: Vec<UnitRow> = units::table
        .filter(units::id.eq_any(ids.iter().map(|id| id.0)))
        .select(UnitRow::as_select())
        .load(conn)
        .await?;
    rows.into_iter().map(Unit::try_from).collect()
}

pub(crate) fn check_version(unit: &Unit, expected: Option<i64>) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != unit.version => Err(Error::Stale(unit.id.name())),
        _ => Ok(()),
    }
}

impl Store {
    pub async fn create_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        unit: &NewUnit,
    ) -> Result<Written<Unit>, Error> {
        let id = UnitId::new_v7();
        let insert = diesel::insert_into(units::table).values((
            units::id.eq(id.0),
            units::agency_id.eq(unit.agency.0),
            units::home_station_id.eq(unit.home_station.map(|s| s.0)),
            units::call_sign.eq(&unit.call_sign),
            units::unit_type.eq(unit.unit_type.as_str()),
            units::capabilities.eq(&unit.capabilities),
            units::status.eq(unit.status.as_str()),
        ));
        let created = UnitEvent::Created {
            call_sign: unit.call_sign.clone(),
            to: unit.status,
        };
        let refused = |error| taken(error, "call sign", &unit.call_sign);
        let created = (About::unit(id, None), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    pub async fn get_unit(&self, id: UnitId) -> Result<Unit, Error> {
        self.get(id).await
    }

    pub async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Unit>, Error> {
        load_units(&mut *self.conn().await?, ids).await
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
        let mut query = units::table
            .select(UnitRow::as_select())
            .order(units::call_sign.asc())
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
        let query = page.query(query, |query, after| {
            query.filter(units::call_sign.gt(after))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &UnitRow| row.call_sign.clone(),
        )
    }

    /// Corrects a unit's record; the etag is required.
    pub async fn update_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        id: UnitId,
        changes: &UnitChanges,
        expected_version: i64,
    ) -> Result<Written<Unit>, Error> {
        self.write_resource(key, id, async |conn| {
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
                diesel::update(row)
                    .set(units::unit_type.eq(unit_type.as_str()))
                    .execute(conn)
                    .await?;
            }
            if let Some(capabilities) = &changes.capabilities {
                diesel::update(row)
                    .set(units::capabilities.eq(capabilities))
                    .execute(conn)
                    .await?;
            }
            if let Some(station) = changes.home_station {
                diesel::update(row)
                    .set(units::home_station_id.eq(station.map(|s| s.0)))
                    .execute(conn)
                    .await
                    .map_err(|error| taken(error, "home station", ""))?;
            }
            diesel::update(row)
                .set((
                    units::version.eq(units::version + 1),
                    units::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            let updated = UnitEvent::Updated {
                call_sign: changes.call_sign.clone(),
                capabilities: changes.capabilities.clone(),
            };
            events::append_one(conn, actor, About::unit(id, None), updated).await
        })
        .await
    }

    /// Takes a unit out of the fleet for good (sold, written off). Refused while committed.
    pub async fn decommission_unit(
        &self,
        key: &Idempotency,
        actor: &str,
        id: UnitId,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<Unit>, Error> {
        self.write_resource(key, id, async |conn| {
            let unit = lock_unit(conn, id).await?;
            check_version(&unit, expected_version)?;
            unit.check_decommission()?;
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
            let decommissioned = UnitEvent::Decommissioned {
                reason: reason.to_owned(),
                from: unit.status,
                to: UnitStatus::OutOfService,
            };
            events::append_one(conn, actor, About::unit(id, None), decommissioned).await
        })
        .await
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
        // A moved unit's announcement, written in the statement below.
        let announced = Event::from(UnitEvent::Position {});
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
               INSERT INTO events (actor, kind, unit_id, details) \
               SELECT $9, $10, id, $11 FROM moved WHERE announce) \
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
        .bind::<diesel::sql_types::Text, _>(announced.kind())
        .bind::<diesel::sql_types::Jsonb, _>(events::details(&announced)?)
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
}
