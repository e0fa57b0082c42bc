//! Units, positions and the geo engine over gRPC on real PostgreSQL: recommendations against a
//! brute-force ranking, plans by capability, stale fixes, shortfalls, atomic assignment, the
//! two-dispatcher race (also across two servers), restarts, the unit lifecycle.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{self, ZOCALO, assign_units as assign, incident_at, mask};
use dispatch_tests::{TestServer, assert_invalid, request_id, violated_fields};
use prost_types::Timestamp;
use tonic::Code;
use tonic_types::StatusExt as _;

/// A small deterministic generator, so a failing fleet can be replayed.
struct Rng(dispatch_cli::demo::city::Rng);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(dispatch_cli::demo::city::Rng::new(seed))
    }

    fn next(&mut self) -> f64 {
        self.0.next_u64() as f64 / u64::MAX as f64
    }

    /// A point within about `km` kilometres of the Zócalo.
    fn near(&mut self, km: f64) -> (f64, f64) {
        (
            ZOCALO.0 + (self.next() - 0.5) * km / 55.6,
            ZOCALO.1 + (self.next() - 0.5) * km / 52.5,
        )
    }
}

fn haversine_m((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

fn ts(time: chrono::DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).expect("nanos"),
    })
}

struct Fleet {
    agency: String,
}

impl Fleet {
    async fn new(server: &TestServer) -> Self {
        let agency = fixtures::agency(server, "ERUM", pb::AgencyKind::Ems).await;
        Self { agency }
    }

    /// An available unit at `at` with a fix `age` old.
    async fn unit(
        &self,
        server: &TestServer,
        call_sign: &str,
        unit_type: pb::UnitType,
        at: (f64, f64),
        age: Duration,
    ) -> pb::Unit {
        let unit = fixtures::unit(server, &self.agency, call_sign, unit_type).await;
        report(server, &unit.name, at, Utc::now() - age).await;
        unit
    }

    /// An available unit at the Zócalo with a fix five seconds old.
    async fn at_zocalo(
        &self,
        server: &TestServer,
        call_sign: &str,
        unit_type: pb::UnitType,
    ) -> pb::Unit {
        self.unit(server, call_sign, unit_type, ZOCALO, Duration::seconds(5))
            .await
    }
}

async fn report(
    server: &TestServer,
    unit: &str,
    (latitude, longitude): (f64, f64),
    fix_time: chrono::DateTime<Utc>,
) -> pb::ReportPositionBatchResponse {
    server
        .gateway()
        .await
        .report_position_batch(pb::ReportPositionBatchRequest {
            request_id: request_id(),
            reports: vec![pb::PositionReport {
                unit: unit.into(),
                point: Some(pb::GeoPoint {
                    latitude,
                    longitude,
                }),
                accuracy_m: 10.0,
                heading_deg: Some(90.0),
                speed_mps: Some(0.0),
                fix_time: ts(fix_time),
            }],
        })
        .await
        .expect("report")
        .into_inner()
}

async fn set_status(
    server: &TestServer,
    unit: &str,
    status: pb::UnitStatus,
) -> Result<pb::SetUnitStatusResponse, tonic::Status> {
    server
        .units()
        .set_unit_status(fixtures::set_status_request(unit, status))
        .await
        .map(tonic::Response::into_inner)
}

