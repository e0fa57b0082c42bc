use chrono::TimeZone as _;
use proptest::prelude::*;

use super::*;

fn catalogue() -> Catalogue {
    Catalogue::from_toml(include_str!("../../../../../catalogue/incident_types.toml")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 6, 0, 0).unwrap()
}

fn fallback() -> Location {
    Location::new(
        GeoPoint::new(39.74, -75.55),
        50_000.0,
        Some(LocationSource::Dispatcher),
        String::new(),
    )
    .unwrap()
}

const CIRCLE: &str = "<presence xmlns='urn:ietf:params:xml:ns:pidf' \
    xmlns:gml='http://www.opengis.net/gml' xmlns:gs='http://www.opengis.net/pidflo/1.0'>\
    <gs:Circle><gml:pos>19.4326 -99.1332</gml:pos><gs:radius uom='urn:ogc:def:uom:EPSG::9001'>\
    25</gs:radius></gs:Circle><civicAddress><A3>CDMX</A3><RD>Eje Central</RD><HNO>12</HNO>\
    </civicAddress><method>GPS</method></presence>";

fn prologue(id: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("$id".into(), id.into());
    map.insert("lastUpdateTimeStamp".into(), "2026-12-04T05:00:00Z".into());
    map.insert(
        "updatedByAgencyReference".into(),
        serde_json::json!({"$ref": "psap.example.org"}),
    );
    map
}

fn with(id: &str, fields: Value) -> Value {
    let mut map = prologue(id);
    map.extend(fields.as_object().unwrap().clone());
    Value::Object(map)
}

/// A complete EIDO of our own making: a typed incident at a circle, one call, one note.
fn document() -> Value {
    with(
        "urn:emergency:uid:incidentid:abc:psap.example.org",
        serde_json::json!({
            "eidoVersion": "1.0",
            "issuingElementIdentification": "cad.psap.example.org",
            "incidentComponent": with("inc-1", serde_json::json!({
                "incidentTypeCommonRegistryText": "MVAINJY",
                "incidentCommonPriorityNumber": 7,
                "locationReference": [{"$ref": "loc-1"}],
            })),
            "callComponent": [with("call-1", serde_json::json!({
                "standardPrimaryCallType": "emergency",
                "direction": "incoming",
                "callStartTimestamp": "2026-12-03T22:50:00-06:00",
                "answerDate": "2026-12-03T22:50:09-06:00",
                "callStateRegistryText": "callEnd",
                "callBackReference": {"$ref": "cb-1"},
                "locationReference": [{"$ref": "loc-1"}],
            }))],
            "callbackComponent": [with("cb-1", serde_json::json!({
                "callBackInformationUri": ["sip:someone@example.org", "tel:+525512345678;ext=1"],
            }))],
            "agencyComponent": [with("psap.example.org", serde_json::json!({
                "agencyRoleDescriptionRegistryText": ["CallReceiving"],
                "agencyType": ["psap"],
            }))],
            "agentComponent": [with("ana@psap.example.org", serde_json::json!({
                "agentRoleRegistryText": ["Call Taking"],
                "agencyReference": {"$ref": "psap.example.org"},
            }))],
            "notesComponent": [with("note-1", serde_json::json!({
                "notesActionComments": "Two cars, one driver hurt",
                "agentReference": {"$ref": "ana@psap.example.org"},
            }))],
            "locationComponent": [with("loc-1", serde_json::json!({
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": CIRCLE,
            }))],
        }),
    )
}

fn read_value(value: &Value) -> Result<EidoImport, Violations> {
    read(&value.to_string(), None, &catalogue(), now())
}

fn paths(violations: &Violations) -> Vec<&str> {
    violations.iter().map(|v| v.field.as_str()).collect()
}

