//! Intake inside a planned operation over gRPC on real PostgreSQL (issue 24): a call, the
//! incident opened from it and an imported EIDO's incident come back from the RPC that created
//! them already tagged with the operation (the tag is written in their creating transaction);
//! and the synthetic surge (300 calls in 30 minutes inside the Zócalo about 25 emergencies)
//! sent through CreateCall as a call taker works it, with and without the operation.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use dispatch_domain::location::GeoPoint;
use dispatch_domain::operation::surge::{SurgeCall, SurgeFigures, synthetic};
use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{self, ZOCALO, call_at, create_call, offset, open_incident};
use dispatch_tests::{TestServer, request_id};

use crate::eido_import::{call as eido_call, callback as eido_callback, neighbour_eido};
use crate::operations::{concert, operations_as, square, timestamp};

async fn get_incident(server: &TestServer, name: &str) -> pb::Incident {
    server
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .expect("get incident")
        .into_inner()
        .incident
        .expect("incident")
}

async fn get_call(server: &TestServer, name: &str) -> pb::Call {
    server
        .calls()
        .get_call(pb::GetCallRequest { name: name.into() })
        .await
        .expect("get call")
        .into_inner()
        .call
        .expect("call")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_and_its_incident_inside_the_zocalo_come_back_already_tagged() {
    let concert = concert().await;
    let server = &concert.server;
    let operation = &concert.operation.name;

    // CreateCall's own answer carries the tag: it is the row the call's statement wrote.
    let inside = create_call(server, call_at(offset(ZOCALO, 0.03, 0.02), 10.0))
        .await
        .call
        .expect("call");
    assert_eq!(&inside.operation, operation, "{inside:?}");
    let incident = open_incident(server, &inside.name, "").await;
    assert_eq!(&incident.operation, operation, "{incident:?}");
    assert_eq!(
        &get_incident(server, &incident.name).await.operation,
        operation
    );
    assert_eq!(&get_call(server, &inside.name).await.operation, operation);

    // The operation's second zone (the Alameda) tags too; 3 km away nothing does.
    let alameda = create_call(server, call_at(offset(ZOCALO, 0.1, -1.2), 10.0))
        .await
        .call
        .expect("call");
    assert_eq!(&alameda.operation, operation);
    let outside = create_call(server, call_at(offset(ZOCALO, 3.0, 0.0), 10.0))
        .await
        .call
        .expect("call");
    assert_eq!(outside.operation, "", "{outside:?}");
    let untagged = open_incident(server, &outside.name, "").await;
    assert_eq!(untagged.operation, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_taken_before_the_operation_was_planned_is_tagged_when_its_incident_opens() {
    let server = TestServer::start().await;
    let early = create_call(&server, call_at(ZOCALO, 10.0))
        .await
        .call
        .expect("call");
    assert_eq!(early.operation, "");
    // Planned afterwards, in force since before the call came in.
    let now = Utc::now();
    let operation = operations_as(&server, &server.token)
        .create_operation(pb::CreateOperationRequest {
            request_id: request_id(),
            operation: Some(pb::Operation {
                display_name: "Marcha".into(),
                zones: vec![square(ZOCALO, 0.2)],
                start_time: timestamp(now - Duration::minutes(30)),
                end_time: timestamp(now + Duration::hours(2)),
                ..Default::default()
            }),
        })
        .await
        .expect("create operation")
        .into_inner()
        .operation
        .expect("operation");
    let incident = open_incident(&server, &early.name, "").await;
    assert_eq!(incident.operation, operation.name);
    assert_eq!(
        get_call(&server, &early.name).await.operation,
        operation.name
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_eido_inside_the_zocalo_is_tagged_with_its_calls() {
    let concert = concert().await;
    let server = &concert.server;
    let (_, gateway) = server.person(pb::Role::Gateway, "esinet").await;
    let at = (Utc::now() - Duration::minutes(2)).to_rfc3339();
    let started = (Utc::now() - Duration::minutes(4)).to_rfc3339();
    // The neighbour's incident is at (19.4326, -99.1332): the middle of the square.
    let eido = neighbour_eido(
        &at,
        "MVAINJY",
        (19.4326, -99.1332),
        &[eido_call("call-1", &at, &started)],
        &[eido_callback("call-1", &at, "+525512345678")],
        &[],
    );
    let imported = server
        .exchange_as(&gateway)
        .import_eido(pb::ImportEidoRequest {
            request_id: request_id(),
            eido_json: eido,
            fallback_location: None,
        })
        .await
        .expect("import")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(imported.operation, concert.operation.name, "{imported:?}");
    let [call] = imported.calls.as_slice() else {
        panic!("{:?}", imported.calls)
    };
    assert_eq!(
        get_call(server, call).await.operation,
        concert.operation.name
    );
}

/// The surge starts at 20:00 UTC, as the domain's test does, whatever the time of the run: the
/// density term weighs the local call rate by its UTC hour (the shipped model's factors run
/// from 0.28 at 09:00 to 1.86 at 23:00), so a surge of the last 40 minutes linked far more
/// calls under the city's rule in the small hours than in the evening, and the test's
/// comparison held only at some hours of the day. The latest such start whose 30 minutes of
/// calls are all in the past.
fn last_surge_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now
        .date_naive()
        .and_hms_opt(20, 0, 0)
        .expect("20:00")
        .and_utc();
    if today + Duration::minutes(40) <= now {
        today
    } else {
        today - Duration::days(1)
    }
}

#[test]
fn the_surge_starts_at_the_last_eight_pm_utc_that_has_passed() {
    let at = |text: &str| text.parse::<DateTime<Utc>>().expect("time");
    assert_eq!(
        last_surge_start(at("2026-12-05T06:20:00Z")),
        at("2026-12-04T20:00:00Z")
    );
    assert_eq!(
        last_surge_start(at("2026-12-05T20:39:59Z")),
        at("2026-12-04T20:00:00Z")
    );
    assert_eq!(
        last_surge_start(at("2026-12-05T20:40:00Z")),
        at("2026-12-05T20:00:00Z")
    );
}

/// The surge's kinds as the catalogue's types.
fn catalogue_type(kind: &str) -> &'static str {
    match kind {
        "ASSAULT" => "CRIME-ASSAULT",
        "MEDICAL" => "MED-SICK",
        "LOST-PERSON" => "MISSING-CHILD",
        "THEFT" => "CRIME-ROBBERY",
        "CRUSH" => "EVENT-CROWD-CRUSH",
        "" => "",
        other => panic!("surge kind {other}"),
    }
}

fn at_time(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).expect("nanos"),
    })
}

