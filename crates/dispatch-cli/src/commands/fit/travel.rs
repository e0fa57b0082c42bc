//! `dispatchctl fit travel`: the travel-time model (catalogue/travel_model.toml) from SF's unit
//! runs or from the centre's own assignments (`--history`, through the API): per unit type, L1
//! fit of `a + b·d_km^c` to en route → on scene, and the median turnout (dispatch → en route)
//! of units that left from quarters, by day and by night.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use clap::Args;
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_geo::GreatCircleTravel;
use dispatch_geo::fitted::{self, FitSettings, FittedTravel};

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::commands::reply::Answer as _;
use crate::error::{CliError, Result};
use crate::replay::runs::{self, HomeRun};

/// Local hours (San Francisco time) whose turnout is the night one: crews asleep.
const NIGHT_LOCAL_HOURS: std::ops::RangeInclusive<u32> = 0..=6;

#[derive(Debug, Args)]
pub struct FitTravelArgs {
    /// SF's calls file, one row per unit sent (sf_fire_calls_2020-04.csv).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "history",
        requires = "stations"
    )]
    pub sf: Option<PathBuf>,
    /// SF's fire stations (sf_fire_stations.csv): where each engine and truck is based.
    #[arg(long, value_name = "FILE")]
    pub stations: Option<PathBuf>,
    /// Fit on the centre's own assignments instead, read through the API (ListIncidents,
    /// GetRecommendation, ListUnits, ListStations): the unit's position is the one its
    /// recommendation ranked it from, so assignments made without one are left out.
    #[arg(long, conflicts_with = "sf")]
    pub history: bool,
    /// UTC hours whose turnout is the night one (`--history`; with --sf: 00-06 San Francisco
    /// time), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "HOURS")]
    pub night_hours_utc: Vec<u32>,
    /// First day fitted (San Francisco date of the call with --sf; UTC date of the incident with
    /// --history).
    #[arg(long, default_value = "2020-04-07")]
    pub from: NaiveDate,
    /// Day after the last day fitted.
    #[arg(long, default_value = "2020-04-14")]
    pub to: NaiveDate,
    /// No unit covers the straight line faster than this, km/h (keeps far ETAs honest).
    #[arg(long, default_value_t = 90.0)]
    pub max_speed_kmh: f64,
    /// A unit type with fewer runs keeps the great-circle model.
    #[arg(long, default_value_t = 100)]
    pub min_runs: usize,
    /// Also measure the fitted model on the runs from --to up to this day (held out), against
    /// the great-circle model.
    #[arg(long, value_name = "DATE")]
    pub check_to: Option<NaiveDate>,
    /// Where to write the model; unset: standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(ctx: &mut Ctx<'_>, args: FitTravelArgs) -> Result<()> {
    let (model, runs) = if args.history {
        fit_history(ctx, &args).await?
    } else {
        fit_sf(&args)?
    };
    if let (Some(check_to), Some(sf), Some(stations)) = (args.check_to, &args.sf, &args.stations) {
        let held_out: Vec<HomeRun> = home_runs(sf, stations)?
            .into_iter()
            .filter(|run| (args.to..check_to).contains(&run.local_date()))
            .collect();
        for (name, travel) in [
            ("fitted", &model as &dyn dispatch_geo::TravelModel),
            ("great-circle", &GreatCircleTravel::default()),
        ] {
            let mut errors = runs::travel_errors(travel, &held_out);
            writeln!(
                ctx.err,
                "held out {} to {check_to} ({} runs), {name}: median abs error {:.1} s, p90 {:.1} s",
                args.to,
                errors.len(),
                fitted::median(&mut errors).unwrap_or(f64::NAN),
                fitted::quantile(&mut errors, 0.9).unwrap_or(f64::NAN)
            )?;
        }
    }
    let text = model.to_toml();
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            writeln!(ctx.err, "{runs} runs fitted; wrote {}", path.display())?;
            for (unit_type, fit) in &model.types {
                writeln!(
                    ctx.err,
                    "  {unit_type}: {} runs, {:.1} + {:.1}·d_km^{:.2} s, turnout {:.0} s (day) / {:.0} s (night)",
                    fit.runs, fit.a_s, fit.b_s, fit.c, fit.turnout_day_s, fit.turnout_night_s
                )?;
            }
        }
        None => ctx.out.write_all(text.as_bytes())?,
    }
    Ok(())
}

