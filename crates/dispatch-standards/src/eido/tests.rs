use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use dispatch_domain::assignment::Assignment;
use dispatch_domain::auth::Role;
use dispatch_domain::call::{Call, CallState, CallbackNumber, Channel, NewCall};
use dispatch_domain::directory::{Agency, AgencyKind, NewAgency, UnitType};
use dispatch_domain::ids::{AgencyId, CallId, IncidentId, PrincipalId, UnitId};
use dispatch_domain::incident::{ClosingCode, Incident, IncidentStatus, Note};
use dispatch_domain::location::{GeoPoint, Location, LocationSource};
use dispatch_domain::principal::Principal;

use super::*;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap() + Duration::minutes(minute)
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn location(lat: f64, lon: f64, uncertainty_m: f64, source: LocationSource) -> Location {
    Location::new(
        GeoPoint::new(lat, lon),
        uncertainty_m,
        Some(source),
        "Eje Central 12 <Centro>".into(),
    )
    .unwrap()
}

fn call(n: u128, minute: i64, number: &str, channel: Channel, taker: &str) -> Call {
    Call {
        id: CallId(id(n)),
        folio: format!("C5-{n}"),
        state: CallState::Linked,
        call_taker: taker.into(),
        incident: Some(IncidentId(id(1))),
        disposition: None,
        disposition_note: String::new(),
        details: NewCall {
            channel,
            received_at: at(minute),
            answered_at: Some(at(minute) + Duration::seconds(4)),
            back_entered: false,
            callback_number: Some(CallbackNumber::parse(number).unwrap()),
            caller_name: "María López".into(),
            language: "es".into(),
            location: location(19.4326, -99.1332, 35.0, LocationSource::Device),
            account: "Smoke from the second floor & people inside".into(),
            incident_type_hint: String::new(),
            source_device_id: String::new(),
        },
        created_at: at(minute),
        updated_at: at(minute + 1),
        version: 1,
        operation: None,
    }
}

fn principal(n: u128, name: &str, role: Role, agency: Option<AgencyId>) -> Principal {
    Principal {
        id: PrincipalId(id(n)),
        name: name.into(),
        display_name: format!("{name} (display)"),
        role,
        agency,
        unit: None,
        partner: None,
        created_by: "bootstrap-admin".into(),
        created_at: at(-100),
        updated_at: at(-100),
        disabled_at: None,
        version: 1,
    }
}

const TAKER: &str = "principals/00000000-0000-0000-0000-000000000065";
const DISPATCHER: &str = "principals/00000000-0000-0000-0000-000000000066";

fn record() -> IncidentRecord {
    let fire = AgencyId(id(50));
    let incident = Incident {
        id: IncidentId(id(1)),
        folio: "INC-20261204-0001".into(),
        status: IncidentStatus::Closed,
        incident_type: Some("FIRE-STRUCTURE".into()),
        priority: Some(8),
        location: location(19.4327, -99.1331, 0.0, LocationSource::Dispatcher),
        summary: "Fire in a flat".into(),
        linked_call_count: 2,
        first_call_at: at(0),
        last_call_at: at(3),
        closing_code: Some(ClosingCode::Confirmed),
        duplicate_of: None,
        created_by: TAKER.into(),
        created_at: at(1),
        updated_at: at(40),
        closed_at: Some(at(40)),
        version: 9,
        triage: None,
        status_at: at(40),
        closing_note: "Fire out, two people treated".into(),
        operation: None,
    };
    let assignment = Assignment {
        incident: incident.id,
        unit: UnitId(id(70)),
        agency: fire,
        call_sign: "E-12".into(),
        unit_type: UnitType::Engine,
        capabilities: vec!["engine".into(), "extrication".into()],
        recommendation: None,
        override_reason: String::new(),
        assigned_by: DISPATCHER.into(),
        dispatched_at: at(5),
        en_route_at: Some(at(6)),
        on_scene_at: Some(at(12)),
        transporting_at: None,
        at_hospital_at: None,
        cleared_at: None,
        released_at: None,
        release_reason: String::new(),
    };
    IncidentRecord {
        incident_type: None,
        calls: vec![
            call(10, 0, "+525512345678", Channel::Voice911, TAKER),
            call(11, 3, "*765", Channel::Text, "bootstrap-admin"),
        ],
        notes: vec![
            Note {
                author: TAKER.into(),
                text: "Caller says <b>two</b> people".into(),
                created_at: at(2),
            },
            Note {
                author: DISPATCHER.into(),
                text: "Gas shut off".into(),
                created_at: at(15),
            },
        ],
        assignments: vec![assignment],
        agencies: vec![Agency {
            id: fire,
            details: NewAgency::new(
                "BOMBEROS".into(),
                "Heroico Cuerpo de Bomberos".into(),
                Some(AgencyKind::Fire),
            )
            .unwrap(),
            created_at: at(-200),
            updated_at: at(-200),
        }],
        principals: vec![
            principal(0x65, "maria.taker", Role::CallTaker, None),
            principal(0x66, "juan.dispatch", Role::Dispatcher, None),
        ],
        merges: vec![Merge {
            other: IncidentId(id(2)),
            direction: MergeDirection::Replacing,
            at: at(8),
            actor: DISPATCHER.into(),
        }],
        incident,
    }
}

