//! The EIDO document as NENA-STA-021.1b spells it: one struct per schema type of
//! `openapi.yaml` (`EmergencyIncidentDataObjectType` and the component types it lists), every
//! field named exactly as the schema names it. Required properties are plain fields; optional
//! ones are `Option` or, for arrays, an empty `Vec`, and are left out of the JSON when absent.
//! The NIEM person and vehicle details (`ncPersonComponent`, `ncVehicleComponent`) are kept as
//! JSON: nothing here reads them.
//!
//! `rename_all = "camelCase"` spells every field as the schema does; the four names camelCase
//! cannot make (`$id`, `$ref`, `@context`, `@vocab`) are renamed one by one. The tests crate
//! checks every key of the documents the server produces against the schema's own property
//! names.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// The only `eidoVersion` the schema allows.
pub const EIDO_VERSION: &str = "1.0";

/// The JSON-LD vocabulary the schema allows in `@context`.
pub const JSON_LD_VOCAB: &str = "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld";

/// `EmergencyIncidentDataObjectType`: the whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyIncidentDataObject {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// Always [`EIDO_VERSION`].
    pub eido_version: String,
    pub issuing_element_identification: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_component: Vec<MergeInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_component: Vec<LinkInformation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_component: Option<IncidentInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_component: Vec<CallInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callback_component: Vec<Callback>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dispatch_component: Vec<DispatchInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms_sensors_component: Vec<AlarmsSensors>,
    /// Required by the schema (it may be empty; ours never is).
    pub agency_component: Vec<Agency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_component: Vec<Agent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_component: Vec<Notes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_data_component: Vec<AdditionalData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_component: Vec<LocationInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub person_component: Vec<PersonInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicle_component: Vec<VehicleInformation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emergency_resource_component: Vec<EmergencyResource>,
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<JsonLdContext>,
}

/// The `@context` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonLdContext {
    /// Always [`JSON_LD_VOCAB`].
    #[serde(rename = "@vocab", default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<String>,
}

/// `ReferenceType`: the `$id` of another component of the document (or of an agency or agent
/// known by its globally unique identifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "$ref")]
    pub id: String,
}

impl Reference {
    pub fn to(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// `PrologueType`: what every component starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prologue {
    /// Globally unique identifier of the component.
    #[serde(rename = "$id")]
    pub id: String,
    pub last_update_time_stamp: DateTime<FixedOffset>,
    /// The owning agency.
    pub updated_by_agency_reference: Reference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by_agent_reference: Option<Reference>,
}

/// `AgencyType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agency {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// The agency's contact information as a jCard (RFC 7095) in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_jcard: Option<String>,
    /// Agency Role registry values.
    pub agency_role_description_registry_text: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_owning_agency_indicator: Option<bool>,
    /// `urn:emergency:service:responder` registry values, without that prefix.
    pub agency_type: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `AgentType`: a person or automaton acting on the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_jcard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_workstation_position_identification: Option<String>,
    /// Agent Role registry values.
    pub agent_role_registry_text: Vec<String>,
    pub agency_reference: Reference,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `IncidentMergeDirectionCodeSimpleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MergeDirection {
    /// This incident replaces the other (the other was merged into this one).
    Replacing,
    /// This incident was replaced by the other (merged into it).
    Replaced,
    Split,
}

/// `MergeInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// The other incident's tracking identifier.
    pub incident_tracking_identifier: String,
    pub incident_merge_direction_code: MergeDirection,
}

/// `LinkDirectionCodeSimpleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkDirection {
    Parent,
    Child,
    Related,
    Unlink,
}

/// `LinkInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    pub incident_tracking_identifier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_reason_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub involved_agency_reference: Option<Reference>,
    pub link_direction_code: LinkDirection,
}

/// `NotesType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notes {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// The note, in HTML5 (so text is escaped).
    pub notes_action_comments: String,
    /// Its author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_reference: Option<Reference>,
}

/// `AdditionalDataType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalData {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_data_by_reference_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_data_by_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `LocationInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// Location Type registry value.
    pub location_type_description_registry_text: String,
    /// A PIDF-LO document (RFC 4119, RFC 5491).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_by_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_description_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_by_reference_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_street_by_value: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_street_by_reference_url: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intersecting_street_by_value: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intersecting_street_by_reference_url: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_tower_sector_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_data_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `PersonInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// NIEM `nc:PersonType`, kept as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nc_person_component: Option<serde_json::Value>,
    /// Person Role registry values.
    pub person_incident_role_registry_text: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_identifier: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_data_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_back_reference: Option<Reference>,
}

/// `DispositionType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disposition {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// Common Disposition Code registry value.
    pub disposition_common_registry_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition_primary_indicator: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition_category_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition_description_text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `VehicleInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// NIEM `nc:VehicleType`, kept as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nc_vehicle_component: Option<serde_json::Value>,
    pub vehicle_relationship_type: Vec<String>,
    pub vehicle_relationship_time_stamp: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_data_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `IncidentInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type_internal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_type_internal_text: Option<String>,
    /// Incident Type registry value.
    pub incident_type_common_registry_text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_status_internal_text: Vec<String>,
    /// Incident Status registry values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_status_common_registry_text: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_incident_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub person_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicle_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub document_identification: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_number_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_priority_internal_text: Option<String>,
    /// 0 to 10, 10 highest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_common_priority_number: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beat_or_dispatch_group_text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disposition_component: Vec<Disposition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `UpdatedCBNType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedCbn {
    #[serde(flatten)]
    pub prologue: Prologue,
    pub updated_cbn_identifier_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_cbn_caller_description: Option<String>,
}

/// `CallInformationType`'s `direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallDirection {
    Incoming,
    Outgoing,
    Internal,
}

/// `CallInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_call_identifier: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_identifier: Option<String>,
    /// LogEvent CallTypes registry, "Primary" classification (`emergency`, `nonemergency`...).
    pub standard_primary_call_type: String,
    /// LogEvent CallTypes registry, "Secondary" classification (`text`, `video`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_secondary_call_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_call_type: Option<String>,
    pub direction: CallDirection,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_data_reference: Vec<Reference>,
    pub call_start_timestamp: DateTime<FixedOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_date: Option<DateTime<FixedOffset>>,
    /// IANA Call States registry value (`callBegin`, `callAnswered`, `callEnd`...).
    pub call_state_registry_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_back_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verstat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub location_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub person_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `CallbackType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// `tel:` or `sip:` URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_back_information_uri: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_contact_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_cbn: Option<UpdatedCbn>,
}

/// `EmergencyResourceType`: a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyResource {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<DateTime<FixedOffset>>,
    /// Emergency Resource Type registry value.
    pub emergency_resource_type_common_registry_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_resource_type_internal_text: Option<String>,
    /// Resource Attribute registry values.
    pub resource_attribute_registry_text: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_resource_name: Option<String>,
    /// Primary Unit Status registry value.
    pub primary_unit_status_registry_text: String,
    /// Secondary Unit Status registry values.
    pub secondary_unit_status_registry_text: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit_status_internal: Vec<String>,
    pub agent_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_location_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_destination_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub person_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicle_reference: Vec<Reference>,
}

/// `DispatchInformationType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatchInformation {
    #[serde(flatten)]
    pub prologue: Prologue,
    /// The agency dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_reference: Option<Reference>,
    /// The agent who dispatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emergency_resource_reference: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}

/// `AlarmsSensorsType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmsSensors {
    #[serde(flatten)]
    pub prologue: Prologue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csaa_alarm_information: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes_reference: Vec<Reference>,
}
