//! The end-to-end test harness: one private PostgreSQL cluster per test process, a template
//! database migrated once, and for every test its own database copied from the template and its
//! own `dispatchd` server on a port the OS picked. Nothing below gRPC is mocked.

pub mod eido;
pub mod fixtures;
pub mod process;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, oneshot};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::incident_exchange_service_client::IncidentExchangeServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::victim_care_referral_service_client::VictimCareReferralServiceClient;
use dispatch_server::Config;
use dispatch_store::cluster::{self, Cluster};

const TEMPLATE: &str = "dispatch_template";

/// Connection details of this process's cluster (the cluster itself lives on its own thread).
#[derive(Debug, Clone)]
struct ClusterInfo {
    admin_url: String,
    url_prefix: String,
}

static CLUSTER: OnceLock<Result<ClusterInfo, String>> = OnceLock::new();
static TEMPLATE_READY: OnceCell<()> = OnceCell::const_new();

fn cluster_info() -> &'static ClusterInfo {
    let info = CLUSTER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        // PostgreSQL gets SIGINT when the thread that started it exits, so this thread never
        // does: the cluster stops when the test process ends, however it ends.
        std::thread::Builder::new()
            .name("test-postgres".into())
            .spawn(move || {
                let root =
                    std::env::temp_dir().join(format!("dispatch-test-{}", std::process::id()));
                remove_stale_clusters(&std::env::temp_dir());
                let started = Cluster::start(&cluster::Config {
                    durable: false,
                    ..cluster::Config::new(&root)
                });
                match started {
                    Ok(cluster) => {
                        let admin_url = cluster.url("postgres");
                        let url_prefix = admin_url.trim_end_matches("postgres").to_owned();
                        let _ = sender.send(Ok(ClusterInfo {
                            admin_url,
                            url_prefix,
                        }));
                        loop {
                            std::thread::park();
                        }
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error.to_string()));
                    }
                }
            })
            .expect("spawning the PostgreSQL owner thread");
        receiver
            .recv()
            .unwrap_or_else(|_| Err("PostgreSQL owner thread died".into()))
    });
    match info {
        Ok(info) => info,
        Err(error) => panic!("cannot start the test PostgreSQL cluster: {error}"),
    }
}

/// Clusters of earlier test processes that are gone: their data directories are left behind.
fn remove_stale_clusters(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("dispatch-test-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

async fn admin() -> anyhow::Result<AsyncPgConnection> {
    Ok(dispatch_store::connect_with_retry(
        &cluster_info().admin_url,
        std::time::Duration::from_secs(30),
    )
    .await?)
}

/// Why `dispatchd` with `config` refuses to start (on a fresh database); panics if it starts.
pub async fn start_up_error(config: &Config) -> String {
    let database_url = fresh_database().await.expect("a fresh test database");
    let store = dispatch_store::Store::connect(config.store_config(database_url))
        .await
        .expect("connecting the store");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding port 0");
    dispatch_server::serve(config, store, listener, std::future::pending())
        .await
        .expect_err("refuses to start")
        .to_string()
}

/// A new database with every migration applied, for one test.
pub async fn fresh_database() -> anyhow::Result<String> {
    let info = cluster_info();
    TEMPLATE_READY
        .get_or_try_init(|| async {
            let mut conn = admin().await?;
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {TEMPLATE}"))
                .execute(&mut conn)
                .await?;
            diesel::sql_query(format!("CREATE DATABASE {TEMPLATE}"))
                .execute(&mut conn)
                .await?;
            dispatch_store::migrate(&format!("{}{TEMPLATE}", info.url_prefix)).await?;
            anyhow::Ok(())
        })
        .await
        .context("preparing the template database")?;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin().await?;
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        .execute(&mut conn)
        .await?;
    Ok(format!("{}{name}", info.url_prefix))
}

/// Sends `authorization: Bearer <token>` with every request, and a deadline when one is set.
#[derive(Debug, Clone)]
pub struct Bearer {
    header: Option<MetadataValue<Ascii>>,
    timeout: Option<std::time::Duration>,
}

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self {
            header: Some(format!("Bearer {token}").parse().expect("an ASCII token")),
            timeout: None,
        }
    }

    /// No credential at all.
    pub fn none() -> Self {
        Self {
            header: None,
            timeout: None,
        }
    }

    pub fn with_timeout(self, timeout: std::time::Duration) -> Self {
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
        if let Some(value) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        Ok(request)
    }
}

