//! Authentication, authorisation and audit, in one tower layer in front of every service.
//!
//! Every RPC except health is authenticated (a bearer token, `DISPATCH_ADMIN_TOKEN`, or a client
//! certificate: see [`certificate`]), checked
//! against the role x RPC table in [`crate::authz`], rate-limited per principal, and mutating
//! calls are written to the append-only audit trail with their outcome. Handlers read the caller
//! with [`Principal::of`] and never check roles themselves; they only scope resources (a field
//! unit's own unit, a partner's own referrals).
//!
//! A stream (Watch*, ReportPositions) lives no longer than its credential: the layer registers
//! it with [`crate::revocation`], ends it with UNAUTHENTICATED when the credential is revoked or
//! expires or its principal is disabled or changed, and audits that end.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::Status;

use dispatch_domain::audit::{AuditAction, AuditEntry, AuditOutcome};
use dispatch_domain::auth::Role;
use dispatch_domain::ids::{AgencyId, CredentialId, PartnerId, PrincipalId, UnitId};
use dispatch_store::Store;

use crate::authz;
use crate::metrics::AuthFailure;
use crate::revocation::{CutoffBody, Reason, Revocations, Standing};

mod certificate;
mod exchange;
mod note;

pub use exchange::{Admitted, Turned};
use note::AUDIT_NOTE;
pub use note::{
    AuditNote, audit_of_success, note_audit_written, note_detail, note_request_id, note_resource,
    note_victim_data_read,
};

/// The caller of a request, as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `principals/{uuid}`, or `bootstrap-admin` for `DISPATCH_ADMIN_TOKEN`.
    pub name: String,
    pub role: Role,
    pub agency: Option<AgencyId>,
    /// The one unit a field unit speaks for.
    pub unit: Option<UnitId>,
    /// The one partner agency a partner principal speaks for.
    pub partner: Option<PartnerId>,
    /// The credential the request authenticated with; none for `DISPATCH_ADMIN_TOKEN`.
    pub credential: Option<CredentialId>,
    /// When that credential expires: a stream opened with it ends then.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// The caller a valid credential (a token or a client certificate) speaks for.
    fn verified(
        (principal, credential, expires_at): dispatch_store::credentials::Authenticated,
    ) -> Self {
        Self {
            name: principal.id.name(),
            role: principal.role,
            agency: principal.agency,
            unit: principal.unit,
            partner: principal.partner,
            credential: Some(credential),
            expires_at,
        }
    }

    /// The partner a partner principal speaks for; `None` for everyone else (no scope).
    pub fn partner_scope(&self) -> Option<PartnerId> {
        (self.role == Role::PartnerAgency)
            .then_some(self.partner)
            .flatten()
    }

    /// The authenticated caller. The auth layer puts it on every request it lets through; a
    /// request without one (a handler called without the layer) acts as nobody.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Principal>()
            .cloned()
            .unwrap_or_else(|| Self {
                name: "unauthenticated".into(),
                role: Role::Gateway,
                agency: None,
                unit: None,
                partner: None,
                credential: None,
                expires_at: None,
            })
    }

    fn bootstrap_admin() -> Self {
        Self {
            name: "bootstrap-admin".into(),
            role: Role::Admin,
            agency: None,
            unit: None,
            partner: None,
            credential: None,
            expires_at: None,
        }
    }
}

