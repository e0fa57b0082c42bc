//! Agencies: the public-safety organisations whose units and stations the centre dispatches.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use dispatch_domain::directory::{Agency, AgencyKind, NewAgency};
use dispatch_domain::event::DirectoryEvent;
use dispatch_domain::ids::AgencyId;

use crate::events::{self, About};
use crate::rows::AgencyRow;
use crate::schema::agencies;
use crate::{Error, Idempotency, Page, Store, Written};

impl Store {
    /// Creates an agency; a retry with the same request id returns it (`true` = replayed).
    pub async fn create_agency(
        &self,
        key: &Idempotency,
        actor: &str,
        agency: &NewAgency,
    ) -> Result<Written<Agency>, Error> {
        let mut conn = self.conn().await?;
        let id = AgencyId::new_v7();
        let claimed = key
            .write_once(&mut conn, &id.name(), async |conn| {
                diesel::insert_into(agencies::table)
                    .values((
                        agencies::id.eq(id.0),
                        agencies::code.eq(&agency.code),
                        agencies::display_name.eq(&agency.display_name),
                        agencies::kind.eq(agency.kind.as_str()),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| match Error::from(error) {
                        Error::AlreadyExists(_) => {
                            Error::AlreadyExists(format!("agency code {:?} is taken", agency.code))
                        }
                        other => other,
                    })?;
                let created = DirectoryEvent::AgencyCreated {
                    agency: id,
                    code: agency.code.clone(),
                };
                events::append_one(conn, actor, About::nothing(), created).await?;
                Ok(())
            })
            .await?;
        let id = claimed.resource(id, AgencyId::parse_name)?;
        // Never hold one connection while waiting for another.
        drop(conn);
        Ok(claimed.answer(self.get_agency(id).await?))
    }

    pub async fn get_agency(&self, id: AgencyId) -> Result<Agency, Error> {
        let mut conn = self.conn().await?;
        let row: AgencyRow = agencies::table
            .find(id.0)
            .select(AgencyRow::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| Error::NotFound(id.name()))?;
        row.try_into()
    }

    /// Agencies by code, a page at a time.
    pub async fn list_agencies(
        &self,
        kinds: &[AgencyKind],
        page: &Page<String>,
    ) -> Result<(Vec<Agency>, Option<String>), Error> {
        let mut conn = self.conn().await?;
        let mut query = agencies::table
            .select(AgencyRow::as_select())
            .order(agencies::code.asc())
            .limit(page.limit())
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(agencies::code.gt(after));
        }
        if !kinds.is_empty() {
            query = query.filter(agencies::kind.eq_any(kinds.iter().map(|k| k.as_str())));
        }
        let rows: Vec<AgencyRow> = query.load(&mut conn).await?;
        page.finish(rows, |row| row.code.clone())
    }
}
