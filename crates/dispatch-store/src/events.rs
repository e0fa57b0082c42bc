//! The event log's rows as typed [`Event`]s: the one place that turns an event into its `kind`
//! and `details` columns and back.

use dispatch_domain::event::Event;
use serde_json::{Value, json};

use crate::Error;

/// The kind of [`Event::MergedIn`], for SQL that follows merges through the log.
pub(crate) const MERGED_IN: &str = "merged_in";

/// Reads a stored row's `kind` and `details` columns. A row that does not read is a bug in a
/// writer (or a hand-made row), reported with its `seq`.
pub(crate) fn read(seq: i64, kind: &str, details: Value) -> Result<Event, Error> {
    serde_json::from_value(json!({ "kind": kind, "details": details })).map_err(|error| {
        Error::Internal(format!("unreadable event {seq} of kind {kind:?}: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use dispatch_domain::event::IncidentEvent;

    use super::*;

    #[test]
    fn merged_in_is_the_kind_of_a_merge() {
        let event = read(
            1,
            MERGED_IN,
            json!({ "incident": "incidents/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
                    "folio": "I/1", "calls": 1, "note": "" }),
        )
        .expect("reads");
        assert!(matches!(event, Event::Incident(IncidentEvent::MergedIn(_))));
    }

    #[test]
    fn an_unreadable_row_names_its_seq() {
        let error = read(42, "note_added", json!({})).expect_err("no text");
        assert!(error.to_string().contains("42"), "{error}");
    }
}
