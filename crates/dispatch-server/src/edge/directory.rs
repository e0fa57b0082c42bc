//! DirectoryService on the wire: agencies, stations, units and cameras. (Partners are in
//! `partners`, principals and credentials in `security`.)

use dispatch_domain::Violations;
use dispatch_domain::call::check_length;
use dispatch_domain::directory::{
    Agency, AgencyKind, DeviceKind, NewAgency, UnitStatus, UnitType, check_code, check_display_name,
};
use dispatch_domain::ids::{AgencyId, CameraId, StationId, UnitId};
use dispatch_domain::location::BoundingBox;
use dispatch_domain::triage::Catalogue;
use dispatch_domain::unit::default_capabilities;
use dispatch_proto::v1 as pb;
use dispatch_store::Page;
use dispatch_store::cameras::{CameraChanges, CameraFilter, NewCamera};
use dispatch_store::stations::NewStation;
use dispatch_store::units::{NewUnit, UnitChanges};

use super::enums::{WireEnum, enum_filter};
use super::wire::{self, Fields as _, mutation, required_point, timestamp, valid};
use crate::services::request::{self, Mutation};

pub fn agency(agency: &Agency) -> pb::Agency {
    pb::Agency {
        name: agency.id.name(),
        code: agency.details.code.clone(),
        display_name: agency.details.display_name.clone(),
        kind: agency.details.kind.wire(),
        create_time: Some(timestamp(agency.created_at)),
        update_time: Some(timestamp(agency.updated_at)),
    }
}

pub struct CreateAgency {
    pub mutation: Mutation,
    pub agency: NewAgency,
}

impl TryFrom<pb::CreateAgencyRequest> for CreateAgency {
    type Error = Violations;

    fn try_from(message: pb::CreateAgencyRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let agency = match message.agency {
            Some(agency) => violations.collect(
                NewAgency::new(
                    agency.code,
                    agency.display_name,
                    AgencyKind::from_wire(agency.kind),
                )
                .map_err(|v| v.within("agency")),
            ),
            None => {
                violations.add("agency", "required");
                None
            }
        };
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                agency: agency?,
            })
        })
    }
}

pub struct ListAgencies {
    pub kinds: Vec<AgencyKind>,
    pub page: Page<String>,
}

impl TryFrom<pb::ListAgenciesRequest> for ListAgencies {
    type Error = Violations;

    fn try_from(message: pb::ListAgenciesRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let kinds = violations.collect(enum_filter::<AgencyKind>("kinds", &message.kinds));
        valid(violations, || {
            Some(Self {
                kinds: kinds?,
                page: page?,
            })
        })
    }
}

pub struct CreateStation {
    pub mutation: Mutation,
    pub station: NewStation,
}

impl TryFrom<pb::CreateStationRequest> for CreateStation {
    type Error = Violations;

    fn try_from(message: pb::CreateStationRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let station = wire::required(message.station, "station", "required", &mut violations)?;
        let agency = violations.collect(AgencyId::parse_name("station.agency", &station.agency));
        check_code(&mut violations, "station.code", &station.code, 64);
        check_display_name(
            &mut violations,
            "station.display_name",
            &station.display_name,
        );
        check_length(&mut violations, "station.address", &station.address, 500);
        let location = required_point(
            "station.location",
            station.location.as_ref(),
            &mut violations,
        );
        let (Some(mutation), Some(agency), Some(location)) = (mutation, agency, location) else {
            return Err(violations);
        };
        let station = NewStation {
            agency,
            code: station.code,
            display_name: station.display_name,
            location,
            address: station.address,
        };
        valid(violations, || Some(Self { mutation, station }))
    }
}

pub struct ListStations {
    pub agency: Option<AgencyId>,
    pub area: Option<BoundingBox>,
    pub page: Page<String>,
}

impl TryFrom<pb::ListStationsRequest> for ListStations {
    type Error = Violations;

    fn try_from(message: pb::ListStationsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let agency = violations.optional("agency", &message.agency, AgencyId::parse_name);
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| wire::bounding_box(b, &mut violations));
        valid(violations, || {
            Some(Self {
                agency,
                area,
                page: page?,
            })
        })
    }
}

