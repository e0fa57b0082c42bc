//! The PostgreSQL store: schema, queries, transactions, the pool and the embedded migrations.
//!
//! Architecture invariant: every guarantee that matters (one row per request id, one folio per
//! call, append-only events, a call linked to at most one incident) is a constraint or a
//! transaction here, not only a check in Rust.

pub mod agencies;
pub mod alerts;
pub mod assignments;
pub mod audit;
pub mod calls;
pub mod cameras;
pub mod cluster;
pub mod counts;
pub mod credentials;
pub mod density;
pub mod dispatching;
mod error;
mod events;
pub mod exchange;
mod failover;
pub mod feed;
mod geography;
pub mod hot_spots;
mod idempotency;
pub mod imports;
mod incident_writes;
pub mod incidents;
pub mod intake;
mod nearby;
pub mod open_data;
pub mod operations;
pub mod partners;
pub mod pool_watch;
mod prepared;
pub mod principals;
pub mod referrals;
pub mod reports;
mod resource;
mod restore;
pub mod retention;
mod rows;
pub mod schema;
pub mod stations;
pub mod tokens;
pub mod triage;
pub mod units;

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use error::Error;
pub use idempotency::{Idempotency, Written};
pub use rows::EventRecord;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Taken while migrating so that several `dispatchd` starting at once migrate one at a time.
const MIGRATION_LOCK: i64 = 0x6469_7370_6174_6368; // "dispatch"

pub type Connection = Object<AsyncPgConnection>;

/// The application role created by the security migration.
pub const DEFAULT_DB_ROLE: &str = "dispatch_app";

/// How the store behaves; all of it comes from `dispatchd`'s configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub max_connections: usize,
    /// How long a request waits for a free connection before UNAVAILABLE.
    pub acquire_timeout: Duration,
    /// Prefix of call folios (`C5` gives `C5/YYMMDD/NNNNN`).
    pub call_folio_prefix: String,
    pub incident_folio_prefix: String,
    /// IANA time zone whose calendar day numbers the folios.
    pub time_zone: String,
    /// The PostgreSQL role every pooled connection switches to (`SET ROLE`) before use; its
    /// privileges, granted by the migrations, are what the server may do (no UPDATE or DELETE
    /// on history or the audit trail). `None` keeps the connecting role, e.g. for tools.
    /// Migrations always run as the connecting (owner) role.
    pub db_role: Option<String>,
    /// A moving unit's position reaches the event log (and so consoles and other processes) at
    /// most once per this interval; every report still updates the row.
    pub position_announce_interval: Duration,
    /// The centre's areas (alcaldías): every incident written is stamped with the one it is in
    /// (`incidents.area`, `close_area`). None: every area is "".
    pub areas: std::sync::Arc<dispatch_domain::reporting::areas::Areas>,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: 32,
            acquire_timeout: Duration::from_secs(5),
            call_folio_prefix: "C5".into(),
            incident_folio_prefix: "INC".into(),
            time_zone: "America/Mexico_City".into(),
            db_role: Some(DEFAULT_DB_ROLE.into()),
            position_announce_interval: Duration::from_secs(5),
            areas: std::sync::Arc::default(),
        }
    }
}

