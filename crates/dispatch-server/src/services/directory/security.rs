//! Principals, credentials and the audit trail (the security RPCs of `DirectoryService`).

use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::auth::Role;
use dispatch_domain::call::check_length;
use dispatch_domain::ids::{AgencyId, CredentialId, PrincipalId, UnitId};
use dispatch_domain::principal::CredentialKind;
use dispatch_proto::v1 as pb;
use dispatch_store::credentials::NewCredential;
use dispatch_store::principals::PrincipalChanges;

use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::enums::WireEnum;
use crate::edge::security::{
    CreatePrincipal, ListAuditRecords, ListPrincipals, audit_message, credential_message,
    partner_from, principal_message,
};
use crate::edge::wire::{self};
use crate::error::{Error, invalid};
use crate::revocation::{Reason, Subject};
use crate::services::request::{self, idempotency};

pub async fn create_principal(
    state: &AppState,
    request: Request<pb::CreatePrincipalRequest>,
) -> Result<Response<pb::CreatePrincipalResponse>, Status> {
    let caller = Principal::of(&request);
    let command = CreatePrincipal::try_from(request.into_inner()).map_err(Error::from)?;
    let created = state
        .store
        .create_principal(
            &command.mutation.key("CreatePrincipal", &caller),
            &caller.name,
            &command.principal,
        )
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
    let query = ListPrincipals::try_from(request.into_inner()).map_err(Error::from)?;
    let (principals, next) = state
        .store
        .list_principals(&query.filter, &query.page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListPrincipalsResponse {
        principals: principals.iter().map(principal_message).collect(),
        next_page_token: request::code_token(next),
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
            role: caller.role.wire(),
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
    let etag = match violations.collect(request::etag_from("principal.etag", &principal.etag)) {
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
            "role" => match Role::from_wire(principal.role) {
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
    let kind = match CredentialKind::from_wire(message.kind) {
        Some(kind) => Some(kind),
        None => {
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
    let expires = violations.collect(wire::datetime("expire_time", message.expire_time.as_ref()));
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
            &NewCredential {
                principal,
                kind,
                certificate_sha256: certificate,
                description: message.description,
                expires_at: expires,
            },
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
    let page = violations.collect(request::time_page(message.page_size, &message.page_token));
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
        next_page_token: request::time_token(next),
    }))
}

pub async fn list_audit_records(
    state: &AppState,
    request: Request<pb::ListAuditRecordsRequest>,
) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
    let query = ListAuditRecords::try_from(request.into_inner()).map_err(Error::from)?;
    let (records, next) = state
        .store
        .list_audit(&query.filter, &query.page)
        .await
        .map_err(Error::from)?;
    Ok(Response::new(pb::ListAuditRecordsResponse {
        audit_records: records.iter().map(audit_message).collect(),
        next_page_token: next.map(|id| format!("a.{id}")).unwrap_or_default(),
    }))
}
