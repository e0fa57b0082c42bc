//! The Prometheus endpoint (`--metrics-listen`, `GET /metrics`): each server's own figures,
//! scraped over HTTP as Prometheus would and read with a parser of the text format, after the
//! requests they count. Also: every metric the Grafana dashboard uses is in a real scrape.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_tests::{TestServer, fixtures, request_id};
use tonic::Code;

const INTAKE: &str = "dispatch.v1.CallIntakeService";

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape: its `Content-Type` and its samples.
#[derive(Debug)]
struct Scrape {
    content_type: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The samples named `name` whose labels include every pair of `labels`.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The one sample named `name` with `labels` (panics if several match).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        assert!(
            found.len() <= 1,
            "several samples match {name} {labels:?}: {found:?}"
        );
        found.first().map(|s| s.value)
    }

    /// The sum of the samples named `name` with `labels` (0 when none).
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    fn names(&self) -> std::collections::BTreeSet<&str> {
        self.samples.iter().map(|s| s.name.as_str()).collect()
    }
}

/// Parses the Prometheus / OpenMetrics text format: `# ...` lines are metadata; a sample is
/// `name{label="value",...} value [timestamp]`, label values escaped with `\\`, `\"`, `\n`.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("a sample line without a value: {line:?}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(after_brace) = rest.strip_prefix('{') {
            let mut chars = after_brace.char_indices().peekable();
            loop {
                // A label name up to '='.
                let start = match chars.peek() {
                    Some(&(_, '}')) => {
                        chars.next();
                        break;
                    }
                    Some(&(i, _)) => i,
                    None => panic!("unterminated labels in {line:?}"),
                };
                let eq = after_brace[start..]
                    .find('=')
                    .unwrap_or_else(|| panic!("a label without '=' in {line:?}"))
                    + start;
                let key = after_brace[start..eq].to_owned();
                while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, c)) => value.push(c),
                            None => panic!("a dangling escape in {line:?}"),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => value.push(c),
                        None => panic!("an unterminated label value in {line:?}"),
                    }
                }
                labels.insert(key, value);
                match chars.next() {
                    Some((_, ',')) => {}
                    Some((_, '}')) => break,
                    other => {
                        panic!("expected ',' or '}}' after a label, got {other:?} in {line:?}")
                    }
                }
            }
            let consumed = chars.peek().map_or(after_brace.len(), |&(i, _)| i);
            rest = &after_brace[consumed..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("bad value {v:?} in {line:?}: {e}")),
        };
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// `GET /metrics` from `server`'s metrics listener, over plain HTTP/1.1.
async fn scrape(server: &TestServer) -> Scrape {
    let response = server.metrics_response().await;
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .expect("a content type");
    assert!(
        body.trim_end().ends_with("# EOF"),
        "an OpenMetrics exposition ends with # EOF"
    );
    Scrape {
        content_type,
        samples: parse(body),
    }
}

