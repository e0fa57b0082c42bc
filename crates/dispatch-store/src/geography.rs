//! Where an incident is, as reports group it: its station area (the nearest station, read
//! here in SQL, as stations live in the database) and the stamping of incidents written before
//! the geography columns existed. The area and H3 cell come from the domain
//! (`reporting::areas`) and are written with the incident's row (`incident_writes`).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::ids::IncidentId;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::reporting::areas::stamp_cell;

use crate::{Error, Store};

/// Sets `station_area` of the incidents `ids` to the code of the station nearest each one's
/// location on the great circle (ordered by the haversine term, which grows with the distance;
/// ties by code), "" when there is no station. Stations are few: a scan per incident.
pub(crate) async fn stamp_station_areas(
    conn: &mut AsyncPgConnection,
    ids: &[IncidentId],
) -> Result<(), Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    diesel::sql_query(
        "UPDATE incidents i SET station_area = coalesce((
             SELECT s.code FROM stations s
             ORDER BY sin(radians(s.latitude - i.latitude) / 2) ^ 2
                      + cos(radians(s.latitude)) * cos(radians(i.latitude))
                        * sin(radians(s.longitude - i.longitude) / 2) ^ 2,
                      s.code
             LIMIT 1), '')
         WHERE i.id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Unplaced {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Double)]
    latitude: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    longitude: f64,
}

impl Store {
    /// Stamps up to `batch` incidents that have no H3 cell yet (written before the geography
    /// columns) in one transaction: cell and area of their current location (the opening one
    /// is not recorded apart), the close area for those already ended, the station area of
    /// the stations now. Rows another process is stamping are skipped. Returns how many were
    /// stamped: 0 when none is left.
    pub async fn stamp_unplaced_incidents(&self, batch: i64) -> Result<usize, Error> {
        let areas = self.config().areas.clone();
        let mut conn = self.conn().await?;
        conn.build_transaction()
            .run(async |conn| {
                let unplaced: Vec<Unplaced> = diesel::sql_query(
                    "SELECT id, latitude, longitude FROM incidents WHERE h3_cell IS NULL
                 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                )
                .bind::<BigInt, _>(batch)
                .load(conn)
                .await?;
                let mut ids = Vec::with_capacity(unplaced.len());
                let mut cells = Vec::with_capacity(unplaced.len());
                let mut names = Vec::with_capacity(unplaced.len());
                for row in &unplaced {
                    let point = GeoPoint::new(row.latitude, row.longitude).map_err(|v| {
                        Error::Internal(format!("incident {} has a stored location {v}", row.id))
                    })?;
                    ids.push(row.id);
                    cells.push(stamp_cell(&point));
                    names.push(areas.area_of(&point).to_owned());
                }
                diesel::sql_query(
                    "UPDATE incidents i SET h3_cell = u.cell, area = u.area,
                     close_area = CASE WHEN i.closed_at IS NULL THEN NULL ELSE u.area END
                 FROM unnest($1, $2, $3) AS u(id, cell, area)
                 WHERE i.id = u.id",
                )
                .bind::<Array<SqlUuid>, _>(&ids)
                .bind::<Array<BigInt>, _>(&cells)
                .bind::<Array<Text>, _>(&names)
                .execute(conn)
                .await?;
                let ids: Vec<IncidentId> = ids.into_iter().map(IncidentId).collect();
                stamp_station_areas(conn, &ids).await?;
                Ok(ids.len())
            })
            .await
    }
}