fn check(args: &FitTravelArgs) -> anyhow::Result<()> {
    if args.from >= args.to {
        anyhow::bail!("--from {} must be before --to {}", args.from, args.to);
    }
    if !(args.max_speed_kmh.is_finite() && args.max_speed_kmh > 0.0) {
        anyhow::bail!("--max-speed-kmh must be a positive number");
    }
    if let Some(hour) = args.night_hours_utc.iter().find(|h| **h > 23) {
        anyhow::bail!("--night-hours-utc: {hour} is not an hour 0 to 23");
    }
    Ok(())
}

/// The model the arguments fit from SF's files, and how many runs it used.
pub fn fit_sf(args: &FitTravelArgs) -> anyhow::Result<(FittedTravel, usize)> {
    check(args)?;
    let (Some(sf), Some(stations)) = (&args.sf, &args.stations) else {
        anyhow::bail!("--sf and --stations name SF's files");
    };
    let home = home_runs(sf, stations)?;
    let fit_runs: Vec<fitted::Run> = home
        .iter()
        .filter(|run| (args.from..args.to).contains(&run.local_date()))
        .filter_map(HomeRun::fit_run)
        .collect();
    if fit_runs.is_empty() {
        anyhow::bail!(
            "no engine or truck runs from quarters between {} and {} in {}",
            args.from,
            args.to,
            sf.display()
        );
    }
    let night_hours_utc = if args.night_hours_utc.is_empty() {
        runs::utc_hours_of_local(NIGHT_LOCAL_HOURS, args.from)
    } else {
        args.night_hours_utc.iter().copied().collect()
    };
    let settings = FitSettings {
        min_runs: args.min_runs,
        night_hours_utc,
        max_speed_mps: args.max_speed_kmh / 3.6,
        ..FitSettings::default()
    };
    let provenance = format!(
        "dispatchctl fit travel --sf {} --stations {} --from {} --to {} --max-speed-kmh {} --min-runs {}: \
         {} runs (SF engines and trucks from quarters into their own station's area; \
         night = 00-06 San Francisco time)",
        file_name(sf),
        file_name(stations),
        args.from,
        args.to,
        args.max_speed_kmh,
        args.min_runs,
        fit_runs.len()
    );
    let model = fitted::fit(
        &fit_runs,
        &settings,
        provenance,
        GreatCircleTravel::default(),
    );
    Ok((model, fit_runs.len()))
}

/// FINDINGS §5's runs of SF's files.
pub fn home_runs(sf: &Path, stations: &Path) -> anyhow::Result<Vec<HomeRun>> {
    let all = runs::read_runs(sf)?;
    let stations = runs::read_stations(stations)?;
    Ok(runs::home_runs(&all.runs, &stations))
}

