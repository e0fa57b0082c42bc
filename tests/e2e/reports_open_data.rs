//! The open-data export (ExportOpenData and `dispatchctl report open-data`): C5's incidents as
//! Mexico City's open-data portal publishes them, read back through our own replay.

use std::collections::BTreeMap;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;
use dispatch_tests::fixtures::{call_at, create_call, open_incident};
use dispatch_tests::{Authed, Bearer, TestServer, assert_invalid, request_id};
use tonic::service::interceptor::InterceptedService;

use crate::cli::data_file;

/// The portal's header, as C5's file has it.
const HEADER: &str = "folio,alcaldia_inicio,alcaldia_cierre,incidente_c4,tipo_entrada,clasificacion,codigo_cierre,creado,cerrado,lat,lon";

fn reporting(server: &TestServer, token: &str) -> ReportingServiceClient<Authed> {
    ReportingServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(token),
    ))
}

/// dispatchctl with `args`, as the holder of `token`: exit code, stdout, stderr.
async fn ctl(server: &TestServer, token: &str, args: &[&str]) -> (u8, String, String) {
    let address = format!("http://{}", server.address);
    let mut argv = vec!["dispatchctl", "--server", &address, "--token", token];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    (
        code,
        String::from_utf8(out).expect("utf-8"),
        String::from_utf8(err).expect("utf-8"),
    )
}

/// dispatchctl with `args`, which must succeed: its stdout.
async fn ctl_ok(server: &TestServer, token: &str, args: &[&str]) -> String {
    let (code, out, err) = ctl(server, token, args).await;
    assert_eq!(code, 0, "{args:?}\nstdout: {out}\nstderr: {err}");
    out
}

fn timestamp(text: &str) -> Option<prost_types::Timestamp> {
    let t: chrono::DateTime<chrono::Utc> = text.parse().expect("an RFC 3339 time");
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    })
}

fn period(start: &str, end: &str) -> Option<pb::ReportPeriod> {
    Some(pb::ReportPeriod {
        start_time: timestamp(start),
        end_time: timestamp(end),
        time_zone: String::new(),
    })
}

/// A call received at `received` at `at`, with caller data the export must never show.
async fn call(server: &TestServer, received: &str, at: (f64, f64), hint: &str) -> pb::Call {
    let request = pb::CreateCallRequest {
        received_time: timestamp(received),
        caller_name: "Rosalba Quintero Ibarra".into(),
        callback_number: "+525598765432".into(),
        account: "mi vecino Ezequiel está tirado en la banqueta".into(),
        incident_type_hint: hint.into(),
        ..call_at(at, 20.0)
    };
    create_call(server, request).await.call.expect("a call")
}

async fn link(server: &TestServer, call: &str, incident: &str) {
    server
        .calls()
        .link_call_to_incident(pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: call.into(),
            incident: incident.into(),
            ..Default::default()
        })
        .await
        .expect("link");
}

async fn dispose(server: &TestServer, call: &str, disposition: pb::CallDisposition) {
    server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: call.into(),
            disposition: disposition.into(),
            ..Default::default()
        })
        .await
        .expect("dispose");
}

async fn close(server: &TestServer, incident: &str, code: pb::ClosingCode, duplicate_of: &str) {
    server
        .triage()
        .close_incident(pb::CloseIncidentRequest {
            request_id: request_id(),
            name: incident.into(),
            closing_code: code.into(),
            duplicate_of: duplicate_of.into(),
            ..Default::default()
        })
        .await
        .expect("close");
}

