//! `dispatchd` killed with SIGKILL in the middle of call intake, over and over: every call whose
//! CreateCall was acknowledged is there exactly once after the restart, and every request resent
//! with its request_id (acknowledged or not) returns one call and never makes a second one.
//!
//! Two ways to die alternate: SIGKILL to `dispatchd` alone (its PostgreSQL gets SIGINT through
//! PR_SET_PDEATHSIG and shuts down by itself), and SIGKILL to `dispatchd`, the postmaster and every
//! backend at once (a power cut, the OOM killer taking the cgroup), which leaves `postmaster.pid`
//! and unflushed shared buffers behind for crash recovery.
//!
//! `DISPATCH_CRASH_ROUNDS` (default 3) sets the number of kills, `DISPATCH_CRASH_SEED` replays a
//! run (the seed is printed).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::service::interceptor::InterceptedService;
use tonic_health::pb::health_check_response::ServingStatus;

use common::{START_DEADLINE, admin_directory, temp_dir};
use dispatch_tests::fixtures::enrol;
use dispatch_tests::process::Dispatchd;
use dispatch_tests::{Authed, Bearer};

/// Concurrent call takers during the load.
const CLIENTS: usize = 8;
/// Longest one CreateCall may take before the client counts it as lost.
const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// SplitMix64: a tiny deterministic generator, so a failing run can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// Starts `dispatchd` on `data_dir` and waits for health to read SERVING.
fn start(runtime: &tokio::runtime::Runtime, data_dir: &Path) -> Dispatchd {
    let server = common::start(
        data_dir,
        // The load is one principal: the per-principal limit must not be what refuses calls.
        &[("DISPATCH_RATE_LIMIT", "100000"), ("RUST_LOG", "info")],
    );
    runtime.block_on(common::wait_for_health(
        &server.channel(),
        ServingStatus::Serving,
        START_DEADLINE,
    ));
    server
}

/// A call-intake client of `server` sending `token`.
fn calls(server: &Dispatchd, token: &str) -> CallIntakeServiceClient<Authed> {
    CallIntakeServiceClient::new(InterceptedService::new(
        server.channel(),
        Bearer::new(token),
    ))
}

/// When the next `dispatchd` starts after a SIGKILL to `dispatchd` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// Once the old PostgreSQL, told by PR_SET_PDEATHSIG, has finished its shutdown.
    AfterPostgresStopped,
    /// At once, as a supervisor restarting a dead service does: the old PostgreSQL may still be
    /// shutting down and holding `postmaster.pid`.
    Immediately,
}

