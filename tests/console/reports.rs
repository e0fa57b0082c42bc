//! A supervisor's reports: the intervals table shows, row by row, the numbers ReportingService
//! gives for the same period (in total and grouped by incident type, with each target's
//! verdict), the hot-spot map draws the report's cells (or, until GetHotSpotReport is merged,
//! shows its refusal as it came), and the other tabs open without a refusal; a dispatcher is
//! offered no reports and, reaching them by hand, is shown the API's refusal.

use chrono::{DateTime, Duration, Utc};
use tonic::service::interceptor::InterceptedService;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;
use dispatch_tests::{Authed, Bearer, TestServer};

use crate::browser::{Console, js};
use crate::setup::{self, Scene, ZOCALO, offset};

fn ts(time: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    })
}

fn reports(server: &TestServer, token: &str) -> ReportingServiceClient<Authed> {
    ReportingServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(token),
    ))
}

/// An incident of `incident_type` at `at` from a call taken on paper `minutes_ago` minutes ago
/// and entered now (a back-entered call keeps its received time).
async fn incident_from_paper(
    server: &TestServer,
    at: (f64, f64),
    minutes_ago: i64,
    incident_type: &str,
) -> String {
    let received = Utc::now() - Duration::minutes(minutes_ago);
    let call = pb::CreateCallRequest {
        back_entered: true,
        received_time: ts(received),
        answered_time: ts(received + Duration::seconds(8)),
        account: "Tomada en papel durante la caída".into(),
        incident_type_hint: incident_type.into(),
        ..setup::call_at(at, 15.0)
    };
    setup::open_from(server, call, incident_type).await.name
}

/// A few incidents around the Zócalo and one 3 km away, their units dispatched, en route, on
/// scene or released, so that every unit interval has something to measure or to leave out.
async fn seed(server: &TestServer) {
    let scene = Scene::new(server).await;
    let (patrols, ambulances) = (&scene.patrols, &scene.ambulances);

    let crash = incident_from_paper(server, ZOCALO, 9, "TRAFFIC-INJURY").await;
    setup::assign_units(
        server,
        &crash,
        &[patrols[0].name.as_str(), ambulances[0].name.as_str()],
        "browser test",
    )
    .await
    .expect("assign");
    for status in [pb::UnitStatus::EnRoute, pb::UnitStatus::OnScene] {
        setup::set_status(server, &patrols[0].name, status).await;
    }
    setup::set_status(server, &ambulances[0].name, pb::UnitStatus::EnRoute).await;

    let second = incident_from_paper(server, offset(ZOCALO, 0.1, 0.1), 4, "TRAFFIC-INJURY").await;
    setup::assign(server, &second, &patrols[1].name).await;
    for status in [pb::UnitStatus::EnRoute, pb::UnitStatus::OnScene] {
        setup::set_status(server, &patrols[1].name, status).await;
    }

    let fire = incident_from_paper(server, offset(ZOCALO, 3.0, 2.0), 15, "FIRE-STRUCTURE").await;
    setup::assign(server, &fire, &ambulances[1].name).await;
    setup::release(server, &fire, &ambulances[1].name).await;
}

/// The period the reports screen asks for, as it says on itself.
async fn shown_period(console: &Console) -> pb::ReportPeriod {
    let screen = "[data-testid=reports-screen]";
    let instant = |value: Option<String>| {
        Some(prost_types::Timestamp {
            seconds: value.expect("a period bound").parse().expect("seconds"),
            nanos: 0,
        })
    };
    pb::ReportPeriod {
        start_time: instant(console.attr(screen, "data-start").await),
        end_time: instant(console.attr(screen, "data-end").await),
        time_zone: console
            .attr(screen, "data-zone")
            .await
            .expect("the period's zone"),
    }
}

/// A duration's seconds as the rows carry them ("" when unset).
fn secs(d: Option<&prost_types::Duration>) -> String {
    d.map(|d| d.seconds.to_string()).unwrap_or_default()
}

