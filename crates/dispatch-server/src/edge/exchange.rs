//! IncidentExchangeService on the wire: WatchIncidentEidos's request as a command, and the
//! EIDO stream's items as messages.

use dispatch_domain::Violations;
use dispatch_domain::ids::{AgencyId, IncidentId};
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::Area;
use dispatch_proto::v1 as pb;

use super::enums::enum_filter;
use super::wire::{self, Fields as _, valid};
use crate::feed::WatchResponse;
use crate::services::exchange::watch::{IncidentEido, IncidentEidoChange};
use crate::services::request;

/// The incidents a WatchIncidentEidos stream shows, and the sequence it resumes after (0: a
/// snapshot first).
pub struct WatchIncidentEidos {
    pub area: Option<Area>,
    pub statuses: Vec<IncidentStatus>,
    /// Catalogue codes, checked against the catalogue by the handler.
    pub incident_types: Vec<String>,
    pub agency: Option<AgencyId>,
    pub incident: Option<IncidentId>,
    pub after: i64,
}

fn circle(circle: &pb::GeoCircle, violations: &mut Violations) -> Option<Area> {
    let center = wire::required_point("circle.center", circle.center.as_ref(), violations)?;
    violations.collect(Area::circle(center, circle.radius_meters).map_err(|_| {
        Violations::single(
            "circle.radius_meters",
            format!(
                "must be above 0 and at most {} metres, got {}",
                dispatch_domain::location::MAX_AREA_RADIUS_M,
                circle.radius_meters
            ),
        )
    }))
}

impl TryFrom<pb::WatchIncidentEidosRequest> for WatchIncidentEidos {
    type Error = Violations;

    fn try_from(message: pb::WatchIncidentEidosRequest) -> Result<Self, Violations> {
        use pb::watch_incident_eidos_request::Area as WireArea;
        let mut violations = Violations::new();
        let area = match &message.area {
            None => None,
            Some(WireArea::BoundingBox(b)) => wire::bounding_box(b, &mut violations).map(Area::Box),
            Some(WireArea::Circle(c)) => circle(c, &mut violations),
        };
        let statuses =
            violations.collect(enum_filter::<IncidentStatus>("statuses", &message.statuses));
        for (index, code) in message.incident_types.iter().enumerate() {
            if code.is_empty() {
                violations.add(format!("incident_types[{index}]"), "must not be empty");
            }
        }
        let agency = violations.optional("agency", &message.agency, AgencyId::parse_name);
        let incident = violations.optional("incident", &message.incident, IncidentId::parse_name);
        request::check_after(message.after_sequence, &mut violations);
        valid(violations, || {
            Some(Self {
                area,
                statuses: statuses?,
                incident_types: message.incident_types,
                agency,
                incident,
                after: message.after_sequence,
            })
        })
    }
}

impl From<IncidentEido> for pb::IncidentEido {
    fn from(incident: IncidentEido) -> Self {
        Self {
            incident: incident.incident.name(),
            eido_json: incident.eido.to_string(),
        }
    }
}

impl WatchResponse for pb::WatchIncidentEidosResponse {
    type Resource = IncidentEido;
    type Event = IncidentEidoChange;

    fn snapshot(resource: IncidentEido) -> Self {
        Self {
            item: Some(pb::watch_incident_eidos_response::Item::Snapshot(
                resource.into(),
            )),
        }
    }

    fn event(change: IncidentEidoChange) -> Self {
        Self {
            item: Some(pb::watch_incident_eidos_response::Item::Event(
                pb::IncidentEidoEvent {
                    sequence: change.sequence,
                    time: Some(wire::timestamp(change.time)),
                    eido: Some(change.eido.into()),
                    left_filter: change.left_filter,
                },
            )),
        }
    }

    fn snapshot_complete(message: pb::SnapshotComplete) -> Self {
        Self {
            item: Some(pb::watch_incident_eidos_response::Item::SnapshotComplete(
                message,
            )),
        }
    }

    fn resync(message: pb::ResyncRequired) -> Self {
        Self {
            item: Some(pb::watch_incident_eidos_response::Item::ResyncRequired(
                message,
            )),
        }
    }

    fn heartbeat(message: pb::Heartbeat) -> Self {
        Self {
            item: Some(pb::watch_incident_eidos_response::Item::Heartbeat(message)),
        }
    }
}
