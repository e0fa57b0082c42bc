//! PublicAlertService over gRPC on real PostgreSQL (issue 19, CAP alerts): a supervisor issues a
//! warning about an incident, updates and cancels it, each message a CAP 1.2 document that
//! validates against the OASIS schema (`xmllint --schema ../shared/standards/cap/CAP-v1.2.xsd`)
//! and references the messages it follows; refused requests write nothing; the database refuses
//! what the contract refuses; the public Atom feed lists every message.
//!
//! The schema check needs `xmllint` (Debian's libxml2-utils) and `../shared/standards`: under
//! `CI` a missing one fails the test, elsewhere the check is skipped with the reason printed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::public_alert_service_client::PublicAlertServiceClient;
use dispatch_tests::fixtures::{self, ZOCALO};
use dispatch_tests::{
    Authed, Bearer, TestServer, assert_database_refuses, assert_invalid, repo_root, request_id,
};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;

type Client = PublicAlertServiceClient<Authed>;

const WAIT: Duration = Duration::from_secs(10);

fn alerts_as(server: &TestServer, token: &str) -> Client {
    PublicAlertServiceClient::new(InterceptedService::new(
        server.channel.clone(),
        Bearer::new(token),
    ))
}

// ---------------------------------------------------------------------------------------------
// The schema check
// ---------------------------------------------------------------------------------------------

/// `xmllint` and the CAP 1.2 schema, or why the check cannot run (a failure under CI).
struct CapSchema {
    xmllint: PathBuf,
    xsd: PathBuf,
}

fn standards_dir() -> Option<PathBuf> {
    [
        repo_root().join("../shared/standards"),
        PathBuf::from("/work/shared/standards"),
    ]
    .into_iter()
    .find(|dir| dir.join("cap/CAP-v1.2.xsd").is_file())
}

impl CapSchema {
    fn find() -> Option<Self> {
        let strict = std::env::var_os("CI").is_some();
        let xmllint = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("xmllint"))
                .find(|candidate| candidate.is_file())
        });
        let reason = match (&xmllint, standards_dir()) {
            (Some(xmllint), Some(dir)) => {
                return Some(Self {
                    xmllint: xmllint.clone(),
                    xsd: dir.join("cap/CAP-v1.2.xsd"),
                });
            }
            (None, _) => "xmllint is not on PATH (apt-get install libxml2-utils)",
            (_, None) => "../shared/standards/cap/CAP-v1.2.xsd is missing",
        };
        assert!(!strict, "CI: cannot check CAP documents: {reason}");
        eprintln!("skipping the CAP schema check: {reason}");
        None
    }

    /// xmllint's verdict on `document`: Ok, or its complaint.
    fn check(&self, document: &str) -> Result<(), String> {
        use std::io::Write as _;
        let mut child = Command::new(&self.xmllint)
            .args(["--noout", "--schema"])
            .arg(&self.xsd)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running xmllint");
        child
            .stdin
            .take()
            .expect("xmllint's stdin")
            .write_all(document.as_bytes())
            .expect("writing to xmllint");
        let output = child.wait_with_output().expect("xmllint's verdict");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    #[track_caller]
    fn assert_valid(&self, document: &str) {
        if let Err(complaint) = self.check(document) {
            panic!("not a valid CAP 1.2 document: {complaint}\n{document}");
        }
    }
}

/// Every document the tests produce goes through here.
#[track_caller]
fn assert_valid_cap(schema: Option<&CapSchema>, document: &str) {
    if let Some(schema) = schema {
        schema.assert_valid(document);
    }
}

