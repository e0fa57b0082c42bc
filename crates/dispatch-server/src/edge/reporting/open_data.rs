//! ExportOpenData's request and answer.
