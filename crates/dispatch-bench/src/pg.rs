//! The benchmark's own PostgreSQL: a private, durable cluster (dispatch-store's `cluster`, the
//! one `dispatchd` runs without `DATABASE_URL`), a template database migrated once, and plain
//! tokio-postgres clients for loading data and for the baselines.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use dispatch_store::cluster::{self, Cluster};

const TEMPLATE: &str = "bench_template";

/// A running cluster owned by a thread of its own: PostgreSQL is told to stop when the thread
/// that started it exits, so it goes away with this process however it ends.
#[derive(Debug)]
pub struct PgCluster {
    admin_url: String,
    url_prefix: String,
    root: PathBuf,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PgCluster {
    /// initdb and start a durable cluster (fsync and synchronous_commit on: the store's real
    /// settings) under the temporary directory.
    pub fn start() -> anyhow::Result<Self> {
        let tmp = std::env::temp_dir();
        remove_stale(&tmp);
        let root = tmp.join(format!("dispatch-bench-{}", std::process::id()));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String, String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread_root = root.clone();
        let thread = std::thread::Builder::new()
            .name("bench-postgres".into())
            .spawn(
                move || match Cluster::start(&cluster::Config::new(&thread_root)) {
                    Ok(cluster) => {
                        let _ = ready_tx.send(Ok(cluster.url("postgres")));
                        // Until told to stop, or until the sender is dropped.
                        let _ = stop_rx.recv();
                        if let Err(error) = cluster.stop() {
                            eprintln!("stopping the benchmark's PostgreSQL: {error}");
                        }
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                    }
                },
            )
            .context("spawning the PostgreSQL owner thread")?;
        let admin_url = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the PostgreSQL owner thread died"))?
            .map_err(|e| anyhow::anyhow!("starting the benchmark's PostgreSQL cluster: {e}"))?;
        let url_prefix = admin_url.trim_end_matches("postgres").to_owned();
        Ok(Self {
            admin_url,
            url_prefix,
            root,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn url(&self, database: &str) -> String {
        format!("{}{database}", self.url_prefix)
    }

    /// A fresh database with every dispatch migration applied (copied from a template migrated
    /// on first use). Any database of that name is dropped first.
    pub async fn dispatch_database(&self, name: &str) -> anyhow::Result<String> {
        let admin = connect(&self.admin_url).await?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&TEMPLATE])
            .await?
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
                .await?;
            dispatch_store::migrate(&self.url(TEMPLATE))
                .await
                .context("migrating the template database")?;
        }
        self.recreate(&admin, name, &format!("TEMPLATE {TEMPLATE}"))
            .await
    }

    /// A fresh empty database.
    pub async fn plain_database(&self, name: &str) -> anyhow::Result<String> {
        let admin = connect(&self.admin_url).await?;
        self.recreate(&admin, name, "").await
    }

    /// Drops any database `name` and creates it again (`options`: e.g. its template).
    async fn recreate(
        &self,
        admin: &tokio_postgres::Client,
        name: &str,
        options: &str,
    ) -> anyhow::Result<String> {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} {options}"))
            .await?;
        Ok(self.url(name))
    }

    pub async fn drop_database(&self, name: &str) -> anyhow::Result<()> {
        let admin = connect(&self.admin_url).await?;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }

    /// Logs every statement with its duration (`log_min_duration_statement = 0`), for
    /// profiling; the log is `postgres.log` under [`PgCluster::root`].
    pub async fn log_statements(&self) -> anyhow::Result<()> {
        let admin = connect(&self.admin_url).await?;
        admin
            .batch_execute("ALTER SYSTEM SET log_min_duration_statement = 0")
            .await?;
        admin
            .batch_execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] %d %x '")
            .await?;
        admin.batch_execute("SELECT pg_reload_conf()").await?;
        Ok(())
    }

    /// `SHOW setting` on the cluster.
    pub async fn show(&self, setting: &str) -> anyhow::Result<String> {
        let admin = connect(&self.admin_url).await?;
        let row = admin.query_one(&format!("SHOW {setting}"), &[]).await?;
        Ok(row.get(0))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Clusters of earlier runs whose process is gone.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dispatch-bench-"))
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One connection, its driver task spawned on the current runtime.
pub async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let mut delay = Duration::from_millis(20);
    let mut attempts = 0;
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        eprintln!("PostgreSQL connection ended: {error}");
                    }
                });
                return Ok(client);
            }
            // "the database system is starting up" right after start.
            Err(error) if attempts < 50 => {
                attempts += 1;
                let _ = error;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(error) => return Err(error).context("connecting to the benchmark's PostgreSQL"),
        }
    }
}

/// Whether the PostGIS extension is installed for the PostgreSQL major version in use.
pub fn postgis_control_file() -> Option<PathBuf> {
    let control = PathBuf::from(format!(
        "/usr/share/postgresql/{}/extension/postgis.control",
        server_major()
    ));
    control.exists().then_some(control)
}

/// The major version of the server binaries the cluster runs (`15`).
pub fn server_major() -> String {
    cluster::find_bin_dir()
        .and_then(|bin| {
            // /usr/local/bin/postgres may be a link into /usr/lib/postgresql/15/bin.
            let postgres = std::fs::canonicalize(bin.join("postgres")).ok()?;
            let major = postgres.parent()?.parent()?.file_name()?.to_str()?;
            major.parse::<u32>().ok().map(|m| m.to_string())
        })
        .unwrap_or_else(|| "15".to_owned())
}
