//! San Francisco's unit runs: one row of `sf_fire_calls_2020-04.csv` per unit sent to a call,
//! with the times the unit was dispatched, went en route, arrived and cleared; and the fire
//! stations of `sf_fire_stations.csv`. Travel times are learned from them (`dispatchctl fit
//! travel`, the bench's travel quality).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset as _, TimeZone as _, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_geo::fitted::Run;

use super::data::sf_point;

/// The zone SF's times are written in.
pub const SF_TIME_ZONE: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

const SF_TIME_FORMAT: &str = "%m/%d/%Y %I:%M:%S %p";

/// One unit sent to one call, as the file says.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRun {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub call_number: String,
    /// "E32", "T5", "85".
    pub unit_id: String,
    /// The data's type: "ENGINE", "TRUCK", "MEDIC", ...
    pub unit_type: String,
    pub received: DateTime<Utc>,
    pub dispatched: Option<DateTime<Utc>>,
    /// When the unit reported en route ("Response DtTm").
    pub en_route: Option<DateTime<Utc>>,
    pub on_scene: Option<DateTime<Utc>>,
    pub available: Option<DateTime<Utc>>,
    /// The station whose area the call is in, as written ("32").
    pub station_area: String,
    /// The call's point, (latitude, longitude).
    pub point: (f64, f64),
    /// "Original Priority": "3" and "E" are emergencies (lights and siren).
    pub priority: String,
    /// "Unit sequence in call dispatch": 1 for the first unit sent.
    pub sequence: Option<u32>,
}

impl UnitRun {
    /// The station number of an engine or truck named after its station ("E32", "T5").
    pub fn quarters_number(&self) -> Option<u32> {
        let digits = self
            .unit_id
            .strip_prefix('E')
            .or_else(|| self.unit_id.strip_prefix('T'))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Seconds from en route to on scene, when both are known.
    pub fn travel_s(&self) -> Option<f64> {
        Some(seconds_between(self.en_route?, self.on_scene?))
    }

    /// Seconds from dispatch to en route (the turnout), when both are known.
    pub fn turnout_s(&self) -> Option<f64> {
        Some(seconds_between(self.dispatched?, self.en_route?))
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).as_seconds_f64()
}

/// The runs of the file, in file order, and the rows left out with why (line, reason).
#[derive(Debug, Default)]
pub struct Runs {
    pub runs: Vec<UnitRun>,
    pub skipped: Vec<(u64, String)>,
}

/// Every row of SF's calls file that has a call number, a received time and a point.
pub fn read_runs(path: &Path) -> anyhow::Result<Runs> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{} has no column {name:?}", path.display()))
    };
    let [
        call_number,
        unit_id,
        unit_type,
        received,
        dispatched,
        en_route,
        on_scene,
        available,
        station_area,
        location,
        priority,
        sequence,
    ] = [
        "Call Number",
        "Unit ID",
        "Unit Type",
        "Received DtTm",
        "Dispatch DtTm",
        "Response DtTm",
        "On Scene DtTm",
        "Available DtTm",
        "Station Area",
        "Location",
        "Original Priority",
        "Unit sequence in call dispatch",
    ]
    .map(column);
    let (call_number, unit_id, unit_type, received) =
        (call_number?, unit_id?, unit_type?, received?);
    let (dispatched, en_route, on_scene, available) =
        (dispatched?, en_route?, on_scene?, available?);
    let (station_area, location, priority, sequence) =
        (station_area?, location?, priority?, sequence?);
    let mut out = Runs::default();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) if matches!(error.kind(), csv::ErrorKind::Io(_)) => return Err(error.into()),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                out.skipped.push((line, format!("unreadable: {error}")));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let get = |i: usize| record.get(i).unwrap_or_default().trim();
        let optional = |i: usize| sf_time(get(i)).ok();
        if get(call_number).is_empty() {
            out.skipped.push((line, "Call Number is empty".to_owned()));
            continue;
        }
        let received_at = match sf_time(get(received)) {
            Ok(t) => t,
            Err(reason) => {
                out.skipped.push((line, format!("Received DtTm {reason}")));
                continue;
            }
        };
        let Some(point) = sf_point(get(location)) else {
            out.skipped
                .push((line, format!("Location {:?} is not a point", get(location))));
            continue;
        };
        out.runs.push(UnitRun {
            line,
            call_number: get(call_number).to_owned(),
            unit_id: get(unit_id).to_owned(),
            unit_type: get(unit_type).to_owned(),
            received: received_at,
            dispatched: optional(dispatched),
            en_route: optional(en_route),
            on_scene: optional(on_scene),
            available: optional(available),
            station_area: get(station_area).to_owned(),
            point,
            priority: get(priority).to_owned(),
            sequence: get(sequence).parse().ok(),
        });
    }
    Ok(out)
}

