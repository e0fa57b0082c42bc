//! San Francisco's records as the replay back-enters them, and the response-time intervals
//! their own timestamps give: computed here, from the rows alone, with the definitions the
//! interval report uses (README, "Reports"), so the two can be set side by side.
//!
//! Pure: no I/O, no clock. The replay follows [`plan`] step by step; [`data_intervals`] reads
//! the same plan. What the system cannot record is left out on both sides and counted, never
//! made up:
//! - a time before the unit's previous recorded time (the server refuses it: a unit's history
//!   is in order), or a status the lifecycle does not allow from the unit's last one (a
//!   transport without an on-scene time);
//! - a unit the data sends to a new call while still on another (SF re-tasked it): that
//!   assignment is released at the new dispatch time, and the times it has after that are
//!   left out.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;
use serde::Serialize;

use super::data::{Row, SentUnit};
use super::fleet;

/// How a planned assignment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Cleared (AVAILABLE) at the data's Available DtTm.
    Cleared(DateTime<Utc>),
    /// Released at the unit's next dispatch, to another call, before the data made it
    /// available here.
    Retasked(DateTime<Utc>),
    /// Never: the data's Available DtTm could not be recorded and the unit was not sent again.
    Open,
}

/// One unit's part in one call, as the replay enters it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The data's unit id ("E32"); the fleet's call sign is "SF-" and this.
    pub unit: String,
    pub unit_type: pb::UnitType,
    /// The call's row (`Row::index`).
    pub call: usize,
    pub dispatched: DateTime<Utc>,
    /// EN_ROUTE, ON_SCENE, TRANSPORTING, AT_HOSPITAL as recorded, in order.
    pub steps: Vec<(pb::UnitStatus, DateTime<Utc>)>,
    pub end: End,
    /// The unit's previous assignment (an index into [`Plan::assignments`]): the replay sends
    /// the unit only once that one has reached its end, or releases it there when this
    /// assignment re-tasks it.
    pub previous: Option<usize>,
}

impl Planned {
    fn time_of(&self, status: pb::UnitStatus) -> Option<DateTime<Utc>> {
        self.steps
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, t)| *t)
    }
}

/// Times in the data the system cannot record, by column and why.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeftOut {
    /// Before the unit's previous recorded time, by the data's column.
    pub out_of_order: BTreeMap<&'static str, u64>,
    /// A status the unit cannot reach from its last recorded one (Transport DtTm without an
    /// On Scene DtTm, Hospital DtTm without a Transport DtTm), by column.
    pub not_in_lifecycle: BTreeMap<&'static str, u64>,
    /// After the data sent the unit to another call (re-tasked), by column.
    pub after_retask: BTreeMap<&'static str, u64>,
    /// Units the data sent with no Dispatch DtTm, or one before the call was received: not
    /// sent.
    pub unsendable: u64,
    /// Assignments released because the data sent the unit to another call first.
    pub retasked: u64,
    /// Assignments never ended (their Available DtTm left out, the unit not sent again).
    pub left_committed: u64,
}

/// Every data unit's assignments as the replay enters them.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// In the order of the rows, then of each row's units (the data's dispatch order).
    pub assignments: Vec<Planned>,
    /// By call (row index): its assignments' indices.
    pub by_call: HashMap<usize, Vec<usize>>,
    pub left_out: LeftOut,
}

/// The fleet's type of each data unit: the data's kind, ALS when any of its rows says so.
pub fn unit_types(rows: &[Row]) -> HashMap<&str, pb::UnitType> {
    let mut kinds: HashMap<&str, (&str, bool)> = HashMap::new();
    for unit in rows.iter().flat_map(|r| &r.units) {
        let entry = kinds
            .entry(unit.id.as_str())
            .or_insert((unit.kind.as_str(), false));
        entry.1 |= unit.als;
    }
    kinds
        .into_iter()
        .map(|(id, (kind, als))| (id, fleet::sf_unit_type(kind, als)))
        .collect()
}

/// Each call's units in the order the replay sends them: the data's order, each unit once.
pub fn units_sent(row: &Row) -> Vec<&SentUnit> {
    let mut sent: Vec<&SentUnit> = Vec::new();
    for unit in &row.units {
        if !sent.iter().any(|u| u.id == unit.id) {
            sent.push(unit);
        }
    }
    sent
}

