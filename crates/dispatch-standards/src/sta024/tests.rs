//! The STA-024 messages: reading, refusing with the standard's codes, writing.

use dispatch_domain::location::Area;

use super::*;

fn refusal(text: &str) -> ParseError {
    SubscriberMessage::parse(text).unwrap_err()
}

fn subscribe(text: &str) -> Subscribe {
    match SubscriberMessage::parse(text).unwrap() {
        SubscriberMessage::Subscribe(subscribe) => subscribe,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_public_clients_subscribe_is_read() {
    // As Ng911CadIfLib's CadIfWebSocketClient sends it.
    let message = subscribe(
        r#"{"subscribe":{"requestId":"r1","requestType":"eido","requestSubType":"new","subscriptionId":null,"expires":60,"minRate":20}}"#,
    );
    assert_eq!(message.request_id, "r1");
    assert_eq!(message.expires, Some(60));
    let SubscriptionRequest::New(new) = message.request().unwrap() else {
        panic!("a new subscription");
    };
    assert_eq!(new.scope, Scope::Incidents(QualFilter::default()));
    assert_eq!((new.expires_s, new.min_rate_s), (60, Some(20)));
    assert_eq!(new.after_sequence, None);
}

#[test]
fn every_subscriber_message_kind_is_read() {
    assert_eq!(
        SubscriberMessage::parse(r#"{"unsubscribe":{"requestId":"r","subscriptionId":"s"}}"#)
            .unwrap(),
        SubscriberMessage::Unsubscribe(Unsubscribe {
            request_id: "r".into(),
            subscription_id: "s".into()
        })
    );
    assert_eq!(
        SubscriberMessage::parse(
            r#"{"eventResponse":{"transactionId":"t","statusCode":200,"statusText":"OK"}}"#
        )
        .unwrap(),
        SubscriberMessage::EventResponse(EventResponse {
            transaction_id: "t".into(),
            status_code: 200,
            status_text: "OK".into()
        })
    );
    assert!(matches!(
        SubscriberMessage::parse(
            r#"{"terminateResponse":{"requestId":"r","subscriptionId":"s","statusCode":200,"statusText":"OK"}}"#
        ),
        Ok(SubscriberMessage::TerminateResponse(_))
    ));
}

#[test]
fn malformed_messages_name_the_problem_and_get_the_right_answer_object() {
    let error = refusal(r#"{"subscribe":{"requestType":"EIDO"}}"#);
    assert_eq!(error.kind, Some(MessageKind::Subscribe));
    assert_eq!(error.refusal.code, StatusCode::BadRequest);
    assert!(
        error
            .refusal
            .text
            .contains("subscribe.requestId: is required"),
        "{}",
        error.refusal.text
    );
    let answer = error.answer().unwrap().to_json();
    assert!(answer.starts_with(r#"{"subscribeResponse":{"#), "{answer}");
    assert!(answer.contains(r#""statusCode":400"#), "{answer}");

    let error = refusal(r#"{"subscribe":{"requestId":"r9","expires":"soon"}}"#);
    assert_eq!(error.request_id.as_deref(), Some("r9"));
    assert!(
        error
            .refusal
            .text
            .contains("subscribe.expires: must be a whole number")
    );

    let error = refusal(r#"{"unsubscribe":{"requestId":"r"}}"#);
    assert!(
        error
            .refusal
            .text
            .contains("unsubscribe.subscriptionId: is required")
    );
    assert!(
        error
            .answer()
            .unwrap()
            .to_json()
            .starts_with(r#"{"unsubscribeResponse""#)
    );

    let error = refusal("not json");
    assert_eq!(
        (error.kind, error.refusal.code),
        (None, StatusCode::BadRequest)
    );
    assert!(
        error
            .answer()
            .unwrap()
            .to_json()
            .starts_with(r#"{"response""#)
    );

    let error = refusal(r#"{"publish":{"requestId":"r"}}"#);
    assert_eq!(error.refusal.code, StatusCode::NotImplemented);
    assert!(error.refusal.text.contains("publish"));

    let error = refusal(r#"{"subscribe":{"requestId":"a"},"unsubscribe":{}}"#);
    assert_eq!(error.refusal.code, StatusCode::BadRequest);

    // An acknowledgement that cannot be read gets no answer of its own.
    assert_eq!(
        refusal(r#"{"eventResponse":{"statusCode":200}}"#).answer(),
        None
    );
}

#[test]
fn an_oversized_message_is_413() {
    let padding = "x".repeat(MAX_MESSAGE_BYTES);
    let error = refusal(&format!(
        r#"{{"subscribe":{{"requestId":"r","qualFilter":"{padding}"}}}}"#
    ));
    assert_eq!(error.refusal.code, StatusCode::TooLarge);
    assert_eq!(error.kind, Some(MessageKind::Subscribe));
    assert!(
        error
            .answer()
            .unwrap()
            .to_json()
            .contains(r#""statusCode":413"#)
    );
}

fn refused(text: &str) -> Refusal {
    subscribe(text).request().unwrap_err()
}

#[test]
fn what_a_subscribe_may_ask_is_checked_with_the_standards_codes() {
    let cases = [
        (
            r#"{"subscribe":{"requestId":"r"}}"#,
            StatusCode::BadRequest,
            "requestType",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"CAP"}}"#,
            StatusCode::NotAcceptable,
            "requestType",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestAccepts":"application/xml"}}"#,
            StatusCode::NotAcceptable,
            "requestAccepts",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestSubType":"resource"}}"#,
            StatusCode::NotAcceptable,
            "resource",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestSubType":"every"}}"#,
            StatusCode::BadRequest,
            "requestSubType",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestSubType":"single"}}"#,
            StatusCode::BadRequest,
            "incidentId",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","incidentId":"x"}}"#,
            StatusCode::BadRequest,
            "incidentId",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestSubType":"single","incidentId":"x","qualFilter":"{}"}}"#,
            StatusCode::BadRequest,
            "qualFilter",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","expires":0}}"#,
            StatusCode::BadRequest,
            "expires",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","minRate":-5}}"#,
            StatusCode::BadRequest,
            "minRate",
        ),
        (
            r#"{"subscribe":{"requestId":"r","subscriptionId":"s","minRate":5}}"#,
            StatusCode::BadRequest,
            "minRate",
        ),
        (
            r#"{"subscribe":{"requestId":"r","requestType":"EIDO","dispatchAfterSequence":-1}}"#,
            StatusCode::BadRequest,
            "dispatchAfterSequence",
        ),
    ];
    for (text, code, mentions) in cases {
        let refusal = refused(text);
        assert_eq!(refusal.code, code, "{text}: {refusal}");
        assert!(refusal.text.contains(mentions), "{text}: {refusal}");
    }
}

#[test]
fn renewals_singles_and_periods() {
    let renewal = subscribe(r#"{"subscribe":{"requestId":"r","subscriptionId":"s","expires":5}}"#);
    assert_eq!(
        renewal.request().unwrap(),
        SubscriptionRequest::Renewal {
            subscription_id: "s".into(),
            expires_s: MIN_EXPIRES_S
        }
    );
    let single = subscribe(
        r#"{"subscribe":{"requestId":"r","requestType":"EIDO","requestSubType":"single","incidentId":" urn:x ","requestAccepts":"application/emergency.eido+json;version=1","expires":999999}}"#,
    );
    let SubscriptionRequest::New(new) = single.request().unwrap() else {
        panic!("new");
    };
    assert_eq!(new.scope, Scope::Incident("urn:x".into()));
    assert_eq!(new.expires_s, MAX_EXPIRES_S);
    let resumed = subscribe(
        r#"{"subscribe":{"requestId":"r","requestType":"EIDO","dispatchAfterSequence":42}}"#,
    );
    let SubscriptionRequest::New(new) = resumed.request().unwrap() else {
        panic!("new");
    };
    assert_eq!(
        (new.after_sequence, new.expires_s),
        (Some(42), DEFAULT_EXPIRES_S)
    );
}

#[test]
fn qual_filters_are_read_with_paths() {
    let filter = QualFilter::parse(
        r#"{"area":{"circle":{"latitude":19.43,"longitude":-99.13,"radiusMeters":2500}},"incidentTypes":["FIRE"],"agency":"agencies/0190a5b8-0000-7000-8000-000000000001"}"#,
    )
    .unwrap();
    assert!(matches!(filter.area, Some(Area::Circle { radius_m, .. }) if radius_m == 2500.0));
    assert_eq!(filter.incident_types, ["FIRE"]);
    assert!(filter.agency.is_some());
    let boxed =
        QualFilter::parse(r#"{"area":{"box":{"south":19,"west":-99.5,"north":19.6,"east":-99}}}"#)
            .unwrap();
    assert!(matches!(boxed.area, Some(Area::Box(b)) if b.north == 19.6));

    for (text, mentions) in [
        ("not json", "qualFilter: must be a JSON object"),
        ("[]", "must be a JSON object, got an array"),
        (r#"{"types":["FIRE"]}"#, "qualFilter.types: unknown key"),
        (
            r#"{"area":{}}"#,
            "qualFilter.area: must hold exactly one of circle, box",
        ),
        (
            r#"{"area":{"circle":{"latitude":95,"longitude":0,"radiusMeters":1}}}"#,
            "qualFilter.area.circle.latitude",
        ),
        (
            r#"{"area":{"circle":{"latitude":1,"longitude":0}}}"#,
            "qualFilter.area.circle.radiusMeters: is required",
        ),
        (
            r#"{"area":{"circle":{"latitude":1,"longitude":0,"radiusMeters":0}}}"#,
            "qualFilter.area.circle.radiusMeters: must be above 0",
        ),
        (
            r#"{"area":{"box":{"south":20,"west":0,"north":10,"east":1}}}"#,
            "qualFilter.area.box: south",
        ),
        (
            r#"{"incidentTypes":"FIRE"}"#,
            "qualFilter.incidentTypes: must be an array",
        ),
        (r#"{"incidentTypes":[3]}"#, "qualFilter.incidentTypes[0]"),
        (r#"{"agency":"units/x"}"#, "qualFilter.agency"),
    ] {
        let refusal = QualFilter::parse(text).unwrap_err();
        assert_eq!(refusal.code, StatusCode::BadRequest, "{text}");
        assert!(refusal.text.contains(mentions), "{text}: {}", refusal.text);
    }
}

#[test]
fn notifier_messages_are_spelt_as_the_schema_spells_them() {
    let event = NotifierMessage::Event(Event {
        subscription_id: "s".into(),
        transaction_id: "t".into(),
        notification: vec![serde_json::json!({"eidoMessageIdentifier": "x"})],
        sequence: Some(7),
    });
    assert_eq!(
        event.to_json(),
        r#"{"event":{"subscriptionId":"s","transactionId":"t","notification":[{"eidoMessageIdentifier":"x"}],"dispatchSequence":7}}"#
    );
    let response = NotifierMessage::SubscribeResponse(SubscribeResponse {
        request_id: "r".into(),
        subscription_id: Some("s".into()),
        expires: Some(60),
        status_code: 200,
        status_text: "OK".into(),
        ..SubscribeResponse::default()
    });
    assert_eq!(
        response.to_json(),
        r#"{"subscribeResponse":{"requestId":"r","subscriptionId":"s","expires":60,"statusCode":200,"statusText":"OK"}}"#
    );
    let terminate = NotifierMessage::Terminate(Terminate {
        request_id: "q".into(),
        subscription_id: "s".into(),
    });
    assert_eq!(
        terminate.to_json(),
        r#"{"terminate":{"requestId":"q","subscriptionId":"s"}}"#
    );
}
