//! One module per gRPC service (DirectoryService's security RPCs in `security`), the wire views
//! they share (`views`), the Watch filters (`watch`) and the request plumbing (`request`).

pub mod call_intake;
pub mod directory;
pub mod referrals;
pub mod request;
pub mod triage;
pub mod units;
pub mod views;
pub mod watch;
