//! Unit-hour utilization and first-due performance.
//!
//! - *On duty*: time in the period (up to now) in any status but out of service, read from the
//!   unit's status history (each status from its reported status time until the next).
//! - *Committed*: time in the period in a committed status (dispatched, en route, on scene,
//!   transporting, at hospital), so committed time is always within on-duty time.
//! - *Unit-hour utilization*: committed / on duty.
//! - *First unit from elsewhere*: an incident with a unit dispatched, whose first dispatched unit
//!   is not homed at the incident's station area (the nearest station when it was opened): the
//!   area's own units were busy or unsuitable, and a farther one went. The first dispatched is
//!   the one with the earliest dispatch time (ties: the assignment recorded first).
//!
//! The store sums each unit's status spans and counts first-due incidents per station area
//! in SQL (a centre's history is millions of statuses); this module labels and totals them.

use std::collections::BTreeMap;

use chrono::Duration;

use crate::directory::{UnitStatus, UnitType};
use crate::ids::UnitId;

/// One unit's times in a period, as the store sums them from its status history.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTimes {
    pub unit: UnitId,
    pub call_sign: String,
    pub unit_type: UnitType,
    /// The home station's code; empty when none.
    pub home_station: String,
    /// Time in the period (up to now) in any status but out of service.
    pub on_duty: Duration,
    /// Time in the period (up to now) in a committed status.
    pub committed: Duration,
    /// Assignments that started in the period.
    pub assignments: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Utilization {
    /// The unit, for a unit's line.
    pub unit: Option<UnitId>,
    /// Call sign, unit type or station code.
    pub label: String,
    pub unit_type: Option<UnitType>,
    pub on_duty: Duration,
    pub committed: Duration,
    pub assignments: u64,
}

impl Utilization {
    pub fn ratio(&self) -> f64 {
        let on_duty = self.on_duty.as_seconds_f64();
        if on_duty <= 0.0 {
            0.0
        } else {
            self.committed.as_seconds_f64() / on_duty
        }
    }

