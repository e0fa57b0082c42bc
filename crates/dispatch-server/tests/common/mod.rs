//! What the tests of the `dispatchd` binary share beyond the e2e harness (`dispatch-tests`,
//! which starts the process, sends bearer tokens and creates records): a temporary data
//! directory, `dispatchd` started on one, the admin token, and waiting on health.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of what they share, and the crash test all of \
              it: an `expect` would be unfulfilled there"
)]

pub mod postgres;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_tests::process::Dispatchd;
use dispatch_tests::{Authed, Bearer};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub const ADMIN_TOKEN: &str = "server-test-admin-token";
/// Longest a start (PostgreSQL crash recovery included) may take.
pub const START_DEADLINE: Duration = Duration::from_secs(90);

/// A directory client sending the admin token.
pub fn admin_directory(channel: Channel) -> DirectoryServiceClient<Authed> {
    DirectoryServiceClient::new(InterceptedService::new(channel, Bearer::new(ADMIN_TOKEN)))
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dispatchd-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Starts `dispatchd` on its own private cluster in `data_dir` (with the admin token and
/// `extra_env`) and waits, bounded, for the log line that says it serves.
pub fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Dispatchd {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dispatchd"));
    command
        .env_remove("DATABASE_URL")
        .env("DISPATCH_DATA_DIR", data_dir)
        .env("DISPATCH_ADMIN_TOKEN", ADMIN_TOKEN)
        .envs(extra_env.iter().copied());
    let postgres_log = data_dir.join("postgres.log");
    let hint = format!("PostgreSQL's log: {}", postgres_log.display());
    let dispatchd = Dispatchd::start(command, START_DEADLINE, &hint);
    assert!(
        dispatchd.pg_port.is_some(),
        "dispatchd logged its cluster's port before serving"
    );
    dispatchd
}

/// Polls health until it reads `wanted`, within `patience`; says how long that took.
pub async fn wait_for_health(
    channel: &Channel,
    wanted: ServingStatus,
    patience: Duration,
) -> Duration {
    let mut health = HealthClient::new(channel.clone());
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < patience {
        let request = HealthCheckRequest {
            service: String::new(),
        };
        match health.check(request).await {
            Ok(response) if response.get_ref().status() == wanted => return started.elapsed(),
            Ok(response) => last = Some(format!("{:?}", response.get_ref().status())),
            Err(status) => last = Some(status.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("health never became {wanted:?} within {patience:?}: {last:?}");
}
