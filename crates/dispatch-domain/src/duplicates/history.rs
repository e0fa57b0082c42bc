//! Historical calls taken again, offline, one after another, with the server's own duplicate
//! search (`pair_features`, `rank`): what the fit learns from and what the benchmark's quality
//! figures measure.
//!
//! The state is what the server would have: the incidents opened so far, each a candidate while
//! its latest call is within the policy's window (its point, uncertainty and type are those of
//! the call that opened it; a linked call moves its latest call time and count, not its life),
//! and the local call rate of every call counted exactly as the store counts it (`Density`).
//! Incidents never close here: closing depends on units and travel the history does not say,
//! and the study found that it moves recall at 4 % false links by about a point.
//!
//! Who decides, call after call, whether it repeats an open incident (the "taker"):
//! - `examples`: the truth. A call the data marks as a repeat joins its likeliest-looking
//!   candidate (nearest by ln(d + 10) + 0.5·ln(s + 60)); a centre's own record says which
//!   incident. This is the state the fit sees.
//! - `follow_model`: the model's top suggestion when one is at or above its threshold, as a call
//!   taker following the suggestions would.
//! - `follow_rule`: the nearest incident within a fixed radius and time (the baselines).

use chrono::{DateTime, Duration, Timelike as _, Utc};

use crate::call::Channel;
use crate::ids::IncidentId;
use crate::incident::IncidentStatus;
use crate::location::{EARTH_RADIUS_M, GeoPoint};

use super::fit::{Example, Label};
use super::likelihood::{Density, LikelihoodModel, PairFeatures};
use super::{CallProbe, DuplicatePolicy, NearbyIncident, pair_features, rank};

/// One call of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoricalCall {
    pub point: GeoPoint,
    pub uncertainty_m: f64,
    pub received_at: DateTime<Utc>,
    /// Its incident type code; empty when not known.
    pub incident_type: String,
    pub channel: Option<Channel>,
    pub callback_number: Option<String>,
    pub source_device: Option<String>,
    pub truth: Truth,
}

/// What the data says became of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truth {
    /// Whether it repeated an earlier report, not which one (C5's closing code D).
    Repeat(bool),
    /// The incident a call taker linked it to, by any key unique per incident (the first call
    /// of a key opened it); `None` when it was closed without one.
    Incident(Option<String>),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistoryError {
    #[error("calls[{index}] was received before the call listed before it: sort by received time")]
    NotInOrder { index: usize },
}

/// The calls, in order, with each one's local call rate.
#[derive(Debug)]
pub struct History<'a> {
    policy: &'a DuplicatePolicy,
    calls: &'a [HistoricalCall],
    rates: Vec<f64>,
}

/// What one run made of every call.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Linked to an earlier incident (rather than opening one).
    pub linked: bool,
    /// The likelihood of the top suggestion, whatever the threshold; `None` when the gate left
    /// no candidate (or for a rule, which has none).
    pub top_likelihood: Option<f64>,
}

impl<'a> History<'a> {
    /// Counts every call's local rate with `density` (its radius and days).
    pub fn new(
        policy: &'a DuplicatePolicy,
        calls: &'a [HistoricalCall],
        density: &Density,
    ) -> Result<Self, HistoryError> {
        if let Some(index) =
            (1..calls.len()).find(|&i| calls[i].received_at < calls[i - 1].received_at)
        {
            return Err(HistoryError::NotInOrder { index });
        }
        Ok(Self {
            policy,
            calls,
            rates: local_rates(calls, density.radius_m, density.days),
        })
    }

    pub fn calls(&self) -> &[HistoricalCall] {
        self.calls
    }

    /// Calls per day within the density radius in the days before each call.
    pub fn rates(&self) -> &[f64] {
        &self.rates
    }

    /// Every call with a candidate, taken as the data says: the pairs the server would have
    /// scored (in the order of the open incidents) and which was right, with the call's index.
    pub fn examples(&self) -> Vec<(usize, Example)> {
        let mut examples = Vec::new();
        self.run(|i, state, candidates| {
            let call = &self.calls[i];
            let pairs: Vec<PairFeatures> = candidates.iter().map(|(_, p)| p.clone()).collect();
            let (joins, label) = match &call.truth {
                Truth::Repeat(false) => (Join::Open, Label::Neither),
                Truth::Repeat(true) => {
                    let nearest = candidates.iter().enumerate().min_by(|a, b| {
                        nearness(&a.1.1)
                            .total_cmp(&nearness(&b.1.1))
                            .then(a.0.cmp(&b.0))
                    });
                    match nearest {
                        Some((_, &(incident, _))) => (Join::Incident(incident), Label::OneOf),
                        None => (Join::Open, Label::OneOf),
                    }
                }
                Truth::Incident(None) => (Join::Nothing, Label::Neither),
                Truth::Incident(Some(key)) => match state.by_key(key) {
                    Some(incident) => (
                        Join::Incident(incident),
                        candidates
                            .iter()
                            .position(|&(c, _)| c == incident)
                            .map_or(Label::Neither, Label::Candidate),
                    ),
                    None => (Join::Open, Label::Neither),
                },
            };
            if !pairs.is_empty() {
                examples.push((i, Example { pairs, label }));
            }
            joins
        });
        examples
    }

