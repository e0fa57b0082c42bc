//! `replay`: historical calls fed through the public API the way a centre's staff would handle
//! them.
//!
//! Each row becomes a call, created at its original time (received_time is the data's), paced
//! by a speed factor or as fast as possible. A simulated call taker follows the top duplicate
//! suggestion or opens an incident; a dispatcher triages it with the answers the data implies,
//! recommends and assigns; the units report en route, on scene (with a position there) and clear
//! after a realistic time, and the incident is resolved and closed with the data's code.
//!
//! Time is simulated: events (calls, and the unit timers they cause) run in the data's time
//! order, mapped to wall-clock time by the speed factor, or back to back at `--speed max`. Several
//! simulated staff work at once, with one rule that keeps the duplicate check honest: a call
//! waits while an earlier call within a few kilometres is still being taken, because that call
//! may be opening the incident this one duplicates.

mod args;
pub mod data;
mod fleet;
mod follow;
pub mod intervals;
mod report;
pub mod runs;
mod sim;
mod steps;

use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;
use indicatif::ProgressBar;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::Ctx;
use crate::client::Clients;
use crate::demo::{self, City, Summary};
use crate::error::{CliError, Result};
use crate::output::Format;

pub use args::{Clock, Lifecycle, ReplayArgs, Speed};
pub use data::Dataset;

use sim::{Sim, Staff, Timer, lock, request_id, timestamp};
use steps::{run_timer, take_call};

/// The replay's staff: principals reused by name, fresh tokens (revoked at the end).
async fn hire(
    admin: &Clients,
    workers: usize,
    run: &str,
) -> Result<(Vec<Staff>, Clients, Vec<String>)> {
    let existing = demo::all_principals(admin).await?;
    let expire = timestamp(Utc::now() + chrono::Duration::days(2));
    let mut credentials = Vec::new();
    let mut token_for = async |role: pb::Role, name: String| -> Result<Clients> {
        let principal = match existing
            .iter()
            .find(|p| p.display_name == name && p.role == role as i32)
        {
            Some(p) => p.name.clone(),
            None => {
                let id = uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_URL,
                    format!("dispatchctl/replay/{name}").as_bytes(),
                );
                demo::ensure_principal(
                    admin,
                    role,
                    &name,
                    String::new(),
                    String::new(),
                    &id.to_string(),
                )
                .await?
                .name
            }
        };
        let issued = demo::issue_token(
            admin,
            &principal,
            &format!("dispatchctl replay {run}"),
            expire,
        )
        .await?;
        credentials.push(issued.credential.map(|c| c.name).unwrap_or_default());
        admin.with_token(&issued.token)
    };
    let mut staff = Vec::new();
    for i in 1..=workers {
        let taker = token_for(pb::Role::CallTaker, format!("Replay call taker {i}")).await?;
        let dispatcher = token_for(pb::Role::Dispatcher, format!("Replay dispatcher {i}")).await?;
        staff.push(Staff { taker, dispatcher });
    }
    let gateway = token_for(pb::Role::Gateway, "Replay AVL gateway".to_owned()).await?;
    Ok((staff, gateway, credentials))
}

async fn retire(admin: &Clients, credentials: &[String]) {
    for name in credentials.iter().filter(|n| !n.is_empty()) {
        let _ = admin
            .directory()
            .revoke_credential(pb::RevokeCredentialRequest {
                request_id: request_id(),
                name: name.clone(),
                reason: "the replay is over".into(),
            })
            .await;
    }
}

