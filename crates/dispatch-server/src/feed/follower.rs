//! The follower: this process's view of the centre-wide feed.
//!
//! One task per process ([`run`]) publishes the events this process (or a dead one) committed,
//! reads the feed after every notification, brings the geo engine up to date from it and only
//! then broadcasts each event to the process's watchers. The feed lives in PostgreSQL: a watcher
//! that resumes, or one that started before the broadcast caught up, reads the gap from the
//! database, so nothing depends on what one process happened to keep in memory.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use dispatch_domain::directory::Unit;
use dispatch_domain::event::{DirectoryEvent, Event};
use dispatch_domain::ids::{CameraId, IncidentId, UnitId};
use dispatch_proto::v1 as pb;
use dispatch_store::feed::{FeedEvent, IncidentSummary};

use crate::AppState;

/// Events read from the feed per query.
pub(super) const BATCH: i64 = 1000;
/// Events the broadcast keeps for watchers that are momentarily behind.
const RING: usize = 8192;

/// An event with the resources it concerns. The event (its row: kind, actor, details) is what
/// the change did; the resources are as read when the event was delivered, perhaps later.
#[derive(Debug)]
pub struct FeedItem {
    pub event: FeedEvent,
    /// For an incident event: its 1-based position in the incident's timeline right after it.
    pub timeline_position: Option<i64>,
    pub incident: Option<Arc<IncidentSummary>>,
    pub unit: Option<Arc<Unit>>,
    pub referral: Option<Arc<dispatch_domain::referral::Referral>>,
    /// The incident on the wire, rendered once for every watcher that sends it.
    pub rendered_incident: std::sync::OnceLock<pb::Incident>,
    pub rendered_unit: std::sync::OnceLock<pb::Unit>,
}

impl FeedItem {
    pub fn position(&self) -> i64 {
        self.event.position
    }
}

/// The process's feed: where it has got to, and the broadcast to its watchers.
#[derive(Debug)]
pub struct Feed {
    sender: broadcast::Sender<Arc<FeedItem>>,
    /// The last position broadcast. Locked while broadcasting and while subscribing, so a new
    /// subscriber knows exactly which events its receiver will get.
    position: std::sync::Mutex<i64>,
    /// Wakes the publisher after this process commits.
    publish: Notify,
    /// False while the database cannot be reached; requests fail fast meanwhile.
    database_up: AtomicBool,
    poll: Duration,
    /// Snapshots read at once: a thousand consoles reconnecting together queue here instead of
    /// taking every pooled connection (and timing out other requests).
    pub(super) snapshots: tokio::sync::Semaphore,
}

/// How long a new stream waits for the events committed before it to be published.
pub(super) const SETTLE: Duration = Duration::from_secs(1);

/// Snapshots (or resume primes) read at once per process.
const CONCURRENT_SNAPSHOTS: usize = 4;

