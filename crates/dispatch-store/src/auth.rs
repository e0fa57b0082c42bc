//! Principals, their credentials, authentication, and the append-only audit trail.
//!
//! A bearer token is `dsp_<credential id, 32 hex>_<secret, 64 hex>`. The id makes checking a
//! token one primary-key lookup; only a random salt and sha256(salt || secret) are stored, and the
//! token itself is handed out once, when it is issued. No secret ever goes into an event, an
//! error, a `Debug` rendering or a log line.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::auth::Role;
use dispatch_domain::ids::{AgencyId, CredentialId, PrincipalId, UnitId};

use crate::idempotency::Claim;
use crate::rows::NewEvent;
use crate::schema::{audit_records, credentials, events, principals};
use crate::{Error, Idempotency, Page, Store, TimeCursor};

/// Every bearer token starts with this, so scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "dsp_";
/// How many leading characters of a token are kept, for people to recognise it by.
pub const TOKEN_PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const SALT_LEN: usize = 16;
/// The longest audit detail kept; longer ones are cut (the column refuses more).
pub const AUDIT_DETAIL_MAX_CHARS: usize = 2000;
const DESCRIPTION_MAX_CHARS: usize = 500;
const DISPLAY_NAME_MAX_CHARS: usize = 200;

/// A closed set of values stored as text, like the domain's: `as_str`, `parse`, `ALL`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum! {
    /// How a credential proves its principal.
    pub enum CredentialKind {
        /// `authorization: Bearer dsp_…`.
        BearerToken => "bearer_token",
        /// A TLS client certificate, recognised by the SHA-256 of its DER encoding.
        ClientCertificate => "client_certificate",
    }
}

stored_enum! {
    /// What an audit record is about.
    pub enum AuditAction {
        Mutation => "mutation",
        VictimDataRead => "victim_data_read",
        AuthenticationFailure => "authentication_failure",
        CredentialIssued => "credential_issued",
        CredentialRevoked => "credential_revoked",
        AuditRead => "audit_read",
        /// An open stream ended because its credential stopped being valid.
        StreamEnded => "stream_ended",
    }
}

stored_enum! {
    /// How the audited request ended.
    pub enum AuditOutcome {
        Success => "success",
        /// Refused: unauthenticated or not allowed.
        Denied => "denied",
        /// Allowed, but failed (invalid, not found, internal...).
        Failure => "failure",
    }
}

/// Someone (or something) that acts: a person, a field unit, a gateway or a partner agency.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub id: PrincipalId,
    /// The unique handle, `^[a-z0-9._-]{1,64}$`.
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Option<AgencyId>,
    /// Set exactly for a field unit: the one unit it speaks for.
    pub unit: Option<UnitId>,
    /// Set exactly for a partner agency: the one partner it speaks for.
    pub partner: Option<Uuid>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Increases with every update: the etag.
    pub version: i64,
}

impl Principal {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// A principal to create. [`NewPrincipal::validate`] is what the store checks; call it at the
/// edge to report the violations with the wire's field paths.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrincipal {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Option<AgencyId>,
    pub unit: Option<UnitId>,
    pub partner: Option<Uuid>,
}

impl NewPrincipal {
    /// Every violation, with paths relative to the principal (`name`, `unit`, ...).
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if !valid_principal_name(&self.name) {
            violations.add(
                "name",
                "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'",
            );
        }
        if self.display_name.chars().count() > DISPLAY_NAME_MAX_CHARS {
            violations.add("display_name", "must be at most 200 characters");
        }
        match (self.role, self.unit) {
            (Role::FieldUnit, None) => {
                violations.add("unit", "required for a field_unit principal: its one unit")
            }
            (role, Some(_)) if role != Role::FieldUnit => {
                violations.add("unit", "only a field_unit principal is bound to a unit")
            }
            _ => {}
        }
        match (self.role, self.partner) {
            (Role::PartnerAgency, None) => violations.add(
                "partner",
                "required for a partner_agency principal: its one partner",
            ),
            (role, Some(_)) if role != Role::PartnerAgency => violations.add(
                "partner",
                "only a partner_agency principal is bound to a partner",
            ),
            _ => {}
        }
        violations.into_result(|| ())
    }
}

