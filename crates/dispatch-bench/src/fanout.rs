//! Section 4: fan-out. 1,000 consoles watch (WatchIncidents, or WatchUnits) over a few HTTP/2
//! connections; once every stream has its snapshot, a dispatcher makes assignments one at a
//! time, and each console's receipt of the matching event is timed from the moment AssignUnits
//! returned (its commit). Watchers on the server that assigns, and watchers on a second server
//! sharing the database (the cross-process delay).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use dispatch_geo::synthetic::SplitMix64;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use futures::stream::{BoxStream, StreamExt as _};
use tonic::Status;
use tonic::transport::Channel;

use crate::intake::call_request;
use crate::report::{Bench, Line, Samples, Summary, ms, show};
use crate::server::{self, Answered as _, Server};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Feed {
    /// WatchIncidents: the event is the incident's UNIT_DISPATCHED change.
    Incidents,
    /// WatchUnits: the event is the unit's change to DISPATCHED.
    Units,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Watchers on the server that assigns.
    Same,
    /// Watchers on a second server on the same database.
    Cross,
    /// Both, one after the other.
    Both,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub watchers: usize,
    pub assignments: usize,
    /// HTTP/2 connections the watchers' streams are spread over.
    pub channels: usize,
    pub feed: Feed,
    pub mode: Mode,
    /// Pause between two assignments.
    pub interval: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    Same,
    Cross,
}

#[derive(Debug)]
struct Measured {
    latency: Summary,
    /// From the events' own commit time stamps, when they carry one.
    from_event_time: Option<Summary>,
    delivered: usize,
    expected: usize,
    /// Events that reached a watcher before AssignUnits had returned to the dispatcher.
    early: usize,
    snapshot: Duration,
    snapshot_items: usize,
    assign: Summary,
    broken: usize,
    /// Streams refused before their snapshot and opened again, over all watchers.
    retries: u64,
}

#[derive(Debug)]
enum Outcome {
    Measured(Box<Measured>),
    Unavailable(String),
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    let feed_name = match options.feed {
        Feed::Incidents => "WatchIncidents",
        Feed::Units => "WatchUnits",
    };
    println!(
        "\n## 4. Fan-out: AssignUnits commit to arrival at {} {feed_name} consoles\n\n\
         {} assignments, {} ms apart; the watchers' streams share {} HTTP/2 connections.\n",
        options.watchers,
        options.assignments,
        options.interval.as_millis(),
        options.channels
    );
    let rounds: Vec<Round> = match options.mode {
        Mode::Same => vec![Round::Same],
        Mode::Cross => vec![Round::Cross],
        Mode::Both => vec![Round::Same, Round::Cross],
    };
    report.set("fanout_watchers", options.watchers as f64);
    let url = cluster.dispatch_database("bench_fanout").await?;
    let a = Server::start(&url).await?;
    let b = if rounds.contains(&Round::Cross) {
        Some(Server::start(&url).await?)
    } else {
        None
    };
    let total = options.assignments * rounds.len();
    let (call_taker, dispatcher) = a.call_taker_and_dispatcher("fanout").await?;
    let incidents = create_incidents(&a, &call_taker, total, options.seed).await?;
    let units = create_units(&a, total).await?;