/// A time as SF writes it ("04/07/2020 11:53:08 PM", Pacific time). A time the clocks skipped
/// or repeated is read as the earlier instant (April has neither).
pub fn sf_time(text: &str) -> Result<DateTime<Utc>, String> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), SF_TIME_FORMAT)
        .map_err(|_| format!("{text:?} is not a time like \"04/07/2020 11:53:08 PM\""))?;
    SF_TIME_ZONE
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            SF_TIME_ZONE
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{text:?} does not exist in {SF_TIME_ZONE}"))
}

/// SF's fire stations: number -> (latitude, longitude).
pub fn read_stations(path: &Path) -> anyhow::Result<BTreeMap<u32, (f64, f64)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| format!("{} has no column {name:?}", path.display()))
    };
    let (station, lat, lon) = (column("station")?, column("lat")?, column("lon")?);
    let mut stations = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, csv::Position::line);
        let get = |i: usize| record.get(i).unwrap_or_default().trim();
        let number: u32 = get(station).parse().with_context(|| {
            format!("{} line {line}: station {:?}", path.display(), get(station))
        })?;
        let coordinate = |i: usize| {
            get(i)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "{} line {line}: {:?} is not a number",
                        path.display(),
                        get(i)
                    )
                })
        };
        stations.insert(number, (coordinate(lat)?, coordinate(lon)?));
    }
    Ok(stations)
}

/// A run from quarters into the station's own area: an engine or truck ("E<n>"/"T<n>") whose
/// station number is the call's station area, that reached the scene after going en route. The
/// unit is taken to have left from its station (the data cannot say; FINDINGS §5 found that
/// keeping only units idle 15 min before changes nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct HomeRun {
    pub run: UnitRun,
    pub station: u32,
    /// The station's point, (latitude, longitude).
    pub quarters: (f64, f64),
    /// En route to on scene, seconds (positive).
    pub travel_s: f64,
}

/// The runs of FINDINGS §5: engines and trucks from their own station into its area, with a
/// positive travel time, whose station is in `stations`.
pub fn home_runs(runs: &[UnitRun], stations: &BTreeMap<u32, (f64, f64)>) -> Vec<HomeRun> {
    runs.iter()
        .filter(|run| matches!(run.unit_type.as_str(), "ENGINE" | "TRUCK"))
        .filter_map(|run| {
            let station = run.quarters_number()?;
            if run.station_area.parse::<u32>().ok() != Some(station) {
                return None;
            }
            let quarters = *stations.get(&station)?;
            let travel_s = run.travel_s().filter(|&t| t > 0.0)?;
            Some(HomeRun {
                run: run.clone(),
                station,
                quarters,
                travel_s,
            })
        })
        .collect()
}

/// The system's type of an SF unit type the travel model learns ("ENGINE", "TRUCK").
pub fn unit_type_of(sf_type: &str) -> Option<UnitType> {
    match sf_type {
        "ENGINE" => Some(UnitType::Engine),
        "TRUCK" => Some(UnitType::Ladder),
        _ => None,
    }
}

impl HomeRun {
    /// Great-circle metres from the station to the call.
    pub fn straight_line_m(&self) -> f64 {
        let point = |(lat, lon): (f64, f64)| GeoPoint::new(lat, lon).ok();
        match (point(self.quarters), point(self.run.point)) {
            (Some(from), Some(to)) => from.distance_m(&to),
            _ => f64::NAN,
        }
    }

