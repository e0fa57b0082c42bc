//! IncidentTriageService over gRPC on real PostgreSQL: the catalogue, triage and re-triage, the
//! lifecycle (every legal and illegal transition), closing codes, merges, etags, listing.

use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{
    self, ZOCALO, change_status as change, choice, get_incident as get, kinds_of, mask, number,
    yes_no,
};
use dispatch_tests::{TestServer, assert_invalid, assert_refused, request_id, violated_fields};
use tonic::Code;
use tonic_types::StatusExt as _;

fn location(at: (f64, f64)) -> Option<pb::Location> {
    fixtures::location(at, 15.0)
}

/// A call at `at`, opened as an incident of `incident_type` (empty: no type yet).
async fn incident(server: &TestServer, at: (f64, f64), incident_type: &str) -> pb::Incident {
    fixtures::reported_incident(server, at, "reporte", incident_type, "").await
}

async fn triage(
    server: &TestServer,
    incident: &pb::Incident,
    answers: Vec<pb::TriageAnswer>,
) -> Result<pb::TriageIncidentResponse, tonic::Status> {
    fixtures::triage(server, &incident.name, "", answers, "").await
}

fn plan(incident: &pb::Incident) -> Vec<(String, i32)> {
    incident
        .response_plan
        .as_ref()
        .expect("a response plan")
        .requirements
        .iter()
        .map(|r| (r.capability.clone(), r.count))
        .collect()
}

