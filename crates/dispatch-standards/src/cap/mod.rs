//! OASIS Common Alerting Protocol 1.2 (CAP): a public warning as a validated value, its XML
//! (`xml`, element order exactly as `CAP-v1.2.xsd`'s sequences) and the Atom feed that lists
//! alerts for the consumers that poll it (`atom`).
//!
//! What the XSD cannot say and CAP's text does is checked here too: identifiers and senders
//! without spaces, commas, `<` or `&`; times with a numeric offset and UTC spelt `-00:00`;
//! polygons closed with at least four points; circles as `lat,lon radius_km`; an Update or
//! Cancel carrying the references of what it updates.

pub mod atom;
mod xml;

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike as _, Utc};
use dispatch_domain::Violations;
use dispatch_domain::location::GeoPoint;

pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";
/// The media type of a CAP document (IANA registration by OASIS).
pub const MEDIA_TYPE: &str = "application/cap+xml";

/// Longest free text we put in one element (descriptions, instructions).
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest short text (event, headline, area description, sender name).
pub const MAX_SHORT_TEXT_CHARS: usize = 500;
/// CAP recommends headlines under 160 characters (text messaging).
pub const MAX_HEADLINE_CHARS: usize = 160;
/// Largest circle radius we accept, km: wider than a metropolitan area, smaller than a country.
pub const MAX_RADIUS_KM: f64 = 500.0;
/// Most vertices in one polygon.
pub const MAX_POLYGON_POINTS: usize = 1000;

/// A CAP enumeration: its variants and their exact spelling in the XSD.
macro_rules! cap_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)+ }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// The value as CAP spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            /// The value CAP spells `text` (exactly, case included).
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

cap_enum!(
    /// `<status>`: who the message is for.
    Status {
        Actual => "Actual",
        Exercise => "Exercise",
        System => "System",
        Test => "Test",
        Draft => "Draft",
    }
);
cap_enum!(
    /// `<msgType>`.
    MsgType {
        Alert => "Alert",
        Update => "Update",
        Cancel => "Cancel",
        Ack => "Ack",
        Error => "Error",
    }
);
cap_enum!(
    /// `<scope>`.
    Scope {
        Public => "Public",
        Restricted => "Restricted",
        Private => "Private",
    }
);
cap_enum!(
    /// `<category>` of an info block.
    Category {
        Geo => "Geo",
        Met => "Met",
        Safety => "Safety",
        Security => "Security",
        Rescue => "Rescue",
        Fire => "Fire",
        Health => "Health",
        Env => "Env",
        Transport => "Transport",
        Infra => "Infra",
        Cbrne => "CBRNE",
        Other => "Other",
    }
);
cap_enum!(
    /// `<responseType>`: what the public should do.
    ResponseType {
        Shelter => "Shelter",
        Evacuate => "Evacuate",
        Prepare => "Prepare",
        Execute => "Execute",
        Avoid => "Avoid",
        Monitor => "Monitor",
        Assess => "Assess",
        AllClear => "AllClear",
        None => "None",
    }
);
cap_enum!(
    /// `<urgency>`.
    Urgency {
        Immediate => "Immediate",
        Expected => "Expected",
        Future => "Future",
        Past => "Past",
        Unknown => "Unknown",
    }
);
cap_enum!(
    /// `<severity>`.
    Severity {
        Extreme => "Extreme",
        Severe => "Severe",
        Moderate => "Moderate",
        Minor => "Minor",
        Unknown => "Unknown",
    }
);
cap_enum!(
    /// `<certainty>`.
    Certainty {
        Observed => "Observed",
        Likely => "Likely",
        Possible => "Possible",
        Unlikely => "Unlikely",
        Unknown => "Unknown",
    }
);

/// A character XML 1.0 cannot carry (control characters other than tab, newline and carriage
/// return; U+FFFE and U+FFFF): a document holding one is not well-formed.
fn forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Checks a free-text field: present when `required`, within `max_chars`, and only characters
/// an XML document can carry.
pub fn check_text(
    violations: &mut Violations,
    field: &str,
    text: &str,
    max_chars: usize,
    required: bool,
) {
    if required && text.trim().is_empty() {
        violations.add(field, "required");
    }
    if text.chars().count() > max_chars {
        violations.add(field, format!("at most {max_chars} characters"));
    }
    if text.chars().any(forbidden_in_xml) {
        violations.add(
            field,
            "must not contain control characters (XML 1.0 cannot carry them)",
        );
    }
}

/// An `<identifier>` or `<sender>`: CAP 1.2 §3.2.1 says it "MUST NOT include spaces, commas or
/// restricted characters (< and &)".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

/// Longest identifier or sender we issue or accept.
pub const MAX_TOKEN_CHARS: usize = 200;

