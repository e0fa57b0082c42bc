//! Reports supervisors are judged by: the period every report covers, and (in the submodules)
//! each report's definitions, computed from values the store reads. Pure: the store reads rows,
//! these functions decide what counts and how.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::Violations;

pub mod duplicates;
pub mod intervals;
pub mod utilization;

/// A report may cover at most this many days.
pub const MAX_PERIOD_DAYS: i64 = 400;
/// The zone of hours of day and week when the request names none.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::America::Mexico_City;

/// `[start, end)`, selected by each incident's first call (each call's reception for call
/// reports), with the zone hours of day and week are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub zone: Tz,
}

impl Period {
    /// Checks the bounds and the zone; violations name `field.start_time`, `field.end_time`
    /// and `field.time_zone`.
    pub fn new(
        field: &str,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        zone: &str,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if start.is_none() {
            violations.add(format!("{field}.start_time"), "is required");
        }
        if end.is_none() {
            violations.add(format!("{field}.end_time"), "is required");
        }
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                violations.add(format!("{field}.end_time"), "must be after start_time");
            } else if end - start > Duration::days(MAX_PERIOD_DAYS) {
                violations.add(
                    format!("{field}.end_time"),
                    format!("a report covers at most {MAX_PERIOD_DAYS} days"),
                );
            }
        }
        let zone = if zone.is_empty() {
            Some(DEFAULT_TIME_ZONE)
        } else {
            match zone.parse::<Tz>() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    violations.add(
                        format!("{field}.time_zone"),
                        format!("{zone:?} is not an IANA time zone name"),
                    );
                    None
                }
            }
        };
        match (start, end, zone) {
            (Some(start), Some(end), Some(zone)) if violations.is_empty() => {
                Ok(Self { start, end, zone })
            }
            _ => Err(violations),
        }
    }

    pub fn length(&self) -> Duration {
        self.end - self.start
    }

    /// The period of the same length right before this one.
    pub fn previous(&self) -> Self {
        Self {
            start: self.start - self.length(),
            end: self.start,
            zone: self.zone,
        }
    }

    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn a_period_needs_both_bounds_in_order_and_a_known_zone() {
        let ok = Period::new(
            "period",
            at("2020-04-01T00:00:00Z"),
            at("2020-05-01T00:00:00Z"),
            "",
        )
        .unwrap();
        assert_eq!(ok.zone, DEFAULT_TIME_ZONE);
        assert_eq!(
            ok.previous().start,
            "2020-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let fields = |v: Violations| v.iter().map(|v| v.field.clone()).collect::<Vec<_>>();
        let bad =
            Period::new("period", None, at("2020-01-01T00:00:00Z"), "Mars/Olympus").unwrap_err();
        assert_eq!(fields(bad), ["period.start_time", "period.time_zone"]);
        let reversed = Period::new(
            "period",
            at("2020-02-01T00:00:00Z"),
            at("2020-01-01T00:00:00Z"),
            "UTC",
        );
        assert_eq!(fields(reversed.unwrap_err()), ["period.end_time"]);
        let long = Period::new(
            "p",
            at("2019-01-01T00:00:00Z"),
            at("2020-03-01T00:00:00Z"),
            "UTC",
        );
        assert_eq!(fields(long.unwrap_err()), ["p.end_time"]);
    }
}