/// The model fitted on the centre's own assignments of incidents created from --from to --to
/// (UTC days), and how many runs it used.
async fn fit_history(ctx: &mut Ctx<'_>, args: &FitTravelArgs) -> Result<(FittedTravel, usize)> {
    check(args)?;
    let clients = ctx.clients().await?;
    let midnight = |day: NaiveDate| {
        let t = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: 0,
        }
    };
    let mut triage = clients.triage();
    let incidents = crate::client::pages(usize::MAX, async |page_size, page_token| {
        triage
            .list_incidents(pb::ListIncidentsRequest {
                page_size,
                page_token,
                created: Some(pb::TimeRange {
                    start: Some(midnight(args.from)),
                    end: Some(midnight(args.to)),
                }),
                view: pb::IncidentView::Full.into(),
                ..Default::default()
            })
            .await
            .answer("ListIncidents")
    })
    .await?
    .incidents;
    let mut directory = clients.directory();
    let stations: HashMap<String, GeoPoint> =
        crate::client::pages(usize::MAX, async |page_size, page_token| {
            directory
                .list_stations(pb::ListStationsRequest {
                    page_size,
                    page_token,
                    ..Default::default()
                })
                .await
                .answer("ListStations")
        })
        .await?
        .stations
        .into_iter()
        .filter_map(|s| Some((s.name, point(s.location.as_ref())?)))
        .collect();
    let mut units_client = clients.units();
    let homes: HashMap<String, GeoPoint> =
        crate::client::pages(usize::MAX, async |page_size, page_token| {
            units_client
                .list_units(pb::ListUnitsRequest {
                    page_size,
                    page_token,
                    include_decommissioned: true,
                    ..Default::default()
                })
                .await
                .answer("ListUnits")
        })
        .await?
        .units
        .into_iter()
        .filter_map(|u| Some((u.name, *stations.get(&u.home_station)?)))
        .collect();
    let mut recommendations = HashMap::new();
    for incident in &incidents {
        for assignment in &incident.assignments {
            let name = &assignment.recommendation;
            if name.is_empty() || recommendations.contains_key(name) {
                continue;
            }
            let recommendation = clients
                .units()
                .get_recommendation(pb::GetRecommendationRequest { name: name.clone() })
                .await
                .answer("GetRecommendation")?
                .recommendation
                .unwrap_or_default();
            recommendations.insert(name.clone(), recommendation);
        }
    }
    let fit_runs = history_runs(&incidents, &recommendations, &homes);
    if fit_runs.is_empty() {
        return Err(CliError::local(format!(
            "no assignment of an incident created between {} and {} went en route and on scene \
             after a recommendation",
            args.from, args.to
        )));
    }
    let settings = FitSettings {
        min_runs: args.min_runs,
        night_hours_utc: args.night_hours_utc.iter().copied().collect(),
        max_speed_mps: args.max_speed_kmh / 3.6,
        ..FitSettings::default()
    };
    let provenance = format!(
        "dispatchctl fit travel --history --from {} --to {} --max-speed-kmh {} --min-runs {}: \
         {} runs of {} from the centre's own assignments",
        args.from,
        args.to,
        args.max_speed_kmh,
        args.min_runs,
        fit_runs.len(),
        ctx.server
    );
    let model = fitted::fit(
        &fit_runs,
        &settings,
        provenance,
        GreatCircleTravel::default(),
    );
    Ok((model, fit_runs.len()))
}

