//! The duplicate likelihood model's parameter file (`catalogue/duplicate_model.toml`): reading it
//! with every bad entry named by its path, and writing it back (`dispatchctl fit duplicates`).
//!
//! Walked by hand like the incident type catalogue (`triage::load`), so that a misspelt weight, a
//! wrong type or a 23-entry hour factor is reported with where it is, all of them at once.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use toml::{Table, Value};

use super::likelihood::{Calibration, Density, LikelihoodModel, Weights};
use crate::call::Channel;
use crate::triage::{Fields, Problem, Problems, expected};

/// The parameter file format this build reads and writes.
pub const FORMAT: i64 = 1;
const HOURS: usize = 24;
const MAX_FITTED_ON_CHARS: usize = 2_000;

/// Why a parameter file was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsError {
    problems: Vec<Problem>,
}

impl ParamsError {
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "invalid duplicate likelihood model ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParamsError {}

/// A required finite number; `None` when missing or bad (and reported).
fn number(p: &mut Problems, fields: &Fields<'_>, key: &str) -> Option<f64> {
    fields.value(p, key, true)?;
    fields.number(p, key)
}

/// A required number greater than zero.
fn positive(p: &mut Problems, fields: &Fields<'_>, key: &str) -> Option<f64> {
    let value = number(p, fields, key)?;
    if value <= 0.0 {
        p.add(
            fields.at(key),
            format!("must be greater than 0, got {value}"),
        );
    }
    Some(value)
}

/// A required sub-table, opened with its known fields.
fn section<'a>(
    p: &mut Problems,
    parent: &Fields<'a>,
    key: &str,
    known: &[&str],
    required: bool,
) -> Option<Fields<'a>> {
    match parent.value(p, key, required)? {
        Value::Table(table) => Some(Fields::open(p, parent.at(key), table, known)),
        other => {
            p.add(parent.at(key), expected("a table", other));
            None
        }
    }
}

const WEIGHT_KEYS: &[&str] = &[
    "bias",
    "log_distance",
    "same_point",
    "log_since_latest_call",
    "same_type",
    "compatible_type",
    "log_linked_calls",
    "same_callback_number",
    "same_source_device",
    "channel",
];

fn parse_weights(p: &mut Problems, root: &Fields<'_>) -> Weights {
    let mut weights = Weights {
        bias: 0.0,
        log_distance: 0.0,
        same_point: 0.0,
        log_since_latest_call: 0.0,
        same_type: 0.0,
        compatible_type: 0.0,
        channel: BTreeMap::new(),
        log_linked_calls: 0.0,
        same_callback_number: 0.0,
        same_source_device: 0.0,
    };
    let Some(fields) = section(p, root, "weights", WEIGHT_KEYS, true) else {
        return weights;
    };
    weights.bias = number(p, &fields, "bias").unwrap_or_default();
    weights.log_distance = number(p, &fields, "log_distance").unwrap_or_default();
    weights.same_point = number(p, &fields, "same_point").unwrap_or_default();
    weights.log_since_latest_call = number(p, &fields, "log_since_latest_call").unwrap_or_default();
    weights.same_type = number(p, &fields, "same_type").unwrap_or_default();
    weights.compatible_type = number(p, &fields, "compatible_type").unwrap_or_default();
    weights.log_linked_calls = number(p, &fields, "log_linked_calls").unwrap_or_default();
    weights.same_callback_number = number(p, &fields, "same_callback_number").unwrap_or_default();
    weights.same_source_device = number(p, &fields, "same_source_device").unwrap_or_default();
    let channel_names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    if let Some(channels) = section(p, &fields, "channel", &channel_names, false) {
        for name in channels.table.keys() {
            if let Some(channel) = Channel::parse(name)
                && let Some(weight) = channels.number(p, name)
            {
                weights.channel.insert(channel, weight);
            }
        }
    }
    weights
}

fn parse_calibration(p: &mut Problems, root: &Fields<'_>) -> Calibration {
    let mut calibration = Calibration {
        intercept: 0.0,
        slope: 1.0,
    };
    if let Some(fields) = section(p, root, "calibration", &["intercept", "slope"], true) {
        calibration.intercept = number(p, &fields, "intercept").unwrap_or_default();
        // A negative slope would rank the least likely first.
        calibration.slope = positive(p, &fields, "slope").unwrap_or(1.0);
    }
    calibration
}

