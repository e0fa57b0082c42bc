//! `VictimCareReferralService` and the partner side of `DirectoryService`.
//!
//! A partner principal sees only referrals addressed to its partner: every read and change is
//! scoped in the store, and anything outside the scope is NOT_FOUND, exactly like a missing one.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Utc;
use futures::Stream;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::auth::Role;
use dispatch_domain::call::{MAX_NOTE_CHARS, check_length};
use dispatch_domain::directory::{check_code, check_display_name};
use dispatch_domain::ids::IncidentId;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{
    AgeRange, ConsentDraft, FollowUpOutcome, FollowUpRecordDraft, FollowUpStatus, Need,
    PartnerCandidate, PartnerKind, Polygon, ReferralAction, ReferralDraft, ReferralStatus,
    SafeContactChannel, SafeContactDraft, ServiceArea, VictimDraft, decline_reason,
    parse_partner_name, parse_referral_name, partner_name, referral_name, suggest,
    suggestion_limit, validate_needs, validate_status_update,
};
use dispatch_domain::referral::{FollowUp, HistoryEntry, Referral};
use dispatch_domain::triage::Category;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::victim_care_referral_service_server::VictimCareReferralService;
use dispatch_store::partners::{NewPartner, Partner};

use super::request::idempotency;
use crate::AppState;
use crate::auth::{Principal, note_resource, note_victim_data_read};
use crate::convert::{self, timestamp};
use crate::error::{Error, invalid};

#[derive(Debug, Clone)]
pub struct Referrals {
    state: Arc<AppState>,
}

