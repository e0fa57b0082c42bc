//! End-to-end tests: the real server, over gRPC, on a real PostgreSQL database per test.

mod alerts;
mod call_intake;
mod cli;
mod console;
mod contract;
mod duplicates;
mod eido;
mod eido_import;
mod feeds;
mod foundation;
mod hostile;
mod limits;
mod metrics;
mod races;
mod readme;
mod referrals;
mod reports_sf;
mod retention;
mod revocation;
mod schema;
mod security;
mod sta024;
mod tls;
mod travel;
mod triage;
mod units;
