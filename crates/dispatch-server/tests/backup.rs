//! A logical backup of a running centre, restored into a fresh cluster, serves the same centre
//! (issue 20).
//!
//! `pg_dump` runs while `dispatchd` takes calls; it reads one consistent snapshot, so the
//! restore holds every call acknowledged before the dump began and some that came later, never
//! half of one. Roles are cluster-wide and not in a database's dump: as an operator does, the
//! roles are carried with `pg_dumpall --roles-only --no-role-passwords` and restored first (the
//! bootstrap superuser exists already; psql reports it and goes on), then the database with
//! `pg_restore --exit-on-error`. A new `dispatchd` on the restored database answers the same
//! calls and incidents over gRPC, its feed holds the same events at the same positions, the
//! same tokens work, and a new call gets the next folio and the next feed position.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_store::cluster::{self, Cluster};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use common::postgres::{
    calls_received, list_all_calls, password, private_dir, read_feed, run_as_postgres,
    wait_for_follower,
};
use common::{ADMIN_TOKEN, admin_directory};
use dispatch_tests::fixtures::{call_at, enrol};
use dispatch_tests::{Authed, Bearer};

/// Bounds every wait: generous, polled, never a fixed sleep.
const PATIENCE: Duration = Duration::from_secs(30);
/// Call takers creating calls while the dump runs.
const CLIENTS: usize = 2;

fn start_cluster(root: &Path) -> Cluster {
    Cluster::start(&cluster::Config {
        durable: false,
        ..cluster::Config::new(root)
    })
    .expect("cluster")
}

/// `dispatchd` in this process on `url` (migrated first, as `dispatchd` does at start):
/// its channel, the task serving, and how many migrations ran.
async fn start_dispatchd(url: &str) -> (Channel, tokio::task::JoinHandle<()>, usize) {
    let applied = dispatch_store::migrate(url).await.expect("migrate");
    let mut config = dispatch_server::Config::defaults();
    config.admin_token = Some(ADMIN_TOKEN.to_owned().into());
    config.rate_limit = 100_000.0;
    let (channel, task) = common::postgres::serve_in_process(url, config, PATIENCE).await;
    (channel, task, applied)
}

fn client<T>(channel: &Channel, token: &str, new: impl FnOnce(Authed) -> T) -> T {
    new(InterceptedService::new(channel.clone(), Bearer::new(token)))
}

/// The last number of a folio (`C5/YYMMDD/NNNNN`) and the day it is numbered in.
fn folio_parts(folio: &str) -> (String, u64) {
    let (day, number) = folio.rsplit_once('/').expect("a folio");
    (day.to_owned(), number.parse().expect("a folio number"))
}

