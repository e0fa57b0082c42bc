//! Client certificates (mutual TLS) as credentials.
//!
//! The TLS handshake has already checked that the certificate chains to `--tls-client-ca`; who
//! it speaks for is the principal whose `client_certificate` credential holds the SHA-256 of its
//! DER encoding (the store's model has no subject match: a fingerprint names exactly one
//! certificate, so a CA issuing a second certificate with the same subject grants nothing). From
//! there it is a credential like a token: the same principal with the same role and partner, so
//! exactly a token's scope; the same rate limit, audit and slowing down of failures; revoking it
//! (or disabling its principal) refuses the next request and ends its open streams.
//!
//! A request carries one credential: a certificate and an `authorization` header together are
//! refused (UNAUTHENTICATED), rather than guessing which of two principals is meant.
//!
//! A certificate is checked against the database on every request (one indexed lookup, no
//! password hash): there is no cache to outlive a revocation.

use chrono::Utc;

use super::{Principal, Refusal, Shared};
use crate::metrics::AuthFailure;

impl Shared {
    /// The caller of a request that presented `certificate` (its SHA-256) over mutual TLS, or
    /// `header` (`authorization`), and the revocation epoch it was verified at.
    pub(super) async fn authenticate_request(
        &self,
        header: Option<&str>,
        certificate: Option<&str>,
    ) -> Result<(Principal, u64), Refusal> {
        let Some(fingerprint) = certificate else {
            return self.authenticate(header).await;
        };
        if header.is_some() {
            return Err(Refusal {
                message: "send one credential: a client certificate or an authorization header, \
                          not both",
                detail: format!(
                    "client certificate sha256 {fingerprint} and an authorization header"
                ),
                outage: false,
                reason: AuthFailure::Certificate,
            });
        }
        // Read before asking the database, as for a token: a revocation heard of while it
        // answers still ends a stream opened with this verification.
        let epoch = self.revocations.epoch();
        match self
            .store
            .authenticate_certificate(fingerprint, Utc::now())
            .await
        {
            Ok(Ok(authenticated)) => Ok((Principal::verified(authenticated), epoch)),
            Ok(Err(failure)) => Err(Refusal {
                message: "client certificate not accepted: no valid credential has it",
                detail: format!("client certificate sha256 {fingerprint}: {failure}"),
                outage: false,
                reason: AuthFailure::Certificate,
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
}
