//! How every client of dispatchctl (and of the benchmark) behaves when the server says "not
//! now": one tower layer under every generated client, so no call site retries by hand.
//!
//! - **Retry** what the server says to retry, and nothing else: `RESOURCE_EXHAUSTED` (a rate or
//!   concurrency limit refused the request before any work) and `UNAVAILABLE` (no database, a
//!   lost connection). The very same request is sent again, byte for byte: a mutation carries
//!   the same `request_id`, so a retry of one that did commit returns the original result and
//!   writes nothing. Back-off is exponential with jitter, bounded in attempts and in total time.
//! - **Pace** what is sent under the server's per-principal rate limit (`DISPATCH_RATE_LIMIT`,
//!   200 requests/s by default, bursts of twice that): a token bucket per credential, at a
//!   configurable rate below it. When the server refuses with `RESOURCE_EXHAUSTED` anyway (it is
//!   configured lower, or another client shares the principal), the pacer halves its rate and
//!   regains it gradually while nothing is refused.
//!
//! Client-streaming RPCs (`ReportPositions`) are paced but not retried: their body is a stream
//! that cannot be sent twice. A server stream is retried only when it is refused before it
//! starts (a status in the response headers); once it has started, resuming is the caller's
//! business (the Watch RPCs resume from a sequence).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tonic::Code;
use tonic::body::Body;
use tower::ServiceExt as _;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server's default `DISPATCH_RATE_LIMIT` (crates/dispatch-server/src/config.rs).
pub const SERVER_DEFAULT_RATE_LIMIT: f64 = 200.0;

/// What a client sends per credential per second unless told otherwise: three quarters of the
/// server's default limit, so bulk work never runs into it.
pub const DEFAULT_RATE: f64 = 150.0;

/// When and how often a refused request is sent again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt.
    pub max_elapsed: Duration,
    /// The back-off before the first retry; it doubles for each next one.
    pub base: Duration,
    /// The back-off never exceeds this.
    pub cap: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(60),
            base: Duration::from_millis(50),
            cap: Duration::from_secs(5),
        }
    }
}

impl Policy {
    /// No retries at all.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Whether an answer with `code` is one the server asks to be sent again.
    pub fn retries(code: Code) -> bool {
        matches!(code, Code::ResourceExhausted | Code::Unavailable)
    }

    /// The back-off before retry number `retry` (1 for the first), with "equal jitter":
    /// half the exponential step, plus `jitter` (a number in [0, 1)) times the other half, so
    /// clients refused together do not come back together, and none comes back at once.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let step = self
            .base
            .saturating_mul(1u32 << exponent)
            .min(self.cap)
            .as_secs_f64();
        Duration::from_secs_f64(step / 2.0 + step / 2.0 * jitter.clamp(0.0, 1.0))
    }

    /// The wait before the next attempt after an answer with `code`, or `None` to give up:
    /// `attempts` made so far, `elapsed` since the first began.
    pub fn next(
        &self,
        code: Code,
        attempts: u32,
        elapsed: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        if !Self::retries(code) || attempts >= self.max_attempts {
            return None;
        }
        let wait = self.backoff(attempts, jitter);
        (elapsed + wait <= self.max_elapsed).then_some(wait)
    }
}

/// A number in [0, 1) from the operating system's generator (the clock if it fails).
fn jitter() -> f64 {
    let bits = getrandom::u64().unwrap_or_else(|_| {
        u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos(),
        )
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
    });
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A token bucket for one credential. Each request reserves the next slot and waits for it,
/// so concurrent callers are served in order at the bucket's rate; a burst of one second's
/// worth goes out at once.
#[derive(Debug)]
pub struct Pacer {
    ceiling: f64,
    state: Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    rate: f64,
    tokens: f64,
    updated: Instant,
    last_cut: Option<Instant>,
}

/// Refusals closer together than this are one overload: the rate is cut once for them.
const CUT_SPACING: Duration = Duration::from_millis(250);
/// The slowest a pacer goes after cuts.
const MIN_RATE: f64 = 1.0;
/// While nothing is refused, the rate grows back by this fraction per second.
const REGROWTH_PER_SECOND: f64 = 0.2;

