//! `VictimCareReferralService`: referrals to partner agencies, their follow-ups, and WatchReferrals.
//!
//! A partner principal sees only referrals addressed to its partner: every read and change is
//! scoped in the store, and anything outside the scope is NOT_FOUND, exactly like a missing one.

use std::collections::HashMap;

use chrono::Utc;

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
use super::rpc::{Caller, service};
use crate::AppState;
use crate::auth::{note_resource, note_victim_data_read};
use crate::edge::enums::WireEnum;
use crate::edge::referrals::{
    CreateReferral, ListFollowUps, ListReferrals, ReaddressReferral, RecordFollowUp,
    SuggestPartners, Transition, UpdateReferralStatus, WatchReferrals, follow_up_message,
    history_entry, referral_message,
};
use crate::edge::wire::timestamp;
use crate::error::Error;
use crate::feed::{WatchResponse as _, WatchStream, spawn_watch};

service! {
    /// Referrals to partner agencies, their follow-ups, and WatchReferrals.
    Referrals: VictimCareReferralService {
        rpc suggest_partners(SuggestPartnersRequest) -> SuggestPartnersResponse;
        rpc create_referral(CreateReferralRequest) -> CreateReferralResponse;
        rpc get_referral(GetReferralRequest) -> GetReferralResponse;
        rpc list_referrals(ListReferralsRequest) -> ListReferralsResponse;
        rpc accept_referral(AcceptReferralRequest) -> AcceptReferralResponse;
        rpc decline_referral(DeclineReferralRequest) -> DeclineReferralResponse;
        rpc update_referral_status(UpdateReferralStatusRequest) -> UpdateReferralStatusResponse;
        rpc readdress_referral(ReaddressReferralRequest) -> ReaddressReferralResponse;
        rpc record_follow_up(RecordFollowUpRequest) -> RecordFollowUpResponse;
        rpc list_follow_ups(ListFollowUpsRequest) -> ListFollowUpsResponse;
        watch watch_referrals(WatchReferralsRequest) -> WatchReferralsStream of WatchReferralsResponse;
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

impl Referrals {
    async fn suggest_partners(
        &self,
        _: Caller,
        query: SuggestPartners,
    ) -> Result<pb::SuggestPartnersResponse, Error> {
        let SuggestPartners { at, needs, limit } = query;
        let partners = self.state.store.all_partners().await?;
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
        Ok(pb::SuggestPartnersResponse { suggestions })
    }

    async fn create_referral(
        &self,
        caller: Caller,
        command: CreateReferral,
    ) -> Result<pb::CreateReferralResponse, Error> {
        let CreateReferral { mutation, referral } = command;
        let store = &self.state.store;
        let incident = store.get_incident(referral.incident).await?;
        let due = self.state.follow_up_policy.schedule(
            Utc::now(),
            &referral.needs,
            self.gender_violence(incident.incident_type.as_deref()),
        );
        let key = caller.key(mutation);
        let created = store.create_referral(&key, caller.actor(), &referral, &due);
        let created = created.await?.value;
        note_resource(created.id.name());
        Ok(pb::CreateReferralResponse {
            referral: Some(referral_message(&created)),
        })
    }

    async fn get_referral(
        &self,
        caller: Caller,
        request: pb::GetReferralRequest,
    ) -> Result<pb::GetReferralResponse, Error> {
        let id = ReferralId::parse_name("name", &request.name)?;
        note_victim_data_read(id.name());
        let scope = caller.principal.partner_scope();
        let referral = self.state.store.get_referral(id, scope).await?;
        Ok(pb::GetReferralResponse {
            referral: Some(referral_message(&referral)),
        })
    }

    async fn list_referrals(
        &self,
        caller: Caller,
        query: ListReferrals,
    ) -> Result<pb::ListReferralsResponse, Error> {
        let ListReferrals {
            page,
            partner,
            incident,
            statuses,
        } = query;
        let asked = partner.map(|p| p.name()).unwrap_or_default();
        // A partner lists its own, whatever it asks for; asking for another's finds nothing.
        let Ok(partner) = scoped(&caller, partner) else {
            return Ok(pb::ListReferralsResponse::default());
        };
        note_victim_data_read(asked);
        let store = &self.state.store;
        let (referrals, next) = store
            .list_referrals(partner, incident, &statuses, &page)
            .await?;
        Ok(pb::ListReferralsResponse {
            referrals: referrals.iter().map(referral_message).collect(),
            next_page_token: request::time_token(next),
        })
    }

    async fn accept_referral(
        &self,
        caller: Caller,
        command: Transition,
    ) -> Result<pb::AcceptReferralResponse, Error> {
        let referral = self.transition(&caller, command, ReferralAction::Accept);
        Ok(pb::AcceptReferralResponse {
            referral: Some(referral.await?),
        })
    }

    async fn decline_referral(
        &self,
        caller: Caller,
        command: Transition,
    ) -> Result<pb::DeclineReferralResponse, Error> {
        let referral = self.transition(&caller, command, ReferralAction::Decline);
        Ok(pb::DeclineReferralResponse {
            referral: Some(referral.await?),
        })
    }

    async fn update_referral_status(
        &self,
        caller: Caller,
        command: UpdateReferralStatus,
    ) -> Result<pb::UpdateReferralStatusResponse, Error> {
        let UpdateReferralStatus { target, transition } = command;
        // Which action the target means depends on the current status.
        let scope = caller.principal.partner_scope();
        let current = self.state.store.get_referral(transition.referral, scope);
        let action = ReferralAction::for_update(current.await?.status, target)?;
        let referral = self.transition(&caller, transition, action);
        Ok(pb::UpdateReferralStatusResponse {
            referral: Some(referral.await?),
        })
    }

    async fn readdress_referral(
        &self,
        caller: Caller,
        command: ReaddressReferral,
    ) -> Result<pb::ReaddressReferralResponse, Error> {
        note_resource(command.referral.name());
        let readdress = Readdress {
            referral: command.referral,
            partner: command.partner,
            note: command.note,
            expected_version: command.etag,
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let referral = store.readdress_referral(&key, caller.actor(), &readdress);
        Ok(pb::ReaddressReferralResponse {
            referral: Some(referral_message(&referral.await?.value)),
        })
    }

    async fn record_follow_up(
        &self,
        caller: Caller,
        command: RecordFollowUp,
    ) -> Result<pb::RecordFollowUpResponse, Error> {
        note_resource(command.referral.name());
        let recording = FollowUpRecording {
            referral: command.referral,
            follow_up: command.follow_up,
            record: command.record,
            scope: caller.principal.partner_scope(),
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let recorded = store.record_follow_up(&key, caller.actor(), &recording);
        let (updated, follow_up_id) = recorded.await?.value;
        let follow_up = updated
            .follow_ups
            .iter()
            .find(|f| f.id == follow_up_id)
            .map(follow_up_message);
        Ok(pb::RecordFollowUpResponse {
            follow_up,
            referral: Some(referral_message(&updated)),
        })
    }

    async fn list_follow_ups(
        &self,
        caller: Caller,
        query: ListFollowUps,
    ) -> Result<pb::ListFollowUpsResponse, Error> {
        let ListFollowUps {
            size,
            referral,
            partner,
            statuses,
            due_from: from,
            due_until: until,
        } = query;
        let Ok(partner) = scoped(&caller, partner) else {
            return Ok(pb::ListFollowUpsResponse::default());
        };
        let now = Utc::now();
        let pending_only = !statuses.is_empty()
            && statuses
                .iter()
                .all(|s| matches!(s, FollowUpStatus::Pending | FollowUpStatus::Overdue));
        let filter = FollowUpFilter {
            partner,
            referral,
            due_before: until,
            due_from: from,
            pending_only,
            limit: 10_000,
        };
        let rows = self.state.store.list_follow_ups(&filter).await?;
        let follow_ups = rows
            .iter()
            .filter(|(f, _)| {
                statuses.is_empty() || statuses.contains(&f.state.status_at(f.due_at, now))
            })
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .map(|(f, _)| follow_up_message(f))
            .collect();
        Ok(pb::ListFollowUpsResponse {
            follow_ups,
            next_page_token: String::new(),
        })
    }

    async fn watch_referrals(
        &self,
        caller: Caller,
        query: WatchReferrals,
    ) -> Result<WatchStream<pb::WatchReferralsResponse>, Error> {
        let WatchReferrals {
            partner: asked,
            statuses,
            after,
        } = query;
        let partner = scoped(&caller, asked).map_err(|other| Error::NotFound(other.name()))?;
        let watch = ReferralWatch { partner, statuses };
        Ok(spawn_watch(self.state.clone(), watch, after))
    }
}

/// The partner a caller's list or watch covers: a partner principal's own, whatever it asks
/// for, or the one asked for (`None`: every partner). Another partner's, which a partner
/// principal cannot see, is the error.
fn scoped(caller: &Caller, asked: Option<PartnerId>) -> Result<Option<PartnerId>, PartnerId> {
    match (caller.principal.partner_scope(), asked) {
        (Some(own), Some(asked)) if own != asked => Err(asked),
        (Some(own), _) => Ok(Some(own)),
        (None, asked) => Ok(asked),
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

    async fn event(
        &mut self,
        item: &crate::feed::FeedItem,
    ) -> Result<Option<Self::Response>, Error> {
        Ok(self.change(item))
    }
}

impl ReferralWatch {
    /// The message for an event, if it concerns this stream.
    fn change(&self, item: &crate::feed::FeedItem) -> Option<pb::WatchReferralsResponse> {
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
        Some(pb::WatchReferralsResponse::event(pb::ReferralEvent {
            sequence: event.position,
            time: Some(timestamp(event.published_at)),
            entry: entry.map(|h| history_entry(referral.id, &h)),
            referral: Some(referral_message(&then)),
            left_filter: false,
        }))
    }
}

impl Referrals {
    /// Accepts, declines or moves a referral along, as the caller's RPC.
    async fn transition(
        &self,
        caller: &Caller,
        command: Transition,
        action: ReferralAction,
    ) -> Result<pb::Referral, Error> {
        note_resource(command.referral.name());
        let transition = ReferralTransition {
            referral: command.referral,
            action,
            note: command.note,
            expected_version: command.etag,
            scope: caller.principal.partner_scope(),
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let referral = store.transition_referral(&key, caller.actor(), &transition);
        Ok(referral_message(&referral.await?.value))
    }
}

impl Referrals {
    fn gender_violence(&self, incident_type: Option<&str>) -> bool {
        incident_type
            .and_then(|code| self.state.catalogue.get(code))
            .is_some_and(|t| t.category == Category::GenderViolence)
    }
}
