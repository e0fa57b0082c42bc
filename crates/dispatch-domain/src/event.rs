//! The event log's entries: every state change, who made it (the row's actor) and what it was.
//!
//! An event is stored as two columns, `kind` (the variant's serde name) and `details` (its
//! fields as a JSON object), and this type's serde shape is exactly that pair:
//! `{"kind": "note_added", "details": {"text": "..."}}`. Rows written before the log was typed
//! have the same shape, so they read as they are. Readers match exhaustively: a new kind breaks
//! the build wherever it must be handled.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::call::{Channel, Disposition};
use crate::directory::UnitStatus;
use crate::ids::{
    AgencyId, CameraId, CredentialId, IncidentId, PartnerId, PrincipalId, RecommendationId,
    ReferralId, StationId, UnitId,
};
use crate::incident::{ClosingCode, IncidentStatus};
use crate::location::LocationSource;
use crate::referral::ReferralHistoryKind;
use crate::triage::Level;

/// An entry of the event log, by what it is about. Each category is its own enum so a reader
/// matches exhaustively on the events it handles (a new unit event breaks the unit readers, not
/// the security ones) and names the other categories whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Event {
    Call(CallEvent),
    Incident(IncidentEvent),
    Unit(UnitEvent),
    Directory(DirectoryEvent),
    Partner(PartnerEvent),
    Security(SecurityEvent),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum CallEvent {
    /// Written by the `record_call` SQL function (migration `_call_intake`).
    #[serde(rename = "call_received")]
    Received {
        folio: String,
        channel: Channel,
        received_at: DateTime<Utc>,
        answered_at: Option<DateTime<Utc>>,
        back_entered: bool,
    },
    #[serde(rename = "call_location_updated")]
    LocationUpdated {
        latitude: f64,
        longitude: f64,
        uncertainty_m: f64,
        source: LocationSource,
    },
    #[serde(rename = "call_linked")]
    Linked {
        call_folio: String,
        incident_folio: String,
        channel: Channel,
        note: String,
        account: String,
    },
    #[serde(rename = "call_disposed")]
    Disposed {
        disposition: Disposition,
        note: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum IncidentEvent {
    #[serde(rename = "incident_created")]
    Created {
        folio: String,
        incident_type: Option<String>,
        /// The folio of the call it was opened from.
        from_call: String,
    },
    #[serde(rename = "incident_triaged")]
    Triaged {
        incident_type: String,
        /// The determinant's code.
        determinant: String,
        level: Level,
        priority: i16,
    },
    #[serde(rename = "priority_changed")]
    PriorityChanged {
        from: Option<i16>,
        to: i16,
        reason: String,
    },
    #[serde(rename = "incident_updated")]
    Updated {
        /// The names of the fields that changed.
        fields: Vec<String>,
        reason: String,
    },
    #[serde(rename = "note_added")]
    NoteAdded { text: String },
    #[serde(rename = "status_changed")]
    StatusChanged {
        from: IncidentStatus,
        to: IncidentStatus,
        note: String,
    },
    /// On the survivor: `incident` (with its folio and calls) was merged into it.
    #[serde(rename = "merged_in")]
    MergedIn(Merge),
    /// On the duplicate: it was merged into `incident`.
    #[serde(rename = "merged_into")]
    MergedInto(Merge),
    #[serde(rename = "incident_closed")]
    Closed {
        from: IncidentStatus,
        details: Closing,
    },
    #[serde(rename = "incident_cancelled")]
    Cancelled {
        from: IncidentStatus,
        details: Cancellation,
    },
    /// A victim of the incident was referred to a partner.
    #[serde(rename = "referral_created_for_incident")]
    ReferralCreated {
        referral: ReferralId,
        partner: PartnerId,
    },
}

/// Units and their assignments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum UnitEvent {
    #[serde(rename = "unit_created")]
    Created { call_sign: String, to: UnitStatus },
    #[serde(rename = "unit_updated")]
    Updated {
        call_sign: Option<String>,
        capabilities: Option<Vec<String>>,
    },
    #[serde(rename = "unit_decommissioned")]
    Decommissioned {
        reason: String,
        from: UnitStatus,
        to: UnitStatus,
    },
    /// A moving unit, announced at most every `position_announce_interval` (written in SQL by
    /// `report_positions`, with empty details).
    #[serde(rename = "unit_position")]
    Position {},
    #[serde(rename = "unit_status_changed")]
    StatusChanged {
        /// Present when the unit was on an incident.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_sign: Option<String>,
        note: String,
        from: UnitStatus,
        to: UnitStatus,
    },
    #[serde(rename = "unit_dispatched")]
    Dispatched {
        call_sign: String,
        from: UnitStatus,
        to: UnitStatus,
        recommendation: Option<RecommendationId>,
        /// Empty when the unit was dispatched as recommended.
        override_reason: String,
    },
    #[serde(rename = "unit_en_route")]
    EnRoute(FieldStatus),
    #[serde(rename = "unit_on_scene")]
    OnScene(FieldStatus),
    #[serde(rename = "unit_transporting")]
    Transporting(FieldStatus),
    #[serde(rename = "unit_at_hospital")]
    AtHospital(FieldStatus),
    /// The unit finished its assignment (it became available).
    #[serde(rename = "unit_cleared")]
    Cleared(AssignmentEnd),
    /// The unit was taken off its incident before it finished, or went out of service on it.
    #[serde(rename = "unit_released")]
    Released(AssignmentEnd),
}

/// Agencies, stations and cameras.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum DirectoryEvent {
    #[serde(rename = "agency_created")]
    AgencyCreated { agency: AgencyId, code: String },
    #[serde(rename = "station_created")]
    StationCreated { station: StationId, code: String },
    #[serde(rename = "camera_created")]
    CameraCreated { camera: CameraId, code: String },
    #[serde(rename = "camera_updated")]
    CameraUpdated {
        camera: CameraId,
        active: Option<bool>,
    },
}