fn kinds(incident: &pb::Incident) -> Vec<pb::TimelineEntryKind> {
    kinds_of(incident.timeline.iter().map(|e| e.kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_is_served_with_its_protocols() {
    let server = TestServer::start().await;
    let all = fixtures::every_page(
        pb::ListIncidentTypesRequest {
            page_size: 15,
            ..Default::default()
        },
        async |request| server.triage().list_incident_types(request).await,
    )
    .await
    .expect("list types");
    assert!(all.len() >= 40, "{} types", all.len());
    let codes: Vec<&str> = all.iter().map(|t| t.code.as_str()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "ordered by code, no repeats across pages");
    sorted.dedup();
    assert_eq!(sorted.len(), all.len());

    let traffic = server
        .triage()
        .list_incident_types(pb::ListIncidentTypesRequest {
            categories: vec![pb::IncidentCategory::Traffic.into()],
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("traffic types")
        .into_inner()
        .incident_types;
    for code in [
        "TRAFFIC-COLLISION",
        "TRAFFIC-INJURY",
        "TRAFFIC-TRAPPED",
        "TRAFFIC-PEDESTRIAN",
        "TRAFFIC-MOTORCYCLE",
        "TRAFFIC-CYCLIST",
        "TRAFFIC-ROLLOVER",
        "TRAFFIC-DROP",
        "TRAFFIC-FATALITY",
    ] {
        assert!(traffic.iter().any(|t| t.code == code), "{code} missing");
    }

    let breathing = fixtures::protocol_questions(&server, "MED-CARDIAC-ARREST")
        .await
        .into_iter()
        .find(|q| q.id == "breathing")
        .expect("breathing question");
    assert_eq!(breathing.kind, i32::from(pb::QuestionKind::YesNo));
    assert!(breathing.required);
    let status = server
        .triage()
        .get_incident_type(pb::GetIncidentTypeRequest {
            name: "incident-types/NOPE".into(),
        })
        .await
        .expect_err("unknown type");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_decides_determinant_priority_and_plan_and_keeps_history() {
    let server = TestServer::start().await;
    let arrest = incident(&server, ZOCALO, "MED-CARDIAC-ARREST").await;
    assert_eq!(arrest.status, i32::from(pb::IncidentStatus::New));

    let first = triage(&server, &arrest, vec![yes_no("breathing", true)])
        .await
        .expect("triage");
    let triaged = first.incident.expect("incident");
    assert_eq!(triaged.status, i32::from(pb::IncidentStatus::Triaged));
    assert_eq!(
        triaged.determinant.as_ref().expect("determinant").code,
        "MED-CARDIAC-ARREST-D-1"
    );
    assert_eq!(triaged.priority, 8);
    let record = first.triage_record.expect("record");
    assert_eq!(record.priority, 8);
    assert_eq!(record.answers.len(), 1);

    // New information: not breathing after all. Echo, the closest AED plus an ALS ambulance.
    let second = triage(
        &server,
        &triaged,
        vec![yes_no("breathing", false), yes_no("obvious_death", false)],
    )
    .await
    .expect("re-triage")
    .incident
    .expect("incident");
    let determinant = second.determinant.as_ref().expect("determinant");
    assert_eq!(determinant.code, "MED-CARDIAC-ARREST-E-1");
    assert_eq!(determinant.level, i32::from(pb::DeterminantLevel::Echo));
    assert_eq!(second.priority, 10);
    assert_eq!(
        plan(&second),
        [("aed".to_owned(), 1), ("als".to_owned(), 1)]
    );
    assert_eq!(second.status, i32::from(pb::IncidentStatus::Triaged));
    assert_eq!(second.triage_history.len(), 2);
    assert_eq!(second.triage_history[1].previous_priority, 8);
    assert_eq!(
        second.triage_history[0]
            .determinant
            .as_ref()
            .expect("first")
            .code,
        "MED-CARDIAC-ARREST-D-1"
    );
    let timeline = kinds(&second);
    assert_eq!(
        timeline
            .iter()
            .filter(|k| **k == pb::TimelineEntryKind::Triaged)
            .count(),
        2
    );
    // Unset -> 8 on the first triage, 8 -> 10 on the second.
    assert_eq!(
        timeline
            .iter()
            .filter(|k| **k == pb::TimelineEntryKind::PriorityChanged)
            .count(),
        2
    );

    // A type given with the triage replaces the hint: a collision with trapped persons.
    let collision = incident(&server, (19.40, -99.15), "").await;
    let answers = vec![yes_no("fire", false), number("trapped_count", 1.0)];
    let response = fixtures::triage(
        &server,
        &collision.name,
        "TRAFFIC-TRAPPED",
        answers,
        &collision.etag,
    )
    .await
    .expect("triage with type")
    .incident
    .expect("incident");
    assert_eq!(response.incident_type, "TRAFFIC-TRAPPED");
    assert_eq!(
        plan(&response),
        [
            ("extrication".to_owned(), 1),
            ("als".to_owned(), 1),
            ("patrol".to_owned(), 1)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_each_named_and_nothing_is_written() {
    let server = TestServer::start().await;
    let arrest = incident(&server, ZOCALO, "MED-CARDIAC-ARREST").await;
    let cases: Vec<(Vec<pb::TriageAnswer>, Vec<&str>)> = vec![
        (vec![], vec!["answers"]),
        (
            vec![yes_no("breathing", true), yes_no("pulse_rate", true)],
            vec!["answers[1].question_id"],
        ),
        (vec![number("breathing", 1.0)], vec!["answers[0]"]),
        (
            vec![yes_no("breathing", true), yes_no("breathing", false)],
            vec!["answers[1].question_id"],
        ),
        (
            vec![pb::TriageAnswer {
                question_id: "breathing".into(),
                value: None,
            }],
            vec!["answers[0]"],
        ),
    ];
    for (answers, expected) in cases {
        let status = triage(&server, &arrest, answers.clone())
            .await
            .expect_err("bad answers");
        let fields = violated_fields(&status);
        for field in &expected {
            assert!(
                fields.iter().any(|f| f == field),
                "{answers:?}: expected {field} in {fields:?}"
            );
        }
    }
    // Choice and number checks on a protocol that has them.
    let types = server
        .triage()
        .list_incident_types(pb::ListIncidentTypesRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("types")
        .into_inner()
        .incident_types;
    let with_choice = types
        .iter()
        .find_map(|t| {
            t.protocol
                .as_ref()?
                .questions
                .iter()
                .find(|q| q.kind == i32::from(pb::QuestionKind::Choice))
                .map(|q| (t.code.clone(), q.id.clone()))
        })
        .expect("a choice question in the catalogue");
    let with_number = types
        .iter()
        .find_map(|t| {
            t.protocol
                .as_ref()?
                .questions
                .iter()
                .find(|q| q.kind == i32::from(pb::QuestionKind::Number) && q.max.is_some())
                .map(|q| (t.code.clone(), q.id.clone(), q.max.unwrap_or_default()))
        })
        .expect("a bounded number question in the catalogue");
    let chooser = incident(&server, (19.30, -99.10), &with_choice.0).await;
    let status = triage(
        &server,
        &chooser,
        vec![choice(&with_choice.1, "not-an-option")],
    )
    .await
    .expect_err("bad choice");
    assert!(
        violated_fields(&status).contains(&"answers[0].choice".to_owned()),
        "{status:?}"
    );
    let counter = incident(&server, (19.31, -99.10), &with_number.0).await;
    for bad in [with_number.2 + 1.0, f64::NAN] {
        let status = triage(&server, &counter, vec![number(&with_number.1, bad)])
            .await
            .expect_err("bad number");
        assert!(
            violated_fields(&status).contains(&"answers[0].number".to_owned()),
            "{bad}: {status:?}"
        );
    }

    // An incident with no type, and none given.
    let untyped = incident(&server, (19.32, -99.10), "").await;
    assert_invalid(
        triage(&server, &untyped, vec![]).await,
        "no type",
        &["incident_type"],
    );
    let status = fixtures::triage(&server, &untyped.name, "MADE-UP", vec![], "")
        .await
        .expect_err("unknown type");
    assert_eq!(violated_fields(&status), ["incident_type"]);

    assert_eq!(server.count("triage_records").await, 0);
    let after = get(&server, &arrest.name).await;
    assert_eq!(after.etag, arrest.etag, "the incident did not change");
    assert_eq!(after.status, i32::from(pb::IncidentStatus::New));
}

async fn close(
    server: &TestServer,
    name: &str,
    code: pb::ClosingCode,
) -> Result<pb::Incident, tonic::Status> {
    fixtures::close_incident(server, name, code, "cierre").await
}

async fn cancel(server: &TestServer, name: &str) -> Result<pb::Incident, tonic::Status> {
    fixtures::cancel_incident(server, name, "abierto por error").await
}

fn refused(result: Result<pb::Incident, tonic::Status>, current: &str) {
    let status = result.expect_err("illegal transition");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let failure = status
        .get_details_precondition_failure()
        .expect("precondition failure");
    assert!(
        failure.violations[0].description.contains(current),
        "{failure:?} should name {current}"
    );
}

/// Assignment (issue 5) is what moves an incident to DISPATCHED; until then the tests put it
/// there directly, as AssignUnits will.
async fn mark_dispatched(server: &TestServer, incident: &pb::Incident) {
    let id = incident.name.trim_start_matches("incidents/");
    let dispatch = format!(
        "UPDATE incidents SET status = 'dispatched', version = version + 1 WHERE id = '{id}'"
    );
    server.run_sql(&dispatch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_allows_exactly_the_legal_transitions() {
    let server = TestServer::start().await;
    let at = |i: u32| (19.0 + f64::from(i) * 0.01, -99.0);

    // NEW: on scene and resolved are refused, naming NEW.
    let fresh = incident(&server, at(0), "MED-FALL").await;
    refused(
        change(&server, &fresh.name, pb::IncidentStatus::OnScene).await,
        "new",
    );
    refused(
        change(&server, &fresh.name, pb::IncidentStatus::Resolved).await,
        "new",
    );
    let status = change(&server, &fresh.name, pb::IncidentStatus::Closed)
        .await
        .expect_err("not a field status");
    assert_eq!(violated_fields(&status), ["status"]);

    // The whole happy path: NEW -> TRIAGED -> DISPATCHED -> ON_SCENE -> RESOLVED -> CLOSED.
    let arrest = incident(&server, at(1), "MED-CARDIAC-ARREST").await;
    let triaged = triage(&server, &arrest, vec![yes_no("breathing", false)])
        .await
        .expect("triage")
        .incident
        .expect("incident");
    refused(
        change(&server, &arrest.name, pb::IncidentStatus::OnScene).await,
        "triaged",
    );
    mark_dispatched(&server, &triaged).await;
    refused(
        change(&server, &arrest.name, pb::IncidentStatus::Resolved).await,
        "dispatched",
    );
    let on_scene = change(&server, &arrest.name, pb::IncidentStatus::OnScene)
        .await
        .expect("on scene");
    assert_eq!(on_scene.status, i32::from(pb::IncidentStatus::OnScene));
    refused(
        change(&server, &arrest.name, pb::IncidentStatus::OnScene).await,
        "on_scene",
    );
    // Re-triage is allowed on scene and keeps the status.
    let retriaged = triage(&server, &on_scene, vec![yes_no("breathing", true)])
        .await
        .expect("re-triage")
        .incident
        .expect("incident");
    assert_eq!(retriaged.status, i32::from(pb::IncidentStatus::OnScene));
    let resolved = change(&server, &arrest.name, pb::IncidentStatus::Resolved)
        .await
        .expect("resolved");
    assert_eq!(resolved.status, i32::from(pb::IncidentStatus::Resolved));
    refused(
        change(&server, &arrest.name, pb::IncidentStatus::OnScene).await,
        "resolved",
    );
    let closed = close(&server, &arrest.name, pb::ClosingCode::Confirmed)
        .await
        .expect("close");
    assert_eq!(closed.status, i32::from(pb::IncidentStatus::Closed));
    assert_eq!(closed.closing_code, i32::from(pb::ClosingCode::Confirmed));
    assert!(closed.close_time.is_some());
    let timeline = kinds(&closed);
    assert_eq!(timeline.first(), Some(&pb::TimelineEntryKind::Created));
    assert_eq!(timeline.last(), Some(&pb::TimelineEntryKind::Closed));
    assert_eq!(
        timeline
            .iter()
            .filter(|k| **k == pb::TimelineEntryKind::StatusChanged)
            .count(),
        2
    );

    // Terminal: nothing more, except notes (late information).
    refused(
        change(&server, &arrest.name, pb::IncidentStatus::OnScene).await,
        "closed",
    );
    refused(
        close(&server, &arrest.name, pb::ClosingCode::False).await,
        "closed",
    );
    refused(cancel(&server, &arrest.name).await, "closed");
    refused(
        triage(&server, &closed, vec![yes_no("breathing", true)])
            .await
            .map(|r| r.incident.expect("incident")),
        "closed",
    );
    let noted = fixtures::add_note(&server, &arrest.name, "El hospital confirma ingreso").await;
    assert_eq!(noted.notes.len(), 1);
    assert_eq!(
        kinds(&noted).last(),
        Some(&pb::TimelineEntryKind::NoteAdded)
    );

    // Cancel from each non-terminal status; cancelled is terminal too.
    let cancel_new = incident(&server, at(2), "MED-FALL").await;
    assert_eq!(
        cancel(&server, &cancel_new.name)
            .await
            .expect("cancel new")
            .status,
        i32::from(pb::IncidentStatus::Cancelled)
    );
    refused(cancel(&server, &cancel_new.name).await, "cancelled");
    refused(
        close(&server, &cancel_new.name, pb::ClosingCode::False).await,
        "cancelled",
    );
    let cancel_dispatched = incident(&server, at(3), "MED-FALL").await;
    mark_dispatched(&server, &cancel_dispatched).await;
    cancel(&server, &cancel_dispatched.name)
        .await
        .expect("cancel dispatched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_closing_code_closes_and_duplicate_means_merge() {
    let server = TestServer::start().await;
    for (i, code) in [
        pb::ClosingCode::Confirmed,
        pb::ClosingCode::Negative,
        pb::ClosingCode::False,
        pb::ClosingCode::Informative,
    ]
    .into_iter()
    .enumerate()
    {
        let open = incident(&server, (18.0 + i as f64 * 0.1, -99.0), "CRIME-SUSPICIOUS").await;
        let closed = close(&server, &open.name, code).await.expect("close");
        assert_eq!(closed.closing_code, i32::from(code));
        assert_eq!(closed.closing_note, "cierre");
    }
    let open = incident(&server, (17.0, -99.0), "CRIME-SUSPICIOUS").await;
    // A duplicate must say of what; every closing needs a code.
    for (code, missing) in [
        (pb::ClosingCode::Duplicate, "duplicate_of"),
        (pb::ClosingCode::Unspecified, "closing_code"),
    ] {
        let status = close(&server, &open.name, code).await.expect_err(missing);
        assert_eq!(violated_fields(&status), [missing], "{code:?}");
    }

    let kept = incident(&server, ZOCALO, "TRAFFIC-INJURY").await;
    let closed = server
        .triage()
        .close_incident(pb::CloseIncidentRequest {
            request_id: request_id(),
            name: open.name.clone(),
            closing_code: pb::ClosingCode::Duplicate.into(),
            duplicate_of: kept.name.clone(),
            note: "mismo choque".into(),
            etag: String::new(),
        })
        .await
        .expect("close as duplicate")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(closed.closing_code, i32::from(pb::ClosingCode::Duplicate));
    assert_eq!(closed.duplicate_of, kept.name);
    assert_eq!(closed.linked_call_count, 0, "its calls moved");
    assert_eq!(get(&server, &kept.name).await.linked_call_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_moves_calls_and_timeline_to_the_survivor() {
    let server = TestServer::start().await;
    let survivor = incident(&server, ZOCALO, "TRAFFIC-COLLISION").await;
    let duplicate = incident(&server, (19.4330, -99.1330), "TRAFFIC-INJURY").await;
    let duplicate = triage(&server, &duplicate, vec![])
        .await
        .map(|r| r.incident.expect("incident"))
        .unwrap_or(duplicate);
    let response = server
        .triage()
        .merge_incidents(pb::MergeIncidentsRequest {
            request_id: request_id(),
            survivor: survivor.name.clone(),
            duplicate: duplicate.name.clone(),
            survivor_etag: survivor.etag.clone(),
            duplicate_etag: duplicate.etag.clone(),
            note: "el mismo choque reportado dos veces".into(),
        })
        .await
        .expect("merge")
        .into_inner();
    let kept = response.survivor.expect("survivor");
    let merged = response.duplicate.expect("duplicate");
    assert_eq!(kept.linked_call_count, 2);
    assert_eq!(kept.calls.len(), 2);
    assert_eq!(merged.status, i32::from(pb::IncidentStatus::Closed));
    assert_eq!(merged.closing_code, i32::from(pb::ClosingCode::Duplicate));
    assert_eq!(merged.duplicate_of, kept.name);
    assert!(merged.calls.is_empty());
    // The survivor's timeline now tells the duplicate's story too.
    let merged_in = kept
        .timeline
        .iter()
        .find(|e| e.kind == i32::from(pb::TimelineEntryKind::MergedIn))
        .expect("MERGED_IN");
    assert_eq!(merged_in.related_incident, merged.name);
    assert!(
        kept.timeline
            .iter()
            .any(|e| e.related_incident == merged.name
                && e.kind == i32::from(pb::TimelineEntryKind::Created)),
        "the duplicate's CREATED entry shows on the survivor"
    );
    assert!(
        merged
            .timeline
            .iter()
            .any(|e| e.kind == i32::from(pb::TimelineEntryKind::MergedInto))
    );
    // The calls now point at the survivor.
    let of_the_survivor = pb::ListCallsRequest {
        incident: kept.name.clone(),
        ..Default::default()
    };
    let calls = fixtures::list_calls(&server, of_the_survivor).await;
    assert_eq!(calls.len(), 2);

    // Merging into or from a closed incident is refused; so is merging with itself.
    let other = incident(&server, (19.5, -99.2), "TRAFFIC-COLLISION").await;
    let status = fixtures::merge_incidents(&server, &other.name, &merged.name, "")
        .await
        .expect_err("closed duplicate");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_invalid(
        fixtures::merge_incidents(&server, &other.name, &other.name, "").await,
        "itself",
        &["duplicate"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_etag_never_overwrites_another_dispatcher() {
    let server = TestServer::start().await;
    let original = incident(&server, ZOCALO, "FIRE-SMOKE").await;
    let update = |etag: String, summary: &str| pb::UpdateIncidentRequest {
        request_id: request_id(),
        incident: Some(pb::Incident {
            name: original.name.clone(),
            etag,
            summary: summary.into(),
            ..Default::default()
        }),
        update_mask: mask(&["summary"]),
        reason: String::new(),
    };
    // Dispatcher A updates with the etag both read; dispatcher B, with the same etag, is refused.
    let a = server
        .triage()
        .update_incident(update(original.etag.clone(), "Humo en el 3er piso"))
        .await
        .expect("A wins")
        .into_inner();
    let after_a = a.incident.expect("incident");
    assert_eq!(after_a.summary, "Humo en el 3er piso");
    assert_ne!(after_a.etag, original.etag);
    let status = server
        .triage()
        .update_incident(update(original.etag.clone(), "Humo en PB"))
        .await
        .expect_err("B is stale");
    assert_refused(&status, Code::Aborted, "ETAG_MISMATCH");
    assert_eq!(
        get(&server, &original.name).await.summary,
        "Humo en el 3er piso"
    );

    // Without an etag, with an empty or unknown mask, or a priority without reason: refused.
    let status = server
        .triage()
        .update_incident(update(String::new(), "x"))
        .await
        .expect_err("no etag");
    assert_eq!(violated_fields(&status), ["incident.etag"]);
    let mut bad = update(after_a.etag.clone(), "x");
    bad.update_mask = mask(&["status", "priority"]);
    bad.incident.as_mut().expect("incident").priority = 11;
    let status = server
        .triage()
        .update_incident(bad)
        .await
        .expect_err("bad mask");
    assert_eq!(
        violated_fields(&status),
        ["update_mask.paths[0]", "incident.priority", "reason"]
    );

    // Type, location and priority (with a reason) in one update; the timeline says so.
    let mut full = update(after_a.etag.clone(), "");
    full.update_mask = mask(&["incident_type", "location", "priority"]);
    let incident = full.incident.as_mut().expect("incident");
    incident.incident_type = "FIRE-STRUCTURE".into();
    incident.location = location((19.4330, -99.1340));
    incident.priority = 9;
    full.reason = "Se confirma fuego estructural".into();
    let updated = server
        .triage()
        .update_incident(full)
        .await
        .expect("update")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(updated.incident_type, "FIRE-STRUCTURE");
    assert_eq!(updated.priority, 9);
    assert_eq!(
        updated.summary, "Humo en el 3er piso",
        "not in the mask: untouched"
    );
    let timeline = kinds(&updated);
    assert!(timeline.contains(&pb::TimelineEntryKind::PriorityChanged));
    // One UPDATED entry per update: the summary, then type + location + priority together.
    assert_eq!(
        timeline
            .iter()
            .filter(|k| **k == pb::TimelineEntryKind::Updated)
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_are_listed_newest_first_with_filters() {
    let server = TestServer::start().await;
    let north = incident(&server, (19.50, -99.13), "MED-CARDIAC-ARREST").await;
    let centre = incident(&server, ZOCALO, "TRAFFIC-COLLISION").await;
    let south = incident(&server, (19.30, -99.13), "MED-CARDIAC-ARREST").await;
    triage(&server, &north, vec![yes_no("breathing", false)])
        .await
        .expect("triage north");
    triage(&server, &south, vec![yes_no("breathing", true)])
        .await
        .expect("triage south");
    close(&server, &centre.name, pb::ClosingCode::False)
        .await
        .expect("close centre");

    let list = async |request: pb::ListIncidentsRequest| {
        let incidents = fixtures::list_incidents(&server, request).await;
        incidents.into_iter().map(|i| i.name).collect::<Vec<_>>()
    };
    assert_eq!(
        list(pb::ListIncidentsRequest::default()).await,
        [south.name.clone(), centre.name.clone(), north.name.clone()]
    );
    assert_eq!(
        list(pb::ListIncidentsRequest {
            statuses: vec![pb::IncidentStatus::Closed.into()],
            ..Default::default()
        })
        .await,
        vec![centre.name.clone()]
    );
    assert_eq!(
        list(pb::ListIncidentsRequest {
            min_priority: Some(9),
            ..Default::default()
        })
        .await,
        vec![north.name.clone()]
    );
    assert_eq!(
        list(pb::ListIncidentsRequest {
            incident_types: vec!["TRAFFIC-COLLISION".into()],
            ..Default::default()
        })
        .await,
        vec![centre.name.clone()]
    );
    let bbox = pb::BoundingBox {
        south_west: Some(pb::GeoPoint {
            latitude: 19.40,
            longitude: -99.20,
        }),
        north_east: Some(pb::GeoPoint {
            latitude: 19.60,
            longitude: -99.00,
        }),
    };
    assert_eq!(
        list(pb::ListIncidentsRequest {
            bounding_box: Some(bbox),
            ..Default::default()
        })
        .await,
        [centre.name.clone(), north.name.clone()]
    );
    let paged: Vec<String> = fixtures::every_page(
        pb::ListIncidentsRequest {
            page_size: 2,
            ..Default::default()
        },
        async |request| server.triage().list_incidents(request).await,
    )
    .await
    .expect("page")
    .into_iter()
    .map(|i| i.name)
    .collect();
    assert_eq!(paged, [south.name, centre.name, north.name]);
    let status = server
        .triage()
        .list_incidents(pb::ListIncidentsRequest {
            min_priority: Some(11),
            incident_types: vec!["NOPE".into()],
            ..Default::default()
        })
        .await
        .expect_err("bad filters");
    assert_eq!(
        violated_fields(&status),
        ["min_priority", "incident_types[0]"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_catalogue_stops_start_up_naming_the_entry() {
    let dir = std::env::temp_dir().join(format!(
        "dispatch-catalogue-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    let broken = dispatch_server::config::BUILT_IN_CATALOGUE.replacen(
        "code = \"MED-CARDIAC-ARREST-E-1\"",
        "code = \"MED-CARDIAC-ARREST-A-1\"",
        1,
    );
    std::fs::write(&path, broken).expect("write");
    let mut config = dispatch_server::Config::defaults();
    config.catalogue = Some(path.clone());
    let message = dispatch_tests::refused_start(&config).await;
    assert!(
        message.contains("MED-CARDIAC-ARREST") && message.contains("determinants["),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
