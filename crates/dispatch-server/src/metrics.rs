//! Prometheus metrics of one `dispatchd`, served on their own listener (`--metrics-listen`,
//! `GET /metrics`).
//!
//! The registry belongs to the server ([`crate::AppState::metrics`]), not to the process: the
//! end-to-end tests run many servers in one process, and each must report its own figures.
//! Figures that change with every request are recorded as they happen (the RPC layer in `rpc`,
//! hooks in the auth layer, the feed follower and the store's pool); figures that are a state
//! (the pool, the engine, the feed's head, calls and incidents by state) are read when scraped.

mod rpc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::AppState;

pub use rpc::MetricsLayer;

/// Latency buckets, seconds: milliseconds where intake and dispatch answer, up to the 10 s
/// default request timeout.
const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Calls and incidents by state are counted at most this often, however many scrape.
const STATE_COUNT_INTERVAL: Duration = Duration::from_secs(10);
/// A count that takes longer is cancelled by PostgreSQL; the previous figures stay.
const STATE_COUNT_TIMEOUT: Duration = Duration::from_secs(1);
/// The feed's head is read with this patience at scrape time.
const HEAD_TIMEOUT: Duration = Duration::from_secs(1);

/// An RPC and how it ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RpcLabels {
    pub service: &'static str,
    pub method: &'static str,
    pub code: &'static str,
}

