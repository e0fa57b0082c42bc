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

mod data;
mod fleet;
mod report;

use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use dispatch_proto::v1 as pb;
use indicatif::ProgressBar;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::Ctx;
use crate::client::Clients;
use crate::demo::{self, City, Summary};
use crate::error::{CliError, Result};
use crate::output::Format;
use crate::parse;

pub use data::Dataset;

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the server allows.
    Max,
    /// Simulated seconds per wall-clock second (1 = real time).
    Factor(f64),
}

fn parse_speed(text: &str) -> std::result::Result<Speed, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(Speed::Max);
    }
    text.trim_end_matches('x')
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0)
        .map(Speed::Factor)
        .ok_or_else(|| {
            format!("{text:?}: say max, or a factor like 1 (real time) or 60 (an hour a minute)")
        })
}

/// What the units do after assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lifecycle {
    /// En route, on scene (with a position report there), clear; then resolve and close.
    Full,
    /// Clear and close only: fewer calls per incident.
    Short,
}

/// The received_time the calls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// The data's own times, so duplicate windows follow the data's clock at any speed.
    Data,
    /// The wall clock: for watching a replay live at a speed near real time.
    Now,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Which data set: c5 (on the demo city), sf or montgomery (each with its own fleet).
    #[arg(long, value_enum, default_value = "c5")]
    pub dataset: Dataset,
    /// The CSV file; default DATA_DIR/<the data set's file>.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Where the data sets are.
    #[arg(long, env = "DISPATCH_REPLAY_DATA", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// "max" (as fast as possible) or a factor: 1 is real time, 60 an hour a minute.
    #[arg(long, default_value = "max", value_parser = parse_speed)]
    pub speed: Speed,
    /// Replay only the first N calls (in time order).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Simulated staff working at once (each a call taker and a dispatcher).
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// What units do after assignment.
    #[arg(long, value_enum, default_value = "full")]
    pub lifecycle: Lifecycle,
    /// The received_time of the calls: the data's, or now.
    #[arg(long, value_enum, default_value = "data")]
    pub clock: Clock,
    /// Seed of the demo city (whose units' home positions a C5 replay refreshes).
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A call waits while an earlier call this close (metres) is still being taken: further than
/// the largest duplicate search radius the server uses by default (2 km).
const GATE_RADIUS_M: f64 = 2_500.0;
/// Simulated time from a call to its units' assignment (call processing).
const PROCESSING: Duration = Duration::from_secs(60);
/// Simulated turnout: assignment to en route.
const TURNOUT: Duration = Duration::from_secs(45);

fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// One simulated staff member's credentials.
#[derive(Debug, Clone)]
struct Staff {
    taker: Clients,
    dispatcher: Clients,
}

#[derive(Debug)]
enum Action {
    EnRoute {
        unit: String,
        incident: String,
        travel: Duration,
        scene: Duration,
        at: (f64, f64),
    },
    OnScene {
        unit: String,
        incident: String,
        scene: Duration,
        at: (f64, f64),
    },
    Clear {
        unit: String,
        incident: String,
    },
    CloseEmpty {
        incident: String,
    },
}

#[derive(Debug)]
struct Timer {
    due: DateTime<Utc>,
    seq: u64,
    staff: usize,
    action: Action,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed: the earliest timer is the greatest, for BinaryHeap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// An incident with units out.
#[derive(Debug)]
struct Open {
    remaining: usize,
    closing: pb::ClosingCode,
}

struct Sim {
    staff: Vec<Staff>,
    gateway: Clients,
    protocols: HashMap<String, pb::Protocol>,
    stats: Mutex<report::Stats>,
    gate: Mutex<Vec<(usize, f64, f64)>>,
    gate_changed: Notify,
    open: Mutex<HashMap<String, Open>>,
    timers: mpsc::UnboundedSender<Timer>,
    seq: std::sync::atomic::AtomicU64,
    lifecycle: Lifecycle,
    clock: Clock,
    progress: ProgressBar,
}

/// Calls one RPC: `$client.$method($request)`, timed. The client layer retries what the
/// server asks to be retried (see [`crate::retry`]), with the same request.
macro_rules! call {
    ($sim:expr, $name:literal, $client:expr, $method:ident, $request:expr) => {{
        let mut client = $client;
        $sim.rpc($name, client.$method($request)).await
    }};
}

impl Sim {
    async fn rpc<T>(
        &self,
        name: &'static str,
        call: impl Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    ) -> std::result::Result<T, tonic::Status> {
        let start = Instant::now();
        let response = call.await?;
        lock(&self.stats).record(name, start.elapsed());
        Ok(response.into_inner())
    }

