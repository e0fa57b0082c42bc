//! `DirectoryService`: agencies, stations, units and cameras here; partner agencies in
//! `partners`; principals, credentials and the audit trail in `security`.

mod partners;
mod security;

use chrono::Utc;

use dispatch_domain::ids::{AgencyId, CameraId, StationId, UnitId};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_server::DirectoryService;

use super::rpc::{Caller, service};
use crate::edge::directory::{
    self, CreateAgency, CreateCamera, CreateStation, CreateUnit, DecommissionUnit, ListAgencies,
    ListCameras, ListStations, UpdateCamera, UpdateUnit,
};
use crate::edge::views;
use crate::error::Error;
use crate::services::request;

service! {
    /// Agencies, stations, units, cameras, partner agencies, principals, credentials, audit.
    Directory: DirectoryService {
        rpc create_agency(CreateAgencyRequest) -> CreateAgencyResponse;
        rpc get_agency(GetAgencyRequest) -> GetAgencyResponse;
        rpc list_agencies(ListAgenciesRequest) -> ListAgenciesResponse;
        rpc create_station(CreateStationRequest) -> CreateStationResponse;
        rpc get_station(GetStationRequest) -> GetStationResponse;
        rpc list_stations(ListStationsRequest) -> ListStationsResponse;
        rpc create_unit(CreateUnitRequest, catalogue) -> CreateUnitResponse;
        rpc get_unit(GetUnitRequest) -> GetUnitResponse;
        rpc update_unit(UpdateUnitRequest, catalogue) -> UpdateUnitResponse;
        rpc decommission_unit(DecommissionUnitRequest) -> DecommissionUnitResponse;
        rpc create_camera(CreateCameraRequest) -> CreateCameraResponse;
        rpc get_camera(GetCameraRequest) -> GetCameraResponse;
        rpc list_cameras(ListCamerasRequest) -> ListCamerasResponse;
        rpc update_camera(UpdateCameraRequest) -> UpdateCameraResponse;
        rpc create_principal(CreatePrincipalRequest) -> CreatePrincipalResponse;
        rpc get_principal(GetPrincipalRequest) -> GetPrincipalResponse;
        rpc list_principals(ListPrincipalsRequest) -> ListPrincipalsResponse;
        rpc get_current_principal(GetCurrentPrincipalRequest) -> GetCurrentPrincipalResponse;
        rpc update_principal(UpdatePrincipalRequest) -> UpdatePrincipalResponse;
        rpc issue_credential(IssueCredentialRequest) -> IssueCredentialResponse;
        rpc revoke_credential(RevokeCredentialRequest) -> RevokeCredentialResponse;
        rpc list_credentials(ListCredentialsRequest) -> ListCredentialsResponse;
        rpc list_audit_records(ListAuditRecordsRequest) -> ListAuditRecordsResponse;
        rpc create_partner_agency(CreatePartnerAgencyRequest) -> CreatePartnerAgencyResponse;
        rpc get_partner_agency(GetPartnerAgencyRequest) -> GetPartnerAgencyResponse;
        rpc list_partner_agencies(ListPartnerAgenciesRequest) -> ListPartnerAgenciesResponse;
        rpc update_partner_agency(UpdatePartnerAgencyRequest) -> UpdatePartnerAgencyResponse;
        rpc update_partner_capacity(UpdatePartnerCapacityRequest)
            -> UpdatePartnerCapacityResponse;
    }
}

impl Directory {
    fn unit_message(&self, unit: &dispatch_domain::directory::Unit) -> pb::Unit {
        views::unit(unit, Utc::now(), self.state.stale_after)
    }