    println!(
        "| watchers on | delivered | early | snapshots s (items each, retries) | p50 ms | p99 ms | max ms | from event time p50/p99 ms | AssignUnits p50 ms |"
    );
    println!(
        "|-------------|----------:|------:|----------------------------------:|-------:|-------:|-------:|---------------------------:|-------------------:|"
    );
    for (r, round) in rounds.iter().enumerate() {
        let watch_server = match (round, &b) {
            (Round::Cross, Some(b)) => b,
            _ => &a,
        };
        let watch_tokens = watch_server
            .tokens(
                pb::Role::Dispatcher,
                "bench-console",
                options.channels.max(1),
            )
            .await?;
        let range = r * options.assignments..(r + 1) * options.assignments;
        let pairs: Vec<(String, String)> = incidents[range.clone()]
            .iter()
            .cloned()
            .zip(units[range].iter().cloned())
            .collect();
        let assigner = server::units(a.connection()?, &dispatcher)?;
        let channels = (0..options.channels.max(1))
            .map(|_| watch_server.connection())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let outcome = measure(options, channels, &watch_tokens, assigner, &pairs).await?;
        let where_ = match round {
            Round::Same => "the assigning server",
            Round::Cross => "a second server",
        };
        match outcome {
            Outcome::Unavailable(reason) => {
                println!("| {where_} | unavailable: {reason} | | | | | | | |");
                report.set_text("fanout_status", format!("unavailable: {reason}"));
                report.note(format!(
                    "Fan-out: {feed_name} is unavailable ({reason}); not measured."
                ));
                break;
            }
            Outcome::Measured(m) => {
                println!(
                    "| {where_} | {}/{} | {} | {:.1} ({}, {}) | {:.1} | {:.1} | {:.1} | {} | {:.1} |",
                    m.delivered,
                    m.expected,
                    m.early,
                    m.snapshot.as_secs_f64(),
                    m.snapshot_items / options.watchers.max(1),
                    m.retries,
                    ms(m.latency.p50),
                    ms(m.latency.p99),
                    ms(m.latency.max),
                    m.from_event_time.map_or("n/a".into(), |s| format!(
                        "{:.1}/{:.1}",
                        ms(s.p50),
                        ms(s.p99)
                    )),
                    ms(m.assign.p50),
                );
                if m.broken > 0 {
                    println!(
                        "  {} stream(s) ended before the last assignment arrived",
                        m.broken
                    );
                }
                let prefix = match round {
                    Round::Same => "fanout",
                    Round::Cross => "fanout_cross_process",
                };
                report.set_text("fanout_status", "measured");
                report.set(&format!("{prefix}_p50_ms"), ms(m.latency.p50));
                report.set(&format!("{prefix}_p99_ms"), ms(m.latency.p99));
                report.set(&format!("{prefix}_max_ms"), ms(m.latency.max));
                report.set(
                    &format!("{prefix}_from_event_time_p99_ms"),
                    m.from_event_time.map(|s| ms(s.p99)),
                );
                report.set(&format!("{prefix}_early"), m.early as f64);
                report.set(&format!("{prefix}_snapshot_retries"), m.retries as f64);
                report.set(&format!("{prefix}_snapshots_s"), m.snapshot.as_secs_f64());
                report.set(
                    &format!("{prefix}_delivered_ratio"),
                    m.delivered as f64 / m.expected.max(1) as f64,
                );
                let complete = m.delivered == m.expected;
                let p99 = ms(m.latency.p99);
                report.line(Line {
                    what: format!("fan-out p99, {} watchers on {where_}", options.watchers),
                    ours: format!(
                        "{} ({}/{} delivered)",
                        show(Some(p99), "ms"),
                        m.delivered,
                        m.expected
                    ),
                    against: "-".into(),
                    target: "< 100 ms".into(),
                    met: Some(p99 < 100.0 && complete),
                });
            }
        }
    }
    if let Some(b) = b {
        b.stop().await?;
    }
    a.stop().await?;
    cluster.drop_database("bench_fanout").await?;
    Ok(())
}

/// `n` incidents, NEW, each opened from its call, spread over the city.
pub async fn create_incidents(
    server: &Server,
    token: &str,
    n: usize,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let client = server::calls(server.connection()?, token)?;
    let mut rng = SplitMix64::new(seed ^ 0xfa17);
    let requests: Vec<pb::CreateCallRequest> = (0..n).map(|_| call_request(&mut rng)).collect();
    eight_at_a_time(requests, |request| {
        let mut client = client.clone();
        async move {
            let call = client
                .create_call(request)
                .await
                .part("CreateCall", |answer| answer.call)?;
            let incident = client
                .open_incident_from_call(pb::OpenIncidentFromCallRequest {
                    request_id: server::request_id(),
                    name: call.name,
                    ..Default::default()
                })
                .await
                .part("OpenIncidentFromCall", |answer| answer.incident)?;
            anyhow::Ok(incident.name)
        }
    })
    .await
}

/// `n` available patrol units.
async fn create_units(server: &Server, n: usize) -> anyhow::Result<Vec<String>> {
    let mut admin = server.directory_admin()?;
    let agency = admin
        .create_agency(pb::CreateAgencyRequest {
            request_id: server::request_id(),
            agency: Some(pb::Agency {
                code: "FANOUT".into(),
                display_name: "Fan-out benchmark".into(),
                kind: pb::AgencyKind::Police.into(),
                ..Default::default()
            }),
        })
        .await
        .part("CreateAgency", |answer| answer.agency)?;
    eight_at_a_time(0..n, |i| {
        let mut admin = admin.clone();
        let agency = agency.name.clone();
        async move {
            let unit = admin
                .create_unit(pb::CreateUnitRequest {
                    request_id: server::request_id(),
                    unit: Some(pb::Unit {
                        call_sign: format!("FAN{i:05}"),
                        agency,
                        unit_type: pb::UnitType::Patrol.into(),
                        capabilities: vec!["patrol".into()],
                        status: pb::UnitStatus::Available.into(),
                        ..Default::default()
                    }),
                })
                .await
                .part("CreateUnit", |answer| answer.unit)?;
            anyhow::Ok(unit.name)
        }
    })
    .await
}