/// `^[a-z0-9._-]{1,64}$`, as the `principals.name` CHECK says.
pub fn valid_principal_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Which principals to list; empty or `None` means any.
#[derive(Debug, Clone, Default)]
pub struct PrincipalFilter {
    pub roles: Vec<Role>,
    pub agency: Option<AgencyId>,
    pub unit: Option<UnitId>,
    pub partner: Option<Uuid>,
}

/// What `update_principal` changes; `None` leaves a field as it is (`Some(None)` clears a
/// binding).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub agency: Option<Option<AgencyId>>,
    pub unit: Option<Option<UnitId>>,
    pub partner: Option<Option<Uuid>>,
    pub disabled: Option<bool>,
    /// Why, for the event log: at most 500 characters.
    pub reason: String,
}

/// What `update_principal` did.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalUpdate {
    pub principal: Principal,
    /// It was disabled, or its role or a binding changed: every open session of its
    /// credentials must end (false on a replay: the first request ended them).
    pub ends_sessions: bool,
    pub replayed: bool,
}

/// The event of a revocation: `{"credential", "principal", "reason"}`.
pub const EVENT_CREDENTIAL_REVOKED: &str = "credential_revoked";
/// The event of a disabled principal: `{"principal", "reason"}`.
pub const EVENT_PRINCIPAL_DISABLED: &str = "principal_disabled";
/// The event of a principal enabled again: `{"principal", "reason"}`.
pub const EVENT_PRINCIPAL_ENABLED: &str = "principal_enabled";
/// The event of a changed principal: `{"principal", "changed", ..., "ends_sessions"}`.
pub const EVENT_PRINCIPAL_UPDATED: &str = "principal_updated";

/// A credential as anyone may see it: never its secret, salt or hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub id: CredentialId,
    pub principal: PrincipalId,
    pub kind: CredentialKind,
    /// The token's first 12 characters (`dsp_` and 8 of the id); empty for a certificate.
    pub token_prefix: String,
    /// Lowercase hex SHA-256 of the certificate's DER encoding, for a client certificate.
    pub certificate_sha256: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: String,
}

impl Credential {
    /// Neither revoked nor expired at `now` (the principal may still be disabled).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
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

/// One audit record to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The principal's name (or what was claimed, for a failed authentication), or empty.
    pub principal: String,
    pub role: String,
    pub agency: String,
    pub action: AuditAction,
    /// The RPC, e.g. `/dispatch.v1.CallIntakeService/CreateCall`.
    pub method: String,
    pub resource: String,
    /// Where the request came from (the peer address).
    pub peer: String,
    pub outcome: AuditOutcome,
    /// The gRPC status code's name, e.g. `OK`, `PERMISSION_DENIED`.
    pub status_code: String,
    pub request_id: String,
    /// Cut to 2000 characters when stored. Never a secret.
    pub detail: String,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub principal: String,
    pub role: String,
    pub agency: String,
    pub action: AuditAction,
    pub method: String,
    pub resource: String,
    pub peer: String,
    pub outcome: AuditOutcome,
    pub status_code: String,
    pub request_id: String,
    pub detail: String,
}

/// Which audit records to list; empty or `None` means any. `from` is inclusive, `until`
/// exclusive; principal and resource match exactly.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub principal: Option<String>,
    pub resource: Option<String>,
    pub actions: Vec<AuditAction>,
    pub outcomes: Vec<AuditOutcome>,
}

// --- tokens ------------------------------------------------------------------------------------

/// A parsed bearer token. Its `Debug` hides the secret.
struct Token {
    id: CredentialId,
    secret: [u8; SECRET_LEN],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn format_token(id: CredentialId, secret: &[u8; SECRET_LEN]) -> String {
    format!("{TOKEN_PREFIX}{}_{}", id.0.simple(), hex(secret))
}

/// `dsp_<32 lowercase hex>_<64 lowercase hex>`, nothing else.
fn parse_token(token: &str) -> Option<Token> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || !is_lower_hex(id) {
        return None;
    }
    let id = Uuid::try_parse(id).ok()?;
    let secret: [u8; SECRET_LEN] = unhex(secret)?.try_into().ok()?;
    Some(Token {
        id: CredentialId(id),
        secret,
    })
}

/// The part of a token kept for people to recognise it.
fn token_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX_LEN).collect()
}

fn token_hash(salt: &[u8], secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(secret);
    hasher.finalize().into()
}