fn centre() -> Centre {
    Centre {
        domain: "c5.example.mx".into(),
    }
}

fn json(record: &IncidentRecord) -> Value {
    serde_json::to_value(incident_eido(&centre(), record)).unwrap()
}

/// Every `$ref` of the document, with where it is.
fn references(value: &Value, path: &str, into: &mut Vec<(String, String)>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                if key == "$ref" {
                    into.push((path.to_owned(), child.as_str().unwrap().to_owned()));
                } else {
                    references(child, &format!("{path}/{key}"), into);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                references(item, &format!("{path}/{index}"), into);
            }
        }
        _ => {}
    }
}

fn ids(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                if key == "$id" {
                    assert!(
                        into.insert(child.as_str().unwrap().to_owned()),
                        "$id {child} twice"
                    );
                } else {
                    ids(child, into);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| ids(item, into)),
        _ => {}
    }
}

#[test]
fn every_reference_names_a_component_of_the_document_and_every_id_is_unique() {
    let eido = json(&record());
    let mut known = BTreeSet::new();
    ids(&eido, &mut known);
    let mut refs = Vec::new();
    references(&eido, "", &mut refs);
    assert!(refs.len() > 30, "{refs:?}");
    for (path, target) in refs {
        assert!(
            known.contains(&target),
            "{path} refers to {target}, which is not in the document"
        );
    }
}

