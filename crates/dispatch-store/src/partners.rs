//! Partner agencies: the directory of who takes referrals, their service areas and capacity.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use uuid::Uuid;

use dispatch_domain::event::PartnerEvent;
use dispatch_domain::ids::PartnerId;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{Need, PartnerFacts, PartnerKind, Polygon, ServiceArea};

use crate::error::{parse, point, taken};
use crate::events::{self, About};
use crate::resource::stored_in;
use crate::rows::needs_from;
use crate::schema::partners;
use crate::{Error, Idempotency, Page, Store, Written};

/// A validated new partner agency.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPartner {
    pub code: String,
    pub display_name: String,
    pub kind: PartnerKind,
    pub services: Vec<Need>,
    pub areas: Vec<ServiceArea>,
    pub location: Option<GeoPoint>,
    pub address: String,
    pub available_slots: i32,
    pub total_slots: i32,
    pub not_accepting: bool,
    pub contacts: Value,
}

/// Corrections to a partner's record; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartnerChanges {
    pub display_name: Option<String>,
    pub kind: Option<PartnerKind>,
    pub services: Option<Vec<Need>>,
    pub areas: Option<Vec<ServiceArea>>,
    pub contacts: Option<Value>,
    pub location: Option<Option<GeoPoint>>,
    pub address: Option<String>,
}

/// What a partner says of its own capacity: how many referrals it can take now, and whether
/// it is accepting any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerCapacity {
    pub available_slots: i32,
    pub total_slots: i32,
    pub not_accepting: bool,
    /// Why, for the people reading the directory.
    pub note: String,
}

/// A partner agency as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub id: PartnerId,
    pub details: NewPartner,
    pub capacity_note: String,
    pub capacity_updated_at: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Partner {
    pub fn facts(&self) -> PartnerFacts {
        PartnerFacts {
            id: self.id,
            kind: self.details.kind,
            services: self.details.services.clone(),
            not_accepting: self.details.not_accepting,
        }
    }
}

impl Store {
    pub async fn create_partner(
        &self,
        key: &Idempotency,
        actor: &str,
        partner: &NewPartner,
    ) -> Result<Written<Partner>, Error> {
        let id = PartnerId::new_v7();
        let insert = diesel::insert_into(partners::table).values((
            partners::id.eq(id.0),
            partners::code.eq(&partner.code),
            partners::display_name.eq(&partner.display_name),
            partners::kind.eq(partner.kind.as_str()),
            partners::services.eq(needs_text(&partner.services)),
            partners::areas.eq(areas_json(&partner.areas)),
            partners::latitude.eq(partner.location.map(|p| p.latitude())),
            partners::longitude.eq(partner.location.map(|p| p.longitude())),
            partners::address.eq(&partner.address),
            partners::available_slots.eq(partner.available_slots),
            partners::total_slots.eq(partner.total_slots),
            partners::not_accepting.eq(partner.not_accepting),
            partners::contacts.eq(&partner.contacts),
        ));
        let created = PartnerEvent::Created {
            code: partner.code.clone(),
        };
        let refused = |error| taken(error, "partner code", &partner.code);
        let created = (About::partner(id, None), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    pub async fn get_partner(&self, id: PartnerId) -> Result<Partner, Error> {
        self.get(id).await
    }

    /// Partners by code, a page at a time.
    pub async fn list_partners(
        &self,
        page: &Page<String>,
    ) -> Result<(Vec<Partner>, Option<String>), Error> {
        let query = partners::table
            .select(PartnerRow::as_select())
            .order(partners::code.asc())
            .into_boxed();
        let query = page.query(query, |query, after| query.filter(partners::code.gt(after)));
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &PartnerRow| row.code.clone(),
        )
    }

    /// Every partner, for suggestions: a centre works with dozens, not millions.
    pub async fn all_partners(&self) -> Result<Vec<Partner>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<PartnerRow> = partners::table
            .select(PartnerRow::as_select())
            .load(&mut conn)
            .await?;
        rows.into_iter().map(Partner::try_from).collect()
    }