/// The runs of a centre's assignments: each unit that went en route and on scene after being
/// recommended, from where its recommendation ranked it (the distance the server measured);
/// its turnout counts only when that position was its home station (`homes`, by unit name).
pub fn history_runs(
    incidents: &[pb::Incident],
    recommendations: &HashMap<String, pb::Recommendation>,
    homes: &HashMap<String, GeoPoint>,
) -> Vec<fitted::Run> {
    let mut out = Vec::new();
    for assignment in incidents.iter().flat_map(|i| &i.assignments) {
        let (Some(dispatched), Some(en_route), Some(on_scene)) = (
            time(assignment.dispatch_time.as_ref()),
            time(assignment.en_route_time.as_ref()),
            time(assignment.on_scene_time.as_ref()),
        ) else {
            continue;
        };
        let Some(unit_type) = unit_type(assignment.unit_type) else {
            continue;
        };
        let Some(candidate) = recommendations
            .get(&assignment.recommendation)
            .into_iter()
            .flat_map(|r| &r.fills)
            .flat_map(|f| &f.candidates)
            .find(|c| c.unit == assignment.unit)
        else {
            continue;
        };
        let travel_s = (on_scene - en_route).as_seconds_f64();
        if travel_s <= 0.0 {
            continue;
        }
        let in_quarters = match (
            point(candidate.position.as_ref()),
            homes.get(&assignment.unit),
        ) {
            (Some(at), Some(home)) => at.distance_m(home) <= dispatch_geo::QUARTERS_RADIUS_M,
            _ => false,
        };
        out.push(fitted::Run {
            unit_type,
            at: dispatched,
            straight_line_m: candidate.straight_line_m,
            travel_s,
            turnout_s: in_quarters.then(|| (en_route - dispatched).as_seconds_f64()),
        });
    }
    out
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

fn point(p: Option<&pb::GeoPoint>) -> Option<GeoPoint> {
    let p = p?;
    GeoPoint::new(p.latitude, p.longitude).ok()
}

/// The domain's unit type of a wire one ("UNIT_TYPE_ENGINE" is "engine").
fn unit_type(wire: i32) -> Option<UnitType> {
    let name = pb::UnitType::try_from(wire).ok()?.as_str_name();
    UnitType::parse(&name.strip_prefix("UNIT_TYPE_")?.to_ascii_lowercase())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_runs_come_from_recommended_assignments_that_arrived() {
        let ts = |seconds: i64| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let home = GeoPoint::new(37.77, -122.42).expect("a point");
        let wire = |p: GeoPoint| {
            Some(pb::GeoPoint {
                latitude: p.latitude(),
                longitude: p.longitude(),
            })
        };
        let candidate = |unit: &str, at: GeoPoint| pb::Candidate {
            unit: unit.into(),
            straight_line_m: 1_500.0,
            position: wire(at),
            ..Default::default()
        };
        let recommendation = pb::Recommendation {
            name: "recommendations/1".into(),
            fills: vec![pb::RequirementFill {
                candidates: vec![
                    candidate("units/home", home),
                    candidate(
                        "units/road",
                        GeoPoint::new(37.78, -122.42).expect("a point"),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let assignment = |unit: &str, recommendation: &str, on_scene: i64| pb::Assignment {
            unit: unit.into(),
            unit_type: pb::UnitType::Engine.into(),
            dispatch_time: ts(1_000),
            en_route_time: ts(1_080),
            on_scene_time: ts(on_scene),
            recommendation: recommendation.into(),
            ..Default::default()
        };
        let incidents = [pb::Incident {
            assignments: vec![
                assignment("units/home", "recommendations/1", 1_280),
                assignment("units/road", "recommendations/1", 1_230),
                // Assigned without a recommendation: where it was is unknown.
                assignment("units/other", "", 1_300),
                // Never arrived.
                pb::Assignment {
                    on_scene_time: None,
                    ..assignment("units/home", "recommendations/1", 0)
                },
            ],
            ..Default::default()
        }];
        let recommendations = HashMap::from([("recommendations/1".to_owned(), recommendation)]);
        let homes = HashMap::from([
            ("units/home".to_owned(), home),
            ("units/road".to_owned(), home),
        ]);
        let runs = history_runs(&incidents, &recommendations, &homes);
        let got: Vec<(f64, Option<f64>, f64)> = runs
            .iter()
            .map(|r| (r.travel_s, r.turnout_s, r.straight_line_m))
            .collect();
        assert_eq!(got, [(200.0, Some(80.0), 1_500.0), (150.0, None, 1_500.0)]);
        assert!(runs.iter().all(|r| r.unit_type == UnitType::Engine));
    }

    /// The shipped file is what the command makes of SF's data (../shared/data, or
    /// DISPATCH_REPLAY_DATA).
    #[test]
    fn the_shipped_travel_model_is_reproduced_by_the_command() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let data = std::env::var_os("DISPATCH_REPLAY_DATA")
            .map_or_else(|| root.join("../shared/data"), PathBuf::from);
        let args = FitTravelArgs {
            sf: Some(data.join("sf_fire_calls_2020-04.csv")),
            stations: Some(data.join("sf_fire_stations.csv")),
            history: false,
            night_hours_utc: Vec::new(),
            from: NaiveDate::from_ymd_opt(2020, 4, 7).expect("a day"),
            to: NaiveDate::from_ymd_opt(2020, 4, 14).expect("a day"),
            max_speed_kmh: 90.0,
            min_runs: 100,
            check_to: None,
            out: None,
        };
        let (model, _) = fit_sf(&args).expect("SF's data fits");
        let shipped = std::fs::read_to_string(root.join("catalogue/travel_model.toml"))
            .expect("the shipped model");
        assert_eq!(model.to_toml(), shipped);
    }
}
