//! Response-time intervals: what each one measures, what is left out and why, percentiles,
//! and compliance with targets. README.md, "Reports", says the same in prose.
//!
//! - Unit intervals, one per assignment: turnout (dispatched → en route), travel (en route →
//!   on scene), on scene (on scene → transporting, else → cleared or released), transport
//!   (transporting → at hospital, only for units that transported), at hospital (at hospital →
//!   cleared or released, only for units that reached one).
//! - Incident intervals, one per incident (per incident and value when grouped by unit type or
//!   agency: the first unit of that type or agency): call processing (first call received →
//!   first unit dispatched), total response (first call received → first unit on scene), and
//!   first-arrival travel (the travel of that first unit on scene).
//! - Left out, and counted: *missing* (a time of the pair was never recorded, or the interval
//!   has not ended yet), *cancelled* (the unit was released before the interval's end status;
//!   for incident intervals, every unit was), *negative* (the end was recorded before the start:
//!   a back-entry error, never silently clamped).
//! - Percentiles are nearest-rank: the value at rank ⌈p·n⌉ of the n measured values sorted, so
//!   every percentile is a time that was actually measured.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};

use super::Period;
use crate::Violations;
use crate::directory::UnitType;

text_enum! {
    /// What a report may be grouped by.
    pub enum Dimension {
        IncidentType => "incident_type",
        Priority => "priority",
        Agency => "agency",
        UnitType => "unit_type",
        Area => "area",
        StationArea => "station_area",
        HourOfDay => "hour_of_day",
    }
}

text_enum! {
    /// The intervals, in the order reports list them.
    pub enum IntervalKind {
        CallProcessing => "call_processing",
        Turnout => "turnout",
        Travel => "travel",
        FirstArrivalTravel => "first_arrival_travel",
        TotalResponse => "total_response",
        OnScene => "on_scene",
        Transport => "transport",
        AtHospital => "at_hospital",
    }
}

impl IntervalKind {
    /// Measured once per incident (per group value), not per assignment.
    pub fn per_incident(self) -> bool {
        matches!(
            self,
            Self::CallProcessing | Self::FirstArrivalTravel | Self::TotalResponse
        )
    }
}

impl Dimension {
    /// A property of the unit, not of the incident.
    fn of_unit(self) -> bool {
        matches!(self, Self::UnitType | Self::Agency)
    }
}

/// A compliance target: `percentile` of the interval within `threshold`, for one unit type's
/// units or every unit's.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub interval: IntervalKind,
    pub unit_type: Option<UnitType>,
    pub threshold: Duration,
    pub percentile: f64,
    pub source: String,
}

/// The percentile a target asks for when it names none.
pub const DEFAULT_PERCENTILE: f64 = 0.9;
pub const MAX_TARGETS: usize = 50;
pub const MAX_GROUP_BY: usize = 2;

/// NFPA's times: alarm processing (NFPA 1225, formerly 1221) within 60 s; turnout within 60 s
/// for EMS and 80 s for fire units, first engine travel within 240 s and first ALS unit travel
/// within 480 s (NFPA 1710); each at the 90th percentile.
pub fn default_targets() -> Vec<Target> {
    let target = |interval, unit_type, seconds, source: &str| Target {
        interval,
        unit_type,
        threshold: Duration::seconds(seconds),
        percentile: DEFAULT_PERCENTILE,
        source: source.to_owned(),
    };
    let mut targets = vec![target(
        IntervalKind::CallProcessing,
        None,
        60,
        "NFPA 1225 alarm processing",
    )];
    for ems in [UnitType::AlsAmbulance, UnitType::BlsAmbulance] {
        targets.push(target(
            IntervalKind::Turnout,
            Some(ems),
            60,
            "NFPA 1710 turnout, EMS",
        ));
    }
    for fire in [
        UnitType::Engine,
        UnitType::Ladder,
        UnitType::Rescue,
        UnitType::Hazmat,
    ] {
        targets.push(target(
            IntervalKind::Turnout,
            Some(fire),
            80,
            "NFPA 1710 turnout, fire",
        ));
    }
    targets.push(target(
        IntervalKind::FirstArrivalTravel,
        Some(UnitType::Engine),
        240,
        "NFPA 1710 first engine travel",
    ));
    targets.push(target(
        IntervalKind::FirstArrivalTravel,
        Some(UnitType::AlsAmbulance),
        480,
        "NFPA 1710 ALS travel",
    ));
    targets
}

