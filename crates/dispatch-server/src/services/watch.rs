//! WatchIncidents and WatchUnits: what each stream matches and how an event looks on it. The
//! stream protocol itself (snapshot, resume, gap from the database, slow consumers) is
//! `crate::feed`.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use tonic::Status;

use dispatch_domain::Violations;
use dispatch_domain::directory::{AgencyKind, Unit, UnitStatus, UnitType};
use dispatch_domain::event::{AssignmentEnd, Event, FieldStatus, UnitEvent};
use dispatch_domain::ids::{AgencyId, IncidentId, StationId, UnitId};
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::BoundingBox;
use dispatch_domain::triage::Discipline;
use dispatch_proto::v1 as pb;
use dispatch_store::EventRecord;
use dispatch_store::feed::IncidentSummary;
use dispatch_store::incidents::{IncidentDetail, IncidentFilter};
use dispatch_store::{Page, TimeCursor};

use super::views;
use crate::AppState;
use crate::convert;
use crate::error::{Error, invalid};
use crate::feed::{FeedItem, Watch, WatchReceiver, spawn_watch};

/// Incidents read per snapshot query.
const SNAPSHOT_PAGE: i64 = 1000;

/// The discipline whose incidents an agency of this kind works.
fn discipline_of(kind: AgencyKind) -> Option<Discipline> {
    match kind {
        AgencyKind::Police => Some(Discipline::Police),
        AgencyKind::Fire => Some(Discipline::Fire),
        AgencyKind::Ems | AgencyKind::RedCross => Some(Discipline::Ems),
        AgencyKind::CivilProtection => Some(Discipline::CivilProtection),
        AgencyKind::Federal => Some(Discipline::Federal),
        AgencyKind::Other => None,
    }
}

fn check_after(after: i64, violations: &mut Violations) {
    if after < 0 {
        violations.add("after_sequence", "must not be negative");
    }
}

/// An incident as a Watch stream shows it (BASIC view with assignments).
fn incident_message(summary: &IncidentSummary) -> pb::Incident {
    views::incident(
        &IncidentDetail {
            incident: summary.incident.clone(),
            calls: Vec::new(),
            notes: Vec::new(),
            triage_history: Vec::new(),
            timeline: Vec::new(),
            assignments: summary.assignments.clone(),
        },
        false,
    )
}

#[derive(Debug)]
struct IncidentRelevance {
    agency: AgencyId,
    discipline: Option<Discipline>,
}

/// One WatchIncidents stream.
pub struct IncidentWatch {
    state: Arc<AppState>,
    area: Option<BoundingBox>,
    statuses: Vec<IncidentStatus>,
    min_priority: Option<i16>,
    agency: Option<IncidentRelevance>,
    in_view: HashSet<IncidentId>,
}

impl IncidentWatch {
    fn matches(&self, summary: &IncidentSummary) -> bool {
        let incident = &summary.incident;
        if self
            .area
            .is_some_and(|area| !area.contains(incident.location.point))
        {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&incident.status) {
            return false;
        }
        if self
            .min_priority
            .is_some_and(|min| incident.priority.unwrap_or(0) < min)
        {
            return false;
        }
        if let Some(relevance) = &self.agency {
            let sent_one = summary
                .assignments
                .iter()
                .any(|a| a.agency == relevance.agency);
            let its_discipline = match &incident.incident_type {
                None => true,
                Some(code) => relevance.discipline.is_some_and(|d| {
                    self.state
                        .catalogue
                        .get(code)
                        .is_some_and(|t| t.disciplines.contains(&d))
                }),
            };
            if !sent_one && !its_discipline {
                return false;
            }
        }
        true
    }

    /// Every matching incident now.
    async fn matching(&self) -> Result<Vec<IncidentSummary>, Error> {
        let filter = IncidentFilter {
            statuses: self.statuses.clone(),
            min_priority: self.min_priority,
            area: self.area,
            ..IncidentFilter::default()
        };
        let mut found = Vec::new();
        let mut after: Option<TimeCursor> = None;
        loop {
            let page = Page {
                size: SNAPSHOT_PAGE,
                after,
            };
            let (incidents, next) = self.state.store.list_incidents(&filter, &page).await?;
            let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
            let mut summaries = self.state.store.incident_summaries(&ids).await?;
            // Newest first, as listed.
            for id in ids {
                if let Some(summary) = summaries.remove(&id)
                    && self.matches(&summary)
                {
                    found.push(summary);
                }
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(found),
            }
        }
    }
}