/// How `dispatchd` dies in a round.
#[derive(Debug, Clone, Copy)]
enum Death {
    /// SIGKILL to dispatchd alone; PostgreSQL is told by PR_SET_PDEATHSIG.
    DispatchdOnly,
    /// SIGKILL to dispatchd, the postmaster and all its children at once.
    EverythingAtOnce,
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join("pg/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Every process of the cluster in `data_dir`: PostgreSQL's processes all work in its data
/// directory, so their /proc/PID/cwd points there (a backend forked a moment ago included).
fn cluster_processes(data_dir: &Path) -> Vec<i32> {
    let Ok(pg) = std::fs::canonicalize(data_dir.join("pg")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == pg))
        .collect()
}

/// Still in the process table, zombies included: PostgreSQL's lock check (`kill(pid, 0)`) sees
/// an unreaped postmaster as running, so the test waits for init to reap it, as a real crash
/// (power cut, OOM kill of the cgroup) leaves nothing behind.
fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_gone(pids: &[i32], what: &str) {
    let started = Instant::now();
    while pids.iter().any(|&pid| exists(pid)) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} still running 60 s after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigkill(mut server: Dispatchd, data_dir: &Path, death: Death, restart: Restart) {
    match death {
        Death::DispatchdOnly => {
            let postmaster = postmaster_pid(data_dir).expect("a running cluster has a pid file");
            kill(server.pid(), Signal::SIGKILL).expect("SIGKILL dispatchd");
            server.child.wait().expect("reaping dispatchd");
            if restart == Restart::AfterPostgresStopped {
                wait_gone(&[postmaster], "PostgreSQL told by PR_SET_PDEATHSIG");
                assert!(
                    !data_dir.join("pg/postmaster.pid").exists(),
                    "PostgreSQL shut down cleanly after dispatchd died, removing its pid file"
                );
            }
        }
        Death::EverythingAtOnce => {
            kill(server.pid(), Signal::SIGKILL).expect("SIGKILL dispatchd");
            let mut victims = Vec::new();
            // Until none is left: a backend may fork while the others die.
            loop {
                let alive = cluster_processes(data_dir);
                if alive.is_empty() {
                    break;
                }
                for &pid in &alive {
                    // A process may exit on its own in between: ESRCH is fine.
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                victims.extend(alive);
                std::thread::yield_now();
            }
            assert!(!victims.is_empty(), "the cluster had processes to kill");
            server.child.wait().expect("reaping dispatchd");
            wait_gone(&victims, "PostgreSQL");
            assert!(
                data_dir.join("pg/postmaster.pid").exists(),
                "a killed postmaster leaves its pid file behind: the restart must cope with it"
            );
        }
    }
}

fn create_call_taker(runtime: &tokio::runtime::Runtime, server: &Dispatchd) -> String {
    runtime.block_on(async {
        let mut admin = admin_directory(server.channel());
        let call_taker = pb::Principal {
            display_name: "crash-test call taker".into(),
            role: pb::Role::CallTaker.into(),
            ..Default::default()
        };
        enrol(&mut admin, call_taker).await.1
    })
}

/// One round: the load, killed after `kill_after` acknowledged calls.
#[derive(Debug, Clone, Copy)]
struct Round {
    number: usize,
    kill_after: usize,
    death: Death,
    restart: Restart,
}

/// One CreateCall sent during the load, and what it answered.
#[derive(Debug, Clone)]
struct Attempt {
    request: pb::CreateCallRequest,
    /// The call's name and folio, when CreateCall answered OK.
    acknowledged: Option<(String, String)>,
}

fn call_request(rng: &mut Rng, round: usize, number: usize) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        channel: pb::CallChannel::Voice911.into(),
        callback_number: format!("+5255{:08}", rng.below(100_000_000)),
        location: Some(pb::Location {
            point: Some(pb::GeoPoint {
                latitude: 19.3 + rng.unit() * 0.25,
                longitude: -99.25 + rng.unit() * 0.25,
            }),
            uncertainty_m: 5.0 + rng.unit() * 100.0,
            source: pb::LocationSource::Device.into(),
            civic_address: String::new(),
        }),
        account: format!("crash round {round}, call {number}"),
        ..Default::default()
    }
}

/// CLIENTS call takers create calls until the server dies under them; the server is killed once
/// `kill_after` calls were acknowledged. Returns every attempt.
fn load_and_kill(
    runtime: &tokio::runtime::Runtime,
    server: Dispatchd,
    data_dir: &Path,
    token: &str,
    plan: &Round,
    rng: &mut Rng,
) -> Vec<Attempt> {
    let Round {
        number: round,
        kill_after,
        death,
        restart,
    } = *plan;
    let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    let (acks, mut acks_seen) = tokio::sync::watch::channel(0usize);
    let acks = Arc::new(acks);
    let dead = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seeds: Vec<u64> = (0..CLIENTS).map(|_| rng.next()).collect();
    let clients: Vec<_> = seeds
        .into_iter()
        .enumerate()
        .map(|(client, seed)| {
            let mut calls = calls(&server, token);
            let attempts = attempts.clone();
            let acks = acks.clone();
            let dead = dead.clone();
            runtime.spawn(async move {
                let mut rng = Rng(seed);
                let mut number = 0;
                while !dead.load(std::sync::atomic::Ordering::SeqCst) {
                    let request = call_request(&mut rng, round, client * 1_000_000 + number);
                    number += 1;
                    let index = {
                        let mut attempts = attempts.lock().expect("attempts");
                        attempts.push(Attempt {
                            request: request.clone(),
                            acknowledged: None,
                        });
                        attempts.len() - 1
                    };
                    let answer =
                        tokio::time::timeout(CALL_DEADLINE, calls.create_call(request)).await;
                    match answer {
                        Ok(Ok(response)) => {
                            let call = response.into_inner().call.expect("a call");
                            attempts.lock().expect("attempts")[index].acknowledged =
                                Some((call.name, call.folio));
                            acks.send_modify(|n| *n += 1);
                        }
                        // Before the kill nothing may fail; after it, anything may.
                        Ok(Err(status)) => assert!(
                            dead.load(std::sync::atomic::Ordering::SeqCst),
                            "CreateCall failed before the kill: {status:?}"
                        ),
                        Err(_) => assert!(
                            dead.load(std::sync::atomic::Ordering::SeqCst),
                            "CreateCall took over {CALL_DEADLINE:?} before the kill"
                        ),
                    }
                }
            })
        })
        .collect();
    // Only the clients hold the sender now: if they all die, the wait below ends.
    drop(acks);
    runtime.block_on(async {
        acks_seen
            .wait_for(|n| *n >= kill_after)
            .await
            .expect("clients alive");
    });
    dead.store(true, std::sync::atomic::Ordering::SeqCst);
    sigkill(server, data_dir, death, restart);
    runtime.block_on(async {
        for client in clients {
            client.await.expect("a client task panicked");
        }
    });
    attempts.lock().expect("attempts").clone()
}