impl Pacer {
    /// A pacer at `rate` requests per second; `None` when `rate` is not a positive finite
    /// number (no pacing).
    pub fn new(rate: f64) -> Option<Self> {
        (rate.is_finite() && rate > 0.0).then(|| Self {
            ceiling: rate,
            state: Mutex::new(PaceState {
                rate,
                tokens: rate.max(1.0),
                updated: Instant::now(),
                last_cut: None,
            }),
        })
    }

    /// The rate it paces at now (requests per second).
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Reserves the next slot at `now`: how long to wait for it.
    fn reserve(&self, now: Instant) -> Duration {
        let mut state = self.lock();
        let dt = now.saturating_duration_since(state.updated).as_secs_f64();
        let calm = state
            .last_cut
            .is_none_or(|cut| now.saturating_duration_since(cut) >= Duration::from_secs(1));
        if calm && state.rate < self.ceiling {
            state.rate = (state.rate * (1.0 + REGROWTH_PER_SECOND * dt)).min(self.ceiling);
        }
        let burst = state.rate.max(1.0);
        state.tokens = (state.tokens + dt * state.rate).min(burst) - 1.0;
        state.updated = state.updated.max(now);
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / state.rate)
        }
    }

    /// The server refused a request as over its limit: halve the rate (once per overload) and
    /// send nothing more until the next slot.
    pub fn refused(&self) {
        self.cut(Instant::now());
    }

    fn cut(&self, now: Instant) {
        let mut state = self.lock();
        if state
            .last_cut
            .is_some_and(|cut| now.saturating_duration_since(cut) < CUT_SPACING)
        {
            return;
        }
        state.last_cut = Some(now);
        state.rate = (state.rate / 2.0).max(MIN_RATE);
        state.tokens = state.tokens.min(0.0);
    }
}

/// What the layer did, shared by every client made from one connection.
#[derive(Debug, Default)]
pub struct Stats {
    retried: Mutex<BTreeMap<&'static str, u64>>,
    gave_up: AtomicU64,
}

/// A copy of [`Stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Requests sent again, in all.
    pub retries: u64,
    /// Retries by the code that caused them.
    pub by_code: BTreeMap<&'static str, u64>,
    /// Requests still refused when the attempts or the time ran out.
    pub gave_up: u64,
}

impl Counts {
    /// "12 (RESOURCE_EXHAUSTED=10,UNAVAILABLE=2)".
    pub fn summary(&self) -> String {
        let codes = crate::output::counts(&self.by_code);
        if codes.is_empty() {
            self.retries.to_string()
        } else {
            format!("{} ({codes})", self.retries)
        }
    }
}

impl Stats {
    fn retried(&self, code: Code) {
        *self
            .retried
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(crate::error::code_name(code))
            .or_default() += 1;
    }

    pub fn counts(&self) -> Counts {
        let by_code = self
            .retried
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Counts {
            retries: by_code.values().sum(),
            by_code,
            gave_up: self.gave_up.load(Ordering::Relaxed),
        }
    }
}

/// Whether the RPC at `path` (`/dispatch.v1.X/Method`) takes a stream of requests. Unknown
/// paths are treated as streams: never buffered, never retried.
fn client_streaming(path: &str) -> bool {
    let Some((service, method)) = path.trim_start_matches('/').split_once('/') else {
        return true;
    };
    let Ok(pool) = crate::output::pool() else {
        return true;
    };
    pool.get_service_by_name(service)
        .and_then(|s| s.methods().find(|m| m.name() == method))
        .is_none_or(|m| m.is_client_streaming())
}

/// The status code of a response refused before it began (a status in its headers). A
/// request larger than the server's limit is RESOURCE_EXHAUSTED too, but sending it again can
/// only be refused again, so it is answered to the caller at once.
fn refused_with(response: &http::Response<Body>) -> Option<Code> {
    let code = response
        .headers()
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
        .filter(|code| *code != Code::Ok)?;
    if code == Code::ResourceExhausted && too_large(response.headers()) {
        return None;
    }
    Some(code)
}

