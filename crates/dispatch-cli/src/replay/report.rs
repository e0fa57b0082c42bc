//! What a replay counts while it runs, and the report it ends with.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::data::{Note, Quality};
use crate::output::Table;

/// What the replay counted: kept while it runs, reported as it is.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub calls: u64,
    pub incidents: u64,
    pub duplicates_linked: u64,
    pub link_fallbacks: u64,
    pub failed_intake: u64,
    pub triaged: u64,
    pub recommended: u64,
    pub incidents_assigned: u64,
    pub units_assigned: u64,
    /// Units assigned because the data says they were sent (SF follows its own run cards).
    pub units_sent_as_in_data: u64,
    /// Units the data sent that never became free in the replay (their previous call did not
    /// get to its end in time).
    pub units_busy_in_replay: u64,
    /// Following the data: units released from a call because the data sent them to another
    /// before making them available.
    pub units_retasked: u64,
    /// Following the data: units never cleared (their Available DtTm could not be recorded,
    /// and the data did not send them again).
    pub units_left_committed: u64,
    /// Following the data: calls the call taker judged duplicates (a suggestion was made)
    /// that the data says are incidents of their own, opened as such.
    pub links_not_followed: u64,
    pub assign_races: u64,
    pub incidents_with_shortfall: u64,
    pub units_short: u64,
    pub shortfall_by_capability: BTreeMap<String, u64>,
    pub units_cleared: u64,
    pub incidents_closed: u64,
    pub retries: u64,
    pub retries_by_code: BTreeMap<&'static str, u64>,
    pub errors: BTreeMap<String, u64>,
}

/// Counters and latencies, shared by the simulated staff.
#[derive(Debug, Default)]
pub struct Stats {
    pub counts: Counts,
    pub latencies: BTreeMap<&'static str, Vec<u32>>,
    /// What became of every call taken, for the duplicate figures.
    pub outcomes: Vec<CallOutcome>,
    /// Engines and trucks the data sent from their own station into its area.
    pub runs: Vec<RunSample>,
    /// Calls the data sent an engine to: the engine it sent first and our top-ranked one.
    pub first_engines: Vec<FirstEngine>,
}

/// One call taken: what the data says and what the simulated call taker did.
#[derive(Debug, Clone, Copy)]
pub struct CallOutcome {
    pub received: DateTime<Utc>,
    /// Whether the data says the call duplicated an earlier one; `None` when it does not say.
    pub truth: Option<bool>,
    pub linked: bool,
    /// The likelihood of the top duplicate suggestion the call got, if any.
    pub top_likelihood: Option<f64>,
}

/// An engine or truck the data sent from its own station into its own station area, with its
/// real times and the ETA the server gave it when recommending for that call.
#[derive(Debug, Clone)]
pub struct RunSample {
    pub received: DateTime<Utc>,
    /// Real travel: en route to on scene (seconds).
    pub travel_s: f64,
    /// Real response: dispatch to on scene (seconds), when the data has both.
    pub response_s: Option<f64>,
    pub eta: RunEta,
}

#[derive(Debug, Clone, Copy)]
pub enum RunEta {
    /// The server's ETA for the unit (seconds).
    Given(f64),
    /// The unit was a candidate but its position was stale: its ETA carries the stale penalty.
    Stale,
    /// The unit was not among the candidates (busy in the replay, or beyond the list).
    NotCandidate,
}

#[derive(Debug, Clone)]
pub struct FirstEngine {
    pub received: DateTime<Utc>,
    /// Whether our top-ranked engine is the engine the data sent first.
    pub same: bool,
}

/// The calls the figures count: received in [from, to).
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| t >= from) && self.to.is_none_or(|to| t < to)
    }
}