impl Referrals {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

fn need(need: Need) -> pb::ReferralNeed {
    match need {
        Need::Medical => pb::ReferralNeed::Medical,
        Need::Psychological => pb::ReferralNeed::Psychological,
        Need::Legal => pb::ReferralNeed::Legal,
        Need::Shelter => pb::ReferralNeed::Shelter,
        Need::SocialProgram => pb::ReferralNeed::SocialProgram,
        Need::ChildProtection => pb::ReferralNeed::ChildProtection,
        Need::FollowUpCalls => pb::ReferralNeed::FollowUpCalls,
    }
}

fn need_from(value: i32) -> Option<Need> {
    Need::ALL
        .iter()
        .copied()
        .find(|n| i32::from(need(*n)) == value)
}

fn kind(kind: PartnerKind) -> pb::PartnerKind {
    match kind {
        PartnerKind::Hospital => pb::PartnerKind::Hospital,
        PartnerKind::RedCross => pb::PartnerKind::RedCross,
        PartnerKind::WomensCentre => pb::PartnerKind::WomensCentre,
        PartnerKind::Shelter => pb::PartnerKind::Shelter,
        PartnerKind::LegalAid => pb::PartnerKind::LegalAid,
        PartnerKind::PsychologicalCare => pb::PartnerKind::PsychologicalCare,
        PartnerKind::ChildProtection => pb::PartnerKind::ChildProtection,
        PartnerKind::SocialProgram => pb::PartnerKind::SocialProgram,
        PartnerKind::Other => pb::PartnerKind::Other,
    }
}

fn kind_from(value: i32) -> Option<PartnerKind> {
    PartnerKind::ALL
        .iter()
        .copied()
        .find(|k| i32::from(kind(*k)) == value)
}

fn status(status: ReferralStatus) -> pb::ReferralStatus {
    match status {
        ReferralStatus::Requested => pb::ReferralStatus::Requested,
        ReferralStatus::Accepted => pb::ReferralStatus::Accepted,
        ReferralStatus::Declined => pb::ReferralStatus::Declined,
        ReferralStatus::InProgress => pb::ReferralStatus::InProgress,
        ReferralStatus::OnHold => pb::ReferralStatus::OnHold,
        ReferralStatus::Completed => pb::ReferralStatus::Completed,
        ReferralStatus::Cancelled => pb::ReferralStatus::Cancelled,
    }
}

fn status_from(value: i32) -> Option<ReferralStatus> {
    ReferralStatus::ALL
        .iter()
        .copied()
        .find(|s| i32::from(status(*s)) == value)
}

fn outcome(outcome: FollowUpOutcome) -> pb::FollowUpOutcome {
    match outcome {
        FollowUpOutcome::ReachedSafe => pb::FollowUpOutcome::ReachedSafe,
        FollowUpOutcome::ReachedNeedsSupport => pb::FollowUpOutcome::ReachedNeedsSupport,
        FollowUpOutcome::ReachedInDanger => pb::FollowUpOutcome::ReachedInDanger,
        FollowUpOutcome::NotReached => pb::FollowUpOutcome::NotReached,
        FollowUpOutcome::DeclinedContact => pb::FollowUpOutcome::DeclinedContact,
        FollowUpOutcome::Other => pb::FollowUpOutcome::Other,
    }
}

fn follow_up_status(value: FollowUpStatus) -> pb::FollowUpStatus {
    match value {
        FollowUpStatus::Pending => pb::FollowUpStatus::Pending,
        FollowUpStatus::Overdue => pb::FollowUpStatus::Overdue,
        FollowUpStatus::Done => pb::FollowUpStatus::Done,
        FollowUpStatus::Cancelled => pb::FollowUpStatus::Cancelled,
    }
}

fn follow_up_message(follow_up: &FollowUp) -> pb::FollowUp {
    let now = Utc::now();
    pb::FollowUp {
        name: format!(
            "{}/follow-ups/{}",
            referral_name(follow_up.referral),
            follow_up.id
        ),
        due_time: Some(timestamp(follow_up.due_at)),
        done_time: follow_up.done_at.map(timestamp),
        status: follow_up_status(follow_up.state.status_at(follow_up.due_at, now)).into(),
        outcome: follow_up
            .outcome
            .map_or(pb::FollowUpOutcome::Unspecified, outcome)
            .into(),
        outcome_note: follow_up.outcome_note.clone(),
        recorded_by: follow_up.recorded_by.clone(),
        create_time: Some(timestamp(follow_up.created_at)),
        scheduled: follow_up.scheduled,
    }
}

fn history_kind(kind: &str) -> pb::ReferralHistoryEntryKind {
    match kind {
        "created" => pb::ReferralHistoryEntryKind::Created,
        "accepted" => pb::ReferralHistoryEntryKind::Accepted,
        "declined" => pb::ReferralHistoryEntryKind::Declined,
        "status_changed" => pb::ReferralHistoryEntryKind::StatusChanged,
        "readdressed" | "readdressed_away" => pb::ReferralHistoryEntryKind::Readdressed,
        "follow_up_recorded" => pb::ReferralHistoryEntryKind::FollowUpRecorded,
        _ => pb::ReferralHistoryEntryKind::Unspecified,
    }
}

/// One history entry on the wire: the same in GetReferral and in the WatchReferrals event that
/// recorded it.
fn history_entry(referral: Uuid, entry: &HistoryEntry) -> pb::ReferralHistoryEntry {
    pb::ReferralHistoryEntry {
        time: Some(timestamp(entry.time)),
        kind: history_kind(&entry.kind).into(),
        actor: entry.actor.clone(),
        from_status: entry
            .from_status
            .map_or(pb::ReferralStatus::Unspecified, status)
            .into(),
        to_status: entry
            .to_status
            .map_or(pb::ReferralStatus::Unspecified, status)
            .into(),
        partner: entry.partner.map(partner_name).unwrap_or_default(),
        note: entry.note.clone(),
        follow_up: entry
            .follow_up
            .map(|f| format!("{}/follow-ups/{f}", referral_name(referral)))
            .unwrap_or_default(),
    }
}

fn referral_message(referral: &Referral) -> pb::Referral {
    let victim = &referral.victim;
    pb::Referral {
        name: referral_name(referral.id),
        incident: referral.incident.name(),
        victim: Some(pb::Victim {
            alias: victim.alias.clone(),
            full_name: victim.full_name.clone(),
            age_range: match victim.age_range {
                AgeRange::Child => pb::AgeRange::Child,
                AgeRange::Adolescent => pb::AgeRange::Adolescent,
                AgeRange::Adult => pb::AgeRange::Adult,
                AgeRange::OlderAdult => pb::AgeRange::OlderAdult,
                AgeRange::Unknown => pb::AgeRange::Unknown,
            }
            .into(),
            gender: victim.gender.clone(),
            language: victim.language.clone(),
            safe_contact: victim.safe_contact.as_ref().map(|c| pb::SafeContact {
                channel: match c.channel {
                    SafeContactChannel::Phone => pb::SafeContactChannel::Phone,
                    SafeContactChannel::Sms => pb::SafeContactChannel::Sms,
                    SafeContactChannel::MessagingApp => pb::SafeContactChannel::MessagingApp,
                    SafeContactChannel::Email => pb::SafeContactChannel::Email,
                    SafeContactChannel::InPerson => pb::SafeContactChannel::InPerson,
                }
                .into(),
                value: c.value.clone(),
                safe_times: c.safe_times.clone(),
            }),
            safety_notes: victim.safety_notes.clone(),
        }),
        needs: referral.needs.iter().map(|n| i32::from(need(*n))).collect(),
        partner: partner_name(referral.partner),
        status: status(referral.status).into(),
        decline_reason: referral.decline_reason.clone(),
        life_threat_medical_handoff: referral.life_threat_medical_handoff,
        consent: Some(match &referral.consent {
            Some(consent) => pb::Consent {
                given: true,
                given_by: consent.given_by.clone(),
                given_time: Some(timestamp(consent.given_at)),
                scope: consent.scope.clone(),
            },
            None => pb::Consent::default(),
        }),
        notes: referral.notes.clone(),
        history: referral
            .history
            .iter()
            .map(|entry| history_entry(referral.id, entry))
            .collect(),
        follow_ups: referral.follow_ups.iter().map(follow_up_message).collect(),
        create_time: Some(timestamp(referral.created_at)),
        update_time: Some(timestamp(referral.updated_at)),
        etag: convert::etag(referral.version),
        requested_by: referral.requested_by.clone(),
        status_time: Some(timestamp(referral.status_at)),
    }
}

pub fn partner_message(partner: &Partner) -> pb::PartnerAgency {
    let details = &partner.details;
    pb::PartnerAgency {
        name: partner_name(partner.id),
        code: details.code.clone(),
        display_name: details.display_name.clone(),
        kind: kind(details.kind).into(),
        services: details
            .services
            .iter()
            .map(|n| i32::from(need(*n)))
            .collect(),
        service_areas: details
            .areas
            .iter()
            .flat_map(|area| {
                area.polygons.iter().map(|polygon| pb::ServiceArea {
                    display_name: area.display_name.clone(),
                    shape: Some(pb::service_area::Shape::Polygon(pb::Polygon {
                        points: polygon.exterior().iter().map(convert::geo_point).collect(),
                    })),
                })
            })
            .collect(),
        capacity: Some(pb::Capacity {
            available_slots: details.available_slots,
            total_slots: details.total_slots,
            not_accepting: details.not_accepting,
            update_time: Some(timestamp(partner.capacity_updated_at)),
            note: partner.capacity_note.clone(),
        }),
        contacts: serde_json::from_value::<Vec<(String, String, String, String)>>(
            details.contacts.clone(),
        )
        .unwrap_or_default()
        .into_iter()
        .map(|(name, role, phone, email)| pb::Contact {
            name,
            role,
            phone,
            email,
        })
        .collect(),
        location: details.location.as_ref().map(convert::geo_point),
        address: details.address.clone(),
        create_time: Some(timestamp(partner.created_at)),
        update_time: Some(timestamp(partner.updated_at)),
        etag: convert::etag(partner.version),
    }
}

/// GeoJSON Polygon or MultiPolygon text into the domain's polygons.
fn geojson_polygons(text: &str) -> Result<Vec<Polygon>, Violations> {
    let bad =
        |why: &str| Violations::single("", format!("not a GeoJSON Polygon or MultiPolygon: {why}"));
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let geometry = if value["type"] == "Feature" {
        &value["geometry"]
    } else {
        &value
    };
    let rings_of = |coords: &serde_json::Value| -> Result<Vec<Vec<[f64; 2]>>, Violations> {
        serde_json::from_value(coords.clone())
            .map_err(|_| bad("coordinates must be [[[lon, lat], ...], ...]"))
    };
    match geometry["type"].as_str() {
        Some("Polygon") => Ok(vec![Polygon::from_geojson_rings(&rings_of(
            &geometry["coordinates"],
        )?)?]),
        Some("MultiPolygon") => geometry["coordinates"]
            .as_array()
            .ok_or_else(|| bad("coordinates must be an array"))?
            .iter()
            .map(|polygon| Polygon::from_geojson_rings(&rings_of(polygon)?))
            .collect(),
        _ => Err(bad("type must be Polygon or MultiPolygon")),
    }
}

/// Wire service areas into the domain's; violations name `partner_agency.service_areas[i]`.
fn service_areas(areas: &[pb::ServiceArea], violations: &mut Violations) -> Vec<ServiceArea> {
    let mut valid = Vec::new();
    for (i, area) in areas.iter().enumerate() {
        let field = format!("partner_agency.service_areas[{i}]");
        let polygons = match &area.shape {
            Some(pb::service_area::Shape::Polygon(polygon)) => {
                // Every bad point, each at its own path.
                let mut points = Vec::with_capacity(polygon.points.len());
                let mut bad_point = false;
                for (j, p) in polygon.points.iter().enumerate() {
                    match GeoPoint::new(p.latitude, p.longitude) {
                        Ok(point) => points.push(point),
                        Err(v) => {
                            bad_point = true;
                            violations.collect::<()>(Err(
                                v.within(&format!("{field}.polygon.points[{j}]"))
                            ));
                        }
                    }
                }
                if bad_point {
                    None
                } else {
                    violations.collect(
                        Polygon::new(points)
                            .map(|p| vec![p])
                            .map_err(|v| v.within(&format!("{field}.polygon"))),
                    )
                }
            }
            Some(pb::service_area::Shape::Geojson(text)) => violations
                .collect(geojson_polygons(text).map_err(|v| v.within(&format!("{field}.geojson")))),
            None => {
                violations.add(field.clone(), "required: a polygon or GeoJSON");
                None
            }
        };
        if let Some(polygons) = polygons {
            valid.extend(violations.collect(
                ServiceArea::new(area.display_name.clone(), polygons).map_err(|v| v.within(&field)),
            ));
        }
    }
    valid
}

fn contacts_json(contacts: &[pb::Contact]) -> serde_json::Value {
    serde_json::to_value(
        contacts
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.role.clone(),
                    c.phone.clone(),
                    c.email.clone(),
                )
            })
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// The partner a partner principal speaks for; `None` for everyone else (no scope).
fn scope(principal: &Principal) -> Option<Uuid> {
    (principal.role == Role::PartnerAgency)
        .then_some(principal.partner)
        .flatten()
}

