//! NENA Emergency Incident Data Object (NENA-STA-021.1b, JSON): the document's types, spelt as
//! NENA's schema spells them (`document`), an incident as an EIDO (`export`), and an EIDO
//! another system sent read into an import command (`import`).

mod document;
mod export;
pub mod import;
mod registries;

pub use document::*;
pub use export::{Centre, IncidentRecord, Merge, html_text, incident_eido};

#[cfg(test)]
mod tests;