/// Waits for the intervals table to show `group` (its keys' values joined by "|", or "total")
/// exactly as the API gave it: for every interval measured or left out, its count, p50, p90 and
/// mean, and each target's verdict in order.
async fn assert_group_shown(console: &Console, group_key: &str, group: &pb::IntervalGroup) {
    for stats in &group.intervals {
        let left_out = stats.excluded_missing + stats.excluded_negative + stats.excluded_cancelled;
        if group_key != "total" && stats.count == 0 && left_out == 0 {
            continue;
        }
        let kind = pb::IntervalKind::try_from(stats.interval)
            .expect("a known interval")
            .as_str_name()
            .trim_start_matches("INTERVAL_KIND_")
            .to_owned();
        let row = format!(
            "[data-testid=rp-interval-row][data-group={}][data-interval={kind}]",
            js(group_key)
        );
        console
            .wait_for(
                &format!("{group_key} {kind} as the API gives it ({stats:?})"),
                &format!(
                    "{row}[data-count=\"{}\"][data-p50=\"{}\"][data-p90=\"{}\"][data-mean=\"{}\"]",
                    stats.count,
                    secs(stats.p50.as_ref()),
                    secs(stats.p90.as_ref()),
                    secs(stats.mean.as_ref()),
                ),
            )
            .await;
        let verdicts = console
            .eval(
                "return [...document.querySelectorAll(arguments[0])].map((e) => e.getAttribute('data-met') === 'true');",
                vec![serde_json::json!(format!(
                    "{row} [data-testid=rp-compliance]"
                ))],
            )
            .await;
        let want: Vec<bool> = stats.compliance.iter().map(|c| c.met).collect();
        assert_eq!(
            verdicts,
            serde_json::json!(want),
            "{group_key} {kind}: met / not met"
        );
    }
}