impl Referrals {
    fn gender_violence(&self, incident_type: Option<&str>) -> bool {
        incident_type
            .and_then(|code| self.state.catalogue.get(code))
            .is_some_and(|t| t.category == Category::GenderViolence)
    }
}

pub async fn create_partner(
    state: &AppState,
    request: Request<pb::CreatePartnerAgencyRequest>,
) -> Result<Response<pb::CreatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "CreatePartnerAgency",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let Some(partner) = message.partner_agency else {
        violations.add("partner_agency", "required");
        return Err(invalid(&violations));
    };
    check_code(&mut violations, "partner_agency.code", &partner.code, 64);
    check_display_name(
        &mut violations,
        "partner_agency.display_name",
        &partner.display_name,
    );
    let partner_kind = kind_from(partner.kind);
    if partner_kind.is_none() {
        violations.add("partner_agency.kind", "required");
    }
    let services = violations.collect(validate_needs(
        "partner_agency.services",
        &partner
            .services
            .iter()
            .map(|v| need_from(*v))
            .collect::<Vec<_>>(),
    ));
    let areas = service_areas(&partner.service_areas, &mut violations);
    if areas.is_empty() && partner.service_areas.is_empty() {
        violations.add(
            "partner_agency.service_areas",
            "at least one area the partner serves",
        );
    }
    let location = partner.location.as_ref().and_then(|p| {
        violations.collect(
            GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("partner_agency.location")),
        )
    });
    let capacity = partner.capacity.unwrap_or_default();
    if capacity.available_slots < 0 || capacity.total_slots < 0 {
        violations.add("partner_agency.capacity", "slots must not be negative");
    } else if capacity.available_slots > capacity.total_slots {
        violations.add(
            "partner_agency.capacity.available_slots",
            "must not exceed total_slots",
        );
    }
    check_length(
        &mut violations,
        "partner_agency.address",
        &partner.address,
        500,
    );
    let (Some(key), Some(partner_kind), Some(services)) = (key, partner_kind, services) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let contacts = contacts_json(&partner.contacts);
    let new = NewPartner {
        code: partner.code,
        display_name: partner.display_name,
        kind: partner_kind,
        services,
        areas,
        location,
        address: partner.address,
        available_slots: capacity.available_slots,
        total_slots: capacity.total_slots,
        not_accepting: capacity.not_accepting,
        contacts,
    };
    let created = state
        .store
        .create_partner(&key, &principal.name, &new)
        .await
        .map_err(Error::from)?
        .value;
    note_resource(partner_name(created.id));
    Ok(Response::new(pb::CreatePartnerAgencyResponse {
        partner_agency: Some(partner_message(&created)),
    }))
}

