//! Request plumbing every service shares: the idempotency key of a mutating request.

use dispatch_domain::Violations;
use dispatch_domain::ids::RequestId;
use dispatch_store::Idempotency;

use crate::auth::Principal;

/// The idempotency key of a mutating request: its id, and its bytes without the id.
pub fn idempotency<M: prost::Message + Clone>(
    method: &'static str,
    principal: &Principal,
    request_id: &str,
    message: &M,
    clear_id: impl FnOnce(&mut M),
) -> Result<Idempotency, Violations> {
    crate::auth::note_request_id(request_id);
    let id = RequestId::parse("request_id", request_id)?;
    let mut canonical = message.clone();
    clear_id(&mut canonical);
    Ok(Idempotency {
        request_id: id.0,
        method,
        principal: principal.name.clone(),
        request: canonical.encode_to_vec(),
    })
}
