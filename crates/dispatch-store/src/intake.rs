//! Group commit of call intake (issue 23). Calls that arrive while a batch is being written wait
//! for it and are then written together, as the next batch: one statement (`record_calls`),
//! one transaction and one WAL flush for all of them. Each keeps its own idempotency claim,
//! folio, first location, `call_received` event and audit record, all in that transaction, so
//! an acknowledged call is as durable as one written alone and a retry still writes nothing.
//!
//! One writer per store: under load a batch grows to whatever arrived during the previous one,
//! and a lone call waits for nothing but its own commit. A batch that fails is written again
//! call by call (`create_call_alone`), so only the call at fault is refused.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Jsonb, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use dispatch_domain::audit::AuditEntry;
use dispatch_domain::call::{Call, NewCall};
use dispatch_domain::duplicates::NearbyIncident;
use dispatch_domain::event::{CallEvent, Event};
use dispatch_domain::ids::{CallId, OperationId};
use dispatch_domain::operation::{CrowdRule, Operation, operation_at};

use crate::events;
use crate::nearby::{NearbyQuery, TIMESTAMP, nearby_open_incidents_of};
use crate::operations::active_during;
use crate::prepared::{BindNext, PreparedSql};
use crate::rows::CallRow;
use crate::{Error, Idempotency, Store, Written};

/// Most calls one batch writes: what 64 call takers send at once, with room.
const MAX_BATCH: usize = 128;

/// Calls waiting for the writer; beyond this, callers wait to queue (back-pressure).
const QUEUE: usize = 4 * MAX_BATCH;

/// A recorded call, as `CreateCall` answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    pub call: Written<Call>,
    /// The planned operation a new call was tagged with, and the duplicate rule it follows
    /// there (a replay: `None`, the caller reads it again).
    pub operation: Option<(OperationId, CrowdRule)>,
    /// The request's audit record was written in the call's own transaction.
    pub audited: bool,
    /// The open incidents near a new call outside any operation, searched with the batch
    /// right after it was recorded (`search`); `None` when the caller must search itself.
    pub nearby: Option<Vec<NearbyIncident>>,
}

/// The writer's queue, started by the first call a store records.
#[derive(Clone, Default)]
pub(crate) struct Intake(Arc<OnceLock<mpsc::Sender<Pending>>>);

struct Pending {
    key: Idempotency,
    actor: String,
    call: NewCall,
    audit: Option<AuditEntry>,
    search: Option<NearbyQuery>,
    reply: oneshot::Sender<Result<RecordedCall, Error>>,
}

