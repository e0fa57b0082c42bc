//! `VictimCareReferralService`: referrals to partner agencies, their follow-ups, and WatchReferrals.
//!
//! A partner principal sees only referrals addressed to its partner: every read and change is
//! scoped in the store, and anything outside the scope is NOT_FOUND, exactly like a missing one.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tonic::{Request, Response, Status};

use dispatch_domain::event::{Event, PartnerEvent};
use dispatch_domain::ids::{PartnerId, ReferralId};
use dispatch_domain::referral::{
    FollowUpStatus, PartnerCandidate, ReferralAction, ReferralStatus, suggest,
};
use dispatch_domain::triage::Category;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::victim_care_referral_service_server::VictimCareReferralService;
use dispatch_store::referrals::{FollowUpFilter, FollowUpRecording, Readdress, ReferralTransition};

use super::request;
use crate::AppState;
use crate::auth::{Principal, note_resource, note_victim_data_read};
use crate::edge::enums::WireEnum;
use crate::edge::referrals::{
    CreateReferral, ListFollowUps, ListReferrals, ReaddressReferral, RecordFollowUp,
    SuggestPartners, Transition, UpdateReferralStatus, WatchReferrals, follow_up_message,
    history_entry, referral_message,
};
use crate::edge::wire::timestamp;
use crate::error::Error;
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
        let SuggestPartners { at, needs, limit } =
            SuggestPartners::try_from(request.into_inner()).map_err(Error::from)?;
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
        let CreateReferral { mutation, referral } =
            CreateReferral::try_from(request.into_inner()).map_err(Error::from)?;
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
            .create_referral(
                &mutation.key("CreateReferral", &principal),
                &principal.name,
                &referral,
                &due,
            )
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
        let ListReferrals {
            page,
            partner,
            incident,
            statuses,
        } = ListReferrals::try_from(request.into_inner()).map_err(Error::from)?;
        let asked = partner.map(|p| p.name()).unwrap_or_default();
        // A partner lists its own, whatever it asks for; asking for another's finds nothing.
        let partner = match (principal.partner_scope(), partner) {
            (Some(own), Some(asked)) if own != asked => {
                return Ok(Response::new(pb::ListReferralsResponse::default()));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        note_victim_data_read(asked);
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
        let command = Transition::try_from(request.into_inner()).map_err(Error::from)?;
        let referral = self
            .transition(
                &principal,
                "AcceptReferral",
                command,
                ReferralAction::Accept,
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
        let command = Transition::try_from(request.into_inner()).map_err(Error::from)?;
        let referral = self
            .transition(
                &principal,
                "DeclineReferral",
                command,
                ReferralAction::Decline,
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
        let UpdateReferralStatus { target, transition } =
            UpdateReferralStatus::try_from(request.into_inner()).map_err(Error::from)?;
        // Which action the target means depends on the current status.
        let current = self
            .state
            .store
            .get_referral(transition.referral, principal.partner_scope())
            .await
            .map_err(Error::from)?;
        let action = ReferralAction::for_update(current.status, target).map_err(Error::from)?;
        let referral = self
            .transition(&principal, "UpdateReferralStatus", transition, action)
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
        let command = ReaddressReferral::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.referral.name());
        let referral = self
            .state
            .store
            .readdress_referral(
                &command.mutation.key("ReaddressReferral", &principal),
                &principal.name,
                &Readdress {
                    referral: command.referral,
                    partner: command.partner,
                    note: command.note,
                    expected_version: command.etag,
                },
            )
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
        let command = RecordFollowUp::try_from(request.into_inner()).map_err(Error::from)?;
        note_resource(command.referral.name());
        let (updated, follow_up_id) = self
            .state
            .store
            .record_follow_up(
                &command.mutation.key("RecordFollowUp", &principal),
                &principal.name,
                &FollowUpRecording {
                    referral: command.referral,
                    follow_up: command.follow_up,
                    record: command.record,
                    scope: principal.partner_scope(),
                },
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
        let ListFollowUps {
            size,
            referral,
            partner,
            statuses,
            due_from: from,
            due_until: until,
        } = ListFollowUps::try_from(request.into_inner()).map_err(Error::from)?;
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
            .list_follow_ups(&FollowUpFilter {
                partner,
                referral,
                due_before: until,
                due_from: from,
                pending_only,
                limit: 10_000,
            })
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
        let WatchReferrals {
            partner: asked,
            statuses,
            after,
        } = WatchReferrals::try_from(request.into_inner()).map_err(Error::from)?;
        let partner = match (principal.partner_scope(), asked) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(Status::not_found(format!("{} not found", asked.name())));
            }
            (Some(own), _) => Some(own),
            (None, asked) => asked,
        };
        let watch = ReferralWatch { partner, statuses };
        Ok(Response::new(spawn_watch(self.state.clone(), watch, after)))
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
    /// Accepts, declines or moves a referral along, as `method`.
    async fn transition(
        &self,
        principal: &Principal,
        method: &'static str,
        command: Transition,
        action: ReferralAction,
    ) -> Result<pb::Referral, Status> {
        note_resource(command.referral.name());
        let referral = self
            .state
            .store
            .transition_referral(
                &command.mutation.key(method, principal),
                &principal.name,
                &ReferralTransition {
                    referral: command.referral,
                    action,
                    note: command.note,
                    expected_version: command.etag,
                    scope: principal.partner_scope(),
                },
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
