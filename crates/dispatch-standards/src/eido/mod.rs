//! NENA Emergency Incident Data Object (EIDO, NENA-STA-021.1b), JSON.

pub mod import;
