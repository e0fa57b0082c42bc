//! `dispatchd`: the gRPC services of dispatch over the PostgreSQL store.
//!
//! `main.rs` is thin: it reads the configuration, starts the private PostgreSQL cluster when no
//! `DATABASE_URL` is given, and calls [`serve`]. Tests call [`serve`] directly on a listener bound
//! to port 0.

pub mod auth;
pub mod authz;
pub mod config;
pub mod console;
mod edge;
pub mod error;
pub mod feed;
mod geography;
mod http;
pub mod metrics;
mod request_size;
pub mod retention;
pub mod revocation;
pub mod road_network;
mod services;
pub mod telemetry;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use dispatch_domain::duplicates::DuplicatePolicy;
use dispatch_domain::triage::Catalogue;
use dispatch_proto::v1::call_intake_service_server::CallIntakeServiceServer;
use dispatch_proto::v1::directory_service_server::DirectoryServiceServer;
use dispatch_proto::v1::incident_exchange_service_server::IncidentExchangeServiceServer;
use dispatch_proto::v1::incident_triage_service_server::IncidentTriageServiceServer;
use dispatch_proto::v1::operation_service_server::OperationServiceServer;
use dispatch_proto::v1::public_alert_service_server::PublicAlertServiceServer;
use dispatch_proto::v1::reporting_service_server::ReportingServiceServer;
use dispatch_proto::v1::unit_assignment_service_server::UnitAssignmentServiceServer;
use dispatch_proto::v1::victim_care_referral_service_server::VictimCareReferralServiceServer;
use dispatch_store::Store;

pub use config::Config;

/// What every service shares.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub duplicate_policy: DuplicatePolicy,
    /// How likely a call is to report an open incident again; suggestions below its threshold
    /// are not shown.
    pub duplicate_model: dispatch_domain::duplicates::LikelihoodModel,
    pub catalogue: Catalogue,
    /// Who the centre is to other systems (NENA EIDO identifiers).
    pub centre: dispatch_standards::eido::Centre,
    /// Every unit and camera, for recommendations; follows every committed change.
    engine: std::sync::RwLock<dispatch_geo::Engine>,
    /// Positions older than this are flagged stale.
    pub stale_after: chrono::Duration,
    /// When referrals get follow-ups.
    pub follow_up_policy: dispatch_domain::referral::FollowUpPolicy,
    /// Who the centre's public warnings (CAP) come from.
    pub alert_sender: services::alerts::AlertSender,
    /// The centre-wide feed as this process follows it.
    pub feed: Arc<feed::Feed>,
    /// This server's Prometheus metrics (its own registry: never shared with another server).
    pub metrics: Arc<metrics::Metrics>,
    /// Ends the streams and verified tokens of credentials that stopped being valid.
    pub revocations: Arc<revocation::Revocations>,
    /// Messages a Watch stream may queue for a slow client.
    pub watch_buffer: usize,
    pub watch_heartbeat: Duration,
    /// The newest unit version the engine holds, per unit: a late update of an older version
    /// (this process's own, or one read from the feed) never undoes a newer one.
    unit_versions: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, i64>>,
    /// Every station's point (stations never move), for the engine to know a unit in quarters.
    stations: std::sync::RwLock<StationPoints>,
}

type StationPoints =
    std::collections::HashMap<dispatch_domain::ids::StationId, dispatch_domain::location::GeoPoint>;

impl AppState {
    /// The engine for an update. Never held across an await.
    pub fn engine(&self) -> std::sync::RwLockWriteGuard<'_, dispatch_geo::Engine> {
        // A panic while holding the lock leaves the engine as it was before that one update.
        self.engine
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn engine_read(&self) -> std::sync::RwLockReadGuard<'_, dispatch_geo::Engine> {
        self.engine
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells the engine a unit's committed state. Updates may arrive out of order (a handler's
    /// own after its commit, the feed's read later): an older version than the engine's is
    /// ignored, except for a newer position fix.
    pub fn sync_unit(&self, unit: &dispatch_domain::directory::Unit) {
        let mut versions = self
            .unit_versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut engine = self.engine();
        if versions.get(&unit.id.0).is_some_and(|&v| v > unit.version) {
            if let Some(position) = &unit.position {
                engine.move_unit(
                    unit.id.0,
                    dispatch_geo::Fix {
                        point: position.point,
                        fix_time: position.fix_time,
                    },
                );
            }
            return;
        }
        versions.insert(unit.id.0, unit.version);
        if unit.decommissioned_at.is_some() {
            engine.remove(unit.id.0);
            return;
        }
        let mut state = self.unit_state(unit);
        // A fix the engine already has that is newer than the row read stays.
        if let Some(current) = engine.get(unit.id.0).and_then(|u| u.position)
            && state
                .position
                .is_none_or(|fix| fix.fix_time < current.fix_time)
        {
            state.position = Some(current);
        }
        engine.upsert(state);
    }