/// What the replay enters for the rows: `full` with every status, otherwise (the short
/// lifecycle) dispatch and clear only.
pub fn plan(rows: &[Row], full: bool) -> Plan {
    let types = unit_types(rows);
    let mut left_out = LeftOut::default();
    let mut assignments: Vec<Planned> = Vec::new();
    for row in rows {
        for unit in units_sent(row) {
            let Some(dispatched) = unit.dispatched.filter(|d| *d >= row.received) else {
                left_out.unsendable += 1;
                continue;
            };
            let mut planned = Planned {
                unit: unit.id.clone(),
                unit_type: types
                    .get(unit.id.as_str())
                    .copied()
                    .unwrap_or(pb::UnitType::Other),
                call: row.index,
                dispatched,
                steps: Vec::new(),
                end: End::Open,
                previous: None,
            };
            let mut last = (pb::UnitStatus::Dispatched, dispatched);
            let stages = [
                (pb::UnitStatus::EnRoute, "Response DtTm", unit.en_route),
                (pb::UnitStatus::OnScene, "On Scene DtTm", unit.on_scene),
                (
                    pb::UnitStatus::Transporting,
                    "Transport DtTm",
                    unit.transporting,
                ),
                (
                    pb::UnitStatus::AtHospital,
                    "Hospital DtTm",
                    unit.at_hospital,
                ),
            ];
            for (status, column, time) in stages {
                let Some(time) = time else { continue };
                if !full {
                    continue;
                }
                if time < last.1 {
                    *left_out.out_of_order.entry(column).or_default() += 1;
                } else if !reachable(last.0, status) {
                    *left_out.not_in_lifecycle.entry(column).or_default() += 1;
                } else {
                    planned.steps.push((status, time));
                    last = (status, time);
                }
            }
            match unit.available {
                Some(time) if time >= last.1 => planned.end = End::Cleared(time),
                Some(_) => {
                    *left_out.out_of_order.entry("Available DtTm").or_default() += 1;
                }
                None => {}
            }
            assignments.push(planned);
        }
    }
    // Each unit's assignments in dispatch order: one still open when the next starts was
    // re-tasked there.
    let mut by_unit: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, a) in assignments.iter().enumerate() {
        by_unit.entry(a.unit.as_str()).or_default().push(i);
    }
    let mut chains: Vec<Vec<usize>> = by_unit.into_values().collect();
    for chain in &mut chains {
        chain.sort_by_key(|&i| (assignments[i].dispatched, assignments[i].call));
    }
    for chain in chains {
        for pair in chain.windows(2) {
            let (before, next) = (pair[0], pair[1]);
            let at = assignments[next].dispatched;
            assignments[next].previous = Some(before);
            let ended_in_time = matches!(assignments[before].end, End::Cleared(t) if t <= at);
            if ended_in_time {
                continue;
            }
            let earlier = &mut assignments[before];
            earlier.end = End::Retasked(at);
            left_out.retasked += 1;
            earlier.steps.retain(|(status, time)| {
                if *time <= at {
                    return true;
                }
                *left_out.after_retask.entry(column_of(*status)).or_default() += 1;
                false
            });
        }
    }
    left_out.left_committed = assignments.iter().filter(|a| a.end == End::Open).count() as u64;
    let mut by_call: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, a) in assignments.iter().enumerate() {
        by_call.entry(a.call).or_default().push(i);
    }
    Plan {
        assignments,
        by_call,
        left_out,
    }
}

/// The statuses a committed unit may report after `from` (UnitAssignmentService's rules).
fn reachable(from: pb::UnitStatus, to: pb::UnitStatus) -> bool {
    use pb::UnitStatus as S;
    matches!(
        (from, to),
        (S::Dispatched, S::EnRoute | S::OnScene)
            | (S::EnRoute, S::OnScene)
            | (S::OnScene, S::Transporting)
            | (S::Transporting, S::AtHospital)
    )
}

fn column_of(status: pb::UnitStatus) -> &'static str {
    match status {
        pb::UnitStatus::EnRoute => "Response DtTm",
        pb::UnitStatus::OnScene => "On Scene DtTm",
        pb::UnitStatus::Transporting => "Transport DtTm",
        pb::UnitStatus::AtHospital => "Hospital DtTm",
        _ => "Available DtTm",
    }
}