impl Target {
    /// Checks a requested target; violations are relative to it (`threshold`, `percentile`...).
    pub fn new(
        interval: Option<IntervalKind>,
        unit_type: Option<UnitType>,
        threshold: Option<Duration>,
        percentile: f64,
        source: String,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if interval.is_none() {
            violations.add("interval", "is required");
        }
        match threshold {
            None => violations.add("threshold", "is required"),
            Some(t) if t < Duration::seconds(1) || t > Duration::hours(24) => {
                violations.add("threshold", "must be between 1 s and 24 h")
            }
            Some(_) => {}
        }
        let percentile = if percentile == 0.0 {
            DEFAULT_PERCENTILE
        } else {
            percentile
        };
        if !(percentile > 0.0 && percentile <= 1.0) {
            violations.add("percentile", "must be in (0, 1]; 0 means 0.9");
        }
        crate::error::check_length(&mut violations, "source", &source, 200);
        match (interval, threshold) {
            (Some(interval), Some(threshold)) if violations.is_empty() => Ok(Self {
                interval,
                unit_type,
                threshold,
                percentile,
                source,
            }),
            _ => Err(violations),
        }
    }

    fn applies_to(&self, unit_type: UnitType) -> bool {
        self.unit_type.is_none_or(|t| t == unit_type)
    }
}

/// GetIntervalReport's question.
#[derive(Debug, Clone)]
pub struct IntervalQuery {
    pub period: Period,
    pub group_by: Vec<Dimension>,
    /// Never empty: the request's, or [`default_targets`].
    pub targets: Vec<Target>,
}

impl IntervalQuery {
    pub fn new(
        period: Period,
        group_by: Vec<Dimension>,
        targets: Vec<Target>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if group_by.len() > MAX_GROUP_BY {
            violations.add("group_by", format!("at most {MAX_GROUP_BY} dimensions"));
        }
        for (i, dimension) in group_by.iter().enumerate() {
            if group_by[..i].contains(dimension) {
                violations.add(format!("group_by[{i}]"), "is named twice");
            }
        }
        if targets.len() > MAX_TARGETS {
            violations.add("targets", format!("at most {MAX_TARGETS}"));
        }
        let targets = if targets.is_empty() {
            default_targets()
        } else {
            targets
        };
        violations.into_result(|| Self {
            period,
            group_by,
            targets,
        })
    }
}

/// One unit's assignment to an incident, with the times it recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentTimes {
    pub unit_type: UnitType,
    /// The unit's agency code (shared: a report reads many assignments of few agencies).
    pub agency: Arc<str>,
    /// The unit's home station code; empty when it has none.
    pub home_station: Arc<str>,
    pub dispatched: DateTime<Utc>,
    pub en_route: Option<DateTime<Utc>>,
    pub on_scene: Option<DateTime<Utc>>,
    pub transporting: Option<DateTime<Utc>>,
    pub at_hospital: Option<DateTime<Utc>>,
    pub cleared: Option<DateTime<Utc>>,
    pub released: Option<DateTime<Utc>>,
}

/// One incident of the period (merged incidents are not: their calls and units count with
/// the incident they were merged into only where those were moved).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTimes {
    pub first_call: DateTime<Utc>,
    pub incident_type: Option<String>,
    pub priority: Option<i16>,
    pub area: String,
    pub station_area: String,
    pub assignments: Vec<AssignmentTimes>,
}

/// What became of one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Measured(Duration),
    Missing,
    Negative,
    Cancelled,
}

/// The interval from `start` to `end`; without an end, cancelled when the unit was released
/// before reaching it, missing otherwise.
fn between(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, released: bool) -> Outcome {
    match (start, end) {
        (Some(start), Some(end)) if end < start => Outcome::Negative,
        (Some(start), Some(end)) => Outcome::Measured(end - start),
        (_, None) if released => Outcome::Cancelled,
        _ => Outcome::Missing,
    }
}

impl AssignmentTimes {
    /// Released (taken off the incident) rather than cleared by the unit.
    fn was_released(&self) -> bool {
        self.released.is_some() && self.cleared.is_none()
    }