/// Waits for the hot-spot map to draw every cell of `spots` with its count, and checks the
/// hour-of-week grid counts every seeded incident.
async fn assert_hot_spots_drawn(console: &Console, spots: &pb::GetHotSpotReportResponse) {
    assert_eq!(spots.total, 3);
    assert!(
        spots.cells.len() >= 2,
        "incidents 3 km apart fall in different cells: {spots:?}"
    );
    console
        .wait_for(
            "every cell drawn",
            &format!(
                "[data-testid=rp-hs-map][data-cells=\"{}\"]",
                spots.cells.len()
            ),
        )
        .await;
    for cell in &spots.cells {
        console
            .wait_for(
                &format!("cell {} drawn with its count", cell.cell),
                &format!(
                    "path[data-testid=rp-hs-cell][data-cell={}][data-count=\"{}\"]",
                    js(&cell.cell),
                    cell.count
                ),
            )
            .await;
    }
    assert_eq!(
        console.count("path[data-testid=rp-hs-cell]").await,
        spots.cells.len()
    );
    let week: i64 = serde_json::from_value::<Vec<String>>(
        console
            .eval(
                "return [...document.querySelectorAll('[data-testid=rp-heat-cell]')].map((e) => e.getAttribute('data-count'));",
                vec![],
            )
            .await,
    )
    .expect("the hour-of-week counts")
    .iter()
    .map(|n| n.parse::<i64>().expect("a count"))
    .sum();
    assert_eq!(week, 3, "the hour-of-week grid counts every incident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reads_the_reports_the_api_gives_and_a_dispatcher_is_not_offered_them() {
    let Some((browser, server)) = setup::start("reports").await else {
        return;
    };
    seed(&server).await;
    let (_, token) = server.person(pb::Role::Supervisor, "test-supervisor").await;
    let mut api = reports(&server, &token);
    let console = browser.signed_in(&server, &token).await;
    console.click("[data-testid=lang-en]").await;
    console.click("[data-testid=nav-reports]").await;
    console
        .wait_for("the reports screen", "[data-testid=reports-screen]")
        .await;
    let period = shown_period(&console).await;

    // Intervals, in total: every row as the API computes it for the same period.
    let total = api
        .get_interval_report(pb::GetIntervalReportRequest {
            period: Some(period.clone()),
            ..Default::default()
        })
        .await
        .expect("the interval report")
        .into_inner();
    assert_eq!(total.incidents, 3, "the seeded incidents are in the period");
    console
        .wait_for(
            "the report's incident and assignment counts",
            &format!(
                "[data-testid=rp-interval-counts][data-incidents=\"{}\"][data-assignments=\"{}\"]",
                total.incidents, total.assignments
            ),
        )
        .await;
    assert_group_shown(&console, "total", total.total.as_ref().expect("a total")).await;
    assert!(
        console
            .exists("[data-testid=rp-compliance][data-met=false]")
            .await,
        "call processing of 4 to 15 minutes is shown failing its 60 s target"
    );
    console
        .wait_for(
            "the chart's target line",
            "[data-testid=rp-interval-chart] [data-testid=rp-target]",
        )
        .await;
    console.screenshot("intervals").await;

    // Grouped by incident type: one set of rows per type, as the API groups them.
    console
        .select("[data-testid=rp-group-1]", "INCIDENT_TYPE")
        .await;
    let by_type = api
        .get_interval_report(pb::GetIntervalReportRequest {
            period: Some(period.clone()),
            group_by: vec![pb::ReportDimension::IncidentType.into()],
            ..Default::default()
        })
        .await
        .expect("the interval report by type")
        .into_inner();
    let types: Vec<&str> = by_type
        .groups
        .iter()
        .map(|g| g.keys[0].value.as_str())
        .collect();
    assert_eq!(types, ["FIRE-STRUCTURE", "TRAFFIC-INJURY"]);
    for group in &by_type.groups {
        assert_group_shown(&console, &group.keys[0].value, group).await;
    }
    assert_eq!(
        console
            .count("[data-testid=rp-interval-chart] [data-testid=rp-bar-group]")
            .await,
        2,
        "a pair of bars per incident type"
    );
    console.screenshot("intervals-by-type").await;

    // Hot spots: the map draws every cell of the API's answer.
    console.click("[data-testid=rp-tab-hotspots]").await;
    let spots = api
        .get_hot_spot_report(pb::GetHotSpotReportRequest {
            period: Some(period.clone()),
            resolution: 8,
            ..Default::default()
        })
        .await
        .expect("the hot-spot report")
        .into_inner();
    assert_hot_spots_drawn(&console, &spots).await;
    console.screenshot("hotspots").await;

    // Utilization and duplicates open with their tables, no refusal.
    for (tab, shows) in [
        ("utilization", "[data-testid=rp-first-due]"),
        ("duplicates", "[data-testid=rp-dup-total]"),
    ] {
        console.click(&format!("[data-testid=rp-tab-{tab}]")).await;
        console.wait_for(&format!("the {tab} report"), shows).await;
        assert!(
            !console.exists("[data-testid=refusal]").await,
            "a refusal on the {tab} tab: {}",
            console.text("main").await
        );
        console.screenshot(tab).await;
    }
    console.assert_no_uncaught_errors().await;

    // A dispatcher is offered no reports; the screen reached by hand shows the API's refusal.
    let dispatcher = browser
        .signed_in(&server, &setup::dispatcher_token(&server).await)
        .await;
    dispatcher
        .wait_for("the dispatcher's screens", "[data-testid=nav-queue]")
        .await;
    assert!(
        !dispatcher.exists("[data-testid=nav-reports]").await,
        "a dispatcher is offered the reports"
    );
    dispatcher.go("#/reports").await;
    dispatcher
        .wait_for(
            "the API's PERMISSION_DENIED refusal",
            "[data-testid=refusal][data-code=PERMISSION_DENIED]",
        )
        .await;
    assert!(
        !dispatcher.exists("[data-testid=rp-interval-row]").await,
        "a dispatcher sees interval figures"
    );
    dispatcher.screenshot("dispatcher-refused").await;
    dispatcher.assert_no_uncaught_errors().await;
}
