//! NENA EIDO (NENA-STA-021.1b) out: the schema check every EIDO of the tests goes through, shown
//! to pass NENA's own sample and to catch what it must; then incidents through their life, each
//! EIDO checked against NENA's schema and for what it carries; and who may have one.

use serde_json::{Value, json};

use dispatch_proto::v1 as pb;
use dispatch_server::Config;
use dispatch_tests::eido::{assert_valid_eido, eido_problems, standards_dir};
use dispatch_tests::fixtures::{
    Scene, ZOCALO, assign_request, call_at, close_incident, create_call_as, incident_at, offset,
    open_from, open_incident_as, set_status,
};
use dispatch_tests::{TestServer, request_id, violated_fields};

fn nena_sample() -> Option<Value> {
    let path = standards_dir()?.join("eido/sample-call-transfer.json");
    let text = std::fs::read_to_string(&path).expect("NENA's sample EIDO");
    Some(serde_json::from_str(&text).expect("NENA's sample is JSON"))
}

/// The problems' paths, for a document the check must refuse.
fn problem_paths(eido: &Value) -> Vec<String> {
    let problems = eido_problems(eido).expect("the schema is here when the sample is");
    problems
        .iter()
        .map(|problem| problem.path.clone())
        .collect()
}

#[test]
fn the_schema_check_passes_nenas_sample_and_names_each_misspelt_key_and_wrong_type() {
    let Some(sample) = nena_sample() else {
        return;
    };
    assert_valid_eido(&sample);

    // A misspelt key, at two depths: the schema would accept both (no additionalProperties).
    let mut misspelt = sample.clone();
    let call = &mut misspelt["callComponent"][0];
    let start = call["callStartTimestamp"].take();
    call.as_object_mut()
        .expect("a call component")
        .remove("callStartTimestamp");
    call["callStartTimeStamp"] = start;
    misspelt["agencyComponent"][0]["updatedByAgencyReference"]["$reference"] = json!("state.pa.us");
    let paths = problem_paths(&misspelt);
    assert!(
        paths.contains(&"/callComponent/0/callStartTimeStamp".to_owned()),
        "the misspelt key is named: {paths:?}"
    );
    assert!(
        paths.contains(&"/agencyComponent/0/updatedByAgencyReference/$reference".to_owned()),
        "a misspelt key inside a reference is named: {paths:?}"
    );
    // The required callStartTimestamp is now missing: the schema itself says so, at the call.
    assert!(paths.contains(&"/callComponent/0".to_owned()), "{paths:?}");

    // Wrong types and values: a number for a string, an unknown enum value, a bad date-time.
    let mut wrong = sample.clone();
    wrong["issuingElementIdentification"] = json!(42);
    wrong["callComponent"][0]["direction"] = json!("sideways");
    wrong["callComponent"][0]["answerDate"] = json!("yesterday at noon");
    wrong["agencyComponent"][0]["agencyType"] = json!("psap");
    let paths = problem_paths(&wrong);
    for expected in [
        "/issuingElementIdentification",
        "/callComponent/0/direction",
        "/callComponent/0/answerDate",
        "/agencyComponent/0/agencyType",
    ] {
        assert!(
            paths.contains(&expected.to_owned()),
            "{expected} is named: {paths:?}"
        );
    }
    assert_eq!(paths.len(), 4, "nothing else is wrong: {paths:?}");

    // A document that is not an EIDO at all misses the required parts.
    let problems = eido_problems(&json!({"eidoVersion": "2.0"})).expect("the schema");
    assert!(
        problems.iter().any(|p| p.path == "/eidoVersion"),
        "an unknown version is refused: {problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.path.is_empty() && p.message.contains("agencyComponent")),
        "the missing agencies are named: {problems:?}"
    );
}

