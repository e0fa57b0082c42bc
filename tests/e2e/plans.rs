//! Statements on hot paths are prepared once per connection, and PostgreSQL soon runs them on
//! a generic plan: one made without the values bound. These tests hold such plans to the
//! indexes the statements were written for, on a table as a busy centre's looks when the plan
//! is made.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;

use dispatch_domain::location::{EARTH_RADIUS_M, GeoPoint};
use dispatch_tests::TestServer;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The local call rate (the duplicate likelihood's density term) counts the week's calls within
/// a kilometre. As generic plans go, a week's range of `received_at` looked selective, and the
/// plan read every call of the week through `calls_received_at`, filtering by distance: a cost
/// that grew with the city's calls (issue 23). Every scan that measures distances must read
/// `calls_density_cell`, a cell at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_call_rate_reads_only_the_cells_in_reach_on_a_generic_plan() {
    let server = TestServer::start().await;
    // A thousand calls over the city in the last hour, analysed: the benchmark's state when the
    // plan that read the whole week was made.
    server
        .run_sql(
            "INSERT INTO calls (id, folio, channel, state, received_at, call_taker, \
                                callback_number, latitude, longitude, uncertainty_m, \
                                location_source, account) \
             SELECT gen_random_uuid(), 'C5/PLAN/' || g, 'voice_911', 'open', \
                    now() - g * interval '3 s', 'plan-test', '+525500000000', \
                    19.27 + random() * 0.32, -99.29 + random() * 0.32, 50, 'device', 'seeded' \
             FROM generate_series(1, 1000) AS g",
        )
        .await;
    server.run_sql("ANALYZE calls").await;

    let centre = GeoPoint::new(19.4326, -99.1332).unwrap();
    let cells = dispatch_store::density::density_cells(centre, 1_000.0).expect("cells");
    let cells = cells
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut conn = server.db().await;
    for statement in [
        "SET plan_cache_mode = force_generic_plan".to_string(),
        format!(
            "PREPARE local_rate(timestamptz, timestamptz, float8, float8, float8, bigint[], \
                                float8) AS {}",
            dispatch_store::density::DENSITY_IN_CELLS
        ),
    ] {
        diesel::sql_query(&statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    let plan: Vec<String> = diesel::sql_query(format!(
        "EXPLAIN EXECUTE local_rate(now() - interval '7 days', now(), {}, {}, {EARTH_RADIUS_M}, \
                                    '{{{cells}}}', 1000)",
        centre.latitude(),
        centre.longitude()
    ))
    .load::<PlanLine>(&mut conn)
    .await
    .expect("the plan")
    .into_iter()
    .map(|row| row.line)
    .collect();
    let text = plan.join("\n");

    let mut distance_scans = 0;
    for (at, line) in plan.iter().enumerate() {
        if !(line.contains("Filter:") && line.contains("asin")) {
            continue;
        }
        distance_scans += 1;
        let node = plan[..at]
            .iter()
            .rev()
            .find(|line| line.contains("Scan"))
            .expect("a scan above the filter");
        assert!(
            node.contains("Index Only Scan using calls_density_cell")
                || node.contains("Index Scan using calls_density_cell"),
            "the distances are measured on rows read otherwise:\n{text}"
        );
    }
    assert_eq!(distance_scans, 1, "{text}");
    assert!(
        !text.contains("Bitmap Index Scan on calls_received_at") && !text.contains("Seq Scan"),
        "{text}"
    );
    // The plan holds the week's range in the index's key, not as a filter on what it read.
    assert!(text.contains("ROW(cell.id, $1)"), "{text}");
}