pub async fn update_partner(
    state: &AppState,
    request: Request<pb::UpdatePartnerAgencyRequest>,
) -> Result<Response<pb::UpdatePartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "UpdatePartnerAgency",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let Some(partner) = &message.partner_agency else {
        violations.add(
            "partner_agency",
            "required: the partner's name, etag and new values",
        );
        return Err(invalid(&violations));
    };
    let id = violations.collect(parse_partner_name("partner_agency.name", &partner.name));
    let etag = match violations.collect(convert::etag_from("partner_agency.etag", &partner.etag)) {
        Some(Some(version)) => Some(version),
        Some(None) => {
            violations.add(
                "partner_agency.etag",
                "required: the etag of the partner as you last read it",
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
        violations.add("update_mask", "required");
    }
    let mut changes = dispatch_store::partners::PartnerChanges::default();
    for (i, path) in paths.iter().enumerate() {
        match path.as_str() {
            "display_name" => {
                check_display_name(
                    &mut violations,
                    "partner_agency.display_name",
                    &partner.display_name,
                );
                changes.display_name = Some(partner.display_name.clone());
            }
            "kind" => match kind_from(partner.kind) {
                Some(k) => changes.kind = Some(k),
                None => violations.add("partner_agency.kind", "required"),
            },
            "services" => {
                changes.services = violations.collect(validate_needs(
                    "partner_agency.services",
                    &partner
                        .services
                        .iter()
                        .map(|v| need_from(*v))
                        .collect::<Vec<_>>(),
                ));
            }
            "service_areas" => {
                let areas = service_areas(&partner.service_areas, &mut violations);
                if partner.service_areas.is_empty() {
                    violations.add(
                        "partner_agency.service_areas",
                        "at least one area the partner serves",
                    );
                }
                changes.areas = Some(areas);
            }
            "contacts" => changes.contacts = Some(contacts_json(&partner.contacts)),
            "location" => {
                changes.location = Some(partner.location.as_ref().and_then(|p| {
                    violations.collect(
                        GeoPoint::new(p.latitude, p.longitude)
                            .map_err(|v| v.within("partner_agency.location")),
                    )
                }));
            }
            "address" => {
                check_length(
                    &mut violations,
                    "partner_agency.address",
                    &partner.address,
                    500,
                );
                changes.address = Some(partner.address.clone());
            }
            other => violations.add(
                format!("update_mask.paths[{i}]"),
                format!("{other:?} cannot be updated here"),
            ),
        }
    }
    let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    note_resource(partner_name(id));
    let updated = state
        .store
        .update_partner(&key, &principal.name, id, &changes, etag)
        .await
        .map_err(Error::from)?
        .value;
    Ok(Response::new(pb::UpdatePartnerAgencyResponse {
        partner_agency: Some(partner_message(&updated)),
    }))
}

pub async fn get_partner(
    state: &AppState,
    request: Request<pb::GetPartnerAgencyRequest>,
) -> Result<Response<pb::GetPartnerAgencyResponse>, Status> {
    let principal = Principal::of(&request);
    let id = parse_partner_name("name", &request.get_ref().name).map_err(Error::from)?;
    if scope(&principal).is_some_and(|own| own != id) {
        return Err(Status::not_found(format!("{} not found", partner_name(id))));
    }
    let partner = state.store.get_partner(id).await.map_err(Error::from)?;
    Ok(Response::new(pb::GetPartnerAgencyResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}

pub async fn list_partners(
    state: &AppState,
    request: Request<pb::ListPartnerAgenciesRequest>,
) -> Result<Response<pb::ListPartnerAgenciesResponse>, Status> {
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
    let kinds = violations.collect(convert::enum_filter("kinds", &message.kinds, kind_from));
    let services = violations.collect(convert::enum_filter(
        "services",
        &message.services,
        need_from,
    ));
    let point = message.serves_point.as_ref().and_then(|p| {
        violations
            .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("serves_point")))
    });
    let (Some(page), Some(kinds), Some(services)) = (page, kinds, services) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let (partners, next) = state
        .store
        .list_partners(&page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListPartnerAgenciesResponse {
        partner_agencies: partners
            .iter()
            .filter(|p| kinds.is_empty() || kinds.contains(&p.details.kind))
            .filter(|p| {
                services.is_empty() || services.iter().any(|s| p.details.services.contains(s))
            })
            .filter(|p| {
                point.is_none_or(|point| p.details.areas.iter().any(|a| a.contains(&point)))
            })
            .map(partner_message)
            .collect(),
        next_page_token: convert::code_token(next),
    }))
}