/// The surge sent through CreateCall as a call taker works it: each call is linked to the top
/// duplicate candidate CreateCall answers (the incident takes the call's type if it had none),
/// or opens an incident. Returns the figures of the domain's replay and how many calls came
/// back tagged with `operation`.
async fn replay_over_grpc(
    server: &TestServer,
    calls: &[SurgeCall],
    operation: &str,
) -> (SurgeFigures, usize) {
    let mut intake = server.calls();
    let mut triage = server.triage();
    // Each incident's emergencies, the first being the one it was opened for.
    let mut opened: HashMap<String, Vec<usize>> = HashMap::new();
    let mut figures = SurgeFigures {
        calls: calls.len(),
        emergencies: calls.iter().map(|c| c.emergency + 1).max().unwrap_or(0),
        ..SurgeFigures::default()
    };
    let mut tagged = 0;
    for surge in calls {
        let probe = &surge.probe;
        let kind = catalogue_type(&probe.incident_type);
        let mut request = call_at((probe.point.latitude(), probe.point.longitude()), 0.0);
        request.received_time = at_time(probe.received_at);
        request.incident_type_hint = kind.into();
        if let Some(location) = request.location.as_mut() {
            location.uncertainty_m = probe.uncertainty_m;
        }
        let created = intake
            .create_call(request)
            .await
            .expect("create call")
            .into_inner();
        let call = created.call.expect("call");
        if !operation.is_empty() && call.operation == operation {
            tagged += 1;
        }
        let Some(best) = created.duplicate_candidates.first() else {
            let incident = open_incident(server, &call.name, "").await;
            opened.insert(incident.name, vec![surge.emergency]);
            continue;
        };
        let linked = intake
            .link_call_to_incident(pb::LinkCallToIncidentRequest {
                request_id: request_id(),
                name: call.name.clone(),
                incident: best.incident.clone(),
                ..Default::default()
            })
            .await
            .expect("link")
            .into_inner()
            .incident
            .expect("incident");
        figures.linked += 1;
        let emergencies = opened.get_mut(&best.incident).expect("opened here");
        if emergencies[0] != surge.emergency {
            figures.linked_wrongly += 1;
        }
        if !emergencies.contains(&surge.emergency) {
            emergencies.push(surge.emergency);
        }
        if linked.incident_type.is_empty() && !kind.is_empty() {
            triage
                .update_incident(pb::UpdateIncidentRequest {
                    request_id: request_id(),
                    incident: Some(pb::Incident {
                        name: linked.name.clone(),
                        etag: linked.etag.clone(),
                        incident_type: kind.into(),
                        ..Default::default()
                    }),
                    update_mask: fixtures::mask(&["incident_type"]),
                    reason: String::new(),
                })
                .await
                .expect("type the incident");
        }
    }
    figures.incidents = opened.len();
    for emergency in 0..figures.emergencies {
        let holding: Vec<&Vec<usize>> =
            opened.values().filter(|e| e.contains(&emergency)).collect();
        if holding.len() > 1 {
            figures.emergencies_split += 1;
        }
        if holding.iter().any(|e| e.len() > 1) {
            figures.emergencies_merged += 1;
        }
    }
    (figures, tagged)
}

