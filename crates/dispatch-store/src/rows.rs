//! Rows as diesel reads them, and their conversion into domain values; for each directory
//! resource, also where it is stored (`stored_in!`). A row that does not convert means the
//! database holds something the constraints should have refused: Internal.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Nullable;
use serde_json::Value;
use uuid::Uuid;

use dispatch_domain::auth::Role;
use dispatch_domain::call::{Call, CallState, CallbackNumber, Channel, Disposition, NewCall};
use dispatch_domain::directory::{
    Agency, AgencyKind, Camera, DeviceKind, NewAgency, Position, Station, Unit, UnitStatus,
    UnitType,
};
use dispatch_domain::ids::{
    AgencyId, CallId, CameraId, CredentialId, IncidentId, OperationId, PartnerId, PrincipalId,
    StationId, UnitId,
};
use dispatch_domain::incident::{ClosingCode, Incident, IncidentStatus, TriageState};
use dispatch_domain::location::{GeoPoint, Location, LocationSource};
use dispatch_domain::principal::{Credential, CredentialKind, Principal};
use dispatch_domain::referral::Need;
use dispatch_domain::triage::{Determinant, Level, Requirement};

use crate::Error;
use crate::error::{parse, point};
use crate::resource::stored_in;
use crate::schema::{
    agencies, calls, cameras, credentials, incidents, principals, stations, units,
};

pub(crate) fn location(
    latitude: f64,
    longitude: f64,
    uncertainty_m: f64,
    source: &str,
    civic_address: String,
) -> Result<Location, Error> {
    Location::new(
        GeoPoint::new(latitude, longitude),
        uncertainty_m,
        LocationSource::parse(source),
        civic_address,
    )
    .map_err(|violations| Error::Internal(format!("stored location is invalid: {violations}")))
}

#[derive(Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = calls, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CallRow {
    pub id: Uuid,
    pub folio: String,
    pub channel: String,
    pub state: String,
    pub received_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub back_entered: bool,
    pub call_taker: String,
    pub callback_number: String,
    pub caller_name: String,
    pub language: String,
    pub latitude: f64,
    pub longitude: f64,
    pub uncertainty_m: f64,
    pub location_source: String,
    pub civic_address: String,
    pub account: String,
    pub incident_type_hint: String,
    pub source_device_id: String,
    pub incident_id: Option<Uuid>,
    pub disposition: Option<String>,
    pub disposition_note: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub operation_id: Option<Uuid>,
}

impl TryFrom<CallRow> for Call {
    type Error = Error;

