//! Who is calling. Authentication and roles arrive with the security work (issue 6); until then
//! every request acts as one unauthenticated principal, recorded as such in the event log.

/// The acting principal, as recorded in events and idempotency keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
}

impl Principal {
    pub fn of<T>(_request: &tonic::Request<T>) -> Self {
        Self {
            name: "unauthenticated".to_owned(),
        }
    }
}
