//! The same credentials on the exchange listener (plain HTTP/1.1, not gRPC): a bearer token on
//! the request (the STA-024 WebSocket's upgrade), the role x RPC table's row of the RPC the
//! resource shares its data with, the same rate limit, the same audit of refusals, and for a
//! WebSocket, the same end when its credential stops being valid.

use std::net::SocketAddr;
use std::sync::Arc;

use dispatch_domain::audit::{AuditAction, AuditEntry, AuditOutcome};
use dispatch_domain::ids::PrincipalId;

use super::{AuditNote, AuthLayer, Principal, entry};
use crate::authz;
use crate::revocation::{Cutoff, Reason};

/// A request the exchange listener lets through.
#[derive(Debug)]
pub struct Admitted {
    pub principal: Principal,
    /// For a stream opened with a credential: fires when it stops being valid.
    pub cutoff: Option<Cutoff>,
}

/// A request turned away: the HTTP status and what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turned {
    pub status: http::StatusCode,
    pub message: String,
}

impl Turned {
    fn new(status: http::StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl AuthLayer {
    /// Authenticates the request's bearer token and authorises its role as for `rpc`
    /// (`/package.Service/Method`), rate-limited per principal like a gRPC call; `stream`:
    /// the answer carries the cutoff that ends it with its credential.
    pub async fn admit(
        &self,
        headers: &http::HeaderMap,
        peer: Option<SocketAddr>,
        resource: &str,
        rpc: &str,
        stream: bool,
    ) -> Result<Admitted, Turned> {
        let shared = &self.shared;
        if !shared.feed.database_up() {
            return Err(Turned::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be reached; retry shortly",
            ));
        }
        let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
        let authorization = headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
        let (principal, epoch) = match shared.authenticate(authorization.as_deref()).await {
            Ok(verified) => verified,
            Err(refusal) if refusal.outage => {
                return Err(Turned::new(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    refusal.message,
                ));
            }
            Err(refusal) => {
                shared.slow_down(peer.map(|p| p.ip())).await;
                shared
                    .audit(AuditEntry {
                        principal: String::new(),
                        role: String::new(),
                        agency: String::new(),
                        action: AuditAction::AuthenticationFailure,
                        method: resource.to_owned(),
                        resource: String::new(),
                        peer: peer_text,
                        outcome: AuditOutcome::Denied,
                        status_code: "UNAUTHENTICATED".into(),
                        request_id: String::new(),
                        detail: refusal.detail,
                    })
                    .await;
                return Err(Turned::new(http::StatusCode::UNAUTHORIZED, refusal.message));
            }
        };
        if let Some(peer) = peer {
            shared.forgive(peer.ip());
        }
        if !authz::allowed(principal.role, authz::Method::from_path(rpc)) {
            shared
                .audit(entry(
                    &principal,
                    AuditAction::Mutation,
                    resource,
                    &peer_text,
                    AuditOutcome::Denied,
                    "PERMISSION_DENIED",
                    &AuditNote::default(),
                    "role may not call this RPC",
                ))
                .await;
            return Err(Turned::new(
                http::StatusCode::FORBIDDEN,
                format!(
                    "role {} may not subscribe to incidents ({rpc})",
                    principal.role
                ),
            ));
        }
        if !shared.take_token(&principal.name) {
            return Err(Turned::new(
                http::StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "rate limit of {} requests per second exceeded; retry shortly",
                    shared.config.rate_per_second
                ),
            ));
        }
        let cutoff = match (principal.credential, stream) {
            (Some(credential), true) => PrincipalId::parse_name("principal", &principal.name)
                .ok()
                .map(|id| {
                    shared
                        .revocations
                        .watch(credential, id, principal.expires_at, epoch)
                }),
            _ => None,
        };
        Ok(Admitted { principal, cutoff })
    }

    /// Audits a stream of the exchange listener ended because its credential stopped being
    /// valid.
    pub fn exchange_stream_ended(
        &self,
        principal: &Principal,
        resource: &str,
        peer: Option<SocketAddr>,
        reason: Reason,
    ) {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        Arc::clone(&self.shared).stream_ended(principal, resource, &peer, reason);
    }
}
