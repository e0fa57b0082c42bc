//! Calls by state and incidents by status, for the metrics endpoint.

use std::time::Duration;

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use crate::{Error, Store};

/// How many rows are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// `(state, count)` of calls: `open`, `linked`, `disposed`.
    pub calls: Vec<(String, i64)>,
    /// `(status, count)` of incidents: `new`, `triaged`, ... `cancelled`.
    pub incidents: Vec<(String, i64)>,
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

impl Store {
    /// Counts calls by state and incidents by status in one read-only transaction, which
    /// PostgreSQL cancels after `timeout` (a read under MVCC: it never blocks a writer).
    pub async fn state_counts(&self, timeout: Duration) -> Result<StateCounts, Error> {
        let mut conn = self.conn().await?;
        let millis = timeout.as_millis().max(1);
        conn.build_transaction()
            .read_only()
            .run(async |conn| {
                diesel::sql_query(format!("SET LOCAL statement_timeout = {millis}"))
                    .execute(conn)
                    .await?;
                let calls: Vec<Row> =
                    diesel::sql_query("SELECT state, count(*) AS count FROM calls GROUP BY state")
                        .load(conn)
                        .await?;
                let incidents: Vec<Row> = diesel::sql_query(
                    "SELECT status AS state, count(*) AS count FROM incidents GROUP BY status",
                )
                .load(conn)
                .await?;
                let pairs = |rows: Vec<Row>| rows.into_iter().map(|r| (r.state, r.count)).collect();
                Ok(StateCounts {
                    calls: pairs(calls),
                    incidents: pairs(incidents),
                })
            })
            .await
    }
}
