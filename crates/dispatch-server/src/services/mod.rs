//! One module per gRPC service, each with its handlers and its Watch RPC (DirectoryService's
//! partner and security RPCs in submodules of `directory`), and the request plumbing they share
//! (`request`). Wire conversion is `crate::edge`'s.

pub mod alerts;
pub mod call_intake;
pub mod directory;
pub mod exchange;
pub mod operations;
pub mod referrals;
pub mod reporting;
pub mod request;
pub mod rpc;
pub mod triage;
pub mod units;