/// A channel that authenticates every call.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A running `dispatchd` (in this process) on its own database.
#[derive(Debug)]
pub struct TestServer {
    pub address: SocketAddr,
    /// The exchange listener (HTTP/1.1: the NENA-STA-024 WebSocket), on a port the OS picked.
    pub exchange_address: SocketAddr,
    /// The Prometheus metrics listener (`GET /metrics`), on a port the OS picked.
    pub metrics_address: SocketAddr,
    pub database_url: String,
    pub channel: Channel,
    /// `DISPATCH_ADMIN_TOKEN` of this server.
    pub admin_token: String,
    /// A supervisor's token: what the plain `calls()`, `triage()`... clients send.
    pub token: String,
    gateway_token: OnceCell<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), dispatch_server::ServeError>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Config::defaults()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let database_url = fresh_database().await.expect("a fresh test database");
        Self::start_on(config, database_url).await
    }

    /// A server on an existing database (a second server sharing one database, or a restart).
    pub async fn start_on(config: Config, database_url: String) -> Self {
        Self::launch(config, database_url, None).await
    }

    /// A server serving TLS as `config` says (`tls::TlsFiles::configure`), its `channel` trusting
    /// `ca` (the CA of its server certificate).
    pub async fn start_tls(config: Config, ca: &str) -> Self {
        let database_url = fresh_database().await.expect("a fresh test database");
        Self::launch(config, database_url, Some(ca)).await
    }

    async fn launch(mut config: Config, database_url: String, tls_ca: Option<&str>) -> Self {
        let admin_token = format!("test-admin-{}", uuid::Uuid::new_v4().simple());
        config.admin_token = Some(admin_token.clone().into());
        let store = dispatch_store::Store::connect(config.store_config(database_url.clone()))
            .await
            .expect("connecting the store");
        // Bound before serving, so clients can connect at once: no waiting, no sleeps.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let address = listener.local_addr().expect("bound address");
        let exchange = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let exchange_address = exchange.local_addr().expect("bound address");
        let metrics = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let metrics_address = metrics.local_addr().expect("bound address");
        let listeners = dispatch_server::Listeners {
            grpc: listener,
            exchange: Some(exchange),
            metrics: Some(metrics),
        };
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            dispatch_server::serve_on(&config, store, listeners, async {
                let _ = stop.await;
            })
            .await
        });
        let channel = match tls_ca {
            Some(ca) => tls::channel(address, ca, None),
            None => process::channel(&address.to_string()),
        };
        let mut server = Self {
            address,
            exchange_address,
            metrics_address,
            database_url,
            channel,
            admin_token,
            token: String::new(),
            gateway_token: OnceCell::new(),
            shutdown: Some(shutdown),
            task: Some(task),
        };
        server.token = server
            .principal(pb::Role::Supervisor, "test-supervisor", None, None)
            .await
            .1;
        server
    }

    /// The whole HTTP/1.1 response (status line, headers and body) to `GET /metrics` from this
    /// server's metrics listener.
    pub async fn metrics_response(&self) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.metrics_address)
            .await
            .expect("connecting to the metrics listener");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: dispatchd\r\nConnection: close\r\n\r\n")
            .await
            .expect("sending the scrape");
        let mut response = String::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_string(&mut response),
        )
        .await
        .expect("the scrape answers within 10 s")
        .expect("reading the scrape (UTF-8)");
        response
    }

    /// The value of the unlabelled counter or gauge `name` (as exposed, `_total` included) in
    /// this server's `GET /metrics`, if it is there.
    pub async fn metric(&self, name: &str) -> Option<f64> {
        self.metrics_response().await.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(' ')?;
            value.split_whitespace().next()?.parse().ok()
        })
    }

    /// Creates a principal with `role` and returns its name and a fresh bearer token.
    pub async fn principal(
        &self,
        role: pb::Role,
        name: &str,
        unit: Option<&str>,
        partner: Option<&str>,
    ) -> (String, String) {
        let handle = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        // A liaison speaks for an agency (taking part in operations): a fresh one.
        let agency = if role == pb::Role::Liaison {
            fixtures::agency(self, &handle, pb::AgencyKind::Police).await
        } else {
            String::new()
        };
        let principal = pb::Principal {
            display_name: handle,
            role: role.into(),
            agency,
            unit: unit.unwrap_or_default().to_owned(),
            partner: partner.unwrap_or_default().to_owned(),
            ..Default::default()
        };
        fixtures::enrol(&mut self.directory_as(&self.admin_token), principal).await
    }

    /// A principal with `role` and neither a unit nor a partner: its name and a fresh token.
    pub async fn person(&self, role: pb::Role, name: &str) -> (String, String) {
        self.principal(role, name, None, None).await
    }

    /// Who the holder of `token` is, as GetCurrentPrincipal answers (it must answer).
    pub async fn whoami(&self, token: &str) -> pb::GetCurrentPrincipalResponse {
        self.directory_as(token)
            .get_current_principal(pb::GetCurrentPrincipalRequest {})
            .await
            .expect("GetCurrentPrincipal")
            .into_inner()
    }

    fn authed(&self, token: &str) -> Authed {
        InterceptedService::new(self.channel.clone(), Bearer::new(token))
    }

    pub fn calls(&self) -> CallIntakeServiceClient<Authed> {
        self.calls_as(&self.token)
    }

    pub fn directory(&self) -> DirectoryServiceClient<Authed> {
        self.directory_as(&self.token)
    }

    pub fn triage(&self) -> IncidentTriageServiceClient<Authed> {
        self.triage_as(&self.token)
    }

    pub fn units(&self) -> UnitAssignmentServiceClient<Authed> {
        self.units_as(&self.token)
    }

    /// ReportingService, as the supervisor.
    pub fn reports(&self) -> ReportingServiceClient<Authed> {
        self.reports_as(&self.token)
    }

    pub fn reports_as(&self, token: &str) -> ReportingServiceClient<Authed> {
        ReportingServiceClient::new(self.authed(token))
    }

    /// IncidentExchangeService (NENA EIDOs), as the supervisor.
    pub fn exchange(&self) -> IncidentExchangeServiceClient<Authed> {
        self.exchange_as(&self.token)
    }

    pub fn exchange_as(&self, token: &str) -> IncidentExchangeServiceClient<Authed> {
        IncidentExchangeServiceClient::new(self.authed(token))
    }

    pub fn referrals(&self) -> VictimCareReferralServiceClient<Authed> {
        self.referrals_as(&self.token)
    }

    pub fn calls_as(&self, token: &str) -> CallIntakeServiceClient<Authed> {
        CallIntakeServiceClient::new(self.authed(token))
    }

    pub fn directory_as(&self, token: &str) -> DirectoryServiceClient<Authed> {
        DirectoryServiceClient::new(self.authed(token))
    }

    pub fn triage_as(&self, token: &str) -> IncidentTriageServiceClient<Authed> {
        IncidentTriageServiceClient::new(self.authed(token))
    }

    pub fn units_as(&self, token: &str) -> UnitAssignmentServiceClient<Authed> {
        UnitAssignmentServiceClient::new(self.authed(token))
    }

    pub fn referrals_as(&self, token: &str) -> VictimCareReferralServiceClient<Authed> {
        VictimCareReferralServiceClient::new(self.authed(token))
    }

    /// An AVL gateway's client, for position reports.
    pub async fn gateway(&self) -> UnitAssignmentServiceClient<Authed> {
        let token = self
            .gateway_token
            .get_or_init(|| async {
                self.principal(pb::Role::Gateway, "test-avl-gateway", None, None)
                    .await
                    .1
            })
            .await;
        self.units_as(token)
    }

    /// A direct connection to this server's database, for checking what was (not) written.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connecting to the test database")
    }

    /// Runs `sql` (a trusted statement the test wrote) on its own connection; it must succeed.
    pub async fn run_sql(&self, sql: &str) {
        let mut conn = self.db().await;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// Rows in `table` (a trusted, literal table name).
    pub async fn count(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db().await;
        let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(&mut conn)
            .await
            .expect("counting rows");
        count.n
    }

    /// Stops serving and waits for in-flight calls to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A domain role as the wire spells it.
pub fn pb_role(role: dispatch_domain::auth::Role) -> pb::Role {
    use dispatch_domain::auth::Role;
    match role {
        Role::CallTaker => pb::Role::CallTaker,
        Role::Dispatcher => pb::Role::Dispatcher,
        Role::Supervisor => pb::Role::Supervisor,
        Role::VideoOperator => pb::Role::VideoOperator,
        Role::FieldUnit => pb::Role::FieldUnit,
        Role::PartnerAgency => pb::Role::PartnerAgency,
        Role::Gateway => pb::Role::Gateway,
        Role::Admin => pb::Role::Admin,
        Role::Liaison => pb::Role::Liaison,
    }
}

/// Runs each of `statements` on `conn` and asserts the database refuses every one with an error
/// that mentions `why`.
pub async fn assert_database_refuses(conn: &mut AsyncPgConnection, statements: &[&str], why: &str) {
    for &statement in statements {
        let error = diesel::sql_query(statement)
            .execute(conn)
            .await
            .expect_err(statement);
        assert!(error.to_string().contains(why), "{statement}: {error}");
    }
}

/// A fresh idempotency key.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The repository root, for reading `../shared/data`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Asserts `answer` is a refusal (`what` was invalid) whose INVALID_ARGUMENT details name
/// exactly `fields`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(
    answer: Result<T, tonic::Status>,
    what: &str,
    fields: &[&str],
) {
    let status = answer.expect_err(what);
    assert_eq!(violated_fields(&status), fields, "{what}");
}