    /// A call taker who links to the model's top suggestion when there is one (at or above the
    /// model's threshold) and opens an incident otherwise.
    pub fn follow_model(&self, model: &LikelihoodModel) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(self.calls.len());
        self.run(|i, state, candidates| {
            let call = &self.calls[i];
            let top_likelihood = candidates
                .iter()
                .map(|(_, pair)| model.likelihood(pair))
                .max_by(f64::total_cmp);
            let nearby = candidates
                .iter()
                .map(|&(incident, _)| state.nearby(incident, call))
                .collect();
            let ranked = rank(self.policy, model, &probe(call), nearby, self.rates[i]);
            let join = ranked.first().map_or(Join::Open, |top| {
                Join::Incident(incident_index(top.incident.id))
            });
            outcomes.push(Outcome {
                linked: matches!(join, Join::Incident(_)),
                top_likelihood,
            });
            join
        });
        outcomes
    }

    /// A fixed rule: link to the nearest open incident within `radius_m` whose latest call is
    /// within `window`, whatever the types (the study's baselines).
    pub fn follow_rule(&self, radius_m: f64, window: Duration) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(self.calls.len());
        self.run_with(window, |i, state, _| {
            let call = &self.calls[i];
            let nearest = state
                .open
                .iter()
                .map(|&n| (n, call.point.distance_m(&state.incidents[n].point)))
                .filter(|&(n, d)| {
                    d <= radius_m && call.received_at - state.incidents[n].last_call_at <= window
                })
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            let join = nearest.map_or(Join::Open, |(n, _)| Join::Incident(n));
            outcomes.push(Outcome {
                linked: matches!(join, Join::Incident(_)),
                top_likelihood: None,
            });
            join
        });
        outcomes
    }

    fn run(&self, decide: impl FnMut(usize, &State, &[(usize, PairFeatures)]) -> Join) {
        self.run_with(self.policy.window, decide);
    }

    /// Takes the calls in order: for each, the open incidents within the policy's largest radius
    /// whose latest call is within `window`, the pairs that pass the server's gate, and what the
    /// taker decides.
    fn run_with(
        &self,
        window: Duration,
        mut decide: impl FnMut(usize, &State, &[(usize, PairFeatures)]) -> Join,
    ) {
        let mut state = State::default();
        for (i, call) in self.calls.iter().enumerate() {
            let horizon = window.max(self.policy.window);
            let incidents = &state.incidents;
            state
                .open
                .retain(|&n| call.received_at - incidents[n].last_call_at <= horizon);
            let probe = probe(call);
            let candidates: Vec<(usize, PairFeatures)> = state
                .open
                .iter()
                .filter(|&&n| {
                    call.received_at - state.incidents[n].last_call_at <= self.policy.window
                        && call.point.distance_m(&state.incidents[n].point)
                            <= self.policy.max_radius_m
                })
                .filter_map(|&n| {
                    let nearby = state.nearby(n, call);
                    pair_features(self.policy, &probe, &nearby, self.rates[i]).map(|p| (n, p))
                })
                .collect();
            match decide(i, &state, &candidates) {
                Join::Incident(n) => state.join(n, call),
                Join::Open => state.open(call),
                Join::Nothing => {}
            }
        }
    }
}

/// The truth-following taker's "nearest" candidate: closer in space, then in time.
fn nearness(pair: &PairFeatures) -> f64 {
    (pair.distance_m + 10.0).ln() + 0.5 * (pair.since_latest_call_s + 60.0).ln()
}

fn probe(call: &HistoricalCall) -> CallProbe {
    CallProbe {
        point: call.point,
        uncertainty_m: call.uncertainty_m,
        received_at: call.received_at,
        incident_type: call.incident_type.clone(),
        channel: call.channel,
    }
}

fn incident_index(id: IncidentId) -> usize {
    id.0.as_u128() as usize
}