/// A partner's feed: the partner itself and its referrals. Referral events point at the
/// referral's history line; no victim data is in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum PartnerEvent {
    #[serde(rename = "partner_created")]
    Created { code: String },
    #[serde(rename = "partner_updated")]
    Updated {},
    #[serde(rename = "partner_capacity_updated")]
    CapacityUpdated {
        available: i32,
        total: i32,
        not_accepting: bool,
    },
    #[serde(rename = "referral_created")]
    ReferralCreated(ReferralHistory),
    #[serde(rename = "referral_accepted")]
    ReferralAccepted(ReferralHistory),
    #[serde(rename = "referral_declined")]
    ReferralDeclined(ReferralHistory),
    #[serde(rename = "referral_status_changed")]
    ReferralStatusChanged(ReferralHistory),
    #[serde(rename = "referral_readdressed")]
    ReferralReaddressed(ReferralHistory),
    #[serde(rename = "referral_follow_up_recorded")]
    ReferralFollowUpRecorded(ReferralHistory),
}

/// Principals and credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "details")]
pub enum SecurityEvent {
    #[serde(rename = "principal_created")]
    PrincipalCreated {
        principal: PrincipalId,
        name: String,
        role: Role,
        agency: Option<AgencyId>,
        unit: Option<UnitId>,
        /// The partner's bare UUID (not its resource name).
        partner: Option<String>,
    },
    #[serde(rename = "principal_updated")]
    PrincipalUpdated {
        principal: PrincipalId,
        /// The names of the fields that changed.
        changed: Vec<String>,
        display_name: String,
        role: Role,
        agency: Option<AgencyId>,
        unit: Option<UnitId>,
        partner: Option<PartnerId>,
        /// Its role or a binding changed: every open session of its credentials ends.
        ends_sessions: bool,
        reason: String,
    },
    #[serde(rename = "principal_disabled")]
    PrincipalDisabled {
        principal: PrincipalId,
        reason: String,
    },
    #[serde(rename = "principal_enabled")]
    PrincipalEnabled {
        principal: PrincipalId,
        reason: String,
    },
    #[serde(rename = "credential_issued")]
    CredentialIssued {
        credential: CredentialId,
        principal: PrincipalId,
        /// `bearer_token` or `client_certificate`.
        kind: String,
        /// Empty for a certificate.
        token_prefix: String,
        certificate_sha256: Option<String>,
        description: String,
        expires_at: Option<DateTime<Utc>>,
    },
    #[serde(rename = "credential_revoked")]
    CredentialRevoked {
        credential: CredentialId,
        principal: PrincipalId,
        reason: String,
    },
}