/// Asserts `status` is `code`, with an ErrorInfo whose reason is `reason`.
pub fn assert_refused(status: &tonic::Status, code: tonic::Code, reason: &str) {
    use tonic_types::StatusExt as _;
    assert_eq!(status.code(), code, "{status:?}");
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, reason, "{status:?}");
}

/// Raw protobuf bytes in and out, for calling any RPC by its path (the authorisation tests call
/// every RPC of the contract this way).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawCoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCoder;
    type Decoder = RawCoder;

    fn encoder(&mut self) -> RawCoder {
        RawCoder
    }

    fn decoder(&mut self) -> RawCoder {
        RawCoder
    }
}

impl tonic::codec::Encoder for RawCoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf as _;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl TestServer {
    /// Calls `path` (`/dispatch.v1.X/Method`) with an empty request as the holder of `token`
    /// (none: no credential) and returns the status code it answered with.
    pub async fn call_raw(&self, path: &str, token: Option<&str>) -> tonic::Code {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Err(error) = grpc.ready().await {
            panic!("channel not ready: {error}");
        }
        let mut request = tonic::Request::new(Vec::new());
        if let Some(token) = token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("ascii"),
            );
        }
        let path = http::uri::PathAndQuery::try_from(path).expect("a path");
        // A watch RPC that was let in streams until the client goes away: admitted is all
        // an authorisation test needs to know.
        match tokio::time::timeout(
            std::time::Duration::from_secs(3),
            grpc.unary(request, path, RawCodec),
        )
        .await
        {
            Ok(Ok(_)) | Err(_) => tonic::Code::Ok,
            Ok(Err(status)) => status.code(),
        }
    }
}