    /// When the unit left the incident, however it did.
    fn left(&self) -> Option<DateTime<Utc>> {
        self.cleared.or(self.released)
    }

    /// This assignment's unit interval of `kind`; `None` when it does not apply (transport
    /// for a unit that did not transport, and the incident intervals).
    pub fn outcome(&self, kind: IntervalKind) -> Option<Outcome> {
        let released = self.was_released();
        Some(match kind {
            IntervalKind::Turnout => between(Some(self.dispatched), self.en_route, released),
            IntervalKind::Travel => {
                if self.en_route.is_none() && self.on_scene.is_some() {
                    Outcome::Missing
                } else {
                    between(self.en_route, self.on_scene, released)
                }
            }
            IntervalKind::OnScene => match self.on_scene {
                None if released => Outcome::Cancelled,
                None => Outcome::Missing,
                Some(_) => between(self.on_scene, self.transporting.or(self.left()), false),
            },
            IntervalKind::Transport => {
                self.transporting?;
                between(self.transporting, self.at_hospital, released)
            }
            IntervalKind::AtHospital => {
                self.at_hospital?;
                between(self.at_hospital, self.left(), false)
            }
            IntervalKind::CallProcessing
            | IntervalKind::FirstArrivalTravel
            | IntervalKind::TotalResponse => return None,
        })
    }
}

/// The incident interval of `kind` over `assignments` (all the incident's, or those of one
/// unit type or agency).
pub fn incident_outcome<'a>(
    kind: IntervalKind,
    first_call: DateTime<Utc>,
    assignments: impl Iterator<Item = &'a AssignmentTimes> + Clone,
) -> Option<Outcome> {
    let first_on_scene = assignments
        .clone()
        .filter(|a| a.on_scene.is_some())
        .min_by_key(|a| (a.on_scene, a.dispatched));
    let none_arrived = || {
        let mut all = assignments.clone().peekable();
        if all.peek().is_some() && all.all(AssignmentTimes::was_released) {
            Outcome::Cancelled
        } else {
            Outcome::Missing
        }
    };
    Some(match kind {
        IntervalKind::CallProcessing => match assignments.clone().map(|a| a.dispatched).min() {
            Some(dispatched) => between(Some(first_call), Some(dispatched), false),
            None => Outcome::Missing,
        },
        IntervalKind::TotalResponse => match first_on_scene {
            Some(a) => between(Some(first_call), a.on_scene, false),
            None => none_arrived(),
        },
        IntervalKind::FirstArrivalTravel => match first_on_scene {
            Some(a) => a.outcome(IntervalKind::Travel).unwrap_or(Outcome::Missing),
            None => none_arrived(),
        },
        _ => return None,
    })
}

/// Statistics of one interval over one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub interval: IntervalKind,
    pub count: u64,
    /// `None` when nothing was measured.
    pub p50: Option<Duration>,
    pub p90: Option<Duration>,
    pub mean: Option<Duration>,
    pub max: Option<Duration>,
    pub missing: u64,
    pub negative: u64,
    pub cancelled: u64,
    pub compliance: Vec<Compliance>,
}

/// How one group did against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Compliance {
    pub target: Target,
    /// Measured intervals the target applies to.
    pub count: u64,
    pub within: u64,
    pub share: f64,
    pub met: bool,
}

/// The value at nearest rank ⌈p·n⌉ of `sorted` (ascending, not empty).
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    let n = sorted.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

#[derive(Debug, Default)]
struct Tally {
    measured: Vec<Duration>,
    missing: u64,
    negative: u64,
    cancelled: u64,
}

impl Tally {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Measured(d) => self.measured.push(d),
            Outcome::Missing => self.missing += 1,
            Outcome::Negative => self.negative += 1,
            Outcome::Cancelled => self.cancelled += 1,
        }
    }
}

/// Everything measured for one group: per interval (indexed by kind), and per target (index
/// into the query's).
#[derive(Debug)]
struct GroupTally {
    intervals: Vec<Tally>,
    targets: Vec<Vec<Duration>>,
}

impl GroupTally {
    fn new(targets: usize) -> Self {
        Self {
            intervals: IntervalKind::ALL.iter().map(|_| Tally::default()).collect(),
            targets: vec![Vec::new(); targets],
        }
    }