/// Two incidents merged: the other one, its folio and how many calls moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    pub incident: IncidentId,
    pub folio: String,
    pub calls: i32,
    pub note: String,
}

/// How an incident was closed (`incident_closed`'s inner details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closing {
    pub closing_code: ClosingCode,
    pub note: String,
    pub duplicate_of: Option<IncidentId>,
}

/// Why an incident was cancelled (`incident_cancelled`'s inner details).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: String,
}

/// A unit on an incident reporting its progress (en route, on scene, transporting, at hospital).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldStatus {
    pub call_sign: String,
    pub note: String,
    pub from: UnitStatus,
    pub to: UnitStatus,
}

/// A unit's assignment ended; `status` is where the unit went (the same as `to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentEnd {
    pub reason: String,
    pub status: UnitStatus,
    pub from: UnitStatus,
    pub to: UnitStatus,
}

/// A referral event: the id of the referral history line it announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralHistory {
    pub history: i64,
}

macro_rules! from_category {
    ($($category:ident => $variant:ident,)+) => {$(
        impl From<$category> for Event {
            fn from(event: $category) -> Self {
                Self::$variant(event)
            }
        }
    )+};
}

from_category! {
    CallEvent => Call,
    IncidentEvent => Incident,
    UnitEvent => Unit,
    DirectoryEvent => Directory,
    PartnerEvent => Partner,
    SecurityEvent => Security,
}

impl CallEvent {
    /// The kind of [`CallEvent::Received`], for writers in SQL (`record_call`, the benchmark's
    /// archive loader).
    pub const RECEIVED: &'static str = "call_received";
}

impl IncidentEvent {
    /// The kind of [`IncidentEvent::MergedIn`], for SQL that follows merges through the log.
    pub const MERGED_IN: &'static str = "merged_in";
    /// The kind of [`IncidentEvent::Created`], for SQL that asks which call opened an incident
    /// (the open-data export).
    pub const CREATED: &'static str = "incident_created";
}

impl PartnerEvent {
    /// The event announcing a new line of a referral's history.
    pub fn referral(kind: ReferralHistoryKind, history: i64) -> Self {
        let history = ReferralHistory { history };
        match kind {
            ReferralHistoryKind::Created => Self::ReferralCreated(history),
            ReferralHistoryKind::Accepted => Self::ReferralAccepted(history),
            ReferralHistoryKind::Declined => Self::ReferralDeclined(history),
            ReferralHistoryKind::StatusChanged => Self::ReferralStatusChanged(history),
            ReferralHistoryKind::Readdressed => Self::ReferralReaddressed(history),
            ReferralHistoryKind::FollowUpRecorded => Self::ReferralFollowUpRecorded(history),
        }
    }
}

