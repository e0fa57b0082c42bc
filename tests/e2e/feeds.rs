//! Live feeds (issue 8): WatchIncidents and WatchUnits on two servers sharing one database, the
//! same ordered events on both, resuming with a sequence, filters and left_filter, slow
//! consumers, and the geo engine of one process following assignments made on the other.

use std::time::{Duration, Instant};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::watch_incidents_response::Item as IncidentItem;
use dispatch_proto::v1::watch_units_response::Item as UnitItem;
use dispatch_tests::fixtures::{
    self, ZOCALO, agency, incident_at, incident_events_until, next_message, point, report,
    set_status, unit_at,
};
use dispatch_tests::{Bearer, TestServer, violated_fields};
use tonic::Code;

type Units = tonic::Streaming<pb::WatchUnitsResponse>;
type Incidents = tonic::Streaming<pb::WatchIncidentsResponse>;

/// How long a stream may take to deliver what it owes: generous, never a sleep.
const WAIT: Duration = Duration::from_secs(15);

fn config() -> dispatch_server::Config {
    let mut config = dispatch_server::Config::defaults();
    // Every position report is announced, so tests can follow moves without waiting.
    config.position_announce_interval = Duration::ZERO;
    config
}

async fn two_servers() -> (TestServer, TestServer) {
    let first = TestServer::start_with(config()).await;
    let second = TestServer::start_on(config(), first.database_url.clone()).await;
    (first, second)
}

async fn unit(server: &TestServer, agency: &str, call_sign: &str, at: (f64, f64)) -> pb::Unit {
    unit_at(server, agency, "", call_sign, pb::UnitType::Patrol, at).await
}

async fn assign(server: &TestServer, incident: &str, unit: &str) -> Result<(), tonic::Status> {
    fixtures::assign_units(server, incident, &[unit], "test")
        .await
        .map(|_| ())
}

async fn watch_units(server: &TestServer, request: pb::WatchUnitsRequest) -> Units {
    server
        .units()
        .watch_units(request)
        .await
        .expect("watch units")
        .into_inner()
}

async fn watch_incidents(server: &TestServer, request: pb::WatchIncidentsRequest) -> Incidents {
    server
        .triage()
        .watch_incidents(request)
        .await
        .expect("watch incidents")
        .into_inner()
}

async fn next_unit_item(stream: &mut Units) -> UnitItem {
    next_message(stream).await.item.expect("an item")
}

async fn next_incident_item(stream: &mut Incidents) -> IncidentItem {
    next_message(stream).await.item.expect("an item")
}

/// Reads the snapshot phase; returns the units and the resume sequence.
async fn unit_snapshot(stream: &mut Units) -> (Vec<pb::Unit>, i64) {
    let mut units = Vec::new();
    loop {
        match next_unit_item(stream).await {
            UnitItem::Snapshot(unit) => units.push(unit),
            UnitItem::SnapshotComplete(done) => {
                assert_eq!(done.item_count as usize, units.len());
                return (units, done.sequence);
            }
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    }
}

async fn incident_snapshot(stream: &mut Incidents) -> (Vec<pb::Incident>, i64) {
    let mut incidents = Vec::new();
    loop {
        match next_incident_item(stream).await {
            IncidentItem::Snapshot(incident) => incidents.push(incident),
            IncidentItem::SnapshotComplete(done) => {
                assert_eq!(done.item_count as usize, incidents.len());
                return (incidents, done.sequence);
            }
            other => panic!("unexpected during the snapshot: {other:?}"),
        }
    }
}

/// Unit events until (and including) the first that `last` accepts.
async fn unit_events_until(
    stream: &mut Units,
    last: impl Fn(&pb::UnitEvent) -> bool,
) -> Vec<pb::UnitEvent> {
    let mut events = Vec::new();
    loop {
        match next_unit_item(stream).await {
            UnitItem::Event(event) => {
                let done = last(&event);
                events.push(event);
                if done {
                    return events;
                }
            }
            UnitItem::Heartbeat(_) => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
}

fn unit_named<'a>(name: &'a str) -> impl Fn(&pb::UnitEvent) -> bool + 'a {
    move |event| event.unit.as_ref().is_some_and(|u| u.name == name)
}

/// An event saying unit `name` moved.
fn moved(name: &str) -> impl Fn(&pb::UnitEvent) -> bool + '_ {
    move |event| {
        unit_named(name)(event) && event.kind == i32::from(pb::UnitEventKind::PositionChanged)
    }
}