    fn fail(&self, name: &'static str, status: &tonic::Status) {
        lock(&self.stats).error(name, status);
    }

    fn schedule(&self, due: DateTime<Utc>, staff: usize, action: Action) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The receiver lives as long as the replay; a send fails only when it is over.
        let _ = self.timers.send(Timer {
            due,
            seq,
            staff,
            action,
        });
    }

    async fn enter_gate(&self, row: &data::Row) {
        loop {
            let notified = self.gate_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut gate = lock(&self.gate);
                if !gate.iter().any(|(_, lat, lon)| {
                    haversine_m((row.lat, row.lon), (*lat, *lon)) < GATE_RADIUS_M
                }) {
                    gate.push((row.index, row.lat, row.lon));
                    return;
                }
            }
            notified.await;
        }
    }

    fn leave_gate(&self, index: usize) {
        lock(&self.gate).retain(|(i, _, _)| *i != index);
        self.gate_changed.notify_waiters();
    }
}

fn timestamp(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(parse::timestamp(t))
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// How long units stay on scene: the data's when it has it, otherwise by type, varied.
fn scene_time(row: &data::Row) -> Duration {
    if let Some(scene) = row.scene {
        return scene.clamp(Duration::from_secs(5 * 60), Duration::from_secs(3 * 3600));
    }
    let minutes = match row.incident_type {
        "TRAFFIC-COLLISION" => 25.0,
        "TRAFFIC-FATALITY" => 120.0,
        "TRAFFIC-TRAPPED" | "TRAFFIC-DROP" | "TRAFFIC-ROLLOVER" => 60.0,
        t if t.starts_with("FIRE") => 50.0,
        _ => 40.0,
    };
    let factor = 0.6 + demo::city::Rng::for_name(0x5ce7e, &row.key).unit();
    Duration::from_secs_f64(minutes * 60.0 * factor)
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or_default()
}

/// One row: intake, then (for a new incident) triage, recommendation and assignment.
async fn take_call(sim: Arc<Sim>, row: data::Row, staff: usize) {
    let s = &sim.staff[staff];
    let received = match sim.clock {
        Clock::Data => row.received,
        Clock::Now => Utc::now(),
    };
    let create = pb::CreateCallRequest {
        request_id: request_id(),
        channel: row.channel.into(),
        received_time: timestamp(received),
        answered_time: timestamp(received),
        back_entered: false,
        callback_number: String::new(),
        caller_name: String::new(),
        language: "es-MX".into(),
        location: Some(pb::Location {
            point: Some(pb::GeoPoint {
                latitude: row.lat,
                longitude: row.lon,
            }),
            uncertainty_m: row.uncertainty_m,
            source: row.source.into(),
            civic_address: String::new(),
        }),
        account: row.account.clone(),
        incident_type_hint: row.incident_type.into(),
        source_device_id: String::new(),
    };
    let created = match call!(sim, "CreateCall", s.taker.calls(), create_call, create) {
        Ok(created) => created,
        Err(status) => {
            sim.fail("CreateCall", &status);
            lock(&sim.stats).failed_intake += 1;
            sim.leave_gate(row.index);
            sim.progress.inc(1);
            return;
        }
    };
    let call_name = created.call.map(|c| c.name).unwrap_or_default();
    let mut linked = false;
    if let Some(top) = created.duplicate_candidates.first() {
        let link = pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: call_name.clone(),
            incident: top.incident.clone(),
            note: format!("replay: top suggestion ({})", top.explanation),
            etag: String::new(),
        };
        match call!(
            sim,
            "LinkCallToIncident",
            s.taker.calls(),
            link_call_to_incident,
            link
        ) {
            Ok(_) => linked = true,
            // Closed or resolved between the suggestion and the link: a new incident then.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::FailedPrecondition | tonic::Code::NotFound
                ) =>
            {
                lock(&sim.stats).link_fallbacks += 1;
            }
            Err(status) => {
                sim.fail("LinkCallToIncident", &status);
                lock(&sim.stats).failed_intake += 1;
                sim.leave_gate(row.index);
                sim.progress.inc(1);
                return;
            }
        }
    }
    let mut incident = String::new();
    if !linked {
        let open = pb::OpenIncidentFromCallRequest {
            request_id: request_id(),
            name: call_name.clone(),
            incident_type: row.incident_type.into(),
            summary: String::new(),
            etag: String::new(),
        };
        match call!(
            sim,
            "OpenIncidentFromCall",
            s.taker.calls(),
            open_incident_from_call,
            open
        ) {
            Ok(opened) => incident = opened.incident.map(|i| i.name).unwrap_or_default(),
            Err(status) => {
                sim.fail("OpenIncidentFromCall", &status);
                lock(&sim.stats).failed_intake += 1;
                sim.leave_gate(row.index);
                sim.progress.inc(1);
                return;
            }
        }
    }
    sim.leave_gate(row.index);
    {
        let mut stats = lock(&sim.stats);
        stats.calls += 1;
        if linked {
            stats.linked += 1;
        } else {
            stats.opened += 1;
        }
        if let Some(truth) = row.duplicate_in_data {
            stats.confusion[usize::from(truth)][usize::from(linked)] += 1;
        }
        sim.progress
            .set_message(format!("{} linked, {} opened", stats.linked, stats.opened));
    }
    sim.progress.inc(1);
    if linked {
        return;
    }
    dispatch(&sim, &row, staff, incident).await;
}