/// A streaming RPC.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct StreamLabels {
    pub service: &'static str,
    pub method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Why a request was refused authentication (a closed set: the label's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `authorization` header.
    NoCredential,
    /// A header that is not `Bearer <token>`.
    Malformed,
    /// A token that is unknown, expired or revoked.
    Invalid,
    /// A client certificate (mutual TLS) that chains to the CA but no valid credential has, or
    /// one sent together with an `authorization` header.
    Certificate,
    /// The database could not be asked (answered UNAVAILABLE, not UNAUTHENTICATED).
    Unavailable,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            Self::NoCredential => "no_credential",
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
            Self::Certificate => "certificate",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Every metric of one server.
pub struct Metrics {
    registry: Registry,
    rpc_duration: Family<RpcLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    streams_opened: Family<StreamLabels, Counter>,
    streams_ended: Family<RpcLabels, Counter>,
    streams_open: Family<StreamLabels, Gauge>,
    rate_limited: Counter,
    load_shed: Counter,
    auth_failures: Family<ReasonLabels, Counter>,
    audit_write_failures: Counter,
    feed_publish_delay: Histogram,
    feed_position: Gauge,
    feed_head: Gauge,
    feed_lag: Gauge,
    pool_max: Gauge,
    pool_size: Gauge,
    pool_available: Gauge,
    pool_in_use: Gauge,
    pool_waiting: Gauge,
    pool_acquire: Histogram,
    engine_units: Gauge,
    engine_units_available: Gauge,
    engine_cameras: Gauge,
    calls: Family<StateLabels, Gauge>,
    incidents: Family<StateLabels, Gauge>,
    state_count_failures: Counter,
    scrape_failures: Counter,
    /// When calls and incidents were last counted; held while counting, so that scrapes at
    /// once wait for one count rather than each running its own.
    counted_at: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let rpc_duration = Family::<RpcLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "dispatch_rpc_duration",
            "Unary RPCs: time from the request's arrival to its status, by service, method and gRPC status code",
            Unit::Seconds,
            rpc_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "dispatch_rpc_in_flight",
            "Unary RPCs being served now",
            in_flight.clone(),
        );
        let streams_opened = Family::<StreamLabels, Counter>::default();
        registry.register(
            "dispatch_streams_opened",
            "Streaming RPCs (Watch*, ReportPositions, reflection, health Watch) opened",
            streams_opened.clone(),
        );
        let streams_ended = Family::<RpcLabels, Counter>::default();
        registry.register(
            "dispatch_streams_ended",
            "Streaming RPCs ended, by gRPC status code (CANCELLED: the client went away)",
            streams_ended.clone(),
        );
        let streams_open = Family::<StreamLabels, Gauge>::default();
        registry.register(
            "dispatch_streams_open",
            "Streaming RPCs open now, by kind",
            streams_open.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "dispatch_rate_limited",
            "Requests refused by the per-principal rate limit (RESOURCE_EXHAUSTED)",
            rate_limited.clone(),
        );
        let load_shed = Counter::default();
        registry.register(
            "dispatch_load_shed",
            "Requests refused because the process served its limit of requests at once (RESOURCE_EXHAUSTED)",
            load_shed.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "dispatch_auth_failures",
            "Requests refused authentication, by reason (unavailable: the database could not be asked)",
            auth_failures.clone(),
        );
        let audit_write_failures = Counter::default();
        registry.register(
            "dispatch_audit_write_failures",
            "Audit records this process could not write (each is logged in full)",
            audit_write_failures.clone(),
        );
        let feed_publish_delay = latency_histogram();
        registry.register_with_unit(
            "dispatch_feed_publish_delay",
            "Feed events read by this process: time from the event's transaction to its place in the feed",
            Unit::Seconds,
            feed_publish_delay.clone(),
        );
        let feed_position = Gauge::default();
        registry.register(
            "dispatch_feed_position",
            "The last feed position this process has applied and broadcast",
            feed_position.clone(),
        );
        let feed_head = Gauge::default();
        registry.register(
            "dispatch_feed_head_position",
            "The feed's newest position in the database (read at scrape time)",
            feed_head.clone(),
        );
        let feed_lag = Gauge::default();
        registry.register(
            "dispatch_feed_lag_events",
            "Feed events published but not yet applied by this process",
            feed_lag.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let pool_max = gauge(
            &mut registry,
            "dispatch_db_pool_max_connections",
            "Most database connections the pool may hold",
        );
        let pool_size = gauge(
            &mut registry,
            "dispatch_db_pool_connections",
            "Database connections open now",
        );
        let pool_available = gauge(
            &mut registry,
            "dispatch_db_pool_connections_available",
            "Database connections idle now",
        );
        let pool_in_use = gauge(
            &mut registry,
            "dispatch_db_pool_connections_in_use",
            "Database connections checked out now",
        );
        let pool_waiting = gauge(
            &mut registry,
            "dispatch_db_pool_waiting",
            "Requests waiting for a database connection now",
        );
        let pool_acquire = latency_histogram();
        registry.register_with_unit(
            "dispatch_db_pool_acquire",
            "Time to check out a database connection (waiting for one, or opening one)",
            Unit::Seconds,
            pool_acquire.clone(),
        );
        let engine_units = gauge(
            &mut registry,
            "dispatch_engine_units",
            "Units the recommendation engine holds",
        );
        let engine_units_available = gauge(
            &mut registry,
            "dispatch_engine_units_available",
            "Units the recommendation engine holds as available",
        );
        let engine_cameras = gauge(
            &mut registry,
            "dispatch_engine_cameras",
            "Active cameras the engine holds",
        );
        let calls = Family::<StateLabels, Gauge>::default();
        registry.register(
            "dispatch_calls",
            "Calls by state (counted at most every 10 s, at scrape time)",
            calls.clone(),
        );
        let incidents = Family::<StateLabels, Gauge>::default();
        registry.register(
            "dispatch_incidents",
            "Incidents by status (counted at most every 10 s, at scrape time)",
            incidents.clone(),
        );
        let state_count_failures = Counter::default();
        registry.register(
            "dispatch_state_count_failures",
            "Counts of calls and incidents by state that failed or timed out (the previous figures stay)",
            state_count_failures.clone(),
        );
        let scrape_failures = Counter::default();
        registry.register(
            "dispatch_scrape_failures",
            "Scrapes that could not read the feed's head from the database",
            scrape_failures.clone(),
        );
        Self {
            registry,
            rpc_duration,
            in_flight,
            streams_opened,
            streams_ended,
            streams_open,
            rate_limited,
            load_shed,
            auth_failures,
            audit_write_failures,
            feed_publish_delay,
            feed_position,
            feed_head,
            feed_lag,
            pool_max,
            pool_size,
            pool_available,
            pool_in_use,
            pool_waiting,
            pool_acquire,
            engine_units,
            engine_units_available,
            engine_cameras,
            calls,
            incidents,
            state_count_failures,
            scrape_failures,
            counted_at: tokio::sync::Mutex::new(None),
        }
    }

    /// A request refused by the per-principal rate limit.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// An audit record the database would not take.
    pub fn audit_write_failed(&self) {
        self.audit_write_failures.inc();
    }

    /// A request refused authentication.
    pub fn auth_failed(&self, reason: AuthFailure) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                reason: reason.label(),
            })
            .inc();
    }

    /// A feed event this process read: how long after its transaction it was published.
    pub fn feed_event_read(&self, publish_delay: chrono::Duration) {
        let seconds = publish_delay.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
        self.feed_publish_delay.observe(seconds.max(0.0));
    }

    /// A checkout of a database connection took `waited`.
    pub fn connection_acquired(&self, waited: Duration) {
        self.pool_acquire.observe(waited.as_secs_f64());
    }

    /// The exposition in the OpenMetrics text format, with the state figures read now.
    pub async fn scrape(&self, state: &AppState) -> String {
        self.read_state(state).await;
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    async fn read_state(&self, state: &AppState) {
        let pool = state.store.pool_status();
        self.pool_max.set(to_i64(pool.max_size));
        self.pool_size.set(to_i64(pool.size));
        self.pool_available.set(to_i64(pool.available));
        self.pool_in_use.set(to_i64(pool.in_use()));
        self.pool_waiting.set(to_i64(pool.waiting));
        {
            let engine = state.engine_read();
            self.engine_units.set(to_i64(engine.len()));
            self.engine_units_available
                .set(to_i64(engine.available_len()));
            self.engine_cameras.set(to_i64(engine.cameras_len()));
        }
        let position = state.feed.position();
        self.feed_position.set(position);
        match tokio::time::timeout(HEAD_TIMEOUT, state.store.feed_head()).await {
            Ok(Ok(head)) => {
                self.feed_head.set(head);
                self.feed_lag.set((head - position).max(0));
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "metrics: reading the feed's head");
                self.scrape_failures.inc();
            }
            Err(_) => {
                self.scrape_failures.inc();
            }
        }
        self.count_states(state).await;
    }

    /// Calls and incidents by state, at most every [`STATE_COUNT_INTERVAL`].
    async fn count_states(&self, state: &AppState) {
        let mut counted_at = self.counted_at.lock().await;
        if counted_at.is_some_and(|at| at.elapsed() < STATE_COUNT_INTERVAL) {
            return;
        }
        match state.store.state_counts(STATE_COUNT_TIMEOUT).await {
            Ok(counts) => {
                set_family(&self.calls, counts.calls);
                set_family(&self.incidents, counts.incidents);
                *counted_at = Some(Instant::now());
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: counting calls and incidents by state");
                self.state_count_failures.inc();
            }
        }
    }

    /// Forgets when calls and incidents were counted: the next scrape counts again (tests).
    pub async fn recount(&self) {
        *self.counted_at.lock().await = None;
    }
}

fn set_family(family: &Family<StateLabels, Gauge>, counts: Vec<(String, i64)>) {
    // States with no rows left read 0, not their last count.
    family.clear();
    for (state, count) in counts {
        family.get_or_create(&StateLabels { state }).set(count);
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The metrics listener's routes: `GET /metrics`.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(serve_metrics))
        .with_state(state)
}

async fn serve_metrics(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> impl axum::response::IntoResponse {
    let text = state.metrics.scrape(&state).await;
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
