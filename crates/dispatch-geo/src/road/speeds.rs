//! Driving speeds by road class, overridable per class and per unit type.
//!
//! Written as a list: `motorway=100,residential=30` sets a class's speed for every unit type,
//! `als_ambulance:residential=40` for one type only (km/h, positive). Later entries win; a type's
//! own entries win over the all-types ones whatever their order.

use std::collections::BTreeMap;
use std::fmt;

use dispatch_domain::directory::UnitType;

use super::osm::RoadClass;

/// km/h per class, in `RoadClass::ALL` order.
pub type ClassSpeeds = [f64; RoadClass::ALL.len()];

/// The defaults: urban driving with traffic, not the posted limits.
pub const DEFAULT_KMH: ClassSpeeds = [
    90.0, // motorway
    50.0, // motorway_link
    70.0, // trunk
    40.0, // trunk_link
    55.0, // primary
    35.0, // primary_link
    45.0, // secondary
    30.0, // secondary_link
    40.0, // tertiary
    30.0, // tertiary_link
    30.0, // unclassified
    25.0, // residential
    10.0, // living_street
    15.0, // service
    25.0, // road
    40.0, // busway
];

/// Speeds for every unit type.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadSpeeds {
    pub all: ClassSpeeds,
    pub per_type: BTreeMap<UnitType, ClassSpeeds>,
}

impl Default for RoadSpeeds {
    fn default() -> Self {
        Self {
            all: DEFAULT_KMH,
            per_type: BTreeMap::new(),
        }
    }
}

/// A list entry that could not be read, quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeedsError(pub String);

impl fmt::Display for SpeedsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpeedsError {}

impl RoadSpeeds {
    /// The defaults with the overrides of `list` (empty: the defaults).
    pub fn parse(list: &str) -> Result<Self, SpeedsError> {
        let mut all: Vec<(RoadClass, f64)> = Vec::new();
        let mut typed: Vec<(UnitType, RoadClass, f64)> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why: &str| SpeedsError(format!("road speed {entry:?}: {why}"));
            let (key, kmh) = entry
                .split_once('=')
                .ok_or_else(|| bad("expected class=km/h or unit_type:class=km/h"))?;
            let kmh: f64 = kmh
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0 && *v <= 300.0)
                .ok_or_else(|| bad("the speed must be a number of km/h above 0, at most 300"))?;
            let (unit_type, class) = match key.trim().split_once(':') {
                Some((unit_type, class)) => (
                    Some(
                        UnitType::parse(unit_type.trim())
                            .ok_or_else(|| bad("unknown unit type"))?,
                    ),
                    class.trim(),
                ),
                None => (None, key.trim()),
            };
            let class = RoadClass::parse(class).ok_or_else(|| {
                bad("unknown road class (motorway, trunk, primary, secondary, tertiary, their _link, unclassified, residential, living_street, service, road, busway)")
            })?;
            match unit_type {
                Some(unit_type) => typed.push((unit_type, class, kmh)),
                None => all.push((class, kmh)),
            }
        }
        let mut speeds = Self::default();
        for (class, kmh) in all {
            speeds.all[class.index()] = kmh;
        }
        for (unit_type, class, kmh) in typed {
            let own = speeds.per_type.entry(unit_type).or_insert(speeds.all);
            own[class.index()] = kmh;
        }
        Ok(speeds)
    }

    pub fn of(&self, unit_type: UnitType) -> &ClassSpeeds {
        self.per_type.get(&unit_type).unwrap_or(&self.all)
    }

    /// The distinct speed tables, the all-types one first: one prepared graph each.
    pub fn profiles(&self) -> Vec<ClassSpeeds> {
        let mut profiles = vec![self.all];
        for speeds in self.per_type.values() {
            if !profiles.contains(speeds) {
                profiles.push(*speeds);
            }
        }
        profiles
    }

    /// A canonical text of the settings (the cache key includes it).
    pub fn canonical(&self) -> String {
        self.profiles()
            .iter()
            .map(|speeds| {
                speeds
                    .iter()
                    .map(|kmh| format!("{kmh}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_per_class_and_per_type() {
        let speeds =
            RoadSpeeds::parse("als_ambulance:residential=40, residential=30,motorway=100").unwrap();
        assert_eq!(speeds.all[RoadClass::Residential.index()], 30.0);
        assert_eq!(speeds.all[RoadClass::Motorway.index()], 100.0);
        let ambulance = speeds.of(UnitType::AlsAmbulance);
        assert_eq!(ambulance[RoadClass::Residential.index()], 40.0);
        // The type's table starts from the all-types overrides, whatever the order.
        assert_eq!(ambulance[RoadClass::Motorway.index()], 100.0);
        assert_eq!(speeds.of(UnitType::Engine), &speeds.all);
        assert_eq!(speeds.profiles().len(), 2);
        assert_eq!(RoadSpeeds::parse("").unwrap(), RoadSpeeds::default());
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "residential",
            "footway=20",
            "residential=0",
            "tank:residential=20",
        ] {
            let error = RoadSpeeds::parse(bad).unwrap_err().to_string();
            assert!(error.contains(bad), "{error}");
        }
    }
}
