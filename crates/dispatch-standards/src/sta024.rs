//! NENA-STA-024 (Conveyance of EIDOs between NG9-1-1 systems): the messages of its WebSocket
//! subscribe/notify conveyance, parsed from and written to JSON text frames.
//!
//! # Sources
//! The standard's PDF (NENA-STA-024.1a-2023) was not reachable from here; what is adopted comes
//! from public artefacts close to it:
//! - the message objects, their field names and the status codes each may carry: NENA's own
//!   OpenAPI schema of the conveyance, `github.com/NENA911/WebSocket-Subscribe-Notify`,
//!   `schema/websocket.yaml` ("EIDO Conveyance Subscribe and Notify schema" 1.0.1):
//!   `subscribe`, `subscribeResponse`, `unsubscribe`, `unsubscribeResponse`, `event`,
//!   `eventResponse`, `terminate`, `terminateResponse` and `response` (501), each a JSON object
//!   with one key naming the message;
//! - the WebSocket path (`/IncidentData/ent`, that schema's server URL plus its stub path), the
//!   sub-protocol `emergency-ent1.0` (cited there as STA-024 §2.1.3.1.2), the EIDO media type
//!   `application/emergency.eido+json`, and the notification model (§2.1.1/§2.1.6 as a public
//!   implementation summarises them: a "new incidents" subscription is answered at once with one
//!   notification holding every active incident that matches, an empty one if none; a "single"
//!   subscription follows one incident; one WebSocket carries several subscriptions; a
//!   subscription request up to 65,536 bytes must be accepted; when the WebSocket closes, its
//!   subscriptions end): PhrSite's `Ng911CadIfLib` (a .NET implementation of STA-024.1a-2023),
//!   `ClassLibrary/CadIfWebSocketClient.cs`, `WebSocketSubscription.cs` and
//!   `Documentation/articles/SpecificationCompliance.md`.
//!
//! # Assumed (the standard's text would settle these)
//! - `qualFilter`'s syntax (STA-024 §2.3) is not in the schema: here it is a JSON object in the
//!   string, `{"area": {"circle": {"latitude", "longitude", "radiusMeters"}} | {"box": {"south",
//!   "west", "north", "east"}}, "incidentTypes": [codes of our catalogue], "agency":
//!   "agencies/{uuid}"}`, every key optional, unknown keys refused (see [`QualFilter`]).
//! - `requestType` is compared without regard to case (a public client sends `"eido"`);
//!   `requestSubType` defaults to `new`; `resource` is not offered (406).
//! - A bad message whose kind cannot be told (not JSON, no known key) is answered with the
//!   `response` object and 400; the schema allows it only 501, which answers a known kind this
//!   notifier does not implement.
//! - Extension, outside the standard (a subscriber that ignores it loses nothing): every `event`
//!   carries `dispatchSequence`, the feed position of the change (the snapshot's sequence on the
//!   first notification), and `subscribe` may carry `dispatchAfterSequence` to resume after that
//!   position without a gap instead of starting with the snapshot, as our Watch RPCs do.

use serde::Serialize;
use serde_json::{Map, Value};

use dispatch_domain::ids::AgencyId;
use dispatch_domain::location::{Area, BoundingBox, GeoPoint};

/// The WebSocket's path on the notifier.
pub const WEBSOCKET_PATH: &str = "/IncidentData/ent";
/// The WebSocket sub-protocol a subscriber offers.
pub const SUBPROTOCOL: &str = "emergency-ent1.0";
/// The EIDO's media type, which `requestAccepts` names.
pub const EIDO_MEDIA_TYPE: &str = "application/emergency.eido+json";
/// A subscriber message up to this size must be accepted; larger ones are refused with 413.
pub const MAX_MESSAGE_BYTES: usize = 65_536;

/// A subscription lasts this long unless the subscriber asks otherwise, seconds.
pub const DEFAULT_EXPIRES_S: u32 = 3_600;
/// The shortest and longest subscription periods granted, seconds.
pub const MIN_EXPIRES_S: u32 = 15;
pub const MAX_EXPIRES_S: u32 = 86_400;

/// The status codes of the conveyance (SIP-like three digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Ok,
    BadRequest,
    Forbidden,
    NotFound,
    NotAcceptable,
    TooLarge,
    NoSuchSubscription,
    Internal,
    NotImplemented,
    Unavailable,
}