/// Settings of the auth layer.
#[derive(Clone)]
pub struct AuthConfig {
    pub admin_token: Option<SecretString>,
    /// Requests per second per principal, sustained; bursts up to twice this.
    pub rate_per_second: f64,
    /// How long a verified token is trusted without asking the database again. Revocations
    /// and principal changes apply before that, as soon as this process hears of them (see
    /// [`crate::revocation`]); this bounds how long a missed one could go unnoticed.
    pub verified_ttl: Duration,
    /// Longest a request may run (until its response starts; a client stream is exempt).
    pub request_timeout: Duration,
    /// Where refusals are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("rate_per_second", &self.rate_per_second)
            .field("verified_ttl", &self.verified_ttl)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Shared {
    store: Store,
    /// Told after every mutation so the feed publishes it at once; says whether the database
    /// can be reached at all.
    feed: Arc<crate::feed::Feed>,
    /// Signals that end streams and verifications of credentials no longer valid.
    revocations: Arc<Revocations>,
    config: AuthConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
    /// Tokens verified recently: the principal, when to ask the database again, and the
    /// revocation epoch it was verified at.
    verified: Mutex<HashMap<String, Verified>>,
}

/// Verified tokens kept at most; past this the cache starts over.
const VERIFIED_MAX: usize = 10_000;

#[derive(Debug, Clone)]
struct Verified {
    principal: Principal,
    until: Instant,
    epoch: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The layer: wraps every service of the server.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

impl AuthLayer {
    pub fn new(
        store: Store,
        feed: Arc<crate::feed::Feed>,
        revocations: Arc<Revocations>,
        config: AuthConfig,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                feed,
                revocations,
                config,
                buckets: Mutex::new(HashMap::new()),
                failures: Mutex::new(HashMap::new()),
                verified: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type HttpRequest = http::Request<tonic::body::Body>;
type HttpResponse = http::Response<tonic::body::Body>;

impl<S> tower::Service<HttpRequest> for AuthService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest) -> Self::Future {
        // The clone is the one that was not polled ready: swap so the ready one serves.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            if path.starts_with("/grpc.health.v1.Health/") {
                return inner.call(request).await;
            }
            // Without the database nothing can be authenticated, read or written: say so at
            // once instead of letting the request wait out its deadline.
            if !shared.feed.database_up() {
                return Ok(Status::unavailable(
                    "the database cannot be reached; retry shortly (health reports NOT_SERVING)",
                )
                .into_http());
            }
            let peer = crate::tls::remote_addr(request.extensions());
            let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
            let authorization = request
                .headers()
                .get("authorization")
                .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
            let certificate = crate::tls::client_certificate_sha256(request.extensions());
            let (principal, epoch) = match shared
                .authenticate_request(authorization.as_deref(), certificate.as_deref())
                .await
            {
                Ok(verified) => verified,
                Err(refusal) if refusal.outage => {
                    shared.config.metrics.auth_failed(refusal.reason);
                    return Ok(Status::unavailable(refusal.message).into_http());
                }
                Err(refusal) => {
                    shared.config.metrics.auth_failed(refusal.reason);
                    let message = refusal.message;
                    shared.turn_away(refusal, &path, peer).await;
                    return Ok(Status::unauthenticated(message).into_http());
                }
            };
            if let Some(peer) = peer {
                shared.forgive(peer.ip());
            }
            let method = authz::Method::from_path(&path);
            if !authz::allowed(principal.role, method) {
                shared
                    .audit(entry(
                        &principal,
                        AuditAction::Mutation,
                        &path,
                        &peer_text,
                        AuditOutcome::Denied,
                        "PERMISSION_DENIED",
                        &AuditNote::default(),
                        "role may not call this RPC",
                    ))
                    .await;
                // The path is the client's: bounded like every other status.
                return Ok(crate::error::plain(
                    tonic::Code::PermissionDenied,
                    &format!("role {} may not call {path}", principal.role),
                )
                .into_http());
            }
            if !shared.take_token(&principal.name) {
                shared.config.metrics.rate_limited();
                return Ok(Status::resource_exhausted(format!(
                    "rate limit of {} requests per second exceeded; retry shortly",
                    shared.config.rate_per_second
                ))
                .into_http());
            }
            // A stream lives no longer than its credential (the bootstrap token has none).
            let mut cutoff = match (principal.credential, authz::is_stream(method)) {
                (Some(credential), true) => PrincipalId::parse_name("principal", &principal.name)
                    .ok()
                    .map(|id| {
                        shared
                            .revocations
                            .watch(credential, id, principal.expires_at, epoch)
                    }),
                _ => None,
            };
            request.extensions_mut().insert(principal.clone());
            let success = authz::is_mutation(method).then(|| {
                entry(
                    &principal,
                    AuditAction::Mutation,
                    &path,
                    &peer_text,
                    AuditOutcome::Success,
                    code_name(tonic::Code::Ok),
                    &AuditNote::default(),
                    "",
                )
            });
            let cell = std::cell::RefCell::new(AuditNote {
                success,
                ..AuditNote::default()
            });
            let (response, note) = AUDIT_NOTE
                .scope(cell, async {
                    let serve = async {
                        let serve = inner.call(request);
                        if authz::is_client_stream(method) {
                            serve.await
                        } else {
                            match tokio::time::timeout(shared.config.request_timeout, serve).await {
                                Ok(response) => response,
                                Err(_) => Ok(Status::deadline_exceeded(format!(
                                    "the request did not finish within {:?}",
                                    shared.config.request_timeout
                                ))
                                .into_http()),
                            }
                        }
                    };
                    // Until its response starts (a client stream: until it ends), the handler
                    // runs only while the credential is valid; it is never polled after the
                    // cutoff fires, so a position report read after that is never stored.
                    let response = match cutoff.as_mut() {
                        Some(cutoff) => tokio::select! {
                            biased;
                            reason = cutoff => {
                                shared.stream_ended(&principal, &path, &peer_text, reason);
                                Ok(reason.status().into_http())
                            }
                            response = serve => response,
                        },
                        None => serve.await,
                    };
                    let note = AUDIT_NOTE.with(|note| note.borrow().clone());
                    (response, note)
                })
                .await;
            let mut response = response?;
            if authz::is_mutation(method) {
                shared.feed.committed();
            }
            // A stream under way: its body ends when the cutoff fires.
            if let Some(cutoff) = cutoff
                && !response.headers().contains_key("grpc-status")
            {
                let body = std::mem::replace(response.body_mut(), tonic::body::Body::empty());
                let (ended, principal, path, peer) = (
                    shared.clone(),
                    principal.clone(),
                    path.clone(),
                    peer_text.clone(),
                );
                *response.body_mut() =
                    tonic::body::Body::new(CutoffBody::new(body, cutoff, move |reason| {
                        ended.stream_ended(&principal, &path, &peer, reason)
                    }));
            }
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map_or(tonic::Code::Ok, tonic::Code::from_i32);
            // A write that recorded its audit record, then failed to answer, is audited twice:
            // its success, and the failure the client saw.
            let recorded = note.written && code == tonic::Code::Ok;
            let audited = !recorded
                && (authz::is_mutation(method)
                    || note.victim_data
                    || authz::is_audit_read(method)
                    || authz::is_report_read(method));
            if audited {
                let outcome = match code {
                    tonic::Code::Ok => AuditOutcome::Success,
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                        AuditOutcome::Denied
                    }
                    _ => AuditOutcome::Failure,
                };
                let action = if authz::is_audit_read(method) {
                    AuditAction::AuditRead
                } else if authz::is_report_read(method) {
                    AuditAction::ReportRead
                } else if path.ends_with("/IssueCredential") {
                    AuditAction::CredentialIssued
                } else if path.ends_with("/RevokeCredential") {
                    AuditAction::CredentialRevoked
                } else if note.victim_data && !authz::is_mutation(method) {
                    AuditAction::VictimDataRead
                } else {
                    AuditAction::Mutation
                };
                shared
                    .audit(entry(
                        &principal,
                        action,
                        &path,
                        &peer_text,
                        outcome,
                        code_name(code),
                        &note,
                        &note.detail,
                    ))
                    .await;
            }
            Ok(response)
        })
    }
}

