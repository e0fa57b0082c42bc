//! An incident, at one moment, as an EIDO: the domain's values in, the document out.
//!
//! Every component gets a `$id` derived from our own ids, so the same thing keeps the same
//! `$id` from one EIDO of an incident to the next (a subscriber can tell an update of a
//! component from a new one). Which EIDO field carries what is written beside each builder and
//! summed up in the README's integrators section.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

use dispatch_domain::assignment::Assignment;
use dispatch_domain::call::Call;
use dispatch_domain::directory::Agency;
use dispatch_domain::ids::{AgencyId, CallId, IncidentId};
use dispatch_domain::incident::{Incident, IncidentStatus, Note};
use dispatch_domain::location::Location;
use dispatch_domain::principal::Principal;
use dispatch_domain::triage::IncidentType;

use super::document::{
    Agency as EidoAgency, Agent, CallDirection, CallInformation, Callback, DispatchInformation,
    Disposition, EIDO_VERSION, EmergencyIncidentDataObject, EmergencyResource, IncidentInformation,
    JSON_LD_VOCAB, JsonLdContext, LocationInformation, MergeDirection, MergeInformation, Notes,
    PersonInformation, Prologue, Reference,
};
use super::registries::{
    CALL_TAKING, DISPATCHING, INCIDENT_HANDLING, agency_type, agent_role, common_disposition,
    common_incident_type, common_resource_type, common_status, location_method,
    secondary_call_type,
};

/// Who we are to other systems: the centre's domain name (`DISPATCH_CENTRE_DOMAIN`), from which
/// every identifier of our EIDOs is made: incidents
/// `urn:emergency:uid:incidentid:{uuid}:{domain}`, calls `urn:emergency:uid:callid:...`, the
/// centre as an agency `{domain}`, our agencies `{code}.{domain}`, our people
/// `{handle}@{domain}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Centre {
    pub domain: String,
}

impl Centre {
    /// The incident tracking identifier (NENA-STA-021, the EIDO's `$id`).
    pub fn incident_tracking_id(&self, incident: IncidentId) -> String {
        format!(
            "urn:emergency:uid:incidentid:{}:{}",
            incident.0.simple(),
            self.domain
        )
    }

    /// The call identifier (`urn:emergency:uid:callid`).
    pub fn call_id(&self, call: CallId) -> String {
        format!(
            "urn:emergency:uid:callid:{}:{}",
            call.0.simple(),
            self.domain
        )
    }

    /// The centre itself as an agency: the PSAP that takes the calls and dispatches.
    pub fn agency_id(&self) -> String {
        self.domain.clone()
    }

    /// The functional element that issues our EIDOs (`issuingElementIdentification`).
    pub fn issuing_element(&self) -> String {
        format!("cad.{}", self.domain)
    }

    fn agency_ref(&self) -> Reference {
        Reference::to(self.agency_id())
    }

    fn directory_agency_id(&self, agency: &Agency) -> String {
        format!("{}.{}", agency.details.code, self.domain)
    }
}

/// An incident merged into this one, or the one this incident was merged into.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub other: IncidentId,
    /// `Replacing`: `other` was merged into this incident; `Replaced`: this one into `other`.
    pub direction: MergeDirection,
    pub at: DateTime<Utc>,
    /// Who merged (a principal's resource name).
    pub actor: String,
}

/// Everything an incident's EIDO says, as the domain holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    pub incident: Incident,
    /// The incident's type in the catalogue, when it has one the catalogue knows.
    pub incident_type: Option<IncidentType>,
    /// The calls linked to it (a merge brings the duplicate's calls along), oldest first.
    pub calls: Vec<Call>,
    pub notes: Vec<Note>,
    /// Units sent, active and past, oldest first.
    pub assignments: Vec<Assignment>,
    /// The agencies of the assigned units and of the people who acted (the centre itself is
    /// not in the directory: it is [`Centre`]).
    pub agencies: Vec<Agency>,
    /// The principals behind the actors (`principals/{uuid}`) met in the record, where known.
    pub principals: Vec<Principal>,
    pub merges: Vec<Merge>,
}

/// The incident as an EIDO (NENA-STA-021.1b).
pub fn incident_eido(centre: &Centre, record: &IncidentRecord) -> EmergencyIncidentDataObject {
    Builder::new(centre, record).build()
}

