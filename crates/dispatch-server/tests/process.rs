//! The `dispatchd` binary as an operator runs it: its own PostgreSQL cluster from the installed
//! binaries, data kept across restarts, a clean stop on SIGTERM, one clear line when it cannot
//! start. (The services themselves are tested end to end in `tests/`.)

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const ADMIN_TOKEN: &str = "process-test-admin-token";

/// A directory client sending the admin token.
async fn directory(
    address: &str,
) -> DirectoryServiceClient<InterceptedService<Channel, impl Interceptor>> {
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("address")
        .connect()
        .await
        .expect("connect");
    let bearer: MetadataValue<Ascii> = format!("Bearer {ADMIN_TOKEN}").parse().expect("ascii");
    DirectoryServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        Ok(request)
    })
}

struct Dispatchd {
    child: Child,
    address: String,
}

/// Starts `dispatchd` and waits for the log line that says it is serving (no sleeps).
fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Dispatchd {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dispatchd"))
        .env_remove("DATABASE_URL")
        .env("DISPATCH_DATA_DIR", data_dir)
        .env("DISPATCH_LISTEN", "127.0.0.1:0")
        .env("DISPATCH_LOG_FORMAT", "json")
        .env("DISPATCH_ADMIN_TOKEN", ADMIN_TOKEN)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning dispatchd");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("dispatchd exited before serving")
            .expect("reading stderr");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "serving gRPC" {
            break entry["fields"]["address"]
                .as_str()
                .expect("address")
                .to_owned();
        }
    };
    // Keep draining the log so dispatchd never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Dispatchd { child, address }
}

impl Dispatchd {
    fn stop(mut self) -> std::process::ExitStatus {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        kill(pid, Signal::SIGTERM).expect("SIGTERM");
        self.child.wait().expect("waiting for dispatchd")
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dispatchd-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn data_survives_a_restart_and_sigterm_stops_everything() {
    let data_dir = temp_dir("restart");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let first = start(&data_dir, &[]);
    let created = runtime.block_on(async {
        let mut directory = directory(&first.address).await;
        directory
            .create_agency(pb::CreateAgencyRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                agency: Some(pb::Agency {
                    code: "ERUM".into(),
                    display_name: "Escuadrón de Rescate y Urgencias Médicas".into(),
                    kind: pb::AgencyKind::Ems.into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("create agency")
            .into_inner()
            .agency
            .expect("agency")
    });
    assert!(first.stop().success(), "dispatchd exits 0 on SIGTERM");
    // The private cluster was stopped cleanly with it: its lock file is gone.
    assert!(
        !data_dir.join("pg/postmaster.pid").exists(),
        "PostgreSQL still running after dispatchd stopped"
    );

    let second = start(&data_dir, &[]);
    let fetched = runtime.block_on(async {
        let mut directory = directory(&second.address).await;
        directory
            .get_agency(pb::GetAgencyRequest {
                name: created.name.clone(),
            })
            .await
            .expect("the agency is still there")
            .into_inner()
            .agency
            .expect("agency")
    });
    assert_eq!(fetched, created);
    let status = second.stop();
    assert!(
        status.success(),
        "the restarted dispatchd exits 0 on SIGTERM: {status:?}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn without_postgres_binaries_it_says_what_to_install_in_one_line() {
    let data_dir = temp_dir("nobinaries");
    let output = Command::new(env!("CARGO_BIN_EXE_dispatchd"))
        .env_remove("DATABASE_URL")
        .env("DISPATCH_DATA_DIR", &data_dir)
        .env("DISPATCH_PG_BIN_DIR", data_dir.join("nowhere"))
        .env("DISPATCH_LISTEN", "127.0.0.1:0")
        .output()
        .expect("running dispatchd");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("install the PostgreSQL server") && lines[0].contains("DATABASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn an_unreachable_database_url_fails_with_one_line() {
    let data_dir = temp_dir("badurl");
    let output = Command::new(env!("CARGO_BIN_EXE_dispatchd"))
        .env(
            "DATABASE_URL",
            "postgres://nobody:wrong@127.0.0.1:1/dispatch",
        )
        .env("DISPATCH_LISTEN", "127.0.0.1:0")
        .output()
        .expect("running dispatchd");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().expect("an error line");
    assert!(
        last.starts_with("dispatchd: ") && last.contains("DATABASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
