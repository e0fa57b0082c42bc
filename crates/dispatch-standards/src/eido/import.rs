//! EIDO in: the text of an EIDO another system sent (NENA-STA-021.1b, JSON) as a validated
//! command to create or update our incident. Every problem is collected with its JSON path
//! (`$.callComponent[0].callStartTimestamp`): unparsable JSON (with its line and column), a
//! departure from the schema (wrong types, missing required properties, values outside an
//! enumeration, unknown keys), then what the schema cannot say (references that point nowhere,
//! coordinates out of range, times in the future, texts too long for us). Never panics.
//!
//! What is read: the incident tracking identifier (the EIDO's `$id`) and its version (its
//! `lastUpdateTimeStamp`); the incident type (our catalogue's code when the sender used one as
//! its internal code, else the APCO common type mapped to ours, the original kept either
//! way) and common priority; one location (a geodetic PIDF-LO shape's centre and radius and the
//! civic address, or the caller's fallback when the EIDO has no coordinates); every call (start
//! and answer times, callback number, its location); every note with its author.

mod pidf;
mod schema;
pub mod types;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use dispatch_domain::Violations;
use dispatch_domain::call::{CallDraft, Channel, MAX_NOTE_CHARS, NewCall, check_length};
use dispatch_domain::location::{GeoPoint, Location, LocationSource, MAX_CIVIC_ADDRESS_CHARS};
use dispatch_domain::triage::{Catalogue, MAX_PRIORITY};

use schema::{child, item};

/// Longest incident tracking identifier or component id we keep.
pub const MAX_IDENTIFIER_CHARS: usize = 255;

/// An EIDO, validated and read: what to create or update.
#[derive(Debug, Clone, PartialEq)]
pub struct EidoImport {
    /// The incident tracking identifier (`$.$id`): globally unique, it names the sender's
    /// incident in every version it sends.
    pub tracking_id: String,
    /// `$.lastUpdateTimeStamp`: a later one is a newer version of the incident.
    pub version: DateTime<Utc>,
    /// `$.issuingElementIdentification`: the functional element that wrote this version.
    pub issuing_element: String,
    /// `$.updatedByAgencyReference`: the agency that last updated it.
    pub agency: String,
    pub foreign_type: ForeignType,
    /// Our catalogue's type, when the sender's maps to one.
    pub incident_type: Option<String>,
    /// The EIDO common priority (0–10), or the type's default.
    pub priority: Option<u8>,
    pub location: Location,
    pub calls: Vec<ImportedCall>,
    pub notes: Vec<ImportedNote>,
    /// The document as sent, kept with the import.
    pub document: Value,
}

/// The incident type as the sender wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ForeignType {
    /// `incidentTypeCommonRegistryText`.
    pub common: String,
    /// `incidentTypeInternalCode`.
    pub internal_code: String,
    /// `incidentTypeInternalText`.
    pub internal_text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportedCall {
    /// The call component's `$id`, which names the call in every version.
    pub foreign_id: String,
    /// Back-entered with its original times.
    pub call: NewCall,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedNote {
    /// The notes component's `$id`.
    pub foreign_id: String,
    /// The sender's agent (`agentReference`, else the component's updating agent, else its
    /// agency), kept as the sender named it.
    pub author: String,
    /// `notesActionComments` (HTML5) as plain text: markup dropped, character references
    /// decoded, a line break for each `<br>` and paragraph.
    pub text: String,
    pub written_at: DateTime<Utc>,
}

/// Reads and validates an EIDO. `fallback` places the incident when the EIDO carries no
/// coordinates (only a civic address or a location by reference, which we cannot resolve);
/// `catalogue` is the types we know; `now` the server's clock.
pub fn read(
    text: &str,
    fallback: Option<&Location>,
    catalogue: &Catalogue,
    now: DateTime<Utc>,
) -> Result<EidoImport, Violations> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        Violations::single(
            "$",
            format!(
                "is not JSON: {} at line {}, column {}",
                describe_json_error(&error),
                error.line(),
                error.column()
            ),
        )
    })?;
    let mut violations = Violations::new();
    schema::check(&document, &schema::EIDO, "$", &mut violations);
    if !violations.is_empty() {
        return Err(violations);
    }
    Reader::new(&document, catalogue, now).read(fallback, document.clone())
}

fn describe_json_error(error: &serde_json::Error) -> String {
    // serde_json's message ends with its own " at line L column C"; ours says it once.
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// The components of a schema-valid document, by `$id`, with their paths.
struct Reader<'d> {
    root: &'d Value,
    catalogue: &'d Catalogue,
    now: DateTime<Utc>,
    locations: HashMap<&'d str, (String, &'d Value)>,
    callbacks: HashMap<&'d str, &'d Value>,
    agents: HashMap<&'d str, &'d Value>,
    violations: Violations,
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn reference<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.get("$ref")?.as_str()
}

