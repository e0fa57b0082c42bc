//! Authentication, the role x RPC table, scoping, the audit trail and abuse limits, over gRPC on
//! real PostgreSQL.

use std::time::Duration;

use diesel_async::RunQueryDsl as _;
use dispatch_domain::auth::Role;
use dispatch_proto::v1 as pb;
use dispatch_server::authz::{self, Method, RULES};
use dispatch_tests::{TestServer, assert_invalid, fixtures, pb_role, request_id};
use tonic::Code;

async fn agency_and_unit(server: &TestServer, call_sign: &str) -> (String, String) {
    let agency = match fixtures::agencies(server).await.into_iter().next() {
        Some(agency) => agency.name,
        None => fixtures::agency(server, "SSC", pb::AgencyKind::Police).await,
    };
    let unit = fixtures::unit(server, &agency, call_sign, pb::UnitType::Patrol)
        .await
        .name;
    (agency, unit)
}

/// A token for every role; the field unit bound to a fresh unit, the partner to a made-up partner.
async fn tokens(server: &TestServer) -> Vec<(Role, String)> {
    let (_, unit) = agency_and_unit(server, "FIELD1").await;
    let partner = fixtures::shelter(server, "REFUGIO1").await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let (unit, partner) = match role {
            Role::FieldUnit => (Some(unit.as_str()), None),
            Role::PartnerAgency => (None, Some(partner.as_str())),
            _ => (None, None),
        };
        let (_, token) = server
            .principal(pb_role(*role), role.as_str(), unit, partner)
            .await;
        tokens.push((*role, token));
    }
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_wrong_expired_or_revoked_credential_gets_in() {
    let server = TestServer::start().await;
    let path = "/dispatch.v1.CallIntakeService/ListCalls";
    assert_eq!(server.call_raw(path, None).await, Code::Unauthenticated);
    assert_eq!(
        server.call_raw(path, Some("dsp_garbage")).await,
        Code::Unauthenticated
    );
    let forged = format!("dsp_{}_{}", uuid::Uuid::new_v4().simple(), "ab".repeat(32));
    assert_eq!(
        server.call_raw(path, Some(&forged)).await,
        Code::Unauthenticated
    );
    let (_, token) = server.person(pb::Role::CallTaker, "taker").await;
    assert_eq!(server.call_raw(path, Some(&token)).await, Code::Ok);
    // A token with one character changed is refused.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        server
            .call_raw(path, Some(std::str::from_utf8(&tampered).expect("ascii")))
            .await,
        Code::Unauthenticated
    );

    // Expired: the credential's expiry moved into the past (in the database, behind the API:
    // a token not used since, so no process holds it as recently verified).
    let (expiring, token) = server.person(pb::Role::CallTaker, "taker-expiring").await;
    let credentials = server
        .directory_as(&server.admin_token)
        .list_credentials(pb::ListCredentialsRequest {
            principal: expiring.clone(),
            ..Default::default()
        })
        .await
        .expect("credentials")
        .into_inner()
        .credentials;
    let credential = credentials[0].name.clone();
    let id = credential.trim_start_matches("credentials/").to_owned();
    let expire = format!(
        "UPDATE credentials SET expires_at = now() - interval '1 minute' WHERE id = '{id}'"
    );
    server.run_sql(&expire).await;
    assert_eq!(
        server.call_raw(path, Some(&token)).await,
        Code::Unauthenticated
    );

    // Revoked.
    let (_, second) = server.person(pb::Role::CallTaker, "taker2").await;
    assert_eq!(server.call_raw(path, Some(&second)).await, Code::Ok);
    let mut admin = server.directory_as(&server.admin_token);
    let listed = admin
        .list_credentials(pb::ListCredentialsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .credentials;
    let newest = listed
        .iter()
        .find(|c| second.starts_with(&c.token_prefix) && !c.token_prefix.is_empty())
        .expect("the second credential");
    admin
        .revoke_credential(pb::RevokeCredentialRequest {
            request_id: request_id(),
            name: newest.name.clone(),
            reason: "laptop lost".into(),
        })
        .await
        .expect("revoke");
    assert_eq!(
        server.call_raw(path, Some(&second)).await,
        Code::Unauthenticated
    );
    // Health needs nothing.
    assert_eq!(
        server.call_raw("/grpc.health.v1.Health/Check", None).await,
        Code::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_rpc() {
    let server = TestServer::start().await;
    let tokens = tokens(&server).await;
    let mut checked = 0;
    for rule in RULES {
        let path = format!("/{}/{}", rule.service, rule.method);
        for (role, token) in &tokens {
            let code = server.call_raw(&path, Some(token)).await;
            let allowed = authz::allowed(*role, Method::from_path(&path));
            if allowed {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{role} was refused {path}: {code:?}"
                );
            } else {
                assert_eq!(code, Code::PermissionDenied, "{role} reached {path}");
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
    // The policy itself, in words a centre would write: spot checks independent of the table.
    let token = |role: Role| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.clone())
            .expect("token")
    };
    for (role, path, expected) in [
        (
            Role::PartnerAgency,
            "/dispatch.v1.CallIntakeService/CreateCall",
            Code::PermissionDenied,
        ),
        (
            Role::PartnerAgency,
            "/dispatch.v1.IncidentTriageService/ListIncidents",
            Code::PermissionDenied,
        ),
        (
            Role::FieldUnit,
            "/dispatch.v1.UnitAssignmentService/AssignUnits",
            Code::PermissionDenied,
        ),
        (
            Role::Gateway,
            "/dispatch.v1.IncidentTriageService/ListIncidents",
            Code::PermissionDenied,
        ),
        (
            Role::CallTaker,
            "/dispatch.v1.DirectoryService/CreatePrincipal",
            Code::PermissionDenied,
        ),
        (
            Role::Dispatcher,
            "/dispatch.v1.DirectoryService/ListAuditRecords",
            Code::PermissionDenied,
        ),
        (
            Role::Admin,
            "/dispatch.v1.UnitAssignmentService/AssignUnits",
            Code::PermissionDenied,
        ),
        (
            Role::Supervisor,
            "/dispatch.v1.DirectoryService/ListAuditRecords",
            Code::Ok,
        ),
        (
            Role::Gateway,
            "/dispatch.v1.CallIntakeService/CreateCall",
            Code::InvalidArgument,
        ),
    ] {
        assert_eq!(
            server.call_raw(path, Some(&token(role))).await,
            expected,
            "{role} {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_unit_speaks_only_for_itself() {
    let server = TestServer::start().await;
    let (_, mine) = agency_and_unit(&server, "MINE").await;
    let (_, other) = agency_and_unit(&server, "OTHER").await;
    let (_, token) = server
        .principal(pb::Role::FieldUnit, "unit-mine", Some(&mine), None)
        .await;
    let mut units = server.units_as(&token);
    let status = |unit: &str| pb::SetUnitStatusRequest {
        request_id: request_id(),
        unit: unit.into(),
        status: pb::UnitStatus::OutOfService.into(),
        ..Default::default()
    };
    units
        .set_unit_status(status(&mine))
        .await
        .expect("its own status");
    let refused = units
        .set_unit_status(status(&other))
        .await
        .expect_err("another unit");
    assert_eq!(refused.code(), Code::NotFound);
    let missing = units
        .set_unit_status(status(&format!("units/{}", uuid::Uuid::new_v4())))
        .await
        .expect_err("no such unit");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        refused.message().replace(&other, "X"),
        missing
            .message()
            .replace(missing.message().split(' ').next().unwrap_or(""), "X"),
        "the refusal looks like a missing unit"
    );
    let report = |unit: &str| pb::PositionReport {
        unit: unit.into(),
        point: Some(pb::GeoPoint {
            latitude: 19.43,
            longitude: -99.13,
        }),
        accuracy_m: 5.0,
        fix_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp(),
            nanos: 0,
        }),
        ..Default::default()
    };
    let response = units
        .report_position_batch(pb::ReportPositionBatchRequest {
            request_id: request_id(),
            reports: vec![report(&mine), report(&other)],
        })
        .await
        .expect("batch")
        .into_inner();
    assert_eq!(response.accepted_count, 1);
    assert_eq!(response.rejected.len(), 1);
    assert_eq!(
        response.rejected[0].reason,
        i32::from(pb::PositionRejectionReason::UnitNotFound)
    );
    let other_now = fixtures::get_unit(&server, &other).await;
    assert!(other_now.position.is_none(), "the other unit did not move");
}

#[derive(diesel::QueryableByName, Debug)]
struct AuditRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    principal: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    action: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    method: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    peer: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    outcome: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    request_id: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_records_and_cannot_be_rewritten() {
    let server = TestServer::start().await;
    let (taker, token) = server.person(pb::Role::CallTaker, "auditee").await;
    let id = request_id();
    let request = pb::CreateCallRequest {
        request_id: id.clone(),
        channel: pb::CallChannel::Voice911.into(),
        location: fixtures::location((19.4, -99.1), 10.0),
        ..Default::default()
    };
    let call = fixtures::create_call_as(&server, &token, request)
        .await
        .call
        .expect("call");
    assert_eq!(call.call_taker, taker, "the call records who took it");
    assert_eq!(
        server
            .call_raw("/dispatch.v1.CallIntakeService/ListCalls", Some("nope"))
            .await,
        Code::Unauthenticated
    );
    assert_eq!(
        server
            .call_raw(
                "/dispatch.v1.DirectoryService/CreatePrincipal",
                Some(&token)
            )
            .await,
        Code::PermissionDenied
    );

    let mut conn = server.db().await;
    let rows: Vec<AuditRow> = diesel::sql_query(
        "SELECT principal, action, method, resource, peer, outcome, request_id FROM audit_records ORDER BY id",
    )
    .load(&mut conn)
    .await
    .expect("audit");
    let created = rows
        .iter()
        .find(|r| r.method.ends_with("/CreateCall"))
        .expect("the call is audited");
    assert_eq!(created.principal, taker);
    assert_eq!(created.action, "mutation");
    assert_eq!(created.outcome, "success");
    assert_eq!(created.resource, call.name);
    assert_eq!(created.request_id, id);
    assert!(created.peer.starts_with("127.0.0.1:"), "{}", created.peer);
    assert!(
        rows.iter()
            .any(|r| r.action == "authentication_failure" && r.principal.is_empty())
    );
    assert!(rows.iter().any(|r| r.method.ends_with("/CreatePrincipal")
        && r.outcome == "denied"
        && r.principal == taker));
    assert!(
        rows.iter().any(|r| r.action == "credential_issued"),
        "{rows:?}"
    );

    // The application's role may add rows, never change or remove them.
    for statement in [
        "UPDATE audit_records SET principal = 'nobody'",
        "DELETE FROM audit_records",
        "TRUNCATE audit_records",
    ] {
        diesel::sql_query("SET ROLE dispatch_app")
            .execute(&mut conn)
            .await
            .expect("set role");
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied")
                || error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
        diesel::sql_query("RESET ROLE")
            .execute(&mut conn)
            .await
            .expect("reset role");
    }

    // Supervisors read it by principal, a page at a time; reading it is audited too.
    let mut supervisor = server.directory();
    let seen = fixtures::every_page(
        pb::ListAuditRecordsRequest {
            page_size: 1,
            principal: taker.clone(),
            ..Default::default()
        },
        async |request| supervisor.list_audit_records(request).await,
    )
    .await
    .expect("audit page");
    assert_eq!(
        seen.len(),
        2,
        "the call and the denied CreatePrincipal: {seen:?}"
    );
    assert!(seen.iter().all(|r| r.principal == taker));
    // Status codes are named as the gRPC specification spells them (audit.proto).
    let codes: Vec<&str> = seen.iter().map(|r| r.status_code.as_str()).collect();
    assert!(codes.contains(&"OK"), "{codes:?}");
    assert!(codes.contains(&"PERMISSION_DENIED"), "{codes:?}");
    let of_the_call = pb::ListAuditRecordsRequest {
        resource: call.name.clone(),
        ..Default::default()
    };
    let by_resource = fixtures::audit_records(&server, &server.token, of_the_call).await;
    assert_eq!(by_resource.len(), 1);
    let reads: Vec<AuditRow> = diesel::sql_query("SELECT principal, action, method, resource, peer, outcome, request_id FROM audit_records WHERE action = 'audit_read'")
        .load(&mut conn)
        .await
        .expect("reads");
    assert!(!reads.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_trip_and_recover() {
    let mut config = dispatch_server::Config::defaults();
    config.rate_limit = 5.0;
    let server = TestServer::start_with(config).await;
    let (_, token) = server.person(pb::Role::CallTaker, "busy").await;
    let path = "/dispatch.v1.CallIntakeService/ListCalls";
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(server.call_raw(path, Some(&token)).await);
    }
    assert!(codes.contains(&Code::ResourceExhausted), "{codes:?}");
    assert!(
        codes.iter().take(10).all(|c| *c == Code::Ok),
        "the burst is allowed: {codes:?}"
    );
    // Another principal is not affected.
    assert_eq!(server.call_raw(path, Some(&server.token)).await, Code::Ok);
    // At 5 per second a token is back within a fraction of a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if server.call_raw(path, Some(&token)).await == Code::Ok {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rate limit never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_concurrency_limit_requests_are_shed_not_queued() {
    let mut config = dispatch_server::Config::defaults();
    config.max_concurrent_requests = 1;
    let server = TestServer::start_with(config).await;
    let (_, unit) = agency_and_unit(&server, "AVL1").await;
    let unit_id = unit.trim_start_matches("units/").to_owned();
    let gateway = server.gateway().await;
    // A position stream held open occupies the only slot once its first report is stored.
    let (sender, receiver) = tokio::sync::mpsc::channel::<pb::ReportPositionsRequest>(1);
    let mut streaming = gateway.clone();
    let open = tokio::spawn(async move {
        streaming
            .report_positions(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await
    });
    sender
        .send(pb::ReportPositionsRequest {
            request_id: String::new(),
            report: Some(pb::PositionReport {
                unit: unit.clone(),
                point: Some(pb::GeoPoint {
                    latitude: 19.43,
                    longitude: -99.13,
                }),
                accuracy_m: 5.0,
                fix_time: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp(),
                    nanos: 0,
                }),
                ..Default::default()
            }),
        })
        .await
        .expect("send");
    // The database shows the stream is being served (the server flushes within 100 ms).
    #[derive(diesel::QueryableByName)]
    struct Placed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        placed: bool,
    }
    let mut conn = server.db().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row: Placed = diesel::sql_query(format!(
            "SELECT fix_time IS NOT NULL AS placed FROM units WHERE id = '{unit_id}'"
        ))
        .get_result(&mut conn)
        .await
        .expect("unit row");
        if row.placed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stream was never served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Now every other request is refused at once instead of queueing.
    assert_eq!(
        server
            .call_raw(
                "/dispatch.v1.CallIntakeService/ListCalls",
                Some(&server.token)
            )
            .await,
        Code::ResourceExhausted
    );
    drop(sender);
    let summary = open
        .await
        .expect("stream task")
        .expect("the stream ends cleanly")
        .into_inner();
    assert_eq!(summary.accepted_count, 1);
    assert_eq!(
        server
            .call_raw(
                "/dispatch.v1.CallIntakeService/ListCalls",
                Some(&server.token)
            )
            .await,
        Code::Ok
    );
    assert_invalid(
        server
            .directory_as(&server.admin_token)
            .create_principal(pb::CreatePrincipalRequest {
                request_id: request_id(),
                principal: None,
            })
            .await,
        "bad request",
        &["principal"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_quoting_a_hostile_method_path_stays_readable() {
    let server = TestServer::start().await;
    let (_, token) = server.person(pb::Role::CallTaker, "taker").await;
    // '%' is percent-encoded again in grpc-message: echoed whole, 5,000 of them came to 15 KB
    // of response headers, past what clients accept.
    let path = format!("/dispatch.v1.DirectoryService/{}", "%25".repeat(5_000));
    assert_eq!(
        server.call_raw(&path, Some(&token)).await,
        Code::PermissionDenied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_principal_returns_the_first_principal() {
    let server = TestServer::start().await;
    let mut admin = server.directory_as(&server.admin_token);
    let before = server.count("principals").await;
    let request = pb::CreatePrincipalRequest {
        request_id: request_id(),
        principal: Some(pb::Principal {
            display_name: "retried-taker".into(),
            role: pb::Role::CallTaker.into(),
            ..Default::default()
        }),
    };
    let first = admin
        .create_principal(request.clone())
        .await
        .expect("first")
        .into_inner()
        .principal
        .expect("principal");
    let retry = admin
        .create_principal(request)
        .await
        .expect("retry answers, not INTERNAL")
        .into_inner()
        .principal
        .expect("principal");
    assert_eq!(retry.name, first.name);
    assert_eq!(retry, first);
    assert_eq!(server.count("principals").await, before + 1);
}

/// A refused request is audited whatever its id holds: PostgreSQL's text refuses NUL, and a
/// request id with one left no record of the refusal at all (found by the hostile-input test).
/// The trail keeps each NUL as U+FFFD, and an id cut to 200 characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_whose_id_holds_a_nul_is_audited() {
    let server = TestServer::start().await;
    let mut request = fixtures::call_at((19.4, -99.1), 10.0);
    request.request_id = format!("una mujer \0pide ayuda{}", "x".repeat(500));
    let mut intake = server.calls();
    let refused = intake.create_call(request).await.expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);

    // The audit record of a refusal is written after the answer.
    let mut conn = server.db().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let kept = loop {
        let rows: Vec<AuditRow> = diesel::sql_query(
            "SELECT principal, action, method, resource, peer, outcome, request_id \
             FROM audit_records WHERE method LIKE '%/CreateCall' AND outcome = 'failure'",
        )
        .load(&mut conn)
        .await
        .expect("audit");
        if let Some(row) = rows.into_iter().next() {
            break row.request_id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refusal was never audited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        kept.starts_with("una mujer \u{FFFD}pide ayudaxxx"),
        "{kept}"
    );
    assert_eq!(kept.chars().count(), 200);
}
