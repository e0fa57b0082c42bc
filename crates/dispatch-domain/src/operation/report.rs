//! After an operation: its incidents by type and by hour, response intervals inside its zones
//! against the city's over the same window (the interval definitions are `reporting::intervals`,
//! computed twice), and how much its staged units were used.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Timelike, Utc};

use crate::ids::{IncidentId, UnitId};
use crate::reporting::Period;
use crate::reporting::intervals::{self, IncidentTimes, IntervalQuery, IntervalReport};

/// One incident of the operation, for the counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationIncident {
    pub id: IncidentId,
    pub incident_type: Option<String>,
    pub first_call: DateTime<Utc>,
}

/// One assignment of a staged unit that overlaps the window.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedAssignment {
    pub unit: UnitId,
    pub dispatched: DateTime<Utc>,
    /// Cleared or released; `None` while still committed.
    pub left: Option<DateTime<Utc>>,
    /// The incident was the operation's.
    pub inside: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StagedUtilization {
    pub unit: UnitId,
    pub assignments_inside: u32,
    pub assignments_outside: u32,
    /// Committed to incidents within the window.
    pub committed: Duration,
    /// `committed` over the window's length.
    pub share: f64,
}

#[derive(Debug, Clone)]
pub struct OperationReport {
    pub period: Period,
    pub by_type: Vec<(String, u64)>,
    /// Local hour of the first call (the period's time zone), in order.
    pub by_hour: Vec<(DateTime<Utc>, u64)>,
    pub inside: IntervalReport,
    pub city: IntervalReport,
    pub staged: Vec<StagedUtilization>,
}

/// The report over `period` (the operation's window up to now). `inside` are the operation's
/// incidents' times, `city` every incident's in the period.
pub fn report(
    period: &Period,
    incidents: &[OperationIncident],
    inside: &[IncidentTimes],
    city: &[IncidentTimes],
    staged: &[UnitId],
    assignments: &[StagedAssignment],
) -> OperationReport {
    let query = IntervalQuery {
        period: *period,
        group_by: Vec::new(),
        targets: intervals::default_targets(),
    };
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_hour: BTreeMap<DateTime<Utc>, u64> = BTreeMap::new();
    for incident in incidents {
        let kind = incident
            .incident_type
            .clone()
            .unwrap_or_else(|| "untriaged".to_owned());
        *by_type.entry(kind).or_default() += 1;
        let local = incident.first_call.with_timezone(&period.zone);
        let hour = local
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .map_or(incident.first_call, |t| t.with_timezone(&Utc));
        *by_hour.entry(hour).or_default() += 1;
    }
    let length = (period.end - period.start).max(Duration::seconds(1));
    let staged = staged
        .iter()
        .map(|&unit| {
            let mut used = StagedUtilization {
                unit,
                assignments_inside: 0,
                assignments_outside: 0,
                committed: Duration::zero(),
                share: 0.0,
            };
            for a in assignments.iter().filter(|a| a.unit == unit) {
                let from = a.dispatched.max(period.start);
                let to = a.left.unwrap_or(period.end).min(period.end);
                if to <= from && a.dispatched >= period.end {
                    continue;
                }
                if a.inside {
                    used.assignments_inside += 1;
                } else {
                    used.assignments_outside += 1;
                }
                used.committed += (to - from).max(Duration::zero());
            }
            used.share =
                used.committed.num_milliseconds() as f64 / length.num_milliseconds() as f64;
            used
        })
        .collect();
    OperationReport {
        period: *period,
        by_type: by_type.into_iter().collect(),
        by_hour: by_hour.into_iter().collect(),
        inside: intervals::report(&query, inside),
        city: intervals::report(&query, city),
        staged,
    }
}
