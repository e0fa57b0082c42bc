//! What a role is shown follows the server's role table, and what it is not shown it cannot do:
//! a call taker forcing a dispatcher's screen gets the API's refusal, shown as it came.

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

use crate::browser::Browser;
use crate::setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_taker_is_offered_no_dispatcher_action_and_forcing_one_is_refused() {
    let Some(browser) = Browser::start("calltaker-roles").await else {
        return;
    };
    let server = TestServer::start().await;
    let (_, token) = server
        .principal(pb::Role::CallTaker, "test-calltaker", None, None)
        .await;
    // An open incident, for the incident page.
    let incident = setup::incident_at(&server, setup::ZOCALO).await.name;

    let console = browser.console(&server).await;
    console.sign_in(&token).await;
    // The call taker starts at the call form, and is offered the call taker's screens only.
    console
        .wait_for("the call form", "[data-testid=nav-calls]")
        .await;
    assert!(console.exists("[data-testid=nav-queue]").await);
    for screen in ["units", "audit", "referrals", "cameras"] {
        assert!(
            !console.exists(&format!("[data-testid=nav-{screen}]")).await,
            "a call taker is offered the {screen} screen"
        );
    }

    // An incident's page: the call taker sees it, but no dispatcher action on it.
    console.go(&format!("#/{incident}")).await;
    console
        .wait_for(
            "the incident's page",
            &format!("[data-testid=incident-page][data-incident=\"{incident}\"]"),
        )
        .await;
    for action in [
        "recommend",
        "assign",
        "triage-submit",
        "close-submit",
        "merge-submit",
        "candidate-select",
    ] {
        assert!(
            !console.exists(&format!("[data-testid={action}]")).await,
            "a call taker is offered {action} on an incident"
        );
    }
    assert_eq!(
        console.count("[data-testid^=incident-status-]").await,
        0,
        "a call taker is offered status changes"
    );
    console.screenshot("incident").await;

    // The unit board, reached by hand: the API refuses WatchUnits, and the console says so.
    console.go("#/units").await;
    console
        .wait_for(
            "the API's PERMISSION_DENIED refusal on the unit board",
            "[data-testid=refusal][data-code=PERMISSION_DENIED]",
        )
        .await;
    assert!(
        !console.exists("[data-testid=unit-row]").await,
        "a call taker sees units"
    );
    console.screenshot("units-refused").await;
}