    fn try_from(row: CallRow) -> Result<Self, Error> {
        Ok(Call {
            id: CallId(row.id),
            folio: row.folio,
            state: parse("call state", &row.state, CallState::parse)?,
            call_taker: row.call_taker,
            incident: row.incident_id.map(IncidentId),
            disposition: row
                .disposition
                .as_deref()
                .map(|d| parse("disposition", d, Disposition::parse))
                .transpose()?,
            disposition_note: row.disposition_note,
            details: NewCall {
                channel: parse("channel", &row.channel, Channel::parse)?,
                received_at: row.received_at,
                answered_at: row.answered_at,
                back_entered: row.back_entered,
                callback_number: if row.callback_number.is_empty() {
                    None
                } else {
                    Some(CallbackNumber::parse(&row.callback_number).map_err(Error::Internal)?)
                },
                caller_name: row.caller_name,
                language: row.language,
                location: location(
                    row.latitude,
                    row.longitude,
                    row.uncertainty_m,
                    &row.location_source,
                    row.civic_address,
                )?,
                account: row.account,
                incident_type_hint: row.incident_type_hint,
                source_device_id: row.source_device_id,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
            operation: row.operation_id.map(OperationId),
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = incidents, check_for_backend(diesel::pg::Pg))]
pub(crate) struct IncidentRow {
    pub id: Uuid,
    pub folio: String,
    pub status: String,
    pub incident_type: Option<String>,
    pub priority: Option<i16>,
    pub latitude: f64,
    pub longitude: f64,
    pub uncertainty_m: f64,
    pub location_source: String,
    pub civic_address: String,
    pub summary: String,
    pub linked_call_count: i32,
    pub first_call_at: DateTime<Utc>,
    pub last_call_at: DateTime<Utc>,
    pub closing_code: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub determinant_code: Option<String>,
    pub determinant_level: Option<String>,
    pub determinant_description: String,
    pub response_plan: Value,
    pub triaged_at: Option<DateTime<Utc>>,
    pub status_at: DateTime<Utc>,
    pub closing_note: String,
    /// `incidents.operation_id`, outside the `incidents` table! (at diesel's 32 columns): the
    /// one column spelt in SQL, so every query selecting incidents carries its operation.
    #[diesel(
        select_expression = diesel::dsl::sql::<Nullable<diesel::sql_types::Uuid>>("incidents.operation_id"),
        select_expression_type = diesel::expression::SqlLiteral<Nullable<diesel::sql_types::Uuid>>
    )]
    pub operation_id: Option<Uuid>,
}

/// A response plan as stored: `[{"capability": "als", "count": 1, "description": "..."}]`.
pub(crate) fn plan_json(plan: &[Requirement]) -> Value {
    Value::Array(
        plan.iter()
            .map(|r| serde_json::json!({ "capability": r.capability, "count": r.count, "description": r.description }))
            .collect(),
    )
}

pub(crate) fn plan_from_json(value: &Value) -> Result<Vec<Requirement>, Error> {
    let bad = || Error::Internal(format!("unexpected response plan {value} in the database"));
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|item| {
            Ok(Requirement {
                capability: item["capability"].as_str().ok_or_else(bad)?.to_owned(),
                count: item["count"]
                    .as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .ok_or_else(bad)?,
                description: item["description"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

impl TryFrom<IncidentRow> for Incident {
    type Error = Error;

    fn try_from(row: IncidentRow) -> Result<Self, Error> {
        Ok(Incident {
            id: IncidentId(row.id),
            folio: row.folio,
            status: parse("incident status", &row.status, IncidentStatus::parse)?,
            incident_type: row.incident_type,
            priority: row.priority,
            location: location(
                row.latitude,
                row.longitude,
                row.uncertainty_m,
                &row.location_source,
                row.civic_address,
            )?,
            summary: row.summary,
            linked_call_count: row.linked_call_count,
            first_call_at: row.first_call_at,
            last_call_at: row.last_call_at,
            closing_code: row
                .closing_code
                .as_deref()
                .map(|c| parse("closing code", c, ClosingCode::parse))
                .transpose()?,
            duplicate_of: row.duplicate_of.map(IncidentId),
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            closed_at: row.closed_at,
            version: row.version,
            triage: match (row.determinant_code, row.determinant_level, row.triaged_at) {
                (Some(code), Some(level), Some(triaged_at)) => Some(TriageState {
                    determinant: Determinant {
                        code,
                        level: parse("determinant level", &level, Level::parse)?,
                        description: row.determinant_description,
                    },
                    plan: plan_from_json(&row.response_plan)?,
                    triaged_at,
                }),
                _ => None,
            },
            status_at: row.status_at,
            closing_note: row.closing_note,
            operation: row.operation_id.map(OperationId),
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = agencies, check_for_backend(diesel::pg::Pg))]
pub(crate) struct AgencyRow {
    pub id: Uuid,
    pub code: String,
    pub display_name: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<AgencyRow> for Agency {
    type Error = Error;

    fn try_from(row: AgencyRow) -> Result<Self, Error> {
        Ok(Agency {
            id: AgencyId(row.id),
            details: NewAgency {
                code: row.code,
                display_name: row.display_name,
                kind: parse("agency kind", &row.kind, AgencyKind::parse)?,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

stored_in!(Agency, AgencyId, agencies, AgencyRow);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = stations, check_for_backend(diesel::pg::Pg))]
pub(crate) struct StationRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub code: String,
    pub display_name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub address: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<StationRow> for Station {
    type Error = Error;

    fn try_from(row: StationRow) -> Result<Self, Error> {
        Ok(Station {
            id: StationId(row.id),
            agency: AgencyId(row.agency_id),
            code: row.code,
            display_name: row.display_name,
            location: point(row.latitude, row.longitude)?,
            address: row.address,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

stored_in!(Station, StationId, stations, StationRow);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = cameras, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CameraRow {
    pub id: Uuid,
    pub code: String,
    pub kind: String,
    pub latitude: f64,
    pub longitude: f64,
    pub description: String,
    pub agency_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<CameraRow> for Camera {
    type Error = Error;

    fn try_from(row: CameraRow) -> Result<Self, Error> {
        Ok(Camera {
            id: CameraId(row.id),
            code: row.code,
            kind: parse("device kind", &row.kind, DeviceKind::parse)?,
            location: point(row.latitude, row.longitude)?,
            description: row.description,
            agency: row.agency_id.map(AgencyId),
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

stored_in!(Camera, CameraId, cameras, CameraRow);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = units, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UnitRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub home_station_id: Option<Uuid>,
    pub call_sign: String,
    pub unit_type: String,
    pub capabilities: Vec<String>,
    pub status: String,
    pub status_at: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub heading_deg: Option<f64>,
    pub speed_mps: Option<f64>,
    pub fix_time: Option<DateTime<Utc>>,
    pub current_incident_id: Option<Uuid>,
    pub decommissioned_at: Option<DateTime<Utc>>,
}

impl TryFrom<UnitRow> for Unit {
    type Error = Error;

    fn try_from(row: UnitRow) -> Result<Self, Error> {
        let position = match (row.latitude, row.longitude, row.accuracy_m, row.fix_time) {
            (Some(lat), Some(lon), Some(accuracy_m), Some(fix_time)) => Some(Position {
                point: point(lat, lon)?,
                accuracy_m,
                heading_deg: row.heading_deg,
                speed_mps: row.speed_mps,
                fix_time,
            }),
            _ => None,
        };
        Ok(Unit {
            id: UnitId(row.id),
            agency: AgencyId(row.agency_id),
            home_station: row.home_station_id.map(StationId),
            call_sign: row.call_sign,
            unit_type: parse("unit type", &row.unit_type, UnitType::parse)?,
            capabilities: row.capabilities,
            status: parse("unit status", &row.status, UnitStatus::parse)?,
            status_at: row.status_at,
            current_incident: row.current_incident_id.map(IncidentId),
            position,
            decommissioned_at: row.decommissioned_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

stored_in!(Unit, UnitId, units, UnitRow);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = principals, check_for_backend(diesel::pg::Pg))]
pub(crate) struct PrincipalRow {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub role: String,
    pub agency_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub partner_id: Option<Uuid>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = Error;

    fn try_from(row: PrincipalRow) -> Result<Self, Error> {
        Ok(Principal {
            id: PrincipalId(row.id),
            role: parse("role", &row.role, Role::parse)?,
            name: row.name,
            display_name: row.display_name,
            agency: row.agency_id.map(AgencyId),
            unit: row.unit_id.map(UnitId),
            partner: row.partner_id.map(PartnerId),
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            disabled_at: row.disabled_at,
            version: row.version,
        })
    }
}

stored_in!(Principal, PrincipalId, principals, PrincipalRow);

/// The public columns of a credential: never the salt or the hash.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = credentials, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CredentialRow {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub kind: String,
    pub token_prefix: String,
    certificate_sha256: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: String,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = Error;

    fn try_from(row: CredentialRow) -> Result<Self, Error> {
        Ok(Credential {
            id: CredentialId(row.id),
            principal: PrincipalId(row.principal_id),
            kind: parse("credential kind", &row.kind, CredentialKind::parse)?,
            token_prefix: row.token_prefix,
            certificate_sha256: row.certificate_sha256,
            description: row.description,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            revoke_reason: row.revoke_reason,
        })
    }
}

stored_in!(Credential, CredentialId, credentials, CredentialRow);

pub(crate) fn needs_from(texts: &[String]) -> Result<Vec<Need>, Error> {
    texts
        .iter()
        .map(|t| parse("need", t, Need::parse))
        .collect()
}

/// One entry of the append-only event log, as an incident's timeline shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    pub actor: String,
    pub call: Option<CallId>,
    pub incident: Option<IncidentId>,
    pub unit: Option<UnitId>,
    pub event: dispatch_domain::event::Event,
}