impl Stats {
    pub fn record(&mut self, rpc: &'static str, elapsed: Duration) {
        self.latencies
            .entry(rpc)
            .or_default()
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn error(&mut self, rpc: &'static str, status: &tonic::Status) {
        *self
            .counts
            .errors
            .entry(format!("{rpc} {}", crate::error::code_name(status.code())))
            .or_default() += 1;
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateComparison {
    /// What the comparison is against.
    pub truth: &'static str,
    /// Calls counted: those received in the window with a truth in the data.
    pub calls: u64,
    pub linked_and_duplicate_in_data: u64,
    pub linked_not_duplicate_in_data: u64,
    pub opened_but_duplicate_in_data: u64,
    pub opened_not_duplicate_in_data: u64,
    /// Of the calls the replay linked, the share the data calls duplicates.
    pub precision: Option<f64>,
    /// Of the data's duplicates, the share the replay linked (`None` when the data has none).
    pub recall: Option<f64>,
    /// Of the calls the data does not call duplicates, the share the replay linked.
    pub false_link_rate: Option<f64>,
    /// Recall and false-link rate had the call taker followed only suggestions at least this
    /// likely.
    pub curve: Curve,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Curve {
    /// How the curve was computed.
    pub note: &'static str,
    /// The least likely top suggestion the server made in the whole run: its threshold is at
    /// most this.
    pub lowest_suggested: Option<f64>,
    pub points: Vec<CurvePoint>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurvePoint {
    pub threshold: f64,
    pub linked: u64,
    pub recall: Option<f64>,
    pub false_link_rate: Option<f64>,
}

/// Thresholds of the curve; those below the least likely suggestion made are left out (the
/// run itself is the curve's first point).
const CURVE_THRESHOLDS: [f64; 9] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99];

const CURVE_NOTE: &str = "computed from the run's top suggestions, not by rerunning: a call counts as linked at a threshold when the replay linked it and its top suggestion was at least that likely (had it not been linked, a later call might have been linked to the incident it would have opened); the first point is the run as it went, at the least likely suggestion the server made";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Travel {
    /// Which runs are compared.
    pub selection: &'static str,
    /// Runs in the selection (calls in the window).
    pub runs: usize,
    /// Of those, runs the server gave an ETA for, from a fresh position.
    pub with_eta: usize,
    /// Runs whose unit was a candidate only with a stale position (left out).
    pub stale_position: usize,
    /// Runs whose unit was not among the candidates: busy in the replay (left out).
    pub not_a_candidate: usize,
    pub real_travel_median_s: Option<f64>,
    pub real_travel_p90_s: Option<f64>,
    /// |ETA − (on scene − en route)|.
    pub median_abs_error_s: Option<f64>,
    pub p90_abs_error_s: Option<f64>,
    /// |ETA − (on scene − dispatch)|: if the ETA counts turnout.
    pub median_abs_error_vs_response_s: Option<f64>,
    pub p90_abs_error_vs_response_s: Option<f64>,
    /// Calls in the window the data sent an engine to (that was a candidate or not).
    pub calls_with_an_engine: usize,
    /// Of those, calls where our top-ranked engine is the one the data sent first.
    pub top_engine_was_the_first_sent: usize,
    pub top_engine_share: Option<f64>,
}

const TRAVEL_SELECTION: &str = "engines and trucks (E<n>, T<n>) sent from their own station into its own station area, en route before on scene, calls received in the window; real travel = on scene - en route";

/// The q-quantile of `values`, interpolated between the two nearest (as numpy does).
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = (values.len() - 1) as f64 * q;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    let value = values[low] + (values[high] - values[low]) * (at - low as f64);
    Some((value * 10.0).round() / 10.0)
}

fn share(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn duplicates(
    truth: &'static str,
    outcomes: &[CallOutcome],
    window: Window,
) -> DuplicateComparison {
    let counted: Vec<(bool, bool, Option<f64>)> = outcomes
        .iter()
        .filter(|o| window.contains(o.received))
        .filter_map(|o| Some((o.truth?, o.linked, o.top_likelihood)))
        .collect();
    let count = |truth: bool, linked: bool| {
        counted
            .iter()
            .filter(|(t, l, _)| *t == truth && *l == linked)
            .count() as u64
    };
    let (tp, fp, fn_, tn) = (
        count(true, true),
        count(false, true),
        count(true, false),
        count(false, false),
    );
    let lowest_suggested = outcomes
        .iter()
        .filter_map(|o| o.top_likelihood)
        .min_by(f64::total_cmp);
    let (duplicates_in_data, others_in_data) = (tp + fn_, fp + tn);
    let at = |threshold: f64| {
        let linked_at = |truth: bool| {
            counted
                .iter()
                .filter(|(t, l, p)| *t == truth && *l && p.is_some_and(|p| p >= threshold))
                .count() as u64
        };
        let (tp, fp) = (linked_at(true), linked_at(false));
        CurvePoint {
            threshold,
            linked: tp + fp,
            recall: share(tp, duplicates_in_data),
            false_link_rate: share(fp, others_in_data),
        }
    };
    let mut points = Vec::new();
    if let Some(lowest) = lowest_suggested {
        points.push(at(lowest));
        points.extend(
            CURVE_THRESHOLDS
                .iter()
                .filter(|t| **t > lowest)
                .map(|t| at(*t)),
        );
    }
    DuplicateComparison {
        truth,
        calls: counted.len() as u64,
        linked_and_duplicate_in_data: tp,
        linked_not_duplicate_in_data: fp,
        opened_but_duplicate_in_data: fn_,
        opened_not_duplicate_in_data: tn,
        precision: share(tp, tp + fp),
        recall: share(tp, tp + fn_),
        false_link_rate: share(fp, fp + tn),
        curve: Curve {
            note: CURVE_NOTE,
            lowest_suggested,
            points,
        },
    }
}

fn travel(stats: &Stats, window: Window) -> Option<Travel> {
    let runs: Vec<&RunSample> = stats
        .runs
        .iter()
        .filter(|r| window.contains(r.received))
        .collect();
    let engines: Vec<&FirstEngine> = stats
        .first_engines
        .iter()
        .filter(|e| window.contains(e.received))
        .collect();
    if runs.is_empty() && engines.is_empty() {
        return None;
    }
    let given: Vec<(f64, &RunSample)> = runs
        .iter()
        .filter_map(|r| match r.eta {
            RunEta::Given(eta) => Some((eta, *r)),
            RunEta::Stale | RunEta::NotCandidate => None,
        })
        .collect();
    let mut errors: Vec<f64> = given
        .iter()
        .map(|(eta, r)| (eta - r.travel_s).abs())
        .collect();
    let mut errors_vs_response: Vec<f64> = given
        .iter()
        .filter_map(|(eta, r)| Some((eta - r.response_s?).abs()))
        .collect();
    let mut travel: Vec<f64> = runs.iter().map(|r| r.travel_s).collect();
    let same = engines.iter().filter(|e| e.same).count();
    Some(Travel {
        selection: TRAVEL_SELECTION,
        runs: runs.len(),
        with_eta: given.len(),
        stale_position: runs
            .iter()
            .filter(|r| matches!(r.eta, RunEta::Stale))
            .count(),
        not_a_candidate: runs
            .iter()
            .filter(|r| matches!(r.eta, RunEta::NotCandidate))
            .count(),
        real_travel_median_s: quantile(&mut travel, 0.5),
        real_travel_p90_s: quantile(&mut travel, 0.9),
        median_abs_error_s: quantile(&mut errors, 0.5),
        p90_abs_error_s: quantile(&mut errors, 0.9),
        median_abs_error_vs_response_s: quantile(&mut errors_vs_response, 0.5),
        p90_abs_error_vs_response_s: quantile(&mut errors_vs_response, 0.9),
        calls_with_an_engine: engines.len(),
        top_engine_was_the_first_sent: same,
        top_engine_share: share(same as u64, engines.len() as u64),
    })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dataset: &'static str,
    pub file: String,
    pub speed: String,
    pub workers: usize,
    /// Calls replayed.
    pub rows: usize,
    /// Data rows in the file: replayed, skipped, merged into a call or beyond --limit.
    pub rows_in_file: usize,
    pub rows_skipped: usize,
    /// Every row skipped, with its line and why.
    pub skipped: Vec<Note>,
    /// Rows adding a unit to a call an earlier row started (SF).
    pub rows_merged: usize,
    pub rows_beyond_limit: usize,
    /// Rows replayed with a time read differently from how it is written, with why.
    pub times_adjusted: Vec<Note>,
    /// Channels the replay does not know, mapped to the nearest: "ZELLO → RADIO" and how many
    /// calls (replayed) came that way.
    pub channels_mapped: BTreeMap<String, u64>,
    pub data_from: String,
    pub data_to: String,
    pub wall_seconds: f64,
    pub calls_per_second: f64,
    #[serde(flatten)]
    pub counts: Counts,
    pub rpcs: u64,
    pub latency: BTreeMap<&'static str, Latency>,
    /// The window the figures below count (`--from`/`--to`), UTC; unset is open.
    pub window_from: Option<String>,
    pub window_to: Option<String>,
    /// Calls received in the window (every call was replayed).
    pub calls_in_window: usize,
    /// Where San Francisco's stations stand: the stations file, or medians of their areas' calls.
    pub stations: Option<String>,
    pub duplicates: Option<DuplicateComparison>,
    /// ETA against the data's real travel times (SF).
    pub travel: Option<Travel>,
    /// Response-time intervals from the data's own timestamps, as back-entered (SF).
    pub data_intervals: Option<super::intervals::DataIntervals>,
}

/// Skipped rows listed in the table output; `--json` lists all.
const MAX_NOTES_SHOWN: usize = 50;

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

pub struct Inputs {
    pub dataset: &'static str,
    pub file: String,
    pub speed: String,
    pub workers: usize,
    pub rows: usize,
    pub quality: Quality,
    pub channels_mapped: BTreeMap<String, u64>,
    pub data_from: String,
    pub data_to: String,
    pub wall: Duration,
    /// What the data's duplicate truth is, when it has one.
    pub truth: Option<&'static str>,
    pub window: Window,
    pub stations: Option<String>,
}

impl Report {
    pub fn new(inputs: Inputs, stats: &mut Stats) -> Self {
        let mut latency = BTreeMap::new();
        let mut rpcs = 0u64;
        for (rpc, samples) in &mut stats.latencies {
            samples.sort_unstable();
            rpcs += samples.len() as u64;
            latency.insert(
                *rpc,
                Latency {
                    count: samples.len(),
                    p50_ms: percentile(samples, 0.50),
                    p90_ms: percentile(samples, 0.90),
                    p99_ms: percentile(samples, 0.99),
                    max_ms: samples.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
                },
            );
        }
        let window = inputs.window;
        let duplicates = inputs
            .truth
            .map(|truth| duplicates(truth, &stats.outcomes, window));
        let travel = travel(stats, window);
        let calls_in_window = stats
            .outcomes
            .iter()
            .filter(|o| window.contains(o.received))
            .count();
        let wall = inputs.wall.as_secs_f64();
        Self {
            dataset: inputs.dataset,
            file: inputs.file,
            speed: inputs.speed,
            workers: inputs.workers,
            rows: inputs.rows,
            rows_in_file: inputs.quality.rows_in_file,
            rows_skipped: inputs.quality.skipped.len(),
            skipped: inputs.quality.skipped,
            rows_merged: inputs.quality.merged,
            rows_beyond_limit: inputs.quality.beyond_limit,
            times_adjusted: inputs.quality.times_adjusted,
            channels_mapped: inputs.channels_mapped,
            data_from: inputs.data_from,
            data_to: inputs.data_to,
            wall_seconds: (wall * 10.0).round() / 10.0,
            calls_per_second: if wall > 0.0 {
                (stats.counts.calls as f64 / wall * 10.0).round() / 10.0
            } else {
                0.0
            },
            counts: stats.counts.clone(),
            rpcs,
            latency,
            window_from: window.from.map(|t| t.to_rfc3339()),
            window_to: window.to.map(|t| t.to_rfc3339()),
            calls_in_window,
            stations: inputs.stations,
            duplicates,
            travel,
            data_intervals: None,
        }
    }

    /// What became of every row of the file.
    fn write_rows(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut parts = vec![format!("{} replayed", self.rows)];
        if self.rows_skipped > 0 {
            parts.push(format!("{} skipped", self.rows_skipped));
        }
        if self.rows_merged > 0 {
            parts.push(format!("{} more units of a call", self.rows_merged));
        }
        if self.rows_beyond_limit > 0 {
            parts.push(format!("{} beyond --limit", self.rows_beyond_limit));
        }
        writeln!(
            out,
            "rows in the file: {} ({})",
            self.rows_in_file,
            parts.join(", ")
        )?;
        for (what, notes) in [
            ("skipped", &self.skipped),
            ("time read differently", &self.times_adjusted),
        ] {
            for note in notes.iter().take(MAX_NOTES_SHOWN) {
                writeln!(out, "  {what}: line {}: {}", note.line, note.reason)?;
            }
            if notes.len() > MAX_NOTES_SHOWN {
                writeln!(
                    out,
                    "  {what}: {} more (--json lists every one)",
                    notes.len() - MAX_NOTES_SHOWN
                )?;
            }
        }
        for (mapping, n) in &self.channels_mapped {
            writeln!(out, "  channel mapped {mapping}: {n}")?;
        }
        Ok(())
    }

    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "Replay of {} ({} rows, {} to {}) at speed {} with {} simulated call takers",
            self.file, self.rows, self.data_from, self.data_to, self.speed, self.workers
        )?;
        writeln!(
            out,
            "took {:.1} s: {:.1} calls/s, {} RPCs",
            self.wall_seconds, self.calls_per_second, self.rpcs
        )?;
        self.write_rows(out)?;
        writeln!(out)?;
        let mut table = Table::new(["WHAT", "COUNT"]);
        let shortfall = crate::output::counts(&self.counts.shortfall_by_capability);
        for (what, n, note) in [
            ("calls", self.counts.calls, String::new()),
            ("incidents opened", self.counts.incidents, String::new()),
            (
                "duplicates linked (top suggestion)",
                self.counts.duplicates_linked,
                String::new(),
            ),
            (
                "  suggestion gone, opened instead",
                self.counts.link_fallbacks,
                String::new(),
            ),
            (
                "calls that failed intake",
                self.counts.failed_intake,
                String::new(),
            ),
            ("incidents triaged", self.counts.triaged, String::new()),
            ("recommendations", self.counts.recommended, String::new()),
            (
                "incidents with units assigned",
                self.counts.incidents_assigned,
                String::new(),
            ),
            ("units assigned", self.counts.units_assigned, String::new()),
            (
                "  lost a race for a unit, recommended again",
                self.counts.assign_races,
                String::new(),
            ),
            (
                "incidents with a shortfall",
                self.counts.incidents_with_shortfall,
                String::new(),
            ),
            ("units short", self.counts.units_short, shortfall),
            (
                "  judged duplicates, opened as the data says",
                self.counts.links_not_followed,
                String::new(),
            ),
            (
                "  units never free in time, not sent",
                self.counts.units_busy_in_replay,
                String::new(),
            ),
            ("units cleared", self.counts.units_cleared, String::new()),
            (
                "  released: the data sent them elsewhere",
                self.counts.units_retasked,
                String::new(),
            ),
            (
                "  left committed: available time out of order",
                self.counts.units_left_committed,
                String::new(),
            ),
            (
                "incidents closed",
                self.counts.incidents_closed,
                String::new(),
            ),
            (
                "retries (the same request again)",
                self.counts.retries,
                crate::output::counts(&self.counts.retries_by_code),
            ),
        ] {
            let count = if note.is_empty() {
                n.to_string()
            } else {
                format!("{n}  ({note})")
            };
            table.row(vec![what.to_owned(), count]);
        }
        table.write(out)?;
        if !self.counts.errors.is_empty() {
            writeln!(out, "\nErrors:")?;
            let mut table = Table::new(["RPC AND CODE", "COUNT"]);
            for (what, n) in &self.counts.errors {
                table.row(vec![what.clone(), n.to_string()]);
            }
            table.write(out)?;
        }
        writeln!(out, "\nLatency per RPC (ms):")?;
        let mut table = Table::new(["RPC", "COUNT", "P50", "P90", "P99", "MAX"]);
        for (rpc, l) in &self.latency {
            table.row(vec![
                (*rpc).to_owned(),
                l.count.to_string(),
                format!("{:.1}", l.p50_ms),
                format!("{:.1}", l.p90_ms),
                format!("{:.1}", l.p99_ms),
                format!("{:.1}", l.max_ms),
            ]);
        }
        table.write(out)?;
        if self.window_from.is_some() || self.window_to.is_some() {
            writeln!(
                out,
                "\nFigures below count the {} calls received from {} to {} (every call was replayed)",
                self.calls_in_window,
                self.window_from.as_deref().unwrap_or("the start"),
                self.window_to.as_deref().unwrap_or("the end"),
            )?;
        }
        if let Some(d) = &self.duplicates {
            self.write_duplicates(out, d)?;
        }
        if let Some(intervals) = &self.data_intervals {
            writeln!(out)?;
            intervals.write(out)?;
        }
        if let Some(t) = &self.travel {
            write_travel(out, t, self.stations.as_deref())?;
        }
        Ok(())
    }

    fn write_duplicates(
        &self,
        out: &mut dyn Write,
        d: &DuplicateComparison,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "\nDuplicate links against {} ({} calls):",
            d.truth, d.calls
        )?;
        let mut table = Table::new(["", "DUPLICATE IN DATA", "NOT DUPLICATE IN DATA"]);
        table.row(vec![
            "linked by the replay".into(),
            d.linked_and_duplicate_in_data.to_string(),
            d.linked_not_duplicate_in_data.to_string(),
        ]);
        table.row(vec![
            "opened an incident".into(),
            d.opened_but_duplicate_in_data.to_string(),
            d.opened_not_duplicate_in_data.to_string(),
        ]);
        table.write(out)?;
        writeln!(
            out,
            "false-link rate {} ({} of {} calls the data does not call duplicates were linked)",
            percent(d.false_link_rate),
            d.linked_not_duplicate_in_data,
            d.linked_not_duplicate_in_data + d.opened_not_duplicate_in_data
        )?;
        writeln!(
            out,
            "recall {} ({} of {} duplicates in the data were linked), precision {}",
            percent(d.recall),
            d.linked_and_duplicate_in_data,
            d.linked_and_duplicate_in_data + d.opened_but_duplicate_in_data,
            percent(d.precision)
        )?;
        if d.curve.points.is_empty() {
            return Ok(());
        }
        writeln!(
            out,
            "\nCurve: had the call taker followed only suggestions at least this likely ({})",
            d.curve.note
        )?;
        let mut table = Table::new(["THRESHOLD", "LINKED", "RECALL", "FALSE-LINK RATE"]);
        for (i, p) in d.curve.points.iter().enumerate() {
            let threshold = if i == 0 {
                format!("{:.3} (as run)", p.threshold)
            } else {
                format!("{:.2}", p.threshold)
            };
            table.row(vec![
                threshold,
                p.linked.to_string(),
                percent(p.recall),
                percent(p.false_link_rate),
            ]);
        }
        table.write(out)
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "n/a".to_owned(), |s| format!("{:.1} %", s * 100.0))
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1} s"))
}