impl StatusCode {
    pub fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::BadRequest => 400,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::NotAcceptable => 406,
            Self::TooLarge => 413,
            Self::NoSuchSubscription => 481,
            Self::Internal => 500,
            Self::NotImplemented => 501,
            Self::Unavailable => 503,
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::BadRequest => "Bad Request",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not Found",
            Self::NotAcceptable => "Not Acceptable",
            Self::TooLarge => "Request Too Large",
            Self::NoSuchSubscription => "Subscription Does Not Exist",
            Self::Internal => "Internal Server Error",
            Self::NotImplemented => "Not implemented",
            Self::Unavailable => "Service Unavailable",
        }
    }
}

/// A refusal: its code and what the subscriber is told (`statusText`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {text}", code.code())]
pub struct Refusal {
    pub code: StatusCode,
    pub text: String,
}

impl Refusal {
    pub fn new(code: StatusCode, detail: impl std::fmt::Display) -> Self {
        Self {
            code,
            text: format!("{}: {detail}", code.text()),
        }
    }

    fn bad(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BadRequest, detail)
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriber -> notifier

/// A message from the subscriber.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriberMessage {
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    EventResponse(EventResponse),
    TerminateResponse(TerminateResponse),
}

/// `subscribe`: a new subscription, or the renewal of one (`subscriptionId` set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subscribe {
    pub request_id: String,
    pub request_type: Option<String>,
    pub request_sub_type: Option<String>,
    pub request_accepts: Option<String>,
    pub qual_filter: Option<String>,
    pub min_rate: Option<i64>,
    pub max_rate: Option<i64>,
    pub subscription_id: Option<String>,
    pub incident_id: Option<String>,
    pub expires: Option<i64>,
    /// Extension: resume after this feed position instead of starting with a snapshot.
    pub after_sequence: Option<i64>,
}

/// `unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub request_id: String,
    pub subscription_id: String,
}

/// `eventResponse`: the subscriber's acknowledgement of an `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventResponse {
    pub transaction_id: String,
    pub status_code: i64,
    pub status_text: String,
}

/// `terminateResponse`: the subscriber's acknowledgement of a `terminate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminateResponse {
    pub request_id: String,
    pub subscription_id: String,
    pub status_code: Option<i64>,
    pub status_text: Option<String>,
}

/// A subscriber message that cannot be acted on, and the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{refusal}")]
pub struct ParseError {
    /// The message's kind, when it could be told: it decides the answer's object.
    pub kind: Option<MessageKind>,
    /// The ids the message carried, echoed in the answer when they could be read.
    pub request_id: Option<String>,
    pub subscription_id: Option<String>,
    pub refusal: Refusal,
}

/// The kinds of subscriber message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Subscribe,
    Unsubscribe,
    EventResponse,
    TerminateResponse,
}

impl MessageKind {
    fn key(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::EventResponse => "eventResponse",
            Self::TerminateResponse => "terminateResponse",
        }
    }

    const ALL: [Self; 4] = [
        Self::Subscribe,
        Self::Unsubscribe,
        Self::EventResponse,
        Self::TerminateResponse,
    ];
}

impl ParseError {
    /// The notifier's answer: the response object of the message's kind with the code, or
    /// `response` when the kind is unknown. Acknowledgements (eventResponse,
    /// terminateResponse) have no answer of their own: `None`.
    pub fn answer(&self) -> Option<NotifierMessage> {
        let request_id = self.request_id.clone().unwrap_or_default();
        let status_code = self.refusal.code.code();
        let status_text = self.refusal.text.clone();
        match self.kind {
            Some(MessageKind::Subscribe) => {
                Some(NotifierMessage::SubscribeResponse(SubscribeResponse {
                    request_id,
                    subscription_id: self.subscription_id.clone(),
                    status_code,
                    status_text,
                    ..SubscribeResponse::default()
                }))
            }
            Some(MessageKind::Unsubscribe) => {
                Some(NotifierMessage::UnsubscribeResponse(UnsubscribeResponse {
                    request_id,
                    subscription_id: self.subscription_id.clone().unwrap_or_default(),
                    status_code,
                    status_text,
                }))
            }
            Some(MessageKind::EventResponse | MessageKind::TerminateResponse) => None,
            None => Some(NotifierMessage::Response(Response {
                request_id,
                status_code,
                status_text,
            })),
        }
    }
}

