//! EIDO in (IncidentExchangeService.ImportEido) over gRPC on real PostgreSQL: NENA's own sample
//! imports; the same EIDO twice changes nothing, a newer version updates, an older one does
//! not; re-exported (GetIncidentEido) an import is a valid EIDO that keeps what it carried, and
//! imports again into the same incident's values; malformed and schema-invalid EIDOs are refused naming every problem's JSON path and
//! write nothing; only the roles that receive transfers may import; imports are audited.

use std::path::PathBuf;

use dispatch_proto::v1 as pb;
use dispatch_tests::eido::assert_valid_eido;
use dispatch_tests::{TestServer, fixtures, repo_root, request_id, violated_fields};
use serde_json::{Value, json};
use tonic::Code;

/// NENA's sample (`../shared/standards/eido/sample-call-transfer.json`), or `None` (with the
/// reason printed) when the standards are not beside the repository; under CI that fails.
fn nena_sample() -> Option<String> {
    let path: PathBuf = repo_root().join("../shared/standards/eido/sample-call-transfer.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(error) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{}: {error} (CI needs ../shared beside the clone)",
                path.display()
            );
            eprintln!("skipped: {} is missing ({error})", path.display());
            None
        }
    }
}

/// The centre's area, for EIDOs that carry no coordinates.
fn centre() -> Option<pb::Location> {
    Some(pb::Location {
        point: fixtures::point((39.7447, -75.5484)),
        uncertainty_m: 50_000.0,
        source: pb::LocationSource::Dispatcher.into(),
        civic_address: String::new(),
    })
}

async fn import(
    server: &TestServer,
    token: &str,
    eido: &str,
    fallback: Option<pb::Location>,
) -> Result<pb::ImportEidoResponse, tonic::Status> {
    import_with_id(server, token, &request_id(), eido, fallback).await
}

