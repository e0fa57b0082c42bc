//! dispatchd's own TLS and mutual TLS for partners (issue 20), over gRPC on real PostgreSQL,
//! with certificates each test makes: the handshake and RPCs over it, plaintext clients
//! refused, HTTP/2 for the console by ALPN, a partner's client certificate with exactly its
//! token's scope, certificates of another CA or without a credential refused, revocation of a
//! certificate ending its open Watch, certificate files replaced without a restart, and
//! dispatchctl over TLS.

use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::victim_care_referral_service_client::VictimCareReferralServiceClient;
use dispatch_tests::tls::{Ca, Issued, TlsFiles, client_config, handshake};
use dispatch_tests::{TestServer, fixtures, request_id};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::Code;
use tonic::transport::Channel;

/// How long anything owed may take: generous, never a sleep.
const WAIT: Duration = Duration::from_secs(15);
const ZOCALO: (f64, f64) = (19.432_608, -99.133_209);

/// A server under `ca`'s certificate, taking client certificates of `ca` too.
struct Centre {
    ca: Ca,
    files: TlsFiles,
    server: TestServer,
}

async fn centre(configure: impl FnOnce(&mut dispatch_server::Config)) -> Centre {
    let ca = Ca::new("Centro C5 test CA");
    let files = TlsFiles::write(&ca.server("dispatchd"), &ca.pem);
    let mut config = dispatch_server::Config::defaults();
    files.configure(&mut config);
    config.watch_heartbeat = Duration::from_secs(3600);
    configure(&mut config);
    let server = TestServer::start_tls(config, &ca.pem).await;
    Centre { ca, files, server }
}

impl Centre {
    /// A channel presenting `client` as its certificate.
    fn channel_as(&self, client: &Issued) -> Channel {
        dispatch_tests::tls::channel(self.server.address, &self.ca.pem, Some(client.identity()))
    }
}

/// Registers `certificate` as a credential of `principal` (as the admin); the credential's name.
async fn register(server: &TestServer, principal: &str, certificate: &Issued) -> String {
    server
        .directory_as(&server.admin_token)
        .issue_credential(pb::IssueCredentialRequest {
            request_id: request_id(),
            principal: principal.into(),
            kind: pb::CredentialKind::ClientCertificate.into(),
            description: "partner gateway certificate".into(),
            certificate_sha256: certificate.sha256(),
            ..Default::default()
        })
        .await
        .expect("issue a certificate credential")
        .into_inner()
        .credential
        .expect("credential")
        .name
}

async fn whoami(channel: Channel) -> Result<pb::GetCurrentPrincipalResponse, tonic::Status> {
    DirectoryServiceClient::new(channel)
        .get_current_principal(pb::GetCurrentPrincipalRequest {})
        .await
        .map(tonic::Response::into_inner)
}

/// Two partners serving the centre, one referral to each, and a principal for the first.
struct Partners {
    ours: String,
    theirs: String,
    principal: String,
    token: String,
    our_referral: String,
    their_referral: String,
}

async fn partners(server: &TestServer) -> Partners {
    let mut names = Vec::new();
    for code in ["LUNA-CENTRO", "LUNA-NORTE"] {
        let area = fixtures::square_area("Centro", fixtures::CENTRE);
        let spec = fixtures::partner_agency(
            code,
            code,
            pb::PartnerKind::WomensCentre,
            pb::ReferralNeed::Psychological,
            area,
        );
        let spec = pb::PartnerAgency {
            capacity: fixtures::capacity(50, 50),
            location: fixtures::point(ZOCALO),
            ..spec
        };
        names.push(fixtures::create_partner(server, spec).await.name);
    }
    let call = pb::CreateCallRequest {
        account: "una mujer pide ayuda".into(),
        ..fixtures::call_at(ZOCALO, 10.0)
    };
    let incident = fixtures::open_from(server, call, "").await.name;
    let mut referrals = Vec::new();
    for partner in &names {
        let need = pb::ReferralNeed::Psychological;
        let request = fixtures::referral_request(&incident, partner, need, "Rosa");
        referrals.push(fixtures::refer(server, request).await.name);
    }
    let (principal, token) = server
        .principal(pb::Role::PartnerAgency, "luna", None, Some(&names[0]))
        .await;
    Partners {
        ours: names[0].clone(),
        theirs: names[1].clone(),
        principal,
        token,
        our_referral: referrals[0].clone(),
        their_referral: referrals[1].clone(),
    }
}

