//! Duplicate suggestions, offline: C5 2020 taken again call after call with the server's duplicate
//! search (`dispatch_domain::duplicates::history`), state from the file's start, figures on the
//! calls received from 2020-08-01 on (the shipped file is fitted on the calls before); San
//! Francisco Fire, April 2020, where every call is its own incident, so every link is false.
//!
//! A call taker follows the top suggestion when there is one. Incidents do not close here (the
//! API replay closes them after the units' simulated work; the study found about a point of
//! difference), which is why these figures and the replay's differ a little.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{Duration, TimeZone as _, Utc};
use dispatch_cli::fit_duplicates::historical_calls;
use dispatch_cli::replay::data::{self, Dataset};
use dispatch_domain::duplicates::DuplicatePolicy;
use dispatch_domain::duplicates::history::{HistoricalCall, History, LinkFigures, Outcome};
use dispatch_domain::duplicates::likelihood::LikelihoodModel;

use super::Options;
use crate::report::{Line, Report};

/// Thresholds of the curve (calibrated likelihood).
const CURVE: [f64; 7] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9];
/// The simple rules beside it: the nearest open incident within (metres, minutes).
const RULES: [(f64, i64); 3] = [(500.0, 60), (200.0, 60), (200.0, 30)];

pub fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let began = Instant::now();
    let text = std::fs::read_to_string(&options.duplicate_model)
        .with_context(|| format!("reading {}", options.duplicate_model.display()))?;
    let model = LikelihoodModel::from_toml(&text)
        .map_err(|error| anyhow::anyhow!("{}: {error}", options.duplicate_model.display()))?;
    let policy = DuplicatePolicy::default();
    let cut = Utc
        .with_ymd_and_hms(2020, 8, 1, 0, 0, 0)
        .single()
        .context("the cut")?;
    let held_out = |c: &HistoricalCall| c.received_at >= cut;

    let c5 = read(options, Dataset::C5)?;
    let history = History::new(&policy, &c5, &model.density)?;
    let shipped = LinkFigures::of(&c5, &history.follow_model(&model), held_out);
    println!(
        "C5 2020: {} calls, held out from {}: {} repeats (D), {} others; shipped threshold {:.3}\n",
        c5.len(),
        cut.format("%Y-%m-%d"),
        shipped.repeats,
        shipped.others,
        model.threshold
    );
    println!("| C5 held out | recall | false links |");
    println!("|---|---:|---:|");
    row("likelihood, shipped threshold", &shipped);
    report.set("dup_recall_heldout", shipped.recall());
    report.set("dup_false_rate_heldout", shipped.false_rate());
    for threshold in CURVE {
        let mut at = model.clone();
        at.threshold = threshold;
        let figures = LinkFigures::of(&c5, &history.follow_model(&at), held_out);
        row(&format!("likelihood ≥ {threshold:.2}"), &figures);
        let key = format!("{:03}", (threshold * 100.0).round() as i64);
        report.set(
            &format!("dup_curve_recall_heldout_t{key}"),
            figures.recall(),
        );
        report.set(
            &format!("dup_curve_false_rate_heldout_t{key}"),
            figures.false_rate(),
        );
    }
    let mut baseline = None;
    for (radius_m, minutes) in RULES {
        let figures = LinkFigures::of(
            &c5,
            &history.follow_rule(radius_m, Duration::minutes(minutes)),
            held_out,
        );
        row(
            &format!("rule: nearest within {radius_m:.0} m / {minutes} min"),
            &figures,
        );
        let key = format!("{radius_m:.0}m_{minutes}min");
        report.set(&format!("dup_recall_heldout_rule_{key}"), figures.recall());
        report.set(
            &format!("dup_false_rate_heldout_rule_{key}"),
            figures.false_rate(),
        );
        if (radius_m, minutes) == (200.0, 30) {
            baseline = Some(figures);
        }
    }
    reliability(&c5, &history.follow_model(&model), held_out);

    let sf = read(options, Dataset::Sf)?;
    let sf_history = History::new(&policy, &sf, &model.density)?;
    let sf_figures = LinkFigures::of(&sf, &sf_history.follow_model(&model), |_| true);
    let sf_rule = LinkFigures::of(
        &sf,
        &sf_history.follow_rule(200.0, Duration::minutes(30)),
        |_| true,
    );
    println!(
        "\nSF April 2020 ({} calls, each its own incident): false links {} with the shipped model, \
         {} with 200 m / 30 min",
        sf.len(),
        percent(sf_figures.false_rate()),
        percent(sf_rule.false_rate())
    );
    report.set("dup_false_rate_sf", sf_figures.false_rate());
    report.set("dup_false_rate_sf_rule_200m_30min", sf_rule.false_rate());
    println!("\n(duplicates: {:.1} s)", began.elapsed().as_secs_f64());

    let recall = shipped.recall();
    let false_rate = shipped.false_rate();
    report.line(Line {
        what: "duplicates, C5 held out: recall at the shipped threshold (false links)".into(),
        ours: format!("{} ({})", percent(recall), percent(false_rate)),
        against: baseline.map_or("-".into(), |b| {
            format!(
                "200 m / 30 min: {} ({})",
                percent(b.recall()),
                percent(b.false_rate())
            )
        }),
        target: "≥ 65 % at ≤ 4 %".into(),
        met: recall
            .zip(false_rate)
            .map(|(recall, false_rate)| recall >= 0.65 && false_rate <= 0.04),
    });
    report.line(Line {
        what: "duplicates, SF April 2020: calls wrongly linked (same parameters)".into(),
        ours: percent(sf_figures.false_rate()),
        against: format!("200 m / 30 min: {}", percent(sf_rule.false_rate())),
        target: "≤ 5 %".into(),
        met: sf_figures.false_rate().map(|f| f <= 0.05),
    });
    Ok(())
}

