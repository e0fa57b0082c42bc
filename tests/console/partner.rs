//! A partner agency signs in and sees only its own referrals, live; it accepts one.

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

use crate::browser::js;
use crate::setup::{self, ZOCALO};

async fn partner_agency(server: &TestServer, code: &str) -> pb::PartnerAgency {
    let area = setup::square_area("Centro", setup::CENTRE);
    let (kind, need) = (
        pb::PartnerKind::PsychologicalCare,
        pb::ReferralNeed::Psychological,
    );
    let display_name = format!("{code} (prueba)");
    let spec = setup::partner_agency(code, &display_name, kind, need, area);
    setup::create_partner(
        server,
        pb::PartnerAgency {
            capacity: setup::capacity(5, 10),
            location: setup::point(ZOCALO),
            address: "Av. 5 de Mayo 1, Centro".into(),
            ..spec
        },
    )
    .await
}

async fn refer(server: &TestServer, incident: &str, partner: &str, alias: &str) -> pb::Referral {
    let need = pb::ReferralNeed::Psychological;
    let mut request = setup::referral_request(incident, partner, need, alias);
    request.notes = "canalizada desde el 911".into();
    if let Some(victim) = &mut request.victim {
        victim.language = "es-MX".into();
    }
    setup::refer(server, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_sees_only_its_own_referrals_live_and_accepts_one() {
    let Some((browser, server)) = setup::start("partner").await else {
        return;
    };
    let ours = partner_agency(&server, "CAVI").await;
    let theirs = partner_agency(&server, "ADIVAC").await;
    let incident = setup::incident_at(&server, ZOCALO).await.name;
    let mine = refer(&server, &incident, &ours.name, "Rosa").await;
    let other = refer(&server, &incident, &theirs.name, "Lucía").await;
    let (_, token) = server
        .principal(
            pb::Role::PartnerAgency,
            "test-partner",
            None,
            Some(&ours.name),
        )
        .await;

    let console = browser.signed_in(&server, &token).await;
    // The partner's one screen, its referrals: exactly its own one.
    console
        .wait_for("the referral list", "[data-testid=referral-list]")
        .await;
    let own_row = |referral: &pb::Referral| {
        format!(
            "[data-testid=referral-row][data-referral={}]",
            js(&referral.name)
        )
    };
    console
        .wait_for("the partner's own referral", &own_row(&mine))
        .await;
    console.wait_link("the feed live", "live").await;
    assert_eq!(console.count("[data-testid=referral-row]").await, 1);
    assert!(!console.exists(&own_row(&other)).await);
    for screen in ["calls", "queue", "units", "map", "audit", "cameras"] {
        assert!(
            !console.exists(&format!("[data-testid=nav-{screen}]")).await,
            "a partner is offered the {screen} screen"
        );
    }
    console.screenshot("referrals").await;

    // Live: a referral to the other partner never shows, the next one to this partner does
    // (the feed is ordered: by the time the second shows, the first would have).
    let other_again = refer(&server, &incident, &theirs.name, "Marta").await;
    let mine_again = refer(&server, &incident, &ours.name, "Julia").await;
    console
        .wait_for("the partner's new referral, live", &own_row(&mine_again))
        .await;
    assert_eq!(console.count("[data-testid=referral-row]").await, 2);
    assert!(!console.exists(&own_row(&other_again)).await);
    let text = console.text("[data-testid=referral-list]").await;
    for alias in ["Lucía", "Marta"] {
        assert!(
            !text.contains(alias),
            "another partner's victim {alias} shows"
        );
    }

    // Accepting one: the server has it ACCEPTED, the row says so.
    console
        .click(&format!("{} [data-testid=referral-accept]", own_row(&mine)))
        .await;
    console
        .wait_for(
            "the referral accepted",
            &format!("{}[data-status=ACCEPTED]", own_row(&mine)),
        )
        .await;
    let got = setup::get_referral(&server, &mine.name).await;
    assert_eq!(got.status(), pb::ReferralStatus::Accepted);
    console.screenshot("accepted").await;
    console.assert_no_uncaught_errors().await;
}