/// One assignment as the database holds it after the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub unit_type: pb::UnitType,
    /// Its incident's first call received.
    pub first_call: DateTime<Utc>,
    /// Its incident (the data's call).
    pub incident: usize,
    pub dispatched: DateTime<Utc>,
    pub en_route: Option<DateTime<Utc>>,
    pub on_scene: Option<DateTime<Utc>>,
    pub transporting: Option<DateTime<Utc>>,
    pub at_hospital: Option<DateTime<Utc>>,
    pub cleared: Option<DateTime<Utc>>,
    pub released: Option<DateTime<Utc>>,
}

/// The plan's assignments as recorded.
pub fn recorded(rows: &[Row], plan: &Plan) -> Vec<Recorded> {
    let received: HashMap<usize, DateTime<Utc>> =
        rows.iter().map(|r| (r.index, r.received)).collect();
    plan.assignments
        .iter()
        .filter_map(|a| {
            Some(Recorded {
                unit_type: a.unit_type,
                first_call: *received.get(&a.call)?,
                incident: a.call,
                dispatched: a.dispatched,
                en_route: a.time_of(pb::UnitStatus::EnRoute),
                on_scene: a.time_of(pb::UnitStatus::OnScene),
                transporting: a.time_of(pb::UnitStatus::Transporting),
                at_hospital: a.time_of(pb::UnitStatus::AtHospital),
                cleared: match a.end {
                    End::Cleared(t) => Some(t),
                    _ => None,
                },
                released: match a.end {
                    End::Retasked(t) => Some(t),
                    _ => None,
                },
            })
        })
        .collect()
}

/// The intervals, in IntervalKind's order.
pub const KINDS: [pb::IntervalKind; 8] = [
    pb::IntervalKind::CallProcessing,
    pb::IntervalKind::Turnout,
    pb::IntervalKind::Travel,
    pb::IntervalKind::FirstArrivalTravel,
    pb::IntervalKind::TotalResponse,
    pb::IntervalKind::OnScene,
    pb::IntervalKind::Transport,
    pb::IntervalKind::AtHospital,
];

/// One interval's figures over a group, as IntervalStatistics gives them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub count: i64,
    /// Nearest-rank percentiles, whole seconds; `None` when nothing was measured.
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub excluded_missing: i64,
    pub excluded_negative: i64,
    pub excluded_cancelled: i64,
}

/// What one interval made of one assignment or incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Seconds(i64),
    Missing,
    Negative,
    Cancelled,
}

/// `end - start`, or why it is left out: a missing time, the unit released before the end
/// was reached, or a negative span.
fn between(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    released: Option<DateTime<Utc>>,
) -> Measure {
    match (start, end) {
        (Some(start), Some(end)) if end < start => Measure::Negative,
        (Some(start), Some(end)) => Measure::Seconds((end - start).num_seconds()),
        (_, None) if released.is_some() => Measure::Cancelled,
        _ => Measure::Missing,
    }
}

impl Recorded {
    /// Released (taken off the incident) rather than cleared by the unit.
    fn was_released(&self) -> Option<DateTime<Utc>> {
        self.released.filter(|_| self.cleared.is_none())
    }

    /// When the unit left the incident, however it did.
    fn left(&self) -> Option<DateTime<Utc>> {
        self.cleared.or(self.released)
    }
}

/// The unit intervals of one assignment, by kind: transport only for a unit that transported,
/// at hospital only for one that reached a hospital.
fn unit_measures(a: &Recorded) -> Vec<(pb::IntervalKind, Measure)> {
    use pb::IntervalKind as K;
    let released = a.was_released();
    let on_scene = match a.on_scene {
        None if released.is_some() => Measure::Cancelled,
        None => Measure::Missing,
        Some(_) => between(a.on_scene, a.transporting.or(a.left()), None),
    };
    let mut measures = vec![
        (
            K::Turnout,
            between(Some(a.dispatched), a.en_route, released),
        ),
        (K::Travel, between(a.en_route, a.on_scene, released)),
        (K::OnScene, on_scene),
    ];
    if a.transporting.is_some() {
        measures.push((
            K::Transport,
            between(a.transporting, a.at_hospital, released),
        ));
    }
    if a.at_hospital.is_some() {
        measures.push((K::AtHospital, between(a.at_hospital, a.left(), None)));
    }
    measures
}

