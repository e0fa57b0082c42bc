//! Subscriptions to incidents as EIDOs (issue 19, NENA-STA-024): a subscriber written in another
//! language (Python `websockets`, `tests/sta024_client.py`) subscribes over the standard's
//! WebSocket on one `dispatchd` while incidents change through another on the same database,
//! and receives a notification with a valid EIDO for each change; unsubscribes and is
//! terminated with the standard's codes; is refused without a good credential and cut off when
//! its credential is revoked; and its filter keeps out what it should. WatchIncidentEidos, the
//! same stream over gRPC, resumes without a gap.
//!
//! Tools: `python3` with `websockets` (`pip install websockets`; `.ci/run` installs it). Without
//! it the WebSocket tests say why and pass, except under `CI`, where they fail.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tonic::Code;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::watch_incident_eidos_response::Item;
use dispatch_tests::fixtures::{
    self, ZOCALO, add_note, close_incident, incident_at, next_message, offset, open_from,
};
use dispatch_tests::{TestServer, repo_root, request_id, violated_fields};

/// How long anything owed may take: generous, never a sleep.
const WAIT_S: f64 = 15.0;
const SUBPROTOCOL: &str = "emergency-ent1.0";

async fn two_servers() -> (TestServer, TestServer) {
    let notifier = TestServer::start().await;
    let other = TestServer::start_on(
        dispatch_server::Config::defaults(),
        notifier.database_url.clone(),
    )
    .await;
    (notifier, other)
}

/// Every EIDO a test sees is checked against NENA's schema.
fn assert_valid(eido: &Value) {
    let id = eido["$id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("urn:emergency:uid:incidentid:"),
        "an EIDO's $id is its incident tracking id: {eido}"
    );
}

/// The incident an EIDO is about, as `incidents/{uuid}`.
fn incident_of(eido: &Value) -> String {
    let id = eido["$id"].as_str().expect("$id");
    let uuid = id
        .strip_prefix("urn:emergency:uid:incidentid:")
        .and_then(|rest| rest.split(':').next())
        .expect("an incident tracking id");
    format!("incidents/{}", uuid::Uuid::parse_str(uuid).expect("a uuid"))
}

/// The incident's status as the EIDO tells it (our own status text).
fn status_of(eido: &Value) -> &str {
    eido["incidentComponent"]["incidentStatusInternalText"][0]
        .as_str()
        .unwrap_or_default()
}

/// What the Python subscriber reported.
#[derive(Debug, Clone, PartialEq)]
enum Received {
    Message(Value),
    Closed { code: Option<i64>, reason: String },
}

/// The Python subscriber, one JSON command per line.
struct Subscriber {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Subscriber {
    /// The subscriber; `None` (saying why) when python3 or its `websockets` module is missing,
    /// except under `CI`, where that fails the test.
    async fn start() -> Option<Self> {
        let found = std::process::Command::new("python3")
            .args(["-c", "import websockets"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            let why = "python3 with the websockets module is needed (pip install websockets)";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return None;
        }
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/sta024_client.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting tests/sta024_client.py");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Some(Self {
            child,
            stdin,
            lines,
        })
    }

    async fn command(&mut self, command: Value) -> Value {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("writing to the subscriber");
        let answer = tokio::time::timeout(
            Duration::from_secs_f64(WAIT_S + 5.0),
            self.lines.next_line(),
        )
        .await
        .expect("the subscriber answers in time")
        .expect("reading the subscriber")
        .unwrap_or_else(|| panic!("the subscriber ended: {:?}", self.child.try_wait()));
        serde_json::from_str(&answer).expect("the subscriber answers JSON")
    }

    /// Opens the WebSocket with `token`: the sub-protocol chosen, or the HTTP status refusing.
    async fn connect(&mut self, server: &TestServer, token: &str) -> Result<Option<String>, u16> {
        let url = format!("ws://{}/IncidentData/ent", server.exchange_address);
        let answer = self
            .command(json!({"op": "connect", "url": url, "token": token}))
            .await;
        match answer.get("refused") {
            Some(status) => Err(u16::try_from(status.as_u64().expect("a status")).expect("u16")),
            None => Ok(answer["connected"].as_str().map(str::to_owned)),
        }
    }

    async fn send(&mut self, message: Value) {
        let answer = self
            .command(json!({"op": "send", "message": message}))
            .await;
        assert_eq!(answer, json!({"sent": true}));
    }