#[test]
#[should_panic(expected = "/callComponent/0/callStartTimeStamp")]
fn assert_valid_eido_fails_naming_the_path() {
    let Some(mut sample) = nena_sample() else {
        panic!("(skipped) /callComponent/0/callStartTimeStamp");
    };
    sample["callComponent"][0]["callStartTimeStamp"] = json!("2021-04-30T14:40:00.0-04:00");
    assert_valid_eido(&sample);
}

/// The incident as GetIncidentEido answers it, checked against NENA's schema, as JSON.
async fn eido_of(server: &TestServer, incident: &str) -> Value {
    let response = server
        .exchange()
        .get_incident_eido(pb::GetIncidentEidoRequest {
            name: incident.into(),
        })
        .await
        .expect("GetIncidentEido")
        .into_inner();
    let eido: Value = serde_json::from_str(&response.eido_json).expect("the EIDO is JSON");
    assert_valid_eido(&eido);
    assert_eq!(eido["$id"], response.incident_tracking_id);
    assert!(!response.etag.is_empty() && response.incident_etag.starts_with('v'));
    eido
}

const DOMAIN: &str = "c5.test.mx";

async fn server() -> TestServer {
    TestServer::start_with(Config {
        centre_domain: DOMAIN.into(),
        ..Config::defaults()
    })
    .await
}

fn tracking_id(incident: &str) -> String {
    let uuid = incident
        .strip_prefix("incidents/")
        .expect("an incident name");
    format!(
        "urn:emergency:uid:incidentid:{}:{DOMAIN}",
        uuid.replace('-', "")
    )
}

fn array<'a>(eido: &'a Value, key: &str) -> &'a Vec<Value> {
    eido[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array: {eido}"))
}

/// The component of `key` whose `$id` is `id`.
fn component<'a>(eido: &'a Value, key: &str, id: &Value) -> &'a Value {
    array(eido, key)
        .iter()
        .find(|c| &c["$id"] == id)
        .unwrap_or_else(|| panic!("no {key} with $id {id}"))
}

/// The emergency resource named `call_sign`.
fn resource<'a>(eido: &'a Value, call_sign: &str) -> &'a Value {
    array(eido, "emergencyResourceComponent")
        .iter()
        .find(|r| r["emergencyResourceName"] == call_sign)
        .unwrap_or_else(|| panic!("no unit {call_sign} in {eido}"))
}