pub struct CreateUnit {
    pub mutation: Mutation,
    pub unit: NewUnit,
}

impl TryFrom<(pb::CreateUnitRequest, &Catalogue)> for CreateUnit {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::CreateUnitRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let unit = wire::required(message.unit, "unit", "required", &mut violations)?;
        let agency = violations.collect(AgencyId::parse_name("unit.agency", &unit.agency));
        let home_station = violations.optional(
            "unit.home_station",
            &unit.home_station,
            StationId::parse_name,
        );
        check_code(&mut violations, "unit.call_sign", &unit.call_sign, 32);
        let unit_type = UnitType::from_wire(unit.unit_type);
        if unit_type.is_none() {
            violations.add("unit.unit_type", "required");
        }
        for (i, capability) in unit.capabilities.iter().enumerate() {
            if !catalogue.has_capability(capability) {
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
        let status = match UnitStatus::from_wire(unit.status) {
            None | Some(UnitStatus::OutOfService) => Some(UnitStatus::OutOfService),
            Some(UnitStatus::Available) => Some(UnitStatus::Available),
            Some(_) => {
                violations.add("unit.status", "a new unit is AVAILABLE or OUT_OF_SERVICE");
                None
            }
        };
        let (Some(mutation), Some(agency), Some(unit_type), Some(status)) =
            (mutation, agency, unit_type, status)
        else {
            return Err(violations);
        };
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
        let unit = NewUnit {
            agency,
            home_station,
            call_sign: unit.call_sign,
            unit_type,
            capabilities,
            status,
        };
        valid(violations, || Some(Self { mutation, unit }))
    }
}

pub struct DecommissionUnit {
    pub mutation: Mutation,
    pub unit: UnitId,
    pub reason: String,
    pub etag: Option<i64>,
}

impl TryFrom<pb::DecommissionUnitRequest> for DecommissionUnit {
    type Error = Violations;

    fn try_from(message: pb::DecommissionUnitRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let unit = violations.collect(UnitId::parse_name("name", &message.name));
        if message.reason.trim().is_empty() {
            violations.add("reason", "required");
        }
        check_length(&mut violations, "reason", &message.reason, 4_000);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                unit: unit?,
                reason: message.reason,
                etag: etag?,
            })
        })
    }
}

fn is_device_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

pub struct CreateCamera {
    pub mutation: Mutation,
    pub camera: NewCamera,
}

impl TryFrom<pb::CreateCameraRequest> for CreateCamera {
    type Error = Violations;

    fn try_from(message: pb::CreateCameraRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let camera = wire::required(message.camera, "camera", "required", &mut violations)?;
        if !is_device_code(&camera.code) {
            violations.add(
                "camera.code",
                "required: 1 to 64 of A-Z, a-z, 0-9, '_', '.', ':', '-'",
            );
        }
        let kind = DeviceKind::from_wire(camera.kind);
        if kind.is_none() {
            violations.add("camera.kind", "required");
        }
        let location = required_point("camera.location", camera.location.as_ref(), &mut violations);
        check_length(
            &mut violations,
            "camera.description",
            &camera.description,
            500,
        );
        let agency = violations.optional("camera.agency", &camera.agency, AgencyId::parse_name);
        let (Some(mutation), Some(kind), Some(location)) = (mutation, kind, location) else {
            return Err(violations);
        };
        // A new device is active unless created otherwise; proto3 cannot tell unset from false,
        // so devices are created active and deactivated with UpdateCamera.
        let camera = NewCamera {
            code: camera.code,
            kind,
            location,
            description: camera.description,
            agency,
            active: true,
        };
        valid(violations, || Some(Self { mutation, camera }))
    }
}

pub struct ListCameras {
    pub filter: CameraFilter,
    pub page: Page<String>,
}

impl TryFrom<pb::ListCamerasRequest> for ListCameras {
    type Error = Violations;

