//! The database server is lost and a standby takes over (issue 20).
//!
//! Two real PostgreSQL servers: the primary, and a standby cloned from it with
//! `pg_basebackup -R` that the primary names in `synchronous_standby_names`, so that a commit is
//! acknowledged only once the standby has it. Two `dispatchd` (in this process) reach them
//! through one multi-host `DATABASE_URL` with `target_session_attrs=read-write`. Call takers keep
//! creating calls on both, each retrying an unanswered request with its request id, while the
//! primary is stopped hard (`pg_ctl stop -m immediate`) and the standby promoted
//! (`pg_promote()`). Then: every acknowledged call exists exactly once, no retry made a second
//! call, the feed is dense and ordered across the failover, both servers serve again by
//! themselves, and requests during the window failed fast with UNAVAILABLE.
//!
//! The time without service (from the call to `pg_promote()` to the first acknowledged CreateCall
//! on each server) is printed; run with `--nocapture` to see it. It must come back within
//! [`SERVICE_BOUND`]; the 5 s target is a measured figure, not an assertion.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::QueryableByName;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_store::cluster::{self, Cluster};
use tonic::service::interceptor::InterceptedService;

use common::postgres::{
    calls_received, list_all_calls, password, private_dir, read_feed, run_as_postgres,
    wait_for_follower,
};
use common::{ADMIN_TOKEN, admin_directory};
use dispatch_tests::fixtures::enrol;
use dispatch_tests::{Authed, Bearer};

/// Call takers per `dispatchd`.
const CLIENTS_PER_SERVER: usize = 3;
/// Calls acknowledged before the primary is stopped.
const BEFORE_FAILOVER: usize = 40;
/// Calls each server acknowledges after the promotion before the load stops.
const AFTER_FAILOVER: usize = 20;
/// Service must be back on both servers within this of the promotion, or the test fails.
const SERVICE_BOUND: Duration = Duration::from_secs(60);
/// Bounds every other wait: generous, polled, never a fixed sleep.
const PATIENCE: Duration = Duration::from_secs(30);
/// Longest one CreateCall may take before its client sends it again.
const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// The standby's name, as the primary's `synchronous_standby_names` knows it.
const STANDBY_NAME: &str = "standby";

/// A PostgreSQL server of the pair: its cluster (stopped when dropped) and where it lives.
struct Server {
    cluster: Option<Cluster>,
    root: PathBuf,
    port: u16,
}

impl Server {
    fn data_dir(&self) -> PathBuf {
        self.root.join("pg")
    }