type IncidentItem = pb::watch_incidents_response::Item;

impl Watch for IncidentWatch {
    type Response = pb::WatchIncidentsResponse;

    async fn snapshot(&mut self, _: &AppState) -> Result<Vec<Self::Response>, Error> {
        let found = self.matching().await?;
        self.in_view = found.iter().map(|s| s.incident.id).collect();
        Ok(found
            .iter()
            .map(|summary| pb::WatchIncidentsResponse {
                item: Some(IncidentItem::Snapshot(incident_message(summary))),
            })
            .collect())
    }

    async fn prime(&mut self, _: &AppState) -> Result<(), Error> {
        self.in_view = self
            .matching()
            .await?
            .iter()
            .map(|s| s.incident.id)
            .collect();
        Ok(())
    }

    fn event(&mut self, item: &FeedItem) -> Option<Self::Response> {
        let summary = item.incident.as_ref()?;
        let id = summary.incident.id;
        let left_filter = if self.matches(summary) {
            self.in_view.insert(id);
            false
        } else if self.in_view.remove(&id) {
            true
        } else {
            return None;
        };
        let event = &item.event;
        let record = EventRecord {
            sequence: event.seq,
            time: event.time,
            actor: event.actor.clone(),
            call: event.call,
            incident: event.incident,
            unit: event.unit,
            event: event.event.clone(),
        };
        let incident = item
            .rendered_incident
            .get_or_init(|| incident_message(summary))
            .clone();
        // The entry is this change, from its own event row; its place in the timeline is the
        // one it took when it was recorded. Only `incident` is as at delivery.
        let position = item.timeline_position.unwrap_or_default();
        Some(pb::WatchIncidentsResponse {
            item: Some(IncidentItem::Event(Box::new(pb::IncidentEvent {
                sequence: event.position,
                time: Some(convert::timestamp(event.published_at)),
                entry: Some(views::timeline_entry(&record, id, position)),
                incident: Some(incident),
                left_filter,
            }))),
        })
    }

    fn snapshot_complete(&self, message: pb::SnapshotComplete) -> Self::Response {
        pb::WatchIncidentsResponse {
            item: Some(IncidentItem::SnapshotComplete(message)),
        }
    }

    fn resync(&self, message: pb::ResyncRequired) -> Self::Response {
        pb::WatchIncidentsResponse {
            item: Some(IncidentItem::ResyncRequired(message)),
        }
    }

    fn heartbeat(&self, message: pb::Heartbeat) -> Self::Response {
        pb::WatchIncidentsResponse {
            item: Some(IncidentItem::Heartbeat(message)),
        }
    }
}

/// Validates a WatchIncidents request and starts the stream.
pub async fn watch_incidents(
    state: &Arc<AppState>,
    message: pb::WatchIncidentsRequest,
) -> Result<WatchReceiver<pb::WatchIncidentsResponse>, Status> {
    let mut violations = Violations::new();
    let statuses = violations
        .collect(convert::enum_filter(
            "statuses",
            &message.statuses,
            convert::incident_status_from,
        ))
        .unwrap_or_default();
    let min_priority = match message.min_priority {
        Some(p) if (0..=10).contains(&p) => i16::try_from(p).ok(),
        Some(_) => {
            violations.add("min_priority", "must be from 0 to 10");
            None
        }
        None => None,
    };
    let area = match &message.bounding_box {
        Some(bbox) => convert::bounding_box(bbox, &mut violations),
        None => None,
    };
    let agency = if message.agency.is_empty() {
        None
    } else {
        violations.collect(AgencyId::parse_name("agency", &message.agency))
    };
    check_after(message.after_sequence, &mut violations);
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let agency = match agency {
        Some(id) => {
            let agency = state.store.get_agency(id).await.map_err(Error::from)?;
            Some(IncidentRelevance {
                agency: id,
                discipline: discipline_of(agency.details.kind),
            })
        }
        None => None,
    };
    let watch = IncidentWatch {
        state: state.clone(),
        area,
        statuses,
        min_priority,
        agency,
        in_view: HashSet::new(),
    };
    Ok(spawn_watch(state.clone(), watch, message.after_sequence))
}