pub async fn run(ctx: &mut Ctx<'_>, args: ReplayArgs) -> Result<()> {
    if args.workers == 0 {
        return Err(CliError::local("--workers must be at least 1"));
    }
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| args.data_dir.join(args.dataset.file_name()));
    if !path.exists() {
        return Err(CliError::local(format!(
            "{} does not exist: pass --file, or --data-dir / DISPATCH_REPLAY_DATA (the directory with {})",
            path.display(),
            args.dataset.file_name()
        )));
    }
    let tz = args.dataset.time_zone();
    let bound = |flag: &str, text: &Option<String>| -> Result<Option<DateTime<Utc>>> {
        text.as_deref()
            .map(|t| data::instant(flag, t, tz))
            .transpose()
            .map_err(CliError::local)
    };
    let window = report::Window {
        from: bound("--from", &args.from)?,
        to: bound("--to", &args.to)?,
    };
    if let (Some(from), Some(to)) = (window.from, window.to)
        && from >= to
    {
        return Err(CliError::local(format!(
            "--from ({from}) must be before --to ({to})"
        )));
    }
    let data::Data { rows, quality } = data::read(args.dataset, &path, args.limit)?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        let reasons: Vec<String> = quality
            .skipped
            .iter()
            .take(5)
            .map(|n| format!("line {}: {}", n.line, n.reason))
            .collect();
        return Err(CliError::local(format!(
            "{} has no rows to replay: {} rows, {} skipped{}{}",
            path.display(),
            quality.rows_in_file,
            quality.skipped.len(),
            if reasons.is_empty() { "" } else { "; " },
            reasons.join("; ")
        )));
    };
    let (data_from, data_to) = (first.received.to_rfc3339(), last.received.to_rfc3339());
    let admin = ctx.clients().await?;
    admin
        .require_admin(
            "replay",
            "replay needs an admin token: it hires its simulated staff (principals and tokens, revoked at the end) and builds fleets; use ADMIN_TOKEN from demo-credentials.env",
        )
        .await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let (staff, gateway, credentials) = hire(&admin, args.workers, &run_id[..8]).await?;
    let result = replay(
        ctx,
        &args,
        &path,
        rows,
        quality,
        &admin,
        staff,
        gateway,
        (data_from, data_to),
        window,
    )
    .await;
    retire(&admin, &credentials).await;
    result
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one replay, assembled once"
)]
async fn replay(
    ctx: &mut Ctx<'_>,
    args: &ReplayArgs,
    path: &std::path::Path,
    rows: Vec<data::Row>,
    quality: data::Quality,
    admin: &Clients,
    staff: Vec<Staff>,
    gateway: Clients,
    (data_from, data_to): (String, String),
    window: report::Window,
) -> Result<()> {
    let reader = staff[0].dispatcher.clone();
    let mut stations = None;
    // The fleet: the demo city for C5, built from the data for the others.
    let fleet = match args.dataset {
        Dataset::C5 => {
            let units = demo::units_by_call_sign(&reader).await?;
            if !units.contains_key(demo::city::FIELD_UNIT_CALL_SIGN) {
                return Err(CliError::local(
                    "the demo city is not loaded on this server: run `dispatchctl demo load` first (admin token)",
                ));
            }
            City::new(demo::Size::Full, args.seed)
        }
        Dataset::Sf | Dataset::Montgomery => {
            let (agencies, city) = if args.dataset == Dataset::Sf {
                let (found, note) = sf_stations(args, path)?;
                stations = Some(note);
                (&fleet::SF_AGENCIES[..], fleet::san_francisco(&rows, &found))
            } else {
                (&fleet::MONTGOMERY_AGENCIES[..], fleet::montgomery(&rows))
            };
            let mut summary = Summary::default();
            demo::build(admin, &reader, agencies, &city, args.seed, &mut summary).await?;
            city
        }
    };
    let positions = demo::report_positions(&gateway, &reader, &fleet).await?;
    let back_enter = follow_data_of(args) && args.clock == Clock::Data;
    // Following the data needs every unit's name, and its home to return to.
    let follow_data = follow_data_of(args);
    let (mut units, mut homes) = (HashMap::new(), HashMap::new());
    if follow_data {
        let by_call_sign = demo::units_by_call_sign(&reader).await?;
        for spec in &fleet.units {
            if let Some(unit) = by_call_sign.get(&spec.call_sign) {
                units.insert(spec.call_sign.clone(), unit.name.clone());
                homes.insert(unit.name.clone(), (spec.lat, spec.lon));
            }
        }
    }
    let mut history_refused = 0u64;
    if back_enter {
        history_refused = available_since(&reader, units.values(), rows[0].received).await;
    }
    ctx.note(&format!(
        "Replaying {} calls from {} ({} units at their stations) with {} simulated staff",
        rows.len(),
        path.display(),
        positions,
        staff.len()
    ));

    let mut protocols = HashMap::new();
    for code in rows
        .iter()
        .map(|r| r.incident_type)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let found = admin
            .triage()
            .get_incident_type(pb::GetIncidentTypeRequest {
                name: format!("incident-types/{code}"),
            })
            .await
            .map_err(|s| CliError::rpc("GetIncidentType", &s))?
            .into_inner()
            .incident_type
            .unwrap_or_default();
        protocols.insert(code.to_owned(), found.protocol.unwrap_or_default());
    }

    let total = rows.len();
    let mut channels_mapped: std::collections::BTreeMap<String, u64> = Default::default();
    for row in &rows {
        if let Some(from) = &row.channel_mapped_from {
            *channels_mapped
                .entry(format!("{from} → {}", data::channel_name(row.channel)))
                .or_default() += 1;
        }
    }
    let follow =
        follow_data.then(|| follow::follow(&rows, args.lifecycle == Lifecycle::Full, back_enter));
    // What the data's own timestamps give, as the replay enters them (only a full lifecycle
    // enters every status).
    let data_intervals = follow
        .as_ref()
        .filter(|_| args.lifecycle == Lifecycle::Full)
        .map(|f| intervals::data_intervals(&rows, &f.plan, window.from, window.to));
    let progress = if args.no_progress || ctx.format != Format::Table {
        ProgressBar::hidden()
    } else {
        crate::output::progress_bar(total as u64, "calls")
    };
    let (timers, mut due) = mpsc::unbounded_channel();
    let workers = staff.len();
    let sim = Arc::new(Sim {
        staff,
        gateway,
        protocols,
        stats: Mutex::new(report::Stats::default()),
        gate: Mutex::new(Vec::new()),
        gate_changed: Notify::new(),
        open: Mutex::new(HashMap::new()),
        timers,
        seq: std::sync::atomic::AtomicU64::new(0),
        lifecycle: args.lifecycle,
        clock: args.clock,
        progress: progress.clone(),
        follow,
        units,
        homes,
    });

    let started = Instant::now();
    let t0 = rows[0].received;
    let wall_of = |t: DateTime<Utc>| -> Option<tokio::time::Instant> {
        match args.speed {
            Speed::Max => None,
            Speed::Factor(factor) => {
                let simulated = (t - t0).to_std().unwrap_or_default();
                Some(tokio::time::Instant::from_std(started) + simulated.div_f64(factor))
            }
        }
    };
    let permits = Arc::new(Semaphore::new(workers * 2));
    // Timers have permits of their own: a call may wait for a unit's earlier steps (following
    // the data), which must never wait behind it.
    let timer_permits = Arc::new(Semaphore::new(workers * 2));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut heap: BinaryHeap<Timer> = BinaryHeap::new();
    let mut rows = rows.into_iter().peekable();
    let mut next_staff = 0usize;
    loop {
        while let Ok(timer) = due.try_recv() {
            heap.push(timer);
        }
        while let Some(finished) = tasks.try_join_next() {
            if finished.is_err() {
                *lock(&sim.stats)
                    .counts
                    .errors
                    .entry("a replay task panicked".into())
                    .or_default() += 1;
            }
        }
        let row_time = rows.peek().map(|r| r.received);
        let timer_time = heap.peek().map(|t| t.due);
        let (take_timer, when) = match (row_time, timer_time) {
            (None, None) => {
                if tasks.is_empty() {
                    break;
                }
                tokio::select! {
                    Some(timer) = due.recv() => heap.push(timer),
                    _ = tasks.join_next() => {}
                }
                continue;
            }
            (Some(r), None) => (false, r),
            (None, Some(t)) => (true, t),
            (Some(r), Some(t)) => (t <= r, if t <= r { t } else { r }),
        };
        if let Some(wall) = wall_of(when)
            && wall > tokio::time::Instant::now()
        {
            tokio::select! {
                () = tokio::time::sleep_until(wall) => {}
                Some(timer) = due.recv() => {
                    heap.push(timer);
                    continue;
                }
            }
        }
        if take_timer {
            let Some(timer) = heap.pop() else { continue };
            let Ok(permit) = timer_permits.clone().acquire_owned().await else {
                break;
            };
            let sim = sim.clone();
            tasks.spawn(async move {
                run_timer(sim, timer).await;
                drop(permit);
            });
        } else {
            let Some(row) = rows.next() else { continue };
            sim.enter_gate(&row).await;
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let staff = next_staff % workers;
            next_staff += 1;
            let sim = sim.clone();
            tasks.spawn(async move {
                take_call(sim, row, staff).await;
                drop(permit);
            });
        }
    }
    progress.finish_and_clear();
    let wall = started.elapsed();
    let mut stats = std::mem::take(&mut *lock(&sim.stats));
    let retries = admin.retries();
    *stats
        .counts
        .errors
        .entry("SetUnitStatus: a unit's history refused (status_time)".into())
        .or_default() += history_refused;
    stats.counts.errors.retain(|_, n| *n > 0);
    stats.counts.retries = retries.retries;
    stats.counts.retries_by_code = retries.by_code;
    let report = report::Report::new(
        report::Inputs {
            dataset: args.dataset.label(),
            file: path.display().to_string(),
            speed: match args.speed {
                Speed::Max => "max".into(),
                Speed::Factor(f) => format!("{f}x"),
            },
            workers,
            rows: total,
            quality,
            channels_mapped,
            data_from,
            data_to,
            wall,
            truth: match args.dataset {
                Dataset::C5 => Some("C5 closing code D (duplicado)"),
                Dataset::Sf => Some(
                    "SF's incident numbers (a call of an incident an earlier call started is its duplicate)",
                ),
                Dataset::Montgomery => None,
            },
            window,
            stations,
        },
        &mut stats,
    );
    let report = report::Report {
        data_intervals,
        ..report
    };
    match ctx.format {
        Format::Json => writeln!(
            ctx.out,
            "{}",
            serde_json::to_string(&report).map_err(anyhow::Error::from)?
        )?,
        Format::Name | Format::Table => report.write(ctx.out)?,
    }
    Ok(())
}