/// Scrapes until `ready` holds (figures recorded by another task: the feed follower, a stream
/// whose end the server has yet to see), for up to 10 s.
async fn scrape_until(server: &TestServer, what: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let started = Instant::now();
    loop {
        let scrape = scrape(server).await;
        if ready(&scrape) {
            return scrape;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited 30 s for {what}; last scrape: {:#?}",
            scrape.samples
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rpc<'a>(method: &'a str, code: &'a str) -> [(&'a str, &'a str); 3] {
    [("service", INTAKE), ("method", method), ("code", code)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_shows_in_its_histogram_by_method_and_code() {
    let server = TestServer::start().await;
    fixtures::create_call(&server, fixtures::call_at((19.4326, -99.1332), 20.0)).await;
    // No location: INVALID_ARGUMENT naming the field.
    let refused = server
        .calls()
        .create_call(pb::CreateCallRequest {
            location: None,
            ..fixtures::call_at((19.4326, -99.1332), 20.0)
        })
        .await
        .expect_err("a call without a location is refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    let scrape = scrape(&server).await;
    assert!(
        scrape
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        scrape.content_type
    );
    let count = |code| {
        scrape
            .value(
                "dispatch_rpc_duration_seconds_count",
                &rpc("CreateCall", code),
            )
            .unwrap_or(0.0)
    };
    assert_eq!(count("OK"), 1.0, "one CreateCall succeeded");
    assert_eq!(count("INVALID_ARGUMENT"), 1.0, "one CreateCall was refused");
    // The buckets of the OK series: cumulative, ending at +Inf with the count, and the call
    // took more than nothing.
    let mut buckets: Vec<(f64, f64)> = scrape
        .matching(
            "dispatch_rpc_duration_seconds_bucket",
            &rpc("CreateCall", "OK"),
        )
        .map(|s| {
            let le = match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().expect("a bucket bound"),
            };
            (le, s.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() >= 10, "ms-scale buckets: {buckets:?}");
    assert_eq!(buckets[0].0, 0.001, "the first bucket is 1 ms: {buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1.0)));
    let sum = scrape
        .value(
            "dispatch_rpc_duration_seconds_sum",
            &rpc("CreateCall", "OK"),
        )
        .expect("a sum");
    assert!(sum > 0.0 && sum < 10.0, "CreateCall took {sum} s");
    // Both calls have finished: nothing in flight.
    assert_eq!(scrape.value("dispatch_rpc_in_flight", &[]), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stream_is_counted_apart_from_latencies() {
    let server = TestServer::start().await;
    let mut stream = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch incidents")
        .into_inner();
    // The snapshot's first message: the stream is open on the server.
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the snapshot within 10 s")
        .expect("a message")
        .expect("not ended");
    let watch = [
        ("service", "dispatch.v1.IncidentTriageService"),
        ("method", "WatchIncidents"),
    ];
    let scrape = scrape(&server).await;
    assert_eq!(scrape.value("dispatch_streams_open", &watch), Some(1.0));
    assert_eq!(
        scrape.value("dispatch_streams_opened_total", &watch),
        Some(1.0)
    );
    assert_eq!(
        scrape.sum(
            "dispatch_rpc_duration_seconds_count",
            &[("method", "WatchIncidents")]
        ),
        0.0,
        "a stream is not a latency"
    );
    assert_eq!(
        scrape.value("dispatch_rpc_in_flight", &[]),
        Some(0.0),
        "a stream is not a request in flight"
    );

    // The client goes away: the stream ends as CANCELLED and is no longer open.
    drop(stream);
    let ended = [
        ("service", "dispatch.v1.IncidentTriageService"),
        ("method", "WatchIncidents"),
        ("code", "CANCELLED"),
    ];
    let scrape = scrape_until(&server, "the stream's end", |s| {
        s.value("dispatch_streams_open", &watch) == Some(0.0)
    })
    .await;
    assert_eq!(
        scrape.value("dispatch_streams_ended_total", &ended),
        Some(1.0)
    );
    assert_eq!(
        scrape.sum(
            "dispatch_rpc_duration_seconds_count",
            &[("method", "WatchIncidents")]
        ),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failures_are_counted_by_reason() {
    let server = TestServer::start().await;
    let path = "/dispatch.v1.CallIntakeService/GetCall";
    assert_eq!(server.call_raw(path, None).await, Code::Unauthenticated);
    assert_eq!(
        server.call_raw(path, Some("not-a-token")).await,
        Code::Unauthenticated
    );
    let scrape = scrape(&server).await;
    let failures = |reason| {
        scrape
            .value("dispatch_auth_failures_total", &[("reason", reason)])
            .unwrap_or(0.0)
    };
    assert_eq!(failures("no_credential"), 1.0);
    assert_eq!(failures("invalid"), 1.0);
    assert_eq!(failures("malformed"), 0.0);
    assert_eq!(
        scrape.value(
            "dispatch_rpc_duration_seconds_count",
            &rpc("GetCall", "UNAUTHENTICATED")
        ),
        Some(2.0),
        "the refusals are RPCs that ended UNAUTHENTICATED"
    );
}

/// An audit record the database will not take is counted (and logged), not silently lost: the
/// request it records was already answered. The count is what the hostile-input test checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_that_cannot_be_written_are_counted() {
    let server = TestServer::start().await;
    let path = "/dispatch.v1.CallIntakeService/GetCall";
    // A refusal no check foresees, as a full disk or a constraint added by an operator.
    server
        .run_sql(
            "CREATE FUNCTION refuse_audit_records() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'refused for the test'; END $$",
        )
        .await;
    server
        .run_sql(
            "CREATE TRIGGER refuse_audit_records BEFORE INSERT ON audit_records \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit_records()",
        )
        .await;
    let failures = || server.metric("dispatch_audit_write_failures_total");
    let audited = || server.count("audit_records WHERE action = 'authentication_failure'");
    assert_eq!(failures().await, Some(0.0), "exposed from the start");

    // Each refusal is audited before it is answered.
    assert_eq!(server.call_raw(path, None).await, Code::Unauthenticated);
    assert_eq!(
        server.call_raw(path, Some("not-a-token")).await,
        Code::Unauthenticated
    );
    assert_eq!(failures().await, Some(2.0));
    assert_eq!(audited().await, 0);

    server
        .run_sql("DROP TRIGGER refuse_audit_records ON audit_records")
        .await;
    assert_eq!(server.call_raw(path, None).await, Code::Unauthenticated);
    assert_eq!(
        failures().await,
        Some(2.0),
        "a written record is not counted"
    );
    assert_eq!(audited().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_and_load_shedding_refusals_are_counted() {
    let mut config = dispatch_server::Config::defaults();
    // 2 requests per second with bursts of 4 per principal; one request at a time per process.
    config.rate_limit = 2.0;
    config.max_concurrent_requests = 1;
    let server = TestServer::start_with(config).await;
    // Many calls at once from one principal: some are shed (one at a time), some rate-limited.
    let answers = futures::future::join_all((0..40).map(|_| {
        let mut calls = server.calls();
        async move {
            calls
                .create_call(fixtures::call_at((19.4326, -99.1332), 20.0))
                .await
        }
    }))
    .await;
    let refused = |needle: &str| {
        answers
            .iter()
            .filter(|a| {
                a.as_ref().is_err_and(|s| {
                    s.code() == Code::ResourceExhausted && s.message().contains(needle)
                })
            })
            .count() as f64
    };
    let shed = refused("Too many active requests");
    let limited = refused("rate limit");
    assert!(
        shed >= 1.0,
        "40 calls at once over a limit of 1: some shed: {answers:?}"
    );
    let scrape = scrape(&server).await;
    assert_eq!(scrape.value("dispatch_load_shed_total", &[]), Some(shed));
    assert_eq!(
        scrape.value("dispatch_rate_limited_total", &[]),
        Some(limited)
    );
    assert_eq!(
        scrape.value(
            "dispatch_rpc_duration_seconds_count",
            &rpc("CreateCall", "RESOURCE_EXHAUSTED")
        ),
        Some(shed + limited),
        "every refusal is an RPC that ended RESOURCE_EXHAUSTED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_and_engine_gauges_are_plausible() {
    let server = TestServer::start().await;
    let agency = fixtures::agency(&server, "CRUM", pb::AgencyKind::Ems).await;
    for call_sign in ["AMB-1", "AMB-2"] {
        fixtures::unit(&server, &agency, call_sign, pb::UnitType::AlsAmbulance).await;
    }
    let scrape = scrape(&server).await;
    let gauge = |name: &str| {
        scrape
            .value(name, &[])
            .unwrap_or_else(|| panic!("{name} in the scrape"))
    };
    assert_eq!(gauge("dispatch_engine_units"), 2.0);
    assert_eq!(gauge("dispatch_engine_units_available"), 2.0);
    assert_eq!(gauge("dispatch_engine_cameras"), 0.0);
    let max = gauge("dispatch_db_pool_max_connections");
    let size = gauge("dispatch_db_pool_connections");
    let available = gauge("dispatch_db_pool_connections_available");
    let in_use = gauge("dispatch_db_pool_connections_in_use");
    assert_eq!(
        max,
        dispatch_server::Config::defaults().db_max_connections as f64
    );
    assert!(
        (1.0..=max).contains(&size),
        "{size} connections open of {max}"
    );
    assert_eq!(available + in_use, size);
    assert!(gauge("dispatch_db_pool_waiting") >= 0.0);
    // Every request so far checked a connection out.
    let acquired = gauge("dispatch_db_pool_acquire_seconds_count");
    assert!(acquired >= 3.0, "{acquired} checkouts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_incidents_by_state_and_the_feed() {
    let server = TestServer::start().await;
    let at = (19.4326, -99.1332);
    let _open = fixtures::create_call(&server, fixtures::call_at(at, 20.0)).await;
    let disposed = fixtures::create_call(&server, fixtures::call_at(at, 20.0))
        .await
        .call
        .expect("call");
    server
        .calls()
        .dispose_call(pb::DisposeCallRequest {
            request_id: request_id(),
            name: disposed.name,
            disposition: pb::CallDisposition::Prank.into(),
            note: String::new(),
            etag: disposed.etag,
        })
        .await
        .expect("dispose");
    fixtures::incident_at(&server, at).await;

    // The feed follower reads the events by itself: wait until it has. A scrape whose reads of
    // the database timed out (a loaded machine) keeps the gauges' last values, which at first
    // are 0 and no counts at all: wait for a scrape that read them.
    let scrape = scrape_until(&server, "the feed to be read", |s| {
        let head = s.value("dispatch_feed_head_position", &[]);
        s.value("dispatch_feed_lag_events", &[]) == Some(0.0)
            && head >= Some(5.0)
            && s.value("dispatch_feed_position", &[]) == head
            && s.value("dispatch_feed_publish_delay_seconds_count", &[]) >= Some(5.0)
            && s.value("dispatch_calls", &[("state", "open")]).is_some()
    })
    .await;
    let calls = |state| scrape.value("dispatch_calls", &[("state", state)]);
    assert_eq!(calls("open"), Some(1.0));
    assert_eq!(calls("disposed"), Some(1.0));
    assert_eq!(calls("linked"), Some(1.0));
    assert_eq!(scrape.sum("dispatch_incidents", &[]), 1.0, "one incident");
    let head = scrape
        .value("dispatch_feed_head_position", &[])
        .expect("head");
    assert_eq!(scrape.value("dispatch_feed_position", &[]), Some(head));
    assert!(head >= 5.0, "3 calls, a disposal and an incident: {head}");
}

/// Every `dispatch_*` name in the dashboard's expressions is a sample of a real scrape, taken
/// after the traffic that makes each series exist: the dashboard cannot drift from the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_uses_only_metrics_the_server_exposes() {
    let path = dispatch_tests::repo_root().join("docs/grafana/dispatch.json");
    let dashboard: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the dashboard")).expect("JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    assert!(expressions.len() >= 7, "{expressions:?}");

    let server = TestServer::start().await;
    let agency = fixtures::agency(&server, "CRUM", pb::AgencyKind::Ems).await;
    let unit = fixtures::unit(&server, &agency, "AMB-1", pb::UnitType::AlsAmbulance).await;
    let incident = fixtures::incident_at(&server, (19.4326, -99.1332)).await;
    // Whatever it answers, the dispatch panels' series exist.
    let _ = server
        .units()
        .assign_units(pb::AssignUnitsRequest {
            request_id: request_id(),
            incident: incident.name.clone(),
            units: vec![unit.name.clone()],
            override_reason: "nearest by road".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        server
            .call_raw("/dispatch.v1.CallIntakeService/GetCall", None)
            .await,
        Code::Unauthenticated
    );
    let mut stream = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    stream.message().await.expect("a message");
    drop(stream);
    let scrape = scrape_until(&server, "the feed to be read and the stream to end", |s| {
        s.value("dispatch_feed_publish_delay_seconds_count", &[]) >= Some(1.0)
            && s.sum("dispatch_streams_ended_total", &[]) >= 1.0
    })
    .await;
    let names = scrape.names();
    for expression in &expressions {
        for name in metric_names(expression) {
            assert!(
                names.contains(name.as_str()),
                "the dashboard's {expression:?} uses {name}, which no scrape shows; \
                 the scrape has {names:?}"
            );
        }
    }
}

/// Every `expr` of every target in a Grafana dashboard.
fn collect_expressions(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => into.push(expr.clone()),
                    _ => collect_expressions(value, into),
                }
            }
        }
        serde_json::Value::Array(values) => {
            for value in values {
                collect_expressions(value, into);
            }
        }
        _ => {}
    }
}

/// The `dispatch_*` identifiers of a PromQL expression.
fn metric_names(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expression.as_bytes();
    let mut i = 0;
    while let Some(found) = expression[i..].find("dispatch_") {
        let start = i + found;
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = expression[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expression.len(), |e| start + e);
        if !preceded {
            names.push(expression[start..end].to_owned());
        }
        i = end;
    }
    names
}

#[test]
fn the_parser_reads_labels_escapes_and_special_values() {
    let samples = parse(
        "# TYPE x histogram\n\
         x_bucket{le=\"0.5\",path=\"a\\\"b\\\\c\\nd\"} 3\n\
         x_bucket{le=\"+Inf\"} 4\n\
         y 1.5e3\n\
         z{} -Inf\n\
         # EOF\n",
    );
    assert_eq!(samples.len(), 4);
    assert_eq!(samples[0].labels["path"], "a\"b\\c\nd");
    assert_eq!(samples[0].labels["le"], "0.5");
    assert_eq!(samples[0].value, 3.0);
    assert_eq!(samples[1].labels["le"], "+Inf");
    assert_eq!(samples[2].name, "y");
    assert_eq!(samples[2].value, 1500.0);
    assert_eq!(samples[3].value, f64::NEG_INFINITY);
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (le) (rate(dispatch_rpc_duration_seconds_bucket{method=\"CreateCall\"}[5m]))) / x_dispatch_no"
        ),
        vec!["dispatch_rpc_duration_seconds_bucket".to_owned()]
    );
}