#[test]
fn the_check_accepts_the_oasis_examples_and_refuses_a_broken_document() {
    let Some(schema) = CapSchema::find() else {
        return;
    };
    let dir = standards_dir().expect("found with the schema");
    for n in 1..=4 {
        let path = dir.join(format!("cap/oasis-example-{n}.xml"));
        let example = std::fs::read_to_string(&path).expect("an OASIS example");
        schema.assert_valid(&example);
    }
    let example = std::fs::read_to_string(dir.join("cap/oasis-example-3.xml")).unwrap();
    let broken = [
        // Elements out of the XSD's order.
        example.replace(
            "<status>Actual</status>\n    <msgType>Update</msgType>",
            "<msgType>Update</msgType>\n    <status>Actual</status>",
        ),
        // A value outside CAP's enumeration.
        example.replace("<urgency>Past</urgency>", "<urgency>Soon</urgency>"),
        // A time without its offset.
        example.replace(
            "2003-06-11T20:56:00-07:00</sent>",
            "2003-06-11T20:56:00Z</sent>",
        ),
    ];
    for document in broken {
        assert_ne!(
            document, example,
            "the example changed: fix the replacement"
        );
        assert!(
            schema.check(&document).is_err(),
            "xmllint accepted a broken document:\n{document}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn text(language: &str, event: &str, instruction: &str, area: &str) -> pb::AlertText {
    pb::AlertText {
        language: language.into(),
        event: event.into(),
        headline: format!("{event} & <precaución>"),
        description: String::new(),
        instruction: instruction.into(),
        area_description: area.into(),
    }
}

fn circle(radius_km: f64) -> Option<pb::AlertArea> {
    Some(pb::AlertArea {
        shape: Some(pb::alert_area::Shape::Circle(pb::AlertCircle {
            center: None,
            radius_km,
        })),
    })
}

fn polygon(points: &[(f64, f64)]) -> Option<pb::AlertArea> {
    Some(pb::AlertArea {
        shape: Some(pb::alert_area::Shape::Polygon(pb::Polygon {
            points: points.iter().copied().map(fixtures::geo).collect(),
        })),
    })
}

/// A gas leak warning: evacuate within `area`, in Spanish and English.
fn gas_leak(area: Option<pb::AlertArea>) -> pb::AlertContent {
    pb::AlertContent {
        status: pb::AlertStatus::Actual.into(),
        categories: vec![
            pb::AlertCategory::Safety.into(),
            pb::AlertCategory::Cbrne.into(),
        ],
        response_types: vec![pb::AlertResponseType::Evacuate.into()],
        urgency: pb::AlertUrgency::Immediate.into(),
        severity: pb::AlertSeverity::Severe.into(),
        certainty: pb::AlertCertainty::Observed.into(),
        area,
        texts: vec![
            text(
                "es-MX",
                "Fuga de gas",
                "Evacúe la zona y no encienda aparatos eléctricos.",
                "1.5 km alrededor del Zócalo",
            ),
            text(
                "en-US",
                "Gas leak",
                "Leave the area and do not switch on electrical devices.",
                "1.5 km around the Zócalo",
            ),
        ],
        expire_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() + 3 * 3600,
            nanos: 0,
        }),
    }
}

fn issue(incident: &str, content: pb::AlertContent) -> pb::IssueAlertRequest {
    pb::IssueAlertRequest {
        request_id: request_id(),
        incident: incident.into(),
        content: Some(content),
    }
}

/// The text of the first `<element>` of a document.
fn element<'a>(document: &'a str, element: &str) -> &'a str {
    let open = format!("<{element}>");
    let start = document
        .find(&open)
        .unwrap_or_else(|| panic!("no <{element}> in\n{document}"))
        + open.len();
    let end = document[start..]
        .find(&format!("</{element}>"))
        .expect("closed")
        + start;
    &document[start..end]
}

/// How another message references `alert`: `sender,identifier,sent` (CAP 1.2 §3.2.1).
fn reference_to(alert: &pb::Alert) -> String {
    format!(
        "{},{},{}",
        element(&alert.cap_xml, "sender"),
        element(&alert.cap_xml, "identifier"),
        element(&alert.cap_xml, "sent")
    )
}