/// Issue 24's surge, end to end: the domain's synthetic calls (seed 24, as its `surge` test)
/// from the last 20:00 UTC at least 40 minutes ago, sent through CreateCall to a server whose Zócalo operation is in
/// force, and to one without it. Every call comes back tagged; under the operation's crowd rule
/// calls are linked, few of them to another emergency; under the city's (the local call rate
/// counted from the surge itself) the same calls open an incident each.
/// `cargo test -p dispatch-tests --test e2e surge_over_grpc -- --nocapture` prints the figures.
#[tokio::test(flavor = "multi_thread")]
async fn the_zocalo_surge_over_grpc_with_and_without_the_operation() {
    let start = last_surge_start(Utc::now());
    let south_west = GeoPoint::new(19.4316, -99.1345).expect("point");
    let north_east = GeoPoint::new(19.4337, -99.1320).expect("point");
    let calls = synthetic(24, start, south_west, north_east, 300, 30, 25);
    assert_eq!(calls.len(), 300);

    let with = TestServer::start().await;
    let operation = operations_as(&with, &with.token)
        .create_operation(pb::CreateOperationRequest {
            request_id: request_id(),
            operation: Some(pb::Operation {
                display_name: "Concierto en el Zócalo".into(),
                // The square and its streets: every call of the surge, the vague ones too.
                zones: vec![square(ZOCALO, 0.6)],
                start_time: timestamp(start - Duration::minutes(5)),
                end_time: timestamp(Utc::now() + Duration::hours(4)),
                ..Default::default()
            }),
        })
        .await
        .expect("create operation")
        .into_inner()
        .operation
        .expect("operation");
    let (crowd, tagged) = replay_over_grpc(&with, &calls, &operation.name).await;
    let without = TestServer::start().await;
    let (city, _) = replay_over_grpc(&without, &calls, "").await;
    println!("surge over gRPC, the operation's crowd rule: {crowd:?}");
    println!("surge over gRPC, the city's rule:           {city:?}");

    assert_eq!(tagged, 300, "every call of the surge is tagged");
    assert_eq!(crowd.incidents + crowd.linked, 300);
    assert_eq!(city.incidents + city.linked, 300);
    // The crowd rule links calls, and most links go to the right emergency.
    assert!(crowd.linked >= 100, "{crowd:?}");
    assert!(crowd.linked_wrongly * 4 <= crowd.linked, "{crowd:?}");
    assert!(crowd.emergencies_merged < 25, "{crowd:?}");
    // The city's rule, its rate counted from the surge, opens far more incidents.
    assert!(city.incidents > crowd.incidents, "{city:?} {crowd:?}");
}
