//! The directory: agencies, their stations and their units.

use crate::{Violations, call::check_length};

text_enum! {
    pub enum AgencyKind {
        Police => "police",
        Fire => "fire",
        Ems => "ems",
        RedCross => "red_cross",
        CivilProtection => "civil_protection",
        Federal => "federal",
        Other => "other",
    }
}

text_enum! {
    pub enum UnitType {
        Patrol => "patrol",
        Motorcycle => "motorcycle",
        AlsAmbulance => "als_ambulance",
        BlsAmbulance => "bls_ambulance",
        Engine => "engine",
        Ladder => "ladder",
        Rescue => "rescue",
        Hazmat => "hazmat",
        Chief => "chief",
        MobileCommandPost => "mobile_command_post",
        Drone => "drone",
        CivilProtection => "civil_protection",
        CrowdControl => "crowd_control",
        Other => "other",
    }
}

text_enum! {
    pub enum UnitStatus {
        Available => "available",
        Dispatched => "dispatched",
        EnRoute => "en_route",
        OnScene => "on_scene",
        Transporting => "transporting",
        AtHospital => "at_hospital",
        OutOfService => "out_of_service",
    }
}

pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Codes are short, stable, ASCII: they travel in URLs, radio logs and CSV exports.
pub fn check_code(violations: &mut Violations, field: &str, code: &str, max_len: usize) {
    let valid = (1..=max_len).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        violations.add(
            field,
            format!("required: 1 to {max_len} of A-Z, a-z, 0-9, '_', '.', '-'"),
        );
    }
}

pub fn check_display_name(violations: &mut Violations, field: &str, name: &str) {
    if name.trim().is_empty() {
        violations.add(field, "required");
    }
    check_length(violations, field, name, MAX_DISPLAY_NAME_CHARS);
}

/// A validated new agency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgency {
    pub code: String,
    pub display_name: String,
    pub kind: AgencyKind,
}

impl NewAgency {
    pub fn new(
        code: String,
        display_name: String,
        kind: Option<AgencyKind>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        check_code(&mut violations, "code", &code, 64);
        check_display_name(&mut violations, "display_name", &display_name);
        if kind.is_none() {
            violations.add("kind", "required");
        }
        match kind {
            Some(kind) if violations.is_empty() => Ok(Self {
                code,
                display_name,
                kind,
            }),
            _ => Err(violations),
        }
    }
}

/// An agency as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Agency {
    pub id: crate::ids::AgencyId,
    pub details: NewAgency,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A station as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    pub id: crate::ids::StationId,
    pub agency: crate::ids::AgencyId,
    pub code: String,
    pub display_name: String,
    pub location: crate::location::GeoPoint,
    pub address: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A unit's latest position report (AVL fix).
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub point: crate::location::GeoPoint,
    pub accuracy_m: f64,
    pub heading_deg: Option<f64>,
    pub speed_mps: Option<f64>,
    pub fix_time: chrono::DateTime<chrono::Utc>,
}

/// A unit as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub id: crate::ids::UnitId,
    pub agency: crate::ids::AgencyId,
    pub home_station: Option<crate::ids::StationId>,
    pub call_sign: String,
    pub unit_type: UnitType,
    pub capabilities: Vec<String>,
    pub status: UnitStatus,
    pub status_at: chrono::DateTime<chrono::Utc>,
    pub current_incident: Option<crate::ids::IncidentId>,
    pub position: Option<Position>,
    pub decommissioned_at: Option<chrono::DateTime<chrono::Utc>>,
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

text_enum! {
    pub enum DeviceKind {
        Camera => "camera",
        PanicButton => "panic_button",
        PlateReader => "plate_reader",
    }
}

/// A fixed device: a camera, a panic button, a plate reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub id: crate::ids::CameraId,
    pub code: String,
    pub kind: DeviceKind,
    pub location: crate::location::GeoPoint,
    pub description: String,
    pub agency: Option<crate::ids::AgencyId>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
