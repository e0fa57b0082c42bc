//! The retention job's database side: one purge run, as the owner role, in bounded batches.
//!
//! The purge itself lives in PostgreSQL (migration `_retention`: what may go, in which order,
//! behind which foreign keys); this module runs it. A run connects as the owner (no `SET
//! ROLE`: `dispatch_app` may not delete), takes an advisory lock so that one purge runs at a
//! time however many `dispatchd` share the database, records its start in the audit trail (the
//! append-only triggers let deletes through only in a transaction naming that record), purges
//! each kind one transaction per batch, and records what it purged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use dispatch_domain::retention::{Counts, Cutoffs, Policy};

use crate::Error;

/// Held for the length of a run: one purge at a time in the whole cluster of `dispatchd`.
pub const RETENTION_LOCK: i64 = 0x7265_7465_6e74_696f; // "retentio"

/// Who a run is in the audit trail. Principal names cannot contain `:`, so no person or system
/// enrolled in the centre can be mistaken for it.
pub const RETENTION_PRINCIPAL: &str = "dispatchd:retention";
/// The audit record's method; the append-only triggers recognise a run's start record by it.
pub const RETENTION_METHOD: &str = "dispatchd/RetentionRun";

/// How long one batch's statement may wait for a lock before the run stops (and retries at its
/// next interval) rather than queue behind, and so hold up, the centre's writes.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A run's settings.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub policy: Policy,
    /// Rows per kind per transaction.
    pub batch: i32,
    /// Count what would go, change nothing (no audit record either).
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub cutoffs: Cutoffs,
    pub counts: Counts,
    pub dry_run: bool,
    /// The audit records of a real run: its start and its end.
    pub audit_records: Vec<i64>,
    /// The database role the purge ran as.
    pub role: String,
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Two {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
}

#[derive(diesel::QueryableByName)]
struct Three {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
    #[diesel(sql_type = BigInt)]
    c: i64,
}

#[derive(diesel::QueryableByName)]
struct Preview {
    #[diesel(sql_type = BigInt)]
    audit_records: i64,
    #[diesel(sql_type = BigInt)]
    incidents: i64,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = BigInt)]
    referrals: i64,
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = BigInt)]
    feed_positions: i64,
    #[diesel(sql_type = BigInt)]
    request_records: i64,
}

#[derive(diesel::QueryableByName)]
struct Start {
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    role: String,
}

type Query = BoxedSqlQuery<'static, Pg, SqlQuery>;

fn query(sql: &'static str) -> Query {
    diesel::sql_query(sql).into_boxed()
}

/// Runs the retention job once on its own connection to `database_url`, as the connecting role
/// (the owner). `Ok(None)`: another purge holds the lock; nothing was done.
pub async fn run(database_url: &str, run: &Run) -> Result<Option<Report>, Error> {
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|error| Error::Unavailable(format!("retention: connecting: {error}")))?;
    diesel::sql_query(format!(
        "SET lock_timeout = '{}ms'",
        LOCK_TIMEOUT.as_millis()
    ))
    .execute(&mut conn)
    .await?;
    let locked: Vec<One> =
        diesel::sql_query("SELECT 1::bigint AS n WHERE pg_try_advisory_lock($1)")
            .bind::<BigInt, _>(RETENTION_LOCK)
            .load(&mut conn)
            .await?;
    if locked.is_empty() {
        return Ok(None);
    }
    let result = locked_run(&mut conn, run).await;
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(RETENTION_LOCK)
        .execute(&mut conn)
        .await?;
    result.map(Some)
}