async fn recommend(
    server: &TestServer,
    incident: &str,
    requirements: &[(&str, i32)],
    max: i32,
) -> pb::Recommendation {
    let request = fixtures::recommendation_request(incident, fixtures::plan(requirements), max);
    fixtures::recommend(server, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recommendations_match_a_brute_force_ranking_on_random_fleets() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let mut rng = Rng::new(0x5EED);
    let busy_incident = incident_at(&server, ZOCALO).await;
    // 80 ALS ambulances (one type, one speed: ETA order is distance order), 90 % busy.
    let mut available = Vec::new();
    let mut busy = Vec::new();
    for i in 0..80 {
        let at = rng.near(20.0);
        let unit = fleet
            .unit(
                &server,
                &format!("ALS{i:03}"),
                pb::UnitType::AlsAmbulance,
                at,
                Duration::seconds(30),
            )
            .await;
        if i % 10 == 0 {
            available.push((unit.name, at));
        } else {
            busy.push(unit.name);
        }
    }
    // Half the busy ones are on an incident, half out of service.
    let (on_job, off) = busy.split_at(busy.len() / 2);
    let on_job: Vec<&str> = on_job.iter().map(String::as_str).collect();
    assign(&server, &busy_incident.name, &on_job, "preparing the fleet")
        .await
        .expect("assign busy");
    for unit in off {
        set_status(&server, unit, pb::UnitStatus::OutOfService)
            .await
            .expect("out of service");
    }
    for round in 0..12 {
        let at = rng.near(25.0);
        let incident = incident_at(&server, at).await;
        let recommendation = recommend(&server, &incident.name, &[("als", 3)], 8).await;
        let fill = &recommendation.fills[0];
        let got: Vec<&str> = fill.candidates.iter().map(|c| c.unit.as_str()).collect();
        let mut expected: Vec<(f64, &str)> = available
            .iter()
            .map(|(name, p)| (haversine_m(at, *p), name.as_str()))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0));
        let expected: Vec<&str> = expected
            .iter()
            .take(got.len().max(3))
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            got, expected,
            "round {round}: ranking differs from brute force"
        );
        assert_eq!(fill.candidates.iter().filter(|c| c.picked).count(), 3);
        for (i, candidate) in fill.candidates.iter().enumerate() {
            assert_eq!(candidate.rank, i32::try_from(i + 1).expect("rank"));
            let truth = haversine_m(
                at,
                available
                    .iter()
                    .find(|(n, _)| *n == candidate.unit)
                    .expect("available")
                    .1,
            );
            assert!(
                (candidate.straight_line_m - truth).abs() < 1.0,
                "{} vs {truth}",
                candidate.straight_line_m
            );
            assert!(candidate.eta.as_ref().expect("eta").seconds > 0);
            assert!(!candidate.reason.is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triaged_plan_is_filled_by_capability_never_using_a_unit_twice() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let mut rng = Rng::new(7);
    for (prefix, unit_type, n) in [
        ("E", pb::UnitType::Engine, 5),
        ("L", pb::UnitType::Ladder, 2),
        ("A", pb::UnitType::AlsAmbulance, 3),
        ("C", pb::UnitType::Chief, 1),
        ("P", pb::UnitType::Patrol, 4),
    ] {
        for i in 0..n {
            fleet
                .unit(
                    &server,
                    &format!("{prefix}{i}"),
                    unit_type,
                    rng.near(8.0),
                    Duration::seconds(10),
                )
                .await;
        }
    }
    let fire = incident_at(&server, ZOCALO).await;
    // Yes to every yes/no question (people trapped: the most serious determinant), the first
    // offered choice otherwise.
    let answers = fixtures::protocol_questions(&server, "FIRE-STRUCTURE")
        .await
        .iter()
        .filter_map(|q| {
            let value = match pb::QuestionKind::try_from(q.kind).expect("kind") {
                pb::QuestionKind::YesNo => pb::triage_answer::Value::YesNo(true),
                pb::QuestionKind::Choice => pb::triage_answer::Value::Choice(q.choices[0].clone()),
                pb::QuestionKind::Number => pb::triage_answer::Value::Number(q.min.unwrap_or(1.0)),
                pb::QuestionKind::Unspecified => return None,
            };
            Some(pb::TriageAnswer {
                question_id: q.id.clone(),
                value: Some(value),
            })
        })
        .collect();
    let triaged = fixtures::triage(&server, &fire.name, "FIRE-STRUCTURE", answers, "")
        .await
        .expect("triage")
        .incident
        .expect("incident");
    let wanted: Vec<(String, i32)> = triaged
        .response_plan
        .expect("plan")
        .requirements
        .iter()
        .map(|r| (r.capability.clone(), r.count))
        .collect();
    assert_eq!(
        wanted,
        [
            ("engine".to_owned(), 3),
            ("ladder".to_owned(), 1),
            ("als".to_owned(), 1),
            ("chief".to_owned(), 1)
        ]
    );
    let own_plan = fixtures::recommendation_request(&fire.name, None, 0);
    let recommendation = fixtures::recommend(&server, own_plan).await;
    assert!(!recommendation.plan_overridden);
    assert_eq!(recommendation.total_shortfall, 0);
    let mut picked = HashSet::new();
    for fill in &recommendation.fills {
        let requirement = fill.requirement.as_ref().expect("requirement");
        let picks: Vec<&pb::Candidate> = fill.candidates.iter().filter(|c| c.picked).collect();
        assert_eq!(
            picks.len(),
            usize::try_from(requirement.count).expect("count")
        );
        for pick in picks {
            assert!(
                picked.insert(pick.unit.clone()),
                "{} picked twice",
                pick.call_sign
            );
            let unit = fixtures::get_unit(&server, &pick.unit).await;
            assert!(
                unit.capabilities.contains(&requirement.capability),
                "{} lacks {}",
                unit.call_sign,
                requirement.capability
            );
        }
    }
    // Following the recommendation needs no reason; the decision record points back to it.
    let names: Vec<&str> = picked.iter().map(String::as_str).collect();
    let assigned = server
        .units()
        .assign_units(fixtures::assign_request(
            &fire.name,
            &names,
            &recommendation.name,
            "",
        ))
        .await
        .expect("assign as recommended")
        .into_inner();
    let incident = assigned.incident.expect("incident");
    assert_eq!(incident.status, i32::from(pb::IncidentStatus::Dispatched));
    assert_eq!(incident.assignments.len(), 6);
    assert!(
        incident
            .assignments
            .iter()
            .all(|a| a.recommendation == recommendation.name && a.override_reason.is_empty())
    );
    assert_eq!(
        incident
            .timeline
            .iter()
            .filter(|e| e.kind == i32::from(pb::TimelineEntryKind::UnitDispatched))
            .count(),
        6
    );
    // A second recommendation counts the units already there and asks for nothing more.
    let again = recommend(&server, &fire.name, &[("engine", 3)], 0).await;
    assert_eq!(again.fills[0].already_assigned.len(), 3);
    assert!(again.fills[0].candidates.is_empty());
    // The stored decision record reads back the same.
    let stored = fixtures::get_recommendation(&server, &recommendation.name).await;
    assert_eq!(stored, recommendation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_fixes_are_penalised_and_shortfalls_reported() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    // A ladder 500 m away whose fix is two hours old, another 1.5 km away with a fresh fix.
    let stale = fleet
        .unit(
            &server,
            "L-STALE",
            pb::UnitType::Ladder,
            (ZOCALO.0 + 0.0045, ZOCALO.1),
            Duration::hours(2),
        )
        .await;
    let fresh = fleet
        .unit(
            &server,
            "L-FRESH",
            pb::UnitType::Ladder,
            (ZOCALO.0 + 0.0135, ZOCALO.1),
            Duration::seconds(5),
        )
        .await;
    let incident = incident_at(&server, ZOCALO).await;
    let recommendation =
        recommend(&server, &incident.name, &[("ladder", 3), ("hazmat", 1)], 0).await;
    let ladders = &recommendation.fills[0];
    let order: Vec<&str> = ladders.candidates.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(
        order,
        [fresh.name.as_str(), stale.name.as_str()],
        "the stale unit is still a candidate, after the fresh one"
    );
    assert!(ladders.candidates[1].stale_position);
    assert!(!ladders.candidates[0].stale_position);
    assert!(
        ladders.candidates[1]
            .position_age
            .as_ref()
            .expect("age")
            .seconds
            >= 7_000
    );
    assert!(
        ladders.candidates[1].reason.contains("old"),
        "{}",
        ladders.candidates[1].reason
    );
    assert_eq!(ladders.shortfall, 1);
    let hazmat = &recommendation.fills[1];
    assert!(hazmat.candidates.is_empty());
    assert_eq!(hazmat.shortfall, 1);
    assert_eq!(recommendation.total_shortfall, 2);
    // A unit without any position is never a candidate.
    server
        .directory()
        .create_unit(pb::CreateUnitRequest {
            request_id: request_id(),
            unit: Some(pb::Unit {
                call_sign: "L-NOWHERE".into(),
                agency: fleet.agency.clone(),
                unit_type: pb::UnitType::Ladder.into(),
                status: pb::UnitStatus::Available.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("unit");
    assert_eq!(
        recommend(&server, &incident.name, &[("ladder", 3)], 0)
            .await
            .fills[0]
            .candidates
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_is_all_or_nothing_and_needs_a_reason_off_recommendation() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let a = fleet.at_zocalo(&server, "P1", pb::UnitType::Patrol).await;
    let b = fleet.at_zocalo(&server, "P2", pb::UnitType::Patrol).await;
    let first = incident_at(&server, ZOCALO).await;
    let second = incident_at(&server, (19.40, -99.10)).await;
    assert_invalid(
        assign(&server, &first.name, &[&a.name], "").await,
        "no reason, no recommendation",
        &["override_reason"],
    );
    assign(&server, &first.name, &[&b.name], "closest patrol by radio")
        .await
        .expect("assign b");
    // a is free, b is not: nothing is assigned, and b is named.
    let status = assign(&server, &second.name, &[&a.name, &b.name], "both")
        .await
        .expect_err("b is busy");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let failure = status.get_details_precondition_failure().expect("details");
    assert_eq!(failure.violations.len(), 1);
    assert_eq!(failure.violations[0].subject, b.name);
    assert!(
        failure.violations[0].description.contains(&first.name),
        "{failure:?}"
    );
    let a_now = fixtures::get_unit(&server, &a.name).await;
    assert_eq!(a_now.status, i32::from(pb::UnitStatus::Available));
    let second_now = fixtures::get_incident(&server, &second.name).await;
    assert!(second_now.assignments.is_empty());
    assert_eq!(second_now.status, i32::from(pb::IncidentStatus::New));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_on_two_servers_never_commit_one_unit_twice() {
    let first = TestServer::start().await;
    let second = TestServer::start_on(
        dispatch_server::Config::defaults(),
        first.database_url.clone(),
    )
    .await;
    let fleet = Fleet::new(&first).await;
    for round in 0..25 {
        let unit = fleet
            .unit(
                &first,
                &format!("R{round:02}"),
                pb::UnitType::Patrol,
                ZOCALO,
                Duration::seconds(1),
            )
            .await;
        let one = incident_at(&first, (19.40 + f64::from(round) * 0.001, -99.1)).await;
        let two = incident_at(&second, (19.30 + f64::from(round) * 0.001, -99.1)).await;
        let contested = [unit.name.as_str()];
        let (a, b) = tokio::join!(
            assign(&first, &one.name, &contested, "race"),
            assign(&second, &two.name, &contested, "race")
        );
        let winners = usize::from(a.is_ok()) + usize::from(b.is_ok());
        assert_eq!(
            winners, 1,
            "round {round}: exactly one dispatcher wins ({a:?} / {b:?})"
        );
        let loser = a.err().or(b.err()).expect("a loser");
        assert_eq!(loser.code(), Code::FailedPrecondition, "{loser:?}");
        assert!(
            loser.message().contains(&unit.name),
            "the refusal names the unit: {}",
            loser.message()
        );
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::RunQueryDsl as _;
    let mut conn = first.db().await;
    let doubled: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT unit_id FROM assignments \
         WHERE cleared_at IS NULL AND released_at IS NULL GROUP BY unit_id HAVING count(*) > 1) d",
    )
    .get_result(&mut conn)
    .await
    .expect("count");
    assert_eq!(doubled.n, 0);
    assert_eq!(first.count("assignments").await, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_goes_through_its_lifecycle_and_the_index_knows_at_once() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let medic = fleet
        .at_zocalo(&server, "M1", pb::UnitType::AlsAmbulance)
        .await;
    let incident = incident_at(&server, ZOCALO).await;
    assign(&server, &incident.name, &[&medic.name], "nearest")
        .await
        .expect("assign");
    assert!(
        recommend(&server, &incident.name, &[("als", 1)], 0)
            .await
            .fills[0]
            .candidates
            .is_empty(),
        "busy: not recommended"
    );
    assert_invalid(
        set_status(&server, &medic.name, pb::UnitStatus::Dispatched).await,
        "not reported",
        &["status"],
    );
    let status = set_status(&server, &medic.name, pb::UnitStatus::AtHospital)
        .await
        .expect_err("skips steps");
    assert_eq!(status.code(), Code::FailedPrecondition);
    set_status(&server, &medic.name, pb::UnitStatus::EnRoute)
        .await
        .expect("en route");
    let on_scene = set_status(&server, &medic.name, pb::UnitStatus::OnScene)
        .await
        .expect("on scene");
    assert_eq!(
        on_scene.incident.expect("incident").status,
        i32::from(pb::IncidentStatus::OnScene),
        "first unit on scene"
    );
    set_status(&server, &medic.name, pb::UnitStatus::Transporting)
        .await
        .expect("transporting");
    let at_hospital = set_status(&server, &medic.name, pb::UnitStatus::AtHospital)
        .await
        .expect("at hospital")
        .unit
        .expect("unit");
    assert_eq!(
        at_hospital.primary_status,
        i32::from(pb::PrimaryStatus::ConditionallyAvailable)
    );
    let cleared = set_status(&server, &medic.name, pb::UnitStatus::Available)
        .await
        .expect("cleared");
    let unit = cleared.unit.expect("unit");
    assert_eq!(unit.status, i32::from(pb::UnitStatus::Available));
    assert!(unit.current_incident.is_empty());
    let incident = cleared.incident.expect("incident");
    let assignment = &incident.assignments[0];
    assert_eq!(assignment.status, i32::from(pb::AssignmentStatus::Cleared));
    for time in [
        &assignment.en_route_time,
        &assignment.on_scene_time,
        &assignment.transporting_time,
        &assignment.at_hospital_time,
        &assignment.clear_time,
    ] {
        assert!(time.is_some(), "{assignment:?}");
    }
    let kinds: Vec<i32> = incident.timeline.iter().map(|e| e.kind).collect();
    for kind in [
        pb::TimelineEntryKind::UnitDispatched,
        pb::TimelineEntryKind::UnitEnRoute,
        pb::TimelineEntryKind::UnitOnScene,
        pb::TimelineEntryKind::UnitTransporting,
        pb::TimelineEntryKind::UnitAtHospital,
        pb::TimelineEntryKind::UnitCleared,
    ] {
        assert!(
            kinds.contains(&i32::from(kind)),
            "{kind:?} missing from the timeline"
        );
    }
    assert_eq!(
        recommend(&server, &incident.name, &[("als", 1)], 0)
            .await
            .fills[0]
            .candidates[0]
            .unit,
        medic.name,
        "available again at once"
    );

    // Release, and the incident can close only once no unit is assigned.
    let other = incident_at(&server, (19.44, -99.14)).await;
    assign(&server, &other.name, &[&medic.name], "again")
        .await
        .expect("assign again");
    let status = fixtures::close_incident(&server, &other.name, pb::ClosingCode::Negative, "")
        .await
        .expect_err("a unit is still assigned");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status
            .get_details_precondition_failure()
            .expect("details")
            .violations[0]
            .subject,
        medic.name
    );
    let released = fixtures::release_unit(&server, &other.name, &medic.name, "caller cancelled")
        .await
        .expect("release");
    assert_eq!(
        released.unit.expect("unit").status,
        i32::from(pb::UnitStatus::Available)
    );
    fixtures::close_incident(&server, &other.name, pb::ClosingCode::Negative, "")
        .await
        .expect("close once released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn position_reports_are_checked_one_by_one_and_the_newest_fix_wins() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let unit = fleet
        .unit(
            &server,
            "P1",
            pb::UnitType::Patrol,
            ZOCALO,
            Duration::minutes(10),
        )
        .await;
    let now = Utc::now();
    let good = |lat: f64, at: chrono::DateTime<Utc>| pb::PositionReport {
        unit: unit.name.clone(),
        point: Some(pb::GeoPoint {
            latitude: lat,
            longitude: -99.13,
        }),
        accuracy_m: 5.0,
        heading_deg: None,
        speed_mps: Some(8.0),
        fix_time: ts(at),
    };
    let response = server
        .gateway()
        .await
        .report_position_batch(pb::ReportPositionBatchRequest {
            request_id: request_id(),
            reports: vec![
                good(19.44, now - Duration::seconds(20)),
                pb::PositionReport {
                    point: Some(pb::GeoPoint {
                        latitude: f64::NAN,
                        longitude: 0.0,
                    }),
                    ..good(0.0, now)
                },
                good(19.45, now - Duration::seconds(10)),
                pb::PositionReport {
                    unit: format!("units/{}", uuid::Uuid::new_v4()),
                    ..good(19.0, now)
                },
                good(19.46, now + Duration::hours(1)),
                pb::PositionReport {
                    heading_deg: Some(400.0),
                    speed_mps: Some(-1.0),
                    ..good(19.0, now)
                },
            ],
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(response.accepted_count, 1);
    assert_eq!(response.superseded_count, 1);
    let rejected: Vec<(i32, i32)> = response
        .rejected
        .iter()
        .map(|r| (r.index, r.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, i32::from(pb::PositionRejectionReason::Invalid)),
            (3, i32::from(pb::PositionRejectionReason::UnitNotFound)),
            (4, i32::from(pb::PositionRejectionReason::Invalid)),
            (5, i32::from(pb::PositionRejectionReason::Invalid)),
        ]
    );
    let fields: Vec<&str> = response.rejected[3]
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["heading_deg", "speed_mps"]);
    assert_eq!(response.rejected[0].violations[0].field, "point.latitude");
    let stored = fixtures::get_unit(&server, &unit.name).await;
    let position = stored.position.expect("position");
    assert_eq!(position.point.expect("point").latitude, 19.45);
    assert!(!position.stale);
    // An older fix arriving late does not move the unit back.
    let late = report(
        &server,
        &unit.name,
        (19.0, -99.0),
        now - Duration::minutes(5),
    )
    .await;
    assert_eq!((late.accepted_count, late.superseded_count), (0, 1));

    // The client stream: many reports, written in batches, the newest stored.
    let reports: Vec<pb::ReportPositionsRequest> = (0..600)
        .map(|i| pb::ReportPositionsRequest {
            request_id: String::new(),
            report: Some(good(
                19.30 + f64::from(i) * 0.0001,
                now - Duration::seconds(5) + Duration::milliseconds(i64::from(i)),
            )),
        })
        .collect();
    let streamed = server
        .gateway()
        .await
        .report_positions(tokio_stream::iter(reports))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(streamed.accepted_count + streamed.superseded_count, 600);
    assert!(streamed.rejected.is_empty());
    let stored = fixtures::get_unit(&server, &unit.name).await;
    let latitude = stored
        .position
        .expect("position")
        .point
        .expect("point")
        .latitude;
    assert!(
        (latitude - (19.30 + 599.0 * 0.0001)).abs() < 1e-9,
        "{latitude}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_index_agrees_with_the_database() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let mut rng = Rng::new(42);
    let mut names = Vec::new();
    for i in 0..30 {
        names.push(
            fleet
                .unit(
                    &server,
                    &format!("A{i:02}"),
                    pb::UnitType::AlsAmbulance,
                    rng.near(10.0),
                    Duration::seconds(3),
                )
                .await
                .name,
        );
    }
    let job = incident_at(&server, ZOCALO).await;
    let taken: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
    assign(&server, &job.name, &taken, "setup")
        .await
        .expect("assign");
    set_status(&server, &names[10], pb::UnitStatus::OutOfService)
        .await
        .expect("oos");
    let probe = incident_at(&server, (19.42, -99.15)).await;
    let before = recommend(&server, &probe.name, &[("als", 5)], 10).await;
    let url = server.database_url.clone();
    server.stop().await;

    let restarted = TestServer::start_on(dispatch_server::Config::defaults(), url).await;
    let after = recommend(&restarted, &probe.name, &[("als", 5)], 10).await;
    let units = |r: &pb::Recommendation| {
        r.fills[0]
            .candidates
            .iter()
            .map(|c| c.unit.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(units(&before), units(&after));
    let busy: HashSet<&String> = names.iter().take(11).collect();
    assert!(
        units(&after).iter().all(|u| !busy.contains(u)),
        "no busy unit is recommended after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_operators_find_the_nearest_cameras() {
    let server = TestServer::start().await;
    let mut rng = Rng::new(99);
    let mut cameras = Vec::new();
    for i in 0..40 {
        let at = rng.near(3.0);
        let kind = if i % 4 == 0 {
            pb::DeviceKind::PanicButton
        } else {
            pb::DeviceKind::Camera
        };
        let camera = pb::Camera {
            code: format!("CAM-{i:03}"),
            kind: kind.into(),
            location: fixtures::point(at),
            ..Default::default()
        };
        let camera = fixtures::create_camera(&server, camera).await;
        cameras.push((camera.name, at, kind));
    }
    let incident = incident_at(&server, ZOCALO).await;
    let hits = server
        .units()
        .nearest_cameras(pb::NearestCamerasRequest {
            target: Some(pb::nearest_cameras_request::Target::Incident(
                incident.name.clone(),
            )),
            radius_m: 800.0,
            limit: 5,
            kinds: vec![pb::DeviceKind::Camera.into()],
        })
        .await
        .expect("nearest")
        .into_inner()
        .hits;
    let mut expected: Vec<(f64, &String)> = cameras
        .iter()
        .filter(|(_, _, kind)| *kind == pb::DeviceKind::Camera)
        .map(|(name, at, _)| (haversine_m(ZOCALO, *at), name))
        .filter(|(d, _)| *d <= 800.0)
        .collect();
    expected.sort_by(|a, b| a.0.total_cmp(&b.0));
    let expected: Vec<&String> = expected.into_iter().take(5).map(|(_, n)| n).collect();
    let got: Vec<&String> = hits
        .iter()
        .map(|h| &h.camera.as_ref().expect("camera").name)
        .collect();
    assert_eq!(got, expected);
    let status = server
        .units()
        .nearest_cameras(pb::NearestCamerasRequest {
            target: None,
            radius_m: -1.0,
            limit: 500,
            kinds: vec![],
        })
        .await
        .expect_err("bad request");
    assert_eq!(violated_fields(&status), ["radius_m", "limit", "target"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_incident_frees_its_units() {
    let server = Arc::new(TestServer::start().await);
    let fleet = Fleet::new(&server).await;
    let unit = fleet.at_zocalo(&server, "P9", pb::UnitType::Patrol).await;
    let incident = incident_at(&server, ZOCALO).await;
    assign(&server, &incident.name, &[&unit.name], "nearest")
        .await
        .expect("assign");
    let cancelled = fixtures::cancel_incident(&server, &incident.name, "llamada de broma")
        .await
        .expect("cancel");
    assert_eq!(
        cancelled.assignments[0].status,
        i32::from(pb::AssignmentStatus::Released)
    );
    let unit = fixtures::get_unit(&server, &unit.name).await;
    assert_eq!(unit.status, i32::from(pb::UnitStatus::Available));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_and_devices_are_corrected_with_etags_and_decommissioned() {
    let server = TestServer::start().await;
    let fleet = Fleet::new(&server).await;
    let unit = fleet.at_zocalo(&server, "E1", pb::UnitType::Engine).await;
    assert_eq!(
        unit.capabilities,
        ["aed", "engine"],
        "defaults from the unit type"
    );
    let update = |etag: String, capabilities: Vec<&str>| pb::UpdateUnitRequest {
        request_id: request_id(),
        unit: Some(pb::Unit {
            name: unit.name.clone(),
            etag,
            capabilities: capabilities.into_iter().map(String::from).collect(),
            ..Default::default()
        }),
        update_mask: mask(&["capabilities"]),
    };
    let updated = server
        .directory()
        .update_unit(update(
            unit.etag.clone(),
            vec!["engine", "water_rescue", "aed"],
        ))
        .await
        .expect("update")
        .into_inner()
        .unit
        .expect("unit");
    assert_eq!(updated.capabilities, ["aed", "engine", "water_rescue"]);
    let status = server
        .directory()
        .update_unit(update(unit.etag.clone(), vec!["engine"]))
        .await
        .expect_err("stale");
    assert_eq!(status.code(), Code::Aborted);
    let status = server
        .directory()
        .update_unit(update(updated.etag.clone(), vec!["teleport"]))
        .await
        .expect_err("unknown capability");
    assert_eq!(violated_fields(&status), ["unit.capabilities[0]"]);
    // The engine follows: the new capability is recommended at once.
    let incident = incident_at(&server, ZOCALO).await;
    assert_eq!(
        recommend(&server, &incident.name, &[("water_rescue", 1)], 0)
            .await
            .fills[0]
            .candidates[0]
            .unit,
        unit.name
    );
    let gone = server
        .directory()
        .decommission_unit(pb::DecommissionUnitRequest {
            request_id: request_id(),
            name: unit.name.clone(),
            reason: "written off".into(),
            etag: updated.etag.clone(),
        })
        .await
        .expect("decommission")
        .into_inner()
        .unit
        .expect("unit");
    assert!(gone.decommission_time.is_some());
    assert!(
        recommend(&server, &incident.name, &[("water_rescue", 1)], 0)
            .await
            .fills[0]
            .candidates
            .is_empty()
    );
    let rejected = report(&server, &unit.name, ZOCALO, Utc::now()).await;
    assert_eq!(
        rejected.rejected[0].reason,
        i32::from(pb::PositionRejectionReason::Decommissioned)
    );

    // A camera switched off is no longer found.
    let camera = pb::Camera {
        code: "C5-CAM-0001".into(),
        kind: pb::DeviceKind::Camera.into(),
        location: fixtures::point(ZOCALO),
        ..Default::default()
    };
    let camera = fixtures::create_camera(&server, camera).await;
    let near = || pb::NearestCamerasRequest {
        target: Some(pb::nearest_cameras_request::Target::Point(pb::GeoPoint {
            latitude: ZOCALO.0,
            longitude: ZOCALO.1,
        })),
        radius_m: 100.0,
        limit: 0,
        kinds: vec![],
    };
    assert_eq!(
        server
            .units()
            .nearest_cameras(near())
            .await
            .expect("near")
            .into_inner()
            .hits
            .len(),
        1
    );
    server
        .directory()
        .update_camera(pb::UpdateCameraRequest {
            request_id: request_id(),
            camera: Some(pb::Camera {
                name: camera.name.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: mask(&["active"]),
        })
        .await
        .expect("deactivate");
    assert!(
        server
            .units()
            .nearest_cameras(near())
            .await
            .expect("near")
            .into_inner()
            .hits
            .is_empty()
    );
}
