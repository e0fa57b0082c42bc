//! The schema itself: the database's own guarantees, checked against a migrated database.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl as _;
use dispatch_tests::fresh_database;

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

async fn names(url: &str, sql: &str) -> Vec<String> {
    let mut conn = dispatch_store::connect_with_retry(url, std::time::Duration::from_secs(10))
        .await
        .expect("connect");
    let rows: Vec<Name> = diesel::sql_query(sql).load(&mut conn).await.expect(sql);
    rows.into_iter().map(|r| r.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_foreign_key_is_indexed() {
    let url = fresh_database().await.expect("database");
    // A foreign key without an index whose leading column is the key makes every delete or key
    // update of the parent scan the child table.
    let unindexed = names(
        &url,
        "SELECT c.conrelid::regclass || '.' || a.attname AS name \
         FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         WHERE c.contype = 'f' AND NOT EXISTS ( \
             SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]) \
         ORDER BY 1",
    )
    .await;
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_records_when_its_rows_were_made() {
    let url = fresh_database().await.expect("database");
    let missing = names(
        &url,
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
    assert!(
        missing.is_empty(),
        "tables without a creation time: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_refuses_updates_and_deletes() {
    let url = fresh_database().await.expect("database");
    let mut conn = dispatch_store::connect_with_retry(&url, std::time::Duration::from_secs(10))
        .await
        .expect("connect");
    diesel::sql_query("INSERT INTO events (actor, kind) VALUES ('test', 'probe')")
        .execute(&mut conn)
        .await
        .expect("appending is allowed");
    // The publisher gives it its feed position; the feed is as append-only as the log.
    diesel::sql_query("SELECT publish_events()")
        .execute(&mut conn)
        .await
        .expect("publishing");
    for statement in [
        "UPDATE events SET actor = 'forger'",
        "DELETE FROM events",
        "TRUNCATE events CASCADE",
        "UPDATE event_feed SET seq = seq",
        "DELETE FROM event_feed",
        "TRUNCATE event_feed",
    ] {
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_what_the_server_would_never_write() {
    let url = fresh_database().await.expect("database");
    let mut conn = dispatch_store::connect_with_retry(&url, std::time::Duration::from_secs(10))
        .await
        .expect("connect");
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