/// Every row of the period, `page_size` at a time; and how many pages it took.
async fn export(
    client: &mut ReportingServiceClient<Authed>,
    period: Option<pb::ReportPeriod>,
    decimals: i32,
    page_size: i32,
) -> (Vec<pb::OpenDataRow>, usize) {
    let (mut rows, mut pages, mut page_token) = (Vec::new(), 0, String::new());
    loop {
        let page = client
            .export_open_data(pb::ExportOpenDataRequest {
                period: period.clone(),
                coordinate_decimals: decimals,
                page_size,
                page_token,
            })
            .await
            .expect("ExportOpenData")
            .into_inner();
        pages += 1;
        let most = if page_size == 0 { 1000 } else { page_size };
        assert!(page.rows.len() <= usize::try_from(most).unwrap_or_default());
        rows.extend(page.rows);
        page_token = page.next_page_token;
        if page_token.is_empty() {
            return (rows, pages);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_publishes_every_report_with_its_code_and_nothing_of_the_caller() {
    let server = TestServer::start().await;
    let zocalo = (19.432_55, -99.133_25);
    // A opens an incident that B reports again (B is a duplicate); A's incident is confirmed.
    let a = call(&server, "2021-03-01T16:00:00Z", zocalo, "TRAFFIC-INJURY").await;
    let first = open_incident(&server, &a.name, "").await;
    let b = call(
        &server,
        "2021-03-01T16:01:00Z",
        (19.4326, -99.1331),
        "TRAFFIC-INJURY",
    )
    .await;
    link(&server, &b.name, &first.name).await;
    // C opens an incident merged into A's: C is a duplicate too, though it opened one.
    let c = call(
        &server,
        "2021-03-01T16:02:00Z",
        (19.4327, -99.1333),
        "TRAFFIC-INJURY",
    )
    .await;
    let second = open_incident(&server, &c.name, "").await;
    server
        .triage()
        .merge_incidents(pb::MergeIncidentsRequest {
            request_id: request_id(),
            survivor: first.name.clone(),
            duplicate: second.name.clone(),
            ..Default::default()
        })
        .await
        .expect("merge");
    // D's incident is closed as a duplicate of A's without a merge.
    let d = call(
        &server,
        "2021-03-01T16:03:00Z",
        (19.44, -99.14),
        "FIRE-STRUCTURE",
    )
    .await;
    let third = open_incident(&server, &d.name, "").await;
    close(
        &server,
        &third.name,
        pb::ClosingCode::Duplicate,
        &first.name,
    )
    .await;
    close(&server, &first.name, pb::ClosingCode::Confirmed, "").await;
    // A prank is published as a false alarm; a hang-up reported nothing and is not.
    let prank = call(
        &server,
        "2021-03-01T16:04:00Z",
        (19.5, -99.2),
        "CRIME-ROBBERY",
    )
    .await;
    dispose(&server, &prank.name, pb::CallDisposition::Prank).await;
    let hang_up = call(&server, "2021-03-01T16:05:00Z", (19.5, -99.2), "").await;
    dispose(&server, &hang_up.name, pb::CallDisposition::HangUp).await;
    // Still open: no code, no close.
    let open = call(
        &server,
        "2021-03-01T16:06:00Z",
        (-0.000_45, -99.999_95),
        "MED-STROKE",
    )
    .await;
    // Outside the period.
    call(&server, "2021-03-02T16:00:00Z", zocalo, "").await;

    let mut client = reporting(&server, &server.token);
    let day = period("2021-03-01T00:00:00Z", "2021-03-02T00:00:00Z");
    let (rows, pages) = export(&mut client, day.clone(), 0, 2).await;
    assert_eq!(pages, 3, "six rows two at a time");
    let folios: Vec<&str> = rows.iter().map(|r| r.folio.as_str()).collect();
    assert_eq!(
        folios,
        [
            &a.folio,
            &b.folio,
            &c.folio,
            &d.folio,
            &prank.folio,
            &open.folio
        ]
    );
    let codes: Vec<pb::ClosingCode> = rows.iter().map(|r| r.closing_code()).collect();
    use pb::ClosingCode as C;
    assert_eq!(
        codes,
        [
            C::Confirmed,
            C::Duplicate,
            C::Duplicate,
            C::Duplicate,
            C::False,
            C::Unspecified
        ]
    );
    let row = |i: usize| &rows[i];
    assert_eq!(row(0).incident_type, "TRAFFIC-INJURY");
    assert_eq!(row(0).incident_type_name, "Collision with injuries");
    assert_eq!(row(0).classification, "URGENCIAS MEDICAS");
    assert_eq!(row(0).channel(), pb::CallChannel::Voice911);
    assert_eq!(row(0).create_time, timestamp("2021-03-01T16:00:00Z"));
    assert!(row(0).close_time.is_some());
    // B and C report A's incident (C's was merged into it): they are published with it.
    assert_eq!(row(2).incident_type, "TRAFFIC-INJURY");
    assert_eq!(row(2).close_time, row(0).close_time);
    // Closing D's incident as a duplicate of A's merges it: D too is published with A's.
    assert_eq!(row(3).incident_type, "TRAFFIC-INJURY");
    assert_eq!(row(4).classification, "FALSA ALARMA");
    assert_eq!(row(4).incident_type, "CRIME-ROBBERY");
    assert!(row(4).close_time.is_some());
    assert_eq!((row(5).close_time, row(5).area_close.as_str()), (None, ""));
    // Rounded half away from zero: 19.43255 -> 19.433, -99.13325 -> -99.133 (3 places), and
    // -0.00045 -> -0.0005, -99.99995 -> -100.0 (4 places).
    let point = |r: &pb::OpenDataRow| r.point.map(|p| (p.latitude, p.longitude));
    assert_eq!(point(row(0)), Some((19.433, -99.133)));
    let (four, _) = export(&mut client, day.clone(), 4, 0).await;
    assert_eq!(point(&four[0]), Some((19.4326, -99.1333)));
    assert_eq!(point(&four[5]), Some((-0.0005, -100.0)));

    // The CSV: the portal's header, a row each, no caller data anywhere.
    let csv = ctl_ok(
        &server,
        &server.token,
        &[
            "report",
            "open-data",
            "--from",
            "2021-03-01T00:00:00Z",
            "--to",
            "2021-03-02T00:00:00Z",
            "--zone",
            "UTC",
            "--csv",
            "--page-size",
            "4",
        ],
    )
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines.len(), 7, "{csv}");
    assert_eq!(
        lines[1],
        format!(
            "{},,,accidente-choque con lesionados,LLAMADA DEL 911,URGENCIAS MEDICAS,A,2021-03-01 16:00:00,{},19.433,-99.133",
            a.folio,
            lines[1].split(',').nth(8).unwrap_or_default()
        )
    );
    assert!(
        lines[4].contains(",accidente-choque con lesionados,LLAMADA DEL 911,URGENCIAS MEDICAS,D,"),
        "{csv}"
    );
    assert!(
        lines[5].contains(",Robbery (in progress or just happened),LLAMADA DEL 911,FALSA ALARMA,F,2021-03-01 16:04:00,"),
        "{csv}"
    );
    for secret in [
        "Rosalba",
        "Quintero",
        "5598765432",
        "Ezequiel",
        "banqueta",
        &hang_up.folio,
    ] {
        assert!(!csv.contains(secret), "{secret} in\n{csv}");
    }
    let json = ctl_ok(
        &server,
        &server.token,
        &[
            "--json",
            "report",
            "open-data",
            "--from",
            "2021-03-01T00:00:00Z",
            "--to",
            "2021-03-02T00:00:00Z",
        ],
    )
    .await;
    for secret in ["Rosalba", "5598765432", "Ezequiel"] {
        assert!(!json.contains(secret), "{secret} in\n{json}");
    }
    let json: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON document");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(6), "{json}");
    // Mexico City's clock by default: 16:00 UTC was 10:00 there in March 2021.
    let table = ctl_ok(
        &server,
        &server.token,
        &[
            "report",
            "open-data",
            "--from",
            "2021-03-01",
            "--to",
            "2021-03-02",
        ],
    )
    .await;
    assert!(table.contains("2021-03-01 10:00:00"), "{table}");
    assert!(table.contains("alcaldia_inicio"), "{table}");

    // An empty period: no rows, no token.
    let (none, pages) = export(
        &mut client,
        period("2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z"),
        0,
        0,
    )
    .await;
    assert_eq!((none.len(), pages), (0, 1));
    let empty = ctl_ok(
        &server,
        &server.token,
        &[
            "report",
            "open-data",
            "--from",
            "2020-01-01",
            "--to",
            "2020-02-01",
            "--csv",
        ],
    )
    .await;
    assert_eq!(empty.trim(), HEADER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_naming_the_field_and_only_supervisors_and_admins_export() {
    let server = TestServer::start().await;
    let mut client = reporting(&server, &server.token);
    let request = |period, decimals, page_size, token: &str| pb::ExportOpenDataRequest {
        period,
        coordinate_decimals: decimals,
        page_size,
        page_token: token.into(),
    };
    let day = period("2021-03-01T00:00:00Z", "2021-03-02T00:00:00Z");
    for (bad, fields) in [
        (request(None, 0, 0, ""), vec!["period"]),
        (
            request(
                period("2021-03-02T00:00:00Z", "2021-03-01T00:00:00Z"),
                0,
                0,
                "",
            ),
            vec!["period.end_time"],
        ),
        (
            request(
                period("2019-01-01T00:00:00Z", "2021-03-01T00:00:00Z"),
                0,
                0,
                "",
            ),
            vec!["period.end_time"],
        ),
        (request(day.clone(), 1, 0, ""), vec!["coordinate_decimals"]),
        (request(day.clone(), 7, 0, ""), vec!["coordinate_decimals"]),
        (request(day.clone(), 0, 5001, ""), vec!["page_size"]),
        (request(day.clone(), 0, -1, ""), vec!["page_size"]),
        (request(day.clone(), 0, 0, "t.123.x"), vec!["page_token"]),
        (
            request(None, -2, 0, "garbage"),
            vec!["period", "coordinate_decimals", "page_token"],
        ),
    ] {
        let what = format!("{bad:?}");
        assert_invalid(client.export_open_data(bad).await, &what, &fields);
    }
    let mut zoned = day.clone().expect("a period");
    zoned.time_zone = "Mars/Olympus_Mons".into();
    assert_invalid(
        client
            .export_open_data(request(Some(zoned), 0, 0, ""))
            .await,
        "an unknown zone",
        &["period.time_zone"],
    );

    for role in [pb::Role::Dispatcher, pb::Role::CallTaker] {
        let (_, token) = server.person(role, "not-a-supervisor").await;
        let refused = reporting(&server, &token)
            .export_open_data(request(day.clone(), 0, 0, ""))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{role:?}");
        let (code, _, err) = ctl(
            &server,
            &token,
            &[
                "report",
                "open-data",
                "--from",
                "2021-03-01",
                "--to",
                "2021-03-02",
            ],
        )
        .await;
        assert_ne!(code, 0, "{err}");
        assert!(
            err.contains("PERMISSION_DENIED") || err.contains("permission"),
            "{err}"
        );
    }
    for token in [server.admin_token.clone(), server.token.clone()] {
        reporting(&server, &token)
            .export_open_data(request(day.clone(), 0, 0, ""))
            .await
            .expect("supervisors and admins export");
    }
    // The CLI checks its own flags before asking.
    let (code, _, err) = ctl(
        &server,
        &server.token,
        &[
            "report",
            "open-data",
            "--from",
            "1/3/2021",
            "--to",
            "2021-03-02",
        ],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("--from"), "{err}");
}

/// A CSV as (header, rows of fields); the export's fields hold no commas or quotes.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// The slice of C5's file the round trip replays: the first `n` reports of 2020-06-01 (Mexico
/// City's clock, far from a clock change), in the file's own spelling.
fn c5_slice(file: &str, n: usize) -> String {
    let text = std::fs::read_to_string(file).expect("C5's file");
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    assert_eq!(header, HEADER, "the portal's header");
    let mut day: Vec<&str> = lines
        .filter(|line| {
            line.split(',')
                .nth(7)
                .is_some_and(|t| t.starts_with("2020-06-01"))
        })
        .collect();
    day.sort_by_key(|line| line.split(',').nth(7).map(str::to_owned));
    let mut slice = vec![header];
    slice.extend(day.into_iter().take(n));
    slice.join("\n") + "\n"
}

/// Loads the small demo city (replays need it) and replays `file`: the replay's JSON report.
async fn replay(server: &TestServer, dir: &std::path::Path, file: &str) -> serde_json::Value {
    let credentials = dir.join(format!("creds-{}.env", uuid_suffix()));
    let credentials = credentials.display().to_string();
    ctl_ok(
        server,
        &server.admin_token,
        &[
            "demo",
            "load",
            "--size",
            "small",
            "--credentials-file",
            &credentials,
        ],
    )
    .await;
    let out = ctl_ok(
        server,
        &server.admin_token,
        &[
            "--json",
            "replay",
            "--dataset",
            "c5",
            "--file",
            file,
            "--workers",
            "4",
        ],
    )
    .await;
    serde_json::from_str(out.lines().next().expect("a report")).expect("a JSON report")
}

fn uuid_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Exports 2020-06-01 (Mexico City) of `server` to `path`, `page_size` rows a request.
async fn export_csv(server: &TestServer, path: &std::path::Path, page_size: &str) -> String {
    let out = path.display().to_string();
    ctl_ok(
        server,
        &server.token,
        &[
            "report",
            "open-data",
            "--from",
            "2020-06-01",
            "--to",
            "2020-06-02",
            "--out",
            &out,
            "--page-size",
            page_size,
        ],
    )
    .await;
    std::fs::read_to_string(path).expect("the export")
}

fn int(value: &serde_json::Value) -> i64 {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

// Columns of a row.
const TYPE: usize = 3;
const CHANNEL: usize = 4;
const CLASS: usize = 5;
const CODE: usize = 6;
const CREATED: usize = 7;
const CLOSED: usize = 8;
const LAT: usize = 9;
const LON: usize = 10;

/// A C5 slice replayed, exported, the export replayed into a fresh server and exported again:
/// the two exports must say the same of every report, column by column, except
/// - `folio`: each server numbers its calls itself (by the day it takes them), not compared;
/// - `cerrado`: the replay closes incidents when its simulated units clear, at the wall clock's
///   time (CloseIncident takes no time), so it is the time each replay ran, not the data's;
/// - `codigo_cierre` and with it `incidente_c4` and `clasificacion` of the reports the two
///   replays judged differently: each replay decides duplicates itself, from the server's
///   suggestions (a report is `D` when the simulated call taker linked it), and the second
///   replay sees points rounded to 3 places (up to 55 m moved). So those columns must be equal
///   for every report both exports call a non-duplicate, and the `D` rows are checked against
///   each replay's own accounting instead: as many as the replay linked, and the second
///   replay's comparison with its data (the first export) counts the reports both call `D`.
/// - `alcaldia_inicio` / `alcaldia_cierre`: equal (the replay does not read them back; the
///   server stamps them from its own areas).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_replays_into_a_fresh_server_and_exports_the_same() {
    let Some(file) = data_file("c5_incidentes_viales_2020.csv") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("open-data-round-trip-{}", uuid_suffix()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let slice = dir.join("slice.csv");
    std::fs::write(&slice, c5_slice(&file, 120)).expect("the slice");

    let original = TestServer::start().await;
    let first_replay = replay(&original, &dir, &slice.display().to_string()).await;
    assert_eq!(int(&first_replay["calls"]), 120, "{first_replay}");
    let first_path = dir.join("export.csv");
    let first = export_csv(&original, &first_path, "0").await;
    assert_eq!(first.lines().next(), Some(HEADER));
    // Nothing of the replay's caller accounts (C5's own folio, alcaldía and words) is published.
    let slice_text = std::fs::read_to_string(&slice).expect("the slice");
    for line in slice_text.lines().skip(1).take(5) {
        let c5_folio = line.split(',').next().unwrap_or_default();
        let account_start = format!("{c5_folio}: ");
        assert!(!first.contains(&account_start), "{account_start} published");
    }

    let fresh = TestServer::start().await;
    let second_replay = replay(&fresh, &dir, &first_path.display().to_string()).await;
    assert_eq!(int(&second_replay["calls"]), 120, "{second_replay}");
    assert_eq!(int(&second_replay["rowsSkipped"]), 0, "{second_replay}");
    // Every channel the export wrote is one the replay knows by name.
    assert_eq!(
        second_replay["channelsMapped"],
        serde_json::json!({}),
        "{second_replay}"
    );
    // Paged 7 rows at a time this time: 18 requests for 120 rows.
    let second = export_csv(&fresh, &dir.join("export-again.csv"), "7").await;

    let (first, second) = (read_csv(&first), read_csv(&second));
    assert_eq!(first.len(), 120);
    assert_eq!(second.len(), 120);
    // Reports are matched by when and where they were received.
    let key = |row: &Vec<String>| (row[CREATED].clone(), row[LAT].clone(), row[LON].clone());
    let by_key = |rows: &[Vec<String>]| -> BTreeMap<_, Vec<Vec<String>>> {
        let mut map: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for row in rows {
            map.entry(key(row)).or_default().push(row.clone());
        }
        map
    };
    let (before, after) = (by_key(&first), by_key(&second));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "every report reads back with the same creado, lat and lon"
    );
    let (mut both_kept, mut both_duplicate) = (0, 0);
    for (key, rows) in &before {
        let again = &after[key];
        assert_eq!(rows.len(), again.len(), "{key:?}");
        for (a, b) in rows.iter().zip(again) {
            assert_eq!(a[CHANNEL], b[CHANNEL], "tipo_entrada of {key:?}");
            assert_eq!((&a[1], &a[2]), (&b[1], &b[2]), "alcaldías of {key:?}");
            assert!(
                !a[CLOSED].is_empty() && !b[CLOSED].is_empty(),
                "closed: {a:?} {b:?}"
            );
            match (a[CODE].as_str(), b[CODE].as_str()) {
                ("D", "D") => both_duplicate += 1,
                ("D", _) | (_, "D") => {}
                _ => {
                    both_kept += 1;
                    assert_eq!(a[CODE], b[CODE], "codigo_cierre of {key:?}");
                    assert_eq!(a[TYPE], b[TYPE], "incidente_c4 of {key:?}");
                    assert_eq!(a[CLASS], b[CLASS], "clasificacion of {key:?}");
                }
            }
        }
    }
    assert!(both_kept > 30, "{both_kept} reports kept by both");
    // The D rows are the calls each replay linked.
    let d_rows = |rows: &[Vec<String>]| rows.iter().filter(|r| r[CODE] == "D").count() as i64;
    assert_eq!(
        d_rows(&first),
        int(&first_replay["duplicatesLinked"]),
        "{first_replay}"
    );
    assert_eq!(
        d_rows(&second),
        int(&second_replay["duplicatesLinked"]),
        "{second_replay}"
    );
    assert!(d_rows(&first) > 0);
    // The second replay read the first export's D as its truth: the reports it linked that
    // were D in its data are the rows both exports call D.
    assert_eq!(
        int(&second_replay["duplicates"]["linkedAndDuplicateInData"]),
        both_duplicate,
        "{second_replay}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
