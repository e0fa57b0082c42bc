//! Revocation ends open streams (issue 15): a credential that stops being valid (revoked,
//! expired, its principal disabled or changed) ends every stream opened with it with
//! UNAUTHENTICATED, on the process that made the change before it answers and on another
//! process sharing the database within a second, and its tokens are refused there as promptly.
//!
//! The cut-off times are printed (`cargo test -p dispatch-tests --test e2e revocation:: --
//! --nocapture`).

use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{self, get_principal, mask, point, set_status};
use dispatch_tests::{TestServer, request_id, violated_fields};
use tokio::sync::mpsc;
use tonic::Code;

/// How long anything owed may take: generous, never a sleep.
const WAIT: Duration = Duration::from_secs(15);
/// The issue's target for another process: revoke-return (or expire_time) plus this.
const TARGET: Duration = Duration::from_secs(1);
const ZOCALO: (f64, f64) = (19.432_608, -99.133_209);

fn config() -> dispatch_server::Config {
    let mut config = dispatch_server::Config::defaults();
    // Every position report is an event; no heartbeat interleaves with what is asserted.
    config.position_announce_interval = Duration::ZERO;
    config.watch_heartbeat = Duration::from_secs(3600);
    config
}

async fn two_servers() -> (TestServer, TestServer) {
    let first = TestServer::start_with(config()).await;
    let second = TestServer::start_on(config(), first.database_url.clone()).await;
    (first, second)
}

fn timestamp(time: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).expect("nanos"),
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// `at - since` in milliseconds, negative when `at` came first.
fn signed_millis(at: Instant, since: Instant) -> f64 {
    match at.checked_duration_since(since) {
        Some(after) => millis(after),
        None => -millis(since - at),
    }
}

/// What the centre has: an agency with two units, a partner agency serving the centre.
struct City {
    agency: String,
    /// The field unit's own unit.
    unit: String,
    /// A unit whose status changes show on WatchUnits.
    other_unit: String,
    partner: String,
}

async fn city(server: &TestServer) -> City {
    let agency = fixtures::agency(server, "SSC", pb::AgencyKind::Police).await;
    let mut units = Vec::new();
    for call_sign in ["P-01", "P-02"] {
        let unit = fixtures::unit(server, &agency, call_sign, pb::UnitType::Patrol).await;
        units.push(unit.name);
    }
    let area = fixtures::square_area("Centro", fixtures::CENTRE);
    let (kind, need) = (
        pb::PartnerKind::WomensCentre,
        pb::ReferralNeed::Psychological,
    );
    let spec = fixtures::partner_agency("LUNA-CENTRO", "LUNA Centro", kind, need, area);
    let partner = fixtures::create_partner(
        server,
        pb::PartnerAgency {
            capacity: fixtures::capacity(50, 50),
            location: point(ZOCALO),
            ..spec
        },
    )
    .await
    .name;
    let other_unit = units.pop().expect("two units");
    let unit = units.pop().expect("two units");
    City {
        agency,
        unit,
        other_unit,
        partner,
    }
}

async fn incident(server: &TestServer) -> String {
    let call = pb::CreateCallRequest {
        account: "una mujer pide ayuda".into(),
        ..fixtures::call_at(ZOCALO, 10.0)
    };
    fixtures::open_from(server, call, "").await.name
}

/// Adds a note with a text of its own to `incident` and returns the text: one event, the last
/// one a WatchIncidents stream sees until something else changes.
async fn note(server: &TestServer, incident: &str) -> String {
    let text = format!("sentinel {}", uuid::Uuid::new_v4());
    fixtures::add_note(server, incident, &text).await;
    text
}

async fn refer(server: &TestServer, incident: &str, partner: &str) -> String {
    let need = pb::ReferralNeed::Psychological;
    let request = fixtures::referral_request(incident, partner, need, "Rosa");
    fixtures::refer(server, request).await.name
}

/// The credential of a token, read back from the server.
async fn credential_of(server: &TestServer, token: &str) -> String {
    server.whoami(token).await.credential
}

/// Revokes a credential (as the admin) and says when the response arrived.
async fn revoke(server: &TestServer, credential: &str) -> Instant {
    server
        .directory_as(&server.admin_token)
        .revoke_credential(pb::RevokeCredentialRequest {
            request_id: request_id(),
            name: credential.into(),
            reason: "device lost".into(),
        })
        .await
        .expect("revoke");
    Instant::now()
}