impl Token {
    pub fn new(field: &str, text: &str) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if text.is_empty() {
            violations.add(field, "required");
        }
        if text.chars().count() > MAX_TOKEN_CHARS {
            violations.add(field, format!("at most {MAX_TOKEN_CHARS} characters"));
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == '<' || c == '&' || forbidden_in_xml(c))
        {
            violations.add(
                field,
                "must not contain spaces, commas, '<', '&' or control characters (CAP 1.2 §3.2.1)",
            );
        }
        violations.into_result(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CAP time (`<sent>`, `<expires>`...): whole seconds with a numeric offset, as the XSD's
/// pattern `\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapTime(DateTime<FixedOffset>);

impl CapTime {
    /// The time, truncated to the second (CAP times have no fractions).
    pub fn new(time: DateTime<FixedOffset>) -> Self {
        Self(time.with_nanosecond(0).unwrap_or(time))
    }

    pub fn utc(time: DateTime<Utc>) -> Self {
        Self::new(time.fixed_offset())
    }

    /// Reads a time as CAP spells it (offset required; `Z` is not CAP).
    pub fn parse(field: &str, text: &str) -> Result<Self, Violations> {
        let shaped = text.len() == 25
            && text.is_ascii()
            && text.as_bytes()[10] == b'T'
            && matches!(&text[19..20], "+" | "-")
            && !text.contains('.');
        match DateTime::parse_from_rfc3339(text) {
            Ok(time) if shaped => Ok(Self(time)),
            _ => Err(Violations::single(
                field,
                "must be YYYY-MM-DDThh:mm:ss followed by a numeric offset such as -06:00",
            )),
        }
    }

    pub fn time(&self) -> DateTime<FixedOffset> {
        self.0
    }

    pub fn to_utc(&self) -> DateTime<Utc> {
        self.0.with_timezone(&Utc)
    }
}

impl std::fmt::Display for CapTime {
    /// CAP 1.2 §3.3.2: "the timezone for UTC MUST be represented as -00:00".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_rfc3339_opts(SecondsFormat::Secs, false);
        match text.strip_suffix("+00:00") {
            Some(local) => write!(f, "{local}-00:00"),
            None => f.write_str(&text),
        }
    }
}

/// One entry of `<references>`: `sender,identifier,sent` of an earlier message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub sender: Token,
    pub identifier: Token,
    pub sent: CapTime,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{},{},{}",
            self.sender.as_str(),
            self.identifier.as_str(),
            self.sent
        )
    }
}

/// An `xs:language` tag (`es-MX`, `en-US`): letters, then hyphenated alphanumeric subtags of at
/// most eight characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    pub fn new(field: &str, text: &str) -> Result<Self, Violations> {
        let mut parts = text.split('-');
        let primary_ok = parts.next().is_some_and(|primary| {
            (1..=8).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic())
        });
        let rest_ok = parts.all(|part| {
            (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if primary_ok && rest_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Violations::single(
                field,
                "must be a language tag such as es-MX or en-US",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language, lower case: `es` for `es-MX`.
    pub fn primary(&self) -> String {
        self.0
            .split('-')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

/// Coordinates as CAP writes them: `lat,lon` in decimal degrees (WGS 84).
fn coordinates(point: &GeoPoint) -> String {
    format!(
        "{},{}",
        degrees(point.latitude()),
        degrees(point.longitude())
    )
}

/// Degrees to six decimals (about 0.1 m), without trailing zeros.
fn degrees(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// `<circle>`: a centre and a radius in kilometres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub center: GeoPoint,
    pub radius_km: f64,
}

impl Circle {
    /// `radius_km` must be over 0 (a warning covers somewhere) and at most [`MAX_RADIUS_KM`];
    /// violations name `radius_km`.
    pub fn new(center: GeoPoint, radius_km: f64) -> Result<Self, Violations> {
        Self::check_radius(radius_km).map(|()| Self { center, radius_km })
    }

    /// The radius rule alone, for a circle whose centre is found later (the incident's).
    pub fn check_radius(radius_km: f64) -> Result<(), Violations> {
        if radius_km.is_finite() && radius_km > 0.0 && radius_km <= MAX_RADIUS_KM {
            Ok(())
        } else {
            Err(Violations::single(
                "radius_km",
                format!("must be over 0 and at most {MAX_RADIUS_KM} km, got {radius_km}"),
            ))
        }
    }
}

impl std::fmt::Display for Circle {
    /// `lat,lon radius`, e.g. `19.4326,-99.1332 2.5`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let radius = format!("{:.3}", self.radius_km);
        let radius = radius.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{} {radius}", coordinates(&self.center))
    }
}

/// `<polygon>`: a closed ring, at least four points, the first and last the same (CAP 1.2
/// §3.3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(Vec<GeoPoint>);

impl Polygon {
    /// Violations name `points`.
    pub fn new(points: Vec<GeoPoint>) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if points.len() < 4 {
            violations.add(
                "points",
                format!(
                    "a polygon needs at least 4 points, the last equal to the first; got {}",
                    points.len()
                ),
            );
        } else if points.first() != points.last() {
            violations.add(
                "points",
                "the polygon is not closed: the last point must equal the first",
            );
        }
        if points.len() > MAX_POLYGON_POINTS {
            violations.add("points", format!("at most {MAX_POLYGON_POINTS} points"));
        }
        violations.into_result(|| Self(points))
    }

    pub fn points(&self) -> &[GeoPoint] {
        &self.0
    }
}

impl std::fmt::Display for Polygon {
    /// Space-separated `lat,lon` pairs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(coordinates).collect();
        f.write_str(&pairs.join(" "))
    }
}

/// `<area>`: what the warning covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub description: String,
    pub polygons: Vec<Polygon>,
    pub circles: Vec<Circle>,
}

/// `<parameter>` (and `<eventCode>`): a name and a value, both free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    pub name: String,
    pub value: String,
}