/// One object's fields, read with the path every problem names.
struct Fields<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(format!(
                "{}: must be a string, got {}",
                self.at(key),
                kind_of(other)
            )),
        }
    }

    fn string(&self, key: &str) -> Result<String, String> {
        match self.optional_string(key)? {
            Some(text) if !text.is_empty() => Ok(text),
            Some(_) => Err(format!("{}: must not be empty", self.at(key))),
            None => Err(format!("{}: is required", self.at(key))),
        }
    }

    fn optional_integer(&self, key: &str) -> Result<Option<i64>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("{}: must be a whole number, got {number}", self.at(key))),
            Some(other) => Err(format!(
                "{}: must be a whole number, got {}",
                self.at(key),
                kind_of(other)
            )),
        }
    }

    fn integer(&self, key: &str) -> Result<i64, String> {
        self.optional_integer(key)?
            .ok_or_else(|| format!("{}: is required", self.at(key)))
    }

    fn number(&self, key: &str) -> Result<f64, String> {
        match self.map.get(key) {
            Some(Value::Number(number)) => number
                .as_f64()
                .ok_or_else(|| format!("{}: must be a number", self.at(key))),
            None | Some(Value::Null) => Err(format!("{}: is required", self.at(key))),
            Some(other) => Err(format!(
                "{}: must be a number, got {}",
                self.at(key),
                kind_of(other)
            )),
        }
    }

    fn object(&self, key: &str) -> Result<Option<&Map<String, Value>>, String> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(format!(
                "{}: must be an object, got {}",
                self.at(key),
                kind_of(other)
            )),
        }
    }

    /// Refuses keys other than `known` (for syntax of our own, where a misspelt key would
    /// otherwise widen a filter silently).
    fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.map.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(format!(
                "{}: unknown key (expected one of: {})",
                self.at(key),
                known.join(", ")
            )),
            None => Ok(()),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl SubscriberMessage {
    /// Reads one text frame.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let unknown = |refusal| ParseError {
            kind: None,
            request_id: None,
            subscription_id: None,
            refusal,
        };
        if text.len() > MAX_MESSAGE_BYTES {
            // Its kind is still worth telling, for the right answer object, if it parses.
            let kind = serde_json::from_str::<Map<String, Value>>(text)
                .ok()
                .and_then(|map| {
                    MessageKind::ALL
                        .into_iter()
                        .find(|kind| map.contains_key(kind.key()))
                });
            return Err(ParseError {
                kind,
                request_id: None,
                subscription_id: None,
                refusal: Refusal::new(
                    StatusCode::TooLarge,
                    format!(
                        "the message has {} bytes; at most {MAX_MESSAGE_BYTES} are accepted",
                        text.len()
                    ),
                ),
            });
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| unknown(Refusal::bad(format!("not JSON: {error}"))))?;
        let Value::Object(outer) = value else {
            return Err(unknown(Refusal::bad(format!(
                "the message must be a JSON object, got {}",
                kind_of(&value)
            ))));
        };
        let mut kinds = MessageKind::ALL
            .into_iter()
            .filter(|kind| outer.contains_key(kind.key()));
        let kind = match (kinds.next(), kinds.next()) {
            (Some(kind), None) if outer.len() == 1 => kind,
            (None, _) => {
                let keys: Vec<&str> = outer.keys().map(String::as_str).collect();
                return Err(unknown(Refusal::new(
                    StatusCode::NotImplemented,
                    format!(
                        "no message this notifier implements (got keys: {}; expected one of \
                         subscribe, unsubscribe, eventResponse, terminateResponse)",
                        keys.join(", ")
                    ),
                )));
            }
            _ => {
                return Err(unknown(Refusal::bad(
                    "the message must hold exactly one object: subscribe, unsubscribe, \
                     eventResponse or terminateResponse",
                )));
            }
        };
        let key = kind.key();
        let Some(Value::Object(inner)) = outer.get(key) else {
            return Err(ParseError {
                kind: Some(kind),
                request_id: None,
                subscription_id: None,
                refusal: Refusal::bad(format!("{key}: must be an object")),
            });
        };
        let fields = Fields {
            path: key,
            map: inner,
        };
        let fail = |problem: String| ParseError {
            kind: Some(kind),
            request_id: fields.optional_string("requestId").ok().flatten(),
            subscription_id: fields.optional_string("subscriptionId").ok().flatten(),
            refusal: Refusal::bad(problem),
        };
        let message = match kind {
            MessageKind::Subscribe => Self::Subscribe(read_subscribe(&fields).map_err(fail)?),
            MessageKind::Unsubscribe => Self::Unsubscribe(Unsubscribe {
                request_id: fields.string("requestId").map_err(fail)?,
                subscription_id: fields.string("subscriptionId").map_err(fail)?,
            }),
            MessageKind::EventResponse => Self::EventResponse(EventResponse {
                transaction_id: fields.string("transactionId").map_err(fail)?,
                status_code: fields.integer("statusCode").map_err(fail)?,
                status_text: fields
                    .optional_string("statusText")
                    .map_err(fail)?
                    .unwrap_or_default(),
            }),
            MessageKind::TerminateResponse => Self::TerminateResponse(TerminateResponse {
                request_id: fields.string("requestId").map_err(fail)?,
                subscription_id: fields.string("subscriptionId").map_err(fail)?,
                status_code: fields.optional_integer("statusCode").map_err(fail)?,
                status_text: fields.optional_string("statusText").map_err(fail)?,
            }),
        };
        Ok(message)
    }
}

