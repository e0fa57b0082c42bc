//! Public warnings on the wire: IssueAlert, UpdateAlert and CancelAlert requests as commands
//! (each violation at its wire path: `content.urgency`, `content.texts[1].instruction`,
//! `content.area.polygon.points`, `content.area.circle.radius_km`), and stored CAP messages as
//! `Alert` messages.

use chrono::{DateTime, Utc};

use dispatch_domain::Violations;
use dispatch_domain::ids::{AlertId, IncidentId};
use dispatch_domain::location::GeoPoint;
use dispatch_proto::v1 as pb;
use dispatch_standards::cap::{
    Category, Certainty, Circle, Language, MAX_HEADLINE_CHARS, MAX_SHORT_TEXT_CHARS,
    MAX_TEXT_CHARS, Polygon, ResponseType, Severity, Status, Urgency, check_text,
};
use dispatch_store::alerts::{StoredAlert, Warning};
use dispatch_store::{Page, TimeCursor};

use super::enums::{WireEnum, enum_filter};
use super::wire::{self, Fields as _, mutation, timestamp, valid};
use crate::services::request::{self, Mutation};

/// Where a warning applies, as the supervisor drew it.
#[derive(Debug, Clone, PartialEq)]
pub enum AreaShape {
    /// A circle around `center`, or around the incident when `None`.
    Circle {
        center: Option<GeoPoint>,
        radius_km: f64,
    },
    Polygon(Polygon),
}

/// The warning's words in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertText {
    pub language: Language,
    pub event: String,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: String,
    pub area_description: String,
}

/// What a warning says, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertContent {
    pub status: Status,
    pub categories: Vec<Category>,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub area: AreaShape,
    pub texts: Vec<AlertText>,
    pub expires: Option<DateTime<Utc>>,
}

pub struct IssueAlert {
    pub mutation: Mutation,
    pub incident: IncidentId,
    pub content: AlertContent,
}

pub struct UpdateAlert {
    pub mutation: Mutation,
    pub alert: AlertId,
    pub etag: Option<i64>,
    pub content: AlertContent,
}

pub struct CancelAlert {
    pub mutation: Mutation,
    pub alert: AlertId,
    pub etag: Option<i64>,
    pub note: String,
}

pub struct ListAlerts {
    pub page: Page<TimeCursor>,
    pub incident: Option<IncidentId>,
}

impl TryFrom<pb::IssueAlertRequest> for IssueAlert {
    type Error = Violations;

    fn try_from(message: pb::IssueAlertRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let incident = violations.collect(IncidentId::parse_name("incident", &message.incident));
        let content = content(message.content.as_ref(), &mut violations);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                incident: incident?,
                content: content?,
            })
        })
    }
}

impl TryFrom<pb::UpdateAlertRequest> for UpdateAlert {
    type Error = Violations;

    fn try_from(message: pb::UpdateAlertRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let alert = violations.collect(AlertId::parse_name("name", &message.name));
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        let content = content(message.content.as_ref(), &mut violations);
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                alert: alert?,
                etag: etag?,
                content: content?,
            })
        })
    }
}

impl TryFrom<pb::CancelAlertRequest> for CancelAlert {
    type Error = Violations;

    fn try_from(message: pb::CancelAlertRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let alert = violations.collect(AlertId::parse_name("name", &message.name));
        let etag = violations.collect(request::etag_from("etag", &message.etag));
        check_text(
            &mut violations,
            "note",
            &message.note,
            MAX_SHORT_TEXT_CHARS,
            true,
        );
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                alert: alert?,
                etag: etag?,
                note: message.note.trim().to_owned(),
            })
        })
    }
}

impl TryFrom<pb::ListAlertsRequest> for ListAlerts {
    type Error = Violations;

    fn try_from(message: pb::ListAlertsRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let page = violations.collect(request::time_page(message.page_size, &message.page_token));
        let incident = violations.optional("incident", &message.incident, IncidentId::parse_name);
        valid(violations, || {
            Some(Self {
                page: page?,
                incident,
            })
        })
    }
}

/// A required CAP enum; UNSPECIFIED or unknown is a violation at `field`.
fn required_enum<T: WireEnum>(field: &str, value: i32, violations: &mut Violations) -> Option<T> {
    let parsed = T::from_wire(value);
    if parsed.is_none() {
        violations.add(
            field,
            format!("required: got the unspecified or unknown value {value}"),
        );
    }
    parsed
}

/// `content`, validated; violations name `content.…`.
fn content(
    content: Option<&pb::AlertContent>,
    violations: &mut Violations,
) -> Option<AlertContent> {
    let Some(content) = content else {
        violations.add("content", "required");
        return None;
    };
    let status = required_enum::<Status>("content.status", content.status, violations);
    if matches!(status, Some(Status::System | Status::Draft)) {
        violations.add(
            "content.status",
            "a public warning is ACTUAL, EXERCISE or TEST",
        );
    }
    let categories = violations.collect(enum_filter::<Category>(
        "content.categories",
        &content.categories,
    ));
    if content.categories.is_empty() {
        violations.add("content.categories", "at least one category");
    }
    let response_types = violations.collect(enum_filter::<ResponseType>(
        "content.response_types",
        &content.response_types,
    ));
    let urgency = required_enum::<Urgency>("content.urgency", content.urgency, violations);
    let severity = required_enum::<Severity>("content.severity", content.severity, violations);
    let certainty = required_enum::<Certainty>("content.certainty", content.certainty, violations);
    let area = area(content.area.as_ref(), violations);
    let texts = texts(&content.texts, violations);
    let expires = violations
        .collect(wire::datetime(
            "content.expire_time",
            content.expire_time.as_ref(),
        ))
        .flatten();
    if expires.is_some_and(|at| at <= Utc::now()) {
        violations.add("content.expire_time", "must be in the future");
    }
    Some(AlertContent {
        status: status?,
        categories: categories?,
        response_types: response_types?,
        urgency: urgency?,
        severity: severity?,
        certainty: certainty?,
        area: area?,
        texts,
        expires,
    })
}

