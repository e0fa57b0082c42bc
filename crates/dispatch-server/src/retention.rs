//! The retention job in `dispatchd`: its settings, the periodic task, and the one-shot
//! `dispatchd retention` command. The purge runs in PostgreSQL as the owner role
//! (`dispatch_store::retention`), never through the pooled `dispatch_app` connections.

use std::time::Duration;

use dispatch_domain::retention::Policy;
use dispatch_store::retention::{Report, Run};

pub use crate::config::{Command, RetentionConfig};

impl RetentionConfig {
    /// The policy, checked: an audit period under a year is refused naming its flag.
    pub fn policy(&self) -> Result<Policy, String> {
        let policy = Policy {
            audit: self.retain_audit,
            calls: self.retain_calls,
            referrals: self.retain_referrals,
            events: self.retain_events,
        };
        policy.validate("--retain-audit (DISPATCH_RETAIN_AUDIT)")?;
        Ok(policy)
    }

    fn run(&self, policy: Policy, dry_run: bool) -> Run {
        Run {
            policy,
            batch: self.retention_batch,
            dry_run,
        }
    }
}

/// Starts the periodic job when a period is set: a run at start, then every interval, each on
/// its own owner connection to `database_url`.
pub fn spawn(
    config: &RetentionConfig,
    policy: Policy,
    database_url: String,
) -> Option<tokio::task::JoinHandle<()>> {
    if !policy.purges_anything() {
        return None;
    }
    let run = config.run(policy, false);
    let every = config.retention_interval.max(Duration::from_secs(1));
    tracing::info!(%policy, interval = ?every, "retention job scheduled");
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match dispatch_store::retention::run(&database_url, &run).await {
                Ok(Some(report)) => log(&report),
                Ok(None) => tracing::info!("retention: another process is purging; skipped"),
                Err(error) => {
                    tracing::warn!(%error, "retention run failed; retrying next interval")
                }
            }
        }
    }))
}

fn log(report: &Report) {
    tracing::info!(
        purged = %report.counts,
        cutoffs = %report.cutoffs,
        role = %report.role,
        audit_records = ?report.audit_records,
        "retention run finished"
    );
}

/// `dispatchd retention [--dry-run]`: one run now; what it did, for people.
pub async fn run_once(
    config: &RetentionConfig,
    database_url: &str,
    dry_run: bool,
) -> Result<String, String> {
    let policy = config.policy()?;
    let report = dispatch_store::retention::run(database_url, &config.run(policy, dry_run))
        .await
        .map_err(|error| format!("retention: {error}"))?
        .ok_or("retention: another process is purging now; try again later")?;
    Ok(render(&policy, &report))
}

fn render(policy: &Policy, report: &Report) -> String {
    let verb = if report.dry_run {
        "would purge"
    } else {
        "purged"
    };
    let mut text = format!(
        "retention {} as database role {}\npolicy: {policy}\ncutoffs: {}\n{verb}: {}\n",
        if report.dry_run { "dry run" } else { "run" },
        report.role,
        report.cutoffs,
        report.counts,
    );
    if !report.audit_records.is_empty() {
        let names: Vec<String> = report
            .audit_records
            .iter()
            .map(|id| format!("audit-records/{id}"))
            .collect();
        text.push_str(&format!("recorded: {}\n", names.join(", ")));
    }
    text
}
