//! The Watch stream protocol every Watch RPC shares: a snapshot (or a resume from a sequence),
//! then the events in feed order, heartbeats while idle, and ResyncRequired when a watcher fell
//! too far behind or its gap can no longer be read.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tonic::Status;

use dispatch_proto::v1 as pb;

use crate::AppState;
use crate::error::Error;

use super::follower::{BATCH, FeedItem, SETTLE, enrich};

/// What a Watch RPC adds to the shared stream protocol.
pub trait Watch: Send + 'static {
    type Response: Send + 'static;

    /// The matching resources now, as snapshot messages; remembers them as in view.
    fn snapshot(
        &mut self,
        state: &AppState,
    ) -> impl Future<Output = Result<Vec<Self::Response>, Error>> + Send;

    /// Remembers what matches now as in view without sending it (a resumed stream).
    fn prime(&mut self, state: &AppState) -> impl Future<Output = Result<(), Error>> + Send;

    /// The message for an event, if it concerns this stream.
    fn event(&mut self, item: &FeedItem) -> Option<Self::Response>;

    fn snapshot_complete(&self, message: pb::SnapshotComplete) -> Self::Response;
    fn resync(&self, message: pb::ResyncRequired) -> Self::Response;
    fn heartbeat(&self, message: pb::Heartbeat) -> Self::Response;
}

pub type WatchReceiver<T> = mpsc::Receiver<Result<T, Status>>;

/// Starts a Watch stream: snapshot or resume, the gap from the database, then live events.
pub fn spawn_watch<W: Watch>(
    state: Arc<AppState>,
    mut watch: W,
    after: i64,
) -> WatchReceiver<W::Response> {
    // One slot more than the buffer: a stream that fills the buffer still has room to be told
    // to resync.
    let (sender, receiver) = mpsc::channel(state.watch_buffer + 1);
    tokio::spawn(async move {
        if let Err(status) = drive(&state, &mut watch, after, &sender).await {
            let _ = sender.try_send(Err(status));
        }
    });
    receiver
}

fn resync(reason: pb::ResyncReason, latest: i64, description: &str) -> pb::ResyncRequired {
    pb::ResyncRequired {
        reason: reason.into(),
        latest_sequence: latest,
        description: description.into(),
    }
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
fn deliver<W: Watch>(
    watch: &W,
    sender: &mpsc::Sender<Result<W::Response, Status>>,
    message: W::Response,
    position: i64,
) -> Result<(), Stop> {
    if sender.capacity() <= 1 {
        let _ = sender.try_send(Ok(watch.resync(resync(
            pb::ResyncReason::SlowConsumer,
            position,
            "the client did not keep up; reconnect with after_sequence = 0",
        ))));
        return Err(Stop::Done);
    }
    sender.try_send(Ok(message)).map_err(|_| Stop::Done)
}

async fn drive<W: Watch>(
    state: &AppState,
    watch: &mut W,
    after: i64,
    sender: &mpsc::Sender<Result<W::Response, Status>>,
) -> Result<(), Status> {
    match stream(state, watch, after, sender).await {
        Ok(()) | Err(Stop::Done) => Ok(()),
        Err(Stop::Failed(status)) => Err(status),
    }
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
        let _ = sender.try_send(Ok(watch.resync(resync(
            pb::ResyncReason::SequenceAhead,
            head,
            "after_sequence is newer than the newest event: reconnect with after_sequence = 0",
        ))));
        return Err(Stop::Done);
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
            let complete = watch.snapshot_complete(pb::SnapshotComplete {
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
        if events.is_empty() {
            break;
        }
        for item in enrich(state, events).await? {
            if let Some(message) = watch.event(&item) {
                deliver(watch, sender, message, item.position())?;
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
                    if let Some(message) = watch.event(&item) {
                        deliver(watch, sender, message, item.position())?;
                        next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
                    }
                    cursor = item.position();
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = sender.try_send(Ok(watch.resync(resync(
                        pb::ResyncReason::SlowConsumer,
                        state.feed.position(),
                        "the stream fell behind the feed; reconnect with after_sequence = 0",
                    ))));
                    return Err(Stop::Done);
                }
                Err(broadcast::error::RecvError::Closed) => return Err(Stop::Done),
            },
            () = tokio::time::sleep_until(next_heartbeat) => {
                let beat = watch.heartbeat(pb::Heartbeat {
                    sequence: cursor,
                    time: Some(crate::edge::wire::timestamp(chrono::Utc::now())),
                });
                deliver(watch, sender, beat, cursor)?;
                next_heartbeat = tokio::time::Instant::now() + heartbeat_every;
            }
            () = sender.closed() => return Err(Stop::Done),
        }
    }
}
