//! The schema itself: the database's own guarantees, checked against a migrated database.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl as _;
use dispatch_tests::{assert_database_refuses, fresh_database};

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A connection to a new, migrated database.
async fn fresh() -> diesel_async::AsyncPgConnection {
    let url = fresh_database().await.expect("database");
    dispatch_store::connect_with_retry(&url, std::time::Duration::from_secs(10))
        .await
        .expect("connect")
}

/// What `sql` (a query of one `name` column) finds in a new database: it must find nothing, or
/// the test fails saying it found `what`.
async fn assert_finds_none(what: &str, sql: &str) {
    let rows: Vec<Name> = diesel::sql_query(sql)
        .load(&mut fresh().await)
        .await
        .expect(sql);
    let found: Vec<String> = rows.into_iter().map(|r| r.name).collect();
    assert!(found.is_empty(), "{what}: {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_foreign_key_is_indexed() {
    // A foreign key without an index whose leading column is the key makes every delete or key
    // update of the parent scan the child table.
    assert_finds_none(
        "foreign keys without an index",
        "SELECT c.conrelid::regclass || '.' || a.attname AS name \
         FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'f' AND NOT EXISTS ( \
             SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
         ORDER BY 1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_records_when_its_rows_were_made() {
    assert_finds_none(
        "tables without a creation time",
        "SELECT t.table_name AS name FROM information_schema.tables t \
         WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
           AND t.table_name NOT IN ('__diesel_schema_migrations', 'folio_counters') \
           AND NOT EXISTS (SELECT 1 FROM information_schema.columns c \
                           WHERE c.table_schema = 'public' AND c.table_name = t.table_name \
                             AND c.column_name IN ('created_at', 'recorded_at', 'occurred_at') \
                             AND c.data_type = 'timestamp with time zone') \
         ORDER BY 1",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_refuses_updates_and_deletes() {
    let mut conn = fresh().await;
    diesel::sql_query("INSERT INTO events (actor, kind) VALUES ('test', 'probe')")
        .execute(&mut conn)
        .await
        .expect("appending is allowed");
    // The publisher gives it its feed position; the feed is as append-only as the log.
    diesel::sql_query("SELECT publish_events()")
        .execute(&mut conn)
        .await
        .expect("publishing");
    let statements = [
        "UPDATE events SET actor = 'forger'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
        "UPDATE event_feed SET seq = seq",
        "DELETE FROM event_feed",
        "TRUNCATE event_feed",
    ];
    assert_database_refuses(&mut conn, &statements, "append-only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_what_the_server_would_never_write() {
    let mut conn = fresh().await;
    let base = "INSERT INTO calls (id, folio, channel, received_at, call_taker, latitude, longitude, \
                uncertainty_m, location_source";
    for (what, statement) in [
        (
            "latitude out of range",
            format!(
                "{base}) VALUES (gen_random_uuid(), 'a', 'radio', now(), 't', 91, 0, 0, 'device')"
            ),
        ),
        (
            "NaN uncertainty",
            format!(
                "{base}) VALUES (gen_random_uuid(), 'b', 'radio', now(), 't', 0, 0, 'NaN', 'device')"
            ),
        ),
        (
            "unknown channel",
            format!(
                "{base}) VALUES (gen_random_uuid(), 'c', 'pigeon', now(), 't', 0, 0, 0, 'device')"
            ),
        ),
        (
            "linked without incident",
            format!(
                "{base}, state) VALUES (gen_random_uuid(), 'd', 'radio', now(), 't', 0, 0, 0, 'device', 'linked')"
            ),
        ),
        (
            "answered before received",
            format!(
                "{base}, answered_at) VALUES (gen_random_uuid(), 'e', 'radio', now(), 't', 0, 0, 0, 'device', now() - interval '1 hour')"
            ),
        ),
        (
            "malformed callback",
            format!(
                "{base}, callback_number) VALUES (gen_random_uuid(), 'f', 'radio', now(), 't', 0, 0, 0, 'device', 'call me')"
            ),
        ),
    ] {
        assert!(
            diesel::sql_query(&statement)
                .execute(&mut conn)
                .await
                .is_err(),
            "{what} was accepted"
        );
    }
}
