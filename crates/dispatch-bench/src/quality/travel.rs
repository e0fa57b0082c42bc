//! Travel-time quality on San Francisco's April 2020 runs: the shipped model
//! (catalogue/travel_model.toml, fitted on 7–13 April) on the held-out week 14–20 April, with the
//! server's own code (dispatch-geo's model and engine), against the great-circle model; and how
//! often our top-ranked engine is the engine SF sent first.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context as _;
use chrono::NaiveDate;
use dispatch_cli::replay::runs::{self, HomeRun, UnitRun};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use dispatch_geo::fitted::{median, quantile};
use dispatch_geo::{
    Engine, EngineConfig, FittedTravel, Fix, GreatCircleTravel, TravelModel, UnitState,
};

/// What the travel model achieves, in seconds unless said.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TravelFigures {
    /// Runs from quarters (engines and trucks into their own station's area) held out.
    pub heldout_runs: usize,
    pub eta_median_abs_err_s_heldout: f64,
    pub eta_p90_abs_err_s_heldout: f64,
    pub great_circle_median_abs_err_s_heldout: f64,
    pub great_circle_p90_abs_err_s_heldout: f64,
    /// Held-out calls SF sent an engine to.
    pub calls_with_engine: usize,
    /// Share of those where our top engine (every engine at its station, ranked by the shipped
    /// model) is the one SF sent first.
    pub top_engine_is_sf_first_share: f64,
}

/// The held-out week, San Francisco dates (the shipped file is fitted on the week before).
const HELD_OUT: (u32, u32) = (14, 21);

pub fn figures(data_dir: &Path) -> anyhow::Result<TravelFigures> {
    let sf = data_dir.join("sf_fire_calls_2020-04.csv");
    let all = runs::read_runs(&sf)?;
    let stations = runs::read_stations(&data_dir.join("sf_fire_stations.csv"))?;
    let day = |d: u32| NaiveDate::from_ymd_opt(2020, 4, d).context("a day of April 2020");
    let held_out = day(HELD_OUT.0)?..day(HELD_OUT.1)?;
    let home: Vec<HomeRun> = runs::home_runs(&all.runs, &stations)
        .into_iter()
        .filter(|run| held_out.contains(&run.local_date()))
        .collect();
    let shipped = FittedTravel::from_toml(
        dispatch_server::config::BUILT_IN_TRAVEL_MODEL,
        GreatCircleTravel::default(),
    )
    .map_err(|error| anyhow::anyhow!("the shipped travel model: {error}"))?;
    let errors = |model: &dyn TravelModel| {
        let mut errors = runs::travel_errors(model, &home);
        (
            median(&mut errors).unwrap_or(f64::NAN),
            quantile(&mut errors, 0.9).unwrap_or(f64::NAN),
        )
    };
    let (fitted_median, fitted_p90) = errors(&shipped);
    let (great_median, great_p90) = errors(&GreatCircleTravel::default());
    let sf_first: Vec<&UnitRun> = first_engines(&all.runs)
        .into_values()
        .filter(|run| {
            held_out.contains(&run.received.with_timezone(&runs::SF_TIME_ZONE).date_naive())
        })
        .collect();
    let engine = engines_at_home(&all.runs, &stations, shipped)?;
    let plan = [Requirement {
        capability: "engine".to_owned(),
        count: 1,
        description: String::new(),
    }];
    let mut same = 0usize;
    for run in &sf_first {
        let at = GeoPoint::new(run.point.0, run.point.1).ok();
        let top = at.and_then(|at| {
            let fills = engine.recommend(at, &plan, &HashSet::new(), run.received);
            fills.first()?.candidates.first().map(|c| c.unit)
        });
        if top.is_some_and(|unit| unit == unit_uuid(&run.unit_id)) {
            same += 1;
        }
    }
    Ok(TravelFigures {
        heldout_runs: home.len(),
        eta_median_abs_err_s_heldout: fitted_median,
        eta_p90_abs_err_s_heldout: fitted_p90,
        great_circle_median_abs_err_s_heldout: great_median,
        great_circle_p90_abs_err_s_heldout: great_p90,
        calls_with_engine: sf_first.len(),
        top_engine_is_sf_first_share: same as f64 / sf_first.len().max(1) as f64,
    })
}

/// Per call, the engine SF dispatched first (earliest dispatch, then the data's sequence).
fn first_engines(all: &[UnitRun]) -> BTreeMap<&str, &UnitRun> {
    let mut first: BTreeMap<&str, &UnitRun> = BTreeMap::new();
    for run in all
        .iter()
        .filter(|r| r.unit_type == "ENGINE" && r.dispatched.is_some())
    {
        let key = |r: &UnitRun| (r.dispatched, r.sequence.unwrap_or(u32::MAX));
        first
            .entry(run.call_number.as_str())
            .and_modify(|kept| {
                if key(run) < key(kept) {
                    *kept = run;
                }
            })
            .or_insert(run);
    }
    first
}

/// A stable id per SF unit name.
fn unit_uuid(unit_id: &str) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    for (i, b) in unit_id.bytes().take(16).enumerate() {
        bytes[i] = b;
    }
    uuid::Uuid::from_bytes(bytes)
}

/// Every engine of the file named after a known station ("E32"), available in its quarters.
fn engines_at_home(
    all: &[UnitRun],
    stations: &BTreeMap<u32, (f64, f64)>,
    travel: FittedTravel,
) -> anyhow::Result<Engine> {
    let mut seen = HashSet::new();
    let mut units = Vec::new();
    for run in all.iter().filter(|r| r.unit_type == "ENGINE") {
        let Some(number) = run.quarters_number() else {
            continue;
        };
        let Some(&(lat, lon)) = stations.get(&number) else {
            continue;
        };
        if !seen.insert(run.unit_id.as_str()) {
            continue;
        }
        let point =
            GeoPoint::new(lat, lon).map_err(|e| anyhow::anyhow!("station {number}: {e:?}"))?;
        units.push(UnitState {
            id: unit_uuid(&run.unit_id),
            unit_type: UnitType::Engine,
            capabilities: vec!["engine".to_owned()],
            available: true,
            position: Some(Fix {
                point,
                fix_time: run.received,
            }),
            home: Some(point),
        });
    }
    let config = EngineConfig {
        travel: Box::new(travel),
        // Every engine's fix is its station: never stale.
        stale_after: chrono::TimeDelta::MAX,
        ..EngineConfig::default()
    };
    Ok(Engine::from_units(config, units))
}