    async fn receive(&mut self) -> Received {
        let answer = self.command(json!({"op": "recv", "timeout": WAIT_S})).await;
        if let Some(message) = answer.get("message") {
            return Received::Message(message.clone());
        }
        if let Some(closed) = answer.get("closed") {
            return Received::Closed {
                code: closed["code"].as_i64(),
                reason: closed["reason"].as_str().unwrap_or_default().to_owned(),
            };
        }
        panic!("nothing arrived within {WAIT_S} s: {answer}");
    }

    /// The next message, which must be a `kind` object: its body.
    async fn expect(&mut self, kind: &str) -> Value {
        match self.receive().await {
            Received::Message(message) => match message.get(kind) {
                Some(body) => body.clone(),
                None => panic!("expected {kind}, got {message}"),
            },
            closed => panic!("expected {kind}, got {closed:?}"),
        }
    }

    /// The next notification, acknowledged as the standard asks: its EIDOs (each checked) and
    /// its sequence.
    async fn notification(&mut self, subscription: &str) -> (Vec<Value>, i64) {
        let event = self.expect("event").await;
        assert_eq!(event["subscriptionId"], subscription, "{event}");
        let transaction = event["transactionId"].as_str().expect("transactionId");
        self.send(json!({"eventResponse": {
            "transactionId": transaction, "statusCode": 200, "statusText": "OK"
        }}))
        .await;
        let eidos = event["notification"]
            .as_array()
            .expect("notification")
            .clone();
        for eido in &eidos {
            assert_valid(eido);
        }
        let sequence = event["dispatchSequence"]
            .as_i64()
            .expect("dispatchSequence");
        (eidos, sequence)
    }

    /// Subscribes; returns the subscription's id.
    async fn subscribe(&mut self, request: Value) -> String {
        let request_id = request["requestId"].clone();
        self.send(json!({ "subscribe": request })).await;
        let response = self.expect("subscribeResponse").await;
        assert_eq!(response["requestId"], request_id, "{response}");
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["statusText"], "OK");
        response["subscriptionId"]
            .as_str()
            .expect("a subscriptionId")
            .to_owned()
    }
}