#[test]
fn a_complete_eido_reads_into_an_import() {
    let import = read_value(&document()).unwrap();
    assert_eq!(
        import.tracking_id,
        "urn:emergency:uid:incidentid:abc:psap.example.org"
    );
    assert_eq!(
        import.version,
        Utc.with_ymd_and_hms(2026, 12, 4, 5, 0, 0).unwrap()
    );
    assert_eq!(import.incident_type.as_deref(), Some("TRAFFIC-INJURY"));
    assert_eq!(import.foreign_type.common, "MVAINJY");
    assert_eq!(import.priority, Some(7));
    assert_eq!(
        import.location.point,
        GeoPoint::new(19.4326, -99.1332).unwrap()
    );
    assert_eq!(import.location.uncertainty_m, 25.0);
    assert_eq!(import.location.source, LocationSource::Device);
    assert_eq!(import.location.civic_address, "12 Eje Central, CDMX");
    let [call] = import.calls.as_slice() else {
        panic!("{:?}", import.calls)
    };
    assert_eq!(call.foreign_id, "call-1");
    assert!(call.call.back_entered);
    assert_eq!(
        call.call.received_at,
        Utc.with_ymd_and_hms(2026, 12, 4, 4, 50, 0).unwrap()
    );
    assert_eq!(
        call.call.callback_number.as_ref().unwrap().as_str(),
        "+525512345678"
    );
    let [note] = import.notes.as_slice() else {
        panic!()
    };
    assert_eq!(note.author, "ana@psap.example.org");
    assert_eq!(note.text, "Two cars, one driver hurt");
}

#[test]
fn our_own_type_code_as_the_internal_code_wins_over_the_common_type() {
    let mut eido = document();
    eido["incidentComponent"]["incidentTypeInternalCode"] = "TRAFFIC-TRAPPED".into();
    let import = read_value(&eido).unwrap();
    assert_eq!(import.incident_type.as_deref(), Some("TRAFFIC-TRAPPED"));
    assert_eq!(import.foreign_type.internal_code, "TRAFFIC-TRAPPED");
    eido["incidentComponent"]["incidentTypeInternalCode"] = "XYZ".into();
    eido["incidentComponent"]["incidentTypeCommonRegistryText"] = "PARKING".into();
    let import = read_value(&eido).unwrap();
    assert_eq!(
        import.incident_type, None,
        "unmapped: untyped, the original kept"
    );
    assert_eq!(import.foreign_type.common, "PARKING");
}

#[test]
fn malformed_json_names_its_line_and_column() {
    let error = read("{\n  \"$id\": \"x\",\n  oops\n}", None, &catalogue(), now()).unwrap_err();
    let [violation] = error.iter().collect::<Vec<_>>()[..] else {
        panic!("{error}")
    };
    assert_eq!(violation.field, "$");
    assert!(
        violation.description.contains("line 3, column 3"),
        "{}",
        violation.description
    );
}

#[test]
fn every_schema_problem_is_named_by_its_path() {
    let mut eido = document();
    eido.as_object_mut()
        .unwrap()
        .remove("issuingElementIdentification");
    eido["eidoVersion"] = "2.0".into();
    eido["callComponent"][0]["callStartTimestamp"] = "yesterday".into();
    eido["callComponent"][0]["direction"] = 3.into();
    eido["incidentComponent"]["incidentTypeComonRegistryText"] = "typo".into();
    eido["notesComponent"][0]
        .as_object_mut()
        .unwrap()
        .remove("$id");
    eido["agencyComponent"] = "psap".into();
    let error = read_value(&eido).unwrap_err();
    let mut found = paths(&error);
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "$.agencyComponent",
            "$.callComponent[0].callStartTimestamp",
            "$.callComponent[0].direction",
            "$.eidoVersion",
            "$.incidentComponent.incidentTypeComonRegistryText",
            "$.issuingElementIdentification",
            "$.notesComponent[0].$id",
        ],
        "{error}"
    );
}

#[test]
fn a_misspelt_key_is_refused_with_the_right_spelling() {
    let mut eido = document();
    eido["callComponent"][0]["callstarttimestamp"] = "2026-12-04T04:50:00Z".into();
    let error = read_value(&eido).unwrap_err();
    let [violation] = error.iter().collect::<Vec<_>>()[..] else {
        panic!("{error}")
    };
    assert_eq!(violation.field, "$.callComponent[0].callstarttimestamp");
    assert!(
        violation.description.contains("\"callStartTimestamp\""),
        "{error}"
    );
}