/// One WatchUnits stream.
pub struct UnitWatch {
    state: Arc<AppState>,
    area: Option<BoundingBox>,
    agency: Option<AgencyId>,
    station: Option<StationId>,
    unit_types: Vec<UnitType>,
    statuses: Vec<UnitStatus>,
    in_view: HashSet<UnitId>,
}

impl UnitWatch {
    fn matches(&self, unit: &Unit) -> bool {
        let in_area = |area: &BoundingBox| {
            unit.position
                .as_ref()
                .is_some_and(|p| area.contains(p.point))
        };
        self.area.as_ref().is_none_or(in_area)
            && self.agency.is_none_or(|a| unit.agency == a)
            && self.station.is_none_or(|s| unit.home_station == Some(s))
            && (self.unit_types.is_empty() || self.unit_types.contains(&unit.unit_type))
            && (self.statuses.is_empty() || self.statuses.contains(&unit.status))
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

type UnitItem = pb::watch_units_response::Item;

impl Watch for UnitWatch {
    type Response = pb::WatchUnitsResponse;

    async fn snapshot(&mut self, _: &AppState) -> Result<Vec<Self::Response>, Error> {
        let units = self.matching().await?;
        self.in_view = units.iter().map(|u| u.id).collect();
        Ok(units
            .iter()
            .map(|unit| pb::WatchUnitsResponse {
                item: Some(UnitItem::Snapshot(self.message(unit))),
            })
            .collect())
    }

    async fn prime(&mut self, _: &AppState) -> Result<(), Error> {
        self.in_view = self.matching().await?.iter().map(|u| u.id).collect();
        Ok(())
    }

    fn event(&mut self, item: &FeedItem) -> Option<Self::Response> {
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
        let status_of = |status: Option<UnitStatus>| {
            status.map_or(pb::UnitStatus::Unspecified, views::unit_status)
        };
        let message = item
            .rendered_unit
            .get_or_init(|| self.message(unit))
            .clone();
        Some(pb::WatchUnitsResponse {
            item: Some(UnitItem::Event(pb::UnitEvent {
                sequence: event.position,
                time: Some(convert::timestamp(event.published_at)),
                kind: kind.into(),
                unit: Some(message),
                actor: event.actor.clone(),
                left_filter,
                previous_status: status_of(previous_status).into(),
                status: status_of(status).into(),
            })),
        })
    }

    fn snapshot_complete(&self, message: pb::SnapshotComplete) -> Self::Response {
        pb::WatchUnitsResponse {
            item: Some(UnitItem::SnapshotComplete(message)),
        }
    }

    fn resync(&self, message: pb::ResyncRequired) -> Self::Response {
        pb::WatchUnitsResponse {
            item: Some(UnitItem::ResyncRequired(message)),
        }
    }

    fn heartbeat(&self, message: pb::Heartbeat) -> Self::Response {
        pb::WatchUnitsResponse {
            item: Some(UnitItem::Heartbeat(message)),
        }
    }
}

/// Validates a WatchUnits request and starts the stream.
pub async fn watch_units(
    state: &Arc<AppState>,
    message: pb::WatchUnitsRequest,
) -> Result<WatchReceiver<pb::WatchUnitsResponse>, Status> {
    let mut violations = Violations::new();
    let area = match &message.bounding_box {
        Some(bbox) => convert::bounding_box(bbox, &mut violations),
        None => None,
    };
    let agency = if message.agency.is_empty() {
        None
    } else {
        violations.collect(AgencyId::parse_name("agency", &message.agency))
    };
    let station = if message.station.is_empty() {
        None
    } else {
        violations.collect(StationId::parse_name("station", &message.station))
    };
    let unit_types = violations
        .collect(convert::enum_filter(
            "unit_types",
            &message.unit_types,
            views::unit_type_from,
        ))
        .unwrap_or_default();
    let statuses = violations
        .collect(convert::enum_filter(
            "statuses",
            &message.statuses,
            views::unit_status_from,
        ))
        .unwrap_or_default();
    check_after(message.after_sequence, &mut violations);
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let watch = UnitWatch {
        state: state.clone(),
        area,
        agency,
        station,
        unit_types,
        statuses,
        in_view: HashSet::new(),
    };
    Ok(spawn_watch(state.clone(), watch, message.after_sequence))
}