async fn dispatch(sim: &Sim, row: &data::Row, staff: usize, incident: String) {
    let s = &sim.staff[staff];
    let assigned_at = add(row.received, PROCESSING);
    let answers = sim
        .protocols
        .get(row.incident_type)
        .map(|p| data::answers(p, &row.answers))
        .unwrap_or_default();
    let triage = pb::TriageIncidentRequest {
        request_id: request_id(),
        name: incident.clone(),
        incident_type: String::new(),
        answers,
        etag: String::new(),
    };
    if let Err(status) = call!(
        sim,
        "TriageIncident",
        s.dispatcher.triage(),
        triage_incident,
        triage
    ) {
        sim.fail("TriageIncident", &status);
        sim.schedule(
            add(assigned_at, scene_time(row)),
            staff,
            Action::CloseEmpty { incident },
        );
        return;
    }
    lock(&sim.stats).triaged += 1;
    let mut assigned: Vec<(String, Duration)> = Vec::new();
    let mut last: Option<pb::Recommendation> = None;
    for _attempt in 0..3 {
        let recommend = pb::RecommendUnitsRequest {
            request_id: request_id(),
            incident: incident.clone(),
            plan_override: None,
            max_candidates_per_requirement: 0,
        };
        let recommendation = match call!(
            sim,
            "RecommendUnits",
            s.dispatcher.units(),
            recommend_units,
            recommend
        ) {
            Ok(r) => r.recommendation.unwrap_or_default(),
            Err(status) => {
                sim.fail("RecommendUnits", &status);
                break;
            }
        };
        lock(&sim.stats).recommended += 1;
        let picked: Vec<(String, Duration)> = recommendation
            .fills
            .iter()
            .flat_map(|f| f.candidates.iter().filter(|c| c.picked))
            .map(|c| {
                let eta = c
                    .eta
                    .as_ref()
                    .map(|d| Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0)))
                    .unwrap_or(Duration::from_secs(8 * 60));
                (c.unit.clone(), eta.min(Duration::from_secs(45 * 60)))
            })
            .collect();
        let name = recommendation.name.clone();
        last = Some(recommendation);
        if picked.is_empty() {
            break;
        }
        let assign = pb::AssignUnitsRequest {
            request_id: request_id(),
            incident: incident.clone(),
            units: picked.iter().map(|(u, _)| u.clone()).collect(),
            recommendation: name,
            override_reason: String::new(),
        };
        match call!(
            sim,
            "AssignUnits",
            s.dispatcher.units(),
            assign_units,
            assign
        ) {
            Ok(_) => {
                assigned = picked;
                break;
            }
            // Another dispatcher took one of the units meanwhile: recommend again.
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                lock(&sim.stats).assign_races += 1;
            }
            Err(status) => {
                sim.fail("AssignUnits", &status);
                break;
            }
        }
    }
    if let Some(recommendation) = &last
        && recommendation.total_shortfall > 0
    {
        let mut stats = lock(&sim.stats);
        stats.incidents_short += 1;
        stats.units_short += u64::try_from(recommendation.total_shortfall).unwrap_or(0);
        for fill in &recommendation.fills {
            if fill.shortfall > 0 {
                let capability = fill
                    .requirement
                    .as_ref()
                    .map(|r| r.capability.clone())
                    .unwrap_or_default();
                *stats.short_by_capability.entry(capability).or_default() +=
                    u64::try_from(fill.shortfall).unwrap_or(0);
            }
        }
    }
    let scene = scene_time(row);
    if assigned.is_empty() {
        sim.schedule(
            add(assigned_at, scene),
            staff,
            Action::CloseEmpty { incident },
        );
        return;
    }
    {
        let mut stats = lock(&sim.stats);
        stats.incidents_assigned += 1;
        stats.units_assigned += assigned.len() as u64;
    }
    lock(&sim.open).insert(
        incident.clone(),
        Open {
            remaining: assigned.len(),
            closing: row.closing,
        },
    );
    // Each step schedules the next when done, so a unit's steps never overtake each other.
    for (unit, travel) in assigned {
        let incident = incident.clone();
        match sim.lifecycle {
            Lifecycle::Full => sim.schedule(
                add(assigned_at, TURNOUT),
                staff,
                Action::EnRoute {
                    unit,
                    incident,
                    travel,
                    scene,
                    at: (row.lat, row.lon),
                },
            ),
            Lifecycle::Short => sim.schedule(
                add(assigned_at, TURNOUT + travel + scene),
                staff,
                Action::Clear { unit, incident },
            ),
        }
    }
}

