//! Fleets for the data sets that are not in Mexico City: San Francisco's real units (their
//! types, ALS flag and the station area they answered most from), and a synthetic fleet spread
//! over where Montgomery County's calls are.

use std::collections::{BTreeMap, HashMap};

use dispatch_proto::v1 as pb;

use super::data::{Row, SentUnit};
use crate::demo::city::{AgencySpec, City, StationSpec, UnitSpec};

pub const SF_AGENCIES: [AgencySpec; 2] = [
    AgencySpec {
        code: "SFFD",
        name: "San Francisco Fire Department",
        kind: pb::AgencyKind::Fire,
    },
    AgencySpec {
        code: "SF-PRIVATE-EMS",
        name: "San Francisco private ambulances",
        kind: pb::AgencyKind::Ems,
    },
];

pub const MONTGOMERY_AGENCIES: [AgencySpec; 3] = [
    AgencySpec {
        code: "MC-POLICE",
        name: "Montgomery County police (synthetic)",
        kind: pb::AgencyKind::Police,
    },
    AgencySpec {
        code: "MC-FIRE",
        name: "Montgomery County fire (synthetic)",
        kind: pb::AgencyKind::Fire,
    },
    AgencySpec {
        code: "MC-EMS",
        name: "Montgomery County EMS (synthetic)",
        kind: pb::AgencyKind::Ems,
    },
];

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

/// San Francisco's fire stations: number -> (latitude, longitude) (`runs::read_stations`).
pub type SfStations = BTreeMap<u32, (f64, f64)>;

/// The data's station area of station `number`: "01" for station 1.
fn area_of(number: u32) -> String {
    format!("{number:02}")
}

/// San Francisco's units as the data names them. Every station of `stations` stands where it
/// really is; a station area the data has and `stations` lacks gets one at the median of its
/// calls. Engines and trucks live at the station of their number (E32 at station 32); other
/// units at the station of the area they answered most calls in.
pub fn san_francisco(rows: &[Row], stations: &SfStations) -> City {
    let mut area_points: HashMap<&str, (Vec<f64>, Vec<f64>)> = HashMap::new();
    let mut unit_areas: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
    let mut unit_kind: HashMap<&str, (&SentUnit, bool)> = HashMap::new();
    for row in rows {
        let points = area_points.entry(row.station_area.as_str()).or_default();
        points.0.push(row.lat);
        points.1.push(row.lon);
        for unit in &row.units {
            *unit_areas
                .entry(unit.id.as_str())
                .or_default()
                .entry(row.station_area.as_str())
                .or_default() += 1;
            let entry = unit_kind.entry(unit.id.as_str()).or_insert((unit, false));
            entry.1 |= unit.als;
        }
    }
    // Real stations first, then an area's calls' median for an area without one.
    let mut placed: Vec<(String, String, (f64, f64))> = stations
        .iter()
        .map(|(&number, &point)| (area_of(number), format!("station {number}"), point))
        .collect();
    let mut areas: Vec<_> = area_points
        .into_iter()
        .filter(|(area, _)| !placed.iter().any(|(a, _, _)| a == area))
        .collect();
    areas.sort_by(|a, b| a.0.cmp(b.0));
    for (area, (mut lats, mut lons)) in areas {
        let point = (median(&mut lats), median(&mut lons));
        placed.push((area.to_owned(), format!("station area {area}"), point));
    }
    let mut city = City::default();
    let mut area_location: HashMap<String, (f64, f64)> = HashMap::new();
    for (area, name, (lat, lon)) in placed {
        city.stations.push(StationSpec {
            agency: "SFFD",
            code: format!("SFFD-{area}"),
            name: format!("SFFD {name}"),
            lat,
            lon,
            address: format!("{name}, San Francisco"),
        });
        area_location.insert(area, (lat, lon));
    }
    let mut units: Vec<_> = unit_kind.into_iter().collect();
    units.sort_by(|a, b| a.0.cmp(b.0));
    for (id, (unit, als)) in units {
        let own_station = unit
            .home_station()
            .map(area_of)
            .filter(|area| area_location.contains_key(area));
        let home = own_station.unwrap_or_else(|| {
            unit_areas
                .get(id)
                .and_then(|areas| {
                    let mut areas: Vec<_> = areas.iter().collect();
                    areas.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                    areas.first().map(|(area, _)| (**area).to_owned())
                })
                .unwrap_or_default()
        });
        let kind = unit.kind.as_str();
        let unit_type = sf_unit_type(kind, als);
        let capabilities = match unit_type {
            pb::UnitType::Engine => caps(&["engine", "aed"]),
            pb::UnitType::Ladder => caps(&["ladder", "extrication"]),
            pb::UnitType::AlsAmbulance => caps(&["als", "bls", "aed"]),
            pb::UnitType::BlsAmbulance => caps(&["bls", "aed"]),
            pb::UnitType::Chief => caps(&["chief"]),
            pb::UnitType::Rescue => caps(&["extrication", "water_rescue", "usar"]),
            _ => Vec::new(),
        };
        let private = kind == "PRIVATE";
        let (lat, lon) = area_location
            .get(&home)
            .copied()
            .unwrap_or((37.7749, -122.4194));
        city.units.push(UnitSpec {
            agency: if private { "SF-PRIVATE-EMS" } else { "SFFD" },
            station: if private {
                String::new()
            } else {
                format!("SFFD/SFFD-{home}")
            },
            call_sign: format!("SF-{id}"),
            unit_type,
            capabilities,
            lat,
            lon,
        });
    }
    city
}

