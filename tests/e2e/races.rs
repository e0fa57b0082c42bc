//! Races, generated: proptest draws a fleet, a few incidents and a schedule of operations for
//! several concurrent dispatchers, call takers and field units (spread over two servers on one
//! database), runs them all at once, then checks in the database that
//! - no unit is ever on two incidents, and a unit is committed exactly when it has one active
//!   assignment, to the incident it names, and that incident is not closed or cancelled;
//! - an idempotent create never yields two rows: one call per CreateCall request id (however many
//!   call takers send it at once), one set of assignments per AssignUnits request id;
//! - every unit's and incident's statuses, read back from the event log in order, move only along
//!   the domain's state machines and end where the tables say they are.
//!
//! `PROPTEST_CASES` sets the number of scenarios (default 16).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use diesel_async::RunQueryDsl as _;
use dispatch_domain::directory::UnitStatus;
use dispatch_domain::incident::{ClosingCode, IncidentStatus, Transition};
use dispatch_proto::v1 as pb;
use dispatch_tests::{TestServer, fixtures, request_id};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tonic::Code;

/// Request ids call takers share, so that the same CreateCall races with itself.
const CALL_KEYS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// CreateCall with shared request id `key` (same payload every time).
    CreateCall {
        key: usize,
    },
    Assign {
        incident: usize,
        units: BTreeSet<usize>,
        /// Sent twice at once with the same request id.
        retry: bool,
    },
    /// Reported by the unit's own field-unit principal.
    Status {
        unit: usize,
        status: pb::UnitStatus,
        retry: bool,
    },
    Release {
        unit: usize,
        incident: usize,
    },
    /// ON_SCENE or RESOLVED.
    Advance {
        incident: usize,
        resolved: bool,
    },
    Close {
        incident: usize,
        code: pb::ClosingCode,
    },
    Cancel {
        incident: usize,
    },
    Merge {
        survivor: usize,
        duplicate: usize,
    },
}

#[derive(Debug, Clone)]
struct Scenario {
    units: usize,
    incidents: usize,
    /// One schedule per concurrent actor; actor i talks to server i % 2.
    actors: Vec<Vec<Op>>,
}

