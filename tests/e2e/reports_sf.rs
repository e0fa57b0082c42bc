//! Checked against reality: San Francisco's records back-entered through the public API, and
//! the interval report over them set against what the records' own timestamps give. Also the
//! back-entry rules themselves (dispatch_time, status_time, release_time).

use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use dispatch_cli::replay::data::{self, Dataset};
use dispatch_cli::replay::intervals::{self, Figures};
use dispatch_proto::v1 as pb;
use dispatch_tests::{Bearer, TestServer, assert_invalid, fixtures, request_id};
use pb::reporting_service_client::ReportingServiceClient;
use tonic::service::interceptor::InterceptedService;

use crate::cli::data_file;

fn ts(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

fn time_of(t: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    let t = t.expect("a time");
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)).expect("a time")
}

fn status_at(
    unit: &str,
    status: pb::UnitStatus,
    at: DateTime<Utc>,
    incident: &str,
) -> pb::SetUnitStatusRequest {
    pb::SetUnitStatusRequest {
        incident: incident.into(),
        status_time: ts(at),
        ..fixtures::set_status_request(unit, status)
    }
}

#[derive(QueryableByName, Debug, PartialEq)]
struct History {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    status_at: DateTime<Utc>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Stamps {
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    dispatched_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    en_route_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    on_scene_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    released_at: Option<DateTime<Utc>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_entered_times_are_kept_in_order_and_recorded_as_given() {
    let server = TestServer::start().await;
    let agency = fixtures::agency(&server, "BOMBEROS", pb::AgencyKind::Fire).await;
    let unit = fixtures::unit(&server, &agency, "E-1", pb::UnitType::Engine).await;
    let mut units = server.units();
    let now = Utc::now().with_nanosecond_zero();
    let long_ago = now - Duration::days(30);

    // A unit never committed may say since when it has been available.
    let restated = units
        .set_unit_status(status_at(
            &unit.name,
            pb::UnitStatus::Available,
            long_ago,
            "",
        ))
        .await
        .expect("a new unit's history")
        .into_inner()
        .unit
        .expect("unit");
    assert_eq!(time_of(restated.status_time.as_ref()), long_ago);
    // Never in the future.
    assert_invalid(
        units
            .set_unit_status(status_at(
                &unit.name,
                pb::UnitStatus::OutOfService,
                now + Duration::hours(1),
                "",
            ))
            .await,
        "a status an hour from now",
        &["status_time"],
    );

    let received = long_ago + Duration::hours(1);
    let call = pb::CreateCallRequest {
        received_time: ts(received),
        answered_time: ts(received),
        back_entered: true,
        ..fixtures::call_at((19.43, -99.13), 10.0)
    };
    let incident = fixtures::open_from(&server, call, "").await.name;
    let assign = |at: DateTime<Utc>| pb::AssignUnitsRequest {
        dispatch_time: ts(at),
        ..fixtures::assign_request(&incident, &[&unit.name], "", "back-entered")
    };
    assert_invalid(
        units
            .assign_units(assign(received - Duration::seconds(1)))
            .await,
        "a dispatch before the incident's first call",
        &["dispatch_time"],
    );
    let dispatched = received + Duration::seconds(75);
    let sent = units
        .assign_units(assign(dispatched))
        .await
        .expect("a back-entered dispatch")
        .into_inner();
    assert_eq!(time_of(sent.units[0].status_time.as_ref()), dispatched);

    let en_route = dispatched + Duration::seconds(50);
    let on_scene = en_route + Duration::seconds(240);
    assert_invalid(
        units
            .set_unit_status(status_at(
                &unit.name,
                pb::UnitStatus::EnRoute,
                dispatched - Duration::seconds(1),
                &incident,
            ))
            .await,
        "en route before the dispatch",
        &["status_time"],
    );
    for (status, at) in [
        (pb::UnitStatus::EnRoute, en_route),
        (pb::UnitStatus::OnScene, on_scene),
    ] {
        units
            .set_unit_status(status_at(&unit.name, status, at, &incident))
            .await
            .expect("in order");
    }
    let release = |at: DateTime<Utc>| pb::ReleaseUnitRequest {
        request_id: request_id(),
        unit: unit.name.clone(),
        incident: incident.clone(),
        reason: "another call".into(),
        release_time: ts(at),
    };
    assert_invalid(
        units.release_unit(release(en_route)).await,
        "a release before the unit arrived",
        &["release_time"],
    );
    let released = on_scene + Duration::seconds(600);
    units
        .release_unit(release(released))
        .await
        .expect("a back-entered release");
    // Committed once, the unit's history is in order for good.
    assert_invalid(
        units
            .set_unit_status(status_at(
                &unit.name,
                pb::UnitStatus::Available,
                long_ago,
                "",
            ))
            .await,
        "back-dating a unit that has a history",
        &["status_time"],
    );

    use diesel_async::RunQueryDsl as _;
    let mut db = server.db().await;
    let id = unit.name.trim_start_matches("units/");
    let stamps: Vec<Stamps> = diesel::sql_query(format!(
        "SELECT dispatched_at, en_route_at, on_scene_at, released_at FROM assignments \
         WHERE unit_id = '{id}'"
    ))
    .load(&mut db)
    .await
    .expect("assignments");
    assert_eq!(
        stamps,
        [Stamps {
            dispatched_at: dispatched,
            en_route_at: Some(en_route),
            on_scene_at: Some(on_scene),
            released_at: Some(released),
        }]
    );
    let history: Vec<History> = diesel::sql_query(format!(
        "SELECT status, status_at FROM unit_status_history WHERE unit_id = '{id}' ORDER BY id"
    ))
    .load(&mut db)
    .await
    .expect("history");
    let history: Vec<(&str, DateTime<Utc>)> = history
        .iter()
        .skip(1) // as created, now
        .map(|h| (h.status.as_str(), h.status_at))
        .collect();
    assert_eq!(
        history,
        [
            ("available", long_ago),
            ("dispatched", dispatched),
            ("en_route", en_route),
            ("on_scene", on_scene),
            ("available", released),
        ]
    );
}

trait WholeSeconds {
    fn with_nanosecond_zero(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).expect("a time")
    }
}

/// Calls of the data replayed: a few hundred unit rows, every unit type of the month's first
/// days.
const SLICE_CALLS: usize = 150;

fn seconds(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| d.seconds)
}

