use chrono::{FixedOffset, TimeZone as _, Utc};
use dispatch_domain::location::GeoPoint;

use super::*;

fn point(latitude: f64, longitude: f64) -> GeoPoint {
    GeoPoint::new(latitude, longitude).unwrap()
}

fn token(text: &str) -> Token {
    Token::new("t", text).unwrap()
}

fn fields(violations: &Violations) -> Vec<String> {
    violations.iter().map(|v| v.field.clone()).collect()
}

fn sent() -> CapTime {
    let mexico = FixedOffset::west_opt(6 * 3600).unwrap();
    CapTime::new(mexico.with_ymd_and_hms(2026, 12, 4, 5, 30, 7).unwrap())
}

fn info(language: &str, instruction: &str) -> Info {
    Info {
        language: Language::new("language", language).unwrap(),
        categories: vec![Category::Safety, Category::Cbrne],
        event: "Fuga de gas".into(),
        response_types: vec![ResponseType::Evacuate],
        urgency: Urgency::Immediate,
        severity: Severity::Severe,
        certainty: Certainty::Observed,
        event_codes: vec![],
        effective: None,
        expires: Some(CapTime::new(sent().time() + chrono::Duration::hours(2))),
        sender_name: Some("C5 CDMX".into()),
        headline: Some("Gas leak <Roma Norte> & nearby".into()),
        description: None,
        instruction: Some(instruction.into()),
        contact: None,
        parameters: vec![NamedValue {
            name: "incident".into(),
            value: "INC/261204/00001".into(),
        }],
        areas: vec![Area {
            description: "500 m around Álvaro Obregón 100".into(),
            polygons: vec![],
            circles: vec![Circle::new(point(19.4194, -99.1617), 0.5).unwrap()],
        }],
    }
}

fn alert(msg_type: MsgType, references: Vec<Reference>) -> Alert {
    Alert {
        identifier: token("0193a8e2-0000-7000-8000-000000000001"),
        sender: token("alerts@c5.cdmx.example"),
        sent: sent(),
        status: Status::Actual,
        msg_type,
        source: None,
        scope: Scope::Public,
        note: None,
        references,
        incidents: vec![token("INC/261204/00001")],
        infos: vec![
            info("es-MX", "Evacúe la zona."),
            info("en-US", "Leave the area."),
        ],
    }
}

#[test]
fn enums_are_spelt_as_the_xsd_spells_them() {
    assert_eq!(Category::Cbrne.as_str(), "CBRNE");
    assert_eq!(ResponseType::AllClear.as_str(), "AllClear");
    assert_eq!(Urgency::parse("Immediate"), Some(Urgency::Immediate));
    assert_eq!(Urgency::parse("immediate"), None);
    for status in Status::ALL {
        assert_eq!(Status::parse(status.as_str()), Some(*status));
    }
    assert_eq!(Certainty::ALL.len(), 5);
}

#[test]
fn identifiers_and_senders_follow_cap_rules() {
    assert!(Token::new("sender", "alerts@c5.cdmx.example").is_ok());
    for bad in ["", "a b", "a,b", "a<b", "a&b", "a\u{1}b", "a\tb"] {
        let refused = Token::new("sender", bad).unwrap_err();
        assert_eq!(fields(&refused), ["sender"], "{bad:?}");
    }
}

#[test]
fn times_have_whole_seconds_and_a_numeric_offset_utc_as_minus_zero() {
    assert_eq!(sent().to_string(), "2026-12-04T05:30:07-06:00");
    let utc =
        Utc.with_ymd_and_hms(2026, 12, 4, 11, 30, 7).unwrap() + chrono::Duration::milliseconds(250);
    assert_eq!(CapTime::utc(utc).to_string(), "2026-12-04T11:30:07-00:00");
    let read = CapTime::parse("sent", "2003-06-11T20:56:00-07:00").unwrap();
    assert_eq!(read.to_string(), "2003-06-11T20:56:00-07:00");
    for bad in [
        "2003-06-11T20:56:00Z",
        "2003-06-11T20:56:00.5-07:00",
        "2003-06-11 20:56:00-07:00",
        "yesterday",
    ] {
        assert!(CapTime::parse("sent", bad).is_err(), "{bad}");
    }
}

#[test]
fn a_polygon_is_closed_with_at_least_four_points() {
    let ring = vec![
        point(19.0, -99.0),
        point(19.1, -99.0),
        point(19.1, -99.1),
        point(19.0, -99.0),
    ];
    let polygon = Polygon::new(ring.clone()).unwrap();
    assert_eq!(polygon.to_string(), "19,-99 19.1,-99 19.1,-99.1 19,-99");
    let open = Polygon::new(
        ring[..3]
            .iter()
            .copied()
            .chain([point(19.2, -99.2)])
            .collect(),
    );
    assert!(open.unwrap_err().to_string().contains("not closed"));
    let short = Polygon::new(vec![
        point(19.0, -99.0),
        point(19.1, -99.0),
        point(19.0, -99.0),
    ]);
    assert_eq!(fields(&short.unwrap_err()), ["points"]);
}

