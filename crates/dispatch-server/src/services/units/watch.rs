//! WatchUnits: which units a stream matches and how an event looks on it. The stream protocol
//! itself (snapshot, resume, gap from the database, slow consumers) is `crate::feed`.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;

use dispatch_domain::directory::{Unit, UnitStatus};
use dispatch_domain::event::{AssignmentEnd, Event, FieldStatus, UnitEvent};
use dispatch_domain::ids::UnitId;
use dispatch_domain::location::BoundingBox;
use dispatch_proto::v1 as pb;
use dispatch_store::units::UnitFilter;

use super::Caller;
use crate::AppState;
use crate::edge::enums::wire_or_unspecified;
use crate::edge::units::WatchUnits;
use crate::edge::views;
use crate::edge::wire;
use crate::error::Error;
use crate::feed::{FeedItem, Watch, WatchResponse, WatchStream, spawn_watch};

/// One WatchUnits stream.
pub struct UnitWatch {
    state: Arc<AppState>,
    filter: UnitFilter,
    in_view: HashSet<UnitId>,
}

impl UnitWatch {
    fn matches(&self, unit: &Unit) -> bool {
        let in_area = |area: &BoundingBox| {
            unit.position
                .as_ref()
                .is_some_and(|p| area.contains(p.point))
        };
        let filter = &self.filter;
        filter.area.as_ref().is_none_or(in_area)
            && filter.agency.is_none_or(|a| unit.agency == a)
            && filter.station.is_none_or(|s| unit.home_station == Some(s))
            && (filter.unit_types.is_empty() || filter.unit_types.contains(&unit.unit_type))
            && (filter.statuses.is_empty() || filter.statuses.contains(&unit.status))
    }

    fn message(&self, unit: &Unit) -> pb::Unit {
        views::unit(unit, Utc::now(), self.state.stale_after)
    }

    async fn matching(&self) -> Result<Vec<Unit>, Error> {
        let mut units = self.state.store.all_units().await?;
        units.retain(|unit| self.matches(unit));
        units.sort_by(|a, b| a.call_sign.cmp(&b.call_sign));
        Ok(units)
    }
}

/// What a unit event was, and the statuses it recorded before and after its change, from the
/// event row alone (never from the unit as it is when the event is delivered). `None` where the
/// change did not touch the status.
fn unit_change(event: &Event) -> (pb::UnitEventKind, Option<UnitStatus>, Option<UnitStatus>) {
    use pb::UnitEventKind as Kind;
    let event = match event {
        Event::Unit(event) => event,
        // Only unit events name a unit, so only they reach a unit watch.
        Event::Call(_)
        | Event::Incident(_)
        | Event::Directory(_)
        | Event::Partner(_)
        | Event::Security(_) => return (Kind::StatusChanged, None, None),
    };
    match event {
        UnitEvent::Created { to, .. } => (Kind::Created, None, Some(*to)),
        UnitEvent::Updated { .. } => (Kind::Updated, None, None),
        UnitEvent::Decommissioned { from, to, .. } => {
            (Kind::Decommissioned, Some(*from), Some(*to))
        }
        UnitEvent::Position {} => (Kind::PositionChanged, None, None),
        UnitEvent::StatusChanged { from, to, .. }
        | UnitEvent::Dispatched { from, to, .. }
        | UnitEvent::EnRoute(FieldStatus { from, to, .. })
        | UnitEvent::OnScene(FieldStatus { from, to, .. })
        | UnitEvent::Transporting(FieldStatus { from, to, .. })
        | UnitEvent::AtHospital(FieldStatus { from, to, .. })
        | UnitEvent::Cleared(AssignmentEnd { from, to, .. })
        | UnitEvent::Released(AssignmentEnd { from, to, .. }) => {
            (Kind::StatusChanged, Some(*from), Some(*to))
        }
    }
}

impl Watch for UnitWatch {
    type Response = pb::WatchUnitsResponse;

    async fn snapshot(&mut self, _: &AppState) -> Result<Vec<Self::Response>, Error> {
        let units = self.matching().await?;
        self.in_view = units.iter().map(|u| u.id).collect();
        Ok(units
            .iter()
            .map(|unit| Self::Response::snapshot(self.message(unit)))
            .collect())
    }

    async fn prime(&mut self, _: &AppState) -> Result<(), Error> {
        self.in_view = self.matching().await?.iter().map(|u| u.id).collect();
        Ok(())
    }

    async fn event(&mut self, item: &FeedItem) -> Result<Option<Self::Response>, Error> {
        Ok(self.change(item))
    }
}

impl UnitWatch {
    /// The message for an event, if it concerns this stream.
    fn change(&mut self, item: &FeedItem) -> Option<pb::WatchUnitsResponse> {
        let unit = item.unit.as_ref()?;
        let left_filter = if self.matches(unit) {
            self.in_view.insert(unit.id);
            false
        } else if self.in_view.remove(&unit.id) {
            true
        } else {
            return None;
        };
        let event = &item.event;
        let (kind, previous_status, status) = unit_change(&event.event);
        let status_of = |status: Option<UnitStatus>| wire_or_unspecified(status);
        let message = item
            .rendered_unit
            .get_or_init(|| self.message(unit))
            .clone();
        Some(pb::WatchUnitsResponse::event(pb::UnitEvent {
            sequence: event.position,
            time: Some(wire::timestamp(event.published_at)),
            kind: kind.into(),
            unit: Some(message),
            actor: event.actor.clone(),
            left_filter,
            previous_status: status_of(previous_status),
            status: status_of(status),
        }))
    }
}

impl super::UnitAssignment {
    /// Starts a WatchUnits stream.
    pub(super) async fn watch_units(
        &self,
        _: Caller,
        request: WatchUnits,
    ) -> Result<WatchStream<pb::WatchUnitsResponse>, Error> {
        let watch = UnitWatch {
            state: self.state.clone(),
            filter: request.filter,
            in_view: HashSet::new(),
        };
        Ok(spawn_watch(self.state.clone(), watch, request.after))
    }
}