/// The report's figures in the data side's shape.
fn figures_of(stats: &pb::IntervalStatistics) -> Figures {
    Figures {
        count: stats.count,
        p50: seconds(stats.p50.as_ref()),
        p90: seconds(stats.p90.as_ref()),
        excluded_missing: stats.excluded_missing,
        excluded_negative: stats.excluded_negative,
        excluded_cancelled: stats.excluded_cancelled,
    }
}

fn group_figures(group: &pb::IntervalGroup) -> Vec<(String, Figures)> {
    group
        .intervals
        .iter()
        .map(|s| {
            let kind = pb::IntervalKind::try_from(s.interval).expect("a known interval");
            (intervals::kind_name(kind), figures_of(s))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interval_report_over_replayed_san_francisco_records_equals_their_own_timestamps() {
    let Some(file) = data_file("sf_fire_calls_2020-04.csv") else {
        return;
    };
    let server = TestServer::start().await;
    let address = format!("http://{}", server.address);
    let limit = SLICE_CALLS.to_string();
    let argv = [
        "dispatchctl",
        "--server",
        &address,
        "--token",
        &server.admin_token,
        "--json",
        "replay",
        "--dataset",
        "sf",
        "--file",
        &file,
        "--limit",
        &limit,
        "--workers",
        "4",
        "--no-progress",
    ];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let report: serde_json::Value = serde_json::from_str(out.lines().next().expect("a report"))
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    // Every unit the data sent was sent, every time entered; nothing failed.
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(report["unitsBusyInReplay"], 0, "{report}");

    // The data side, from the rows alone.
    let rows = data::read(Dataset::Sf, std::path::Path::new(&file), Some(SLICE_CALLS))
        .expect("the slice")
        .rows;
    let plan = intervals::plan(&rows, true);
    let expected = intervals::data_intervals(&rows, &plan, None, None);
    assert_eq!(
        report["unitsSentAsInData"],
        serde_json::json!(plan.assignments.len()),
        "{report}"
    );
    assert_eq!(
        report["dataIntervals"],
        serde_json::to_value(&expected).expect("json"),
        "the replay prints the data's figures"
    );
    assert!(expected.assignments > 250, "{}", expected.assignments);
    for kind in ["engine", "ladder", "als_ambulance", "chief"] {
        assert!(
            expected.by_unit_type.contains_key(kind),
            "no {kind} in the slice"
        );
    }

    // The report, over the slice's period in San Francisco's zone.
    let first = rows.first().expect("rows").received;
    let last = rows.last().expect("rows").received;
    let mut reporting = ReportingServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(&server.token),
    ));
    let answer = reporting
        .get_interval_report(pb::GetIntervalReportRequest {
            period: Some(pb::ReportPeriod {
                start_time: ts(first),
                end_time: ts(last + Duration::seconds(1)),
                time_zone: "America/Los_Angeles".into(),
            }),
            group_by: vec![pb::ReportDimension::UnitType.into()],
            targets: Vec::new(),
        })
        .await
        .expect("the interval report")
        .into_inner();
    assert_eq!(answer.incidents, rows.len() as i64);
    assert_eq!(answer.assignments, expected.assignments);
    assert_eq!(
        group_figures(answer.total.as_ref().expect("a total")),
        expected.total,
        "every incident and assignment"
    );
    let by_type: std::collections::BTreeMap<String, Vec<(String, Figures)>> = answer
        .groups
        .iter()
        .map(|g| {
            let key = g.keys.first().expect("a key");
            assert_eq!(key.dimension, pb::ReportDimension::UnitType as i32);
            (key.value.clone(), group_figures(g))
        })
        .collect();
    assert_eq!(
        by_type.keys().collect::<Vec<_>>(),
        expected.by_unit_type.keys().collect::<Vec<_>>()
    );
    for (unit_type, figures) in &expected.by_unit_type {
        for ((kind, want), (got_kind, got)) in figures.iter().zip(&by_type[unit_type]) {
            assert_eq!(kind, got_kind);
            assert_eq!(got, want, "{unit_type} {kind}");
        }
    }
}

/// The whole month, once, for the table in README's "Checked against San Francisco":
/// `cargo test -p dispatch-tests --test e2e full_san_francisco_month -- --ignored --nocapture`
/// prints, per unit type and interval, the report's count/p50/p90 next to the data's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "replays all 5,292 calls: run by hand for the full-data table"]
async fn full_san_francisco_month() {
    let Some(file) = data_file("sf_fire_calls_2020-04.csv") else {
        return;
    };
    let server = TestServer::start().await;
    let address = format!("http://{}", server.address);
    let argv = [
        "dispatchctl",
        "--server",
        &address,
        "--token",
        &server.admin_token,
        "--json",
        "replay",
        "--dataset",
        "sf",
        "--file",
        &file,
        "--workers",
        "8",
        "--no-progress",
    ];
    let started = std::time::Instant::now();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
    assert_eq!(code, 0, "stderr: {err}");
    let report: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a report")).expect("json");
    let rows = data::read(Dataset::Sf, std::path::Path::new(&file), None)
        .expect("the month")
        .rows;
    let plan = intervals::plan(&rows, true);
    let expected = intervals::data_intervals(&rows, &plan, None, None);
    let first = rows.first().expect("rows").received;
    let last = rows.last().expect("rows").received;
    let mut reporting = ReportingServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(&server.token),
    ));
    let answer = reporting
        .get_interval_report(pb::GetIntervalReportRequest {
            period: Some(pb::ReportPeriod {
                start_time: ts(first),
                end_time: ts(last + Duration::seconds(1)),
                time_zone: "America/Los_Angeles".into(),
            }),
            group_by: vec![pb::ReportDimension::UnitType.into()],
            targets: Vec::new(),
        })
        .await
        .expect("the interval report")
        .into_inner();
    let cell = |f: &Figures| {
        let s = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
        format!("{} / {} / {}", f.count, s(f.p50), s(f.p90))
    };
    println!(
        "replay: {:.0} s wall, errors {}, units sent {}, busy {}, re-tasked {}, left committed {}",
        started.elapsed().as_secs_f64(),
        report["errors"],
        report["unitsSentAsInData"],
        report["unitsBusyInReplay"],
        report["unitsRetasked"],
        report["unitsLeftCommitted"]
    );
    println!(
        "incidents {} (data {}), assignments {} (data {}); left out: {}",
        answer.incidents,
        expected.incidents,
        answer.assignments,
        expected.assignments,
        serde_json::to_string(&expected.left_out).expect("json")
    );
    println!(
        "| unit type | interval | report: n / p50 / p90 (s) | data: n / p50 / p90 (s) | excluded (missing/neg/cancelled) report · data | equal |"
    );
    println!("|---|---|---|---|---|---|");
    let mut groups: Vec<(String, Vec<(String, Figures)>)> = answer
        .groups
        .iter()
        .map(|g| (g.keys[0].value.clone(), group_figures(g)))
        .collect();
    groups.push((
        "(all)".into(),
        group_figures(answer.total.as_ref().expect("total")),
    ));
    let mut differences = 0;
    for (unit_type, figures) in &groups {
        let data_side = if unit_type == "(all)" {
            Some(&expected.total)
        } else {
            expected.by_unit_type.get(unit_type)
        };
        for (kind, got) in figures {
            let want = data_side
                .and_then(|d| d.iter().find(|(k, _)| k == kind))
                .map(|(_, f)| f.clone())
                .unwrap_or_default();
            if want.count == 0 && got.count == 0 && got == &want {
                continue;
            }
            let excluded = |f: &Figures| {
                format!(
                    "{}/{}/{}",
                    f.excluded_missing, f.excluded_negative, f.excluded_cancelled
                )
            };
            let equal = got == &want;
            differences += usize::from(!equal);
            println!(
                "| {unit_type} | {kind} | {} | {} | {} · {} | {} |",
                cell(got),
                cell(&want),
                excluded(got),
                excluded(&want),
                if equal { "yes" } else { "NO" }
            );
        }
    }
    assert_eq!(differences, 0, "the report and the data differ");
}