fn read_subscribe(fields: &Fields<'_>) -> Result<Subscribe, String> {
    Ok(Subscribe {
        request_id: fields.string("requestId")?,
        request_type: fields.optional_string("requestType")?,
        request_sub_type: fields.optional_string("requestSubType")?,
        request_accepts: fields.optional_string("requestAccepts")?,
        qual_filter: fields.optional_string("qualFilter")?,
        min_rate: fields.optional_integer("minRate")?,
        max_rate: fields.optional_integer("maxRate")?,
        subscription_id: fields.optional_string("subscriptionId")?,
        incident_id: fields.optional_string("incidentId")?,
        expires: fields.optional_integer("expires")?,
        after_sequence: fields.optional_integer("dispatchAfterSequence")?,
    })
}

// ---------------------------------------------------------------------------------------------
// What a subscribe asks for

/// A `subscribe`, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionRequest {
    New(NewSubscription),
    /// Renews an existing subscription: only its period may change.
    Renewal {
        subscription_id: String,
        expires_s: u32,
    },
}

/// A new subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    pub scope: Scope,
    /// The period granted, seconds.
    pub expires_s: u32,
    /// An empty notification after this many seconds without one.
    pub min_rate_s: Option<u32>,
    /// Asked for; see [`NewSubscription::max_rate_s`] for what is granted.
    pub requested_max_rate_s: Option<u32>,
    /// Resume after this feed position (extension); `None`: the snapshot first.
    pub after_sequence: Option<i64>,
}

/// What a subscription follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// `new`: every incident matching the filter, those active now first.
    Incidents(QualFilter),
    /// `single`: one incident, by its incident tracking identifier as the subscriber gave it.
    Incident(String),
}

/// The filter of a `new` subscription (the assumed `qualFilter` syntax, see the module doc).
/// Empty: every incident the subscriber's principal may see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualFilter {
    pub area: Option<Area>,
    /// Incident type codes of the catalogue; empty: every type.
    pub incident_types: Vec<String>,
    /// Incidents relevant to this agency (its discipline, or one of its units sent).
    pub agency: Option<AgencyId>,
}

/// A whole number of seconds, above 0.
fn seconds(field: &str, value: Option<i64>) -> Result<Option<u32>, Refusal> {
    match value {
        None => Ok(None),
        Some(n) if n > 0 => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
        Some(n) => Err(Refusal::bad(format!(
            "subscribe.{field}: must be above 0 seconds, got {n}"
        ))),
    }
}

/// The period granted for a requested one.
fn granted_expires(requested: Option<u32>) -> u32 {
    requested
        .unwrap_or(DEFAULT_EXPIRES_S)
        .clamp(MIN_EXPIRES_S, MAX_EXPIRES_S)
}

/// Whether a `requestAccepts` value admits the EIDO's media type (parameters such as a version
/// are not compared: there is one major version).
fn accepts_eido(accepts: &str) -> bool {
    accepts.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case(EIDO_MEDIA_TYPE)
            || media == "*/*"
            || media.eq_ignore_ascii_case("application/*")
    })
}

