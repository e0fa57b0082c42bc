//! GetHotSpotReport over gRPC against real PostgreSQL: incidents placed at known points and
//! times, counted per H3 cell (checked against h3o's own cells), the previous period, the
//! filters, the geography every incident write stamps (area, station area, cell) and the
//! stamping of incidents written before it, and `dispatchctl report hot-spots`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl as _;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;
use dispatch_tests::fixtures::{self, ZOCALO, offset};
use dispatch_tests::{Authed, Bearer, TestServer, request_id, violated_fields};
use h3o::{LatLng, Resolution};
use prost_types::Timestamp;
use tonic::service::interceptor::InterceptedService;

/// Monday 2 March 2026, 00:00 in Mexico City (UTC-6 all year).
const WEEK: &str = "2026-03-02T06:00:00Z";
const CHEST: &str = "MED-CHEST-PAIN";
const STROKE: &str = "MED-STROKE";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

fn ts(time: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
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

/// The week starting `WEEK` (or the one given), in the default zone.
fn week_from(start: DateTime<Utc>) -> Option<pb::ReportPeriod> {
    Some(pb::ReportPeriod {
        start_time: ts(start),
        end_time: ts(start + chrono::Duration::days(7)),
        time_zone: String::new(),
    })
}

fn request(resolution: i32) -> pb::GetHotSpotReportRequest {
    pb::GetHotSpotReportRequest {
        period: week_from(at(WEEK)),
        resolution,
        ..Default::default()
    }
}

/// H3's own name of the cell a report puts `point` in: the parent at `resolution` of the
/// resolution-15 cell containing it.
fn h3_cell(point: (f64, f64), resolution: Resolution) -> String {
    LatLng::new(point.0, point.1)
        .expect("a point")
        .to_cell(Resolution::Fifteen)
        .parent(resolution)
        .expect("a coarser resolution")
        .to_string()
}

/// An incident of `incident_type` opened from a back-entered call at `point` received at
/// `received`.
async fn incident(
    server: &TestServer,
    point: (f64, f64),
    received: DateTime<Utc>,
    incident_type: &str,
) -> pb::Incident {
    let call = pb::CreateCallRequest {
        received_time: ts(received),
        back_entered: true,
        incident_type_hint: incident_type.into(),
        ..fixtures::call_at(point, 10.0)
    };
    fixtures::open_from(server, call, incident_type).await
}

async fn hot_spots(
    server: &TestServer,
    request: pb::GetHotSpotReportRequest,
) -> pb::GetHotSpotReportResponse {
    reports(server, &server.token)
        .get_hot_spot_report(request)
        .await
        .expect("GetHotSpotReport")
        .into_inner()
}

fn counts(response: &pb::GetHotSpotReportResponse) -> Vec<(String, i64, i64)> {
    response
        .cells
        .iter()
        .map(|c| (c.cell.clone(), c.count, c.previous_count))
        .collect()
}

/// Incidents around three places over two weeks (the report's and the one before), one of
/// them merged into another as a duplicate.
struct City {
    a: (f64, f64),
    b: (f64, f64),
    c: (f64, f64),
    d: (f64, f64),
}

async fn city(server: &TestServer) -> City {
    let week = at(WEEK);
    let hours = chrono::Duration::hours;
    let city = City {
        a: ZOCALO,
        b: offset(ZOCALO, 5.0, 0.0),
        c: offset(ZOCALO, 0.0, -6.0),
        d: offset(ZOCALO, -7.0, 3.0),
    };
    // This week: A three times (Monday 08:xx local twice, one stroke on Tuesday 10:00), B
    // twice, C once; a duplicate at A, merged into the first, is not counted.
    let first = incident(server, city.a, week + hours(8), CHEST).await;
    incident(
        server,
        city.a,
        week + hours(8) + chrono::Duration::minutes(30),
        CHEST,
    )
    .await;
    incident(server, city.a, week + hours(34), STROKE).await;
    incident(server, city.b, week + hours(50), CHEST).await;
    incident(server, city.b, week + hours(51), CHEST).await;
    incident(server, city.c, week + hours(167), STROKE).await;
    let duplicate = incident(server, city.a, week + hours(9), CHEST).await;
    fixtures::merge_incidents(server, &first.name, &duplicate.name, "same chest pain")
        .await
        .expect("merged");
    // The week before: A once, B twice, D once.
    let before = week - chrono::Duration::days(7);
    incident(server, city.a, before + hours(8), CHEST).await;
    incident(server, city.b, before + hours(20), CHEST).await;
    incident(server, city.b, before + hours(30), STROKE).await;
    incident(server, city.d, before + hours(40), CHEST).await;
    // The week after: outside both.
    incident(server, city.c, week + chrono::Duration::days(7), CHEST).await;
    city
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_spots_count_incidents_per_h3_cell_against_the_previous_period() {
    let server = TestServer::start().await;
    let city = city(&server).await;
    let report = hot_spots(&server, request(0)).await;
    assert_eq!(report.resolution, 8);
    assert_eq!(report.total, 6);
    assert_eq!(report.previous_total, 4);
    assert_eq!(
        report.previous_start_time,
        ts(at(WEEK) - chrono::Duration::days(7))
    );
    let eight = Resolution::Eight;
    let (a, b, c) = (
        h3_cell(city.a, eight),
        h3_cell(city.b, eight),
        h3_cell(city.c, eight),
    );
    assert_eq!(
        counts(&report),
        [(a.clone(), 3, 1), (b.clone(), 2, 2), (c.clone(), 1, 0)],
        "most first, each with the previous week's count; D only the week before is not listed"
    );
    let cell_a = &report.cells[0];
    assert_eq!(cell_a.change, Some(2.0));
    assert_eq!(report.cells[1].change, Some(0.0));
    assert_eq!(
        report.cells[2].change, None,
        "nothing there the week before"
    );
    assert_eq!(cell_a.boundary.len(), 6);
    let centre = cell_a.centre.expect("a centre");
    let expected: LatLng = h3o::CellIndex::try_from(u64::from_str_radix(&a, 16).unwrap())
        .unwrap()
        .into();
    assert!((centre.latitude - expected.lat()).abs() < 1e-9);
    assert!((centre.longitude - expected.lng()).abs() < 1e-9);
    // Hours of week in Mexico City: Monday 08:00 twice, Tuesday 10:00, Wednesday 02:00 and
    // 03:00, Sunday 23:00.
    assert_eq!(report.hour_of_week_counts.len(), 168);
    let busy: BTreeMap<usize, i64> = report
        .hour_of_week_counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(h, n)| (h, *n))
        .collect();
    assert_eq!(
        busy,
        BTreeMap::from([(8, 2), (34, 1), (50, 1), (51, 1), (167, 1)])
    );
    let types: Vec<_> = report
        .types
        .iter()
        .map(|t| (t.incident_type.as_str(), t.count))
        .collect();
    assert_eq!(types, [(CHEST, 4), (STROKE, 2)]);

    // Another resolution, another grid: the same incidents.
    let coarse = hot_spots(&server, request(5)).await;
    assert_eq!(coarse.resolution, 5);
    let five = Resolution::Five;
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (point, now, before) in [
        (city.a, 3, 1),
        (city.b, 2, 2),
        (city.c, 1, 0),
        (city.d, 0, 1),
    ] {
        let entry = expected.entry(h3_cell(point, five)).or_default();
        entry.0 += now;
        entry.1 += before;
    }
    // A cell with incidents only the week before is not listed.
    expected.retain(|_, (now, _)| *now > 0);
    let got: BTreeMap<String, (i64, i64)> = coarse
        .cells
        .iter()
        .map(|c| (c.cell.clone(), (c.count, c.previous_count)))
        .collect();
    assert_eq!(got, expected);

    // Filters: a type, an hour of the week, the busiest cell only.
    let strokes = hot_spots(
        &server,
        pb::GetHotSpotReportRequest {
            incident_type: STROKE.into(),
            ..request(8)
        },
    )
    .await;
    assert_eq!((strokes.total, strokes.previous_total), (2, 1));
    assert_eq!(counts(&strokes), [(a.clone(), 1, 0), (c.clone(), 1, 0)]);
    assert_eq!(strokes.hour_of_week_counts.iter().sum::<i64>(), 2);
    assert_eq!(
        strokes.types.len(),
        2,
        "the type filter leaves the type counts"
    );
    let monday_eight = hot_spots(
        &server,
        pb::GetHotSpotReportRequest {
            hour_of_week: Some(8),
            ..request(8)
        },
    )
    .await;
    assert_eq!((monday_eight.total, monday_eight.previous_total), (2, 1));
    assert_eq!(counts(&monday_eight), [(a.clone(), 2, 1)]);
    assert_eq!(
        monday_eight.hour_of_week_counts.iter().sum::<i64>(),
        6,
        "the hour filter leaves the hours"
    );
    assert_eq!(monday_eight.types.len(), 1);
    let busiest = hot_spots(
        &server,
        pb::GetHotSpotReportRequest {
            max_cells: 1,
            ..request(8)
        },
    )
    .await;
    assert_eq!(counts(&busiest), [(a, 3, 1)]);
    assert_eq!(busiest.total, 6, "the totals count every cell");

    // In another zone the same first calls fall in other hours of the week.
    let utc = hot_spots(
        &server,
        pb::GetHotSpotReportRequest {
            period: Some(pb::ReportPeriod {
                time_zone: "UTC".into(),
                ..week_from(at(WEEK)).unwrap()
            }),
            ..request(8)
        },
    )
    .await;
    assert_eq!(
        utc.hour_of_week_counts[14], 2,
        "Monday 08:00 in Mexico City is 14:00 UTC"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_period_has_no_cells_and_zero_counts() {
    let server = TestServer::start().await;
    incident(
        &server,
        ZOCALO,
        at(WEEK) + chrono::Duration::days(30),
        CHEST,
    )
    .await;
    let report = hot_spots(&server, request(0)).await;
    assert!(report.cells.is_empty());
    assert_eq!((report.total, report.previous_total), (0, 0));
    assert_eq!(report.hour_of_week_counts, vec![0; 168]);
    assert!(report.types.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_field_of_a_hot_spot_request_is_named() {
    let server = TestServer::start().await;
    let mut client = reports(&server, &server.token);
    let cases: Vec<(pb::GetHotSpotReportRequest, &[&str])> = vec![
        (
            pb::GetHotSpotReportRequest {
                period: None,
                ..request(0)
            },
            &["period"],
        ),
        (
            pb::GetHotSpotReportRequest {
                period: Some(pb::ReportPeriod {
                    end_time: ts(at(WEEK) - chrono::Duration::days(1)),
                    ..week_from(at(WEEK)).unwrap()
                }),
                ..request(0)
            },
            &["period.end_time"],
        ),
        (
            pb::GetHotSpotReportRequest {
                period: Some(pb::ReportPeriod {
                    time_zone: "Mars/Olympus".into(),
                    ..week_from(at(WEEK)).unwrap()
                }),
                ..request(0)
            },
            &["period.time_zone"],
        ),
        (request(3), &["resolution"]),
        (request(11), &["resolution"]),
        (
            pb::GetHotSpotReportRequest {
                incident_type: "X".repeat(65),
                ..request(0)
            },
            &["incident_type"],
        ),
        (
            pb::GetHotSpotReportRequest {
                hour_of_week: Some(168),
                ..request(0)
            },
            &["hour_of_week"],
        ),
        (
            pb::GetHotSpotReportRequest {
                hour_of_week: Some(-1),
                ..request(0)
            },
            &["hour_of_week"],
        ),
        (
            pb::GetHotSpotReportRequest {
                max_cells: 5001,
                ..request(0)
            },
            &["max_cells"],
        ),
        (
            pb::GetHotSpotReportRequest {
                max_cells: -1,
                ..request(0)
            },
            &["max_cells"],
        ),
    ];
    for (request, fields) in cases {
        let status = client
            .get_hot_spot_report(request.clone())
            .await
            .expect_err("refused");
        assert_eq!(violated_fields(&status), fields, "{request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_may_not_read_hot_spots() {
    let server = TestServer::start().await;
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "dispatcher").await;
    let status = reports(&server, &dispatcher)
        .get_hot_spot_report(request(0))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let (_, admin) = server.person(pb::Role::Admin, "admin").await;
    reports(&server, &admin)
        .get_hot_spot_report(request(0))
        .await
        .expect("an admin may");
}

/// Two areas side by side: "Norte" north of the Zócalo's latitude + 0.01, "Centro" around it.
const AREAS: &str = r#"{"type": "FeatureCollection", "features": [
  {"type": "Feature", "properties": {"name": "Norte"}, "geometry": {"type": "Polygon",
   "coordinates": [[[-99.30, 19.4426], [-99.00, 19.4426], [-99.00, 19.60], [-99.30, 19.60]]]}},
  {"type": "Feature", "properties": {"name": "Centro"}, "geometry": {"type": "MultiPolygon",
   "coordinates": [[[[-99.30, 19.35], [-99.00, 19.35], [-99.00, 19.4426], [-99.30, 19.4426]]]]}}
]}"#;

fn areas_config(text: &str) -> dispatch_server::Config {
    let mut config = dispatch_server::Config::defaults();
    config.areas = Some(Arc::new(
        dispatch_domain::reporting::areas::Areas::from_geojson(text).expect("valid areas"),
    ));
    config
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Geography {
    #[diesel(sql_type = Text)]
    area: String,
    #[diesel(sql_type = Nullable<Text>)]
    close_area: Option<String>,
    #[diesel(sql_type = Text)]
    station_area: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    h3_cell: Option<i64>,
}

async fn geography(server: &TestServer, incident: &str) -> Geography {
    let id: uuid::Uuid = incident
        .strip_prefix("incidents/")
        .and_then(|id| id.parse().ok())
        .expect("an incident name");
    diesel::sql_query("SELECT area, close_area, station_area, h3_cell FROM incidents WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut server.db().await)
        .await
        .expect("the incident's row")
}

fn res15(point: (f64, f64)) -> i64 {
    let cell = LatLng::new(point.0, point.1)
        .expect("a point")
        .to_cell(Resolution::Fifteen);
    i64::try_from(u64::from(cell)).expect("an H3 index never sets bit 63")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_incident_write_stamps_its_area_station_area_and_cell() {
    let server = TestServer::start_with(areas_config(AREAS)).await;
    let agency = fixtures::agency(&server, "ERUM", pb::AgencyKind::Ems).await;
    fixtures::station(&server, &agency, "SUR", offset(ZOCALO, -3.0, 0.0)).await;
    fixtures::station(&server, &agency, "NORTE", offset(ZOCALO, 3.0, 0.0)).await;
    fixtures::station(&server, &agency, "LEJOS", offset(ZOCALO, 40.0, 0.0)).await;

    // Opened just south of the line: Centro, nearest station SUR.
    let start = offset(ZOCALO, -0.5, 0.0);
    let opened = fixtures::incident_at(&server, start).await;
    assert_eq!(
        geography(&server, &opened.name).await,
        Geography {
            area: "Centro".into(),
            close_area: None,
            station_area: "SUR".into(),
            h3_cell: Some(res15(start)),
        }
    );

    // Moved north into Norte: the cell follows, the opening area and station area stay.
    let moved_to = offset(ZOCALO, 2.5, 0.0);
    let moved = server
        .triage()
        .update_incident(pb::UpdateIncidentRequest {
            request_id: request_id(),
            incident: Some(pb::Incident {
                name: opened.name.clone(),
                etag: opened.etag.clone(),
                location: fixtures::location(moved_to, 10.0),
                ..Default::default()
            }),
            update_mask: fixtures::mask(&["location"]),
            reason: "the caller was wrong".into(),
        })
        .await
        .expect("moved")
        .into_inner()
        .incident
        .expect("incident");
    let after_move = geography(&server, &moved.name).await;
    assert_eq!(after_move.h3_cell, Some(res15(moved_to)));
    assert_eq!(
        (after_move.area.as_str(), after_move.station_area.as_str()),
        ("Centro", "SUR")
    );
    assert_eq!(after_move.close_area, None);

    // Closed there: close_area is Norte.
    server
        .triage()
        .close_incident(pb::CloseIncidentRequest {
            request_id: request_id(),
            name: moved.name.clone(),
            closing_code: pb::ClosingCode::Confirmed.into(),
            ..Default::default()
        })
        .await
        .expect("closed");
    let closed = geography(&server, &moved.name).await;
    assert_eq!(closed.close_area.as_deref(), Some("Norte"));
    assert_eq!(closed.area, "Centro");

    // Outside every area and station nearest LEJOS: "" and LEJOS.
    let far = offset(ZOCALO, 60.0, 0.0);
    let outside = fixtures::incident_at(&server, far).await;
    let outside = geography(&server, &outside.name).await;
    assert_eq!(
        (outside.area.as_str(), outside.station_area.as_str()),
        ("", "LEJOS")
    );

    // A server without stations or areas stamps "".
    let bare = TestServer::start().await;
    let plain = fixtures::incident_at(&bare, ZOCALO).await;
    let plain = geography(&bare, &plain.name).await;
    assert_eq!((plain.area.as_str(), plain.station_area.as_str()), ("", ""));
    assert_eq!(plain.h3_cell, Some(res15(ZOCALO)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_areas_file_with_a_bad_feature_is_refused_at_start_naming_it() {
    let dir = std::env::temp_dir().join(format!("dispatch-areas-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("areas.geojson");
    std::fs::write(
        &bad,
        r#"{"type": "FeatureCollection", "features": [
          {"type": "Feature", "properties": {"name": "Coyoacán"}, "geometry": {"type": "Polygon",
           "coordinates": [[[0, 0], [1, 1], [2, 2]]]}}]}"#,
    )
    .unwrap();
    let error = <dispatch_server::Config as clap::Parser>::try_parse_from([
        "dispatchd",
        "--areas",
        bad.to_str().unwrap(),
    ])
    .expect_err("refused")
    .to_string();
    assert!(error.contains("features[0]"), "{error}");
    assert!(error.contains("Coyoacán"), "{error}");
    let good = dir.join("good.geojson");
    std::fs::write(&good, AREAS).unwrap();
    let config = <dispatch_server::Config as clap::Parser>::try_parse_from([
        "dispatchd",
        "--areas",
        good.to_str().unwrap(),
    ])
    .expect("a valid file");
    assert_eq!(config.areas.map(|a| a.len()), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_written_before_their_geography_are_stamped_at_start() {
    let first = TestServer::start().await;
    let agency = fixtures::agency(&first, "ERUM", pb::AgencyKind::Ems).await;
    fixtures::station(&first, &agency, "SUR", offset(ZOCALO, -3.0, 0.0)).await;
    let north = offset(ZOCALO, 2.0, 0.0);
    let open = fixtures::incident_at(&first, ZOCALO).await;
    let closed = fixtures::incident_at(&first, north).await;
    first
        .triage()
        .close_incident(pb::CloseIncidentRequest {
            request_id: request_id(),
            name: closed.name.clone(),
            closing_code: pb::ClosingCode::Confirmed.into(),
            ..Default::default()
        })
        .await
        .expect("closed");
    // As rows written before the migration look.
    first
        .run_sql(
            "UPDATE incidents SET h3_cell = NULL, area = '', close_area = NULL, \
             station_area = ''",
        )
        .await;
    assert_eq!(geography(&first, &open.name).await.h3_cell, None);

    let second = TestServer::start_on(areas_config(AREAS), first.database_url.clone()).await;
    let patience = Instant::now() + Duration::from_secs(30);
    loop {
        let g = geography(&second, &closed.name).await;
        if g.h3_cell.is_some() {
            break;
        }
        assert!(Instant::now() < patience, "never stamped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        geography(&second, &open.name).await,
        Geography {
            area: "Centro".into(),
            close_area: None,
            station_area: "SUR".into(),
            h3_cell: Some(res15(ZOCALO)),
        }
    );
    assert_eq!(
        geography(&second, &closed.name).await,
        Geography {
            area: "Norte".into(),
            close_area: Some("Norte".into()),
            station_area: "SUR".into(),
            h3_cell: Some(res15(north)),
        }
    );
}

/// dispatchctl `report hot-spots` in-process, as the supervisor.
async fn dispatchctl(server: &TestServer, args: &[&str]) -> (u8, String, String) {
    let address = format!("http://{}", server.address);
    let mut argv = vec![
        "dispatchctl",
        "--server",
        &address,
        "--token",
        &server.token,
    ];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    (
        code,
        String::from_utf8(out).expect("UTF-8"),
        String::from_utf8(err).expect("UTF-8"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchctl_prints_hot_spots_as_a_table_json_and_csv() {
    let server = TestServer::start().await;
    let city = city(&server).await;
    let to = (at(WEEK) + chrono::Duration::days(7)).to_rfc3339();
    let from = at(WEEK).to_rfc3339();
    let base = ["report", "hot-spots", "--from", &from, "--to", &to];
    let a = h3_cell(city.a, Resolution::Eight);

    let (code, out, err) = dispatchctl(&server, &base).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("6 incidents"), "{out}");
    assert!(out.contains(&a), "{out}");
    assert!(out.contains("+200.0%"), "{out}");
    assert!(out.contains(CHEST), "{out}");
    assert!(out.lines().any(|l| l.starts_with("Mon")), "{out}");

    let mut json_args = base.to_vec();
    json_args.extend(["--json", "--resolution", "8", "--type", STROKE]);
    let (code, out, err) = dispatchctl(&server, &json_args).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON document");
    assert_eq!(
        json["total"], "2",
        "int64 is a string in the protobuf JSON mapping"
    );
    assert_eq!(json["cells"][0]["cell"], a.as_str());
    assert_eq!(json["hourOfWeekCounts"].as_array().map(Vec::len), Some(168));

    let mut csv_args = base.to_vec();
    csv_args.extend(["--csv", "--max-cells", "2", "--hour-of-week", "8"]);
    let (code, out, err) = dispatchctl(&server, &csv_args).await;
    assert_eq!(code, 0, "{out}\n{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "cell,latitude,longitude,count,previous_count,change"
    );
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with(&format!("{a},")), "{out}");
    assert!(lines[1].ends_with(",2,1,1"), "{out}");

    let mut bad = base.to_vec();
    bad.extend(["--resolution", "12"]);
    let (code, _, err) = dispatchctl(&server, &bad).await;
    assert_ne!(code, 0);
    assert!(err.contains("resolution"), "{err}");
}