/// `<info>`: the warning in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub language: Language,
    pub categories: Vec<Category>,
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub event_codes: Vec<NamedValue>,
    pub effective: Option<CapTime>,
    pub expires: Option<CapTime>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub contact: Option<String>,
    pub parameters: Vec<NamedValue>,
    pub areas: Vec<Area>,
}

/// `<alert>`: one CAP message.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub identifier: Token,
    pub sender: Token,
    pub sent: CapTime,
    pub status: Status,
    pub msg_type: MsgType,
    pub source: Option<String>,
    pub scope: Scope,
    pub note: Option<String>,
    /// Earlier messages this one updates or cancels.
    pub references: Vec<Reference>,
    /// Incident identifiers (ours: folios), space-separated in `<incidents>`.
    pub incidents: Vec<Token>,
    pub infos: Vec<Info>,
}

impl Alert {
    /// The rules CAP states that the XSD does not check: an Update or Cancel references what it
    /// updates, Restricted and Private scopes are not what a public feed carries, every text fits
    /// in an XML document, at most one info per language, every info names a category and its
    /// areas describe themselves. Paths are the CAP element names.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if matches!(self.msg_type, MsgType::Update | MsgType::Cancel) && self.references.is_empty()
        {
            violations.add(
                "references",
                "an Update or Cancel must reference the message it updates",
            );
        }
        if self.msg_type == MsgType::Alert && !self.references.is_empty() {
            violations.add("references", "a first Alert references nothing");
        }
        if self.scope != Scope::Public {
            violations.add(
                "scope",
                "only Public alerts are issued (Restricted and Private need <restriction> and <addresses>)",
            );
        }
        for (field, text) in [("source", &self.source), ("note", &self.note)] {
            if let Some(text) = text {
                check_text(&mut violations, field, text, MAX_TEXT_CHARS, false);
            }
        }
        let mut languages = Vec::new();
        for (i, info) in self.infos.iter().enumerate() {
            let mut found = Violations::new();
            info.check(&mut found);
            if languages.contains(&info.language) {
                found.add("language", "one info per language");
            }
            languages.push(info.language.clone());
            if !found.is_empty() {
                violations.collect::<()>(Err(found.within(&format!("info[{i}]"))));
            }
        }
        violations.into_result(|| ())
    }

    /// The CAP 1.2 XML document.
    pub fn to_xml(&self) -> String {
        xml::alert(self)
    }

    /// This message as another references it.
    pub fn reference(&self) -> Reference {
        Reference {
            sender: self.sender.clone(),
            identifier: self.identifier.clone(),
            sent: self.sent,
        }
    }
}

impl Info {
    fn check(&self, violations: &mut Violations) {
        if self.categories.is_empty() {
            violations.add("category", "at least one category");
        }
        check_text(violations, "event", &self.event, MAX_SHORT_TEXT_CHARS, true);
        let optional = [
            ("senderName", &self.sender_name, MAX_SHORT_TEXT_CHARS),
            ("headline", &self.headline, MAX_HEADLINE_CHARS),
            ("description", &self.description, MAX_TEXT_CHARS),
            ("instruction", &self.instruction, MAX_TEXT_CHARS),
            ("contact", &self.contact, MAX_SHORT_TEXT_CHARS),
        ];
        for (field, text, max) in optional {
            if let Some(text) = text {
                check_text(violations, field, text, max, true);
            }
        }
        for (kind, pairs) in [
            ("eventCode", &self.event_codes),
            ("parameter", &self.parameters),
        ] {
            for (i, pair) in pairs.iter().enumerate() {
                let path = format!("{kind}[{i}]");
                check_text(
                    violations,
                    &format!("{path}.valueName"),
                    &pair.name,
                    MAX_SHORT_TEXT_CHARS,
                    true,
                );
                check_text(
                    violations,
                    &format!("{path}.value"),
                    &pair.value,
                    MAX_TEXT_CHARS,
                    false,
                );
            }
        }
        for (i, area) in self.areas.iter().enumerate() {
            let path = format!("area[{i}]");
            check_text(
                violations,
                &format!("{path}.areaDesc"),
                &area.description,
                MAX_SHORT_TEXT_CHARS,
                true,
            );
            if area.polygons.is_empty() && area.circles.is_empty() {
                violations.add(path, "an area needs a polygon or a circle");
            }
        }
        if let (Some(effective), Some(expires)) = (self.effective, self.expires)
            && expires.to_utc() <= effective.to_utc()
        {
            violations.add("expires", "must be after effective");
        }
    }
}

#[cfg(test)]
mod tests;
