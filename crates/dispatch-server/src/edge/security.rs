//! The security RPCs of DirectoryService on the wire: principals, credentials, audit records.

use chrono::{DateTime, Utc};

use dispatch_domain::Violations;
use dispatch_domain::audit::{AuditAction, AuditOutcome, AuditRecord};
use dispatch_domain::auth::Role;
use dispatch_domain::call::check_length;
use dispatch_domain::directory::check_display_name;
use dispatch_domain::ids::{AgencyId, CredentialId, PartnerId, PrincipalId, UnitId};
use dispatch_domain::principal::{Credential, CredentialKind};
use dispatch_domain::principal::{NewPrincipal, Principal as StoredPrincipal};
use dispatch_proto::v1 as pb;
use dispatch_store::Page;
use dispatch_store::TimeCursor;
use dispatch_store::audit::AuditFilter;
use dispatch_store::principals::{PrincipalChanges, PrincipalFilter};

use super::enums::{WireEnum, enum_filter};
use super::wire::{self, Fields as _, mutation, timestamp, valid};
use crate::services::request::{self, Mutation};

pub fn principal_message(principal: &StoredPrincipal) -> pb::Principal {
    pb::Principal {
        name: principal.id.name(),
        display_name: principal.display_name.clone(),
        role: principal.role.wire(),
        agency: principal.agency.map(|a| a.name()).unwrap_or_default(),
        unit: principal.unit.map(|u| u.name()).unwrap_or_default(),
        partner: principal.partner.map(|p| p.name()).unwrap_or_default(),
        create_time: Some(timestamp(principal.created_at)),
        update_time: Some(timestamp(principal.updated_at)),
        disabled: principal.is_disabled(),
        disable_time: principal.disabled_at.map(timestamp),
        etag: request::etag(principal.version),
    }
}

pub fn credential_message(credential: &Credential) -> pb::Credential {
    pb::Credential {
        name: credential.id.name(),
        principal: credential.principal.name(),
        kind: credential.kind.wire(),
        token_prefix: credential.token_prefix.clone(),
        certificate_sha256: credential.certificate_sha256.clone().unwrap_or_default(),
        description: credential.description.clone(),
        expire_time: credential.expires_at.map(timestamp),
        revoke_time: credential.revoked_at.map(timestamp),
        create_time: Some(timestamp(credential.created_at)),
        created_by: credential.created_by.clone(),
    }
}

pub fn audit_message(record: &AuditRecord) -> pb::AuditRecord {
    let entry = &record.entry;
    pb::AuditRecord {
        name: format!("audit-records/{}", record.id),
        time: Some(timestamp(record.occurred_at)),
        principal: entry.principal.clone(),
        role: Role::parse(&entry.role).map_or(0, WireEnum::wire),
        agency: entry.agency.clone(),
        action: entry.action.wire(),
        method: entry.method.clone(),
        resource: entry.resource.clone(),
        peer: entry.peer.clone(),
        outcome: entry.outcome.wire(),
        status_code: entry.status_code.clone(),
        request_id: entry.request_id.clone(),
        detail: entry.detail.clone(),
    }
}

