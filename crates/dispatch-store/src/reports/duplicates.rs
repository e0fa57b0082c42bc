//! What the duplicate report reads: calls counted by channel, state and UTC quarter hour, and
//! the incidents' opening calls (`incidents.opening_call_*`, kept by a trigger on `calls`)
//! counted the same way. A period's duplicates are its linked calls less the opening calls
//! among them, so no call is joined to its incident. Quarter hours become hours of day in the
//! period's zone here (a few thousand conversions instead of a million).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use dispatch_domain::call::{CallState, Channel};
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::areas::{QUARTER_HOUR_SECONDS, quarter_hour_of_week};
use dispatch_domain::reporting::duplicates::CallCounts;

use super::{count, stored, two_snapshots};
use crate::{Error, Store};

#[derive(diesel::QueryableByName)]
struct QuarterRow {
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Timestamptz)]
    quarter: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    calls: i64,
}

#[derive(diesel::QueryableByName)]
struct HourRow {
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    hour: i32,
    #[diesel(sql_type = BigInt)]
    calls: i64,
}

/// `$1` start, `$2` end: the period's calls by channel, state and UTC quarter hour.
const CALLS_BY_QUARTER: &str = "SELECT channel, state, \
        date_bin('15 minutes', received_at, 'epoch') AS quarter, count(*) AS calls \
     FROM calls WHERE received_at >= $1 AND received_at < $2 GROUP BY 1, 2, 3";

/// `$1` start, `$2` end: the opening calls in the period of incidents not merged into another
/// (each is a linked call of the period), by channel and UTC quarter hour.
const OPENERS_BY_QUARTER: &str = "SELECT opening_channel AS channel, 'opener' AS state, \
        date_bin('15 minutes', opening_call_at, 'epoch') AS quarter, count(*) AS calls \
     FROM incidents WHERE duplicate_of IS NULL \
       AND opening_call_at >= $1 AND opening_call_at < $2 GROUP BY 1, 2, 3";

/// The same counts by hour of day in the zone `$3`, converting every row (for a zone whose
/// offset in the period is not a whole number of quarter hours).
const CALLS_BY_HOUR: &str = "SELECT channel, state, \
        extract(hour FROM received_at AT TIME ZONE $3)::int AS hour, count(*) AS calls \
     FROM calls WHERE received_at >= $1 AND received_at < $2 GROUP BY 1, 2, 3";
const OPENERS_BY_HOUR: &str = "SELECT opening_channel AS channel, 'opener' AS state, \
        extract(hour FROM opening_call_at AT TIME ZONE $3)::int AS hour, count(*) AS calls \
     FROM incidents WHERE duplicate_of IS NULL \
       AND opening_call_at >= $1 AND opening_call_at < $2 GROUP BY 1, 2, 3";

async fn by_quarter(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    period: &Period,
) -> Result<Vec<QuarterRow>, Error> {
    Ok(diesel::sql_query(sql)
        .bind::<Timestamptz, _>(period.start)
        .bind::<Timestamptz, _>(period.end)
        .load(conn)
        .await?)
}

async fn by_hour(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    period: &Period,
) -> Result<Vec<HourRow>, Error> {
    Ok(diesel::sql_query(sql)
        .bind::<Timestamptz, _>(period.start)
        .bind::<Timestamptz, _>(period.end)
        .bind::<Text, _>(period.zone.name())
        .load(conn)
        .await?)
}

/// Counts of one channel and hour, as they are added up.
#[derive(Default)]
struct Tally {
    calls: u64,
    linked: u64,
    openers: u64,
    disposed: u64,
    open: u64,
}

impl Tally {
    fn add(&mut self, state: &str, calls: u64) -> Result<(), Error> {
        if state == "opener" {
            self.openers += calls;
            return Ok(());
        }
        self.calls += calls;
        match stored("call state", state, CallState::parse)? {
            CallState::Linked => self.linked += calls,
            CallState::Disposed => self.disposed += calls,
            CallState::Open => self.open += calls,
        }
        Ok(())
    }
}

fn tally(
    rows: impl IntoIterator<Item = (String, String, u32, i64)>,
) -> Result<Vec<CallCounts>, Error> {
    let mut tallies: BTreeMap<(Channel, u32), Tally> = BTreeMap::new();
    for (channel, state, hour, calls) in rows {
        let channel = stored("channel", &channel, Channel::parse)?;
        tallies
            .entry((channel, hour))
            .or_default()
            .add(&state, count(calls))?;
    }
    Ok(tallies
        .into_iter()
        .map(|((channel, hour), t)| CallCounts {
            channel,
            hour,
            calls: t.calls,
            duplicates: t.linked.saturating_sub(t.openers),
            disposed: t.disposed,
            open: t.open,
        })
        .collect())
}

impl Store {
    /// Calls received in the period by channel and hour of day (in the period's zone), with
    /// how many were duplicates (see `reporting::duplicates` for the definition).
    pub async fn call_counts(&self, period: &Period) -> Result<Vec<CallCounts>, Error> {
        two_snapshots!(self, |one, two| {
            let (calls, openers) = tokio::try_join!(
                by_quarter(one, CALLS_BY_QUARTER, period),
                by_quarter(two, OPENERS_BY_QUARTER, period)
            )?;
            let hours: Option<Vec<_>> = calls
                .into_iter()
                .chain(openers)
                .map(|row| {
                    let hour = quarter_hour_of_week(
                        row.quarter.timestamp() / QUARTER_HOUR_SECONDS,
                        period.zone,
                    )?;
                    Some((row.channel, row.state, (hour % 24) as u32, row.calls))
                })
                .collect();
            match hours {
                Some(rows) => tally(rows),
                None => {
                    let (calls, openers) = tokio::try_join!(
                        by_hour(one, CALLS_BY_HOUR, period),
                        by_hour(two, OPENERS_BY_HOUR, period)
                    )?;
                    tally(calls.into_iter().chain(openers).map(|row| {
                        let hour = u32::try_from(row.hour).unwrap_or(0);
                        (row.channel, row.state, hour, row.calls)
                    }))
                }
            }
        })
    }
}
