//! Credentials of principals and authentication with them (tokens: see `tokens`).
//!
//! A bearer token is `dsp_<credential id, 32 hex>_<secret, 64 hex>`. The id makes checking a
//! token one primary-key lookup; only a random salt and sha256(salt || secret) are stored, and the
//! token itself is handed out once, when it is issued. No secret ever goes into an event, an
//! error, a `Debug` rendering or a log line.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::event::SecurityEvent;
use dispatch_domain::ids::{CredentialId, PrincipalId};

use dispatch_domain::principal::{Credential, CredentialKind, Principal};

use crate::events::{self, About};
use crate::idempotency::Claimed;
use crate::principals::{DESCRIPTION_MAX_CHARS, insert_error, invalid};
use crate::resource::Resource;
use crate::rows::{CredentialRow, PrincipalRow};
use crate::schema::{credentials, principals};
use crate::tokens::{
    SALT_LEN, SECRET_LEN, constant_time_eq, format_token, normalize_certificate_sha256,
    parse_token, random, token_hash, token_prefix,
};
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, newest_first_after};

/// A credential to issue to a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential {
    pub principal: PrincipalId,
    pub kind: CredentialKind,
    /// For a client certificate: the SHA-256 of its DER encoding, in hex.
    pub certificate_sha256: Option<String>,
    /// At most 500 characters.
    pub description: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a presented credential was not accepted. All of them mean UNAUTHENTICATED to the caller;
/// the distinction is for the audit record's detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("malformed credential")]
    Malformed,
    /// No such credential, or the secret does not match it.
    #[error("unknown credential")]
    UnknownCredential,
    #[error("credential expired")]
    Expired,
    #[error("credential revoked")]
    Revoked,
    #[error("principal disabled")]
    Disabled,
}

/// Who was authenticated, and by which credential.
/// Who a credential speaks for, which credential, and until when it is valid.
pub type Authenticated = (Principal, CredentialId, Option<DateTime<Utc>>);

/// What checking a credential needs. Its `Debug` shows no salt or hash.
#[derive(Queryable, Selectable)]
#[diesel(table_name = credentials, check_for_backend(diesel::pg::Pg))]
struct VerifyRow {
    id: Uuid,
    salt: Option<Vec<u8>>,
    token_hash: Option<Vec<u8>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// A credential's id, `revoked_at` and `expires_at`, and its principal's `disabled_at`.
type StandingRow = (
    Uuid,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Revoked, expired or disabled, in that order; the secret has been checked already.
fn check_standing(
    credential: &VerifyRow,
    principal: PrincipalRow,
    now: DateTime<Utc>,
) -> Result<Result<Authenticated, AuthFailure>, Error> {
    if credential.revoked_at.is_some() {
        return Ok(Err(AuthFailure::Revoked));
    }
    if credential.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(AuthFailure::Expired));
    }
    if principal.disabled_at.is_some() {
        return Ok(Err(AuthFailure::Disabled));
    }
    Ok(Ok((
        principal.try_into()?,
        CredentialId(credential.id),
        credential.expires_at,
    )))
}