fn parse_density(p: &mut Problems, root: &Fields<'_>) -> Density {
    let mut density = Density {
        radius_m: 0.0,
        days: 0,
        floor_per_day: 0.0,
        hour_factor: Vec::new(),
    };
    let known = ["radius_m", "days", "floor_per_day", "hour_factor"];
    let Some(fields) = section(p, root, "density", &known, true) else {
        return density;
    };
    density.radius_m = positive(p, &fields, "radius_m").unwrap_or_default();
    if let Some(days) = fields.integer(p, "days", true) {
        match u32::try_from(days) {
            Ok(days) if days > 0 => density.days = days,
            _ => p.add(
                fields.at("days"),
                format!("must be a whole number of days greater than 0, got {days}"),
            ),
        }
    }
    // Without a floor, a call in an area with no history would make every neighbour certain.
    density.floor_per_day = positive(p, &fields, "floor_per_day").unwrap_or_default();
    let factors = fields.elements(p, "hour_factor", true, "a number", |item| match item {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    });
    if let Some(items) = fields.table.get("hour_factor").and_then(Value::as_array)
        && items.len() != HOURS
    {
        p.add(
            fields.at("hour_factor"),
            format!(
                "must have exactly {HOURS} entries (UTC hours 0 to 23), got {}",
                items.len()
            ),
        );
    }
    for (i, factor) in factors {
        if !(factor.is_finite() && factor > 0.0) {
            p.add(
                format!("{}[{i}]", fields.at("hour_factor")),
                format!("must be a finite number greater than 0, got {factor}"),
            );
        }
        density.hour_factor.push(factor);
    }
    density
}

impl LikelihoodModel {
    /// Parses and validates a parameter file; the error names every bad entry.
    pub fn from_toml(text: &str) -> Result<Self, ParamsError> {
        let root: Table = toml::from_str(text).map_err(|error| ParamsError {
            problems: vec![Problem {
                path: String::new(),
                message: format!("not valid TOML: {error}"),
            }],
        })?;
        let mut p = Problems::default();
        let root = Fields::open(
            &mut p,
            String::new(),
            &root,
            &[
                "format",
                "fitted_on",
                "threshold",
                "weights",
                "calibration",
                "density",
            ],
        );
        if let Some(format) = root.integer(&mut p, "format", true)
            && format != FORMAT
        {
            p.add(
                "format",
                format!("unsupported format {format}: this build reads format {FORMAT}"),
            );
        }
        let fitted_on = root
            .string(&mut p, "fitted_on", false)
            .unwrap_or_default()
            .to_owned();
        if fitted_on.chars().count() > MAX_FITTED_ON_CHARS {
            p.add(
                "fitted_on",
                format!("at most {MAX_FITTED_ON_CHARS} characters"),
            );
        }
        let threshold = number(&mut p, &root, "threshold");
        if let Some(threshold) = threshold
            && !(threshold > 0.0 && threshold < 1.0)
        {
            p.add(
                "threshold",
                format!("must be a probability strictly between 0 and 1, got {threshold}"),
            );
        }
        let weights = parse_weights(&mut p, &root);
        let calibration = parse_calibration(&mut p, &root);
        let density = parse_density(&mut p, &root);
        if !p.0.is_empty() {
            return Err(ParamsError { problems: p.0 });
        }
        Ok(Self {
            weights,
            calibration,
            density,
            threshold: threshold.unwrap_or_default(),
            fitted_on,
        })
    }