    fn add(&mut self, other: &Utilization) {
        self.on_duty += other.on_duty;
        self.committed += other.committed;
        self.assignments += other.assignments;
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirstDue {
    pub station_area: String,
    pub incidents: u64,
    pub first_unit_from_elsewhere: u64,
}

impl FirstDue {
    pub fn share(&self) -> f64 {
        if self.incidents == 0 {
            0.0
        } else {
            self.first_unit_from_elsewhere as f64 / self.incidents as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UtilizationReport {
    /// By call sign, then unit id.
    pub units: Vec<Utilization>,
    /// By unit type.
    pub unit_types: Vec<Utilization>,
    /// By home station code.
    pub stations: Vec<Utilization>,
    /// By station area.
    pub first_due: Vec<FirstDue>,
    pub first_due_total: FirstDue,
}

/// The statuses whose time is on duty (the store sums the spans in them).
pub fn on_duty_statuses() -> Vec<&'static str> {
    UnitStatus::ALL
        .iter()
        .filter(|status| **status != UnitStatus::OutOfService)
        .map(|status| status.as_str())
        .collect()
}

/// The statuses whose time is committed (always within on-duty time).
pub fn committed_statuses() -> Vec<&'static str> {
    UnitStatus::ALL
        .iter()
        .filter(|status| status.is_committed())
        .map(|status| status.as_str())
        .collect()
}

/// The report over the units' times and the first-due counts per station area.
pub fn report(units: &[UnitTimes], first_due: Vec<FirstDue>) -> UtilizationReport {
    let mut lines: Vec<(Utilization, &UnitTimes)> = units
        .iter()
        .filter(|unit| unit.on_duty > Duration::zero() || unit.committed > Duration::zero())
        .map(|unit| {
            let line = Utilization {
                unit: Some(unit.unit),
                label: unit.call_sign.clone(),
                unit_type: Some(unit.unit_type),
                on_duty: unit.on_duty,
                committed: unit.committed,
                assignments: unit.assignments,
            };
            (line, unit)
        })
        .collect();
    lines.sort_by(|(a, _), (b, _)| (&a.label, a.unit).cmp(&(&b.label, b.unit)));
    let mut types: BTreeMap<UnitType, Utilization> = BTreeMap::new();
    let mut stations: BTreeMap<&str, Utilization> = BTreeMap::new();
    let blank = |label: &str, unit_type| Utilization {
        unit: None,
        label: label.to_owned(),
        unit_type,
        on_duty: Duration::zero(),
        committed: Duration::zero(),
        assignments: 0,
    };
    for (line, unit) in &lines {
        types
            .entry(unit.unit_type)
            .or_insert_with(|| blank(unit.unit_type.as_str(), Some(unit.unit_type)))
            .add(line);
        stations
            .entry(&unit.home_station)
            .or_insert_with(|| blank(&unit.home_station, None))
            .add(line);
    }
    let mut first_due: Vec<FirstDue> = first_due
        .into_iter()
        .filter(|area| area.incidents > 0)
        .collect();
    first_due.sort_by(|a, b| a.station_area.cmp(&b.station_area));
    let mut total = FirstDue::default();
    for area in &first_due {
        total.incidents += area.incidents;
        total.first_unit_from_elsewhere += area.first_unit_from_elsewhere;
    }
    UtilizationReport {
        units: lines.into_iter().map(|(line, _)| line).collect(),
        unit_types: types.into_values().collect(),
        stations: stations.into_values().collect(),
        first_due,
        first_due_total: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(call_sign: &str, station: &str, on_duty: i64, committed: i64) -> UnitTimes {
        UnitTimes {
            unit: UnitId::new_v7(),
            call_sign: call_sign.into(),
            unit_type: UnitType::Engine,
            home_station: station.into(),
            on_duty: Duration::minutes(on_duty),
            committed: Duration::minutes(committed),
            assignments: 1,
        }
    }

    #[test]
    fn utilization_is_committed_time_over_on_duty_time_totalled_by_type_and_station() {
        let units = [
            unit("E2", "S1", 500, 60),
            unit("E1", "S1", 100, 50),
            // Never on duty in the period: not listed.
            unit("E3", "S2", 0, 0),
        ];
        let report = report(&units, Vec::new());
        let labels: Vec<&str> = report.units.iter().map(|u| u.label.as_str()).collect();
        assert_eq!(labels, ["E1", "E2"]);
        assert!((report.units[1].ratio() - 0.12).abs() < 1e-9);
        assert_eq!(report.unit_types.len(), 1);
        assert_eq!(report.unit_types[0].label, "engine");
        assert_eq!(report.unit_types[0].on_duty, Duration::minutes(600));
        assert_eq!(report.unit_types[0].committed, Duration::minutes(110));
        assert_eq!(report.unit_types[0].assignments, 2);
        assert_eq!(report.stations.len(), 1);
        assert_eq!(report.stations[0].label, "S1");
    }

    #[test]
    fn committed_statuses_are_on_duty_statuses() {
        let on_duty = on_duty_statuses();
        assert!(committed_statuses().iter().all(|s| on_duty.contains(s)));
        assert!(!on_duty.contains(&"out_of_service"));
        assert!(!committed_statuses().contains(&"available"));
    }

    #[test]
    fn first_due_lists_areas_with_incidents_in_order_and_totals_them() {
        let area = |code: &str, incidents, elsewhere| FirstDue {
            station_area: code.into(),
            incidents,
            first_unit_from_elsewhere: elsewhere,
        };
        let report = report(
            &[],
            vec![area("S2", 3, 0), area("S1", 2, 1), area("S3", 0, 0)],
        );
        let areas: Vec<&str> = report
            .first_due
            .iter()
            .map(|a| a.station_area.as_str())
            .collect();
        assert_eq!(areas, ["S1", "S2"]);
        assert_eq!(report.first_due_total.incidents, 5);
        assert!((report.first_due_total.share() - 0.2).abs() < 1e-9);
    }
}