fn write_travel(out: &mut dyn Write, t: &Travel, stations: Option<&str>) -> std::io::Result<()> {
    writeln!(
        out,
        "\nTravel: the server's ETA against the data's real times"
    )?;
    if let Some(stations) = stations {
        writeln!(out, "stations: {stations}")?;
    }
    writeln!(out, "selection: {}", t.selection)?;
    writeln!(
        out,
        "{} runs: {} with an ETA, {} left out (stale position), {} left out (not a candidate: busy in the replay)",
        t.runs, t.with_eta, t.stale_position, t.not_a_candidate
    )?;
    writeln!(
        out,
        "real travel median {}, p90 {}",
        seconds(t.real_travel_median_s),
        seconds(t.real_travel_p90_s)
    )?;
    writeln!(
        out,
        "ETA abs error: median {}, p90 {} (against on scene - en route); median {}, p90 {} (against on scene - dispatch)",
        seconds(t.median_abs_error_s),
        seconds(t.p90_abs_error_s),
        seconds(t.median_abs_error_vs_response_s),
        seconds(t.p90_abs_error_vs_response_s)
    )?;
    writeln!(
        out,
        "calls the data sent an engine to: {}; our top-ranked engine was the one sent first in {} ({})",
        t.calls_with_an_engine,
        t.top_engine_was_the_first_sent,
        percent(t.top_engine_share)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + chrono::Duration::minutes(minute)
    }

    fn call(minute: i64, truth: bool, linked: bool, top: Option<f64>) -> CallOutcome {
        CallOutcome {
            received: at(minute),
            truth: Some(truth),
            linked,
            top_likelihood: top,
        }
    }

    #[test]
    fn figures_count_the_window_and_the_curve_drops_less_likely_links() {
        let outcomes = [
            // Before the window: a duplicate linked at 0.99, left out of every figure.
            call(0, true, true, Some(0.99)),
            call(10, true, true, Some(0.95)),
            call(11, true, true, Some(0.72)),
            call(12, true, false, None),
            call(13, false, true, Some(0.8)),
            call(14, false, false, Some(0.6)),
            call(15, false, false, None),
            call(16, false, false, None),
            // At the window's end, excluded.
            call(20, false, true, Some(0.9)),
        ];
        let window = Window {
            from: Some(at(10)),
            to: Some(at(20)),
        };
        let d = duplicates("test", &outcomes, window);
        assert_eq!(d.calls, 7);
        assert_eq!(
            (
                d.linked_and_duplicate_in_data,
                d.linked_not_duplicate_in_data,
                d.opened_but_duplicate_in_data,
                d.opened_not_duplicate_in_data
            ),
            (2, 1, 1, 3)
        );
        assert_eq!(d.recall, Some(2.0 / 3.0));
        assert_eq!(d.false_link_rate, Some(0.25));
        // The least likely suggestion of the whole run (0.6), then the thresholds above it.
        assert_eq!(d.curve.lowest_suggested, Some(0.6));
        let points: Vec<(f64, u64, Option<f64>, Option<f64>)> = d
            .curve
            .points
            .iter()
            .map(|p| (p.threshold, p.linked, p.recall, p.false_link_rate))
            .collect();
        assert_eq!(points[0], (0.6, 3, Some(2.0 / 3.0), Some(0.25)));
        assert_eq!(points[1], (0.7, 3, Some(2.0 / 3.0), Some(0.25)));
        assert_eq!(points[2], (0.75, 2, Some(1.0 / 3.0), Some(0.25)));
        assert_eq!(points[4], (0.85, 1, Some(1.0 / 3.0), Some(0.0)));
        assert_eq!(points.last(), Some(&(0.99, 0, Some(0.0), Some(0.0))));
    }

    #[test]
    fn no_duplicates_in_the_data_leaves_recall_undefined() {
        let outcomes = [call(0, false, true, Some(0.9)), call(1, false, false, None)];
        let d = duplicates("test", &outcomes, Window::default());
        assert_eq!(d.recall, None);
        assert_eq!(d.false_link_rate, Some(0.5));
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(quantile(&mut [4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
        assert_eq!(
            quantile(&mut (1..=11).map(f64::from).collect::<Vec<_>>(), 0.9),
            Some(10.0)
        );
    }
}
