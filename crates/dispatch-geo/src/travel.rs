//! Travel time estimates, behind a trait so a road-network router can slide in later.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;

/// Which model gave an ETA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TravelSource {
    /// Great-circle distance over a speed (with a road factor).
    StraightLine,
    /// The curve learned from the centre's history.
    Fitted,
    /// Drive time over the road graph.
    Road,
}

impl TravelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TravelSource::StraightLine => "straight_line",
            TravelSource::Fitted => "fitted",
            TravelSource::Road => "road",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::StraightLine, Self::Fitted, Self::Road]
            .into_iter()
            .find(|source| source.as_str() == text)
    }
}

/// Estimates how long a unit takes to reach a point.
///
/// Contract the ranking relies on to stop early: for every unit type and every pair of points,
/// `eta(from, to, d, t)` is at least `d / max_speed_mps()` seconds, where `d` is the great-circle
/// distance in metres. A model that breaks it makes `Engine::recommend` miss units.
pub trait TravelModel: Debug + Send + Sync {
    /// Time for a unit of `unit_type` at `from` to reach `to`, `straight_line_m` apart.
    fn eta(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> TimeDelta;

    /// `eta`, and which model gave it (a model that delegates says whose answer it is).
    /// Defaults to the straight line.
    fn estimate(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> (TimeDelta, TravelSource) {
        (
            self.eta(from, to, straight_line_m, unit_type),
            TravelSource::StraightLine,
        )
    }

    /// An upper bound over all unit types of the speed along the straight line (great-circle
    /// distance over ETA), metres per second. Not finite or not positive disables early stopping.
    fn max_speed_mps(&self) -> f64;

    /// The same bound for one unit type: `eta(.., d, unit_type) >= d / max_speed_mps_of(unit_type)`.
    /// The engine takes the largest over the types present in a capability's tree, so a query for
    /// engines is not slowed down by fast drones. Defaults to `max_speed_mps()`.
    fn max_speed_mps_of(&self, unit_type: UnitType) -> f64 {
        let _ = unit_type;
        self.max_speed_mps()
    }

    /// Time from dispatch to moving for a unit leaving its quarters at `at` (the crew reaching
    /// the vehicle), added to `eta` by the engine for units at their home station. Never negative,
    /// so the speed bound above still holds. Defaults to zero (a model that does not know it).
    fn turnout(&self, unit_type: UnitType, at: DateTime<Utc>) -> TimeDelta {
        let _ = (unit_type, at);
        TimeDelta::zero()
    }
}

/// Great-circle distance times a road factor over a speed per unit type.
#[derive(Debug, Clone, PartialEq)]
pub struct GreatCircleTravel {
    /// Road distance over straight-line distance for ground units.
    pub road_factor: f64,
    /// Speed per unit type, metres per second (positive).
    pub speeds_mps: BTreeMap<UnitType, f64>,
    /// Speed of a type missing from `speeds_mps`.
    pub default_speed_mps: f64,
    /// Types that travel in a straight line (road factor 1): drones.
    pub straight_line: BTreeSet<UnitType>,
}

impl Default for GreatCircleTravel {
    fn default() -> Self {
        use UnitType::*;
        let speeds_mps = [
            (Patrol, 13.9),
            (Motorcycle, 13.9),
            (AlsAmbulance, 12.5),
            (BlsAmbulance, 12.5),
            (Engine, 10.0),
            (Ladder, 10.0),
            (Rescue, 10.0),
            (Hazmat, 10.0),
            (Chief, 13.9),
            (MobileCommandPost, 8.3),
            (Drone, 20.0),
            (CivilProtection, 12.5),
            (CrowdControl, 10.0),
            (Other, 11.1),
        ]
        .into_iter()
        .collect();
        Self {
            road_factor: 1.4,
            speeds_mps,
            default_speed_mps: 11.1,
            straight_line: [Drone].into_iter().collect(),
        }
    }
}

impl GreatCircleTravel {
    /// Metres of great-circle distance covered per second by a unit of this type.
    pub fn straight_line_speed_mps(&self, unit_type: UnitType) -> f64 {
        let speed = self
            .speeds_mps
            .get(&unit_type)
            .copied()
            .unwrap_or(self.default_speed_mps);
        let factor = if self.straight_line.contains(&unit_type) {
            1.0
        } else {
            self.road_factor
        };
        // Never negative: a non-positive speed or factor means "never arrives" (an infinite ETA).
        let effective = speed / factor;
        if effective > 0.0 { effective } else { 0.0 }
    }
}

impl TravelModel for GreatCircleTravel {
    fn eta(
        &self,
        _from: GeoPoint,
        _to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> TimeDelta {
        seconds(straight_line_m / self.straight_line_speed_mps(unit_type))
    }

    fn max_speed_mps(&self) -> f64 {
        UnitType::ALL
            .iter()
            .map(|&unit_type| self.straight_line_speed_mps(unit_type))
            .fold(0.0, f64::max)
    }

    fn max_speed_mps_of(&self, unit_type: UnitType) -> f64 {
        self.straight_line_speed_mps(unit_type)
    }
}

/// Seconds as a duration, rounded to the nanosecond and saturating (infinite or NaN: the longest
/// duration).
pub fn seconds(secs: f64) -> TimeDelta {
    if secs.is_nan() {
        return TimeDelta::MAX;
    }
    // `as` saturates at the i64 bounds, and TimeDelta holds every i64 of nanoseconds.
    TimeDelta::nanoseconds((secs * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_speeds_give_plausible_etas() {
        let model = GreatCircleTravel::default();
        let p = GeoPoint::new(19.4, -99.1).unwrap();
        // 1 km at 12.5 m/s over a 1.4 road factor: 112 s.
        let eta = model.eta(p, p, 1_000.0, UnitType::AlsAmbulance);
        assert_eq!(eta.num_seconds(), 112);
        // Drones fly straight: 1 km at 20 m/s.
        assert_eq!(
            model.eta(p, p, 1_000.0, UnitType::Drone),
            TimeDelta::seconds(50)
        );
        assert_eq!(model.max_speed_mps(), 20.0);
        for &unit_type in UnitType::ALL {
            let eta = model.eta(p, p, 12_345.0, unit_type).as_seconds_f64();
            assert!(eta >= 12_345.0 / model.max_speed_mps() - 1e-6);
        }
    }

    #[test]
    fn zero_speed_never_arrives() {
        let mut model = GreatCircleTravel::default();
        model.speeds_mps.insert(UnitType::Other, 0.0);
        let p = GeoPoint::new(0.0, 0.0).unwrap();
        assert_eq!(
            model.eta(p, p, 10.0, UnitType::Other),
            TimeDelta::nanoseconds(i64::MAX)
        );
    }
}
