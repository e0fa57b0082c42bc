//! The whole path works: health, reflection, every service of the contract, the error model.

use dispatch_proto::v1 as pb;
use dispatch_tests::{
    TestServer, assert_invalid, assert_refused, fixtures, request_id, violated_fields,
};
use tokio_stream::StreamExt as _;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving_for_the_server_and_every_service() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel.clone());
    // Health starts NOT_SERVING until the first database check, which runs at start-up.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch health")
        .into_inner();
    loop {
        let status = watch
            .next()
            .await
            .expect("a health update")
            .expect("health status");
        if status.status == ServingStatus::Serving as i32 {
            break;
        }
    }
    for service in dispatch_proto::SERVICE_NAMES {
        let response = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("health of {service}: {status:?}"));
        assert_eq!(
            response.into_inner().status,
            ServingStatus::Serving as i32,
            "{service}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_all_five_services_and_health() {
    let server = TestServer::start().await;
    let mut reflection = ServerReflectionClient::with_interceptor(
        server.channel.clone(),
        dispatch_tests::Bearer::new(&server.token),
    );
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .next()
        .await
        .expect("one answer")
        .expect("reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in dispatch_proto::SERVICE_NAMES {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n == "grpc.health.v1.Health"),
        "{names:?}"
    );
}

fn agency(code: &str, kind: pb::AgencyKind) -> pb::Agency {
    pb::Agency {
        code: code.to_owned(),
        display_name: format!("Agency {code}"),
        kind: kind.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agencies_are_created_read_and_listed_by_page() {
    let server = TestServer::start().await;
    let mut directory = server.directory();
    let mut created = Vec::new();
    for (code, kind) in [
        ("SSC", pb::AgencyKind::Police),
        ("ERUM", pb::AgencyKind::Ems),
        ("CRUZROJA", pb::AgencyKind::RedCross),
        ("BOMBEROS", pb::AgencyKind::Fire),
        ("PC", pb::AgencyKind::CivilProtection),
    ] {
        let response = directory
            .create_agency(pb::CreateAgencyRequest {
                request_id: request_id(),
                agency: Some(agency(code, kind)),
            })
            .await
            .expect("create agency")
            .into_inner();
        created.push(response.agency.expect("agency"));
    }
    let fetched = directory
        .get_agency(pb::GetAgencyRequest {
            name: created[0].name.clone(),
        })
        .await
        .expect("get agency")
        .into_inner()
        .agency
        .expect("agency");
    assert_eq!(fetched, created[0]);

    // Two per page, by code: BOMBEROS, CRUZROJA | ERUM, PC | SSC.
    let mut codes = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = directory
            .list_agencies(pb::ListAgenciesRequest {
                page_size: 2,
                page_token: token,
                kinds: vec![],
            })
            .await
            .expect("list agencies")
            .into_inner();
        pages += 1;
        codes.extend(page.agencies.into_iter().map(|a| a.code));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(codes, ["BOMBEROS", "CRUZROJA", "ERUM", "PC", "SSC"]);
    assert_eq!(pages, 3);

    let police = directory
        .list_agencies(pb::ListAgenciesRequest {
            kinds: vec![pb::AgencyKind::Police.into()],
            ..Default::default()
        })
        .await
        .expect("filtered list")
        .into_inner();
    assert_eq!(police.agencies.len(), 1);
    assert_eq!(police.agencies[0].code, "SSC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_returns_the_original_and_a_reused_id_is_refused() {
    let server = TestServer::start().await;
    let mut directory = server.directory();
    let id = request_id();
    let request = pb::CreateAgencyRequest {
        request_id: id.clone(),
        agency: Some(agency("SSC", pb::AgencyKind::Police)),
    };
    let first = directory
        .create_agency(request.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = directory
        .create_agency(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.agency, retry.agency);
    assert_eq!(server.count("agencies").await, 1);

    let status = directory
        .create_agency(pb::CreateAgencyRequest {
            request_id: id,
            agency: Some(agency("OTHER", pb::AgencyKind::Fire)),
        })
        .await
        .expect_err("same id, different request");
    assert_refused(&status, Code::AlreadyExists, "REQUEST_ID_REUSED");

    let status = directory
        .create_agency(pb::CreateAgencyRequest {
            request_id: request_id(),
            agency: Some(agency("SSC", pb::AgencyKind::Police)),
        })
        .await
        .expect_err("code taken");
    assert_refused(&status, Code::AlreadyExists, "CODE_TAKEN");
    assert_eq!(server.count("agencies").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_names_every_field_and_writes_nothing() {
    let server = TestServer::start().await;
    let events_before = server.count("events").await;
    let keys_before = server.count("idempotency_keys").await;
    let mut directory = server.directory();
    let status = directory
        .create_agency(pb::CreateAgencyRequest {
            request_id: "not-a-uuid".into(),
            agency: Some(pb::Agency {
                code: "has space".into(),
                display_name: String::new(),
                kind: 42,
                ..Default::default()
            }),
        })
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&status),
        [
            "request_id",
            "agency.code",
            "agency.display_name",
            "agency.kind"
        ]
    );
    assert_invalid(
        directory
            .get_agency(pb::GetAgencyRequest {
                name: "stations/123".into(),
            })
            .await,
        "wrong collection",
        &["name"],
    );
    let status = directory
        .list_agencies(pb::ListAgenciesRequest {
            page_size: -1,
            page_token: "forged".into(),
            kinds: vec![0],
        })
        .await
        .expect_err("bad page");
    assert_eq!(violated_fields(&status), ["page_size", "kinds[0]"]);
    assert_eq!(server.count("agencies").await, 0);
    assert_eq!(server.count("events").await, events_before);
    assert_eq!(server.count("idempotency_keys").await, keys_before);

    let status = directory
        .get_agency(pb::GetAgencyRequest {
            name: format!("agencies/{}", uuid::Uuid::new_v4()),
        })
        .await
        .expect_err("missing");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_before_decoding_and_writes_nothing() {
    let mut config = dispatch_server::Config::defaults();
    config.max_request_bytes = 64 * 1024;
    let server = TestServer::start_with(config).await;
    let status = server
        .directory()
        .create_agency(pb::CreateAgencyRequest {
            request_id: request_id(),
            agency: Some(pb::Agency {
                code: "BIG".into(),
                display_name: "x".repeat(100 * 1024),
                kind: pb::AgencyKind::Other.into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(server.count("agencies").await, 0);
    // The server is still fine.
    directory_is_listable(&server).await;
}

async fn directory_is_listable(server: &TestServer) {
    fixtures::agencies(server).await;
}
