//! The documents other emergency systems speak, converted to and from the domain's values:
//! NENA EIDO (NENA-STA-021, JSON) for incidents, the NENA-STA-024 messages that convey EIDOs
//! between systems, and OASIS CAP 1.2 for public alerts. Pure, like the domain crate: the server
//! reads and writes the store, this crate only says what a document means and how it is spelt.

pub mod cap;
pub mod eido;
pub mod sta024;