async fn set_status(
    sim: &Sim,
    staff: usize,
    unit: &str,
    incident: &str,
    status: pb::UnitStatus,
) -> bool {
    let request = pb::SetUnitStatusRequest {
        request_id: request_id(),
        unit: unit.to_owned(),
        status: status.into(),
        incident: incident.to_owned(),
        note: String::new(),
        etag: String::new(),
        status_time: None,
    };
    match call!(
        sim,
        "SetUnitStatus",
        sim.staff[staff].dispatcher.units(),
        set_unit_status,
        request
    ) {
        Ok(_) => true,
        Err(status) => {
            sim.fail("SetUnitStatus", &status);
            false
        }
    }
}

async fn close(sim: &Sim, staff: usize, incident: &str, code: pb::ClosingCode, resolve: bool) {
    let s = &sim.staff[staff];
    if resolve {
        let request = pb::ChangeIncidentStatusRequest {
            request_id: request_id(),
            name: incident.to_owned(),
            status: pb::IncidentStatus::Resolved.into(),
            note: "replay: units cleared".into(),
            etag: String::new(),
        };
        if let Err(status) = call!(
            sim,
            "ChangeIncidentStatus",
            s.dispatcher.triage(),
            change_incident_status,
            request
        ) {
            // Not on scene (a short lifecycle): closing does not need it.
            if status.code() != tonic::Code::FailedPrecondition {
                sim.fail("ChangeIncidentStatus", &status);
            }
        }
    }
    let request = pb::CloseIncidentRequest {
        request_id: request_id(),
        name: incident.to_owned(),
        closing_code: code.into(),
        note: "replay: closed with the data's code".into(),
        duplicate_of: String::new(),
        etag: String::new(),
    };
    match call!(
        sim,
        "CloseIncident",
        s.dispatcher.triage(),
        close_incident,
        request
    ) {
        Ok(_) => lock(&sim.stats).incidents_closed += 1,
        Err(status) => sim.fail("CloseIncident", &status),
    }
}