/// The incident intervals of one incident over `assignments` (its units, or those of one
/// type): the first unit dispatched, the first on scene and its travel.
fn incident_measures(
    first_call: DateTime<Utc>,
    assignments: &[&Recorded],
) -> [(pb::IntervalKind, Measure); 3] {
    use pb::IntervalKind as K;
    let first_dispatched = assignments.iter().map(|a| a.dispatched).min();
    // The first to arrive; of those arriving the same second, the one dispatched first.
    let first_on_scene = assignments
        .iter()
        .filter(|a| a.on_scene.is_some())
        .min_by_key(|a| (a.on_scene, a.dispatched));
    // None arrived: cancelled when every unit was released, missing otherwise.
    let none_arrived =
        if !assignments.is_empty() && assignments.iter().all(|a| a.was_released().is_some()) {
            Measure::Cancelled
        } else {
            Measure::Missing
        };
    let (travel, total) = match first_on_scene {
        Some(a) => (
            between(a.en_route, a.on_scene, a.was_released()),
            between(Some(first_call), a.on_scene, None),
        ),
        None => (none_arrived, none_arrived),
    };
    let call_processing = match first_dispatched {
        Some(dispatched) => between(Some(first_call), Some(dispatched), None),
        None => Measure::Missing,
    };
    [
        (K::CallProcessing, call_processing),
        (K::FirstArrivalTravel, travel),
        (K::TotalResponse, total),
    ]
}

/// Figures for one interval from its measures.
fn figures(measures: impl IntoIterator<Item = Measure>) -> Figures {
    let mut out = Figures::default();
    let mut seconds = Vec::new();
    for m in measures {
        match m {
            Measure::Seconds(s) => seconds.push(s),
            Measure::Missing => out.excluded_missing += 1,
            Measure::Negative => out.excluded_negative += 1,
            Measure::Cancelled => out.excluded_cancelled += 1,
        }
    }
    seconds.sort_unstable();
    out.count = seconds.len() as i64;
    out.p50 = nearest_rank(&seconds, 50);
    out.p90 = nearest_rank(&seconds, 90);
    out
}

