//! Principals, credentials and the audit trail (the security RPCs of `DirectoryService`).

use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::audit::{AuditAction, AuditOutcome, AuditRecord};
use dispatch_domain::auth::Role;
use dispatch_domain::call::check_length;
use dispatch_domain::ids::{AgencyId, CredentialId, PrincipalId, UnitId};
use dispatch_domain::principal::{
    Credential, CredentialKind, NewPrincipal, Principal as StoredPrincipal,
};
use dispatch_proto::v1 as pb;
use dispatch_store::audit::AuditFilter;
use dispatch_store::principals::{PrincipalChanges, PrincipalFilter};

use super::request::idempotency;
use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::convert::{self, timestamp};
use crate::error::{Error, invalid};
use crate::revocation::{Reason, Subject};

pub fn role(role: Role) -> pb::Role {
    match role {
        Role::CallTaker => pb::Role::CallTaker,
        Role::Dispatcher => pb::Role::Dispatcher,
        Role::Supervisor => pb::Role::Supervisor,
        Role::VideoOperator => pb::Role::VideoOperator,
        Role::FieldUnit => pb::Role::FieldUnit,
        Role::PartnerAgency => pb::Role::PartnerAgency,
        Role::Gateway => pb::Role::Gateway,
        Role::Admin => pb::Role::Admin,
    }
}

pub fn role_from(value: i32) -> Option<Role> {
    Role::ALL
        .iter()
        .copied()
        .find(|r| i32::from(role(*r)) == value)
}

fn principal_message(principal: &StoredPrincipal) -> pb::Principal {
    pb::Principal {
        name: principal.id.name(),
        display_name: principal.display_name.clone(),
        role: role(principal.role).into(),
        agency: principal.agency.map(|a| a.name()).unwrap_or_default(),
        unit: principal.unit.map(|u| u.name()).unwrap_or_default(),
        partner: principal
            .partner
            .map(|p| format!("partners/{p}"))
            .unwrap_or_default(),
        create_time: Some(timestamp(principal.created_at)),
        update_time: Some(timestamp(principal.updated_at)),
        disabled: principal.is_disabled(),
        disable_time: principal.disabled_at.map(timestamp),
        etag: convert::etag(principal.version),
    }
}

fn credential_message(credential: &Credential) -> pb::Credential {
    pb::Credential {
        name: credential.id.name(),
        principal: credential.principal.name(),
        kind: match credential.kind {
            CredentialKind::BearerToken => pb::CredentialKind::BearerToken,
            CredentialKind::ClientCertificate => pb::CredentialKind::ClientCertificate,
        }
        .into(),
        token_prefix: credential.token_prefix.clone(),
        certificate_sha256: credential.certificate_sha256.clone().unwrap_or_default(),
        description: credential.description.clone(),
        expire_time: credential.expires_at.map(timestamp),
        revoke_time: credential.revoked_at.map(timestamp),
        create_time: Some(timestamp(credential.created_at)),
        created_by: credential.created_by.clone(),
    }
}

fn action(action: AuditAction) -> pb::AuditAction {
    match action {
        AuditAction::Mutation => pb::AuditAction::Mutation,
        AuditAction::VictimDataRead => pb::AuditAction::VictimDataRead,
        AuditAction::AuthenticationFailure => pb::AuditAction::AuthenticationFailure,
        AuditAction::CredentialIssued => pb::AuditAction::CredentialIssued,
        AuditAction::CredentialRevoked => pb::AuditAction::CredentialRevoked,
        AuditAction::AuditRead => pb::AuditAction::AuditRead,
        AuditAction::StreamEnded => pb::AuditAction::StreamEnded,
    }
}

fn outcome(outcome: AuditOutcome) -> pb::AuditOutcome {
    match outcome {
        AuditOutcome::Success => pb::AuditOutcome::Success,
        AuditOutcome::Denied => pb::AuditOutcome::Denied,
        AuditOutcome::Failure => pb::AuditOutcome::Failure,
    }
}

