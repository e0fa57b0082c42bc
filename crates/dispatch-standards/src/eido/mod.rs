//! NENA Emergency Incident Data Object (NENA-STA-021.1b, JSON): the document's types, spelt as
//! NENA's schema spells them (`document`), and an incident as an EIDO (`export`).

mod document;
mod export;
mod registries;

pub use document::*;
pub use export::{Centre, IncidentRecord, Merge, html_text, incident_eido};

#[cfg(test)]
mod tests;
