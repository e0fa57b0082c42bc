//! Every screen a supervisor has opens from its link and works (no refusal), in Spanish and in
//! English; a screenshot of each.

use dispatch_proto::v1 as pb;

use crate::setup::{self, Scene, ZOCALO};

/// A supervisor's screens, by link, and what shows each is there.
const SCREENS: [(&str, &str); 8] = [
    ("queue", "[data-testid=incident-queue]"),
    ("units", "[data-testid=unit-board]"),
    ("map", "[data-testid=map]"),
    ("calls", "[data-testid=call-form]"),
    ("referrals", "[data-testid=referral-list]"),
    ("cameras", "[data-testid=camera-incident]"),
    ("audit", "[data-testid=audit-search]"),
    ("operations", "[data-testid=operations-screen]"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_of_a_supervisor_opens_from_its_link_in_both_languages() {
    let Some((browser, server)) = setup::start("screens").await else {
        return;
    };
    Scene::new(&server).await;
    let incident = setup::crash_at(&server, ZOCALO).await.name;
    setup::triage_not_alert(&server, &incident).await;
    let (_, token) = server.person(pb::Role::Supervisor, "test-supervisor").await;
    let console = browser.signed_in(&server, &token).await;
    for (lang, suffix) in [("es", ""), ("en", "-en")] {
        console.click(&format!("[data-testid=lang-{lang}]")).await;
        for (screen, selector) in SCREENS {
            console.click(&format!("[data-testid=nav-{screen}]")).await;
            console
                .wait_for(&format!("the {screen} screen"), selector)
                .await;
            console
                .wait_for(
                    &format!("the {screen} link marked current"),
                    &format!("[data-testid=nav-{screen}][aria-current=page]"),
                )
                .await;
            assert!(
                !console
                    .exists("[data-testid=refusal], [data-testid=feed-refused], [data-testid=screen-refused]")
                    .await,
                "a refusal on the {screen} screen: {}",
                console.text("main").await
            );
            console.screenshot(&format!("{screen}{suffix}")).await;
        }
    }
    console.go(&format!("#/{incident}")).await;
    console
        .wait_for("the incident's page", "[data-testid=incident-page]")
        .await;
    console.screenshot("incident-en").await;
    console.assert_no_uncaught_errors().await;
}