    fn add(&mut self, kind: IntervalKind, outcome: Outcome) {
        self.intervals[kind as usize].add(outcome);
    }

    fn add_target(&mut self, target: usize, outcome: Outcome) {
        if let Outcome::Measured(d) = outcome {
            self.targets[target].push(d);
        }
    }

    fn finish(self, targets: &[Target]) -> Vec<Statistics> {
        let GroupTally {
            intervals,
            targets: mut per_target,
        } = self;
        IntervalKind::ALL
            .iter()
            .zip(intervals)
            .map(|(&kind, tally)| {
                let Tally {
                    mut measured,
                    missing,
                    negative,
                    cancelled,
                } = tally;
                measured.sort_unstable();
                let count = measured.len() as u64;
                let (p50, p90, mean, max) = if measured.is_empty() {
                    (None, None, None, None)
                } else {
                    let total = measured.iter().fold(Duration::zero(), |sum, d| sum + *d);
                    let mean = Duration::microseconds(
                        total.num_microseconds().unwrap_or(i64::MAX) / count as i64,
                    );
                    (
                        Some(nearest_rank(&measured, 0.5)),
                        Some(nearest_rank(&measured, 0.9)),
                        Some(mean),
                        measured.last().copied(),
                    )
                };
                let compliance = targets
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.interval == kind)
                    .filter_map(|(i, target)| {
                        let values = std::mem::take(&mut per_target[i]);
                        if values.is_empty() {
                            return None;
                        }
                        let count = values.len() as u64;
                        let within =
                            values.iter().filter(|d| **d <= target.threshold).count() as u64;
                        let share = within as f64 / count as f64;
                        Some(Compliance {
                            target: target.clone(),
                            count,
                            within,
                            share,
                            met: share >= target.percentile,
                        })
                    })
                    .collect();
                Statistics {
                    interval: kind,
                    count,
                    p50,
                    p90,
                    mean,
                    max,
                    missing,
                    negative,
                    cancelled,
                    compliance,
                }
            })
            .collect()
    }
}

/// One group's statistics: its keys (one per dimension asked for, in order; none for the
/// total) and every interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub keys: Vec<(Dimension, String)>,
    pub intervals: Vec<Statistics>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntervalReport {
    pub total: Group,
    /// Ordered by keys.
    pub groups: Vec<Group>,
    pub targets: Vec<Target>,
    pub incidents: u64,
    pub assignments: u64,
}

/// Group key values as small numbers while a report is counted: each distinct text once.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Interner {
    fn id(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.ids.insert(text.to_owned(), id);
        self.texts.push(text.to_owned());
        id
    }
}

/// One group's key: an interned value per dimension asked for (unused slots stay 0).
type Key = [u32; MAX_GROUP_BY];

const HOURS: [&str; 24] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23",
];

impl IncidentTimes {
    /// The value of an incident's dimension (`None` for a unit's).
    fn key(&self, dimension: Dimension, period: &Period, names: &mut Interner) -> Option<u32> {
        Some(match dimension {
            Dimension::IncidentType => names.id(self.incident_type.as_deref().unwrap_or_default()),
            Dimension::Priority => match self.priority {
                Some(p) => names.id(&p.to_string()),
                None => names.id(""),
            },
            Dimension::Area => names.id(&self.area),
            Dimension::StationArea => names.id(&self.station_area),
            Dimension::HourOfDay => {
                let hour = self.first_call.with_timezone(&period.zone).hour() as usize;
                names.id(HOURS[hour % 24])
            }
            Dimension::Agency | Dimension::UnitType => return None,
        })
    }
}

impl AssignmentTimes {
    fn key(&self, dimension: Dimension, names: &mut Interner) -> u32 {
        match dimension {
            Dimension::UnitType => names.id(self.unit_type.as_str()),
            Dimension::Agency => names.id(&self.agency),
            _ => names.id(""),
        }
    }
}

