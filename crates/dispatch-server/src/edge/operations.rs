//! OperationService's requests as domain commands, and operations as messages.

use chrono::{DateTime, Duration, Utc};

use dispatch_domain::Violations;
use dispatch_domain::ids::{AgencyId, CameraId, OperationId, UnitId, WatchOrderId};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::operation::report::OperationReport;
use dispatch_domain::operation::{
    CameraToWatch, CrowdRule, NewOperation, NewWatchOrder, Operation, WatchOrder, WatchTarget,
    Window,
};
use dispatch_domain::referral::Polygon;
use dispatch_domain::reporting::intervals::{IntervalKind, IntervalReport};
use dispatch_proto::v1 as pb;

use super::wire::{self, mutation, timestamp, valid};
use crate::services::request::Mutation;

pub struct CreateOperation {
    pub mutation: Mutation,
    pub operation: NewOperation,
}

pub struct StageUnits {
    pub mutation: Mutation,
    pub operation: OperationId,
    pub units: Vec<UnitId>,
}

/// An operation to stand down now.
pub struct StandDown {
    pub mutation: Mutation,
    pub operation: OperationId,
}

/// A watch order as asked: checked against its operation by the handler.
pub struct AddWatchOrder {
    pub mutation: Mutation,
    pub order: NewWatchOrder,
}

fn names<T>(
    field: &str,
    names: &[String],
    parse: fn(&str, &str) -> Result<T, Violations>,
    violations: &mut Violations,
) -> Vec<T> {
    names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| violations.collect(parse(&format!("{field}[{i}]"), name)))
        .collect()
}

fn polygon(field: &str, polygon: &pb::Polygon, violations: &mut Violations) -> Option<Polygon> {
    let mut points = Vec::with_capacity(polygon.points.len());
    let mut bad = false;
    for (j, p) in polygon.points.iter().enumerate() {
        match GeoPoint::new(p.latitude, p.longitude) {
            Ok(point) => points.push(point),
            Err(v) => {
                bad = true;
                violations.collect::<()>(Err(v.within(&format!("{field}.points[{j}]"))));
            }
        }
    }
    if bad {
        return None;
    }
    violations.collect(Polygon::new(points).map_err(|v| v.within(field)))
}

fn crowd_rule(rule: &pb::CrowdRule, violations: &mut Violations) -> Option<CrowdRule> {
    let window = match &rule.window {
        // Whole seconds beyond what a duration holds (about 292 million years) are refused.
        Some(d) => match Duration::try_seconds(d.seconds) {
            Some(window) => window,
            None => {
                violations.add("operation.crowd_rule.window", "out of range");
                return None;
            }
        },
        None => {
            violations.add("operation.crowd_rule.window", "required");
            return None;
        }
    };
    let rule = CrowdRule {
        radius_m: rule.radius_m,
        window,
        type_required: rule.type_required,
        local_calls_per_day: rule.local_calls_per_day,
    };
    violations
        .collect(rule.validate("operation.crowd_rule"))
        .map(|()| rule)
}

impl TryFrom<pb::CreateOperationRequest> for CreateOperation {
    type Error = Violations;

