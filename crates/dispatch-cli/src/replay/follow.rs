//! Following the data (SF): every unit the data sent is assigned, moved through the statuses
//! the data has for it and cleared, each at the data's own time (back-entered), exactly as
//! [`intervals::plan`] lays out; so the interval report over the replay can be set against
//! the figures the data's own timestamps give.
//!
//! A unit's assignments follow one another: the next is sent only when the previous one has
//! reached its end (cleared), or has done every step before the new dispatch and is released
//! there (the data re-tasked the unit). Timers and calls run concurrently, so a call waits for
//! that, with a bounded patience; a unit that never becomes free is counted, not faked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;
use tokio::sync::Notify;

use super::intervals::{End, Plan};
use super::sim::{Action, Sim, lock, request_id, timestamp};
use super::steps::{finish_unit, report_position, set_status};
use super::{data, intervals};

/// How long a call waits for one of its units to be done with its previous call.
const PATIENCE: Duration = Duration::from_secs(120);

/// Where one planned assignment stands.
#[derive(Debug, Clone)]
enum Progress {
    /// Assigned, steps under way.
    Assigned,
    /// Every step done; it ends when the unit's next call releases it (re-tasked) or never.
    StepsDone { incident: String },
    /// Cleared or released.
    Ended,
    /// Never assigned: the unit is free as far as this assignment goes.
    Failed,
}

/// The plan and how far the replay has got with it.
pub(super) struct Follow {
    pub(super) plan: Plan,
    progress: Mutex<HashMap<usize, Progress>>,
    changed: Notify,
    /// Times go to the server (status_time, dispatch_time, release_time) only on the data's
    /// clock; with `--clock now` the calls are received now, and so is everything else.
    back_enter: bool,
}

impl Follow {
    pub(super) fn new(plan: Plan, back_enter: bool) -> Self {
        Self {
            plan,
            progress: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            back_enter,
        }
    }

    fn set(&self, index: usize, progress: Progress) {
        lock(&self.progress).insert(index, progress);
        self.changed.notify_waiters();
    }

    /// A back-entered time, when the replay back-enters.
    pub(super) fn at(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.back_enter.then_some(time)
    }
}

/// What the previous assignment of a unit leaves to do before it is sent again.
enum Ready {
    Free,
    /// Release it from `incident` at `at` first (re-tasked).
    Release {
        incident: String,
        at: DateTime<Utc>,
    },
}

async fn ready(follow: &Follow, index: usize) -> Option<Ready> {
    let Some(previous) = follow.plan.assignments[index].previous else {
        return Some(Ready::Free);
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let notified = follow.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match lock(&follow.progress).get(&previous) {
            Some(Progress::Ended | Progress::Failed) => return Some(Ready::Free),
            Some(Progress::StepsDone { incident }) => {
                if let End::Retasked(at) = follow.plan.assignments[previous].end {
                    return Some(Ready::Release {
                        incident: incident.clone(),
                        at,
                    });
                }
                return Some(Ready::Free);
            }
            Some(Progress::Assigned) | None => {}
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return None;
        }
    }
}

/// The call's planned assignments: the first dispatch time's now, each later one at its time.
pub(super) async fn send(
    sim: &Sim,
    follow: &Follow,
    row: &data::Row,
    staff: usize,
    incident: &str,
    recommendation: &str,
) {
    let planned = follow
        .plan
        .by_call
        .get(&row.index)
        .cloned()
        .unwrap_or_default();
    let mut groups: Vec<(DateTime<Utc>, Vec<usize>)> = Vec::new();
    for index in planned {
        let at = follow.plan.assignments[index].dispatched;
        match groups.iter_mut().find(|(t, _)| *t == at) {
            Some((_, group)) => group.push(index),
            None => groups.push((at, vec![index])),
        }
    }
    groups.sort_by_key(|(t, _)| *t);
    let mut groups = groups.into_iter();
    let Some((_, first)) = groups.next() else {
        return;
    };
    for (at, group) in groups {
        sim.schedule(
            at,
            staff,
            Action::Assign {
                incident: incident.to_owned(),
                group,
                recommendation: recommendation.to_owned(),
                at: (row.lat, row.lon),
            },
        );
    }
    assign(
        sim,
        follow,
        staff,
        incident,
        first,
        recommendation,
        (row.lat, row.lon),
    )
    .await;
}