/// The shared store: a pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct Store {
    pool: Pool<AsyncPgConnection>,
    config: std::sync::Arc<Config>,
    acquire: pool_watch::AcquireHook,
    intake: intake::Intake,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("max_connections", &self.config.max_connections)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects (checking the database answers, the application role can be assumed and the
    /// time zone is known). Does not migrate: run [`migrate`] first, it creates the role.
    pub async fn connect(config: Config) -> Result<Self, Error> {
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        // No `SELECT 1` on every checkout: a connection whose socket closed (the server
        // restarted) reports itself broken and is replaced; a query that fails otherwise is
        // an UNAVAILABLE the client retries.
        manager_config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
        let role = config.db_role.clone();
        // After a failover, connections made before it are replaced (see `failover`).
        let generations = std::sync::Arc::new(failover::Generations::default());
        let recycle_hook = generations.recycle_hook();
        manager_config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            let role = role.clone();
            let watcher = generations.watcher();
            Box::pin(async move {
                // A multi-host URL with `target_session_attrs=read-write` lands on the primary.
                let mut conn = AsyncPgConnection::establish(&url).await?;
                conn.set_instrumentation(watcher);
                if let Some(role) = role {
                    diesel::sql_query(format!("SET ROLE {}", quote_ident(&role)))
                        .execute(&mut conn)
                        .await
                        .map_err(|error| {
                            ConnectionError::BadConnection(format!(
                                "SET ROLE {role}: {error} (migrate first; the connecting role \
                                 must be a superuser or a member of {role})"
                            ))
                        })?;
                }
                Ok(conn)
            })
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            &config.database_url,
            manager_config,
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.acquire_timeout))
            .recycle_timeout(Some(config.acquire_timeout))
            .post_recycle(recycle_hook)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|error| Error::Internal(format!("building the connection pool: {error}")))?;
        let store = Self {
            pool,
            config: std::sync::Arc::new(config),
            acquire: pool_watch::AcquireHook::default(),
            intake: intake::Intake::default(),
        };
        let mut conn = store.conn().await.map_err(|error| match error {
            // A missing role or membership is not an outage: say what to fix.
            Error::Unavailable(message) if message.contains("SET ROLE") => Error::Config(message),
            other => other,
        })?;
        diesel::sql_query("SELECT now() AT TIME ZONE $1")
            .bind::<diesel::sql_types::Text, _>(&store.config.time_zone)
            .execute(&mut conn)
            .await
            .map_err(|_| {
                Error::Config(format!("unknown time zone {:?}", store.config.time_zone))
            })?;
        Ok(store)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) async fn conn(&self) -> Result<Connection, Error> {
        let started = std::time::Instant::now();
        let conn = self.pool.get().await.map_err(Error::from_pool);
        self.acquire.observe(started.elapsed());
        conn
    }

    /// The shape of every idempotent write, on a connection of its own: in one transaction,
    /// claim the request id for `resource` and run `write` (lock, check, write the rows, append
    /// the events); after the commit, `answer` reads the resource back on the same connection.
    /// A request id used before writes nothing (`write` does not run) and `answer` sees
    /// [`Claimed::Replay`](idempotency::Claimed) with the resource the first request named, so a
    /// replay answers what is stored now.
    ///
    /// ```ignore
    /// self.write_once(
    ///     key,
    ///     &id.name(),
    ///     async |conn| { /* lock, check, write, append events */ Ok(()) },
    ///     async |conn, _claimed| load_call(conn, id).await,
    /// )
    /// .await
    /// ```
    pub(crate) async fn write_once<R, T, W, A>(
        &self,
        key: &Idempotency,
        resource: &str,
        write: W,
        answer: A,
    ) -> Result<Written<T>, Error>
    where
        for<'c> W: idempotency::WriteFn<'c, R, Fut: Send> + Send,
        for<'c> A: idempotency::AnswerFn<'c, R, T, Fut: Send> + Send,
        R: Send,
    {
        let mut conn = self.conn().await?;
        let claimed = key.write_once(&mut conn, resource, write).await?;
        claimed.answer(&mut conn, answer).await
    }

    /// True when a connection can be had and answers `SELECT 1`.
    pub async fn ping(&self) -> bool {
        match self.conn().await {
            Ok(mut conn) => diesel::sql_query("SELECT 1")
                .execute(&mut conn)
                .await
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// Applies every pending migration, one migrating process at a time. Returns how many ran.
pub async fn migrate(database_url: &str) -> Result<usize, Error> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|error| Error::Unavailable(format!("connecting to migrate: {error}")))?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
    let applied = harness
        .run_pending_migrations(MIGRATIONS)
        .map_err(|error| Error::Internal(format!("migrating: {error}")))?
        .len();
    let mut conn = harness.into_inner();
    // Still under the lock, as the owner: a database restored from a dump needs its feed adopted.
    restore::adopt_restored_feed(&mut conn).await?;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    Ok(applied)
}