async fn locked_run(conn: &mut AsyncPgConnection, run: &Run) -> Result<Report, Error> {
    let start: Start = diesel::sql_query("SELECT now() AS now, current_user::text AS role")
        .get_result(conn)
        .await?;
    let cutoffs = run.policy.cutoffs(start.now).map_err(Error::Config)?;
    let mut report = Report {
        cutoffs,
        counts: Counts::default(),
        dry_run: run.dry_run,
        audit_records: Vec::new(),
        role: start.role,
    };
    if run.dry_run {
        report.counts = preview(conn, &cutoffs).await?;
        return Ok(report);
    }
    let described = format!("policy: {}; cutoffs: {cutoffs}", run.policy);
    let started = record(
        conn,
        &report.role,
        "success",
        &format!("started as database role {}; {described}", report.role),
    )
    .await?;
    report.audit_records.push(started);
    let purged = purge(conn, run.batch, started, &cutoffs, &mut report.counts).await;
    let (outcome, detail) = match &purged {
        Ok(()) => (
            "success",
            format!("finished; purged: {}; {described}", report.counts),
        ),
        Err(error) => (
            "failure",
            format!(
                "stopped by an error after purging: {}; {described}; error: {error}",
                report.counts
            ),
        ),
    };
    report
        .audit_records
        .push(record(conn, &report.role, outcome, &detail).await?);
    purged.map(|()| report)
}

/// Appends one of the run's audit records; its id.
async fn record(
    conn: &mut AsyncPgConnection,
    role: &str,
    outcome: &str,
    detail: &str,
) -> Result<i64, Error> {
    let row: One = diesel::sql_query(
        "INSERT INTO audit_records (principal, action, method, resource, peer, outcome, detail) \
         VALUES ($1, 'mutation', $2, 'retention', $3, $4, left($5, 2000)) RETURNING id AS n",
    )
    .bind::<Text, _>(RETENTION_PRINCIPAL)
    .bind::<Text, _>(RETENTION_METHOD)
    .bind::<Text, _>(format!("database role {role}"))
    .bind::<Text, _>(outcome)
    .bind::<Text, _>(detail)
    .get_result(conn)
    .await?;
    Ok(row.n)
}

/// One transaction: names the run for the append-only triggers, runs `query`.
async fn batch<R>(conn: &mut AsyncPgConnection, started: i64, query: Query) -> Result<R, Error>
where
    R: diesel::QueryableByName<Pg> + Send + 'static,
{
    conn.transaction(async move |conn| {
        diesel::sql_query("SELECT set_config('dispatch.retention_run', $1, true)")
            .bind::<Text, _>(started.to_string())
            .execute(conn)
            .await?;
        Ok::<R, Error>(query.get_result(conn).await?)
    })
    .await
}

