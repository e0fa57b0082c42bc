//! `dispatchd`'s configuration: flags, each with a `DISPATCH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use dispatch_domain::duplicates::{DuplicatePolicy, LikelihoodModel};
use dispatch_domain::referral::{FollowUpPolicy, Need, parse_offsets};
use dispatch_domain::retention::Period;
use dispatch_domain::triage::Catalogue;

/// The catalogue shipped with dispatch, used when no DISPATCH_CATALOGUE is given.
pub const BUILT_IN_CATALOGUE: &str = include_str!("../../../catalogue/incident_types.toml");

/// The duplicate likelihood model shipped with dispatch, used when no DISPATCH_DUPLICATE_MODEL
/// is given.
pub const BUILT_IN_DUPLICATE_MODEL: &str = include_str!("../../../catalogue/duplicate_model.toml");

/// The travel-time model shipped with dispatch (fitted on San Francisco's April 2020 runs by
/// `dispatchctl fit travel`), used when no DISPATCH_TRAVEL_MODEL is given.
pub const BUILT_IN_TRAVEL_MODEL: &str = include_str!("../../../catalogue/travel_model.toml");

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "dispatchd",
    version,
    about = "Emergency call dispatch (CAD) gRPC server"
)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "DISPATCH_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// HTTP/1.1 listen address for what other systems speak besides our gRPC contract: the
    /// NENA-STA-024 WebSocket at /IncidentData/ent (and public feeds). Unset: not served.
    #[arg(long, env = "DISPATCH_EXCHANGE_LISTEN")]
    pub exchange_listen: Option<SocketAddr>,

    /// HTTP listen address of the Prometheus metrics (`GET /metrics`). Unset: not served.
    #[arg(long, env = "DISPATCH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// OpenTelemetry collector to send traces to over OTLP/gRPC (`http://127.0.0.1:4317`): a
    /// span per RPC, child of the caller's `traceparent`, and per store transaction. Unset: no
    /// traces exported. The service name is `OTEL_SERVICE_NAME`, else `dispatchd`.
    #[arg(long, env = "DISPATCH_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// PostgreSQL to use. Unset: run a private cluster in --data-dir from the installed
    /// PostgreSQL server binaries.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Where the private PostgreSQL cluster lives (created once, kept between runs).
    #[arg(long, env = "DISPATCH_DATA_DIR", default_value = "dispatch-data")]
    pub data_dir: PathBuf,

    /// Directory with the PostgreSQL server binaries (`postgres`, `initdb`); found on PATH or
    /// under /usr/lib/postgresql when unset.
    #[arg(long, env = "DISPATCH_PG_BIN_DIR")]
    pub pg_bin_dir: Option<PathBuf>,

    /// The database role queries run as (`SET ROLE`): it may not alter the audit trail or the
    /// event log. Empty: the connecting role itself.
    #[arg(long, env = "DISPATCH_DB_ROLE", default_value = "dispatch_app")]
    pub db_role: String,

    /// Largest number of database connections this process holds.
    #[arg(long, env = "DISPATCH_DB_MAX_CONNECTIONS", default_value_t = 32)]
    pub db_max_connections: usize,

    /// How long a request may wait for a database connection before UNAVAILABLE.
    #[arg(long, env = "DISPATCH_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub db_acquire_timeout: Duration,

    /// Largest request accepted, in bytes; larger ones are refused before decoding.
    #[arg(long, env = "DISPATCH_MAX_REQUEST_BYTES", default_value_t = 1 << 20)]
    pub max_request_bytes: usize,

    /// Longest a unary request may run on the server.
    #[arg(long, env = "DISPATCH_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// IANA time zone of the centre; folios number calls by its calendar day.
    #[arg(
        long,
        env = "DISPATCH_TIME_ZONE",
        default_value = "America/Mexico_City"
    )]
    pub time_zone: String,

    /// Call folio prefix: `C5` gives `C5/YYMMDD/NNNNN`.
    #[arg(long, env = "DISPATCH_CALL_FOLIO_PREFIX", default_value = "C5")]
    pub call_folio_prefix: String,

    /// Incident folio prefix.
    #[arg(long, env = "DISPATCH_INCIDENT_FOLIO_PREFIX", default_value = "INC")]
    pub incident_folio_prefix: String,

    /// The centre's domain name: the identifiers of the NENA EIDOs it issues are made from it
    /// (incidents `urn:emergency:uid:incidentid:{id}:{domain}`, the centre as an agency
    /// `{domain}`, its agencies `{code}.{domain}`, its people `{handle}@{domain}`). The default,
    /// under the reserved `.invalid`, says it was not set.
    #[arg(
        long,
        env = "DISPATCH_CENTRE_DOMAIN",
        default_value = "dispatch.invalid"
    )]
    pub centre_domain: String,

    /// Duplicate search radius around a call, metres, before location uncertainty is added.
    #[arg(long, env = "DISPATCH_DUPLICATE_RADIUS_M", default_value_t = 500.0)]
    pub duplicate_radius_m: f64,

    /// The duplicate search radius never grows past this, metres.
    #[arg(
        long,
        env = "DISPATCH_DUPLICATE_MAX_RADIUS_M",
        default_value_t = 2_000.0
    )]
    pub duplicate_max_radius_m: f64,

    /// How long after an incident's latest call a new call may still duplicate it.
    #[arg(long, env = "DISPATCH_DUPLICATE_WINDOW", default_value = "120m", value_parser = parse_duration)]
    pub duplicate_window: Duration,

    /// Groups of incident type codes that may describe one emergency: groups separated by `;`,
    /// codes by `,`. Unset: each catalogue type with its compatible types.
    #[arg(long, env = "DISPATCH_DUPLICATE_TYPE_GROUPS")]
    pub duplicate_type_groups: Option<String>,

    /// The duplicate likelihood model's parameters (TOML, written by `dispatchctl fit
    /// duplicates`). Unset: catalogue/duplicate_model.toml, built in.
    #[arg(long, env = "DISPATCH_DUPLICATE_MODEL")]
    pub duplicate_model: Option<PathBuf>,

    /// Suggest only duplicate candidates at least this likely (0 to 1, exclusive); unset: the
    /// model file's threshold.
    #[arg(long, env = "DISPATCH_DUPLICATE_THRESHOLD")]
    pub duplicate_threshold: Option<f64>,

    /// The incident type catalogue (TOML, see docs/CATALOGUE.md). Unset: the catalogue shipped
    /// in catalogue/incident_types.toml, built in.
    #[arg(long, env = "DISPATCH_CATALOGUE")]
    pub catalogue: Option<PathBuf>,

    /// A unit position older than this is stale: still recommended, with a penalty and a flag.
    #[arg(long, env = "DISPATCH_STALE_POSITION_AFTER", default_value = "30m", value_parser = parse_duration)]
    pub stale_position_after: Duration,

    /// Added to a stale unit's estimated travel time when ranking.
    #[arg(long, env = "DISPATCH_STALE_POSITION_PENALTY", default_value = "3m", value_parser = parse_duration)]
    pub stale_position_penalty: Duration,

    /// The travel-time model (TOML, written by `dispatchctl fit travel`): ETAs per unit type
    /// learned from history, the great-circle model for the other types. Unset: the model
    /// shipped in catalogue/travel_model.toml, built in.
    #[arg(long, env = "DISPATCH_TRAVEL_MODEL")]
    pub travel_model: Option<PathBuf>,

    /// The centre's OpenStreetMap extract (`region.osm.pbf`): recommendations rank units by
    /// drive time over its roads. The prepared graph is cached beside it
    /// (`<extract>.roads-<key>.bin`). Unset: the travel model alone, as the crow flies.
    #[arg(long, env = "DISPATCH_ROAD_NETWORK")]
    pub road_network: Option<PathBuf>,

    /// Driving speeds overriding the defaults, km/h: `class=kmh` for every unit type,
    /// `unit_type:class=kmh` for one (e.g. `residential=30,als_ambulance:residential=40`).
    #[arg(long, env = "DISPATCH_ROAD_SPEEDS", default_value = "")]
    pub road_speeds: String,

    /// A unit or incident farther than this from every road node is ranked by the travel model
    /// alone, metres.
    #[arg(long, env = "DISPATCH_ROAD_SNAP_MAX_M", default_value_t = dispatch_geo::road::DEFAULT_MAX_SNAP_M)]
    pub road_snap_max_m: f64,

    /// A bearer token that is valid as an admin credential while this process runs (for
    /// automation and the first login). Never logged.
    #[arg(long, env = "DISPATCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// PEM certificate chain (the server's own first) to serve TLS with, on the gRPC listener
    /// (and the console) and on the exchange listener. Reloaded when it changes. Needs
    /// --tls-key. Unset: plaintext, which only a loopback address or --allow-plaintext allows.
    #[arg(long, env = "DISPATCH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1). Reloaded when it changes.
    #[arg(long, env = "DISPATCH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM bundle of the CAs partner agencies' and gateways' client certificates are issued
    /// under (mutual TLS). A client certificate stays optional; one that is presented must
    /// chain to these, and speaks for the principal whose certificate credential has its
    /// SHA-256. Reloaded when it changes.
    #[arg(long, env = "DISPATCH_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// How often the TLS files are read again to see whether they changed.
    #[arg(long, env = "DISPATCH_TLS_RELOAD_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub tls_reload_interval: Duration,

    /// Serve plaintext on a non-loopback address: only behind a TLS-terminating proxy.
    #[arg(long, env = "DISPATCH_ALLOW_PLAINTEXT")]
    pub allow_plaintext: bool,

    /// Requests per second each principal may make, sustained (bursts of twice that).
    #[arg(long, env = "DISPATCH_RATE_LIMIT", default_value_t = 200.0)]
    pub rate_limit: f64,

    /// How long a verified bearer token is trusted before the database is asked again.
    /// Revocations and principal changes apply before that, as soon as the process reads them
    /// from the centre-wide feed (at once on the process that made them).
    #[arg(long, env = "DISPATCH_AUTH_CACHE_TTL", default_value = "2s", value_parser = parse_duration)]
    pub auth_cache_ttl: Duration,

    /// Requests served at once by this process; more are refused with RESOURCE_EXHAUSTED
    /// rather than queued without bound.
    #[arg(long, env = "DISPATCH_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    pub max_concurrent_requests: usize,

    /// When referrals get follow-ups: `;`-separated `group=offsets`, a group being
    /// `gender_violence` or a need (`psychological`, `legal`, ...), offsets like `2d,3d,1w`.
    /// Unset: gender violence at 2 days, 3 days and 1 week (Mexico City's *765 line).
    #[arg(long, env = "DISPATCH_FOLLOW_UPS")]
    pub follow_ups: Option<String>,

    /// A moving unit's position reaches consoles and the other dispatchd processes at most
    /// once per this interval (the newest fix); the database row is updated on every report.
    #[arg(long, env = "DISPATCH_POSITION_ANNOUNCE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub position_announce_interval: Duration,

    /// Messages a Watch stream may have waiting for a slow client before it is told to resync.
    #[arg(long, env = "DISPATCH_WATCH_BUFFER", default_value_t = 1024)]
    pub watch_buffer: usize,

    /// How often a Watch stream with nothing to send sends a heartbeat.
    #[arg(long, env = "DISPATCH_WATCH_HEARTBEAT", default_value = "15s", value_parser = parse_duration)]
    pub watch_heartbeat: Duration,

    /// How often this process looks for unpublished events and for the feed's progress when no
    /// notification woke it (a safety net: commits and NOTIFY normally wake it at once).
    #[arg(long, env = "DISPATCH_FEED_POLL", default_value = "250ms", value_parser = parse_duration)]
    pub feed_poll: Duration,

    /// Serve the web console at `/` on the listen address (gRPC-web to the same services).
    #[arg(long, env = "DISPATCH_CONSOLE", default_value_t = true, action = clap::ArgAction::Set)]
    pub console: bool,

    /// Serve the console's files from this directory instead of the ones built into dispatchd
    /// (console development: `npm run bundle`, then reload the page).
    #[arg(long, env = "DISPATCH_CONSOLE_DIR")]
    pub console_dir: Option<PathBuf>,

    /// A GeoJSON FeatureCollection the console's map draws under incidents and units (e.g. the
    /// centre's roads: `dispatchctl map roads --pbf extract.osm.pbf`). Unset: a plain background.
    #[arg(long, env = "DISPATCH_MAP_GEOJSON")]
    pub map_geojson: Option<PathBuf>,

    /// The centre's areas (alcaldías): a GeoJSON FeatureCollection of Polygon or MultiPolygon
    /// features, each with a `name` property. Every incident is stamped with the first area
    /// containing it when opened and when closed (reports group by it); read and checked at
    /// start. Unset: no areas (every area is "").
    #[arg(long, env = "DISPATCH_AREAS", value_name = "FILE", value_parser = read_areas)]
    pub areas: Option<std::sync::Arc<dispatch_domain::reporting::areas::Areas>>,

    /// CAP `<sender>` of the centre's public warnings: globally unique, e.g. based on the
    /// centre's domain name (`alertas@c5.cdmx.gob.mx`); no spaces, commas, `<` or `&`.
    #[arg(
        long,
        env = "DISPATCH_CAP_SENDER",
        default_value = "dispatchd@localhost"
    )]
    pub cap_sender: String,

    /// CAP `<senderName>`: the centre as the public knows it. Empty leaves it out.
    #[arg(long, env = "DISPATCH_CAP_SENDER_NAME", default_value = "")]
    pub cap_sender_name: String,

    /// Log format: `text` for people, `json` for collectors.
    #[arg(long, env = "DISPATCH_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    /// How long records are kept (--retain-*) and how the retention job runs.
    #[command(flatten)]
    pub retention: RetentionConfig,

    /// Unset: serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// How long records are kept, and how the job runs. Every period is unset by default: nothing
