//! `IncidentExchangeService`'s requests: an EIDO's JSON text read into an import command by
//! `dispatch_standards::eido::import`, whose violations name JSON paths in the document
//! (`$.callComponent[0].callStartTimestamp`). On the wire they are rooted at the field that
//! holds the document, like every other field path (`eido_json.callComponent[0].callStartTimestamp`).
//!
//! Also WatchIncidentEidos's request as a command, and the EIDO stream's items as messages.

use super::enums::enum_filter;
use super::wire::{self, Fields as _, mutation, valid};
use crate::feed::WatchResponse;
use crate::services::exchange::watch::{IncidentEido, IncidentEidoChange};
use crate::services::request;
use crate::services::request::Mutation;
use dispatch_domain::Violations;
use dispatch_domain::ids::{AgencyId, IncidentId};
use dispatch_domain::incident::IncidentStatus;
use dispatch_domain::location::Area;
use dispatch_domain::triage::Catalogue;
use dispatch_proto::v1 as pb;
use dispatch_standards::eido::import::{self, EidoImport};

pub struct ImportEido {
    pub mutation: Mutation,
    pub import: EidoImport,
}

impl TryFrom<(pb::ImportEidoRequest, &Catalogue)> for ImportEido {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::ImportEidoRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let fallback = match message.fallback_location.as_ref() {
            Some(location) => violations.collect(
                wire::location_from(Some(location)).map_err(|v| v.within("fallback_location")),
            ),
            None => None,
        };
        let read = if message.eido_json.trim().is_empty() {
            violations.add("eido_json", "required: the EIDO, JSON text");
            None
        } else {
            violations.collect(
                import::read(
                    &message.eido_json,
                    fallback.as_ref(),
                    catalogue,
                    chrono::Utc::now(),
                )
                .map_err(|problems| rooted_at("eido_json", problems)),
            )
        };
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                import: read?,
            })
        })
    }
}

/// JSON paths (`$`, `$.a[0].b`, `$['@x']`) rooted at the request field holding the document.
fn rooted_at(field: &str, problems: Violations) -> Violations {
    let mut rooted = Violations::new();
    for problem in problems.iter() {
        let inner = problem.field.strip_prefix('$').unwrap_or(&problem.field);
        rooted.add(format!("{field}{inner}"), problem.description.clone());
    }
    rooted
}

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