async fn purge(
    conn: &mut AsyncPgConnection,
    size: i32,
    started: i64,
    cutoffs: &Cutoffs,
    counts: &mut Counts,
) -> Result<(), Error> {
    let full = i64::from(size);
    // The feed's old positions first: events may go only once no position names them.
    if let Some(cutoff) = cutoffs.feed {
        let target: One = diesel::sql_query("SELECT retention_feed_target($1) AS n")
            .bind::<Timestamptz, _>(cutoff)
            .get_result(conn)
            .await?;
        loop {
            let q = query("SELECT retention_purge_feed($1, $2) AS n")
                .bind::<BigInt, _>(target.n)
                .bind::<Integer, _>(size);
            let done: One = batch(conn, started, q).await?;
            counts.feed_positions += done.n;
            if done.n == 0 {
                break;
            }
        }
    }
    // Referrals before incidents: an incident goes only once no referral refers to it.
    if let Some(cutoff) = cutoffs.referrals {
        loop {
            let q =
                query("SELECT referrals AS a, events AS b FROM retention_purge_referrals($1, $2)")
                    .bind::<Timestamptz, _>(cutoff)
                    .bind::<Integer, _>(size);
            let done: Two = batch(conn, started, q).await?;
            counts.referrals += done.a;
            counts.events += done.b;
            if done.a < full {
                break;
            }
        }
    }
    if let Some(cutoff) = cutoffs.calls {
        loop {
            let q = query(
                "SELECT incidents AS a, calls AS b, events AS c \
                 FROM retention_purge_incidents($1, $2)",
            )
            .bind::<Timestamptz, _>(cutoff)
            .bind::<Integer, _>(size);
            let done: Three = batch(conn, started, q).await?;
            counts.incidents += done.a;
            counts.calls += done.b;
            counts.events += done.c;
            if done.a < full {
                break;
            }
        }
        loop {
            let q =
                query("SELECT calls AS a, events AS b FROM retention_purge_disposed_calls($1, $2)")
                    .bind::<Timestamptz, _>(cutoff)
                    .bind::<Integer, _>(size);
            let done: Two = batch(conn, started, q).await?;
            counts.calls += done.a;
            counts.events += done.b;
            if done.a < full {
                break;
            }
        }
    }
    if let Some(cutoff) = cutoffs.events {
        // Events are in seq order, roughly time order: walk the seqs up to the newest old one.
        let through: One = diesel::sql_query(
            "SELECT coalesce(max(seq), 0) AS n FROM events WHERE occurred_at < $1",
        )
        .bind::<Timestamptz, _>(cutoff)
        .get_result(conn)
        .await?;
        let mut after = 0;
        while after < through.n {
            let q = query(
                "SELECT events AS a, last_seq AS b FROM retention_purge_events($1, $2, $3, $4)",
            )
            .bind::<Timestamptz, _>(cutoff)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(through.n)
            .bind::<Integer, _>(size);
            let done: Two = batch(conn, started, q).await?;
            counts.events += done.a;
            after = done.b;
        }
    }
    if let Some(cutoff) = cutoffs.requests {
        counts.request_records += repeat(
            conn,
            started,
            full,
            "SELECT retention_purge_requests($1, $2) AS n",
            cutoff,
            size,
        )
        .await?;
    }
    if let Some(cutoff) = cutoffs.audit {
        counts.audit_records += repeat(
            conn,
            started,
            full,
            "SELECT retention_purge_audit($1, $2) AS n",
            cutoff,
            size,
        )
        .await?;
    }
    Ok(())
}

/// Batches of a `(cutoff, size) -> deleted` purge until one comes back short; the total.
async fn repeat(
    conn: &mut AsyncPgConnection,
    started: i64,
    full: i64,
    sql: &'static str,
    cutoff: DateTime<Utc>,
    size: i32,
) -> Result<i64, Error> {
    let mut total = 0;
    loop {
        let q = query(sql)
            .bind::<Timestamptz, _>(cutoff)
            .bind::<Integer, _>(size);
        let done: One = batch(conn, started, q).await?;
        total += done.n;
        if done.n < full {
            return Ok(total);
        }
    }
}

async fn preview(conn: &mut AsyncPgConnection, cutoffs: &Cutoffs) -> Result<Counts, Error> {
    let row: Preview = diesel::sql_query("SELECT * FROM retention_preview($1, $2, $3, $4, $5, $6)")
        .bind::<Nullable<Timestamptz>, _>(cutoffs.audit)
        .bind::<Nullable<Timestamptz>, _>(cutoffs.calls)
        .bind::<Nullable<Timestamptz>, _>(cutoffs.referrals)
        .bind::<Nullable<Timestamptz>, _>(cutoffs.events)
        .bind::<Nullable<Timestamptz>, _>(cutoffs.requests)
        .bind::<Nullable<Timestamptz>, _>(cutoffs.feed)
        .get_result(conn)
        .await?;
    Ok(Counts {
        audit_records: row.audit_records,
        incidents: row.incidents,
        calls: row.calls,
        referrals: row.referrals,
        events: row.events,
        feed_positions: row.feed_positions,
        request_records: row.request_records,
    })
}

impl crate::Store {
    /// The feed position at and below which the retention job removed every position (0 when
    /// none): a watcher resuming from below it has missed events it can no longer read.
    pub async fn feed_purged_through(&self) -> Result<i64, Error> {
        let row: One =
            crate::prepared::PreparedSql("SELECT purged_through AS n FROM event_feed_state")
                .get_result(&mut *self.conn().await?)
                .await?;
        Ok(row.n)
    }
}
