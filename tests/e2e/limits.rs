//! The request size limit (`DISPATCH_MAX_REQUEST_BYTES`): a request message past it answers
//! RESOURCE_EXHAUSTED, as gRPC specifies for a message larger than the configured limit, with
//! the limit in the message and an ErrorInfo a client can tell from a rate limit; it writes
//! nothing, and a message of exactly the limit is decoded and judged like any other.

use dispatch_proto::v1 as pb;
use dispatch_tests::{TestServer, fixtures, request_id};
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;

const LIMIT: usize = 64 * 1024;

async fn server() -> TestServer {
    let mut config = dispatch_server::Config::defaults();
    config.max_request_bytes = LIMIT;
    TestServer::start_with(config).await
}

/// A refusal (`answer` must be one): RESOURCE_EXHAUSTED naming the message's size, `length`,
/// and the limit, with ErrorInfo REQUEST_TOO_LARGE and the limit in its metadata.
fn assert_too_large<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, length: usize) {
    let status = answer.expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("limit of {LIMIT} bytes")),
        "{status:?}"
    );
    assert!(
        status.message().contains(&format!("{length} bytes")),
        "{status:?}"
    );
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, "REQUEST_TOO_LARGE");
    assert_eq!(info.domain, "dispatch.v1");
    assert_eq!(
        info.metadata.get("limit_bytes").map(String::as_str),
        Some(LIMIT.to_string().as_str())
    );
}

fn agency(display_name: String) -> pb::CreateAgencyRequest {
    pb::CreateAgencyRequest {
        request_id: request_id(),
        agency: Some(pb::Agency {
            code: "BIG".into(),
            display_name,
            kind: pb::AgencyKind::Other.into(),
            ..Default::default()
        }),
    }
}

fn call(account: String) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        account,
        callback_number: "+525555550101".into(),
        ..fixtures::call_at((19.4326, -99.1332), 20.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_resource_exhausted_with_the_limit_and_writes_nothing() {
    let server = server().await;
    let tables = ["agencies", "calls", "idempotency_keys", "events"];
    let mut before = Vec::new();
    for table in tables {
        before.push(server.count(table).await);
    }

    let request = agency("x".repeat(100 * 1024));
    let length = request.encoded_len();
    assert_too_large(server.directory().create_agency(request).await, length);

    let request = call("una mujer pide ayuda ".repeat(4_000));
    let length = request.encoded_len();
    assert_too_large(server.calls().create_call(request).await, length);

    // A read is refused the same way.
    let request = pb::ListUnitsRequest {
        capabilities: vec!["als".into(); 20_000],
        ..Default::default()
    };
    let length = request.encoded_len();
    assert!(length > LIMIT);
    assert_too_large(server.units().list_units(request).await, length);

    for (table, before) in tables.into_iter().zip(before) {
        assert_eq!(server.count(table).await, before, "{table}");
    }
    // The connection and the server are fine.
    fixtures::agencies(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_exactly_the_limit_is_judged_on_its_content() {
    let server = server().await;
    // A display name that makes the encoded request exactly LIMIT bytes: decoded, then refused
    // for its length (at most 200 characters), not for its size.
    let mut name_length = LIMIT - 64;
    let request = loop {
        let request = agency("x".repeat(name_length));
        match request.encoded_len() {
            length if length == LIMIT => break request,
            length if length > LIMIT => name_length -= 1,
            _ => name_length += 1,
        }
    };
    let status = server
        .directory()
        .create_agency(request.clone())
        .await
        .expect_err("too long a name");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        dispatch_tests::violated_fields(&status),
        ["agency.display_name"]
    );
    // One byte more is too large.
    let mut bigger = request;
    bigger
        .agency
        .as_mut()
        .expect("agency")
        .display_name
        .push('x');
    let length = bigger.encoded_len();
    assert_eq!(length, LIMIT + 1);
    assert_too_large(server.directory().create_agency(bigger).await, length);
    assert_eq!(server.count("agencies").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_at_its_first_oversized_message() {
    let server = server().await;
    // Position reports stream from a gateway: a report carrying a huge request id ends the
    // stream with the limit, and what came before it is not acknowledged as a whole.
    let report = |request_id: String| pb::ReportPositionsRequest {
        request_id,
        report: Some(pb::PositionReport {
            unit: format!("units/{}", uuid::Uuid::new_v4()),
            ..Default::default()
        }),
    };
    let huge = report("r".repeat(LIMIT + 10));
    let length = huge.encoded_len();
    let reports = tokio_stream::iter(vec![report(request_id()), huge]);
    assert_too_large(
        server.gateway().await.report_positions(reports).await,
        length,
    );
}
