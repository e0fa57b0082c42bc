//! The Watch stream protocol every Watch RPC shares: a snapshot (or a resume from a sequence),
//! then the events in feed order, heartbeats while idle, and ResyncRequired when a watcher fell
//! too far behind or its gap can no longer be read.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use dispatch_proto::v1 as pb;

use crate::AppState;
use crate::error::Error;

use super::follower::{BATCH, FeedItem, SETTLE, enrich};

/// A Watch RPC's response: one item of the stream, whatever resource it watches.
pub trait WatchResponse: Send + 'static {
    /// The resource as a snapshot item shows it.
    type Resource;
    /// A change as an event item shows it.
    type Event;

    fn snapshot(resource: Self::Resource) -> Self;
    fn event(event: Self::Event) -> Self;
    fn snapshot_complete(message: pb::SnapshotComplete) -> Self;
    fn resync(message: pb::ResyncRequired) -> Self;
    fn heartbeat(message: pb::Heartbeat) -> Self;
}

/// Each Watch RPC's response, declared once: `Response => its item module`.
macro_rules! watch_response {
    ($($response:ident => $item:ident { $resource:ty, $event:ty })+) => {$(
        impl WatchResponse for pb::$response {
            type Resource = $resource;
            type Event = $event;

            fn snapshot(resource: $resource) -> Self {
                Self { item: Some(pb::$item::Item::Snapshot(resource)) }
            }

            fn event(event: $event) -> Self {
                Self { item: Some(pb::$item::Item::Event(event)) }
            }

            fn snapshot_complete(message: pb::SnapshotComplete) -> Self {
                Self { item: Some(pb::$item::Item::SnapshotComplete(message)) }
            }

            fn resync(message: pb::ResyncRequired) -> Self {
                Self { item: Some(pb::$item::Item::ResyncRequired(message)) }
            }

            fn heartbeat(message: pb::Heartbeat) -> Self {
                Self { item: Some(pb::$item::Item::Heartbeat(message)) }
            }
        }
    )+};
}

watch_response! {
    WatchIncidentsResponse => watch_incidents_response { pb::Incident, Box<pb::IncidentEvent> }
    WatchUnitsResponse => watch_units_response { pb::Unit, pb::UnitEvent }
    WatchReferralsResponse => watch_referrals_response { pb::Referral, pb::ReferralEvent }
}

/// What a Watch RPC adds to the shared stream protocol.
pub trait Watch: Send + 'static {
    type Response: WatchResponse;

    /// The matching resources now, as snapshot messages; remembers them as in view.
    fn snapshot(
        &mut self,
        state: &AppState,
    ) -> impl Future<Output = Result<Vec<Self::Response>, Error>> + Send;

    /// Remembers what matches now as in view without sending it (a resumed stream).
    fn prime(&mut self, state: &AppState) -> impl Future<Output = Result<(), Error>> + Send;

    /// The message for an event, if it concerns this stream. Most are made from the item alone;
    /// one that needs more (an EIDO is the whole incident) reads it here.
    fn event(
        &mut self,
        item: &FeedItem,
    ) -> impl Future<Output = Result<Option<Self::Response>, Error>> + Send;
}

/// A Watch RPC's stream of responses, as its service returns it.
pub type WatchStream<T> = ReceiverStream<Result<T, Status>>;

/// Starts a Watch stream: snapshot or resume, the gap from the database, then live events.
pub fn spawn_watch<W: Watch>(
    state: Arc<AppState>,
    mut watch: W,
    after: i64,
) -> WatchStream<W::Response> {
    // One slot more than the buffer: a stream that fills the buffer still has room to be told
    // to resync.
    let (sender, receiver) = mpsc::channel(state.watch_buffer + 1);
    tokio::spawn(async move {
        // A client that went away or was told to resync needs telling nothing more.
        if let Err(Stop::Failed(status)) = stream(&state, &mut watch, after, &sender).await {
            let _ = sender.try_send(Err(status));
        }
    });
    ReceiverStream::new(receiver)
}

fn resync(reason: pb::ResyncReason, latest: i64, description: &str) -> pb::ResyncRequired {
    pb::ResyncRequired {
        reason: reason.into(),
        latest_sequence: latest,
        description: description.into(),
    }
}

/// Tells a watcher resuming from a position the retention job removed to start over.
fn expired<R: WatchResponse>(sender: &mpsc::Sender<Result<R, Status>>, latest: i64) -> Stop {
    let _ = sender.try_send(Ok(R::resync(resync(
        pb::ResyncReason::SequenceExpired,
        latest,
        "after_sequence is older than the oldest retained event: reconnect with after_sequence = 0",
    ))));
    Stop::Done
}

/// Why a stream ended early.
enum Stop {
    /// The client went away or was told to resync.
    Done,
    Failed(Status),
}

impl From<dispatch_store::Error> for Stop {
    fn from(error: dispatch_store::Error) -> Self {
        Self::Failed(Error::from(error).into())
    }
}

