//! What a role is shown follows the server's role table, and what it is not shown it cannot do:
//! a call taker forcing a dispatcher's screen gets the API's refusal, shown as it came.

use dispatch_proto::v1 as pb;

use crate::setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_taker_is_offered_no_dispatcher_action_and_forcing_one_is_refused() {
    let Some((browser, server)) = setup::start("calltaker-roles").await else {
        return;
    };
    let (_, token) = server.person(pb::Role::CallTaker, "test-calltaker").await;
    // An open incident, for the incident page.
    let incident = setup::incident_at(&server, setup::ZOCALO).await.name;

    // The actions below are the dispatchers' (the server's role table says so): a call taker may
    // triage and add notes, but not recommend, assign, release, change statuses, close or merge.
    let permitted = server.whoami(&token).await.permitted_methods;
    for (_, method) in DISPATCHER_ACTIONS {
        assert!(
            !permitted.iter().any(|m| m.ends_with(method)),
            "the role table lets call takers call {method}: this test needs updating"
        );
    }

    let console = browser.signed_in(&server, &token).await;
    // The call taker starts at the call form, and is offered the call taker's screens only.
    console
        .wait_for("the call form", "[data-testid=call-form]")
        .await;
    assert!(console.exists("[data-testid=nav-calls]").await);
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
    // What a call taker may do there is offered (so the page is really drawn)...
    console
        .wait_for("the triage form", "[data-testid=triage-form]")
        .await;
    // ...and no dispatcher action.
    for (selector, method) in DISPATCHER_ACTIONS {
        assert_eq!(
            console.count(selector).await,
            0,
            "a call taker is offered {selector} ({method}) on an incident"
        );
    }
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
    console.assert_no_uncaught_errors().await;
}

/// What a dispatcher's console offers on an incident page and the unit board, by the RPC it
/// needs.
const DISPATCHER_ACTIONS: [(&str, &str); 9] = [
    (
        "[data-testid=recommend]",
        "UnitAssignmentService/RecommendUnits",
    ),
    ("[data-testid=assign]", "UnitAssignmentService/AssignUnits"),
    (
        "[data-testid=candidate-select]",
        "UnitAssignmentService/AssignUnits",
    ),
    ("[data-testid=release]", "UnitAssignmentService/ReleaseUnit"),
    (
        "[data-testid=unit-status-action]",
        "UnitAssignmentService/SetUnitStatus",
    ),
    (
        "[data-testid^=incident-status-]",
        "IncidentTriageService/ChangeIncidentStatus",
    ),
    (
        "[data-testid=close-submit]",
        "IncidentTriageService/CloseIncident",
    ),
    (
        "[data-testid=merge-submit]",
        "IncidentTriageService/MergeIncidents",
    ),
    (
        "[data-testid=cancel-submit]",
        "IncidentTriageService/CancelIncident",
    ),
];