/// The names `create` answers for each of `items`, eight requests at a time, in order.
async fn eight_at_a_time<I, F: Future<Output = anyhow::Result<String>>>(
    items: impl IntoIterator<Item = I>,
    create: impl FnMut(I) -> F,
) -> anyhow::Result<Vec<String>> {
    let names: Vec<anyhow::Result<String>> = futures::stream::iter(items)
        .map(create)
        .buffered(8)
        .collect()
        .await;
    names.into_iter().collect()
}

fn system_time(t: &prost_types::Timestamp) -> Option<std::time::SystemTime> {
    let seconds = u64::try_from(t.seconds).ok()?;
    let nanos = u32::try_from(t.nanos).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// What a watcher needs to know of a stream message.
#[derive(Debug)]
enum Msg {
    Snapshot,
    Complete,
    /// The incident or unit the event is about, and when the server says it committed.
    Event(String, Option<prost_types::Timestamp>),
    Resync(String),
    Heartbeat,
}

type MsgStream = BoxStream<'static, Result<Msg, Status>>;

/// The [`Msg`] of one feed's response: every feed sends the same five kinds of item; `$about`
/// names what an event is about.
macro_rules! msg {
    ($response:expr, $items:path, $about:expr) => {{
        use $items as Item;
        match $response.item {
            Some(Item::Snapshot(_)) => Msg::Snapshot,
            Some(Item::SnapshotComplete(_)) => Msg::Complete,
            Some(Item::Event(e)) => Msg::Event($about(&e).unwrap_or_default(), e.time),
            Some(Item::ResyncRequired(r)) => Msg::Resync(r.description),
            Some(Item::Heartbeat(_)) | None => Msg::Heartbeat,
        }
    }};
}

async fn open(feed: Feed, channel: Channel, token: String) -> Result<MsgStream, Status> {
    let internal = |e: anyhow::Error| Status::internal(e.to_string());
    Ok(match feed {
        Feed::Incidents => server::triage(channel, &token)
            .map_err(internal)?
            .watch_incidents(pb::WatchIncidentsRequest::default())
            .await?
            .into_inner()
            .map(|item| {
                item.map(|m| {
                    msg!(
                        m,
                        pb::watch_incidents_response::Item,
                        |e: &pb::IncidentEvent| e.incident.as_ref().map(|i| i.name.clone())
                    )
                })
            })
            .boxed(),
        Feed::Units => server::units(channel, &token)
            .map_err(internal)?
            .watch_units(pb::WatchUnitsRequest::default())
            .await?
            .into_inner()
            .map(|item| {
                item.map(|m| {
                    msg!(m, pb::watch_units_response::Item, |e: &pb::UnitEvent| e
                        .unit
                        .as_ref()
                        .map(|u| u.name.clone()))
                })
            })
            .boxed(),
    })
}

#[derive(Debug, Default)]
struct Watched {
    /// (key index, when it arrived), first arrival per key only.
    received: Vec<(usize, Instant)>,
    /// Times the stream was refused before its snapshot and opened again.
    retries: u32,
    /// Per arrival, the delay from the event's own commit time (same host, same clock).
    since_event_time: Vec<Duration>,
    broken: bool,
}

/// Retries a console makes, backing off, when the server refuses a stream before its snapshot
/// completes (UNAVAILABLE, RESOURCE_EXHAUSTED: e.g. its pool is busy with other snapshots).
const MAX_RETRIES: u32 = 30;

fn retryable(status: &Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted
    )
}

