//! Planned operations over gRPC on real PostgreSQL (issue 24): a concert in the Zócalo with
//! staged units. An incident inside gets a staged unit first; one outside never gets a staged
//! unit without an override reason (the store refuses it in the assignment's transaction); a
//! liaison of a participating (federal) agency sees and watches the operation's incidents only;
//! the video operator's cameras come busiest zone first; the operation's report.

use chrono::{Duration, Utc};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::operation_service_client::OperationServiceClient;
use dispatch_tests::fixtures::{
    self, ZOCALO, agency, assign_request, create_camera, incident_at, next_message, offset,
    patrol_recommendation, unit_at,
};
use dispatch_tests::{Authed, Bearer, TestServer, assert_invalid, request_id};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;

pub(crate) fn operations_as(server: &TestServer, token: &str) -> OperationServiceClient<Authed> {
    OperationServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(token),
    ))
}

pub(crate) fn timestamp(at: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    })
}

/// A square `half_km` either side of `centre`.
pub(crate) fn square(centre: (f64, f64), half_km: f64) -> pb::Polygon {
    pb::Polygon {
        points: [(-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)]
            .into_iter()
            .map(|(n, e)| fixtures::geo(offset(centre, n * half_km, e * half_km)))
            .collect(),
    }
}

/// The Alameda Central, a second zone of the operation, 1.2 km west of the Zócalo.
fn alameda() -> (f64, f64) {
    offset(ZOCALO, 0.1, -1.2)
}

pub(crate) struct Concert {
    pub(crate) server: TestServer,
    pub(crate) operation: pb::Operation,
    pub(crate) staged: pb::Unit,
    pub(crate) ordinary: pb::Unit,
    pub(crate) federal: String,
    cameras: Vec<pb::Camera>,
}

async fn camera(server: &TestServer, agency: &str, code: &str, at: (f64, f64)) -> pb::Camera {
    create_camera(
        server,
        pb::Camera {
            code: code.into(),
            kind: pb::DeviceKind::Camera.into(),
            location: fixtures::point(at),
            agency: agency.into(),
            active: true,
            ..Default::default()
        },
    )
    .await
}

pub(crate) fn concert_request(
    agencies: Vec<String>,
    staged: Vec<String>,
    cameras: Vec<String>,
) -> pb::CreateOperationRequest {
    let now = Utc::now();
    pb::CreateOperationRequest {
        request_id: request_id(),
        operation: Some(pb::Operation {
            display_name: "Concierto en el Zócalo".into(),
            zones: vec![square(ZOCALO, 0.15), square(alameda(), 0.15)],
            start_time: timestamp(now - Duration::minutes(5)),
            end_time: timestamp(now + Duration::hours(6)),
            agencies,
            staged_units: staged,
            cameras,
            ..Default::default()
        }),
    }
}

/// The centre's police and a federal agency; an ordinary patrol 50 m from the Zócalo's
/// centre and a patrol 600 m north staged for the concert; cameras around the square and one at
/// the Alameda.
pub(crate) async fn concert() -> Concert {
    let server = TestServer::start().await;
    let police = agency(&server, "SSC", pb::AgencyKind::Police).await;
    let federal = agency(&server, "GN", pb::AgencyKind::Police).await;
    let station = fixtures::station(&server, &police, "CUH1", offset(ZOCALO, 0.8, 0.3)).await;
    let ordinary = unit_at(
        &server,
        &police,
        &station,
        "P-CUH1-01",
        pb::UnitType::Patrol,
        offset(ZOCALO, 0.05, 0.0),
    )
    .await;
    let staged = unit_at(
        &server,
        &police,
        &station,
        "P-CUH1-20",
        pb::UnitType::Patrol,
        offset(ZOCALO, 0.6, 0.0),
    )
    .await;
    let cameras = vec![
        camera(&server, &police, "C5-ZOC-N", offset(ZOCALO, 0.1, 0.0)).await,
        camera(&server, &police, "C5-ZOC-S", offset(ZOCALO, -0.1, 0.0)).await,
        camera(&server, &police, "C5-ALA-1", alameda()).await,
    ];
    let operation = operations_as(&server, &server.token)
        .create_operation(concert_request(
            vec![police.clone(), federal.clone()],
            vec![staged.name.clone()],
            cameras.iter().map(|c| c.name.clone()).collect(),
        ))
        .await
        .expect("create operation")
        .into_inner()
        .operation
        .expect("operation");
    Concert {
        server,
        operation,
        staged,
        ordinary,
        federal,
        cameras,
    }
}