fn op(units: usize, incidents: usize) -> impl Strategy<Value = Op> {
    let unit = 0..units;
    let incident = 0..incidents;
    prop_oneof![
        2 => (0..CALL_KEYS).prop_map(|key| Op::CreateCall { key }),
        5 => (
            incident.clone(),
            proptest::collection::btree_set(unit.clone(), 1..=units.min(3)),
            any::<bool>()
        )
            .prop_map(|(incident, units, retry)| Op::Assign {
                incident,
                units,
                retry
            }),
        5 => (
            unit.clone(),
            prop_oneof![
                Just(pb::UnitStatus::EnRoute),
                Just(pb::UnitStatus::OnScene),
                Just(pb::UnitStatus::Transporting),
                Just(pb::UnitStatus::AtHospital),
                Just(pb::UnitStatus::Available),
                Just(pb::UnitStatus::OutOfService),
            ],
            any::<bool>()
        )
            .prop_map(|(unit, status, retry)| Op::Status {
                unit,
                status,
                retry
            }),
        2 => (unit, incident.clone()).prop_map(|(unit, incident)| Op::Release { unit, incident }),
        2 => (incident.clone(), any::<bool>())
            .prop_map(|(incident, resolved)| Op::Advance { incident, resolved }),
        1 => (
            incident.clone(),
            prop_oneof![
                Just(pb::ClosingCode::Confirmed),
                Just(pb::ClosingCode::Negative),
                Just(pb::ClosingCode::False),
                Just(pb::ClosingCode::Informative),
            ]
        )
            .prop_map(|(incident, code)| Op::Close { incident, code }),
        1 => incident.clone().prop_map(|incident| Op::Cancel { incident }),
        1 => (incident.clone(), incident)
            .prop_filter("two incidents", |(a, b)| a != b)
            .prop_map(|(survivor, duplicate)| Op::Merge {
                survivor,
                duplicate
            }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2..=5usize, 2..=4usize).prop_flat_map(|(units, incidents)| {
        proptest::collection::vec(
            proptest::collection::vec(op(units, incidents), 2..=10),
            3..=6,
        )
        .prop_map(move |actors| Scenario {
            units,
            incidents,
            actors,
        })
    })
}

/// Everything one scenario needs: names and tokens.
struct World {
    servers: [TestServer; 2],
    units: Vec<String>,
    /// The field-unit principal of each unit.
    unit_tokens: Vec<String>,
    incidents: Vec<String>,
    dispatcher: String,
    call_taker: String,
    call_keys: Vec<String>,
    /// Incidents opened from calls during setup: one call each.
    setup_calls: usize,
}

async fn world(scenario: &Scenario) -> World {
    let first = TestServer::start().await;
    let second = TestServer::start_on(
        dispatch_server::Config::defaults(),
        first.database_url.clone(),
    )
    .await;
    let agency = fixtures::agency(&first, "SSC", pb::AgencyKind::Police).await;
    let mut units = Vec::new();
    let mut unit_tokens = Vec::new();
    for index in 0..scenario.units {
        let call_sign = format!("P{index:02}");
        let unit = fixtures::unit(&first, &agency, &call_sign, pb::UnitType::Patrol)
            .await
            .name;
        let (_, token) = first
            .principal(pb::Role::FieldUnit, "field", Some(&unit), None)
            .await;
        units.push(unit);
        unit_tokens.push(token);
    }
    let (_, call_taker) = first.person(pb::Role::CallTaker, "taker").await;
    let (_, dispatcher) = first.person(pb::Role::Dispatcher, "dispatcher").await;
    let mut incidents = Vec::new();
    for index in 0..scenario.incidents {
        let latitude = 19.30 + 0.01 * f64::from(u8::try_from(index).expect("few"));
        let request = call_request(request_id(), latitude, format!("setup call {index}"));
        let call = fixtures::create_call_as(&first, &call_taker, request)
            .await
            .call
            .expect("call");
        let incident = fixtures::open_incident_as(&first, &call_taker, &call.name, "").await;
        incidents.push(incident.name);
    }
    World {
        servers: [first, second],
        units,
        unit_tokens,
        incidents,
        dispatcher,
        call_taker,
        call_keys: (0..CALL_KEYS).map(|_| request_id()).collect(),
        setup_calls: scenario.incidents,
    }
}

fn call_request(request_id: String, latitude: f64, account: String) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        request_id,
        channel: pb::CallChannel::Voice911.into(),
        callback_number: "+525555550101".into(),
        location: Some(pb::Location {
            point: Some(pb::GeoPoint {
                latitude,
                longitude: -99.13,
            }),
            uncertainty_m: 20.0,
            source: pb::LocationSource::Device.into(),
            civic_address: String::new(),
        }),
        account,
        ..Default::default()
    }
}

/// What one request answered.
#[derive(Debug, Clone)]
struct Outcome {
    op: String,
    request_id: String,
    result: Result<Answer, (Code, String)>,
}

#[derive(Debug, Clone)]
enum Answer {
    Call(String),
    Assigned(usize),
    Done,
}

fn answer<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    f: impl FnOnce(T) -> Answer,
) -> Result<Answer, (Code, String)> {
    result
        .map(|response| f(response.into_inner()))
        .map_err(|status| (status.code(), status.message().to_owned()))
}

/// Sends a request once, or (a retry) twice at the same time: the result of each send.
async fn once_or_twice<F, T>(retry: bool, send: impl Fn() -> F) -> Vec<T>
where
    F: Future<Output = T>,
{
    if retry {
        let (a, b) = tokio::join!(send(), send());
        vec![a, b]
    } else {
        vec![send().await]
    }
}