/// Polls the store until its feed head passes `head` (the publisher runs after a commit).
async fn wait_for_feed_past(store: &dispatch_store::Store, head: i64) {
    let started = Instant::now();
    while store.feed_head().await.expect("feed head") <= head {
        assert!(started.elapsed() < PATIENCE, "the feed never passed {head}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A centre that has run for a while has used many transaction ids; a fresh cluster has not.
/// Use some, so that the restore lands in a cluster whose ids are behind the dump's.
async fn age(url: &str) {
    let mut conn = dispatch_store::connect_with_retry(url, PATIENCE)
        .await
        .expect("connect");
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "DO $$ BEGIN FOR i IN 1..5000 LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$",
        ),
        &mut conn,
    )
    .await
    .expect("using transaction ids");
}

#[test]
fn a_dump_of_a_running_centre_restores_into_a_fresh_cluster_that_serves_the_same_centre() {
    let root = common::temp_dir("backup");
    // Clusters are started from this thread: PostgreSQL is told to stop when it exits.
    let source = start_cluster(&root.join("source"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let source_url = source.url("dispatch");
    let (channel, source_server, token, dispatcher, incidents) = runtime.block_on(async {
        dispatch_store::ensure_database(&source.url("postgres"), "dispatch")
            .await
            .expect("database");
        let (channel, task, _) = start_dispatchd(&source_url).await;
        age(&source_url).await;
        let mut admin = admin_directory(channel.clone());
        let call_taker = pb::Principal {
            display_name: "backup call taker".into(),
            role: pb::Role::CallTaker.into(),
            ..Default::default()
        };
        let token = enrol(&mut admin, call_taker).await.1;
        let console = pb::Principal {
            display_name: "backup console".into(),
            role: pb::Role::Dispatcher.into(),
            ..Default::default()
        };
        let dispatcher = enrol(&mut admin, console).await.1;
        let mut calls = client(&channel, &token, CallIntakeServiceClient::new);
        let mut incidents = Vec::new();
        for n in 0..3 {
            let call = pb::CreateCallRequest {
                incident_type_hint: "TRAFFIC-INJURY".into(),
                account: format!("collision {n}"),
                ..call_at((19.43 + f64::from(n) / 100.0, -99.13), 15.0)
            };
            let call = calls
                .create_call(call)
                .await
                .expect("create call")
                .into_inner()
                .call
                .expect("call");
            let incident = calls
                .open_incident_from_call(pb::OpenIncidentFromCallRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    name: call.name,
                    ..Default::default()
                })
                .await
                .expect("open incident")
                .into_inner()
                .incident
                .expect("incident");
            incidents.push(incident.name);
        }
        (channel, task, token, dispatcher, incidents)
    });

    // Call takers go on taking calls while the dump runs.
    let acknowledged: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let mut calls = client(&channel, &token, CallIntakeServiceClient::new);
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            runtime.spawn(async move {
                let mut number = 0;
                while !stop.load(Ordering::SeqCst) {
                    let request = pb::CreateCallRequest {
                        account: format!("taken during the dump: {n}/{number}"),
                        ..call_at((19.4, -99.1), 30.0)
                    };
                    number += 1;
                    let call = calls
                        .create_call(request)
                        .await
                        .expect("calls are taken during the dump")
                        .into_inner()
                        .call
                        .expect("call");
                    acknowledged
                        .lock()
                        .expect("acknowledged")
                        .push((Instant::now(), call.name));
                }
            })
        })
        .collect();
    let wait_for_calls = |count: usize| {
        let started = Instant::now();
        while acknowledged.lock().expect("acknowledged").len() < count {
            assert!(
                started.elapsed() < PATIENCE,
                "the load never took {count} calls"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for_calls(20);

    // The backup, as an operator takes it: the roles, then the database, from the running centre.
    let backup_dir = root.join("backup");
    private_dir(&backup_dir);
    let roles = backup_dir.join("roles.sql");
    let dump = backup_dir.join("dispatch.dump");
    let source_password = password(source.root());
    let port = source.port().to_string();
    let connection = ["-h", "127.0.0.1", "-p", &port, "-U", cluster::SUPERUSER];
    let source_env = [("PGPASSWORD", source_password.as_str())];
    run_as_postgres(
        "pg_dumpall",
        &[
            &connection[..],
            &[
                "--roles-only",
                "--no-role-passwords",
                "-f",
                roles.to_str().expect("utf-8"),
            ][..],
        ]
        .concat(),
        &source_env,
    );
    let dump_started = Instant::now();
    run_as_postgres(
        "pg_dump",
        &[
            &connection[..],
            &["-Fc", "-d", "dispatch", "-f", dump.to_str().expect("utf-8")][..],
        ]
        .concat(),
        &source_env,
    );
    let dump_took = dump_started.elapsed();
    let before_dump = acknowledged
        .lock()
        .expect("acknowledged")
        .iter()
        .filter(|(at, _)| *at < dump_started)
        .count();
    // Calls are still being taken after the dump: it never stopped the centre.
    wait_for_calls(before_dump + 10);
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(async {
        for task in load {
            task.await.expect("a call taker panicked");
        }
    });
    let acknowledged = std::mem::take(&mut *acknowledged.lock().expect("acknowledged"));

    // The restore, into a cluster that has never seen this centre.
    let target = start_cluster(&root.join("restored"));
    let target_password = password(target.root());
    let target_port = target.port().to_string();
    let target_connection = [
        "-h",
        "127.0.0.1",
        "-p",
        &target_port,
        "-U",
        cluster::SUPERUSER,
    ];
    let target_env = [("PGPASSWORD", target_password.as_str())];
    let roles_log = run_as_postgres(
        "psql",
        &[
            &target_connection[..],
            &["-d", "postgres", "-q", "-f", roles.to_str().expect("utf-8")][..],
        ]
        .concat(),
        &target_env,
    );
    // The only complaint allowed: the bootstrap superuser, which every cluster has.
    for line in roles_log.lines().filter(|line| line.contains("ERROR")) {
        assert!(
            line.contains(&format!("role \"{}\" already exists", cluster::SUPERUSER)),
            "restoring the roles: {line}"
        );
    }
    run_as_postgres(
        "pg_restore",
        &[
            &target_connection[..],
            &[
                "--create",
                "--exit-on-error",
                "-d",
                "postgres",
                dump.to_str().expect("utf-8"),
            ][..],
        ]
        .concat(),
        &target_env,
    );
    let restored_url = target.url("dispatch");

    runtime.block_on(async {
        let (restored, restored_server, applied) = start_dispatchd(&restored_url).await;
        assert_eq!(
            applied, 0,
            "the dump carries the schema and its migration history"
        );
        let source_store = dispatch_store::Store::connect(dispatch_store::Config::new(&source_url))
            .await
            .expect("source store");
        let restored_store =
            dispatch_store::Store::connect(dispatch_store::Config::new(&restored_url))
                .await
                .expect("restored store");

        // The same calls: every one acknowledged before the dump began, each as the source has
        // it; and none the source does not have.
        let source_calls =
            list_all_calls(&mut client(&channel, &token, CallIntakeServiceClient::new)).await;
        let restored_calls =
            list_all_calls(&mut client(&restored, &token, CallIntakeServiceClient::new)).await;
        for (at, name) in &acknowledged {
            if *at < dump_started {
                assert!(
                    restored_calls.contains_key(name),
                    "{name} was acknowledged before the dump"
                );
            }
        }
        for (name, call) in &restored_calls {
            assert_eq!(
                source_calls.get(name),
                Some(call),
                "{name} restored as it was"
            );
        }
        // The same incidents.
        for name in &incidents {
            let get = |channel: &Channel| {
                let mut triage = client(channel, &dispatcher, IncidentTriageServiceClient::new);
                let request = pb::GetIncidentRequest {
                    name: name.clone(),
                    ..Default::default()
                };
                async move {
                    triage
                        .get_incident(request)
                        .await
                        .expect("GetIncident")
                        .into_inner()
                        .incident
                        .expect("incident")
                }
            };
            assert_eq!(get(&restored).await, get(&channel).await, "{name}");
        }
        // The same feed: dense, each restored event as the source wrote it, at the position it
        // had when it was published before the dump; what the dump caught unpublished follows,
        // published by the restored centre. Its follower is at the head.
        let source_feed = read_feed(&source_store).await;
        let restored_feed = read_feed(&restored_store).await;
        let head = restored_feed.last().map_or(0, |event| event.position);
        let source_by_seq: HashMap<i64, &dispatch_store::feed::FeedEvent> =
            source_feed.iter().map(|event| (event.seq, event)).collect();
        let mut published_before_dump = 0;
        for event in &restored_feed {
            let original = source_by_seq.get(&event.seq).expect("a source event");
            assert_eq!(
                (&event.event, &event.call, &event.incident, &event.actor),
                (
                    &original.event,
                    &original.call,
                    &original.incident,
                    &original.actor
                )
            );
            if event.published_at == original.published_at {
                assert_eq!(
                    event.position, original.position,
                    "published before the dump"
                );
                assert_eq!(
                    event.position,
                    published_before_dump + 1,
                    "and before the others"
                );
                published_before_dump += 1;
            }
        }
        assert!(published_before_dump > 0);
        let restored_received = calls_received(&restored_feed);
        for name in restored_calls.keys() {
            assert_eq!(restored_received.get(name), Some(&1), "{name} in the feed");
        }
        let mut units = client(&restored, &dispatcher, UnitAssignmentServiceClient::new);
        wait_for_follower(&mut units, head, PATIENCE).await;

        // A new call continues the numbering and the feed where the backup left them.
        let newest_folio: HashMap<String, u64> = restored_calls
            .values()
            .map(|call| folio_parts(&call.folio))
            .fold(HashMap::new(), |mut newest, (day, number)| {
                let entry = newest.entry(day).or_default();
                *entry = (*entry).max(number);
                newest
            });
        let call = client(&restored, &token, CallIntakeServiceClient::new)
            .create_call(call_at((19.42, -99.12), 10.0))
            .await
            .expect("a new call on the restored centre")
            .into_inner()
            .call
            .expect("call");
        let (day, number) = folio_parts(&call.folio);
        let newest = newest_folio.get(&day).copied().unwrap_or(0);
        // Folio numbers are taken in a transaction of their own (so intake does not queue on
        // the counter row): the dump may hold a number taken for a call still being written,
        // one per call taker at most, which is skipped; a folio is never given twice.
        assert!(
            (newest + 1..=newest + 1 + CLIENTS as u64).contains(&number),
            "{} follows the restored folios (newest {newest})",
            call.folio
        );
        wait_for_feed_past(&restored_store, head).await;
        let feed = read_feed(&restored_store).await;
        let created = feed
            .iter()
            .find(|event| event.call.map(|id| id.name()) == Some(call.name.clone()))
            .expect("the new call in the feed");
        assert_eq!(
            created.position,
            head + 1,
            "the feed goes on at the next position"
        );

        eprintln!(
            "backup: pg_dump of a running centre took {dump_took:?}; {} of {} calls restored \
             ({before_dump} acknowledged before the dump began), feed head {head} \
             ({published_before_dump} published before the dump)",
            restored_calls.len(),
            source_calls.len(),
        );
        restored_server.abort();
        source_server.abort();
    });
    drop(target);
    drop(source);
    let _ = std::fs::remove_dir_all(root);
}
