//! A call taker takes two calls about one crash, keyboard only: the first opens an incident, the
//! second is linked to it through the duplicate suggestion the console shows as soon as its
//! location is typed.

use serde_json::json;
use thirtyfour::Key;

use dispatch_proto::v1 as pb;

use crate::browser::{Console, js};
use crate::setup;

/// One call, as typed: every field reached from the callback number with Tab.
struct Typed<'a> {
    callback: &'a str,
    caller: &'a str,
    location: &'a str,
    uncertainty: &'a str,
    type_prefix: &'a str,
    account: &'a str,
}

/// Types a call into the form from its first field (which has the focus), Tab by Tab.
async fn type_call(console: &Console, call: &Typed<'_>) {
    assert_eq!(
        console.focused().await,
        "call-callback",
        "the cursor starts in the callback number"
    );
    console.keys(call.callback).await;
    console.keys(Key::Tab).await;
    assert_eq!(console.focused().await, "call-caller");
    console.keys(call.caller).await;
    console.keys(Key::Tab).await;
    assert_eq!(console.focused().await, "call-location");
    console.keys(call.location).await;
    console.keys(Key::Tab).await;
    assert_eq!(console.focused().await, "call-uncertainty");
    console.keys(call.uncertainty).await;
    // Past the location source and the address to the incident type.
    for _ in 0..3 {
        console.keys(Key::Tab).await;
        if console.focused().await == "call-type" {
            break;
        }
    }
    assert_eq!(console.focused().await, "call-type");
    console.keys(call.type_prefix).await;
    console
        .wait_for(
            "the type-ahead's choices",
            "[data-testid=call-type-option][data-code=TRAFFIC-INJURY]",
        )
        .await;
    // Down to TRAFFIC-INJURY in the list, Tab takes it and moves on to the account.
    for _ in 0..8 {
        let active = console
            .attr(
                "[data-testid=call-type-option][aria-selected=true]",
                "data-code",
            )
            .await;
        if active.as_deref() == Some("TRAFFIC-INJURY") {
            break;
        }
        console.keys(Key::Down).await;
    }
    console.keys(Key::Tab).await;
    assert_eq!(
        console
            .eval(
                "return document.querySelector('[data-testid=call-type]').value;",
                vec![]
            )
            .await,
        json!("TRAFFIC-INJURY")
    );
    assert_eq!(console.focused().await, "call-account");
    console.keys(call.account).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_taker_links_a_second_call_about_one_crash_keyboard_only() {
    let Some((browser, server)) = setup::start("calltaker").await else {
        return;
    };
    let (me, token) = server.person(pb::Role::CallTaker, "test-calltaker").await;
    let console = browser.signed_in(&server, &token).await;
    console
        .wait_for("the call form", "[data-testid=call-form]")
        .await;
    console
        .until(
            "the cursor in the callback number",
            "document.activeElement && document.activeElement.getAttribute('data-testid') === 'call-callback'",
        )
        .await;
    console.screenshot("call-form").await;

    // The first call: typed, recorded with Ctrl+Enter, a new incident opened with Alt+N.
    type_call(
        &console,
        &Typed {
            callback: "5512345678",
            caller: "Marta",
            location: "19.4326, -99.1332",
            uncertainty: "30",
            type_prefix: "traffic-inj",
            account: "Choque de dos autos frente a Catedral, un herido",
        },
    )
    .await;
    console.chord(Key::Control, Key::Enter).await;
    let first = console
        .wait_attr(
            "the first call recorded",
            "[data-testid=current-call][data-state=OPEN]",
            "data-call",
        )
        .await;
    console.chord(Key::Alt, "n").await;
    let incident = console
        .wait_attr(
            "the incident opened from the first call",
            "[data-testid=call-outcome][data-state=LINKED]",
            "data-incident",
        )
        .await;
    assert!(incident.starts_with("incidents/"), "{incident}");
    console.screenshot("first-call-opened").await;

    // Alt+C: the next call, the cursor back in the first field of an empty form.
    console.chord(Key::Alt, "c").await;
    console
        .until(
            "an empty form for the next call",
            "!document.querySelector('[data-testid=current-call]') && \
             document.activeElement && document.activeElement.getAttribute('data-testid') === 'call-callback' && \
             document.activeElement.value === ''",
        )
        .await;

    // The second call about the same crash: as soon as its location is typed, the first's
    // incident is suggested, first.
    console.keys("5587654321").await;
    console.keys(Key::Tab).await;
    console.keys("Jorge").await;
    console.keys(Key::Tab).await;
    console.keys("19.4327, -99.1334").await;
    let suggested = format!(
        "[data-testid=duplicate-suggestion][data-rank=\"1\"][data-incident={}]",
        js(&incident)
    );
    console
        .wait_for(
            "the first call's incident suggested while the second is typed",
            &suggested,
        )
        .await;
    console.screenshot("suggestion").await;
    console.keys(Key::Tab).await;
    console.keys("20").await;
    console.chord(Key::Control, Key::Enter).await;
    let second = console
        .until(
            "the second call recorded",
            &format!(
                "(() => {{ const c = document.querySelector('[data-testid=current-call][data-state=OPEN]'); \
                 const n = c && c.getAttribute('data-call'); return n !== {} && n; }})()",
                js(&first)
            ),
        )
        .await;
    let second = second.as_str().expect("the second call's name").to_owned();
    console
        .wait_for("the suggestion, still first", &suggested)
        .await;
    // Alt+1: linked to the first suggestion.
    console.chord(Key::Alt, "1").await;
    console
        .wait_for(
            "the second call linked to the first's incident",
            &format!(
                "[data-testid=call-outcome][data-state=LINKED][data-incident={}]",
                js(&incident)
            ),
        )
        .await;
    console.screenshot("second-call-linked").await;

    // The server agrees: both calls are LINKED to the one incident, taken by this call taker.
    for call in [&first, &second] {
        let got = setup::get_call(&server, call).await;
        assert_eq!(got.state(), pb::CallState::Linked, "{call}");
        assert_eq!(got.incident, incident, "{call}");
        assert_eq!(got.call_taker, me, "{call}");
    }
    let got = setup::get_incident(&server, &incident).await;
    assert_eq!(got.incident_type, "TRAFFIC-INJURY");

    // Both are among the call taker's recent calls.
    for call in [&first, &second] {
        console
            .wait_for(
                "the call among the recent calls",
                &format!(
                    "[data-testid=recent-call][data-call={}][data-state=LINKED]",
                    js(call)
                ),
            )
            .await;
    }
    console.assert_no_uncaught_errors().await;
}