    /// Tells the engine a camera's committed state.
    pub fn sync_camera(&self, camera: &dispatch_domain::directory::Camera) {
        let mut engine = self.engine();
        if camera.active {
            engine.upsert_camera(camera.id.0, camera.location);
        } else {
            engine.remove_camera(camera.id.0);
        }
    }

    /// Brings the engine back to the database's state (after losing the database for a while:
    /// positions that were never announced may have changed meanwhile).
    pub async fn rebuild_engine(&self) -> Result<(), dispatch_store::Error> {
        let stations = self.store.station_points().await?;
        *self
            .stations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stations;
        let units = self.store.all_units().await?;
        let cameras = self.store.all_cameras().await?;
        let mut versions = self
            .unit_versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut engine = self.engine();
        let live: std::collections::HashSet<uuid::Uuid> = units.iter().map(|u| u.id.0).collect();
        for id in engine.unit_ids() {
            if !live.contains(&id) {
                engine.remove(id);
            }
        }
        for unit in &units {
            engine.upsert(self.unit_state(unit));
        }
        *versions = units.iter().map(|u| (u.id.0, u.version)).collect();
        let active: std::collections::HashSet<uuid::Uuid> =
            cameras.iter().map(|c| c.id.0).collect();
        for id in engine.camera_ids() {
            if !active.contains(&id) {
                engine.remove_camera(id);
            }
        }
        for camera in &cameras {
            engine.upsert_camera(camera.id.0, camera.location);
        }
        Ok(())
    }
}

impl AppState {
    /// Remembers a new station's point (a unit based there may follow).
    pub fn remember_station(&self, station: &dispatch_domain::directory::Station) {
        self.stations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(station.id, station.location);
    }

    /// A unit as the engine sees it, with its home station's point when this process knows it
    /// (a station created through another replica since this one started is learnt at the next
    /// rebuild; meanwhile its units get no turnout).
    fn unit_state(&self, unit: &dispatch_domain::directory::Unit) -> dispatch_geo::UnitState {
        let stations = self
            .stations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        unit_state(unit, &stations)
    }
}