async fn watcher(
    feed: Feed,
    channel: Channel,
    token: String,
    keys: Arc<HashMap<String, usize>>,
    ready: tokio::sync::mpsc::Sender<Result<usize, Status>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Watched {
    let mut watched = Watched::default();
    let mut seen = vec![false; keys.len()];
    let mut complete = false;
    'connect: loop {
        let mut snapshot_items = 0;
        let opened = open(feed, channel.clone(), token.clone()).await;
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(status) if retryable(&status) && watched.retries < MAX_RETRIES => {
                watched.retries += 1;
                tokio::time::sleep(backoff(watched.retries)).await;
                continue 'connect;
            }
            Err(status) => {
                let _ = ready.send(Err(status)).await;
                watched.broken = true;
                return watched;
            }
        };
        loop {
            tokio::select! {
                _ = stop.changed() => break 'connect,
                next = stream.next() => {
                    let at = Instant::now();
                    let failure = match next {
                        Some(Ok(Msg::Snapshot)) => { snapshot_items += 1; None }
                        Some(Ok(Msg::Complete)) => {
                            complete = true;
                            let _ = ready.send(Ok(snapshot_items)).await;
                            None
                        }
                        Some(Ok(Msg::Event(key, time))) => {
                            if let Some(&i) = keys.get(&key)
                                && !seen[i]
                            {
                                seen[i] = true;
                                watched.received.push((i, at));
                                if let Some(time) = time.and_then(|t| system_time(&t)) {
                                    watched.since_event_time.push(
                                        std::time::SystemTime::now()
                                            .duration_since(time)
                                            .unwrap_or_default(),
                                    );
                                }
                                if watched.received.len() == keys.len() {
                                    break 'connect;
                                }
                            }
                            None
                        }
                        Some(Ok(Msg::Heartbeat)) => None,
                        Some(Ok(Msg::Resync(reason))) => Some(Status::aborted(format!("ResyncRequired: {reason}"))),
                        Some(Err(status)) => Some(status),
                        None => Some(Status::unknown("the stream ended")),
                    };
                    match failure {
                        None => {}
                        Some(status)
                            if !complete && retryable(&status) && watched.retries < MAX_RETRIES =>
                        {
                            watched.retries += 1;
                            tokio::time::sleep(backoff(watched.retries)).await;
                            continue 'connect;
                        }
                        Some(status) => {
                            if !complete {
                                let _ = ready.send(Err(status)).await;
                            }
                            watched.broken = true;
                            break 'connect;
                        }
                    }
                }
            }
        }
    }
    watched
}

/// 50 ms, doubling, at most 1 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(5)).min(1_000))
}

