//! `DirectoryService`: agencies, stations, units, cameras and partner agencies. Agencies are
//! served now; the rest arrives with the units and referral work and answers UNIMPLEMENTED.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::directory::{Agency, NewAgency};
use dispatch_domain::ids::AgencyId;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_server::DirectoryService;

use crate::AppState;
use crate::auth::Principal;
use crate::convert::{self, timestamp};
use crate::error::Error;
use crate::services::call_intake::idempotency;

#[derive(Debug, Clone)]
pub struct Directory {
    state: Arc<AppState>,
}

impl Directory {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

fn agency_message(agency: &Agency) -> pb::Agency {
    pb::Agency {
        name: agency.id.name(),
        code: agency.details.code.clone(),
        display_name: agency.details.display_name.clone(),
        kind: convert::agency_kind(agency.details.kind).into(),
        create_time: Some(timestamp(agency.created_at)),
        update_time: Some(timestamp(agency.updated_at)),
    }
}

#[tonic::async_trait]
impl DirectoryService for Directory {
    async fn create_agency(
        &self,
        request: Request<pb::CreateAgencyRequest>,
    ) -> Result<Response<pb::CreateAgencyResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CreateAgency",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let agency = match message.agency {
            Some(agency) => violations.collect(
                NewAgency::new(
                    agency.code,
                    agency.display_name,
                    convert::agency_kind_from(agency.kind),
                )
                .map_err(|v| v.within("agency")),
            ),
            None => {
                violations.add("agency", "required");
                None
            }
        };
        let (Some(key), Some(agency)) = (key, agency) else {
            return Err(crate::error::invalid(&violations));
        };
        let (agency, _) = self
            .state
            .store
            .create_agency(&key, &principal.name, &agency)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::CreateAgencyResponse {
            agency: Some(agency_message(&agency)),
        }))
    }

    async fn get_agency(
        &self,
        request: Request<pb::GetAgencyRequest>,
    ) -> Result<Response<pb::GetAgencyResponse>, Status> {
        let id = AgencyId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let agency = self.state.store.get_agency(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetAgencyResponse {
            agency: Some(agency_message(&agency)),
        }))
    }

    async fn list_agencies(
        &self,
        request: Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
        let kinds = violations.collect(convert::enum_filter(
            "kinds",
            &message.kinds,
            convert::agency_kind_from,
        ));
        let (Some(page), Some(kinds)) = (page, kinds) else {
            return Err(crate::error::invalid(&violations));
        };
        let (agencies, next) = self
            .state
            .store
            .list_agencies(&kinds, &page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListAgenciesResponse {
            agencies: agencies.iter().map(agency_message).collect(),
            next_page_token: convert::code_token(next),
        }))
    }
}
