//! Traces over OTLP, as an operator configures them: the real `dispatchd` (the exporter is part
//! of the process's tracing subscriber, a global, hence a process of its own) with
//! `DISPATCH_OTLP_ENDPOINT` pointing at an OTLP/gRPC receiver in this test. A CreateAgency sent
//! with a W3C `traceparent` must arrive as a server span of that trace, child of the caller's
//! span, with the store transaction as its descendant.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use common::{ADMIN_TOKEN, start, temp_dir};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_tests::fixtures::new_agency;
use dispatch_tests::request_id;

/// The caller's trace and span, as a W3C `traceparent` carries them.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// The spans every export brought, with the service name they came with.
#[derive(Debug, Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().expect("not poisoned");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn an_rpc_span_joins_the_callers_trace_with_its_store_transaction_beneath() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let received = Received::default();
    // The receiver, bound before dispatchd starts.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding port 0");
    let receiver_address = listener.local_addr().expect("address");
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let data_dir = temp_dir("traces");
    let endpoint = format!("http://{receiver_address}");
    let dispatchd = start(
        &data_dir,
        &[
            ("DISPATCH_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "dispatchd-under-test"),
            // Export every 100 ms rather than every 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    runtime.block_on(async {
        // CreateAgency: an idempotent write, one store transaction.
        let mut directory = DirectoryServiceClient::new(dispatchd.channel());
        let mut request = tonic::Request::new(pb::CreateAgencyRequest {
            request_id: request_id(),
            agency: Some(new_agency(
                "ERUM",
                "Escuadrón de Rescate",
                pb::AgencyKind::Ems,
            )),
        });
        let metadata = request.metadata_mut();
        metadata.insert(
            "authorization",
            format!("Bearer {ADMIN_TOKEN}").parse().expect("ascii"),
        );
        metadata.insert(
            "traceparent",
            format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
                .parse()
                .expect("ascii"),
        );
        directory
            .create_agency(request)
            .await
            .expect("create agency");
    });

    // Spans arrive in batches: wait, bounded, for the transaction's (it ends before the RPC's).
    let started = Instant::now();
    let spans = loop {
        let spans: Vec<(String, Span)> = received.0.lock().expect("not poisoned").clone();
        let rpc = spans
            .iter()
            .any(|(_, s)| s.name == "dispatch.v1.DirectoryService/CreateAgency");
        let transaction = spans
            .iter()
            .any(|(_, s)| s.name == "store.transaction" && hex(&s.trace_id) == TRACE_ID);
        if rpc && transaction {
            break spans;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no RPC and transaction spans within 20 s; received {spans:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(dispatchd.stop().success(), "dispatchd exits 0 on SIGTERM");

    let (service, rpc) = spans
        .iter()
        .find(|(_, s)| s.name == "dispatch.v1.DirectoryService/CreateAgency")
        .expect("the RPC's span");
    assert_eq!(
        service, "dispatchd-under-test",
        "OTEL_SERVICE_NAME names the service"
    );
    assert_eq!(
        hex(&rpc.trace_id),
        TRACE_ID,
        "the RPC joined the caller's trace"
    );
    assert_eq!(
        hex(&rpc.parent_span_id),
        PARENT_SPAN_ID,
        "the caller's span is the RPC's parent"
    );
    assert_eq!(rpc.kind, SpanKind::Server as i32);

    // The transaction descends from the RPC's span (through whatever spans lie between).
    let by_id: std::collections::HashMap<Vec<u8>, &Span> =
        spans.iter().map(|(_, s)| (s.span_id.clone(), s)).collect();
    let transaction = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s.name == "store.transaction" && s.trace_id == rpc.trace_id)
        .expect("a store transaction in the RPC's trace");
    let mut ancestor = by_id.get(&transaction.parent_span_id);
    let mut found = false;
    while let Some(span) = ancestor {
        if span.span_id == rpc.span_id {
            found = true;
            break;
        }
        ancestor = by_id.get(&span.parent_span_id);
    }
    assert!(found, "the transaction descends from the RPC: {spans:#?}");
    assert!(
        transaction.start_time_unix_nano >= rpc.start_time_unix_nano
            && transaction.end_time_unix_nano <= rpc.end_time_unix_nano,
        "the transaction lies within the RPC"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
