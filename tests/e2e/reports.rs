//! ReportingService's interval, utilization and duplicate reports over gRPC on real PostgreSQL
//! (issue 21): each report equals what the times the API recorded give under the definitions
//! of README.md "Reports" (computed here again, independently, from the assignments GetIncident
//! returns), with its exclusions, an empty period, every bad field named, the roles that may
//! read them, and the audit record of each read.

use chrono::{DateTime, Duration, Timelike, Utc};
use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{
    self, ZOCALO, agency, assign_units, call_at, create_call, open_incident, release, set_status,
    station, unit_at,
};
use dispatch_tests::{TestServer, assert_invalid, request_id};
use tonic::Code;

fn ts(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).expect("nanos fit"),
    }
}

fn time(value: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    value.as_ref().map(|t| {
        let nanos = u32::try_from(t.nanos).expect("nanos fit");
        DateTime::from_timestamp(t.seconds, nanos).expect("a time")
    })
}

fn secs(value: &Option<prost_types::Duration>) -> Option<Duration> {
    value
        .as_ref()
        .map(|d| Duration::seconds(d.seconds) + Duration::nanoseconds(i64::from(d.nanos)))
}

fn period(start: DateTime<Utc>, end: DateTime<Utc>, zone: &str) -> Option<pb::ReportPeriod> {
    Some(pb::ReportPeriod {
        start_time: Some(ts(start)),
        end_time: Some(ts(end)),
        time_zone: zone.into(),
    })
}

/// A call received `ago` before now, and the incident opened from it.
async fn incident_received(server: &TestServer, ago: Duration) -> (pb::Incident, DateTime<Utc>) {
    let received = Utc::now() - ago;
    let call = pb::CreateCallRequest {
        received_time: Some(ts(received)),
        ..call_at(ZOCALO, 10.0)
    };
    let call = create_call(server, call).await.call.expect("call");
    // As stored (to the microsecond), not as sent.
    let received = time(&call.received_time).expect("received");
    (open_incident(server, &call.name, "").await, received)
}

async fn assignments(server: &TestServer, incident: &str) -> Vec<pb::Assignment> {
    server
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: incident.into(),
            view: pb::IncidentView::Full.into(),
        })
        .await
        .expect("incident")
        .into_inner()
        .incident
        .expect("incident")
        .assignments
}

fn nearest_rank(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.max(1) - 1]
}

fn stats(group: &pb::IntervalGroup, kind: pb::IntervalKind) -> &pb::IntervalStatistics {
    group
        .intervals
        .iter()
        .find(|s| s.interval == kind as i32)
        .expect("every interval is listed")
}

/// Asserts the statistics of `kind` in `group` are those of `measured`, with the exclusions
/// `(missing, cancelled)`.
fn assert_interval(
    group: &pb::IntervalGroup,
    kind: pb::IntervalKind,
    measured: &[Duration],
    (missing, cancelled): (i64, i64),
) {
    let s = stats(group, kind);
    assert_eq!(s.count, measured.len() as i64, "{kind:?} count");
    assert_eq!(
        (s.excluded_missing, s.excluded_cancelled),
        (missing, cancelled),
        "{kind:?}"
    );
    assert_eq!(
        s.excluded_negative, 0,
        "{kind:?}: the API refuses times out of order"
    );
    if measured.is_empty() {
        assert_eq!((s.p50, s.p90), (None, None), "{kind:?}");
        return;
    }
    assert_eq!(
        secs(&s.p50),
        Some(nearest_rank(measured, 0.5)),
        "{kind:?} p50"
    );
    assert_eq!(
        secs(&s.p90),
        Some(nearest_rank(measured, 0.9)),
        "{kind:?} p90"
    );
    assert_eq!(secs(&s.max), measured.iter().max().copied(), "{kind:?} max");
}

fn between(a: &Option<prost_types::Timestamp>, b: &Option<prost_types::Timestamp>) -> Duration {
    time(b).expect("end") - time(a).expect("start")
}

struct Fleet {
    e1: String,
    e2: String,
    m1: String,
}

