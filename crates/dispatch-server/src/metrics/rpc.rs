//! The tower layer that times every RPC and counts every stream.
//!
//! A gRPC status arrives either in the response headers (a trailers-only response: most
//! errors) or in the trailers after the body, so the layer wraps the body and records when the
//! status goes by, or when the body is dropped without one (the client went away: CANCELLED).
//! Streaming RPCs are counted apart: their duration is how long a client watched, not latency.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http_body::Frame;

use super::{Metrics, RpcLabels, StreamLabels};
use crate::authz;

type HttpRequest = http::Request<tonic::body::Body>;
type HttpResponse = http::Response<tonic::body::Body>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Times the RPCs of the services it wraps into `metrics`.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

/// The RPCs of the health service, which the role table does not list.
const HEALTH: &str = "grpc.health.v1.Health";

/// The labels of the RPC at `path`: only RPCs the server knows, so that a client sending
/// made-up paths cannot grow the number of series.
fn rpc_of(path: &str) -> (StreamLabels, bool) {
    let method = authz::Method::from_path(path);
    if let Some(rule) = method.rule() {
        return (
            StreamLabels {
                service: rule.service,
                method: rule.method,
            },
            authz::is_stream(method),
        );
    }
    match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
        Some((HEALTH, "Check")) => (
            StreamLabels {
                service: HEALTH,
                method: "Check",
            },
            false,
        ),
        Some((HEALTH, "Watch")) => (
            StreamLabels {
                service: HEALTH,
                method: "Watch",
            },
            true,
        ),
        _ => (
            StreamLabels {
                service: "unknown",
                method: "unknown",
            },
            false,
        ),
    }
}

impl<S> tower::Service<HttpRequest> for MetricsService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The clone is the one that was not polled ready: swap so the ready one serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (rpc, stream) = rpc_of(request.uri().path());
        let recording = Recording::start(self.metrics.clone(), rpc, stream);
        Box::pin(async move {
            match inner.call(request).await.map_err(Into::into) {
                Ok(mut response) => {
                    if let Some(code) = status_in(response.headers()) {
                        recording.finish(code);
                        return Ok(response);
                    }
                    let body = std::mem::replace(response.body_mut(), tonic::body::Body::empty());
                    *response.body_mut() = tonic::body::Body::new(RecordedBody {
                        inner: body,
                        recording: Some(recording),
                    });
                    Ok(response)
                }
                Err(error) => {
                    // The process-wide limit (tower's load shed): tonic answers it with
                    // RESOURCE_EXHAUSTED.
                    if error.is::<tower::load_shed::error::Overloaded>() {
                        recording.metrics.load_shed.inc();
                        recording.finish(tonic::Code::ResourceExhausted);
                    } else {
                        recording.finish(tonic::Code::Unknown);
                    }
                    Err(error)
                }
            }
        })
    }
}

/// The `grpc-status` of a header map (a trailers-only response's headers, or the trailers).
fn status_in(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

/// One RPC under way; recorded once, when its status is known.
struct Recording {
    metrics: Arc<Metrics>,
    rpc: StreamLabels,
    stream: bool,
    started: Instant,
}

impl Recording {
    fn start(metrics: Arc<Metrics>, rpc: StreamLabels, stream: bool) -> Self {
        if stream {
            metrics.streams_opened.get_or_create(&rpc).inc();
            metrics.streams_open.get_or_create(&rpc).inc();
        } else {
            metrics.in_flight.inc();
        }
        Self {
            metrics,
            rpc,
            stream,
            started: Instant::now(),
        }
    }

    fn finish(self, code: tonic::Code) {
        let labels = RpcLabels {
            service: self.rpc.service,
            method: self.rpc.method,
            code: crate::auth::code_name(code),
        };
        if self.stream {
            self.metrics.streams_open.get_or_create(&self.rpc).dec();
            self.metrics.streams_ended.get_or_create(&labels).inc();
        } else {
            self.metrics.in_flight.dec();
            self.metrics
                .rpc_duration
                .get_or_create(&labels)
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

/// A response body that records its RPC when the status goes by.
struct RecordedBody {
    inner: tonic::body::Body,
    recording: Option<Recording>,
}

impl RecordedBody {
    fn finish(&mut self, code: tonic::Code) {
        if let Some(recording) = self.recording.take() {
            recording.finish(code);
        }
    }
}

impl http_body::Body for RecordedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status_in) {
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                let code = status.code();
                self.finish(code);
            }
            // Ended without a status: not gRPC as it should be.
            Poll::Ready(None) => self.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for RecordedBody {
    fn drop(&mut self) {
        // Dropped before its status: the client went away (or the connection broke).
        self.finish(tonic::Code::Cancelled);
    }
}
