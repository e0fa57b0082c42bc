//! Unit-hour utilization and first-due performance.
//!
//! - *On duty*: time in the period (up to now) in any status but out of service, read from the
//!   unit's status history (each status from its reported status time until the next).
//! - *Committed*: time in the period in a committed status (dispatched, en route, on scene,
//!   transporting, at hospital), so committed time is always within on-duty time.
//! - *Unit-hour utilization*: committed / on duty.
//! - *First unit from elsewhere*: an incident with a unit dispatched, whose first dispatched unit
//!   is not homed at the incident's station area (the nearest station when it was opened): the
//!   area's own units were busy or unsuitable, and a farther one went.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::Period;
use super::intervals::IncidentTimes;
use crate::directory::{UnitStatus, UnitType};
use crate::ids::UnitId;

/// One unit's statuses: the one it was in at the period's start (if known) and every change
/// within the period, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitHistory {
    pub unit: UnitId,
    pub call_sign: String,
    pub unit_type: UnitType,
    /// The home station's code; empty when none.
    pub home_station: String,
    pub statuses: Vec<(DateTime<Utc>, UnitStatus)>,
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

/// On-duty and committed time of one unit within `[start, until)`.
fn unit_times(
    statuses: &[(DateTime<Utc>, UnitStatus)],
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> (Duration, Duration) {
    let mut on_duty = Duration::zero();
    let mut committed = Duration::zero();
    for (i, &(since, status)) in statuses.iter().enumerate() {
        let next = statuses.get(i + 1).map_or(until, |(at, _)| *at);
        let (from, to) = (since.max(start), next.min(until));
        if to <= from {
            continue;
        }
        if status != UnitStatus::OutOfService {
            on_duty += to - from;
        }
        if status.is_committed() {
            committed += to - from;
        }
    }
    (on_duty, committed)
}

/// The report for `period` at `now` over the units' histories and the period's incidents.
pub fn report(
    period: &Period,
    now: DateTime<Utc>,
    units: &[UnitHistory],
    incidents: &[IncidentTimes],
) -> UtilizationReport {
    let until = period.end.min(now);
    let mut lines: Vec<(Utilization, &UnitHistory)> = units
        .iter()
        .map(|unit| {
            let (on_duty, committed) = unit_times(&unit.statuses, period.start, until);
            let line = Utilization {
                unit: Some(unit.unit),
                label: unit.call_sign.clone(),
                unit_type: Some(unit.unit_type),
                on_duty,
                committed,
                assignments: unit.assignments,
            };
            (line, unit)
        })
        .filter(|(u, _)| u.on_duty > Duration::zero() || u.committed > Duration::zero())
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
    let mut first_due: BTreeMap<String, FirstDue> = BTreeMap::new();
    let mut total = FirstDue::default();
    for incident in incidents {
        let Some(first) = incident.assignments.iter().min_by_key(|a| a.dispatched) else {
            continue;
        };
        let elsewhere = *first.home_station != *incident.station_area;
        let area = first_due
            .entry(incident.station_area.clone())
            .or_insert_with(|| FirstDue {
                station_area: incident.station_area.clone(),
                ..FirstDue::default()
            });
        for line in [area, &mut total] {
            line.incidents += 1;
            line.first_unit_from_elsewhere += u64::from(elsewhere);
        }
    }
    UtilizationReport {
        units: lines.into_iter().map(|(line, _)| line).collect(),
        unit_types: types.into_values().collect(),
        stations: stations.into_values().collect(),
        first_due: first_due.into_values().collect(),
        first_due_total: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporting::intervals::AssignmentTimes;

    fn t(minutes: i64) -> DateTime<Utc> {
        "2020-04-07T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
    }

    fn history(call_sign: &str, station: &str, statuses: &[(i64, UnitStatus)]) -> UnitHistory {
        UnitHistory {
            unit: UnitId::new_v7(),
            call_sign: call_sign.into(),
            unit_type: UnitType::Engine,
            home_station: station.into(),
            statuses: statuses.iter().map(|&(m, s)| (t(m), s)).collect(),
            assignments: 1,
        }
    }

    #[test]
    fn utilization_is_committed_time_over_on_duty_time_within_the_period() {
        use UnitStatus::*;
        let period = Period::new("p", Some(t(0)), Some(t(600)), "UTC").unwrap();
        // Available since before the period, out of service 100..200, committed 300..360.
        let e1 = history(
            "E1",
            "S1",
            &[
                (-50, Available),
                (100, OutOfService),
                (200, Available),
                (300, Dispatched),
                (310, EnRoute),
                (320, OnScene),
                (360, Available),
            ],
        );
        // Never on duty in the period: not listed.
        let e2 = history("E2", "S2", &[(-50, OutOfService)]);
        let report = report(&period, t(10_000), &[e1.clone(), e2], &[]);
        assert_eq!(report.units.len(), 1);
        let line = &report.units[0];
        assert_eq!(line.on_duty, Duration::minutes(500));
        assert_eq!(line.committed, Duration::minutes(60));
        assert!((line.ratio() - 0.12).abs() < 1e-9);
        assert_eq!(report.unit_types[0].label, "engine");
        assert_eq!(report.stations[0].label, "S1");
        // A report read before the period ends counts only up to now.
        let early = super::report(&period, t(330), &[e1], &[]);
        assert_eq!(early.units[0].on_duty, Duration::minutes(230));
        assert_eq!(early.units[0].committed, Duration::minutes(30));
    }

    #[test]
    fn first_due_counts_incidents_whose_first_unit_came_from_another_station() {
        let assignment = |station: &str, dispatched: i64| AssignmentTimes {
            unit_type: UnitType::Engine,
            agency: "F".into(),
            home_station: station.into(),
            dispatched: t(dispatched),
            en_route: None,
            on_scene: None,
            transporting: None,
            at_hospital: None,
            cleared: None,
            released: None,
        };
        let incident = |area: &str, assignments| IncidentTimes {
            first_call: t(0),
            incident_type: None,
            priority: None,
            area: String::new(),
            station_area: area.into(),
            assignments,
        };
        let period = Period::new("p", Some(t(0)), Some(t(600)), "UTC").unwrap();
        let incidents = [
            incident("S1", vec![assignment("S1", 2), assignment("S2", 1)]),
            incident("S1", vec![assignment("S1", 1)]),
            incident("S2", Vec::new()),
        ];
        let report = report(&period, t(600), &[], &incidents);
        assert_eq!(
            report.first_due.len(),
            1,
            "an incident without units is not counted"
        );
        assert_eq!(report.first_due[0].incidents, 2);
        assert_eq!(report.first_due[0].first_unit_from_elsewhere, 1);
        assert!((report.first_due_total.share() - 0.5).abs() < 1e-9);
    }
}
