//! How likely a call is to report an open incident again: a logistic model over what is known at
//! intake, its parameters data (`catalogue/duplicate_model.toml`), fitted by `dispatchctl fit
//! duplicates` from a centre's history.
//!
//! The log-odds are a linear function of the pair's features plus a fixed offset,
//! `−ln(local call rate × hour factor + floor)`: how often unrelated emergencies fall this close
//! here at this hour. The offset is what lets parameters fitted in one city hold in a denser one
//! (fitted on C5, it keeps San Francisco's false links under 1 %; without it they are 10–22 %).
//! Its coefficient is fixed at −1 (a likelihood ratio against a Poisson background): C5's range of
//! densities is too narrow to estimate it.

use std::collections::BTreeMap;

use crate::call::Channel;

/// The log-odds weights of one pair (call, open incident).
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub bias: f64,
    /// Times `ln(distance_m + 10)`.
    pub log_distance: f64,
    /// When the two points are within 5 m of each other (a geocoded landmark or block centre is
    /// shared by unrelated reports, so this is usually negative given the distance term).
    pub same_point: f64,
    /// Times `ln(max(0, seconds since the incident's latest call) + 60)`.
    pub log_since_latest_call: f64,
    /// Both reports have the same type.
    pub same_type: f64,
    /// The types differ but are compatible (one emergency, escalated).
    pub compatible_type: f64,
    /// Per channel of the new call; a channel not listed weighs 0.
    pub channel: BTreeMap<Channel, f64>,
    /// Times `ln(calls already linked to the incident)` (at least 1).
    pub log_linked_calls: f64,
    /// The same callback number already called about the incident. C5's data has no numbers, so
    /// the shipped value is a prior that only a fit on the centre's own history changes.
    pub same_callback_number: f64,
    /// The same device (camera, panic button, app install) already reported the incident. A prior
    /// too, as above.
    pub same_source_device: f64,
}

/// Platt scaling: the probability shown is `σ(intercept + slope × log-odds)`, fitted on the
/// training period's top suggestions so that of suggestions shown as 0.8 about 80 % are right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub intercept: f64,
    pub slope: f64,
}

/// How the local call rate of the offset is counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Density {
    /// Calls within this many metres of the new call count.
    pub radius_m: f64,
    /// Over this many days before it (fewer while the history is shorter).
    pub days: u32,
    /// Calls per day added to the rate so that an empty history does not make every neighbour a
    /// certain duplicate.
    pub floor_per_day: f64,
    /// The share of calls in each UTC hour × 24 (mean 1): the rate at 4 a.m. is not the rate at
    /// 6 p.m. Exactly 24 entries.
    pub hour_factor: Vec<f64>,
}

/// The duplicate likelihood model, as read from its parameter file.
#[derive(Debug, Clone, PartialEq)]
pub struct LikelihoodModel {
    pub weights: Weights,
    pub calibration: Calibration,
    pub density: Density,
    /// Candidates less likely than this (calibrated, 0–1) are not suggested.
    pub threshold: f64,
    /// Where the numbers came from (data file, period, call counts), for a reader of the file;
    /// empty when unknown.
    pub fitted_on: String,
}

/// What the model sees of one pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairFeatures {
    pub distance_m: f64,
    /// From the incident's latest call to the new call; a back-entered call counts as 0.
    pub since_latest_call_s: f64,
    pub type_match: super::TypeMatch,
    pub channel: Option<Channel>,
    pub linked_call_count: i32,
    pub same_callback_number: bool,
    pub same_source_device: bool,
    /// Calls per day within `density.radius_m` of the new call (see `Density`).
    pub local_calls_per_day: f64,
    /// UTC hour of the new call, 0–23.
    pub hour: u32,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl LikelihoodModel {
    /// The fitted log-odds before calibration, offset included.
    pub fn log_odds(&self, pair: &PairFeatures) -> f64 {
        self.linear(pair) + self.offset(pair.local_calls_per_day, pair.hour)
    }

    /// The linear part: the features times the weights (what a fit estimates).
    pub fn linear(&self, pair: &PairFeatures) -> f64 {
        let w = &self.weights;
        let indicator = |yes: bool| if yes { 1.0 } else { 0.0 };
        let mut z = w.bias
            + w.log_distance * (pair.distance_m.max(0.0) + 10.0).ln()
            + w.same_point * indicator(pair.distance_m < 5.0)
            + w.log_since_latest_call * (pair.since_latest_call_s.max(0.0) + 60.0).ln()
            + w.log_linked_calls * f64::from(pair.linked_call_count.max(1)).ln()
            + w.same_callback_number * indicator(pair.same_callback_number)
            + w.same_source_device * indicator(pair.same_source_device);
        z += match pair.type_match {
            super::TypeMatch::Same => w.same_type,
            super::TypeMatch::Compatible => w.compatible_type,
            super::TypeMatch::Unknown | super::TypeMatch::Incompatible => 0.0,
        };
        if let Some(channel) = pair.channel {
            z += w.channel.get(&channel).copied().unwrap_or(0.0);
        }
        z
    }

    /// The fixed density term: `−ln(rate × hour factor + floor)`.
    pub fn offset(&self, local_calls_per_day: f64, hour: u32) -> f64 {
        let factor = self
            .density
            .hour_factor
            .get(hour as usize)
            .copied()
            .unwrap_or(1.0);
        -(local_calls_per_day.max(0.0) * factor + self.density.floor_per_day).ln()
    }

    /// The calibrated probability, 0–1, that the pair is one emergency.
    pub fn likelihood(&self, pair: &PairFeatures) -> f64 {
        let c = self.calibration;
        sigmoid(c.intercept + c.slope * self.log_odds(pair))
    }
}