/// What a call made with [`call_raw_bytes`] answered.
#[derive(Debug)]
pub struct RawAnswer {
    /// OK, or the status the call ended with.
    pub status: Result<(), tonic::Status>,
    /// Response messages received (for a server stream: only the first).
    pub messages: Vec<Vec<u8>>,
    /// A server stream the server accepted (headers sent) that had sent nothing more when the
    /// deadline passed: a watch with nothing to say yet.
    pub open: bool,
}

/// Sends `messages`, protobuf bodies exactly as given (garbage included), over `channel` to
/// `path` (`/dispatch.v1.X/Method`) as the holder of `token`. Waits up to `deadline` for the whole
/// answer of a unary or client-streaming RPC. For a server stream (`server_streaming`) it
/// waits up to `deadline` for the server to accept or refuse it, then up to `quiet` for its
/// first message or its end. `None`: no answer within the deadline.
pub async fn call_raw_bytes(
    channel: Channel,
    path: &str,
    token: &str,
    messages: Vec<Vec<u8>>,
    server_streaming: bool,
    deadline: std::time::Duration,
    quiet: std::time::Duration,
) -> Option<RawAnswer> {
    let mut grpc = tonic::client::Grpc::new(channel);
    let mut request = tonic::Request::new(futures::stream::iter(messages));
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    let path = http::uri::PathAndQuery::try_from(path).expect("a path");
    let refused = |status| RawAnswer {
        status: Err(status),
        messages: Vec::new(),
        open: false,
    };
    let accepted = async move {
        if let Err(error) = grpc.ready().await {
            return Err(refused(tonic::Status::unavailable(format!(
                "channel not ready: {error}"
            ))));
        }
        grpc.streaming(request, path, RawCodec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(refused)
    };
    let mut stream = match tokio::time::timeout(deadline, accepted).await.ok()? {
        Ok(stream) => stream,
        Err(answer) => return Some(answer),
    };
    let mut messages = Vec::new();
    let rest = async {
        loop {
            match stream.message().await {
                Ok(Some(message)) => {
                    messages.push(message);
                    if server_streaming {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(status) => return Err(status),
            }
        }
    };
    let wait = if server_streaming { quiet } else { deadline };
    match tokio::time::timeout(wait, rest).await {
        Ok(status) => Some(RawAnswer {
            status,
            messages,
            open: false,
        }),
        Err(_) if server_streaming => Some(RawAnswer {
            status: Ok(()),
            messages: Vec::new(),
            open: true,
        }),
        Err(_) => None,
    }
}
