//! One module per gRPC service. Services a later issue implements are registered now with no
//! methods of their own, so every RPC of the contract answers (UNIMPLEMENTED until then).

pub mod call_intake;
pub mod directory;
pub mod referrals;
pub mod security;
pub mod triage;
pub mod units;
mod views;
pub mod watch;