/// is ever purged unless the centre says so.
#[derive(Debug, Clone, clap::Args)]
pub struct RetentionConfig {
    /// Keep audit records this long (`400d`, `52w`, `7y`): at least 365 days (CJIS). Unset:
    /// forever.
    #[arg(long, env = "DISPATCH_RETAIN_AUDIT", value_parser = Period::parse)]
    pub retain_audit: Option<Period>,

    /// Keep calls this long after they were received, and closed incidents (with their notes,
    /// triage, assignments, alerts and events) this long after they closed. Calls of an open
    /// incident, open calls and incidents with a referral are kept. Unset: forever.
    #[arg(long, env = "DISPATCH_RETAIN_CALLS", value_parser = Period::parse)]
    pub retain_calls: Option<Period>,

    /// Keep referrals, with the victim data they carry, this long after they were completed or
    /// cancelled. Referrals in any other state are kept. Unset: forever.
    #[arg(long, env = "DISPATCH_RETAIN_REFERRALS", value_parser = Period::parse)]
    pub retain_referrals: Option<Period>,

    /// Keep the event log (and the feed's positions) this long; events an open incident's
    /// timeline, an open call or a referral still in progress needs are kept. Unset: forever.
    #[arg(long, env = "DISPATCH_RETAIN_EVENTS", value_parser = Period::parse)]
    pub retain_events: Option<Period>,