fn audit_message(record: &AuditRecord) -> pb::AuditRecord {
    pb::AuditRecord {
        name: format!("audit-records/{}", record.id),
        time: Some(timestamp(record.occurred_at)),
        principal: record.principal.clone(),
        role: Role::parse(&record.role)
            .map_or(pb::Role::Unspecified, role)
            .into(),
        agency: record.agency.clone(),
        action: action(record.action).into(),
        method: record.method.clone(),
        resource: record.resource.clone(),
        peer: record.peer.clone(),
        outcome: outcome(record.outcome).into(),
        status_code: record.status_code.clone(),
        request_id: record.request_id.clone(),
        detail: record.detail.clone(),
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

fn partner_from(field: &str, value: &str, violations: &mut Violations) -> Option<uuid::Uuid> {
    match value
        .strip_prefix("partners/")
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    {
        Some(id) => Some(id),
        None => {
            violations.add(field, "must be a partners/{uuid} name");
            None
        }
    }
}

pub async fn create_principal(
    state: &AppState,
    request: Request<pb::CreatePrincipalRequest>,
) -> Result<Response<pb::CreatePrincipalResponse>, Status> {
    let caller = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "CreatePrincipal",
        &caller,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let Some(principal) = message.principal else {
        violations.add("principal", "required");
        return Err(invalid(&violations));
    };
    if principal.display_name.trim().is_empty() {
        violations.add("principal.display_name", "required");
    }
    check_length(
        &mut violations,
        "principal.display_name",
        &principal.display_name,
        200,
    );
    let role = role_from(principal.role);
    if role.is_none() {
        violations.add("principal.role", "required");
    }
    let agency = if principal.agency.is_empty() {
        None
    } else {
        violations.collect(AgencyId::parse_name("principal.agency", &principal.agency))
    };
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
    let (Some(key), Some(role)) = (key, role) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let new = NewPrincipal {
        name: handle(&principal.display_name),
        display_name: principal.display_name,
        role,
        agency,
        unit,
        partner,
    };
    let created = state
        .store
        .create_principal(&key, &caller.name, &new)
        .await
        .map_err(Error::from)?
        .value;
    note_resource(created.id.name());
    Ok(Response::new(pb::CreatePrincipalResponse {
        principal: Some(principal_message(&created)),
    }))
}

pub async fn get_principal(
    state: &AppState,
    request: Request<pb::GetPrincipalRequest>,
) -> Result<Response<pb::GetPrincipalResponse>, Status> {
    let id = PrincipalId::parse_name("name", &request.get_ref().name).map_err(Error::from)?;
    let principal = state.store.get_principal(id).await.map_err(Error::from)?;
    Ok(Response::new(pb::GetPrincipalResponse {
        principal: Some(principal_message(&principal)),
    }))
}

pub async fn list_principals(
    state: &AppState,
    request: Request<pb::ListPrincipalsRequest>,
) -> Result<Response<pb::ListPrincipalsResponse>, Status> {
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
    let roles = violations.collect(convert::enum_filter("roles", &message.roles, role_from));
    let agency = if message.agency.is_empty() {
        None
    } else {
        violations.collect(AgencyId::parse_name("agency", &message.agency))
    };
    let unit = if message.unit.is_empty() {
        None
    } else {
        violations.collect(UnitId::parse_name("unit", &message.unit))
    };
    let partner = if message.partner.is_empty() {
        None
    } else {
        partner_from("partner", &message.partner, &mut violations)
    };
    let (Some(page), Some(roles)) = (page, roles) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let filter = PrincipalFilter {
        roles,
        agency,
        unit,
        partner,
    };
    let (principals, next) = state
        .store
        .list_principals(&filter, &page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListPrincipalsResponse {
        principals: principals.iter().map(principal_message).collect(),
        next_page_token: convert::code_token(next),
    }))
}

pub async fn get_current_principal(
    state: &AppState,
    request: Request<pb::GetCurrentPrincipalRequest>,
) -> Result<Response<pb::GetCurrentPrincipalResponse>, Status> {
    let caller = Principal::of(&request);
    let principal = match PrincipalId::parse_name("principal", &caller.name) {
        Ok(id) => principal_message(&state.store.get_principal(id).await.map_err(Error::from)?),
        // The bootstrap admin of DISPATCH_ADMIN_TOKEN has no row.
        Err(_) => pb::Principal {
            name: caller.name.clone(),
            display_name: "DISPATCH_ADMIN_TOKEN".into(),
            role: role(caller.role).into(),
            ..Default::default()
        },
    };
    Ok(Response::new(pb::GetCurrentPrincipalResponse {
        principal: Some(principal),
        credential: caller.credential.map(|c| c.name()).unwrap_or_default(),
        permitted_methods: crate::authz::permitted_methods(caller.role),
    }))
}

pub async fn update_principal(
    state: &AppState,
    request: Request<pb::UpdatePrincipalRequest>,
) -> Result<Response<pb::UpdatePrincipalResponse>, Status> {
    let caller = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "UpdatePrincipal",
        &caller,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    check_length(&mut violations, "reason", &message.reason, 500);
    let Some(principal) = &message.principal else {
        violations.add(
            "principal",
            "required: the principal's name, etag and new values",
        );
        return Err(invalid(&violations));
    };
    let id = violations.collect(PrincipalId::parse_name("principal.name", &principal.name));
    let etag = match violations.collect(convert::etag_from("principal.etag", &principal.etag)) {
        Some(Some(version)) => Some(version),
        Some(None) => {
            violations.add(
                "principal.etag",
                "required: the etag of the principal as you last read it",
            );
            None
        }
        None => None,
    };
    let paths = message
        .update_mask
        .as_ref()
        .map(|m| m.paths.clone())
        .unwrap_or_default();
    if paths.is_empty() {
        violations.add(
            "update_mask",
            "required: which of display_name, role, agency, unit, partner, disabled to change",
        );
    }
    let mut changes = PrincipalChanges {
        reason: message.reason.clone(),
        ..PrincipalChanges::default()
    };
    for (i, path) in paths.iter().enumerate() {
        match path.as_str() {
            "display_name" => {
                if principal.display_name.trim().is_empty() {
                    violations.add("principal.display_name", "required");
                }
                check_length(
                    &mut violations,
                    "principal.display_name",
                    &principal.display_name,
                    200,
                );
                changes.display_name = Some(principal.display_name.clone());
            }
            "role" => match role_from(principal.role) {
                Some(role) => changes.role = Some(role),
                None => violations.add("principal.role", "required"),
            },
            "agency" => {
                changes.agency = if principal.agency.is_empty() {
                    Some(None)
                } else {
                    violations
                        .collect(AgencyId::parse_name("principal.agency", &principal.agency))
                        .map(Some)
                };
            }
            "unit" => {
                changes.unit = if principal.unit.is_empty() {
                    Some(None)
                } else {
                    violations
                        .collect(UnitId::parse_name("principal.unit", &principal.unit))
                        .map(Some)
                };
            }
            "partner" => {
                changes.partner = if principal.partner.is_empty() {
                    Some(None)
                } else {
                    partner_from("principal.partner", &principal.partner, &mut violations).map(Some)
                };
            }
            "disabled" => changes.disabled = Some(principal.disabled),
            other => violations.add(
                format!("update_mask.paths[{i}]"),
                format!(
                    "{other:?} cannot be updated; allowed: display_name, role, agency, unit, \
                     partner, disabled"
                ),
            ),
        }
    }
    let (Some(key), Some(id), Some(etag)) = (key, id, etag) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    note_resource(id.name());
    let update = state
        .store
        .update_principal(&key, &caller.name, id, &changes, etag)
        .await
        .map_err(Error::from)?;
    if update.ends_sessions {
        // Before answering, like a revocation; the other processes hear of it from the feed.
        let reason = if update.principal.is_disabled() {
            Reason::PrincipalDisabled
        } else {
            Reason::PrincipalChanged
        };
        state.revocations.end(Subject::Principal(id), reason);
    }
    Ok(Response::new(pb::UpdatePrincipalResponse {
        principal: Some(principal_message(&update.principal)),
    }))
}

pub async fn issue_credential(
    state: &AppState,
    request: Request<pb::IssueCredentialRequest>,
) -> Result<Response<pb::IssueCredentialResponse>, Status> {
    let caller = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "IssueCredential",
        &caller,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let principal = violations.collect(PrincipalId::parse_name("principal", &message.principal));
    let kind = match pb::CredentialKind::try_from(message.kind) {
        Ok(pb::CredentialKind::BearerToken) => Some(CredentialKind::BearerToken),
        Ok(pb::CredentialKind::ClientCertificate) => Some(CredentialKind::ClientCertificate),
        _ => {
            violations.add("kind", "required");
            None
        }
    };
    let certificate = match kind {
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
    let expires = violations.collect(convert::datetime(
        "expire_time",
        message.expire_time.as_ref(),
    ));
    if let Some(Some(expires)) = expires
        && expires <= chrono::Utc::now()
    {
        violations.add("expire_time", "must be in the future");
    }
    let (Some(key), Some(principal), Some(kind), Some(expires)) = (key, principal, kind, expires)
    else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let (credential, token) = state
        .store
        .issue_credential(
            &key,
            &caller.name,
            principal,
            kind,
            certificate.as_deref(),
            &message.description,
            expires,
        )
        .await
        .map_err(Error::from)?
        .value;
    note_resource(credential.id.name());
    Ok(Response::new(pb::IssueCredentialResponse {
        credential: Some(credential_message(&credential)),
        token: token.unwrap_or_default(),
    }))
}

pub async fn revoke_credential(
    state: &AppState,
    request: Request<pb::RevokeCredentialRequest>,
) -> Result<Response<pb::RevokeCredentialResponse>, Status> {
    let caller = Principal::of(&request);
    let message = request.into_inner();
    let mut violations = Violations::new();
    let key = violations.collect(idempotency(
        "RevokeCredential",
        &caller,
        &message.request_id,
        &message,
        |m| m.request_id.clear(),
    ));
    let id = violations.collect(CredentialId::parse_name("name", &message.name));
    check_length(&mut violations, "reason", &message.reason, 500);
    let (Some(key), Some(id)) = (key, id) else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let credential = state
        .store
        .revoke_credential(&key, &caller.name, id, &message.reason)
        .await
        .map_err(Error::from)?
        .value;
    // Before answering: once the response is out, nothing more goes out on its streams here.
    // The other processes hear of it from the feed.
    state
        .revocations
        .end(Subject::Credential(credential.id), Reason::Revoked);
    note_resource(credential.id.name());
    Ok(Response::new(pb::RevokeCredentialResponse {
        credential: Some(credential_message(&credential)),
    }))
}

pub async fn list_credentials(
    state: &AppState,
    request: Request<pb::ListCredentialsRequest>,
) -> Result<Response<pb::ListCredentialsResponse>, Status> {
    let message = request.into_inner();
    let mut violations = Violations::new();
    let page = violations.collect(convert::time_page(message.page_size, &message.page_token));
    let principal = if message.principal.is_empty() {
        Some(None)
    } else {
        violations.collect(PrincipalId::parse_name("principal", &message.principal).map(Some))
    };
    let (Some(page), Some(principal)) = (page, principal) else {
        return Err(invalid(&violations));
    };
    let (credentials, next) = state
        .store
        .list_credentials(principal, message.include_inactive, &page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListCredentialsResponse {
        credentials: credentials.iter().map(credential_message).collect(),
        next_page_token: convert::time_token(next),
    }))
}

pub async fn list_audit_records(
    state: &AppState,
    request: Request<pb::ListAuditRecordsRequest>,
) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
    let message = request.into_inner();
    let mut violations = Violations::new();
    let size = violations.collect(convert::page_size(message.page_size));
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
    let (from, until) = match &message.time {
        Some(range) => (
            violations
                .collect(convert::datetime("time.start", range.start.as_ref()))
                .flatten(),
            violations
                .collect(convert::datetime("time.end", range.end.as_ref()))
                .flatten(),
        ),
        None => (None, None),
    };
    let actions = violations.collect(convert::enum_filter("actions", &message.actions, |v| {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| i32::from(action(*a)) == v)
    }));
    let outcomes = violations.collect(convert::enum_filter("outcomes", &message.outcomes, |v| {
        AuditOutcome::ALL
            .iter()
            .copied()
            .find(|o| i32::from(outcome(*o)) == v)
    }));
    // Filters are compared, not stored, but PostgreSQL text cannot hold NUL either.
    for (field, text) in [
        ("principal", &message.principal),
        ("resource", &message.resource),
    ] {
        check_length(&mut violations, field, text, 2_000);
    }
    let (Some(size), Some(after), Some(actions), Some(outcomes)) = (size, after, actions, outcomes)
    else {
        return Err(invalid(&violations));
    };
    if !violations.is_empty() {
        return Err(invalid(&violations));
    }
    let filter = AuditFilter {
        from,
        until,
        principal: (!message.principal.is_empty()).then_some(message.principal),
        resource: (!message.resource.is_empty()).then_some(message.resource),
        actions,
        outcomes,
    };
    let (records, next) = state
        .store
        .list_audit(&filter, &dispatch_store::Page { size, after })
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListAuditRecordsResponse {
        audit_records: records.iter().map(audit_message).collect(),
        next_page_token: next.map(|id| format!("a.{id}")).unwrap_or_default(),
    }))
}