impl Store {
    /// Records a call. A retry with the same request id returns the original (`replayed`).
    /// `audit`, when given, is the request's audit record as it will read once the call is
    /// recorded (its resource is filled in here); it is written in the call's transaction and
    /// `audited` says so. `search`, the duplicate search of a call outside any operation, is
    /// run for the whole batch in one statement once it is recorded.
    pub async fn create_call(
        &self,
        key: &Idempotency,
        actor: &str,
        call: &NewCall,
        audit: Option<&AuditEntry>,
        search: Option<&NearbyQuery>,
    ) -> Result<RecordedCall, Error> {
        let queue = self.intake.0.get_or_init(|| {
            let (queue, pending) = mpsc::channel(QUEUE);
            // The writer holds a store without the queue, so it ends when the last store
            // holding the queue is dropped.
            let writer = Store {
                intake: Intake::default(),
                ..self.clone()
            };
            tokio::spawn(writer.write_batches(pending));
            queue
        });
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            key: key.clone(),
            actor: actor.to_owned(),
            call: call.clone(),
            audit: audit.cloned(),
            search: search.cloned(),
            reply,
        };
        let stopped = || Error::Unavailable("call intake is shutting down".into());
        queue.send(pending).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn write_batches(self, mut queue: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.write_batch(std::mem::take(&mut batch)).await;
        }
    }

    async fn write_batch(&self, batch: Vec<Pending>) {
        match self.record_batch(&batch).await {
            Ok(answers) => {
                for (pending, answer) in batch.into_iter().zip(answers) {
                    // A caller that gave up is answered by its retry.
                    let _ = pending.reply.send(answer);
                }
            }
            Err(error) if batch.len() == 1 => {
                if let Some(pending) = batch.into_iter().next() {
                    let _ = pending.reply.send(Err(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, calls = batch.len(), "a batch of calls failed: recording each alone");
                futures::future::join_all(batch.into_iter().map(|pending| async move {
                    let answer = self
                        .create_call_alone(&pending.key, &pending.actor, &pending.call)
                        .await;
                    let _ = pending.reply.send(answer);
                }))
                .await;
            }
        }
    }

    /// One batch in one statement; the answers in the batch's order.
    async fn record_batch(
        &self,
        batch: &[Pending],
    ) -> Result<Vec<Result<RecordedCall, Error>>, Error> {
        let mut conn = self.conn().await?;
        let tags = operations_of(&mut conn, batch).await?;
        let ids: Vec<CallId> = batch.iter().map(|_| CallId::new_v7()).collect();
        let mut input = Vec::with_capacity(batch.len());
        for (ord, (pending, (id, tag))) in batch.iter().zip(ids.iter().zip(&tags)).enumerate() {
            input.push(call_input(ord, pending, *id, tag.map(|(id, _)| id))?);
        }
        let config = self.config();
        let recorded: Vec<CallRow> = PreparedSql("SELECT * FROM record_calls($1, $2, $3)")
            .bind::<Jsonb, _>(Value::Array(input))
            .bind::<Text, _>(&config.call_folio_prefix)
            .bind::<Text, _>(&config.time_zone)
            .load(&mut conn)
            .await?;
        let mut recorded: HashMap<uuid::Uuid, CallRow> =
            recorded.into_iter().map(|row| (row.id, row)).collect();
        let mut answers = Vec::with_capacity(batch.len());
        for ((pending, id), tag) in batch.iter().zip(&ids).zip(tags) {
            let answer = match recorded.remove(&id.0) {
                Some(row) => Call::try_from(row).map(|call| RecordedCall {
                    call: Written::new(call, false),
                    operation: tag,
                    audited: pending.audit.is_some(),
                    nearby: None,
                }),
                // Claimed before: a retry answered from its first attempt, or a reused id.
                None => self
                    .recorded_call(&mut conn, &pending.key)
                    .await
                    .map(|call| RecordedCall {
                        call: Written::new(call, true),
                        operation: None,
                        audited: false,
                        nearby: None,
                    }),
            };
            answers.push(answer);
        }
        // The duplicate searches of the new calls outside any operation, in one statement.
        let searched: Vec<(usize, &NearbyQuery)> = answers
            .iter()
            .zip(batch)
            .enumerate()
            .filter_map(|(i, (answer, pending))| match (answer, &pending.search) {
                (Ok(recorded), Some(search))
                    if !recorded.call.replayed && recorded.operation.is_none() =>
                {
                    Some((i, search))
                }
                _ => None,
            })
            .collect();
        if !searched.is_empty() {
            let queries: Vec<&NearbyQuery> = searched.iter().map(|(_, query)| *query).collect();
            // The calls are recorded: a search that fails leaves each caller to search alone.
            match nearby_open_incidents_of(&mut conn, &queries).await {
                Ok(found) => {
                    for ((i, _), nearby) in searched.iter().zip(found) {
                        if let Some(Ok(recorded)) = answers.get_mut(*i) {
                            recorded.nearby = Some(nearby);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "the batch's duplicate search"),
            }
        }
        Ok(answers)
    }
}

/// The planned operation each call of the batch came in inside while it was in force (the
/// oldest, as `Staging` says), from one read of the operations in force over the batch.
async fn operations_of(
    conn: &mut AsyncPgConnection,
    batch: &[Pending],
) -> Result<Vec<Option<(OperationId, CrowdRule)>>, Error> {
    let times = batch.iter().map(|pending| pending.call.received_at);
    let (Some(from), Some(until)) = (times.clone().min(), times.max()) else {
        return Ok(Vec::new());
    };
    let operations: Vec<Operation> = active_during(conn, from, until).await?;
    Ok(batch
        .iter()
        .map(|pending| {
            let call = &pending.call;
            operation_at(&operations, call.received_at, &call.location.point)
                .map(|operation| (operation.id(), operation.crowd_rule()))
        })
        .collect())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format(TIMESTAMP).to_string()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// One element of `record_calls`' array: its keys are the function's column lists.
fn call_input(
    ord: usize,
    pending: &Pending,
    id: CallId,
    operation: Option<OperationId>,
) -> Result<Value, Error> {
    let Pending {
        key,
        actor,
        call,
        audit,
        ..
    } = pending;
    let location = &call.location;
    // The folio is the batch's to draw: `record_calls` writes it into the details.
    let details = events::details(&Event::Call(CallEvent::Received {
        folio: String::new(),
        channel: call.channel,
        received_at: call.received_at,
        answered_at: call.answered_at,
        back_entered: call.back_entered,
    }))?;
    let audit = audit.as_ref().map(|entry| {
        let entry = crate::audit::stored(entry);
        json!({
            "principal": entry.principal,
            "role": entry.role,
            "agency": entry.agency,
            "action": entry.action.as_str(),
            "method": entry.method,
            "peer": entry.peer,
            "outcome": entry.outcome.as_str(),
            "status_code": entry.status_code,
            "request_id": entry.request_id,
            "detail": entry.detail,
        })
    });
    Ok(json!({
        "ord": ord,
        "request_id": key.request_id.to_string(),
        "method": key.method,
        "principal": actor,
        "request": hex(&key.request),
        "id": id.0.to_string(),
        "channel": call.channel.as_str(),
        "received_at": timestamp(call.received_at),
        "answered_at": call.answered_at.map(timestamp),
        "back_entered": call.back_entered,
        "callback_number": call.callback_number.as_ref().map_or("", |n| n.as_str()),
        "caller_name": call.caller_name,
        "language": call.language,
        "latitude": location.point.latitude(),
        "longitude": location.point.longitude(),
        "uncertainty_m": location.uncertainty_m,
        "location_source": location.source.as_str(),
        "civic_address": location.civic_address,
        "account": call.account,
        "incident_type_hint": call.incident_type_hint,
        "source_device_id": call.source_device_id,
        "details": details,
        "operation_id": operation.map(|o| o.0.to_string()),
        "audit": audit,
    }))
}