enum Join {
    Incident(usize),
    Open,
    /// Closed without an incident.
    Nothing,
}

/// An incident the history opened.
#[derive(Debug)]
struct OpenedIncident {
    key: Option<String>,
    point: GeoPoint,
    uncertainty_m: f64,
    incident_type: String,
    created_at: DateTime<Utc>,
    last_call_at: DateTime<Utc>,
    calls: i32,
    callback_numbers: Vec<String>,
    source_devices: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    incidents: Vec<OpenedIncident>,
    /// Incidents whose latest call may still be within a window, oldest first.
    open: Vec<usize>,
}

impl State {
    fn by_key(&self, key: &str) -> Option<usize> {
        self.incidents
            .iter()
            .rposition(|incident| incident.key.as_deref() == Some(key))
    }

    fn nearby(&self, n: usize, call: &HistoricalCall) -> NearbyIncident {
        let incident = &self.incidents[n];
        let has = |list: &[String], value: &Option<String>| {
            value
                .as_ref()
                .is_some_and(|v| list.iter().any(|known| known == v))
        };
        NearbyIncident {
            id: IncidentId(uuid::Uuid::from_u128(n as u128)),
            folio: String::new(),
            incident_type: incident.incident_type.clone(),
            status: IncidentStatus::New,
            point: incident.point,
            uncertainty_m: incident.uncertainty_m,
            created_at: incident.created_at,
            last_call_at: incident.last_call_at,
            linked_call_count: incident.calls,
            same_callback_number: has(&incident.callback_numbers, &call.callback_number),
            same_source_device: has(&incident.source_devices, &call.source_device),
        }
    }

    fn open(&mut self, call: &HistoricalCall) {
        let key = match &call.truth {
            Truth::Incident(key) => key.clone(),
            Truth::Repeat(_) => None,
        };
        self.incidents.push(OpenedIncident {
            key,
            point: call.point,
            uncertainty_m: call.uncertainty_m,
            incident_type: call.incident_type.clone(),
            created_at: call.received_at,
            last_call_at: call.received_at,
            calls: 1,
            callback_numbers: call.callback_number.iter().cloned().collect(),
            source_devices: call.source_device.iter().cloned().collect(),
        });
        self.open.push(self.incidents.len() - 1);
    }

    fn join(&mut self, n: usize, call: &HistoricalCall) {
        let incident = &mut self.incidents[n];
        incident.last_call_at = incident.last_call_at.max(call.received_at);
        incident.calls += 1;
        incident
            .callback_numbers
            .extend(call.callback_number.iter().cloned());
        incident
            .source_devices
            .extend(call.source_device.iter().cloned());
        // A centre's record may link a call to an incident whose window had passed: it is a
        // candidate again from now on.
        if !self.open.contains(&n) {
            self.open.push(n);
        }
    }
}

/// Every call's local rate as the store counts it: calls received within `radius_m` in the
/// `days` days before it (strictly before), divided by the days of history before it (from the
/// first call), at least 1 and at most `days`. A grid of cells at least `radius_m` wide keeps it
/// to the calls of nine cells.
pub fn local_rates(calls: &[HistoricalCall], radius_m: f64, days: u32) -> Vec<f64> {
    use std::collections::HashMap;
    let Some(first) = calls.first() else {
        return Vec::new();
    };
    let days = days.max(1);
    let span = Duration::days(i64::from(days));
    let widest_latitude = calls
        .iter()
        .map(|c| c.point.latitude().abs())
        .fold(0.0_f64, f64::max)
        .min(89.0);
    let cell_lat = (radius_m.max(1.0) / EARTH_RADIUS_M).to_degrees() * 1.001;
    let cell_lon = cell_lat / widest_latitude.to_radians().cos();
    let cell = |p: &GeoPoint| {
        (
            (p.latitude() / cell_lat).floor() as i64,
            (p.longitude() / cell_lon).floor() as i64,
        )
    };
    // Per cell, the indices of its calls in time order.
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let mut rates = Vec::with_capacity(calls.len());
    for (i, call) in calls.iter().enumerate() {
        let (row, col) = cell(&call.point);
        let since = call.received_at - span;
        let mut nearby = 0_u64;
        for dr in -1..=1 {
            for dc in -1..=1 {
                let Some(members) = grid.get(&(row + dr, col + dc)) else {
                    continue;
                };
                let start = members.partition_point(|&j| calls[j].received_at < since);
                nearby += members[start..]
                    .iter()
                    .filter(|&&j| {
                        calls[j].received_at < call.received_at
                            && calls[j].point.distance_m(&call.point) <= radius_m
                    })
                    .count() as u64;
            }
        }
        let history_days = if first.received_at < call.received_at {
            (call.received_at - first.received_at).num_seconds() as f64 / 86_400.0
        } else {
            0.0
        };
        rates.push(nearby as f64 / history_days.clamp(1.0, f64::from(days)));
        grid.entry((row, col)).or_default().push(i);
    }
    rates
}