/// Queues one event for the client; a client too slow to take it is told to resync.
fn deliver<R: WatchResponse>(
    sender: &mpsc::Sender<Result<R, Status>>,
    message: R,
    position: i64,
) -> Result<(), Stop> {
    if sender.capacity() <= 1 {
        let _ = sender.try_send(Ok(R::resync(resync(
            pb::ResyncReason::SlowConsumer,
            position,
            "the client did not keep up; reconnect with after_sequence = 0",
        ))));
        return Err(Stop::Done);
    }
    sender.try_send(Ok(message)).map_err(|_| Stop::Done)
}

async fn event<W: Watch>(watch: &mut W, item: &FeedItem) -> Result<Option<W::Response>, Stop> {
    watch
        .event(item)
        .await
        .map_err(|error| Stop::Failed(error.into()))
}

async fn stream<W: Watch>(
    state: &AppState,
    watch: &mut W,
    after: i64,
    sender: &mpsc::Sender<Result<W::Response, Status>>,
) -> Result<(), Stop> {
    // Subscribe before reading anything: every event after `live_from` arrives on the receiver.
    let (mut receiver, live_from) = state.feed.subscribe();
    // Reading the snapshot takes a permit; sending it to a client, however slow, does not.
    let permit = state
        .feed
        .snapshots
        .acquire()
        .await
        .map_err(|_| Stop::Done)?;
    // Publish what has committed so far first, so the snapshot's sequence covers everything
    // the snapshot shows (unless a long transaction elsewhere holds it back: then a little
    // of the snapshot may arrive again as events, which consoles apply harmlessly).
    let settle_by = tokio::time::Instant::now() + SETTLE;
    let head = loop {
        let published = state.store.publish_events().await?;
        if !published.pending || tokio::time::Instant::now() >= settle_by {
            break published.last_position;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let snapshot = if after == 0 {
        // Every event up to `head` committed before the snapshot is read, so the snapshot
        // reflects it (and perhaps some later ones: events carry the whole resource, so a
        // console applying one twice loses nothing).
        Some(
            watch
                .snapshot(state)
                .await
                .map_err(|e| Stop::Failed(e.into()))?,
        )
    } else if after > head {
        let _ = sender.try_send(Ok(W::Response::resync(resync(
            pb::ResyncReason::SequenceAhead,
            head,
            "after_sequence is newer than the newest event: reconnect with after_sequence = 0",
        ))));
        return Err(Stop::Done);
    } else if after < state.store.feed_purged_through().await? {
        return Err(expired(sender, head));
    } else {
        watch
            .prime(state)
            .await
            .map_err(|e| Stop::Failed(e.into()))?;
        None
    };
    drop(permit);
    let mut cursor = match snapshot {
        Some(items) => {
            let count = i32::try_from(items.len()).unwrap_or(i32::MAX);
            for item in items {
                sender.send(Ok(item)).await.map_err(|_| Stop::Done)?;
            }
            let complete = W::Response::snapshot_complete(pb::SnapshotComplete {
                sequence: head,
                item_count: count,
            });
            sender.send(Ok(complete)).await.map_err(|_| Stop::Done)?;
            head
        }
        None => after,
    };
    // The gap between the cursor and the broadcast, from the database.
    while cursor < live_from {
        let events = state
            .store
            .feed_after(cursor, BATCH.min(live_from - cursor))
            .await?;
        // Positions are dense: a first one past the cursor's next means the retention job
        // removed the ones between (since the check above).
        if events.first().map(|e| e.position) != Some(cursor + 1) {
            if !events.is_empty() || state.store.feed_purged_through().await? > cursor {
                return Err(expired(sender, head));
            }
            break;
        }
        for item in enrich(state, events).await? {
            if let Some(message) = event(watch, &item).await? {
                deliver(sender, message, item.position())?;
            }
            cursor = item.position();
        }
    }
    let heartbeat_every = state.watch_heartbeat;
    let mut next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Ok(item) => {
                    if item.position() <= cursor {
                        continue;
                    }
                    if let Some(message) = event(watch, &item).await? {
                        deliver(sender, message, item.position())?;
                        next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
                    }
                    cursor = item.position();
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = sender.try_send(Ok(W::Response::resync(resync(
                        pb::ResyncReason::SlowConsumer,
                        state.feed.position(),
                        "the stream fell behind the feed; reconnect with after_sequence = 0",
                    ))));
                    return Err(Stop::Done);
                }
                Err(broadcast::error::RecvError::Closed) => return Err(Stop::Done),
            },
            () = tokio::time::sleep_until(next_heartbeat) => {
                let beat = W::Response::heartbeat(pb::Heartbeat {
                    sequence: cursor,
                    time: Some(crate::edge::wire::timestamp(chrono::Utc::now())),
                });
                deliver(sender, beat, cursor)?;
                next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
            }
            () = sender.closed() => return Err(Stop::Done),
        }
    }
}