fn read(options: &Options, dataset: Dataset) -> anyhow::Result<Vec<HistoricalCall>> {
    let path = options.data_dir.join(dataset.file_name());
    let data = data::read(dataset, &path, None)
        .with_context(|| format!("reading {} (set DISPATCH_REPLAY_DATA)", path.display()))?;
    Ok(historical_calls(&data.rows))
}

fn row(what: &str, figures: &LinkFigures) {
    println!(
        "| {what} | {} ({}/{}) | {} ({}/{}) |",
        percent(figures.recall()),
        figures.repeats_linked,
        figures.repeats,
        percent(figures.false_rate()),
        figures.others_linked,
        figures.others
    );
}

fn percent(share: Option<f64>) -> String {
    share.map_or("n/a".into(), |s| format!("{:.1} %", s * 100.0))
}

/// How often the top suggestion was right per likelihood band (a repeat counts as right whichever
/// open incident was on top, as the replay counts it): of suggestions shown as 0.8, about 80 %
/// should be.
fn reliability(
    calls: &[HistoricalCall],
    outcomes: &[Outcome],
    selected: impl Fn(&HistoricalCall) -> bool,
) {
    use dispatch_domain::duplicates::history::Truth;
    let mut bands = [(0_usize, 0_usize, 0.0_f64); 10];
    for (call, outcome) in calls.iter().zip(outcomes) {
        let (Some(p), true) = (outcome.top_likelihood, selected(call)) else {
            continue;
        };
        let band = &mut bands[((p * 10.0) as usize).min(9)];
        band.0 += 1;
        band.1 += usize::from(call.truth == Truth::Repeat(true));
        band.2 += p;
    }
    println!("\n| top likelihood (held out) | calls | mean likelihood | share repeats |");
    println!("|---|---:|---:|---:|");
    for (n, (count, right, sum)) in bands.iter().enumerate() {
        if *count > 0 {
            println!(
                "| {:.1}–{:.1} | {count} | {:.3} | {:.3} |",
                n as f64 / 10.0,
                (n + 1) as f64 / 10.0,
                sum / *count as f64,
                *right as f64 / *count as f64
            );
        }
    }
}