/// Equal bytes, in time that depends only on the length (which is public: always 32 here).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::Internal(format!("no randomness from the system: {error}")))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex only.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !is_lower_hex(text) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The lowercase hex SHA-256 of a certificate's DER encoding: what a client certificate
/// credential stores and [`Store::authenticate_certificate`] looks up.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

/// Accepts 64 hex digits in either case, optionally in colon-separated pairs (as `openssl x509
/// -fingerprint -sha256` prints them); answers the canonical lowercase form.
pub fn normalize_certificate_sha256(text: &str) -> Option<String> {
    let text: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (text.len() == 64 && is_lower_hex(&text)).then_some(text)
}

/// Cuts `text` to at most `max` characters, on a character boundary.
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

// --- rows --------------------------------------------------------------------------------------

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = principals, check_for_backend(diesel::pg::Pg))]
struct PrincipalRow {
    id: Uuid,
    name: String,
    display_name: String,
    role: String,
    agency_id: Option<Uuid>,
    unit_id: Option<Uuid>,
    partner_id: Option<Uuid>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    version: i64,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = Error;

    fn try_from(row: PrincipalRow) -> Result<Self, Error> {
        Ok(Principal {
            id: PrincipalId(row.id),
            role: Role::parse(&row.role).ok_or_else(|| unexpected("role", &row.role))?,
            name: row.name,
            display_name: row.display_name,
            agency: row.agency_id.map(AgencyId),
            unit: row.unit_id.map(UnitId),
            partner: row.partner_id,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            disabled_at: row.disabled_at,
            version: row.version,
        })
    }
}

/// The public columns of a credential: never the salt or the hash.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = credentials, check_for_backend(diesel::pg::Pg))]
struct CredentialRow {
    id: Uuid,
    principal_id: Uuid,
    kind: String,
    token_prefix: String,
    certificate_sha256: Option<String>,
    description: String,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    revoke_reason: String,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = Error;

    fn try_from(row: CredentialRow) -> Result<Self, Error> {
        Ok(Credential {
            id: CredentialId(row.id),
            principal: PrincipalId(row.principal_id),
            kind: CredentialKind::parse(&row.kind)
                .ok_or_else(|| unexpected("credential kind", &row.kind))?,
            token_prefix: row.token_prefix,
            certificate_sha256: row.certificate_sha256,
            description: row.description,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            revoke_reason: row.revoke_reason,
        })
    }
}

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

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_records, check_for_backend(diesel::pg::Pg))]
struct AuditRow {
    id: i64,
    occurred_at: DateTime<Utc>,
    principal: String,
    role: String,
    agency: String,
    action: String,
    method: String,
    resource: String,
    peer: String,
    outcome: String,
    status_code: String,
    request_id: String,
    detail: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<Self, Error> {
        Ok(AuditRecord {
            id: row.id,
            occurred_at: row.occurred_at,
            action: AuditAction::parse(&row.action)
                .ok_or_else(|| unexpected("audit action", &row.action))?,
            outcome: AuditOutcome::parse(&row.outcome)
                .ok_or_else(|| unexpected("audit outcome", &row.outcome))?,
            principal: row.principal,
            role: row.role,
            agency: row.agency,
            method: row.method,
            resource: row.resource,
            peer: row.peer,
            status_code: row.status_code,
            request_id: row.request_id,
            detail: row.detail,
        })
    }
}

fn unexpected(what: &str, value: &str) -> Error {
    Error::Internal(format!("unexpected {what} {value:?} in the database"))
}

fn bad_resource(resource: &str) -> Error {
    Error::Internal(format!("unexpected stored resource {resource:?}"))
}

fn invalid(violations: Violations) -> Error {
    Error::Domain(violations.into())
}

/// Unique and foreign-key violations of the inserts here, said in the caller's terms.
fn insert_error(error: DieselError, taken: impl FnOnce() -> String) -> Error {
    if let DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) = &error {
        let referred = match info.constraint_name() {
            Some("principals_agency_id_fkey") => "the agency referred to",
            Some("principals_unit_id_fkey") => "the unit referred to",
            Some("credentials_principal_id_fkey") => "the principal referred to",
            _ => "a resource referred to",
        };
        return Error::NotFound(referred.to_owned());
    }
    match Error::from(error) {
        Error::AlreadyExists(_) => Error::AlreadyExists(taken()),
        other => other,
    }
}