pub(crate) fn picked(recommendation: &pb::Recommendation) -> Vec<String> {
    recommendation
        .fills
        .iter()
        .flat_map(|fill| fill.candidates.iter().filter(|c| c.picked))
        .map(|c| c.unit.clone())
        .collect()
}

pub(crate) fn offered(recommendation: &pb::Recommendation) -> Vec<String> {
    recommendation
        .fills
        .iter()
        .flat_map(|fill| fill.candidates.iter())
        .map(|c| c.unit.clone())
        .collect()
}

pub(crate) async fn recommend(server: &TestServer, incident: &str) -> pb::Recommendation {
    server
        .units()
        .recommend_units(patrol_recommendation(incident, 5))
        .await
        .expect("recommend")
        .into_inner()
        .recommendation
        .expect("recommendation")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operation_is_created_with_its_zones_units_and_cameras() {
    let concert = concert().await;
    let operation = &concert.operation;
    assert!(operation.name.starts_with("operations/"), "{operation:?}");
    assert!(operation.active);
    assert_eq!(operation.zones.len(), 2);
    assert_eq!(operation.staged_units, vec![concert.staged.name.clone()]);
    assert_eq!(operation.cameras.len(), 3);
    let read = operations_as(&concert.server, &concert.server.token)
        .get_operation(pb::GetOperationRequest {
            name: operation.name.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .operation
        .expect("operation");
    assert_eq!(&read, operation);

    // A unit is staged for one operation at a time: PostgreSQL's exclusion constraint.
    let overlapping = operations_as(&concert.server, &concert.server.token)
        .create_operation(concert_request(
            Vec::new(),
            vec![concert.staged.name.clone()],
            Vec::new(),
        ))
        .await
        .expect_err("staged twice");
    assert_eq!(
        overlapping.code(),
        Code::FailedPrecondition,
        "{overlapping:?}"
    );

    // Bad input names its field.
    let mut backwards = concert_request(Vec::new(), Vec::new(), Vec::new());
    let body = backwards.operation.as_mut().expect("operation");
    body.end_time = body.start_time;
    body.zones.clear();
    assert_invalid(
        operations_as(&concert.server, &concert.server.token)
            .create_operation(backwards)
            .await,
        "backwards window, no zones",
        &["operation.end_time", "operation.zones"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staged_unit_goes_first_inside_and_never_outside_without_a_reason() {
    let concert = concert().await;
    let server = &concert.server;
    // Inside the Zócalo: the staged patrol, though the ordinary one is nearer.
    let inside = incident_at(server, ZOCALO).await;
    let recommendation = recommend(server, &inside.name).await;
    assert_eq!(picked(&recommendation), vec![concert.staged.name.clone()]);
    let first = &recommendation.fills[0].candidates[0];
    assert!(
        first.reason.starts_with("staged for Concierto"),
        "{first:?}"
    );

    // Outside (next to the staged patrol): never offered, not even as an alternate.
    let outside = incident_at(server, offset(ZOCALO, 0.7, 0.1)).await;
    let recommendation = recommend(server, &outside.name).await;
    assert_eq!(picked(&recommendation), vec![concert.ordinary.name.clone()]);
    assert!(
        !offered(&recommendation).contains(&concert.staged.name),
        "{recommendation:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_refuses_a_staged_unit_outside_without_an_override_reason() {
    let server = TestServer::start().await;
    let police = agency(&server, "SSC", pb::AgencyKind::Police).await;
    let station = fixtures::station(&server, &police, "CUH1", offset(ZOCALO, 0.8, 0.3)).await;
    let staged = unit_at(
        &server,
        &police,
        &station,
        "P-CUH1-20",
        pb::UnitType::Patrol,
        offset(ZOCALO, 0.6, 0.0),
    )
    .await;
    let outside = incident_at(&server, offset(ZOCALO, 0.7, 0.1)).await;
    // Recommended before the operation existed: the recommendation picks the patrol...
    let stale = recommend(&server, &outside.name).await;
    assert_eq!(picked(&stale), vec![staged.name.clone()]);
    operations_as(&server, &server.token)
        .create_operation(concert_request(
            Vec::new(),
            vec![staged.name.clone()],
            Vec::new(),
        ))
        .await
        .expect("create operation");
    // ...but following it now, with no reason, is refused in the assignment's transaction.
    let refused = server
        .units()
        .assign_units(assign_request(
            &outside.name,
            &[&staged.name],
            &stale.name,
            "",
        ))
        .await
        .expect_err("a staged unit outside its operation");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("staged for operations/"),
        "{refused:?}"
    );
    // With a reason the dispatcher may send it, and the reason is kept.
    let assigned = server
        .units()
        .assign_units(assign_request(
            &outside.name,
            &[&staged.name],
            &stale.name,
            "nearest unit for a cardiac arrest",
        ))
        .await
        .expect("override")
        .into_inner()
        .incident
        .expect("incident");
    let assignment = &assigned.assignments[0];
    assert_eq!(
        assignment.override_reason,
        "nearest unit for a cardiac arrest"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_federal_liaison_sees_and_watches_the_operations_incidents_only() {
    let concert = concert().await;
    let server = &concert.server;
    let (_, liaison) = fixtures::enrol(
        &mut server.directory_as(&server.admin_token),
        pb::Principal {
            display_name: "gn-liaison".into(),
            role: pb::Role::Liaison.into(),
            agency: concert.federal.clone(),
            ..Default::default()
        },
    )
    .await;
    let inside = incident_at(server, offset(ZOCALO, 0.02, 0.02)).await;
    let outside = incident_at(server, offset(ZOCALO, 3.0, 0.0)).await;

    let mut triage = server.triage_as(&liaison);
    let seen = triage
        .get_incident(pb::GetIncidentRequest {
            name: inside.name.clone(),
            ..Default::default()
        })
        .await
        .expect("the operation's incident")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(seen.name, inside.name);
    let hidden = triage
        .get_incident(pb::GetIncidentRequest {
            name: outside.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another incident");
    assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");

    // The stream: its snapshot holds the operation's incident only, and of two new incidents
    // the one outside never comes.
    let mut stream = triage
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let mut snapshot = Vec::new();
    loop {
        match next_message(&mut stream).await.item.expect("item") {
            pb::watch_incidents_response::Item::Snapshot(incident) => snapshot.push(incident.name),
            pb::watch_incidents_response::Item::SnapshotComplete(_) => break,
            other => panic!("during the snapshot: {other:?}"),
        }
    }
    assert_eq!(snapshot, vec![inside.name.clone()]);
    let elsewhere = incident_at(server, offset(ZOCALO, -3.0, 0.0)).await;
    let inside_again = incident_at(server, offset(ZOCALO, -0.02, 0.0)).await;
    // The new inside incident is tagged in the transaction that opens it, so its very first
    // event, its creation, reaches the liaison already tagged; the one outside, opened
    // before it, never does.
    let mut names = Vec::new();
    let created = loop {
        if let Some(pb::watch_incidents_response::Item::Event(event)) =
            next_message(&mut stream).await.item
        {
            let incident = event.incident.expect("incident");
            if incident.name == inside_again.name {
                break (event.entry.expect("entry"), incident);
            }
            names.push(incident.name);
        }
    };
    assert_eq!(
        created.0.kind(),
        pb::TimelineEntryKind::Created,
        "{created:?}"
    );
    assert_eq!(created.1.operation, concert.operation.name);
    assert!(!names.contains(&elsewhere.name), "{names:?}");
    assert!(!names.contains(&outside.name), "{names:?}");

    // The operation itself: its agency takes part. Each read was audited as the liaison's.
    let operations = operations_as(server, &liaison)
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .operations;
    assert_eq!(operations.len(), 1);
    let records = fixtures::audit_records(
        server,
        &server.token,
        pb::ListAuditRecordsRequest {
            page_size: 100,
            ..Default::default()
        },
    )
    .await;
    let refused_read = records
        .iter()
        .find(|r| r.resource == outside.name)
        .expect("the refused read is audited");
    assert!(
        refused_read.method.ends_with("GetIncident"),
        "{refused_read:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_operator_watches_the_busiest_zone_first() {
    let concert = concert().await;
    let server = &concert.server;
    let (_, video) = server.person(pb::Role::VideoOperator, "video").await;
    let until = timestamp(Utc::now() + Duration::hours(2));
    let mut operations = operations_as(server, &video);
    for target in [
        pb::watch_order::Target::Camera(concert.cameras[1].name.clone()),
        pb::watch_order::Target::Zone(1),
    ] {
        operations
            .add_watch_order(pb::AddWatchOrderRequest {
                request_id: request_id(),
                watch_order: Some(pb::WatchOrder {
                    operation: concert.operation.name.clone(),
                    target: Some(target),
                    instruction: "bags left unattended".into(),
                    until,
                    ..Default::default()
                }),
            })
            .await
            .expect("watch order");
    }
    assert_invalid(
        operations
            .add_watch_order(pb::AddWatchOrderRequest {
                request_id: request_id(),
                watch_order: Some(pb::WatchOrder {
                    operation: concert.operation.name.clone(),
                    target: Some(pb::watch_order::Target::Zone(7)),
                    instruction: "x".into(),
                    until,
                    ..Default::default()
                }),
            })
            .await,
        "no zone 7",
        &["watch_order.zone"],
    );
    // Two incidents in the Zócalo, none at the Alameda.
    incident_at(server, offset(ZOCALO, 0.01, 0.0)).await;
    incident_at(server, offset(ZOCALO, -0.01, 0.0)).await;
    let list = operations
        .list_cameras_to_watch(pb::ListCamerasToWatchRequest::default())
        .await
        .expect("cameras to watch")
        .into_inner()
        .cameras;
    let codes: Vec<&str> = list.iter().map(|c| c.code.as_str()).collect();
    // The Zócalo's cameras first (the one with an order before the one without), then the
    // Alameda's.
    assert_eq!(codes, vec!["C5-ZOC-S", "C5-ZOC-N", "C5-ALA-1"]);
    assert_eq!(list[0].recent_incidents, 2);
    assert_eq!(list[0].orders.len(), 1);
    assert_eq!(list[2].zone, 1);
    assert_eq!(list[2].orders.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operations_report_counts_its_incidents_and_staged_units() {
    let concert = concert().await;
    let server = &concert.server;
    let inside = incident_at(server, ZOCALO).await;
    let outside = incident_at(server, offset(ZOCALO, 3.0, 0.0)).await;
    for (incident, unit) in [(&inside, &concert.staged), (&outside, &concert.ordinary)] {
        let recommendation = recommend(server, &incident.name).await;
        assert_eq!(picked(&recommendation), vec![unit.name.clone()]);
        server
            .units()
            .assign_units(assign_request(
                &incident.name,
                &[&unit.name],
                &recommendation.name,
                "",
            ))
            .await
            .expect("assign");
    }
    let report = operations_as(server, &server.token)
        .get_operation_report(pb::GetOperationReportRequest {
            name: concert.operation.name.clone(),
            time_zone: "America/Mexico_City".into(),
        })
        .await
        .expect("report")
        .into_inner();
    let counted: u64 = report.by_type.iter().map(|t| t.count).sum();
    assert_eq!(counted, 1, "{report:?}");
    assert_eq!(report.by_hour.iter().map(|h| h.count).sum::<u64>(), 1);
    let total = report
        .intervals
        .iter()
        .find(|i| i.interval == "call_processing")
        .expect("call processing");
    assert_eq!(total.city_count, 2, "{report:?}");
    assert_eq!(total.inside_count, 1, "{report:?}");
    let staged = &report.staged_units[0];
    assert_eq!(staged.unit, concert.staged.name);
    assert_eq!(staged.assignments_inside, 1);
    assert!(staged.share > 0.0, "{staged:?}");
}

/// `dispatchctl demo load --operations` plans the concert and the Iztapalapa watch zone once;
/// `dispatchctl operation list` and `report` read them.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_plans_the_concert_and_the_iztapalapa_watch_zone() {
    let server = TestServer::start().await;
    let dir = std::env::temp_dir().join(format!("dispatchctl-ops-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("demo.env").display().to_string();
    let address = format!("http://{}", server.address);
    let ctl = async |token: &str, args: &[&str]| -> String {
        let mut argv = vec!["dispatchctl", "--server", &address, "--token", token];
        argv.extend_from_slice(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = dispatch_cli::run(argv, &mut out, &mut err).await;
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
        String::from_utf8(out).expect("utf-8")
    };
    let load = [
        "demo",
        "load",
        "--size",
        "small",
        "--operations",
        "--credentials-file",
        &file,
    ];
    ctl(&server.admin_token, &load).await;
    ctl(&server.admin_token, &load).await;
    let listed = ctl(&server.token, &["--json", "operation", "list"]).await;
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let operations = listed["operations"].as_array().expect("operations");
    assert_eq!(operations.len(), 2, "loaded twice, planned once: {listed}");
    let concert = operations
        .iter()
        .find(|o| o["displayName"] == "Concierto en el Zócalo")
        .expect("the concert");
    let staged = concert["stagedUnits"].as_array().map_or(0, Vec::len);
    assert!(staged > 0 && staged <= 20, "{concert}");
    assert!(
        concert["commandPost"]
            .as_str()
            .is_some_and(|c| c.starts_with("units/")),
        "{concert}"
    );
    let standing = operations
        .iter()
        .find(|o| o["displayName"] != "Concierto en el Zócalo")
        .expect("the watch zone");
    assert!(standing.get("endTime").is_none(), "standing: {standing}");
    let name = concert["name"].as_str().expect("name");
    let report = ctl(&server.token, &["operation", "report", name]).await;
    assert!(report.contains("call_processing"), "{report}");
}
