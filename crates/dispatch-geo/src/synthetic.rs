//! Deterministic synthetic fleets for tests and benchmarks (no `rand` dependency).

use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use uuid::Uuid;

use crate::engine::{Fix, UnitState};

/// SplitMix64: small, fast, good enough for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    pub fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_le_bytes(),
        )
        .into_uuid()
    }
}

/// A lat/lon box (longitudes wrap across the antimeridian, latitudes are clamped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub latitude: f64,
    pub longitude: f64,
    pub half_degrees: f64,
}

impl Region {
    pub fn point(&self, rng: &mut SplitMix64) -> GeoPoint {
        let lat =
            (self.latitude + (rng.next_f64() * 2.0 - 1.0) * self.half_degrees).clamp(-90.0, 90.0);
        let mut lon = self.longitude + (rng.next_f64() * 2.0 - 1.0) * self.half_degrees;
        if lon > 180.0 {
            lon -= 360.0;
        } else if lon < -180.0 {
            lon += 360.0;
        }
        GeoPoint::new(lat, lon.clamp(-180.0, 180.0)).expect("clamped into range")
    }
}

/// The capabilities a unit of this type typically has.
pub fn capabilities_of(unit_type: UnitType) -> &'static [&'static str] {
    match unit_type {
        UnitType::Patrol => &["patrol"],
        UnitType::Motorcycle => &["patrol", "motorcycle"],
        UnitType::AlsAmbulance => &["als", "bls", "aed"],
        UnitType::BlsAmbulance => &["bls", "aed"],
        UnitType::Engine => &["engine", "aed", "water"],
        UnitType::Ladder => &["ladder", "aed"],
        UnitType::Rescue => &["extrication", "rescue", "aed"],
        UnitType::Hazmat => &["hazmat"],
        UnitType::Chief => &["chief"],
        UnitType::MobileCommandPost => &["command"],
        UnitType::Drone => &["drone", "aed"],
        UnitType::CivilProtection => &["civil_protection", "aed"],
        UnitType::CrowdControl => &["crowd_control"],
        UnitType::Other => &[],
    }
}

/// A plausible mix of unit types (percent).
const MIX: [(UnitType, usize); 14] = [
    (UnitType::Patrol, 35),
    (UnitType::Motorcycle, 10),
    (UnitType::AlsAmbulance, 8),
    (UnitType::BlsAmbulance, 12),
    (UnitType::Engine, 10),
    (UnitType::Ladder, 3),
    (UnitType::Rescue, 3),
    (UnitType::Hazmat, 1),
    (UnitType::Chief, 2),
    (UnitType::MobileCommandPost, 1),
    (UnitType::Drone, 3),
    (UnitType::CivilProtection, 5),
    (UnitType::CrowdControl, 5),
    (UnitType::Other, 2),
];

pub fn unit_type(rng: &mut SplitMix64) -> UnitType {
    let mut roll = rng.below(100);
    for (unit_type, percent) in MIX {
        if roll < percent {
            return unit_type;
        }
        roll -= percent;
    }
    UnitType::Other
}

/// How to draw a fleet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetShape {
    pub region: Region,
    /// Share of units not available.
    pub busy: f64,
    /// Share of units without any position.
    pub unpositioned: f64,
    /// Share of fixes older than `stale_age` (the rest are up to a minute old).
    pub stale: f64,
    pub stale_age: TimeDelta,
}

impl FleetShape {
    /// 90 % busy, 1 % unpositioned, 5 % stale (over an hour old).
    pub fn busy_city(region: Region) -> Self {
        Self {
            region,
            busy: 0.9,
            unpositioned: 0.01,
            stale: 0.05,
            stale_age: TimeDelta::hours(1),
        }
    }

    pub fn fix(&self, rng: &mut SplitMix64, now: DateTime<Utc>) -> Fix {
        let point = self.region.point(rng);
        let age = if rng.chance(self.stale) {
            self.stale_age + TimeDelta::seconds(rng.below(7_200) as i64)
        } else {
            TimeDelta::milliseconds(rng.below(60_000) as i64)
        };
        Fix {
            point,
            fix_time: now - age,
        }
    }

    pub fn unit(&self, rng: &mut SplitMix64, now: DateTime<Utc>) -> UnitState {
        let unit_type = unit_type(rng);
        let mut capabilities: Vec<String> = capabilities_of(unit_type)
            .iter()
            .map(|&c| c.to_owned())
            .collect();
        // A few units carry something extra.
        if rng.chance(0.1) {
            capabilities.push("aed".to_owned());
        }
        UnitState {
            id: rng.uuid(),
            unit_type,
            capabilities,
            available: !rng.chance(self.busy),
            position: (!rng.chance(self.unpositioned)).then(|| self.fix(rng, now)),
            home: None,
        }
    }

    /// `n` units, drawn lazily.
    pub fn units(
        self,
        rng: &mut SplitMix64,
        n: usize,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = UnitState> + '_ {
        (0..n).map(move |_| self.unit(rng, now))
    }
}
