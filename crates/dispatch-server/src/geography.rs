//! Stamps the incidents written before the geography columns existed (area, station area, H3
//! cell), in batches, in the background once the server serves: a centre's history may hold
//! millions of incidents and calls must not wait for it. Until it ends, an unstamped incident
//! is counted in a hot-spot report's totals but in no cell. Several servers sharing a database
//! split the work (a batch skips rows another is stamping).

use std::time::Duration;

use dispatch_store::Store;

/// Incidents stamped per transaction: short enough not to hold row locks long.
const BATCH: i64 = 1_000;
/// After a failed batch (the database away), try again after this long...
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// ...at most this many times in a row; a later start tries again.
const MAX_FAILURES: u32 = 12;

pub fn spawn(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut stamped = 0usize;
        let mut failures = 0;
        loop {
            match store.stamp_unplaced_incidents(BATCH).await {
                Ok(0) => break,
                Ok(count) => {
                    stamped += count;
                    failures = 0;
                }
                Err(error) => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        tracing::error!(%error, stamped, "stamping incidents' geography: giving up until the next start");
                        return;
                    }
                    tracing::warn!(%error, "stamping incidents' geography; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
        if stamped > 0 {
            tracing::info!(
                stamped,
                "incidents written before their geography was recorded are stamped"
            );
        }
    })
}
