//! Fits the duplicate likelihood (`likelihood::LikelihoodModel`) from calls whose outcome is known.
//!
//! Each example is one historical call with the pairs (call, open incident) the server would have
//! scored for it (built by `history`). The weights are a logistic regression (IRLS: Newton steps,
//! a k×k solve, a small ridge) with the density term as a fixed offset: its coefficient is −1, not
//! estimated (see `likelihood`).
//!
//! When the data says only *that* a call repeated an earlier report, not which one (C5's closing
//! code D), the positive is the pair the current model finds likeliest: multiple-instance EM, a few
//! rounds. When it says which incident the call taker linked the call to (a centre's own history),
//! the positives are known and one round is the fit.
//!
//! Then a 2-parameter Platt step on the top suggestion of every call, so that shown likelihoods are
//! right about as often as they say, and the hour factors of the density term from the calls per
//! UTC hour.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::call::Channel;

use super::TypeMatch;
use super::history::{History, calls_per_utc_hour};
use super::likelihood::{Calibration, LikelihoodModel, PairFeatures};

/// What the data says about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// It repeated one of its candidates, which one is not recorded (C5's D).
    OneOf,
    /// It joined candidate `n` (the incident a call taker linked it to).
    Candidate(usize),
    /// None of its candidates: a new emergency, or a call that opened nothing.
    Neither,
}

/// One call as the fit sees it: the pairs the server would have scored, and the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub pairs: Vec<PairFeatures>,
    pub label: Label,
}

/// How hard to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Multiple-instance EM rounds (only when some labels are `OneOf`).
    pub rounds: usize,
    /// Ridge added to the Newton system: keeps a weight finite when its feature separates the
    /// classes or barely varies.
    pub ridge: f64,
    pub max_iterations: usize,
    /// A channel gets its own weight only when at least this many examples came by it; the most
    /// common channel is the reference (weight 0).
    pub min_channel_examples: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            rounds: 4,
            ridge: 1e-3,
            max_iterations: 30,
            min_channel_examples: 100,
        }
    }
}

/// The fitted model and what it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub model: LikelihoodModel,
    /// Rows of the last regression (one per pair used).
    pub rows: usize,
    pub positives: usize,
    /// The weights that were estimated; the rest are kept from the base model.
    pub fitted: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no call has a candidate incident: nothing to fit")]
    NoPairs,
    #[error("no call repeated a candidate: the weights cannot be estimated without positives")]
    NoPositives,
    #[error("every pair is a repeat: the weights cannot be estimated without negatives")]
    NoNegatives,
    #[error("the regression did not converge to finite weights")]
    NotFinite,
}

/// A weight of `likelihood::Weights` the fit may estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Column {
    Bias,
    LogDistance,
    SamePoint,
    LogSinceLatestCall,
    SameType,
    CompatibleType,
    Channel(Channel),
    LogLinkedCalls,
    SameCallbackNumber,
    SameSourceDevice,
}

impl Column {
    /// The feature's value in a pair, exactly as `LikelihoodModel::linear` weighs it.
    pub fn value(self, pair: &PairFeatures) -> f64 {
        let indicator = |yes: bool| if yes { 1.0 } else { 0.0 };
        match self {
            Self::Bias => 1.0,
            Self::LogDistance => (pair.distance_m.max(0.0) + 10.0).ln(),
            Self::SamePoint => indicator(pair.distance_m < 5.0),
            Self::LogSinceLatestCall => (pair.since_latest_call_s.max(0.0) + 60.0).ln(),
            Self::SameType => indicator(pair.type_match == TypeMatch::Same),
            Self::CompatibleType => indicator(pair.type_match == TypeMatch::Compatible),
            Self::Channel(channel) => indicator(pair.channel == Some(channel)),
            Self::LogLinkedCalls => f64::from(pair.linked_call_count.max(1)).ln(),
            Self::SameCallbackNumber => indicator(pair.same_callback_number),
            Self::SameSourceDevice => indicator(pair.same_source_device),
        }
    }

