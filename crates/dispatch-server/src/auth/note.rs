//! What a handler tells the auth layer's audit trail about the request it serves: a
//! task-local note the layer reads once the handler has answered.

use dispatch_domain::audit::AuditEntry;

/// What a handler tells the audit trail about the request it served.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub resource: String,
    pub request_id: String,
    /// Set by handlers that return victim data.
    pub victim_data: bool,
    /// What the request asked, where the resource does not say it (a report's period).
    pub detail: String,
    /// The record a mutation that succeeds would leave, for a handler whose write records it
    /// in its own transaction (CreateCall); its resource is the write's to fill in.
    pub success: Option<AuditEntry>,
    /// The handler's write recorded the request's audit record: the layer writes none.
    pub written: bool,
}

tokio::task_local! {
    pub(super) static AUDIT_NOTE: std::cell::RefCell<AuditNote>;
}

/// Names the resource a request acted on, for the audit trail.
pub fn note_resource(resource: impl Into<String>) {
    let _ = AUDIT_NOTE.try_with(|note| note.borrow_mut().resource = resource.into());
}

/// Records what the request asked, for the audit trail (a report's period).
pub fn note_detail(detail: impl Into<String>) {
    let _ = AUDIT_NOTE.try_with(|note| note.borrow_mut().detail = detail.into());
}

/// Records the request id, for the audit trail.
pub fn note_request_id(request_id: &str) {
    let _ = AUDIT_NOTE.try_with(|note| note.borrow_mut().request_id = request_id.to_owned());
}

/// The audit record of this request as it will read if its mutation succeeds, for a write that
/// records it in its own transaction, then calls [`note_audit_written`]; `None` outside a
/// mutation's request.
pub fn audit_of_success() -> Option<AuditEntry> {
    AUDIT_NOTE
        .try_with(|note| {
            let note = note.borrow();
            note.success.clone().map(|entry| AuditEntry {
                request_id: note.request_id.clone(),
                ..entry
            })
        })
        .ok()
        .flatten()
}

/// The request's audit record was written with its mutation: the layer writes none.
pub fn note_audit_written() {
    let _ = AUDIT_NOTE.try_with(|note| note.borrow_mut().written = true);
}

/// Marks the request as a read of victim data: it is audited even though it changes nothing.
pub fn note_victim_data_read(resource: impl Into<String>) {
    let _ = AUDIT_NOTE.try_with(|note| {
        let mut note = note.borrow_mut();
        note.victim_data = true;
        note.resource = resource.into();
    });
}