/// A unit as the engine sees it; `stations` gives its home station's point.
pub fn unit_state(
    unit: &dispatch_domain::directory::Unit,
    stations: &StationPoints,
) -> dispatch_geo::UnitState {
    dispatch_geo::UnitState {
        home: unit
            .home_station
            .and_then(|station| stations.get(&station).copied()),
        id: unit.id.0,
        unit_type: unit.unit_type,
        capabilities: unit.capabilities.clone(),
        available: unit.status == dispatch_domain::directory::UnitStatus::Available,
        position: unit.position.as_ref().map(|p| dispatch_geo::Fix {
            point: p.point,
            fix_time: p.fix_time,
        }),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("loading from the database: {0}")]
    Store(#[from] dispatch_store::Error),
    #[error("exchange listener: {0}")]
    Exchange(#[from] std::io::Error),
}

/// The sockets `dispatchd` serves on.
#[derive(Debug)]
pub struct Listeners {
    pub grpc: TcpListener,
    /// The exchange listener (HTTP/1.1: the STA-024 WebSocket); `None`: not served.
    pub exchange: Option<TcpListener>,
    /// The Prometheus metrics listener (`GET /metrics`); `None`: not served.
    pub metrics: Option<TcpListener>,
}

/// How often health re-checks the database.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// Serves every service on `listener` (and the exchange listener on `--exchange-listen`, if
/// set) until `shutdown` completes, then drains in-flight calls.
pub async fn serve(
    config: &Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let exchange = match config.exchange_listen {
        Some(address) => Some(TcpListener::bind(address).await?),
        None => None,
    };
    let metrics = match config.metrics_listen {
        Some(address) => Some(TcpListener::bind(address).await?),
        None => None,
    };
    let listeners = Listeners {
        grpc: listener,
        exchange,
        metrics,
    };
    serve_on(config, store, listeners, shutdown).await
}

/// [`serve`] on listeners already bound (tests bind port 0 and read the address first).
pub async fn serve_on(
    config: &Config,
    store: Store,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = listeners.grpc;
    let tls = tls::setup(config, listener.local_addr()?, &listeners.exchange)
        .map_err(ServeError::Config)?;
    let catalogue = config.catalogue().map_err(ServeError::Config)?;
    let duplicate_policy = config
        .duplicate_policy(&catalogue)
        .map_err(ServeError::Config)?;
    let duplicate_model = config.duplicate_model().map_err(ServeError::Config)?;
    let engine_config = config.engine_config().map_err(ServeError::Config)?;
    let stale_after = engine_config.stale_after;
    let retention_policy = config.retention.policy().map_err(ServeError::Config)?;
    // The feed position first, then the state: the engine reflects at least every event up to
    // it, and the feed task follows from there.
    let feed_position = store.feed_head().await?;
    // Rebuilt from the database at every start: PostgreSQL is the truth, the index a cache.
    let stations = store.station_points().await?;
    let units = store.all_units().await?;
    let mut engine = dispatch_geo::Engine::from_units(
        engine_config,
        units.iter().map(|unit| unit_state(unit, &stations)),
    );
    for camera in store.all_cameras().await? {
        engine.upsert_camera(camera.id.0, camera.location);
    }
    tracing::info!(
        units = engine.len(),
        available = engine.available_len(),
        cameras = engine.cameras_len(),
        "engine built"
    );
    let state = Arc::new(AppState {
        store: store.clone(),
        duplicate_policy,
        duplicate_model,
        catalogue,
        centre: dispatch_standards::eido::Centre {
            domain: config.centre_domain.clone(),
        },
        engine: std::sync::RwLock::new(engine),
        stale_after,
        follow_up_policy: config.follow_up_policy().map_err(ServeError::Config)?,
        alert_sender: config.alert_sender().map_err(ServeError::Config)?,
        feed: Arc::new(feed::Feed::new(feed_position, config.feed_poll)),
        metrics: Arc::new(metrics::Metrics::new()),
        revocations: Arc::new(revocation::Revocations::new()),
        watch_buffer: config.watch_buffer.max(1),
        watch_heartbeat: config.watch_heartbeat.max(Duration::from_millis(10)),
        unit_versions: std::sync::Mutex::new(units.iter().map(|u| (u.id.0, u.version)).collect()),
        stations: std::sync::RwLock::new(stations),
    });
    let pool_metrics = state.metrics.clone();
    store.on_acquire(move |waited| pool_metrics.connection_acquired(waited));
    let feed_task = tokio::spawn(feed::run(state.clone()));
    let sweep_task = tokio::spawn(
        state
            .revocations
            .clone()
            .sweep(store.clone(), revocation::SWEEP_INTERVAL),
    );
    // As the owner, on its own connection: the pool's role may not delete.
    let retention_task = retention::spawn(
        &config.retention,
        retention_policy,
        store.config().database_url.clone(),
    );
    let geography_task = geography::spawn(store.clone());
    let limit = config.max_request_bytes;
    let map_layer = config.map_layer().map_err(ServeError::Config)?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // The first check completes before serving: no client ever sees the reporter's default
    // (SERVING for the server as a whole) while the services are still unknown.
    let mut last = report(&store, &state.feed, &health_reporter, None).await;
    let health_feed = state.feed.clone();
    let health_task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEALTH_INTERVAL).await;
            last = report(&store, &health_feed, &health_reporter, Some(last)).await;
        }
    });

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dispatch_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // v1 for current tools, v1alpha for the many (grpcurl among them) that still ask for it.
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let auth = auth::AuthLayer::new(
        state.store.clone(),
        state.feed.clone(),
        state.revocations.clone(),
        auth::AuthConfig {
            admin_token: config.admin_token.clone(),
            rate_per_second: config.rate_limit,
            verified_ttl: config.auth_cache_ttl,
            request_timeout: config.request_timeout,
            metrics: state.metrics.clone(),
        },
    );
    let (stop_exchange, stopping) = tokio::sync::watch::channel(false);
    let metrics_task = match listeners.metrics {
        Some(listener) => {
            tracing::info!(address = %listener.local_addr()?, "serving Prometheus metrics at /metrics");
            let router = metrics::router(state.clone());
            Some(tokio::spawn(http::serve(
                listener,
                router,
                stopping.clone(),
            )))
        }
        None => None,
    };
    // The exchange listener: the same credentials, role table and audit as gRPC.
    let exchange_task = match listeners.exchange {
        Some(listener) => {
            tracing::info!(address = %listener.local_addr()?, "serving the exchange listener (NENA-STA-024 WebSocket)");
            let router = http::router(http::Exchange {
                state: state.clone(),
                auth: auth.clone(),
                max_message_bytes: limit,
                stopping: stopping.clone(),
            });
            Some(match tls.exchange {
                Some(exchange_tls) => tokio::spawn(tls::serve_exchange(
                    listener,
                    exchange_tls,
                    config.tls_reload_interval,
                    router,
                    stopping,
                )),
                None => tokio::spawn(http::serve(listener, router, stopping)),
            })
        }
        None => None,
    };
    let shutdown = async move {
        shutdown.await;
        let _ = stop_exchange.send(true);
    };
    // Over the process-wide limit a request is refused at once (RESOURCE_EXHAUSTED), never
    // queued without bound.
    let limits = tower::ServiceBuilder::new()
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            config.max_concurrent_requests,
        ))
        .layer(auth);
    // Each service over the shared state, with its own message limit as a backstop.
    macro_rules! service {
        ($server:ident, $service:ty) => {
            $server::new(<$service>::new(state.clone())).max_decoding_message_size(limit)
        };
    }
    let router = Server::builder()
        // HTTP/1.1 for browsers: the console's page, and gRPC-web (which the next layer turns
        // into gRPC, so that everything below sees one protocol).
        .accept_http1(true)
        .layer(console::ConsoleLayer::new(
            config.console_assets(),
            map_layer,
        ))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_grpc().make_span_with(telemetry::rpc_span))
        // Outside the limits, so that load-shedding refusals are timed and counted too.
        .layer(metrics::MetricsLayer::new(state.metrics.clone()))
        .layer(limits)
        // A request message past the limit is RESOURCE_EXHAUSTED naming the limit; each
        // service's own max_decoding_message_size stays as a backstop.
        .layer(request_size::RequestSizeLayer::new(limit))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service!(
            CallIntakeServiceServer,
            services::call_intake::CallIntake
        ))
        .add_service(service!(
            DirectoryServiceServer,
            services::directory::Directory
        ))
        .add_service(service!(
            IncidentExchangeServiceServer,
            services::exchange::IncidentExchange
        ))
        .add_service(service!(
            IncidentTriageServiceServer,
            services::triage::IncidentTriage
        ))
        .add_service(service!(
            UnitAssignmentServiceServer,
            services::units::UnitAssignment
        ))
        .add_service(service!(
            VictimCareReferralServiceServer,
            services::referrals::Referrals
        ))
        .add_service(service!(
            PublicAlertServiceServer,
            services::alerts::PublicAlerts
        ))
        .add_service(service!(
            ReportingServiceServer,
            services::reporting::Reporting
        ))
        .add_service(service!(
            OperationServiceServer,
            services::operations::Operations
        ));
    let result = match tls.grpc {
        Some(tls) => {
            let (incoming, _accepting) = tls::accept(listener, tls, config.tls_reload_interval);
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
        }
        // Without TCP_NODELAY a response's frames wait for the client's delayed ACK (~40 ms).
        None => {
            router
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                    shutdown,
                )
                .await
        }
    };
    if let Some(task) = exchange_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "exchange listener"),
            Err(error) => tracing::warn!(%error, "exchange listener task"),
        }
    }
    if let Some(task) = metrics_task {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "metrics listener"),
            Err(error) => tracing::warn!(%error, "metrics listener task"),
        }
    }
    health_task.abort();
    feed_task.abort();
    sweep_task.abort();
    geography_task.abort();
    if let Some(task) = retention_task {
        task.abort();
    }
    Ok(result?)
}

/// Health follows the database: SERVING while it answers and the feed follows it, NOT_SERVING
/// otherwise (requests then fail fast with UNAVAILABLE).
async fn report(
    store: &Store,
    feed: &feed::Feed,
    reporter: &tonic_health::server::HealthReporter,
    last: Option<ServingStatus>,
) -> ServingStatus {
    let answers = tokio::time::timeout(HEALTH_INTERVAL * 2, store.ping())
        .await
        .unwrap_or(false);
    let status = if answers && feed.database_up() {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    if last != Some(status) {
        if last.is_some() {
            tracing::warn!(?status, "database health changed");
        }
        for service in dispatch_proto::SERVICE_NAMES {
            reporter.set_service_status(service, status).await;
        }
        // The server as a whole last, so that once it reads SERVING every service does.
        reporter.set_service_status("", status).await;
    }
    status
}