/// A principal handle from its display name: lower case, `[a-z0-9._-]`, unique with a suffix.
fn handle(display_name: &str) -> String {
    let mut slug: String = display_name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    if slug.is_empty() {
        slug.push('p');
    }
    format!("{slug}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub fn partner_from(field: &str, value: &str, violations: &mut Violations) -> Option<PartnerId> {
    match PartnerId::parse_name(field, value).ok() {
        Some(id) => Some(id),
        None => {
            violations.add(field, "must be a partners/{uuid} name");
            None
        }
    }
}

pub struct CreatePrincipal {
    pub mutation: Mutation,
    pub principal: NewPrincipal,
}

impl TryFrom<pb::CreatePrincipalRequest> for CreatePrincipal {
    type Error = Violations;

    fn try_from(message: pb::CreatePrincipalRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let principal =
            wire::required(message.principal, "principal", "required", &mut violations)?;
        check_display_name(
            &mut violations,
            "principal.display_name",
            &principal.display_name,
        );
        let role = Role::from_wire(principal.role);
        if role.is_none() {
            violations.add("principal.role", "required");
        }
        let agency =
            violations.optional("principal.agency", &principal.agency, AgencyId::parse_name);
        let unit = match (role, principal.unit.is_empty()) {
            (Some(Role::FieldUnit), true) => {
                violations.add(
                    "principal.unit",
                    "required for a field unit: the one unit it speaks for",
                );
                None
            }
            (Some(Role::FieldUnit), false) => {
                violations.collect(UnitId::parse_name("principal.unit", &principal.unit))
            }
            (_, false) => {
                violations.add("principal.unit", "only a field unit is bound to a unit");
                None
            }
            (_, true) => None,
        };
        let partner = match (role, principal.partner.is_empty()) {
            (Some(Role::PartnerAgency), true) => {
                violations.add(
                    "principal.partner",
                    "required for a partner agency: the one partner it speaks for",
                );
                None
            }
            (Some(Role::PartnerAgency), false) => {
                partner_from("principal.partner", &principal.partner, &mut violations)
            }
            (_, false) => {
                violations.add(
                    "principal.partner",
                    "only a partner agency is bound to a partner",
                );
                None
            }
            (_, true) => None,
        };
        let (Some(mutation), Some(role)) = (mutation, role) else {
            return Err(violations);
        };
        if !violations.is_empty() {
            return Err(violations);
        }
        let principal = NewPrincipal {
            name: handle(&principal.display_name),
            display_name: principal.display_name,
            role,
            agency,
            unit,
            partner,
        };
        valid(violations, || {
            Some(Self {
                mutation,
                principal,
            })
        })
    }
}

pub struct ListPrincipals {
    pub filter: PrincipalFilter,
    pub page: Page<String>,
}

impl TryFrom<pb::ListPrincipalsRequest> for ListPrincipals {
    type Error = Violations;

    fn try_from(message: pb::ListPrincipalsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::code_page(message.page_size, &message.page_token));
        let roles = violations.collect(enum_filter::<Role>("roles", &message.roles));
        let agency = violations.optional("agency", &message.agency, AgencyId::parse_name);
        let unit = violations.optional("unit", &message.unit, UnitId::parse_name);
        let partner = if message.partner.is_empty() {
            None
        } else {
            partner_from("partner", &message.partner, &mut violations)
        };
        let (Some(page), Some(roles)) = (page, roles) else {
            return Err(violations);
        };
        if !violations.is_empty() {
            return Err(violations);
        }
        let filter = PrincipalFilter {
            roles,
            agency,
            unit,
            partner,
        };
        valid(violations, || Some(Self { filter, page }))
    }
}

pub struct ListAuditRecords {
    pub filter: AuditFilter,
    pub page: Page<i64>,
}

impl TryFrom<pb::ListAuditRecordsRequest> for ListAuditRecords {
    type Error = Violations;

    fn try_from(message: pb::ListAuditRecordsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let size = violations.collect(request::page_size(message.page_size));
        let after = if message.page_token.is_empty() {
            Some(None)
        } else {
            match message
                .page_token
                .strip_prefix("a.")
                .and_then(|id| id.parse::<i64>().ok())
            {
                Some(id) => Some(Some(id)),
                None => {
                    violations.add("page_token", "not a token this server issued");
                    None
                }
            }
        };
        let (from, until) = wire::time_range("time", message.time.as_ref(), &mut violations);
        let actions = violations.collect(enum_filter::<AuditAction>("actions", &message.actions));
        let outcomes =
            violations.collect(enum_filter::<AuditOutcome>("outcomes", &message.outcomes));
        // Filters are compared, not stored, but PostgreSQL text cannot hold NUL either.
        for (field, text) in [
            ("principal", &message.principal),
            ("resource", &message.resource),
        ] {
            check_length(&mut violations, field, text, 2_000);
        }
        let (Some(size), Some(after), Some(actions), Some(outcomes)) =
            (size, after, actions, outcomes)
        else {
            return Err(violations);
        };
        if !violations.is_empty() {
            return Err(violations);
        }
        let filter = AuditFilter {
            from,
            until,
            principal: (!message.principal.is_empty()).then_some(message.principal),
            resource: (!message.resource.is_empty()).then_some(message.resource),
            actions,
            outcomes,
        };
        let page = Page { size, after };
        valid(violations, || Some(Self { filter, page }))
    }
}

pub struct UpdatePrincipal {
    pub mutation: Mutation,
    pub principal: PrincipalId,
    pub changes: PrincipalChanges,
    pub etag: i64,
}

impl TryFrom<pb::UpdatePrincipalRequest> for UpdatePrincipal {
    type Error = Violations;

