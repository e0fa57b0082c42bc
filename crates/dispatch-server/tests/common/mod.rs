//! What the tests of the `dispatchd` binary share: a temporary data directory, starting
//! `dispatchd` and waiting (bounded, never a fixed sleep) until it serves, stopping it, clients
//! that send a bearer token, and the directory records a scenario starts from.

#![expect(
    dead_code,
    reason = "each test binary uses its own part of what they share"
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub const ADMIN_TOKEN: &str = "server-test-admin-token";
/// Longest a start (PostgreSQL crash recovery included) may take.
pub const START_DEADLINE: Duration = Duration::from_secs(90);

/// Sends a bearer token with every request, and a deadline when one is set.
#[derive(Debug, Clone)]
pub struct Bearer {
    header: MetadataValue<Ascii>,
    timeout: Option<Duration>,
}

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self {
            header: format!("Bearer {token}").parse().expect("an ASCII token"),
            timeout: None,
        }
    }

    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.header.clone());
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// A lazily connected channel to `address` (made inside a runtime's context).
pub fn channel(address: &str) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect_lazy()
}

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

/// What `dispatchd` said on stderr that the tests need.
enum Log {
    ClusterPort(u16),
    Serving(String),
    Line(String),
}

/// A running `dispatchd` on its own private cluster.
pub struct Dispatchd {
    pub child: Child,
    pub address: String,
    pub pg_port: u16,
}

/// Starts `dispatchd` on `data_dir` (with the admin token and `extra_env`) and waits, bounded,
/// for the log line that says it serves. Panics with the tail of its log if it dies or is too
/// slow.
pub fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Dispatchd {
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
    let (sender, receiver) = std::sync::mpsc::channel();
    // Reads the whole log for as long as dispatchd lives, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let entry = serde_json::from_str::<serde_json::Value>(&line).ok();
            let fields = entry.as_ref().map(|e| &e["fields"]);
            let event = match fields {
                Some(f) if f["message"] == "private PostgreSQL cluster running" => f["port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .map_or(Log::Line(line.clone()), Log::ClusterPort),
                Some(f) if f["message"] == "serving gRPC" => f["address"]
                    .as_str()
                    .map_or(Log::Line(line.clone()), |a| Log::Serving(a.to_owned())),
                _ => Log::Line(line),
            };
            let _ = sender.send(event);
        }
    });
    let started = Instant::now();
    let mut tail: Vec<String> = Vec::new();
    let mut pg_port = None;
    let address = loop {
        let left = START_DEADLINE.saturating_sub(started.elapsed());
        match receiver.recv_timeout(left) {
            Ok(Log::ClusterPort(port)) => pg_port = Some(port),
            Ok(Log::Serving(address)) => break address,
            Ok(Log::Line(line)) => {
                tail.push(line);
                if tail.len() > 40 {
                    tail.remove(0);
                }
            }
            Err(error) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "dispatchd did not serve within {START_DEADLINE:?} ({error}; exit: {status:?}); \
                     its last lines:\n{}\nPostgreSQL's log: {}",
                    tail.join("\n"),
                    data_dir.join("postgres.log").display()
                );
            }
        }
    };
    // The rest of the log is drained by the reader thread; nobody needs it any more.
    drop(receiver);
    Dispatchd {
        child,
        address,
        pg_port: pg_port.expect("dispatchd logged its cluster's port before serving"),
    }
}

impl Dispatchd {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    pub fn channel(&self) -> Channel {
        channel(&self.address)
    }

    /// Stops it as an operator does, with SIGTERM, and says how it exited.
    pub fn stop(mut self) -> std::process::ExitStatus {
        kill(self.pid(), Signal::SIGTERM).expect("SIGTERM");
        self.child.wait().expect("waiting for dispatchd")
    }
}

/// A test that fails half-way leaves no `dispatchd` (nor, through PR_SET_PDEATHSIG, its
/// PostgreSQL) running behind it.
impl Drop for Dispatchd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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

pub async fn create_agency(
    directory: &mut DirectoryServiceClient<Authed>,
    code: &str,
    display_name: &str,
    kind: pb::AgencyKind,
) -> pb::Agency {
    directory
        .create_agency(pb::CreateAgencyRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            agency: Some(pb::Agency {
                code: code.into(),
                display_name: display_name.into(),
                kind: kind.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create agency")
        .into_inner()
        .agency
        .expect("agency")
}

/// A new principal in `role` and a bearer token issued to it.
pub async fn issue_token(
    directory: &mut DirectoryServiceClient<Authed>,
    role: pb::Role,
    display_name: &str,
) -> String {
    let principal = directory
        .create_principal(pb::CreatePrincipalRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            principal: Some(pb::Principal {
                display_name: display_name.into(),
                role: role.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("create principal")
        .into_inner()
        .principal
        .expect("principal");
    directory
        .issue_credential(pb::IssueCredentialRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            principal: principal.name,
            kind: pb::CredentialKind::BearerToken.into(),
            description: display_name.into(),
            ..Default::default()
        })
        .await
        .expect("issue credential")
        .into_inner()
        .token
}
