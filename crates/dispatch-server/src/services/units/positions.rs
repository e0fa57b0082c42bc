//! Position reports (AVL), one at a time, in batches or streamed: validated one by one, stored
//! together, then the engine moves the units.

use chrono::Utc;

use dispatch_domain::Violations;
use dispatch_domain::auth::Role;
use dispatch_proto::v1 as pb;
use dispatch_store::units::PositionOutcome;

use crate::AppState;
use crate::auth::Principal;
use crate::edge::units::{position_update, rejected};
use crate::error::Error;

/// Totals of a stream or batch of position reports.
#[derive(Debug, Default)]
pub struct PositionTally {
    pub accepted: usize,
    pub superseded: usize,
    pub rejected: Vec<pb::RejectedReport>,
}

impl PositionTally {
    /// What the answer reports: the counts, and the rejected reports in the order sent.
    pub fn totals(mut self) -> (i32, i32, Vec<pb::RejectedReport>) {
        self.rejected.sort_by_key(|r| r.index);
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        (count(self.accepted), count(self.superseded), self.rejected)
    }
}

/// Validates and stores reports (`offset` is the index of the first in the whole stream),
/// then moves the units in the engine.
pub async fn store(
    state: &AppState,
    principal: &Principal,
    reports: &[pb::PositionReport],
    offset: usize,
    tally: &mut PositionTally,
) -> Result<(), Error> {
    let now = Utc::now();
    let mut updates = Vec::with_capacity(reports.len());
    let mut indexes = Vec::with_capacity(reports.len());
    for (i, report) in reports.iter().enumerate() {
        match position_update(report, now) {
            // A field unit reports only its own position; others read as unknown units.
            Ok(update)
                if principal.role == Role::FieldUnit && principal.unit != Some(update.unit) =>
            {
                tally.rejected.push(rejected(
                    offset + i,
                    &report.unit,
                    pb::PositionRejectionReason::UnitNotFound,
                    &Violations::new(),
                ));
            }
            Ok(update) => {
                updates.push(update);
                indexes.push(offset + i);
            }
            Err(violations) => {
                tally.rejected.push(rejected(
                    offset + i,
                    &report.unit,
                    pb::PositionRejectionReason::Invalid,
                    &violations,
                ));
            }
        }
    }
    let PositionOutcome {
        applied,
        superseded,
        unknown,
        decommissioned,
    } = state
        .store
        .report_positions(&principal.name, &updates)
        .await?;
    if !applied.is_empty() {
        // Announced moves are events: publish them now rather than at the end of a stream.
        state.feed.committed();
    }
    tally.accepted += applied.len();
    tally.superseded += superseded.len();
    for (reason, refused) in [
        (pb::PositionRejectionReason::UnitNotFound, unknown),
        (pb::PositionRejectionReason::Decommissioned, decommissioned),
    ] {
        for i in refused {
            let index = indexes[i];
            let unit = &reports[index - offset].unit;
            tally
                .rejected
                .push(rejected(index, unit, reason, &Violations::new()));
        }
    }
    let mut engine = state.engine();
    for (_, unit, position) in applied {
        engine.move_unit(
            unit.0,
            dispatch_geo::Fix {
                point: position.point,
                fix_time: position.fix_time,
            },
        );
    }
    Ok(())
}