/// Opens `options.watchers` streams over `channels`, waits for every snapshot, assigns each
/// (incident, unit) of `pairs` in turn and times every watcher's receipt of each.
async fn measure(
    options: &Options,
    channels: Vec<Channel>,
    tokens: &[String],
    mut assigner: UnitAssignmentServiceClient<server::Authed>,
    pairs: &[(String, String)],
) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        !channels.is_empty() && !tokens.is_empty(),
        "no connection or token to watch with"
    );
    let keys: HashMap<String, usize> = pairs
        .iter()
        .enumerate()
        .map(|(i, (incident, unit))| {
            let key = match options.feed {
                Feed::Incidents => incident.clone(),
                Feed::Units => unit.clone(),
            };
            (key, i)
        })
        .collect();
    let keys = Arc::new(keys);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(options.watchers.max(1));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let connecting = Instant::now();
    let mut tasks = Vec::with_capacity(options.watchers);
    for w in 0..options.watchers {
        let c = w % channels.len();
        tasks.push(tokio::spawn(watcher(
            options.feed,
            channels[c].clone(),
            tokens[c % tokens.len()].clone(),
            keys.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(ready_tx);
    let mut snapshot_items = 0;
    let mut failures: Vec<Status> = Vec::new();
    for _ in 0..options.watchers {
        match tokio::time::timeout(Duration::from_secs(120), ready_rx.recv()).await {
            Ok(Some(Ok(items))) => snapshot_items += items,
            Ok(Some(Err(status))) => failures.push(status),
            Ok(None) => break,
            Err(_) => {
                failures.push(Status::deadline_exceeded(
                    "no SnapshotComplete within 120 s",
                ));
                break;
            }
        }
    }
    let snapshot = connecting.elapsed();
    if let Some(status) = failures.first() {
        let _ = stop_tx.send(true);
        for task in tasks {
            let _ = task.await;
        }
        if status.code() == tonic::Code::Unimplemented {
            return Ok(Outcome::Unavailable("UNIMPLEMENTED".into()));
        }
        anyhow::bail!(
            "{} of {} watchers failed before their snapshot completed; the first: {status}",
            failures.len(),
            options.watchers
        );
    }

    // Let the snapshots' last bytes drain before the clock matters.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut commits = Vec::with_capacity(pairs.len());
    let mut assign = Samples::with_capacity(pairs.len());
    for (incident, unit) in pairs {
        let t = Instant::now();
        assigner
            .assign_units(pb::AssignUnitsRequest {
                request_id: server::request_id(),
                incident: incident.clone(),
                units: vec![unit.clone()],
                recommendation: String::new(),
                override_reason: "benchmark: fan-out".into(),
                dispatch_time: None,
            })
            .await
            .context("AssignUnits")?;
        let committed = Instant::now();
        assign.push(committed - t);
        commits.push(committed);
        tokio::time::sleep(options.interval).await;
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut latency = Samples::with_capacity(options.watchers * pairs.len());
    let mut from_event_time = Samples::default();
    let mut delivered = 0;
    let mut early = 0;
    let mut broken = 0;
    let mut retries = 0;
    for mut task in tasks {
        let watched = match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(result) => result?,
            Err(_) => {
                let _ = stop_tx.send(true);
                task.await?
            }
        };
        broken += usize::from(watched.broken);
        retries += u64::from(watched.retries);
        for d in watched.since_event_time {
            from_event_time.push(d);
        }
        for (i, at) in watched.received {
            delivered += 1;
            if at < commits[i] {
                early += 1;
            }
            latency.push(at.saturating_duration_since(commits[i]));
        }
    }
    Ok(Outcome::Measured(Box::new(Measured {
        latency: latency.summary(),
        from_event_time: (!from_event_time.is_empty()).then(|| from_event_time.summary()),
        delivered,
        expected: options.watchers * pairs.len(),
        early,
        snapshot,
        snapshot_items,
        assign: assign.summary(),
        broken,
        retries,
    })))
}

#[cfg(test)]
mod tests {
    //! The harness against a stand-in server that implements the stream protocol of
    //! event.proto: snapshot, SnapshotComplete, then one event per assignment.

    use super::*;
    use dispatch_proto::v1::incident_triage_service_server::{
        IncidentTriageService, IncidentTriageServiceServer,
    };
    use dispatch_proto::v1::unit_assignment_service_server::{
        UnitAssignmentService, UnitAssignmentServiceServer,
    };
    use pb::watch_incidents_response::Item;
    use tonic::codegen::BoxStream as ServerStream;
    use tonic::{Request, Response};

    #[derive(Debug, Clone)]
    struct Feed {
        events: tokio::sync::broadcast::Sender<String>,
        snapshot: usize,
        implemented: bool,
    }

    /// The RPCs the stand-in does not serve: UNIMPLEMENTED, written out because the generated
    /// servers have no default stubs (the real server must implement every RPC). Shaped as
    /// `#[tonic::async_trait]` expands an `async fn`.
    macro_rules! not_served {
        ($($method:ident($request:ty) -> $response:ty;)*) => {$(
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                _request: Request<$request>,
            ) -> std::pin::Pin<
                Box<
                    dyn std::future::Future<Output = Result<Response<$response>, Status>>
                        + Send
                        + 'async_trait,
                >,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async { Err(Status::unimplemented("not served by the stand-in")) })
            }
        )*};
    }

    fn item(item: Item) -> Result<pb::WatchIncidentsResponse, Status> {
        Ok(pb::WatchIncidentsResponse { item: Some(item) })
    }

    #[tonic::async_trait]
    impl IncidentTriageService for Feed {
        type WatchIncidentsStream = ServerStream<pb::WatchIncidentsResponse>;

        not_served! {
            list_incident_types(pb::ListIncidentTypesRequest) -> pb::ListIncidentTypesResponse;
            get_incident_type(pb::GetIncidentTypeRequest) -> pb::GetIncidentTypeResponse;
            triage_incident(pb::TriageIncidentRequest) -> pb::TriageIncidentResponse;
            get_incident(pb::GetIncidentRequest) -> pb::GetIncidentResponse;
            list_incidents(pb::ListIncidentsRequest) -> pb::ListIncidentsResponse;
            update_incident(pb::UpdateIncidentRequest) -> pb::UpdateIncidentResponse;
            add_incident_note(pb::AddIncidentNoteRequest) -> pb::AddIncidentNoteResponse;
            change_incident_status(pb::ChangeIncidentStatusRequest) -> pb::ChangeIncidentStatusResponse;
            merge_incidents(pb::MergeIncidentsRequest) -> pb::MergeIncidentsResponse;
            close_incident(pb::CloseIncidentRequest) -> pb::CloseIncidentResponse;
            cancel_incident(pb::CancelIncidentRequest) -> pb::CancelIncidentResponse;
        }

        async fn watch_incidents(
            &self,
            _request: Request<pb::WatchIncidentsRequest>,
        ) -> Result<Response<ServerStream<pb::WatchIncidentsResponse>>, Status> {
            if !self.implemented {
                return Err(Status::unimplemented("Not yet implemented"));
            }
            let live = self.events.subscribe();
            let snapshot = (0..self.snapshot)
                .map(|_| item(Item::Snapshot(pb::Incident::default())))
                .chain(std::iter::once(item(Item::SnapshotComplete(
                    pb::SnapshotComplete {
                        sequence: 1,
                        item_count: i32::try_from(self.snapshot).unwrap_or(0),
                    },
                ))));
            let live = futures::stream::unfold(live, |mut live| async move {
                loop {
                    match live.recv().await {
                        Ok(name) => {
                            let event = pb::IncidentEvent {
                                time: Some(server::timestamp(chrono::Utc::now())),
                                incident: Some(pb::Incident {
                                    name,
                                    ..Default::default()
                                }),
                                ..Default::default()
                            };
                            return Some((item(Item::Event(Box::new(event))), live));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
            Ok(Response::new(Box::pin(
                futures::stream::iter(snapshot).chain(live),
            )))
        }
    }

    #[tonic::async_trait]
    impl UnitAssignmentService for Feed {
        type WatchUnitsStream = ServerStream<pb::WatchUnitsResponse>;

        not_served! {
            set_unit_status(pb::SetUnitStatusRequest) -> pb::SetUnitStatusResponse;
            report_positions(tonic::Streaming<pb::ReportPositionsRequest>) -> pb::ReportPositionsResponse;
            report_position_batch(pb::ReportPositionBatchRequest) -> pb::ReportPositionBatchResponse;
            recommend_units(pb::RecommendUnitsRequest) -> pb::RecommendUnitsResponse;
            get_recommendation(pb::GetRecommendationRequest) -> pb::GetRecommendationResponse;
            release_unit(pb::ReleaseUnitRequest) -> pb::ReleaseUnitResponse;
            list_units(pb::ListUnitsRequest) -> pb::ListUnitsResponse;
            nearest_cameras(pb::NearestCamerasRequest) -> pb::NearestCamerasResponse;
            watch_units(pb::WatchUnitsRequest) -> ServerStream<pb::WatchUnitsResponse>;
        }

        async fn assign_units(
            &self,
            request: Request<pb::AssignUnitsRequest>,
        ) -> Result<Response<pb::AssignUnitsResponse>, Status> {
            let _ = self.events.send(request.into_inner().incident);
            Ok(Response::new(pb::AssignUnitsResponse::default()))
        }
    }

    async fn run_against(implemented: bool) -> Outcome {
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let feed = Feed {
            events,
            snapshot: 3,
            implemented,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(IncidentTriageServiceServer::new(feed.clone()))
                .add_service(UnitAssignmentServiceServer::new(feed))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let channel = || {
            tonic::transport::Endpoint::from_shared(format!("http://{address}"))
                .expect("endpoint")
                .connect_lazy()
        };
        let options = Options {
            watchers: 40,
            assignments: 5,
            channels: 3,
            feed: super::Feed::Incidents,
            mode: Mode::Same,
            interval: Duration::from_millis(1),
            seed: 1,
        };
        let pairs: Vec<(String, String)> = (0..options.assignments)
            .map(|i| (format!("incidents/{i}"), format!("units/{i}")))
            .collect();
        let assigner =
            UnitAssignmentServiceClient::new(server::authed(channel(), "t").expect("token"));
        measure(
            &options,
            (0..options.channels).map(|_| channel()).collect(),
            &["t".to_owned()],
            assigner,
            &pairs,
        )
        .await
        .expect("measured")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn times_every_watcher_receiving_every_assignment() {
        match run_against(true).await {
            Outcome::Measured(m) => {
                assert_eq!(m.expected, 40 * 5);
                assert_eq!(m.delivered, m.expected);
                assert_eq!(m.snapshot_items, 40 * 3);
                assert_eq!(m.latency.count, m.expected);
                assert_eq!(m.broken, 0);
                assert_eq!(m.from_event_time.map(|s| s.count), Some(m.expected));
            }
            Outcome::Unavailable(reason) => panic!("unavailable: {reason}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_an_unimplemented_feed_as_unavailable() {
        match run_against(false).await {
            Outcome::Unavailable(reason) => assert_eq!(reason, "UNIMPLEMENTED"),
            Outcome::Measured(m) => panic!("measured a feed that is not there: {m:?}"),
        }
    }
}
