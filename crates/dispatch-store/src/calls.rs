//! Calls: intake, folios, locations, linking to incidents, opening an incident from a call, disposition.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::call::{
    Call, CallState, Channel, Disposition, IncidentFromCall, NewCall, folio,
};
use dispatch_domain::event::{CallEvent, Event, IncidentEvent};
use dispatch_domain::ids::{CallId, IncidentId};
use dispatch_domain::incident::Incident;
use dispatch_domain::location::Location;
use dispatch_domain::operation::Staging;
use dispatch_domain::triage::Catalogue;

use crate::events::{self, About};
use crate::incidents::{NewIncident, load_incident, lock_incident};
use crate::intake::RecordedCall;
pub use crate::nearby::NearbyQuery;
use crate::operations::{active_at, operation_at};
use crate::prepared::{BindNext, PreparedSql};
use crate::rows::CallRow;
use crate::schema::{call_locations, calls, incidents};
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, find_one, newest_first_after};

/// One entry of a call's location history.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationRecord {
    pub location: Location,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// Which calls to list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub received_from: Option<DateTime<Utc>>,
    pub received_until: Option<DateTime<Utc>>,
    pub channels: Vec<Channel>,
    pub states: Vec<CallState>,
    pub dispositions: Vec<Disposition>,
    pub incident: Option<IncidentId>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = call_locations, check_for_backend(diesel::pg::Pg))]
struct LocationRow {
    call_id: Uuid,
    latitude: f64,
    longitude: f64,
    uncertainty_m: f64,
    source: String,
    civic_address: String,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct FolioNumber {
    #[diesel(sql_type = Date)]
    folio_day: NaiveDate,
    #[diesel(sql_type = Integer)]
    folio_number: i32,
}

/// The call, locked, if it is still at the version (etag) the caller saw.
async fn lock_current_call(
    conn: &mut AsyncPgConnection,
    id: CallId,
    expected: Option<i64>,
) -> Result<Call, Error> {
    let query = calls::table.find(id.0).select(CallRow::as_select());
    let call: Call = find_one::<_, CallRow, _>(conn, query.for_update(), || id.name()).await?;
    check_version(id.name(), call.version, expected)?;
    Ok(call)
}

fn resource_id<T>(
    resource: &str,
    parse: impl Fn(&str, &str) -> Result<T, dispatch_domain::Violations>,
) -> Result<T, Error> {
    parse("resource", resource)
        .map_err(|_| Error::Internal(format!("unexpected stored resource {resource:?}")))
}

/// An etag (the row's version) given by the caller must still be current.
fn check_version(subject: String, current: i64, expected: Option<i64>) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != current => Err(Error::Stale(subject)),
        _ => Ok(()),
    }
}

async fn load_call(conn: &mut AsyncPgConnection, id: CallId) -> Result<Call, Error> {
    let query = calls::table.find(id.0).select(CallRow::as_select());
    find_one::<_, CallRow, _>(conn, query, || id.name()).await
}

/// The call an incident was opened from, and that incident.
async fn opened(conn: &mut AsyncPgConnection, call_id: CallId) -> Result<(Call, Incident), Error> {
    let call = load_call(conn, call_id).await?;
    let incident = call
        .incident
        .ok_or_else(|| Error::Internal(format!("{call_id} opened no incident")))?;
    Ok((call, load_incident(conn, incident).await?))
}

