//! The scene a browser test sets over gRPC: the harness's shared fixtures.

pub use dispatch_tests::fixtures::*;