struct Builder<'a> {
    centre: &'a Centre,
    record: &'a IncidentRecord,
    tracking_id: String,
    agencies: BTreeMap<AgencyId, &'a Agency>,
    /// Every actor met, with what they did here (a fallback for their role).
    actors: BTreeMap<String, BTreeSet<&'static str>>,
}

impl<'a> Builder<'a> {
    fn new(centre: &'a Centre, record: &'a IncidentRecord) -> Self {
        Self {
            centre,
            record,
            tracking_id: centre.incident_tracking_id(record.incident.id),
            agencies: record.agencies.iter().map(|a| (a.id, a)).collect(),
            actors: BTreeMap::new(),
        }
    }

    fn prologue(&self, id: String, at: DateTime<Utc>, agent: Option<Reference>) -> Prologue {
        Prologue {
            id,
            last_update_time_stamp: utc(at),
            updated_by_agency_reference: self.centre.agency_ref(),
            updated_by_agent_reference: agent,
        }
    }

    /// The agent component's `$id` of an actor, noting what it did.
    fn agent(&mut self, actor: &str, did: &'static str) -> Reference {
        self.actors.entry(actor.to_owned()).or_default().insert(did);
        Reference::to(self.agent_id(actor))
    }

    fn principal(&self, actor: &str) -> Option<&'a Principal> {
        let id = actor.strip_prefix("principals/")?;
        self.record
            .principals
            .iter()
            .find(|p| p.id.0.to_string() == id)
    }

    fn agent_id(&self, actor: &str) -> String {
        let handle = match self.principal(actor) {
            Some(principal) => principal.name.as_str(),
            None => actor.strip_prefix("principals/").unwrap_or(actor),
        };
        format!("{handle}@{}", self.centre.domain)
    }

    fn agency_ref(&self, agency: AgencyId) -> Reference {
        match self.agencies.get(&agency) {
            Some(agency) => Reference::to(self.centre.directory_agency_id(agency)),
            // An agency we could not read is not listed, so nothing may refer to it.
            None => self.centre.agency_ref(),
        }
    }

    fn build(mut self) -> EmergencyIncidentDataObject {
        let incident = &self.record.incident;
        let mut notes = Vec::new();
        let mut locations = vec![self.location(
            format!("{}:location", self.tracking_id),
            "Incident",
            &incident.location,
            incident.updated_at,
        )];

        let mut incident_notes = Vec::new();
        let created_by = self.agent(&incident.created_by, INCIDENT_HANDLING);
        if !incident.summary.is_empty() {
            let id = format!("{}:summary", self.tracking_id);
            incident_notes.push(Reference::to(&id));
            notes.push(Notes {
                prologue: self.prologue(id, incident.updated_at, Some(created_by.clone())),
                notes_action_comments: html_text(&incident.summary),
                agent_reference: Some(created_by.clone()),
            });
        }
        for (index, note) in self.record.notes.iter().enumerate() {
            let id = format!("{}:note:{}", self.tracking_id, index + 1);
            let author = self.agent(&note.author, INCIDENT_HANDLING);
            incident_notes.push(Reference::to(&id));
            notes.push(Notes {
                prologue: self.prologue(id, note.created_at, Some(author.clone())),
                notes_action_comments: html_text(&note.text),
                agent_reference: Some(author),
            });
        }

        let mut calls = Vec::new();
        let mut callbacks = Vec::new();
        let mut people = Vec::new();
        for call in &self.record.calls {
            let parts = self.call(call);
            calls.push(parts.call);
            callbacks.extend(parts.callback);
            people.push(parts.caller);
            locations.push(parts.location);
            notes.extend(parts.account);
        }

        let mut resources = Vec::new();
        let mut dispatches = Vec::new();
        for assignment in &self.record.assignments {
            let parts = self.resource(assignment);
            resources.push(parts.resource);
            dispatches.push(parts.dispatch);
            notes.extend(parts.history);
        }

        let merges = self.merges();
        let incident_component = self.incident(incident_notes, created_by);
        let agents = self.agents();
        let agencies = self.agencies();
        let last_update = [incident.updated_at]
            .into_iter()
            .chain(
                notes
                    .iter()
                    .map(|n| n.prologue.last_update_time_stamp.to_utc()),
            )
            .chain(
                calls
                    .iter()
                    .map(|c| c.prologue.last_update_time_stamp.to_utc()),
            )
            .chain(
                resources
                    .iter()
                    .map(|r| r.prologue.last_update_time_stamp.to_utc()),
            )
            .max()
            .unwrap_or(incident.updated_at);

        EmergencyIncidentDataObject {
            prologue: self.prologue(self.tracking_id.clone(), last_update, None),
            eido_version: EIDO_VERSION.to_owned(),
            issuing_element_identification: self.centre.issuing_element(),
            merge_component: merges,
            link_component: Vec::new(),
            incident_component: Some(incident_component),
            call_component: calls,
            callback_component: callbacks,
            dispatch_component: dispatches,
            alarms_sensors_component: Vec::new(),
            agency_component: agencies,
            agent_component: agents,
            notes_component: notes,
            additional_data_component: Vec::new(),
            location_component: locations,
            person_component: people,
            vehicle_component: Vec::new(),
            emergency_resource_component: resources,
            context: Some(JsonLdContext {
                vocab: Some(JSON_LD_VOCAB.to_owned()),
            }),
        }
    }

    /// The incident component: type (ours as the internal code and text, the catalogue's
    /// category as the common type), status (ours internal, a common one), priority (our 0–10
    /// is EIDO's common scale), our folio as the internal id, the disposition once closed.
    fn incident(&self, notes: Vec<Reference>, created_by: Reference) -> IncidentInformation {
        let incident = &self.record.incident;
        let catalogue = self.record.incident_type.as_ref();
        IncidentInformation {
            prologue: self.prologue(
                format!("{}:incident", self.tracking_id),
                incident.updated_at,
                None,
            ),
            incident_type_internal_code: incident.incident_type.clone(),
            incident_type_internal_text: catalogue.map(|t| t.display_name.clone()),
            incident_type_common_registry_text: common_incident_type(
                incident.incident_type.as_deref(),
                catalogue,
            )
            .to_owned(),
            incident_status_internal_text: vec![incident.status.as_str().to_owned()],
            incident_status_common_registry_text: vec![common_status(incident.status).to_owned()],
            internal_incident_id: Some(incident.folio.clone()),
            agent_reference: vec![created_by],
            location_reference: vec![Reference::to(format!("{}:location", self.tracking_id))],
            person_reference: self
                .record
                .calls
                .iter()
                .map(|call| Reference::to(format!("{}:caller", self.centre.call_id(call.id))))
                .collect(),
            vehicle_reference: Vec::new(),
            document_identification: Vec::new(),
            report_number_type: None,
            incident_priority_internal_text: incident.priority.map(|p| p.to_string()),
            incident_common_priority_number: incident.priority.map(i32::from),
            beat_or_dispatch_group_text: None,
            disposition_component: self.disposition().into_iter().collect(),
            notes_reference: notes,
        }
    }

    /// The closing code (or the cancellation) with the closing note.
    fn disposition(&self) -> Option<Disposition> {
        let incident = &self.record.incident;
        let (common, ours) = match (incident.status, incident.closing_code) {
            (_, Some(code)) => (common_disposition(code), code.as_str()),
            (IncidentStatus::Cancelled, None) => ("Cancelled", "cancelled"),
            _ => return None,
        };
        Some(Disposition {
            prologue: self.prologue(
                format!("{}:disposition", self.tracking_id),
                incident.closed_at.unwrap_or(incident.status_at),
                None,
            ),
            disposition_common_registry_code: common.to_owned(),
            disposition_primary_indicator: Some(true),
            disposition_category_text: Some(ours.to_owned()),
            disposition_description_text: Some(incident.closing_note.clone())
                .filter(|note| !note.is_empty()),
            notes_reference: Vec::new(),
        })
    }

    /// A location as PIDF-LO (RFC 4119 / RFC 5491): a circle of the uncertainty's radius around
    /// the point (a point when the uncertainty is 0), with how it was obtained as the method; the
    /// civic address, which we keep as free text, as the description.
    fn location(
        &self,
        id: String,
        kind: &str,
        location: &Location,
        at: DateTime<Utc>,
    ) -> LocationInformation {
        LocationInformation {
            location_by_value: Some(pidf_lo(&id, location, at)),
            location_description_text: Some(location.civic_address.clone())
                .filter(|address| !address.is_empty()),
            prologue: self.prologue(id, at, None),
            location_type_description_registry_text: kind.to_owned(),
            location_by_reference_url: None,
            cross_street_by_value: Vec::new(),
            cross_street_by_reference_url: Vec::new(),
            intersecting_street_by_value: Vec::new(),
            intersecting_street_by_reference_url: Vec::new(),
            cell_tower_sector_id: None,
            additional_data_reference: Vec::new(),
            notes_reference: Vec::new(),
        }
    }

    /// A call: its call component (times, our channel as the local call type, the call taker),
    /// its callback number, its caller as a person, its location and the call taker's account.
    fn call(&mut self, call: &Call) -> CallParts {
        let id = self.centre.call_id(call.id);
        let taker = self.agent(&call.call_taker, CALL_TAKING);
        let details = &call.details;
        let location_id = format!("{id}:location");
        let caller_id = format!("{id}:caller");
        let callback = details.callback_number.as_ref().map(|number| Callback {
            prologue: self.prologue(format!("{id}:callback"), call.created_at, None),
            call_back_information_uri: vec![tel_uri(number.as_str(), &self.centre.domain)],
            device_contact_header: None,
            updated_cbn: None,
        });
        let account = (!details.account.is_empty()).then(|| Notes {
            prologue: self.prologue(
                format!("{id}:account"),
                call.updated_at,
                Some(taker.clone()),
            ),
            notes_action_comments: html_text(&details.account),
            agent_reference: Some(taker.clone()),
        });
        let callback_ref = callback.as_ref().map(|c| Reference::to(&c.prologue.id));
        let caller = PersonInformation {
            prologue: self.prologue(caller_id.clone(), call.updated_at, None),
            nc_person_component: (!details.caller_name.is_empty()).then(|| {
                serde_json::json!({ "name": [{ "personFullName": [{ "value": details.caller_name }] }] })
            }),
            person_incident_role_registry_text: vec!["Caller".to_owned()],
            call_identifier: vec![id.clone()],
            additional_data_reference: Vec::new(),
            location_reference: vec![Reference::to(&location_id)],
            notes_reference: Vec::new(),
            call_back_reference: callback_ref.clone(),
        };
        CallParts {
            call: CallInformation {
                prologue: self.prologue(id.clone(), call.updated_at, Some(taker.clone())),
                related_call_identifier: Vec::new(),
                queue_identifier: None,
                standard_primary_call_type: "emergency".to_owned(),
                standard_secondary_call_type: secondary_call_type(details.channel)
                    .map(str::to_owned),
                local_call_type: Some(details.channel.as_str().to_owned()),
                direction: CallDirection::Incoming,
                additional_data_reference: Vec::new(),
                call_start_timestamp: utc(details.received_at),
                answer_date: details.answered_at.map(utc),
                call_state_registry_text: if details.answered_at.is_some() {
                    "callAnswered"
                } else {
                    "callBegin"
                }
                .to_owned(),
                call_back_reference: callback_ref,
                verstat: None,
                sip_identity: None,
                agent_reference: vec![taker],
                location_reference: vec![Reference::to(&location_id)],
                person_reference: vec![Reference::to(&caller_id)],
                notes_reference: account
                    .iter()
                    .map(|n| Reference::to(&n.prologue.id))
                    .collect(),
            },
            location: self.location(location_id, "Caller", &details.location, call.updated_at),
            callback,
            caller,
            account,
        }
    }

    /// A unit's part: the emergency resource (type, capabilities, call sign, status now), the
    /// dispatch (when, by whom, which agency) and its status history as notes, one per status,
    /// each stamped with the time the status was reported.
    fn resource(&mut self, assignment: &Assignment) -> ResourceParts {
        let id = format!(
            "{}:unit:{}:{}",
            self.tracking_id,
            assignment.unit.0.simple(),
            assignment.dispatched_at.timestamp_millis()
        );
        let dispatcher = self.agent(&assignment.assigned_by, DISPATCHING);
        let agency = self.agency_ref(assignment.agency);
        let history: Vec<(&str, DateTime<Utc>)> = [
            ("Dispatched", Some(assignment.dispatched_at)),
            ("Enroute", assignment.en_route_at),
            ("On Scene", assignment.on_scene_at),
            ("Transporting", assignment.transporting_at),
            ("At Hospital", assignment.at_hospital_at),
            ("Cleared", assignment.cleared_at),
            ("Released", assignment.released_at),
        ]
        .into_iter()
        .filter_map(|(status, at)| Some((status, at?)))
        .collect();
        let (current, since) = history
            .iter()
            .max_by_key(|(_, at)| *at)
            .copied()
            .unwrap_or(("Dispatched", assignment.dispatched_at));
        let notes: Vec<Notes> = history
            .iter()
            .map(|(status, at)| {
                let mut text = format!("{} {}", assignment.call_sign, status.to_lowercase());
                if *status == "Released" && !assignment.release_reason.is_empty() {
                    text.push_str(": ");
                    text.push_str(&assignment.release_reason);
                }
                Notes {
                    prologue: self.prologue(
                        format!("{id}:{}", status.to_lowercase().replace(' ', "-")),
                        *at,
                        None,
                    ),
                    notes_action_comments: html_text(&text),
                    agent_reference: None,
                }
            })
            .collect();
        let primary = if !assignment.is_active() {
            "Available"
        } else if assignment.at_hospital_at.is_some() {
            "Conditionally Available"
        } else {
            "Not Available"
        };
        let resource = EmergencyResource {
            prologue: self.prologue(id.clone(), since, None),
            eta: None,
            emergency_resource_type_common_registry_text: common_resource_type(
                assignment.unit_type,
            )
            .to_owned(),
            emergency_resource_type_internal_text: Some(assignment.unit_type.as_str().to_owned()),
            resource_attribute_registry_text: assignment.capabilities.clone(),
            emergency_resource_name: Some(assignment.call_sign.clone()),
            primary_unit_status_registry_text: primary.to_owned(),
            secondary_unit_status_registry_text: vec![current.to_owned()],
            notes_reference: notes
                .iter()
                .map(|n| Reference::to(&n.prologue.id))
                .collect(),
            unit_status_internal: vec![current.to_lowercase().replace(' ', "_")],
            agent_reference: vec![dispatcher.clone()],
            unit_location_reference: None,
            unit_destination_reference: Some(Reference::to(format!(
                "{}:location",
                self.tracking_id
            ))),
            person_reference: Vec::new(),
            vehicle_reference: Vec::new(),
        };
        let mut dispatch_notes = Vec::new();
        let mut history_notes = notes;
        if !assignment.override_reason.is_empty() {
            let note_id = format!("{id}:override");
            dispatch_notes.push(Reference::to(&note_id));
            history_notes.push(Notes {
                prologue: self.prologue(
                    note_id,
                    assignment.dispatched_at,
                    Some(dispatcher.clone()),
                ),
                notes_action_comments: html_text(&format!(
                    "{} sent instead of the recommendation: {}",
                    assignment.call_sign, assignment.override_reason
                )),
                agent_reference: Some(dispatcher.clone()),
            });
        }
        ResourceParts {
            dispatch: DispatchInformation {
                prologue: self.prologue(
                    format!("{id}:dispatch"),
                    assignment.dispatched_at,
                    Some(dispatcher.clone()),
                ),
                agency_reference: Some(agency),
                agent_reference: Some(dispatcher),
                emergency_resource_reference: vec![Reference::to(&id)],
                notes_reference: dispatch_notes,
            },
            resource,
            history: history_notes,
        }
    }

    fn merges(&mut self) -> Vec<MergeInformation> {
        let mut merges = Vec::new();
        for merge in &self.record.merges {
            let actor = self.agent(&merge.actor, INCIDENT_HANDLING);
            merges.push(MergeInformation {
                prologue: self.prologue(
                    format!("{}:merge:{}", self.tracking_id, merge.other.0.simple()),
                    merge.at,
                    Some(actor),
                ),
                incident_tracking_identifier: self.centre.incident_tracking_id(merge.other),
                incident_merge_direction_code: merge.direction,
            });
        }
        merges
    }

    /// Every actor met, as an agent: the principal's handle, display name (as a jCard), role
    /// and agency when known; otherwise what it did here, at the centre.
    fn agents(&self) -> Vec<Agent> {
        let incident = &self.record.incident;
        self.actors
            .iter()
            .map(|(actor, did)| {
                let principal = self.principal(actor);
                let roles = match principal {
                    Some(principal) => vec![agent_role(principal.role).to_owned()],
                    None => did.iter().map(|&d| d.to_owned()).collect(),
                };
                Agent {
                    prologue: self.prologue(
                        self.agent_id(actor),
                        principal.map_or(incident.updated_at, |p| p.updated_at),
                        None,
                    ),
                    agent_jcard: principal.map(|p| jcard(&p.display_name)),
                    agent_workstation_position_identification: None,
                    agent_role_registry_text: roles,
                    agency_reference: principal
                        .and_then(|p| p.agency)
                        .map_or_else(|| self.centre.agency_ref(), |a| self.agency_ref(a)),
                    notes_reference: Vec::new(),
                }
            })
            .collect()
    }

    /// The centre (the PSAP owning the incident), then every directory agency met, in the
    /// record's order.
    fn agencies(&self) -> Vec<EidoAgency> {
        let incident = &self.record.incident;
        let centre = EidoAgency {
            prologue: self.prologue(self.centre.agency_id(), incident.updated_at, None),
            agency_jcard: None,
            agency_role_description_registry_text: vec![
                "CallReceiving".to_owned(),
                "Dispatching".to_owned(),
            ],
            incident_owning_agency_indicator: Some(true),
            agency_type: vec!["psap".to_owned()],
            notes_reference: Vec::new(),
        };
        let responding: BTreeSet<AgencyId> =
            self.record.assignments.iter().map(|a| a.agency).collect();
        std::iter::once(centre)
            .chain(self.record.agencies.iter().map(|agency| EidoAgency {
                prologue: self.prologue(
                    self.centre.directory_agency_id(agency),
                    agency.updated_at,
                    None,
                ),
                agency_jcard: Some(jcard(&agency.details.display_name)),
                agency_role_description_registry_text: vec![
                    if responding.contains(&agency.id) {
                        "Responding"
                    } else {
                        "Involved"
                    }
                    .to_owned(),
                ],
                incident_owning_agency_indicator: Some(false),
                agency_type: vec![agency_type(agency.details.kind).to_owned()],
                notes_reference: Vec::new(),
            }))
            .collect()
    }
}

