//! Traces: a span per RPC whose parent is the caller's W3C trace context (`traceparent`), a span
//! per store transaction beneath it (`dispatch-store`), exported over OTLP/gRPC when
//! `--otlp-endpoint` is set.
//!
//! The spans are `tracing` spans; `tracing-opentelemetry` turns them into OpenTelemetry spans
//! for the exporter. The exporter belongs to the process's tracing subscriber (set up once in
//! `main.rs`), so only `dispatchd` itself exports; servers that tests run inside their own
//! process make the same spans and export nothing.

use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, Tracer};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The service name when `OTEL_SERVICE_NAME` does not give one.
const SERVICE_NAME: &str = "dispatchd";

/// The OTLP pipeline of the process. Dropping it does not flush: call [`Telemetry::shutdown`].
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

#[derive(Debug, thiserror::Error)]
#[error("setting up the OTLP exporter to {endpoint}: {source}")]
pub struct TelemetryError {
    endpoint: String,
    source: opentelemetry_otlp::ExporterBuildError,
}

impl Telemetry {
    /// An OTLP/gRPC exporter to `endpoint` (`http://collector:4317`), batching spans. Must be
    /// called within a Tokio runtime (the exporter's channel runs on it).
    pub fn otlp(endpoint: &str) -> Result<Self, TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|source| TelemetryError {
                endpoint: endpoint.to_owned(),
                source,
            })?;
        // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) are read by the SDK's detectors.
        let resource = match std::env::var_os("OTEL_SERVICE_NAME") {
            Some(_) => opentelemetry_sdk::Resource::builder().build(),
            None => opentelemetry_sdk::Resource::builder()
                .with_service_name(SERVICE_NAME)
                .build(),
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Self { provider })
    }

    /// The tracer the subscriber's OpenTelemetry layer records with.
    pub fn tracer(&self) -> Tracer {
        self.provider.tracer("dispatchd")
    }

    /// Exports what is still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("dispatchd: flushing traces: {error}");
        }
    }
}

/// The subscriber layer that turns `tracing` spans into OpenTelemetry spans.
pub fn layer<S>(tracer: Tracer) -> tracing_opentelemetry::OpenTelemetryLayer<S, Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(tracer)
}

/// The request's headers as a propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The span of one RPC (the gRPC server's trace layer makes it): named after the method, a
/// server span, child of the caller's span when the request carries a valid `traceparent`.
pub fn rpc_span<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path();
    let (service, method) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .unwrap_or(("", path));
    let span = tracing::info_span!(
        "rpc",
        otel.name = path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
    );
    if request.headers().contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
        // Without the OpenTelemetry layer (no exporter configured) there is nothing to parent.
        let _ = span.set_parent(parent);
    }
    span
}