/// Runs `op` once (twice at once with one request id when it is a retry).
async fn run(world: &World, server: &TestServer, op: &Op) -> Vec<Outcome> {
    let id = request_id();
    let label = format!("{op:?}");
    let outcome = |request_id: &str, result| Outcome {
        op: label.clone(),
        request_id: request_id.to_owned(),
        result,
    };
    match op {
        Op::CreateCall { key } => {
            let request_id = world.call_keys[*key].clone();
            let request = call_request(request_id.clone(), 19.5, format!("shared call {key}"));
            let result = server
                .calls_as(&world.call_taker)
                .create_call(request)
                .await;
            vec![outcome(
                &request_id,
                answer(result, |r| {
                    Answer::Call(r.call.map(|c| c.name).unwrap_or_default())
                }),
            )]
        }
        Op::Assign {
            incident,
            units,
            retry,
        } => {
            let request = pb::AssignUnitsRequest {
                request_id: id.clone(),
                incident: world.incidents[*incident].clone(),
                units: units.iter().map(|u| world.units[*u].clone()).collect(),
                recommendation: String::new(),
                override_reason: "race".into(),
                dispatch_time: None,
            };
            let count = units.len();
            let send = || {
                let mut client = server.units_as(&world.dispatcher);
                let request = request.clone();
                async move { client.assign_units(request).await }
            };
            once_or_twice(*retry, send)
                .await
                .into_iter()
                .map(|r| outcome(&id, answer(r, |_| Answer::Assigned(count))))
                .collect()
        }
        Op::Status {
            unit,
            status,
            retry,
        } => {
            let request = pb::SetUnitStatusRequest {
                request_id: id.clone(),
                unit: world.units[*unit].clone(),
                status: (*status).into(),
                ..Default::default()
            };
            let send = || {
                let mut client = server.units_as(&world.unit_tokens[*unit]);
                let request = request.clone();
                async move { client.set_unit_status(request).await }
            };
            once_or_twice(*retry, send)
                .await
                .into_iter()
                .map(|r| outcome(&id, answer(r, |_| Answer::Done)))
                .collect()
        }
        Op::Release { unit, incident } => {
            let result = server
                .units_as(&world.dispatcher)
                .release_unit(pb::ReleaseUnitRequest {
                    request_id: id.clone(),
                    unit: world.units[*unit].clone(),
                    incident: world.incidents[*incident].clone(),
                    reason: "race".into(),
                    release_time: None,
                })
                .await;
            vec![outcome(&id, answer(result, |_| Answer::Done))]
        }
        Op::Advance { incident, resolved } => {
            let status = if *resolved {
                pb::IncidentStatus::Resolved
            } else {
                pb::IncidentStatus::OnScene
            };
            let result = server
                .triage_as(&world.dispatcher)
                .change_incident_status(pb::ChangeIncidentStatusRequest {
                    request_id: id.clone(),
                    name: world.incidents[*incident].clone(),
                    status: status.into(),
                    ..Default::default()
                })
                .await;
            vec![outcome(&id, answer(result, |_| Answer::Done))]
        }
        Op::Close { incident, code } => {
            let result = server
                .triage_as(&world.dispatcher)
                .close_incident(pb::CloseIncidentRequest {
                    request_id: id.clone(),
                    name: world.incidents[*incident].clone(),
                    closing_code: (*code).into(),
                    ..Default::default()
                })
                .await;
            vec![outcome(&id, answer(result, |_| Answer::Done))]
        }
        Op::Cancel { incident } => {
            let result = server
                .triage_as(&world.dispatcher)
                .cancel_incident(pb::CancelIncidentRequest {
                    request_id: id.clone(),
                    name: world.incidents[*incident].clone(),
                    reason: "race".into(),
                    etag: String::new(),
                })
                .await;
            vec![outcome(&id, answer(result, |_| Answer::Done))]
        }
        Op::Merge {
            survivor,
            duplicate,
        } => {
            let result = server
                .triage_as(&world.dispatcher)
                .merge_incidents(pb::MergeIncidentsRequest {
                    request_id: id.clone(),
                    survivor: world.incidents[*survivor].clone(),
                    duplicate: world.incidents[*duplicate].clone(),
                    ..Default::default()
                })
                .await;
            vec![outcome(&id, answer(result, |_| Answer::Done))]
        }
    }
}

