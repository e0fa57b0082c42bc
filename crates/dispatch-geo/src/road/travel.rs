//! Drive time over the road graph as a [`TravelModel`].

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;

use super::network::RoadNetwork;
use crate::travel::{GreatCircleTravel, TravelModel, TravelSource, seconds};

/// A unit or incident farther than this from every graph node is off the map: the road time
/// would be mostly guesswork, so the straight-line model answers.
pub const DEFAULT_MAX_SNAP_M: f64 = 1_000.0;

/// Road time between the graph nodes nearest each end, plus each end's distance to its node at
/// the straight-line model's speed. Falls back to `fallback` (the learned or straight-line
/// model) for flying units, ends off the graph, or no route.
///
/// Early-stop contract: the route's arcs are great-circle segments and their times are rounded
/// up, so by the triangle inequality `eta >= d / max(snap speed, fastest road speed)`;
/// `max_speed_mps_of` also covers the fallback's own bound.
#[derive(Debug)]
pub struct RoadTravel {
    pub network: Arc<RoadNetwork>,
    /// Answers what the roads cannot, and gives the turnout.
    pub fallback: Box<dyn TravelModel>,
    /// The speeds the snap distances are covered at (and which types fly).
    pub straight_line: GreatCircleTravel,
    pub max_snap_m: f64,
}

impl RoadTravel {
    pub fn new(
        network: Arc<RoadNetwork>,
        fallback: Box<dyn TravelModel>,
        straight_line: GreatCircleTravel,
    ) -> Self {
        Self {
            network,
            fallback,
            straight_line,
            max_snap_m: DEFAULT_MAX_SNAP_M,
        }
    }

    /// The road estimate alone: `None` where the fallback would answer.
    pub fn road_eta(&self, from: GeoPoint, to: GeoPoint, unit_type: UnitType) -> Option<TimeDelta> {
        if self.straight_line.straight_line.contains(&unit_type) {
            return None;
        }
        let (start, start_m) = self.network.snap(from).filter(|s| s.1 <= self.max_snap_m)?;
        let (end, end_m) = self.network.snap(to).filter(|s| s.1 <= self.max_snap_m)?;
        let route_ms = self
            .network
            .route_ms(self.network.profile_of(unit_type), start, end)?;
        let snap_s = (start_m + end_m) / self.straight_line.straight_line_speed_mps(unit_type);
        Some(seconds(route_ms as f64 / 1_000.0 + snap_s))
    }
}

impl TravelModel for RoadTravel {
    fn eta(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> TimeDelta {
        self.estimate(from, to, straight_line_m, unit_type).0
    }

    fn estimate(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> (TimeDelta, TravelSource) {
        match self.road_eta(from, to, unit_type) {
            Some(eta) => (eta, TravelSource::Road),
            None => self.fallback.estimate(from, to, straight_line_m, unit_type),
        }
    }

    fn max_speed_mps(&self) -> f64 {
        UnitType::ALL
            .iter()
            .map(|&unit_type| self.max_speed_mps_of(unit_type))
            .fold(0.0, f64::max)
    }

    fn max_speed_mps_of(&self, unit_type: UnitType) -> f64 {
        self.fallback
            .max_speed_mps_of(unit_type)
            .max(self.straight_line.straight_line_speed_mps(unit_type))
            .max(self.network.max_speed_mps(unit_type))
    }

    fn turnout(&self, unit_type: UnitType, at: DateTime<Utc>) -> TimeDelta {
        self.fallback.turnout(unit_type, at)
    }
}
