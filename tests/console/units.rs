//! The unit board: filters by agency and type, a status change in one action, and the command
//! bar (`/s P-CUH1-01 oos`) reached from the keyboard; the server has what the board shows.

use thirtyfour::Key;

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

use crate::browser::{Console, js};
use crate::setup::{self, Scene};

fn row(unit: &pb::Unit) -> String {
    format!("[data-testid=unit-row][data-unit={}]", js(&unit.name))
}

/// Waits for `unit`'s row to show `shown` (`what` names the wait), then checks the server has
/// the unit in `status`.
async fn board_and_server_agree(
    console: &Console,
    server: &TestServer,
    what: &str,
    unit: &pb::Unit,
    shown: &str,
    status: pb::UnitStatus,
) {
    let selector = format!("{}[data-status={shown}]", row(unit));
    console.wait_for(what, &selector).await;
    assert_eq!(setup::get_unit(server, &unit.name).await.status(), status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unit_board_filters_and_changes_statuses_by_button_and_command() {
    let Some((browser, server)) = setup::start("unit-board").await else {
        return;
    };
    let scene = Scene::new(&server).await;
    let token = setup::dispatcher_token(&server).await;
    let console = browser.signed_in(&server, &token).await;
    console.go("#/units").await;
    let all: Vec<&pb::Unit> = scene.patrols.iter().chain(&scene.ambulances).collect();
    console
        .wait_for_units(
            all,
            "on the board",
            "[data-testid=unit-row][data-unit={unit}][data-status=AVAILABLE]",
        )
        .await;

    // Filters: each agency shows its own units only; the ALS type, the ambulances only.
    console
        .select("[data-testid=unit-filter-agency]", &scene.police)
        .await;
    console
        .until(
            "only the police's units",
            "document.querySelectorAll('[data-testid=unit-row]').length === 2",
        )
        .await;
    for unit in &scene.patrols {
        assert!(console.exists(&row(unit)).await, "{}", unit.call_sign);
    }
    console
        .select("[data-testid=unit-filter-agency]", &scene.ems)
        .await;
    console
        .until(
            "only the EMS agency's units",
            &format!(
                "document.querySelectorAll('[data-testid=unit-row]').length === 2 && \
                 !!document.querySelector({})",
                js(&row(&scene.ambulances[0]))
            ),
        )
        .await;
    console.select("[data-testid=unit-filter-agency]", "").await;
    console
        .select("[data-testid=unit-filter-type]", "ALS_AMBULANCE")
        .await;
    console
        .until(
            "only the ambulances",
            "document.querySelectorAll('[data-testid=unit-row]').length === 2",
        )
        .await;
    for unit in &scene.ambulances {
        assert!(console.exists(&row(unit)).await, "{}", unit.call_sign);
    }
    console.select("[data-testid=unit-filter-type]", "").await;
    console
        .until(
            "every unit again",
            "document.querySelectorAll('[data-testid=unit-row]').length === 4",
        )
        .await;
    console.screenshot("board").await;

    // The command bar, from the keyboard: "/" reaches it, Enter runs it.
    let patrol = &scene.patrols[0];
    console.click("[data-testid=unit-board]").await;
    console.keys("/").await;
    assert_eq!(console.focused().await, "command-bar");
    console
        .keys(format!("s {} oos", patrol.call_sign).as_str())
        .await;
    console.keys(Key::Enter).await;
    console
        .wait_for(
            "the command done",
            "[data-testid=command-result][data-ok=true]",
        )
        .await;
    board_and_server_agree(
        &console,
        &server,
        "the patrol out of service on the board",
        patrol,
        "OUT_OF_SERVICE",
        pb::UnitStatus::OutOfService,
    )
    .await;
    // A command that names no unit says so, and changes nothing.
    console.keys("/s NO-SUCH-UNIT av").await;
    console.keys(Key::Enter).await;
    console
        .wait_for(
            "the command refused",
            "[data-testid=command-result][data-ok=false]",
        )
        .await;
    console.screenshot("command").await;

    // One action on the row: back to available.
    console
        .click(&format!(
            "{} [data-testid=unit-status-action][data-status=AVAILABLE]",
            row(patrol)
        ))
        .await;
    board_and_server_agree(
        &console,
        &server,
        "the patrol available again",
        patrol,
        "AVAILABLE",
        pb::UnitStatus::Available,
    )
    .await;
    console.assert_no_uncaught_errors().await;
}