    fn get(self, model: &LikelihoodModel) -> f64 {
        let w = &model.weights;
        match self {
            Self::Bias => w.bias,
            Self::LogDistance => w.log_distance,
            Self::SamePoint => w.same_point,
            Self::LogSinceLatestCall => w.log_since_latest_call,
            Self::SameType => w.same_type,
            Self::CompatibleType => w.compatible_type,
            Self::Channel(channel) => w.channel.get(&channel).copied().unwrap_or(0.0),
            Self::LogLinkedCalls => w.log_linked_calls,
            Self::SameCallbackNumber => w.same_callback_number,
            Self::SameSourceDevice => w.same_source_device,
        }
    }

    fn set(self, model: &mut LikelihoodModel, value: f64) {
        let w = &mut model.weights;
        match self {
            Self::Bias => w.bias = value,
            Self::LogDistance => w.log_distance = value,
            Self::SamePoint => w.same_point = value,
            Self::LogSinceLatestCall => w.log_since_latest_call = value,
            Self::SameType => w.same_type = value,
            Self::CompatibleType => w.compatible_type = value,
            Self::Channel(channel) => {
                w.channel.insert(channel, value);
            }
            Self::LogLinkedCalls => w.log_linked_calls = value,
            Self::SameCallbackNumber => w.same_callback_number = value,
            Self::SameSourceDevice => w.same_source_device = value,
        }
    }
}

/// The hour factors of the density term: 24 × each UTC hour's share of the calls (mean 1).
/// `None` when there are no calls.
pub fn hour_factors(calls_per_hour: &[u64; 24]) -> Option<Vec<f64>> {
    let total: u64 = calls_per_hour.iter().sum();
    (total > 0).then(|| {
        let mean = total as f64 / 24.0;
        calls_per_hour.iter().map(|&n| n as f64 / mean).collect()
    })
}

/// Fits `base`'s weights, calibration and hour factors to `examples`. What the data cannot
/// estimate is kept from `base`: the threshold, the density radius, days and floor, the callback
/// and device weights when no pair has them, the weights of rare channels.
pub fn fit(
    base: &LikelihoodModel,
    examples: &[Example],
    calls_per_hour: &[u64; 24],
    options: &FitOptions,
) -> Result<Fitted, FitError> {
    let mut model = base.clone();
    if let Some(factors) = hour_factors(calls_per_hour) {
        model.density.hour_factor = factors;
    }
    let examples: Vec<&Example> = examples.iter().filter(|e| !e.pairs.is_empty()).collect();
    if examples.is_empty() {
        return Err(FitError::NoPairs);
    }
    let columns = columns(&examples, options);
    let reference = reference_channel(&examples);
    if let Some(channel) = reference {
        Column::Channel(channel).set(&mut model, 0.0);
    }
    // Start from "nearer is likelier" and nothing else: the first E step then picks the nearest
    // candidate of a repeat.
    for &column in &columns {
        column.set(
            &mut model,
            if column == Column::LogDistance {
                -1.0
            } else {
                0.0
            },
        );
    }
    let uncertain = examples.iter().any(|e| e.label == Label::OneOf);
    let rounds = if uncertain { options.rounds.max(1) } else { 1 };
    let mut design = Design::default();
    for _ in 0..rounds {
        design = Design::default();
        for example in &examples {
            let positive = match example.label {
                Label::OneOf => Some(likeliest(&model, &example.pairs)),
                Label::Candidate(n) if n < example.pairs.len() => Some(n),
                Label::Candidate(_) | Label::Neither => None,
            };
            for (n, pair) in example.pairs.iter().enumerate() {
                let is_positive = positive == Some(n);
                // A repeat's other candidates are not known to be other emergencies.
                if example.label == Label::OneOf && !is_positive {
                    continue;
                }
                design.push(&model, &columns, pair, is_positive);
            }
        }
        if design.positives == 0 {
            return Err(FitError::NoPositives);
        }
        if design.positives == design.labels.len() {
            return Err(FitError::NoNegatives);
        }
        // Every round starts from zero, as the study did: the fit does not depend on the base.
        let start = vec![0.0; columns.len()];
        let weights = logistic_irls(
            &design.rows,
            columns.len(),
            &design.labels,
            &design.offsets,
            &start,
            options,
        )?;
        for (column, weight) in columns.iter().zip(weights) {
            column.set(&mut model, weight);
        }
    }
    model.calibration = platt(&model, &examples, options)?;
    Ok(Fitted {
        model,
        rows: design.labels.len(),
        positives: design.positives,
        fitted: columns,
    })
}