#[derive(diesel::QueryableByName)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// What the database holds: CreateCall request ids -> call names, and the number of calls.
async fn stored(data_dir: &Path, pg_port: u16) -> (HashMap<String, String>, i64) {
    // Scoped here: its `load` would shadow AtomicBool's elsewhere.
    use diesel_async::RunQueryDsl as _;
    let password = std::fs::read_to_string(data_dir.join("pg-password")).expect("pg-password");
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{pg_port}/dispatch",
        dispatch_store::cluster::SUPERUSER,
        password.trim()
    );
    let mut conn = dispatch_store::connect_with_retry(&url, Duration::from_secs(30))
        .await
        .expect("connecting to dispatchd's cluster");
    let keys: Vec<Key> = diesel::sql_query(
        "SELECT request_id::text AS request_id, resource FROM idempotency_keys \
         WHERE method = 'CreateCall'",
    )
    .load(&mut conn)
    .await
    .expect("reading idempotency keys");
    let calls: Count = diesel::sql_query("SELECT count(*) AS n FROM calls")
        .get_result(&mut conn)
        .await
        .expect("counting calls");
    (
        keys.into_iter()
            .map(|k| (k.request_id, k.resource))
            .collect(),
        calls.n,
    )
}

/// Resends every attempt with its request_id. Each must answer OK with one call: the
/// acknowledged call itself (name, folio, `replayed`) when it had been acknowledged. Returns
/// request_id -> (call name, folio).
async fn resend(
    server: &Dispatchd,
    token: &str,
    attempts: &[Attempt],
) -> HashMap<String, (String, String)> {
    let work = Arc::new(Mutex::new(attempts.to_vec()));
    let answers: Arc<Mutex<HashMap<String, (String, String)>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let work = work.clone();
        let answers = answers.clone();
        let mut calls = calls(server, token);
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(attempt) = work.lock().expect("work").pop() else {
                    return;
                };
                let request_id = attempt.request.request_id.clone();
                let response =
                    tokio::time::timeout(CALL_DEADLINE, calls.create_call(attempt.request.clone()))
                        .await
                        .unwrap_or_else(|_| panic!("resending {request_id} hung"))
                        .unwrap_or_else(|status| panic!("resending {request_id}: {status:?}"))
                        .into_inner();
                let call = response.call.expect("a call");
                if let Some((name, folio)) = &attempt.acknowledged {
                    assert_eq!(
                        (&call.name, &call.folio),
                        (name, folio),
                        "request {request_id} was acknowledged with another call"
                    );
                    assert!(
                        response.replayed,
                        "the acknowledged request {request_id} ran again after the restart"
                    );
                }
                assert_eq!(call.account, attempt.request.account);
                answers
                    .lock()
                    .expect("answers")
                    .insert(request_id, (call.name, call.folio));
            }
        }));
    }
    for task in tasks {
        task.await.expect("a resend task panicked");
    }
    let answers = answers.lock().expect("answers");
    answers.clone()
}

/// After a restart: every attempt of `fresh` resent (and added to `ledger`); the database then
/// holds exactly one call per request ever sent, each the one its request id names.
fn verify(
    runtime: &tokio::runtime::Runtime,
    server: &Dispatchd,
    data_dir: &Path,
    token: &str,
    fresh: &[Attempt],
    ledger: &mut HashMap<String, (String, String)>,
) {
    runtime.block_on(async {
        // Acknowledged calls are readable as they were, before anything is resent.
        let mut calls = calls(server, token);
        for attempt in fresh {
            if let Some((name, folio)) = &attempt.acknowledged {
                let call = calls
                    .get_call(pb::GetCallRequest { name: name.clone() })
                    .await
                    .unwrap_or_else(|status| panic!("acknowledged {name} lost: {status:?}"))
                    .into_inner()
                    .call
                    .expect("call");
                assert_eq!(&call.folio, folio);
            }
        }
        for (request_id, call) in resend(server, token, fresh).await {
            assert!(
                ledger.insert(request_id.clone(), call).is_none(),
                "request id {request_id} sent twice by the test"
            );
        }
        check_stored(data_dir, server.pg_port.expect("a private cluster"), ledger).await;
    });
}

