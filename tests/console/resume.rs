//! A dropped connection is shown plainly and resumed without a reload, from the last sequence,
//! with nothing missed: the console reaches dispatchd through a proxy that the test cuts.

use prost::Message as _;

use dispatch_proto::v1 as pb;

use crate::proxy::Proxy;
use crate::setup::{self, Scene, ZOCALO};

const WATCH_UNITS: &str = "/dispatch.v1.UnitAssignmentService/WatchUnits";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_resumed_without_reload_and_nothing_missed() {
    let Some((browser, server)) = setup::start("resume").await else {
        return;
    };
    let scene = Scene::new(&server).await;
    let incident = setup::crash_at(&server, ZOCALO).await.name;
    let token = setup::dispatcher_token(&server).await;
    let proxy = Proxy::start(server.address).await;
    let console = browser.console_at(&proxy.origin()).await;
    console.sign_in(&token).await;
    let (patrol, ambulance) = (&scene.patrols[0], &scene.ambulances[1]);
    console.unit_board_with([patrol, ambulance]).await;
    console.mark_document("before the cut").await;

    // The connection drops: the console says so plainly.
    proxy.cut();
    console
        .wait_link("the link shown as reconnecting", "reconnecting")
        .await;
    console
        .wait_for("the connection banner", "[data-testid=link-banner]")
        .await;
    console.screenshot("reconnecting").await;

    // Meanwhile, elsewhere: a patrol is dispatched and an ambulance goes out of service.
    setup::assign(&server, &incident, &patrol.name).await;
    setup::set_status(&server, &ambulance.name, pb::UnitStatus::OutOfService).await;
    assert!(
        console.exists(&setup::unit_row(patrol, "AVAILABLE")).await,
        "the console was not cut off"
    );

    // The connection comes back: both changes show, the banner goes, the page never reloaded.
    proxy.restore();
    console
        .wait_for(
            "the patrol dispatched while the console was cut off",
            &setup::unit_row(patrol, "DISPATCHED"),
        )
        .await;
    console
        .wait_for(
            "the ambulance out of service while the console was cut off",
            &setup::unit_row(ambulance, "OUT_OF_SERVICE"),
        )
        .await;
    console.wait_link("the feeds live again", "live").await;
    console
        .until(
            "the connection banner gone",
            "!document.querySelector('[data-testid=link-banner]')",
        )
        .await;
    console.assert_not_reloaded("before the cut").await;
    console.screenshot("resumed").await;

    // It resumed from where it was: the first WatchUnits started from a snapshot (sequence 0),
    // the one after the cut from the last sequence it had seen.
    let watches: Vec<(u64, i64)> = proxy
        .seen()
        .iter()
        .filter(|seen| seen.path == WATCH_UNITS)
        .map(|seen| {
            let request =
                pb::WatchUnitsRequest::decode(seen.message()).expect("a WatchUnitsRequest");
            (seen.after_cuts, request.after_sequence)
        })
        .collect();
    assert!(
        watches
            .first()
            .is_some_and(|&(cuts, after)| cuts == 0 && after == 0),
        "the first WatchUnits starts from a snapshot: {watches:?}"
    );
    assert!(
        watches.iter().any(|&(cuts, after)| cuts > 0 && after > 0),
        "a WatchUnits after the cut resumes from a sequence: {watches:?}"
    );
    console.assert_no_uncaught_errors().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_ends_the_live_feeds_and_the_console_says_so() {
    let Some((browser, server)) = setup::start("revoked").await else {
        return;
    };
    let scene = Scene::new(&server).await;
    let token = setup::dispatcher_token(&server).await;
    let credential = server.whoami(&token).await.credential;
    let console = browser.signed_in(&server, &token).await;
    console.go("#/units").await;
    console
        .wait_for(
            "the unit board",
            &setup::unit_row(&scene.patrols[0], "AVAILABLE"),
        )
        .await;
    console.wait_link("the feeds live", "live").await;

    // An administrator revokes the credential: the open streams end with UNAUTHENTICATED and
    // the console says the server ended the session, plainly, instead of retrying silently.
    server
        .directory_as(&server.admin_token)
        .revoke_credential(pb::RevokeCredentialRequest {
            request_id: dispatch_tests::request_id(),
            name: credential,
            reason: "browser test: a lost badge".into(),
        })
        .await
        .expect("revoke");
    console
        .wait_link("the link shown as refused", "refused")
        .await;
    console
        .wait_for("the banner saying so", "[data-testid=link-banner]")
        .await;
    console.screenshot("refused").await;
    console.assert_no_uncaught_errors().await;
}

/// A console that falls behind is told to resync (ResyncRequired) and starts over from a fresh
/// snapshot by itself: no reload, and it ends up showing what is true. The server here queues at
/// most one message per stream, so one AssignUnits of four units (four events at once) overflows
/// it; the test repeats the burst until the console has been told to resync at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_told_to_resync_starts_over_by_itself() {
    let mut config = dispatch_server::Config::defaults();
    config.watch_buffer = 1;
    let Some((browser, server)) = setup::start_with("resync", config).await else {
        return;
    };
    let scene = Scene::new(&server).await;
    let units: Vec<&pb::Unit> = scene.patrols.iter().chain(&scene.ambulances).collect();
    let token = setup::dispatcher_token(&server).await;
    let console = browser.signed_in(&server, &token).await;
    console.unit_board_with(units.iter().copied()).await;
    console.mark_document("before the bursts").await;

    let resyncs = async || {
        console
            .attr("[data-testid=link-state]", "data-resyncs")
            .await
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let mut bursts = 0;
    while resyncs().await == 0 {
        bursts += 1;
        assert!(
            bursts <= 10,
            "ten bursts of four events never overflowed a one-message buffer"
        );
        let incident = setup::crash_at(&server, ZOCALO).await.name;
        let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
        setup::assign_units(&server, &incident, &names, "browser test: a burst")
            .await
            .expect("assign four units at once");
        // Whether through the events or a fresh snapshot, the board ends up true.
        console
            .wait_for_units(
                units.iter().copied(),
                "dispatched",
                "[data-testid=unit-row][data-unit={unit}][data-status=DISPATCHED]",
            )
            .await;
        for unit in &units {
            setup::release(&server, &incident, &unit.name).await;
        }
        console
            .wait_for_units(
                units.iter().copied(),
                "available again",
                "[data-testid=unit-row][data-unit={unit}][data-status=AVAILABLE]",
            )
            .await;
    }
    console.wait_link("the feeds live again", "live").await;
    console.assert_not_reloaded("before the bursts").await;
    eprintln!("resync: told to resync after {bursts} burst(s), and started over by itself");
    console.assert_no_uncaught_errors().await;
}