#[expect(clippy::too_many_arguments, reason = "one audit row's columns")]
fn entry(
    principal: &Principal,
    action: AuditAction,
    method: &str,
    peer: &str,
    outcome: AuditOutcome,
    status_code: &str,
    note: &AuditNote,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        principal: principal.name.clone(),
        role: principal.role.as_str().to_owned(),
        agency: principal.agency.map(|a| a.name()).unwrap_or_default(),
        action,
        method: method.to_owned(),
        resource: note.resource.clone(),
        peer: peer.to_owned(),
        outcome,
        status_code: status_code.to_owned(),
        request_id: note.request_id.clone(),
        detail: detail.to_owned(),
    }
}

struct Refusal {
    /// What the client is told: never whether a credential exists.
    message: &'static str,
    /// What the audit trail keeps.
    detail: String,
    /// The credential could not be checked at all (the database is unreachable): UNAVAILABLE,
    /// not UNAUTHENTICATED, and not the caller's fault.
    outage: bool,
    reason: AuthFailure,
}

/// A failed login from one address waits this much longer each time, up to the cap.
const FAILURE_DELAY_STEP: Duration = Duration::from_millis(50);
const FAILURE_DELAY_CAP: Duration = Duration::from_secs(2);
/// Failures this old are forgotten.
const FAILURE_MEMORY: Duration = Duration::from_secs(300);