/// Creates `database` on the server behind `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, database: &str) -> Result<(), Error> {
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = connect_with_retry(admin_url, Duration::from_secs(30)).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(database)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(database)))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// Connects, retrying while the server is still starting up (a fresh private cluster accepts
/// TCP a moment before it accepts sessions).
pub async fn connect_with_retry(url: &str, patience: Duration) -> Result<AsyncPgConnection, Error> {
    let started = std::time::Instant::now();
    let mut backoff = Duration::from_millis(10);
    loop {
        match AsyncPgConnection::establish(url).await {
            Ok(conn) => return Ok(conn),
            Err(error) if started.elapsed() < patience => {
                tracing::debug!(%error, "database not ready yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(250));
            }
            Err(error) => return Err(Error::Unavailable(format!("connecting: {error}"))),
        }
    }
}

/// The one row `query` finds (by id, locked or not), as a domain value; `NotFound` naming
/// `name()` when there is none. Reads with the caller's connection: a request never holds one
/// connection while waiting for a second, which would deadlock a busy pool.
pub(crate) async fn find_one<'q, Q, R, T>(
    conn: &mut AsyncPgConnection,
    query: Q,
    name: impl FnOnce() -> String,
) -> Result<T, Error>
where
    Q: diesel::query_dsl::methods::LimitDsl,
    Q::Output: diesel_async::methods::LoadQuery<'q, AsyncPgConnection, R> + Send + 'q,
    R: Send,
    T: TryFrom<R, Error = Error>,
{
    let row: R = query
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(name()))?;
    row.try_into()
}

/// `"name"`, with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One page of a keyset-paginated list: at most `size` rows after the cursor `after`.
#[derive(Debug, Clone)]
pub struct Page<C> {
    pub size: i64,
    pub after: Option<C>,
}

impl<C> Page<C> {
    /// How many rows a page's query fetches: one more than the page, which only says that
    /// another page follows.
    pub(crate) fn limit(&self) -> i64 {
        self.size + 1
    }

    /// The query of one page of a keyset-paginated list: `query` (filtered, and ordered by the
    /// list's cursor) narrowed by `after` to the rows past this page's cursor, limited to
    /// [`limit`](Self::limit) rows. Its rows go to [`finish`](Self::finish):
    ///
    /// ```ignore
    /// let query = page.query(query, |query, after| query.filter(units::call_sign.gt(after)));
    /// page.finish(query.load(&mut *self.conn().await?).await?, |row: &UnitRow| row.call_sign.clone())
    /// ```
    pub(crate) fn query<'p, Q>(&'p self, query: Q, after: impl FnOnce(Q, &'p C) -> Q) -> Q::Output
    where
        Q: diesel::query_dsl::methods::LimitDsl,
    {
        let query = match &self.after {
            Some(cursor) => after(query, cursor),
            None => query,
        };
        query.limit(self.limit())
    }

    /// Splits the [`limit`](Self::limit) rows a query fetched into the page and whether another
    /// page follows.
    pub(crate) fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, bool) {
        let size = usize::try_from(self.size).unwrap_or(0);
        let more = rows.len() > size;
        rows.truncate(size);
        (rows, more)
    }

    /// The shape of every keyset-paginated list: the page of the rows a query fetched (at most
    /// [`limit`](Self::limit), ordered by the cursor, after `after`) as domain values, and the
    /// cursor of the next page (the last row's) when another follows.
    pub(crate) fn finish<R, T>(
        &self,
        rows: Vec<R>,
        cursor: impl FnOnce(&R) -> C,
    ) -> Result<(Vec<T>, Option<C>), Error>
    where
        T: TryFrom<R, Error = Error>,
    {
        let (rows, more) = self.split(rows);
        let next = if more { rows.last().map(cursor) } else { None };
        let items = rows
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?;
        Ok((items, next))
    }
}

/// The rows of a newest-first list (ordered by `$time` then `$id`, both descending) that come
/// after the [`TimeCursor`] `$after`: a filter for [`Page::query`]'s `after`. A macro
/// because each list's columns are their own types.
macro_rules! newest_first_after {
    ($time:expr, $id:expr, $after:expr) => {
        $time
            .lt($after.time)
            .or($time.eq($after.time).and($id.lt($after.id)))
    };
}
pub(crate) use newest_first_after;

/// Position in a newest-first list: the last row's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeCursor {
    pub time: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}
