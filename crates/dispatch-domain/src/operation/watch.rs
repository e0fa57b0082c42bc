//! Watch orders ("consignas"): what a video operator watches for, on one camera or over one of an
//! operation's zones, until when; and the list of cameras to watch now, busiest zones first.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Operation;
use crate::Violations;
use crate::call::check_length;
use crate::directory::Camera;
use crate::ids::{CameraId, OperationId, WatchOrderId};
use crate::location::GeoPoint;

/// An instruction, at most this many characters.
pub const MAX_INSTRUCTION_CHARS: usize = 1_000;

/// What a watch order is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchTarget {
    Camera(CameraId),
    /// One of the operation's zones, by index.
    Zone(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewWatchOrder {
    pub id: WatchOrderId,
    pub operation: OperationId,
    pub target: WatchTarget,
    pub instruction: String,
    pub until: DateTime<Utc>,
}

impl NewWatchOrder {
    /// Against its operation: a zone it has, a camera covering it, `until` in the future and not
    /// past the operation's end. Paths are under `watch_order`.
    pub fn validate(&self, operation: &Operation, now: DateTime<Utc>) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if self.instruction.trim().is_empty() {
            violations.add("watch_order.instruction", "required");
        }
        check_length(
            &mut violations,
            "watch_order.instruction",
            &self.instruction,
            MAX_INSTRUCTION_CHARS,
        );
        match self.target {
            WatchTarget::Zone(zone) if zone as usize >= operation.spec.zones.len() => violations
                .add(
                    "watch_order.zone",
                    format!("the operation has {} zones", operation.spec.zones.len()),
                ),
            WatchTarget::Camera(camera) if !operation.spec.cameras.contains(&camera) => {
                violations.add(
                    "watch_order.camera",
                    "is not one of the operation's cameras",
                );
            }
            _ => {}
        }
        if self.until <= now {
            violations.add("watch_order.until", "must be in the future");
        }
        if let Some(end) = operation.spec.window.end
            && self.until > end
        {
            violations.add("watch_order.until", "must not be after the operation ends");
        }
        violations.into_result(|| ())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchOrder {
    pub order: NewWatchOrder,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl WatchOrder {
    pub fn is_current(&self, now: DateTime<Utc>) -> bool {
        now < self.order.until
    }
}

/// One camera a video operator should watch now.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraToWatch {
    pub camera: CameraId,
    pub code: String,
    pub operation: OperationId,
    /// The operation's zone the camera stands in, if any.
    pub zone: Option<usize>,
    /// Incidents in that zone over the look-back period.
    pub recent_incidents: u32,
    /// The current orders on the camera and on its zone, soonest to expire first.
    pub orders: Vec<WatchOrder>,
}

/// The cameras of the active operations to watch now: those in the zones with the most recent
/// incidents first, then those with orders, then by code. `recent` are the points of the
/// incidents over the look-back period; `orders` every order of these operations.
pub fn cameras_to_watch(
    operations: &[Operation],
    cameras: &[Camera],
    orders: &[WatchOrder],
    recent: &[GeoPoint],
    now: DateTime<Utc>,
) -> Vec<CameraToWatch> {
    let by_id: HashMap<CameraId, &Camera> = cameras.iter().map(|c| (c.id, c)).collect();
    let mut list = Vec::new();
    for operation in operations.iter().filter(|o| o.is_active(now)) {
        let zone_counts: Vec<u32> = operation
            .spec
            .zones
            .iter()
            .map(|zone| {
                u32::try_from(recent.iter().filter(|p| zone.contains(p)).count())
                    .unwrap_or(u32::MAX)
            })
            .collect();
        for camera_id in &operation.spec.cameras {
            let Some(camera) = by_id.get(camera_id).filter(|c| c.active) else {
                continue;
            };
            let zone = operation.zone_of(&camera.location);
            let mut current: Vec<WatchOrder> = orders
                .iter()
                .filter(|o| o.order.operation == operation.id() && o.is_current(now))
                .filter(|o| match o.order.target {
                    WatchTarget::Camera(id) => id == *camera_id,
                    WatchTarget::Zone(index) => zone == Some(index as usize),
                })
                .cloned()
                .collect();
            current.sort_by_key(|o| (o.order.until, o.order.id));
            list.push(CameraToWatch {
                camera: *camera_id,
                code: camera.code.clone(),
                operation: operation.id(),
                zone,
                recent_incidents: zone.map_or(0, |z| zone_counts[z]),
                orders: current,
            });
        }
    }
    list.sort_by(|a, b| {
        b.recent_incidents
            .cmp(&a.recent_incidents)
            .then(a.orders.is_empty().cmp(&b.orders.is_empty()))
            .then_with(|| a.code.cmp(&b.code))
    });
    list
}
