//! Stations: where units are based.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use dispatch_domain::directory::Station;
use dispatch_domain::event::DirectoryEvent;
use dispatch_domain::ids::{AgencyId, StationId};
use dispatch_domain::location::{BoundingBox, GeoPoint};

use crate::error::taken;
use crate::events::About;
use crate::rows::StationRow;
use crate::schema::stations;
use crate::{Error, Idempotency, Page, Store, Written};

/// A validated new station.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStation {
    pub agency: AgencyId,
    pub code: String,
    pub display_name: String,
    pub location: GeoPoint,
    pub address: String,
}

impl Store {
    pub async fn create_station(
        &self,
        key: &Idempotency,
        actor: &str,
        station: &NewStation,
    ) -> Result<Written<Station>, Error> {
        let id = StationId::new_v7();
        let insert = diesel::insert_into(stations::table).values((
            stations::id.eq(id.0),
            stations::agency_id.eq(station.agency.0),
            stations::code.eq(&station.code),
            stations::display_name.eq(&station.display_name),
            stations::latitude.eq(station.location.latitude()),
            stations::longitude.eq(station.location.longitude()),
            stations::address.eq(&station.address),
        ));
        let created = DirectoryEvent::StationCreated {
            station: id,
            code: station.code.clone(),
        };
        let refused = |error| taken(error, "the agency's station code", &station.code);
        let created = (About::nothing(), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    /// Every station's point (stations never move): where units are based, so that the engine
    /// knows a unit in quarters.
    pub async fn station_points(
        &self,
    ) -> Result<std::collections::HashMap<StationId, GeoPoint>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<(Uuid, f64, f64)> = stations::table
            .select((stations::id, stations::latitude, stations::longitude))
            .load(&mut conn)
            .await?;
        // The table's checks keep coordinates valid; a row that is not is left out, not fatal.
        Ok(rows
            .into_iter()
            .filter_map(|(id, lat, lon)| Some((StationId(id), GeoPoint::new(lat, lon).ok()?)))
            .collect())
    }

    pub async fn get_station(&self, id: StationId) -> Result<Station, Error> {
        self.get(id).await
    }

    /// Stations by code, a page at a time.
    pub async fn list_stations(
        &self,
        agency: Option<AgencyId>,
        area: Option<BoundingBox>,
        page: &Page<String>,
    ) -> Result<(Vec<Station>, Option<String>), Error> {
        let mut query = stations::table
            .select(StationRow::as_select())
            .order((stations::code.asc(), stations::id.asc()))
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
        let query = page.query(query, |query, after| {
            match after
                .split_once('/')
                .and_then(|(code, id)| Some((code, Uuid::parse_str(id).ok()?)))
            {
                Some((code, id)) => query.filter(
                    stations::code
                        .gt(code.to_owned())
                        .or(stations::code.eq(code.to_owned()).and(stations::id.gt(id))),
                ),
                None => query.filter(stations::code.gt(after)),
            }
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &StationRow| format!("{}/{}", row.code, row.id),
        )
    }
}