/// A bearer token that expires at `at`.
async fn expiring_token(
    server: &TestServer,
    principal: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    server
        .directory_as(&server.admin_token)
        .issue_credential(pb::IssueCredentialRequest {
            request_id: request_id(),
            principal: principal.into(),
            kind: pb::CredentialKind::BearerToken.into(),
            description: "expires soon".into(),
            expire_time: Some(timestamp(at)),
            ..Default::default()
        })
        .await
        .expect("issue credential")
        .into_inner()
        .token
}

/// What a tap saw, when.
#[derive(Debug)]
enum Seen {
    Message(Instant, String),
    End(Instant, tonic::Status),
}

/// A stream read by a task of its own, so nothing it sends waits on the test.
struct Tap {
    label: String,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Tap {
    /// A tap on a Watch stream `what` opened, from the end of its snapshot on: changes made
    /// before the snapshot completes may be covered by it, not sent.
    async fn after_snapshot<T: std::fmt::Debug + Send + 'static>(
        label: String,
        opened: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
        what: &str,
    ) -> Self {
        let mut tap = Tap::stream(label, opened.expect(what).into_inner());
        tap.until("SnapshotComplete").await;
        tap
    }

    fn stream<T: std::fmt::Debug + Send + 'static>(
        label: String,
        mut stream: tonic::Streaming<T>,
    ) -> Self {
        let (sender, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match stream.message().await {
                    Ok(Some(message)) => {
                        let _ = sender.send(Seen::Message(Instant::now(), format!("{message:?}")));
                    }
                    Ok(None) => {
                        let _ = sender.send(Seen::End(Instant::now(), tonic::Status::ok("")));
                        return;
                    }
                    Err(status) => {
                        let _ = sender.send(Seen::End(Instant::now(), status));
                        return;
                    }
                }
            }
        });
        Self { label, seen }
    }

    /// Waits for a message mentioning `text`.
    async fn until(&mut self, text: &str) {
        let mut skipped = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.seen.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: nothing mentioning {text} in time; before: {skipped:#?}",
                        self.label
                    )
                }) {
                Some(Seen::Message(_, message)) if message.contains(text) => return,
                Some(Seen::Message(_, message)) => skipped.push(message),
                other => panic!("{}: ended before {text}: {other:?}", self.label),
            }
        }
    }

    /// Waits for the end: every message before it (with when it came), then the status.
    async fn end(&mut self) -> (Vec<(Instant, String)>, Instant, tonic::Status) {
        let mut messages = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("{}: the stream did not end in time", self.label))
            {
                Some(Seen::Message(at, message)) => messages.push((at, message)),
                Some(Seen::End(at, status)) => return (messages, at, status),
                None => panic!("{}: the tap stopped", self.label),
            }
        }
    }

    /// Nothing has arrived, and the stream has not ended.
    fn quiet(&mut self) -> bool {
        matches!(self.seen.try_recv(), Err(mpsc::error::TryRecvError::Empty))
    }
}

/// A ReportPositions call in progress: send reports, see how it ends.
struct Reporter {
    label: String,
    sender: Option<mpsc::Sender<pb::ReportPositionsRequest>>,
    tap: Tap,
}

impl Reporter {
    fn open(label: String, server: &TestServer, token: &str) -> Self {
        let (sender, receiver) = mpsc::channel(16);
        let mut client = server.units_as(token);
        let (tell, seen) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let ended = client
                .report_positions(tokio_stream::wrappers::ReceiverStream::new(receiver))
                .await;
            let status = match ended {
                Ok(summary) => tonic::Status::ok(format!("{:?}", summary.into_inner())),
                Err(status) => status,
            };
            let _ = tell.send(Seen::End(Instant::now(), status));
        });
        Self {
            tap: Tap {
                label: label.clone(),
                seen,
            },
            label,
            sender: Some(sender),
        }
    }

    /// Sends one report of `unit` at `at`; false once the call is over.
    async fn report(&mut self, unit: &str, at: (f64, f64)) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        sender
            .send(pb::ReportPositionsRequest {
                request_id: request_id(),
                report: Some(pb::PositionReport {
                    unit: unit.into(),
                    point: point(at),
                    accuracy_m: 5.0,
                    fix_time: Some(timestamp(chrono::Utc::now())),
                    ..Default::default()
                }),
            })
            .await
            .is_ok()
    }
}