/// Exactly one call per request in the ledger, each the one its request id names.
async fn check_stored(data_dir: &Path, pg_port: u16, ledger: &HashMap<String, (String, String)>) {
    let (keys, calls) = stored(data_dir, pg_port).await;
    let names: HashSet<&String> = ledger.values().map(|(name, _)| name).collect();
    assert_eq!(
        names.len(),
        ledger.len(),
        "two request ids answered with one call"
    );
    assert_eq!(
        usize::try_from(calls).expect("count"),
        ledger.len(),
        "calls in the database vs. requests ever sent: a call was lost or doubled"
    );
    let expected: HashMap<String, String> = ledger
        .iter()
        .map(|(id, (name, _))| (id.clone(), name.clone()))
        .collect();
    assert_eq!(
        keys, expected,
        "the stored request ids do not map to the calls they answered"
    );
}

#[test]
fn sigkill_during_call_intake_loses_no_acknowledged_call_and_retries_return_the_originals() {
    crash_rounds(Restart::AfterPostgresStopped);
}

/// The same, restarting the moment `dispatchd` is dead, as a supervisor (systemd
/// `Restart=always`) would: the old PostgreSQL (SIGINTed through PR_SET_PDEATHSIG) may still be
/// in its shutdown checkpoint, and `Cluster::start` waits for it instead of failing on its
/// `postmaster.pid`.
#[test]
fn an_immediate_restart_after_sigkill_waits_for_the_old_postgres() {
    crash_rounds(Restart::Immediately);
}

fn crash_rounds(restart: Restart) {
    let rounds = usize::try_from(env_number("DISPATCH_CRASH_ROUNDS", 3)).expect("rounds");
    let seed = env_number("DISPATCH_CRASH_SEED", uuid::Uuid::new_v4().as_u64_pair().0);
    eprintln!("crash test: {rounds} rounds, DISPATCH_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let data_dir = temp_dir("crash");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Lazy channels are made outside async code too; they need the runtime's context.
    let _context = runtime.enter();

    let mut server = start(&runtime, &data_dir);
    let token = create_call_taker(&runtime, &server);
    let mut ledger: HashMap<String, (String, String)> = HashMap::new();
    let mut everything: Vec<Attempt> = Vec::new();
    let (mut sent, mut acknowledged, mut unacknowledged_but_stored) = (0, 0, 0);
    for round in 0..rounds {
        let death = if round % 2 == 0 {
            Death::DispatchdOnly
        } else {
            Death::EverythingAtOnce
        };
        let kill_after = 5 + usize::try_from(rng.below(60)).expect("small");
        let plan = Round {
            number: round,
            kill_after,
            death,
            restart,
        };
        let attempts = load_and_kill(&runtime, server, &data_dir, &token, &plan, &mut rng);
        let acked = attempts.iter().filter(|a| a.acknowledged.is_some()).count();
        assert!(acked >= kill_after, "killed before the load ran");
        server = start(&runtime, &data_dir);
        let before: HashSet<String> = runtime
            .block_on(stored(
                &data_dir,
                server.pg_port.expect("a private cluster"),
            ))
            .0
            .into_keys()
            .collect();
        unacknowledged_but_stored += attempts
            .iter()
            .filter(|a| a.acknowledged.is_none() && before.contains(&a.request.request_id))
            .count();
        verify(&runtime, &server, &data_dir, &token, &attempts, &mut ledger);
        sent += attempts.len();
        everything.extend(attempts.iter().cloned());
        acknowledged += acked;
        eprintln!(
            "round {round} ({death:?} after {kill_after} acks): {} sent, {acked} acknowledged",
            attempts.len()
        );
    }
    // Every request of every round once more, now all acknowledged: each replays its call.
    for attempt in &mut everything {
        attempt.acknowledged = ledger.get(&attempt.request.request_id).cloned();
        assert!(attempt.acknowledged.is_some());
    }
    runtime.block_on(async {
        let replayed = resend(&server, &token, &everything).await;
        assert_eq!(replayed.len(), ledger.len());
        check_stored(
            &data_dir,
            server.pg_port.expect("a private cluster"),
            &ledger,
        )
        .await;
    });
    eprintln!(
        "crash test: {rounds} kills, {sent} calls sent, {acknowledged} acknowledged, \
         {unacknowledged_but_stored} committed without an answer, {} calls stored, 0 lost or doubled",
        ledger.len()
    );
    assert!(server.stop().success(), "dispatchd exits 0 on SIGTERM");
    let _ = std::fs::remove_dir_all(&data_dir);
}