impl Store {
    /// Issues a credential to an enabled principal. A bearer token gets a fresh 256-bit secret;
    /// the token (`dsp_<id>_<secret>`) is returned this once and never stored. A client
    /// certificate credential needs `certificate_sha256` (hex, colons allowed). A retry with the
    /// same request id returns the credential, no token, and `true`.
    pub async fn issue_credential(
        &self,
        key: &Idempotency,
        actor: &str,
        credential: &NewCredential,
    ) -> Result<Written<(Credential, Option<String>)>, Error> {
        let NewCredential {
            principal,
            kind,
            expires_at,
            ..
        } = *credential;
        let description = credential.description.as_str();
        let mut violations = Violations::new();
        let certificate = match (kind, credential.certificate_sha256.as_deref()) {
            (CredentialKind::BearerToken, None) => None,
            (CredentialKind::BearerToken, Some(_)) => {
                violations.add(
                    "certificate_sha256",
                    "only a client_certificate credential has one",
                );
                None
            }
            (CredentialKind::ClientCertificate, None) => {
                violations.add(
                    "certificate_sha256",
                    "required for a client certificate: the SHA-256 of its DER encoding, in hex",
                );
                None
            }
            (CredentialKind::ClientCertificate, Some(text)) => {
                let normalized = normalize_certificate_sha256(text);
                if normalized.is_none() {
                    violations.add("certificate_sha256", "must be 64 hexadecimal digits");
                }
                normalized
            }
        };
        if description.chars().count() > DESCRIPTION_MAX_CHARS {
            violations.add("description", "must be at most 500 characters");
        }
        violations.into_result(|| ()).map_err(invalid)?;

        let id = CredentialId::new_v7();
        // Made before the transaction (cheap); dropped unused on a replay.
        let bearer = match kind {
            CredentialKind::BearerToken => {
                let secret = random::<SECRET_LEN>()?;
                let salt = random::<SALT_LEN>()?;
                let token = format_token(id, &secret);
                Some((
                    token_prefix(&token),
                    salt,
                    token_hash(&salt, &secret),
                    token,
                ))
            }
            CredentialKind::ClientCertificate => None,
        };
        self.write_once(
            key,
            &id.name(),
            async |conn| {
                let disabled_at: Option<DateTime<Utc>> = principals::table
                    .find(principal.0)
                    .select(principals::disabled_at)
                    .for_share()
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| Error::NotFound(principal.name()))?;
                if disabled_at.is_some() {
                    return Err(dispatch_domain::Error::WrongState {
                        subject: principal.name(),
                        current: "disabled".into(),
                        action: "issue a credential".into(),
                    }
                    .into());
                }
                diesel::insert_into(credentials::table)
                    .values((
                        credentials::id.eq(id.0),
                        credentials::principal_id.eq(principal.0),
                        credentials::kind.eq(kind.as_str()),
                        credentials::token_prefix.eq(bearer.as_ref().map_or("", |b| b.0.as_str())),
                        credentials::salt.eq(bearer.as_ref().map(|b| b.1.as_slice())),
                        credentials::token_hash.eq(bearer.as_ref().map(|b| b.2.as_slice())),
                        credentials::certificate_sha256.eq(certificate.as_deref()),
                        credentials::description.eq(description),
                        credentials::created_by.eq(actor),
                        credentials::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| {
                        insert_error(error, || {
                            "a credential for this client certificate already exists".to_owned()
                        })
                    })?;
                let issued = SecurityEvent::CredentialIssued {
                    credential: id,
                    principal,
                    kind: kind.as_str().to_owned(),
                    token_prefix: bearer.as_ref().map_or("", |b| b.0.as_str()).to_owned(),
                    certificate_sha256: certificate.clone(),
                    description: description.to_owned(),
                    expires_at,
                };
                events::append_one(conn, actor, About::nothing(), issued).await
            },
            async |conn, claimed| {
                let id = claimed.resource(id, CredentialId::parse_name)?;
                // The token is handed out once: a replay answers the credential without it.
                let token = match claimed {
                    Claimed::New(()) => bearer.as_ref().map(|b| b.3.clone()),
                    Claimed::Replay(_) => None,
                };
                Ok((Credential::read(conn, id).await?, token))
            },
        )
        .await
    }

