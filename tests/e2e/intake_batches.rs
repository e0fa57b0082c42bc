//! Group commit of call intake (issue 23): calls that arrive together share one transaction,
//! yet each keeps its own folio, event, idempotency claim and audit record, and a call the
//! database refuses fails alone.

use std::collections::HashSet;
use std::sync::Arc;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl as _;
use dispatch_proto::v1 as pb;
use dispatch_tests::TestServer;
use dispatch_tests::fixtures::{self, ZOCALO, call_at};
use tonic::Code;

const CALLS: usize = 48;

/// `CALLS` different calls sent at once, a few metres apart; the answers in sending order.
async fn send_together(
    server: &Arc<TestServer>,
    requests: Vec<pb::CreateCallRequest>,
) -> Vec<Result<pb::CreateCallResponse, tonic::Status>> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .calls()
                    .create_call(request)
                    .await
                    .map(tonic::Response::into_inner)
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

fn spread_calls(count: usize) -> Vec<pb::CreateCallRequest> {
    (0..count)
        .map(|i| {
            let offset = i as f64 * 0.000_1;
            call_at((ZOCALO.0 + offset, ZOCALO.1), 10.0)
        })
        .collect()
}

#[derive(QueryableByName)]
struct Figure {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn figure(server: &TestServer, sql: &str) -> i64 {
    let rows: Vec<Figure> = diesel::sql_query(sql)
        .load(&mut server.db().await)
        .await
        .expect(sql);
    rows.into_iter().next().map_or(0, |row| row.n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_arriving_together_share_a_commit_yet_each_keeps_its_folio_event_and_audit_record() {
    let server = Arc::new(TestServer::start().await);
    let requests = spread_calls(CALLS);
    let answers = send_together(&server, requests.clone()).await;
    let mut names = HashSet::new();
    let mut folios = Vec::new();
    for answer in answers {
        let answer = answer.expect("every call is recorded");
        assert!(!answer.replayed);
        let call = answer.call.expect("call");
        folios.push(call.folio.clone());
        names.insert(call.name);
    }
    assert_eq!(names.len(), CALLS);
    // One draw of folios per batch: every number once, none skipped, in the domain's format.
    let mut numbers: Vec<u32> = folios
        .iter()
        .map(|folio| {
            let parts: Vec<&str> = folio.split('/').collect();
            assert_eq!(parts.len(), 3, "{folio}");
            assert_eq!(parts[1].len(), 6, "{folio}");
            assert_eq!(parts[2].len(), 5, "{folio}");
            parts[2].parse().expect("folio number")
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=CALLS as u32).collect::<Vec<_>>());

    // Fewer transactions than calls: they were batched.
    let transactions = figure(
        &server,
        "SELECT count(DISTINCT xid)::bigint AS n FROM events WHERE kind = 'call_received'",
    )
    .await;
    assert!(
        transactions < CALLS as i64,
        "{CALLS} calls sent together were written in {transactions} transactions"
    );
    // Each call's event carries its own folio; its location and audit record were written in
    // its transaction.
    let own_folio = figure(
        &server,
        "SELECT count(*)::bigint AS n FROM calls c JOIN events e \
           ON e.call_id = c.id AND e.kind = 'call_received' AND e.details->>'folio' = c.folio",
    )
    .await;
    assert_eq!(own_folio, CALLS as i64);
    let located = figure(
        &server,
        "SELECT count(*)::bigint AS n FROM calls c JOIN call_locations l \
           ON l.call_id = c.id AND l.xmin = c.xmin AND l.latitude = c.latitude",
    )
    .await;
    assert_eq!(located, CALLS as i64);
    let audited = figure(
        &server,
        "SELECT count(*)::bigint AS n FROM calls c JOIN audit_records a \
           ON a.resource = 'calls/' || c.id AND a.xmin = c.xmin \
          AND a.method = '/dispatch.v1.CallIntakeService/CreateCall' \
          AND a.outcome = 'success' AND a.status_code = 'OK' AND a.action = 'mutation' \
          AND a.principal = c.call_taker AND a.request_id <> ''",
    )
    .await;
    assert_eq!(
        audited, CALLS as i64,
        "one audit record per call, in its transaction"
    );
    assert_eq!(
        figure(
            &server,
            "SELECT count(*)::bigint AS n FROM audit_records \
              WHERE method LIKE '%/CreateCall'"
        )
        .await,
        CALLS as i64,
        "and no second one"
    );
    // Each audit record names its own request.
    #[derive(QueryableByName)]
    struct Claim {
        #[diesel(sql_type = Text)]
        request_id: String,
    }
    let claims: Vec<Claim> = diesel::sql_query(
        "SELECT a.request_id FROM audit_records a WHERE a.method LIKE '%/CreateCall'",
    )
    .load(&mut server.db().await)
    .await
    .expect("audit");
    let sent: HashSet<String> = requests.iter().map(|r| r.request_id.clone()).collect();
    let audited: HashSet<String> = claims.into_iter().map(|c| c.request_id).collect();
    assert_eq!(audited, sent);

    // Sent again together, every one is a replay of its first answer and writes no call.
    let again = send_together(&server, requests).await;
    let mut replayed = HashSet::new();
    for answer in again {
        let answer = answer.expect("a retry is answered");
        assert!(answer.replayed);
        replayed.insert(answer.call.expect("call").name);
    }
    assert_eq!(replayed, names);
    assert_eq!(server.count("calls").await, CALLS as i64);
    assert_eq!(server.count("call_locations").await, CALLS as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_database_refuses_fails_alone_and_the_others_are_recorded() {
    let server = Arc::new(TestServer::start().await);
    // A refusal no edge check foresees, as a disk-full or a constraint added by an operator.
    diesel::sql_query(
        "CREATE FUNCTION refuse_marked_call() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
             IF NEW.caller_name = 'refuse me' THEN \
                 RAISE EXCEPTION 'refused for the test'; \
             END IF; \
             RETURN NEW; \
         END $$",
    )
    .execute(&mut server.db().await)
    .await
    .expect("function");
    diesel::sql_query(
        "CREATE TRIGGER refuse_marked_call BEFORE INSERT ON calls \
         FOR EACH ROW EXECUTE FUNCTION refuse_marked_call()",
    )
    .execute(&mut server.db().await)
    .await
    .expect("trigger");

    let mut requests = spread_calls(CALLS);
    let refused = CALLS / 2;
    requests[refused].caller_name = "refuse me".into();
    let answers = send_together(&server, requests.clone()).await;
    let mut recorded = HashSet::new();
    for (i, answer) in answers.into_iter().enumerate() {
        if i == refused {
            let status = answer.expect_err("the marked call is refused");
            assert_eq!(status.code(), Code::Internal, "{status:?}");
            continue;
        }
        let answer = answer.expect("every other call is recorded");
        assert!(!answer.replayed);
        recorded.insert(answer.call.expect("call").name);
    }
    assert_eq!(recorded.len(), CALLS - 1);
    assert_eq!(server.count("calls").await, (CALLS - 1) as i64);
    assert_eq!(server.count("call_locations").await, (CALLS - 1) as i64);
    assert_eq!(
        figure(
            &server,
            "SELECT count(*)::bigint AS n FROM events WHERE kind = 'call_received'"
        )
        .await,
        (CALLS - 1) as i64
    );
    // The refused request claimed nothing: once the operator lifts the refusal, its retry is
    // recorded as a new call.
    assert_eq!(
        figure(
            &server,
            &format!(
                "SELECT count(*)::bigint AS n FROM idempotency_keys WHERE request_id = '{}'",
                requests[refused].request_id
            )
        )
        .await,
        0
    );
    // Its failure is audited, once; every recorded call has its success.
    assert_eq!(
        figure(
            &server,
            "SELECT count(*)::bigint AS n FROM audit_records \
              WHERE method LIKE '%/CreateCall' AND outcome = 'failure'"
        )
        .await,
        1
    );
    assert_eq!(
        figure(
            &server,
            "SELECT count(*)::bigint AS n FROM audit_records \
              WHERE method LIKE '%/CreateCall' AND outcome = 'success'"
        )
        .await,
        (CALLS - 1) as i64
    );
    diesel::sql_query("DROP TRIGGER refuse_marked_call ON calls")
        .execute(&mut server.db().await)
        .await
        .expect("drop trigger");
    let retried = server
        .calls()
        .create_call(requests[refused].clone())
        .await
        .expect("recorded once the refusal is lifted")
        .into_inner();
    assert!(!retried.replayed);
    assert_eq!(server.count("calls").await, CALLS as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_call_of_a_batch_gets_the_duplicate_suggestions_of_its_own_place() {
    let server = Arc::new(TestServer::start().await);
    const CALLER: &str = "+525512345678";
    let first = pb::CreateCallRequest {
        callback_number: CALLER.into(),
        incident_type_hint: "TRAFFIC-COLLISION".into(),
        account: "choque en la esquina".into(),
        ..call_at(ZOCALO, 10.0)
    };
    let incident = fixtures::open_from(&server, first, "").await;
    // Near the incident and about 30 km away, interleaved, all sent at once.
    let far = (ZOCALO.0 + 0.27, ZOCALO.1);
    let requests: Vec<pb::CreateCallRequest> = (0..CALLS)
        .map(|i| {
            let at = if i % 2 == 0 {
                (ZOCALO.0 + 0.000_002 * i as f64, ZOCALO.1)
            } else {
                far
            };
            // The caller calls again (from far away too: it is the place that tells).
            pb::CreateCallRequest {
                callback_number: CALLER.into(),
                incident_type_hint: "TRAFFIC-COLLISION".into(),
                ..call_at(at, 10.0)
            }
        })
        .collect();
    let answers = send_together(&server, requests).await;
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.expect("recorded");
        let top = <[_]>::first(&answer.duplicate_candidates).map(|c| c.incident.as_str());
        if i % 2 == 0 {
            assert_eq!(top, Some(incident.name.as_str()), "call {i}, near");
        } else {
            assert_eq!(top, None, "call {i}, far away");
        }
    }
    assert!(
        figure(
            &server,
            "SELECT count(DISTINCT xid)::bigint AS n FROM events WHERE kind = 'call_received'"
        )
        .await
            < CALLS as i64 + 1,
        "the calls were batched"
    );
}