impl Feed {
    pub fn new(position: i64, poll: Duration) -> Self {
        Self {
            sender: broadcast::channel(RING).0,
            position: std::sync::Mutex::new(position),
            publish: Notify::new(),
            database_up: AtomicBool::new(true),
            poll,
            snapshots: tokio::sync::Semaphore::new(CONCURRENT_SNAPSHOTS),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, i64> {
        self.position
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last position this process has broadcast.
    pub fn position(&self) -> i64 {
        *self.lock()
    }

    /// A receiver of every event after the returned position.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<FeedItem>>, i64) {
        let position = self.lock();
        (self.sender.subscribe(), *position)
    }

    fn broadcast(&self, items: Vec<Arc<FeedItem>>) {
        let mut position = self.lock();
        for item in items {
            *position = item.position();
            // No receivers is fine: nobody is watching.
            let _ = self.sender.send(item);
        }
    }

    /// Called after a mutation commits: publish what it wrote now rather than at the next poll.
    pub fn committed(&self) {
        self.publish.notify_one();
    }

    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    pub fn set_database_up(&self, up: bool) {
        self.database_up.store(up, Ordering::Relaxed);
    }
}

/// Each id once.
fn distinct<T: std::hash::Hash + Eq>(ids: impl Iterator<Item = T>) -> Vec<T> {
    ids.collect::<HashSet<_>>().into_iter().collect()
}

/// Loads what the events concern. Shared by the broadcaster and by watchers catching up.
pub async fn enrich(
    state: &AppState,
    events: Vec<FeedEvent>,
) -> Result<Vec<Arc<FeedItem>>, dispatch_store::Error> {
    let incident_ids: Vec<IncidentId> = distinct(events.iter().filter_map(|e| e.incident));
    let unit_ids: Vec<UnitId> = distinct(events.iter().filter_map(|e| e.unit));
    let incidents: HashMap<IncidentId, Arc<IncidentSummary>> = state
        .store
        .incident_summaries(&incident_ids)
        .await?
        .into_iter()
        .map(|(id, summary)| (id, Arc::new(summary)))
        .collect();
    let units: HashMap<UnitId, Arc<Unit>> = if unit_ids.is_empty() {
        HashMap::new()
    } else {
        state
            .store
            .get_units(&unit_ids)
            .await?
            .into_iter()
            .map(|unit| (unit.id, Arc::new(unit)))
            .collect()
    };
    let timeline_events: Vec<(IncidentId, i64)> = events
        .iter()
        .filter_map(|e| Some((e.incident?, e.seq)))
        .collect();
    let positions = state.store.timeline_positions(&timeline_events).await?;
    let mut referrals: HashMap<
        dispatch_domain::ids::ReferralId,
        Arc<dispatch_domain::referral::Referral>,
    > = HashMap::new();
    for id in events
        .iter()
        .filter_map(|e| e.referral)
        .collect::<HashSet<_>>()
    {
        let referral = state.store.get_referral(id, None).await?;
        referrals.insert(id, Arc::new(referral));
    }
    Ok(events
        .into_iter()
        .map(|event| {
            Arc::new(FeedItem {
                timeline_position: positions.get(&event.seq).copied(),
                referral: event.referral.and_then(|id| referrals.get(&id).cloned()),
                incident: event.incident.and_then(|id| incidents.get(&id).cloned()),
                unit: event.unit.and_then(|id| units.get(&id).cloned()),
                rendered_incident: std::sync::OnceLock::new(),
                rendered_unit: std::sync::OnceLock::new(),
                event,
            })
        })
        .collect())
}

/// The camera an event created or changed: the engine reloads it.
fn camera_of(event: &Event) -> Option<CameraId> {
    match event {
        Event::Directory(
            DirectoryEvent::CameraCreated { camera, .. }
            | DirectoryEvent::CameraUpdated { camera, .. },
        ) => Some(*camera),
        Event::Directory(
            DirectoryEvent::AgencyCreated { .. } | DirectoryEvent::StationCreated { .. },
        )
        | Event::Call(_)
        | Event::Incident(_)
        | Event::Unit(_)
        | Event::Partner(_)
        | Event::Security(_) => None,
    }
}

/// Reads the feed from where this process is, updates the engine, broadcasts.
async fn catch_up(state: &AppState) -> Result<(), dispatch_store::Error> {
    loop {
        let after = state.feed.position();
        let events = state.store.feed_after(after, BATCH).await?;
        let full = events.len() as i64 == BATCH;
        if events.is_empty() {
            return Ok(());
        }
        for event in &events {
            state
                .metrics
                .feed_event_read(event.published_at - event.time);
        }
        // Revocations first: no stream of a revoked credential gets a later event.
        state.revocations.follow(&events);
        let cameras: Vec<CameraId> = events.iter().filter_map(|e| camera_of(&e.event)).collect();
        let items = enrich(state, events).await?;
        // The engine first: a watcher that has seen an event can rely on every engine of the
        // process reflecting it.
        for item in &items {
            if let Some(unit) = &item.unit {
                state.sync_unit(unit);
            }
        }
        if !cameras.is_empty() {
            for camera in state.store.get_cameras(&cameras).await? {
                state.sync_camera(&camera);
            }
        }
        state.feed.broadcast(items);
        if !full {
            return Ok(());
        }
    }
}

fn is_outage(error: &dispatch_store::Error) -> bool {
    matches!(error, dispatch_store::Error::Unavailable(_))
}

/// The feed task: publish, read, apply, broadcast; reconnect and catch up after losing the
/// database. Runs until the process ends.
pub async fn run(state: Arc<AppState>) {
    const FIRST_RETRY: Duration = Duration::from_millis(2);
    let poll = state.feed.poll;
    let mut backoff = Duration::from_millis(50);
    // Whether the engine may have missed changes (the connection to the database was lost).
    let mut lost = false;
    loop {
        let mut listener = match state.store.listen().await {
            Ok(listener) => listener,
            Err(error) => {
                if state.feed.database_up() {
                    tracing::warn!(%error, "feed: lost the database; reconnecting");
                }
                lost = true;
                state.feed.set_database_up(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        if lost {
            // Positions that were never announced may have moved meanwhile: rebuild.
            if let Err(error) = state.rebuild_engine().await {
                tracing::warn!(%error, "feed: rebuilding the engine");
                continue;
            }
            tracing::info!("feed: database back; engine rebuilt, catching up");
        }
        state.feed.set_database_up(true);
        let mut retry = FIRST_RETRY;
        let mut pending = false;
        let mut publish = true;
        let mut read = true;
        loop {
            if publish {
                match state.store.publish_events().await {
                    Ok(published) => {
                        read |= published.last_position > state.feed.position();
                        retry = if published.pending && pending {
                            (retry * 2).min(poll)
                        } else {
                            FIRST_RETRY
                        };
                        pending = published.pending;
                    }
                    Err(error) if is_outage(&error) => {
                        tracing::warn!(%error, "feed: publishing");
                        break;
                    }
                    // Not an outage (a bug, a constraint): keep serving, retry at the next poll.
                    Err(error) => tracing::error!(%error, "feed: publishing"),
                }
            }
            if read {
                match catch_up(&state).await {
                    Ok(()) => {}
                    Err(error) if is_outage(&error) => {
                        tracing::warn!(%error, "feed: reading");
                        break;
                    }
                    Err(error) => tracing::error!(%error, "feed: reading"),
                }
            }
            publish = false;
            read = false;
            let wait = if pending { retry } else { poll };
            tokio::select! {
                notified = listener.notified() => match notified {
                    Ok(()) => read = true,
                    Err(error) => {
                        tracing::warn!(%error, "feed: listener");
                        break;
                    }
                },
                () = state.feed.publish.notified() => publish = true,
                () = tokio::time::sleep(wait) => {
                    publish = true;
                    read = true;
                }
            }
        }
        lost = true;
        state.feed.set_database_up(false);
    }
}