impl Event {
    /// The kind as stored in the `kind` column (the serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Call(event) => match event {
                CallEvent::Received { .. } => CallEvent::RECEIVED,
                CallEvent::LocationUpdated { .. } => "call_location_updated",
                CallEvent::Linked { .. } => "call_linked",
                CallEvent::Disposed { .. } => "call_disposed",
            },
            Self::Incident(event) => match event {
                IncidentEvent::Created { .. } => IncidentEvent::CREATED,
                IncidentEvent::Triaged { .. } => "incident_triaged",
                IncidentEvent::PriorityChanged { .. } => "priority_changed",
                IncidentEvent::Updated { .. } => "incident_updated",
                IncidentEvent::NoteAdded { .. } => "note_added",
                IncidentEvent::StatusChanged { .. } => "status_changed",
                IncidentEvent::MergedIn(_) => IncidentEvent::MERGED_IN,
                IncidentEvent::MergedInto(_) => "merged_into",
                IncidentEvent::Closed { .. } => "incident_closed",
                IncidentEvent::Cancelled { .. } => "incident_cancelled",
                IncidentEvent::ReferralCreated { .. } => "referral_created_for_incident",
            },
            Self::Unit(event) => match event {
                UnitEvent::Created { .. } => "unit_created",
                UnitEvent::Updated { .. } => "unit_updated",
                UnitEvent::Decommissioned { .. } => "unit_decommissioned",
                UnitEvent::Position {} => "unit_position",
                UnitEvent::StatusChanged { .. } => "unit_status_changed",
                UnitEvent::Dispatched { .. } => "unit_dispatched",
                UnitEvent::EnRoute(_) => "unit_en_route",
                UnitEvent::OnScene(_) => "unit_on_scene",
                UnitEvent::Transporting(_) => "unit_transporting",
                UnitEvent::AtHospital(_) => "unit_at_hospital",
                UnitEvent::Cleared(_) => "unit_cleared",
                UnitEvent::Released(_) => "unit_released",
            },
            Self::Directory(event) => match event {
                DirectoryEvent::AgencyCreated { .. } => "agency_created",
                DirectoryEvent::StationCreated { .. } => "station_created",
                DirectoryEvent::CameraCreated { .. } => "camera_created",
                DirectoryEvent::CameraUpdated { .. } => "camera_updated",
            },
            Self::Partner(event) => match event {
                PartnerEvent::Created { .. } => "partner_created",
                PartnerEvent::Updated {} => "partner_updated",
                PartnerEvent::CapacityUpdated { .. } => "partner_capacity_updated",
                PartnerEvent::ReferralCreated(_) => "referral_created",
                PartnerEvent::ReferralAccepted(_) => "referral_accepted",
                PartnerEvent::ReferralDeclined(_) => "referral_declined",
                PartnerEvent::ReferralStatusChanged(_) => "referral_status_changed",
                PartnerEvent::ReferralReaddressed(_) => "referral_readdressed",
                PartnerEvent::ReferralFollowUpRecorded(_) => "referral_follow_up_recorded",
            },
            Self::Security(event) => match event {
                SecurityEvent::PrincipalCreated { .. } => "principal_created",
                SecurityEvent::PrincipalUpdated { .. } => "principal_updated",
                SecurityEvent::PrincipalDisabled { .. } => "principal_disabled",
                SecurityEvent::PrincipalEnabled { .. } => "principal_enabled",
                SecurityEvent::CredentialIssued { .. } => "credential_issued",
                SecurityEvent::CredentialRevoked { .. } => "credential_revoked",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// One row per kind, as the writers of the untyped log stored it (kind column, details
    /// column).
    fn stored_rows() -> Vec<(&'static str, Value)> {
        let incident = "incidents/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let principal = "principals/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a50";
        let credential = "credentials/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a51";
        vec![
            (
                "call_received",
                json!({ "folio": "C5/261203/00001", "channel": "voice_911",
                        "received_at": "2026-12-03T12:00:00.123456Z", "answered_at": null,
                        "back_entered": false }),
            ),
            (
                "call_location_updated",
                json!({ "latitude": 19.4326, "longitude": -99.1332, "uncertainty_m": 25.5,
                        "source": "caller_described" }),
            ),
            (
                "call_linked",
                json!({ "call_folio": "C5/261203/00002", "incident_folio": "I/261203/00001",
                        "channel": "voice_911", "note": "", "account": "" }),
            ),
            (
                "call_disposed",
                json!({ "disposition": "prank", "note": "laughing" }),
            ),
            (
                "incident_created",
                json!({ "folio": "I/261203/00001", "incident_type": null,
                        "from_call": "C5/261203/00001" }),
            ),
            (
                "incident_triaged",
                json!({ "incident_type": "FIRE", "determinant": "69-D-6", "level": "delta",
                        "priority": 2 }),
            ),
            (
                "priority_changed",
                json!({ "from": null, "to": 2, "reason": "triage" }),
            ),
            (
                "incident_updated",
                json!({ "fields": ["summary", "priority"], "reason": "caller called back" }),
            ),
            ("note_added", json!({ "text": "smoke from the roof" })),
            (
                "status_changed",
                json!({ "from": "dispatched", "to": "on_scene", "note": "" }),
            ),
            (
                "merged_in",
                json!({ "incident": incident, "folio": "I/261203/00002", "calls": 2, "note": "same fire" }),
            ),
            (
                "merged_into",
                json!({ "incident": incident, "folio": "I/261203/00001", "calls": 2, "note": "" }),
            ),
            (
                "incident_closed",
                json!({ "from": "on_scene", "details": { "closing_code": "duplicate",
                        "note": "", "duplicate_of": incident } }),
            ),
            (
                "incident_cancelled",
                json!({ "from": "new", "details": { "reason": "no answer" } }),
            ),
            (
                "referral_created_for_incident",
                json!({ "referral": "referrals/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a52",
                        "partner": "partners/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a53" }),
            ),
            (
                "unit_created",
                json!({ "call_sign": "AMB-12", "to": "available" }),
            ),
            (
                "unit_updated",
                json!({ "call_sign": null, "capabilities": ["als", "oxygen"] }),
            ),
            (
                "unit_decommissioned",
                json!({ "reason": "sold", "from": "available", "to": "out_of_service" }),
            ),
            ("unit_position", json!({})),
            (
                "unit_status_changed",
                json!({ "from": "available", "to": "out_of_service", "note": "flat tyre" }),
            ),
            (
                "unit_dispatched",
                json!({ "call_sign": "AMB-12", "from": "available", "to": "dispatched",
                        "recommendation": "recommendations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a54",
                        "override_reason": "" }),
            ),
            (
                "unit_en_route",
                json!({ "call_sign": "AMB-12", "note": "", "from": "dispatched", "to": "en_route" }),
            ),
            (
                "unit_on_scene",
                json!({ "call_sign": "AMB-12", "note": "", "from": "en_route", "to": "on_scene" }),
            ),
            (
                "unit_transporting",
                json!({ "call_sign": "AMB-12", "note": "", "from": "on_scene", "to": "transporting" }),
            ),
            (
                "unit_at_hospital",
                json!({ "call_sign": "AMB-12", "note": "", "from": "transporting", "to": "at_hospital" }),
            ),
            (
                "unit_cleared",
                json!({ "reason": "", "status": "available", "from": "at_hospital", "to": "available" }),
            ),
            (
                "unit_released",
                json!({ "reason": "not needed", "status": "available", "from": "en_route",
                        "to": "available" }),
            ),
            (
                "station_created",
                json!({ "station": "stations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a55", "code": "B-1" }),
            ),
            (
                "camera_created",
                json!({ "camera": "cameras/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a56", "code": "CAM-7" }),
            ),
            (
                "camera_updated",
                json!({ "camera": "cameras/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a56", "active": false }),
            ),
            (
                "agency_created",
                json!({ "agency": "agencies/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a57", "code": "CRUM" }),
            ),
            ("partner_created", json!({ "code": "HOSP-1" })),
            ("partner_updated", json!({})),
            (
                "partner_capacity_updated",
                json!({ "available": 3, "total": 10, "not_accepting": false }),
            ),
            ("referral_created", json!({ "history": 1 })),
            ("referral_accepted", json!({ "history": 2 })),
            ("referral_declined", json!({ "history": 3 })),
            ("referral_status_changed", json!({ "history": 4 })),
            ("referral_readdressed", json!({ "history": 5 })),
            ("referral_follow_up_recorded", json!({ "history": 6 })),
            (
                "principal_created",
                json!({ "principal": principal, "name": "ana", "role": "dispatcher",
                        "agency": "agencies/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a57", "unit": null,
                        "partner": null }),
            ),
            (
                "principal_updated",
                json!({ "principal": principal, "changed": ["role"], "display_name": "Ana",
                        "role": "supervisor", "agency": null,
                        "unit": "units/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a58",
                        "partner": "partners/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a53",
                        "ends_sessions": true, "reason": "promoted" }),
            ),
            (
                "principal_disabled",
                json!({ "principal": principal, "reason": "left" }),
            ),
            (
                "principal_enabled",
                json!({ "principal": principal, "reason": "back" }),
            ),
            (
                "credential_issued",
                json!({ "credential": credential, "principal": principal, "kind": "bearer_token",
                        "token_prefix": "dsp_0190a1b2", "certificate_sha256": null,
                        "description": "console", "expires_at": "2027-01-01T00:00:00Z" }),
            ),
            (
                "credential_revoked",
                json!({ "credential": credential, "principal": principal, "reason": "lost" }),
            ),
        ]
    }

    #[test]
    fn every_stored_kind_reads_and_writes_back_the_same_row() {
        let rows = stored_rows();
        for (kind, details) in &rows {
            let stored = json!({ "kind": kind, "details": details });
            let event: Event = serde_json::from_value(stored.clone())
                .unwrap_or_else(|error| panic!("{kind}: {error}"));
            assert_eq!(event.kind(), *kind);
            assert_eq!(
                serde_json::to_value(&event).expect("serialises"),
                stored,
                "{kind}"
            );
        }
        // One row per kind: `kind()` names each variant, and each name is sampled once.
        let mut kinds: Vec<_> = rows.iter().map(|(kind, _)| *kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), rows.len());
        assert_eq!(kinds.len(), 46);
    }

    #[test]
    fn a_call_received_row_written_in_sql_reads() {
        // jsonb_build_object writes a timestamptz with an offset, not chrono's `Z`.
        let stored = json!({ "kind": CallEvent::RECEIVED, "details": {
            "folio": "C5/BENCH/1", "channel": "voice_911",
            "received_at": "2026-12-02T13:41:00.123456+00:00",
            "answered_at": "2026-12-02T13:41:04.123456+00:00", "back_entered": false } });
        let event: Event = serde_json::from_value(stored).expect("reads");
        assert_eq!(event.kind(), CallEvent::RECEIVED);
    }

    #[test]
    fn a_unit_off_an_incident_records_no_call_sign() {
        let event = Event::from(UnitEvent::StatusChanged {
            call_sign: None,
            note: String::new(),
            from: UnitStatus::Available,
            to: UnitStatus::OutOfService,
        });
        let details = &serde_json::to_value(&event).expect("serialises")["details"];
        assert_eq!(details.get("call_sign"), None);
    }

    #[test]
    fn referral_events_follow_the_history_kind() {
        for kind in ReferralHistoryKind::ALL {
            let event = Event::from(PartnerEvent::referral(*kind, 7));
            assert_eq!(event.kind(), format!("referral_{}", kind.as_str()));
        }
    }

    #[test]
    fn unknown_kinds_and_bad_details_are_refused() {
        for stored in [
            json!({ "kind": "no_such_kind", "details": {} }),
            json!({ "kind": "note_added", "details": {} }),
            json!({ "kind": "status_changed", "details": { "from": "x", "to": "new", "note": "" } }),
            json!({ "kind": "merged_in", "details": { "incident": "calls/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                    "folio": "", "calls": 1, "note": "" } }),
        ] {
            assert!(
                serde_json::from_value::<Event>(stored.clone()).is_err(),
                "{stored}"
            );
        }
    }
}