/// The referrals a client sees, by name, sorted.
async fn listed<T>(client: &mut VictimCareReferralServiceClient<T>) -> Vec<String>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut names: Vec<String> = client
        .list_referrals(pb::ListReferralsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list referrals")
        .into_inner()
        .referrals
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpcs_run_over_tls_and_a_plaintext_client_is_refused() {
    let Centre { server, .. } = centre(|_| {}).await;
    // TestServer::start_tls made its supervisor over TLS already; the admin asks who it is.
    let me = server.whoami(&server.admin_token).await;
    assert_eq!(
        me.principal.expect("principal").role,
        i32::from(pb::Role::Admin)
    );

    let plaintext = dispatch_tests::process::channel(&server.address.to_string());
    let refused = DirectoryServiceClient::with_interceptor(
        plaintext,
        dispatch_tests::Bearer::new(&server.admin_token).with_timeout(Duration::from_secs(5)),
    )
    .get_current_principal(pb::GetCurrentPrincipalRequest {})
    .await
    .expect_err("a plaintext client gets nothing from the TLS port");
    assert_ne!(refused.code(), Code::Ok);
    assert_ne!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // The refused client held up nothing: TLS clients are served as before.
    assert_eq!(
        server
            .whoami(&server.token)
            .await
            .principal
            .expect("principal")
            .role,
        i32::from(pb::Role::Supervisor)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_the_console_over_http2_by_alpn() {
    let Centre { ca, server, .. } = centre(|_| {}).await;
    let config = client_config(&ca.pem, None, &[b"h2", b"http/1.1"]);
    let tls = handshake(server.address, config)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    let io = hyper_util::rt::TokioIo::new(tls);
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = http::Request::get("https://localhost/")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("a request");
    let response = sender
        .send_request(request)
        .await
        .expect("the console page");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), http::StatusCode::OK);
    let content_type = response.headers()[http::header::CONTENT_TYPE]
        .to_str()
        .expect("ASCII");
    assert!(content_type.starts_with("text/html"), "{content_type}");

    // An HTTP/1.1-only client (older gRPC-web) still gets HTTP/1.1.
    let config = client_config(&ca.pem, None, &[b"http/1.1"]);
    let tls = handshake(server.address, config)
        .await
        .expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    // The exchange listener (the STA-024 WebSocket) is TLS too, HTTP/1.1 only: wss://.
    let config = client_config(&ca.pem, None, &[b"h2", b"http/1.1"]);
    let mut tls = handshake(server.exchange_address, config)
        .await
        .expect("TLS handshake on the exchange listener");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(
        b"GET /IncidentData/ent HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await
    .expect("a request");
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    // Not a WebSocket upgrade and no token: refused by the exchange listener itself, over TLS.
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_certificate_has_exactly_its_tokens_scope() {
    let centre = centre(|_| {}).await;
    let server = &centre.server;
    let partners = partners(server).await;
    let certificate = centre.ca.client("luna-centro-gateway");
    let credential = register(server, &partners.principal, &certificate).await;
    let channel = centre.channel_as(&certificate);

    let me = whoami(channel.clone())
        .await
        .expect("the certificate authenticates");
    assert_eq!(me.credential, credential);
    let principal = me.principal.expect("principal");
    assert_eq!(principal.name, partners.principal);
    assert_eq!(principal.partner, partners.ours);

    // The same referrals as with the principal's token: its own, never the other partner's.
    let mut by_certificate = VictimCareReferralServiceClient::new(channel.clone());
    let mut by_token = server.referrals_as(&partners.token);
    let seen = listed(&mut by_certificate).await;
    assert_eq!(seen, vec![partners.our_referral.clone()]);
    assert_eq!(seen, listed(&mut by_token).await);
    let get = |name: &str| pb::GetReferralRequest { name: name.into() };
    let theirs_by_certificate = by_certificate
        .get_referral(get(&partners.their_referral))
        .await
        .expect_err("another partner's referral");
    let theirs_by_token = by_token
        .get_referral(get(&partners.their_referral))
        .await
        .expect_err("another partner's referral");
    assert_eq!(theirs_by_certificate.code(), theirs_by_token.code());
    assert_ne!(partners.theirs, partners.ours);

    // A mutation is allowed and audited as the token's would be: under the principal.
    by_certificate
        .accept_referral(pb::AcceptReferralRequest {
            request_id: request_id(),
            name: partners.our_referral.clone(),
            ..Default::default()
        })
        .await
        .expect("the partner accepts its referral");
    let audited = fixtures::audit_records(
        server,
        &server.admin_token,
        pb::ListAuditRecordsRequest {
            principal: partners.principal.clone(),
            actions: vec![pb::AuditAction::Mutation.into()],
            ..Default::default()
        },
    )
    .await;
    assert!(
        audited
            .iter()
            .any(|r| r.method.ends_with("/AcceptReferral") && r.resource == partners.our_referral),
        "{audited:?}"
    );
    // A role's limits hold as for a token: a partner may not create calls.
    let refused =
        dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient::new(channel)
            .create_call(fixtures::call_at(ZOCALO, 10.0))
            .await
            .expect_err("a partner may not take calls");
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_ca_fails_the_handshake() {
    let centre = centre(|_| {}).await;
    let rogue = Ca::new("Not the centre's CA").client("impostor");
    let config = client_config(&centre.ca.pem, Some(&rogue), &[b"h2"]);
    // In TLS 1.3 the server judges the client's certificate after the client has finished:
    // the refusal is the alert the first read gets.
    let error = match handshake(centre.server.address, config).await {
        Err(error) => error,
        Ok(mut tls) => {
            let _ = tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
            let mut buffer = [0; 64];
            tls.read(&mut buffer)
                .await
                .expect_err("the server refuses the certificate")
        }
    };
    let text = error.to_string();
    assert!(text.contains("alert"), "{text}");
    // Through gRPC too: no RPC is ever served on such a connection.
    let status = whoami(centre.channel_as(&rogue))
        .await
        .expect_err("refused");
    assert_ne!(status.code(), Code::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_without_a_credential_is_unauthenticated() {
    let centre = centre(|_| {}).await;
    let server = &centre.server;
    let stranger = centre.ca.client("issued-but-never-registered");
    let status = whoami(centre.channel_as(&stranger))
        .await
        .expect_err("no credential has this certificate");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let failures = fixtures::audit_records(
        server,
        &server.admin_token,
        pb::ListAuditRecordsRequest {
            actions: vec![pb::AuditAction::AuthenticationFailure.into()],
            ..Default::default()
        },
    )
    .await;
    assert!(
        failures
            .iter()
            .any(|r| r.detail.contains(&stranger.sha256())),
        "{failures:?}"
    );

    // A registered certificate and a token on one request: one credential per request.
    let partners = partners(server).await;
    let certificate = centre.ca.client("luna-centro-gateway");
    register(server, &partners.principal, &certificate).await;
    let both = DirectoryServiceClient::with_interceptor(
        centre.channel_as(&certificate),
        dispatch_tests::Bearer::new(&partners.token),
    )
    .get_current_principal(pb::GetCurrentPrincipalRequest {})
    .await
    .expect_err("a certificate and a token together");
    assert_eq!(both.code(), Code::Unauthenticated);
    assert!(both.message().contains("not both"), "{both:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_certificate_refuses_the_next_call_and_ends_its_watch() {
    let centre = centre(|_| {}).await;
    let server = &centre.server;
    let partners = partners(server).await;
    let certificate = centre.ca.client("luna-centro-gateway");
    let credential = register(server, &partners.principal, &certificate).await;
    let channel = centre.channel_as(&certificate);

    let mut client = VictimCareReferralServiceClient::new(channel.clone());
    let mut watch = client
        .watch_referrals(pb::WatchReferralsRequest::default())
        .await
        .expect("a watch")
        .into_inner();
    let mut snapshot = Vec::new();
    loop {
        let message = tokio::time::timeout(WAIT, watch.message())
            .await
            .expect("the snapshot in time")
            .expect("a message")
            .expect("the stream is open");
        match message.item.expect("an item") {
            pb::watch_referrals_response::Item::Snapshot(referral) => snapshot.push(referral.name),
            pb::watch_referrals_response::Item::SnapshotComplete(_) => break,
            other => panic!("unexpected before the snapshot ends: {other:?}"),
        }
    }
    assert_eq!(snapshot, vec![partners.our_referral.clone()]);

    server
        .directory_as(&server.admin_token)
        .revoke_credential(pb::RevokeCredentialRequest {
            request_id: request_id(),
            name: credential.clone(),
            reason: "gateway decommissioned".into(),
        })
        .await
        .expect("revoke");
    let ended = tokio::time::timeout(WAIT, watch.message())
        .await
        .expect("the stream ends in time")
        .expect_err("the stream ends with an error");
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(ended.message().contains("revoked"), "{ended:?}");

    let refused = whoami(channel).await.expect_err("the next call");
    assert_eq!(refused.code(), Code::Unauthenticated);
    // Its end is audited as a token stream's is.
    let deadline = Instant::now() + WAIT;
    loop {
        let ends = fixtures::audit_records(
            server,
            &server.admin_token,
            pb::ListAuditRecordsRequest {
                actions: vec![pb::AuditAction::StreamEnded.into()],
                ..Default::default()
            },
        )
        .await;
        if ends.iter().any(|r| r.resource == credential) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no STREAM_ENDED record: {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The certificate a new TLS connection is served.
async fn served_certificate(centre: &Centre) -> Vec<u8> {
    let config = client_config(&centre.ca.pem, None, &[b"h2"]);
    let tls = handshake(centre.server.address, config)
        .await
        .expect("TLS handshake");
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificate_files_reach_new_connections_without_a_restart() {
    let centre = centre(|config| config.tls_reload_interval = Duration::from_millis(20)).await;
    let first = served_certificate(&centre).await;
    let renewed = centre.ca.server("dispatchd-renewed");
    assert_ne!(first, renewed.der);
    // A connection made before the renewal stays up and keeps working.
    let before = dispatch_tests::tls::channel(centre.server.address, &centre.ca.pem, None);
    let mut before = DirectoryServiceClient::with_interceptor(
        before,
        dispatch_tests::Bearer::new(&centre.server.admin_token),
    );
    before
        .get_current_principal(pb::GetCurrentPrincipalRequest {})
        .await
        .expect("served");

    centre.files.replace(&renewed);
    let deadline = Instant::now() + WAIT;
    while served_certificate(&centre).await != renewed.der {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    before
        .get_current_principal(pb::GetCurrentPrincipalRequest {})
        .await
        .expect("the old connection is still served");
    // RPCs over new connections, under the renewed certificate.
    assert_eq!(
        centre
            .server
            .whoami(&centre.server.token)
            .await
            .principal
            .expect("principal")
            .role,
        i32::from(pb::Role::Supervisor)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchctl_speaks_tls_with_a_ca_file_and_a_client_certificate() {
    let centre = centre(|_| {}).await;
    let server = &centre.server;
    let dir = &centre.files.dir;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &centre.ca.pem).expect("writing the CA file");
    let address = format!("https://127.0.0.1:{}", server.address.port());
    let run = async |args: &[&str]| {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = dispatch_cli::run(
            ["dispatchctl", "--server", &address].iter().chain(args),
            &mut out,
            &mut err,
        )
        .await;
        (
            code,
            String::from_utf8(out).expect("UTF-8"),
            String::from_utf8(err).expect("UTF-8"),
        )
    };
    let ca = ca_file.to_str().expect("a UTF-8 path");

    let (code, out, err) = run(&["--ca-file", ca, "health"]).await;
    assert_eq!((code, out.trim()), (0, "SERVING"), "{err}");
    let (code, out, err) = run(&[
        "--ca-file",
        ca,
        "--token",
        &server.token,
        "--json",
        "whoami",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ROLE_SUPERVISOR"), "{out}");
    // Without the CA file an https:// server is not trusted blindly.
    let (code, _, err) = run(&["--token", &server.token, "whoami"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("--ca-file"), "{err}");

    // A partner registers its certificate's fingerprint through dispatchctl, then uses it alone.
    let partners = partners(server).await;
    let certificate = centre.ca.client("luna-centro-gateway");
    let (code, out, err) = run(&[
        "--ca-file",
        ca,
        "--token",
        &server.admin_token,
        "--json",
        "credential",
        "issue",
        &partners.principal,
        "--certificate-sha256",
        &certificate.sha256().to_uppercase(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&certificate.sha256()), "{out}");
    let cert_file = dir.join("partner.pem");
    let key_file = dir.join("partner.key");
    std::fs::write(&cert_file, &certificate.cert_pem).expect("writing");
    std::fs::write(&key_file, &certificate.key_pem).expect("writing");
    let (code, out, err) = run(&[
        "--ca-file",
        ca,
        "--client-cert",
        cert_file.to_str().expect("UTF-8"),
        "--client-key",
        key_file.to_str().expect("UTF-8"),
        "--json",
        "whoami",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&partners.principal), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_off_loopback_unless_allowed() {
    let serve = async |config: dispatch_server::Config| {
        let database_url = dispatch_tests::fresh_database().await.expect("a database");
        let store = dispatch_store::Store::connect(config.store_config(database_url))
            .await
            .expect("a store");
        // Bound on every address, never connected to: only what dispatchd decides is looked at.
        let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind");
        let listeners = dispatch_server::Listeners {
            grpc: listener,
            exchange: None,
            metrics: None,
        };
        dispatch_server::serve_on(&config, store, listeners, async {}).await
    };
    let refused = serve(dispatch_server::Config::defaults())
        .await
        .expect_err("plaintext on a non-loopback address")
        .to_string();
    assert!(refused.contains("--allow-plaintext"), "{refused}");
    let mut config = dispatch_server::Config::defaults();
    config.allow_plaintext = true;
    serve(config).await.expect("allowed behind a proxy");

    let mut config = dispatch_server::Config::defaults();
    config.tls_cert = Some("/nonexistent/server.pem".into());
    let half = dispatch_tests::start_up_error(&config).await;
    assert!(half.contains("--tls-key"), "{half}");
    config.tls_key = Some("/nonexistent/server.key".into());
    let missing = dispatch_tests::start_up_error(&config).await;
    assert!(missing.contains("/nonexistent/server.pem"), "{missing}");
}

/// The certificate `tls` presents now, over an in-memory connection.
async fn presented(tls: &dispatch_server::tls::Tls, ca: &str) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let connector = tokio_rustls::TlsConnector::from(client_config(ca, None, &[b"h2"]));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let (client, server) = tokio::join!(
        connector.connect(name, client),
        tls.acceptor().accept(server)
    );
    server.expect("server side of the handshake");
    client
        .expect("client side of the handshake")
        .get_ref()
        .1
        .peer_certificates()
        .expect("a certificate")[0]
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_new_file_is_refused_once_and_the_material_in_use_stays() {
    use dispatch_server::tls::{Protocols, Tls};
    let ca = Ca::new("Centro C5 test CA");
    let first = ca.server("dispatchd");
    let files = TlsFiles::write(&first, &ca.pem);
    let tls = Tls::load(
        dispatch_server::tls::TlsFiles {
            cert: files.cert.clone(),
            key: files.key.clone(),
            client_ca: Some(files.client_ca.clone()),
        },
        Protocols::Grpc,
    )
    .expect("the files load");
    assert_eq!(presented(&tls, &ca.pem).await, first.der);
    assert_eq!(tls.reload(), Ok(false), "nothing changed");

    // A new certificate whose key is not there yet: refused, once, and the old pair served.
    let renewed = ca.server("dispatchd-renewed");
    std::fs::write(&files.cert, &renewed.cert_pem).expect("writing");
    let error = tls.reload().expect_err("a certificate without its key");
    assert!(error.contains("server.pem"), "{error}");
    assert_eq!(
        tls.reload(),
        Ok(false),
        "the same bad files are complained about once"
    );
    assert_eq!(presented(&tls, &ca.pem).await, first.der);
    // A key that is not PEM at all.
    std::fs::write(&files.key, "not a key").expect("writing");
    let error = tls.reload().expect_err("garbage");
    assert!(error.contains("server.key"), "{error}");
    assert_eq!(presented(&tls, &ca.pem).await, first.der);
    // The key arrives: the renewed pair is served.
    std::fs::write(&files.key, &renewed.key_pem).expect("writing");
    assert_eq!(tls.reload(), Ok(true));
    assert_eq!(presented(&tls, &ca.pem).await, renewed.der);
}