async fn import_with_id(
    server: &TestServer,
    token: &str,
    id: &str,
    eido: &str,
    fallback: Option<pb::Location>,
) -> Result<pb::ImportEidoResponse, tonic::Status> {
    server
        .exchange_as(token)
        .import_eido(pb::ImportEidoRequest {
            request_id: id.to_owned(),
            eido_json: eido.to_owned(),
            fallback_location: fallback,
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Row counts of every table an import writes, and the folio counters' total.
async fn footprint(server: &TestServer) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in [
        "incidents",
        "calls",
        "call_locations",
        "incident_notes",
        "events",
        "eido_imports",
        "eido_import_parts",
        "idempotency_keys",
    ] {
        counts.push((table, server.count(table).await));
    }
    let folios = server
        .count("folio_counters, generate_series(1, folio_counters.last_number)")
        .await;
    counts.push(("folio numbers drawn", folios));
    counts
}

async fn calls_of(server: &TestServer, incident: &pb::Incident) -> Vec<pb::Call> {
    let mut calls = Vec::new();
    for name in &incident.calls {
        let call = server
            .calls()
            .get_call(pb::GetCallRequest { name: name.clone() })
            .await
            .expect("get call")
            .into_inner()
            .call
            .expect("a call");
        calls.push(call);
    }
    calls
}

fn time(text: &str) -> Option<prost_types::Timestamp> {
    let t = chrono::DateTime::parse_from_rfc3339(text).expect("a time");
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).expect("nanos"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nenas_sample_imports_and_importing_it_again_changes_nothing() {
    let Some(sample) = nena_sample() else { return };
    let server = TestServer::start().await;
    let (_, taker) = server.person(pb::Role::CallTaker, "receiver").await;
    // The sample has a civic address and a location by reference, no coordinates.
    let refused = import(&server, &taker, &sample, None)
        .await
        .expect_err("no coordinates");
    assert_eq!(violated_fields(&refused), ["eido_json.locationComponent"]);

    let first = import(&server, &taker, &sample, centre())
        .await
        .expect("import");
    assert_eq!(first.outcome(), pb::ImportOutcome::Created);
    assert_eq!(
        first.tracking_id,
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    );
    assert_eq!(first.version_time, time("2021-04-30T14:43:49.439-04:00"));
    let incident = first.incident.expect("the incident");
    let location = incident.location.as_ref().expect("a location");
    assert_eq!(
        location.civic_address,
        "42 W Cellular Street, Wilmington, DE, US"
    );
    assert_eq!(
        location.point,
        fixtures::point((39.7447, -75.5484)),
        "placed by the fallback"
    );
    assert_eq!(
        incident.incident_type, "",
        "the sample has no incident component: untyped"
    );
    let calls = calls_of(&server, &incident).await;
    let [call] = calls.as_slice() else {
        panic!("{calls:?}")
    };
    assert_eq!(call.callback_number, "8195551212");
    assert_eq!(call.received_time, time("2021-04-30T14:40:00.0-04:00"));
    assert_eq!(call.answered_time, time("2021-04-30T14:42:00.0-04:00"));
    assert!(
        call.back_entered,
        "entered after the fact, with its own times"
    );
    assert_eq!(call.incident, incident.name);

    let before = footprint(&server).await;
    let again = import(&server, &taker, &sample, centre())
        .await
        .expect("again");
    assert_eq!(again.outcome(), pb::ImportOutcome::Unchanged);
    let same = again.incident.expect("the incident");
    assert_eq!(same.name, incident.name);
    assert_eq!(same.etag, incident.etag, "not even a new version");
    let mut after = footprint(&server).await;
    // The second request's id is recorded, nothing else.
    let keys = after
        .iter_mut()
        .find(|(t, _)| *t == "idempotency_keys")
        .expect("keys");
    keys.1 -= 1;
    assert_eq!(after, before);
}

fn prologue(id: &str, at: &str, fields: Value) -> Value {
    let mut component = json!({
        "$id": id,
        "lastUpdateTimeStamp": at,
        "updatedByAgencyReference": {"$ref": "psap.neighbour.example"},
    });
    let map = component.as_object_mut().expect("an object");
    map.extend(fields.as_object().expect("an object").clone());
    component
}

fn circle(lat: f64, lon: f64, radius: f64) -> String {
    format!(
        "<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:gml='http://www.opengis.net/gml' \
         xmlns:gs='http://www.opengis.net/pidflo/1.0' entity='pres:c@neighbour.example'>\
         <gs:Circle srsName='urn:ogc:def:crs:EPSG::4326'><gml:pos>{lat} {lon}</gml:pos>\
         <gs:radius uom='urn:ogc:def:uom:EPSG::9001'>{radius}</gs:radius></gs:Circle>\
         <civicAddress xmlns='urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr'><country>MX</country>\
         <A3>Cuauhtémoc</A3><RD>Eje Central Lázaro Cárdenas</RD><HNO>12</HNO></civicAddress>\
         <method>GPS</method></presence>"
    )
}

pub(crate) fn call(id: &str, at: &str, started: &str) -> Value {
    prologue(
        id,
        at,
        json!({
            "standardPrimaryCallType": "emergency",
            "direction": "incoming",
            "callStartTimestamp": started,
            "callStateRegistryText": "callEnd",
            "callBackReference": {"$ref": format!("cb-{id}")},
            "locationReference": [{"$ref": "loc-1"}],
        }),
    )
}

pub(crate) fn callback(id: &str, at: &str, number: &str) -> Value {
    prologue(
        &format!("cb-{id}"),
        at,
        json!({"callBackInformationUri": [format!("tel:{number}")]}),
    )
}

fn note(id: &str, at: &str, text: &str) -> Value {
    prologue(
        id,
        at,
        json!({"notesActionComments": text, "agentReference": {"$ref": "ana@neighbour.example"}}),
    )
}

/// Version `at` of the neighbour's incident: its type, where it is, its calls and notes.
pub(crate) fn neighbour_eido(
    at: &str,
    common_type: &str,
    (lat, lon): (f64, f64),
    calls: &[Value],
    callbacks: &[Value],
    notes: &[Value],
) -> String {
    prologue(
        "urn:emergency:uid:incidentid:7f3a:psap.neighbour.example",
        at,
        json!({
            "eidoVersion": "1.0",
            "issuingElementIdentification": "cad.psap.neighbour.example",
            "incidentComponent": prologue("inc-7f3a", at, json!({
                "incidentTypeCommonRegistryText": common_type,
                "incidentCommonPriorityNumber": 6,
                "locationReference": [{"$ref": "loc-1"}],
            })),
            "callComponent": calls,
            "callbackComponent": callbacks,
            "agencyComponent": [prologue("psap.neighbour.example", at, json!({
                "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                "agencyType": ["psap"],
            }))],
            "agentComponent": [prologue("ana@neighbour.example", at, json!({
                "agentRoleRegistryText": ["Call Taking"],
                "agencyReference": {"$ref": "psap.neighbour.example"},
            }))],
            "notesComponent": notes,
            "locationComponent": [prologue("loc-1", at, json!({
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": circle(lat, lon, 40.0),
            }))],
        }),
    )
    .to_string()
}

const V1: &str = "2026-12-03T10:05:00-06:00";
const V2: &str = "2026-12-03T10:20:00-06:00";
const V0: &str = "2026-12-03T10:00:00-06:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_version_updates_the_incident_and_an_older_one_changes_nothing() {
    let server = TestServer::start().await;
    let (_, gateway) = server.person(pb::Role::Gateway, "esinet").await;
    let first_call = call("call-1", V1, "2026-12-03T10:01:00-06:00");
    let first_callback = callback("call-1", V1, "+525512345678");
    let first_note = note("note-1", V1, "Two cars, one driver hurt");
    let v1 = neighbour_eido(
        V1,
        "MVAINJY",
        (19.4326, -99.1332),
        std::slice::from_ref(&first_call),
        std::slice::from_ref(&first_callback),
        std::slice::from_ref(&first_note),
    );
    let created = import(&server, &gateway, &v1, None).await.expect("v1");
    assert_eq!(created.outcome(), pb::ImportOutcome::Created);
    let incident = created.incident.expect("incident");
    assert_eq!(
        incident.incident_type, "TRAFFIC-INJURY",
        "APCO MVAINJY in our catalogue"
    );
    assert_eq!(incident.priority, 6, "the EIDO's common priority");
    let location = incident.location.as_ref().expect("location");
    assert_eq!(location.point, fixtures::point((19.4326, -99.1332)));
    assert!((location.uncertainty_m - 40.0).abs() < 1e-9);
    assert_eq!(location.source(), pb::LocationSource::Device);
    assert_eq!(
        location.civic_address,
        "12 Eje Central Lázaro Cárdenas, Cuauhtémoc, MX"
    );
    let [imported_note] = incident.notes.as_slice() else {
        panic!("{:?}", incident.notes)
    };
    assert_eq!(imported_note.text, "Two cars, one driver hurt");
    assert_eq!(
        imported_note.author, "ana@neighbour.example",
        "the sender's agent kept"
    );
    assert_eq!(imported_note.create_time, time(V1));
    assert_eq!(calls_of(&server, &incident).await.len(), 1);

    // The same document under a retried request id: the first answer, nothing written.
    let id = request_id();
    let once = import_with_id(&server, &gateway, &id, &v1, None)
        .await
        .expect("same v1");
    assert_eq!(once.outcome(), pb::ImportOutcome::Unchanged);
    let replay = import_with_id(&server, &gateway, &id, &v1, None)
        .await
        .expect("retry");
    assert_eq!(replay.outcome(), pb::ImportOutcome::Unchanged);
    assert_eq!(replay.incident.expect("incident").name, incident.name);

    // Version 2: a fire now, moved, a second call and a second note.
    let second_call = call("call-2", V2, "2026-12-03T10:15:00-06:00");
    let second_callback = callback("call-2", V2, "+525598765432");
    let second_note = note("note-2", V2, "Engine on fire");
    let v2 = neighbour_eido(
        V2,
        "FVEH",
        (19.4330, -99.1340),
        &[first_call.clone(), second_call.clone()],
        &[first_callback.clone(), second_callback.clone()],
        &[first_note.clone(), second_note.clone()],
    );
    let updated = import(&server, &gateway, &v2, None).await.expect("v2");
    assert_eq!(updated.outcome(), pb::ImportOutcome::Updated);
    assert_eq!(updated.version_time, time(V2));
    let incident_v2 = updated.incident.expect("incident");
    assert_eq!(incident_v2.name, incident.name, "the same incident");
    assert_eq!(incident_v2.incident_type, "FIRE-VEHICLE");
    assert_eq!(
        incident_v2.location.as_ref().expect("location").point,
        fixtures::point((19.4330, -99.1340))
    );
    let texts: Vec<&str> = incident_v2.notes.iter().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        ["Two cars, one driver hurt", "Engine on fire"],
        "no note twice"
    );
    let calls = calls_of(&server, &incident_v2).await;
    let numbers: Vec<&str> = calls.iter().map(|c| c.callback_number.as_str()).collect();
    assert_eq!(numbers, ["+525512345678", "+525598765432"], "no call twice");
    assert_eq!(
        incident_v2.first_call_received_time,
        time("2026-12-03T10:01:00-06:00")
    );
    assert_eq!(incident_v2.linked_call_count, 2);
    let kinds = fixtures::kinds_of(incident_v2.timeline.iter().map(|e| e.kind));
    assert!(kinds.contains(&pb::TimelineEntryKind::Updated), "{kinds:?}");

    // An older version (or v2 again) changes nothing.
    let v0 = neighbour_eido(
        V0,
        "FSTRU",
        (19.0, -99.0),
        &[call("call-0", V0, "2026-12-03T09:59:00-06:00")],
        &[callback("call-0", V0, "911")],
        &[],
    );
    let before = footprint(&server).await;
    for (document, what) in [(&v0, "older"), (&v2, "same")] {
        let answer = import(&server, &gateway, document, None).await.expect(what);
        assert_eq!(answer.outcome(), pb::ImportOutcome::Unchanged, "{what}");
        let held = answer.incident.expect("incident");
        assert_eq!(held.etag, incident_v2.etag, "{what}");
        assert_eq!(held.incident_type, "FIRE-VEHICLE", "{what}");
        assert_eq!(answer.version_time, time(V2), "{what}");
    }
    let mut after = footprint(&server).await;
    after
        .iter_mut()
        .find(|(t, _)| *t == "idempotency_keys")
        .expect("keys")
        .1 -= 2;
    assert_eq!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_invalid_eidos_are_refused_naming_every_path_and_write_nothing() {
    let server = TestServer::start().await;
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "receiver").await;
    let before = footprint(&server).await;

    let malformed = import(
        &server,
        &dispatcher,
        "{\"eidoVersion\": \"1.0\",\n  \"$id\": }",
        None,
    )
    .await
    .expect_err("malformed");
    assert_eq!(violated_fields(&malformed), ["eido_json"]);
    assert!(
        malformed.message().contains("line 2, column"),
        "{}",
        malformed.message()
    );

    let good = neighbour_eido(
        V1,
        "MVAINJY",
        (19.4326, -99.1332),
        &[call("call-1", V1, "2026-12-03T10:01:00-06:00")],
        &[callback("call-1", V1, "+525512345678")],
        &[note("note-1", V1, "hello")],
    );
    let mut bad: Value = serde_json::from_str(&good).expect("json");
    bad.as_object_mut()
        .expect("object")
        .remove("issuingElementIdentification");
    bad["eidoVersion"] = "2.0".into();
    bad["callComponent"][0]["callStartTimestamp"] = "yesterday".into();
    bad["callComponent"][0]["direction"] = "sideways".into();
    bad["incidentComponent"]["incidentTypeCommonRegistyText"] = "typo".into();
    bad["notesComponent"][0]["notesActionComments"] = 42.into();
    bad["agentComponent"][0]
        .as_object_mut()
        .expect("object")
        .remove("agencyReference");
    let invalid = import(&server, &dispatcher, &bad.to_string(), None)
        .await
        .expect_err("invalid");
    let mut fields = violated_fields(&invalid);
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "eido_json.agentComponent[0].agencyReference",
            "eido_json.callComponent[0].callStartTimestamp",
            "eido_json.callComponent[0].direction",
            "eido_json.eidoVersion",
            "eido_json.incidentComponent.incidentTypeCommonRegistyText",
            "eido_json.issuingElementIdentification",
            "eido_json.notesComponent[0].notesActionComments",
        ]
    );

    // Schema-valid, but wrong in ways the schema cannot say.
    let mut wrong: Value = serde_json::from_str(&good).expect("json");
    wrong["locationComponent"][0]["locationByValue"] = circle(91.5, -99.1, 40.0).into();
    wrong["callComponent"][0]["callBackReference"]["$ref"] = "nobody".into();
    wrong["incidentComponent"]["incidentCommonPriorityNumber"] = 11.into();
    let refused = import(&server, &dispatcher, &wrong.to_string(), None)
        .await
        .expect_err("wrong");
    let mut fields = violated_fields(&refused);
    fields.sort_unstable();
    fields.dedup();
    assert_eq!(
        fields,
        [
            "eido_json.callComponent[0].callBackReference",
            "eido_json.incidentComponent.incidentCommonPriorityNumber",
            "eido_json.locationComponent",
            "eido_json.locationComponent[0].locationByValue",
        ]
    );
    let empty = import(&server, &dispatcher, "", None)
        .await
        .expect_err("empty");
    assert_eq!(violated_fields(&empty), ["eido_json"]);

    assert_eq!(
        footprint(&server).await,
        before,
        "a refused import writes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_roles_that_receive_transfers_import_and_every_import_is_audited() {
    let server = TestServer::start().await;
    let eido = neighbour_eido(V1, "CARDIAC", (19.4326, -99.1332), &[], &[], &[]);
    // Field units and partner agencies are refused too (the role table's test covers every
    // role); these two need no unit or partner of their own to exist.
    for role in [pb::Role::VideoOperator, pb::Role::Admin] {
        let (_, token) = server.person(role, "outsider").await;
        let refused = import(&server, &token, &eido, None)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::PermissionDenied, "{role:?}");
    }
    assert_eq!(server.count("eido_imports").await, 0);
    let (taker, token) = server.person(pb::Role::CallTaker, "receiver").await;
    let imported = import(&server, &token, &eido, None)
        .await
        .expect("call taker");
    let incident = imported.incident.expect("incident");
    assert_eq!(incident.incident_type, "MED-CARDIAC-ARREST");
    assert_eq!(incident.priority, 6);
    let records = fixtures::audit_records(
        &server,
        &server.token,
        pb::ListAuditRecordsRequest {
            principal: taker.clone(),
            ..Default::default()
        },
    )
    .await;
    let record = records
        .iter()
        .find(|r| r.method.ends_with("/ImportEido"))
        .unwrap_or_else(|| panic!("the import is audited: {records:?}"));
    assert_eq!(record.resource, incident.name);
    assert_eq!(record.outcome(), pb::AuditOutcome::Success);
}

