//! Agencies: the public-safety organisations whose units and stations the centre dispatches.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use dispatch_domain::directory::{Agency, AgencyKind, NewAgency};
use dispatch_domain::event::DirectoryEvent;
use dispatch_domain::ids::AgencyId;

use crate::error::taken;
use crate::events::About;
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
        let id = AgencyId::new_v7();
        let insert = diesel::insert_into(agencies::table).values((
            agencies::id.eq(id.0),
            agencies::code.eq(&agency.code),
            agencies::display_name.eq(&agency.display_name),
            agencies::kind.eq(agency.kind.as_str()),
        ));
        let created = DirectoryEvent::AgencyCreated {
            agency: id,
            code: agency.code.clone(),
        };
        let refused = |error| taken(error, "agency code", &agency.code);
        let created = (About::nothing(), created.into());
        self.create(key, actor, id, insert, refused, created).await
    }

    pub async fn get_agency(&self, id: AgencyId) -> Result<Agency, Error> {
        self.get(id).await
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