async fn insert_location(
    conn: &mut AsyncPgConnection,
    call: CallId,
    location: &Location,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    diesel::insert_into(call_locations::table)
        .values((
            call_locations::call_id.eq(call.0),
            call_locations::latitude.eq(location.point.latitude()),
            call_locations::longitude.eq(location.point.longitude()),
            call_locations::uncertainty_m.eq(location.uncertainty_m),
            call_locations::source.eq(location.source.as_str()),
            call_locations::civic_address.eq(&location.civic_address),
            call_locations::recorded_by.eq(actor),
            call_locations::recorded_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A call now linked to `incident` (locked by the caller): the incident counts it, its call
/// times take it in, and the timeline records the link.
async fn count_linked_call(
    conn: &mut AsyncPgConnection,
    actor: &str,
    call: &Call,
    incident: &Incident,
    note: &str,
) -> Result<(), Error> {
    let received_at = call.details.received_at;
    diesel::update(incidents::table.find(incident.id.0))
        .set((
            incidents::linked_call_count.eq(incidents::linked_call_count + 1),
            incidents::last_call_at.eq(received_at.max(incident.last_call_at)),
            incidents::first_call_at.eq(received_at.min(incident.first_call_at)),
            incidents::version.eq(incidents::version + 1),
            incidents::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let linked = CallEvent::Linked {
        call_folio: call.folio.clone(),
        incident_folio: incident.folio.clone(),
        channel: call.details.channel,
        note: note.to_owned(),
        account: call.details.account.clone(),
    };
    events::append_one(conn, actor, About::call(call.id, Some(incident.id)), linked).await
}

/// Records a call taken elsewhere (an imported EIDO's), back-entered with its own times and
/// linked at once to `incident`, which the caller has locked (and reads again after, as its
/// counts and call times moved). `record_call` (the SQL function) is CreateCall's
/// one-round-trip path for the same rows; this one runs inside the import's transaction. The
/// call belongs to its incident's planned operation, if any.
pub(crate) async fn record_linked_call(
    conn: &mut AsyncPgConnection,
    actor: &str,
    id: CallId,
    folio: &str,
    details: &NewCall,
    incident: &Incident,
) -> Result<(), Error> {
    incident.status.check_can_link_call(&incident.id.name())?;
    let location = &details.location;
    let created_at: DateTime<Utc> = diesel::insert_into(calls::table)
        .values((
            (
                calls::id.eq(id.0),
                calls::folio.eq(folio),
                calls::channel.eq(details.channel.as_str()),
                calls::state.eq(CallState::Linked.as_str()),
                calls::received_at.eq(details.received_at),
                calls::answered_at.eq(details.answered_at),
                calls::back_entered.eq(details.back_entered),
                calls::call_taker.eq(actor),
                calls::callback_number
                    .eq(details.callback_number.as_ref().map_or("", |n| n.as_str())),
                calls::caller_name.eq(&details.caller_name),
            ),
            (
                calls::language.eq(&details.language),
                calls::latitude.eq(location.point.latitude()),
                calls::longitude.eq(location.point.longitude()),
                calls::uncertainty_m.eq(location.uncertainty_m),
                calls::location_source.eq(location.source.as_str()),
                calls::civic_address.eq(&location.civic_address),
                calls::account.eq(&details.account),
                calls::incident_type_hint.eq(&details.incident_type_hint),
                calls::source_device_id.eq(&details.source_device_id),
                calls::incident_id.eq(incident.id.0),
                calls::operation_id.eq(incident.operation.map(|o| o.0)),
            ),
        ))
        .returning(calls::created_at)
        .get_result(conn)
        .await?;
    insert_location(conn, id, location, actor, created_at).await?;
    let received = CallEvent::Received {
        folio: folio.to_owned(),
        channel: details.channel,
        received_at: details.received_at,
        answered_at: details.answered_at,
        back_entered: details.back_entered,
    };
    events::append_one(conn, actor, About::call(id, Some(incident.id)), received).await?;
    let call = load_call(conn, id).await?;
    count_linked_call(conn, actor, &call, incident, "").await
}

impl Store {
    pub(crate) async fn next_folio(
        &self,
        conn: &mut AsyncPgConnection,
        kind: &str,
        prefix: &str,
    ) -> Result<String, Error> {
        let next: FolioNumber =
            PreparedSql("SELECT folio_day, folio_number FROM next_folio_number($1, $2)")
                .bind::<Text, _>(kind)
                .bind::<Text, _>(&self.config().time_zone)
                .get_result(conn)
                .await?;
        let number = u32::try_from(next.folio_number)
            .map_err(|_| Error::Internal("negative folio".into()))?;
        Ok(folio(prefix, next.folio_day, number))
    }

    /// The next folio, unless the request id is already claimed for this method: a retry
    /// answered from its first attempt, or a reused id refused, spends no folio (a refused
    /// request writes nothing). Still one round trip: the check and the draw are one statement.
    async fn next_folio_unless_claimed(
        &self,
        conn: &mut AsyncPgConnection,
        kind: &str,
        prefix: &str,
        key: &Idempotency,
    ) -> Result<Option<String>, Error> {
        use diesel::sql_types::Uuid as SqlUuid;
        // The condition refers to no column of the function: PostgreSQL tests it once, before
        // the function runs (a gating "One-Time Filter"), and never runs it when it is false.
        let next: Option<FolioNumber> = PreparedSql(
            "SELECT folio_day, folio_number FROM next_folio_number($1, $2) \
             WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys \
                               WHERE request_id = $3 AND method = $4)",
        )
        .bind::<Text, _>(kind)
        .bind::<Text, _>(&self.config().time_zone)
        .bind::<SqlUuid, _>(key.request_id)
        .bind::<Text, _>(key.method)
        .get_result(conn)
        .await
        .optional()?;
        let Some(next) = next else {
            return Ok(None);
        };
        let number = u32::try_from(next.folio_number)
            .map_err(|_| Error::Internal("negative folio".into()))?;
        Ok(Some(folio(prefix, next.folio_day, number)))
    }

    /// Records one call on its own, as a batch whose statement failed does for each of its calls
    /// (see `intake`): no audit record is written here (the auth layer writes it).
    ///
    /// One round trip for the folio (its own tiny transaction, skipped when the request id is
    /// already claimed), one for the operation in force, and one for the call, its first
    /// location, its event and its request id (`record_call`). Only a retry racing its first
    /// attempt takes a folio number it does not use: folios stay unique, with a gap.
    pub(crate) async fn create_call_alone(
        &self,
        key: &Idempotency,
        actor: &str,
        call: &NewCall,
    ) -> Result<RecordedCall, Error> {
        use diesel::sql_types::{
            Bool, Bytea, Double, Jsonb, Nullable, Timestamptz, Uuid as SqlUuid,
        };
        let replay = |call| RecordedCall {
            call: Written::new(call, true),
            operation: None,
            audited: false,
            nearby: None,
        };
        let mut conn = self.conn().await?;
        let Some(folio) = self
            .next_folio_unless_claimed(&mut conn, "call", &self.config().call_folio_prefix, key)
            .await?
        else {
            return Ok(replay(self.recorded_call(&mut conn, key).await?));
        };
        let operation = Staging::new(
            active_at(&mut conn, call.received_at).await?,
            call.received_at,
        )
        .operation_at(&call.location.point)
        .map(|operation| (operation.id(), operation.crowd_rule()));
        let id = CallId::new_v7();
        let location = &call.location;
        let details = events::details(&Event::Call(CallEvent::Received {
            folio: folio.clone(),
            channel: call.channel,
            received_at: call.received_at,
            answered_at: call.answered_at,
            back_entered: call.back_entered,
        }))?;
        let recorded: Option<CallRow> = PreparedSql(
            "SELECT * FROM record_call($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                                       $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
        )
        .bind::<SqlUuid, _>(key.request_id)
        .bind::<Text, _>(key.method)
        .bind::<Text, _>(actor)
        .bind::<Bytea, _>(&key.request)
        .bind::<SqlUuid, _>(id.0)
        .bind::<Text, _>(&folio)
        .bind::<Text, _>(call.channel.as_str())
        .bind::<Timestamptz, _>(call.received_at)
        .bind::<Nullable<Timestamptz>, _>(call.answered_at)
        .bind::<Bool, _>(call.back_entered)
        .bind::<Text, _>(call.callback_number.as_ref().map_or("", |n| n.as_str()))
        .bind::<Text, _>(&call.caller_name)
        .bind::<Text, _>(&call.language)
        .bind::<Double, _>(location.point.latitude())
        .bind::<Double, _>(location.point.longitude())
        .bind::<Double, _>(location.uncertainty_m)
        .bind::<Text, _>(location.source.as_str())
        .bind::<Text, _>(&location.civic_address)
        .bind::<Text, _>(&call.account)
        .bind::<Text, _>(&call.incident_type_hint)
        .bind::<Text, _>(&call.source_device_id)
        .bind::<Jsonb, _>(details)
        .bind::<Nullable<SqlUuid>, _>(operation.map(|(id, _)| id.0))
        .get_result(&mut conn)
        .await
        .optional()?;
        match recorded {
            Some(row) => Ok(RecordedCall {
                call: Written::new(row.try_into()?, false),
                operation,
                audited: false,
                nearby: None,
            }),
            None => Ok(replay(self.recorded_call(&mut conn, key).await?)),
        }
    }

    /// The call a claimed request id recorded; an error if it was claimed by another request.
    pub(crate) async fn recorded_call(
        &self,
        conn: &mut AsyncPgConnection,
        key: &Idempotency,
    ) -> Result<Call, Error> {
        // Claimed before: by this request's first attempt, or it reuses an id (an error).
        let resource = key.lookup(conn).await?.ok_or_else(|| {
            Error::Internal(format!(
                "request id {} conflicted but is not there",
                key.request_id
            ))
        })?;
        load_call(conn, resource_id(&resource, CallId::parse_name)?).await
    }

    pub async fn get_call(&self, id: CallId) -> Result<Call, Error> {
        load_call(&mut *self.conn().await?, id).await
    }

    /// Every location reported for the call, oldest first (the first is where the call began).
    pub async fn call_location_history(&self, id: CallId) -> Result<Vec<LocationRecord>, Error> {
        Ok(self
            .call_location_histories(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default())
    }

    /// The location histories of several calls in one query, for a page of calls.
    pub async fn call_location_histories(
        &self,
        ids: &[CallId],
    ) -> Result<std::collections::HashMap<CallId, Vec<LocationRecord>>, Error> {
        let mut conn = self.conn().await?;
        let rows: Vec<LocationRow> = call_locations::table
            .filter(call_locations::call_id.eq_any(ids.iter().map(|id| id.0)))
            .order((call_locations::call_id.asc(), call_locations::id.asc()))
            .select(LocationRow::as_select())
            .load(&mut conn)
            .await?;
        let mut histories: std::collections::HashMap<CallId, Vec<LocationRecord>> =
            std::collections::HashMap::with_capacity(ids.len());
        for row in rows {
            histories
                .entry(CallId(row.call_id))
                .or_default()
                .push(LocationRecord {
                    location: crate::rows::location(
                        row.latitude,
                        row.longitude,
                        row.uncertainty_m,
                        &row.source,
                        row.civic_address,
                    )?,
                    recorded_by: row.recorded_by,
                    recorded_at: row.recorded_at,
                });
        }
        Ok(histories)
    }

    /// Calls newest first (by received time), filtered, a page at a time.
    pub async fn list_calls(
        &self,
        filter: &CallFilter,
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<Call>, Option<TimeCursor>), Error> {
        let mut query = calls::table
            .select(CallRow::as_select())
            .order((calls::received_at.desc(), calls::id.desc()))
            .into_boxed();
        if let Some(from) = filter.received_from {
            query = query.filter(calls::received_at.ge(from));
        }
        if let Some(until) = filter.received_until {
            query = query.filter(calls::received_at.lt(until));
        }
        if !filter.channels.is_empty() {
            query = query.filter(calls::channel.eq_any(filter.channels.iter().map(|c| c.as_str())));
        }
        if !filter.states.is_empty() {
            query = query.filter(calls::state.eq_any(filter.states.iter().map(|s| s.as_str())));
        }
        if !filter.dispositions.is_empty() {
            query = query
                .filter(calls::disposition.eq_any(filter.dispositions.iter().map(|d| d.as_str())));
        }
        if let Some(incident) = filter.incident {
            query = query.filter(calls::incident_id.eq(incident.0));
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(calls::received_at, calls::id, after))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &CallRow| TimeCursor {
                time: row.received_at,
                id: row.id,
            },
        )
    }

    /// Records where the caller is now; the previous locations stay in the history.
    pub async fn update_call_location(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CallId,
        location: &Location,
        expected_version: Option<i64>,
    ) -> Result<Written<Call>, Error> {
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let call = lock_current_call(conn, id, expected_version).await?;
                call.check_can_update_location()?;
                let now: DateTime<Utc> = diesel::update(calls::table.find(id.0))
                    .set((
                        calls::latitude.eq(location.point.latitude()),
                        calls::longitude.eq(location.point.longitude()),
                        calls::uncertainty_m.eq(location.uncertainty_m),
                        calls::location_source.eq(location.source.as_str()),
                        calls::civic_address.eq(&location.civic_address),
                        calls::version.eq(calls::version + 1),
                        calls::updated_at.eq(diesel::dsl::now),
                    ))
                    .returning(calls::updated_at)
                    .get_result(conn)
                    .await?;
                insert_location(conn, id, location, actor, now).await?;
                let moved = CallEvent::LocationUpdated {
                    latitude: location.point.latitude(),
                    longitude: location.point.longitude(),
                    uncertainty_m: location.uncertainty_m,
                    source: location.source,
                };
                events::append_one(conn, actor, About::call(id, call.incident), moved).await
            },
            async |conn, _| load_call(conn, id).await,
        )
        .await
    }

    /// Links a call to an open incident: the incident's timeline records it (a repeat call is
    /// often an escalation) and its call count grows.
    pub async fn link_call(
        &self,
        key: &Idempotency,
        actor: &str,
        call_id: CallId,
        incident_id: IncidentId,
        note: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<(Call, Incident)>, Error> {
        self.write_once(
            key,
            &call_id.name(),
            async |conn| {
                // Lock order everywhere: call, then incident.
                let call = lock_current_call(conn, call_id, expected_version).await?;
                call.check_can_link(incident_id)?;
                let incident = lock_incident(conn, incident_id).await?;
                incident.status.check_can_link_call(&incident_id.name())?;
                if call.incident == Some(incident_id) {
                    // Linked already, by an earlier request: nothing changes.
                    return Ok(());
                }
                diesel::update(calls::table.find(call_id.0))
                    .set((
                        calls::state.eq(CallState::Linked.as_str()),
                        calls::incident_id.eq(incident_id.0),
                        calls::version.eq(calls::version + 1),
                        calls::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                count_linked_call(conn, actor, &call, &incident, note).await
            },
            async |conn, _| {
                Ok((
                    load_call(conn, call_id).await?,
                    load_incident(conn, incident_id).await?,
                ))
            },
        )
        .await
    }

    /// Opens a new incident from an open call, at the call's location, with the default
    /// priority of its type in `catalogue` (the call's hint when no type is given).
    pub async fn open_incident_from_call(
        &self,
        key: &Idempotency,
        actor: &str,
        catalogue: &Catalogue,
        command: &IncidentFromCall,
    ) -> Result<Written<(Call, Incident)>, Error> {
        let IncidentFromCall {
            call: call_id,
            ref incident_type,
            ref summary,
            expected_version,
        } = *command;
        let mut conn = self.conn().await?;
        if key.lookup(&mut conn).await?.is_some() {
            return Ok(Written::new(opened(&mut conn, call_id).await?, true));
        }
        // Refuse what will be refused before drawing a folio: a refused request writes nothing
        // (the checks run again under the call's lock below).
        let call = load_call(&mut conn, call_id).await?;
        check_version(call_id.name(), call.version, expected_version)?;
        call.check_can_open_incident()?;
        let folio = self
            .next_folio(&mut conn, "incident", &self.config().incident_folio_prefix)
            .await?;
        let incident_id = IncidentId::new_v7();
        // On the connection that drew the folio: a request never holds two.
        let claimed = key
            .write_once(&mut conn, &call_id.name(), async |conn| {
                let call = lock_current_call(conn, call_id, expected_version).await?;
                call.check_can_open_incident()?;
                let location = &call.details.location;
                let incident_type = incident_type.clone().or_else(|| {
                    (!call.details.incident_type_hint.is_empty())
                        .then(|| call.details.incident_type_hint.clone())
                });
                let priority = incident_type
                    .as_deref()
                    .and_then(|code| catalogue.get(code))
                    .map(|t| i16::from(t.default_priority));
                let summary = if summary.is_empty() {
                    call.details.account.chars().take(2_000).collect()
                } else {
                    summary.clone()
                };
                let received_at = call.details.received_at;
                // A call taken before its operation was planned is tagged now, with its incident.
                let operation = match call.operation {
                    Some(operation) => Some(operation),
                    None => operation_at(conn, &location.point, received_at).await?,
                };
                NewIncident {
                    incident_type: incident_type.as_deref(),
                    priority,
                    summary: &summary,
                    linked_call_count: 1,
                    operation,
                    ..NewIncident::at(
                        incident_id,
                        &folio,
                        location,
                        received_at,
                        actor,
                        &self.config().areas,
                    )
                }
                .insert(conn)
                .await?;
                diesel::update(calls::table.find(call_id.0))
                    .set((
                        calls::state.eq(CallState::Linked.as_str()),
                        calls::incident_id.eq(incident_id.0),
                        calls::operation_id.eq(operation.map(|o| o.0)),
                        calls::version.eq(calls::version + 1),
                        calls::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                let about = About::call(call_id, Some(incident_id));
                let opened = IncidentEvent::Created {
                    folio: folio.clone(),
                    incident_type: incident_type.clone(),
                    from_call: call.folio.clone(),
                };
                let linked = CallEvent::Linked {
                    call_folio: call.folio.clone(),
                    incident_folio: folio.clone(),
                    channel: call.details.channel,
                    note: String::new(),
                    account: call.details.account.clone(),
                };
                events::append(
                    conn,
                    actor,
                    [(about, opened.into()), (about, linked.into())],
                )
                .await
            })
            .await?;
        claimed
            .answer(&mut conn, async |conn, _| opened(conn, call_id).await)
            .await
    }

    /// Closes a call that never becomes an incident (hang-up, prank, information request...).
    pub async fn dispose_call(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CallId,
        disposition: Disposition,
        note: &str,
        expected_version: Option<i64>,
    ) -> Result<Written<Call>, Error> {
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let call = lock_current_call(conn, id, expected_version).await?;
                call.check_can_dispose()?;
                diesel::update(calls::table.find(id.0))
                    .set((
                        calls::state.eq(CallState::Disposed.as_str()),
                        calls::disposition.eq(disposition.as_str()),
                        calls::disposition_note.eq(note),
                        calls::version.eq(calls::version + 1),
                        calls::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)
                    .await?;
                let disposed = CallEvent::Disposed {
                    disposition,
                    note: note.to_owned(),
                };
                events::append_one(conn, actor, About::call(id, None), disposed).await
            },
            async |conn, _| load_call(conn, id).await,
        )
        .await
    }
}
