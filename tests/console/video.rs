//! A video operator finds the cameras nearest an incident, nearest first, and raises a call
//! from one: the call form opens with the device's place and code, and the call records them.

use thirtyfour::Key;

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

use crate::browser::js;
use crate::setup::{self, ZOCALO, offset};

async fn camera(server: &TestServer, code: &str, at: (f64, f64)) -> pb::Camera {
    let camera = pb::Camera {
        code: code.into(),
        kind: pb::DeviceKind::Camera.into(),
        location: setup::point(at),
        description: format!("Poste {code}"),
        active: true,
        ..Default::default()
    };
    setup::create_camera(server, camera).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_operator_raises_a_call_from_the_camera_nearest_an_incident() {
    let Some((browser, server)) = setup::start("video").await else {
        return;
    };
    let near = camera(&server, "C5-CAM-0001", offset(ZOCALO, 0.05, 0.0)).await;
    let far = camera(&server, "C5-CAM-0002", offset(ZOCALO, 0.4, 0.3)).await;
    let incident = setup::incident_at(&server, ZOCALO).await.name;
    let (me, token) = server.person(pb::Role::VideoOperator, "test-video").await;
    let console = browser.signed_in(&server, &token).await;
    console
        .wait_for("the cameras screen", "[data-testid=camera-incident]")
        .await;
    console
        .wait_for(
            "the incident to choose",
            &format!(
                "[data-testid=camera-incident] option[value={}]",
                js(&incident)
            ),
        )
        .await;
    console
        .select("[data-testid=camera-incident]", &incident)
        .await;
    let row =
        |camera: &pb::Camera| format!("[data-testid=camera-row][data-camera={}]", js(&camera.name));
    console.wait_for("the nearer camera", &row(&near)).await;
    console.wait_for("the farther camera", &row(&far)).await;
    let order = console
        .eval(
            "return [...document.querySelectorAll('[data-testid=camera-row]')].map((r) => r.getAttribute('data-camera'));",
            vec![],
        )
        .await;
    assert_eq!(
        order,
        serde_json::json!([near.name, far.name]),
        "nearest first"
    );
    console.screenshot("cameras").await;

    // Raise a call from the nearer camera: the call form, with the device's place and code.
    console
        .click(&format!("{} [data-testid=camera-call]", row(&near)))
        .await;
    console
        .wait_for(
            "the call form with the device",
            &format!(
                "[data-testid=call-source-device][data-device={}]",
                js(&near.code)
            ),
        )
        .await;
    console.screenshot("call-from-camera").await;
    console.click("[data-testid=call-account]").await;
    console
        .keys("Se ve un choque en la esquina, dos autos")
        .await;
    console.chord(Key::Control, Key::Enter).await;
    let call = console
        .wait_attr(
            "the call recorded",
            "[data-testid=current-call]",
            "data-call",
        )
        .await;
    let got = setup::get_call(&server, &call).await;
    assert_eq!(got.source_device_id, near.code);
    assert_eq!(got.call_taker, me);
    assert_eq!(got.channel(), pb::CallChannel::Camera);
    let location = got.location.and_then(|l| l.point).expect("a location");
    let camera_at = near.location.expect("the camera's place");
    assert!(
        (location.latitude - camera_at.latitude).abs() < 1e-6
            && (location.longitude - camera_at.longitude).abs() < 1e-6,
        "the call is placed at the camera: {location:?}"
    );
    console.assert_no_uncaught_errors().await;
}