    /// The parameter file's text; `from_toml` reads it back to an equal model.
    pub fn to_toml(&self) -> String {
        // `{:?}` prints the shortest text that reads back to the same f64.
        let mut out = String::new();
        let w = &self.weights;
        let c = &self.calibration;
        let d = &self.density;
        let _ = write!(
            out,
            "# The duplicate likelihood model: the probability that a new call reports an open
# incident again. See crates/dispatch-domain/src/duplicates/likelihood.rs for the formula and
# `dispatchctl fit duplicates` for how the numbers are fitted.
format = {FORMAT}
# Where the numbers came from.
fitted_on = {fitted_on}
# Candidates whose calibrated likelihood is below this are not suggested.
threshold = {threshold:?}

# Log-odds weights of one pair (call, open incident).
[weights]
bias = {bias:?}
# times ln(distance in metres + 10)
log_distance = {log_distance:?}
# the two points within 5 m of each other
same_point = {same_point:?}
# times ln(seconds since the incident's latest call + 60)
log_since_latest_call = {log_since:?}
same_type = {same_type:?}
compatible_type = {compatible_type:?}
# times ln(calls already linked to the incident)
log_linked_calls = {log_linked:?}
# priors unless fitted on a centre's own history (C5's data has no numbers or devices)
same_callback_number = {same_callback:?}
same_source_device = {same_device:?}

# Per channel of the new call; a channel not listed weighs 0.
[weights.channel]
",
            fitted_on = Value::String(self.fitted_on.clone()),
            threshold = self.threshold,
            bias = w.bias,
            log_distance = w.log_distance,
            same_point = w.same_point,
            log_since = w.log_since_latest_call,
            same_type = w.same_type,
            compatible_type = w.compatible_type,
            log_linked = w.log_linked_calls,
            same_callback = w.same_callback_number,
            same_device = w.same_source_device,
        );
        for (channel, weight) in &w.channel {
            let _ = writeln!(out, "{channel} = {weight:?}");
        }
        let hour_factor: Vec<String> = d.hour_factor.iter().map(|f| format!("{f:?}")).collect();
        let _ = write!(
            out,
            "
# Platt scaling: likelihood = sigmoid(intercept + slope * log-odds).
[calibration]
intercept = {intercept:?}
slope = {slope:?}

# The fixed offset -ln(local calls per day * hour_factor[UTC hour] + floor_per_day), the local
# rate counting the calls within radius_m over the days before the call.
[density]
radius_m = {radius:?}
days = {days}
floor_per_day = {floor:?}
# UTC hours 0 to 23, mean 1.
hour_factor = [{hours}]
",
            intercept = c.intercept,
            slope = c.slope,
            radius = d.radius_m,
            days = d.days,
            floor = d.floor_per_day,
            hours = hour_factor.join(", "),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../../catalogue/duplicate_model.toml");

    #[test]
    fn the_shipped_file_is_valid_and_round_trips() {
        let model = LikelihoodModel::from_toml(SHIPPED).unwrap();
        assert_eq!(model.density.hour_factor.len(), 24);
        assert!(model.threshold > 0.5 && model.threshold < 1.0);
        assert!(!model.fitted_on.is_empty());
        let text = model.to_toml();
        assert_eq!(LikelihoodModel::from_toml(&text).unwrap(), model, "{text}");
    }

    #[test]
    fn awkward_values_round_trip() {
        let mut model = LikelihoodModel::from_toml(SHIPPED).unwrap();
        model.fitted_on = "a \"quoted\" line\nand another\\".into();
        model.weights.bias = 1.0 / 3.0;
        model.weights.channel.clear();
        model.density.hour_factor[7] = 1e-9;
        model.threshold = 0.1 + 0.2;
        let text = model.to_toml();
        assert_eq!(LikelihoodModel::from_toml(&text).unwrap(), model, "{text}");
    }

    #[test]
    fn every_bad_entry_is_named_with_its_path() {
        let text = r#"
format = 2
threshold = 1.0
colour = "blue"

[weights]
bias = "high"
log_distance = -0.8
same_point = nan
log_since_latest_call = -0.47
same_type = 0.5
log_linked_calls = 1.0
same_callback_number = 2.0
same_source_device = 2.0
speed = 3.0

[weights.channel]
radio = -1.7
carrier_pigeon = 1.0
camera = "x"

[calibration]
intercept = 0.3
slope = -1.0

[density]
radius_m = 0
days = -7
floor_per_day = inf
hour_factor = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1]
"#;
        let error = LikelihoodModel::from_toml(text).unwrap_err();
        let paths: Vec<&str> = error.problems().iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "format",
            "threshold",
            "colour",
            "weights.bias",
            "weights.same_point",
            "weights.compatible_type",
            "weights.speed",
            "weights.channel.carrier_pigeon",
            "weights.channel.camera",
            "calibration.slope",
            "density.radius_m",
            "density.days",
            "density.floor_per_day",
            "density.hour_factor",
            "density.hour_factor[22]",
        ] {
            assert!(paths.contains(&expected), "{expected} not in {error}");
        }
        assert_eq!(paths.len(), 15, "{error}");
        let message = error.to_string();
        assert!(message.contains("15 problems"), "{message}");
        assert!(message.contains("exactly 24 entries"), "{message}");
        assert!(message.contains("expected one of"), "{message}");
    }

    #[test]
    fn missing_sections_and_broken_syntax() {
        let error = LikelihoodModel::from_toml("format = 1\n").unwrap_err();
        let paths: Vec<&str> = error.problems().iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["threshold", "weights", "calibration", "density"]);
        let error = LikelihoodModel::from_toml("format = [").unwrap_err();
        assert!(error.to_string().contains("not valid TOML"), "{error}");
    }
}
