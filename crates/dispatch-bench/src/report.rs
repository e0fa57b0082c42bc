//! Percentiles from sorted samples, the flat JSON object and the closing summary table.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::pg::PgCluster;

/// Every timing of one measurement, kept whole: percentiles are exact (nearest rank).
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts once; every later percentile is a lookup.
    pub fn summary(mut self) -> Summary {
        self.0.sort_unstable();
        let at = |q: f64| {
            if self.0.is_empty() {
                return Duration::ZERO;
            }
            // Nearest rank: the smallest sample with at least q of the samples at or below it.
            let rank = (q * self.0.len() as f64).ceil() as usize;
            self.0[rank.clamp(1, self.0.len()) - 1]
        };
        Summary {
            count: self.0.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: self.0.last().copied().unwrap_or_default(),
        }
    }
}

/// Median, 99th percentile and maximum of a set of timings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a / b`, or `None` when either side is missing or `b` is zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => Some(a / b),
        _ => None,
    }
}

/// Rounds for the JSON so figures read like the table (3 significant decimals are plenty).
fn number(x: f64) -> Value {
    let rounded = if x.abs() >= 100.0 {
        (x * 10.0).round() / 10.0
    } else {
        (x * 1000.0).round() / 1000.0
    };
    serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number)
}

/// One line of the closing table: a figure, its alternative, and the target it is judged by.
#[derive(Debug, Clone)]
pub struct Line {
    pub what: String,
    pub ours: String,
    pub against: String,
    pub target: String,
    /// `None`: not measured in this run (or no target).
    pub met: Option<bool>,
}

/// What every section runs against: the PostgreSQL cluster, and the report it adds to.
pub struct Bench<'a> {
    pub cluster: &'a PgCluster,
    pub report: &'a mut Report,
}

impl<'a> Bench<'a> {
    pub fn new(cluster: &'a PgCluster, report: &'a mut Report) -> Self {
        Self { cluster, report }
    }
}

/// What a run found: the flat JSON object and the summary lines.
#[derive(Debug, Default)]
pub struct Report {
    json: Map<String, Value>,
    lines: Vec<Line>,
    notes: Vec<String>,
}

impl Report {
    pub fn set(&mut self, key: &str, value: impl Into<Option<f64>>) {
        let value = value.into().map_or(Value::Null, number);
        self.json.insert(key.to_owned(), value);
    }

    pub fn set_text(&mut self, key: &str, value: impl Into<String>) {
        self.json
            .insert(key.to_owned(), Value::String(value.into()));
    }

    /// Sets `key` to null unless a section already set it: every documented key is present.
    pub fn default_null(&mut self, key: &str) {
        self.json.entry(key.to_owned()).or_insert(Value::Null);
    }

    pub fn line(&mut self, line: Line) {
        self.lines.push(line);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }

    /// The closing table, Markdown, as `docs/BENCHMARKS.md` shows it.
    pub fn summary_table(&self) -> String {
        let mut out = String::new();
        out.push_str("| measure | dispatch | alternative (same run) | target | status |\n");
        out.push_str("|---|---:|---:|---|---|\n");
        for line in &self.lines {
            let status = match line.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                line.what, line.ours, line.against, line.target, status
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out
    }
}

/// `12.3` with a unit, or `n/a`.
pub fn show(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) if v >= 10_000.0 => format!("{v:.0} {unit}"),
        Some(v) if v >= 100.0 => format!("{v:.0} {unit}"),
        Some(v) if v >= 10.0 => format!("{v:.1} {unit}"),
        Some(v) => format!("{v:.2} {unit}"),
        None => "n/a".to_owned(),
    }
    .trim_end()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples = Samples::default();
        for i in 1..=100 {
            samples.push(Duration::from_micros(i));
        }
        let summary = samples.summary();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, Duration::from_micros(50));
        assert_eq!(summary.p99, Duration::from_micros(99));
        assert_eq!(summary.max, Duration::from_micros(100));
    }

    #[test]
    fn empty_samples_are_zero() {
        let summary = Samples::default().summary();
        assert_eq!(summary.count, 0);
        assert_eq!(summary.p99, Duration::ZERO);
    }

    #[test]
    fn ratio_needs_both_sides() {
        assert_eq!(ratio(Some(10.0), Some(2.0)), Some(5.0));
        assert_eq!(ratio(Some(10.0), None), None);
        assert_eq!(ratio(Some(10.0), Some(0.0)), None);
    }
}
