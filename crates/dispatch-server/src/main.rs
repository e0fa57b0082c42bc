use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use dispatch_server::config::{Config, LogFormat};
use dispatch_server::telemetry::{self, Telemetry};
use dispatch_store::cluster::{self, Cluster};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The database the private cluster holds dispatch's data in.
const DATABASE: &str = "dispatch";

fn main() -> ExitCode {
    let config = Config::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dispatchd: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The OTLP exporter's channel runs on the runtime.
    let telemetry = match &config.otlp_endpoint {
        Some(endpoint) => match runtime.block_on(async { Telemetry::otlp(endpoint) }) {
            Ok(telemetry) => Some(telemetry),
            Err(error) => {
                eprintln!("dispatchd: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    init_tracing(config.log_format, telemetry.as_ref().map(Telemetry::tracer));

    // The private cluster is started from the main thread: PostgreSQL is told to stop when the
    // thread that started it dies, and this one lives as long as dispatchd.
    let cluster = match &config.database_url {
        Some(_) => None,
        None => match Cluster::start(&cluster::Config {
            bin_dir: config.pg_bin_dir.clone(),
            ..cluster::Config::new(config.data_dir.clone())
        }) {
            Ok(cluster) => Some(cluster),
            Err(error) => {
                eprintln!("dispatchd: cannot start the private PostgreSQL cluster: {error}");
                return ExitCode::FAILURE;
            }
        },
    };

    let result = runtime.block_on(run(&config, cluster.as_ref()));
    // Buffered spans go out while the runtime still drives the exporter's channel.
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    drop(runtime);
    if let Some(cluster) = cluster
        && let Err(error) = cluster.stop()
    {
        tracing::warn!(%error, "stopping the private PostgreSQL cluster");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dispatchd: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &Config, cluster: Option<&Cluster>) -> anyhow::Result<()> {
    let database_url = match (cluster, &config.database_url) {
        (Some(cluster), _) => {
            dispatch_store::ensure_database(&cluster.url("postgres"), DATABASE)
                .await
                .context("creating the dispatch database in the private cluster")?;
            tracing::info!(data_dir = %cluster.root().display(), port = cluster.port(), "private PostgreSQL cluster running");
            cluster.url(DATABASE)
        }
        (None, Some(url)) => secrecy::ExposeSecret::expose_secret(url).to_owned(),
        (None, None) => {
            anyhow::bail!("no database: set DATABASE_URL or let dispatchd start its own")
        }
    };
    let applied = dispatch_store::migrate(&database_url)
        .await
        .context("migrating the database (is DATABASE_URL right and the server up?)")?;
    tracing::info!(applied, "migrations up to date");
    if let Some(dispatch_server::retention::Command::Retention { dry_run }) = &config.command {
        let report =
            dispatch_server::retention::run_once(&config.retention, &database_url, *dry_run)
                .await
                .map_err(anyhow::Error::msg)?;
        print!("{report}");
        return Ok(());
    }
    let store = dispatch_store::Store::connect(config.store_config(database_url)).await?;
    if config.admin_token.is_none() {
        first_admin(&store).await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    // Listen for SIGTERM before saying we serve: a signal that arrives after the log line but
    // before the server first polls its shutdown future would otherwise kill the process
    // without draining calls or stopping the cluster.
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|error| {
            tracing::warn!(%error, "cannot listen for SIGTERM");
        });
    tracing::info!(address = %listener.local_addr()?, "serving gRPC");
    dispatch_server::serve(config, store, listener, shutdown_signal(terminate.ok())).await?;
    tracing::info!("stopped");
    Ok(())
}

/// On a fresh installation with no DISPATCH_ADMIN_TOKEN, creates an admin and prints its token
/// once: the way in for the first login. Nothing is printed once any principal exists.
async fn first_admin(store: &dispatch_store::Store) -> anyhow::Result<()> {
    if store.principal_count().await? > 0 {
        return Ok(());
    }
    let key = |method| dispatch_store::Idempotency {
        request_id: uuid::Uuid::new_v4(),
        method,
        principal: "dispatchd".into(),
        request: Vec::new(),
    };
    let admin = store
        .create_principal(
            &key("CreatePrincipal"),
            "dispatchd",
            &dispatch_domain::principal::NewPrincipal {
                name: "admin".into(),
                display_name: "First administrator".into(),
                role: dispatch_domain::auth::Role::Admin,
                agency: None,
                unit: None,
                partner: None,
            },
        )
        .await?
        .value;
    let (_, token) = store
        .issue_credential(
            &key("IssueCredential"),
            "dispatchd",
            &dispatch_store::credentials::NewCredential {
                principal: admin.id,
                kind: dispatch_domain::principal::CredentialKind::BearerToken,
                certificate_sha256: None,
                description: "created at first start".to_owned(),
                expires_at: None,
            },
        )
        .await?
        .value;
    if let Some(token) = token {
        eprintln!(
            "dispatchd: first start: created the admin {} with this bearer token (shown only now):\n  {token}\n\
             Use it as 'authorization: Bearer <token>' to create principals and credentials (README: Security).",
            admin.id
        );
    }
    Ok(())
}

/// SIGINT or SIGTERM: stop accepting, finish in-flight calls, stop the cluster.
async fn shutdown_signal(terminate: Option<tokio::signal::unix::Signal>) {
    let terminate = async {
        match terminate {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

fn init_tracing(format: LogFormat, tracer: Option<opentelemetry_sdk::trace::Tracer>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Each format is its own subscriber type, and the OpenTelemetry layer is typed by it.
    match format {
        LogFormat::Text => builder.finish().with(tracer.map(telemetry::layer)).init(),
        LogFormat::Json => builder
            .json()
            .finish()
            .with(tracer.map(telemetry::layer))
            .init(),
    }
}