#[derive(diesel::QueryableByName, Debug)]
struct UnitRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    incident: Option<String>,
}

#[derive(diesel::QueryableByName, Debug)]
struct IncidentRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
}

#[derive(diesel::QueryableByName, Debug)]
struct ActiveAssignment {
    #[diesel(sql_type = diesel::sql_types::Text)]
    unit: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    incident: String,
}

#[derive(diesel::QueryableByName, Debug)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    unit: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    incident: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    from_status: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    to_status: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    released_to: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    closing_code: Option<String>,
}

#[derive(diesel::QueryableByName, Debug)]
struct Key {
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource: String,
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// The codes a race may legitimately end in: a lost race or a wrong state. Anything else (an
/// invalid request from this generator, INTERNAL from a deadlock, UNAVAILABLE) is a failure.
fn check_codes(outcomes: &[Outcome]) -> Result<(), String> {
    for outcome in outcomes {
        if let Err((code, message)) = &outcome.result {
            ensure!(
                matches!(code, Code::FailedPrecondition | Code::Aborted),
                "{} answered {code:?}: {message}",
                outcome.op
            );
        }
    }
    Ok(())
}

/// One call per CreateCall request id, whoever sent it and however often; one set of
/// assignments per successful AssignUnits request id.
async fn check_idempotency(
    world: &World,
    outcomes: &[Outcome],
    conn: &mut diesel_async::AsyncPgConnection,
) -> Result<(), String> {
    let mut calls_by_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut assigned: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes {
        match &outcome.result {
            Ok(Answer::Call(name)) => {
                calls_by_key
                    .entry(&outcome.request_id)
                    .or_default()
                    .insert(name);
            }
            Ok(Answer::Assigned(count)) => {
                assigned.insert(&outcome.request_id, *count);
            }
            Ok(Answer::Done) | Err(_) => {}
        }
    }
    for (key, names) in &calls_by_key {
        ensure!(
            names.len() == 1,
            "CreateCall {key} answered with {} different calls: {names:?}",
            names.len()
        );
    }
    let keys: Vec<Key> = diesel::sql_query(
        "SELECT request_id::text AS request_id, resource FROM idempotency_keys \
         WHERE method = 'CreateCall'",
    )
    .load(conn)
    .await
    .map_err(|e| e.to_string())?;
    let stored: HashMap<&str, &str> = keys
        .iter()
        .map(|k| (k.request_id.as_str(), k.resource.as_str()))
        .collect();
    for (key, names) in &calls_by_key {
        let name = names.iter().next().copied().unwrap_or_default();
        ensure!(
            stored.get(key) == Some(&name),
            "CreateCall {key} answered {name} but its stored key says {:?}",
            stored.get(key)
        );
    }
    let calls = world.servers[0].count("calls").await;
    let expected = world.setup_calls + calls_by_key.len();
    ensure!(
        usize::try_from(calls).ok() == Some(expected),
        "{calls} calls stored, expected {expected} (setup + one per shared request id)"
    );
    let assignments = world.servers[0].count("assignments").await;
    let expected: usize = assigned.values().sum();
    ensure!(
        usize::try_from(assignments).ok() == Some(expected),
        "{assignments} assignment rows, but the successful AssignUnits request ids account for \
         {expected}: a retried assignment ran twice"
    );
    Ok(())
}

/// A unit is committed exactly when it has one active assignment, to the incident it names, and
/// that incident is still open.
async fn check_one_unit_one_incident(
    conn: &mut diesel_async::AsyncPgConnection,
) -> Result<(), String> {
    let units: Vec<UnitRow> = diesel::sql_query(
        "SELECT id::text AS id, status, current_incident_id::text AS incident FROM units",
    )
    .load(conn)
    .await
    .map_err(|e| e.to_string())?;
    let active: Vec<ActiveAssignment> = diesel::sql_query(
        "SELECT unit_id::text AS unit, incident_id::text AS incident FROM assignments \
         WHERE cleared_at IS NULL AND released_at IS NULL",
    )
    .load(conn)
    .await
    .map_err(|e| e.to_string())?;
    let incidents: Vec<IncidentRow> =
        diesel::sql_query("SELECT id::text AS id, status FROM incidents")
            .load(conn)
            .await
            .map_err(|e| e.to_string())?;
    let incident_status: HashMap<&str, &str> = incidents
        .iter()
        .map(|i| (i.id.as_str(), i.status.as_str()))
        .collect();
    let mut by_unit: HashMap<&str, Vec<&str>> = HashMap::new();
    for assignment in &active {
        by_unit
            .entry(&assignment.unit)
            .or_default()
            .push(&assignment.incident);
    }
    for unit in &units {
        let status = UnitStatus::parse(&unit.status).ok_or("unknown unit status")?;
        let assignments = by_unit.get(unit.id.as_str()).cloned().unwrap_or_default();
        ensure!(
            assignments.len() <= 1,
            "unit {} has {} active assignments: {assignments:?}",
            unit.id,
            assignments.len()
        );
        if status.is_committed() {
            let incident = unit
                .incident
                .as_deref()
                .ok_or(format!("unit {} is {status} without an incident", unit.id))?;
            ensure!(
                assignments == [incident],
                "unit {} is {status} on {incident} but its active assignments are {assignments:?}",
                unit.id
            );
            let incident_status = incident_status.get(incident).copied().unwrap_or("missing");
            ensure!(
                !matches!(incident_status, "closed" | "cancelled"),
                "unit {} is {status} on incident {incident}, which is {incident_status}",
                unit.id
            );
        } else {
            ensure!(
                unit.incident.is_none() && assignments.is_empty(),
                "unit {} is {status} yet on {:?} with active assignments {assignments:?}",
                unit.id,
                unit.incident
            );
        }
    }
    Ok(())
}

async fn events(conn: &mut diesel_async::AsyncPgConnection) -> Result<Vec<EventRow>, String> {
    diesel::sql_query(
        "SELECT seq, kind, unit_id::text AS unit, incident_id::text AS incident, \
                details->>'from' AS from_status, details->>'to' AS to_status, \
                details->>'status' AS released_to, \
                details->'details'->>'closing_code' AS closing_code \
         FROM events ORDER BY seq",
    )
    .load(conn)
    .await
    .map_err(|e| e.to_string())
}

fn unit_status(text: Option<&str>, event: &EventRow) -> Result<UnitStatus, String> {
    text.and_then(UnitStatus::parse)
        .ok_or_else(|| format!("event {event:?} lacks a unit status"))
}

fn incident_status(text: Option<&str>, event: &EventRow) -> Result<IncidentStatus, String> {
    text.and_then(IncidentStatus::parse)
        .ok_or_else(|| format!("event {event:?} lacks an incident status"))
}

/// Replays every unit's and incident's statuses from the event log, in log order, through the
/// domain's state machines; each must end where its row is.
async fn check_legal_paths(conn: &mut diesel_async::AsyncPgConnection) -> Result<(), String> {
    let log = events(conn).await?;
    let mut units: HashMap<String, UnitStatus> = HashMap::new();
    let mut incidents: HashMap<String, IncidentStatus> = HashMap::new();
    for event in &log {
        if let Some(unit) = &event.unit {
            let kind = event.kind.as_str();
            if kind == "unit_created" {
                // Created AVAILABLE by this test.
                units.insert(unit.clone(), UnitStatus::Available);
                continue;
            }
            let from = *units
                .get(unit)
                .ok_or(format!("{kind} for unit {unit} before it was created"))?;
            let illegal = |to: UnitStatus| format!("unit {unit}: {from} -> {to} by {event:?}");
            let to = match kind {
                "unit_dispatched" => {
                    ensure!(
                        from == UnitStatus::Available,
                        "{}",
                        illegal(UnitStatus::Dispatched)
                    );
                    let incident = event.incident.as_ref().ok_or("dispatch without incident")?;
                    let status = incidents
                        .get(incident)
                        .ok_or(format!("unit dispatched to unknown incident {incident}"))?;
                    ensure!(
                        status.apply(Transition::Dispatch, incident).is_ok(),
                        "unit {unit} dispatched to incident {incident} while it was {status}"
                    );
                    UnitStatus::Dispatched
                }
                "unit_en_route" | "unit_on_scene" | "unit_transporting" | "unit_at_hospital" => {
                    let to = UnitStatus::parse(&kind["unit_".len()..]).ok_or("status kind")?;
                    ensure!(
                        from != to && from.report(to, unit).is_ok(),
                        "{}",
                        illegal(to)
                    );
                    to
                }
                "unit_cleared" | "unit_released" => {
                    let to = if kind == "unit_cleared" {
                        UnitStatus::Available
                    } else {
                        unit_status(event.released_to.as_deref(), event)?
                    };
                    ensure!(
                        from.is_committed() && from.report(to, unit).is_ok(),
                        "{}",
                        illegal(to)
                    );
                    to
                }
                "unit_status_changed" => {
                    let recorded = unit_status(event.from_status.as_deref(), event)?;
                    let to = unit_status(event.to_status.as_deref(), event)?;
                    ensure!(
                        recorded == from && from != to && from.report(to, unit).is_ok(),
                        "{}",
                        illegal(to)
                    );
                    to
                }
                "unit_decommissioned" => {
                    ensure!(
                        !from.is_committed(),
                        "{}",
                        illegal(UnitStatus::OutOfService)
                    );
                    UnitStatus::OutOfService
                }
                "unit_updated" | "unit_position" => from,
                other => return Err(format!("unit event {other:?}: teach this check its status")),
            };
            units.insert(unit.clone(), to);
        } else if let Some(incident) = &event.incident {
            let kind = event.kind.as_str();
            if kind == "incident_created" {
                incidents.insert(incident.clone(), IncidentStatus::New);
                continue;
            }
            let from = *incidents.get(incident).ok_or(format!(
                "{kind} for incident {incident} before it was created"
            ))?;
            let step = |transition: Transition| {
                from.apply(transition, incident)
                    .map_err(|e| format!("incident {incident}: {e} ({event:?})"))
            };
            let to = match kind {
                "incident_triaged" => step(Transition::Triage)?,
                "status_changed" => {
                    let recorded = incident_status(event.from_status.as_deref(), event)?;
                    let to = incident_status(event.to_status.as_deref(), event)?;
                    ensure!(
                        recorded == from,
                        "incident {incident} changed from {recorded} but was {from}: {event:?}"
                    );
                    let transition = match to {
                        IncidentStatus::Triaged => Transition::Triage,
                        IncidentStatus::Dispatched => Transition::Dispatch,
                        IncidentStatus::OnScene => Transition::ArriveOnScene,
                        IncidentStatus::Resolved => Transition::Resolve,
                        other => return Err(format!("status_changed to {other}: {event:?}")),
                    };
                    ensure!(step(transition)? == to, "incident {incident}: {event:?}");
                    to
                }
                "incident_closed" => {
                    let recorded = incident_status(event.from_status.as_deref(), event)?;
                    ensure!(
                        recorded == from,
                        "incident {incident} closed from {recorded}, was {from}"
                    );
                    let code = event
                        .closing_code
                        .as_deref()
                        .and_then(ClosingCode::parse)
                        .ok_or(format!("closed without a code: {event:?}"))?;
                    step(Transition::Close(code))?
                }
                "incident_cancelled" => {
                    let recorded = incident_status(event.from_status.as_deref(), event)?;
                    ensure!(
                        recorded == from,
                        "incident {incident} cancelled from {recorded}, was {from}"
                    );
                    step(Transition::Cancel)?
                }
                "merged_in" | "merged_into" | "incident_updated" => step(Transition::Update)?,
                "note_added" | "priority_changed" | "call_linked" => from,
                other => {
                    return Err(format!(
                        "incident event {other:?}: teach this check its status"
                    ));
                }
            };
            incidents.insert(incident.clone(), to);
        }
    }
    let rows: Vec<UnitRow> = diesel::sql_query(
        "SELECT id::text AS id, status, current_incident_id::text AS incident FROM units",
    )
    .load(conn)
    .await
    .map_err(|e| e.to_string())?;
    for row in rows {
        let replayed = units.get(&row.id).map(|s| s.as_str());
        ensure!(
            replayed == Some(row.status.as_str()),
            "unit {} is {} but its events lead to {replayed:?}",
            row.id,
            row.status
        );
    }
    let rows: Vec<IncidentRow> = diesel::sql_query("SELECT id::text AS id, status FROM incidents")
        .load(conn)
        .await
        .map_err(|e| e.to_string())?;
    for row in rows {
        let replayed = incidents.get(&row.id).map(|s| s.as_str());
        ensure!(
            replayed == Some(row.status.as_str()),
            "incident {} is {} but its events lead to {replayed:?}",
            row.id,
            row.status
        );
    }
    check_feed_sequence_has_no_gaps(conn, &log).await
}

/// The feed every Watch stream reads: once everything has committed and been published, its
/// positions are exactly 1..=n, every event of the log is in it once, and events of one unit or
/// one incident are in the order the log has them (`events.seq` alone proves nothing: rolled-back
/// transactions burn numbers and concurrent ones commit out of number order).
async fn check_feed_sequence_has_no_gaps(
    conn: &mut diesel_async::AsyncPgConnection,
    log: &[EventRow],
) -> Result<(), String> {
    #[derive(diesel::QueryableByName)]
    struct Published {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        pending: bool,
    }
    #[derive(diesel::QueryableByName)]
    struct Entry {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        position: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
    }
    // Every request has ended, but a transaction elsewhere in the cluster (another test's
    // database) may still hold publication back for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let published: Published = diesel::sql_query("SELECT pending FROM publish_events()")
            .get_result(conn)
            .await
            .map_err(|e| e.to_string())?;
        if !published.pending {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "events still pending 30 s after every request ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let feed: Vec<Entry> =
        diesel::sql_query("SELECT position, seq FROM event_feed ORDER BY position")
            .load(conn)
            .await
            .map_err(|e| e.to_string())?;
    for (index, entry) in feed.iter().enumerate() {
        ensure!(
            entry.position == index as i64 + 1,
            "feed position {} at index {index}: a gap",
            entry.position
        );
    }
    let mut in_feed: HashMap<i64, i64> = HashMap::new();
    for entry in &feed {
        ensure!(
            in_feed.insert(entry.seq, entry.position).is_none(),
            "event {} published twice",
            entry.seq
        );
    }
    let mut last_position: HashMap<&str, i64> = HashMap::new();
    for event in log {
        let position = *in_feed
            .get(&event.seq)
            .ok_or(format!("event {event:?} never published"))?;
        for resource in [event.unit.as_deref(), event.incident.as_deref()]
            .into_iter()
            .flatten()
        {
            if let Some(previous) = last_position.insert(resource, position) {
                ensure!(
                    previous < position,
                    "{resource}: event {} published before an earlier one",
                    event.seq
                );
            }
        }
    }
    ensure!(
        feed.len() == log.len(),
        "the feed holds events the log does not"
    );
    Ok(())
}

async fn run_scenario(scenario: Scenario) -> Result<Vec<Outcome>, String> {
    let world = Arc::new(world(&scenario).await);
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let actors: Vec<_> = scenario
        .actors
        .iter()
        .cloned()
        .enumerate()
        .map(|(index, ops)| {
            let world = world.clone();
            let outcomes = outcomes.clone();
            tokio::spawn(async move {
                let server = &world.servers[index % 2];
                for op in &ops {
                    let answered = run(&world, server, op).await;
                    outcomes.lock().expect("outcomes").extend(answered);
                }
            })
        })
        .collect();
    for actor in actors {
        actor.await.map_err(|e| format!("an actor panicked: {e}"))?;
    }
    let outcomes = outcomes.lock().expect("outcomes").clone();
    check_codes(&outcomes)?;
    let mut conn = world.servers[0].db().await;
    check_one_unit_one_incident(&mut conn).await?;
    check_idempotency(&world, &outcomes, &mut conn).await?;
    check_legal_paths(&mut conn).await?;
    Ok(outcomes)
}

#[test]
fn concurrent_dispatchers_call_takers_and_field_units_never_break_an_invariant() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases,
        // Each case is a fresh database and two servers; shrinking re-runs whole races.
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let tally: Mutex<BTreeMap<String, usize>> = Mutex::default();
    let result = runner.run(&scenario(), |scenario| {
        let outcomes = runtime
            .block_on(run_scenario(scenario))
            .map_err(TestCaseError::fail)?;
        let mut tally = tally.lock().expect("tally");
        for outcome in outcomes {
            let code = outcome.result.map_or_else(|(code, _)| code, |_| Code::Ok);
            *tally.entry(format!("{code:?}")).or_default() += 1;
        }
        Ok(())
    });
    eprintln!(
        "races: {cases} scenarios, answers {:?}",
        tally.lock().expect("tally")
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// The checks themselves: a database broken behind the server's back (a dispatched unit set
/// available without an event, a call row copied under a new id) is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invariant_checks_catch_a_broken_database() {
    let scenario = Scenario {
        units: 2,
        incidents: 1,
        actors: Vec::new(),
    };
    let world = world(&scenario).await;
    let server = &world.servers[0];
    let outcomes = run(
        &world,
        server,
        &Op::Assign {
            incident: 0,
            units: BTreeSet::from([0]),
            retry: true,
        },
    )
    .await;
    check_codes(&outcomes).expect("a plain assignment");
    let mut conn = server.db().await;
    check_one_unit_one_incident(&mut conn)
        .await
        .expect("consistent before");
    check_legal_paths(&mut conn).await.expect("legal before");
    check_idempotency(&world, &outcomes, &mut conn)
        .await
        .expect("idempotent before");

    let unit = world.units[0].trim_start_matches("units/").to_owned();
    diesel::sql_query(format!(
        "UPDATE units SET status = 'available', current_incident_id = NULL WHERE id = '{unit}'"
    ))
    .execute(&mut conn)
    .await
    .expect("breaking a unit");
    let error = check_one_unit_one_incident(&mut conn)
        .await
        .expect_err("an available unit with an active assignment");
    assert!(error.contains("active assignments"), "{error}");
    let error = check_legal_paths(&mut conn)
        .await
        .expect_err("a status no event explains");
    assert!(error.contains("its events lead to"), "{error}");

    diesel::sql_query(
        "INSERT INTO calls (id, folio, channel, state, received_at, call_taker, latitude, \
         longitude, uncertainty_m, location_source, incident_id) \
         SELECT gen_random_uuid(), folio || '-copy', channel, state, received_at, call_taker, \
         latitude, longitude, uncertainty_m, location_source, incident_id FROM calls LIMIT 1",
    )
    .execute(&mut conn)
    .await
    .expect("doubling a call");
    let error = check_idempotency(&world, &outcomes, &mut conn)
        .await
        .expect_err("a call no request id accounts for");
    assert!(error.contains("calls stored"), "{error}");
}
