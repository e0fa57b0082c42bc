//! `VictimCareReferralService`: referrals to partner agencies, their follow-ups, and WatchReferrals.
//!
//! A partner principal sees only referrals addressed to its partner: every read and change is
//! scoped in the store, and anything outside the scope is NOT_FOUND, exactly like a missing one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_NOTE_CHARS, check_length};
use dispatch_domain::event::{Event, PartnerEvent};
use dispatch_domain::ids::{FollowUpId, IncidentId, PartnerId, ReferralId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::referral::{
    AgeRange, ConsentDraft, FollowUpOutcome, FollowUpRecordDraft, FollowUpStatus, Need,
    PartnerCandidate, ReferralAction, ReferralDraft, ReferralStatus, SafeContactChannel,
    SafeContactDraft, VictimDraft, decline_reason, suggest, suggestion_limit, validate_needs,
    validate_status_update,
};
use dispatch_domain::triage::Category;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::victim_care_referral_service_server::VictimCareReferralService;

use super::request;
use super::request::idempotency;
use crate::AppState;
use crate::auth::{Principal, note_resource, note_victim_data_read};
use crate::edge::enums::{WireEnum, enum_filter};
use crate::edge::referrals::{follow_up_message, history_entry, referral_message};
use crate::edge::wire::{self, timestamp};
use crate::error::{Error, invalid};
use crate::feed::{WatchResponse as _, WatchStream, spawn_watch};

#[derive(Debug, Clone)]
pub struct Referrals {
    state: Arc<AppState>,
}

impl Referrals {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

/// The referral history line a partner-feed event announces.
fn announced_history(event: &Event) -> Option<i64> {
    let event = match event {
        Event::Partner(event) => event,
        Event::Call(_)
        | Event::Incident(_)
        | Event::Unit(_)
        | Event::Directory(_)
        | Event::Security(_) => return None,
    };
    match event {
        PartnerEvent::ReferralCreated(line)
        | PartnerEvent::ReferralAccepted(line)
        | PartnerEvent::ReferralDeclined(line)
        | PartnerEvent::ReferralStatusChanged(line)
        | PartnerEvent::ReferralReaddressed(line)
        | PartnerEvent::ReferralFollowUpRecorded(line) => Some(line.history),
        PartnerEvent::Created { .. }
        | PartnerEvent::Updated {}
        | PartnerEvent::CapacityUpdated { .. } => None,
    }
}

#[tonic::async_trait]
impl VictimCareReferralService for Referrals {
    type WatchReferralsStream = WatchStream<pb::WatchReferralsResponse>;

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
                .map(|v| Need::from_wire(*v))
                .collect::<Vec<_>>(),
        ));
        let limit = violations.collect(suggestion_limit(message.limit));
        let (Some(at), Some(needs), Some(limit)) = (at, needs, limit) else {
            return Err(invalid(&violations));
        };
        let partners = self.state.store.all_partners().await.map_err(Error::from)?;
        let names: HashMap<PartnerId, String> = partners
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
                partner: s.partner.name(),
                display_name: names.get(&s.partner).cloned().unwrap_or_default(),
                kind: s.kind.wire(),
                distance_m: s.distance_m.unwrap_or_default(),
                available_slots: s.available_slots,
                matched_needs: s.covers.iter().map(|n| n.wire()).collect(),
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
        let given_at = violations.collect(wire::datetime(
            "consent.given_time",
            consent.given_time.as_ref(),
        ));
        let draft = ReferralDraft {
            incident: message.incident.clone(),
            victim: message.victim.as_ref().map(|v| VictimDraft {
                alias: v.alias.clone(),
                full_name: v.full_name.clone(),
                age_range: AgeRange::from_wire(v.age_range),
                gender: v.gender.clone(),
                language: v.language.clone(),
                safe_contact: v.safe_contact.as_ref().map(|c| SafeContactDraft {
                    channel: SafeContactChannel::from_wire(c.channel),
                    value: c.value.clone(),
                    safe_times: c.safe_times.clone(),
                }),
                safety_notes: v.safety_notes.clone(),
            }),
            needs: message.needs.iter().map(|v| Need::from_wire(*v)).collect(),
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
        note_resource(created.id.name());
        Ok(Response::new(pb::CreateReferralResponse {
            referral: Some(referral_message(&created)),
        }))
    }

    async fn get_referral(
        &self,
        request: Request<pb::GetReferralRequest>,
    ) -> Result<Response<pb::GetReferralResponse>, Status> {
        let principal = Principal::of(&request);
        let id = ReferralId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
        note_victim_data_read(id.name());
        let referral = self
            .state
            .store
            .get_referral(id, principal.partner_scope())
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
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let partner = if message.partner.is_empty() {
            None
        } else {
            violations.collect(PartnerId::parse_name("partner", &message.partner))
        };
        let incident = if message.incident.is_empty() {
            None
        } else {
            violations.collect(IncidentId::parse_name("incident", &message.incident))
        };
        let statuses =
            violations.collect(enum_filter::<ReferralStatus>("statuses", &message.statuses));
        let (Some(page), Some(statuses)) = (page, statuses) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        // A partner lists its own, whatever it asks for; asking for another's finds nothing.
        let partner = match (principal.partner_scope(), partner) {
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
            next_page_token: request::time_token(next),
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
        let target =
            validate_status_update(ReferralStatus::from_wire(message.status), &message.note)
                .map_err(|v| invalid(&v))?;
        let id = ReferralId::parse_name("name", &message.name).map_err(Error::from)?;
        // Which action the target means depends on the current status.
        let current = self
            .state
            .store
            .get_referral(id, principal.partner_scope())
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
        let id = violations.collect(ReferralId::parse_name("name", &message.name));
        let partner = violations.collect(PartnerId::parse_name("partner", &message.partner));
        check_length(&mut violations, "note", &message.note, MAX_NOTE_CHARS);
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        let (Some(key), Some(id), Some(partner), Some(etag)) = (key, id, partner, etag) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        note_resource(id.name());
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
        let referral = violations.collect(ReferralId::parse_name("referral", &message.referral));
        let follow_up = if message.follow_up.is_empty() {
            Some(None)
        } else {
            match message
                .follow_up
                .rsplit_once("/follow-ups/")
                .and_then(|(_, id)| Uuid::parse_str(id).ok().map(FollowUpId))
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
        let done_at = violations.collect(wire::datetime("done_time", message.done_time.as_ref()));
        let record = done_at.and_then(|done_at| {
            violations.collect(
                FollowUpRecordDraft {
                    outcome: FollowUpOutcome::from_wire(message.outcome),
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
        note_resource(referral.name());
        let (updated, follow_up_id) = self
            .state
            .store
            .record_follow_up(
                &key,
                &principal.name,
                referral,
                follow_up,
                &record,
                principal.partner_scope(),
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
        let size = violations.collect(request::page_size(message.page_size));
        let referral = if message.referral.is_empty() {
            None
        } else {
            violations.collect(ReferralId::parse_name("referral", &message.referral))
        };
        let partner = if message.partner.is_empty() {
            None
        } else {
            violations.collect(PartnerId::parse_name("partner", &message.partner))
        };
        let statuses =
            violations.collect(enum_filter::<FollowUpStatus>("statuses", &message.statuses));
        let (from, until) = match &message.due {
            Some(range) => (
                violations
                    .collect(wire::datetime("due.start", range.start.as_ref()))
                    .flatten(),
                violations
                    .collect(wire::datetime("due.end", range.end.as_ref()))
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
        let partner = match (principal.partner_scope(), partner) {
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
    ) -> Result<Response<Self::WatchReferralsStream>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let asked = if message.partner.is_empty() {
            None
        } else {
            violations.collect(PartnerId::parse_name("partner", &message.partner))
        };
        let statuses = violations
            .collect(enum_filter::<ReferralStatus>("statuses", &message.statuses))
            .unwrap_or_default();
        request::check_after(message.after_sequence, &mut violations);
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        let partner = match (principal.partner_scope(), asked) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(Status::not_found(format!("{} not found", asked.name())));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        let watch = ReferralWatch { partner, statuses };
        Ok(Response::new(spawn_watch(
            self.state.clone(),
            watch,
            message.after_sequence,
        )))
    }
}

/// One WatchReferrals stream: a partner's referrals (or every partner's, for a supervisor).
struct ReferralWatch {
    partner: Option<PartnerId>,
    statuses: Vec<ReferralStatus>,
}

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
            .map(|referral| Self::Response::snapshot(referral_message(referral)))
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
        let history = announced_history(&event.event)?;
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
        Some(Self::Response::event(pb::ReferralEvent {
            sequence: event.position,
            time: Some(timestamp(event.published_at)),
            entry: entry.map(|h| history_entry(referral.id, &h)),
            referral: Some(referral_message(&then)),
            left_filter: false,
        }))
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
        let id = violations.collect(ReferralId::parse_name("name", name));
        check_length(&mut violations, "note", note, MAX_NOTE_CHARS);
        let etag = violations.collect(request::etag_from("etag", etag));
        let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
            return Err(invalid(&violations));
        };
        if !violations.is_empty() {
            return Err(invalid(&violations));
        }
        note_resource(id.name());
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
                principal.partner_scope(),
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(referral_message(&referral))
    }
}

impl Referrals {
    fn gender_violence(&self, incident_type: Option<&str>) -> bool {
        incident_type
            .and_then(|code| self.state.catalogue.get(code))
            .is_some_and(|t| t.category == Category::GenderViolence)
    }
}