/// Where the database has a unit.
async fn position_of(server: &TestServer, unit: &str) -> Option<(f64, f64)> {
    let point = fixtures::get_unit(server, unit).await.position?.point?;
    Some((point.latitude, point.longitude))
}

async fn wait_for_position(server: &TestServer, unit: &str, at: (f64, f64)) {
    let deadline = Instant::now() + WAIT;
    while position_of(server, unit).await != Some(at) {
        assert!(Instant::now() < deadline, "{unit} never reached {at:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn watch_incidents(server: &TestServer, token: &str, label: &str) -> impl Future<Output = Tap> {
    let mut client = server.triage_as(token);
    let label = label.to_owned();
    async move {
        let opened = client
            .watch_incidents(pb::WatchIncidentsRequest::default())
            .await;
        Tap::after_snapshot(label, opened, "watch incidents").await
    }
}

fn watch_units(server: &TestServer, token: &str, label: &str) -> impl Future<Output = Tap> {
    let mut client = server.units_as(token);
    let label = label.to_owned();
    async move {
        let opened = client.watch_units(pb::WatchUnitsRequest::default()).await;
        Tap::after_snapshot(label, opened, "watch units").await
    }
}

fn watch_referrals(server: &TestServer, token: &str, label: &str) -> impl Future<Output = Tap> {
    let mut client = server.referrals_as(token);
    let label = label.to_owned();
    async move {
        let opened = client
            .watch_referrals(pb::WatchReferralsRequest::default())
            .await;
        Tap::after_snapshot(label, opened, "watch referrals").await
    }
}

/// The audit records of `actions`, newest first, once there are at least `count`.
async fn audit_records(
    server: &TestServer,
    actions: &[pb::AuditAction],
    count: usize,
) -> Vec<pb::AuditRecord> {
    let deadline = Instant::now() + WAIT;
    loop {
        let of_actions = pb::ListAuditRecordsRequest {
            page_size: 500,
            actions: actions.iter().map(|a| (*a).into()).collect(),
            ..Default::default()
        };
        let records = fixtures::audit_records(server, &server.admin_token, of_actions).await;
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls a unary call with `token` on `server` until it is refused; how long that took from
/// `since`.
async fn refused_after(server: &TestServer, token: &str, since: Instant) -> Duration {
    let mut client = server.directory_as(token);
    let deadline = Instant::now() + WAIT;
    loop {
        match client
            .get_current_principal(pb::GetCurrentPrincipalRequest {})
            .await
        {
            Err(status) if status.code() == Code::Unauthenticated => return since.elapsed(),
            Err(status) => panic!("unexpected {status:?}"),
            Ok(_) => {
                assert!(Instant::now() < deadline, "the token was never refused");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}

/// Checks how a stream ended after its credential was revoked at `revoked`: UNAUTHENTICATED,
/// nothing delivered after `revoked` on the revoking process, and within the target on the
/// other. Returns how long after `revoked` it ended, in milliseconds (negative: before).
fn ended_by(
    label: &str,
    (messages, at, status): &(Vec<(Instant, String)>, Instant, tonic::Status),
    revoked: Instant,
    reason: &str,
) -> f64 {
    assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    assert!(
        status.message().contains(reason),
        "{label}: {:?}",
        status.message()
    );
    // Every stream was idle when its credential was revoked (its sentinel seen), and nothing
    // made since may reach it: nothing at all after the sentinel, on either process.
    assert!(
        messages.is_empty(),
        "{label}: delivered after the sentinel: {messages:?}"
    );
    signed_millis(*at, revoked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_loses_every_open_stream_on_every_process() {
    let (a, b) = two_servers().await;
    let city = city(&a).await;
    let (_, supervisor) = a.person(pb::Role::Supervisor, "console").await;
    let (_, partner) = a
        .principal(pb::Role::PartnerAgency, "luna", None, Some(&city.partner))
        .await;
    let (_, field_unit) = a
        .principal(pb::Role::FieldUnit, "p-01", Some(&city.unit), None)
        .await;
    let mut credentials = Vec::new();
    for token in [&supervisor, &partner, &field_unit] {
        credentials.push(credential_of(&a, token).await);
    }

    // Every kind of stream, on both processes.
    let mut taps = Vec::new();
    for (server, process) in [(&a, "A"), (&b, "B")] {
        taps.push((
            process,
            0,
            watch_incidents(server, &supervisor, &format!("{process} WatchIncidents")).await,
        ));
        taps.push((
            process,
            0,
            watch_units(server, &supervisor, &format!("{process} WatchUnits")).await,
        ));
        taps.push((
            process,
            1,
            watch_referrals(server, &partner, &format!("{process} WatchReferrals")).await,
        ));
    }
    let mut reporters = vec![
        Reporter::open("A ReportPositions".into(), &a, &field_unit),
        Reporter::open("B ReportPositions".into(), &b, &field_unit),
    ];

    // Everything flows before the revocation: positions from both processes are stored, and
    // each stream sees its sentinel, the last change before the revocation that reaches it.
    for (i, reporter) in reporters.iter_mut().enumerate() {
        let at = (19.40 + 0.001 * i as f64, -99.10);
        assert!(reporter.report(&city.unit, at).await);
        wait_for_position(&a, &city.unit, at).await;
    }
    let first = incident(&a).await;
    let referral = refer(&a, &first, &city.partner).await;
    let sentinel = note(&b, &first).await;
    set_status(&b, &city.other_unit, pb::UnitStatus::OutOfService).await;
    for (_, _, tap) in &mut taps {
        let text = if tap.label.ends_with("WatchIncidents") {
            &sentinel
        } else if tap.label.ends_with("WatchUnits") {
            "OutOfService"
        } else {
            &referral
        };
        tap.until(text).await;
    }
    for (_, _, tap) in &mut taps {
        assert!(tap.quiet(), "{} is idle before the revocation", tap.label);
    }
    // The tokens are fresh in the other process's cache of verified tokens.
    for token in [&supervisor, &partner, &field_unit] {
        credential_of(&b, token).await;
    }

    // Revoke the three credentials on A.
    let mut revoked = Vec::new();
    for credential in &credentials {
        revoked.push(revoke(&a, credential).await);
    }
    // At once, the field unit reports again on both processes, and the partner's token is
    // tried on B until it is refused.
    let moved_a = (19.45, -99.15);
    let moved_b = (19.46, -99.16);
    for (reporter, at) in reporters.iter_mut().zip([moved_a, moved_b]) {
        // Sending into a call that has ended is refused by the client: fine either way.
        let _ = reporter.report(&city.unit, at).await;
    }
    let partner_refused = refused_after(&b, &partner, revoked[1]).await;
    // Changes each stream would deliver, made after the revocations returned.
    let after = incident(&a).await;
    let _ = refer(&a, &after, &city.partner).await;
    let _ = refer(&b, &after, &city.partner).await;
    set_status(&b, &city.other_unit, pb::UnitStatus::Available).await;
    set_status(&a, &city.other_unit, pb::UnitStatus::OutOfService).await;

    let mut figures = Vec::new();
    for (_, who, tap) in &mut taps {
        let ended = tap.end().await;
        let after = ended_by(&tap.label, &ended, revoked[*who], "revoked");
        assert!(
            after <= millis(TARGET),
            "{}: ended {after} ms after",
            tap.label
        );
        figures.push(format!("{}: {after:.1} ms", tap.label));
    }
    for reporter in &mut reporters {
        let ended = reporter.tap.end().await;
        let after = ended_by(&reporter.label, &ended, revoked[2], "revoked");
        assert!(
            after <= millis(TARGET),
            "{}: ended {after} ms after",
            reporter.label
        );
        figures.push(format!("{}: {after:.1} ms", reporter.label));
        reporter.sender = None;
    }
    // The report sent on A after the revocation returned was never stored.
    assert_ne!(position_of(&a, &city.unit).await, Some(moved_a));
    // On B, the supervisor's token is refused at once now that B has seen the revocation.
    assert_eq!(
        b.directory_as(&supervisor)
            .get_current_principal(pb::GetCurrentPrincipalRequest {})
            .await
            .expect_err("revoked")
            .code(),
        Code::Unauthenticated
    );
    assert!(partner_refused <= TARGET, "{partner_refused:?}");
    eprintln!(
        "revocation cut-off (revoke returned -> stream ended): {}; unary refused on B {:.1} ms after",
        figures.join(", "),
        millis(partner_refused)
    );

    // The audit trail: each revocation, and each stream's end, with its method and reason.
    let revocations = audit_records(&a, &[pb::AuditAction::CredentialRevoked], 3).await;
    for credential in &credentials {
        assert!(
            revocations
                .iter()
                .any(|r| &r.resource == credential && r.outcome() == pb::AuditOutcome::Success),
            "{credential} revocation audited: {revocations:?}"
        );
    }
    let ends = audit_records(&a, &[pb::AuditAction::StreamEnded], 8).await;
    assert_eq!(ends.len(), 8, "{ends:?}");
    for (method, credential) in [
        ("IncidentTriageService/WatchIncidents", &credentials[0]),
        ("UnitAssignmentService/WatchUnits", &credentials[0]),
        ("VictimCareReferralService/WatchReferrals", &credentials[1]),
        ("UnitAssignmentService/ReportPositions", &credentials[2]),
    ] {
        let of: Vec<_> = ends.iter().filter(|r| r.method.ends_with(method)).collect();
        assert_eq!(of.len(), 2, "{method}: one per process: {ends:?}");
        for record in of {
            assert_eq!(&record.resource, credential);
            assert_eq!(record.detail, "credential revoked");
            assert_eq!(record.status_code, "UNAUTHENTICATED");
            assert_eq!(record.outcome(), pb::AuditOutcome::Denied);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_credential_loses_its_streams_at_expire_time() {
    let (a, b) = two_servers().await;
    let city = city(&a).await;
    let (console, _) = a.person(pb::Role::Supervisor, "console").await;
    let (unit_principal, _) = a
        .principal(pb::Role::FieldUnit, "p-01", Some(&city.unit), None)
        .await;
    let expire = chrono::Utc::now() + chrono::Duration::seconds(2);
    let supervisor = expiring_token(&a, &console, expire).await;
    let field_unit = expiring_token(&a, &unit_principal, expire).await;
    let mut taps = vec![
        watch_incidents(&a, &supervisor, "A WatchIncidents").await,
        watch_units(&b, &supervisor, "B WatchUnits").await,
    ];
    let mut reporter = Reporter::open("B ReportPositions".into(), &b, &field_unit);
    assert!(reporter.report(&city.unit, (19.40, -99.10)).await);
    wait_for_position(&a, &city.unit, (19.40, -99.10)).await;
    let first = incident(&a).await;
    let sentinel = note(&a, &first).await;
    set_status(&a, &city.other_unit, pb::UnitStatus::OutOfService).await;
    taps[0].until(&sentinel).await;
    taps[1].until("OutOfService").await;
    // Instant::now() stands for expire_time on the monotonic clock.
    let expire_instant = Instant::now()
        + (expire - chrono::Utc::now())
            .to_std()
            .expect("expire_time is still ahead");
    let mut figures = Vec::new();
    taps.push(reporter.tap);
    for tap in &mut taps {
        let (messages, at, status) = tap.end().await;
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{}: {status:?}",
            tap.label
        );
        assert!(status.message().contains("expired"), "{status:?}");
        assert!(messages.is_empty(), "{}: {messages:?}", tap.label);
        // Not before expire_time (a little slack for the two clocks), within the target.
        assert!(
            at + Duration::from_millis(50) >= expire_instant,
            "{} ended {:?} early",
            tap.label,
            expire_instant - at
        );
        let late = signed_millis(at, expire_instant);
        assert!(
            late <= millis(TARGET),
            "{}: {late} ms after expire_time",
            tap.label
        );
        figures.push(format!("{}: {late:.1} ms", tap.label));
    }
    eprintln!(
        "expiry cut-off (expire_time -> stream ended): {}",
        figures.join(", ")
    );
    let ends = audit_records(&a, &[pb::AuditAction::StreamEnded], 3).await;
    assert_eq!(ends.len(), 3, "{ends:?}");
    assert!(
        ends.iter().all(|r| r.detail == "credential expired"),
        "{ends:?}"
    );
}

async fn update_principal(
    server: &TestServer,
    principal: pb::Principal,
    paths: &[&str],
) -> Result<pb::Principal, tonic::Status> {
    server
        .directory_as(&server.admin_token)
        .update_principal(pb::UpdatePrincipalRequest {
            request_id: request_id(),
            principal: Some(principal),
            update_mask: mask(paths),
            reason: "changes post".into(),
        })
        .await
        .map(|r| r.into_inner().principal.expect("principal"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_principal_or_changing_its_role_ends_its_streams() {
    let (a, b) = two_servers().await;
    let (name, token) = a.person(pb::Role::Supervisor, "ana").await;
    let first = incident(&a).await;
    // A new display name ends nothing.
    let mut renamed = get_principal(&a, &name).await;
    let mut tap_b = watch_incidents(&b, &token, "B WatchIncidents").await;
    renamed.display_name = "Ana López".into();
    let renamed = update_principal(&a, renamed, &["display_name"])
        .await
        .expect("rename");
    assert_eq!(renamed.display_name, "Ana López");
    let sentinel = note(&a, &first).await;
    tap_b.until(&sentinel).await;

    // Disabled: its streams end on both processes, its token is refused on both.
    let mut tap_a = watch_incidents(&a, &token, "A WatchIncidents").await;
    let mut units_b = watch_units(&b, &token, "B WatchUnits").await;
    let sentinel = note(&b, &first).await;
    tap_a.until(&sentinel).await;
    tap_b.until(&sentinel).await;
    credential_of(&b, &token).await;
    let mut disable = get_principal(&a, &name).await;
    assert!(!disable.disabled);
    disable.disabled = true;
    let disabled = update_principal(&a, disable, &["disabled"])
        .await
        .expect("disable");
    let returned = Instant::now();
    assert!(disabled.disabled && disabled.disable_time.is_some());
    let _ = incident(&a).await;
    let mut figures = Vec::new();
    for tap in [&mut tap_a, &mut tap_b, &mut units_b] {
        let ended = tap.end().await;
        let after = ended_by(&tap.label, &ended, returned, "disabled");
        assert!(after <= millis(TARGET), "{}: {after} ms", tap.label);
        figures.push(format!("{}: {after:.1} ms", tap.label));
    }
    eprintln!("disable cut-off: {}", figures.join(", "));
    for server in [&a, &b] {
        assert_eq!(
            server
                .directory_as(&token)
                .get_current_principal(pb::GetCurrentPrincipalRequest {})
                .await
                .expect_err("disabled")
                .code(),
            Code::Unauthenticated
        );
    }

    // Enabled again: the same token works.
    let mut enable = get_principal(&a, &name).await;
    enable.disabled = false;
    let enabled = update_principal(&a, enable, &["disabled"])
        .await
        .expect("enable");
    assert!(!enabled.disabled && enabled.disable_time.is_none());
    credential_of(&b, &token).await;

    // Changes role: its streams end; the token then speaks with the new role on every process.
    let mut tap_a = watch_incidents(&a, &token, "A WatchIncidents").await;
    let mut tap_b = watch_incidents(&b, &token, "B WatchIncidents").await;
    let sentinel = note(&a, &first).await;
    tap_a.until(&sentinel).await;
    tap_b.until(&sentinel).await;
    assert!(
        b.directory_as(&token)
            .list_audit_records(pb::ListAuditRecordsRequest::default())
            .await
            .is_ok(),
        "a supervisor reads the audit trail"
    );
    let mut demote = get_principal(&a, &name).await;
    demote.role = pb::Role::Dispatcher.into();
    update_principal(&a, demote, &["role"])
        .await
        .expect("role change");
    let returned = Instant::now();
    let _ = incident(&b).await;
    for tap in [&mut tap_a, &mut tap_b] {
        let ended = tap.end().await;
        let after = ended_by(&tap.label, &ended, returned, "role");
        assert!(after <= millis(TARGET), "{}: {after} ms", tap.label);
        eprintln!("role change cut-off: {}: {after:.1} ms", tap.label);
    }
    let now = b.whoami(&token).await.principal.expect("principal");
    assert_eq!(now.role(), pb::Role::Dispatcher);
    assert_eq!(
        b.directory_as(&token)
            .list_audit_records(pb::ListAuditRecordsRequest::default())
            .await
            .expect_err("a dispatcher may not")
            .code(),
        Code::PermissionDenied
    );

    // Audited: the updates as mutations of the principal, and the streams' ends.
    let mutations = audit_records(&a, &[pb::AuditAction::Mutation], 0).await;
    let updates = mutations
        .iter()
        .filter(|r| r.method.ends_with("/UpdatePrincipal") && r.resource == name)
        .count();
    assert_eq!(updates, 4, "{mutations:?}");
    let ends = audit_records(&a, &[pb::AuditAction::StreamEnded], 5).await;
    assert_eq!(
        ends.iter()
            .filter(|r| r.detail == "principal disabled")
            .count(),
        3,
        "{ends:?}"
    );
    assert_eq!(
        ends.iter()
            .filter(|r| r.detail == "principal's role or binding changed")
            .count(),
        2,
        "{ends:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_principal_checks_what_it_is_given() {
    let server = TestServer::start_with(config()).await;
    let city = city(&server).await;
    let (name, token) = server.person(pb::Role::Dispatcher, "luis").await;
    let current = get_principal(&server, &name).await;
    let with = |change: &dyn Fn(&mut pb::Principal)| {
        let mut principal = current.clone();
        change(&mut principal);
        principal
    };
    let invalid = |result: Result<pb::Principal, tonic::Status>| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        violated_fields(&status)
    };
    // No etag, a made-up path, a field unit without its unit, a partner's binding on a
    // dispatcher, a unit that does not exist.
    assert_eq!(
        invalid(update_principal(&server, with(&|p| p.etag.clear()), &["display_name"]).await),
        ["principal.etag"]
    );
    assert_eq!(
        invalid(update_principal(&server, current.clone(), &["name"]).await),
        ["update_mask.paths[0]"]
    );
    assert_eq!(
        invalid(update_principal(&server, current.clone(), &[]).await),
        ["update_mask"]
    );
    assert_eq!(
        invalid(
            update_principal(
                &server,
                with(&|p| p.role = pb::Role::FieldUnit.into()),
                &["role"]
            )
            .await
        ),
        ["principal.unit"]
    );
    assert_eq!(
        invalid(
            update_principal(
                &server,
                with(&|p| p.partner = city.partner.clone()),
                &["partner"]
            )
            .await
        ),
        ["principal.partner"]
    );
    let nowhere = format!("units/{}", uuid::Uuid::now_v7());
    assert_eq!(
        invalid(
            update_principal(
                &server,
                with(&|p| {
                    p.role = pb::Role::FieldUnit.into();
                    p.unit = nowhere.clone();
                }),
                &["role", "unit"]
            )
            .await
        ),
        ["principal.unit"]
    );
    // Nothing was written by any of those.
    assert_eq!(get_principal(&server, &name).await, current);

    // A field unit it becomes, with its unit; the old etag is then stale.
    let moved = update_principal(
        &server,
        with(&|p| {
            p.role = pb::Role::FieldUnit.into();
            p.unit = city.unit.clone();
            p.agency = city.agency.clone();
        }),
        &["role", "unit", "agency"],
    )
    .await
    .expect("becomes a field unit");
    assert_eq!(moved.role(), pb::Role::FieldUnit);
    assert_eq!(moved.unit, city.unit);
    assert_ne!(moved.etag, current.etag);
    let stale = update_principal(&server, current.clone(), &["display_name"])
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    // Only an admin may.
    let refused = server
        .directory()
        .update_principal(pb::UpdatePrincipalRequest {
            request_id: request_id(),
            principal: Some(moved.clone()),
            update_mask: mask(&["disabled"]),
            reason: String::new(),
        })
        .await
        .expect_err("a supervisor may not");
    assert_eq!(refused.code(), Code::PermissionDenied);
    // A retry of the same request answers the same and changes nothing more.
    let request = pb::UpdatePrincipalRequest {
        request_id: request_id(),
        principal: Some(pb::Principal {
            display_name: "Luis, P-01".into(),
            ..moved.clone()
        }),
        update_mask: mask(&["display_name"]),
        reason: String::new(),
    };
    let mut admin = server.directory_as(&server.admin_token);
    let first = admin
        .update_principal(request.clone())
        .await
        .expect("update")
        .into_inner();
    let again = admin
        .update_principal(request)
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, again);
    // The token now speaks for the unit, and says which credential it is.
    let current = server.whoami(&token).await;
    assert_eq!(
        current.principal.as_ref().expect("principal").unit,
        city.unit
    );
    assert!(
        current.credential.starts_with("credentials/"),
        "{current:?}"
    );
}

/// `dispatchctl` in-process: its exit code and stdout.
async fn dispatchctl(server: &TestServer, token: &str, args: &[&str]) -> (u8, String) {
    let address = format!("http://{}", server.address);
    let mut argv = vec!["dispatchctl", "--server", &address, "--token", token];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    let out = String::from_utf8(out).expect("utf-8");
    assert!(code == 0 || !err.is_empty(), "a failure says why: {out}");
    (code, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchctl_disables_enables_and_moves_a_principal() {
    let server = TestServer::start_with(config()).await;
    let (name, token) = server.person(pb::Role::CallTaker, "maria").await;
    let admin = server.admin_token.clone();
    let (code, _) = dispatchctl(&server, &admin, &["principal", "update", &name]).await;
    assert_eq!(code, 1, "nothing to change is a usage error");
    let (code, out) = dispatchctl(
        &server,
        &admin,
        &[
            "principal",
            "update",
            &name,
            "--disable",
            "--reason",
            "left the centre",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(get_principal(&server, &name).await.disabled, "{out}");
    assert_eq!(dispatchctl(&server, &token, &["whoami"]).await.0, 6);
    let (code, out) = dispatchctl(
        &server,
        &admin,
        &[
            "principal",
            "update",
            &name,
            "--enable",
            "--role",
            "dispatcher",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = dispatchctl(&server, &token, &["--json", "whoami"]).await;
    assert_eq!(code, 0, "{out}");
    let whoami: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a line")).expect("json");
    assert_eq!(whoami["principal"]["role"], "ROLE_DISPATCHER", "{whoami}");
}

async fn execute(conn: &mut diesel_async::AsyncPgConnection, sql: &str) {
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(sql).execute(conn).await.expect(sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_credential_loses_its_streams_elsewhere_even_while_the_feed_is_held_back() {
    let (a, b) = two_servers().await;
    let city = city(&a).await;
    let (_, supervisor) = a.person(pb::Role::Supervisor, "console").await;
    let (_, field_unit) = a
        .principal(pb::Role::FieldUnit, "p-01", Some(&city.unit), None)
        .await;
    let supervisor_credential = credential_of(&a, &supervisor).await;
    let field_unit_credential = credential_of(&a, &field_unit).await;
    let mut units = watch_units(&b, &supervisor, "B WatchUnits").await;
    let mut incidents = watch_incidents(&b, &supervisor, "B WatchIncidents").await;
    let mut reporter = Reporter::open("B ReportPositions".into(), &b, &field_unit);
    assert!(
        reporter
            .report(&city.unit, (ZOCALO.0 + 0.01, ZOCALO.1))
            .await
    );
    wait_for_position(&a, &city.unit, (ZOCALO.0 + 0.01, ZOCALO.1)).await;
    units.until("PositionChanged").await;

    // A writing transaction left open elsewhere in the cluster: nothing committed after it gets a
    // feed position, so B cannot hear of the revocations through the feed while it stays open.
    let mut blocker = a.db().await;
    execute(&mut blocker, "BEGIN").await;
    execute(&mut blocker, "SELECT pg_current_xact_id()").await;
    let revoked = revoke(&a, &supervisor_credential).await;
    let reporter_revoked = revoke(&a, &field_unit_credential).await;
    let (units_end, incidents_end, reporter_end) =
        tokio::join!(units.end(), incidents.end(), reporter.tap.end());
    execute(&mut blocker, "ROLLBACK").await;

    let mut figures = Vec::new();
    for (label, end, since) in [
        ("WatchUnits", &units_end, revoked),
        ("WatchIncidents", &incidents_end, revoked),
        ("ReportPositions", &reporter_end, reporter_revoked),
    ] {
        let after = ended_by(label, end, since, "revoked");
        assert!(
            after <= millis(revocation_sweep() + TARGET),
            "{label} ended {after} ms after the revocation"
        );
        figures.push(format!("{label} {after:.0} ms"));
    }
    eprintln!("feed held back; cut-off on the other process: {figures:?}");
}

/// How often a process re-checks its open streams' credentials in the database.
fn revocation_sweep() -> Duration {
    dispatch_server::revocation::SWEEP_INTERVAL
}