/// A principal's binding that names nothing, as an invalid field of the request.
fn reference_error(error: DieselError) -> Error {
    if let DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) = &error {
        let field = match info.constraint_name() {
            Some("principals_agency_id_fkey") => "principal.agency",
            Some("principals_unit_id_fkey") => "principal.unit",
            Some("principals_partner_id_fkey") => "principal.partner",
            _ => return Error::from(error),
        };
        return invalid(Violations::single(field, "names nothing that exists"));
    }
    Error::from(error)
}

async fn load_principal(conn: &mut AsyncPgConnection, id: PrincipalId) -> Result<Principal, Error> {
    principals::table
        .find(id.0)
        .select(PrincipalRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(id.name()))?
        .try_into()
}

async fn load_credential(
    conn: &mut AsyncPgConnection,
    id: CredentialId,
) -> Result<Credential, Error> {
    credentials::table
        .find(id.0)
        .select(CredentialRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| Error::NotFound(id.name()))?
        .try_into()
}

fn principal_event<'a>(actor: &'a str, kind: &'a str, details: serde_json::Value) -> NewEvent<'a> {
    NewEvent {
        actor,
        kind,
        call_id: None,
        incident_id: None,
        unit_id: None,
        details,
    }
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
    /// Creates a principal; a retry with the same request id returns it (`true` = replayed).
    pub async fn create_principal(
        &self,
        key: &Idempotency,
        actor: &str,
        principal: &NewPrincipal,
    ) -> Result<(Principal, bool), Error> {
        principal.validate().map_err(invalid)?;
        let mut conn = self.conn().await?;
        let id = PrincipalId::new_v7();
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
                diesel::insert_into(principals::table)
                    .values((
                        principals::id.eq(id.0),
                        principals::name.eq(&principal.name),
                        principals::display_name.eq(&principal.display_name),
                        principals::role.eq(principal.role.as_str()),
                        principals::agency_id.eq(principal.agency.map(|a| a.0)),
                        principals::unit_id.eq(principal.unit.map(|u| u.0)),
                        principals::partner_id.eq(principal.partner),
                        principals::created_by.eq(actor),
                    ))
                    .execute(conn)
                    .await
                    .map_err(|error| {
                        insert_error(error, || {
                            format!("principal name {:?} is taken", principal.name)
                        })
                    })?;
                diesel::insert_into(events::table)
                    .values(principal_event(
                        actor,
                        "principal_created",
                        json!({
                            "principal": id.name(),
                            "name": principal.name,
                            "role": principal.role.as_str(),
                            "agency": principal.agency.map(|a| a.name()),
                            "unit": principal.unit.map(|u| u.name()),
                            "partner": principal.partner.map(|p| p.to_string()),
                        }),
                    ))
                    .execute(conn)
                    .await?;
                Ok(None)
            })
            .await?;
        let id = match &replay {
            Some(resource) => {
                PrincipalId::parse_name("resource", resource).map_err(|_| bad_resource(resource))?
            }
            None => id,
        };
        Ok((load_principal(&mut conn, id).await?, replay.is_some()))
    }

    /// Updates a principal under its etag (`Stale` when it changed since). The result must
    /// still bind a field unit to a unit and a partner principal to a partner, and nobody else
    /// (violations under `principal.`). Events: `principal_updated` when its name, role or a
    /// binding changed (`ends_sessions` when the role or a binding did), `principal_disabled` /
    /// `principal_enabled` when that changed; the server ends the sessions of every credential
    /// of it on each process as it reads them. A retry with the same request id replays.
    pub async fn update_principal(
        &self,
        key: &Idempotency,
        actor: &str,
        id: PrincipalId,
        changes: &PrincipalChanges,
        etag: i64,
    ) -> Result<PrincipalUpdate, Error> {
        if changes.reason.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(invalid(Violations::single(
                "reason",
                "must be at most 500 characters",
            )));
        }
        let mut conn = self.conn().await?;
        let outcome = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    if resource != id.name() {
                        return Err(bad_resource(&resource));
                    }
                    return Ok::<_, Error>(None);
                }
                let current: Principal = principals::table
                    .find(id.0)
                    .select(PrincipalRow::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| Error::NotFound(id.name()))?
                    .try_into()?;
                if current.version != etag {
                    return Err(Error::Stale(id.name()));
                }
                let next = NewPrincipal {
                    name: current.name.clone(),
                    display_name: changes
                        .display_name
                        .clone()
                        .unwrap_or_else(|| current.display_name.clone()),
                    role: changes.role.unwrap_or(current.role),
                    agency: changes.agency.unwrap_or(current.agency),
                    unit: changes.unit.unwrap_or(current.unit),
                    partner: changes.partner.unwrap_or(current.partner),
                };
                next.validate()
                    .map_err(|violations| invalid(violations.within("principal")))?;
                let mut changed = Vec::new();
                if next.display_name != current.display_name {
                    changed.push("display_name");
                }
                if next.role != current.role {
                    changed.push("role");
                }
                if next.agency != current.agency {
                    changed.push("agency");
                }
                if next.unit != current.unit {
                    changed.push("unit");
                }
                if next.partner != current.partner {
                    changed.push("partner");
                }
                let disable = changes.disabled.filter(|&d| d != current.is_disabled());
                diesel::update(principals::table.find(id.0))
                    .set((
                        principals::display_name.eq(&next.display_name),
                        principals::role.eq(next.role.as_str()),
                        principals::agency_id.eq(next.agency.map(|a| a.0)),
                        principals::unit_id.eq(next.unit.map(|u| u.0)),
                        principals::partner_id.eq(next.partner),
                        principals::updated_at.eq(diesel::dsl::now),
                        principals::version.eq(principals::version + 1),
                    ))
                    .execute(conn)
                    .await
                    .map_err(reference_error)?;
                match disable {
                    Some(true) => {
                        diesel::update(principals::table.find(id.0))
                            .set(principals::disabled_at.eq(diesel::dsl::now))
                            .execute(conn)
                            .await?;
                    }
                    Some(false) => {
                        diesel::update(principals::table.find(id.0))
                            .set(principals::disabled_at.eq(None::<DateTime<Utc>>))
                            .execute(conn)
                            .await?;
                    }
                    None => {}
                }
                // Who the credentials speak for changed: what was authorised under the old
                // role or binding ends.
                let rebound = changed.iter().any(|f| *f != "display_name");
                if !changed.is_empty() {
                    diesel::insert_into(events::table)
                        .values(principal_event(
                            actor,
                            EVENT_PRINCIPAL_UPDATED,
                            json!({
                                "principal": id.name(),
                                "changed": changed,
                                "display_name": next.display_name,
                                "role": next.role.as_str(),
                                "agency": next.agency.map(|a| a.name()),
                                "unit": next.unit.map(|u| u.name()),
                                "partner": next.partner.map(|p| format!("partners/{p}")),
                                "ends_sessions": rebound,
                                "reason": changes.reason,
                            }),
                        ))
                        .execute(conn)
                        .await?;
                }
                if let Some(disabled) = disable {
                    diesel::insert_into(events::table)
                        .values(principal_event(
                            actor,
                            if disabled {
                                EVENT_PRINCIPAL_DISABLED
                            } else {
                                EVENT_PRINCIPAL_ENABLED
                            },
                            json!({ "principal": id.name(), "reason": changes.reason }),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok(Some(rebound || disable == Some(true)))
            })
            .await?;
        Ok(PrincipalUpdate {
            principal: load_principal(&mut conn, id).await?,
            ends_sessions: outcome.unwrap_or(false),
            replayed: outcome.is_none(),
        })
    }

    pub async fn get_principal(&self, id: PrincipalId) -> Result<Principal, Error> {
        load_principal(&mut *self.conn().await?, id).await
    }

    /// Principals by name, a page at a time (the cursor is the last name).
    pub async fn list_principals(
        &self,
        filter: &PrincipalFilter,
        page: &Page<String>,
    ) -> Result<(Vec<Principal>, Option<String>), Error> {
        let mut conn = self.conn().await?;
        let mut query = principals::table
            .select(PrincipalRow::as_select())
            .order(principals::name.asc())
            .limit(page.size + 1)
            .into_boxed();
        if !filter.roles.is_empty() {
            query = query.filter(principals::role.eq_any(filter.roles.iter().map(|r| r.as_str())));
        }
        if let Some(agency) = filter.agency {
            query = query.filter(principals::agency_id.eq(agency.0));
        }
        if let Some(unit) = filter.unit {
            query = query.filter(principals::unit_id.eq(unit.0));
        }
        if let Some(partner) = filter.partner {
            query = query.filter(principals::partner_id.eq(partner));
        }
        if let Some(after) = &page.after {
            query = query.filter(principals::name.gt(after));
        }
        let rows: Vec<PrincipalRow> = query.load(&mut conn).await?;
        let (rows, more) = page.split(rows);
        let next = more.then(|| rows.last().map(|r| r.name.clone())).flatten();
        Ok((
            rows.into_iter()
                .map(Principal::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
    }

    /// How many principals exist (disabled ones included): zero means a fresh installation.
    pub async fn principal_count(&self) -> Result<i64, Error> {
        let mut conn = self.conn().await?;
        Ok(principals::table.count().get_result(&mut conn).await?)
    }

    /// Issues a credential to an enabled principal. A bearer token gets a fresh 256-bit secret;
    /// the token (`dsp_<id>_<secret>`) is returned this once and never stored. A client
    /// certificate credential needs `certificate_sha256` (hex, colons allowed). A retry with the
    /// same request id returns the credential, no token, and `true`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the RPC's fields, each validated at the edge"
    )]
    pub async fn issue_credential(
        &self,
        key: &Idempotency,
        actor: &str,
        principal: PrincipalId,
        kind: CredentialKind,
        certificate_sha256: Option<&str>,
        description: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(Credential, Option<String>, bool), Error> {
        let mut violations = Violations::new();
        let certificate = match (kind, certificate_sha256) {
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
        let mut conn = self.conn().await?;
        let replay = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    return Ok::<_, Error>(Some(resource));
                }
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
                diesel::insert_into(events::table)
                    .values(principal_event(
                        actor,
                        "credential_issued",
                        json!({
                            "credential": id.name(),
                            "principal": principal.name(),
                            "kind": kind.as_str(),
                            "token_prefix": bearer.as_ref().map_or("", |b| b.0.as_str()),
                            "certificate_sha256": certificate,
                            "description": description,
                            "expires_at": expires_at,
                        }),
                    ))
                    .execute(conn)
                    .await?;
                Ok(None)
            })
            .await?;
        match replay {
            None => Ok((
                load_credential(&mut conn, id).await?,
                bearer.map(|b| b.3),
                false,
            )),
            Some(resource) => {
                let id = CredentialId::parse_name("resource", &resource)
                    .map_err(|_| bad_resource(&resource))?;
                Ok((load_credential(&mut conn, id).await?, None, true))
            }
        }
    }

    /// Revokes a credential: it stops authenticating at once. Revoking twice is
    /// FAILED_PRECONDITION (`WrongState`); a retry with the same request id replays.
    pub async fn revoke_credential(
        &self,
        key: &Idempotency,
        actor: &str,
        id: CredentialId,
        reason: &str,
    ) -> Result<(Credential, bool), Error> {
        if reason.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(invalid(Violations::single(
                "reason",
                "must be at most 500 characters",
            )));
        }
        let mut conn = self.conn().await?;
        let replayed = conn
            .transaction(async |conn| {
                if let Claim::Replay(resource) = key.claim(conn, &id.name()).await? {
                    if resource != id.name() {
                        return Err(bad_resource(&resource));
                    }
                    return Ok::<_, Error>(true);
                }
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
                diesel::insert_into(events::table)
                    .values(principal_event(
                        actor,
                        EVENT_CREDENTIAL_REVOKED,
                        json!({
                            "credential": id.name(),
                            "principal": PrincipalId(principal).name(),
                            "reason": reason,
                        }),
                    ))
                    .execute(conn)
                    .await?;
                Ok(false)
            })
            .await?;
        Ok((load_credential(&mut conn, id).await?, replayed))
    }

    pub async fn get_credential(&self, id: CredentialId) -> Result<Credential, Error> {
        load_credential(&mut *self.conn().await?, id).await
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
            .limit(page.size + 1)
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
        if let Some(after) = page.after {
            query = query.filter(
                credentials::created_at
                    .lt(after.time)
                    .or(credentials::created_at
                        .eq(after.time)
                        .and(credentials::id.lt(after.id))),
            );
        }
        let rows: Vec<CredentialRow> = query.load(&mut conn).await?;
        if rows.is_empty()
            && let Some(principal) = principal
        {
            load_principal(&mut conn, principal).await?;
        }
        let (rows, more) = page.split(rows);
        let next = if more {
            rows.last().map(|row| TimeCursor {
                time: row.created_at,
                id: row.id,
            })
        } else {
            None
        };
        Ok((
            rows.into_iter()
                .map(Credential::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
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

    /// Appends one audit record (its detail cut to 2000 characters). Not idempotent: every call
    /// is a record.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), Error> {
        let mut conn = self.conn().await?;
        diesel::insert_into(audit_records::table)
            .values((
                audit_records::principal.eq(&entry.principal),
                audit_records::role.eq(&entry.role),
                audit_records::agency.eq(&entry.agency),
                audit_records::action.eq(entry.action.as_str()),
                audit_records::method.eq(&entry.method),
                audit_records::resource.eq(&entry.resource),
                audit_records::peer.eq(&entry.peer),
                audit_records::outcome.eq(entry.outcome.as_str()),
                audit_records::status_code.eq(&entry.status_code),
                audit_records::request_id.eq(&entry.request_id),
                audit_records::detail.eq(truncate_chars(&entry.detail, AUDIT_DETAIL_MAX_CHARS)),
            ))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    /// Audit records newest first (by id), filtered, a page at a time (the cursor is the last
    /// id).
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &Page<i64>,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), Error> {
        let mut conn = self.conn().await?;
        let mut query = audit_records::table
            .select(AuditRow::as_select())
            .order(audit_records::id.desc())
            .limit(page.size + 1)
            .into_boxed();
        if let Some(from) = filter.from {
            query = query.filter(audit_records::occurred_at.ge(from));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_records::occurred_at.lt(until));
        }
        if let Some(principal) = &filter.principal {
            query = query.filter(audit_records::principal.eq(principal));
        }
        if let Some(resource) = &filter.resource {
            query = query.filter(audit_records::resource.eq(resource));
        }
        if !filter.actions.is_empty() {
            query = query
                .filter(audit_records::action.eq_any(filter.actions.iter().map(|a| a.as_str())));
        }
        if !filter.outcomes.is_empty() {
            query = query
                .filter(audit_records::outcome.eq_any(filter.outcomes.iter().map(|o| o.as_str())));
        }
        if let Some(after) = page.after {
            query = query.filter(audit_records::id.lt(after));
        }
        let rows: Vec<AuditRow> = query.load(&mut conn).await?;
        let (rows, more) = page.split(rows);
        let next = more.then(|| rows.last().map(|r| r.id)).flatten();
        Ok((
            rows.into_iter()
                .map(AuditRecord::try_from)
                .collect::<Result<_, _>>()?,
            next,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> [u8; SECRET_LEN] {
        std::array::from_fn(|i| u8::try_from(i * 7 % 256).unwrap_or(0))
    }

    #[test]
    fn tokens_have_one_spelling_and_round_trip() {
        let id = CredentialId::new_v7();
        let token = format_token(id, &secret());
        assert_eq!(token.len(), 4 + 32 + 1 + 64);
        assert!(token.starts_with("dsp_"));
        assert_eq!(token_prefix(&token), token[..12]);
        let parsed = parse_token(&token).expect("parses");
        assert_eq!(parsed.id, id);
        assert_eq!(parsed.secret, secret());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let id = CredentialId::new_v7();
        let good = format_token(id, &secret());
        let simple = id.0.simple().to_string();
        let hex_secret = hex(&secret());
        for bad in [
            String::new(),
            "dsp_".into(),
            good.replacen("dsp_", "dsq_", 1),
            good.replacen("dsp_", "", 1),
            good.to_uppercase(),
            format!("{good}0"),
            good[..good.len() - 2].to_owned(),
            format!("dsp_{simple}{hex_secret}"),
            format!("dsp_{simple}_{hex_secret}_"),
            format!("dsp_{}_{hex_secret}", id.0.hyphenated()),
            format!("dsp_{simple}_{}", hex_secret.replacen('0', "g", 1)),
            format!("dsp_{simple}_{}", hex_secret.replacen('0', "+", 1)),
            format!("dsp_{simple}_{}", "é".repeat(32)),
            format!("Bearer {good}"),
            format!(" {good}"),
        ] {
            assert!(parse_token(&bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_hash_depends_on_salt_and_secret() {
        let salt = [1u8; SALT_LEN];
        let hash = token_hash(&salt, &secret());
        assert_eq!(hash, token_hash(&salt, &secret()));
        assert_ne!(hash, token_hash(&[2u8; SALT_LEN], &secret()));
        assert_ne!(hash, token_hash(&salt, &[0u8; SECRET_LEN]));
        // sha256("abc"), the FIPS 180-2 example, split across salt and secret.
        assert_eq!(
            hex(&token_hash(b"a", b"bc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_compare_compares() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(&[7; 32], &[7; 32]));
        assert!(!constant_time_eq(&[7; 32], &[7; 31]));
        let mut other = [7u8; 32];
        other[31] = 6;
        assert!(!constant_time_eq(&[7; 32], &other));
        other = [7; 32];
        other[0] = 0x87;
        assert!(!constant_time_eq(&[7; 32], &other));
    }

    #[test]
    fn random_secrets_differ() {
        let a = random::<SECRET_LEN>().expect("random");
        let b = random::<SECRET_LEN>().expect("random");
        assert_ne!(a, b);
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let token = Token {
            id: CredentialId::new_v7(),
            secret: [0xab; SECRET_LEN],
        };
        let shown = format!("{token:?}");
        assert!(!shown.contains("abab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("AB"), None);
    }

    #[test]
    fn certificate_fingerprints_normalize() {
        let fingerprint = certificate_fingerprint(b"abc");
        assert_eq!(
            fingerprint,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let colons = fingerprint
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            normalize_certificate_sha256(&colons).as_deref(),
            Some(fingerprint.as_str())
        );
        assert_eq!(normalize_certificate_sha256(&fingerprint[1..]), None);
        assert_eq!(
            normalize_certificate_sha256(&format!("{fingerprint}0")),
            None
        );
        assert_eq!(normalize_certificate_sha256(&"z".repeat(64)), None);
    }

    #[test]
    fn principals_are_validated_like_the_schema() {
        let base = NewPrincipal {
            name: "ana.lopez-2".into(),
            display_name: "Ana López".into(),
            role: Role::Dispatcher,
            agency: None,
            unit: None,
            partner: None,
        };
        assert_eq!(base.validate(), Ok(()));
        for name in ["", "Ana", "ana lopez", "ana@c5", &"a".repeat(65)] {
            let bad = NewPrincipal {
                name: name.into(),
                ..base.clone()
            };
            assert!(bad.validate().is_err(), "{name:?} accepted");
        }
        let unit = UnitId::new_v7();
        let field_unit = NewPrincipal {
            role: Role::FieldUnit,
            unit: Some(unit),
            ..base.clone()
        };
        assert_eq!(field_unit.validate(), Ok(()));
        assert!(
            NewPrincipal {
                unit: None,
                ..field_unit.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            NewPrincipal {
                unit: Some(unit),
                ..base.clone()
            }
            .validate()
            .is_err()
        );
        let partner = NewPrincipal {
            role: Role::PartnerAgency,
            partner: Some(Uuid::now_v7()),
            ..base.clone()
        };
        assert_eq!(partner.validate(), Ok(()));
        assert!(
            NewPrincipal {
                partner: None,
                ..partner
            }
            .validate()
            .is_err()
        );
        let violations = NewPrincipal {
            name: String::new(),
            display_name: "x".repeat(201),
            role: Role::Gateway,
            agency: None,
            unit: Some(unit),
            partner: Some(Uuid::now_v7()),
        }
        .validate()
        .expect_err("invalid");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "display_name", "unit", "partner"]);
    }

    #[test]
    fn audit_details_are_cut_on_a_character_boundary() {
        let long = "é".repeat(AUDIT_DETAIL_MAX_CHARS + 10);
        let cut = truncate_chars(&long, AUDIT_DETAIL_MAX_CHARS);
        assert_eq!(cut.chars().count(), AUDIT_DETAIL_MAX_CHARS);
        assert_eq!(truncate_chars("short", AUDIT_DETAIL_MAX_CHARS), "short");
    }

    #[test]
    fn stored_enums_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(*action));
        }
        for outcome in AuditOutcome::ALL {
            assert_eq!(AuditOutcome::parse(outcome.as_str()), Some(*outcome));
        }
        for kind in CredentialKind::ALL {
            assert_eq!(CredentialKind::parse(kind.as_str()), Some(*kind));
        }
    }
}