/// Sends one group of units dispatched at the same time: each once free of its previous call.
pub(super) async fn assign(
    sim: &Sim,
    follow: &Follow,
    staff: usize,
    incident: &str,
    group: Vec<usize>,
    recommendation: &str,
    point: (f64, f64),
) {
    let dispatcher = &sim.staff[staff].dispatcher;
    let mut names = Vec::new();
    let mut sendable = Vec::new();
    for index in group {
        let planned = &follow.plan.assignments[index];
        let Some(name) = sim.units.get(&format!("SF-{}", planned.unit)).cloned() else {
            not_sent(sim, follow, index, staff, incident).await;
            continue;
        };
        match ready(follow, index).await {
            Some(Ready::Free) => {}
            Some(Ready::Release { incident: from, at }) => {
                let release = pb::ReleaseUnitRequest {
                    request_id: request_id(),
                    unit: name.clone(),
                    incident: from.clone(),
                    reason: "replay: the data sent it to another call".into(),
                    release_time: follow.at(at).and_then(timestamp),
                };
                match sim
                    .rpc("ReleaseUnit", dispatcher.units().release_unit(release))
                    .await
                {
                    Ok(_) => lock(&sim.stats).counts.units_retasked += 1,
                    Err(status) => sim.fail("ReleaseUnit", &status),
                }
                if let Some(previous) = planned.previous {
                    follow.set(previous, Progress::Ended);
                }
                finish_unit(sim, staff, &from).await;
            }
            None => {
                lock(&sim.stats).counts.units_busy_in_replay += 1;
                not_sent(sim, follow, index, staff, incident).await;
                continue;
            }
        }
        names.push(name);
        sendable.push(index);
    }
    if sendable.is_empty() {
        return;
    }
    let dispatched = follow.plan.assignments[sendable[0]].dispatched;
    let request = pb::AssignUnitsRequest {
        request_id: request_id(),
        incident: incident.to_owned(),
        units: names,
        recommendation: recommendation.to_owned(),
        override_reason: "replay: the units the data says were sent".into(),
        dispatch_time: follow.at(dispatched).and_then(timestamp),
    };
    if let Err(status) = sim
        .rpc("AssignUnits", dispatcher.units().assign_units(request))
        .await
    {
        sim.fail("AssignUnits", &status);
        for index in sendable {
            not_sent(sim, follow, index, staff, incident).await;
        }
        return;
    }
    {
        let mut stats = lock(&sim.stats);
        stats.counts.units_assigned += sendable.len() as u64;
        stats.counts.units_sent_as_in_data += sendable.len() as u64;
    }
    for index in sendable {
        follow.set(index, Progress::Assigned);
        next_step(sim, follow, staff, index, incident, 0, point);
    }
}

/// A planned unit that could not be sent: its call stops waiting for it.
async fn not_sent(sim: &Sim, follow: &Follow, index: usize, staff: usize, incident: &str) {
    follow.set(index, Progress::Failed);
    finish_unit(sim, staff, incident).await;
}

/// Schedules step `step` of the assignment (its end after the last status).
fn next_step(
    sim: &Sim,
    follow: &Follow,
    staff: usize,
    index: usize,
    incident: &str,
    step: usize,
    point: (f64, f64),
) {
    let planned = &follow.plan.assignments[index];
    let due = match (planned.steps.get(step).copied(), planned.end) {
        (Some((_, t)), _) | (None, End::Cleared(t)) => t,
        // Nothing more to enter: it waits for its next call (or stays, left open).
        (None, End::Retasked(_) | End::Open) => planned.dispatched,
    };
    sim.schedule(
        due,
        staff,
        Action::Step {
            index,
            incident: incident.to_owned(),
            step,
            at: point,
        },
    );
}

/// One step of a planned assignment: a status at its time, or the end.
pub(super) async fn step(
    sim: &Sim,
    staff: usize,
    index: usize,
    incident: String,
    step: usize,
    point: (f64, f64),
) {
    let Some(follow) = &sim.follow else { return };
    let planned = &follow.plan.assignments[index];
    let unit = sim
        .units
        .get(&format!("SF-{}", planned.unit))
        .cloned()
        .unwrap_or_default();
    if let Some((status, t)) = planned.steps.get(step).copied() {
        if status == pb::UnitStatus::OnScene {
            report_position(sim, &unit, point).await;
        }
        set_status(sim, staff, &unit, &incident, status, follow.at(t)).await;
        next_step(sim, follow, staff, index, &incident, step + 1, point);
        return;
    }
    match planned.end {
        End::Cleared(t) => {
            if let Some(home) = sim.homes.get(&unit) {
                report_position(sim, &unit, *home).await;
            }
            let status = pb::UnitStatus::Available;
            if set_status(sim, staff, &unit, &incident, status, follow.at(t)).await {
                lock(&sim.stats).counts.units_cleared += 1;
            }
            follow.set(index, Progress::Ended);
            finish_unit(sim, staff, &incident).await;
        }
        End::Retasked(_) => follow.set(index, Progress::StepsDone { incident }),
        End::Open => {
            lock(&sim.stats).counts.units_left_committed += 1;
            follow.set(index, Progress::StepsDone { incident });
        }
    }
}

/// The plan of a replay that follows the data, and whether it back-enters.
pub(super) fn follow(rows: &[data::Row], full: bool, back_enter: bool) -> Follow {
    Follow::new(intervals::plan(rows, full), back_enter)
}
