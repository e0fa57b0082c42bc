//! Principals: who (or what) acts on the centre, with a role and the agency, unit or partner it speaks for.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use dispatch_domain::Violations;
use dispatch_domain::auth::Role;
use dispatch_domain::event::SecurityEvent;
use dispatch_domain::ids::{AgencyId, PartnerId, PrincipalId, UnitId};

use dispatch_domain::principal::{NewPrincipal, Principal};

use crate::events::{self, About};
use crate::idempotency::Claimed;
use crate::resource::Resource;
use crate::rows::PrincipalRow;
use crate::schema::principals;
use crate::{Error, Idempotency, Page, Store, Written, find_one};

pub(crate) const DESCRIPTION_MAX_CHARS: usize = 500;

/// Which principals to list; empty or `None` means any.
#[derive(Debug, Clone, Default)]
pub struct PrincipalFilter {
    pub roles: Vec<Role>,
    pub agency: Option<AgencyId>,
    pub unit: Option<UnitId>,
    pub partner: Option<PartnerId>,
}

/// What `update_principal` changes; `None` leaves a field as it is (`Some(None)` clears a
/// binding).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub agency: Option<Option<AgencyId>>,
    pub unit: Option<Option<UnitId>>,
    pub partner: Option<Option<PartnerId>>,
    pub disabled: Option<bool>,
    /// Why, for the event log: at most 500 characters.
    pub reason: String,
}

/// What `update_principal` did.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalUpdate {
    pub principal: Principal,
    /// It was disabled, or its role or a binding changed: every open session of its
    /// credentials must end (false on a replay: the first request ended them).
    pub ends_sessions: bool,
    pub replayed: bool,
}

pub(crate) fn invalid(violations: Violations) -> Error {
    Error::Domain(violations.into())
}

/// Unique and foreign-key violations of the inserts here, said in the caller's terms.
pub(crate) fn insert_error(error: DieselError, taken: impl FnOnce() -> String) -> Error {
    if let DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) = &error {
        let referred = match info.constraint_name() {
            Some("principals_agency_id_fkey") => "the agency referred to",
            Some("principals_unit_id_fkey") => "the unit referred to",
            Some("credentials_principal_id_fkey") => "the principal referred to",
            _ => "a resource referred to",
        };
        return Error::NotFound(referred.to_owned());
    }
    match Error::from(error) {
        Error::AlreadyExists(_) => Error::AlreadyExists(taken()),
        other => other,
    }
}

/// A principal's binding that names nothing, as an invalid field of the request.
fn reference_error(error: DieselError) -> Error {
    if let DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) = &error {
        let field = match info.constraint_name() {
            Some("principals_agency_id_fkey") => "principal.agency",
            Some("principals_unit_id_fkey") => "principal.unit",
            Some("principals_partner_id_fkey") => "principal.partner",
            _ => return Error::from(error),
        };
        return invalid(Violations::single(field, "names nothing that exists"));
    }
    Error::from(error)
}

