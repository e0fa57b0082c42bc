//! What the web console stands on, seen from outside without a browser: dispatchd serves the
//! console's files with a strict policy on its gRPC port, gRPC-web reaches the same services
//! under the same rules, GetCurrentPrincipal tells a console exactly what the API lets its
//! principal do, and a call not recorded yet can be checked for duplicates without writing
//! anything. (The console itself is driven in a real browser by the `console` test target.)

use std::collections::HashSet;

use dispatch_proto::v1 as pb;
use dispatch_tests::{TestServer, fixtures, request_id, violated_fields};
use prost::Message as _;
use prost_reflect::DescriptorPool;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`): the status line and
/// headers (lower-cased names), and the body as it came (chunked encoding undone).
pub(crate) async fn http1(
    server: &TestServer,
    request_head: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(server.address)
        .await
        .expect("connecting over TCP");
    let head = format!(
        "{request_head}\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        server.address,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("writing");
    stream.write_all(body).await.expect("writing the body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("reading");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = unchunk(&body);
    }
    (status, headers, body)
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&raw[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("a hexadecimal chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A gRPC-web call over HTTP/1.1, as a browser makes it: the response's messages and its
/// trailers (from the trailer frame in the body).
async fn grpc_web(
    server: &TestServer,
    path: &str,
    token: &str,
    message: &[u8],
) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    body.extend_from_slice(message);
    let head = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Accept: application/grpc-web+proto\r\nAuthorization: Bearer {token}"
    );
    let (status, headers, body) = http1(server, &head, &body).await;
    assert_eq!(
        status, 200,
        "gRPC-web answers HTTP 200, the status is in the trailers"
    );
    // A refusal before any message may come as a trailers-only response: in the headers.
    let mut trailers: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(k, _)| k.starts_with("grpc-"))
        .collect();
    let mut messages = Vec::new();
    let mut rest = body.as_slice();
    while rest.len() >= 5 {
        let flag = rest[0];
        let length = usize::try_from(u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]))
            .expect("a length");
        let payload = &rest[5..5 + length];
        if flag & 0x80 == 0 {
            messages.push(payload.to_vec());
        } else {
            for line in String::from_utf8_lossy(payload).lines() {
                if let Some((k, v)) = line.split_once(':') {
                    trailers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
        }
        rest = &rest[5 + length..];
    }
    (messages, trailers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_on_the_grpc_port_with_a_strict_policy() {
    let server = TestServer::start().await;

    let (status, headers, body) = http1(&server, "GET / HTTP/1.1", b"").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = String::from_utf8(body).expect("an HTML page");
    assert!(
        page.contains("app.js") && page.contains("app.css"),
        "{page}"
    );
    let policy = header(&headers, "content-security-policy").expect("a CSP");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"));

    let (status, headers, body) = http1(&server, "GET /app.js HTTP/1.1", b"").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let built =
        std::fs::read(dispatch_tests::repo_root().join("crates/dispatch-console/dist/app.js"))
            .expect("the built script");
    assert_eq!(body, built, "the built script, whole");

    // A browser accepts gzip, and gets a third of the bytes.
    let (status, headers, gzipped) = http1(
        &server,
        "GET /app.js HTTP/1.1\r\nAccept-Encoding: gzip, deflate, br",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(
        gzipped,
        std::fs::read(dispatch_tests::repo_root().join("crates/dispatch-console/dist/app.js.gz"))
            .expect("the gzipped script")
    );
    assert!(gzipped.len() * 2 < built.len());

    let (status, _, _) = http1(&server, "GET /../Cargo.toml HTTP/1.1", b"").await;
    assert_eq!(status, 404);
    let (status, _, _) = http1(&server, "GET /secrets.env HTTP/1.1", b"").await;
    assert_eq!(status, 404);

    // gRPC on the same port is untouched.
    assert_eq!(
        server
            .call_raw(
                "/dispatch.v1.DirectoryService/GetCurrentPrincipal",
                Some(&server.token)
            )
            .await,
        Code::Ok
    );
    server.stop().await;

    // A centre that does not want the console on this port turns it off.
    let mut config = dispatch_server::Config::defaults();
    config.console = false;
    let server = TestServer::start_with(config).await;
    let (_, headers, body) = http1(&server, "GET / HTTP/1.1", b"").await;
    assert_ne!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(!String::from_utf8_lossy(&body).contains("app.js"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_reaches_the_same_services_under_the_same_rules() {
    let server = TestServer::start().await;
    let (_, call_taker) = server.person(pb::Role::CallTaker, "web-call-taker").await;

    let (messages, trailers) = grpc_web(
        &server,
        "/dispatch.v1.DirectoryService/GetCurrentPrincipal",
        &call_taker,
        &pb::GetCurrentPrincipalRequest {}.encode_to_vec(),
    )
    .await;
    assert_eq!(header(&trailers, "grpc-status"), Some("0"), "{trailers:?}");
    let response =
        pb::GetCurrentPrincipalResponse::decode(messages.first().expect("a message").as_slice())
            .expect("a GetCurrentPrincipalResponse");
    let principal = response.principal.expect("principal");
    assert_eq!(principal.role(), pb::Role::CallTaker);
    assert!(
        response
            .permitted_methods
            .contains(&"dispatch.v1.CallIntakeService/CreateCall".to_owned())
    );

    // What the API refuses over gRPC it refuses over gRPC-web, and audits alike.
    let (messages, trailers) = grpc_web(
        &server,
        "/dispatch.v1.UnitAssignmentService/AssignUnits",
        &call_taker,
        &pb::AssignUnitsRequest {
            request_id: request_id(),
            ..Default::default()
        }
        .encode_to_vec(),
    )
    .await;
    assert!(messages.is_empty());
    assert_eq!(
        header(&trailers, "grpc-status"),
        Some((Code::PermissionDenied as i32).to_string().as_str()),
        "{trailers:?}"
    );
    let (_, trailers) = grpc_web(
        &server,
        "/dispatch.v1.DirectoryService/GetCurrentPrincipal",
        "dsp_not-a-real-token",
        &[],
    )
    .await;
    assert_eq!(
        header(&trailers, "grpc-status"),
        Some((Code::Unauthenticated as i32).to_string().as_str())
    );
    let first_hundred = pb::ListAuditRecordsRequest {
        page_size: 100,
        ..Default::default()
    };
    let records = fixtures::audit_records(&server, &server.token, first_hundred).await;
    assert!(
        records
            .iter()
            .any(|r| r.method.ends_with("AssignUnits") && r.status_code == "PERMISSION_DENIED"),
        "the refused gRPC-web call is in the audit trail"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permitted_methods_are_exactly_what_the_api_lets_each_role_call() {
    let server = TestServer::start().await;
    let pool = DescriptorPool::decode(dispatch_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let every_method: Vec<String> = pool
        .services()
        .filter(|service| service.full_name().starts_with("dispatch.v1."))
        .flat_map(|service| {
            service
                .methods()
                .map(|method| format!("{}/{}", service.full_name(), method.name()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(every_method.len() > 60, "{}", every_method.len());
    for role in [
        pb::Role::CallTaker,
        pb::Role::Dispatcher,
        pb::Role::PartnerAgency,
    ] {
        let partner = if role == pb::Role::PartnerAgency {
            let centre = [(19.40, -99.16), (19.40, -99.10), (19.46, -99.10)];
            let area = fixtures::polygon_area("Centro", &centre);
            let (kind, need) = (pb::PartnerKind::Shelter, pb::ReferralNeed::Shelter);
            let spec = fixtures::partner_agency("REFUGIO-1", "Refugio", kind, need, area);
            let partner = fixtures::create_partner(
                &server,
                pb::PartnerAgency {
                    capacity: fixtures::capacity(3, 5),
                    ..spec
                },
            )
            .await;
            Some(partner.name)
        } else {
            None
        };
        let (_, token) = server
            .principal(role, "permitted", None, partner.as_deref())
            .await;
        let permitted: HashSet<String> = server
            .whoami(&token)
            .await
            .permitted_methods
            .into_iter()
            .collect();
        for method in &every_method {
            let code = server.call_raw(&format!("/{method}"), Some(&token)).await;
            assert_eq!(
                permitted.contains(method),
                code != Code::PermissionDenied,
                "{role:?} {method}: listed {} but the API answered {code:?}",
                permitted.contains(method)
            );
        }
    }
    server.stop().await;
}

fn location(latitude: f64, longitude: f64) -> Option<pb::Location> {
    fixtures::location((latitude, longitude), 20.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_not_yet_recorded_gets_its_duplicates_and_writes_nothing() {
    let server = TestServer::start().await;
    let mut calls = server.calls();
    let first = pb::CreateCallRequest {
        request_id: request_id(),
        channel: pb::CallChannel::Voice911.into(),
        location: location(19.432_608, -99.133_209),
        account: "Choque frente a Catedral".into(),
        incident_type_hint: "TRAFFIC-INJURY".into(),
        ..Default::default()
    };
    let first = fixtures::create_call(&server, first)
        .await
        .call
        .expect("call");
    let incident = fixtures::open_incident(&server, &first.name, "").await;
    let calls_before = server.count("calls").await;
    let audit_before = server.count("audit_records").await;

    // 60 m north, same type: the incident is the best candidate, with its reasons.
    let probe = |latitude: f64, hint: &str| pb::FindDuplicateCandidatesRequest {
        probe: Some(pb::DuplicateProbe {
            location: location(latitude, -99.133_209),
            incident_type_hint: hint.into(),
            callback_number: String::new(),
        }),
        ..Default::default()
    };
    let found = calls
        .find_duplicate_candidates(probe(19.432_608 + 60.0 / 111_195.0, "TRAFFIC-INJURY"))
        .await
        .expect("candidates")
        .into_inner()
        .duplicate_candidates;
    let best = found.first().expect("a candidate");
    assert_eq!(best.incident, incident.name);
    let distance = best.distance_m.expect("a distance");
    assert!((55.0..65.0).contains(&distance), "{distance}");
    assert!(!best.explanation.is_empty());
    // Far away: nothing.
    let far = calls
        .find_duplicate_candidates(probe(19.60, ""))
        .await
        .expect("candidates")
        .into_inner()
        .duplicate_candidates;
    assert!(far.is_empty(), "{far:?}");
    assert_eq!(server.count("calls").await, calls_before, "no call written");
    assert_eq!(
        server.count("audit_records").await,
        audit_before,
        "a read: not audited as a mutation"
    );

    // Bad input names the field under probe; name and probe together are refused.
    let status = calls
        .find_duplicate_candidates(probe(91.0, "NOT-A-TYPE"))
        .await
        .expect_err("a latitude of 91");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|f| f.starts_with("probe.location")),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"probe.incident_type_hint".to_owned()),
        "{fields:?}"
    );
    let mut both = probe(19.43, "");
    both.name = first.name.clone();
    let status = calls
        .find_duplicate_candidates(both)
        .await
        .expect_err("name and probe");
    assert_eq!(violated_fields(&status), vec!["name".to_owned()]);
    let status = calls
        .find_duplicate_candidates(pb::FindDuplicateCandidatesRequest {
            probe: Some(pb::DuplicateProbe::default()),
            ..Default::default()
        })
        .await
        .expect_err("a probe without a location");
    assert!(
        violated_fields(&status)
            .iter()
            .any(|f| f.starts_with("probe.location")),
        "{:?}",
        violated_fields(&status)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_draws_the_centres_own_extract_without_a_tile_server() {
    let Some(extract) = crate::cli::data_file("osm/aguascalientes.osm.pbf") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("dispatch-map-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let layer = dir.join("roads.geojson");
    let layer_arg = layer.display().to_string();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(
        [
            "dispatchctl",
            "map",
            "roads",
            "--pbf",
            &extract,
            "--out",
            &layer_arg,
        ],
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let written = std::fs::read(&layer).expect("the layer");
    let collection: serde_json::Value = serde_json::from_slice(&written).expect("GeoJSON");
    let features = collection["features"].as_array().expect("features");
    // The extract's drivable ways, each a line of at least two points inside Aguascalientes.
    assert!(features.len() > 500, "{}", features.len());
    for feature in features {
        assert_eq!(feature["geometry"]["type"], "LineString");
        let line = feature["geometry"]["coordinates"]
            .as_array()
            .expect("coordinates");
        assert!(line.len() >= 2);
        for point in line {
            let (lon, lat) = (
                point[0].as_f64().expect("lon"),
                point[1].as_f64().expect("lat"),
            );
            assert!(
                (-102.6..-102.0).contains(&lon) && (21.6..22.2).contains(&lat),
                "{point}"
            );
        }
    }
    assert!(String::from_utf8_lossy(&out).contains(&format!("{} roads", features.len())));

    let mut config = dispatch_server::Config::defaults();
    config.map_geojson = Some(layer.clone());
    let server = TestServer::start_with(config).await;
    let (status, headers, body) = http1(&server, "GET /map/base.geojson HTTP/1.1", b"").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/geo+json")
    );
    assert_eq!(body, written);
    server.stop().await;

    // No layer configured: the console's map stays a plain background.
    let server = TestServer::start().await;
    let (status, _, _) = http1(&server, "GET /map/base.geojson HTTP/1.1", b"").await;
    assert_eq!(status, 404);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