    /// How often the retention job runs (only while a period is set; one process at a time).
    #[arg(long, env = "DISPATCH_RETENTION_INTERVAL", default_value = "24h", value_parser = parse_duration)]
    pub retention_interval: Duration,

    /// Rows of each kind the job deletes per transaction: small batches hold locks briefly.
    #[arg(
        long,
        env = "DISPATCH_RETENTION_BATCH",
        default_value_t = 500,
        value_parser = clap::value_parser!(i32).range(1..=100_000)
    )]
    pub retention_batch: i32,
}

/// `dispatchd`'s commands besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run the retention job once now as the connecting (owner) role, print what it purged,
    /// and exit. Uses the same --retain-* settings as the server.
    Retention {
        /// Count what would be purged; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The console map's base layer, read and checked once at start; without one, the roads of
    /// --road-network if set.
    pub fn map_layer(&self) -> Result<Option<bytes::Bytes>, String> {
        let Some(path) = &self.map_geojson else {
            return self
                .road_network
                .as_deref()
                .map(crate::road_network::map_layer)
                .transpose();
        };
        let text = std::fs::read(path)
            .map_err(|error| format!("reading DISPATCH_MAP_GEOJSON {}: {error}", path.display()))?;
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(|error| {
            format!(
                "DISPATCH_MAP_GEOJSON {} is not JSON: {error}",
                path.display()
            )
        })?;
        if value.get("type").and_then(serde_json::Value::as_str) != Some("FeatureCollection") {
            return Err(format!(
                "DISPATCH_MAP_GEOJSON {} is not a GeoJSON FeatureCollection",
                path.display()
            ));
        }
        Ok(Some(bytes::Bytes::from(text)))
    }

    /// Where the console's files come from.
    pub fn console_assets(&self) -> crate::console::Assets {
        match (&self.console, &self.console_dir) {
            (false, _) => crate::console::Assets::Off,
            (true, None) => crate::console::Assets::Embedded,
            (true, Some(dir)) => {
                crate::console::Assets::Directory(std::sync::Arc::new(dir.clone()))
            }
        }
    }

    /// The configuration with every default, for tests and embedding.
    pub fn defaults() -> Self {
        <Self as clap::Parser>::parse_from(["dispatchd"])
    }

    /// Reads and validates the catalogue; the error names every bad entry.
    pub fn catalogue(&self) -> Result<Catalogue, String> {
        let (text, origin) = data_file(self.catalogue.as_ref(), BUILT_IN_CATALOGUE, "catalogue")?;
        Catalogue::from_toml(&text).map_err(|error| format!("{origin} is invalid: {error}"))
    }

    /// Reads and validates the duplicate likelihood model, with --duplicate-threshold applied;
    /// the error names every bad entry.
    pub fn duplicate_model(&self) -> Result<LikelihoodModel, String> {
        let (text, origin) = data_file(
            self.duplicate_model.as_ref(),
            BUILT_IN_DUPLICATE_MODEL,
            "duplicate model",
        )?;
        let mut model = LikelihoodModel::from_toml(&text)
            .map_err(|error| format!("{origin} is invalid: {error}"))?;
        if let Some(threshold) = self.duplicate_threshold {
            if !(threshold > 0.0 && threshold < 1.0) {
                return Err(format!(
                    "--duplicate-threshold must be a probability strictly between 0 and 1, got \
                     {threshold}"
                ));
            }
            model.threshold = threshold;
        }
        Ok(model)
    }

    /// Who the centre's public warnings come from.
    pub fn alert_sender(&self) -> Result<crate::services::alerts::AlertSender, String> {
        let sender = dispatch_standards::cap::Token::new("--cap-sender", &self.cap_sender)
            .map_err(|v| v.to_string())?;
        let name = self.cap_sender_name.trim();
        let mut violations = dispatch_domain::Violations::new();
        dispatch_standards::cap::check_text(
            &mut violations,
            "--cap-sender-name",
            name,
            dispatch_standards::cap::MAX_SHORT_TEXT_CHARS,
            false,
        );
        violations.into_result(|| ()).map_err(|v| v.to_string())?;
        Ok(crate::services::alerts::AlertSender {
            sender,
            name: Some(name.to_owned()).filter(|n| !n.is_empty()),
        })
    }

    /// The follow-up schedule of referrals.
    pub fn follow_up_policy(&self) -> Result<FollowUpPolicy, String> {
        let Some(text) = &self.follow_ups else {
            return Ok(FollowUpPolicy::default());
        };
        let mut gender_violence = Vec::new();
        let mut per_need = std::collections::BTreeMap::new();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (group, offsets) = part
                .split_once('=')
                .ok_or_else(|| format!("--follow-ups: {part:?} is not group=offsets"))?;
            let offsets =
                parse_offsets(offsets).map_err(|e| format!("--follow-ups {group}: {e}"))?;
            match group.trim() {
                "gender_violence" => gender_violence = offsets,
                other => {
                    let need = Need::parse(other)
                        .ok_or_else(|| format!("--follow-ups: unknown need {other:?}"))?;
                    per_need.insert(need, offsets);
                }
            }
        }
        FollowUpPolicy::new(gender_violence, per_need).map_err(|v| format!("--follow-ups: {v}"))
    }

    /// Reads and validates the travel-time model; the error names every bad entry.
    pub fn travel_model(&self) -> Result<dispatch_geo::FittedTravel, String> {
        let (text, origin) = match &self.travel_model {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|error| {
                    format!("reading the travel model {}: {error}", path.display())
                })?,
                path.display().to_string(),
            ),
            None => (
                BUILT_IN_TRAVEL_MODEL.to_owned(),
                "the built-in travel model".to_owned(),
            ),
        };
        dispatch_geo::FittedTravel::from_toml(&text, dispatch_geo::GreatCircleTravel::default())
            .map_err(|error| format!("{origin} is invalid: {error}"))
    }

    /// How the geo engine ranks units.
    pub fn engine_config(&self) -> Result<dispatch_geo::EngineConfig, String> {
        let duration = |d: Duration, flag: &str| {
            chrono::Duration::from_std(d).map_err(|_| format!("{flag} is too long"))
        };
        Ok(dispatch_geo::EngineConfig {
            stale_after: duration(self.stale_position_after, "--stale-position-after")?,
            stale_penalty: duration(self.stale_position_penalty, "--stale-position-penalty")?,
            travel: crate::road_network::travel(self, self.travel_model()?)?,
            ..dispatch_geo::EngineConfig::default()
        })
    }

    /// Duplicate search settings; type groups come from the catalogue's compatible types unless
    /// configured.
    pub fn duplicate_policy(&self, catalogue: &Catalogue) -> Result<DuplicatePolicy, String> {
        let mut policy = DuplicatePolicy::default();
        if !(self.duplicate_radius_m.is_finite() && self.duplicate_radius_m > 0.0) {
            return Err("--duplicate-radius-m must be a positive number of metres".into());
        }
        if !(self.duplicate_max_radius_m.is_finite()
            && self.duplicate_max_radius_m >= self.duplicate_radius_m)
        {
            return Err("--duplicate-max-radius-m must be at least --duplicate-radius-m".into());
        }
        policy.base_radius_m = self.duplicate_radius_m;
        policy.max_radius_m = self.duplicate_max_radius_m;
        policy.window = chrono::Duration::from_std(self.duplicate_window)
            .map_err(|_| "--duplicate-window is too long".to_owned())?;
        policy.compatible_groups = catalogue.compatible_groups();
        if let Some(groups) = &self.duplicate_type_groups {
            policy.compatible_groups = groups
                .split(';')
                .map(|group| {
                    group
                        .split(',')
                        .map(str::trim)
                        .filter(|code| !code.is_empty())
                        .map(String::from)
                        .collect::<Vec<_>>()
                })
                .filter(|group| !group.is_empty())
                .collect();
        }
        Ok(policy)
    }

    pub fn store_config(&self, database_url: String) -> dispatch_store::Config {
        dispatch_store::Config {
            database_url,
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            call_folio_prefix: self.call_folio_prefix.clone(),
            incident_folio_prefix: self.incident_folio_prefix.clone(),
            time_zone: self.time_zone.clone(),
            db_role: (!self.db_role.is_empty()).then(|| self.db_role.clone()),
            position_announce_interval: self.position_announce_interval,
            areas: self.areas.clone().unwrap_or_default(),
        }
    }
}