/// What a fit from historical calls was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Training {
    /// Calls before the cut.
    pub calls: usize,
    /// Of those, the calls the gate left a candidate for (the examples).
    pub with_candidates: usize,
    /// Of those, the repeats.
    pub repeats_with_candidates: usize,
}

/// Fits on the calls of `history` received before `before` (all when `None`), taken as the data
/// says (`History::examples`), the hour factors from their UTC hours.
pub fn fit_history(
    base: &LikelihoodModel,
    history: &History<'_>,
    before: Option<DateTime<Utc>>,
    options: &FitOptions,
) -> Result<(Fitted, Training), FitError> {
    let calls = history.calls();
    let training = |i: usize| before.is_none_or(|cut| calls[i].received_at < cut);
    let examples: Vec<Example> = history
        .examples()
        .into_iter()
        .filter(|&(i, _)| training(i))
        .map(|(_, example)| example)
        .collect();
    let summary = Training {
        calls: (0..calls.len()).filter(|&i| training(i)).count(),
        with_candidates: examples.len(),
        repeats_with_candidates: examples
            .iter()
            .filter(|e| !matches!(e.label, Label::Neither))
            .count(),
    };
    let hours = calls_per_utc_hour(
        calls
            .iter()
            .enumerate()
            .filter(|&(i, _)| training(i))
            .map(|(_, c)| c),
    );
    Ok((fit(base, &examples, &hours, options)?, summary))
}

/// The index of the pair the model finds likeliest (the first of equals).
fn likeliest(model: &LikelihoodModel, pairs: &[PairFeatures]) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (n, pair) in pairs.iter().enumerate() {
        let z = model.log_odds(pair);
        if z > best.1 {
            best = (n, z);
        }
    }
    best.0
}