/// The fleet's type for a unit of the data's `kind` (SF's unit types), ALS when `als`.
pub fn sf_unit_type(kind: &str, als: bool) -> pb::UnitType {
    match kind {
        "ENGINE" => pb::UnitType::Engine,
        "TRUCK" => pb::UnitType::Ladder,
        "MEDIC" | "PRIVATE" if als => pb::UnitType::AlsAmbulance,
        "MEDIC" | "PRIVATE" => pb::UnitType::BlsAmbulance,
        "CHIEF" | "RESCUE CAPTAIN" => pb::UnitType::Chief,
        "RESCUE SQUAD" => pb::UnitType::Rescue,
        _ => pb::UnitType::Other,
    }
}

/// The capability a plan asks for to get a unit of the data's `kind` (SF's unit types), as
/// the fleet above gives them; `None` for kinds the fleet gives none.
pub fn sf_capability(kind: &str, als: bool) -> Option<&'static str> {
    match kind {
        "ENGINE" => Some("engine"),
        "TRUCK" => Some("ladder"),
        "MEDIC" | "PRIVATE" if als => Some("als"),
        "MEDIC" | "PRIVATE" => Some("bls"),
        "CHIEF" | "RESCUE CAPTAIN" => Some("chief"),
        "RESCUE SQUAD" => Some("usar"),
        _ => None,
    }
}

/// A synthetic fleet for Montgomery County: the calls' box (1st to 99th percentile) cut in a
/// 6 x 6 grid; each cell with calls gets a station at its calls' median, with two patrols, an
/// engine and two ambulances; the busiest cells also a ladder, a rescue and a chief.
pub fn montgomery(rows: &[Row]) -> City {
    const GRID: usize = 6;
    let mut lats: Vec<f64> = rows.iter().map(|r| r.lat).collect();
    let mut lons: Vec<f64> = rows.iter().map(|r| r.lon).collect();
    lats.sort_by(f64::total_cmp);
    lons.sort_by(f64::total_cmp);
    let quantile = |v: &[f64], q: f64| -> f64 {
        let i = ((v.len().saturating_sub(1)) as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or_default()
    };
    let (south, north) = (quantile(&lats, 0.01), quantile(&lats, 0.99));
    let (west, east) = (quantile(&lons, 0.01), quantile(&lons, 0.99));
    let cell_of = |lat: f64, lon: f64| -> Option<(usize, usize)> {
        if !(south..=north).contains(&lat) || !(west..=east).contains(&lon) {
            return None;
        }
        let r = (((lat - south) / (north - south).max(1e-9)) * GRID as f64) as usize;
        let c = (((lon - west) / (east - west).max(1e-9)) * GRID as f64) as usize;
        Some((r.min(GRID - 1), c.min(GRID - 1)))
    };
    let mut cells: HashMap<(usize, usize), (Vec<f64>, Vec<f64>)> = HashMap::new();
    for row in rows {
        if let Some(cell) = cell_of(row.lat, row.lon) {
            let points = cells.entry(cell).or_default();
            points.0.push(row.lat);
            points.1.push(row.lon);
        }
    }
    let mut cells: Vec<_> = cells.into_iter().filter(|(_, p)| p.0.len() >= 20).collect();
    cells.sort_by(|a, b| b.1.0.len().cmp(&a.1.0.len()).then(a.0.cmp(&b.0)));
    let mut city = City::default();
    for (rank, ((r, c), (mut lats, mut lons))) in cells.into_iter().enumerate() {
        let (lat, lon) = (median(&mut lats), median(&mut lons));
        let cell = format!("R{r}C{c}");
        for agency in ["MC-POLICE", "MC-FIRE", "MC-EMS"] {
            city.stations.push(StationSpec {
                agency,
                code: format!("{agency}-{cell}"),
                name: format!("{agency} grid cell {cell}"),
                lat,
                lon,
                address: format!("Montgomery County grid cell {cell} (synthetic)"),
            });
        }
        let busy: &[CellUnits] = if rank < 8 { &BUSY_CELL_UNITS } else { &[] };
        for &(agency, prefix, n, unit_type, capabilities) in CELL_UNITS.iter().chain(busy) {
            for i in 1..=n {
                city.units.push(UnitSpec {
                    agency,
                    station: format!("{agency}/{agency}-{cell}"),
                    call_sign: format!("MC-{prefix}-{cell}-{i}"),
                    unit_type,
                    capabilities: caps(capabilities),
                    lat,
                    lon,
                });
            }
        }
    }
    city
}

/// Units a Montgomery grid cell keeps: (agency, call sign prefix, how many, type, capabilities).
type CellUnits = (
    &'static str,
    &'static str,
    usize,
    pb::UnitType,
    &'static [&'static str],
);

/// Every cell's units.
const CELL_UNITS: [CellUnits; 4] = [
    ("MC-POLICE", "P", 2, pb::UnitType::Patrol, &["patrol"]),
    ("MC-FIRE", "E", 1, pb::UnitType::Engine, &["engine", "aed"]),
    (
        "MC-EMS",
        "A",
        1,
        pb::UnitType::AlsAmbulance,
        &["als", "bls", "aed"],
    ),
    (
        "MC-EMS",
        "B",
        1,
        pb::UnitType::BlsAmbulance,
        &["bls", "aed"],
    ),
];

/// What the eight busiest cells keep besides.
const BUSY_CELL_UNITS: [CellUnits; 4] = [
    ("MC-FIRE", "L", 1, pb::UnitType::Ladder, &["ladder"]),
    (
        "MC-FIRE",
        "R",
        1,
        pb::UnitType::Rescue,
        &["extrication", "hazmat"],
    ),
    ("MC-FIRE", "C", 1, pb::UnitType::Chief, &["chief"]),
    (
        "MC-POLICE",
        "M",
        1,
        pb::UnitType::Motorcycle,
        &["motorcycle", "patrol"],
    ),
];
