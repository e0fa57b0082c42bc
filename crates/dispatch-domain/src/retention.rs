//! How long records are kept: the centre's retention policy, and the cutoff times a run of the
//! retention job derives from it. Unset periods keep records forever.

use chrono::{DateTime, Months, Utc};

/// The shortest audit retention accepted: CJIS keeps audit records at least one year.
pub const MIN_AUDIT_DAYS: u32 = 365;

/// A retention period as the law and policies state them: days, weeks or calendar years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Years(u32),
}

impl Period {
    /// `400d`, `52w` or `5y`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u32 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a retention period like 400d or 5y"))?;
        if number == 0 {
            return Err(format!(
                "{text:?}: a retention period must be longer than 0"
            ));
        }
        let period = match unit {
            "d" => Self::Days(number),
            "w" => Self::Days(
                number
                    .checked_mul(7)
                    .ok_or_else(|| format!("{text:?} is too long"))?,
            ),
            "y" => Self::Years(number),
            _ => return Err(format!("{text:?}: the unit must be d, w or y")),
        };
        // A period so long no date is that far back is refused now, not at every run.
        period.cutoff(DateTime::UNIX_EPOCH)?;
        Ok(period)
    }

    /// The fewest days this period can be (a year is at least 365 days).
    pub fn min_days(self) -> u64 {
        match self {
            Self::Days(days) => u64::from(days),
            Self::Years(years) => u64::from(years) * 365,
        }
    }

    /// Records from before the returned time are past this period at `now`. Years are calendar
    /// years (29 February goes back to 28 February).
    pub fn cutoff(self, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let cutoff = match self {
            Self::Days(days) => now.checked_sub_signed(chrono::Duration::days(i64::from(days))),
            Self::Years(years) => years
                .checked_mul(12)
                .and_then(|months| now.checked_sub_months(Months::new(months))),
        };
        cutoff.ok_or_else(|| format!("{self} is too long"))
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Days(days) => write!(f, "{days}d"),
            Self::Years(years) => write!(f, "{years}y"),
        }
    }
}

/// How long each kind of record is kept; `None` keeps it forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// The audit trail.
    pub audit: Option<Period>,
    /// Calls, and closed incidents with their records (notes, triage, assignments, alerts,
    /// imports, events) once every call of theirs is past it.
    pub calls: Option<Period>,
    /// Referrals in a final state, with the victim data they carry and their history.
    pub referrals: Option<Period>,
    /// The event log and the feed's positions (events carry personal data in their payloads).
    pub events: Option<Period>,
}

impl Policy {
    /// Checks the policy as a whole; `audit_flag` names the audit period's setting in the error.
    pub fn validate(&self, audit_flag: &str) -> Result<(), String> {
        if let Some(audit) = self.audit
            && audit.min_days() < u64::from(MIN_AUDIT_DAYS)
        {
            return Err(format!(
                "{audit_flag} {audit} is shorter than a year: audit records must be kept at least \
                 {MIN_AUDIT_DAYS} days (CJIS)"
            ));
        }
        Ok(())
    }

    /// Whether anything is ever purged.
    pub fn purges_anything(&self) -> bool {
        self.audit.is_some()
            || self.calls.is_some()
            || self.referrals.is_some()
            || self.events.is_some()
    }

    /// The cutoff of every kind at `now`.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> Result<Cutoffs, String> {
        let cutoff = |period: Option<Period>| period.map(|p| p.cutoff(now)).transpose();
        let audit = cutoff(self.audit)?;
        let calls = cutoff(self.calls)?;
        let referrals = cutoff(self.referrals)?;
        let events = cutoff(self.events)?;
        // The newest of the cutoffs that remove events: the feed's old positions go before it,
        // and request records (which hold requests' bytes) with the shortest period.
        let newest = [calls, referrals, events].into_iter().flatten().max();
        Ok(Cutoffs {
            now,
            audit,
            calls,
            referrals,
            events,
            feed: newest,
            requests: newest,
        })
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |period: Option<Period>| period.map_or("forever".to_owned(), |p| p.to_string());
        write!(
            f,
            "audit {}, calls {}, referrals {}, events {}",
            show(self.audit),
            show(self.calls),
            show(self.referrals),
            show(self.events)
        )
    }
}