#[test]
fn a_circle_is_lat_lon_then_radius_in_km_within_range() {
    let circle = Circle::new(point(32.9525, -115.5527), 2.5).unwrap();
    assert_eq!(circle.to_string(), "32.9525,-115.5527 2.5");
    for bad in [0.0, -1.0, MAX_RADIUS_KM + 1.0, f64::NAN, f64::INFINITY] {
        let refused = Circle::new(point(0.0, 0.0), bad).unwrap_err();
        assert_eq!(fields(&refused), ["radius_km"], "{bad}");
    }
}

#[test]
fn languages_are_xs_language_tags() {
    assert_eq!(Language::new("l", "es-MX").unwrap().primary(), "es");
    assert!(Language::new("l", "en").is_ok());
    for bad in ["", "es_MX", "español", "es-", "toolonglanguage"] {
        assert!(Language::new("l", bad).is_err(), "{bad}");
    }
}

#[test]
fn an_update_or_cancel_must_reference_and_an_alert_must_not() {
    assert!(alert(MsgType::Alert, vec![]).validate().is_ok());
    let refused = alert(MsgType::Update, vec![]).validate().unwrap_err();
    assert_eq!(fields(&refused), ["references"]);
    let original = alert(MsgType::Alert, vec![]).reference();
    assert!(
        alert(MsgType::Cancel, vec![original.clone()])
            .validate()
            .is_ok()
    );
    assert!(alert(MsgType::Alert, vec![original]).validate().is_err());
}

#[test]
fn texts_are_checked_with_the_path_of_their_info() {
    let mut bad = alert(MsgType::Alert, vec![]);
    bad.infos[1].instruction = Some("  ".into());
    bad.infos[0].event = "gas\u{7}".into();
    bad.infos[1].language = bad.infos[0].language.clone();
    let refused = bad.validate().unwrap_err();
    assert_eq!(
        fields(&refused),
        ["info[0].event", "info[1].instruction", "info[1].language"]
    );
}

#[test]
fn the_document_follows_the_xsd_order_and_escapes_text() {
    let original = alert(MsgType::Alert, vec![]);
    let mut update = alert(MsgType::Update, vec![original.reference()]);
    update.identifier = token("0193a8e2-0000-7000-8000-000000000002");
    let xml = update.to_xml();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"));
    let order = [
        "<identifier>0193a8e2-0000-7000-8000-000000000002</identifier>",
        "<sender>alerts@c5.cdmx.example</sender>",
        "<sent>2026-12-04T05:30:07-06:00</sent>",
        "<status>Actual</status>",
        "<msgType>Update</msgType>",
        "<scope>Public</scope>",
        "<references>alerts@c5.cdmx.example,0193a8e2-0000-7000-8000-000000000001,2026-12-04T05:30:07-06:00</references>",
        "<incidents>INC/261204/00001</incidents>",
        "<language>es-MX</language>",
        "<category>Safety</category>",
        "<category>CBRNE</category>",
        "<event>Fuga de gas</event>",
        "<responseType>Evacuate</responseType>",
        "<urgency>Immediate</urgency>",
        "<severity>Severe</severity>",
        "<certainty>Observed</certainty>",
        "<expires>2026-12-04T07:30:07-06:00</expires>",
        "<senderName>C5 CDMX</senderName>",
        "<headline>Gas leak &lt;Roma Norte&gt; &amp; nearby</headline>",
        "<instruction>Evacúe la zona.</instruction>",
        "<parameter>",
        "<area>",
        "<areaDesc>500 m around Álvaro Obregón 100</areaDesc>",
        "<circle>19.4194,-99.1617 0.5</circle>",
        "<language>en-US</language>",
        "<instruction>Leave the area.</instruction>",
        "</alert>",
    ];
    let mut from = 0;
    for element in order {
        let at = xml[from..]
            .find(element)
            .unwrap_or_else(|| panic!("{element} missing or out of order in\n{xml}"));
        from += at + element.len();
    }
}

#[test]
fn the_feed_links_each_alert_to_its_cap_document() {
    let original = alert(MsgType::Alert, vec![]);
    let mut cancel = alert(MsgType::Cancel, vec![original.reference()]);
    cancel.identifier = token("second");
    let entry = |a: &Alert, title: &str| atom::Entry {
        id: format!("urn:uuid:{}", a.identifier.as_str()),
        title: title.into(),
        updated: a.sent.to_utc(),
        summary: "Leave the area.".into(),
        cap_url: format!("http://x/cap/alerts/{}.xml", a.identifier.as_str()),
    };
    let feed = atom::Feed {
        id: "http://x/cap/alerts.atom".into(),
        title: "Alerts & warnings".into(),
        self_url: "http://x/cap/alerts.atom".into(),
        author: "C5".into(),
        updated: cancel.sent.to_utc(),
        entries: vec![
            entry(&cancel, "Cancel: Gas leak <Roma Norte> & nearby"),
            entry(&original, "Gas leak"),
        ],
    };
    let xml = feed.to_xml();
    assert!(xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert!(xml.contains("<title>Alerts &amp; warnings</title>"));
    assert!(xml.contains("<updated>2026-12-04T11:30:07Z</updated>"));
    assert!(xml.contains(
        "<link rel=\"alternate\" type=\"application/cap+xml\" href=\"http://x/cap/alerts/second.xml\"/>"
    ));
    assert!(xml.contains("<title>Cancel: Gas leak &lt;Roma Norte&gt; &amp; nearby</title>"));
    assert_eq!(xml.matches("<entry>").count(), 2);
}