    async fn create_agency(
        &self,
        caller: Caller,
        command: CreateAgency,
    ) -> Result<pb::CreateAgencyResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let agency = store.create_agency(&key, caller.actor(), &command.agency);
        Ok(pb::CreateAgencyResponse {
            agency: Some(directory::agency(&agency.await?.value)),
        })
    }

    async fn get_agency(
        &self,
        _: Caller,
        request: pb::GetAgencyRequest,
    ) -> Result<pb::GetAgencyResponse, Error> {
        let id = AgencyId::parse_name("name", &request.name)?;
        let agency = self.state.store.get_agency(id).await?;
        Ok(pb::GetAgencyResponse {
            agency: Some(directory::agency(&agency)),
        })
    }

    async fn list_agencies(
        &self,
        _: Caller,
        query: ListAgencies,
    ) -> Result<pb::ListAgenciesResponse, Error> {
        let store = &self.state.store;
        let (agencies, next) = store.list_agencies(&query.kinds, &query.page).await?;
        Ok(pb::ListAgenciesResponse {
            agencies: agencies.iter().map(directory::agency).collect(),
            next_page_token: request::code_token(next),
        })
    }

    async fn create_station(
        &self,
        caller: Caller,
        command: CreateStation,
    ) -> Result<pb::CreateStationResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let station = store
            .create_station(&key, caller.actor(), &command.station)
            .await?;
        self.state.remember_station(&station.value);
        Ok(pb::CreateStationResponse {
            station: Some(views::station(&station.value)),
        })
    }

    async fn get_station(
        &self,
        _: Caller,
        request: pb::GetStationRequest,
    ) -> Result<pb::GetStationResponse, Error> {
        let id = StationId::parse_name("name", &request.name)?;
        let station = self.state.store.get_station(id).await?;
        Ok(pb::GetStationResponse {
            station: Some(views::station(&station)),
        })
    }

    async fn list_stations(
        &self,
        _: Caller,
        query: ListStations,
    ) -> Result<pb::ListStationsResponse, Error> {
        let store = &self.state.store;
        let page = &query.page;
        let (stations, next) = store.list_stations(query.agency, query.area, page).await?;
        Ok(pb::ListStationsResponse {
            stations: stations.iter().map(views::station).collect(),
            next_page_token: request::code_token(next),
        })
    }

    async fn create_unit(
        &self,
        caller: Caller,
        command: CreateUnit,
    ) -> Result<pb::CreateUnitResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let unit = store
            .create_unit(&key, caller.actor(), &command.unit)
            .await?
            .value;
        self.state.sync_unit(&unit);
        Ok(pb::CreateUnitResponse {
            unit: Some(self.unit_message(&unit)),
        })
    }

    async fn get_unit(
        &self,
        _: Caller,
        request: pb::GetUnitRequest,
    ) -> Result<pb::GetUnitResponse, Error> {
        let id = UnitId::parse_name("name", &request.name)?;
        let unit = self.state.store.get_unit(id).await?;
        Ok(pb::GetUnitResponse {
            unit: Some(self.unit_message(&unit)),
        })
    }

    async fn update_unit(
        &self,
        caller: Caller,
        command: UpdateUnit,
    ) -> Result<pb::UpdateUnitResponse, Error> {
        let UpdateUnit {
            mutation,
            unit,
            changes,
            etag,
        } = command;
        let key = caller.key(mutation);
        let store = &self.state.store;
        let updated = store.update_unit(&key, caller.actor(), unit, &changes, etag);
        let unit = updated.await?.value;
        self.state.sync_unit(&unit);
        Ok(pb::UpdateUnitResponse {
            unit: Some(self.unit_message(&unit)),
        })
    }

    async fn decommission_unit(
        &self,
        caller: Caller,
        command: DecommissionUnit,
    ) -> Result<pb::DecommissionUnitResponse, Error> {
        let DecommissionUnit {
            mutation,
            unit,
            reason,
            etag,
        } = command;
        let key = caller.key(mutation);
        let store = &self.state.store;
        let decommissioned = store.decommission_unit(&key, caller.actor(), unit, &reason, etag);
        let unit = decommissioned.await?.value;
        self.state.sync_unit(&unit);
        Ok(pb::DecommissionUnitResponse {
            unit: Some(self.unit_message(&unit)),
        })
    }

    async fn create_camera(
        &self,
        caller: Caller,
        command: CreateCamera,
    ) -> Result<pb::CreateCameraResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let camera = store
            .create_camera(&key, caller.actor(), &command.camera)
            .await?
            .value;
        self.state.sync_camera(&camera);
        Ok(pb::CreateCameraResponse {
            camera: Some(views::camera(&camera)),
        })
    }

    async fn get_camera(
        &self,
        _: Caller,
        request: pb::GetCameraRequest,
    ) -> Result<pb::GetCameraResponse, Error> {
        let id = CameraId::parse_name("name", &request.name)?;
        let camera = self.state.store.get_camera(id).await?;
        Ok(pb::GetCameraResponse {
            camera: Some(views::camera(&camera)),
        })
    }

    async fn list_cameras(
        &self,
        _: Caller,
        query: ListCameras,
    ) -> Result<pb::ListCamerasResponse, Error> {
        let store = &self.state.store;
        let (cameras, next) = store.list_cameras(&query.filter, &query.page).await?;
        Ok(pb::ListCamerasResponse {
            cameras: cameras.iter().map(views::camera).collect(),
            next_page_token: request::code_token(next),
        })
    }

    async fn update_camera(
        &self,
        caller: Caller,
        command: UpdateCamera,
    ) -> Result<pb::UpdateCameraResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let updated = store.update_camera(&key, caller.actor(), command.camera, &command.changes);
        let camera = updated.await?.value;
        self.state.sync_camera(&camera);
        Ok(pb::UpdateCameraResponse {
            camera: Some(views::camera(&camera)),
        })
    }
}
