//! A dispatcher triages an incident (the questions of its type), asks for a recommendation and
//! assigns it, all in the incident's page; the server then has the units committed.

use dispatch_proto::v1 as pb;

use crate::browser::js;
use crate::setup::{self, Scene, ZOCALO};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_triages_recommends_and_assigns() {
    let Some((browser, server)) = setup::start("dispatcher").await else {
        return;
    };
    let scene = Scene::new(&server).await;
    let incident = setup::crash_at(&server, ZOCALO).await;
    let token = setup::dispatcher_token(&server).await;
    let console = browser.signed_in(&server, &token).await;

    // The queue shows the incident; its row leads to its page.
    console
        .wait_for(
            "the incident in the queue",
            &format!(
                "[data-testid=incident-row][data-incident={}][data-status=NEW]",
                js(&incident.name)
            ),
        )
        .await;
    console.screenshot("queue").await;
    console.go(&format!("#/{}", incident.name)).await;
    let page = format!(
        "[data-testid=incident-page][data-incident={}]",
        js(&incident.name)
    );
    console.wait_for("the incident's page", &page).await;

    // Triage: the questions of TRAFFIC-INJURY; someone is not alert, nothing burns.
    for question in ["all_alert", "fire", "injured_count", "vehicle"] {
        console
            .wait_for(
                &format!("the triage question {question}"),
                &format!("[data-testid=triage-question][data-question={question}]"),
            )
            .await;
    }
    console
        .select(
            "[data-testid=triage-question][data-question=all_alert] [data-testid=triage-answer]",
            "no",
        )
        .await;
    console
        .select(
            "[data-testid=triage-question][data-question=fire] [data-testid=triage-answer]",
            "no",
        )
        .await;
    console
        .type_into(
            "[data-testid=triage-question][data-question=injured_count] [data-testid=triage-answer]",
            "2",
        )
        .await;
    console
        .screenshot_of("triage", "[data-testid=triage]")
        .await;
    console.click("[data-testid=triage-submit]").await;
    console
        .wait_for(
            "the determinant the answers give",
            "[data-testid=triage-determinant][data-code=TRAFFIC-INJURY-D-3]",
        )
        .await;
    for capability in ["als", "patrol"] {
        console
            .wait_for(
                &format!("{capability} in the response plan"),
                &format!(
                    "[data-testid=response-plan] [data-testid=plan-requirement][data-capability={capability}][data-count=\"1\"]"
                ),
            )
            .await;
    }
    console
        .wait_for(
            "the incident triaged",
            &format!("{page}[data-status=TRIAGED]"),
        )
        .await;

    // Recommend: ranked candidates with ETAs, the nearest of each kind picked.
    console.click("[data-testid=recommend]").await;
    let nearest = [&scene.ambulances[0], &scene.patrols[0]];
    console
        .wait_for_units(
            nearest,
            "recommended",
            "[data-testid=candidate][data-unit={unit}][data-rank=\"1\"][data-picked=true]",
        )
        .await;
    let etas = console
        .eval(
            "return [...document.querySelectorAll('[data-testid=candidate] [data-testid=candidate-eta]')]\
             .map((e) => e.textContent.trim());",
            vec![],
        )
        .await;
    let etas = etas.as_array().expect("ETAs");
    assert!(
        etas.len() >= 2
            && etas
                .iter()
                .all(|e| e.as_str().is_some_and(|e| !e.is_empty())),
        "every candidate shows an ETA: {etas:?}"
    );
    assert!(
        !console.exists("[data-testid=shortfall]").await,
        "no shortfall with two of each kind available"
    );
    console
        .screenshot_of("recommendation", "[data-testid=recommendation]")
        .await;

    // Assign what was recommended (no override reason asked).
    assert!(!console.exists("[data-testid=override-reason]").await);
    console.click("[data-testid=assign]").await;
    console
        .wait_for_units(
            nearest,
            "assigned",
            "[data-testid=assigned-unit][data-unit={unit}][data-status=DISPATCHED]",
        )
        .await;
    console
        .wait_for(
            "the incident dispatched",
            &format!("{page}[data-status=DISPATCHED]"),
        )
        .await;
    console
        .screenshot_of("assigned", "[data-testid=assigned-units]")
        .await;

    // The server has both units committed to the incident, and nothing else.
    let got = setup::get_incident(&server, &incident.name).await;
    assert_eq!(got.status(), pb::IncidentStatus::Dispatched);
    assert_eq!(
        got.determinant.as_ref().map(|d| d.code.as_str()),
        Some("TRAFFIC-INJURY-D-3")
    );
    let mut assigned: Vec<&str> = got.assignments.iter().map(|a| a.unit.as_str()).collect();
    assigned.sort_unstable();
    let mut expected: Vec<&str> = nearest.iter().map(|u| u.name.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(assigned, expected);
    for unit in nearest {
        let now = setup::get_unit(&server, &unit.name).await;
        assert_eq!(now.current_incident, incident.name, "{}", unit.call_sign);
        assert_eq!(
            now.status(),
            pb::UnitStatus::Dispatched,
            "{}",
            unit.call_sign
        );
    }
    for unit in [&scene.ambulances[1], &scene.patrols[1]] {
        let now = setup::get_unit(&server, &unit.name).await;
        assert_eq!(
            now.status(),
            pb::UnitStatus::Available,
            "{}",
            unit.call_sign
        );
    }
    console.assert_no_uncaught_errors().await;
}