    /// The call's local date in San Francisco.
    pub fn local_date(&self) -> NaiveDate {
        self.run.received.with_timezone(&SF_TIME_ZONE).date_naive()
    }

    /// The run as the travel fit reads it (`None` for a type it does not learn).
    pub fn fit_run(&self) -> Option<Run> {
        Some(Run {
            unit_type: unit_type_of(&self.run.unit_type)?,
            at: self.run.received,
            straight_line_m: self.straight_line_m(),
            travel_s: self.travel_s,
            turnout_s: self.run.turnout_s(),
        })
    }
}

/// How far off `model`'s travel time (without turnout: en route to on scene, as the data
/// measures it) is on each run, seconds, with the model the server runs.
pub fn travel_errors(model: &dyn dispatch_geo::TravelModel, runs: &[HomeRun]) -> Vec<f64> {
    runs.iter()
        .filter_map(|run| {
            let unit_type = unit_type_of(&run.run.unit_type)?;
            let from = GeoPoint::new(run.quarters.0, run.quarters.1).ok()?;
            let to = GeoPoint::new(run.run.point.0, run.run.point.1).ok()?;
            let eta = model.eta(from, to, from.distance_m(&to), unit_type);
            Some((eta.as_seconds_f64() - run.travel_s).abs())
        })
        .collect()
}

/// The UTC hours of the local hours `local` in San Francisco on `day` (the domain has no time
/// zones: the travel model's night is written in UTC).
pub fn utc_hours_of_local(local: impl IntoIterator<Item = u32>, day: NaiveDate) -> BTreeSet<u32> {
    let offset_s = day
        .and_hms_opt(12, 0, 0)
        .and_then(|noon| SF_TIME_ZONE.from_local_datetime(&noon).earliest())
        .map_or(0, |t| t.offset().fix().local_minus_utc());
    local
        .into_iter()
        .map(|hour| {
            (i64::from(hour) * 3_600 - i64::from(offset_s)).rem_euclid(86_400) as u32 / 3_600
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(unit_id: &str, unit_type: &str, area: &str) -> UnitRun {
        let t = sf_time("04/07/2020 11:53:08 PM").expect("a time");
        UnitRun {
            line: 2,
            call_number: "1".into(),
            unit_id: unit_id.into(),
            unit_type: unit_type.into(),
            received: t,
            dispatched: Some(t),
            en_route: Some(t + chrono::TimeDelta::seconds(60)),
            on_scene: Some(t + chrono::TimeDelta::seconds(200)),
            available: None,
            station_area: area.into(),
            point: (37.7, -122.4),
            priority: "3".into(),
            sequence: Some(1),
        }
    }

    #[test]
    fn sf_times_are_pacific() {
        let t = sf_time("04/07/2020 11:53:08 PM").expect("a time");
        assert_eq!(t.to_rfc3339(), "2020-04-08T06:53:08+00:00");
        assert!(sf_time("2020-04-07 23:53:08").is_err());
        let april = NaiveDate::from_ymd_opt(2020, 4, 7).expect("a day");
        assert_eq!(utc_hours_of_local(0..=6, april), (7..=13).collect());
    }

    #[test]
    fn home_runs_are_engines_and_trucks_in_their_own_area() {
        let stations = BTreeMap::from([(32, (37.73, -122.42)), (5, (37.78, -122.43))]);
        let runs = [
            run("E32", "ENGINE", "32"),
            run("T5", "TRUCK", "05"),
            run("E32", "ENGINE", "5"),
            run("85", "MEDIC", "32"),
            run("E99", "ENGINE", "99"),
            run("RC3", "ENGINE", "3"),
        ];
        let home = home_runs(&runs, &stations);
        let picked: Vec<(&str, u32, f64)> = home
            .iter()
            .map(|h| (h.run.unit_id.as_str(), h.station, h.travel_s))
            .collect();
        assert_eq!(picked, [("E32", 32, 140.0), ("T5", 5, 140.0)]);
        assert_eq!(home[0].run.turnout_s(), Some(60.0));
    }
}
