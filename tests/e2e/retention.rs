//! The retention job (issue 20) on back-dated data: what is past its period goes, in batches,
//! as the owner role, audited; what an open incident or an open referral needs stays; the
//! application's role can delete nothing; watchers resuming from a removed position resync.

use std::time::Duration;

use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
use dispatch_domain::retention::{Counts, Period, Policy};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::watch_incidents_response::Item as IncidentItem;
use dispatch_store::retention::{RETENTION_PRINCIPAL, Report, Run};
use dispatch_tests::fixtures::{self, ZOCALO, incident_at, next_message, offset};
use dispatch_tests::{TestServer, request_id};
use tonic::Code;

/// The uuid of a resource name (`calls/{uuid}`).
fn id(name: &str) -> &str {
    name.split_once('/').expect("a resource name").1
}

/// Runs the retention job once on `server`'s database, as the owner (the test's connection is
/// the owner's), in batches of `batch`.
async fn purge(server: &TestServer, policy: Policy, batch: i32, dry_run: bool) -> Report {
    let run = Run {
        policy,
        batch,
        dry_run,
    };
    dispatch_store::retention::run(&server.database_url, &run)
        .await
        .expect("the run succeeds")
        .expect("no other run holds the lock")
}

/// Moves everything about `incident` (its row, its calls, their events and feed positions)
/// `days` into the past, through the owner's connection (the log's triggers are turned off for
/// this one transaction: the test writes history the application never could).
async fn back_date_incident(server: &TestServer, incident: &str, days: i64) {
    let incident = id(incident);
    let about = format!(
        "(e.incident_id = '{incident}' OR e.call_id IN \
         (SELECT c.id FROM calls c WHERE c.incident_id = '{incident}'))"
    );
    let shift = format!("interval '{days} days'");
    rewrite_history(
        server,
        &format!(
            "UPDATE event_feed f SET published_at = f.published_at - {shift} \
                 FROM events e WHERE e.seq = f.seq AND {about}; \
             UPDATE events e SET occurred_at = e.occurred_at - {shift} WHERE {about}; \
             UPDATE calls SET received_at = received_at - {shift}, \
                 answered_at = answered_at - {shift}, created_at = created_at - {shift}, \
                 updated_at = updated_at - {shift} WHERE incident_id = '{incident}'; \
             UPDATE incidents SET created_at = created_at - {shift}, \
                 updated_at = updated_at - {shift}, status_at = status_at - {shift}, \
                 first_call_at = first_call_at - {shift}, last_call_at = last_call_at - {shift}, \
                 closed_at = closed_at - {shift} WHERE id = '{incident}';"
        ),
    )
    .await;
}

/// Moves a referral, its history and its events `days` into the past.
async fn back_date_referral(server: &TestServer, referral: &str, days: i64) {
    let referral = id(referral);
    let shift = format!("interval '{days} days'");
    rewrite_history(
        server,
        &format!(
            "UPDATE event_feed f SET published_at = f.published_at - {shift} \
                 FROM events e WHERE e.seq = f.seq AND e.referral_id = '{referral}'; \
             UPDATE events SET occurred_at = occurred_at - {shift} \
                 WHERE referral_id = '{referral}'; \
             UPDATE referrals SET status_at = status_at - {shift}, \
                 created_at = created_at - {shift}, updated_at = updated_at - {shift} \
                 WHERE id = '{referral}';"
        ),
    )
    .await;
}

