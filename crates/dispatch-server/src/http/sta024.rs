//! The NENA-STA-024 EIDO conveyance: a WebSocket at `/IncidentData/ent` on which a subscriber
//! (a neighbouring PSAP, a state agency, a partner's CAD) subscribes to incidents and is
//! notified with an EIDO each time one changes. The messages and codes are
//! `dispatch_standards::sta024`'s (its doc says where they come from and what is assumed).
//!
//! The upgrade carries the same bearer token as a gRPC call and is admitted by the role table's
//! row for WatchIncidentEidos, which streams the same EIDOs: a subscriber sees what its
//! principal may see there. One WebSocket carries any number of subscriptions; each is an
//! [`EidoWatch`] stream, so it starts with the matching incidents (one notification, empty if
//! none), then one notification per change in feed order, and can resume after a sequence
//! without a gap (the `dispatchAfterSequence` extension). A subscription ends with `terminate`
//! when it expires, when its subscriber fell too far behind (it resubscribes and gets the
//! snapshot again), when the database fails it, or when the WebSocket's credential stops being
//! valid, which also closes the WebSocket (1008), as [`crate::revocation`] ends a gRPC stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use futures::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::IncidentStatus;
use dispatch_proto::v1 as pb;
use dispatch_standards::sta024::{
    self, Event, NewSubscription, NotifierMessage, Refusal, Scope, StatusCode, Subscribe,
    SubscribeResponse, SubscriberMessage, SubscriptionRequest, Terminate, Unsubscribe,
    UnsubscribeResponse,
};

use super::Exchange;
use crate::auth::{Admitted, Principal};
use crate::error::Error;
use crate::feed::{WatchResponse, WatchStream, spawn_watch};
use crate::revocation::Cutoff;
use crate::services::exchange::watch::{EidoWatch, IncidentEido, IncidentEidoChange};
use crate::services::triage::selection::{IncidentRelevance, IncidentSelection};

/// The RPC whose row of the role table admits subscribers: it streams the same EIDOs.
const WATCH_RPC: &str = "/dispatch.v1.IncidentExchangeService/WatchIncidentEidos";

/// Messages queued for the WebSocket's writer; a subscription that fills it waits, and its
/// stream then tells it to resync like any slow Watch client.
const OUTGOING: usize = 64;

pub fn routes() -> Router<Exchange> {
    Router::new().route(sta024::WEBSOCKET_PATH, get(upgrade))
}

async fn upgrade(
    State(exchange): State<Exchange>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let admitted = match exchange
        .auth
        .admit(
            &headers,
            Some(peer),
            sta024::WEBSOCKET_PATH,
            WATCH_RPC,
            true,
        )
        .await
    {
        Ok(admitted) => admitted,
        Err(turned) => {
            let mut response = (turned.status, turned.message).into_response();
            if turned.status == http::StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
            }
            return response;
        }
    };
    let max = exchange
        .max_message_bytes
        .max(sta024::MAX_MESSAGE_BYTES * 2);
    upgrade
        .protocols([sta024::SUBPROTOCOL])
        .max_message_size(max)
        .on_upgrade(move |socket| {
            let Admitted { principal, cutoff } = admitted;
            Session::new(exchange, principal, peer).run(socket, cutoff)
        })
}

/// How a subscription's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Expired,
    /// Terminated for another reason (it fell behind, the stream failed).
    Terminated,
}

/// What a subscription's task hands the WebSocket's writer.
#[derive(Debug)]
enum Outgoing {
    /// A message of the subscription; dropped if it was unsubscribed meanwhile.
    Send {
        subscription: String,
        message: NotifierMessage,
    },
    Ended {
        subscription: String,
        why: Ended,
    },
}

/// One subscription: its task, and the deadline a renewal moves.
#[derive(Debug)]
struct Subscription {
    task: JoinHandle<()>,
    expires: watch::Sender<Instant>,
    expires_s: u32,
    min_rate_s: Option<u32>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Dropping the task's stream ends its Watch task too.
        self.task.abort();
    }
}

