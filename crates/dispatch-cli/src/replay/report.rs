//! What a replay counts while it runs, and the report it ends with.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

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
    /// [duplicate in the data][linked by the replay].
    pub confusion: [[u64; 2]; 2],
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
    pub linked_and_duplicate_in_data: u64,
    pub linked_not_duplicate_in_data: u64,
    pub opened_but_duplicate_in_data: u64,
    pub opened_not_duplicate_in_data: u64,
    /// Of the calls the replay linked, the share the data calls duplicates.
    pub precision: f64,
    /// Of the data's duplicates, the share the replay linked.
    pub recall: f64,
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
    pub duplicates: Option<DuplicateComparison>,
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

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
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
    pub compare_duplicates: bool,
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
        let [[tn, fp], [fn_, tp]] = stats.confusion;
        let duplicates = inputs.compare_duplicates.then(|| DuplicateComparison {
            truth: "C5 closing code D (duplicado)",
            linked_and_duplicate_in_data: tp,
            linked_not_duplicate_in_data: fp,
            opened_but_duplicate_in_data: fn_,
            opened_not_duplicate_in_data: tn,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
        });
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
            duplicates,
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
            ("units cleared", self.counts.units_cleared, String::new()),
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
        if let Some(d) = &self.duplicates {
            writeln!(out, "\nDuplicate links against {}:", d.truth)?;
            let mut table = Table::new(["", "D IN C5", "NOT D IN C5"]);
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
                "precision {:.1} % (linked calls C5 closed as D), recall {:.1} % (C5's D calls linked)",
                d.precision * 100.0,
                d.recall * 100.0
            )?;
        }
        Ok(())
    }
}
