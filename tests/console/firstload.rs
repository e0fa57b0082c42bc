//! The console's first load with the demo city (about 1,311 units) and 500 open incidents:
//! navigation start to the queue and the unit board ready (their performance marks), and what the
//! browser downloaded. Slow to set up (the demo load), so run by hand:
//!
//! ```sh
//! cargo test -p dispatch-tests --test console -- --ignored --nocapture first_load
//! ```
//!
//! It also takes a screenshot of every screen a supervisor has, over the demo city.

use serde_json::{Value, json};

use dispatch_tests::TestServer;

use crate::browser::{Console, TempDir};
use crate::proxy::Proxy;
use crate::setup;

/// Open incidents the test creates over the demo city.
const INCIDENTS: usize = 500;

/// Loads the Mexico City demo with `INCIDENTS` open incidents (`dispatchctl demo load
/// --open-incidents`, in process); its tokens by role.
async fn load_demo(server: &TestServer) -> std::collections::HashMap<String, String> {
    let dir = TempDir::new("dispatch-console-demo");
    let file = dir.path.join("demo-credentials.env").display().to_string();
    let address = format!("http://{}", server.address);
    let incidents = INCIDENTS.to_string();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(
        [
            "dispatchctl",
            "--server",
            &address,
            "--token",
            &server.admin_token,
            "--json",
            "demo",
            "load",
            "--open-incidents",
            &incidents,
            "--credentials-file",
            &file,
        ],
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(
        code,
        0,
        "demo load: {}\n{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    dispatch_cli::demo::read_env_file(std::path::Path::new(&file))
}

/// What the page downloaded, by the Resource Timing API: the document, its script and style,
/// and the unary API calls that finished (a stream's bytes are not counted until it ends).
async fn resource_bytes(console: &Console) -> Value {
    console
        .eval(
            r#"
            const nav = performance.getEntriesByType("navigation")[0];
            const out = {
              assetsTransfer: nav.transferSize, assetsEncoded: nav.encodedBodySize,
              assetsDecoded: nav.decodedBodySize, apiTransfer: 0, apiCalls: 0,
              domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
            };
            for (const r of performance.getEntriesByType("resource")) {
              if (r.initiatorType === "fetch" || r.initiatorType === "xmlhttprequest") {
                out.apiTransfer += r.transferSize;
                out.apiCalls += 1;
              } else {
                out.assetsTransfer += r.transferSize;
                out.assetsEncoded += r.encodedBodySize;
                out.assetsDecoded += r.decodedBodySize;
              }
            }
            return out;
            "#,
            vec![],
        )
        .await
}

/// Reloads `route` with the cache off and returns (ms from navigation start to `mark`, bytes
/// through the connection until then, the Resource Timing figures).
async fn first_load(
    console: &Console,
    proxy: &Proxy,
    route: &str,
    mark: &str,
) -> (f64, u64, Value) {
    console
        .eval("location.hash = arguments[0];", vec![json!(route)])
        .await;
    let before = proxy.downloaded();
    console.reload().await;
    let ready = console.mark(mark).await;
    let bytes = proxy.downloaded() - before;
    (ready, bytes, resource_bytes(console).await)
}

fn kib(bytes: u64) -> String {
    format!("{:.0} KiB", bytes as f64 / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "loads the whole demo city (slow): run with --ignored"]
async fn first_load_with_the_demo_city() {
    let mut config = dispatch_server::Config::defaults();
    // Setting the scene is not what is measured: no rate limit in its way.
    config.rate_limit = 100_000.0;
    let Some((browser, server)) = setup::start_with("firstload", config).await else {
        return;
    };
    let tokens = load_demo(&server).await;
    let units = server.count("units").await;
    let open = server.count("incidents").await;
    let proxy = Proxy::start(server.address).await;
    let console = browser.console_at(&proxy.origin()).await;
    // Every load below comes from the server, as a first visit would.
    let cdp = console.driver().cdp();
    cdp.send_raw("Network.enable", json!({}))
        .await
        .expect("Network.enable");
    cdp.send_raw("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
        .await
        .expect("Network.setCacheDisabled");
    console.sign_in(&tokens["SUPERVISOR_TOKEN"]).await;

    let (queue_ms, queue_bytes, queue_resources) =
        first_load(&console, &proxy, "#/queue", "dispatch:queue-ready").await;
    console
        .wait_for("the incident queue", "[data-testid=incident-queue]")
        .await;
    console.screenshot("queue").await;
    let (units_ms, units_bytes, units_resources) =
        first_load(&console, &proxy, "#/units", "dispatch:units-ready").await;
    console
        .wait_for("the unit board", "[data-testid=unit-board]")
        .await;
    console.screenshot("units").await;
    println!(
        "console-first-load: demo city {units} units, {open} open incidents, cache off, through 127.0.0.1; \
         queue ready {queue_ms:.0} ms after navigation start ({} through the connection by then; \
         page+script+style {} transferred, {} decoded; {} in {} finished API calls); \
         unit board ready {units_ms:.0} ms ({} through the connection by then; {} in {} finished API calls)",
        kib(queue_bytes),
        kib(queue_resources["assetsTransfer"].as_u64().unwrap_or(0)),
        kib(queue_resources["assetsDecoded"].as_u64().unwrap_or(0)),
        kib(queue_resources["apiTransfer"].as_u64().unwrap_or(0)),
        queue_resources["apiCalls"],
        kib(units_bytes),
        kib(units_resources["apiTransfer"].as_u64().unwrap_or(0)),
        units_resources["apiCalls"],
    );

    // A screenshot of every other screen a supervisor has, over the demo city.
    console.go("#/queue").await;
    let incident = console
        .wait_attr(
            "an incident in the queue",
            "[data-testid=incident-row]",
            "data-incident",
        )
        .await;
    console.go(&format!("#/{incident}")).await;
    console
        .wait_for("an incident's page", "[data-testid=incident-page]")
        .await;
    console.screenshot("incident").await;
    for (screen, selector) in [
        ("map", "[data-testid=map]"),
        ("calls", "[data-testid=call-form]"),
        ("referrals", "[data-testid=referral-list]"),
        ("cameras", "[data-testid=camera-incident]"),
        ("audit", "[data-testid=audit-search]"),
    ] {
        console.go(&format!("#/{screen}")).await;
        console
            .wait_for(&format!("the {screen} screen"), selector)
            .await;
        console.screenshot(screen).await;
    }
    console.assert_no_uncaught_errors().await;
}
