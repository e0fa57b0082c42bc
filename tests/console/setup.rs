//! The scene a browser test sets over gRPC: the harness's shared fixtures, and who signs in.

use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;

pub use dispatch_tests::fixtures::*;

use crate::browser::{Browser, js};

/// The browser for the test named `test` and a fresh server; `None` when there is no browser
/// here (the test then returns: [`Browser::start`] said why).
pub async fn start(test: &str) -> Option<(Browser, TestServer)> {
    start_with(test, dispatch_server::Config::defaults()).await
}

/// [`start`], with the server configured by `config`.
pub async fn start_with(
    test: &str,
    config: dispatch_server::Config,
) -> Option<(Browser, TestServer)> {
    let browser = Browser::start(test).await?;
    Some((browser, TestServer::start_with(config).await))
}

/// A fresh dispatcher's bearer token: who works the consoles under test.
pub async fn dispatcher_token(server: &TestServer) -> String {
    let (_, token) = server.person(pb::Role::Dispatcher, "test-dispatcher").await;
    token
}

/// `unit`'s row on the unit board, showing `status`.
pub fn unit_row(unit: &pb::Unit, status: &str) -> String {
    format!(
        "[data-testid=unit-row][data-unit={}][data-status={status}]",
        js(&unit.name)
    )
}