fn area(area: Option<&pb::AlertArea>, violations: &mut Violations) -> Option<AreaShape> {
    use pb::alert_area::Shape;
    match area.and_then(|a| a.shape.as_ref()) {
        None => {
            violations.add("content.area", "required: a circle or a polygon");
            None
        }
        Some(Shape::Circle(circle)) => {
            let center = circle.center.as_ref().and_then(|p| {
                violations.collect(
                    GeoPoint::new(p.latitude, p.longitude)
                        .map_err(|v| v.within("content.area.circle.center")),
                )
            });
            violations.collect(
                Circle::check_radius(circle.radius_km).map_err(|v| v.within("content.area.circle")),
            )?;
            Some(AreaShape::Circle {
                center,
                radius_km: circle.radius_km,
            })
        }
        Some(Shape::Polygon(polygon)) => {
            let mut points = Vec::with_capacity(polygon.points.len());
            let mut bad_point = false;
            for (i, p) in polygon.points.iter().enumerate() {
                match GeoPoint::new(p.latitude, p.longitude) {
                    Ok(point) => points.push(point),
                    Err(v) => {
                        bad_point = true;
                        violations.collect::<()>(Err(
                            v.within(&format!("content.area.polygon.points[{i}]"))
                        ));
                    }
                }
            }
            if bad_point {
                return None;
            }
            violations
                .collect(Polygon::new(points).map_err(|v| v.within("content.area.polygon")))
                .map(AreaShape::Polygon)
        }
    }
}

/// One text per language, a Spanish and an English one among them.
fn texts(texts: &[pb::AlertText], violations: &mut Violations) -> Vec<AlertText> {
    let mut valid = Vec::with_capacity(texts.len());
    let mut seen: Vec<String> = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let path = |field: &str| format!("content.texts[{i}].{field}");
        let language = violations.collect(Language::new(&path("language"), &text.language));
        if let Some(language) = &language {
            let key = language.as_str().to_ascii_lowercase();
            if seen.contains(&key) {
                violations.add(path("language"), "one text per language");
            }
            seen.push(key);
        }
        let before = violations.iter().count();
        check_text(
            violations,
            &path("event"),
            &text.event,
            MAX_SHORT_TEXT_CHARS,
            true,
        );
        check_text(
            violations,
            &path("headline"),
            &text.headline,
            MAX_HEADLINE_CHARS,
            false,
        );
        check_text(
            violations,
            &path("description"),
            &text.description,
            MAX_TEXT_CHARS,
            false,
        );
        check_text(
            violations,
            &path("instruction"),
            &text.instruction,
            MAX_TEXT_CHARS,
            true,
        );
        check_text(
            violations,
            &path("area_description"),
            &text.area_description,
            MAX_SHORT_TEXT_CHARS,
            true,
        );
        let optional = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        if let Some(language) = language
            && violations.iter().count() == before
        {
            valid.push(AlertText {
                language,
                event: text.event.trim().to_owned(),
                headline: optional(&text.headline),
                description: optional(&text.description),
                instruction: text.instruction.trim().to_owned(),
                area_description: text.area_description.trim().to_owned(),
            });
        }
    }
    let primaries: Vec<String> = seen
        .iter()
        .map(|tag| tag.split('-').next().unwrap_or_default().to_owned())
        .collect();
    for (primary, name) in [("es", "Spanish"), ("en", "English")] {
        if !primaries.iter().any(|p| p == primary) {
            violations.add(
                "content.texts",
                format!("a {name} text is required (language {primary}-...)"),
            );
        }
    }
    valid
}

/// A stored message on the wire; `warning` (when read) gives the warning's etag and state.
pub fn alert_message(stored: &StoredAlert, warning: Option<&Warning>) -> pb::Alert {
    let alert = &stored.alert;
    pb::Alert {
        name: alert.id.name(),
        identifier: alert.identifier.clone(),
        sender: alert.sender.clone(),
        sent_time: Some(timestamp(alert.sent_at)),
        message_type: alert.msg_type.wire(),
        status: alert.status.wire(),
        original: alert.original.map(|id| id.name()).unwrap_or_default(),
        incident: alert.incident.name(),
        issued_by: stored.issued_by.clone(),
        headline: alert.headline.clone(),
        cap_xml: alert.cap_xml.clone(),
        warning_etag: warning
            .map(|w| request::etag(w.version()))
            .unwrap_or_default(),
        warning_cancelled: warning.is_some_and(Warning::cancelled),
        create_time: Some(timestamp(stored.created_at)),
    }
}