/// The report over `incidents` (those of the query's period, as the store read them).
pub fn report(query: &IntervalQuery, incidents: &[IncidentTimes]) -> IntervalReport {
    let dims = &query.group_by;
    let by_unit = dims.iter().any(|d| d.of_unit());
    let new_tally = || GroupTally::new(query.targets.len());
    let mut total = new_tally();
    let mut groups: HashMap<Key, GroupTally> = HashMap::new();
    let mut names = Interner::default();
    let mut assignments = 0u64;
    let mut unit_keys: Vec<Key> = Vec::new();
    let mut partitions: Vec<Key> = Vec::new();
    for incident in incidents {
        assignments += incident.assignments.len() as u64;
        // Incident intervals: over all units for the total; per unit value when grouped by one.
        measure_incident(&mut total, query, incident, incident.assignments.iter());
        if dims.is_empty() {
            for a in &incident.assignments {
                measure_unit(&mut total, query, a);
            }
            continue;
        }
        let mut incident_key: Key = [0; MAX_GROUP_BY];
        let mut of_unit = [false; MAX_GROUP_BY];
        for (slot, &d) in dims.iter().enumerate() {
            match incident.key(d, &query.period, &mut names) {
                Some(id) => incident_key[slot] = id,
                None => of_unit[slot] = true,
            }
        }
        let key_of = |a: Option<&AssignmentTimes>, names: &mut Interner| -> Key {
            let mut key = incident_key;
            for (slot, &d) in dims.iter().enumerate() {
                if of_unit[slot] {
                    key[slot] = match a {
                        Some(a) => a.key(d, names),
                        None => names.id(""),
                    };
                }
            }
            key
        };
        unit_keys.clear();
        for a in &incident.assignments {
            unit_keys.push(key_of(Some(a), &mut names));
        }
        partitions.clear();
        if by_unit && !incident.assignments.is_empty() {
            for key in &unit_keys {
                if !partitions.contains(key) {
                    partitions.push(*key);
                }
            }
        } else {
            partitions.push(key_of(incident.assignments.first(), &mut names));
        }
        for key in &partitions {
            let group = groups.entry(*key).or_insert_with(new_tally);
            let units = incident
                .assignments
                .iter()
                .zip(&unit_keys)
                .filter(|(_, k)| !by_unit || *k == key)
                .map(|(a, _)| a);
            measure_incident(group, query, incident, units);
        }
        // Unit intervals.
        for (a, key) in incident.assignments.iter().zip(&unit_keys) {
            measure_unit(&mut total, query, a);
            measure_unit(groups.entry(*key).or_insert_with(new_tally), query, a);
        }
    }
    let targets = &query.targets;
    let mut groups: Vec<Group> = groups
        .into_iter()
        .map(|(key, tally)| Group {
            keys: dims
                .iter()
                .zip(key)
                .map(|(&d, id)| (d, names.texts[id as usize].clone()))
                .collect(),
            intervals: tally.finish(targets),
        })
        .collect();
    groups.sort_by(|a, b| {
        let values = |g: &Group| g.keys.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
        values(a).cmp(&values(b))
    });
    IntervalReport {
        total: Group {
            keys: Vec::new(),
            intervals: total.finish(targets),
        },
        groups,
        targets: targets.clone(),
        incidents: incidents.len() as u64,
        assignments,
    }
}

fn measure_incident<'a>(
    group: &mut GroupTally,
    query: &IntervalQuery,
    incident: &IncidentTimes,
    units: impl Iterator<Item = &'a AssignmentTimes> + Clone,
) {
    for &kind in IntervalKind::ALL.iter().filter(|k| k.per_incident()) {
        if let Some(outcome) = incident_outcome(kind, incident.first_call, units.clone()) {
            group.add(kind, outcome);
        }
        for (i, target) in query.targets.iter().enumerate() {
            if target.interval != kind {
                continue;
            }
            let of_type = units.clone().filter(|a| target.applies_to(a.unit_type));
            if target.unit_type.is_some() && of_type.clone().next().is_none() {
                continue;
            }
            if let Some(outcome) = incident_outcome(kind, incident.first_call, of_type) {
                group.add_target(i, outcome);
            }
        }
    }
}

fn measure_unit(group: &mut GroupTally, query: &IntervalQuery, assignment: &AssignmentTimes) {
    for &kind in IntervalKind::ALL {
        let Some(outcome) = assignment.outcome(kind) else {
            continue;
        };
        group.add(kind, outcome);
        for (i, target) in query.targets.iter().enumerate() {
            if target.interval == kind && target.applies_to(assignment.unit_type) {
                group.add_target(i, outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests;
