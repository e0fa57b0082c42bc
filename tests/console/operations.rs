//! A planned operation in the console: a supervisor finds the Zócalo concert in the list, sees
//! its zones, staged patrol and cameras on the map, its watch order on the camera it is about,
//! its incident (and not the one outside), adds a watch order on the zone, and stands it down; a
//! dispatcher is offered the view but no stand-down and no watch order (the API refuses both); a
//! federal liaison is offered nothing else and sees the operation's incident only.

use chrono::{Duration, Utc};
use tonic::service::interceptor::InterceptedService;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::operation_service_client::OperationServiceClient;
use dispatch_tests::{Authed, Bearer, TestServer, request_id};

use crate::browser::js;
use crate::setup::{self, ZOCALO, offset};

fn operations(server: &TestServer, token: &str) -> OperationServiceClient<Authed> {
    OperationServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(token),
    ))
}

fn timestamp(at: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    })
}

struct Concert {
    operation: pb::Operation,
    staged: pb::Unit,
    cameras: Vec<pb::Camera>,
    inside: String,
    outside: String,
    federal: String,
}

/// The concert: a 300 m square on the Zócalo, one staged patrol, two cameras (a watch order on
/// the first), the Guardia Nacional taking part; an incident inside and one 3 km away.
async fn concert(server: &TestServer) -> Concert {
    let police = setup::agency(server, "SSC", pb::AgencyKind::Police).await;
    let federal = setup::agency(server, "GN", pb::AgencyKind::Police).await;
    let station = setup::station(server, &police, "CUH1", offset(ZOCALO, 0.8, 0.3)).await;
    let staged = setup::unit_at(
        server,
        &police,
        &station,
        "P-CUH1-20",
        pb::UnitType::Patrol,
        offset(ZOCALO, 0.05, 0.05),
    )
    .await;
    let mut cameras = Vec::new();
    for (code, at) in [
        ("C5-ZOC-N", offset(ZOCALO, 0.1, 0.0)),
        ("C5-ZOC-S", offset(ZOCALO, -0.1, 0.0)),
    ] {
        cameras.push(
            setup::create_camera(
                server,
                pb::Camera {
                    code: code.into(),
                    kind: pb::DeviceKind::Camera.into(),
                    location: setup::point(at),
                    agency: police.clone(),
                    active: true,
                    ..Default::default()
                },
            )
            .await,
        );
    }
    let square = pb::Polygon {
        points: [(-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)]
            .into_iter()
            .map(|(n, e)| setup::geo(offset(ZOCALO, n * 0.15, e * 0.15)))
            .collect(),
    };
    let now = Utc::now();
    let mut client = operations(server, &server.token);
    let operation = client
        .create_operation(pb::CreateOperationRequest {
            request_id: request_id(),
            operation: Some(pb::Operation {
                display_name: "Concierto en el Zócalo".into(),
                zones: vec![square],
                start_time: timestamp(now - Duration::minutes(5)),
                end_time: timestamp(now + Duration::hours(6)),
                agencies: vec![police, federal.clone()],
                staged_units: vec![staged.name.clone()],
                cameras: cameras.iter().map(|c| c.name.clone()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("create operation")
        .into_inner()
        .operation
        .expect("operation");
    client
        .add_watch_order(pb::AddWatchOrderRequest {
            request_id: request_id(),
            watch_order: Some(pb::WatchOrder {
                operation: operation.name.clone(),
                target: Some(pb::watch_order::Target::Camera(cameras[0].name.clone())),
                instruction: "mochilas abandonadas".into(),
                until: timestamp(now + Duration::hours(2)),
                ..Default::default()
            }),
        })
        .await
        .expect("watch order");
    let inside = setup::incident_at(server, offset(ZOCALO, 0.02, 0.0))
        .await
        .name;
    let outside = setup::incident_at(server, offset(ZOCALO, 3.0, 0.0))
        .await
        .name;
    Concert {
        operation,
        staged,
        cameras,
        inside,
        outside,
        federal,
    }
}

fn row(testid: &str, attribute: &str, name: &str) -> String {
    format!("[data-testid={testid}][data-{attribute}={}]", js(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_the_concert_on_the_map_and_stands_it_down() {
    let Some((browser, server)) = setup::start("operations").await else {
        return;
    };
    let concert = concert(&server).await;
    let operation = &concert.operation.name;
    let console = browser.signed_in(&server, &server.token).await;
    console.click("[data-testid=lang-en]").await;
    console.click("[data-testid=nav-operations]").await;
    let listed = row("op-row", "operation", operation);
    console.wait_for("the concert listed", &listed).await;
    console.screenshot("list").await;
    console
        .click(&format!("{listed} [data-testid=op-open]"))
        .await;
    console
        .wait_for(
            "the concert's page, in force",
            &format!(
                "[data-testid=operation-screen][data-operation={}][data-active=true]",
                js(operation)
            ),
        )
        .await;

    // The map: its zone, the staged patrol where it reported, both cameras.
    console
        .wait_for(
            "the zone, the staged unit and the cameras drawn",
            "[data-testid=op-map][data-zones=\"1\"][data-units=\"1\"][data-cameras=\"2\"]",
        )
        .await;
    console
        .wait_for(
            "the staged patrol's marker",
            &format!("path{}", row("op-unit", "name", &concert.staged.name)),
        )
        .await;
    assert_eq!(console.count("path[data-testid=op-camera]").await, 2);
    console
        .wait_for(
            "the staged patrol listed by call sign",
            &row("op-staged-unit", "unit", &concert.staged.name),
        )
        .await;
    assert_eq!(
        console
            .text(&row("op-staged-unit", "unit", &concert.staged.name))
            .await,
        "P-CUH1-20"
    );

    // The cameras to watch, the watch order on the one it is about.
    console
        .wait_for(
            "the watch order on the north camera",
            &format!(
                "{}[data-orders=\"1\"]",
                row("op-camera-row", "camera", &concert.cameras[0].name)
            ),
        )
        .await;
    assert!(
        console
            .text(&row("op-camera-row", "camera", &concert.cameras[0].name))
            .await
            .contains("mochilas abandonadas")
    );

    // Its incident, tagged as it opened; not the one outside.
    console
        .wait_for(
            "the incident inside",
            &row("op-incident", "incident", &concert.inside),
        )
        .await;
    console
        .wait_for(
            "the incident inside on the map",
            &format!("path{}", row("op-incident-mark", "name", &concert.inside)),
        )
        .await;
    assert!(
        !console
            .exists(&row("op-incident", "incident", &concert.outside))
            .await
    );
    assert_eq!(console.count("path[data-testid=op-incident-mark]").await, 1);
    console.screenshot("concert").await;

    // A new watch order on the zone: both cameras in it carry it, and the API has it.
    console
        .select("[data-testid=op-order-target]", "zone:0")
        .await;
    console
        .type_into(
            "[data-testid=op-order-instruction]",
            "riña junto al escenario",
        )
        .await;
    console.click("[data-testid=op-order-submit]").await;
    for (camera, orders) in [(&concert.cameras[0], 2), (&concert.cameras[1], 1)] {
        console
            .wait_for(
                &format!("{orders} orders on {}", camera.code),
                &format!(
                    "{}[data-orders=\"{orders}\"]",
                    row("op-camera-row", "camera", &camera.name)
                ),
            )
            .await;
    }
    let (_, video) = server.person(pb::Role::VideoOperator, "video").await;
    let listed = operations(&server, &video)
        .list_cameras_to_watch(pb::ListCamerasToWatchRequest::default())
        .await
        .expect("cameras to watch")
        .into_inner()
        .cameras;
    assert!(
        listed.iter().all(|c| c
            .orders
            .iter()
            .any(|o| o.instruction == "riña junto al escenario")),
        "{listed:?}"
    );

    // Stand-down, confirmed: the page and the API say it is over.
    console.click("[data-testid=op-stand-down]").await;
    console.click("[data-testid=op-stand-down-confirm]").await;
    console
        .wait_for(
            "the concert no longer in force",
            "[data-testid=operation-screen][data-active=false]",
        )
        .await;
    assert!(!console.exists("[data-testid=op-stand-down]").await);
    let read = operations(&server, &server.token)
        .get_operation(pb::GetOperationRequest {
            name: operation.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .operation
        .expect("operation");
    assert!(!read.active, "{read:?}");
    console.screenshot("stood-down").await;
    console.assert_no_uncaught_errors().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_cannot_stand_it_down_and_a_liaison_sees_its_incident_only() {
    let Some((browser, server)) = setup::start("operations-roles").await else {
        return;
    };
    let concert = concert(&server).await;
    let operation = &concert.operation.name;
    let page = format!(
        "#/operations/{}",
        operation.trim_start_matches("operations/")
    );

    // A dispatcher sees the operation, with no stand-down: the API would refuse it.
    let dispatcher = browser
        .signed_in(&server, &setup::dispatcher_token(&server).await)
        .await;
    dispatcher
        .wait_for("the dispatcher's screens", "[data-testid=nav-operations]")
        .await;
    dispatcher.go(&page).await;
    dispatcher
        .wait_for(
            "the incident inside",
            &row("op-incident", "incident", &concert.inside),
        )
        .await;
    assert!(!dispatcher.exists("[data-testid=op-stand-down]").await);
    assert!(
        !dispatcher.exists("[data-testid=op-order-form]").await,
        "a dispatcher may not add watch orders"
    );
    dispatcher.assert_no_uncaught_errors().await;

    // A liaison of the Guardia Nacional: only the operations screen, only the operation's
    // incident.
    let (_, liaison) = setup::enrol(
        &mut server.directory_as(&server.admin_token),
        pb::Principal {
            display_name: "gn-liaison".into(),
            role: pb::Role::Liaison.into(),
            agency: concert.federal.clone(),
            ..Default::default()
        },
    )
    .await;
    let console = browser.signed_in(&server, &liaison).await;
    console
        .wait_for(
            "the concert listed for the liaison",
            &row("op-row", "operation", operation),
        )
        .await;
    for screen in ["queue", "units", "map", "calls", "cameras", "reports"] {
        assert!(
            !console.exists(&format!("[data-testid=nav-{screen}]")).await,
            "a liaison is offered the {screen} screen"
        );
    }
    console.go(&page).await;
    console
        .wait_for(
            "the incident inside",
            &row("op-incident", "incident", &concert.inside),
        )
        .await;
    assert!(
        !console
            .exists(&row("op-incident", "incident", &concert.outside))
            .await
    );
    assert!(!console.exists("[data-testid=op-stand-down]").await);
    assert!(!console.exists("[data-testid=op-order-form]").await);
    console.screenshot("liaison").await;
    console.assert_no_uncaught_errors().await;
}