pub async fn update_partner_capacity(
    state: &AppState,
    request: Request<pb::UpdatePartnerCapacityRequest>,
) -> Result<Response<pb::UpdatePartnerCapacityResponse>, Status> {
    let principal = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "UpdatePartnerCapacity",
        &principal,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let id = violations.collect(parse_partner_name("partner", &message.partner));
    let capacity = message.capacity.unwrap_or_default();
    if capacity.available_slots < 0 || capacity.total_slots < 0 {
        violations.add("capacity", "slots must not be negative");
    } else if capacity.available_slots > capacity.total_slots {
        violations.add("capacity.available_slots", "must not exceed total_slots");
    }
    check_length(&mut violations, "capacity.note", &capacity.note, 500);
    let (Some(key), Some(id)) = (key, id) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    if scope(&principal).is_some_and(|own| own != id) {
        return Err(Status::not_found(format!("{} not found", partner_name(id))));
    }
    let partner = state
        .store
        .update_partner_capacity(
            &key,
            &principal.name,
            id,
            capacity.available_slots,
            capacity.total_slots,
            capacity.not_accepting,
            &capacity.note,
        )
        .await
        .map_err(Error::from)?
        .value;
    note_resource(partner_name(id));
    Ok(Response::new(pb::UpdatePartnerCapacityResponse {
        partner_agency: Some(partner_message(&partner)),
    }))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchReferralsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl VictimCareReferralService for Referrals {
    type WatchReferralsStream = WatchStream;

    async fn suggest_partners(
        &self,
        request: Request<pb::SuggestPartnersRequest>,
    ) -> Result<Response<pb::SuggestPartnersResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let at = match &message.location {
            Some(p) => violations
                .collect(GeoPoint::new(p.latitude, p.longitude).map_err(|v| v.within("location"))),
            None => {
                violations.add("location", "required");
                None
            }
        };
        let needs = violations.collect(validate_needs(
            "needs",
            &message
                .needs
                .iter()
                .map(|v| need_from(*v))
                .collect::<Vec<_>>(),
        ));
        let limit = violations.collect(suggestion_limit(message.limit));
        let (Some(at), Some(needs), Some(limit)) = (at, needs, limit) else {
            return Err(invalid(&violations));
        };
        let partners = self.state.store.all_partners().await.map_err(Error::from)?;
        let names: HashMap<Uuid, String> = partners
            .iter()
            .map(|p| (p.id, p.details.display_name.clone()))
            .collect();
        let candidates: Vec<PartnerCandidate> = partners
            .iter()
            .map(|p| PartnerCandidate {
                id: p.id,
                kind: p.details.kind,
                services: p.details.services.clone(),
                areas: p.details.areas.clone(),
                location: p.details.location,
                available_slots: p.details.available_slots,
                not_accepting: p.details.not_accepting,
            })
            .collect();
        let suggestions = suggest(at, &needs, &candidates)
            .into_iter()
            .take(limit)
            .map(|s| pb::PartnerSuggestion {
                partner: partner_name(s.partner),
                display_name: names.get(&s.partner).cloned().unwrap_or_default(),
                kind: kind(s.kind).into(),
                distance_m: s.distance_m.unwrap_or_default(),
                available_slots: s.available_slots,
                matched_needs: s.covers.iter().map(|n| i32::from(need(*n))).collect(),
                reason: s.reason,
            })
            .collect();
        Ok(Response::new(pb::SuggestPartnersResponse { suggestions }))
    }

    async fn create_referral(
        &self,
        request: Request<pb::CreateReferralRequest>,
    ) -> Result<Response<pb::CreateReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CreateReferral",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let consent = message.consent.clone().unwrap_or_default();
        let given_at = violations.collect(convert::datetime(
            "consent.given_time",
            consent.given_time.as_ref(),
        ));
        let draft = ReferralDraft {
            incident: message.incident.clone(),
            victim: message.victim.as_ref().map(|v| VictimDraft {
                alias: v.alias.clone(),
                full_name: v.full_name.clone(),
                age_range: match pb::AgeRange::try_from(v.age_range) {
                    Ok(pb::AgeRange::Child) => Some(AgeRange::Child),
                    Ok(pb::AgeRange::Adolescent) => Some(AgeRange::Adolescent),
                    Ok(pb::AgeRange::Adult) => Some(AgeRange::Adult),
                    Ok(pb::AgeRange::OlderAdult) => Some(AgeRange::OlderAdult),
                    Ok(pb::AgeRange::Unknown) => Some(AgeRange::Unknown),
                    Ok(pb::AgeRange::Unspecified) | Err(_) => None,
                },
                gender: v.gender.clone(),
                language: v.language.clone(),
                safe_contact: v.safe_contact.as_ref().map(|c| SafeContactDraft {
                    channel: match pb::SafeContactChannel::try_from(c.channel) {
                        Ok(pb::SafeContactChannel::Phone) => Some(SafeContactChannel::Phone),
                        Ok(pb::SafeContactChannel::Sms) => Some(SafeContactChannel::Sms),
                        Ok(pb::SafeContactChannel::MessagingApp) => {
                            Some(SafeContactChannel::MessagingApp)
                        }
                        Ok(pb::SafeContactChannel::Email) => Some(SafeContactChannel::Email),
                        Ok(pb::SafeContactChannel::InPerson) => Some(SafeContactChannel::InPerson),
                        Ok(pb::SafeContactChannel::Unspecified) | Err(_) => None,
                    },
                    value: c.value.clone(),
                    safe_times: c.safe_times.clone(),
                }),
                safety_notes: v.safety_notes.clone(),
            }),
            needs: message.needs.iter().map(|v| need_from(*v)).collect(),
            partner: message.partner.clone(),
            consent: ConsentDraft {
                given: consent.given,
                given_by: consent.given_by.clone(),
                given_at: given_at.flatten(),
                scope: consent.scope.clone(),
            },
            life_threat_medical_handoff: message.life_threat_medical_handoff,
            notes: message.notes.clone(),
        };
        let referral = violations.collect(draft.validate(Utc::now()));
        let (Some(key), Some(referral)) = (key, referral) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let incident = self
            .state
            .store
            .get_incident(referral.incident)
            .await
            .map_err(Error::from)?;
        let due = self.state.follow_up_policy.schedule(
            Utc::now(),
            &referral.needs,
            self.gender_violence(incident.incident_type.as_deref()),
        );
        let created = self
            .state
            .store
            .create_referral(&key, &principal.name, &referral, &due)
            .await
            .map_err(Error::from)?
            .value;
        note_resource(referral_name(created.id));
        Ok(Response::new(pb::CreateReferralResponse {
            referral: Some(referral_message(&created)),
        }))
    }

    async fn get_referral(
        &self,
        request: Request<pb::GetReferralRequest>,
    ) -> Result<Response<pb::GetReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let id = parse_referral_name("name", &request.get_ref().name).map_err(Error::from)?;
        note_victim_data_read(referral_name(id));
        let referral = self
            .state
            .store
            .get_referral(id, scope(&principal))
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::GetReferralResponse {
            referral: Some(referral_message(&referral)),
        }))
    }

    async fn list_referrals(
        &self,
        request: Request<pb::ListReferralsRequest>,
    ) -> Result<Response<pb::ListReferralsResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::time_page(message.page_size, &message.page_token));
        let partner = if message.partner.is_empty() {
            None
        } else {
            violations.collect(parse_partner_name("partner", &message.partner))
        };
        let incident = if message.incident.is_empty() {
            None
        } else {
            violations.collect(IncidentId::parse_name("incident", &message.incident))
        };
        let statuses = violations.collect(convert::enum_filter(
            "statuses",
            &message.statuses,
            status_from,
        ));
        let (Some(page), Some(statuses)) = (page, statuses) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        // A partner lists its own, whatever it asks for; asking for another's finds nothing.
        let partner = match (scope(&principal), partner) {
            (Some(own), Some(asked)) if own != asked => {
                return Ok(Response::new(pb::ListReferralsResponse::default()));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        note_victim_data_read(message.partner.clone());
        let (referrals, next) = self
            .state
            .store
            .list_referrals(partner, incident, &statuses, &page)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListReferralsResponse {
            referrals: referrals.iter().map(referral_message).collect(),
            next_page_token: convert::time_token(next),
        }))
    }

    async fn accept_referral(
        &self,
        request: Request<pb::AcceptReferralRequest>,
    ) -> Result<Response<pb::AcceptReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let referral = self
            .transition(
                &principal,
                "AcceptReferral",
                &message.request_id,
                &message,
                &message.name,
                ReferralAction::Accept,
                &message.note,
                &message.etag,
                |m| m.request_id.clear(),
            )
            .await?;
        Ok(Response::new(pb::AcceptReferralResponse {
            referral: Some(referral),
        }))
    }

    async fn decline_referral(
        &self,
        request: Request<pb::DeclineReferralRequest>,
    ) -> Result<Response<pb::DeclineReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let reason = decline_reason(&message.reason).map_err(|v| invalid(&v))?;
        let referral = self
            .transition(
                &principal,
                "DeclineReferral",
                &message.request_id,
                &message,
                &message.name,
                ReferralAction::Decline,
                &reason,
                &message.etag,
                |m| m.request_id.clear(),
            )
            .await?;
        Ok(Response::new(pb::DeclineReferralResponse {
            referral: Some(referral),
        }))
    }

    async fn update_referral_status(
        &self,
        request: Request<pb::UpdateReferralStatusRequest>,
    ) -> Result<Response<pb::UpdateReferralStatusResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let target = validate_status_update(status_from(message.status), &message.note)
            .map_err(|v| invalid(&v))?;
        let id = parse_referral_name("name", &message.name).map_err(Error::from)?;
        // Which action the target means depends on the current status.
        let current = self
            .state
            .store
            .get_referral(id, scope(&principal))
            .await
            .map_err(Error::from)?;
        let action = ReferralAction::for_update(current.status, target).map_err(|v| invalid(&v))?;
        let referral = self
            .transition(
                &principal,
                "UpdateReferralStatus",
                &message.request_id,
                &message,
                &message.name,
                action,
                &message.note,
                &message.etag,
                |m| m.request_id.clear(),
            )
            .await?;
        Ok(Response::new(pb::UpdateReferralStatusResponse {
            referral: Some(referral),
        }))
    }

    async fn readdress_referral(
        &self,
        request: Request<pb::ReaddressReferralRequest>,
    ) -> Result<Response<pb::ReaddressReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "ReaddressReferral",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = violations.collect(parse_referral_name("name", &message.name));
        let partner = violations.collect(parse_partner_name("partner", &message.partner));
        check_length(&mut violations, "note", &message.note, MAX_NOTE_CHARS);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(partner), Some(etag)) = (key, id, partner, etag) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        note_resource(referral_name(id));
        let referral = self
            .state
            .store
            .readdress_referral(&key, &principal.name, id, partner, &message.note, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::ReaddressReferralResponse {
            referral: Some(referral_message(&referral)),
        }))
    }

    async fn record_follow_up(
        &self,
        request: Request<pb::RecordFollowUpRequest>,
    ) -> Result<Response<pb::RecordFollowUpResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "RecordFollowUp",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let referral = violations.collect(parse_referral_name("referral", &message.referral));
        let follow_up = if message.follow_up.is_empty() {
            Some(None)
        } else {
            match message
                .follow_up
                .rsplit_once("/follow-ups/")
                .and_then(|(_, id)| Uuid::parse_str(id).ok())
            {
                Some(id) => Some(Some(id)),
                None => {
                    violations.add(
                        "follow_up",
                        "must be a referrals/{uuid}/follow-ups/{uuid} name",
                    );
                    None
                }
            }
        };
        let done_at =
            violations.collect(convert::datetime("done_time", message.done_time.as_ref()));
        let record = done_at.and_then(|done_at| {
            violations.collect(
                FollowUpRecordDraft {
                    outcome: FollowUpOutcome::ALL
                        .iter()
                        .copied()
                        .find(|o| i32::from(outcome(*o)) == message.outcome),
                    outcome_note: message.outcome_note.clone(),
                    done_at,
                }
                .validate(Utc::now()),
            )
        });
        let (Some(key), Some(referral), Some(follow_up), Some(record)) =
            (key, referral, follow_up, record)
        else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        note_resource(referral_name(referral));
        let (updated, follow_up_id) = self
            .state
            .store
            .record_follow_up(
                &key,
                &principal.name,
                referral,
                follow_up,
                &record,
                scope(&principal),
            )
            .await
            .map_err(Error::from)?
            .value;
        let follow_up = updated
            .follow_ups
            .iter()
            .find(|f| f.id == follow_up_id)
            .map(follow_up_message);
        Ok(Response::new(pb::RecordFollowUpResponse {
            follow_up,
            referral: Some(referral_message(&updated)),
        }))
    }

    async fn list_follow_ups(
        &self,
        request: Request<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::ListFollowUpsResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let size = violations.collect(convert::page_size(message.page_size));
        let referral = if message.referral.is_empty() {
            None
        } else {
            violations.collect(parse_referral_name("referral", &message.referral))
        };
        let partner = if message.partner.is_empty() {
            None
        } else {
            violations.collect(parse_partner_name("partner", &message.partner))
        };
        let statuses =
            violations.collect(convert::enum_filter("statuses", &message.statuses, |v| {
                FollowUpStatus::ALL
                    .iter()
                    .copied()
                    .find(|s| i32::from(follow_up_status(*s)) == v)
            }));
        let (from, until) = match &message.due {
            Some(range) => (
                violations
                    .collect(convert::datetime("due.start", range.start.as_ref()))
                    .flatten(),
                violations
                    .collect(convert::datetime("due.end", range.end.as_ref()))
                    .flatten(),
            ),
            None => (None, None),
        };
        let (Some(size), Some(statuses)) = (size, statuses) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let partner = match (scope(&principal), partner) {
            (Some(own), Some(asked)) if own != asked => {
                return Ok(Response::new(pb::ListFollowUpsResponse::default()));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        let now = Utc::now();
        let pending_only = !statuses.is_empty()
            && statuses
                .iter()
                .all(|s| matches!(s, FollowUpStatus::Pending | FollowUpStatus::Overdue));
        let rows = self
            .state
            .store
            .list_follow_ups(partner, referral, until, from, pending_only, 10_000)
            .await
            .map_err(Error::from)?;
        let follow_ups = rows
            .iter()
            .filter(|(f, _)| {
                statuses.is_empty() || statuses.contains(&f.state.status_at(f.due_at, now))
            })
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .map(|(f, _)| follow_up_message(f))
            .collect();
        Ok(Response::new(pb::ListFollowUpsResponse {
            follow_ups,
            next_page_token: String::new(),
        }))
    }

    async fn watch_referrals(
        &self,
        request: Request<pb::WatchReferralsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let asked = if message.partner.is_empty() {
            None
        } else {
            violations.collect(parse_partner_name("partner", &message.partner))
        };
        let statuses = violations
            .collect(convert::enum_filter(
                "statuses",
                &message.statuses,
                status_from,
            ))
            .unwrap_or_default();
        if message.after_sequence < 0 {
            violations.add("after_sequence", "must not be negative");
        }
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let partner = match (scope(&principal), asked) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(Status::not_found(format!(
                    "{} not found",
                    partner_name(asked)
                )));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        let watch = ReferralWatch { partner, statuses };
        let receiver = crate::feed::spawn_watch(self.state.clone(), watch, message.after_sequence);
        Ok(Response::new(
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver)) as WatchStream,
        ))
    }
}

