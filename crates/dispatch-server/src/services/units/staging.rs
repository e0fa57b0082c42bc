//! Staged units in recommendations: while an operation is in force its staged units are offered
//! first for an incident inside its zones (a search among them alone, then the rest of each
//! requirement from everyone else) and never offered for an incident anywhere else (excluded
//! from the search). Over the engine's own `recommend`, so the ranking is the engine's.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use dispatch_domain::location::GeoPoint;
use dispatch_domain::operation::Staging;
use dispatch_domain::triage::Requirement;
use dispatch_geo::{Engine, Fill};

/// The engine's fills for `plan` at `point`, as staging allows.
pub(super) fn recommend(
    engine: &Engine,
    staging: &Staging,
    point: GeoPoint,
    plan: &[Requirement],
    exclude: &HashSet<Uuid>,
    now: DateTime<Utc>,
) -> Vec<Fill> {
    let mut exclude = exclude.clone();
    exclude.extend(staging.reserved_elsewhere(&point).iter().map(|u| u.0));
    let Some(operation) = staging.operation_at(&point) else {
        return engine.recommend(point, plan, &exclude, now);
    };
    let staged: HashSet<Uuid> = operation.spec.staged.iter().map(|u| u.0).collect();
    if staged.is_empty() {
        return engine.recommend(point, plan, &exclude, now);
    }
    // First among the operation's staged units alone.
    let mut only_staged = exclude.clone();
    only_staged.extend(
        engine
            .unit_ids()
            .into_iter()
            .filter(|id| !staged.contains(id)),
    );
    let first = engine.recommend(point, plan, &only_staged, now);
    // Then what they could not cover, from everyone else.
    let rest: Vec<Requirement> = first
        .iter()
        .map(|fill| Requirement {
            count: fill.shortfall,
            ..fill.requirement.clone()
        })
        .collect();
    let mut others = exclude;
    others.extend(&staged);
    let second = engine.recommend(point, &rest, &others, now);
    let label = format!("staged for {}; ", operation.spec.name);
    first
        .into_iter()
        .zip(second)
        .map(|(mut staged_fill, other_fill)| {
            for candidate in &mut staged_fill.candidates {
                candidate.reason.insert_str(0, &label);
            }
            let (staged_picks, staged_spare) = split(staged_fill.candidates, staged_fill.picked);
            let (other_picks, other_spare) = split(other_fill.candidates, other_fill.picked);
            let picked = staged_picks.len() + other_picks.len();
            let mut candidates = staged_picks;
            candidates.extend(other_picks);
            candidates.extend(staged_spare);
            candidates.extend(other_spare);
            Fill {
                requirement: staged_fill.requirement,
                candidates,
                picked,
                shortfall: other_fill.shortfall,
            }
        })
        .collect()
}

fn split<T>(mut list: Vec<T>, at: usize) -> (Vec<T>, Vec<T>) {
    let spare = list.split_off(at.min(list.len()));
    (list, spare)
}