async fn fleet(server: &TestServer) -> Fleet {
    let fire = agency(server, "BOMB", pb::AgencyKind::Fire).await;
    let ems = agency(server, "ERUM", pb::AgencyKind::Ems).await;
    let base = station(server, &fire, "EST1", ZOCALO).await;
    let clinic = station(server, &ems, "BASE1", ZOCALO).await;
    let engine = pb::UnitType::Engine;
    Fleet {
        e1: unit_at(server, &fire, &base, "E-1", engine, ZOCALO)
            .await
            .name,
        e2: unit_at(server, &fire, &base, "E-2", engine, ZOCALO)
            .await
            .name,
        m1: unit_at(
            server,
            &ems,
            &clinic,
            "M-1",
            pb::UnitType::AlsAmbulance,
            ZOCALO,
        )
        .await
        .name,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_are_what_the_recorded_times_give_with_every_exclusion_counted() {
    use pb::IntervalKind as K;
    use pb::UnitStatus as S;
    let server = TestServer::start().await;
    let Fleet { e1, e2, m1 } = fleet(&server).await;
    let start = Utc::now() - Duration::hours(1);
    // A: an engine and a medic; the engine arrives first, the medic transports.
    let (a, received_a) = incident_received(&server, Duration::seconds(200)).await;
    assign_units(&server, &a.name, &[&e1, &m1], "report test")
        .await
        .expect("assign");
    for status in [S::EnRoute, S::OnScene] {
        set_status(&server, &e1, status).await;
    }
    for status in [S::EnRoute, S::OnScene, S::Transporting, S::AtHospital] {
        set_status(&server, &m1, status).await;
    }
    set_status(&server, &e1, S::Available).await;
    set_status(&server, &m1, S::Available).await;
    // B: an engine turned back on the way (released): travel and on scene are cancelled.
    let (b, received_b) = incident_received(&server, Duration::seconds(20)).await;
    assign_units(&server, &b.name, &[&e2], "report test")
        .await
        .expect("assign");
    set_status(&server, &e2, S::EnRoute).await;
    release(&server, &b.name, &e2).await;
    // C: nobody sent: the incident's intervals are missing.
    let (c, _) = incident_received(&server, Duration::seconds(10)).await;
    // D: on scene without an en route status: turnout and travel missing, never guessed.
    let (d, received_d) = incident_received(&server, Duration::seconds(5)).await;
    assign_units(&server, &d.name, &[&e1], "report test")
        .await
        .expect("assign");
    set_status(&server, &e1, S::OnScene).await;
    set_status(&server, &e1, S::Available).await;
    let end = Utc::now() + Duration::seconds(1);

    let [a_units, b_units, d_units] = [&a, &b, &d].map(|i| i.name.clone());
    let a_units = assignments(&server, &a_units).await;
    let b_units = assignments(&server, &b_units).await;
    let d_units = assignments(&server, &d_units).await;
    let of = |list: &[pb::Assignment], unit: &str| {
        list.iter()
            .find(|x| x.unit == unit)
            .expect("assignment")
            .clone()
    };
    let (a_e1, a_m1, b_e2, d_e1) = (
        of(&a_units, &e1),
        of(&a_units, &m1),
        of(&b_units, &e2),
        of(&d_units, &e1),
    );
    assert!(
        time(&a_e1.on_scene_time) < time(&a_m1.on_scene_time),
        "the engine arrived first"
    );

    let report = server
        .reports()
        .get_interval_report(pb::GetIntervalReportRequest {
            period: period(start, end, "UTC"),
            group_by: vec![pb::ReportDimension::UnitType.into()],
            targets: Vec::new(),
        })
        .await
        .expect("interval report")
        .into_inner();
    assert_eq!((report.incidents, report.assignments), (4, 4));
    let total = report.total.as_ref().expect("total");
    let first_dispatch = |list: &[pb::Assignment]| {
        list.iter()
            .filter_map(|x| time(&x.dispatch_time))
            .min()
            .unwrap()
    };
    assert_interval(
        total,
        K::CallProcessing,
        &[
            first_dispatch(&a_units) - received_a,
            first_dispatch(&b_units) - received_b,
            first_dispatch(&d_units) - received_d,
        ],
        (1, 0),
    );
    assert_interval(
        total,
        K::Turnout,
        &[
            between(&a_e1.dispatch_time, &a_e1.en_route_time),
            between(&a_m1.dispatch_time, &a_m1.en_route_time),
            between(&b_e2.dispatch_time, &b_e2.en_route_time),
        ],
        (1, 0),
    );
    let travel_a_e1 = between(&a_e1.en_route_time, &a_e1.on_scene_time);
    assert_interval(
        total,
        K::Travel,
        &[
            travel_a_e1,
            between(&a_m1.en_route_time, &a_m1.on_scene_time),
        ],
        (1, 1),
    );
    // Of the first unit on scene: A's engine; B's was cancelled, C had none, D's has no en route.
    assert_interval(total, K::FirstArrivalTravel, &[travel_a_e1], (2, 1));
    assert_interval(
        total,
        K::TotalResponse,
        &[
            time(&a_e1.on_scene_time).unwrap() - received_a,
            time(&d_e1.on_scene_time).unwrap() - received_d,
        ],
        (1, 1),
    );
    assert_interval(
        total,
        K::OnScene,
        &[
            between(&a_e1.on_scene_time, &a_e1.clear_time),
            between(&a_m1.on_scene_time, &a_m1.transporting_time),
            between(&d_e1.on_scene_time, &d_e1.clear_time),
        ],
        (0, 1),
    );
    assert_interval(
        total,
        K::Transport,
        &[between(&a_m1.transporting_time, &a_m1.at_hospital_time)],
        (0, 0),
    );
    assert_interval(
        total,
        K::AtHospital,
        &[between(&a_m1.at_hospital_time, &a_m1.clear_time)],
        (0, 0),
    );
    // NFPA 1225's 60 s call processing: A (200 s) fails it, B (20 s) and D (5 s) meet it.
    let processing = stats(total, K::CallProcessing);
    let target = &processing.compliance[0];
    assert_eq!((target.count, target.within, target.met), (3, 2, false));
    assert_eq!(
        secs(&target.target.as_ref().unwrap().threshold),
        Some(Duration::seconds(60))
    );

    // By unit type: incident intervals take the first unit of each type.
    let keys: Vec<String> = report
        .groups
        .iter()
        .map(|g| g.keys[0].value.clone())
        .collect();
    assert_eq!(keys, ["", "als_ambulance", "engine"]);
    let [none, als, engines] = [0, 1, 2].map(|i| &report.groups[i]);
    assert_interval(none, K::CallProcessing, &[], (1, 0));
    assert_interval(
        als,
        K::CallProcessing,
        &[time(&a_m1.dispatch_time).unwrap() - received_a],
        (0, 0),
    );
    assert_interval(
        als,
        K::FirstArrivalTravel,
        &[between(&a_m1.en_route_time, &a_m1.on_scene_time)],
        (0, 0),
    );
    assert_interval(
        engines,
        K::CallProcessing,
        &[
            time(&a_e1.dispatch_time).unwrap() - received_a,
            time(&b_e2.dispatch_time).unwrap() - received_b,
            time(&d_e1.dispatch_time).unwrap() - received_d,
        ],
        (0, 0),
    );
    assert_interval(engines, K::Transport, &[], (0, 0));
    // Each group is judged by its own units' targets: fire turnout (80 s) for the engines.
    let turnout = stats(engines, K::Turnout);
    assert_eq!(turnout.compliance.len(), 1);
    assert_eq!(
        secs(&turnout.compliance[0].target.as_ref().unwrap().threshold),
        Some(Duration::seconds(80))
    );
    assert_eq!(turnout.compliance[0].count, 2);
    assert_eq!(c.status, pb::IncidentStatus::New as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_applies_the_targets_it_is_given_and_an_empty_period_reports_nothing() {
    let server = TestServer::start().await;
    let Fleet { e1, .. } = fleet(&server).await;
    let start = Utc::now() - Duration::hours(1);
    let (a, _) = incident_received(&server, Duration::seconds(100)).await;
    assign_units(&server, &a.name, &[&e1], "report test")
        .await
        .expect("assign");
    let end = Utc::now() + Duration::seconds(1);
    let five_minutes = pb::IntervalTarget {
        interval: pb::IntervalKind::CallProcessing.into(),
        unit_type: 0,
        threshold: Some(prost_types::Duration {
            seconds: 300,
            nanos: 0,
        }),
        percentile: 0.0,
        source: "centre policy".into(),
    };
    let report = server
        .reports()
        .get_interval_report(pb::GetIntervalReportRequest {
            period: period(start, end, ""),
            group_by: Vec::new(),
            targets: vec![five_minutes],
        })
        .await
        .expect("report")
        .into_inner();
    assert!(report.groups.is_empty(), "no dimension: the total only");
    assert_eq!(
        report.targets.len(),
        1,
        "the request's targets replace the defaults"
    );
    assert_eq!(report.targets[0].percentile, 0.9);
    let processing = stats(
        report.total.as_ref().unwrap(),
        pb::IntervalKind::CallProcessing,
    );
    assert_eq!(processing.compliance.len(), 1);
    let compliance = &processing.compliance[0];
    assert_eq!(
        (compliance.count, compliance.within, compliance.met),
        (1, 1, true)
    );
    assert_eq!(compliance.target.as_ref().unwrap().source, "centre policy");
    // Turnout has no target now: nothing is judged.
    assert!(
        stats(report.total.as_ref().unwrap(), pb::IntervalKind::Turnout)
            .compliance
            .is_empty()
    );

    // A period before anything happened: zeros, every interval listed, no percentile.
    let empty = server
        .reports()
        .get_interval_report(pb::GetIntervalReportRequest {
            period: period(start - Duration::days(30), start - Duration::days(29), ""),
            group_by: vec![
                pb::ReportDimension::Area.into(),
                pb::ReportDimension::HourOfDay.into(),
            ],
            targets: Vec::new(),
        })
        .await
        .expect("empty report")
        .into_inner();
    assert_eq!((empty.incidents, empty.assignments), (0, 0));
    assert!(empty.groups.is_empty());
    let total = empty.total.as_ref().unwrap();
    assert_eq!(total.intervals.len(), 8);
    assert!(
        total
            .intervals
            .iter()
            .all(|s| s.count == 0 && s.p50.is_none() && s.compliance.is_empty())
    );
    let utilization = server
        .reports()
        .get_utilization_report(pb::GetUtilizationReportRequest {
            period: period(start - Duration::days(30), start - Duration::days(29), ""),
            ..Default::default()
        })
        .await
        .expect("empty utilization")
        .into_inner();
    assert!(utilization.units.is_empty() && utilization.first_due.is_empty());
    let duplicates = server
        .reports()
        .get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period(start - Duration::days(30), start - Duration::days(29), ""),
        })
        .await
        .expect("empty duplicates")
        .into_inner();
    assert_eq!(duplicates.total.unwrap().calls, 0);
    assert_eq!(duplicates.hours.len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_report_requests_name_every_field_and_only_supervisors_and_admins_read_reports() {
    let server = TestServer::start().await;
    let now = Utc::now();
    let mut reports = server.reports();
    let request = |period, group_by: Vec<i32>, targets| pb::GetIntervalReportRequest {
        period,
        group_by,
        targets,
    };
    assert_invalid(
        reports
            .get_interval_report(request(None, Vec::new(), Vec::new()))
            .await,
        "no period",
        &["period"],
    );
    assert_invalid(
        reports
            .get_interval_report(request(
                period(now, now - Duration::days(1), "Mars/Olympus"),
                Vec::new(),
                Vec::new(),
            ))
            .await,
        "a reversed period in an unknown zone",
        &["period.end_time", "period.time_zone"],
    );
    assert_invalid(
        reports
            .get_interval_report(request(
                period(now - Duration::days(401), now, ""),
                Vec::new(),
                Vec::new(),
            ))
            .await,
        "over 400 days",
        &["period.end_time"],
    );
    let dims = |d: &[pb::ReportDimension]| d.iter().map(|d| *d as i32).collect::<Vec<_>>();
    use pb::ReportDimension as D;
    assert_invalid(
        reports
            .get_interval_report(request(
                period(now - Duration::days(1), now, ""),
                dims(&[D::Area, D::Area, D::UnitType]),
                Vec::new(),
            ))
            .await,
        "three dimensions, one twice",
        &["group_by", "group_by[1]"],
    );
    assert_invalid(
        reports
            .get_interval_report(request(
                period(now - Duration::days(1), now, ""),
                vec![0, 99],
                Vec::new(),
            ))
            .await,
        "unspecified and unknown dimensions",
        &["group_by[0]", "group_by[1]"],
    );
    let bad_target = pb::IntervalTarget {
        interval: 0,
        unit_type: 77,
        threshold: Some(prost_types::Duration {
            seconds: 0,
            nanos: 0,
        }),
        percentile: 1.5,
        source: "x".repeat(201),
    };
    assert_invalid(
        reports
            .get_interval_report(request(
                period(now - Duration::days(1), now, ""),
                Vec::new(),
                vec![bad_target],
            ))
            .await,
        "a target wrong in every field",
        &[
            "targets[0].unit_type",
            "targets[0].interval",
            "targets[0].threshold",
            "targets[0].percentile",
            "targets[0].source",
        ],
    );
    assert_invalid(
        reports
            .get_utilization_report(pb::GetUtilizationReportRequest::default())
            .await,
        "utilization without a period",
        &["period"],
    );
    assert_invalid(
        reports
            .get_duplicate_report(pb::GetDuplicateReportRequest {
                period: period(now, now, ""),
            })
            .await,
        "an empty period",
        &["period.end_time"],
    );

    // Dispatchers and call takers are refused; admins may read; every read is audited.
    let day = period(now - Duration::days(1), now, "America/Mexico_City");
    for role in [
        pb::Role::Dispatcher,
        pb::Role::CallTaker,
        pb::Role::VideoOperator,
    ] {
        let (_, token) = server.person(role, &format!("{role:?}")).await;
        let refused = server
            .reports_as(&token)
            .get_duplicate_report(pb::GetDuplicateReportRequest {
                period: day.clone(),
            })
            .await
            .expect_err("not a supervisor");
        assert_eq!(refused.code(), Code::PermissionDenied, "{role:?}");
    }
    let (admin, admin_token) = server.person(pb::Role::Admin, "Reports admin").await;
    server
        .reports_as(&admin_token)
        .get_utilization_report(pb::GetUtilizationReportRequest {
            period: day.clone(),
            ..Default::default()
        })
        .await
        .expect("an admin reads reports");
    let records = fixtures::audit_records(
        &server,
        &admin_token,
        pb::ListAuditRecordsRequest {
            principal: admin.clone(),
            actions: vec![pb::AuditAction::ReportRead.into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].method.ends_with("/GetUtilizationReport"));
    assert!(
        records[0].detail.ends_with(" America/Mexico_City"),
        "{}",
        records[0].detail
    );
    let _ = request_id();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utilization_is_committed_over_on_duty_time_from_the_status_history() {
    use pb::UnitStatus as S;
    let server = TestServer::start().await;
    let Fleet { e1, e2, .. } = fleet(&server).await;
    let start = Utc::now();
    // E-1 goes out of service and back, then works an incident; E-2 stays available.
    let out = set_status(&server, &e1, S::OutOfService).await;
    let back = set_status(&server, &e1, S::Available).await;
    let (a, _) = incident_received(&server, Duration::zero()).await;
    assign_units(&server, &a.name, &[&e1], "report test")
        .await
        .expect("assign");
    set_status(&server, &e1, S::EnRoute).await;
    set_status(&server, &e1, S::OnScene).await;
    set_status(&server, &e1, S::Available).await;
    let end = Utc::now();
    let worked = assignments(&server, &a.name).await.remove(0);
    let report = server
        .reports()
        .get_utilization_report(pb::GetUtilizationReportRequest {
            period: period(start, end, ""),
            ..Default::default()
        })
        .await
        .expect("utilization")
        .into_inner();
    let line = |label: &str| {
        report
            .units
            .iter()
            .find(|u| u.label == label)
            .unwrap_or_else(|| panic!("{label} in {:?}", report.units))
            .clone()
    };
    let e1_line = line("E-1");
    assert_eq!(e1_line.unit, e1);
    // Available from the start until out of service, and again from its return.
    let on_duty =
        (time(&out.status_time).unwrap() - start) + (end - time(&back.status_time).unwrap());
    assert_eq!(secs(&e1_line.on_duty), Some(on_duty));
    assert_eq!(
        secs(&e1_line.committed),
        Some(between(&worked.dispatch_time, &worked.clear_time))
    );
    assert_eq!(e1_line.assignments, 1);
    let ratio = e1_line.unit_hour_utilization;
    let expected = between(&worked.dispatch_time, &worked.clear_time)
        .num_microseconds()
        .unwrap() as f64
        / on_duty.num_microseconds().unwrap() as f64;
    assert!((ratio - expected).abs() < 1e-3, "{ratio} vs {expected}");
    // E-2 was available the whole period, never committed.
    let e2_line = line("E-2");
    assert_eq!(e2_line.unit, e2);
    assert_eq!(secs(&e2_line.on_duty), Some(end - start));
    assert_eq!(secs(&e2_line.committed), Some(Duration::zero()));
    // Per type and station: the sums.
    let engines = report
        .unit_types
        .iter()
        .find(|u| u.label == "engine")
        .expect("engines");
    assert_eq!(secs(&engines.committed), secs(&e1_line.committed));
    assert_eq!(
        secs(&engines.on_duty),
        Some(secs(&e1_line.on_duty).unwrap() + secs(&e2_line.on_duty).unwrap())
    );
    let base = report
        .stations
        .iter()
        .find(|s| s.label == "EST1")
        .expect("station EST1");
    assert_eq!(base.assignments, 1);
    let total = report.first_due_total.as_ref().expect("first due");
    assert_eq!(total.incidents, 1);

    // One unit a page: the pages hold every line once, in order, each with the whole totals.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .reports()
            .get_utilization_report(pb::GetUtilizationReportRequest {
                period: period(start, end, ""),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .expect("a page of utilization")
            .into_inner();
        assert!(page.units.len() <= 1);
        assert_eq!(page.unit_types, report.unit_types);
        assert_eq!(page.first_due_total, report.first_due_total);
        paged.extend(page.units);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(paged, report.units);
    assert!(report.units.len() >= 2 && report.next_page_token.is_empty());
    for (page_size, page_token, field) in [
        (5001, String::new(), "page_size"),
        (0, "u.x.E-1".to_owned(), "page_token"),
    ] {
        assert_invalid(
            server
                .reports()
                .get_utilization_report(pb::GetUtilizationReportRequest {
                    period: period(start, end, ""),
                    page_size,
                    page_token,
                })
                .await,
            "a bad page",
            &[field],
        );
    }
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct SpanCheck {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    spans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    statuses: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mismatched: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_spans_pair_each_status_with_the_next_however_late_it_is_recorded() {
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    let server = TestServer::start().await;
    fleet(&server).await;
    let mut db = server.db().await;
    db.batch_execute("SET ROLE dispatch_app")
        .await
        .expect("the server's role");
    // Statuses recorded out of order, as a replay back-enters them: after, long before, between
    // and at the same time as what is there, several units in one statement, then one by one.
    let batches = [
        "('dispatched', 10), ('available', -600), ('on_scene', 5), ('en_route', 5)",
        "('out_of_service', -30)",
        "('available', 20)",
        "('transporting', -1000)",
        "('at_hospital', 5)",
    ];
    for batch in batches {
        db.batch_execute(&format!(
            "INSERT INTO unit_status_history (unit_id, status, status_at) \
             SELECT u.id, v.status, now() + v.minutes * interval '1 minute' \
             FROM units u, (VALUES {batch}) AS v (status, minutes)"
        ))
        .await
        .expect("the server's role records statuses");
    }
    let check: SpanCheck = diesel::sql_query(
        "SELECT (SELECT count(*) FROM unit_status_spans) AS spans, \
                (SELECT count(*) FROM unit_status_history) AS statuses, \
                (SELECT count(*) FROM unit_status_spans s JOIN ( \
                     SELECT id, status, status_at, lead(status_at) OVER ( \
                         PARTITION BY unit_id ORDER BY status_at, id) AS next \
                     FROM unit_status_history) h ON h.id = s.history_id \
                 WHERE s.until IS DISTINCT FROM h.next OR s.since <> h.status_at \
                    OR s.status <> h.status \
                    OR s.since_us <> (extract(epoch FROM h.status_at) * 1000000)::bigint \
                    OR s.until_us IS DISTINCT FROM (extract(epoch FROM h.next) * 1000000)::bigint \
                ) AS mismatched",
    )
    .get_result(&mut db)
    .await
    .expect("spans");
    // Three units, each with the status it was created in and eight more.
    assert_eq!(check.statuses, 3 * 9, "{check:?}");
    assert_eq!(
        check,
        SpanCheck {
            spans: check.statuses,
            statuses: check.statuses,
            mismatched: 0
        }
    );
    // Only the trigger writes spans.
    dispatch_tests::assert_database_refuses(
        &mut db,
        &[
            "UPDATE unit_status_spans SET until = NULL",
            "INSERT INTO unit_status_spans (history_id, unit_id, status, since, since_us) \
             SELECT 0, id, 'available', now(), 0 FROM units LIMIT 1",
        ],
        "permission denied",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_share_counts_calls_linked_to_an_incident_another_call_opened() {
    let server = TestServer::start().await;
    let start = Utc::now() - Duration::minutes(10);
    let (incident, received) = incident_received(&server, Duration::seconds(60)).await;
    // A second 911 call about it, linked: a duplicate.
    let repeat = create_call(&server, call_at(ZOCALO, 10.0))
        .await
        .call
        .expect("call");
    server
        .calls()
        .link_call_to_incident(pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: repeat.name.clone(),
            incident: incident.name.clone(),
            ..Default::default()
        })
        .await
        .expect("link");
    // A prank from the app, disposed; a camera report still open.
    let prank = pb::CreateCallRequest {
        channel: pb::CallChannel::App911.into(),
        ..call_at(ZOCALO, 10.0)
    };
    let prank = create_call(&server, prank).await.call.expect("call");
    server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: prank.name.clone(),
            disposition: pb::CallDisposition::Prank.into(),
            ..Default::default()
        })
        .await
        .expect("dispose");
    let camera = pb::CreateCallRequest {
        channel: pb::CallChannel::Camera.into(),
        ..call_at(ZOCALO, 10.0)
    };
    create_call(&server, camera).await;
    let end = Utc::now() + Duration::seconds(1);
    let report = server
        .reports()
        .get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period(start, end, "UTC"),
        })
        .await
        .expect("duplicates")
        .into_inner();
    let total = report.total.expect("total");
    assert_eq!(
        (total.calls, total.duplicates, total.disposed, total.open),
        (4, 1, 1, 1)
    );
    assert!((total.share - 0.25).abs() < 1e-9);
    let channel = |c: pb::CallChannel| {
        report
            .channels
            .iter()
            .find(|x| x.channel == c as i32)
            .and_then(|x| x.share)
            .unwrap_or_else(|| panic!("{c:?}"))
    };
    let voice = channel(pb::CallChannel::Voice911);
    assert_eq!((voice.calls, voice.duplicates), (2, 1));
    assert!((voice.share - 0.5).abs() < 1e-9);
    assert_eq!(channel(pb::CallChannel::App911).disposed, 1);
    assert_eq!(report.channels.len(), 3, "only channels with calls");
    let hours: i64 = report.hours.iter().map(|h| h.share.unwrap().calls).sum();
    assert_eq!(hours, 4);
    let opened_hour = report.hours[received.hour() as usize].share.unwrap();
    assert!(opened_hour.calls >= 1);
    // Hours are local to the period's zone, a quarter of an hour off UTC's in Kathmandu.
    let local = server
        .reports()
        .get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period(start, end, "Asia/Kathmandu"),
        })
        .await
        .expect("duplicates in Kathmandu")
        .into_inner();
    assert_eq!(local.total, Some(total));
    // UTC+5:45 since 1986.
    let local_hour = (received + Duration::minutes(5 * 60 + 45)).hour() as usize;
    assert!(local.hours[local_hour].share.unwrap().calls >= 1);
    let hours: i64 = local.hours.iter().map(|h| h.share.unwrap().calls).sum();
    assert_eq!(hours, 4);
    // The merged incident's calls are duplicates of the survivor's.
    let (other, _) = incident_received(&server, Duration::seconds(1)).await;
    fixtures::merge_incidents(&server, &incident.name, &other.name, "same crash")
        .await
        .expect("merge");
    let merged = server
        .reports()
        .get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period(start, Utc::now() + Duration::seconds(1), "UTC"),
        })
        .await
        .expect("duplicates")
        .into_inner()
        .total
        .unwrap();
    assert_eq!((merged.calls, merged.duplicates), (5, 2));
    // An incident opened earlier, merged into it: its call, now the earliest linked to the
    // survivor, opens it, and the survivor's first call becomes a duplicate (one more).
    let (early, _) = incident_received(&server, Duration::seconds(300)).await;
    fixtures::merge_incidents(&server, &incident.name, &early.name, "the same crash again")
        .await
        .expect("merge");
    let again = server
        .reports()
        .get_duplicate_report(pb::GetDuplicateReportRequest {
            period: period(start, Utc::now() + Duration::seconds(1), "UTC"),
        })
        .await
        .expect("duplicates")
        .into_inner()
        .total
        .unwrap();
    assert_eq!((again.calls, again.duplicates), (6, 3));
}

/// `dispatchctl` with `args`, in this process: exit code, stdout, stderr.
async fn dispatchctl(server: &TestServer, token: &str, args: &[&str]) -> (u8, String, String) {
    let address = format!("http://{}", server.address);
    let mut argv = vec!["dispatchctl", "--server", &address, "--token", token];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    let text = |bytes| String::from_utf8(bytes).expect("utf-8");
    (code, text(out), text(err))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchctl_prints_each_report_as_a_table_csv_and_json() {
    use pb::UnitStatus as S;
    let server = TestServer::start().await;
    let Fleet { e1, .. } = fleet(&server).await;
    let from = (Utc::now() - Duration::hours(1)).to_rfc3339();
    let (a, _) = incident_received(&server, Duration::seconds(90)).await;
    assign_units(&server, &a.name, &[&e1], "report test")
        .await
        .expect("assign");
    for status in [S::EnRoute, S::OnScene, S::Available] {
        set_status(&server, &e1, status).await;
    }
    let to = (Utc::now() + Duration::seconds(1)).to_rfc3339();
    let token = server.token.clone();
    let period = [
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--zone",
        "UTC",
    ];
    let with = |first: &[&'static str], more: &[&'static str]| -> Vec<String> {
        first
            .iter()
            .chain(&period)
            .chain(more)
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |args: Vec<String>| {
        let (server, token) = (&server, token.clone());
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            dispatchctl(server, &token, &args).await
        }
    };
    let (code, table, err) = run(with(&["report", "intervals"], &["--by", "unit-type"])).await;
    assert_eq!(code, 0, "{err}");
    for text in [
        "GROUP",
        "P90_S",
        "unit-type=engine",
        "call-processing",
        "NFPA 1225",
    ] {
        assert!(table.contains(text), "{text:?} in\n{table}");
    }
    let (code, csv, err) = run(with(&["report", "intervals"], &["--csv"])).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("GROUP,INTERVAL,N,P50_S,P90_S"),
        "{csv}"
    );
    assert_eq!(
        lines.len(),
        1 + 8,
        "a header and the total's eight intervals:\n{csv}"
    );
    let turnout = lines
        .iter()
        .find(|l| l.contains(",turnout,"))
        .expect("turnout");
    assert!(turnout.starts_with("(all),turnout,1,"), "{turnout}");
    let (code, json, err) = run(with(&["--json", "report", "intervals"], &[])).await;
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(json.trim()).expect("JSON");
    assert_eq!(
        json["incidents"], "1",
        "int64 is a string in protobuf JSON: {json}"
    );
    assert_eq!(json["total"]["intervals"].as_array().map(Vec::len), Some(8));
    let (code, csv, err) = run(with(&["report", "utilization"], &["--csv"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        csv.starts_with("KIND,LABEL,ON_DUTY_H,COMMITTED_H,UTILIZATION,ASSIGNMENTS"),
        "{csv}"
    );
    assert!(csv.contains("\nunit,E-1,"), "{csv}");
    let (code, table, err) = run(with(&["report", "duplicates"], &[])).await;
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("voice-911"), "{table}");
    // A dispatcher is refused, with the server's reason.
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "No reports").await;
    let args = with(&["report", "duplicates"], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = dispatchctl(&server, &dispatcher, &args).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("PERMISSION_DENIED") || err.contains("PermissionDenied"),
        "{err}"
    );
    // A period that is not one: refused before any request.
    let (code, _, err) = dispatchctl(
        &server,
        &token,
        &[
            "report",
            "duplicates",
            "--from",
            "yesterday",
            "--to",
            "2026-01-01",
        ],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("--from"), "{err}");
}