/// One WatchReferrals stream: a partner's referrals (or every partner's, for a supervisor).
struct ReferralWatch {
    partner: Option<Uuid>,
    statuses: Vec<ReferralStatus>,
}

type ReferralItem = pb::watch_referrals_response::Item;

impl crate::feed::Watch for ReferralWatch {
    type Response = pb::WatchReferralsResponse;

    async fn snapshot(&mut self, state: &AppState) -> Result<Vec<Self::Response>, Error> {
        let page = dispatch_store::Page {
            size: 10_000,
            after: None,
        };
        let (referrals, _) = state
            .store
            .list_referrals(self.partner, None, &self.statuses, &page)
            .await?;
        Ok(referrals
            .iter()
            .map(|referral| pb::WatchReferralsResponse {
                item: Some(ReferralItem::Snapshot(referral_message(referral))),
            })
            .collect())
    }

    async fn prime(&mut self, _: &AppState) -> Result<(), Error> {
        Ok(())
    }

    fn event(&mut self, item: &crate::feed::FeedItem) -> Option<Self::Response> {
        let event = &item.event;
        // A referral event is addressed to one partner: the one that held the referral then.
        let addressed_to = event.partner?;
        if self.partner.is_some_and(|p| p != addressed_to) {
            return None;
        }
        let referral = item.referral.as_ref()?;
        let history = event.details.get("history").and_then(|v| v.as_i64())?;
        let entry = referral.history.iter().find(|h| h.id == history).cloned();
        // The referral as it was right after this change, as its partner then saw it: later
        // history (perhaps under another partner) is not part of it.
        let mut then = (**referral).clone();
        then.partner = addressed_to;
        then.history.retain(|h| h.id <= history);
        // Its status then: where the last status-setting entry up to this one left it (a
        // follow-up entry sets none).
        if let Some(to) = then.history.iter().rev().find_map(|h| h.to_status) {
            then.status = to;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&then.status) {
            return None;
        }
        Some(pb::WatchReferralsResponse {
            item: Some(ReferralItem::Event(pb::ReferralEvent {
                sequence: event.position,
                time: Some(timestamp(event.published_at)),
                entry: entry.map(|h| history_entry(referral.id, &h)),
                referral: Some(referral_message(&then)),
                left_filter: false,
            })),
        })
    }