/// The value at rank ceil(p/100 * n) of the sorted values.
pub fn nearest_rank(sorted: &[i64], percent: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The intervals of every assignment and incident, per unit type (incident intervals taking
/// each incident's first unit of the type), and over all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataIntervals {
    /// By unit type name ("engine"), each interval in [`KINDS`]'s order.
    pub by_unit_type: BTreeMap<String, Vec<(String, Figures)>>,
    /// Every incident and assignment.
    pub total: Vec<(String, Figures)>,
    pub incidents: i64,
    pub assignments: i64,
    /// What the data has that could not be recorded.
    pub left_out: LeftOut,
}

/// The wire name of a unit type as reports group by it ("engine", "als_ambulance").
pub fn unit_type_name(unit_type: pb::UnitType) -> String {
    unit_type
        .as_str_name()
        .trim_start_matches("UNIT_TYPE_")
        .to_lowercase()
}

/// The wire-less name of an interval ("turnout", "first_arrival_travel").
pub fn kind_name(kind: pb::IntervalKind) -> String {
    kind.as_str_name()
        .trim_start_matches("INTERVAL_KIND_")
        .to_lowercase()
}

/// The interval figures of incidents `[from, to)` (by first call) and their assignments.
pub fn compute(records: &[Recorded], incidents: &[(usize, DateTime<Utc>)]) -> DataIntervals {
    let mut by_incident: HashMap<usize, Vec<&Recorded>> = HashMap::new();
    for r in records {
        by_incident.entry(r.incident).or_default().push(r);
    }
    let group = |assignments: &[&Recorded], per_incident: &[(DateTime<Utc>, Vec<&Recorded>)]| {
        let mut measures: BTreeMap<i32, Vec<Measure>> = BTreeMap::new();
        for a in assignments {
            for (kind, m) in unit_measures(a) {
                measures.entry(kind as i32).or_default().push(m);
            }
        }
        for (first_call, units) in per_incident {
            for (kind, m) in incident_measures(*first_call, units) {
                measures.entry(kind as i32).or_default().push(m);
            }
        }
        KINDS
            .iter()
            .map(|kind| {
                let m = measures.remove(&(*kind as i32)).unwrap_or_default();
                (kind_name(*kind), figures(m))
            })
            .collect::<Vec<_>>()
    };
    let all: Vec<&Recorded> = incidents
        .iter()
        .flat_map(|(i, _)| by_incident.get(i).into_iter().flatten().copied())
        .collect();
    let every: Vec<(DateTime<Utc>, Vec<&Recorded>)> = incidents
        .iter()
        .map(|(i, first)| (*first, by_incident.get(i).cloned().unwrap_or_default()))
        .collect();
    let mut types: Vec<pb::UnitType> = all.iter().map(|a| a.unit_type).collect();
    types.sort_by_key(|t| unit_type_name(*t));
    types.dedup();
    let mut by_unit_type = BTreeMap::new();
    // An incident no unit was sent to has no unit type: its incident intervals are grouped
    // under "" (none recorded).
    let unsent: Vec<(DateTime<Utc>, Vec<&Recorded>)> = every
        .iter()
        .filter(|(_, units)| units.is_empty())
        .cloned()
        .collect();
    if !unsent.is_empty() {
        by_unit_type.insert(String::new(), group(&[], &unsent));
    }
    for unit_type in types {
        let of_type: Vec<&Recorded> = all
            .iter()
            .copied()
            .filter(|a| a.unit_type == unit_type)
            .collect();
        let per_incident: Vec<(DateTime<Utc>, Vec<&Recorded>)> = every
            .iter()
            .filter_map(|(first, units)| {
                let units: Vec<&Recorded> = units
                    .iter()
                    .copied()
                    .filter(|a| a.unit_type == unit_type)
                    .collect();
                (!units.is_empty()).then_some((*first, units))
            })
            .collect();
        by_unit_type.insert(unit_type_name(unit_type), group(&of_type, &per_incident));
    }
    DataIntervals {
        total: group(&all, &every),
        by_unit_type,
        incidents: incidents.len() as i64,
        assignments: all.len() as i64,
        left_out: LeftOut::default(),
    }
}

/// The data's own intervals for calls received in `[from, to)` (open bounds for `None`), as
/// the replay records them.
pub fn data_intervals(
    rows: &[Row],
    plan: &Plan,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> DataIntervals {
    let incidents: Vec<(usize, DateTime<Utc>)> = rows
        .iter()
        .filter(|r| from.is_none_or(|f| r.received >= f) && to.is_none_or(|t| r.received < t))
        .map(|r| (r.index, r.received))
        .collect();
    DataIntervals {
        left_out: plan.left_out.clone(),
        ..compute(&recorded(rows, plan), &incidents)
    }
}

fn seconds(value: Option<i64>) -> String {
    value.map_or_else(|| "-".to_owned(), |s| s.to_string())
}

impl DataIntervals {
    /// The table the replay prints: per unit type and interval, count, p50 and p90 in
    /// seconds, and what was left out.
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Intervals from the data's own timestamps ({} incidents, {} assignments; seconds, nearest rank):",
            self.incidents, self.assignments
        )?;
        let mut table = crate::output::Table::new([
            "UNIT TYPE",
            "INTERVAL",
            "COUNT",
            "P50",
            "P90",
            "MISSING",
            "NEGATIVE",
            "CANCELLED",
        ]);
        let groups = self
            .by_unit_type
            .iter()
            .map(|(t, f)| (t.as_str(), f))
            .chain(std::iter::once(("(all)", &self.total)));
        for (unit_type, figures) in groups {
            for (kind, f) in figures {
                table.row(vec![
                    unit_type.to_owned(),
                    kind.clone(),
                    f.count.to_string(),
                    seconds(f.p50),
                    seconds(f.p90),
                    f.excluded_missing.to_string(),
                    f.excluded_negative.to_string(),
                    f.excluded_cancelled.to_string(),
                ]);
            }
        }
        table.write(out)?;
        let l = &self.left_out;
        let list = |m: &BTreeMap<&str, u64>| {
            if m.is_empty() {
                "none".to_owned()
            } else {
                m.iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        writeln!(
            out,
            "Not recordable, left out on both sides: out of order {}; outside the lifecycle {}; after a re-task {}; units not sendable {}; assignments re-tasked {}; left committed {}",
            list(&l.out_of_order),
            list(&l.not_in_lifecycle),
            list(&l.after_retask),
            l.unsendable,
            l.retasked,
            l.left_committed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_586_000_000 + minute * 60, 0).expect("a time")
    }

    fn sent(id: &str, kind: &str, times: [Option<i64>; 6]) -> SentUnit {
        let [
            dispatched,
            en_route,
            on_scene,
            transporting,
            at_hospital,
            available,
        ] = times.map(|m| m.map(at));
        SentUnit {
            id: id.into(),
            kind: kind.into(),
            dispatched,
            en_route,
            on_scene,
            transporting,
            at_hospital,
            available,
            ..SentUnit::default()
        }
    }

    fn row(index: usize, received: i64, units: Vec<SentUnit>) -> Row {
        Row {
            index,
            received: at(received),
            units,
            ..Row::default()
        }
    }

    #[test]
    fn nearest_rank_is_the_value_at_the_rounded_up_rank() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(nearest_rank(&eleven, 50), Some(6));
        assert_eq!(nearest_rank(&eleven, 90), Some(10));
    }

    #[test]
    fn a_unit_sent_again_before_it_cleared_was_retasked_there() {
        let rows = vec![
            row(
                0,
                0,
                vec![sent(
                    "E1",
                    "ENGINE",
                    [Some(1), Some(2), Some(5), None, None, Some(40)],
                )],
            ),
            // E1 goes to the second call at minute 10, still on the first per the data.
            row(
                1,
                9,
                vec![
                    sent(
                        "E1",
                        "ENGINE",
                        [Some(10), Some(10), Some(14), None, None, Some(30)],
                    ),
                    sent(
                        "85",
                        "MEDIC",
                        [Some(10), Some(11), Some(15), Some(20), Some(19), Some(50)],
                    ),
                ],
            ),
        ];
        let plan = plan(&rows, true);
        let first = &plan.assignments[0];
        assert_eq!(first.end, End::Retasked(at(10)));
        assert_eq!(plan.assignments[1].previous, Some(0));
        assert_eq!(plan.left_out.retasked, 1);
        // The medic's hospital time is before its transport time: left out, counted.
        assert_eq!(plan.left_out.out_of_order.get("Hospital DtTm"), Some(&1));
        let medic = &plan.assignments[2];
        assert_eq!(medic.end, End::Cleared(at(50)));
        assert_eq!(medic.time_of(pb::UnitStatus::AtHospital), None);

        let figures = data_intervals(&rows, &plan, None, None);
        let engine = &figures.by_unit_type["engine"];
        let get = |name: &str| &engine.iter().find(|(k, _)| k == name).expect(name).1;
        // Turnouts 1 min and 0 min; on scene: the first until it was released (re-tasked) at
        // minute 10, the second 16 min.
        assert_eq!(get("turnout").count, 2);
        assert_eq!(get("turnout").p50, Some(0));
        assert_eq!(get("turnout").p90, Some(60));
        assert_eq!(get("on_scene").count, 2);
        assert_eq!(get("on_scene").p50, Some(300));
        assert_eq!(get("on_scene").p90, Some(960));
        // Per incident, the first engine: dispatched 1 and 1 min after the first call.
        assert_eq!(get("call_processing").count, 2);
        assert_eq!(get("call_processing").p90, Some(60));
        assert_eq!(get("total_response").p90, Some(300));
        let medic = &figures.by_unit_type["bls_ambulance"];
        let transport = &medic.iter().find(|(k, _)| k == "transport").expect("t").1;
        assert_eq!((transport.count, transport.excluded_missing), (0, 1));
        // Only units that reached a hospital have a hospital interval.
        let hospital = &medic.iter().find(|(k, _)| k == "at_hospital").expect("h").1;
        assert_eq!(hospital, &Figures::default());
    }
}
