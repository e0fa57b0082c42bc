//! `dispatchd` in this process: `serve()` on a listener bound to port 0, as the test harness
//! does, and gRPC clients that send a bearer token.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use dispatch_cli::Bearer;
use dispatch_cli::retry::{Counts, Policy, Retry, Stats};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_server::Config;

/// The load generators' clients behave like dispatchctl's: what the server asks to be retried
/// (RESOURCE_EXHAUSTED, UNAVAILABLE) is sent again, the same request with jittered back-off.
/// They are not paced: the servers' limits are lifted here, and pacing would cap what is
/// measured.
pub type Authed = InterceptedService<Retry<Channel>, Bearer>;

/// What the benchmark takes of an RPC's answer.
pub trait Answered<T> {
    /// The part of the answer `part` takes; an error naming `rpc` when the RPC failed or the
    /// answer lacks that part.
    fn part<U>(self, rpc: &str, part: impl FnOnce(T) -> Option<U>) -> anyhow::Result<U>;
}

impl<T> Answered<T> for Result<tonic::Response<T>, tonic::Status> {
    fn part<U>(self, rpc: &str, part: impl FnOnce(T) -> Option<U>) -> anyhow::Result<U> {
        let answer = self.with_context(|| rpc.to_owned())?.into_inner();
        part(answer).with_context(|| format!("{rpc} answered without it"))
    }
}

static RETRIES: LazyLock<Arc<Stats>> = LazyLock::new(Arc::default);

/// Requests the benchmark's clients sent again so far.
pub fn retries() -> Counts {
    RETRIES.counts()
}

/// A running in-process `dispatchd`.
#[derive(Debug)]
pub struct Server {
    pub address: SocketAddr,
    admin_token: String,
    admin_channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), dispatch_server::ServeError>>>,
}

/// Whether in-process servers' accepted connections get TCP_NODELAY (`--tcp-nodelay`): set on
/// the listening socket, which Linux copies to every accepted one. `serve()` does not set it
/// itself (tonic ignores its `tcp_nodelay` setting for a caller's incoming stream), so by
/// default the benchmark measures the server as shipped.
static NODELAY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_nodelay(enabled: bool) {
    NODELAY.store(enabled, std::sync::atomic::Ordering::Relaxed);
}

fn listen() -> anyhow::Result<TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if NODELAY.load(std::sync::atomic::Ordering::Relaxed) {
        socket.set_nodelay(true)?;
    }
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(socket.listen(1024)?)
}

/// The shipped configuration, except that the per-principal rate limit and the process-wide
/// concurrency limit are lifted: the load generators are a few principals doing the work of
/// many consoles, and those limits are not what is measured.
pub fn bench_config() -> Config {
    let mut config = Config::defaults();
    config.rate_limit = 1e9;
    config.max_concurrent_requests = 1 << 20;
    config
}

impl Server {
    /// Connects to `database_url` (migrated), builds the engine from it and serves.
    pub async fn start(database_url: &str) -> anyhow::Result<Self> {
        Self::start_with(bench_config(), database_url).await
    }

    pub async fn start_with(mut config: Config, database_url: &str) -> anyhow::Result<Self> {
        let admin_token = format!("bench-admin-{}", uuid::Uuid::new_v4().simple());
        config.admin_token = Some(admin_token.clone().into());
        let store = dispatch_store::Store::connect(config.store_config(database_url.to_owned()))
            .await
            .context("connecting the store")?;
        let listener = listen()?;
        let address = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            dispatch_server::serve(&config, store, listener, async {
                let _ = stop.await;
            })
            .await
        });
        let admin_channel = Endpoint::from_shared(format!("http://{address}"))?.connect_lazy();
        Ok(Self {
            address,
            admin_token,
            admin_channel,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// A new HTTP/2 connection to this server.
    pub fn connection(&self) -> anyhow::Result<Channel> {
        Ok(Endpoint::from_shared(format!("http://{}", self.address))?.connect_lazy())
    }

    fn admin(&self) -> anyhow::Result<DirectoryServiceClient<Authed>> {
        Ok(DirectoryServiceClient::new(authed(
            self.admin_channel.clone(),
            &self.admin_token,
        )?))
    }

    /// Creates a principal with `role` (bound to `unit` for a field unit) and returns a fresh
    /// bearer token for it.
    pub async fn token(&self, role: pb::Role, name: &str) -> anyhow::Result<String> {
        let mut admin = self.admin()?;
        let principal = admin
            .create_principal(pb::CreatePrincipalRequest {
                request_id: request_id(),
                principal: Some(pb::Principal {
                    display_name: format!(
                        "{name}-{}",
                        &uuid::Uuid::new_v4().simple().to_string()[..8]
                    ),
                    role: role.into(),
                    ..Default::default()
                }),
            })
            .await
            .part("CreatePrincipal", |answer| answer.principal)?;
        let token = admin
            .issue_credential(pb::IssueCredentialRequest {
                request_id: request_id(),
                principal: principal.name,
                kind: pb::CredentialKind::BearerToken.into(),
                description: "benchmark".into(),
                ..Default::default()
            })
            .await
            .context("IssueCredential")?
            .into_inner()
            .token;
        Ok(token)
    }

    /// `count` tokens of principals with `role`, named `{prefix}-0`, `{prefix}-1`, ...: one per
    /// simulated client, so no two share a principal.
    pub async fn tokens(
        &self,
        role: pb::Role,
        prefix: &str,
        count: usize,
    ) -> anyhow::Result<Vec<String>> {
        let mut tokens = Vec::with_capacity(count);
        for i in 0..count {
            tokens.push(self.token(role, &format!("{prefix}-{i}")).await?);
        }
        Ok(tokens)
    }

    /// A call taker's and a dispatcher's token, named after `bench`.
    pub async fn call_taker_and_dispatcher(&self, bench: &str) -> anyhow::Result<(String, String)> {
        let call_taker = self
            .token(pb::Role::CallTaker, &format!("bench-{bench}-call-taker"))
            .await?;
        let dispatcher = self
            .token(pb::Role::Dispatcher, &format!("bench-{bench}-dispatcher"))
            .await?;
        Ok((call_taker, dispatcher))
    }

    /// The bootstrap admin's directory client (for creating agencies and units).
    pub fn directory_admin(&self) -> anyhow::Result<DirectoryServiceClient<Authed>> {
        self.admin()
    }

    /// Stops serving and waits for in-flight calls to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.context("server task")??;
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

pub fn authed(channel: Channel, token: &str) -> anyhow::Result<Authed> {
    Ok(InterceptedService::new(
        Retry::new(channel, Policy::default(), None, RETRIES.clone()),
        Bearer::new(token).context("a token is ASCII")?,
    ))
}

pub fn calls(channel: Channel, token: &str) -> anyhow::Result<CallIntakeServiceClient<Authed>> {
    Ok(CallIntakeServiceClient::new(authed(channel, token)?))
}

pub fn units(channel: Channel, token: &str) -> anyhow::Result<UnitAssignmentServiceClient<Authed>> {
    Ok(UnitAssignmentServiceClient::new(authed(channel, token)?))
}

pub fn triage(
    channel: Channel,
    token: &str,
) -> anyhow::Result<IncidentTriageServiceClient<Authed>> {
    Ok(IncidentTriageServiceClient::new(authed(channel, token)?))
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}