    fn snapshot_complete(&self, message: pb::SnapshotComplete) -> Self::Response {
        pb::WatchReferralsResponse {
            item: Some(ReferralItem::SnapshotComplete(message)),
        }
    }

    fn resync(&self, message: pb::ResyncRequired) -> Self::Response {
        pb::WatchReferralsResponse {
            item: Some(ReferralItem::ResyncRequired(message)),
        }
    }

    fn heartbeat(&self, message: pb::Heartbeat) -> Self::Response {
        pb::WatchReferralsResponse {
            item: Some(ReferralItem::Heartbeat(message)),
        }
    }
}

impl Referrals {
    #[expect(
        clippy::too_many_arguments,
        reason = "the common shape of the transition RPCs"
    )]
    async fn transition<M: prost::Message + Clone>(
        &self,
        principal: &Principal,
        method: &'static str,
        request_id: &str,
        message: &M,
        name: &str,
        action: ReferralAction,
        note: &str,
        etag: &str,
        clear: impl FnOnce(&mut M),
    ) -> Result<pb::Referral, Status> {
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(method, principal, request_id, message, clear));
        let id = violations.collect(parse_referral_name("name", name));
        check_length(&mut violations, "note", note, MAX_NOTE_CHARS);
        let etag = violations.collect(convert::etag_from("etag", etag));
        let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        note_resource(referral_name(id));
        let referral = self
            .state
            .store
            .transition_referral(
                &key,
                &principal.name,
                id,
                action,
                note,
                etag,
                scope(principal),
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(referral_message(&referral))
    }
}