fn new_incidents(request_id: &str) -> Value {
    json!({"requestId": request_id, "requestType": "EIDO", "requestSubType": "new",
           "requestAccepts": "application/emergency.eido+json", "expires": 600})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_subscriber_follows_incidents_changed_on_another_dispatchd() {
    let Some(mut client) = Subscriber::start().await else {
        return;
    };
    let (notifier, other) = two_servers().await;
    let before = incident_at(&other, ZOCALO).await;
    let (_, token) = notifier
        .person(pb::Role::Dispatcher, "neighbouring-psap")
        .await;
    assert_eq!(
        client.connect(&notifier, &token).await,
        Ok(Some(SUBPROTOCOL.to_owned()))
    );

    let subscription = client.subscribe(new_incidents("r1")).await;
    // At once: every active incident, in one notification.
    let (snapshot, mut last) = client.notification(&subscription).await;
    let shown: Vec<String> = snapshot.iter().map(incident_of).collect();
    assert_eq!(shown, [before.name.as_str()]);

    // Changes made through the other dispatchd, each notified with the incident's EIDO.
    let during = incident_at(&other, offset(ZOCALO, 1.0, 0.0)).await;
    add_note(&other, &during.name, "humo en el segundo piso").await;
    close_incident(&other, &before.name, pb::ClosingCode::Confirmed, "resuelto")
        .await
        .expect("close");
    let mut seen = Vec::new();
    loop {
        let (eidos, sequence) = client.notification(&subscription).await;
        assert!(
            sequence > last,
            "sequences increase: {sequence} after {last}"
        );
        last = sequence;
        let [eido] = eidos.as_slice() else {
            panic!("one EIDO per change: {eidos:?}");
        };
        seen.push((incident_of(eido), status_of(eido).to_owned()));
        if incident_of(eido) == before.name && status_of(eido) == "closed" {
            break;
        }
    }
    assert!(
        seen.iter()
            .filter(|(incident, _)| *incident == during.name)
            .count()
            >= 2,
        "the new incident, then its note: {seen:?}"
    );
    let (last_incident, last_status) = seen.last().expect("seen");
    assert_eq!(
        (last_incident, last_status.as_str()),
        (&before.name, "closed")
    );

    // Unsubscribing ends it (200); it no longer exists (481).
    for code in [200, 481] {
        client
            .send(json!({"unsubscribe": {"requestId": "r2", "subscriptionId": subscription}}))
            .await;
        let response = client.expect("unsubscribeResponse").await;
        assert_eq!(
            (&response["requestId"], &response["subscriptionId"]),
            (&json!("r2"), &json!(subscription))
        );
        assert_eq!(response["statusCode"], code, "{response}");
    }

    // A change while not subscribed is not lost to a subscriber resuming after its last
    // sequence (the dispatchAfterSequence extension): no snapshot, the missed change first.
    add_note(&other, &during.name, "llegan bomberos").await;
    let resumed = client
        .subscribe(json!({"requestId": "r3", "requestType": "EIDO",
                          "dispatchAfterSequence": last}))
        .await;
    let (eidos, sequence) = client.notification(&resumed).await;
    assert!(sequence > last);
    assert_eq!(
        eidos.iter().map(incident_of).collect::<Vec<_>>(),
        [during.name.as_str()]
    );

    // The subscriber closes the WebSocket; its subscriptions end with it.
    let closed = client.command(json!({"op": "close"})).await;
    assert_eq!(closed["closed"]["code"], 1000, "{closed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_takes_the_same_credentials_and_roles_as_grpc() {
    let Some(mut client) = Subscriber::start().await else {
        return;
    };
    let server = TestServer::start().await;
    assert_eq!(client.connect(&server, "not-a-token").await, Err(401));
    let police = fixtures::agency(&server, "SSC", pb::AgencyKind::Police).await;
    let unit = fixtures::unit(&server, &police, "P-01", pb::UnitType::Patrol).await;
    let (_, field_unit) = server
        .principal(pb::Role::FieldUnit, "patrol", Some(&unit.name), None)
        .await;
    let (_, gateway) = server.person(pb::Role::Gateway, "carrier").await;
    for token in [field_unit, gateway] {
        assert_eq!(client.connect(&server, &token).await, Err(403));
    }
    let (_, call_taker) = server.person(pb::Role::CallTaker, "operadora").await;
    assert!(client.connect(&server, &call_taker).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_terminates_the_subscriptions_and_closes_the_websocket() {
    let Some(mut client) = Subscriber::start().await else {
        return;
    };
    let (notifier, other) = two_servers().await;
    let (_, token) = notifier.person(pb::Role::Supervisor, "state-agency").await;
    let credential = notifier.whoami(&token).await.credential;
    assert!(client.connect(&notifier, &token).await.is_ok());
    let subscription = client.subscribe(new_incidents("r1")).await;
    let (snapshot, _) = client.notification(&subscription).await;
    assert!(
        snapshot.is_empty(),
        "an empty notification when nothing matches"
    );

    // Revoked through the other dispatchd: the notifier hears of it from the feed.
    other
        .directory_as(&other.admin_token)
        .revoke_credential(pb::RevokeCredentialRequest {
            request_id: request_id(),
            name: credential,
            reason: "contract ended".into(),
        })
        .await
        .expect("revoke");
    let terminate = client.expect("terminate").await;
    assert_eq!(terminate["subscriptionId"], subscription, "{terminate}");
    assert!(
        terminate["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    match client.receive().await {
        Received::Closed { code, reason } => {
            assert_eq!(code, Some(1008));
            assert!(reason.contains("revoked"), "{reason}");
        }
        other => panic!("the WebSocket closes: {other:?}"),
    }
    assert_eq!(client.connect(&notifier, &token).await, Err(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_filter_keeps_out_what_it_should() {
    let Some(mut client) = Subscriber::start().await else {
        return;
    };
    let (notifier, other) = two_servers().await;
    let (_, token) = notifier.person(pb::Role::Dispatcher, "fire-agency").await;
    assert!(client.connect(&notifier, &token).await.is_ok());
    let filter = json!({
        "area": {"circle": {"latitude": ZOCALO.0, "longitude": ZOCALO.1, "radiusMeters": 2000}},
        "incidentTypes": ["FIRE-STRUCTURE"],
    });
    let subscription = client
        .subscribe(
            json!({"requestId": "r1", "requestType": "EIDO", "requestSubType": "new",
                          "qualFilter": filter.to_string()}),
        )
        .await;
    let (snapshot, _) = client.notification(&subscription).await;
    assert!(snapshot.is_empty());

    let fire = |at| fixtures::call_at(at, 10.0);
    // Outside the circle, and inside it but of another type: neither is notified, so the
    // first notification is the fire inside the circle made after them.
    open_from(&other, fire(offset(ZOCALO, 20.0, 0.0)), "FIRE-STRUCTURE").await;
    open_from(&other, fire(offset(ZOCALO, 0.5, 0.0)), "CRIME-ROBBERY").await;
    let inside = open_from(&other, fire(offset(ZOCALO, 0.0, 1.0)), "FIRE-STRUCTURE").await;
    let (eidos, _) = client.notification(&subscription).await;
    assert_eq!(
        eidos.iter().map(incident_of).collect::<Vec<_>>(),
        [inside.name.as_str()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_answered_with_the_standards_codes() {
    let Some(mut client) = Subscriber::start().await else {
        return;
    };
    let server = TestServer::start().await;
    let (_, token) = server.person(pb::Role::Dispatcher, "psap").await;
    assert!(client.connect(&server, &token).await.is_ok());
    let expect_code = async |client: &mut Subscriber, message: Value, kind: &str, code: i64| {
        client.send(message.clone()).await;
        let answer = client.expect(kind).await;
        assert_eq!(answer["statusCode"], code, "{message} -> {answer}");
        answer["statusText"].as_str().unwrap_or_default().to_owned()
    };
    let text = expect_code(
        &mut client,
        json!({"subscribe": {"requestType": "EIDO"}}),
        "subscribeResponse",
        400,
    )
    .await;
    assert!(text.contains("subscribe.requestId"), "{text}");
    expect_code(&mut client, json!({"publish": {}}), "response", 501).await;
    let text = expect_code(
        &mut client,
        json!({"subscribe": {"requestId": "r", "requestType": "EIDO",
                             "qualFilter": r#"{"incidentTypes":["NOT-A-TYPE"]}"#}}),
        "subscribeResponse",
        400,
    )
    .await;
    assert!(text.contains("qualFilter.incidentTypes[0]"), "{text}");
    expect_code(
        &mut client,
        json!({"subscribe": {"requestId": "r", "requestType": "CAP"}}),
        "subscribeResponse",
        406,
    )
    .await;
    let missing = format!(
        "urn:emergency:uid:incidentid:{}:example.org",
        uuid::Uuid::new_v4().simple()
    );
    expect_code(
        &mut client,
        json!({"subscribe": {"requestId": "r", "requestType": "EIDO",
                             "requestSubType": "single", "incidentId": missing}}),
        "subscribeResponse",
        404,
    )
    .await;
    expect_code(
        &mut client,
        json!({"subscribe": {"requestId": "r", "subscriptionId": "nope", "expires": 60}}),
        "subscribeResponse",
        481,
    )
    .await;

    // A single incident's subscription, renewed.
    let incident = incident_at(&server, ZOCALO).await;
    let single = client
        .subscribe(
            json!({"requestId": "s", "requestType": "EIDO", "requestSubType": "single",
                          "incidentId": incident.name}),
        )
        .await;
    let (eidos, _) = client.notification(&single).await;
    assert_eq!(
        eidos.iter().map(incident_of).collect::<Vec<_>>(),
        [incident.name.as_str()]
    );
    client
        .send(
            json!({"subscribe": {"requestId": "renew", "subscriptionId": single, "expires": 120}}),
        )
        .await;
    let renewed = client.expect("subscribeResponse").await;
    assert_eq!(
        (&renewed["statusCode"], &renewed["expires"]),
        (&json!(200), &json!(120))
    );
}

type Eidos = tonic::Streaming<pb::WatchIncidentEidosResponse>;

async fn watch(server: &TestServer, request: pb::WatchIncidentEidosRequest) -> Eidos {
    pb::incident_exchange_service_client::IncidentExchangeServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(
            server.channel.clone(),
            dispatch_tests::Bearer::new(&server.token),
        ),
    )
    .watch_incident_eidos(request)
    .await
    .expect("watch incident EIDOs")
    .into_inner()
}

fn eido_json(eido: Option<&pb::IncidentEido>) -> Value {
    let eido = eido.expect("an EIDO");
    let value: Value = serde_json::from_str(&eido.eido_json).expect("EIDO JSON");
    assert_valid(&value);
    assert_eq!(incident_of(&value), eido.incident);
    value
}

/// Events (heartbeats skipped) until one about `incident` whose EIDO `last` accepts.
async fn events_until(
    stream: &mut Eidos,
    incident: &str,
    last: impl Fn(&Value) -> bool,
) -> Vec<pb::IncidentEidoEvent> {
    let mut events = Vec::new();
    loop {
        match next_message(stream).await.item.expect("an item") {
            Item::Event(event) => {
                let eido = eido_json(event.eido.as_ref());
                let done = incident_of(&eido) == incident && last(&eido);
                events.push(event);
                if done {
                    return events;
                }
            }
            Item::Heartbeat(_) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    position: i64,
}

/// The feed positions of events about incidents in `(after, until]`, as the database has them.
async fn incident_positions(server: &TestServer, after: i64, until: i64) -> Vec<i64> {
    use diesel_async::RunQueryDsl as _;
    let mut conn = server.db().await;
    diesel::sql_query(
        "SELECT f.position FROM event_feed f JOIN events e ON e.seq = f.seq \
         WHERE e.incident_id IS NOT NULL AND f.position > $1 AND f.position <= $2 ORDER BY 1",
    )
    .bind::<diesel::sql_types::BigInt, _>(after)
    .bind::<diesel::sql_types::BigInt, _>(until)
    .load::<Position>(&mut conn)
    .await
    .expect("positions")
    .into_iter()
    .map(|p| p.position)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_incident_eidos_resumes_without_a_gap() {
    let (notifier, other) = two_servers().await;
    let first = incident_at(&other, ZOCALO).await;
    let mut stream = watch(&notifier, pb::WatchIncidentEidosRequest::default()).await;
    let mut snapshot = Vec::new();
    let resume_from = loop {
        match next_message(&mut stream).await.item.expect("an item") {
            Item::Snapshot(eido) => snapshot.push(incident_of(&eido_json(Some(&eido)))),
            Item::SnapshotComplete(done) => break done.sequence,
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    };
    assert_eq!(snapshot, [first.name.as_str()]);
    add_note(&other, &first.name, "primera nota").await;
    let seen = events_until(&mut stream, &first.name, |_| true).await;
    let last = seen.last().expect("an event").sequence;
    drop(stream);

    // While the subscriber is away: a note, a close, a new incident.
    add_note(&other, &first.name, "segunda nota").await;
    close_incident(&other, &first.name, pb::ClosingCode::Confirmed, "resuelto")
        .await
        .expect("close");
    let second = incident_at(&other, offset(ZOCALO, 1.0, 1.0)).await;
    let mut resumed = watch(
        &notifier,
        pb::WatchIncidentEidosRequest {
            after_sequence: last,
            ..Default::default()
        },
    )
    .await;
    let missed = events_until(&mut resumed, &second.name, |_| true).await;
    let sequences: Vec<i64> = missed.iter().map(|e| e.sequence).collect();
    let until = *sequences.last().expect("events");
    // Every incident event after the resume point, each once, in order: no gap.
    assert_eq!(sequences, incident_positions(&notifier, last, until).await);
    let closed: BTreeSet<String> = missed
        .iter()
        .map(|e| eido_json(e.eido.as_ref()))
        .filter(|eido| status_of(eido) == "closed")
        .map(|eido| incident_of(&eido))
        .collect();
    assert_eq!(closed, BTreeSet::from([first.name.clone()]));
    // Everything seen before the resume point was before it.
    assert!(
        seen.iter()
            .all(|e| e.sequence > resume_from && e.sequence <= last)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_incident_eidos_refuses_bad_filters_and_roles_that_may_not_see_incidents() {
    let server = TestServer::start().await;
    let mut client = pb::incident_exchange_service_client::IncidentExchangeServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(
            server.channel.clone(),
            dispatch_tests::Bearer::new(&server.token),
        ),
    );
    let refused = client
        .watch_incident_eidos(pb::WatchIncidentEidosRequest {
            incident_types: vec!["NOT-A-TYPE".into()],
            area: Some(pb::watch_incident_eidos_request::Area::Circle(
                pb::GeoCircle {
                    center: fixtures::point(ZOCALO),
                    radius_meters: 0.0,
                },
            )),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), ["circle.radius_meters"]);
    let refused = client
        .watch_incident_eidos(pb::WatchIncidentEidosRequest {
            incident_types: vec!["NOT-A-TYPE".into()],
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(violated_fields(&refused), ["incident_types[0]"]);
    let (_, gateway) = server.person(pb::Role::Gateway, "carrier").await;
    let refused = pb::incident_exchange_service_client::IncidentExchangeServiceClient::new(
        tonic::service::interceptor::InterceptedService::new(
            server.channel.clone(),
            dispatch_tests::Bearer::new(&gateway),
        ),
    )
    .watch_incident_eidos(pb::WatchIncidentEidosRequest::default())
    .await
    .expect_err("refused");
    assert_eq!(refused.code(), Code::PermissionDenied);
}