    fn try_from(message: pb::CreateOperationRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let operation = wire::required(
            message.operation.as_ref(),
            "operation",
            "required",
            &mut violations,
        )?;
        let zones: Vec<Polygon> = operation
            .zones
            .iter()
            .enumerate()
            .filter_map(|(i, z)| polygon(&format!("operation.zones[{i}]"), z, &mut violations))
            .collect();
        let start = violations.collect(wire::datetime(
            "operation.start_time",
            operation.start_time.as_ref(),
        ));
        let end = violations.collect(wire::datetime(
            "operation.end_time",
            operation.end_time.as_ref(),
        ));
        let window = match start {
            Some(Some(start)) => {
                violations.collect(Window::new("operation", start, end.flatten()).map_err(|v| {
                    // Window::new names `operation.end`; the wire field is end_time.
                    Violations::single(
                        "operation.end_time",
                        v.to_string()
                            .split(": ")
                            .nth(1)
                            .unwrap_or("must be after start_time"),
                    )
                }))
            }
            Some(None) => {
                violations.add("operation.start_time", "required");
                None
            }
            None => None,
        };
        let command_post = if operation.command_post.is_empty() {
            Some(None)
        } else {
            violations
                .collect(UnitId::parse_name(
                    "operation.command_post",
                    &operation.command_post,
                ))
                .map(Some)
        };
        let agencies = names(
            "operation.agencies",
            &operation.agencies,
            AgencyId::parse_name,
            &mut violations,
        );
        let staged = names(
            "operation.staged_units",
            &operation.staged_units,
            UnitId::parse_name,
            &mut violations,
        );
        let cameras = names(
            "operation.cameras",
            &operation.cameras,
            CameraId::parse_name,
            &mut violations,
        );
        let rule = match &operation.crowd_rule {
            Some(rule) => crowd_rule(rule, &mut violations).map(Some),
            None => Some(None),
        };
        let new = NewOperation {
            id: OperationId::new_v7(),
            name: operation.display_name.trim().to_owned(),
            zones,
            window: window.unwrap_or(Window {
                start: DateTime::<Utc>::MIN_UTC,
                end: None,
            }),
            agencies,
            command_post: command_post.flatten(),
            staged,
            cameras,
            crowd_rule: rule.flatten(),
        };
        violations.collect(new.validate());
        valid(violations, || {
            window?;
            command_post?;
            rule?;
            Some(Self {
                mutation: mutation?,
                operation: new,
            })
        })
    }
}

impl TryFrom<pb::StageUnitsRequest> for StageUnits {
    type Error = Violations;

    fn try_from(message: pb::StageUnitsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let operation =
            violations.collect(OperationId::parse_name("operation", &message.operation));
        if message.units.is_empty() {
            violations.add("units", "required: at least one unit");
        }
        if message.units.len() > dispatch_domain::operation::MAX_MEMBERS {
            violations.add("units", "too many");
        }
        let units = names("units", &message.units, UnitId::parse_name, &mut violations);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                operation: operation?,
                units,
            })
        })
    }
}

impl TryFrom<pb::StandDownOperationRequest> for StandDown {
    type Error = Violations;

    fn try_from(message: pb::StandDownOperationRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let operation = violations.collect(OperationId::parse_name("name", &message.name));
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                operation: operation?,
            })
        })
    }
}

impl TryFrom<pb::AddWatchOrderRequest> for AddWatchOrder {
    type Error = Violations;

    fn try_from(message: pb::AddWatchOrderRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let order = wire::required(
            message.watch_order.as_ref(),
            "watch_order",
            "required",
            &mut violations,
        )?;
        let operation = violations.collect(OperationId::parse_name(
            "watch_order.operation",
            &order.operation,
        ));
        let target = match &order.target {
            Some(pb::watch_order::Target::Camera(name)) => violations
                .collect(CameraId::parse_name("watch_order.camera", name))
                .map(WatchTarget::Camera),
            Some(pb::watch_order::Target::Zone(zone)) => Some(WatchTarget::Zone(*zone)),
            None => {
                violations.add("watch_order.target", "required: a camera or a zone");
                None
            }
        };
        let until = violations
            .collect(wire::datetime("watch_order.until", order.until.as_ref()))
            .and_then(|until| {
                if until.is_none() {
                    violations.add("watch_order.until", "required");
                }
                until
            });
        let instruction = order.instruction.trim().to_owned();
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                order: NewWatchOrder {
                    id: WatchOrderId::new_v7(),
                    operation: operation?,
                    target: target?,
                    instruction,
                    until: until?,
                },
            })
        })
    }
}

fn wire_polygon(polygon: &Polygon) -> pb::Polygon {
    pb::Polygon {
        points: polygon.exterior().iter().map(wire::geo_point).collect(),
    }
}