    /// Corrects a partner's record (not its capacity); the etag is required.
    pub async fn update_partner(
        &self,
        key: &Idempotency,
        actor: &str,
        id: PartnerId,
        changes: &PartnerChanges,
        expected_version: i64,
    ) -> Result<Written<Partner>, Error> {
        self.write_resource(key, id, async |conn| {
            let version: Option<i64> = partners::table
                .find(id.0)
                .select(partners::version)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            match version {
                None => return Err(Error::NotFound(id.name())),
                Some(v) if v != expected_version => return Err(Error::Stale(id.name())),
                Some(_) => {}
            }
            diesel::update(partners::table.find(id.0))
                .set((
                    PartnerChangeset::from(changes),
                    partners::version.eq(partners::version + 1),
                    partners::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            let updated = PartnerEvent::Updated {};
            events::append_one(conn, actor, About::partner(id, None), updated).await
        })
        .await
    }

    /// The partner sets its own capacity and whether it is accepting.
    pub async fn update_partner_capacity(
        &self,
        key: &Idempotency,
        actor: &str,
        id: PartnerId,
        capacity: &PartnerCapacity,
    ) -> Result<Written<Partner>, Error> {
        self.write_resource(key, id, async |conn| {
            let updated = diesel::update(partners::table.find(id.0))
                .set((
                    partners::available_slots.eq(capacity.available_slots),
                    partners::total_slots.eq(capacity.total_slots),
                    partners::not_accepting.eq(capacity.not_accepting),
                    partners::capacity_note.eq(&capacity.note),
                    partners::capacity_updated_at.eq(diesel::dsl::now),
                    partners::version.eq(partners::version + 1),
                    partners::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            if updated == 0 {
                return Err(Error::NotFound(id.name()));
            }
            let capacity = PartnerEvent::CapacityUpdated {
                available: capacity.available_slots,
                total: capacity.total_slots,
                not_accepting: capacity.not_accepting,
            };
            events::append_one(conn, actor, About::partner(id, None), capacity).await
        })
        .await
    }
}

/// The columns [`PartnerChanges`] sets; a `None` field is left as it is.
#[derive(AsChangeset)]
#[diesel(table_name = partners)]
struct PartnerChangeset<'a> {
    display_name: Option<&'a str>,
    kind: Option<&'static str>,
    services: Option<Vec<String>>,
    areas: Option<Value>,
    contacts: Option<&'a Value>,
    latitude: Option<Option<f64>>,
    longitude: Option<Option<f64>>,
    address: Option<&'a str>,
}

impl<'a> From<&'a PartnerChanges> for PartnerChangeset<'a> {
    fn from(changes: &'a PartnerChanges) -> Self {
        Self {
            display_name: changes.display_name.as_deref(),
            kind: changes.kind.map(PartnerKind::as_str),
            services: changes.services.as_deref().map(needs_text),
            areas: changes.areas.as_deref().map(areas_json),
            contacts: changes.contacts.as_ref(),
            latitude: changes.location.map(|at| at.map(|p| p.latitude())),
            longitude: changes.location.map(|at| at.map(|p| p.longitude())),
            address: changes.address.as_deref(),
        }
    }
}

fn areas_json(areas: &[ServiceArea]) -> Value {
    Value::Array(
        areas
            .iter()
            .map(|area| {
                json!({
                    "display_name": area.display_name,
                    "polygons": area.polygons.iter().map(|polygon| {
                        let mut rings = vec![polygon.exterior().iter().map(|p| [p.longitude(), p.latitude()]).collect::<Vec<_>>()];
                        rings.extend(polygon.holes().map(|hole| hole.iter().map(|p| [p.longitude(), p.latitude()]).collect::<Vec<_>>()));
                        rings
                    }).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn areas_from_json(value: &Value) -> Result<Vec<ServiceArea>, Error> {
    let bad = || Error::Internal("unexpected service areas in the database".into());
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|area| {
            let polygons = area["polygons"]
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|rings| {
                    let rings: Vec<Vec<[f64; 2]>> =
                        serde_json::from_value(rings.clone()).map_err(|_| bad())?;
                    Polygon::from_geojson_rings(&rings).map_err(|v| Error::Internal(v.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ServiceArea::new(
                area["display_name"].as_str().unwrap_or_default().to_owned(),
                polygons,
            )
            .map_err(|v| Error::Internal(v.to_string()))
        })
        .collect()
}

fn needs_text(needs: &[Need]) -> Vec<String> {
    needs.iter().map(|n| n.as_str().to_owned()).collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = partners, check_for_backend(diesel::pg::Pg))]
struct PartnerRow {
    pub id: Uuid,
    pub code: String,
    pub display_name: String,
    pub kind: String,
    pub services: Vec<String>,
    pub areas: Value,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: String,
    pub available_slots: i32,
    pub total_slots: i32,
    pub not_accepting: bool,
    pub capacity_note: String,
    pub capacity_updated_at: DateTime<Utc>,
    pub contacts: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<PartnerRow> for Partner {
    type Error = Error;

    fn try_from(row: PartnerRow) -> Result<Self, Error> {
        Ok(Partner {
            id: PartnerId(row.id),
            details: NewPartner {
                code: row.code,
                display_name: row.display_name,
                kind: parse("partner kind", &row.kind, PartnerKind::parse)?,
                services: needs_from(&row.services)?,
                areas: areas_from_json(&row.areas)?,
                location: match (row.latitude, row.longitude) {
                    (Some(lat), Some(lon)) => Some(point(lat, lon)?),
                    _ => None,
                },
                address: row.address,
                available_slots: row.available_slots,
                total_slots: row.total_slots,
                not_accepting: row.not_accepting,
                contacts: row.contacts,
            },
            capacity_note: row.capacity_note,
            capacity_updated_at: row.capacity_updated_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

stored_in!(Partner, PartnerId, partners, PartnerRow);
