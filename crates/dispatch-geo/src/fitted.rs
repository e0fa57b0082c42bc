//! Travel times learned from a centre's own history (`catalogue/travel_model.toml`).
//!
//! Per unit type, the time to reach a point `d` km away (great-circle) is `a + b·d^c`, and a
//! unit leaving its quarters first needs its turnout (crew to the vehicle), one median for the
//! day and one for the night. The form and the fit (L1 by iteratively reweighted least squares,
//! `c` picked by the training median error) are those the offline study of issue 18 found best:
//! the street network's detours grow slower than distance, and a least-squares fit is dragged
//! up by the long tail of slow runs.
//!
//! Types without enough history fall back to the great-circle model. No ETA is ever shorter than
//! `d / max_speed`, so the engine's early stop stays exact whatever the fitted curve does far out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use chrono::{DateTime, TimeDelta, Timelike as _, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use toml::{Table, Value};

use crate::travel::{GreatCircleTravel, TravelModel, TravelSource, seconds};

/// The file format this build reads.
pub const FORMAT_VERSION: i64 = 1;

/// What a unit type's history says.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeFit {
    /// Seconds at zero distance.
    pub a_s: f64,
    /// Seconds per km^c.
    pub b_s: f64,
    /// Exponent of the distance in km.
    pub c: f64,
    /// Dispatch to en route from quarters, seconds, outside the night hours.
    pub turnout_day_s: f64,
    /// The same during the night hours.
    pub turnout_night_s: f64,
    /// Runs the fit used (for people reading the file).
    pub runs: u64,
}

impl TypeFit {
    /// `a + b·d_km^c`, seconds, not below zero.
    pub fn travel_s(&self, straight_line_m: f64) -> f64 {
        (self.a_s + self.b_s * (straight_line_m.max(0.0) / 1_000.0).powf(self.c)).max(0.0)
    }
}

/// Travel times per unit type from history, the great-circle model for the other types.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedTravel {
    /// Where the numbers come from (the command and data that fitted them).
    pub provenance: String,
    /// Hours of the day (UTC: the domain has no time zones) whose turnout is the night one.
    pub night_hours_utc: BTreeSet<u32>,
    /// No fitted type covers the straight line faster than this, m/s.
    pub max_speed_mps: f64,
    pub types: BTreeMap<UnitType, TypeFit>,
    /// For the types not in `types`.
    pub fallback: GreatCircleTravel,
}

impl FittedTravel {
    pub fn is_night(&self, at: DateTime<Utc>) -> bool {
        self.night_hours_utc.contains(&at.hour())
    }
}

