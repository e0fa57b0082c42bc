//! Principals, credentials and the audit trail (the security RPCs of `DirectoryService`).

use dispatch_domain::ids::PrincipalId;
use dispatch_proto::v1 as pb;
use dispatch_store::credentials::NewCredential;

use super::Directory;
use crate::auth::note_resource;
use crate::edge::enums::WireEnum;
use crate::edge::security::{
    CreatePrincipal, IssueCredential, ListAuditRecords, ListCredentials, ListPrincipals,
    RevokeCredential, UpdatePrincipal, audit_message, credential_message, principal_message,
};
use crate::error::Error;
use crate::revocation::{Reason, Subject};
use crate::services::request;
use crate::services::rpc::Caller;

impl Directory {
    pub(super) async fn create_principal(
        &self,
        caller: Caller,
        command: CreatePrincipal,
    ) -> Result<pb::CreatePrincipalResponse, Error> {
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let created = store.create_principal(&key, caller.actor(), &command.principal);
        let created = created.await?.value;
        note_resource(created.id.name());
        Ok(pb::CreatePrincipalResponse {
            principal: Some(principal_message(&created)),
        })
    }

    pub(super) async fn get_principal(
        &self,
        _: Caller,
        request: pb::GetPrincipalRequest,
    ) -> Result<pb::GetPrincipalResponse, Error> {
        let id = PrincipalId::parse_name("name", &request.name)?;
        let principal = self.state.store.get_principal(id).await?;
        Ok(pb::GetPrincipalResponse {
            principal: Some(principal_message(&principal)),
        })
    }

    pub(super) async fn list_principals(
        &self,
        _: Caller,
        query: ListPrincipals,
    ) -> Result<pb::ListPrincipalsResponse, Error> {
        let store = &self.state.store;
        let (principals, next) = store.list_principals(&query.filter, &query.page).await?;
        Ok(pb::ListPrincipalsResponse {
            principals: principals.iter().map(principal_message).collect(),
            next_page_token: request::code_token(next),
        })
    }

    pub(super) async fn get_current_principal(
        &self,
        caller: Caller,
        _: pb::GetCurrentPrincipalRequest,
    ) -> Result<pb::GetCurrentPrincipalResponse, Error> {
        let caller = caller.principal;
        let principal = match PrincipalId::parse_name("principal", &caller.name) {
            Ok(id) => principal_message(&self.state.store.get_principal(id).await?),
            // The bootstrap admin of DISPATCH_ADMIN_TOKEN has no row.
            Err(_) => pb::Principal {
                name: caller.name.clone(),
                display_name: "DISPATCH_ADMIN_TOKEN".into(),
                role: caller.role.wire(),
                ..Default::default()
            },
        };
        Ok(pb::GetCurrentPrincipalResponse {
            principal: Some(principal),
            credential: caller.credential.map(|c| c.name()).unwrap_or_default(),
            permitted_methods: crate::authz::permitted_methods(caller.role),
        })
    }

    pub(super) async fn update_principal(
        &self,
        caller: Caller,
        command: UpdatePrincipal,
    ) -> Result<pb::UpdatePrincipalResponse, Error> {
        let UpdatePrincipal {
            mutation,
            principal: id,
            changes,
            etag,
        } = command;
        note_resource(id.name());
        let key = caller.key(mutation);
        let store = &self.state.store;
        let update = store.update_principal(&key, caller.actor(), id, &changes, etag);
        let update = update.await?;
        if update.ends_sessions {
            // Before answering, like a revocation; the other processes hear of it from the feed.
            let reason = if update.principal.is_disabled() {
                Reason::PrincipalDisabled
            } else {
                Reason::PrincipalChanged
            };
            self.state.revocations.end(Subject::Principal(id), reason);
        }
        Ok(pb::UpdatePrincipalResponse {
            principal: Some(principal_message(&update.principal)),
        })
    }

    pub(super) async fn issue_credential(
        &self,
        caller: Caller,
        command: IssueCredential,
    ) -> Result<pb::IssueCredentialResponse, Error> {
        let credential = NewCredential {
            principal: command.principal,
            kind: command.kind,
            certificate_sha256: command.certificate_sha256,
            description: command.description,
            expires_at: command.expires,
        };
        let key = caller.key(command.mutation);
        let store = &self.state.store;
        let issued = store.issue_credential(&key, caller.actor(), &credential);
        let (credential, token) = issued.await?.value;
        note_resource(credential.id.name());
        Ok(pb::IssueCredentialResponse {
            credential: Some(credential_message(&credential)),
            token: token.unwrap_or_default(),
        })
    }

    pub(super) async fn revoke_credential(
        &self,
        caller: Caller,
        command: RevokeCredential,
    ) -> Result<pb::RevokeCredentialResponse, Error> {
        let RevokeCredential {
            mutation,
            credential,
            reason,
        } = command;
        let key = caller.key(mutation);
        let store = &self.state.store;
        let revoked = store.revoke_credential(&key, caller.actor(), credential, &reason);
        let credential = revoked.await?.value;
        // Before answering: once the response is out, nothing more goes out on its streams here.
        // The other processes hear of it from the feed.
        self.state
            .revocations
            .end(Subject::Credential(credential.id), Reason::Revoked);
        note_resource(credential.id.name());
        Ok(pb::RevokeCredentialResponse {
            credential: Some(credential_message(&credential)),
        })
    }

    pub(super) async fn list_credentials(
        &self,
        _: Caller,
        query: ListCredentials,
    ) -> Result<pb::ListCredentialsResponse, Error> {
        let (principal, include_inactive) = (query.principal, query.include_inactive);
        let store = &self.state.store;
        let listed = store.list_credentials(principal, include_inactive, &query.page);
        let (credentials, next) = listed.await?;
        Ok(pb::ListCredentialsResponse {
            credentials: credentials.iter().map(credential_message).collect(),
            next_page_token: request::time_token(next),
        })
    }

    pub(super) async fn list_audit_records(
        &self,
        _: Caller,
        query: ListAuditRecords,
    ) -> Result<pb::ListAuditRecordsResponse, Error> {
        let store = &self.state.store;
        let (records, next) = store.list_audit(&query.filter, &query.page).await?;
        Ok(pb::ListAuditRecordsResponse {
            audit_records: records.iter().map(audit_message).collect(),
            next_page_token: next.map(|id| format!("a.{id}")).unwrap_or_default(),
        })
    }
}