fn references<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = (usize, &'v str)> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.get("$ref")?.as_str()?)))
}

fn components<'v>(value: &'v Value, key: &str) -> impl Iterator<Item = (String, &'v Value)> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(move |(i, component)| (item(&child("$", key), i), component))
}

/// A schema-valid date-time, in UTC.
fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    let text = value.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A location read from its component: a point (with how far off and how it was found), or
/// not, and the civic address.
#[derive(Default)]
struct Found {
    point: Option<(GeoPoint, f64, LocationSource)>,
    civic_address: String,
}

impl<'d> Reader<'d> {
    fn new(root: &'d Value, catalogue: &'d Catalogue, now: DateTime<Utc>) -> Self {
        let index = |key: &str| {
            components(root, key)
                .map(|(path, c)| (text(c, "$id"), (path, c)))
                .collect::<HashMap<_, _>>()
        };
        Self {
            root,
            catalogue,
            now,
            locations: index("locationComponent"),
            callbacks: index("callbackComponent")
                .into_iter()
                .map(|(id, (_, c))| (id, c))
                .collect(),
            agents: index("agentComponent")
                .into_iter()
                .map(|(id, (_, c))| (id, c))
                .collect(),
            violations: Violations::new(),
        }
    }

    fn read(
        mut self,
        fallback: Option<&Location>,
        document: Value,
    ) -> Result<EidoImport, Violations> {
        let root = self.root;
        let tracking_id = text(root, "$id").to_owned();
        self.identifier("$.$id", &tracking_id);
        let version = time(root, "lastUpdateTimeStamp").unwrap_or(self.now);
        self.not_future("$.lastUpdateTimeStamp", version);
        let incident = root.get("incidentComponent");
        let foreign_type = incident.map_or_else(ForeignType::default, |incident| ForeignType {
            common: text(incident, "incidentTypeCommonRegistryText").to_owned(),
            internal_code: text(incident, "incidentTypeInternalCode").to_owned(),
            internal_text: text(incident, "incidentTypeInternalText").to_owned(),
        });
        let incident_type = self.our_type(&foreign_type);
        let priority = self.priority(incident, incident_type.as_deref());
        let location = self.incident_location(incident, fallback);
        let calls = self.calls(location.as_ref());
        let notes = self.notes();
        let violations = self.violations;
        match location {
            Some(location) if violations.is_empty() => Ok(EidoImport {
                tracking_id,
                version,
                issuing_element: text(root, "issuingElementIdentification").to_owned(),
                agency: reference(root, "updatedByAgencyReference")
                    .unwrap_or_default()
                    .to_owned(),
                foreign_type,
                incident_type,
                priority,
                location,
                calls,
                notes,
                document,
            }),
            _ => Err(violations),
        }
    }

    fn identifier(&mut self, path: &str, id: &str) {
        if id.trim().is_empty() {
            self.violations.add(path, "must not be empty");
        }
        check_length(&mut self.violations, path, id, MAX_IDENTIFIER_CHARS);
    }

    fn not_future(&mut self, path: &str, at: DateTime<Utc>) {
        if at > self.now + dispatch_domain::call::MAX_CLOCK_SKEW {
            self.violations.add(path, "is in the future");
        }
    }

    /// Ours, if the sender's internal code is one of our types (another dispatch, or a sender
    /// that adopted our codes), else the APCO common type's counterpart in our catalogue.
    fn our_type(&self, foreign: &ForeignType) -> Option<String> {
        [foreign.internal_code.as_str()]
            .into_iter()
            .find(|code| self.catalogue.get(code).is_some())
            .or_else(|| types::catalogue_code(&foreign.common))
            .filter(|code| self.catalogue.get(code).is_some())
            .map(str::to_owned)
    }

    fn priority(&mut self, incident: Option<&Value>, incident_type: Option<&str>) -> Option<u8> {
        let path = "$.incidentComponent.incidentCommonPriorityNumber";
        match incident
            .and_then(|i| i.get("incidentCommonPriorityNumber"))
            .and_then(Value::as_i64)
        {
            Some(number) => {
                match u8::try_from(number).ok().filter(|p| *p <= MAX_PRIORITY) {
                    Some(priority) => Some(priority),
                    None => {
                        self.violations.add(
                        path,
                        format!("must be an EIDO common priority from 0 to {MAX_PRIORITY}, got {number}"),
                    );
                        None
                    }
                }
            }
            None => incident_type
                .and_then(|code| self.catalogue.get(code))
                .map(|t| t.default_priority),
        }
    }

