//! Fixed devices (cameras and other sensors) the console shows on the map.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use dispatch_domain::directory::{Camera, DeviceKind};
use dispatch_domain::event::DirectoryEvent;
use dispatch_domain::ids::{AgencyId, CameraId};
use dispatch_domain::location::{BoundingBox, GeoPoint};

use crate::error::taken;
use crate::events::{self, About};
use crate::rows::CameraRow;
use crate::schema::cameras;
use crate::{Error, Idempotency, Page, Store, Written};

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

/// Corrections to a device; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraChanges {
    pub location: Option<GeoPoint>,
    pub description: Option<String>,
    pub agency: Option<Option<AgencyId>>,
    pub active: Option<bool>,
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

impl Store {
    pub async fn create_camera(
        &self,
        key: &Idempotency,
        actor: &str,
        camera: &NewCamera,
    ) -> Result<Written<Camera>, Error> {
        let id = CameraId::new_v7();
        let insert = diesel::insert_into(cameras::table).values((
            cameras::id.eq(id.0),
            cameras::code.eq(&camera.code),
            cameras::kind.eq(camera.kind.as_str()),
            cameras::latitude.eq(camera.location.latitude()),
            cameras::longitude.eq(camera.location.longitude()),
            cameras::description.eq(&camera.description),
            cameras::agency_id.eq(camera.agency.map(|a| a.0)),
            cameras::active.eq(camera.active),
        ));
        let created = DirectoryEvent::CameraCreated {
            camera: id,
            code: camera.code.clone(),
        };
        let refused = |error| taken(error, "device code", &camera.code);
        let created = (About::nothing(), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    /// Corrects a device's record.
    pub async fn update_camera(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CameraId,
        changes: &CameraChanges,
    ) -> Result<Written<Camera>, Error> {
        self.write_resource(key, id, async |conn| {
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
            let updated = DirectoryEvent::CameraUpdated {
                camera: id,
                active: changes.active,
            };
            events::append_one(conn, actor, About::nothing(), updated).await
        })
        .await
    }

    pub async fn get_camera(&self, id: CameraId) -> Result<Camera, Error> {
        self.get(id).await
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
        let mut query = cameras::table
            .select(CameraRow::as_select())
            .order(cameras::code.asc())
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
        let query = page.query(query, |query, after| query.filter(cameras::code.gt(after)));
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &CameraRow| row.code.clone(),
        )
    }
}