    /// Revokes a credential: it stops authenticating at once. Revoking twice is
    /// FAILED_PRECONDITION (`WrongState`); a retry with the same request id replays.
    pub async fn revoke_credential(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CredentialId,
        reason: &str,
    ) -> Result<Written<Credential>, Error> {
        if reason.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(invalid(Violations::single(
                "reason",
                "must be at most 500 characters",
            )));
        }
        self.write_resource(key, id, async |conn| {
            let (principal, revoked_at): (Uuid, Option<DateTime<Utc>>) = credentials::table
                .find(id.0)
                .select((credentials::principal_id, credentials::revoked_at))
                .for_update()
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| Error::NotFound(id.name()))?;
            if revoked_at.is_some() {
                return Err(dispatch_domain::Error::WrongState {
                    subject: id.name(),
                    current: "revoked".into(),
                    action: "revoke it".into(),
                }
                .into());
            }
            diesel::update(credentials::table.find(id.0))
                .set((
                    credentials::revoked_at.eq(diesel::dsl::now),
                    credentials::revoke_reason.eq(reason),
                ))
                .execute(conn)
                .await?;
            let revoked = SecurityEvent::CredentialRevoked {
                credential: id,
                principal: PrincipalId(principal),
                reason: reason.to_owned(),
            };
            events::append_one(conn, actor, About::nothing(), revoked).await
        })
        .await
    }

    pub async fn get_credential(&self, id: CredentialId) -> Result<Credential, Error> {
        self.get(id).await
    }

    /// Credentials newest first, of one principal (NOT_FOUND if it does not exist) or of all.
    /// Without `include_inactive`, only those neither revoked nor expired (by the database's
    /// clock).
    pub async fn list_credentials(
        &self,
        principal: Option<PrincipalId>,
        include_inactive: bool,
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<Credential>, Option<TimeCursor>), Error> {
        let mut conn = self.conn().await?;
        let mut query = credentials::table
            .select(CredentialRow::as_select())
            .order((credentials::created_at.desc(), credentials::id.desc()))
            .into_boxed();
        if let Some(principal) = principal {
            query = query.filter(credentials::principal_id.eq(principal.0));
        }
        if !include_inactive {
            query = query.filter(credentials::revoked_at.is_null()).filter(
                credentials::expires_at
                    .is_null()
                    .or(credentials::expires_at.gt(diesel::dsl::now)),
            );
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(
                credentials::created_at,
                credentials::id,
                after
            ))
        });
        let rows: Vec<CredentialRow> = query.load(&mut conn).await?;
        if rows.is_empty()
            && let Some(principal) = principal
        {
            Principal::read(&mut conn, principal).await?;
        }
        page.finish(rows, |row| TimeCursor {
            time: row.created_at,
            id: row.id,
        })
    }

    /// Checks a bearer token (`dsp_<id>_<secret>`) at `now`: one primary-key lookup, then the
    /// salted hash compared in constant time, then revocation, expiry and the principal. The
    /// outer error is the database's; the inner one why the token is refused.
    pub async fn authenticate_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Authenticated, AuthFailure>, Error> {
        let Some(token) = parse_token(token) else {
            return Ok(Err(AuthFailure::Malformed));
        };
        let found: Option<(VerifyRow, PrincipalRow)> = {
            let mut conn = self.conn().await?;
            credentials::table
                .inner_join(principals::table)
                .filter(credentials::id.eq(token.id.0))
                .select((VerifyRow::as_select(), PrincipalRow::as_select()))
                .first(&mut conn)
                .await
                .optional()?
        };
        let (credential, principal) = match found {
            Some((
                credential @ VerifyRow {
                    salt: Some(_),
                    token_hash: Some(_),
                    ..
                },
                principal,
            )) => (credential, principal),
            // No such credential, or a certificate's: hash anyway, so the answer takes as long.
            _ => {
                let _ = constant_time_eq(&token_hash(&[0; SALT_LEN], &token.secret), &[0; 32]);
                return Ok(Err(AuthFailure::UnknownCredential));
            }
        };
        let salt = credential.salt.as_deref().unwrap_or_default();
        let expected = credential.token_hash.as_deref().unwrap_or_default();
        if !constant_time_eq(&token_hash(salt, &token.secret), expected) {
            return Ok(Err(AuthFailure::UnknownCredential));
        }
        check_standing(&credential, principal, now)
    }

    /// Which of `ids` are no longer valid at `now` (revoked, expired, their principal disabled,
    /// or unknown), with why: the periodic re-check of the credentials behind open streams.
    pub async fn invalid_credentials(
        &self,
        ids: &[CredentialId],
        now: DateTime<Utc>,
    ) -> Result<Vec<(CredentialId, AuthFailure)>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let rows: Vec<StandingRow> = {
            let mut conn = self.conn().await?;
            credentials::table
                .inner_join(principals::table)
                .filter(credentials::id.eq_any(&wanted))
                .select((
                    credentials::id,
                    credentials::revoked_at,
                    credentials::expires_at,
                    principals::disabled_at,
                ))
                .load(&mut conn)
                .await?
        };
        let gone = wanted
            .iter()
            .filter(|id| !rows.iter().any(|row| row.0 == **id))
            .map(|id| (CredentialId(*id), AuthFailure::UnknownCredential))
            .collect::<Vec<_>>();
        let invalid = rows
            .into_iter()
            .filter_map(|(id, revoked_at, expires_at, disabled_at)| {
                let failure = if revoked_at.is_some() {
                    AuthFailure::Revoked
                } else if expires_at.is_some_and(|at| at <= now) {
                    AuthFailure::Expired
                } else if disabled_at.is_some() {
                    AuthFailure::Disabled
                } else {
                    return None;
                };
                Some((CredentialId(id), failure))
            })
            .chain(gone)
            .collect();
        Ok(invalid)
    }

    /// Checks a client certificate by the SHA-256 of its DER encoding (hex) at `now`.
    pub async fn authenticate_certificate(
        &self,
        sha256_hex: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Authenticated, AuthFailure>, Error> {
        let Some(fingerprint) = normalize_certificate_sha256(sha256_hex) else {
            return Ok(Err(AuthFailure::Malformed));
        };
        let found: Option<(VerifyRow, PrincipalRow)> = {
            let mut conn = self.conn().await?;
            credentials::table
                .inner_join(principals::table)
                .filter(credentials::certificate_sha256.eq(&fingerprint))
                .filter(credentials::kind.eq(CredentialKind::ClientCertificate.as_str()))
                .select((VerifyRow::as_select(), PrincipalRow::as_select()))
                .first(&mut conn)
                .await
                .optional()?
        };
        match found {
            None => Ok(Err(AuthFailure::UnknownCredential)),
            Some((credential, principal)) => check_standing(&credential, principal, now),
        }
    }
}