    fn try_from(message: pb::ListCamerasRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let kinds = violations.collect(enum_filter::<DeviceKind>("kinds", &message.kinds));
        let agency = violations.optional("agency", &message.agency, AgencyId::parse_name);
        let area = message
            .bounding_box
            .as_ref()
            .and_then(|b| wire::bounding_box(b, &mut violations));
        // No code holds a NUL (PostgreSQL text cannot) or runs past 64 characters.
        check_length(&mut violations, "code", &message.code, 64);
        let (Some(page), Some(kinds)) = (page, kinds) else {
            return Err(violations);
        };
        let filter = CameraFilter {
            kinds,
            agency,
            area,
            include_inactive: message.include_inactive,
            code: (!message.code.is_empty()).then_some(message.code),
        };
        valid(violations, || Some(Self { filter, page }))
    }
}

pub struct UpdateUnit {
    pub mutation: Mutation,
    pub unit: UnitId,
    pub changes: UnitChanges,
    pub etag: i64,
}

impl TryFrom<(pb::UpdateUnitRequest, &Catalogue)> for UpdateUnit {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::UpdateUnitRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let unit = wire::required(
            message.unit.as_ref(),
            "unit",
            "required: the unit's name, etag and new values",
            &mut violations,
        )?;
        let id = violations.collect(UnitId::parse_name("unit.name", &unit.name));
        let etag = request::required_etag("unit.etag", &unit.etag, "unit", &mut violations);
        let mask = wire::Mask::of(
            message.update_mask.as_ref(),
            "call_sign, unit_type, capabilities, home_station",
            &mut violations,
        );
        let mut changes = UnitChanges::default();
        for (i, path) in mask.paths() {
            match path {
                "call_sign" => {
                    check_code(&mut violations, "unit.call_sign", &unit.call_sign, 32);
                    changes.call_sign = Some(unit.call_sign.clone());
                }
                "unit_type" => match UnitType::from_wire(unit.unit_type) {
                    Some(t) => changes.unit_type = Some(t),
                    None => violations.add("unit.unit_type", "required"),
                },
                "capabilities" => {
                    for (j, capability) in unit.capabilities.iter().enumerate() {
                        if !catalogue.has_capability(capability) {
                            violations.add(
                                format!("unit.capabilities[{j}]"),
                                format!("unknown capability {capability:?}"),
                            );
                        }
                    }
                    let mut capabilities = unit.capabilities.clone();
                    capabilities.sort();
                    capabilities.dedup();
                    changes.capabilities = Some(capabilities);
                }
                "home_station" => {
                    changes.home_station = Some(violations.optional(
                        "unit.home_station",
                        &unit.home_station,
                        StationId::parse_name,
                    ));
                }
                other => mask.refuse(i, other, &mut violations),
            }
        }
        let (Some(mutation), Some(unit), Some(etag)) = (mutation, id, etag) else {
            return Err(violations);
        };
        valid(violations, || {
            Some(Self {
                mutation,
                unit,
                changes,
                etag,
            })
        })
    }
}

pub struct UpdateCamera {
    pub mutation: Mutation,
    pub camera: CameraId,
    pub changes: CameraChanges,
}

impl TryFrom<pb::UpdateCameraRequest> for UpdateCamera {
    type Error = Violations;

    fn try_from(message: pb::UpdateCameraRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let camera = wire::required(
            message.camera.as_ref(),
            "camera",
            "required: the device's name and new values",
            &mut violations,
        )?;
        let id = violations.collect(CameraId::parse_name("camera.name", &camera.name));
        let mask = wire::Mask::of(
            message.update_mask.as_ref(),
            "location, description, agency, active",
            &mut violations,
        );
        let mut changes = CameraChanges::default();
        for (i, path) in mask.paths() {
            match path {
                "location" => {
                    changes.location =
                        required_point("camera.location", camera.location.as_ref(), &mut violations)
                }
                "description" => {
                    check_length(
                        &mut violations,
                        "camera.description",
                        &camera.description,
                        500,
                    );
                    changes.description = Some(camera.description.clone());
                }
                "agency" => {
                    changes.agency = Some(violations.optional(
                        "camera.agency",
                        &camera.agency,
                        AgencyId::parse_name,
                    ));
                }
                "active" => changes.active = Some(camera.active),
                other => mask.refuse(i, other, &mut violations),
            }
        }
        let (Some(mutation), Some(camera)) = (mutation, id) else {
            return Err(violations);
        };
        valid(violations, || {
            Some(Self {
                mutation,
                camera,
                changes,
            })
        })
    }
}