/// The most common channel of the new calls: the reference the others are measured against.
fn reference_channel(examples: &[&Example]) -> Option<Channel> {
    let mut counts: BTreeMap<Channel, usize> = BTreeMap::new();
    for example in examples {
        if let Some(channel) = example.pairs[0].channel {
            *counts.entry(channel).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|&(channel, n)| (n, std::cmp::Reverse(channel)))
        .map(|(channel, _)| channel)
}

/// The weights the data can estimate: a 0/1 feature only when the pairs have both values, and the
/// type weights so that they are not collinear with the bias.
fn columns(examples: &[&Example], options: &FitOptions) -> Vec<Column> {
    let pairs = || examples.iter().flat_map(|e| e.pairs.iter());
    let varies = |column: Column| {
        let mut seen = [false; 2];
        for pair in pairs() {
            seen[usize::from(column.value(pair) > 0.5)] = true;
        }
        seen[0] && seen[1]
    };
    let mut columns = vec![
        Column::Bias,
        Column::LogDistance,
        Column::LogSinceLatestCall,
        Column::LogLinkedCalls,
    ];
    for column in [
        Column::SamePoint,
        Column::SameCallbackNumber,
        Column::SameSourceDevice,
    ] {
        if varies(column) {
            columns.push(column);
        }
    }
    // Same and compatible are measured against "type not known"; when every pair is one or the
    // other (C5: all road types form one group), compatible is the reference and same is fitted
    // against it.
    let unknown_types = pairs().any(|p| p.type_match == TypeMatch::Unknown);
    if varies(Column::SameType) || unknown_types {
        columns.push(Column::SameType);
    }
    if unknown_types && varies(Column::CompatibleType) {
        columns.push(Column::CompatibleType);
    }
    let reference = reference_channel(examples);
    let mut counts: BTreeMap<Channel, usize> = BTreeMap::new();
    for example in examples {
        if let Some(channel) = example.pairs[0].channel {
            *counts.entry(channel).or_default() += 1;
        }
    }
    for (channel, n) in counts {
        if Some(channel) != reference && n >= options.min_channel_examples {
            columns.push(Column::Channel(channel));
        }
    }
    columns.sort();
    columns
}

/// The rows of one regression: features of the fitted columns, the fixed part of the log-odds
/// (density offset and the weights kept from the base model), and the labels.
#[derive(Debug, Default)]
struct Design {
    rows: Vec<f64>,
    offsets: Vec<f64>,
    labels: Vec<f64>,
    positives: usize,
}

impl Design {
    fn push(
        &mut self,
        model: &LikelihoodModel,
        columns: &[Column],
        pair: &PairFeatures,
        positive: bool,
    ) {
        let fitted: f64 = columns.iter().map(|c| c.get(model) * c.value(pair)).sum();
        self.offsets.push(model.log_odds(pair) - fitted);
        self.rows.extend(columns.iter().map(|c| c.value(pair)));
        self.labels.push(if positive { 1.0 } else { 0.0 });
        self.positives += usize::from(positive);
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Logistic regression by Newton's method (iteratively reweighted least squares): `rows` is
/// n × k row-major, `offsets` a fixed term per row, a ridge on every weight. Stops when the
/// largest step is below 1e-8 or after `max_iterations`.
pub fn logistic_irls(
    rows: &[f64],
    k: usize,
    labels: &[f64],
    offsets: &[f64],
    start: &[f64],
    options: &FitOptions,
) -> Result<Vec<f64>, FitError> {
    let loss = |w: &[f64]| -> f64 {
        let mut total = 0.5 * options.ridge * w.iter().map(|v| v * v).sum::<f64>();
        for ((x, &y), &offset) in rows.chunks_exact(k).zip(labels).zip(offsets) {
            let z: f64 = offset + x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
            // −log-likelihood, written so that large |z| neither overflows nor loses digits.
            total += z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z;
        }
        total
    };
    let mut w = start.to_vec();
    let mut current = loss(&w);
    for _ in 0..options.max_iterations {
        let mut hessian = vec![0.0; k * k];
        let mut gradient = vec![0.0; k];
        for ((x, &y), &offset) in rows.chunks_exact(k).zip(labels).zip(offsets) {
            let z: f64 = offset + x.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>();
            let p = sigmoid(z);
            let weight = p * (1.0 - p) + 1e-9;
            for i in 0..k {
                gradient[i] += x[i] * (p - y);
                for j in 0..=i {
                    hessian[i * k + j] += weight * x[i] * x[j];
                }
            }
        }
        for i in 0..k {
            gradient[i] += options.ridge * w[i];
            hessian[i * k + i] += options.ridge;
            for j in 0..i {
                hessian[j * k + i] = hessian[i * k + j];
            }
        }
        let mut step = solve(hessian, gradient, k).ok_or(FitError::NotFinite)?;
        // Newton overshoots far from the optimum (every probability near 0 or 1): halve the
        // step until the loss goes down.
        let mut next: Vec<f64>;
        let mut halvings = 0;
        loop {
            next = w.iter().zip(&step).map(|(a, s)| a - s).collect();
            let value = loss(&next);
            if value <= current || halvings == 40 {
                current = value;
                break;
            }
            step.iter_mut().for_each(|s| *s /= 2.0);
            halvings += 1;
        }
        let largest = step.iter().fold(0.0_f64, |m, s| m.max(s.abs()));
        w = next;
        if w.iter().any(|v| !v.is_finite()) {
            return Err(FitError::NotFinite);
        }
        if largest < 1e-8 {
            break;
        }
    }
    Ok(w)
}

/// Solves `a x = b` (a is k × k, row-major) by Gaussian elimination with partial pivoting;
/// `None` when `a` is singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, k: usize) -> Option<Vec<f64>> {
    for col in 0..k {
        let pivot =
            (col..k).max_by(|&r, &s| a[r * k + col].abs().total_cmp(&a[s * k + col].abs()))?;
        if a[pivot * k + col].abs() < 1e-300 {
            return None;
        }
        if pivot != col {
            for j in 0..k {
                a.swap(pivot * k + j, col * k + j);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..k {
            let factor = a[row * k + col] / a[col * k + col];
            if factor == 0.0 {
                continue;
            }
            for j in col..k {
                a[row * k + j] -= factor * a[col * k + j];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; k];
    for row in (0..k).rev() {
        let rest: f64 = (row + 1..k).map(|j| a[row * k + j] * x[j]).sum();
        x[row] = (b[row] - rest) / a[row * k + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Platt scaling on the top suggestion of every example: right when the call repeated it (a
/// `OneOf` call counts as right whichever candidate is top, as the replay counts it).
fn platt(
    model: &LikelihoodModel,
    examples: &[&Example],
    options: &FitOptions,
) -> Result<Calibration, FitError> {
    let mut rows = Vec::with_capacity(examples.len() * 2);
    let mut labels = Vec::with_capacity(examples.len());
    for example in examples {
        let top = likeliest(model, &example.pairs);
        let right = match example.label {
            Label::OneOf => true,
            Label::Candidate(n) => n == top,
            Label::Neither => false,
        };
        rows.extend([1.0, model.log_odds(&example.pairs[top])]);
        labels.push(if right { 1.0 } else { 0.0 });
    }
    let offsets = vec![0.0; labels.len()];
    let w = logistic_irls(&rows, 2, &labels, &offsets, &[0.0, 1.0], options)?;
    Ok(Calibration {
        intercept: w[0],
        slope: w[1],
    })
}

#[cfg(test)]
mod tests {
    use super::super::likelihood::{Density, Weights};
    use super::*;

    /// splitmix64: a reproducible stream for synthetic data.
    struct Stream(u64);

    impl Stream {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn model() -> LikelihoodModel {
        LikelihoodModel {
            weights: Weights {
                bias: 8.0,
                log_distance: -0.8,
                same_point: -0.8,
                log_since_latest_call: -0.5,
                same_type: 0.5,
                compatible_type: 0.0,
                channel: BTreeMap::from([(Channel::Voice911, 0.0), (Channel::Radio, -1.7)]),
                log_linked_calls: 1.0,
                same_callback_number: 2.0,
                same_source_device: 1.5,
            },
            calibration: Calibration {
                intercept: 0.0,
                slope: 1.0,
            },
            density: Density {
                radius_m: 1000.0,
                days: 7,
                floor_per_day: 0.5,
                hour_factor: vec![1.0; 24],
            },
            threshold: 0.75,
            fitted_on: String::new(),
        }
    }

    fn random_pair(stream: &mut Stream, channel: Channel) -> PairFeatures {
        let distance_m = if stream.unit() < 0.05 {
            0.0
        } else {
            (stream.unit() * 2000.0_f64.ln()).exp()
        };
        PairFeatures {
            distance_m,
            since_latest_call_s: stream.unit() * 7200.0,
            type_match: if stream.unit() < 0.4 {
                TypeMatch::Same
            } else {
                TypeMatch::Compatible
            },
            channel: Some(channel),
            linked_call_count: 1 + (stream.unit() * 4.0) as i32,
            same_callback_number: false,
            same_source_device: false,
            local_calls_per_day: stream.unit() * 20.0,
            hour: (stream.unit() * 24.0) as u32 % 24,
        }
    }

    fn channel(stream: &mut Stream) -> Channel {
        if stream.unit() < 0.2 {
            Channel::Radio
        } else {
            Channel::Voice911
        }
    }

    fn assert_recovers(fitted: &LikelihoodModel, truth: &LikelihoodModel, tolerance: f64) {
        let (f, t) = (&fitted.weights, &truth.weights);
        for (name, got, want) in [
            ("log_distance", f.log_distance, t.log_distance),
            ("same_point", f.same_point, t.same_point),
            (
                "log_since",
                f.log_since_latest_call,
                t.log_since_latest_call,
            ),
            ("same_type", f.same_type, t.same_type),
            (
                "radio",
                f.channel[&Channel::Radio],
                t.channel[&Channel::Radio],
            ),
            ("log_linked", f.log_linked_calls, t.log_linked_calls),
        ] {
            assert!(
                (got - want).abs() < tolerance,
                "{name}: fitted {got:.3}, true {want:.3}"
            );
        }
        assert!(
            (f.bias - t.bias).abs() < 4.0 * tolerance,
            "bias: fitted {:.3}, true {:.3}",
            f.bias,
            t.bias
        );
    }

    #[test]
    fn known_positives_recover_the_weights() {
        let truth = model();
        let mut stream = Stream(18);
        let mut examples = Vec::new();
        for _ in 0..30_000 {
            let channel = channel(&mut stream);
            let pair = random_pair(&mut stream, channel);
            let repeat = stream.unit() < sigmoid(truth.log_odds(&pair));
            examples.push(Example {
                pairs: vec![pair],
                label: if repeat {
                    Label::Candidate(0)
                } else {
                    Label::Neither
                },
            });
        }
        let mut base = model();
        base.weights.bias = 0.0;
        base.weights.log_since_latest_call = 0.0;
        let fitted = fit(&base, &examples, &[10; 24], &FitOptions::default()).expect("a fit");
        assert_recovers(&fitted.model, &truth, 0.12);
        // The callback and device weights had no data: kept from the base model.
        assert_eq!(fitted.model.weights.same_callback_number, 2.0);
        assert!(!fitted.fitted.contains(&Column::SameCallbackNumber));
        // The model was right about itself, so the calibration is close to none.
        let c = fitted.model.calibration;
        assert!(c.slope > 0.8 && c.slope < 1.2, "{c:?}");
    }

    #[test]
    fn unrecorded_positives_are_found_by_em() {
        // A repeat's true incident hides among far, old decoys that EM must learn to pass over.
        let truth = model();
        let mut stream = Stream(7);
        let mut examples = Vec::new();
        for _ in 0..30_000 {
            let channel = channel(&mut stream);
            let pair = random_pair(&mut stream, channel);
            let repeat = stream.unit() < sigmoid(truth.log_odds(&pair));
            let mut pairs = vec![pair.clone()];
            for _ in 0..(stream.unit() * 3.0) as usize {
                let mut decoy = pair.clone();
                // Far enough that the true model gives them almost no chance (a decoy the
                // generator never makes a repeat must not be one the model would).
                decoy.distance_m = 20_000.0 + stream.unit() * 20_000.0;
                decoy.since_latest_call_s = 5000.0 + stream.unit() * 2000.0;
                decoy.linked_call_count = 1;
                pairs.push(decoy);
            }
            let at = (stream.unit() * pairs.len() as f64) as usize % pairs.len();
            pairs.swap(0, at);
            examples.push(Example {
                pairs,
                label: if repeat { Label::OneOf } else { Label::Neither },
            });
        }
        // Negatives of non-repeats: their decoys count as negatives too, which is what the data
        // gives (every candidate of a new emergency is another one).
        let fitted = fit(&model(), &examples, &[10; 24], &FitOptions::default()).expect("a fit");
        assert_recovers(&fitted.model, &truth, 0.2);
    }

    #[test]
    fn hour_factors_have_mean_one() {
        let mut counts = [0; 24];
        counts[3] = 1;
        counts[18] = 5;
        let factors = hour_factors(&counts).expect("calls");
        assert_eq!(factors.len(), 24);
        assert!((factors.iter().sum::<f64>() - 24.0).abs() < 1e-12);
        assert!((factors[18] - 20.0).abs() < 1e-12);
        assert_eq!(hour_factors(&[0; 24]), None);
    }

    #[test]
    fn columns_weigh_pairs_as_the_model_does() {
        let model = model();
        let mut stream = Stream(3);
        let columns = [
            Column::Bias,
            Column::LogDistance,
            Column::SamePoint,
            Column::LogSinceLatestCall,
            Column::SameType,
            Column::CompatibleType,
            Column::Channel(Channel::Radio),
            Column::Channel(Channel::Voice911),
            Column::LogLinkedCalls,
            Column::SameCallbackNumber,
            Column::SameSourceDevice,
        ];
        for _ in 0..50 {
            let channel = channel(&mut stream);
            let mut pair = random_pair(&mut stream, channel);
            pair.same_callback_number = stream.unit() < 0.5;
            let by_columns: f64 = columns.iter().map(|c| c.get(&model) * c.value(&pair)).sum();
            assert!((by_columns - model.linear(&pair)).abs() < 1e-9);
        }
    }

    #[test]
    fn without_repeats_there_is_nothing_to_fit() {
        let mut stream = Stream(1);
        let examples = vec![Example {
            pairs: vec![random_pair(&mut stream, Channel::Voice911)],
            label: Label::Neither,
        }];
        assert_eq!(
            fit(&model(), &examples, &[1; 24], &FitOptions::default()),
            Err(FitError::NoPositives)
        );
        assert_eq!(
            fit(&model(), &[], &[1; 24], &FitOptions::default()),
            Err(FitError::NoPairs)
        );
    }

    #[test]
    fn solve_handles_pivoting() {
        let x = solve(vec![0.0, 2.0, 3.0, 1.0], vec![4.0, 5.0], 2).expect("regular");
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12);
        assert_eq!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 1.0], 2), None);
    }
}