#[test]
fn the_incident_its_calls_units_notes_merge_and_disposition_are_carried() {
    let eido = json(&record());
    let tracking = "urn:emergency:uid:incidentid:00000000000000000000000000000001:c5.example.mx";
    assert_eq!(eido["$id"], tracking);
    assert_eq!(eido["eidoVersion"], "1.0");
    assert_eq!(eido["issuingElementIdentification"], "cad.c5.example.mx");
    assert_eq!(eido["lastUpdateTimeStamp"], "2026-12-04T10:40:00Z");

    let incident = &eido["incidentComponent"];
    assert_eq!(incident["incidentTypeInternalCode"], "FIRE-STRUCTURE");
    assert_eq!(incident["incidentCommonPriorityNumber"], 8);
    assert_eq!(incident["internalIncidentId"], "INC-20261204-0001");
    assert_eq!(
        incident["incidentStatusInternalText"],
        serde_json::json!(["closed"])
    );
    let disposition = &incident["dispositionComponent"][0];
    assert_eq!(disposition["dispositionCategoryText"], "confirmed");
    assert_eq!(
        disposition["dispositionDescriptionText"],
        "Fire out, two people treated"
    );

    let calls = eido["callComponent"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["callStartTimestamp"], "2026-12-04T10:00:00Z");
    assert_eq!(calls[0]["answerDate"], "2026-12-04T10:00:04Z");
    assert_eq!(calls[0]["localCallType"], "voice_911");
    assert_eq!(calls[1]["standardSecondaryCallType"], "text");
    assert_eq!(calls[0]["direction"], "incoming");
    let callbacks: Vec<&Value> = eido["callbackComponent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["callBackInformationUri"][0])
        .collect();
    assert_eq!(
        callbacks,
        ["tel:+525512345678", "tel:*765;phone-context=c5.example.mx"]
    );

    // Locations: the incident's (a point: no uncertainty) and each caller's (a 35 m circle).
    let locations = eido["locationComponent"].as_array().unwrap();
    assert_eq!(locations.len(), 3);
    assert_eq!(
        locations[0]["locationTypeDescriptionRegistryText"],
        "Incident"
    );
    let incident_pidf = locations[0]["locationByValue"].as_str().unwrap();
    assert!(
        incident_pidf.contains("<gml:Point")
            && incident_pidf.contains("<gml:pos>19.4327 -99.1331</gml:pos>")
    );
    let caller_pidf = locations[1]["locationByValue"].as_str().unwrap();
    assert!(
        caller_pidf.contains("<gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">35</gs:radius>"),
        "{caller_pidf}"
    );
    assert!(caller_pidf.contains("<gp:method>GPS</gp:method>"));
    assert_eq!(
        locations[1]["locationDescriptionText"],
        "Eje Central 12 <Centro>"
    );

    // The unit: on scene, its history as notes stamped with each status's time.
    let unit = &eido["emergencyResourceComponent"][0];
    assert_eq!(unit["emergencyResourceName"], "E-12");
    assert_eq!(unit["primaryUnitStatusRegistryText"], "Not Available");
    assert_eq!(
        unit["secondaryUnitStatusRegistryText"],
        serde_json::json!(["On Scene"])
    );
    assert_eq!(unit["lastUpdateTimeStamp"], "2026-12-04T10:12:00Z");
    let notes = eido["notesComponent"].as_array().unwrap();
    let history: Vec<(&str, &str)> = unit["notesReference"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let note = notes.iter().find(|n| n["$id"] == r["$ref"]).unwrap();
            (
                note["notesActionComments"].as_str().unwrap(),
                note["lastUpdateTimeStamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("E-12 dispatched", "2026-12-04T10:05:00Z"),
            ("E-12 enroute", "2026-12-04T10:06:00Z"),
            ("E-12 on scene", "2026-12-04T10:12:00Z"),
        ]
    );
    assert_eq!(
        eido["dispatchComponent"][0]["agencyReference"]["$ref"],
        "BOMBEROS.c5.example.mx"
    );

    // Notes keep their authors, escaped as HTML.
    let note = notes
        .iter()
        .find(|n| n["$id"] == format!("{tracking}:note:1"))
        .unwrap();
    assert_eq!(
        note["notesActionComments"],
        "Caller says &lt;b&gt;two&lt;/b&gt; people"
    );
    assert_eq!(note["agentReference"]["$ref"], "maria.taker@c5.example.mx");

    // Agents: known principals by handle and role, the others by what they did.
    let agents: Vec<(&str, &Value)> = eido["agentComponent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["$id"].as_str().unwrap(), &a["agentRoleRegistryText"]))
        .collect();
    assert_eq!(
        agents,
        [
            (
                "bootstrap-admin@c5.example.mx",
                &serde_json::json!(["Call Taking"])
            ),
            (
                "maria.taker@c5.example.mx",
                &serde_json::json!(["Call Taking"])
            ),
            (
                "juan.dispatch@c5.example.mx",
                &serde_json::json!(["Dispatching"])
            ),
        ]
    );

    let merge = &eido["mergeComponent"][0];
    assert_eq!(merge["incidentMergeDirectionCode"], "REPLACING");
    assert_eq!(
        merge["incidentTrackingIdentifier"],
        "urn:emergency:uid:incidentid:00000000000000000000000000000002:c5.example.mx"
    );

    let agencies: Vec<&Value> = eido["agencyComponent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["$id"])
        .collect();
    assert_eq!(agencies, ["c5.example.mx", "BOMBEROS.c5.example.mx"]);
    assert_eq!(
        eido["personComponent"][0]["ncPersonComponent"]["name"][0]["personFullName"][0]["value"],
        "María López"
    );
}

#[test]
fn an_open_incident_has_no_disposition_and_a_cancelled_one_says_so() {
    let mut record = record();
    record.incident.status = IncidentStatus::OnScene;
    record.incident.closing_code = None;
    record.incident.closing_note.clear();
    record.incident.closed_at = None;
    assert!(
        json(&record)["incidentComponent"]
            .get("dispositionComponent")
            .is_none()
    );

    record.incident.status = IncidentStatus::Cancelled;
    record.incident.closing_note = "caller called back: no fire".into();
    let eido = json(&record);
    let disposition = &eido["incidentComponent"]["dispositionComponent"][0];
    assert_eq!(disposition["dispositionCommonRegistryCode"], "Cancelled");
    assert_eq!(
        disposition["dispositionDescriptionText"],
        "caller called back: no fire"
    );
}

#[test]
fn the_document_reads_back_as_it_was_written() {
    let document = incident_eido(&centre(), &record());
    let text = serde_json::to_string(&document).unwrap();
    let read: EmergencyIncidentDataObject = serde_json::from_str(&text).unwrap();
    assert_eq!(read, document);
    // Absent optional parts are left out, not written as null or [].
    assert!(!text.contains("null") && !text.contains("[]"), "{text}");
}

#[test]
fn ids_stay_the_same_from_one_eido_of_an_incident_to_the_next() {
    let first = json(&record());
    let mut later = record();
    later.notes.push(Note {
        author: TAKER.into(),
        text: "third note".into(),
        created_at: at(30),
    });
    let mut before = BTreeSet::new();
    ids(&first, &mut before);
    let mut after = BTreeSet::new();
    ids(&json(&later), &mut after);
    assert!(before.is_subset(&after));
    assert_eq!(after.len(), before.len() + 1);
}
