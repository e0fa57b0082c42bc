//! What our values are called in the registries EIDO fields name (NENA's and IANA's). NENA's
//! registries are not among the machine-readable artefacts, so these are our reading of them;
//! each field also carries our own value (`...InternalText`, `localCallType`,
//! `dispositionCategoryText`), so a receiver can always tell exactly what we meant.

use dispatch_domain::auth::Role;
use dispatch_domain::call::Channel;
use dispatch_domain::directory::{AgencyKind, UnitType};
use dispatch_domain::incident::{ClosingCode, IncidentStatus};
use dispatch_domain::location::LocationSource;
use dispatch_domain::triage::{Category, IncidentType};

/// What an agent did in this incident, for when its principal is not known.
pub(super) const CALL_TAKING: &str = "Call Taking";
pub(super) const DISPATCHING: &str = "Dispatching";
pub(super) const INCIDENT_HANDLING: &str = "Incident Handling";

/// IANA Method Tokens (RFC 4119): how the location was obtained.
pub(super) fn location_method(source: LocationSource) -> &'static str {
    match source {
        LocationSource::Device => "GPS",
        LocationSource::Network => "Cell",
        LocationSource::CallerDescribed | LocationSource::Dispatcher => "Manual",
        LocationSource::FixedDevice => "Wiremap",
    }
}

/// The LogEvent CallTypes registry's secondary types that our channels are.
pub(super) fn secondary_call_type(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Text | Channel::App911 | Channel::PartnerApp | Channel::SocialMedia => {
            Some("text")
        }
        Channel::Camera => Some("video"),
        Channel::PanicButton | Channel::AlarmCompany | Channel::PlateReader => Some("sensor"),
        Channel::Voice911 | Channel::Radio | Channel::WomensLine => None,
    }
}

/// The incident's common type, from its catalogue category.
pub(super) fn common_incident_type(
    code: Option<&str>,
    catalogue: Option<&IncidentType>,
) -> &'static str {
    match (code, catalogue.map(|t| t.category)) {
        (None, _) => "Unknown",
        (Some(_), None) => "Other",
        (Some(_), Some(category)) => match category {
            Category::Medical => "Medical",
            Category::Fire => "Fire",
            Category::Crime => "Law Enforcement",
            Category::PublicOrder => "Public Order",
            Category::Traffic => "Traffic",
            Category::GenderViolence => "Domestic Violence",
            Category::MissingPerson => "Missing Person",
            Category::Hazmat => "Hazardous Materials",
            Category::NaturalDisaster => "Natural Disaster",
            Category::Other => "Other",
        },
    }
}

pub(super) fn common_status(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::New | IncidentStatus::Triaged => "Pending",
        IncidentStatus::Dispatched => "Dispatched",
        IncidentStatus::OnScene => "On Scene",
        IncidentStatus::Resolved => "Resolved",
        IncidentStatus::Closed => "Closed",
        IncidentStatus::Cancelled => "Cancelled",
    }
}

pub(super) fn common_disposition(code: ClosingCode) -> &'static str {
    match code {
        ClosingCode::Confirmed => "Confirmed",
        ClosingCode::Negative => "Unfounded",
        ClosingCode::Duplicate => "Duplicate",
        ClosingCode::False => "False Alarm",
        ClosingCode::Informative => "Information Only",
    }
}

pub(super) fn common_resource_type(unit_type: UnitType) -> &'static str {
    match unit_type {
        UnitType::Patrol => "Law Enforcement Patrol",
        UnitType::Motorcycle => "Law Enforcement Motorcycle",
        UnitType::AlsAmbulance => "ALS Ambulance",
        UnitType::BlsAmbulance => "BLS Ambulance",
        UnitType::Engine => "Engine",
        UnitType::Ladder => "Ladder",
        UnitType::Rescue => "Rescue",
        UnitType::Hazmat => "Hazmat",
        UnitType::Chief => "Chief",
        UnitType::MobileCommandPost => "Mobile Command Post",
        UnitType::Drone => "Unmanned Aircraft",
        UnitType::CivilProtection => "Civil Protection",
        UnitType::CrowdControl => "Crowd Control",
        UnitType::Other => "Other",
    }
}

/// `urn:emergency:service:responder` registry values, without the prefix.
pub(super) fn agency_type(kind: AgencyKind) -> &'static str {
    match kind {
        AgencyKind::Police => "police",
        AgencyKind::Fire => "fire",
        AgencyKind::Ems | AgencyKind::RedCross => "ems",
        AgencyKind::Federal => "police.federal",
        AgencyKind::CivilProtection | AgencyKind::Other => "other",
    }
}

pub(super) fn agent_role(role: Role) -> &'static str {
    match role {
        Role::CallTaker => CALL_TAKING,
        Role::Dispatcher => DISPATCHING,
        Role::Supervisor => "Supervisor",
        Role::VideoOperator => "Video Monitoring",
        Role::FieldUnit => "Responder",
        Role::PartnerAgency => "Partner Agency",
        Role::Gateway => "Automated",
        Role::Admin => "Administrator",
        Role::Liaison => "Liaison",
    }
}