    fn try_from(message: pb::UpdatePrincipalRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        check_length(&mut violations, "reason", &message.reason, 500);
        let principal = wire::required(
            message.principal.as_ref(),
            "principal",
            "required: the principal's name, etag and new values",
            &mut violations,
        )?;
        let id = violations.collect(PrincipalId::parse_name("principal.name", &principal.name));
        let etag = request::required_etag(
            "principal.etag",
            &principal.etag,
            "principal",
            &mut violations,
        );
        let mask = wire::Mask::of(
            message.update_mask.as_ref(),
            "display_name, role, agency, unit, partner, disabled",
            &mut violations,
        );
        let mut changes = PrincipalChanges {
            reason: message.reason.clone(),
            ..PrincipalChanges::default()
        };
        for (i, path) in mask.paths() {
            match path {
                "display_name" => {
                    check_display_name(
                        &mut violations,
                        "principal.display_name",
                        &principal.display_name,
                    );
                    changes.display_name = Some(principal.display_name.clone());
                }
                "role" => match Role::from_wire(principal.role) {
                    Some(role) => changes.role = Some(role),
                    None => violations.add("principal.role", "required"),
                },
                "agency" => {
                    changes.agency = Some(violations.optional(
                        "principal.agency",
                        &principal.agency,
                        AgencyId::parse_name,
                    ));
                }
                "unit" => {
                    changes.unit = Some(violations.optional(
                        "principal.unit",
                        &principal.unit,
                        UnitId::parse_name,
                    ));
                }
                "partner" => {
                    changes.partner = Some(if principal.partner.is_empty() {
                        None
                    } else {
                        partner_from("principal.partner", &principal.partner, &mut violations)
                    });
                }
                "disabled" => changes.disabled = Some(principal.disabled),
                other => mask.refuse(i, other, &mut violations),
            }
        }
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                principal: id?,
                changes,
                etag: etag?,
            })
        })
    }
}

pub struct IssueCredential {
    pub mutation: Mutation,
    pub principal: PrincipalId,
    pub kind: CredentialKind,
    /// A client certificate's SHA-256 fingerprint, lower-case hex.
    pub certificate_sha256: Option<String>,
    pub description: String,
    pub expires: Option<DateTime<Utc>>,
}

impl TryFrom<pb::IssueCredentialRequest> for IssueCredential {
    type Error = Violations;

    fn try_from(message: pb::IssueCredentialRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let principal =
            violations.collect(PrincipalId::parse_name("principal", &message.principal));
        let kind = CredentialKind::from_wire(message.kind);
        if kind.is_none() {
            violations.add("kind", "required");
        }
        let certificate_sha256 = match kind {
            Some(CredentialKind::ClientCertificate) => {
                let fingerprint = message.certificate_sha256.to_lowercase().replace(':', "");
                if fingerprint.len() != 64 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
                    violations.add(
                        "certificate_sha256",
                        "required: the certificate's SHA-256 fingerprint, 64 hex digits",
                    );
                }
                Some(fingerprint)
            }
            _ => {
                if !message.certificate_sha256.is_empty() {
                    violations.add("certificate_sha256", "only for a client certificate");
                }
                None
            }
        };
        check_length(&mut violations, "description", &message.description, 500);
        let expires =
            violations.collect(wire::datetime("expire_time", message.expire_time.as_ref()));
        if let Some(Some(expires)) = expires
            && expires <= Utc::now()
        {
            violations.add("expire_time", "must be in the future");
        }
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                principal: principal?,
                kind: kind?,
                certificate_sha256,
                description: message.description,
                expires: expires?,
            })
        })
    }
}

pub struct RevokeCredential {
    pub mutation: Mutation,
    pub credential: CredentialId,
    pub reason: String,
}

impl TryFrom<pb::RevokeCredentialRequest> for RevokeCredential {
    type Error = Violations;

    fn try_from(message: pb::RevokeCredentialRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let credential = violations.collect(CredentialId::parse_name("name", &message.name));
        check_length(&mut violations, "reason", &message.reason, 500);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                credential: credential?,
                reason: message.reason,
            })
        })
    }
}

pub struct ListCredentials {
    /// Whose credentials; everyone's when `None`.
    pub principal: Option<PrincipalId>,
    pub include_inactive: bool,
    pub page: Page<TimeCursor>,
}

impl TryFrom<pb::ListCredentialsRequest> for ListCredentials {
    type Error = Violations;

    fn try_from(message: pb::ListCredentialsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let principal =
            violations.optional("principal", &message.principal, PrincipalId::parse_name);
        valid(violations, || {
            Some(Self {
                principal,
                include_inactive: message.include_inactive,
                page: page?,
            })
        })
    }
}
