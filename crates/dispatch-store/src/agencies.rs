//! Agencies: the public-safety organisations whose units and stations the centre dispatches.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use dispatch_domain::directory::{Agency, AgencyKind, NewAgency};
use dispatch_domain::event::DirectoryEvent;
use dispatch_domain::ids::AgencyId;

use crate::events::{self, About};
use crate::rows::AgencyRow;
use crate::schema::agencies;
use crate::{Error, Idempotency, Page, Store, Written, find_one};

async fn load_agency(conn: &mut AsyncPgConnection, id: AgencyId) -> Result<Agency, Error> {
    let query = agencies::table.find(id.0).select(AgencyRow::as_select());
    find_one::<_, AgencyRow, _>(conn, query, || id.name()).await
}

impl Store {
    /// Creates an agency; a retry with the same request id returns it (`true` = replayed).
    pub async fn create_agency(
        &self,
        key: &Idempotency,
        actor: &str,
        agency: &NewAgency,
    ) -> Result<Written<Agency>, Error> {
        let id = AgencyId::new_v7();
        self.write_once(
            key,
            &id.name(),
            async |conn| {
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
                events::append_one(conn, actor, About::nothing(), created).await
            },
            async |conn, claimed| {
                load_agency(conn, claimed.resource(id, AgencyId::parse_name)?).await
            },
        )
        .await
    }

    pub async fn get_agency(&self, id: AgencyId) -> Result<Agency, Error> {
        load_agency(&mut *self.conn().await?, id).await
    }

    /// Agencies by code, a page at a time.
    pub async fn list_agencies(
        &self,
        kinds: &[AgencyKind],
        page: &Page<String>,
    ) -> Result<(Vec<Agency>, Option<String>), Error> {
        let mut query = agencies::table
            .select(AgencyRow::as_select())
            .order(agencies::code.asc())
            .into_boxed();
        if !kinds.is_empty() {
            query = query.filter(agencies::kind.eq_any(kinds.iter().map(|k| k.as_str())));
        }
        let query = page.query(query, |query, after| query.filter(agencies::code.gt(after)));
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &AgencyRow| row.code.clone(),
        )
    }
}