/// The text of a data file (`path`, or the one built in when unset) and how to name it in an
/// error: its path, or "the built-in <what>".
fn data_file(
    path: Option<&PathBuf>,
    built_in: &str,
    what: &str,
) -> Result<(String, String), String> {
    match path {
        Some(path) => Ok((
            std::fs::read_to_string(path)
                .map_err(|error| format!("reading the {what} {}: {error}", path.display()))?,
            path.display().to_string(),
        )),
        None => Ok((built_in.to_owned(), format!("the built-in {what}"))),
    }
}

/// The `--areas` file, read and checked: the error names the file and every bad feature.
fn read_areas(
    path: &str,
) -> Result<std::sync::Arc<dispatch_domain::reporting::areas::Areas>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("reading {path}: {error}"))?;
    dispatch_domain::reporting::areas::Areas::from_geojson(&text)
        .map(std::sync::Arc::new)
        .map_err(|violations| format!("{path} is not a valid areas file: {violations}"))
}

/// `500ms`, `10s`, `5m`, `2h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "h" => Ok(Duration::from_secs(number * 3600)),
        _ => Err(format!("{text:?}: unit must be ms, s, m or h")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_layer_that_is_not_a_feature_collection_stops_the_start() {
        let dir = std::env::temp_dir().join(format!("dispatch-map-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut config = Config::defaults();
        assert_eq!(config.map_layer(), Ok(None));
        for (name, text, complaint) in [
            ("broken.geojson", "{\"type\": ", "is not JSON"),
            (
                "point.geojson",
                "{\"type\": \"Point\", \"coordinates\": [0, 0]}",
                "not a GeoJSON FeatureCollection",
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("writing");
            config.map_geojson = Some(path);
            let error = config.map_layer().expect_err(name);
            assert!(error.contains(complaint), "{error}");
        }
        config.map_geojson = Some(dir.join("missing.geojson"));
        assert!(config.map_layer().expect_err("missing").contains("reading"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_built_in_travel_model_fits_engines_and_ladders() {
        use dispatch_domain::directory::UnitType;
        let mut config = Config::defaults();
        let model = config.travel_model().expect("the built-in model is valid");
        assert!(model.types.contains_key(&UnitType::Engine));
        assert!(model.types.contains_key(&UnitType::Ladder));
        assert!(!model.types.contains_key(&UnitType::Patrol));
        config.travel_model = Some(PathBuf::from("/nonexistent/travel_model.toml"));
        let error = config.engine_config().expect_err("missing file");
        assert!(error.contains("reading the travel model"), "{error}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("120m"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn follow_up_schedules_parse() {
        let mut config = Config::defaults();
        assert_eq!(
            config.follow_up_policy().unwrap(),
            FollowUpPolicy::default()
        );
        config.follow_ups = Some("gender_violence=1d,1w; psychological=2w".into());
        let policy = config.follow_up_policy().unwrap();
        assert_eq!(
            policy.gender_violence_offsets(),
            [chrono::Duration::days(1), chrono::Duration::days(7)]
        );
        assert_eq!(
            policy.need_offsets(Need::Psychological),
            [chrono::Duration::days(14)]
        );
        config.follow_ups = Some("nonsense=1d".into());
        assert!(config.follow_up_policy().is_err());
    }

    #[test]
    fn the_duplicate_model_is_read_checked_and_its_threshold_overridden() {
        let mut config = Config::defaults();
        let built_in = config.duplicate_model().unwrap();
        config.duplicate_threshold = Some(0.9);
        assert_eq!(config.duplicate_model().unwrap().threshold, 0.9);
        assert_ne!(built_in.threshold, 0.9);
        config.duplicate_threshold = Some(1.0);
        assert!(
            config
                .duplicate_model()
                .unwrap_err()
                .contains("--duplicate-threshold")
        );
        config.duplicate_threshold = None;

        let dir = std::env::temp_dir().join(format!("dispatch-dup-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("model.toml");
        let broken = BUILT_IN_DUPLICATE_MODEL
            .replacen("slope = ", "slope = -", 1)
            .replacen("days = 7", "days = \"a week\"", 1)
            .replacen("radio = ", "pigeon = ", 1);
        std::fs::write(&path, broken).expect("writing");
        config.duplicate_model = Some(path.clone());
        let error = config.duplicate_model().unwrap_err();
        for named in [
            "calibration.slope",
            "density.days",
            "weights.channel.pigeon",
            "3 problems",
        ] {
            assert!(error.contains(named), "{named} not in {error}");
        }
        assert!(error.contains(&path.display().to_string()), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn type_groups_parse() {
        let mut config = Config::defaults();
        config.duplicate_type_groups = Some("A, B;C,D,E;".into());
        let catalogue = config.catalogue().unwrap();
        let policy = config.duplicate_policy(&catalogue).unwrap();
        assert_eq!(
            policy.compatible_groups,
            [vec!["A", "B"], vec!["C", "D", "E"]]
        );
    }
}