/// Runs `updates` in one transaction with the append-only triggers off.
async fn rewrite_history(server: &TestServer, updates: &str) {
    let mut conn = server.db().await;
    // Everything committed gets its feed position first, so that it is back-dated too
    // (transactions of other tests on the cluster may hold publication back a moment).
    #[derive(diesel::QueryableByName)]
    struct Published {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        pending: bool,
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let published: Published = diesel::sql_query("SELECT pending FROM publish_events()")
            .get_result(&mut conn)
            .await
            .expect("publishing");
        if !published.pending {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events stay unpublished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tables = ["events", "event_feed", "audit_records"];
    let off: String = tables
        .iter()
        .map(|t| format!("ALTER TABLE {t} DISABLE TRIGGER USER; "))
        .collect();
    let on: String = tables
        .iter()
        .map(|t| format!("ALTER TABLE {t} ENABLE TRIGGER USER; "))
        .collect();
    conn.batch_execute(&format!("BEGIN; {off} {updates} {on} COMMIT;"))
        .await
        .unwrap_or_else(|error| panic!("back-dating: {error}"));
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn scalar(server: &TestServer, sql: &str) -> i64 {
    let mut conn = server.db().await;
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .n
}

async fn get_call(server: &TestServer, name: &str) -> Result<pb::Call, tonic::Status> {
    server
        .calls()
        .get_call(pb::GetCallRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().call.expect("call"))
}

async fn get_incident(server: &TestServer, name: &str) -> Result<pb::Incident, tonic::Status> {
    server
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: name.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().incident.expect("incident"))
}

async fn get_referral(server: &TestServer, name: &str) -> Result<pb::Referral, tonic::Status> {
    server
        .referrals()
        .get_referral(pb::GetReferralRequest { name: name.into() })
        .await
        .map(|r| r.into_inner().referral.expect("referral"))
}

fn calls_for(period: Period) -> Policy {
    Policy {
        calls: Some(period),
        ..Policy::default()
    }
}

/// Six years, in days: past a five-year policy.
const SIX_YEARS: i64 = 6 * 366;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_calls_of_closed_incidents_go_and_those_of_open_incidents_stay() {
    let server = TestServer::start().await;
    // Closed six years ago, with a note: purged with its call.
    let closed = incident_at(&server, ZOCALO).await;
    fixtures::add_note(&server, &closed.name, "the caller was safe").await;
    fixtures::close_incident(&server, &closed.name, pb::ClosingCode::Confirmed, "done")
        .await
        .expect("close");
    let closed_call = closed.calls[0].clone();
    // Just as old, but still open: kept, call and all.
    let open = incident_at(&server, offset(ZOCALO, 5.0, 0.0)).await;
    let open_call = open.calls[0].clone();
    // Closed yesterday: younger than the period.
    let recent = incident_at(&server, offset(ZOCALO, -5.0, 0.0)).await;
    fixtures::close_incident(&server, &recent.name, pb::ClosingCode::Negative, "nothing")
        .await
        .expect("close");
    back_date_incident(&server, &closed.name, SIX_YEARS).await;
    back_date_incident(&server, &open.name, SIX_YEARS).await;

    // A live watcher, caught up before the purge.
    let mut live = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let head = loop {
        if let IncidentItem::SnapshotComplete(done) =
            next_message(&mut live).await.item.expect("item")
        {
            break done.sequence;
        }
    };

    let open_events = format!(
        "SELECT count(*) AS n FROM events WHERE incident_id = '{}'",
        id(&open.name)
    );
    let open_events_before = scalar(&server, &open_events).await;
    let events_before = server.count("events").await;
    // Batches of one: the run goes round each kind until it is done.
    let report = purge(&server, calls_for(Period::Years(5)), 1, false).await;
    assert_eq!(report.counts.incidents, 1, "{report:?}");
    assert_eq!(report.counts.calls, 1, "{report:?}");
    assert!(
        report.counts.events >= 3,
        "call, incident, note, close: {report:?}"
    );
    assert!(report.counts.feed_positions > 0, "{report:?}");
    assert_eq!(
        server.count("events").await,
        events_before - report.counts.events
    );

    for name in [&closed_call] {
        let gone = get_call(&server, name).await.expect_err("purged");
        assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    }
    let gone = get_incident(&server, &closed.name)
        .await
        .expect_err("purged");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    assert_eq!(
        scalar(
            &server,
            &format!(
                "SELECT count(*) AS n FROM incident_notes WHERE incident_id = '{}'",
                id(&closed.name)
            )
        )
        .await,
        0
    );
    // The open incident keeps its old call and its whole timeline.
    assert_eq!(
        get_call(&server, &open_call).await.expect("kept").name,
        open_call
    );
    let kept = get_incident(&server, &open.name).await.expect("kept");
    assert_eq!(kept.calls, std::slice::from_ref(&open_call));
    assert_eq!(scalar(&server, &open_events).await, open_events_before);
    get_incident(&server, &recent.name)
        .await
        .expect("younger: kept");

    // A delete that would orphan what is kept fails, even inside a recorded run: the old open
    // incident's call is named by its events, and no foreign key cascades.
    let mut conn = server.db().await;
    let refused = conn
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('dispatch.retention_run', '{}', true); \
             DELETE FROM calls WHERE id = '{}';",
            report.audit_records[0],
            id(&open_call)
        ))
        .await
        .expect_err("orphaning delete");
    assert!(refused.to_string().contains("foreign key"), "{refused}");
    drop(conn);

    // The live watcher goes on: the next change comes at the next dense position.
    let next = incident_at(&server, offset(ZOCALO, 0.0, 5.0)).await;
    let events = fixtures::incident_events_until(&mut live, |e| {
        e.incident.as_ref().is_some_and(|i| i.name == next.name)
    })
    .await;
    assert!(events.iter().all(|e| e.sequence > head), "{events:?}");
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert!(sequences.is_sorted(), "{sequences:?}");

    // A watcher resuming from a removed position is told to start over; from the head it
    // resumes as before.
    let mut stale = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest {
            after_sequence: 1,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    match next_message(&mut stale).await.item.expect("item") {
        IncidentItem::ResyncRequired(resync) => assert_eq!(
            resync.reason(),
            pb::ResyncReason::SequenceExpired,
            "{resync:?}"
        ),
        other => panic!("expected ResyncRequired, got {other:?}"),
    }
    let latest = sequences.last().copied().unwrap_or(head);
    let mut resumed = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest {
            after_sequence: latest,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let after = incident_at(&server, offset(ZOCALO, 0.0, -5.0)).await;
    let events = fixtures::incident_events_until(&mut resumed, |e| {
        e.incident.as_ref().is_some_and(|i| i.name == after.name)
    })
    .await;
    assert!(events[0].sequence > latest, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_with_an_open_referral_is_kept_and_a_closed_referral_goes() {
    let server = TestServer::start().await;
    let shelter = fixtures::shelter(&server, "REFUGIO-RET").await;
    let incident = incident_at(&server, ZOCALO).await;
    let open = fixtures::refer(
        &server,
        fixtures::referral_request(&incident.name, &shelter, pb::ReferralNeed::Shelter, "Rosa"),
    )
    .await;
    let closed = fixtures::refer(
        &server,
        fixtures::referral_request(&incident.name, &shelter, pb::ReferralNeed::Shelter, "Lucía"),
    )
    .await;
    server
        .referrals()
        .update_referral_status(pb::UpdateReferralStatusRequest {
            request_id: request_id(),
            name: closed.name.clone(),
            status: pb::ReferralStatus::Cancelled.into(),
            note: "the victim moved away".into(),
            etag: String::new(),
        })
        .await
        .expect("cancel");
    fixtures::close_incident(&server, &incident.name, pb::ClosingCode::Confirmed, "done")
        .await
        .expect("close");
    back_date_incident(&server, &incident.name, SIX_YEARS).await;
    back_date_referral(&server, &open.name, SIX_YEARS).await;
    back_date_referral(&server, &closed.name, SIX_YEARS).await;

    let policy = Policy {
        calls: Some(Period::Years(5)),
        referrals: Some(Period::Days(400)),
        ..Policy::default()
    };
    let dry = purge(&server, policy, 10, true).await;
    assert_eq!(dry.counts.referrals, 1, "{dry:?}");
    assert_eq!(dry.counts.incidents, 0, "still referred to: {dry:?}");
    let report = purge(&server, policy, 10, false).await;
    assert_eq!(report.counts.referrals, 1, "{report:?}");
    assert_eq!(report.counts.incidents, 0, "{report:?}");

    let gone = get_referral(&server, &closed.name)
        .await
        .expect_err("purged");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    assert_eq!(
        scalar(
            &server,
            &format!(
                "SELECT count(*) AS n FROM referral_history WHERE referral_id = '{}'",
                id(&closed.name)
            )
        )
        .await,
        0,
        "its history goes with it"
    );
    let kept = get_referral(&server, &open.name).await.expect("kept");
    assert_eq!(kept.victim.expect("victim data kept").alias, "Rosa");
    // The incident the open referral needs, and its call, are kept however old.
    get_incident(&server, &incident.name)
        .await
        .expect("kept for its referral");
    get_call(&server, &incident.calls[0])
        .await
        .expect("kept with its incident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_go_after_their_period_and_the_run_is_audited() {
    let server = TestServer::start().await;
    incident_at(&server, ZOCALO).await;
    let oldest = scalar(&server, "SELECT min(id) AS n FROM audit_records").await;
    let newest = scalar(&server, "SELECT max(id) AS n FROM audit_records").await;
    assert!(oldest < newest);
    rewrite_history(
        &server,
        &format!(
            "UPDATE audit_records SET occurred_at = occurred_at - interval '400 days' \
                 WHERE id = {oldest}; \
             UPDATE audit_records SET occurred_at = occurred_at - interval '300 days' \
                 WHERE id = {newest};"
        ),
    )
    .await;
    let policy = Policy {
        audit: Some(Period::Days(365)),
        ..Policy::default()
    };

    // A dry run counts and changes nothing, not even the audit trail.
    let before = server.count("audit_records").await;
    let dry = purge(&server, policy, 100, true).await;
    assert_eq!(
        dry.counts,
        Counts {
            audit_records: 1,
            ..Counts::default()
        }
    );
    assert!(dry.audit_records.is_empty());
    assert_eq!(server.count("audit_records").await, before);

    let report = purge(&server, policy, 100, false).await;
    assert_eq!(report.counts.audit_records, 1, "{report:?}");
    let exists = |id: i64| {
        let server = &server;
        async move {
            scalar(
                server,
                &format!("SELECT count(*) AS n FROM audit_records WHERE id = {id}"),
            )
            .await
        }
    };
    assert_eq!(exists(oldest).await, 0, "older than a year: purged");
    assert_eq!(exists(newest).await, 1, "younger than a year: kept");

    // The run, as the audit listing shows it: who, when, the policy, the cutoffs, the counts.
    let records = fixtures::audit_records(
        &server,
        &server.admin_token,
        pb::ListAuditRecordsRequest {
            principal: RETENTION_PRINCIPAL.into(),
            page_size: 10,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(records.len(), 2, "started and finished: {records:?}");
    let finished = &records[0];
    assert_eq!(
        finished.name,
        format!("audit-records/{}", report.audit_records[1])
    );
    assert_eq!(finished.action, pb::AuditAction::Mutation as i32);
    assert_eq!(finished.outcome, pb::AuditOutcome::Success as i32);
    assert!(finished.time.is_some());
    assert!(finished.peer.starts_with("database role "), "{finished:?}");
    for part in [
        "audit_records=1",
        "audit 365d",
        "calls forever",
        "cutoffs: audit 20",
    ] {
        assert!(
            finished.detail.contains(part),
            "{part} in {}",
            finished.detail
        );
    }
    assert!(
        records[1].detail.starts_with("started as database role"),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_cannot_delete_and_the_owner_only_in_a_recorded_run() {
    let server = TestServer::start().await;
    incident_at(&server, ZOCALO).await;
    let mut conn = server.db().await;
    conn.batch_execute("SET ROLE dispatch_app")
        .await
        .expect("set role");
    for statement in [
        "DELETE FROM calls",
        "DELETE FROM incidents",
        "DELETE FROM audit_records",
        "DELETE FROM events",
        "DELETE FROM referrals",
        "DELETE FROM idempotency_keys",
        "TRUNCATE calls CASCADE",
        "SELECT retention_purge_audit(now(), 10)",
        "SELECT * FROM retention_purge_incidents(now(), 10)",
    ] {
        let error = diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    conn.batch_execute("RESET ROLE").await.expect("reset role");
    // The owner is refused too outside a run recorded in the audit trail.
    for setting in [
        "",
        "SELECT set_config('dispatch.retention_run', '1', true);",
    ] {
        let error = conn
            .batch_execute(&format!(
                "BEGIN; {setting} DELETE FROM audit_records; COMMIT;"
            ))
            .await
            .expect_err("an unrecorded delete");
        assert!(error.to_string().contains("append-only"), "{error}");
        conn.batch_execute("ROLLBACK").await.expect("rollback");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_an_audit_period_under_a_year() {
    let mut config = dispatch_server::Config::defaults();
    config.retention.retain_audit = Some(Period::Days(364));
    let error = dispatch_tests::start_up_error(&config).await;
    assert!(error.contains("invalid configuration"), "{error}");
    assert!(error.contains("--retain-audit"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatchd_runs_the_job_periodically_one_process_at_a_time() {
    let mut config = dispatch_server::Config::defaults();
    config.retention.retain_audit = Some(Period::Years(1));
    config.retention.retention_interval = Duration::from_secs(3600);
    let server = TestServer::start_with(config).await;
    // The first run happens at start; its record shows up in the audit listing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let finished = loop {
        let records = fixtures::audit_records(
            &server,
            &server.admin_token,
            pb::ListAuditRecordsRequest {
                principal: RETENTION_PRINCIPAL.into(),
                page_size: 10,
                ..Default::default()
            },
        )
        .await;
        if let Some(record) = records.iter().find(|r| r.detail.starts_with("finished")) {
            break record.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no run recorded: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(finished.detail.contains("audit_records=0"), "{finished:?}");

    // While another process holds the purge lock, a run does nothing.
    let mut holder = diesel_async::AsyncPgConnection::establish(&server.database_url)
        .await
        .expect("connect");
    holder
        .batch_execute(&format!(
            "SELECT pg_advisory_lock({})",
            dispatch_store::retention::RETENTION_LOCK
        ))
        .await
        .expect("lock");
    let run = Run {
        policy: Policy {
            audit: Some(Period::Years(1)),
            ..Policy::default()
        },
        batch: 10,
        dry_run: false,
    };
    let skipped = dispatch_store::retention::run(&server.database_url, &run)
        .await
        .expect("run");
    assert_eq!(skipped, None);
}