impl Subscribe {
    /// What this subscribe asks for, or why it is refused.
    pub fn request(&self) -> Result<SubscriptionRequest, Refusal> {
        let expires = seconds("expires", self.expires)?;
        if let Some(subscription_id) = &self.subscription_id {
            let changes: Vec<&str> = [
                ("minRate", self.min_rate.is_some()),
                ("maxRate", self.max_rate.is_some()),
                ("qualFilter", self.qual_filter.is_some()),
                ("incidentId", self.incident_id.is_some()),
                ("dispatchAfterSequence", self.after_sequence.is_some()),
            ]
            .into_iter()
            .filter_map(|(field, set)| set.then_some(field))
            .collect();
            if !changes.is_empty() {
                return Err(Refusal::bad(format!(
                    "subscribe: a renewal (subscriptionId set) may change only expires, not {}",
                    changes.join(", ")
                )));
            }
            return Ok(SubscriptionRequest::Renewal {
                subscription_id: subscription_id.clone(),
                expires_s: granted_expires(expires),
            });
        }
        match self.request_type.as_deref() {
            None => {
                return Err(Refusal::bad(
                    "subscribe.requestType: is required for a new subscription (\"EIDO\")",
                ));
            }
            Some(kind) if kind.eq_ignore_ascii_case("EIDO") => {}
            Some(other) => {
                return Err(Refusal::new(
                    StatusCode::NotAcceptable,
                    format!("subscribe.requestType: only EIDO is offered, not {other:?}"),
                ));
            }
        }
        if let Some(accepts) = &self.request_accepts
            && !accepts_eido(accepts)
        {
            return Err(Refusal::new(
                StatusCode::NotAcceptable,
                format!(
                    "subscribe.requestAccepts: only {EIDO_MEDIA_TYPE} is offered, not {accepts:?}"
                ),
            ));
        }
        let sub_type = self.request_sub_type.as_deref().unwrap_or("new");
        let scope = match sub_type {
            "new" => {
                if self.incident_id.is_some() {
                    return Err(Refusal::bad(
                        "subscribe.incidentId: only a \"single\" subscription names an incident",
                    ));
                }
                let filter = match &self.qual_filter {
                    Some(text) => QualFilter::parse(text)?,
                    None => QualFilter::default(),
                };
                Scope::Incidents(filter)
            }
            "single" => {
                if self.qual_filter.is_some() {
                    return Err(Refusal::bad(
                        "subscribe.qualFilter: must not be given with an incidentId",
                    ));
                }
                match self.incident_id.as_deref() {
                    Some(id) if !id.trim().is_empty() => Scope::Incident(id.trim().to_owned()),
                    _ => {
                        return Err(Refusal::bad(
                            "subscribe.incidentId: is required for a \"single\" subscription",
                        ));
                    }
                }
            }
            "resource" => {
                return Err(Refusal::new(
                    StatusCode::NotAcceptable,
                    "subscribe.requestSubType: \"resource\" subscriptions are not offered; use \
                     \"new\" or \"single\"",
                ));
            }
            other => {
                return Err(Refusal::bad(format!(
                    "subscribe.requestSubType: must be \"new\", \"single\" or \"resource\", \
                     got {other:?}"
                )));
            }
        };
        if let Some(after) = self.after_sequence
            && after < 0
        {
            return Err(Refusal::bad(format!(
                "subscribe.dispatchAfterSequence: must be 0 or more, got {after}"
            )));
        }
        Ok(SubscriptionRequest::New(NewSubscription {
            scope,
            expires_s: granted_expires(expires),
            min_rate_s: seconds("minRate", self.min_rate)?,
            requested_max_rate_s: seconds("maxRate", self.max_rate)?,
            after_sequence: self.after_sequence.filter(|after| *after > 0),
        }))
    }
}

impl NewSubscription {
    /// The maximum rate granted: none. Every change is notified as it happens (a dispatch
    /// centre's subscriber needs each one; coalescing is not offered).
    pub fn max_rate_s(&self) -> Option<u32> {
        None
    }
}

impl QualFilter {
    /// Reads the assumed `qualFilter` syntax (see the module doc); problems name
    /// `qualFilter.<path>`.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let value: Value = serde_json::from_str(text).map_err(|error| {
            Refusal::bad(format!(
                "subscribe.qualFilter: must be a JSON object in a string: {error}"
            ))
        })?;
        let Value::Object(map) = &value else {
            return Err(Refusal::bad(format!(
                "subscribe.qualFilter: must be a JSON object, got {}",
                kind_of(&value)
            )));
        };
        Self::read(&Fields {
            path: "qualFilter",
            map,
        })
        .map_err(Refusal::bad)
    }

    fn read(fields: &Fields<'_>) -> Result<Self, String> {
        fields.only(&["area", "incidentTypes", "agency"])?;
        let area = match fields.object("area")? {
            None => None,
            Some(map) => Some(read_area(&Fields {
                path: &fields.at("area"),
                map,
            })?),
        };
        let incident_types = match fields.map.get("incidentTypes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(code) if !code.is_empty() => Ok(code.clone()),
                    other => Err(format!(
                        "qualFilter.incidentTypes[{i}]: must be an incident type code, got {}",
                        kind_of(other)
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "qualFilter.incidentTypes: must be an array of codes, got {}",
                    kind_of(other)
                ));
            }
        };
        let agency = match fields.optional_string("agency")? {
            None => None,
            Some(name) => Some(
                AgencyId::parse_name("agency", &name)
                    .map_err(|violations| format!("qualFilter.{violations}"))?,
            ),
        };
        Ok(Self {
            area,
            incident_types,
            agency,
        })
    }
}

