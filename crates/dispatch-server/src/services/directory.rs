//! `DirectoryService`: agencies, stations, units, cameras and partner agencies. Partner agencies
//! and principals arrive with the referral and security work and answer UNIMPLEMENTED until then.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use chrono::Utc;
use dispatch_domain::Violations;

use dispatch_domain::call::check_length;
use dispatch_domain::directory::{Agency, NewAgency, UnitStatus, check_code, check_display_name};
use dispatch_domain::ids::{AgencyId, CameraId, StationId, UnitId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::unit::default_capabilities;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_server::DirectoryService;
use dispatch_store::cameras::{CameraChanges, CameraFilter, NewCamera};
use dispatch_store::stations::NewStation;
use dispatch_store::units::{NewUnit, UnitChanges};

use crate::AppState;
use crate::auth::Principal;
use crate::convert::{self, timestamp};
use crate::error::Error;
use crate::services::request::idempotency;
use crate::services::views;

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
        let agency = self
            .state
            .store
            .create_agency(&key, &principal.name, &agency)
            .await
            .map_err(Error::from)?
            .value;
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

    async fn create_station(
        &self,
        request: Request<pb::CreateStationRequest>,
    ) -> Result<Response<pb::CreateStationResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CreateStation",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(station) = message.station else {
            violations.add("station", "required");
            return Err(crate::error::invalid(&violations));
        };
        let agency = violations.collect(AgencyId::parse_name("station.agency", &station.agency));
        check_code(&mut violations, "station.code", &station.code, 64);
        check_display_name(
            &mut violations,
            "station.display_name",
            &station.display_name,
        );
        check_length(&mut violations, "station.address", &station.address, 500);
        let location = point(
            "station.location",
            station.location.as_ref(),
            &mut violations,
        );
        let (Some(key), Some(agency), Some(location)) = (key, agency, location) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let new = NewStation {
            agency,
            code: station.code,
            display_name: station.display_name,
            location,
            address: station.address,
        };
        let station = self
            .state
            .store
            .create_station(&key, &principal.name, &new)
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
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
        let agency = if message.agency.is_empty() {
            None
        } else {
            violations.collect(AgencyId::parse_name("agency", &message.agency))
        };
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| convert::bounding_box(b, &mut violations));
        let Some(page) = page.filter(|_| violations.is_empty()) else {
            return Err(crate::error::invalid(&violations));
        };
        let (stations, next) = self
            .state
            .store
            .list_stations(agency, area, &page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListStationsResponse {
            stations: stations.iter().map(views::station).collect(),
            next_page_token: convert::code_token(next),
        }))
    }

    async fn create_unit(
        &self,
        request: Request<pb::CreateUnitRequest>,
    ) -> Result<Response<pb::CreateUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CreateUnit",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(unit) = message.unit else {
            violations.add("unit", "required");
            return Err(crate::error::invalid(&violations));
        };
        let agency = violations.collect(AgencyId::parse_name("unit.agency", &unit.agency));
        let home_station = if unit.home_station.is_empty() {
            Some(None)
        } else {
            violations
                .collect(StationId::parse_name("unit.home_station", &unit.home_station).map(Some))
        };
        check_code(&mut violations, "unit.call_sign", &unit.call_sign, 32);
        let unit_type = views::unit_type_from(unit.unit_type);
        if unit_type.is_none() {
            violations.add("unit.unit_type", "required");
        }
        for (i, capability) in unit.capabilities.iter().enumerate() {
            if !self.state.catalogue.has_capability(capability) {
                violations.add(
                    format!("unit.capabilities[{i}]"),
                    format!(
                        "unknown capability {capability:?}; the catalogue lists the known ones"
                    ),
                );
            }
        }
        // Unless told otherwise a new unit is out of service until its crew signs on: its
        // tracker may report positions before anyone is aboard (CreateUnitRequest).
        let status = match views::unit_status_from(unit.status) {
            None | Some(UnitStatus::OutOfService) => Some(UnitStatus::OutOfService),
            Some(UnitStatus::Available) => Some(UnitStatus::Available),
            Some(_) => {
                violations.add("unit.status", "a new unit is AVAILABLE or OUT_OF_SERVICE");
                None
            }
        };
        let (Some(key), Some(agency), Some(home_station), Some(unit_type), Some(status)) =
            (key, agency, home_station, unit_type, status)
        else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let mut capabilities = if unit.capabilities.is_empty() {
            default_capabilities(unit_type)
                .iter()
                .map(|c| (*c).to_owned())
                .collect()
        } else {
            unit.capabilities
        };
        capabilities.sort();
        capabilities.dedup();
        let new = NewUnit {
            agency,
            home_station,
            call_sign: unit.call_sign,
            unit_type,
            capabilities,
            status,
        };
        let unit = self
            .state
            .store
            .create_unit(&key, &principal.name, &new)
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::CreateUnitResponse {
            unit: Some(views::unit(&unit, Utc::now(), self.state.stale_after)),
        }))
    }

    async fn get_unit(
        &self,
        request: Request<pb::GetUnitRequest>,
    ) -> Result<Response<pb::GetUnitResponse>, Status> {
        let id = UnitId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        let unit = self.state.store.get_unit(id).await.map_err(Error::from)?;
        Ok(Response::new(pb::GetUnitResponse {
            unit: Some(views::unit(&unit, Utc::now(), self.state.stale_after)),
        }))
    }

    async fn decommission_unit(
        &self,
        request: Request<pb::DecommissionUnitRequest>,
    ) -> Result<Response<pb::DecommissionUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "DecommissionUnit",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(UnitId::parse_name("name", &message.name));
        if message.reason.trim().is_empty() {
            violations.add("reason", "required");
        }
        check_length(&mut violations, "reason", &message.reason, 4_000);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let unit = self
            .state
            .store
            .decommission_unit(&key, &principal.name, id, &message.reason, etag)
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::DecommissionUnitResponse {
            unit: Some(views::unit(&unit, Utc::now(), self.state.stale_after)),
        }))
    }

    async fn create_camera(
        &self,
        request: Request<pb::CreateCameraRequest>,
    ) -> Result<Response<pb::CreateCameraResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CreateCamera",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(camera) = message.camera else {
            violations.add("camera", "required");
            return Err(crate::error::invalid(&violations));
        };
        let valid_code = !camera.code.is_empty()
            && camera.code.len() <= 64
            && camera
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if !valid_code {
            violations.add(
                "camera.code",
                "required: 1 to 64 of A-Z, a-z, 0-9, '_', '.', ':', '-'",
            );
        }
        let kind = views::device_kind_from(camera.kind);
        if kind.is_none() {
            violations.add("camera.kind", "required");
        }
        let location = point("camera.location", camera.location.as_ref(), &mut violations);
        check_length(
            &mut violations,
            "camera.description",
            &camera.description,
            500,
        );
        let agency = if camera.agency.is_empty() {
            Some(None)
        } else {
            violations.collect(AgencyId::parse_name("camera.agency", &camera.agency).map(Some))
        };
        let (Some(key), Some(kind), Some(location), Some(agency)) = (key, kind, location, agency)
        else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        // A new device is active unless created otherwise; proto3 cannot tell unset from false,
        // so devices are created active and deactivated with UpdateCamera.
        let new = NewCamera {
            code: camera.code,
            kind,
            location,
            description: camera.description,
            agency,
            active: true,
        };
        let camera = self
            .state
            .store
            .create_camera(&key, &principal.name, &new)
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
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
        let kinds = violations.collect(convert::enum_filter(
            "kinds",
            &message.kinds,
            views::device_kind_from,
        ));
        let agency = if message.agency.is_empty() {
            None
        } else {
            violations.collect(AgencyId::parse_name("agency", &message.agency))
        };
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| convert::bounding_box(b, &mut violations));
        // No code holds a NUL (PostgreSQL text cannot) or runs past 64 characters.
        check_length(&mut violations, "code", &message.code, 64);
        let (Some(page), Some(kinds)) = (page, kinds) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let filter = CameraFilter {
            kinds,
            agency,
            area,
            include_inactive: message.include_inactive,
            code: (!message.code.is_empty()).then_some(message.code),
        };
        let (cameras, next) = self
            .state
            .store
            .list_cameras(&filter, &page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListCamerasResponse {
            cameras: cameras.iter().map(views::camera).collect(),
            next_page_token: convert::code_token(next),
        }))
    }

    async fn update_unit(
        &self,
        request: Request<pb::UpdateUnitRequest>,
    ) -> Result<Response<pb::UpdateUnitResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "UpdateUnit",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(unit) = &message.unit else {
            violations.add("unit", "required: the unit's name, etag and new values");
            return Err(crate::error::invalid(&violations));
        };
        let id = violations.collect(UnitId::parse_name("unit.name", &unit.name));
        let etag = match violations.collect(convert::etag_from("unit.etag", &unit.etag)) {
            Some(Some(version)) => Some(version),
            Some(None) => {
                violations.add(
                    "unit.etag",
                    "required: the etag of the unit as you last read it",
                );
                None
            }
            None => None,
        };
        let paths = message
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            violations.add(
                "update_mask",
                "required: which of call_sign, unit_type, capabilities, home_station to change",
            );
        }
        let mut changes = UnitChanges::default();
        for (i, path) in paths.iter().enumerate() {
            match path.as_str() {
                "call_sign" => {
                    check_code(&mut violations, "unit.call_sign", &unit.call_sign, 32);
                    changes.call_sign = Some(unit.call_sign.clone());
                }
                "unit_type" => match views::unit_type_from(unit.unit_type) {
                    Some(t) => changes.unit_type = Some(t),
                    None => violations.add("unit.unit_type", "required"),
                },
                "capabilities" => {
                    for (j, capability) in unit.capabilities.iter().enumerate() {
                        if !self.state.catalogue.has_capability(capability) {
                            violations.add(format!("unit.capabilities[{j}]"), format!("unknown capability {capability:?}"));
                        }
                    }
                    let mut capabilities = unit.capabilities.clone();
                    capabilities.sort();
                    capabilities.dedup();
                    changes.capabilities = Some(capabilities);
                }
                "home_station" => {
                    changes.home_station = if unit.home_station.is_empty() {
                        Some(None)
                    } else {
                        violations.collect(StationId::parse_name("unit.home_station", &unit.home_station)).map(Some)
                    };
                }
                other => violations.add(
                    format!("update_mask.paths[{i}]"),
                    format!("{other:?} cannot be updated; allowed: call_sign, unit_type, capabilities, home_station"),
                ),
            }
        }
        let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let unit = self
            .state
            .store
            .update_unit(&key, &principal.name, id, &changes, etag)
            .await
            .map_err(Error::from)?
            .value;
        self.state.sync_unit(&unit);
        Ok(Response::new(pb::UpdateUnitResponse {
            unit: Some(views::unit(&unit, Utc::now(), self.state.stale_after)),
        }))
    }

    async fn update_camera(
        &self,
        request: Request<pb::UpdateCameraRequest>,
    ) -> Result<Response<pb::UpdateCameraResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "UpdateCamera",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(camera) = &message.camera else {
            violations.add("camera", "required: the device's name and new values");
            return Err(crate::error::invalid(&violations));
        };
        let id = violations.collect(CameraId::parse_name("camera.name", &camera.name));
        let paths = message
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            violations.add(
                "update_mask",
                "required: which of location, description, agency, active to change",
            );
        }
        let mut changes = CameraChanges::default();
        for (i, path) in paths.iter().enumerate() {
            match path.as_str() {
                "location" => changes.location = point("camera.location", camera.location.as_ref(), &mut violations),
                "description" => {
                    check_length(&mut violations, "camera.description", &camera.description, 500);
                    changes.description = Some(camera.description.clone());
                }
                "agency" => {
                    changes.agency = if camera.agency.is_empty() {
                        Some(None)
                    } else {
                        violations.collect(AgencyId::parse_name("camera.agency", &camera.agency)).map(Some)
                    };
                }
                "active" => changes.active = Some(camera.active),
                other => violations.add(
                    format!("update_mask.paths[{i}]"),
                    format!("{other:?} cannot be updated; allowed: location, description, agency, active"),
                ),
            }
        }
        let (Some(key), Some(id)) = (key, id) else {
            return Err(crate::error::invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(crate::error::invalid(&violations));
        }
        let camera = self
            .state
            .store
            .update_camera(&key, &principal.name, id, &changes)
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
        super::security::create_principal(&self.state, request).await
    }

    async fn get_principal(
        &self,
        request: Request<pb::GetPrincipalRequest>,
    ) -> Result<Response<pb::GetPrincipalResponse>, Status> {
        super::security::get_principal(&self.state, request).await
    }

    async fn list_principals(
        &self,
        request: Request<pb::ListPrincipalsRequest>,
    ) -> Result<Response<pb::ListPrincipalsResponse>, Status> {
        super::security::list_principals(&self.state, request).await
    }

    async fn get_current_principal(
        &self,
        request: Request<pb::GetCurrentPrincipalRequest>,
    ) -> Result<Response<pb::GetCurrentPrincipalResponse>, Status> {
        super::security::get_current_principal(&self.state, request).await
    }

    async fn update_principal(
        &self,
        request: Request<pb::UpdatePrincipalRequest>,
    ) -> Result<Response<pb::UpdatePrincipalResponse>, Status> {
        super::security::update_principal(&self.state, request).await
    }

    async fn issue_credential(
        &self,
        request: Request<pb::IssueCredentialRequest>,
    ) -> Result<Response<pb::IssueCredentialResponse>, Status> {
        super::security::issue_credential(&self.state, request).await
    }

    async fn revoke_credential(
        &self,
        request: Request<pb::RevokeCredentialRequest>,
    ) -> Result<Response<pb::RevokeCredentialResponse>, Status> {
        super::security::revoke_credential(&self.state, request).await
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        super::security::list_credentials(&self.state, request).await
    }

    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        super::security::list_audit_records(&self.state, request).await
    }

    async fn create_partner_agency(
        &self,
        request: Request<pb::CreatePartnerAgencyRequest>,
    ) -> Result<Response<pb::CreatePartnerAgencyResponse>, Status> {
        super::referrals::create_partner(&self.state, request).await
    }

    async fn get_partner_agency(
        &self,
        request: Request<pb::GetPartnerAgencyRequest>,
    ) -> Result<Response<pb::GetPartnerAgencyResponse>, Status> {
        super::referrals::get_partner(&self.state, request).await
    }

    async fn list_partner_agencies(
        &self,
        request: Request<pb::ListPartnerAgenciesRequest>,
    ) -> Result<Response<pb::ListPartnerAgenciesResponse>, Status> {
        super::referrals::list_partners(&self.state, request).await
    }

    async fn update_partner_agency(
        &self,
        request: Request<pb::UpdatePartnerAgencyRequest>,
    ) -> Result<Response<pb::UpdatePartnerAgencyResponse>, Status> {
        super::referrals::update_partner(&self.state, request).await
    }

    async fn update_partner_capacity(
        &self,
        request: Request<pb::UpdatePartnerCapacityRequest>,
    ) -> Result<Response<pb::UpdatePartnerCapacityResponse>, Status> {
        super::referrals::update_partner_capacity(&self.state, request).await
    }
}

fn point(
    field: &str,
    value: Option<&pb::GeoPoint>,
    violations: &mut Violations,
) -> Option<GeoPoint> {
    match value {
        Some(p) => {
            violations.collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within(field)))
        }
        None => {
            violations.add(field, "required");
            None
        }
    }
}