    fn url(&self, database: &str) -> String {
        self.cluster.as_ref().expect("running").url(database)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

fn server_config(root: PathBuf, settings: &[(&str, &str)]) -> cluster::Config {
    cluster::Config {
        // Throwaway clusters: no fsync. What is tested is which server a commit waits for.
        durable: false,
        port: Some(free_port()),
        settings: settings
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        ..cluster::Config::new(root)
    }
}

/// The primary: every commit waits for the standby (`synchronous_commit=on` overrides the
/// harness's throwaway default).
fn start_primary(root: &Path) -> Server {
    let config = server_config(
        root.join("primary"),
        &[
            ("wal_level", "replica"),
            ("max_wal_senders", "4"),
            ("synchronous_commit", "on"),
            ("synchronous_standby_names", STANDBY_NAME),
        ],
    );
    let cluster = Cluster::start(&config).expect("primary");
    Server {
        port: cluster.port(),
        root: cluster.root().to_owned(),
        cluster: Some(cluster),
    }
}

/// A streaming standby of `primary` made with `pg_basebackup -R`, running.
fn start_standby(primary: &Server, root: &Path) -> Server {
    let standby_root = root.join("standby");
    let data_dir = standby_root.join("pg");
    private_dir(&data_dir);
    // The same superuser and password: the standby is a copy of the primary's cluster.
    std::fs::copy(
        primary.root.join("pg-password"),
        standby_root.join("pg-password"),
    )
    .expect("password file");
    let password = password(&primary.root);
    let conninfo = format!(
        "host=127.0.0.1 port={} user={} application_name={STANDBY_NAME}",
        primary.port,
        cluster::SUPERUSER
    );
    run_as_postgres(
        "pg_basebackup",
        &[
            "-D",
            data_dir.to_str().expect("utf-8 path"),
            "-d",
            &conninfo,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        &[("PGPASSWORD", &password)],
    );
    let config = server_config(
        standby_root,
        &[
            ("cluster_name", STANDBY_NAME),
            ("hot_standby", "on"),
            ("synchronous_commit", "on"),
        ],
    );
    let cluster = Cluster::start(&config).expect("standby");
    Server {
        port: cluster.port(),
        root: cluster.root().to_owned(),
        cluster: Some(cluster),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Waits until the primary reports the standby as its synchronous standby.
async fn wait_for_sync_standby(primary_url: &str) {
    use diesel_async::RunQueryDsl as _;
    let mut conn = dispatch_store::connect_with_retry(primary_url, PATIENCE)
        .await
        .expect("primary");
    let started = Instant::now();
    loop {
        let found: Count = diesel::sql_query(
            "SELECT count(*) AS count FROM pg_stat_replication \
             WHERE application_name = $1 AND sync_state = 'sync' AND state = 'streaming'",
        )
        .bind::<diesel::sql_types::Text, _>(STANDBY_NAME)
        .get_result(&mut conn)
        .await
        .expect("pg_stat_replication");
        if found.count == 1 {
            return;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the standby never became the synchronous standby"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `pg_promote(wait => true)` on the standby.
async fn promote(standby_url: &str) {
    use diesel_async::RunQueryDsl as _;
    #[derive(QueryableByName)]
    struct Promoted {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        promoted: bool,
    }
    let mut conn = dispatch_store::connect_with_retry(standby_url, PATIENCE)
        .await
        .expect("standby");
    let answer: Promoted = diesel::sql_query("SELECT pg_promote(wait => true) AS promoted")
        .get_result(&mut conn)
        .await
        .expect("pg_promote");
    assert!(answer.promoted, "the standby was promoted");
}

/// One `dispatchd` in this process on the multi-host URL.
async fn start_dispatchd(url: &str) -> (tonic::transport::Channel, tokio::task::JoinHandle<()>) {
    let mut config = dispatch_server::Config::defaults();
    config.admin_token = Some(ADMIN_TOKEN.to_owned().into());
    config.db_acquire_timeout = Duration::from_secs(2);
    // The load is one principal: the per-principal limit must not be what refuses calls.
    config.rate_limit = 100_000.0;
    common::postgres::serve_in_process(url, config, PATIENCE).await
}

/// One acknowledged CreateCall.
#[derive(Debug, Clone)]
struct Ack {
    server: usize,
    request: pb::CreateCallRequest,
    name: String,
    folio: String,
    /// When the answer arrived.
    at: Instant,
    /// How many times the request was sent before this answer.
    attempts: usize,
}

/// One CreateCall that did not answer OK.
#[derive(Debug, Clone)]
struct Refusal {
    server: usize,
    code: Option<tonic::Code>,
    message: String,
    took: Duration,
}

#[derive(Default)]
struct Log {
    acks: Vec<Ack>,
    refusals: Vec<Refusal>,
}

fn call_request(server: usize, client: usize, number: usize) -> pb::CreateCallRequest {
    let spread = (number % 100) as f64 / 400.0;
    pb::CreateCallRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        channel: pb::CallChannel::Voice911.into(),
        callback_number: format!("+5255{:08}", (client * 100_000 + number) % 100_000_000),
        location: Some(pb::Location {
            point: Some(pb::GeoPoint {
                latitude: 19.3 + spread,
                longitude: -99.25 + spread,
            }),
            uncertainty_m: 25.0,
            source: pb::LocationSource::Device.into(),
            civic_address: String::new(),
        }),
        account: format!("failover: server {server}, client {client}, call {number}"),
        ..Default::default()
    }
}

/// A call taker on `server`: creates calls one after another until `stop`, sending each again
/// with its request id until it is acknowledged (so every request it made ends acknowledged).
async fn call_taker(
    server: usize,
    client: usize,
    mut calls: CallIntakeServiceClient<Authed>,
    log: Arc<Mutex<Log>>,
    acks: Arc<tokio::sync::watch::Sender<usize>>,
    stop: Arc<AtomicBool>,
) {
    let mut number = 0;
    while !stop.load(Ordering::SeqCst) {
        let request = call_request(server, client, number);
        number += 1;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let sent = Instant::now();
            let answer =
                tokio::time::timeout(CALL_DEADLINE, calls.create_call(request.clone())).await;
            let refusal = match answer {
                Ok(Ok(response)) => {
                    let call = response.into_inner().call.expect("a call");
                    log.lock().expect("log").acks.push(Ack {
                        server,
                        request,
                        name: call.name,
                        folio: call.folio,
                        at: Instant::now(),
                        attempts,
                    });
                    acks.send_modify(|n| *n += 1);
                    break;
                }
                Ok(Err(status)) => Refusal {
                    server,
                    code: Some(status.code()),
                    message: status.message().to_owned(),
                    took: sent.elapsed(),
                },
                Err(_) => Refusal {
                    server,
                    code: None,
                    message: "no answer in time".into(),
                    took: sent.elapsed(),
                },
            };
            log.lock().expect("log").refusals.push(refusal);
            // A call taker presses "send" again a moment later, with the same request id.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Stops `server` hard: every backend quits at once and no checkpoint is written, as if it
/// crashed (it would need crash recovery to start again).
fn pg_ctl_stop_immediate(server: &Server) {
    run_as_postgres(
        "pg_ctl",
        &[
            "stop",
            "-D",
            server.data_dir().to_str().expect("utf-8 path"),
            "-m",
            "immediate",
            "-w",
        ],
        &[],
    );
}

#[test]
fn losing_the_primary_fails_over_to_the_standby_without_losing_a_call() {
    // What the servers log (an internal error in full, the failover) goes with the test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let root = common::temp_dir("failover");
    // Clusters are started from this thread: PostgreSQL is told to stop when it exits.
    let mut primary = start_primary(&root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let primary_url = primary.url("postgres");
    // The standby first: with it named synchronous, the primary commits nothing without it.
    let standby = start_standby(&primary, &root);
    runtime.block_on(async {
        wait_for_sync_standby(&primary_url).await;
        dispatch_store::ensure_database(&primary_url, "dispatch")
            .await
            .expect("database");
    });

    // One URL naming both servers: whichever takes writes is the one every connection finds.
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{},127.0.0.1:{}/dispatch?target_session_attrs=read-write&connect_timeout=2",
        cluster::SUPERUSER,
        password(&primary.root),
        primary.port,
        standby.port,
    );
    let log: Arc<Mutex<Log>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (acks, mut acks_seen) = tokio::sync::watch::channel(0usize);
    let acks = Arc::new(acks);

    let (channels, servers, token, dispatcher, clients) = runtime.block_on(async {
        dispatch_store::migrate(&url).await.expect("migrate");
        let mut channels = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..2 {
            let (channel, task) = start_dispatchd(&url).await;
            channels.push(channel);
            servers.push(task);
        }
        let mut admin = admin_directory(channels[0].clone());
        let taker = pb::Principal {
            display_name: "failover call taker".into(),
            role: pb::Role::CallTaker.into(),
            ..Default::default()
        };
        let token = enrol(&mut admin, taker).await.1;
        let console = pb::Principal {
            display_name: "failover console".into(),
            role: pb::Role::Dispatcher.into(),
            ..Default::default()
        };
        let dispatcher = enrol(&mut admin, console).await.1;
        let mut clients = Vec::new();
        for (server, channel) in channels.iter().enumerate() {
            for client in 0..CLIENTS_PER_SERVER {
                let calls = CallIntakeServiceClient::new(InterceptedService::new(
                    channel.clone(),
                    Bearer::new(&token),
                ));
                clients.push(tokio::spawn(call_taker(
                    server,
                    server * CLIENTS_PER_SERVER + client,
                    calls,
                    log.clone(),
                    acks.clone(),
                    stop.clone(),
                )));
            }
        }
        acks_seen
            .wait_for(|n| *n >= BEFORE_FAILOVER)
            .await
            .expect("call takers alive");
        (channels, servers, token, dispatcher, clients)
    });
    assert!(
        log.lock().expect("log").refusals.is_empty(),
        "nothing is refused before the failover: {:?}",
        log.lock().expect("log").refusals
    );

    // The primary dies hard: no checkpoint, every backend killed, sockets closed.
    let killed = Instant::now();
    pg_ctl_stop_immediate(&primary);
    let stopped = Instant::now();
    drop(primary.cluster.take());
    let acks_at_kill = log.lock().expect("log").acks.len();
    let promoting = Instant::now();
    runtime.block_on(promote(&standby.url("postgres")));
    let promoted = Instant::now();
    eprintln!(
        "failover: primary stopped in {:?}; promotion took {:?}",
        stopped - killed,
        promoted - promoting
    );

    // Service comes back on both servers by itself, within the bound.
    runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + SERVICE_BOUND;
        let served_after = |log: &Log, server: usize| {
            log.acks
                .iter()
                .filter(|ack| ack.server == server && ack.at > promoted)
                .count()
        };
        loop {
            let enough = {
                let log = log.lock().expect("log");
                (0..2).all(|server| served_after(&log, server) >= AFTER_FAILOVER)
            };
            if enough {
                break;
            }
            let log = log.lock().expect("log");
            assert!(
                tokio::time::Instant::now() < deadline,
                "service did not come back within {SERVICE_BOUND:?} of the promotion: \
                 acknowledged after it per server: {:?}; last refusals: {:?}",
                (0..2).map(|s| served_after(&log, s)).collect::<Vec<_>>(),
                log.refusals.iter().rev().take(4).collect::<Vec<_>>()
            );
            drop(log);
            let _ = tokio::time::timeout(Duration::from_millis(100), acks_seen.changed()).await;
        }
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.await.expect("a call taker panicked");
        }
    });
    let log = std::mem::take(&mut *log.lock().expect("log"));

    // The windows: from the promotion (and from the kill) to each server's first answer.
    for server in 0..2 {
        let first = log
            .acks
            .iter()
            .filter(|ack| ack.server == server && ack.at > stopped)
            .map(|ack| ack.at)
            .min()
            .expect("served after the failover");
        // Without a primary nothing can be acknowledged: the standby takes no writes.
        assert!(
            first > promoting,
            "dispatchd {server} acknowledged a call with no primary"
        );
        eprintln!(
            "failover: dispatchd {server} served again {:?} after pg_promote() was called \
             ({:?} after the primary had stopped)",
            first - promoting,
            first - stopped
        );
    }
    let slowest_refusal = log.refusals.iter().map(|r| r.took).max();
    let mut kinds: HashMap<(usize, Option<tonic::Code>, &str), usize> = HashMap::new();
    for refusal in &log.refusals {
        *kinds
            .entry((refusal.server, refusal.code, refusal.message.as_str()))
            .or_default() += 1;
    }
    eprintln!("failover: refusals by server, code and message: {kinds:?}");
    eprintln!(
        "failover: {} calls acknowledged ({acks_at_kill} before the stop), {} refusals during \
         the window (slowest answered in {slowest_refusal:?}), {} requests needed a retry",
        log.acks.len(),
        log.refusals.len(),
        log.acks.iter().filter(|ack| ack.attempts > 1).count()
    );
    // During the window requests fail fast, and as an outage: never INTERNAL, never hanging.
    for refusal in &log.refusals {
        assert_eq!(
            refusal.code,
            Some(tonic::Code::Unavailable),
            "a request during the failover failed otherwise than UNAVAILABLE: {refusal:?}"
        );
        assert!(
            refusal.took < Duration::from_secs(5),
            "a request during the failover took long to fail: {refusal:?}"
        );
    }

    runtime.block_on(async {
        let new_primary = standby.url("dispatch");
        let calls_of = |server: usize| {
            CallIntakeServiceClient::new(InterceptedService::new(
                channels[server].clone(),
                Bearer::new(&token),
            ))
        };
        // Every acknowledged call exists exactly once, as acknowledged, on both servers; no
        // call exists that was not acknowledged (every request ended acknowledged, so a call
        // beyond them would be a retry's second call).
        let mut names = HashSet::new();
        for ack in &log.acks {
            assert!(
                names.insert(ack.name.clone()),
                "two requests got {}",
                ack.name
            );
        }
        for server in 0..2 {
            let listed = list_all_calls(&mut calls_of(server)).await;
            assert_eq!(
                listed.len(),
                log.acks.len(),
                "one call per acknowledged request"
            );
            for ack in &log.acks {
                let folio = listed.get(&ack.name).map(|call| &call.folio);
                assert_eq!(folio, Some(&ack.folio), "{ack:?}");
            }
            let folios: HashSet<&String> = listed.values().map(|call| &call.folio).collect();
            assert_eq!(folios.len(), listed.len(), "folios are unique");
        }
        // A retry with the same request id, on either server, answers the same call.
        for ack in log
            .acks
            .iter()
            .filter(|ack| ack.attempts > 1)
            .chain(log.acks.iter().take(10))
        {
            let other = 1 - ack.server;
            let call = calls_of(other)
                .create_call(ack.request.clone())
                .await
                .expect("a replay")
                .into_inner()
                .call
                .expect("call");
            assert_eq!((&call.name, &call.folio), (&ack.name, &ack.folio));
            let fetched = calls_of(other)
                .get_call(pb::GetCallRequest {
                    name: ack.name.clone(),
                })
                .await
                .expect("GetCall")
                .into_inner()
                .call
                .expect("call");
            assert_eq!(fetched.folio, ack.folio);
        }
        // The feed is dense and ordered across the failover, each call's creation in it once,
        // and each server's follower has reached its head.
        let store = dispatch_store::Store::connect(dispatch_store::Config::new(new_primary))
            .await
            .expect("store on the new primary");
        let feed = read_feed(&store).await;
        let head = feed.last().map_or(0, |event| event.position);
        let received = calls_received(&feed);
        for ack in &log.acks {
            assert_eq!(
                received.get(&ack.name),
                Some(&1),
                "{} in the feed once",
                ack.name
            );
        }
        assert_eq!(received.len(), log.acks.len());
        for channel in &channels {
            let mut units = UnitAssignmentServiceClient::new(InterceptedService::new(
                channel.clone(),
                Bearer::new(&dispatcher),
            ));
            wait_for_follower(&mut units, head, PATIENCE).await;
        }
        eprintln!("failover: the feed is dense up to {head}; both followers reached it");
        for server in servers {
            server.abort();
        }
    });
    drop(standby);
    let _ = std::fs::remove_dir_all(root);
}