impl Shared {
    /// The caller, and the revocation epoch it was verified at.
    async fn authenticate(&self, header: Option<&str>) -> Result<(Principal, u64), Refusal> {
        let Some(token) = header.and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        }) else {
            return Err(Refusal {
                message: "authentication required: send 'authorization: Bearer <token>'",
                detail: if header.is_some() {
                    "malformed authorization header".into()
                } else {
                    "no credential".into()
                },
                outage: false,
                reason: if header.is_some() {
                    AuthFailure::Malformed
                } else {
                    AuthFailure::NoCredential
                },
            });
        };
        let token = token.trim();
        if let Some(admin) = &self.config.admin_token
            && constant_time_eq(token.as_bytes(), admin.expose_secret().as_bytes())
        {
            return Ok((Principal::bootstrap_admin(), self.revocations.epoch()));
        }
        if let Some(verified) = self.recently_verified(token) {
            return Ok(verified);
        }
        // Read before asking the database: a revocation heard of while it answers is caught
        // by the check of the cache and of the stream registry against this epoch.
        let epoch = self.revocations.epoch();
        let now = Utc::now();
        match self.store.authenticate_token(token, now).await {
            Ok(Ok(authenticated)) => {
                let verified = Principal::verified(authenticated);
                // Never trusted past the credential's own expiry.
                let ttl = verified
                    .expires_at
                    .and_then(|at| (at - now).to_std().ok())
                    .map_or(self.config.verified_ttl, |left| {
                        left.min(self.config.verified_ttl)
                    });
                self.remember(token, &verified, ttl, epoch);
                Ok((verified, epoch))
            }
            Ok(Err(failure)) => Err(Refusal {
                message: "invalid, expired or revoked credential",
                detail: failure.to_string(),
                outage: false,
                reason: AuthFailure::Invalid,
            }),
            Err(error) => {
                tracing::warn!(%error, "authentication lookup failed");
                Err(Refusal {
                    message: "authentication unavailable; retry",
                    detail: "store unavailable".into(),
                    outage: true,
                    reason: AuthFailure::Unavailable,
                })
            }
        }
    }

    /// A bad credential: answered ever more slowly from its address, and audited.
    async fn turn_away(&self, refusal: Refusal, method: &str, peer: Option<std::net::SocketAddr>) {
        self.slow_down(peer.map(|p| p.ip())).await;
        self.audit(AuditEntry {
            principal: String::new(),
            role: String::new(),
            agency: String::new(),
            action: AuditAction::AuthenticationFailure,
            method: method.to_owned(),
            resource: String::new(),
            peer: peer.map(|p| p.to_string()).unwrap_or_default(),
            outcome: AuditOutcome::Denied,
            status_code: "UNAUTHENTICATED".into(),
            request_id: String::new(),
            detail: refusal.detail,
        })
        .await;
    }

    /// A verification still in date that no revocation or principal change since concerns.
    fn recently_verified(&self, token: &str) -> Option<(Principal, u64)> {
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = verified.get(token)?;
        let standing = match (
            entry.principal.credential,
            PrincipalId::parse_name("principal", &entry.principal.name),
        ) {
            (Some(credential), Ok(principal)) => {
                self.revocations.check(entry.epoch, credential, principal)
            }
            _ => Standing::Unknown,
        };
        if Instant::now() < entry.until && standing == Standing::Valid {
            return Some((entry.principal.clone(), entry.epoch));
        }
        verified.remove(token);
        None
    }

    fn remember(&self, token: &str, principal: &Principal, ttl: Duration, epoch: u64) {
        if ttl.is_zero() {
            return;
        }
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= VERIFIED_MAX {
            verified.clear();
        }
        verified.insert(
            token.to_owned(),
            Verified {
                principal: principal.clone(),
                until: Instant::now() + ttl,
                epoch,
            },
        );
    }

    /// Audits a stream ended because its credential stopped being valid. Called where the
    /// stream ends (a body being polled): the record is written by a task of its own.
    fn stream_ended(
        self: &Arc<Self>,
        principal: &Principal,
        method: &str,
        peer: &str,
        reason: Reason,
    ) {
        let note = AuditNote {
            resource: principal.credential.map(|c| c.name()).unwrap_or_default(),
            ..AuditNote::default()
        };
        let record = entry(
            principal,
            AuditAction::StreamEnded,
            method,
            peer,
            AuditOutcome::Denied,
            "UNAUTHENTICATED",
            &note,
            reason.detail(),
        );
        tracing::info!(principal = %principal.name, method, reason = reason.detail(), "stream ended");
        let shared = self.clone();
        tokio::spawn(async move { shared.audit(record).await });
    }

    /// Repeated bad credentials from one address are answered ever more slowly.
    async fn slow_down(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        let delay = {
            let mut failures = self
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            failures.retain(|_, f| now.duration_since(f.last) < FAILURE_MEMORY);
            let entry = failures.entry(ip).or_insert(Failures {
                count: 0,
                last: now,
            });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            (FAILURE_DELAY_STEP * entry.count.saturating_sub(1)).min(FAILURE_DELAY_CAP)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    fn forgive(&self, ip: IpAddr) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&ip);
    }

    /// A token bucket per principal.
    fn take_token(&self, principal: &str) -> bool {
        let rate = self.config.rate_per_second;
        let burst = (rate * 2.0).max(1.0);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(principal.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    async fn audit(&self, entry: AuditEntry) {
        // An audit row that cannot be written is logged in full: the request itself has
        // already been answered by the database that failed.
        if let Err(error) = self.store.record_audit(&entry).await {
            self.config.metrics.audit_write_failed();
            tracing::error!(%error, ?entry, "writing the audit trail");
        }
    }
}

/// A status code's name as the gRPC specification spells it ("OK", "FAILED_PRECONDITION"), as
/// `AuditRecord.status_code` promises.
pub(crate) fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
    }
}