/// A call as a call taker records it: `number` to call back, `account` told.
fn call(number: &str, account: &str, at: (f64, f64), uncertainty_m: f64) -> pb::CreateCallRequest {
    pb::CreateCallRequest {
        callback_number: number.into(),
        account: account.into(),
        caller_name: "Rosa Martínez".into(),
        incident_type_hint: "FIRE-STRUCTURE".into(),
        ..call_at(at, uncertainty_m)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_is_a_valid_eido_that_carries_its_calls_units_notes_merge_and_closing() {
    let server = server().await;
    let scene = Scene::new(&server).await;
    let (_, taker) = server.person(pb::Role::CallTaker, "taker").await;
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "dispatcher").await;

    // Opened from a call: already an EIDO, with its one call.
    let first = create_call_as(
        &server,
        &taker,
        call(
            "+525511112222",
            "Smoke from a flat <3rd floor>",
            ZOCALO,
            25.0,
        ),
    )
    .await
    .call
    .expect("call");
    let incident = open_incident_as(&server, &taker, &first.name, "FIRE-STRUCTURE").await;
    let eido = eido_of(&server, &incident.name).await;
    assert_eq!(eido["$id"], tracking_id(&incident.name));
    assert_eq!(array(&eido, "callComponent").len(), 1);
    assert_eq!(
        eido["incidentComponent"]["incidentStatusInternalText"],
        json!(["new"])
    );

    // A second caller, a note from each of two people, two units sent, one en route, one on scene.
    let second = create_call_as(
        &server,
        &taker,
        call(
            "*765",
            "Neighbour: people on the balcony",
            offset(ZOCALO, 0.05, 0.0),
            120.0,
        ),
    )
    .await
    .call
    .expect("call");
    server
        .calls_as(&taker)
        .link_call_to_incident(pb::LinkCallToIncidentRequest {
            request_id: request_id(),
            name: second.name.clone(),
            incident: incident.name.clone(),
            note: String::new(),
            etag: String::new(),
        })
        .await
        .expect("link");
    for (token, text) in [
        (&taker, "Caller hears children"),
        (&dispatcher, "Gas company called"),
    ] {
        server
            .triage_as(token)
            .add_incident_note(pb::AddIncidentNoteRequest {
                request_id: request_id(),
                name: incident.name.clone(),
                text: text.into(),
            })
            .await
            .expect("note");
    }
    let patrol = &scene.patrols[0];
    let ambulance = &scene.ambulances[0];
    server
        .units_as(&dispatcher)
        .assign_units(assign_request(
            &incident.name,
            &[&patrol.name, &ambulance.name],
            "",
            "nearest by the map",
        ))
        .await
        .expect("assign");
    set_status(&server, &patrol.name, pb::UnitStatus::EnRoute).await;
    set_status(&server, &ambulance.name, pb::UnitStatus::EnRoute).await;
    set_status(&server, &ambulance.name, pb::UnitStatus::OnScene).await;

    let eido = eido_of(&server, &incident.name).await;
    let calls = array(&eido, "callComponent");
    assert_eq!(calls.len(), 2);
    for (call, sent) in calls.iter().zip([&first, &second]) {
        assert_eq!(call["direction"], "incoming");
        assert_eq!(call["localCallType"], "voice_911");
        let received = sent.received_time.as_ref().expect("received");
        let start =
            chrono::DateTime::parse_from_rfc3339(call["callStartTimestamp"].as_str().unwrap())
                .expect("an RFC 3339 time");
        assert_eq!(
            start.timestamp(),
            received.seconds,
            "the call's start is when it was received"
        );
        let callback = component(
            &eido,
            "callbackComponent",
            &call["callBackReference"]["$ref"],
        );
        let number = &sent.callback_number;
        let expected = if number.starts_with('+') {
            format!("tel:{number}")
        } else {
            format!("tel:{number};phone-context={DOMAIN}")
        };
        assert_eq!(callback["callBackInformationUri"], json!([expected]));
        // The caller's location with its uncertainty, as PIDF-LO.
        let location = component(
            &eido,
            "locationComponent",
            &call["locationReference"][0]["$ref"],
        );
        assert_eq!(location["locationTypeDescriptionRegistryText"], "Caller");
        let pidf = location["locationByValue"].as_str().expect("PIDF-LO");
        let radius = sent.location.as_ref().expect("location").uncertainty_m;
        assert!(
            pidf.contains(&format!(">{radius}</gs:radius>")),
            "the uncertainty {radius} m is the circle's radius: {pidf}"
        );
        let caller = component(
            &eido,
            "personComponent",
            &call["personReference"][0]["$ref"],
        );
        assert_eq!(
            caller["ncPersonComponent"]["name"][0]["personFullName"][0]["value"],
            "Rosa Martínez"
        );
    }
    let account = component(
        &eido,
        "notesComponent",
        &calls[0]["notesReference"][0]["$ref"],
    );
    assert_eq!(
        account["notesActionComments"],
        "Smoke from a flat &lt;3rd floor&gt;"
    );

    let en_route = resource(&eido, &patrol.call_sign);
    assert_eq!(
        en_route["secondaryUnitStatusRegistryText"],
        json!(["Enroute"])
    );
    assert_eq!(en_route["primaryUnitStatusRegistryText"], "Not Available");
    let on_scene = resource(&eido, &ambulance.call_sign);
    assert_eq!(
        on_scene["secondaryUnitStatusRegistryText"],
        json!(["On Scene"])
    );
    assert_eq!(
        on_scene["emergencyResourceTypeInternalText"],
        "als_ambulance"
    );
    let history: Vec<&str> = on_scene["notesReference"]
        .as_array()
        .expect("history")
        .iter()
        .map(|r| {
            component(&eido, "notesComponent", &r["$ref"])["notesActionComments"]
                .as_str()
                .unwrap()
        })
        .collect();
    let sign = &ambulance.call_sign;
    assert_eq!(
        history,
        [
            format!("{sign} dispatched"),
            format!("{sign} enroute"),
            format!("{sign} on scene")
        ]
    );
    // Each unit's dispatch: its agency, who sent it, and why not as recommended.
    let dispatches = array(&eido, "dispatchComponent");
    assert_eq!(dispatches.len(), 2);
    let agency_ids: Vec<&Value> = dispatches
        .iter()
        .map(|d| &d["agencyReference"]["$ref"])
        .collect();
    assert!(
        agency_ids.contains(&&json!(format!("SSC.{DOMAIN}"))),
        "{agency_ids:?}"
    );
    assert!(
        agency_ids.contains(&&json!(format!("ERUM.{DOMAIN}"))),
        "{agency_ids:?}"
    );
    for dispatch in dispatches {
        let agent = component(&eido, "agentComponent", &dispatch["agentReference"]["$ref"]);
        assert_eq!(agent["agentRoleRegistryText"], json!(["Dispatching"]));
        let why = component(
            &eido,
            "notesComponent",
            &dispatch["notesReference"][0]["$ref"],
        );
        assert!(
            why["notesActionComments"]
                .as_str()
                .unwrap()
                .ends_with("nearest by the map")
        );
    }
    // The agencies: the centre, owning, and the two that responded.
    let agencies: Vec<(&Value, &Value)> = array(&eido, "agencyComponent")
        .iter()
        .map(|a| (&a["$id"], &a["agencyType"]))
        .collect();
    assert_eq!(
        agencies,
        [
            (&json!(DOMAIN), &json!(["psap"])),
            (&json!(format!("ERUM.{DOMAIN}")), &json!(["ems"])),
            (&json!(format!("SSC.{DOMAIN}")), &json!(["police"])),
        ]
    );
    // The two notes, each with its author as an agent of the role that wrote it.
    let notes = &eido["incidentComponent"]["notesReference"];
    let mut authors = Vec::new();
    for reference in notes.as_array().expect("notes") {
        let note = component(&eido, "notesComponent", &reference["$ref"]);
        let Some(author) = note.get("agentReference") else {
            continue;
        };
        let agent = component(&eido, "agentComponent", &author["$ref"]);
        authors.push((
            note["notesActionComments"].as_str().unwrap().to_owned(),
            agent["agentRoleRegistryText"][0]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    assert!(
        authors.contains(&("Caller hears children".into(), "Call Taking".into())),
        "{authors:?}"
    );
    assert!(
        authors.contains(&("Gas company called".into(), "Dispatching".into())),
        "{authors:?}"
    );

    // A duplicate incident merged in: both EIDOs say so, each from its side.
    let duplicate = open_from(
        &server,
        call(
            "+525533334444",
            "Fire seen from the street",
            offset(ZOCALO, 0.1, 0.1),
            40.0,
        ),
        "FIRE-STRUCTURE",
    )
    .await;
    server
        .triage_as(&dispatcher)
        .merge_incidents(pb::MergeIncidentsRequest {
            request_id: request_id(),
            survivor: incident.name.clone(),
            duplicate: duplicate.name.clone(),
            note: "same fire".into(),
            ..Default::default()
        })
        .await
        .expect("merge");
    let eido = eido_of(&server, &incident.name).await;
    assert_eq!(
        array(&eido, "callComponent").len(),
        3,
        "the duplicate's call came along"
    );
    assert_eq!(
        eido["mergeComponent"],
        json!([{
            "$id": format!("{}:merge:{}", tracking_id(&incident.name), tracking_id(&duplicate.name).split(':').nth(4).unwrap()),
            "lastUpdateTimeStamp": eido["mergeComponent"][0]["lastUpdateTimeStamp"],
            "updatedByAgencyReference": { "$ref": DOMAIN },
            "updatedByAgentReference": eido["mergeComponent"][0]["updatedByAgentReference"],
            "incidentTrackingIdentifier": tracking_id(&duplicate.name),
            "incidentMergeDirectionCode": "REPLACING",
        }])
    );
    let merged = eido_of(&server, &duplicate.name).await;
    assert_eq!(
        merged["mergeComponent"][0]["incidentMergeDirectionCode"],
        "REPLACED"
    );
    assert_eq!(
        merged["mergeComponent"][0]["incidentTrackingIdentifier"],
        tracking_id(&incident.name)
    );
    assert_eq!(
        merged["incidentComponent"]["dispositionComponent"][0]["dispositionCategoryText"],
        "duplicate"
    );

    // Units cleared, the incident closed with its code: the disposition, and the units' last word.
    set_status(&server, &patrol.name, pb::UnitStatus::Available).await;
    set_status(&server, &ambulance.name, pb::UnitStatus::Available).await;
    close_incident(
        &server,
        &incident.name,
        pb::ClosingCode::Confirmed,
        "Fire out, 2 treated",
    )
    .await
    .expect("close");
    let eido = eido_of(&server, &incident.name).await;
    let closed = &eido["incidentComponent"];
    assert_eq!(closed["incidentStatusInternalText"], json!(["closed"]));
    let disposition = &closed["dispositionComponent"][0];
    assert_eq!(disposition["dispositionCategoryText"], "confirmed");
    assert_eq!(
        disposition["dispositionDescriptionText"],
        "Fire out, 2 treated"
    );
    assert_eq!(
        resource(&eido, &ambulance.call_sign)["secondaryUnitStatusRegistryText"],
        json!(["Cleared"])
    );
    assert_eq!(
        resource(&eido, &ambulance.call_sign)["primaryUnitStatusRegistryText"],
        "Available"
    );

    // dispatchctl prints the same document.
    let address = format!("http://{}", server.address);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(
        [
            "dispatchctl",
            "--server",
            &address,
            "--token",
            &server.token,
            "incident",
            "eido",
            &incident.name,
        ],
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let printed: Value = serde_json::from_slice(&out).expect("dispatchctl prints the EIDO as JSON");
    assert_valid_eido(&printed);
    assert_eq!(printed, eido);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_roles_that_handle_incidents_get_an_eido() {
    let server = server().await;
    let incident = incident_at(&server, ZOCALO).await;
    let request = || pb::GetIncidentEidoRequest {
        name: incident.name.clone(),
    };
    for role in [
        pb::Role::CallTaker,
        pb::Role::Dispatcher,
        pb::Role::Supervisor,
    ] {
        let (_, token) = server.person(role, "allowed").await;
        server
            .exchange_as(&token)
            .get_incident_eido(request())
            .await
            .expect("allowed");
    }
    let scene = Scene::new(&server).await;
    let (_, field_unit) = server
        .principal(
            pb::Role::FieldUnit,
            "unit",
            Some(&scene.patrols[0].name),
            None,
        )
        .await;
    let (_, gateway) = server.person(pb::Role::Gateway, "gateway").await;
    let (_, video) = server.person(pb::Role::VideoOperator, "video").await;
    for token in [&field_unit, &gateway, &video] {
        let refused = server
            .exchange_as(token)
            .get_incident_eido(request())
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    }
    let missing = server
        .exchange()
        .get_incident_eido(pb::GetIncidentEidoRequest {
            name: "incidents/00000000-0000-0000-0000-000000000000".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let invalid = server
        .exchange()
        .get_incident_eido(pb::GetIncidentEidoRequest {
            name: "calls/x".into(),
        })
        .await
        .expect_err("not an incident name");
    assert_eq!(violated_fields(&invalid), ["name"]);
}