async fn audited(server: &TestServer, method: &str, resource: &str) -> Vec<pb::AuditRecord> {
    let deadline = Instant::now() + WAIT;
    loop {
        let request = pb::ListAuditRecordsRequest {
            page_size: 500,
            resource: resource.into(),
            ..Default::default()
        };
        let records: Vec<pb::AuditRecord> =
            fixtures::audit_records(server, &server.admin_token, request)
                .await
                .into_iter()
                .filter(|r| r.method.ends_with(method))
                .collect();
        if !records.is_empty() || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Issue, update, cancel
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_issues_updates_and_cancels_a_warning() {
    let schema = CapSchema::find();
    let server = TestServer::start().await;
    let incident = fixtures::incident_at(&server, ZOCALO).await;
    let mut alerts = alerts_as(&server, &server.token);

    // Issued: a circle around the incident, one <info> per language.
    let request = issue(&incident.name, gas_leak(circle(1.5)));
    let issued_id = request.request_id.clone();
    let original = alerts.issue_alert(request.clone()).await.unwrap();
    let original = original.into_inner().alert.expect("the alert");
    assert_eq!(
        original.message_type,
        i32::from(pb::AlertMessageType::Alert)
    );
    assert_eq!(original.incident, incident.name);
    assert!(original.original.is_empty());
    assert_eq!(original.warning_etag, "v1");
    let xml = &original.cap_xml;
    assert_valid_cap(schema.as_ref(), xml);
    assert_eq!(element(xml, "msgType"), "Alert");
    assert_eq!(element(xml, "scope"), "Public");
    assert_eq!(element(xml, "identifier"), original.identifier);
    assert_eq!(element(xml, "sender"), "dispatchd@localhost");
    assert_eq!(element(xml, "incidents"), incident.folio);
    assert!(
        element(xml, "sent").ends_with("-00:00"),
        "UTC is -00:00 in CAP"
    );
    assert!(!xml.contains("<references>"));
    assert_eq!(xml.matches("<info>").count(), 2);
    assert!(
        xml.contains("<language>es-MX</language>") && xml.contains("<language>en-US</language>")
    );
    assert!(xml.contains("<headline>Fuga de gas &amp; &lt;precaución&gt;</headline>"));
    assert!(xml.contains("<category>CBRNE</category>"));
    assert!(xml.contains("<urgency>Immediate</urgency>"));
    let point = incident.location.as_ref().unwrap().point.as_ref().unwrap();
    let circle_text = element(xml, "circle");
    let (centre, radius) = circle_text.split_once(' ').expect("lat,lon radius");
    assert_eq!(radius, "1.5");
    let (lat, lon) = centre.split_once(',').unwrap();
    assert!((lat.parse::<f64>().unwrap() - point.latitude).abs() < 1e-6);
    assert!((lon.parse::<f64>().unwrap() - point.longitude).abs() < 1e-6);

    // The same request again is the same alert, written once.
    let replay = alerts.issue_alert(request).await.unwrap().into_inner();
    assert_eq!(replay.alert.unwrap().name, original.name);
    assert_eq!(server.count("public_alerts").await, 1);

    // A dispatcher reads it, document and all.
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "dispatcher").await;
    let read = alerts_as(&server, &dispatcher)
        .get_alert(pb::GetAlertRequest {
            name: original.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_eq!(read.cap_xml, original.cap_xml);

    // Updated to a drawn polygon: references the original.
    let ring = [
        (19.425, -99.140),
        (19.440, -99.140),
        (19.440, -99.125),
        (19.425, -99.125),
        (19.425, -99.140),
    ];
    let update = alerts
        .update_alert(pb::UpdateAlertRequest {
            request_id: request_id(),
            name: original.name.clone(),
            etag: original.warning_etag.clone(),
            content: Some(gas_leak(polygon(&ring))),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_valid_cap(schema.as_ref(), &update.cap_xml);
    assert_eq!(update.message_type, i32::from(pb::AlertMessageType::Update));
    assert_eq!(update.original, original.name);
    assert_eq!(update.warning_etag, "v2");
    assert_eq!(element(&update.cap_xml, "msgType"), "Update");
    assert_eq!(
        element(&update.cap_xml, "references"),
        reference_to(&original)
    );
    assert_eq!(
        element(&update.cap_xml, "polygon"),
        "19.425,-99.14 19.44,-99.14 19.44,-99.125 19.425,-99.125 19.425,-99.14"
    );
    assert!(!update.cap_xml.contains("<circle>"));

    // An update from a stale read is refused.
    let stale = alerts
        .update_alert(pb::UpdateAlertRequest {
            request_id: request_id(),
            name: original.name.clone(),
            etag: "v1".into(),
            content: Some(gas_leak(circle(3.0))),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // Cancelled, naming the update: references both earlier messages.
    let cancel = alerts
        .cancel_alert(pb::CancelAlertRequest {
            request_id: request_id(),
            name: update.name.clone(),
            etag: "v2".into(),
            note: "Fuga controlada / leak contained".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    assert_valid_cap(schema.as_ref(), &cancel.cap_xml);
    assert_eq!(cancel.message_type, i32::from(pb::AlertMessageType::Cancel));
    assert_eq!(cancel.original, original.name);
    assert!(cancel.warning_cancelled);
    assert_eq!(element(&cancel.cap_xml, "msgType"), "Cancel");
    assert_eq!(
        element(&cancel.cap_xml, "references"),
        format!("{} {}", reference_to(&original), reference_to(&update))
    );
    assert_eq!(
        element(&cancel.cap_xml, "note"),
        "Fuga controlada / leak contained"
    );

    // Nothing follows a cancel.
    let after = alerts
        .update_alert(pb::UpdateAlertRequest {
            request_id: request_id(),
            name: original.name.clone(),
            etag: String::new(),
            content: Some(gas_leak(circle(1.0))),
        })
        .await
        .unwrap_err();
    assert_eq!(after.code(), Code::FailedPrecondition, "{after:?}");
    let again = alerts
        .cancel_alert(pb::CancelAlertRequest {
            request_id: request_id(),
            name: original.name.clone(),
            etag: String::new(),
            note: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(server.count("public_alerts").await, 3);

    // Listed newest first, by incident.
    let listed = alerts
        .list_alerts(pb::ListAlertsRequest {
            incident: incident.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [&cancel.name, &update.name, &original.name]);

    // Audited like every mutation, as the supervisor who issued it.
    // (The replay is audited too, under the same request id.)
    let issued = audited(&server, "IssueAlert", &original.name).await;
    assert!(!issued.is_empty(), "IssueAlert is not in the audit trail");
    let supervisor = server.whoami(&server.token).await.principal.unwrap().name;
    for record in &issued {
        assert_eq!(record.outcome, i32::from(pb::AuditOutcome::Success));
        assert_eq!(record.request_id, issued_id);
        assert_eq!(record.principal, supervisor);
    }
    assert_eq!(read.issued_by, supervisor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_alerts_write_nothing() {
    let server = TestServer::start().await;
    let incident = fixtures::incident_at(&server, ZOCALO).await;
    let mut alerts = alerts_as(&server, &server.token);
    let issue_with = |edit: &dyn Fn(&mut pb::AlertContent)| {
        let mut content = gas_leak(circle(1.5));
        edit(&mut content);
        issue(&incident.name, content)
    };
    let cases: Vec<(&str, pb::IssueAlertRequest, Vec<&str>)> = vec![
        (
            "unspecified urgency",
            issue_with(&|c| c.urgency = 0),
            vec!["content.urgency"],
        ),
        (
            "unknown severity",
            issue_with(&|c| c.severity = 99),
            vec!["content.severity"],
        ),
        (
            "empty instruction",
            issue_with(&|c| c.texts[1].instruction = "  ".into()),
            vec!["content.texts[1].instruction"],
        ),
        (
            "polygon not closed",
            issue_with(&|c| {
                c.area = polygon(&[
                    (19.42, -99.14),
                    (19.44, -99.14),
                    (19.44, -99.12),
                    (19.42, -99.12),
                ]);
            }),
            vec!["content.area.polygon.points"],
        ),
        (
            "radius out of range",
            issue_with(&|c| c.area = circle(900.0)),
            vec!["content.area.circle.radius_km"],
        ),
        (
            "zero radius",
            issue_with(&|c| c.area = circle(0.0)),
            vec!["content.area.circle.radius_km"],
        ),
        (
            "no English",
            issue_with(&|c| {
                c.texts.pop();
            }),
            vec!["content.texts"],
        ),
        (
            "a draft",
            issue_with(&|c| c.status = pb::AlertStatus::Draft.into()),
            vec!["content.status"],
        ),
        (
            "a control character",
            issue_with(&|c| c.texts[0].event = "Fuga\u{7}".into()),
            vec!["content.texts[0].event"],
        ),
        (
            "no area, bad language",
            issue_with(&|c| {
                c.area = None;
                c.texts[0].language = "es_MX".into();
            }),
            vec!["content.area", "content.texts[0].language", "content.texts"],
        ),
    ];
    for (what, request, fields) in cases {
        assert_invalid(alerts.issue_alert(request).await, what, &fields);
    }
    let unknown = issue(
        &format!("incidents/{}", uuid::Uuid::new_v4()),
        gas_leak(circle(1.0)),
    );
    let status = alerts.issue_alert(unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // Only supervisors issue; dispatchers read, call takers do not.
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "dispatcher").await;
    let denied = alerts_as(&server, &dispatcher)
        .issue_alert(issue(&incident.name, gas_leak(circle(1.0))))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let listed = alerts_as(&server, &dispatcher)
        .list_alerts(pb::ListAlertsRequest::default())
        .await
        .unwrap();
    assert!(listed.into_inner().alerts.is_empty());
    let (_, call_taker) = server.person(pb::Role::CallTaker, "call-taker").await;
    let denied = alerts_as(&server, &call_taker)
        .list_alerts(pb::ListAlertsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    assert_eq!(server.count("public_alerts").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_keeps_warnings_consistent() {
    let server = TestServer::start().await;
    let incident = fixtures::incident_at(&server, ZOCALO).await;
    let other = fixtures::incident_at(&server, (19.30, -99.20)).await;
    let mut alerts = alerts_as(&server, &server.token);
    let original = alerts
        .issue_alert(issue(&incident.name, gas_leak(circle(1.0))))
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    let id = original.name.trim_start_matches("alerts/");
    let incident_id = incident.name.trim_start_matches("incidents/");
    let other_id = other.name.trim_start_matches("incidents/");
    let insert = |msg_type: &str, original: &str, sender: &str, incident: &str| {
        format!(
            "INSERT INTO public_alerts (id, identifier, sender, sent, sent_at, status, msg_type, \
             original_id, original_sender, incident_id, issued_by, headline, cap_xml) VALUES \
             (gen_random_uuid(), gen_random_uuid()::text, '{sender}', '2026-12-04T05:00:00-06:00', \
             now(), 'Actual', '{msg_type}', '{original}', '{sender}', '{incident}', 'sql', '', '<alert/>')"
        )
    };
    let mut conn = server.db().await;
    let missing = uuid::Uuid::new_v4().to_string();
    let refused = [
        (
            insert("Update", &missing, "dispatchd@localhost", incident_id),
            "foreign key",
        ),
        (
            insert("Update", id, "another@centre", incident_id),
            "foreign key",
        ),
        (
            insert("Cancel", id, "dispatchd@localhost", other_id),
            "another incident",
        ),
        (
            "UPDATE public_alerts SET headline = 'x'".to_owned(),
            "append-only",
        ),
        ("DELETE FROM public_alerts".to_owned(), "append-only"),
    ];
    for (statement, why) in &refused {
        assert_database_refuses(&mut conn, &[statement.as_str()], why).await;
    }
    server
        .run_sql(&insert("Cancel", id, "dispatchd@localhost", incident_id))
        .await;
    assert_database_refuses(
        &mut conn,
        &[&insert("Update", id, "dispatchd@localhost", incident_id)],
        "is cancelled",
    )
    .await;
    assert_eq!(server.count("public_alerts").await, 2);
}

// ---------------------------------------------------------------------------------------------
// The public feed over HTTP
// ---------------------------------------------------------------------------------------------

/// `GET path` on the exchange listener, without credentials (the feed is public): the status,
/// the content type and the body. `Connection: close`, so the body is what remains.
async fn http_get(server: &TestServer, path: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(server.exchange_address)
        .await
        .expect("connecting to the exchange listener");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.exchange_address
    );
    stream.write_all(head.as_bytes()).await.expect("writing");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("reading");
    let raw = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let content_type = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a whole document is sent with its length"
    );
    (status, content_type, body.to_owned())
}

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// The first Atom element `name` under `node`.
fn atom_child<'a, 'input>(
    node: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    node.children()
        .find(|c| c.tag_name().name() == name && c.tag_name().namespace() == Some(ATOM))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_atom_feed_lists_every_message_and_links_its_cap_document() {
    let schema = CapSchema::find();
    let server = TestServer::start().await;
    let incident = fixtures::incident_at(&server, ZOCALO).await;
    let mut alerts = alerts_as(&server, &server.token);
    let first = alerts
        .issue_alert(issue(&incident.name, gas_leak(circle(2.0))))
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    let update = alerts
        .update_alert(pb::UpdateAlertRequest {
            request_id: request_id(),
            name: first.name.clone(),
            etag: String::new(),
            content: Some(gas_leak(circle(3.0))),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();
    let cancel = alerts
        .cancel_alert(pb::CancelAlertRequest {
            request_id: request_id(),
            name: first.name.clone(),
            etag: String::new(),
            note: "leak contained".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .alert
        .unwrap();

    let (status, content_type, body) = http_get(&server, "/cap/alerts.atom").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/atom+xml");
    let feed = roxmltree::Document::parse(&body).expect("the feed is well-formed XML");
    let root = feed.root_element();
    assert_eq!(root.tag_name().namespace(), Some(ATOM));
    assert_eq!(root.tag_name().name(), "feed");
    for required in ["id", "title", "updated", "author"] {
        assert!(
            atom_child(root, required).is_some(),
            "the feed has no <{required}>"
        );
    }
    let entries: Vec<_> = root
        .children()
        .filter(|c| c.tag_name().name() == "entry")
        .collect();
    assert_eq!(entries.len(), 3, "{body}");

    // Newest first; each entry links its CAP document, which is the message as issued.
    let expected = [&cancel, &update, &first];
    let base = format!("http://{}", server.exchange_address);
    for (entry, message) in entries.iter().zip(expected) {
        let id = atom_child(*entry, "id")
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert_eq!(
            id,
            format!("urn:uuid:{}", message.name.trim_start_matches("alerts/"))
        );
        assert!(atom_child(*entry, "updated").is_some() && atom_child(*entry, "title").is_some());
        let link = atom_child(*entry, "link").expect("an entry links its document");
        assert_eq!(link.attribute("rel"), Some("alternate"));
        assert_eq!(link.attribute("type"), Some("application/cap+xml"));
        let href = link.attribute("href").expect("href");
        let path = href
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("{href} is not under {base}"));
        assert_eq!(path, format!("/cap/alerts/{}.xml", message.identifier));
        let (status, content_type, document) = http_get(&server, path).await;
        assert_eq!(status, 200, "{path}: {document}");
        assert_eq!(content_type, "application/cap+xml");
        assert_eq!(document, message.cap_xml);
        assert_valid_cap(schema.as_ref(), &document);
    }
    let titles: Vec<&str> = entries
        .iter()
        .filter_map(|e| atom_child(*e, "title").and_then(|t| t.text()))
        .collect();
    assert!(
        titles[0].starts_with("Cancel: ") && titles[1].starts_with("Update: "),
        "{titles:?}"
    );

    // Nothing else is served there.
    let missing = format!("/cap/alerts/{}.xml", uuid::Uuid::new_v4());
    assert_eq!(http_get(&server, &missing).await.0, 404);
    assert_eq!(http_get(&server, "/cap/alerts/a%20b.xml").await.0, 404);
    assert_eq!(
        http_get(&server, &format!("/cap/alerts/{}", first.identifier))
            .await
            .0,
        404
    );
}