/// San Francisco's stations: `sf_fire_stations.csv` beside the calls file or in the data
/// directory, and where they came from; none (stations at their areas' medians) when absent.
fn sf_stations(args: &ReplayArgs, calls: &std::path::Path) -> Result<(fleet::SfStations, String)> {
    const NAME: &str = "sf_fire_stations.csv";
    let beside = calls.parent().map(|dir| dir.join(NAME));
    let found = beside
        .into_iter()
        .chain(std::iter::once(args.data_dir.join(NAME)))
        .find(|p| p.is_file());
    match found {
        Some(path) => {
            let stations = runs::read_stations(&path)?;
            let note = format!("{} stations from {}", stations.len(), path.display());
            Ok((stations, note))
        }
        None => Ok((
            fleet::SfStations::new(),
            format!(
                "no {NAME} beside the calls or in the data directory: stations stand at the median of their areas' calls"
            ),
        )),
    }
}

/// Whether the replay sends the units the data says were sent, at the data's times.
fn follow_data_of(args: &ReplayArgs) -> bool {
    args.dataset == Dataset::Sf
}

/// A fleet made for the replay takes its history from the data: each unit has been available
/// since the data's first call, so the data's times can be back-entered (the server allows
/// back-dating the status of a unit never committed; see SetUnitStatus.status_time). Returns
/// how many units refused (units of an earlier replay on this server, already committed once).
async fn available_since<'a>(
    dispatcher: &Clients,
    units: impl Iterator<Item = &'a String>,
    since: DateTime<Utc>,
) -> u64 {
    let mut refused = 0;
    for unit in units {
        let request = pb::SetUnitStatusRequest {
            request_id: request_id(),
            unit: unit.clone(),
            status: pb::UnitStatus::Available.into(),
            incident: String::new(),
            note: "replay: in service since the data's first call".into(),
            etag: String::new(),
            status_time: timestamp(since),
        };
        if dispatcher.units().set_unit_status(request).await.is_err() {
            refused += 1;
        }
    }
    refused
}