/// An event showing unit `name` DISPATCHED.
fn dispatched(name: &str) -> impl Fn(&pb::UnitEvent) -> bool + '_ {
    move |event| {
        unit_named(name)(event)
            && event
                .unit
                .as_ref()
                .is_some_and(|u| u.status == i32::from(pb::UnitStatus::Dispatched))
    }
}

/// Two servers on one database. A near and a far patrol made through the first, which the
/// second has heard of through the feed (its engine has them once its watchers have heard of
/// their first positions); an incident at the Zócalo on the first and one just south of it on
/// the second, for which the second recommends the near patrol first.
struct CrossServer {
    first: TestServer,
    second: TestServer,
    /// The second server's unit feed, past the far patrol's first position.
    watcher: Units,
    near: pb::Unit,
    far: pb::Unit,
    here: pb::Incident,
    also_here: pb::Incident,
}

impl CrossServer {
    async fn new() -> Self {
        let (first, second) = two_servers().await;
        let police = agency(&first, "SSC", pb::AgencyKind::Police).await;
        let mut watcher = watch_units(&second, pb::WatchUnitsRequest::default()).await;
        unit_snapshot(&mut watcher).await;
        let near = unit(&first, &police, "NEAR", (ZOCALO.0 + 0.001, ZOCALO.1)).await;
        let far = unit(&first, &police, "FAR", (ZOCALO.0 + 0.02, ZOCALO.1)).await;
        unit_events_until(&mut watcher, moved(&far.name)).await;
        let here = incident_at(&first, ZOCALO).await;
        let also_here = incident_at(&second, (ZOCALO.0 - 0.003, ZOCALO.1)).await;
        assert_eq!(
            recommended_patrols(&second, &also_here.name).await.first(),
            Some(&near.name)
        );
        Self {
            first,
            second,
            watcher,
            near,
            far,
            here,
            also_here,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_on_two_servers_see_the_same_events_in_the_same_order() {
    let (first, second) = two_servers().await;
    let police = agency(&first, "SSC", pb::AgencyKind::Police).await;
    let mut units = Vec::new();
    for i in 0..6 {
        let at = (ZOCALO.0 + f64::from(i) * 0.002, ZOCALO.1);
        units.push(unit(&first, &police, &format!("P{i:02}"), at).await);
    }
    let mut on_first = watch_units(&first, pb::WatchUnitsRequest::default()).await;
    let mut on_second = watch_units(&second, pb::WatchUnitsRequest::default()).await;
    let mut incidents_first = watch_incidents(&first, pb::WatchIncidentsRequest::default()).await;
    let mut incidents_second = watch_incidents(&second, pb::WatchIncidentsRequest::default()).await;
    let (snapshot, from) = unit_snapshot(&mut on_first).await;
    assert_eq!(snapshot.len(), 6);
    let (snapshot_second, from_second) = unit_snapshot(&mut on_second).await;
    assert_eq!(snapshot_second.len(), 6);
    let (incident_snapshot_first, incidents_from) = incident_snapshot(&mut incidents_first).await;
    assert!(incident_snapshot_first.is_empty());
    incident_snapshot(&mut incidents_second).await;

    // Changes through both servers, interleaved and concurrent.
    let mut opened = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let (server, other) = if i % 2 == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        let incident = incident_at(server, (19.40 + i as f64 * 0.01, -99.15)).await;
        let moved = [(units[(i + 1) % 6].name.as_str(), (19.41, -99.14))];
        let (assigned, ()) = tokio::join!(
            assign(other, &incident.name, &unit.name),
            report(server, &moved)
        );
        assigned.expect("assign");
        set_status(server, &unit.name, pb::UnitStatus::EnRoute).await;
        opened.push(incident);
    }
    let closing = unit(&second, &police, "LAST", ZOCALO).await;

    // Each snapshot is current to its own sequence (an earlier position report may have been
    // published between the two): compare from the later one.
    let common = from.max(from_second);
    let mut seen_first = unit_events_until(&mut on_first, unit_named(&closing.name)).await;
    let mut seen_second = unit_events_until(&mut on_second, unit_named(&closing.name)).await;
    assert!(seen_first.iter().all(|e| e.sequence > from));
    assert!(seen_second.iter().all(|e| e.sequence > from_second));
    let everything_first = seen_first.clone();
    seen_first.retain(|e| e.sequence > common);
    seen_second.retain(|e| e.sequence > common);
    let sequences =
        |events: &[pb::UnitEvent]| events.iter().map(|e| e.sequence).collect::<Vec<_>>();
    assert_eq!(sequences(&seen_first), sequences(&seen_second));
    assert!(
        sequences(&seen_first).windows(2).all(|w| w[0] < w[1]),
        "strictly increasing"
    );
    let describe = |events: &[pb::UnitEvent]| {
        events
            .iter()
            .map(|e| (e.sequence, e.kind, e.unit.as_ref().map(|u| u.name.clone())))
            .collect::<Vec<_>>()
    };
    assert_eq!(describe(&seen_first), describe(&seen_second));
    // No gaps: exactly the unit events the database's feed holds after the snapshot.
    let last = seen_first.last().expect("events").sequence;
    assert_eq!(
        sequences(&everything_first),
        fixtures::feed_positions(&first, fixtures::FeedSubject::Unit, from, last).await
    );
    // 6 assignments, 6 en route, at least 6 moves (each unit's first report and the later
    // ones), the last unit created: all there.
    let status_changes = seen_first
        .iter()
        .filter(|e| e.kind == i32::from(pb::UnitEventKind::StatusChanged))
        .count();
    assert_eq!(status_changes, 12, "{:#?}", describe(&seen_first));

    let last_incident = opened.last().expect("incidents").name.clone();
    let is_last_en_route = |event: &pb::IncidentEvent| {
        event
            .incident
            .as_ref()
            .is_some_and(|i| i.name == last_incident)
            && event
                .entry
                .as_ref()
                .is_some_and(|e| e.kind == i32::from(pb::TimelineEntryKind::UnitEnRoute))
    };
    let incidents_seen_first = incident_events_until(&mut incidents_first, is_last_en_route).await;
    let incidents_seen_second =
        incident_events_until(&mut incidents_second, is_last_en_route).await;
    let incident_sequences = |events: &[pb::IncidentEvent]| {
        events
            .iter()
            .map(|e| (e.sequence, e.incident.as_ref().map(|i| i.name.clone())))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        incident_sequences(&incidents_seen_first),
        incident_sequences(&incidents_seen_second)
    );
    assert!(
        incidents_seen_first
            .iter()
            .all(|e| e.sequence > incidents_from)
    );
    for incident in &opened {
        let kinds: Vec<i32> = incidents_seen_first
            .iter()
            .filter(|e| e.incident.as_ref().is_some_and(|i| i.name == incident.name))
            .filter_map(|e| e.entry.as_ref().map(|entry| entry.kind))
            .collect();
        let milestones: Vec<i32> = kinds
            .iter()
            .copied()
            .filter(|&k| {
                k == i32::from(pb::TimelineEntryKind::Created)
                    || k == i32::from(pb::TimelineEntryKind::UnitDispatched)
                    || k == i32::from(pb::TimelineEntryKind::UnitEnRoute)
            })
            .collect();
        assert_eq!(
            milestones,
            vec![
                i32::from(pb::TimelineEntryKind::Created),
                i32::from(pb::TimelineEntryKind::UnitDispatched),
                i32::from(pb::TimelineEntryKind::UnitEnRoute),
            ],
            "{}: {kinds:?}",
            incident.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_reconnects_with_its_sequence_gets_exactly_what_it_missed() {
    let (first, second) = two_servers().await;
    let police = agency(&first, "SSC", pb::AgencyKind::Police).await;
    let a = unit(&first, &police, "A01", ZOCALO).await;
    // A console that stays connected, for reference.
    let mut steady = watch_units(&second, pb::WatchUnitsRequest::default()).await;
    let (_, from) = unit_snapshot(&mut steady).await;
    let mut console = watch_units(&first, pb::WatchUnitsRequest::default()).await;
    unit_snapshot(&mut console).await;

    set_status(&first, &a.name, pb::UnitStatus::OutOfService).await;
    let before = unit_events_until(&mut console, unit_named(&a.name)).await;
    let resume_at = before.last().expect("event").sequence;
    drop(console);

    // Missed while disconnected: changes on both servers.
    set_status(&second, &a.name, pb::UnitStatus::Available).await;
    report(&first, &[(a.name.as_str(), (19.44, -99.14))]).await;
    let b = unit(&second, &police, "B01", ZOCALO).await;
    let missed_marker = unit(&first, &police, "B02", ZOCALO).await;

    // Resumed on the other server: no snapshot, exactly the events after resume_at.
    let mut resumed = watch_units(
        &second,
        pb::WatchUnitsRequest {
            after_sequence: resume_at,
            ..Default::default()
        },
    )
    .await;
    let after_resume = unit_events_until(&mut resumed, unit_named(&missed_marker.name)).await;
    let reference = unit_events_until(&mut steady, unit_named(&missed_marker.name)).await;
    let expected: Vec<i64> = reference
        .iter()
        .map(|e| e.sequence)
        .filter(|&s| s > resume_at)
        .collect();
    let got: Vec<i64> = after_resume.iter().map(|e| e.sequence).collect();
    assert_eq!(got, expected);
    assert!(got.iter().all(|&s| s > resume_at));
    assert!(reference.first().is_some_and(|e| e.sequence > from));
    assert!(
        after_resume
            .iter()
            .any(|e| e.unit.as_ref().is_some_and(|u| u.name == b.name)
                && e.kind == i32::from(pb::UnitEventKind::Created))
    );
    assert!(after_resume.iter().any(|e| {
        e.kind == i32::from(pb::UnitEventKind::PositionChanged)
            && e.unit
                .as_ref()
                .and_then(|u| u.position.as_ref())
                .and_then(|p| p.point.as_ref())
                .is_some_and(|p| (p.latitude - 19.44).abs() < 1e-9)
    }));
    // And live events keep coming on the resumed stream.
    set_status(&first, &b.name, pb::UnitStatus::OutOfService).await;
    let live = unit_events_until(&mut resumed, unit_named(&b.name)).await;
    assert_eq!(
        live.last().map(|e| e.previous_status),
        Some(i32::from(pb::UnitStatus::Available))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_assigned_through_one_server_is_not_recommended_by_the_other() {
    let CrossServer {
        first,
        second,
        mut watcher,
        near,
        far,
        here,
        also_here,
    } = CrossServer::new().await;
    let committed = Instant::now();
    assign(&first, &here.name, &near.name)
        .await
        .expect("assign");
    let events = unit_events_until(&mut watcher, dispatched(&near.name)).await;
    let lag = committed.elapsed();
    assert!(!events.is_empty());
    // The second server's engine follows before its watchers hear of it.
    let candidates = recommended_patrols(&second, &also_here.name).await;
    assert!(!candidates.contains(&near.name), "{candidates:?}");
    assert_eq!(candidates.first(), Some(&far.name));
    eprintln!("cross-process: assignment to engine and watcher on the other server in {lag:?}");

    // A move reported through the first server reaches the second's engine too.
    report(&first, &[(far.name.as_str(), (ZOCALO.0 + 0.3, ZOCALO.1))]).await;
    unit_events_until(&mut watcher, moved(&far.name)).await;
    let recommendation = second
        .units()
        .recommend_units(fixtures::patrol_recommendation(&also_here.name, 5))
        .await
        .expect("recommend")
        .into_inner()
        .recommendation
        .expect("recommendation");
    let candidate = &recommendation.fills[0].candidates[0];
    assert_eq!(candidate.unit, far.name);
    assert!(candidate.straight_line_m > 30_000.0, "{candidate:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_decide_what_a_console_sees_and_when_it_drops_an_incident() {
    let server = TestServer::start_with(config()).await;
    let open = vec![
        i32::from(pb::IncidentStatus::New),
        i32::from(pb::IncidentStatus::Triaged),
        i32::from(pb::IncidentStatus::Dispatched),
        i32::from(pb::IncidentStatus::OnScene),
    ];
    let downtown = pb::BoundingBox {
        south_west: point((19.40, -99.17)),
        north_east: point((19.46, -99.10)),
    };
    // Events carry the incident as it is when they are delivered. So that the console below
    // starts after everything made so far was published (and its snapshot covers it), an
    // unfiltered watcher waits for the last of it first.
    let mut everything = watch_incidents(&server, pb::WatchIncidentsRequest::default()).await;
    incident_snapshot(&mut everything).await;
    let already = incident_at(&server, ZOCALO).await;
    let outside = incident_at(&server, (19.30, -99.20)).await;
    incident_events_until(&mut everything, |e| {
        e.incident.as_ref().is_some_and(|i| i.name == outside.name)
            && e.entry
                .as_ref()
                .is_some_and(|entry| entry.kind == i32::from(pb::TimelineEntryKind::CallLinked))
    })
    .await;
    let mut console = watch_incidents(
        &server,
        pb::WatchIncidentsRequest {
            bounding_box: Some(downtown),
            statuses: open.clone(),
            ..Default::default()
        },
    )
    .await;
    let (snapshot, _) = incident_snapshot(&mut console).await;
    let names: Vec<&str> = snapshot.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec![already.name.as_str()]);
    assert_ne!(names[0], outside.name);

    let fresh = incident_at(&server, (ZOCALO.0 + 0.01, ZOCALO.1)).await;
    // Elsewhere: never seen.
    incident_at(&server, (19.30, -99.21)).await;
    fixtures::cancel_incident(&server, &already.name, "opened in error")
        .await
        .expect("cancel");
    let events = incident_events_until(&mut console, |e| {
        e.left_filter && e.incident.as_ref().is_some_and(|i| i.name == already.name)
    })
    .await;
    let mut summary: Vec<(String, bool)> = events
        .iter()
        .map(|e| {
            (
                e.incident
                    .as_ref()
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                e.left_filter,
            )
        })
        .collect();
    // The fresh one arrives, the cancelled one leaves, nothing from outside the box shows.
    summary.dedup();
    let trace: Vec<(i64, i32, String, bool)> = events
        .iter()
        .map(|e| {
            (
                e.sequence,
                e.entry.as_ref().map_or(0, |entry| entry.kind),
                e.incident
                    .as_ref()
                    .map(|i| i.name.clone())
                    .unwrap_or_default(),
                e.left_filter,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(fresh.name.clone(), false), (already.name.clone(), true)],
        "fresh {} already {}: {trace:#?}",
        fresh.name,
        already.name
    );
    let cancelled = events
        .last()
        .and_then(|e| e.incident.as_ref())
        .expect("incident");
    assert_eq!(cancelled.status, i32::from(pb::IncidentStatus::Cancelled));

    // Refused filters name their fields; a resume point ahead of the log asks for a resync.
    let refused = server
        .triage()
        .watch_incidents(pb::WatchIncidentsRequest {
            min_priority: Some(11),
            statuses: vec![99],
            after_sequence: -1,
            agency: "agencies/nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        vec!["after_sequence", "agency", "min_priority", "statuses[0]"]
    );
    let mut ahead = watch_incidents(
        &server,
        pb::WatchIncidentsRequest {
            after_sequence: 1_000_000_000,
            ..Default::default()
        },
    )
    .await;
    match next_incident_item(&mut ahead).await {
        IncidentItem::ResyncRequired(resync) => {
            assert_eq!(resync.reason, i32::from(pb::ResyncReason::SequenceAhead));
        }
        other => panic!("expected a resync: {other:?}"),
    }
    assert!(ahead.message().await.expect("clean end").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_console_sees_its_disciplines_and_its_units_incidents() {
    let server = TestServer::start_with(config()).await;
    let fire = agency(&server, "BOMBEROS", pb::AgencyKind::Fire).await;
    let engine = unit(&server, &fire, "E01", ZOCALO).await;
    let mut console = watch_incidents(
        &server,
        pb::WatchIncidentsRequest {
            agency: fire.clone(),
            ..Default::default()
        },
    )
    .await;
    incident_snapshot(&mut console).await;
    // Untyped: every agency sees it. Triaged as a burglary (police only): the fire console
    // drops it, until one of its units is sent.
    let incident = incident_at(&server, ZOCALO).await;
    // Events carry the incident as it is when they are delivered: each step waits for the
    // previous one to be seen.
    incident_events_until(&mut console, |e| {
        e.entry
            .as_ref()
            .is_some_and(|entry| entry.kind == i32::from(pb::TimelineEntryKind::Created))
    })
    .await;
    let answers = vec![fixtures::yes_no("in_progress", true)];
    fixtures::triage(&server, &incident.name, "CRIME-VANDALISM", answers, "")
        .await
        .expect("triage");
    let until_dropped = incident_events_until(&mut console, |e| e.left_filter).await;
    assert!(
        until_dropped[..until_dropped.len() - 1]
            .iter()
            .all(|e| !e.left_filter)
    );
    assign(&server, &incident.name, &engine.name)
        .await
        .expect("assign");
    let back = incident_events_until(&mut console, |e| {
        e.entry
            .as_ref()
            .is_some_and(|entry| entry.kind == i32::from(pb::TimelineEntryKind::UnitDispatched))
    })
    .await;
    assert!(back.iter().all(|e| !e.left_filter), "{back:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_stops_reading_is_told_to_resync_instead_of_filling_memory() {
    let mut config = config();
    config.watch_buffer = 8;
    let server = TestServer::start_with(config).await;
    let police = agency(&server, "SSC", pb::AgencyKind::Police).await;
    let mut fleet = Vec::new();
    for i in 0..50 {
        fleet.push(
            unit(&server, &police, &format!("S{i:02}"), ZOCALO)
                .await
                .name,
        );
    }
    // A console on a connection with tiny flow-control windows, so the server feels at once
    // that it does not read.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.address))
        .expect("endpoint")
        .initial_stream_window_size(Some(1024))
        .initial_connection_window_size(Some(1024))
        .connect()
        .await
        .expect("connect");
    let mut client =
        UnitAssignmentServiceClient::with_interceptor(channel, Bearer::new(&server.token));
    let mut slow = client
        .watch_units(pb::WatchUnitsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    // Reads the snapshot, then nothing while the fleet moves.
    let mut snapshot_done = false;
    while !snapshot_done {
        let item = slow.message().await.expect("ok").expect("item").item;
        snapshot_done = matches!(item, Some(UnitItem::SnapshotComplete(_)));
    }
    for round in 0..60 {
        let moves: Vec<(&str, (f64, f64))> = fleet
            .iter()
            .map(|name| {
                (
                    name.as_str(),
                    (ZOCALO.0 + f64::from(round) * 1e-4, ZOCALO.1),
                )
            })
            .collect();
        report(&server, &moves).await;
    }
    // Now it reads: what was queued, then the resync, then the end of the stream.
    let mut events = 0;
    loop {
        let message = tokio::time::timeout(WAIT, slow.message())
            .await
            .expect("in time")
            .expect("no error");
        match message.and_then(|m| m.item) {
            Some(UnitItem::Event(_) | UnitItem::Heartbeat(_)) => events += 1,
            Some(UnitItem::ResyncRequired(resync)) => {
                assert_eq!(resync.reason, i32::from(pb::ResyncReason::SlowConsumer));
                assert!(resync.latest_sequence > 0);
                break;
            }
            other => panic!("unexpected {other:?} after {events} events"),
        }
    }
    assert!(events < 3000, "the stream was cut short ({events} events)");
    assert!(slow.message().await.expect("clean end").is_none());
    // The server is fine and a fresh console starts over from a snapshot.
    let mut fresh = watch_units(&server, pb::WatchUnitsRequest::default()).await;
    let (units, _) = unit_snapshot(&mut fresh).await;
    assert_eq!(units.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_stream_sends_heartbeats_with_its_resume_point() {
    let mut config = config();
    config.watch_heartbeat = Duration::from_millis(50);
    let server = TestServer::start_with(config).await;
    let mut client: IncidentTriageServiceClient<_> = server.triage();
    let mut stream = client
        .watch_incidents(pb::WatchIncidentsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let (_, from) = incident_snapshot(&mut stream).await;
    match next_incident_item(&mut stream).await {
        IncidentItem::Heartbeat(beat) => {
            // Events that did not match (the server's own set-up) still advance it.
            assert!(beat.sequence >= from, "{beat:?} after {from}");
            assert!(beat.time.is_some());
        }
        other => panic!("expected a heartbeat: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_dense_and_holds_every_event_once_under_concurrent_writers() {
    use diesel_async::RunQueryDsl as _;
    let (first, second) = two_servers().await;
    let police = agency(&first, "SSC", pb::AgencyKind::Police).await;
    let mut fleet = Vec::new();
    for i in 0..8 {
        fleet.push(unit(&first, &police, &format!("F{i:02}"), ZOCALO).await);
    }
    // Eight writers on two servers at once: calls, incidents, contested assignments (losers
    // roll back), status changes and moves.
    let mut writers = tokio::task::JoinSet::new();
    let servers = std::sync::Arc::new((first, second));
    let fleet = std::sync::Arc::new(fleet);
    for writer in 0..8usize {
        let servers = servers.clone();
        let fleet = fleet.clone();
        writers.spawn(async move {
            let server = if writer % 2 == 0 {
                &servers.0
            } else {
                &servers.1
            };
            for round in 0..6usize {
                let at = (19.35 + (writer * 10 + round) as f64 * 0.002, -99.15);
                let incident = incident_at(server, at).await;
                let unit = &fleet[(writer + round) % fleet.len()];
                if assign(server, &incident.name, &unit.name).await.is_ok() {
                    set_status(server, &unit.name, pb::UnitStatus::EnRoute).await;
                    set_status(server, &unit.name, pb::UnitStatus::Available).await;
                }
                report(server, &[(unit.name.as_str(), at)]).await;
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    let (first, _) = &*servers;
    let mut conn = first.db().await;
    #[derive(diesel::QueryableByName)]
    struct Published {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        pending: bool,
    }
    // Everything has committed: publishing leaves nothing behind (once transactions of other
    // tests' databases in the same cluster, which hold the horizon for a moment, have ended).
    let deadline = Instant::now() + WAIT;
    loop {
        let published: Published = diesel::sql_query("SELECT pending FROM publish_events()")
            .get_result(&mut conn)
            .await
            .expect("publish");
        if !published.pending {
            break;
        }
        assert!(Instant::now() < deadline, "events still pending");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Shape {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        rows: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        lowest: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        highest: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        events: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        distinct_events: i64,
    }
    let shape: Shape = diesel::sql_query(
        "SELECT count(*) AS rows, coalesce(min(position), 0) AS lowest, \
                coalesce(max(position), 0) AS highest, \
                (SELECT count(*) FROM events WHERE xid IS NOT NULL) AS events, \
                count(DISTINCT seq) AS distinct_events \
         FROM event_feed",
    )
    .get_result(&mut conn)
    .await
    .expect("shape");
    assert!(shape.rows > 200, "{shape:?}");
    assert_eq!(shape.lowest, 1, "{shape:?}");
    assert_eq!(shape.highest, shape.rows, "dense: {shape:?}");
    assert_eq!(shape.events, shape.rows, "every event published: {shape:?}");
    assert_eq!(shape.distinct_events, shape.rows, "each once: {shape:?}");
}

/// The patrols a server recommends for an incident, best first.
async fn recommended_patrols(server: &TestServer, incident: &str) -> Vec<String> {
    fixtures::recommended_patrols(server, incident, 5).await
}

#[derive(diesel::QueryableByName)]
struct Unpublished {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn execute(conn: &mut diesel_async::AsyncPgConnection, sql: &str) {
    use diesel_async::RunQueryDsl as _;
    diesel::sql_query(sql).execute(conn).await.expect(sql);
}

/// Events about a unit that are committed but have no feed position yet.
async fn unpublished_events_of(server: &TestServer, unit_id: &str) -> i64 {
    use diesel_async::RunQueryDsl as _;
    let mut conn = server.db().await;
    let held: Unpublished = diesel::sql_query(
        "SELECT count(*) AS n FROM events e WHERE e.unit_id = $1::uuid \
         AND NOT EXISTS (SELECT 1 FROM event_feed f WHERE f.seq = e.seq)",
    )
    .bind::<diesel::sql_types::Text, _>(unit_id)
    .get_result(&mut conn)
    .await
    .expect("unpublished events");
    held.n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recommendation_never_offers_a_unit_whose_assignment_committed_before_it() {
    let CrossServer {
        first,
        second,
        mut watcher,
        near,
        far,
        here,
        also_here,
    } = CrossServer::new().await;

    // A writing transaction left open elsewhere in the cluster holds the feed back, so the
    // second server's engine cannot hear of the assignment for as long as it stays open: the
    // widest the cross-process lag can be.
    let mut blocker = second.db().await;
    execute(&mut blocker, "BEGIN").await;
    execute(&mut blocker, "SELECT pg_current_xact_id()").await;
    assign(&first, &here.name, &near.name)
        .await
        .expect("assign");
    let near_id = near.name.trim_start_matches("units/");
    assert!(
        unpublished_events_of(&first, near_id).await > 0,
        "the assignment's events were published: the test no longer holds the feed back"
    );

    for probe in 0..5 {
        let candidates = recommended_patrols(&second, &also_here.name).await;
        assert!(
            !candidates.contains(&near.name),
            "probe {probe}: the assigned unit is offered: {candidates:?}"
        );
        assert_eq!(candidates.first(), Some(&far.name), "probe {probe}");
    }

    execute(&mut blocker, "ROLLBACK").await;
    // Once the feed moves again the second server's watchers hear of the assignment as usual.
    unit_events_until(&mut watcher, dispatched(&near.name)).await;
    assert!(
        !recommended_patrols(&second, &also_here.name)
            .await
            .contains(&near.name)
    );
}