#[test]
fn what_the_schema_cannot_say_is_checked_too() {
    let mut eido = document();
    eido["locationComponent"][0]["locationByValue"] = CIRCLE.replace("19.4326", "95.5").into();
    eido["callComponent"][0]["callBackReference"]["$ref"] = "nowhere".into();
    eido["callComponent"][0]["callStartTimestamp"] = "2027-01-01T00:00:00Z".into();
    eido["callComponent"][0]["answerDate"] = "2027-01-01T00:00:09Z".into();
    eido["incidentComponent"]["incidentCommonPriorityNumber"] = 42.into();
    eido["notesComponent"][0]["notesActionComments"] = "x".repeat(MAX_NOTE_CHARS + 1).into();
    let error = read_value(&eido).unwrap_err();
    let mut found = paths(&error);
    found.sort_unstable();
    found.dedup();
    assert_eq!(
        found,
        [
            "$.callComponent[0].answerDate",
            "$.callComponent[0].callBackReference",
            "$.callComponent[0].callStartTimestamp",
            "$.incidentComponent.incidentCommonPriorityNumber",
            "$.locationComponent",
            "$.locationComponent[0].locationByValue",
            "$.notesComponent[0].notesActionComments",
        ],
        "{error}"
    );
}

#[test]
fn without_coordinates_the_fallback_places_it_and_the_civic_address_is_kept() {
    let mut eido = document();
    eido["locationComponent"][0]["locationByValue"] =
        "<civicAddress><A3>Wilmington</A3><RD>Cellular</RD><HNO>42</HNO></civicAddress>".into();
    let error = read_value(&eido).unwrap_err();
    assert_eq!(paths(&error), ["$.locationComponent"]);
    let import = read(&eido.to_string(), Some(&fallback()), &catalogue(), now()).unwrap();
    assert_eq!(import.location.point, fallback().point);
    assert_eq!(import.location.uncertainty_m, 50_000.0);
    assert_eq!(import.location.civic_address, "42 Cellular, Wilmington");
    assert_eq!(
        import.calls[0].call.location.civic_address,
        "42 Cellular, Wilmington"
    );
}

#[test]
fn nenas_sample_reads_when_it_is_there() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/standards/eido/sample-call-transfer.json"
    );
    let Ok(sample) = std::fs::read_to_string(path) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{path} is missing under CI"
        );
        eprintln!("skipped: {path} is missing");
        return;
    };
    let import = read(&sample, Some(&fallback()), &catalogue(), now()).unwrap();
    assert_eq!(
        import.tracking_id,
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    );
    assert_eq!(
        import.location.civic_address,
        "42 W Cellular Street, Wilmington, DE, US"
    );
    assert_eq!(import.calls.len(), 1);
    assert_eq!(
        import.calls[0]
            .call
            .callback_number
            .as_ref()
            .unwrap()
            .as_str(),
        "8195551212"
    );
    assert_eq!(import.incident_type, None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_input_panics(text in "\\PC{0,400}") {
        let _ = read(&text, Some(&fallback()), &catalogue(), now());
    }

    #[test]
    fn no_change_to_a_valid_document_panics(
        key in "[a-zA-Z$@]{1,12}",
        value in prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC{0,40}".prop_map(Value::from),
            Just(serde_json::json!([{"$ref": 1}])),
            Just(serde_json::json!({})),
        ],
        component in 0usize..8,
    ) {
        let mut eido = document();
        let target = match component {
            0 => &mut eido,
            1 => &mut eido["incidentComponent"],
            2 => &mut eido["callComponent"][0],
            3 => &mut eido["callbackComponent"][0],
            4 => &mut eido["notesComponent"][0],
            5 => &mut eido["locationComponent"][0],
            6 => &mut eido["agentComponent"][0],
            _ => &mut eido["callComponent"][0]["callBackReference"],
        };
        target[key.as_str()] = value;
        let _ = read(&eido.to_string(), None, &catalogue(), now());
    }
}

#[test]
fn notes_are_read_as_plain_text_and_our_own_escaping_round_trips() {
    let said = "Caller says: \"fire & smoke\" <2nd floor>, it's 'bad'";
    assert_eq!(plain_text(&crate::eido::html_text(said)), said);
    assert_eq!(
        plain_text("<p>One</p><p>Two<br/>three &#x263A; &#9731;</p>"),
        "One\nTwo\nthree \u{263a} \u{2603}"
    );
    assert_eq!(plain_text("AT&T &bogus; <b>x"), "AT&T &bogus; x");
    assert_eq!(
        plain_text("5 < 6, no tag"),
        "5 < 6, no tag",
        "a lone < is text"
    );
}