/// The incident as GetIncidentEido sends it, checked against NENA's schema and key spelling.
async fn export(server: &TestServer, incident: &pb::Incident) -> Value {
    let eido = server
        .exchange()
        .get_incident_eido(pb::GetIncidentEidoRequest {
            name: incident.name.clone(),
        })
        .await
        .expect("GetIncidentEido")
        .into_inner();
    let document: Value = serde_json::from_str(&eido.eido_json).expect("the EIDO is JSON");
    assert_valid_eido(&document);
    document
}

/// What an import keeps of an incident, to compare one import with another.
async fn kept(server: &TestServer, incident: &pb::Incident) -> Value {
    let location = incident.location.as_ref().expect("a location");
    let calls: Vec<Value> = calls_of(server, incident)
        .await
        .into_iter()
        .map(|call| {
            json!({
                "received": call.received_time.map(|t| t.seconds),
                "answered": call.answered_time.map(|t| t.seconds),
                "callback": call.callback_number,
                "civic": call.location.map(|l| l.civic_address),
            })
        })
        .collect();
    let notes: Vec<Value> = incident
        .notes
        .iter()
        .map(|n| json!({"text": n.text, "at": n.create_time.map(|t| t.seconds)}))
        .collect();
    json!({
        "type": incident.incident_type,
        "priority": incident.priority,
        "point": location.point.as_ref().map(|p| (p.latitude, p.longitude)),
        "uncertainty": location.uncertainty_m,
        "civic": location.civic_address,
        "first_call": incident.first_call_received_time.map(|t| t.seconds),
        "calls": calls,
        "notes": notes,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_re_exported_keeps_what_it_carried_and_imports_back_the_same() {
    let server = TestServer::start().await;
    let (_, taker) = server.person(pb::Role::CallTaker, "receiver").await;
    let mut cases = vec![neighbour_eido(
        V2,
        "FVEH",
        (19.4330, -99.1340),
        &[
            call("call-1", V2, "2026-12-03T10:01:00-06:00"),
            call("call-2", V2, "2026-12-03T10:15:00-06:00"),
        ],
        &[
            callback("call-1", V2, "+525512345678"),
            callback("call-2", V2, "+525598765432"),
        ],
        &[note(
            "note-1",
            V2,
            "Engine on fire &amp; <b>&lt;smoke&gt;</b>",
        )],
    )];
    cases.extend(nena_sample());
    for original in cases {
        let imported = import(&server, &taker, &original, centre())
            .await
            .expect("import")
            .incident
            .expect("incident");
        let exported = export(&server, &imported).await;
        let source: Value = serde_json::from_str(&original).expect("json");
        // What the original carried is in the re-export: its call times and callback numbers,
        // its civic address, its notes.
        for (index, call) in source["callComponent"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let start = chrono::DateTime::parse_from_rfc3339(
                call["callStartTimestamp"].as_str().expect("start"),
            )
            .expect("time");
            let found = exported["callComponent"]
                .as_array()
                .expect("calls exported")
                .iter()
                .any(|c| {
                    chrono::DateTime::parse_from_rfc3339(
                        c["callStartTimestamp"].as_str().unwrap_or_default(),
                    )
                    .is_ok_and(|t| t == start)
                });
            assert!(
                found,
                "call {index} starting {start} is in the re-export: {exported:#}"
            );
        }
        let exported_text = exported.to_string();
        for number in ["8195551212", "+525512345678", "+525598765432"] {
            if original.contains(number) {
                assert!(exported_text.contains(&format!("tel:{number}")), "{number}");
            }
        }
        if original.contains("note-1") {
            let texts: Vec<&str> = imported.notes.iter().map(|n| n.text.as_str()).collect();
            assert_eq!(texts, ["Engine on fire & <smoke>"], "HTML5 read as text");
        }
        let civic = &imported.location.as_ref().expect("location").civic_address;
        assert!(!civic.is_empty());
        assert!(
            exported_text.contains(civic.as_str()),
            "{civic} in {exported_text}"
        );
        // Imported again (the re-export is another tracking id: a second incident), it gives
        // the same incident values.
        let again = import(&server, &taker, &exported_text, None)
            .await
            .expect("the re-export imports")
            .incident
            .expect("incident");
        assert_ne!(again.name, imported.name);
        assert_eq!(kept(&server, &again).await, kept(&server, &imported).await);
    }
}