impl Store {
    /// Creates a principal; a retry with the same request id returns it (`true` = replayed).
    pub async fn create_principal(
        &self,
        key: &Idempotency,
        actor: &str,
        principal: &NewPrincipal,
    ) -> Result<Written<Principal>, Error> {
        principal.validate().map_err(invalid)?;
        let id = PrincipalId::new_v7();
        let insert = diesel::insert_into(principals::table).values((
            principals::id.eq(id.0),
            principals::name.eq(&principal.name),
            principals::display_name.eq(&principal.display_name),
            principals::role.eq(principal.role.as_str()),
            principals::agency_id.eq(principal.agency.map(|a| a.0)),
            principals::unit_id.eq(principal.unit.map(|u| u.0)),
            principals::partner_id.eq(principal.partner.map(|p| p.0)),
            principals::created_by.eq(actor),
        ));
        let created = SecurityEvent::PrincipalCreated {
            principal: id,
            name: principal.name.clone(),
            role: principal.role,
            agency: principal.agency,
            unit: principal.unit,
            partner: principal.partner.map(|p| p.0.to_string()),
        };
        let refused = |error| {
            insert_error(error, || {
                format!("principal name {:?} is taken", principal.name)
            })
        };
        let created = (About::nothing(), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    /// Updates a principal under its etag (`Stale` when it changed since). The result must
    /// still bind a field unit to a unit and a partner principal to a partner, and nobody else
    /// (violations under `principal.`). Events: `principal_updated` when its name, role or a
    /// binding changed (`ends_sessions` when the role or a binding did), `principal_disabled` /
    /// `principal_enabled` when that changed; the server ends the sessions of every credential
    /// of it on each process as it reads them. A retry with the same request id replays.
    pub async fn update_principal(
        &self,
        key: &Idempotency,
        actor: &str,
        id: PrincipalId,
        changes: &PrincipalChanges,
        etag: i64,
    ) -> Result<PrincipalUpdate, Error> {
        if changes.reason.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(invalid(Violations::single(
                "reason",
                "must be at most 500 characters",
            )));
        }
        let written = self
            .write_once(
                key,
                &id.name(),
                async |conn| {
                    let query = principals::table
                        .find(id.0)
                        .select(PrincipalRow::as_select());
                    let current: Principal =
                        find_one::<_, PrincipalRow, _>(conn, query.for_update(), || id.name())
                            .await?;
                    if current.version != etag {
                        return Err(Error::Stale(id.name()));
                    }
                    let next = NewPrincipal {
                        name: current.name.clone(),
                        display_name: changes
                            .display_name
                            .clone()
                            .unwrap_or_else(|| current.display_name.clone()),
                        role: changes.role.unwrap_or(current.role),
                        agency: changes.agency.unwrap_or(current.agency),
                        unit: changes.unit.unwrap_or(current.unit),
                        partner: changes.partner.unwrap_or(current.partner),
                    };
                    next.validate()
                        .map_err(|violations| invalid(violations.within("principal")))?;
                    let mut changed = Vec::new();
                    if next.display_name != current.display_name {
                        changed.push("display_name");
                    }
                    if next.role != current.role {
                        changed.push("role");
                    }
                    if next.agency != current.agency {
                        changed.push("agency");
                    }
                    if next.unit != current.unit {
                        changed.push("unit");
                    }
                    if next.partner != current.partner {
                        changed.push("partner");
                    }
                    let disable = changes.disabled.filter(|&d| d != current.is_disabled());
                    diesel::update(principals::table.find(id.0))
                        .set((
                            principals::display_name.eq(&next.display_name),
                            principals::role.eq(next.role.as_str()),
                            principals::agency_id.eq(next.agency.map(|a| a.0)),
                            principals::unit_id.eq(next.unit.map(|u| u.0)),
                            principals::partner_id.eq(next.partner.map(|p| p.0)),
                            principals::updated_at.eq(diesel::dsl::now),
                            principals::version.eq(principals::version + 1),
                        ))
                        .execute(conn)
                        .await
                        .map_err(reference_error)?;
                    match disable {
                        Some(true) => {
                            diesel::update(principals::table.find(id.0))
                                .set(principals::disabled_at.eq(diesel::dsl::now))
                                .execute(conn)
                                .await?;
                        }
                        Some(false) => {
                            diesel::update(principals::table.find(id.0))
                                .set(principals::disabled_at.eq(None::<DateTime<Utc>>))
                                .execute(conn)
                                .await?;
                        }
                        None => {}
                    }
                    // Who the credentials speak for changed: what was authorised under the old
                    // role or binding ends.
                    let rebound = changed.iter().any(|f| *f != "display_name");
                    if !changed.is_empty() {
                        let updated = SecurityEvent::PrincipalUpdated {
                            principal: id,
                            changed: changed.iter().map(|f| (*f).to_owned()).collect(),
                            display_name: next.display_name.clone(),
                            role: next.role,
                            agency: next.agency,
                            unit: next.unit,
                            partner: next.partner,
                            ends_sessions: rebound,
                            reason: changes.reason.clone(),
                        };
                        events::append_one(conn, actor, About::nothing(), updated).await?;
                    }
                    if let Some(disabled) = disable {
                        let (principal, reason) = (id, changes.reason.clone());
                        let standing = if disabled {
                            SecurityEvent::PrincipalDisabled { principal, reason }
                        } else {
                            SecurityEvent::PrincipalEnabled { principal, reason }
                        };
                        events::append_one(conn, actor, About::nothing(), standing).await?;
                    }
                    Ok(rebound || disable == Some(true))
                },
                async |conn, claimed| {
                    let id = claimed.resource(id, PrincipalId::parse_name)?;
                    Ok((
                        Principal::read(conn, id).await?,
                        claimed == Claimed::New(true),
                    ))
                },
            )
            .await?;
        let (principal, ends_sessions) = written.value;
        Ok(PrincipalUpdate {
            principal,
            ends_sessions,
            replayed: written.replayed,
        })
    }

    pub async fn get_principal(&self, id: PrincipalId) -> Result<Principal, Error> {
        self.get(id).await
    }

    /// Principals by name, a page at a time (the cursor is the last name).
    pub async fn list_principals(
        &self,
        filter: &PrincipalFilter,
        page: &Page<String>,
    ) -> Result<(Vec<Principal>, Option<String>), Error> {
        let mut query = principals::table
            .select(PrincipalRow::as_select())
            .order(principals::name.asc())
            .into_boxed();
        if !filter.roles.is_empty() {
            query = query.filter(principals::role.eq_any(filter.roles.iter().map(|r| r.as_str())));
        }
        if let Some(agency) = filter.agency {
            query = query.filter(principals::agency_id.eq(agency.0));
        }
        if let Some(unit) = filter.unit {
            query = query.filter(principals::unit_id.eq(unit.0));
        }
        if let Some(partner) = filter.partner {
            query = query.filter(principals::partner_id.eq(partner.0));
        }
        let query = page.query(query, |query, after| {
            query.filter(principals::name.gt(after))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &PrincipalRow| row.name.clone(),
        )
    }

    /// How many principals exist (disabled ones included): zero means a fresh installation.
    pub async fn principal_count(&self) -> Result<i64, Error> {
        let mut conn = self.conn().await?;
        Ok(principals::table.count().get_result(&mut conn).await?)
    }
}