struct CallParts {
    call: CallInformation,
    location: LocationInformation,
    callback: Option<Callback>,
    caller: PersonInformation,
    account: Option<Notes>,
}

struct ResourceParts {
    resource: EmergencyResource,
    dispatch: DispatchInformation,
    history: Vec<Notes>,
}

fn utc(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.fixed_offset()
}

/// Text as HTML5 (the schema says notes are HTML): the markup characters escaped.
pub fn html_text(text: &str) -> String {
    xml_text(text)
}

fn xml_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A jCard (RFC 7095) with a formatted name only.
fn jcard(name: &str) -> String {
    serde_json::json!([
        "vcard",
        [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]
    ])
    .to_string()
}

/// RFC 3966: a global number as is; a local one (`*765`) in the context of the centre.
fn tel_uri(number: &str, domain: &str) -> String {
    if number.starts_with('+') {
        format!("tel:{number}")
    } else {
        format!("tel:{number};phone-context={domain}")
    }
}

/// The location as a PIDF-LO document.
fn pidf_lo(id: &str, location: &Location, at: DateTime<Utc>) -> String {
    let point = &location.point;
    let position = format!("{} {}", point.latitude(), point.longitude());
    let shape = if location.uncertainty_m > 0.0 {
        format!(
            "<gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>{position}</gml:pos>\
             <gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">{}</gs:radius></gs:Circle>",
            location.uncertainty_m
        )
    } else {
        format!(
            "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>{position}</gml:pos></gml:Point>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" \
         xmlns:gml=\"http://www.opengis.net/gml\" \
         xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" entity=\"{entity}\">\
         <dm:device id=\"device\"><gp:geopriv><gp:location-info>{shape}</gp:location-info>\
         <gp:usage-rules/><gp:method>{method}</gp:method></gp:geopriv>\
         <dm:timestamp>{time}</dm:timestamp></dm:device></presence>",
        entity = xml_text(&format!("pres:{id}")),
        method = location_method(location.source),
        time = at.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}
