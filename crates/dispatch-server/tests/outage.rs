//! PostgreSQL stops while `dispatchd` serves, then comes back (issue 8 and 11): requests fail
//! fast with UNAVAILABLE and health says NOT_SERVING meanwhile; afterwards the server recovers by
//! itself, nothing acknowledged is lost, and the feed and the engine catch up.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::watch_units_response::Item;
use dispatch_store::cluster::{self, Cluster};
use tonic::service::interceptor::InterceptedService;
use tonic_health::pb::health_check_response::ServingStatus;

use common::ADMIN_TOKEN;
use dispatch_tests::Bearer;
use dispatch_tests::fixtures::{
    available, create_agency_in, create_unit_in, enrol, new_agency, set_status_request,
};

/// Bounds every wait: generous, polled, never a fixed sleep.
const PATIENCE: Duration = Duration::from_secs(30);

/// Owns the cluster on a thread that lives as long as the test (PostgreSQL is told to stop
/// when the thread that started it exits), and starts or stops it on request.
struct Postgres {
    commands: mpsc::Sender<(bool, mpsc::Sender<Result<String, String>>)>,
}

impl Postgres {
    fn new(root: PathBuf, port: u16) -> Self {
        let (commands, inbox) = mpsc::channel::<(bool, mpsc::Sender<Result<String, String>>)>();
        std::thread::spawn(move || {
            let config = cluster::Config {
                durable: false,
                port: Some(port),
                ..cluster::Config::new(root)
            };
            let mut running: Option<Cluster> = None;
            for (start, reply) in inbox {
                let result = if start {
                    Cluster::start(&config)
                        .map(|c| {
                            let url = c.url("postgres");
                            running = Some(c);
                            url
                        })
                        .map_err(|e| e.to_string())
                } else {
                    running
                        .take()
                        .map_or(Ok(()), Cluster::stop)
                        .map(|()| String::new())
                        .map_err(|e| e.to_string())
                };
                let _ = reply.send(result);
            }
        });
        Self { commands }
    }

    fn command(&self, start: bool) -> String {
        let (reply, answer) = mpsc::channel();
        self.commands.send((start, reply)).expect("cluster thread");
        answer
            .recv()
            .expect("cluster thread answers")
            .expect("cluster command")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_postgresql_fails_fast_and_recovers_without_losing_anything() {
    let root = std::env::temp_dir().join(format!("dispatch-outage-{}", uuid::Uuid::new_v4()));
    let postgres = Postgres::new(root.clone(), free_port());
    let admin_url = postgres.command(true);
    dispatch_store::ensure_database(&admin_url, "dispatch")
        .await
        .expect("database");
    let url = admin_url.replace("/postgres", "/dispatch");
    dispatch_store::migrate(&url).await.expect("migrate");

    let mut config = dispatch_server::Config::defaults();
    config.admin_token = Some(ADMIN_TOKEN.to_owned().into());
    config.db_acquire_timeout = Duration::from_secs(2);
    config.position_announce_interval = Duration::ZERO;
    let store = dispatch_store::Store::connect(config.store_config(url.clone()))
        .await
        .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        dispatch_server::serve(&config, store, listener, std::future::pending()).await
    });
    let channel = dispatch_tests::process::channel(&address.to_string());
    let wait_for_health = |wanted| common::wait_for_health(&channel, wanted, PATIENCE);
    wait_for_health(ServingStatus::Serving).await;

    let mut directory = DirectoryServiceClient::new(InterceptedService::new(
        channel.clone(),
        Bearer::new(ADMIN_TOKEN).with_timeout(Duration::from_secs(5)),
    ));
    let police = new_agency("SSC", "SSC", pb::AgencyKind::Police);
    let agency = create_agency_in(&mut directory, police).await;
    let patrol = available(&agency.name, "P01", pb::UnitType::Patrol);
    let unit = create_unit_in(&mut directory, patrol).await;
    // Consoles are a dispatcher's: issue one a token.
    let console = pb::Principal {
        display_name: "console".into(),
        role: pb::Role::Dispatcher.into(),
        ..Default::default()
    };
    let token = enrol(&mut directory, console).await.1;
    let mut units = UnitAssignmentServiceClient::new(InterceptedService::new(
        channel.clone(),
        Bearer::new(&token),
    ));
    let mut stream = units
        .watch_units(pb::WatchUnitsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let resume_at = loop {
        match stream.message().await.expect("ok").and_then(|m| m.item) {
            Some(Item::SnapshotComplete(done)) => break done.sequence,
            Some(Item::Snapshot(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };

    postgres.command(false);
    let down_after = wait_for_health(ServingStatus::NotServing).await;
    let asked = Instant::now();
    let refused = directory
        .get_unit(pb::GetUnitRequest {
            name: unit.name.clone(),
        })
        .await
        .expect_err("no database");
    let refused_in = asked.elapsed();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused_in < Duration::from_secs(3), "{refused_in:?}");

    postgres.command(true);
    let recovered_in = wait_for_health(ServingStatus::Serving).await;
    eprintln!(
        "NOT_SERVING {down_after:?} after the stop; a request refused in {refused_in:?}; \
         SERVING again {recovered_in:?} after the restart"
    );
    assert!(recovered_in < Duration::from_secs(15), "{recovered_in:?}");

    // Everything acknowledged is there, writes work, and the feed goes on.
    let fetched = directory
        .get_unit(pb::GetUnitRequest {
            name: unit.name.clone(),
        })
        .await
        .expect("the unit survived")
        .into_inner();
    assert_eq!(fetched.unit.map(|u| u.call_sign).as_deref(), Some("P01"));
    units
        .set_unit_status(set_status_request(&unit.name, pb::UnitStatus::OutOfService))
        .await
        .expect("status after recovery");
    let mut resumed = units
        .watch_units(pb::WatchUnitsRequest {
            after_sequence: resume_at,
            ..Default::default()
        })
        .await
        .expect("resume")
        .into_inner();
    let event = loop {
        let message = tokio::time::timeout(PATIENCE, resumed.message())
            .await
            .expect("the feed catches up")
            .expect("ok")
            .and_then(|m| m.item);
        match message {
            Some(Item::Event(event)) => break event,
            Some(Item::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(event.sequence > resume_at);
    assert_eq!(
        event.unit.map(|u| u.status),
        Some(i32::from(pb::UnitStatus::OutOfService))
    );
    server.abort();
    postgres.command(false);
    let _ = std::fs::remove_dir_all(root);
}