/// One WebSocket.
struct Session {
    exchange: Exchange,
    principal: Principal,
    peer: SocketAddr,
    subscriptions: HashMap<String, Subscription>,
    outgoing: mpsc::Sender<Outgoing>,
    incoming: mpsc::Receiver<Outgoing>,
}

fn text(message: &NotifierMessage) -> Message {
    Message::Text(message.to_json().into())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn terminate(subscription: &str) -> NotifierMessage {
    NotifierMessage::Terminate(Terminate {
        request_id: uuid::Uuid::new_v4().to_string(),
        subscription_id: subscription.to_owned(),
    })
}

/// What a failed read of the store tells a subscriber.
fn refusal_of(error: &Error) -> Refusal {
    match error {
        Error::Store(dispatch_store::Error::Unavailable(_)) => {
            Refusal::new(StatusCode::Unavailable, "the database cannot be reached")
        }
        _ => Refusal::new(StatusCode::Internal, "reading the incidents failed"),
    }
}

impl Session {
    fn new(exchange: Exchange, principal: Principal, peer: SocketAddr) -> Self {
        let (outgoing, incoming) = mpsc::channel(OUTGOING);
        Self {
            exchange,
            principal,
            peer,
            subscriptions: HashMap::new(),
            outgoing,
            incoming,
        }
    }

    /// Serves the WebSocket until it closes, or `cutoff` fires (its credential is no longer
    /// valid), or the process stops.
    async fn run(mut self, socket: WebSocket, cutoff: Option<Cutoff>) {
        let (mut sink, mut frames) = socket.split();
        let ended = async move {
            match cutoff {
                Some(cutoff) => cutoff.await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(ended);
        let mut stopping = self.exchange.stopping.clone();
        loop {
            tokio::select! {
                biased;
                reason = &mut ended => {
                    self.exchange.auth.exchange_stream_ended(
                        &self.principal,
                        sta024::WEBSOCKET_PATH,
                        Some(self.peer),
                        reason,
                    );
                    self.end_all(&mut sink, 1008, reason.message()).await;
                    return;
                }
                () = stopping.wait_for(|stop| *stop).map(|_| ()) => {
                    self.end_all(&mut sink, 1001, "the notifier is stopping").await;
                    return;
                }
                frame = frames.next() => {
                    let text = match frame {
                        // Closed (or broken): its subscriptions end with it, untold.
                        None | Some(Err(_)) => return,
                        Some(Ok(Message::Close(_))) => {
                            // Flushes the close reply the WebSocket queued on reading it.
                            let _ = sink.close().await;
                            return;
                        }
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            let answer = NotifierMessage::Response(sta024::Response {
                                request_id: String::new(),
                                status_code: StatusCode::BadRequest.code(),
                                status_text: "Bad Request: messages are JSON text frames".into(),
                            });
                            if sink.send(text(&answer)).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    };
                    if let Some(answer) = self.handle(text.as_str()).await
                        && sink.send(self::text(&answer)).await.is_err()
                    {
                        return;
                    }
                }
                Some(outgoing) = self.incoming.recv() => match outgoing {
                    Outgoing::Send { subscription, message } => {
                        if self.subscriptions.contains_key(&subscription)
                            && sink.send(text(&message)).await.is_err()
                        {
                            return;
                        }
                    }
                    Outgoing::Ended { subscription, why } => {
                        self.subscriptions.remove(&subscription);
                        // When the last subscription expires the notifier closes the WebSocket.
                        if why == Ended::Expired && self.subscriptions.is_empty() {
                            let _ = sink.send(close(1000, "the last subscription expired")).await;
                            return;
                        }
                    }
                },
            }
        }
    }

    /// Terminates every subscription, then closes the WebSocket with `code`.
    async fn end_all<S>(&mut self, sink: &mut S, code: u16, why: &str)
    where
        S: futures::Sink<Message> + Unpin,
    {
        for subscription in std::mem::take(&mut self.subscriptions).into_keys() {
            if sink.send(text(&terminate(&subscription))).await.is_err() {
                return;
            }
        }
        let _ = sink.send(close(code, why)).await;
    }

    /// The answer to one subscriber message, if it gets one.
    async fn handle(&mut self, text: &str) -> Option<NotifierMessage> {
        match SubscriberMessage::parse(text) {
            Err(error) => error.answer(),
            Ok(SubscriberMessage::Subscribe(request)) => Some(NotifierMessage::SubscribeResponse(
                self.subscribe(&request).await,
            )),
            Ok(SubscriberMessage::Unsubscribe(request)) => Some(self.unsubscribe(request)),
            Ok(SubscriberMessage::EventResponse(response)) => {
                if response.status_code != i64::from(StatusCode::Ok.code()) {
                    tracing::info!(
                        principal = %self.principal.name,
                        transaction = %response.transaction_id,
                        code = response.status_code,
                        text = %response.status_text,
                        "STA-024 subscriber refused a notification"
                    );
                }
                None
            }
            Ok(SubscriberMessage::TerminateResponse(_)) => None,
        }
    }

    fn unsubscribe(&mut self, request: Unsubscribe) -> NotifierMessage {
        let code = match self.subscriptions.remove(&request.subscription_id) {
            Some(_) => StatusCode::Ok,
            None => StatusCode::NoSuchSubscription,
        };
        NotifierMessage::UnsubscribeResponse(UnsubscribeResponse {
            request_id: request.request_id,
            subscription_id: request.subscription_id,
            status_code: code.code(),
            status_text: code.text().to_owned(),
        })
    }

    async fn subscribe(&mut self, request: &Subscribe) -> SubscribeResponse {
        let refused = |refusal: &Refusal| {
            SubscribeResponse::refused(
                &request.request_id,
                request.subscription_id.as_deref(),
                refusal,
            )
        };
        let asked = match request.request() {
            Ok(asked) => asked,
            Err(refusal) => return refused(&refusal),
        };
        let new = match asked {
            SubscriptionRequest::Renewal {
                subscription_id,
                expires_s,
            } => {
                let Some(subscription) = self.subscriptions.get_mut(&subscription_id) else {
                    return refused(&Refusal::new(
                        StatusCode::NoSuchSubscription,
                        format!("no subscription {subscription_id} on this WebSocket"),
                    ));
                };
                subscription
                    .expires
                    .send_replace(Instant::now() + Duration::from_secs(expires_s.into()));
                subscription.expires_s = expires_s;
                return SubscribeResponse {
                    request_id: request.request_id.clone(),
                    subscription_id: Some(subscription_id),
                    min_rate: subscription.min_rate_s,
                    max_rate: None,
                    expires: Some(expires_s),
                    status_code: StatusCode::Ok.code(),
                    status_text: StatusCode::Ok.text().to_owned(),
                };
            }
            SubscriptionRequest::New(new) => new,
        };
        let selection = match self.selection(&new.scope).await {
            Ok(selection) => selection,
            Err(refusal) => return refused(&refusal),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let state = self.exchange.state.clone();
        let stream: WatchStream<Item> = spawn_watch(
            state.clone(),
            EidoWatch::new(state, selection),
            new.after_sequence.unwrap_or(0),
        );
        let (expires, deadline) =
            watch::channel(Instant::now() + Duration::from_secs(new.expires_s.into()));
        let task = tokio::spawn(follow(
            stream,
            id.clone(),
            new.clone(),
            deadline,
            self.outgoing.clone(),
        ));
        self.subscriptions.insert(
            id.clone(),
            Subscription {
                task,
                expires,
                expires_s: new.expires_s,
                min_rate_s: new.min_rate_s,
            },
        );
        SubscribeResponse {
            request_id: request.request_id.clone(),
            subscription_id: Some(id),
            min_rate: new.min_rate_s,
            max_rate: new.max_rate_s(),
            expires: Some(new.expires_s),
            status_code: StatusCode::Ok.code(),
            status_text: StatusCode::Ok.text().to_owned(),
        }
    }

    /// The incidents a subscription follows. A `new` one follows the active incidents (an
    /// incident that closes gets its last notification, then no more).
    async fn selection(&self, scope: &Scope) -> Result<IncidentSelection, Refusal> {
        let state = &self.exchange.state;
        match scope {
            Scope::Incidents(filter) => {
                if let Some((i, code)) = filter
                    .incident_types
                    .iter()
                    .enumerate()
                    .find(|(_, code)| state.catalogue.get(code).is_none())
                {
                    return Err(Refusal::new(
                        StatusCode::BadRequest,
                        format!("qualFilter.incidentTypes[{i}]: no incident type {code:?}"),
                    ));
                }
                let agency = match filter.agency {
                    Some(agency) => match IncidentRelevance::of(state, agency).await {
                        Ok(relevance) => Some(relevance),
                        Err(Error::Store(dispatch_store::Error::NotFound(_))) => {
                            return Err(Refusal::new(
                                StatusCode::NotFound,
                                format!("qualFilter.agency: no agency {}", agency.name()),
                            ));
                        }
                        Err(error) => return Err(refusal_of(&error)),
                    },
                    None => None,
                };
                Ok(IncidentSelection {
                    area: filter.area,
                    statuses: IncidentStatus::ALL
                        .iter()
                        .copied()
                        .filter(|status| status.is_open())
                        .collect(),
                    incident_types: filter.incident_types.clone(),
                    agency,
                    ..IncidentSelection::default()
                })
            }
            Scope::Incident(tracking_id) => {
                let missing = || {
                    Refusal::new(
                        StatusCode::NotFound,
                        format!("subscribe.incidentId: no incident {tracking_id}"),
                    )
                };
                let id = incident_of(tracking_id).ok_or_else(missing)?;
                match state.store.get_incident(id).await {
                    Ok(_) => {}
                    Err(dispatch_store::Error::NotFound(_)) => return Err(missing()),
                    Err(error) => return Err(refusal_of(&error.into())),
                }
                Ok(IncidentSelection {
                    incident: Some(id),
                    ..IncidentSelection::default()
                })
            }
        }
    }
}

/// Our incident named by its incident tracking identifier
/// (`urn:emergency:uid:incidentid:{uuid}:{domain}`), its resource name or its uuid.
fn incident_of(tracking_id: &str) -> Option<IncidentId> {
    let uuid = match tracking_id.strip_prefix("urn:emergency:uid:incidentid:") {
        Some(rest) => rest.split(':').next().unwrap_or_default(),
        None => tracking_id
            .strip_prefix("incidents/")
            .unwrap_or(tracking_id),
    };
    uuid::Uuid::parse_str(uuid).ok().map(IncidentId)
}

/// An item of a subscription's stream.
#[derive(Debug)]
enum Item {
    Snapshot(IncidentEido),
    Change(IncidentEidoChange),
    SnapshotComplete(pb::SnapshotComplete),
    Resync(pb::ResyncRequired),
    Heartbeat(pb::Heartbeat),
}

impl WatchResponse for Item {
    type Resource = IncidentEido;
    type Event = IncidentEidoChange;

    fn snapshot(resource: IncidentEido) -> Self {
        Self::Snapshot(resource)
    }

    fn event(event: IncidentEidoChange) -> Self {
        Self::Change(event)
    }

    fn snapshot_complete(message: pb::SnapshotComplete) -> Self {
        Self::SnapshotComplete(message)
    }

    fn resync(message: pb::ResyncRequired) -> Self {
        Self::Resync(message)
    }

    fn heartbeat(message: pb::Heartbeat) -> Self {
        Self::Heartbeat(message)
    }
}

/// A subscription's task: its stream's items as notifications, until it expires or ends.
async fn follow(
    mut stream: WatchStream<Item>,
    subscription: String,
    asked: NewSubscription,
    mut deadline: watch::Receiver<Instant>,
    outgoing: mpsc::Sender<Outgoing>,
) {
    let notify = |notification: Vec<serde_json::Value>, sequence: i64| Outgoing::Send {
        subscription: subscription.clone(),
        message: NotifierMessage::Event(Event {
            subscription_id: subscription.clone(),
            transaction_id: uuid::Uuid::new_v4().to_string(),
            notification,
            sequence: Some(sequence),
        }),
    };
    let min_rate = asked
        .min_rate_s
        .map(|seconds| Duration::from_secs(seconds.into()));
    let mut snapshot: Vec<serde_json::Value> = Vec::new();
    // A resumed subscription has no snapshot to wait for.
    let mut cursor = asked.after_sequence;
    let mut last_sent = Instant::now();
    let why = loop {
        let expires_at = *deadline.borrow_and_update();
        let keep_alive = match (min_rate, cursor) {
            (Some(rate), Some(_)) => last_sent + rate,
            _ => expires_at + Duration::from_secs(1),
        };
        let next = tokio::select! {
            () = tokio::time::sleep_until(expires_at) => break Ended::Expired,
            changed = deadline.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
            () = tokio::time::sleep_until(keep_alive) => {
                last_sent = Instant::now();
                notify(Vec::new(), cursor.unwrap_or_default())
            }
            item = stream.next() => match item {
                Some(Ok(Item::Snapshot(incident))) => {
                    snapshot.push(incident.eido);
                    continue;
                }
                Some(Ok(Item::SnapshotComplete(complete))) => {
                    cursor = Some(complete.sequence);
                    last_sent = Instant::now();
                    notify(std::mem::take(&mut snapshot), complete.sequence)
                }
                Some(Ok(Item::Change(change))) => {
                    cursor = Some(change.sequence);
                    last_sent = Instant::now();
                    notify(vec![change.eido.eido], change.sequence)
                }
                Some(Ok(Item::Heartbeat(beat))) => {
                    if cursor.is_some() {
                        cursor = Some(beat.sequence);
                    }
                    continue;
                }
                // It fell behind (or asked to resume where the feed cannot): resubscribing
                // starts it again from a snapshot.
                Some(Ok(Item::Resync(resync))) => {
                    tracing::info!(subscription, why = %resync.description, "STA-024 subscription terminated");
                    break Ended::Terminated;
                }
                Some(Err(status)) => {
                    tracing::warn!(%status, subscription, "STA-024 subscription failed");
                    break Ended::Terminated;
                }
                None => break Ended::Terminated,
            },
        };
        if outgoing.send(next).await.is_err() {
            return;
        }
    };
    let _ = outgoing
        .send(Outgoing::Send {
            subscription: subscription.clone(),
            message: terminate(&subscription),
        })
        .await;
    let _ = outgoing.send(Outgoing::Ended { subscription, why }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_is_named_by_tracking_id_resource_name_or_uuid() {
        let uuid = uuid::Uuid::new_v4();
        let id = Some(IncidentId(uuid));
        assert_eq!(
            incident_of(&format!(
                "urn:emergency:uid:incidentid:{}:c5.example",
                uuid.simple()
            )),
            id
        );
        assert_eq!(incident_of(&format!("incidents/{uuid}")), id);
        assert_eq!(incident_of(&uuid.to_string()), id);
        assert_eq!(incident_of("urn:emergency:uid:callid:x:y"), None);
        assert_eq!(incident_of("nonsense"), None);
    }
}