fn point(fields: &Fields<'_>, latitude: &str, longitude: &str) -> Result<GeoPoint, String> {
    GeoPoint::new(fields.number(latitude)?, fields.number(longitude)?).map_err(|violations| {
        violations
            .iter()
            .map(|v| {
                let key = if v.field == "latitude" {
                    latitude
                } else {
                    longitude
                };
                format!("{}: {}", fields.at(key), v.description)
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn read_area(fields: &Fields<'_>) -> Result<Area, String> {
    fields.only(&["circle", "box"])?;
    match (fields.object("circle")?, fields.object("box")?) {
        (Some(map), None) => {
            let circle = Fields {
                path: &fields.at("circle"),
                map,
            };
            circle.only(&["latitude", "longitude", "radiusMeters"])?;
            let center = point(&circle, "latitude", "longitude")?;
            Area::circle(center, circle.number("radiusMeters")?).map_err(|violations| {
                format!(
                    "{}: {}",
                    circle.at("radiusMeters"),
                    violations
                        .iter()
                        .map(|v| v.description.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
        }
        (None, Some(map)) => {
            let bbox = Fields {
                path: &fields.at("box"),
                map,
            };
            bbox.only(&["south", "west", "north", "east"])?;
            let south_west = point(&bbox, "south", "west")?;
            let north_east = point(&bbox, "north", "east")?;
            if south_west.latitude() > north_east.latitude() {
                return Err(format!("{}: south must not be north of north", bbox.path));
            }
            Ok(Area::Box(BoundingBox {
                south: south_west.latitude(),
                north: north_east.latitude(),
                west: south_west.longitude(),
                east: north_east.longitude(),
            }))
        }
        _ => Err(format!(
            "{}: must hold exactly one of circle, box",
            fields.path
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Notifier -> subscriber

/// A message from the notifier; serialises as `{"<kind>": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NotifierMessage {
    SubscribeResponse(SubscribeResponse),
    UnsubscribeResponse(UnsubscribeResponse),
    Response(Response),
    Event(Event),
    Terminate(Terminate),
}

impl NotifierMessage {
    /// The text frame.
    pub fn to_json(&self) -> String {
        // Strings, integers and JSON values only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeResponse {
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    pub status_code: u16,
    pub status_text: String,
}

impl SubscribeResponse {
    pub fn refused(request_id: &str, subscription_id: Option<&str>, refusal: &Refusal) -> Self {
        Self {
            request_id: request_id.to_owned(),
            subscription_id: subscription_id.map(str::to_owned),
            status_code: refusal.code.code(),
            status_text: refusal.text.clone(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnsubscribeResponse {
    pub request_id: String,
    pub subscription_id: String,
    pub status_code: u16,
    pub status_text: String,
}

/// The answer to a message of a kind the notifier does not implement (or cannot read).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub request_id: String,
    pub status_code: u16,
    pub status_text: String,
}

/// A notification: the EIDOs of the incidents that changed (one per change here), or none (a
/// keep-alive under `minRate`, or a snapshot with nothing in it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub subscription_id: String,
    pub transaction_id: String,
    pub notification: Vec<Value>,
    /// Extension: the feed position this notification brings the subscriber to.
    #[serde(rename = "dispatchSequence", skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
}

/// The notifier ends a subscription (expired, its credential no longer valid, the subscriber
/// fell too far behind, the notifier stopping).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Terminate {
    pub request_id: String,
    pub subscription_id: String,
}

#[cfg(test)]
mod tests {
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
        let renewal =
            subscribe(r#"{"subscribe":{"requestId":"r","subscriptionId":"s","expires":5}}"#);
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
        let boxed = QualFilter::parse(
            r#"{"area":{"box":{"south":19,"west":-99.5,"north":19.6,"east":-99}}}"#,
        )
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
}
