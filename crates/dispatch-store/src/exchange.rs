//! An incident with everything other systems are told about it (a NENA EIDO is made from this
//! by the server): its detail, its calls in full, and the agencies and principals it names,
//! read in one repeatable-read transaction so that the parts describe the same moment.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use dispatch_domain::call::Call;
use dispatch_domain::directory::Agency;
use dispatch_domain::ids::IncidentId;
use dispatch_domain::principal::Principal;

use crate::incidents::{IncidentDetail, load_detail};
use crate::rows::{AgencyRow, CallRow, PrincipalRow};
use crate::schema::{agencies, calls, principals};
use crate::{Error, Store};

/// An incident as another system is told it.
#[derive(Debug, Clone)]
pub struct IncidentExchange {
    pub detail: IncidentDetail,
    /// The linked calls, oldest first.
    pub calls: Vec<Call>,
    /// The agencies of the assigned units and of the principals below.
    pub agencies: Vec<Agency>,
    /// The principals behind the actors named (call takers, note authors, dispatchers, the
    /// timeline's actors).
    pub principals: Vec<Principal>,
}

impl Store {
    pub async fn incident_exchange(&self, id: IncidentId) -> Result<IncidentExchange, Error> {
        let mut conn = self.conn().await?;
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(async |conn| {
                let detail = load_detail(conn, id).await?;
                let calls: Vec<Call> = calls::table
                    .filter(calls::incident_id.eq(id.0))
                    .order((calls::received_at.asc(), calls::id.asc()))
                    .select(CallRow::as_select())
                    .load(conn)
                    .await?
                    .into_iter()
                    .map(Call::try_from)
                    .collect::<Result<_, _>>()?;
                let actors: Vec<Uuid> = calls
                    .iter()
                    .map(|call| call.call_taker.as_str())
                    .chain(detail.notes.iter().map(|note| note.author.as_str()))
                    .chain(detail.assignments.iter().map(|a| a.assigned_by.as_str()))
                    .chain(detail.timeline.iter().map(|event| event.actor.as_str()))
                    .chain([detail.incident.created_by.as_str()])
                    .filter_map(|actor| actor.strip_prefix("principals/")?.parse().ok())
                    .collect::<BTreeSet<Uuid>>()
                    .into_iter()
                    .collect();
                let principals: Vec<Principal> = principals::table
                    .filter(principals::id.eq_any(&actors))
                    .order(principals::name.asc())
                    .select(PrincipalRow::as_select())
                    .load(conn)
                    .await?
                    .into_iter()
                    .map(Principal::try_from)
                    .collect::<Result<_, _>>()?;
                let agency_ids: Vec<Uuid> = detail
                    .assignments
                    .iter()
                    .map(|a| a.agency.0)
                    .chain(principals.iter().filter_map(|p| p.agency.map(|a| a.0)))
                    .collect::<BTreeSet<Uuid>>()
                    .into_iter()
                    .collect();
                let agencies: Vec<Agency> = agencies::table
                    .filter(agencies::id.eq_any(&agency_ids))
                    .order(agencies::code.asc())
                    .select(AgencyRow::as_select())
                    .load(conn)
                    .await?
                    .into_iter()
                    .map(Agency::try_from)
                    .collect::<Result<_, _>>()?;
                Ok(IncidentExchange {
                    detail,
                    calls,
                    agencies,
                    principals,
                })
            })
            .await
    }
}
