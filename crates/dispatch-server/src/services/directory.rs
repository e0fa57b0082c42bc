//! `DirectoryService`: agencies, stations, units and cameras here; partner agencies in
//! `partners`; principals, credentials and the audit trail in `security`.

mod partners;
mod security;

use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use dispatch_domain::ids::{AgencyId, CameraId, StationId, UnitId};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_server::DirectoryService;

use crate::AppState;
use crate::auth::Principal;
use crate::edge::directory::{
    self, CreateAgency, CreateCamera, CreateStation, CreateUnit, DecommissionUnit, ListAgencies,
    ListCameras, ListStations, UpdateCamera, UpdateUnit,
};
use crate::edge::views;
use crate::error::Error;
use crate::services::request;

#[derive(Debug, Clone)]
pub struct Directory {
    state: Arc<AppState>,
}

impl Directory {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }

    fn unit_message(&self, unit: &dispatch_domain::directory::Unit) -> pb::Unit {
        views::unit(unit, Utc::now(), self.state.stale_after)
    }
}

#[tonic::async_trait]
impl DirectoryService for Directory {
    async fn create_agency(
        &self,
        request: Request<pb::CreateAgencyRequest>,
    ) -> Result<Response<pb::CreateAgencyResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CreateAgency::try_from(request.into_inner()).map_err(Error::from)?;
        let agency = self
            .state
            .store
            .create_agency(
                &command.mutation.key("CreateAgency", &principal),
                &principal.name,
                &command.agency,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::CreateAgencyResponse {
            agency: Some(directory::agency(&agency)),
        }))
    }

    async fn get_agency(
        &self,
        request: Request<pb::GetAgencyRequest>,
    ) -> Result<Response<pb::GetAgencyResponse>, Status> {
        let id = AgencyId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let agency = self.state.store.get_agency(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetAgencyResponse {
            agency: Some(directory::agency(&agency)),
        }))
    }

    async fn list_agencies(
        &self,
        request: Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        let query = ListAgencies::try_from(request.into_inner()).map_err(Error::from)?;
        let (agencies, next) = self
            .state
            .store
            .list_agencies(&query.kinds, &query.page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListAgenciesResponse {
            agencies: agencies.iter().map(directory::agency).collect(),
            next_page_token: request::code_token(next),
        }))
    }

    async fn create_station(
        &self,
        request: Request<pb::CreateStationRequest>,
    ) -> Result<Response<pb::CreateStationResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CreateStation::try_from(request.into_inner()).map_err(Error::from)?;
        let station = self
            .state
            .store
            .create_station(
                &command.mutation.key("CreateStation", &principal),
                &principal.name,
                &command.station,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::CreateStationResponse {
            station: Some(views::station(&station)),
        }))
    }

    async fn get_station(
        &self,
        request: Request<pb::GetStationRequest>,
    ) -> Result<Response<pb::GetStationResponse>, Status> {
        let id = StationId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let station = self
            .state
            .store
            .get_station(id)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::GetStationResponse {
            station: Some(views::station(&station)),
        }))
    }

    async fn list_stations(
        &self,
        request: Request<pb::ListStationsRequest>,
    ) -> Result<Response<pb::ListStationsResponse>, Status> {
        let query = ListStations::try_from(request.into_inner()).map_err(Error::from)?;
        let (stations, next) = self
            .state
            .store
            .list_stations(query.agency, query.area, &query.page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListStationsResponse {
            stations: stations.iter().map(views::station).collect(),
            next_page_token: request::code_token(next),
        }))
    }

    async fn create_unit(
        &self,
        request: Request<pb::CreateUnitRequest>,
    ) -> Result<Response<pb::CreateUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CreateUnit::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        let unit = self
            .state
            .store
            .create_unit(
                &command.mutation.key("CreateUnit", &principal),
                &principal.name,
                &command.unit,
            )
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::CreateUnitResponse {
            unit: Some(self.unit_message(&unit)),
        }))
    }

    async fn get_unit(
        &self,
        request: Request<pb::GetUnitRequest>,
    ) -> Result<Response<pb::GetUnitResponse>, Status> {
        let id = UnitId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let unit = self.state.store.get_unit(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetUnitResponse {
            unit: Some(self.unit_message(&unit)),
        }))
    }

    async fn decommission_unit(
        &self,
        request: Request<pb::DecommissionUnitRequest>,
    ) -> Result<Response<pb::DecommissionUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let command = DecommissionUnit::try_from(request.into_inner()).map_err(Error::from)?;
        let unit = self
            .state
            .store
            .decommission_unit(
                &command.mutation.key("DecommissionUnit", &principal),
                &principal.name,
                command.unit,
                &command.reason,
                command.etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::DecommissionUnitResponse {
            unit: Some(self.unit_message(&unit)),
        }))
    }

    async fn create_camera(
        &self,
        request: Request<pb::CreateCameraRequest>,
    ) -> Result<Response<pb::CreateCameraResponse>, Status> {
        let principal = Principal::of(&request);
        let command = CreateCamera::try_from(request.into_inner()).map_err(Error::from)?;
        let camera = self
            .state
            .store
            .create_camera(
                &command.mutation.key("CreateCamera", &principal),
                &principal.name,
                &command.camera,
            )
            .await
            .map_err(Error::from)?
            .value;
        if camera.active {
            self.state
                .engine()
                .upsert_camera(camera.id.0, camera.location);
        }
        Ok(Response::new(pb::CreateCameraResponse {
            camera: Some(views::camera(&camera)),
        }))
    }

    async fn get_camera(
        &self,
        request: Request<pb::GetCameraRequest>,
    ) -> Result<Response<pb::GetCameraResponse>, Status> {
        let id = CameraId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let camera = self.state.store.get_camera(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetCameraResponse {
            camera: Some(views::camera(&camera)),
        }))
    }

    async fn list_cameras(
        &self,
        request: Request<pb::ListCamerasRequest>,
    ) -> Result<Response<pb::ListCamerasResponse>, Status> {
        let query = ListCameras::try_from(request.into_inner()).map_err(Error::from)?;
        let (cameras, next) = self
            .state
            .store
            .list_cameras(&query.filter, &query.page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListCamerasResponse {
            cameras: cameras.iter().map(views::camera).collect(),
            next_page_token: request::code_token(next),
        }))
    }

    async fn update_unit(
        &self,
        request: Request<pb::UpdateUnitRequest>,
    ) -> Result<Response<pb::UpdateUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let command = UpdateUnit::try_from((request.into_inner(), &self.state.catalogue))
            .map_err(Error::from)?;
        let unit = self
            .state
            .store
            .update_unit(
                &command.mutation.key("UpdateUnit", &principal),
                &principal.name,
                command.unit,
                &command.changes,
                command.etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::UpdateUnitResponse {
            unit: Some(self.unit_message(&unit)),
        }))
    }

    async fn update_camera(
        &self,
        request: Request<pb::UpdateCameraRequest>,
    ) -> Result<Response<pb::UpdateCameraResponse>, Status> {
        let principal = Principal::of(&request);
        let command = UpdateCamera::try_from(request.into_inner()).map_err(Error::from)?;
        let camera = self
            .state
            .store
            .update_camera(
                &command.mutation.key("UpdateCamera", &principal),
                &principal.name,
                command.camera,
                &command.changes,
            )
            .await
            .map_err(Error::from)?
            .value;
        {
            let mut engine = self.state.engine();
            if camera.active {
                engine.upsert_camera(camera.id.0, camera.location);
            } else {
                engine.remove_camera(camera.id.0);
            }
        }
        Ok(Response::new(pb::UpdateCameraResponse {
            camera: Some(views::camera(&camera)),
        }))
    }

    async fn create_principal(
        &self,
        request: Request<pb::CreatePrincipalRequest>,
    ) -> Result<Response<pb::CreatePrincipalResponse>, Status> {
        security::create_principal(&self.state, request).await
    }

    async fn get_principal(
        &self,
        request: Request<pb::GetPrincipalRequest>,
    ) -> Result<Response<pb::GetPrincipalResponse>, Status> {
        security::get_principal(&self.state, request).await
    }

    async fn list_principals(
        &self,
        request: Request<pb::ListPrincipalsRequest>,
    ) -> Result<Response<pb::ListPrincipalsResponse>, Status> {
        security::list_principals(&self.state, request).await
    }

    async fn get_current_principal(
        &self,
        request: Request<pb::GetCurrentPrincipalRequest>,
    ) -> Result<Response<pb::GetCurrentPrincipalResponse>, Status> {
        security::get_current_principal(&self.state, request).await
    }

    async fn update_principal(
        &self,
        request: Request<pb::UpdatePrincipalRequest>,
    ) -> Result<Response<pb::UpdatePrincipalResponse>, Status> {
        security::update_principal(&self.state, request).await
    }

    async fn issue_credential(
        &self,
        request: Request<pb::IssueCredentialRequest>,
    ) -> Result<Response<pb::IssueCredentialResponse>, Status> {
        security::issue_credential(&self.state, request).await
    }

    async fn revoke_credential(
        &self,
        request: Request<pb::RevokeCredentialRequest>,
    ) -> Result<Response<pb::RevokeCredentialResponse>, Status> {
        security::revoke_credential(&self.state, request).await
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        security::list_credentials(&self.state, request).await
    }

    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        security::list_audit_records(&self.state, request).await
    }

    async fn create_partner_agency(
        &self,
        request: Request<pb::CreatePartnerAgencyRequest>,
    ) -> Result<Response<pb::CreatePartnerAgencyResponse>, Status> {
        partners::create_partner(&self.state, request).await
    }

    async fn get_partner_agency(
        &self,
        request: Request<pb::GetPartnerAgencyRequest>,
    ) -> Result<Response<pb::GetPartnerAgencyResponse>, Status> {
        partners::get_partner(&self.state, request).await
    }

    async fn list_partner_agencies(
        &self,
        request: Request<pb::ListPartnerAgenciesRequest>,
    ) -> Result<Response<pb::ListPartnerAgenciesResponse>, Status> {
        partners::list_partners(&self.state, request).await
    }

    async fn update_partner_agency(
        &self,
        request: Request<pb::UpdatePartnerAgencyRequest>,
    ) -> Result<Response<pb::UpdatePartnerAgencyResponse>, Status> {
        partners::update_partner(&self.state, request).await
    }

    async fn update_partner_capacity(
        &self,
        request: Request<pb::UpdatePartnerCapacityRequest>,
    ) -> Result<Response<pb::UpdatePartnerCapacityResponse>, Status> {
        partners::update_partner_capacity(&self.state, request).await
    }
}