async fn run_timer(sim: Arc<Sim>, timer: Timer) {
    let staff = timer.staff;
    match timer.action {
        Action::EnRoute {
            unit,
            incident,
            travel,
            scene,
            at,
        } => {
            set_status(&sim, staff, &unit, &incident, pb::UnitStatus::EnRoute).await;
            sim.schedule(
                add(timer.due, travel),
                staff,
                Action::OnScene {
                    unit,
                    incident,
                    scene,
                    at,
                },
            );
        }
        Action::OnScene {
            unit,
            incident,
            scene,
            at,
        } => {
            let report = pb::ReportPositionBatchRequest {
                request_id: request_id(),
                reports: vec![pb::PositionReport {
                    unit: unit.clone(),
                    point: Some(pb::GeoPoint {
                        latitude: at.0,
                        longitude: at.1,
                    }),
                    accuracy_m: 10.0,
                    heading_deg: None,
                    speed_mps: Some(0.0),
                    fix_time: timestamp(Utc::now()),
                }],
            };
            if let Err(status) = call!(
                sim,
                "ReportPositionBatch",
                sim.gateway.units(),
                report_position_batch,
                report
            ) {
                sim.fail("ReportPositionBatch", &status);
            }
            set_status(&sim, staff, &unit, &incident, pb::UnitStatus::OnScene).await;
            sim.schedule(
                add(timer.due, scene),
                staff,
                Action::Clear { unit, incident },
            );
        }
        Action::Clear { unit, incident } => {
            if set_status(&sim, staff, &unit, &incident, pb::UnitStatus::Available).await {
                lock(&sim.stats).units_cleared += 1;
            }
            let done = {
                let mut open = lock(&sim.open);
                match open.get_mut(&incident) {
                    Some(state) => {
                        state.remaining = state.remaining.saturating_sub(1);
                        if state.remaining == 0 {
                            open.remove(&incident).map(|s| s.closing)
                        } else {
                            None
                        }
                    }
                    None => None,
                }
            };
            if let Some(code) = done {
                close(
                    &sim,
                    staff,
                    &incident,
                    code,
                    sim.lifecycle == Lifecycle::Full,
                )
                .await;
            }
        }
        Action::CloseEmpty { incident } => {
            close(&sim, staff, &incident, pb::ClosingCode::Negative, false).await;
        }
    }
}

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
) -> Result<()> {
    let reader = staff[0].dispatcher.clone();
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
        Dataset::Sf => {
            let city = fleet::san_francisco(&rows);
            demo::build(
                admin,
                &reader,
                &fleet::SF_AGENCIES,
                &city,
                args.seed,
                &mut Summary::default(),
            )
            .await?;
            city
        }
        Dataset::Montgomery => {
            let city = fleet::montgomery(&rows);
            demo::build(
                admin,
                &reader,
                &fleet::MONTGOMERY_AGENCIES,
                &city,
                args.seed,
                &mut Summary::default(),
            )
            .await?;
            city
        }
    };
    let positions = demo::report_positions(&gateway, &reader, &fleet).await?;
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
            let Ok(permit) = permits.clone().acquire_owned().await else {
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
    stats.retries = retries.retries;
    stats.retried = retries.by_code;
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
            compare_duplicates: args.dataset == Dataset::C5,
        },
        &mut stats,
    );
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