impl TravelModel for FittedTravel {
    fn eta(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> TimeDelta {
        match self.types.get(&unit_type) {
            Some(fit) => seconds(
                fit.travel_s(straight_line_m)
                    .max(straight_line_m / self.max_speed_mps),
            ),
            None => self.fallback.eta(from, to, straight_line_m, unit_type),
        }
    }

    fn estimate(
        &self,
        from: GeoPoint,
        to: GeoPoint,
        straight_line_m: f64,
        unit_type: UnitType,
    ) -> (TimeDelta, TravelSource) {
        let source = if self.types.contains_key(&unit_type) {
            TravelSource::Fitted
        } else {
            TravelSource::StraightLine
        };
        (self.eta(from, to, straight_line_m, unit_type), source)
    }

    fn max_speed_mps(&self) -> f64 {
        UnitType::ALL
            .iter()
            .map(|&unit_type| self.max_speed_mps_of(unit_type))
            .fold(0.0, f64::max)
    }

    fn max_speed_mps_of(&self, unit_type: UnitType) -> f64 {
        if self.types.contains_key(&unit_type) {
            self.max_speed_mps
        } else {
            self.fallback.max_speed_mps_of(unit_type)
        }
    }

    fn turnout(&self, unit_type: UnitType, at: DateTime<Utc>) -> TimeDelta {
        match self.types.get(&unit_type) {
            Some(fit) if self.is_night(at) => seconds(fit.turnout_night_s),
            Some(fit) => seconds(fit.turnout_day_s),
            None => TimeDelta::zero(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file.

/// One problem in a travel model file: where (`types.engine.c`) and what; the same shape as a
/// catalogue's problems.
pub use dispatch_domain::triage::Problem;

/// Why a travel model file was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TravelModelError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for TravelModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "invalid travel model ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TravelModelError {}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn unknown_fields(&mut self, path: &str, table: &Table, known: &[&str]) {
        for key in table.keys() {
            if !known.contains(&key.as_str()) {
                self.add(
                    join(path, key),
                    format!("unknown field; expected one of: {}", known.join(", ")),
                );
            }
        }
    }

    /// A required finite number within `range` (integers read as numbers).
    fn number(&mut self, path: &str, table: &Table, key: &str, range: (f64, f64)) -> f64 {
        let at = join(path, key);
        let value = match table.get(key) {
            None => {
                self.add(at, "required");
                return f64::NAN;
            }
            Some(Value::Integer(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            Some(other) => {
                self.add(at, format!("expected a number, got {}", other.type_str()));
                return f64::NAN;
            }
        };
        if !(value.is_finite() && range.0 <= value && value <= range.1) {
            self.add(at, format!("{value} is outside {}..={}", range.0, range.1));
        }
        value
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

const TYPE_FIELDS: [&str; 6] = [
    "a_s",
    "b_s",
    "c",
    "turnout_day_s",
    "turnout_night_s",
    "runs",
];

impl FittedTravel {
    /// Reads a travel model file, with `fallback` for the types it does not fit; the error names
    /// every bad entry with its path.
    pub fn from_toml(text: &str, fallback: GreatCircleTravel) -> Result<Self, TravelModelError> {
        let table: Table = text
            .parse()
            .map_err(|error: toml::de::Error| TravelModelError {
                problems: vec![Problem {
                    path: String::new(),
                    message: error.to_string(),
                }],
            })?;
        let mut p = Problems::default();
        p.unknown_fields(
            "",
            &table,
            &[
                "format",
                "provenance",
                "night_hours_utc",
                "max_speed_kmh",
                "types",
            ],
        );
        match table.get("format") {
            Some(Value::Integer(FORMAT_VERSION)) => {}
            Some(other) => p.add(
                "format",
                format!("this build reads format {FORMAT_VERSION}, got {other}"),
            ),
            None => p.add("format", "required"),
        }
        let provenance = match table.get("provenance") {
            Some(Value::String(text)) => text.clone(),
            Some(other) => {
                p.add(
                    "provenance",
                    format!("expected a string, got {}", other.type_str()),
                );
                String::new()
            }
            None => String::new(),
        };
        let mut night_hours_utc = BTreeSet::new();
        match table.get("night_hours_utc") {
            Some(Value::Array(hours)) => {
                for (i, hour) in hours.iter().enumerate() {
                    match hour {
                        Value::Integer(h @ 0..=23) => {
                            if !night_hours_utc.insert(*h as u32) {
                                p.add(
                                    format!("night_hours_utc[{i}]"),
                                    format!("hour {h} is repeated"),
                                );
                            }
                        }
                        other => p.add(
                            format!("night_hours_utc[{i}]"),
                            format!("expected an hour 0 to 23, got {other}"),
                        ),
                    }
                }
            }
            Some(other) => p.add(
                "night_hours_utc",
                format!("expected an array of UTC hours, got {}", other.type_str()),
            ),
            None => p.add("night_hours_utc", "required (an empty array for none)"),
        }
        let max_speed_mps = p.number("", &table, "max_speed_kmh", (1.0, 1_000.0)) / 3.6;
        let mut types = BTreeMap::new();
        match table.get("types") {
            Some(Value::Table(entries)) => {
                for (name, entry) in entries {
                    let path = format!("types.{name}");
                    let unit_type = UnitType::parse(name);
                    if unit_type.is_none() {
                        let names: Vec<&str> = UnitType::ALL.iter().map(|t| t.as_str()).collect();
                        p.add(
                            &path,
                            format!("unknown unit type; expected one of: {}", names.join(", ")),
                        );
                    }
                    let Value::Table(entry) = entry else {
                        p.add(&path, format!("expected a table, got {}", entry.type_str()));
                        continue;
                    };
                    p.unknown_fields(&path, entry, &TYPE_FIELDS);
                    let fit = TypeFit {
                        a_s: p.number(&path, entry, "a_s", (-3_600.0, 3_600.0)),
                        b_s: p.number(&path, entry, "b_s", (0.0, 36_000.0)),
                        c: p.number(&path, entry, "c", (0.05, 2.0)),
                        turnout_day_s: p.number(&path, entry, "turnout_day_s", (0.0, 3_600.0)),
                        turnout_night_s: p.number(&path, entry, "turnout_night_s", (0.0, 3_600.0)),
                        runs: match entry.get("runs") {
                            None => 0,
                            Some(Value::Integer(n)) if *n >= 0 => *n as u64,
                            Some(other) => {
                                p.add(
                                    join(&path, "runs"),
                                    format!("expected a count, got {other}"),
                                );
                                0
                            }
                        },
                    };
                    if let Some(unit_type) = unit_type {
                        types.insert(unit_type, fit);
                    }
                }
            }
            Some(other) => p.add(
                "types",
                format!("expected a table of unit types, got {}", other.type_str()),
            ),
            None => p.add("types", "required (a table per unit type)"),
        }
        if !p.0.is_empty() {
            return Err(TravelModelError { problems: p.0 });
        }
        Ok(Self {
            provenance,
            night_hours_utc,
            max_speed_mps,
            types,
            fallback,
        })
    }

    /// The file's text: what [`FittedTravel::from_toml`] reads back (numbers rounded to what
    /// matters: tenths of a second, thousandths of the exponent).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let hours: Vec<String> = self.night_hours_utc.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "# Travel times learned from history, read by dispatchd (--travel-model, DISPATCH_TRAVEL_MODEL).\n\
             # Per unit type: eta = turnout (leaving quarters; day or night) + a_s + b_s * d_km^c, where\n\
             # d_km is the great-circle distance; never faster than max_speed_kmh along the straight line.\n\
             # Types not listed use the great-circle model (distance x road factor / speed), no turnout.\n\
             # The domain has no time zones: night_hours_utc are UTC hours.\n\
             # Regenerate with the command in `provenance`; do not edit the numbers by hand.\n\
             format = {FORMAT_VERSION}\n\
             provenance = {}\n\
             night_hours_utc = [{}]\n\
             max_speed_kmh = {:.1}",
            Value::String(self.provenance.clone()),
            hours.join(", "),
            self.max_speed_mps * 3.6
        );
        for (unit_type, fit) in &self.types {
            let _ = write!(
                out,
                "\n[types.{}]\nruns = {}\na_s = {:.1}\nb_s = {:.1}\nc = {:.3}\nturnout_day_s = {:.1}\nturnout_night_s = {:.1}\n",
                unit_type.as_str(),
                fit.runs,
                fit.a_s,
                fit.b_s,
                fit.c,
                fit.turnout_day_s,
                fit.turnout_night_s
            );
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// The fit.

/// One run from history: a unit of `unit_type` left at `at` (UTC) from `straight_line_m` away and
/// took `travel_s` seconds en route; `turnout_s` is dispatch to en route when it left quarters.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub unit_type: UnitType,
    pub at: DateTime<Utc>,
    pub straight_line_m: f64,
    pub travel_s: f64,
    pub turnout_s: Option<f64>,
}

/// How to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSettings {
    /// Exponents tried; the one with the smallest training median absolute error wins.
    pub exponents: Vec<f64>,
    /// Fewer runs of a type than this: the type keeps the great-circle model.
    pub min_runs: usize,
    pub night_hours_utc: BTreeSet<u32>,
    pub max_speed_mps: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            exponents: vec![0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            min_runs: 100,
            night_hours_utc: BTreeSet::new(),
            max_speed_mps: 90.0 / 3.6,
        }
    }
}

/// Fits every type with at least `min_runs` runs.
pub fn fit(
    runs: &[Run],
    settings: &FitSettings,
    provenance: String,
    fallback: GreatCircleTravel,
) -> FittedTravel {
    let mut by_type: BTreeMap<UnitType, Vec<&Run>> = BTreeMap::new();
    for run in runs
        .iter()
        .filter(|r| r.straight_line_m.is_finite() && r.travel_s.is_finite())
    {
        by_type.entry(run.unit_type).or_default().push(run);
    }
    let mut types = BTreeMap::new();
    for (unit_type, runs) in by_type {
        if runs.len() < settings.min_runs.max(2) {
            continue;
        }
        let d_km: Vec<f64> = runs.iter().map(|r| r.straight_line_m / 1_000.0).collect();
        let y: Vec<f64> = runs.iter().map(|r| r.travel_s).collect();
        let Some((a_s, b_s, c)) = fit_power(&d_km, &y, &settings.exponents) else {
            continue;
        };
        let turnout = |night: bool| {
            let mut values: Vec<f64> = runs
                .iter()
                .filter(|r| settings.night_hours_utc.contains(&r.at.hour()) == night)
                .filter_map(|r| r.turnout_s)
                .filter(|t| t.is_finite() && *t >= 0.0)
                .collect();
            median(&mut values).unwrap_or(0.0)
        };
        types.insert(
            unit_type,
            TypeFit {
                a_s,
                b_s,
                c,
                turnout_day_s: turnout(false),
                turnout_night_s: turnout(true),
                runs: runs.len() as u64,
            },
        );
    }
    FittedTravel {
        provenance,
        night_hours_utc: settings.night_hours_utc.clone(),
        max_speed_mps: settings.max_speed_mps,
        types,
        fallback,
    }
}

/// `(a, b, c)` of `y ≈ a + b·x^c` by L1, `c` from `exponents` by the median absolute error.
pub fn fit_power(x: &[f64], y: &[f64], exponents: &[f64]) -> Option<(f64, f64, f64)> {
    let mut best: Option<(f64, (f64, f64, f64))> = None;
    for &c in exponents {
        let xc: Vec<f64> = x.iter().map(|v| v.max(0.0).powf(c)).collect();
        let Some((a, b)) = l1_line(&xc, y) else {
            continue;
        };
        let mut errors: Vec<f64> = xc
            .iter()
            .zip(y)
            .map(|(v, t)| (a + b * v - t).abs())
            .collect();
        let Some(error) = median(&mut errors) else {
            continue;
        };
        if best.is_none_or(|(e, _)| error < e) {
            best = Some((error, (a, b, c)));
        }
    }
    best.map(|(_, fit)| fit)
}

/// `(a, b)` minimising Σ|y − a − b·x|: least squares first, then at most 100 rounds of weighted
/// least squares with weights 1/max(|r|, 1), until no parameter moves by 1e-6.
pub fn l1_line(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let mut theta = weighted_line(x, y, |_| 1.0)?;
    for _ in 0..100 {
        let next = weighted_line(x, y, |i| {
            1.0 / (y[i] - theta.0 - theta.1 * x[i]).abs().max(1.0)
        })?;
        let moved = (next.0 - theta.0).abs().max((next.1 - theta.1).abs());
        theta = next;
        if moved < 1e-6 {
            break;
        }
    }
    Some(theta)
}

/// Weighted least squares of `y ≈ a + b·x` (the 2×2 normal equations, a 1e-6 ridge as the
/// study's).
fn weighted_line(x: &[f64], y: &[f64], weight: impl Fn(usize) -> f64) -> Option<(f64, f64)> {
    let (mut s, mut sx, mut sxx, mut sy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        let w = weight(i);
        s += w;
        sx += w * xi;
        sxx += w * xi * xi;
        sy += w * yi;
        sxy += w * xi * yi;
    }
    let (s, sxx) = (s + 1e-6, sxx + 1e-6);
    let det = s * sxx - sx * sx;
    if !(det.is_finite() && det.abs() > 1e-12) {
        return None;
    }
    Some(((sxx * sy - sx * sxy) / det, (s * sxy - sx * sy) / det))
}

/// The median (the mean of the two middle values for an even count); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The `q` quantile with linear interpolation between ranks (numpy's default); `None` when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let (lo, hi) = (values.get(low)?, values.get(high)?);
    Some(lo + (hi - lo) * (rank - low as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic_runs() -> Vec<Run> {
        // a = 45, b = 120, c = 0.5, turnout 70 s by day and 110 s by night (UTC 7..=13), with
        // a little symmetric noise and a few very slow runs the L1 fit must shrug off.
        let base = DateTime::parse_from_rfc3339("2020-04-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        (0..600)
            .map(|i| {
                let d_km = 0.2 + f64::from(i % 40) * 0.1;
                let noise = [0.0, 3.0, -3.0, 6.0, -6.0][i as usize % 5];
                let slow = if i % 50 == 0 { 500.0 } else { 0.0 };
                let at = base + TimeDelta::minutes(i64::from(i) * 37);
                let night = (7..=13).contains(&at.hour());
                Run {
                    unit_type: if i % 3 == 0 {
                        UnitType::Ladder
                    } else {
                        UnitType::Engine
                    },
                    at,
                    straight_line_m: d_km * 1_000.0,
                    travel_s: 45.0 + 120.0 * d_km.powf(0.5) + noise + slow,
                    turnout_s: Some(if night { 110.0 } else { 70.0 } + noise),
                }
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_known_parameters_and_turnout() {
        let settings = FitSettings {
            night_hours_utc: (7..=13).collect(),
            ..FitSettings::default()
        };
        let model = fit(
            &synthetic_runs(),
            &settings,
            "synthetic".into(),
            GreatCircleTravel::default(),
        );
        for unit_type in [UnitType::Engine, UnitType::Ladder] {
            let fit = &model.types[&unit_type];
            assert_eq!(fit.c, 0.5, "{unit_type}");
            assert!((fit.a_s - 45.0).abs() < 2.0, "{unit_type}: a {}", fit.a_s);
            assert!((fit.b_s - 120.0).abs() < 2.0, "{unit_type}: b {}", fit.b_s);
            assert_eq!((fit.turnout_day_s, fit.turnout_night_s), (70.0, 110.0));
        }
        assert!(!model.types.contains_key(&UnitType::Patrol));
    }

    #[test]
    fn too_few_runs_keep_the_great_circle_model() {
        let runs: Vec<Run> = synthetic_runs().into_iter().take(50).collect();
        let model = fit(
            &runs,
            &FitSettings::default(),
            String::new(),
            GreatCircleTravel::default(),
        );
        assert!(model.types.is_empty());
        let p = GeoPoint::new(37.7, -122.4).unwrap();
        assert_eq!(
            model.eta(p, p, 1_000.0, UnitType::Engine),
            GreatCircleTravel::default().eta(p, p, 1_000.0, UnitType::Engine)
        );
    }

    #[test]
    fn etas_follow_the_file_and_never_beat_the_top_speed() {
        let text = "format = 1\nnight_hours_utc = [7, 8]\nmax_speed_kmh = 90\n\
                    [types.engine]\na_s = 50\nb_s = 130\nc = 0.6\nturnout_day_s = 74\nturnout_night_s = 116\n";
        let model = FittedTravel::from_toml(text, GreatCircleTravel::default()).unwrap();
        let p = GeoPoint::new(37.7, -122.4).unwrap();
        let eta = model.eta(p, p, 2_000.0, UnitType::Engine).as_seconds_f64();
        assert!((eta - (50.0 + 130.0 * 2f64.powf(0.6))).abs() < 1e-6);
        // 100 km: the curve says 50 + 130·100^0.6 ≈ 2,120 s, the top speed 4,000 s.
        assert_eq!(
            model.eta(p, p, 100_000.0, UnitType::Engine).num_seconds(),
            4_000
        );
        for d in [0.0, 10.0, 500.0, 5_000.0, 50_000.0, 500_000.0] {
            for &unit_type in UnitType::ALL {
                let eta = model.eta(p, p, d, unit_type).as_seconds_f64();
                assert!(
                    eta + 1e-6 >= d / model.max_speed_mps_of(unit_type),
                    "{unit_type} at {d} m"
                );
                assert!(model.max_speed_mps_of(unit_type) <= model.max_speed_mps());
            }
        }
        let night = DateTime::parse_from_rfc3339("2020-04-08T08:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            model.turnout(UnitType::Engine, night),
            TimeDelta::seconds(116)
        );
        assert_eq!(
            model.turnout(UnitType::Engine, night + TimeDelta::hours(2)),
            TimeDelta::seconds(74)
        );
        assert_eq!(model.turnout(UnitType::Patrol, night), TimeDelta::zero());
        assert_eq!(
            FittedTravel::from_toml(&model.to_toml(), GreatCircleTravel::default()).unwrap(),
            model
        );
    }

    #[test]
    fn a_bad_file_names_every_bad_entry() {
        let text = "format = 1\nnight_hours_utc = [7, 25]\nmax_speed_kmh = 0\nspeed = 3\n\
                    [types.engine]\na_s = 50\nb_s = -1\nc = \"0.6\"\nturnout_day_s = 74\n\
                    [types.tank]\na_s = 1\nb_s = 1\nc = 1\nturnout_day_s = 1\nturnout_night_s = 1\n";
        let error = FittedTravel::from_toml(text, GreatCircleTravel::default()).unwrap_err();
        let paths: Vec<&str> = error.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "speed",
                "night_hours_utc[1]",
                "max_speed_kmh",
                "types.engine.b_s",
                "types.engine.c",
                "types.engine.turnout_night_s",
                "types.tank"
            ]
        );
        assert!(
            error
                .to_string()
                .contains("types.engine.c: expected a number, got string")
        );
        assert!(FittedTravel::from_toml("format = [", GreatCircleTravel::default()).is_err());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.9), Some(3.7));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