/// A run's cutoffs: records older than these go; `None` keeps that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub now: DateTime<Utc>,
    pub audit: Option<DateTime<Utc>>,
    pub calls: Option<DateTime<Utc>>,
    pub referrals: Option<DateTime<Utc>>,
    pub events: Option<DateTime<Utc>>,
    /// Feed positions published before this are dropped (their events may stay).
    pub feed: Option<DateTime<Utc>>,
    /// Request records (kept to answer retries) made before this go.
    pub requests: Option<DateTime<Utc>>,
}

impl std::fmt::Display for Cutoffs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |cutoff: Option<DateTime<Utc>>| {
            cutoff.map_or("none".to_owned(), |c| {
                c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
        };
        write!(
            f,
            "audit {}, calls {}, referrals {}, events {}, feed {}, requests {}",
            show(self.audit),
            show(self.calls),
            show(self.referrals),
            show(self.events),
            show(self.feed),
            show(self.requests)
        )
    }
}

/// What a run purged (or, dry, would purge), per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub audit_records: i64,
    pub incidents: i64,
    pub calls: i64,
    pub referrals: i64,
    pub events: i64,
    pub feed_positions: i64,
    pub request_records: i64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "audit_records={} incidents={} calls={} referrals={} events={} feed_positions={} \
             request_records={}",
            self.audit_records,
            self.incidents,
            self.calls,
            self.referrals,
            self.events,
            self.feed_positions,
            self.request_records
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_days_weeks_and_years() {
        assert_eq!(Period::parse("400d"), Ok(Period::Days(400)));
        assert_eq!(Period::parse("52w"), Ok(Period::Days(364)));
        assert_eq!(Period::parse(" 5y "), Ok(Period::Years(5)));
        for bad in ["", "5", "5h", "0d", "-3d", "y", "99999999999d"] {
            assert!(Period::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn years_are_calendar_years() {
        let now: DateTime<Utc> = "2028-02-29T12:00:00Z".parse().unwrap();
        let cutoff = Period::Years(1).cutoff(now).unwrap();
        assert_eq!(
            cutoff,
            "2027-02-28T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let cutoff = Period::Days(400).cutoff(now).unwrap();
        assert_eq!(cutoff, now - chrono::Duration::days(400));
    }

    #[test]
    fn audit_periods_under_a_year_are_refused_naming_the_setting() {
        let mut policy = Policy {
            audit: Some(Period::Days(364)),
            ..Policy::default()
        };
        let error = policy.validate("--retain-audit").unwrap_err();
        assert!(error.contains("--retain-audit 364d"), "{error}");
        policy.audit = Some(Period::Days(MIN_AUDIT_DAYS));
        assert_eq!(policy.validate("--retain-audit"), Ok(()));
        policy.audit = Some(Period::Years(1));
        assert_eq!(policy.validate("--retain-audit"), Ok(()));
        assert_eq!(Policy::default().validate("--retain-audit"), Ok(()));
    }

    #[test]
    fn the_feed_and_request_records_go_with_the_shortest_event_bearing_period() {
        let now: DateTime<Utc> = "2030-06-01T00:00:00Z".parse().unwrap();
        let policy = Policy {
            audit: Some(Period::Years(7)),
            calls: Some(Period::Years(5)),
            referrals: Some(Period::Days(400)),
            events: None,
        };
        let cutoffs = policy.cutoffs(now).unwrap();
        assert_eq!(cutoffs.feed, Some(now - chrono::Duration::days(400)));
        assert_eq!(cutoffs.requests, cutoffs.feed);
        assert_eq!(cutoffs.events, None);
        let keep_all = Policy::default().cutoffs(now).unwrap();
        assert_eq!((keep_all.feed, keep_all.audit), (None, None));
        assert!(!Policy::default().purges_anything());
    }
}