    /// What the location components named by `refs` say: the first point among them, the first
    /// civic address. A reference to no location component is a problem at its path.
    fn locate(&mut self, refs: &[(String, &'d str)]) -> Found {
        let mut found = Found::default();
        for (path, id) in refs {
            let Some((component_path, component)) = self.locations.get(id).cloned() else {
                self.violations.add(
                    path.clone(),
                    format!("refers to no locationComponent: {id:?}"),
                );
                continue;
            };
            let described = text(component, "locationDescriptionText");
            let Some(xml) = component.get("locationByValue").and_then(Value::as_str) else {
                if found.civic_address.is_empty() {
                    found.civic_address = described.to_owned();
                }
                continue;
            };
            let xml_path = child(&component_path, "locationByValue");
            match pidf::read(xml) {
                Ok(pidf) => {
                    if found.point.is_none()
                        && let Some(g) = pidf.geodetic
                    {
                        match GeoPoint::new(g.latitude, g.longitude) {
                            Ok(point) => {
                                let source = pidf.source.unwrap_or(LocationSource::Network);
                                found.point = Some((point, g.uncertainty_m, source));
                            }
                            Err(problems) => {
                                self.violations.add(xml_path.clone(), problems.to_string())
                            }
                        }
                    }
                    // A PIDF-LO civic address, else the component's own description of the
                    // place (where our own EIDOs write the address as the caller gave it).
                    if found.civic_address.is_empty() {
                        found.civic_address = if pidf.civic_address.is_empty() {
                            described.to_owned()
                        } else {
                            pidf.civic_address
                        };
                    }
                }
                Err(problem) => self.violations.add(xml_path, problem),
            }
        }
        found
    }

    /// Every location component the incident, then its calls, then the document name: the
    /// incident's own first.
    fn incident_location(
        &mut self,
        incident: Option<&'d Value>,
        fallback: Option<&Location>,
    ) -> Option<Location> {
        let mut refs: Vec<(String, &'d str)> = Vec::new();
        if let Some(incident) = incident {
            refs.extend(
                references(incident, "locationReference")
                    .map(|(i, id)| (item("$.incidentComponent.locationReference", i), id)),
            );
        }
        for (path, call) in components(self.root, "callComponent") {
            refs.extend(
                references(call, "locationReference")
                    .map(|(i, id)| (item(&child(&path, "locationReference"), i), id)),
            );
        }
        for (path, component) in components(self.root, "locationComponent") {
            let id = text(component, "$id");
            if !refs.iter().any(|(_, r)| *r == id) {
                refs.push((child(&path, "$id"), id));
            }
        }
        let found = self.locate(&refs);
        self.location_from(found, fallback, "$.locationComponent")
    }

    fn location_from(
        &mut self,
        found: Found,
        fallback: Option<&Location>,
        path: &str,
    ) -> Option<Location> {
        let (point, uncertainty_m, source, civic_address) = match (found.point, fallback) {
            (Some((point, uncertainty, source)), _) => {
                (point, uncertainty, source, found.civic_address)
            }
            (None, Some(fallback)) => (
                fallback.point,
                fallback.uncertainty_m,
                fallback.source,
                if found.civic_address.is_empty() {
                    fallback.civic_address.clone()
                } else {
                    found.civic_address
                },
            ),
            (None, None) => {
                self.violations.add(
                    path,
                    "has no coordinates (no geodetic PIDF-LO shape in any locationByValue), and \
                     no fallback location was given to place the incident",
                );
                return None;
            }
        };
        let civic_address: String = civic_address
            .chars()
            .take(MAX_CIVIC_ADDRESS_CHARS)
            .collect();
        match Location::new(Ok(point), uncertainty_m, Some(source), civic_address) {
            Ok(location) => Some(location),
            Err(problems) => {
                self.violations.add(path, problems.to_string());
                None
            }
        }
    }

    fn calls(&mut self, incident_location: Option<&Location>) -> Vec<ImportedCall> {
        let mut calls = Vec::new();
        for (path, call) in components(self.root, "callComponent") {
            let foreign_id = text(call, "$id").to_owned();
            self.identifier(&child(&path, "$id"), &foreign_id);
            let refs: Vec<_> = references(call, "locationReference")
                .map(|(i, id)| (item(&child(&path, "locationReference"), i), id))
                .collect();
            let found = self.locate(&refs);
            let location = match (found.point, incident_location) {
                (Some(_), _) => self.location_from(found, None, &child(&path, "locationReference")),
                (None, Some(incident)) => Some(Location {
                    civic_address: if found.civic_address.is_empty() {
                        incident.civic_address.clone()
                    } else {
                        found
                            .civic_address
                            .chars()
                            .take(MAX_CIVIC_ADDRESS_CHARS)
                            .collect()
                    },
                    ..incident.clone()
                }),
                (None, None) => None,
            };
            let callback_number = self.callback_number(call, &path);
            let channel = Channel::parse(text(call, "localCallType")).unwrap_or(Channel::Voice911);
            let draft = CallDraft {
                channel: Some(channel),
                received_at: time(call, "callStartTimestamp"),
                answered_at: time(call, "answerDate"),
                back_entered: true,
                callback_number,
                caller_name: String::new(),
                language: String::new(),
                location: location.ok_or_else(Violations::new),
                account: String::new(),
                incident_type_hint: String::new(),
                source_device_id: String::new(),
            };
            match draft.validate(self.now) {
                Ok(new_call) => calls.push(ImportedCall {
                    foreign_id,
                    call: new_call,
                }),
                Err(problems) => {
                    for problem in problems.iter() {
                        let field = match problem.field.as_str() {
                            "received_time" => child(&path, "callStartTimestamp"),
                            "answered_time" => child(&path, "answerDate"),
                            "callback_number" => child(&path, "callBackReference"),
                            _ => child(&path, "locationReference"),
                        };
                        self.violations.add(field, problem.description.clone());
                    }
                }
            }
        }
        calls
    }

    /// The first `tel:` URI of the call's callback component that is a number we can dial.
    fn callback_number(&mut self, call: &Value, path: &str) -> String {
        let Some(id) = reference(call, "callBackReference") else {
            return String::new();
        };
        let Some(callback) = self.callbacks.get(id) else {
            self.violations.add(
                child(path, "callBackReference"),
                format!("refers to no callbackComponent: {id:?}"),
            );
            return String::new();
        };
        callback
            .get("callBackInformationUri")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|uri| uri.strip_prefix("tel:"))
            .map(|number| number.split(';').next().unwrap_or_default())
            .find_map(|number| dispatch_domain::call::CallbackNumber::parse(number).ok())
            .map(|number| number.as_str().to_owned())
            .unwrap_or_default()
    }

    fn notes(&mut self) -> Vec<ImportedNote> {
        let mut notes = Vec::new();
        for (path, note) in components(self.root, "notesComponent") {
            let foreign_id = text(note, "$id").to_owned();
            self.identifier(&child(&path, "$id"), &foreign_id);
            let text_path = child(&path, "notesActionComments");
            let comments = plain_text(text(note, "notesActionComments"));
            if comments.trim().is_empty() {
                self.violations.add(text_path.clone(), "must not be empty");
            }
            check_length(&mut self.violations, &text_path, &comments, MAX_NOTE_CHARS);
            let author = match reference(note, "agentReference") {
                Some(agent) if self.agents.contains_key(agent) => agent.to_owned(),
                Some(agent) => {
                    self.violations.add(
                        child(&path, "agentReference"),
                        format!("refers to no agentComponent: {agent:?}"),
                    );
                    continue;
                }
                None => reference(note, "updatedByAgentReference")
                    .or_else(|| reference(note, "updatedByAgencyReference"))
                    .unwrap_or_default()
                    .to_owned(),
            };
            let written_at = time(note, "lastUpdateTimeStamp").unwrap_or(self.now);
            self.not_future(&child(&path, "lastUpdateTimeStamp"), written_at);
            notes.push(ImportedNote {
                foreign_id,
                author,
                text: comments,
                written_at,
            });
        }
        notes
    }
}

/// HTML5 text as plain text: tags dropped (`<br>`, `</p>` and `</div>` end a line), the
/// character references decoded (named ones for markup characters and spaces, numeric ones).
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else {
                break;
            };
            let tag = rest[1..end].trim().to_ascii_lowercase();
            if tag.starts_with("br") || tag == "/p" || tag == "/div" {
                text.push('\n');
            }
            rest = &rest[end + 1..];
        } else {
            let decoded = rest.find(';').filter(|end| *end <= 10).and_then(|end| {
                let name = &rest[1..end];
                let c = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => name
                        .strip_prefix("#x")
                        .or_else(|| name.strip_prefix("#X"))
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                        .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                        .and_then(char::from_u32),
                };
                c.map(|c| (c, end))
            });
            match decoded {
                Some((c, end)) => {
                    text.push(c);
                    rest = &rest[end + 1..];
                }
                None => {
                    text.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    text.push_str(rest);
    text.trim_end_matches('\n').to_owned()
}

#[cfg(test)]
mod tests;
