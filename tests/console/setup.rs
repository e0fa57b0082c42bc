//! The scene a browser test sets over gRPC: the harness's shared fixtures, and who signs in.

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

pub use dispatch_tests::fixtures::*;

/// A fresh dispatcher's bearer token: who works the consoles under test.
pub async fn dispatcher_token(server: &TestServer) -> String {
    let (_, token) = server
        .principal(pb::Role::Dispatcher, "test-dispatcher", None, None)
        .await;
    token
}
