//! The end-to-end test harness: one private PostgreSQL cluster per test process, a template
//! database migrated once, and for every test its own database copied from the template and its
//! own `dispatchd` server on a port the OS picked. Nothing below gRPC is mocked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context as _;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, oneshot};
use tonic::transport::{Channel, Endpoint};

use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
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

/// A running `dispatchd` (in this process) on its own database.
#[derive(Debug)]
pub struct TestServer {
    pub address: SocketAddr,
    pub database_url: String,
    pub channel: Channel,
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
        let store = dispatch_store::Store::connect(config.store_config(database_url.clone()))
            .await
            .expect("connecting the store");
        // Bound before serving, so clients can connect at once: no waiting, no sleeps.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0");
        let address = listener.local_addr().expect("bound address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            dispatch_server::serve(&config, store, listener, async {
                let _ = stop.await;
            })
            .await
        });
        let channel = Endpoint::from_shared(format!("http://{address}"))
            .expect("endpoint")
            .connect_lazy();
        Self {
            address,
            database_url,
            channel,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn calls(&self) -> CallIntakeServiceClient<Channel> {
        CallIntakeServiceClient::new(self.channel.clone())
    }

    pub fn directory(&self) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(self.channel.clone())
    }

    pub fn triage(&self) -> IncidentTriageServiceClient<Channel> {
        IncidentTriageServiceClient::new(self.channel.clone())
    }

    pub fn units(&self) -> UnitAssignmentServiceClient<Channel> {
        UnitAssignmentServiceClient::new(self.channel.clone())
    }

    pub fn referrals(&self) -> VictimCareReferralServiceClient<Channel> {
        VictimCareReferralServiceClient::new(self.channel.clone())
    }

    /// A direct connection to this server's database, for checking what was (not) written.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("connecting to the test database")
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
