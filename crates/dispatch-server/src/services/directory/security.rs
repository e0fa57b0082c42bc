//! Principals, credentials and the audit trail (the security RPCs of `DirectoryService`).

use tonic::{Request, Response, Status};

use dispatch_domain::ids::PrincipalId;
use dispatch_proto::v1 as pb;
use dispatch_store::credentials::NewCredential;

use crate::AppState;
use crate::auth::{Principal, note_resource};
use crate::edge::enums::WireEnum;
use crate::edge::security::{
    CreatePrincipal, IssueCredential, ListAuditRecords, ListCredentials, ListPrincipals,
    RevokeCredential, UpdatePrincipal, audit_message, credential_message, principal_message,
};
use crate::error::Error;
use crate::revocation::{Reason, Subject};
use crate::services::request;

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
    let command = UpdatePrincipal::try_from(request.into_inner()).map_err(Error::from)?;
    let id = command.principal;
    note_resource(id.name());
    let update = state
        .store
        .update_principal(
            &command.mutation.key("UpdatePrincipal", &caller),
            &caller.name,
            id,
            &command.changes,
            command.etag,
        )
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
    let command = IssueCredential::try_from(request.into_inner()).map_err(Error::from)?;
    let (credential, token) = state
        .store
        .issue_credential(
            &command.mutation.key("IssueCredential", &caller),
            &caller.name,
            &NewCredential {
                principal: command.principal,
                kind: command.kind,
                certificate_sha256: command.certificate_sha256,
                description: command.description,
                expires_at: command.expires,
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
    let command = RevokeCredential::try_from(request.into_inner()).map_err(Error::from)?;
    let credential = state
        .store
        .revoke_credential(
            &command.mutation.key("RevokeCredential", &caller),
            &caller.name,
            command.credential,
            &command.reason,
        )
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
    let query = ListCredentials::try_from(request.into_inner()).map_err(Error::from)?;
    let (credentials, next) = state
        .store
        .list_credentials(query.principal, query.include_inactive, &query.page)
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
