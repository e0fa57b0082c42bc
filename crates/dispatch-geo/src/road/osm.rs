//! Which OpenStreetMap ways a vehicle drives on, in which direction: the tags read, nothing else.

use serde::{Deserialize, Serialize};

/// A drivable `highway` value, links folded into their road (a motorway ramp is driven at
/// motorway-link speeds through `MotorwayLink` only where the difference matters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RoadClass {
    Motorway,
    MotorwayLink,
    Trunk,
    TrunkLink,
    Primary,
    PrimaryLink,
    Secondary,
    SecondaryLink,
    Tertiary,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
    Road,
    Busway,
}

impl RoadClass {
    pub const ALL: [RoadClass; 16] = [
        RoadClass::Motorway,
        RoadClass::MotorwayLink,
        RoadClass::Trunk,
        RoadClass::TrunkLink,
        RoadClass::Primary,
        RoadClass::PrimaryLink,
        RoadClass::Secondary,
        RoadClass::SecondaryLink,
        RoadClass::Tertiary,
        RoadClass::TertiaryLink,
        RoadClass::Unclassified,
        RoadClass::Residential,
        RoadClass::LivingStreet,
        RoadClass::Service,
        RoadClass::Road,
        RoadClass::Busway,
    ];

    /// The `highway` tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            RoadClass::Motorway => "motorway",
            RoadClass::MotorwayLink => "motorway_link",
            RoadClass::Trunk => "trunk",
            RoadClass::TrunkLink => "trunk_link",
            RoadClass::Primary => "primary",
            RoadClass::PrimaryLink => "primary_link",
            RoadClass::Secondary => "secondary",
            RoadClass::SecondaryLink => "secondary_link",
            RoadClass::Tertiary => "tertiary",
            RoadClass::TertiaryLink => "tertiary_link",
            RoadClass::Unclassified => "unclassified",
            RoadClass::Residential => "residential",
            RoadClass::LivingStreet => "living_street",
            RoadClass::Service => "service",
            RoadClass::Road => "road",
            RoadClass::Busway => "busway",
        }
    }

    pub fn parse(highway: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|class| class.as_str() == highway)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Which way traffic may go along a way's node list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Both,
    /// In the order of the way's nodes only.
    Forward,
    /// Against it only (`oneway=-1`).
    Backward,
}

/// A way a vehicle may drive, as its tags describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drivable {
    pub class: RoadClass,
    pub direction: Direction,
}

/// Reads a way's tags: `None` for anything that is not a drivable road (footways, tracks,
/// roads under construction, `access=no`, `motor_vehicle=no`, areas).
///
/// One-way: `oneway=yes|true|1` forward, `oneway=-1|reverse` backward, `oneway=no` both ways;
/// without an `oneway` tag, roundabouts (`junction=roundabout|circular`) and motorways (and their
/// links) are one-way forward, as OpenStreetMap implies.
pub fn drivable<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Drivable> {
    let mut class = None;
    let mut oneway = None;
    let mut implied_oneway = false;
    for (key, value) in tags {
        match key {
            "highway" => class = Some(RoadClass::parse(value)?),
            "oneway" => oneway = Some(value),
            "junction" if matches!(value, "roundabout" | "circular") => implied_oneway = true,
            "access" | "motor_vehicle" | "vehicle" if value == "no" => return None,
            "area" if value == "yes" => return None,
            _ => {}
        }
    }
    let class = class?;
    implied_oneway |= matches!(class, RoadClass::Motorway | RoadClass::MotorwayLink);
    let direction = match oneway {
        Some("yes" | "true" | "1") => Direction::Forward,
        Some("-1" | "reverse") => Direction::Backward,
        Some("no" | "false" | "0") => Direction::Both,
        // `reversible`, `alternating` and unknown values: either way at some time.
        Some(_) => Direction::Both,
        None if implied_oneway => Direction::Forward,
        None => Direction::Both,
    };
    Some(Drivable { class, direction })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(tags: &[(&str, &str)]) -> Option<Drivable> {
        drivable(tags.iter().copied())
    }

    #[test]
    fn one_way_tags_and_implied_one_ways() {
        let residential = |direction| {
            Some(Drivable {
                class: RoadClass::Residential,
                direction,
            })
        };
        assert_eq!(
            read(&[("highway", "residential")]),
            residential(Direction::Both)
        );
        assert_eq!(
            read(&[("highway", "residential"), ("oneway", "yes")]),
            residential(Direction::Forward)
        );
        assert_eq!(
            read(&[("oneway", "-1"), ("highway", "residential")]),
            residential(Direction::Backward)
        );
        assert_eq!(
            read(&[("highway", "residential"), ("junction", "roundabout")]),
            residential(Direction::Forward)
        );
        assert_eq!(
            read(&[("highway", "motorway")]).map(|d| d.direction),
            Some(Direction::Forward)
        );
        assert_eq!(
            read(&[("highway", "motorway_link"), ("oneway", "no")]).map(|d| d.direction),
            Some(Direction::Both)
        );
    }

    #[test]
    fn footways_and_closed_roads_are_not_driven() {
        assert_eq!(read(&[("highway", "footway")]), None);
        assert_eq!(read(&[("highway", "construction")]), None);
        assert_eq!(read(&[("highway", "primary"), ("access", "no")]), None);
        assert_eq!(read(&[("name", "Calle 5")]), None);
    }
}