pub fn operation_message(operation: &Operation, now: DateTime<Utc>) -> pb::Operation {
    let spec = &operation.spec;
    pb::Operation {
        name: spec.id.name(),
        display_name: spec.name.clone(),
        zones: spec.zones.iter().map(wire_polygon).collect(),
        start_time: Some(timestamp(spec.window.start)),
        end_time: spec.window.end.map(timestamp),
        agencies: spec.agencies.iter().map(AgencyId::name).collect(),
        command_post: spec.command_post.map(|u| u.name()).unwrap_or_default(),
        staged_units: spec.staged.iter().map(UnitId::name).collect(),
        cameras: spec.cameras.iter().map(CameraId::name).collect(),
        crowd_rule: Some({
            let rule = operation.crowd_rule();
            pb::CrowdRule {
                radius_m: rule.radius_m,
                window: Some(wire::duration(rule.window)),
                type_required: rule.type_required,
                local_calls_per_day: rule.local_calls_per_day,
            }
        }),
        create_by: operation.created_by.clone(),
        create_time: Some(timestamp(operation.created_at)),
        active: operation.is_active(now),
    }
}

pub fn watch_order_message(order: &WatchOrder) -> pb::WatchOrder {
    pb::WatchOrder {
        name: order.order.id.name(),
        operation: order.order.operation.name(),
        target: Some(match order.order.target {
            WatchTarget::Camera(camera) => pb::watch_order::Target::Camera(camera.name()),
            WatchTarget::Zone(zone) => pb::watch_order::Target::Zone(zone),
        }),
        instruction: order.order.instruction.clone(),
        until: Some(timestamp(order.order.until)),
        create_by: order.created_by.clone(),
        create_time: Some(timestamp(order.created_at)),
    }
}

pub fn camera_to_watch_message(camera: &CameraToWatch) -> pb::CameraToWatch {
    pb::CameraToWatch {
        camera: camera.camera.name(),
        code: camera.code.clone(),
        operation: camera.operation.name(),
        zone: camera
            .zone
            .and_then(|z| i32::try_from(z).ok())
            .unwrap_or(-1),
        recent_incidents: camera.recent_incidents,
        orders: camera.orders.iter().map(watch_order_message).collect(),
    }
}

/// The 90th percentile of `kind` in a report's total, if measured.
fn p90(report: &IntervalReport, kind: IntervalKind) -> (u64, Option<prost_types::Duration>) {
    report
        .total
        .intervals
        .iter()
        .find(|s| s.interval == kind)
        .map_or((0, None), |s| (s.count, s.p90.map(wire::duration)))
}

pub fn report_message(report: &OperationReport) -> pb::GetOperationReportResponse {
    pb::GetOperationReportResponse {
        start_time: Some(timestamp(report.period.start)),
        end_time: Some(timestamp(report.period.end)),
        by_type: report
            .by_type
            .iter()
            .map(|(kind, count)| pb::OperationTypeCount {
                incident_type: kind.clone(),
                count: *count,
            })
            .collect(),
        by_hour: report
            .by_hour
            .iter()
            .map(|(hour, count)| pb::OperationHourCount {
                hour: Some(timestamp(*hour)),
                count: *count,
            })
            .collect(),
        intervals: [
            IntervalKind::CallProcessing,
            IntervalKind::Turnout,
            IntervalKind::Travel,
            IntervalKind::TotalResponse,
        ]
        .into_iter()
        .map(|kind| {
            let (inside_count, inside_p90) = p90(&report.inside, kind);
            let (city_count, city_p90) = p90(&report.city, kind);
            pb::IntervalComparison {
                interval: kind.as_str().to_owned(),
                inside_count,
                inside_p90,
                city_count,
                city_p90,
            }
        })
        .collect(),
        staged_units: report
            .staged
            .iter()
            .map(|s| pb::StagedUnitUse {
                unit: s.unit.name(),
                assignments_inside: s.assignments_inside,
                assignments_outside: s.assignments_outside,
                committed: Some(wire::duration(s.committed)),
                share: s.share,
            })
            .collect(),
    }
}
