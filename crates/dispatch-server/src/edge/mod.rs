//! The edge: wire messages in, domain values and commands out, and back. Requests become
//! commands through `TryFrom<pb::…Request>` (every violation names the field path the client
//! sent), domain values become wire messages through `From` or a renderer where the wire form
//! needs context, and every enum mapping is declared once, in `enums`.

pub mod alerts;
pub mod calls;
pub mod directory;
pub mod enums;
pub mod exchange;
pub mod incidents;
pub mod operations;
pub mod partners;
pub mod referrals;
pub mod reporting;
pub mod security;
pub mod units;
pub mod views;
pub mod wire;