/// Whether a refusal says the request itself is over the size limit (ErrorInfo reason
/// `REQUEST_TOO_LARGE`, common.proto).
fn too_large(headers: &http::HeaderMap) -> bool {
    use tonic_types::StatusExt as _;
    tonic::Status::from_header_map(headers)
        .and_then(|status| status.get_details_error_info())
        .is_some_and(|info| info.reason == "REQUEST_TOO_LARGE")
}

/// The layer: wraps a channel (or any HTTP/2 gRPC service).
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: Policy,
    pacer: Option<Arc<Pacer>>,
    stats: Arc<Stats>,
}

impl<S> Retry<S> {
    /// `inner` with `policy`, paced by `pacer` (none: unpaced), counting into `stats`.
    pub fn new(inner: S, policy: Policy, pacer: Option<Arc<Pacer>>, stats: Arc<Stats>) -> Self {
        Self {
            inner,
            policy,
            pacer,
            stats,
        }
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    pub fn pacer(&self) -> Option<&Arc<Pacer>> {
        self.pacer.as_ref()
    }

    /// The same inner service with another pacer (another credential), counting into the same
    /// stats.
    pub fn with_pacer(&self, pacer: Option<Arc<Pacer>>) -> Self
    where
        S: Clone,
    {
        Self {
            inner: self.inner.clone(),
            policy: self.policy,
            pacer,
            stats: self.stats.clone(),
        }
    }
}

fn copy_request(parts: &http::request::Parts, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new(http_body_util::Full::new(body)));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

impl<S> tower::Service<http::Request<Body>> for Retry<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service polled ready is the one that takes this request (tower's usual swap).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let policy = self.policy;
        let pacer = self.pacer.clone();
        let stats = self.stats.clone();
        Box::pin(async move {
            if let Some(pacer) = &pacer {
                pacer.acquire().await;
            }
            if client_streaming(request.uri().path()) {
                return inner.call(request).await.map_err(Into::into);
            }
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|status| Box::new(status) as BoxError)?
                .to_bytes();
            let started = Instant::now();
            let mut attempts = 0u32;
            loop {
                if attempts > 0 {
                    if let Some(pacer) = &pacer {
                        pacer.acquire().await;
                    }
                    inner.ready().await.map_err(Into::into)?;
                }
                attempts += 1;
                // A transport error becomes the status tonic would give the caller (a lost or
                // refused connection is UNAVAILABLE, its client timeout CANCELLED).
                let result = inner
                    .call(copy_request(&parts, body.clone()))
                    .await
                    .map_err(|error| tonic::Status::from_error(error.into()));
                let code = match &result {
                    Ok(response) => refused_with(response),
                    Err(status) => Some(status.code()),
                };
                let result = result.map_err(|status| Box::new(status) as BoxError);
                let Some(code) = code.filter(|code| Policy::retries(*code)) else {
                    return result;
                };
                if code == Code::ResourceExhausted
                    && let Some(pacer) = &pacer
                {
                    pacer.refused();
                }
                match policy.next(code, attempts, started.elapsed(), jitter()) {
                    Some(wait) => {
                        stats.retried(code);
                        tokio::time::sleep(wait).await;
                    }
                    None => {
                        stats.gave_up.fetch_add(1, Ordering::Relaxed);
                        return result;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use tower::Service as _;

    use super::*;

    #[test]
    fn only_what_the_server_asks_to_retry_is_retried() {
        for code in [Code::ResourceExhausted, Code::Unavailable] {
            assert!(Policy::retries(code), "{code:?}");
        }
        for code in [
            Code::Ok,
            Code::Cancelled,
            Code::Unknown,
            Code::InvalidArgument,
            Code::DeadlineExceeded,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::Internal,
            Code::DataLoss,
            Code::Unauthenticated,
        ] {
            assert!(!Policy::retries(code), "{code:?}");
            assert_eq!(
                Policy::default().next(code, 1, Duration::ZERO, 0.5),
                None,
                "{code:?}"
            );
        }
    }

    #[test]
    fn back_off_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let policy = Policy {
            max_attempts: 20,
            max_elapsed: Duration::from_secs(3600),
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        let steps = [100, 200, 400, 800, 1600, 2000, 2000];
        for (i, step) in steps.iter().enumerate() {
            let retry = u32::try_from(i + 1).expect("small");
            let step = Duration::from_millis(*step);
            assert_eq!(policy.backoff(retry, 0.0), step / 2, "retry {retry}");
            assert_eq!(policy.backoff(retry, 1.0), step, "retry {retry}");
            let middle = policy.backoff(retry, 0.5);
            assert!(
                middle > step / 2 && middle < step,
                "retry {retry}: {middle:?}"
            );
        }
        // Far past the cap, no overflow.
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_secs(2));
        // Two clients refused together come back at different times.
        assert_ne!(policy.backoff(3, jitter()), policy.backoff(3, jitter()));
    }

    #[test]
    fn attempts_and_total_time_are_bounded() {
        let policy = Policy::default();
        // Always refused, the worst jitter: it stops, within both bounds.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while let Some(wait) = policy.next(Code::ResourceExhausted, attempts, elapsed, 1.0) {
            elapsed += wait;
            attempts += 1;
        }
        assert!(attempts <= policy.max_attempts, "{attempts}");
        assert!(elapsed <= policy.max_elapsed, "{elapsed:?}");
        assert!(attempts > 3, "it does retry: {attempts}");

        // A tight time budget ends retries before the attempts run out.
        let short = Policy {
            max_elapsed: Duration::from_millis(300),
            ..policy
        };
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while let Some(wait) = short.next(Code::Unavailable, attempts, elapsed, 1.0) {
            elapsed += wait;
            attempts += 1;
        }
        assert!(elapsed <= Duration::from_millis(300), "{elapsed:?}");
        assert!(attempts < policy.max_attempts, "{attempts}");
        assert_eq!(
            Policy::never().next(Code::Unavailable, 1, Duration::ZERO, 0.0),
            None
        );
    }

    #[test]
    fn the_pacer_holds_its_rate_and_halves_it_when_refused() {
        let pacer = Pacer::new(50.0).expect("a rate");
        let t0 = Instant::now();
        // A burst of one second's worth goes at once...
        for _ in 0..50 {
            assert_eq!(pacer.reserve(t0), Duration::ZERO);
        }
        // ...then each request waits for its slot, 20 ms apart, in order.
        for i in 1..=100u32 {
            let wait = pacer.reserve(t0);
            let slot = Duration::from_millis(20) * i;
            assert!(
                wait.abs_diff(slot) < Duration::from_micros(10),
                "{i}: {wait:?}"
            );
        }
        // Two seconds later the reservations are used up and the bucket refills from there.
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(pacer.reserve(t1), Duration::ZERO);

        pacer.cut(t1);
        pacer.cut(t1 + Duration::from_millis(10)); // the same overload: cut once
        assert_eq!(pacer.rate(), 25.0);
        // Nothing more goes out at once after a refusal.
        assert!(pacer.reserve(t1 + Duration::from_millis(20)) > Duration::ZERO);
        let t2 = t1 + CUT_SPACING * 2;
        pacer.cut(t2);
        assert_eq!(pacer.rate(), 12.5);
        // Calm: it grows back to its ceiling, never past it.
        let mut now = t2;
        for _ in 0..60 {
            now += Duration::from_secs(1);
            pacer.reserve(now);
        }
        assert_eq!(pacer.rate(), 50.0);
        assert!(Pacer::new(0.0).is_none() && Pacer::new(f64::INFINITY).is_none());
    }

    /// A service that refuses the first `refusals` requests with `code` and records every
    /// request body it got.
    #[derive(Clone)]
    struct Refusing {
        refusals: Arc<AtomicU64>,
        code: Code,
        bodies: Arc<Mutex<Vec<Bytes>>>,
    }

    impl tower::Service<http::Request<Body>> for Refusing {
        type Response = http::Response<Body>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            let this = self.clone();
            Box::pin(async move {
                let body = request.into_body().collect().await?.to_bytes();
                this.bodies.lock().expect("lock").push(body);
                let refuse = this
                    .refusals
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                Ok(if refuse {
                    tonic::Status::new(this.code, "not now").into_http()
                } else {
                    http::Response::new(Body::empty())
                })
            })
        }
    }

    fn unary_request(body: &'static [u8]) -> http::Request<Body> {
        let mut request = http::Request::new(Body::new(http_body_util::Full::new(
            Bytes::from_static(body),
        )));
        *request.uri_mut() = http::Uri::from_static(
            "http://127.0.0.1:50051/dispatch.v1.CallIntakeService/CreateCall",
        );
        request
    }

    /// Retries a millisecond or a few apart.
    const QUICK: Policy = Policy {
        max_attempts: 6,
        max_elapsed: Duration::from_secs(10),
        base: Duration::from_millis(1),
        cap: Duration::from_millis(4),
    };

    async fn send(
        refusals: u64,
        code: Code,
    ) -> (Result<http::Response<Body>, BoxError>, Vec<Bytes>, Counts) {
        let inner = Refusing {
            refusals: Arc::new(AtomicU64::new(refusals)),
            code,
            bodies: Arc::default(),
        };
        let bodies = inner.bodies.clone();
        let stats = Arc::new(Stats::default());
        let mut retry = Retry::new(
            inner,
            QUICK,
            Pacer::new(1000.0).map(Arc::new),
            stats.clone(),
        );
        let result = retry
            .ready()
            .await
            .expect("ready")
            .call(unary_request(b"request_id=42"))
            .await;
        let bodies = bodies.lock().expect("lock").clone();
        (result, bodies, stats.counts())
    }

    #[tokio::test]
    async fn a_refused_request_is_sent_again_byte_for_byte() {
        let (result, bodies, counts) = send(3, Code::ResourceExhausted).await;
        let response = result.expect("a response");
        assert_eq!(refused_with(&response), None);
        assert_eq!(bodies.len(), 4);
        assert!(
            bodies.iter().all(|b| b.as_ref() == b"request_id=42"),
            "{bodies:?}"
        );
        assert_eq!(counts.retries, 3);
        assert_eq!(counts.by_code.get("RESOURCE_EXHAUSTED"), Some(&3));
        assert_eq!(counts.gave_up, 0);

        // Refused for good: the last refusal is the answer, after the bounded attempts.
        let (result, bodies, counts) = send(1_000, Code::Unavailable).await;
        let response = result.expect("a response");
        assert_eq!(refused_with(&response), Some(Code::Unavailable));
        assert_eq!(bodies.len(), QUICK.max_attempts as usize);
        assert_eq!(counts.gave_up, 1);

        // Anything else is the caller's answer at once.
        let (result, bodies, counts) = send(1, Code::Aborted).await;
        assert_eq!(
            refused_with(&result.expect("a response")),
            Some(Code::Aborted)
        );
        assert_eq!(bodies.len(), 1);
        assert_eq!(counts, Counts::default());
    }

    #[test]
    fn a_request_over_the_size_limit_is_not_sent_again() {
        use tonic_types::{ErrorDetails, StatusExt as _};
        let too_large = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "the request is larger than the limit of 4194304 bytes",
            ErrorDetails::with_error_info(
                "REQUEST_TOO_LARGE",
                "dispatch.v1",
                std::collections::HashMap::new(),
            ),
        );
        assert_eq!(refused_with(&too_large.into_http()), None);
        let rate_limited = tonic::Status::resource_exhausted("rate limit exceeded; retry shortly");
        assert_eq!(
            refused_with(&rate_limited.into_http()),
            Some(Code::ResourceExhausted)
        );
    }
}
