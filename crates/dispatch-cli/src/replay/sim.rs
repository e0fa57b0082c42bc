//! The simulated centre: its staff, the clock's timers, the gate that keeps nearby calls in
//! order, and the counts every step adds to.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;
use indicatif::ProgressBar;
use tokio::sync::{Notify, mpsc};

use crate::client::Clients;
use crate::demo;
use crate::parse;

use super::args::{Clock, Lifecycle};
use super::{data, report};

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A call waits while an earlier call this close (metres) is still being taken: further than
/// the largest duplicate search radius the server uses by default (2 km).
pub(super) const GATE_RADIUS_M: f64 = 2_500.0;
/// Simulated time from a call to its units' assignment (call processing).
pub(super) const PROCESSING: Duration = Duration::from_secs(60);
/// Simulated turnout: assignment to en route.
pub(super) const TURNOUT: Duration = Duration::from_secs(45);

pub(super) fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// One simulated staff member's credentials.
#[derive(Debug, Clone)]
pub(super) struct Staff {
    pub(super) taker: Clients,
    pub(super) dispatcher: Clients,
}

#[derive(Debug)]
pub(super) enum Action {
    EnRoute {
        unit: String,
        incident: String,
        /// Until on scene; `None` when the unit never got there (the data's unit was
        /// cancelled on the way): it clears `scene` after en route.
        travel: Option<Duration>,
        scene: Duration,
        at: (f64, f64),
    },
    OnScene {
        unit: String,
        incident: String,
        scene: Duration,
        at: (f64, f64),
    },
    Clear {
        unit: String,
        incident: String,
    },
    CloseEmpty {
        incident: String,
    },
    /// Following the data: units of a call dispatched later than its first (planned
    /// assignments' indices).
    Assign {
        incident: String,
        group: Vec<usize>,
        recommendation: String,
        at: (f64, f64),
    },
    /// Following the data: step `step` of a planned assignment.
    Step {
        index: usize,
        incident: String,
        step: usize,
        at: (f64, f64),
    },
}

#[derive(Debug)]
pub(super) struct Timer {
    pub(super) due: DateTime<Utc>,
    pub(super) seq: u64,
    pub(super) staff: usize,
    pub(super) action: Action,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed: the earliest timer is the greatest, for BinaryHeap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

/// An incident with units out.
#[derive(Debug)]
pub(super) struct Open {
    pub(super) remaining: usize,
    pub(super) closing: pb::ClosingCode,
}

pub(super) struct Sim {
    pub(super) staff: Vec<Staff>,
    pub(super) gateway: Clients,
    pub(super) protocols: HashMap<String, pb::Protocol>,
    pub(super) stats: Mutex<report::Stats>,
    pub(super) gate: Mutex<Vec<(usize, f64, f64)>>,
    pub(super) gate_changed: Notify,
    pub(super) open: Mutex<HashMap<String, Open>>,
    pub(super) timers: mpsc::UnboundedSender<Timer>,
    pub(super) seq: std::sync::atomic::AtomicU64,
    pub(super) lifecycle: Lifecycle,
    pub(super) clock: Clock,
    pub(super) progress: ProgressBar,
    /// Send the units the data says were sent, at the data's times (SF), rather than the
    /// recommended ones at simulated times.
    pub(super) follow: Option<super::follow::Follow>,
    /// Unit names by call sign, and each unit's home point (where it returns when it clears,
    /// when following the data).
    pub(super) units: HashMap<String, String>,
    pub(super) homes: HashMap<String, (f64, f64)>,
}

impl Sim {
    /// Calls one RPC, timed. The client layer retries what the server asks to be retried (see
    /// [`crate::retry`]), with the same request.
    pub(super) async fn rpc<T>(
        &self,
        name: &'static str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        let start = Instant::now();
        let response = call.await?;
        lock(&self.stats).record(name, start.elapsed());
        Ok(response.into_inner())
    }

    pub(super) fn fail(&self, name: &'static str, status: &tonic::Status) {
        lock(&self.stats).error(name, status);
    }

    /// A call taker's RPC failed: the row counts as a failed intake and lets the next call
    /// near it through.
    pub(super) fn intake_failed(
        &self,
        name: &'static str,
        status: &tonic::Status,
        row: &data::Row,
    ) {
        self.fail(name, status);
        lock(&self.stats).counts.failed_intake += 1;
        self.leave_gate(row.index);
        self.progress.inc(1);
    }

    pub(super) fn schedule(&self, due: DateTime<Utc>, staff: usize, action: Action) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The receiver lives as long as the replay; a send fails only when it is over.
        let _ = self.timers.send(Timer {
            due,
            seq,
            staff,
            action,
        });
    }

    pub(super) async fn enter_gate(&self, row: &data::Row) {
        loop {
            let notified = self.gate_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut gate = lock(&self.gate);
                if !gate.iter().any(|(_, lat, lon)| {
                    haversine_m((row.lat, row.lon), (*lat, *lon)) < GATE_RADIUS_M
                }) {
                    gate.push((row.index, row.lat, row.lon));
                    return;
                }
            }
            notified.await;
        }
    }

    pub(super) fn leave_gate(&self, index: usize) {
        lock(&self.gate).retain(|(i, _, _)| *i != index);
        self.gate_changed.notify_waiters();
    }
}

pub(super) fn timestamp(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(parse::timestamp(t))
}

pub(super) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// How long units stay on scene: the data's when it has it, otherwise by type, varied.
pub(super) fn scene_time(row: &data::Row) -> Duration {
    if let Some(scene) = row.scene {
        return scene.clamp(Duration::from_secs(5 * 60), Duration::from_secs(3 * 3600));
    }
    let minutes = match row.incident_type {
        "TRAFFIC-COLLISION" => 25.0,
        "TRAFFIC-FATALITY" => 120.0,
        "TRAFFIC-TRAPPED" | "TRAFFIC-DROP" | "TRAFFIC-ROLLOVER" => 60.0,
        t if t.starts_with("FIRE") => 50.0,
        _ => 40.0,
    };
    let factor = 0.6 + demo::city::Rng::for_name(0x5ce7e, &row.key).unit();
    Duration::from_secs_f64(minutes * 60.0 * factor)
}

pub(super) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or_default()
}