/// Calls per UTC hour (the density term's hour factors are fitted from these).
pub fn calls_per_utc_hour<'c>(calls: impl IntoIterator<Item = &'c HistoricalCall>) -> [u64; 24] {
    let mut counts = [0; 24];
    for call in calls {
        counts[call.received_at.hour() as usize % 24] += 1;
    }
    counts
}

/// Recall and false links of a run over the calls `selected`, by what the data says (a call of
/// `Truth::Incident` is a repeat when an earlier call had its key).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkFigures {
    pub repeats: usize,
    pub repeats_linked: usize,
    pub others: usize,
    pub others_linked: usize,
}

impl LinkFigures {
    pub fn of(
        calls: &[HistoricalCall],
        outcomes: &[Outcome],
        selected: impl Fn(&HistoricalCall) -> bool,
    ) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut figures = Self {
            repeats: 0,
            repeats_linked: 0,
            others: 0,
            others_linked: 0,
        };
        for (call, outcome) in calls.iter().zip(outcomes) {
            let repeat = match &call.truth {
                Truth::Repeat(repeat) => *repeat,
                Truth::Incident(Some(key)) => !seen.insert(key.clone()),
                Truth::Incident(None) => false,
            };
            if !selected(call) {
                continue;
            }
            if repeat {
                figures.repeats += 1;
                figures.repeats_linked += usize::from(outcome.linked);
            } else {
                figures.others += 1;
                figures.others_linked += usize::from(outcome.linked);
            }
        }
        figures
    }

    /// Share of repeats linked; `None` without repeats.
    pub fn recall(&self) -> Option<f64> {
        (self.repeats > 0).then(|| self.repeats_linked as f64 / self.repeats as f64)
    }

    /// Share of the other calls linked (each a call taker told "already handled" wrongly).
    pub fn false_rate(&self) -> Option<f64> {
        (self.others > 0).then(|| self.others_linked as f64 / self.others as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../../catalogue/duplicate_model.toml");

    fn model() -> LikelihoodModel {
        LikelihoodModel::from_toml(SHIPPED).expect("the shipped file")
    }

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_600_000_000, 0).expect("a time")
    }

    /// A call `minutes` after the start, `north_m` metres north of a point in Mexico City.
    fn call(minutes: i64, north_m: f64, truth: Truth) -> HistoricalCall {
        HistoricalCall {
            point: GeoPoint::new(19.4326 + north_m / 111_195.0, -99.1332).expect("a point"),
            uncertainty_m: 50.0,
            received_at: start() + Duration::minutes(minutes),
            incident_type: "TRAFFIC-COLLISION".into(),
            channel: Some(Channel::Voice911),
            callback_number: None,
            source_device: None,
            truth,
        }
    }

    #[test]
    fn local_rates_count_what_the_store_counts() {
        // Calls scattered over 20 km and 10 days; the grid must find exactly what a scan finds.
        let mut seed = 11_u64;
        let mut unit = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut calls: Vec<HistoricalCall> = (0..600)
            .map(|_| {
                let mut c = call((unit() * 14_400.0) as i64, 0.0, Truth::Repeat(false));
                c.point = GeoPoint::new(19.35 + unit() * 0.18, -99.2 + unit() * 0.18).unwrap();
                c
            })
            .collect();
        calls.sort_by_key(|c| c.received_at);
        let rates = local_rates(&calls, 1000.0, 7);
        for (i, call) in calls.iter().enumerate() {
            let nearby = calls
                .iter()
                .filter(|o| {
                    o.received_at < call.received_at
                        && o.received_at >= call.received_at - Duration::days(7)
                        && o.point.distance_m(&call.point) <= 1000.0
                })
                .count();
            let days = ((call.received_at - calls[0].received_at).num_seconds() as f64 / 86_400.0)
                .clamp(1.0, 7.0);
            assert!((rates[i] - nearby as f64 / days).abs() < 1e-12, "call {i}");
        }
        assert!(rates.iter().any(|&r| r > 0.0));
    }

    #[test]
    fn calls_out_of_order_are_refused() {
        let calls = [
            call(5, 0.0, Truth::Repeat(false)),
            call(1, 0.0, Truth::Repeat(false)),
        ];
        let policy = DuplicatePolicy::default();
        assert_eq!(
            History::new(&policy, &calls, &model().density).err(),
            Some(HistoryError::NotInOrder { index: 1 })
        );
    }

    #[test]
    fn the_truth_links_a_repeat_to_its_nearest_candidate() {
        let calls = [
            call(0, 0.0, Truth::Repeat(false)),
            call(1, 300.0, Truth::Repeat(false)),
            // Nearer the second incident.
            call(3, 280.0, Truth::Repeat(true)),
            // Outside the window of all three: no candidate, opens its own.
            call(400, 0.0, Truth::Repeat(true)),
            call(402, 10.0, Truth::Repeat(false)),
        ];
        let policy = DuplicatePolicy::default();
        let history = History::new(&policy, &calls, &model().density).unwrap();
        let examples = history.examples();
        let indices: Vec<usize> = examples.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices, [1, 2, 4]);
        let (_, repeat) = &examples[1];
        assert_eq!(repeat.label, Label::OneOf);
        assert_eq!(repeat.pairs.len(), 2);
        // The last call sees only the incident the fourth call opened, with one call linked.
        let (_, last) = &examples[2];
        assert_eq!(last.label, Label::Neither);
        assert_eq!(last.pairs.len(), 1);
        assert_eq!(last.pairs[0].linked_call_count, 1);
        assert!(last.pairs[0].distance_m < 11.0);
    }

    #[test]
    fn a_centres_record_says_which_incident() {
        let key = |k: &str| Truth::Incident(Some(k.to_owned()));
        let mut calls = vec![
            call(0, 0.0, key("a")),
            call(1, 100.0, key("b")),
            call(2, 5.0, key("b")),
            call(3, 50.0, Truth::Incident(None)),
        ];
        calls[2].callback_number = Some("+525500000000".into());
        calls[3].callback_number = Some("+525500000000".into());
        let policy = DuplicatePolicy::default();
        let history = History::new(&policy, &calls, &model().density).unwrap();
        let examples = history.examples();
        // The third call joined "b" although "a" is nearer: the second of its candidates.
        assert_eq!(examples[1].0, 2);
        assert_eq!(examples[1].1.label, Label::Candidate(1));
        // The fourth was closed without an incident; "b" has its caller's number.
        let (_, last) = &examples[2];
        assert_eq!(last.label, Label::Neither);
        assert_eq!(last.pairs[1].linked_call_count, 2);
        assert!(last.pairs[1].same_callback_number && !last.pairs[0].same_callback_number);
        let figures = LinkFigures::of(
            &calls,
            &history.follow_rule(200.0, Duration::minutes(30)),
            |_| true,
        );
        assert_eq!((figures.repeats, figures.others), (1, 3));
    }

    #[test]
    fn takers_follow_the_model_or_a_rule() {
        let calls = [
            call(0, 0.0, Truth::Repeat(false)),
            // 20 m and two minutes later: a repeat by any measure.
            call(2, 20.0, Truth::Repeat(true)),
            // 450 m away, 50 minutes later: the rule at 500 m / 60 min links it.
            call(52, 450.0, Truth::Repeat(false)),
        ];
        let policy = DuplicatePolicy::default();
        let mut model = model();
        let history = History::new(&policy, &calls, &model.density).unwrap();
        // Whatever the fitted numbers, the near, recent report is the likelier; a threshold
        // between the two links it and not the other.
        model.threshold = 0.001;
        let lenient = history.follow_model(&model);
        assert_eq!(lenient[0].top_likelihood, None);
        let near = lenient[1].top_likelihood.expect("a candidate");
        let far = lenient[2].top_likelihood.expect("a candidate");
        assert!(near > far, "{near} {far}");
        model.threshold = (near + far) / 2.0;
        let followed = history.follow_model(&model);
        let linked: Vec<bool> = followed.iter().map(|o| o.linked).collect();
        assert_eq!(linked, [false, true, false]);
        assert_eq!(followed[1].top_likelihood, Some(near));
        let rule = history.follow_rule(500.0, Duration::minutes(60));
        let linked: Vec<bool> = rule.iter().map(|o| o.linked).collect();
        assert_eq!(linked, [false, true, true]);
        let figures = LinkFigures::of(&calls, &followed, |_| true);
        assert_eq!(figures.recall(), Some(1.0));
        assert_eq!(figures.false_rate(), Some(0.0));
    }
}
