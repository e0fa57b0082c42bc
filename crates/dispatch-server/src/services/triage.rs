//! `IncidentTriageService`: the type catalogue, triage, and the incident's life until closed.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use dispatch_domain::Violations;
use dispatch_domain::call::{MAX_NOTE_CHARS, check_length};
use dispatch_domain::ids::IncidentId;
use dispatch_domain::incident::{ClosingCode, IncidentChanges};
use dispatch_domain::triage::{self, Answer, AnswerValue, Category, Discipline, QuestionKind};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::incident_triage_service_server::IncidentTriageService;
use dispatch_store::incidents::{FieldStatus, IncidentDetail, IncidentFilter};

use super::request::idempotency;
use super::views;
use crate::AppState;
use crate::auth::Principal;
use crate::convert;
use crate::error::{Error, invalid};

const MAX_SUMMARY_CHARS: usize = 2_000;

#[derive(Debug, Clone)]
pub struct IncidentTriage {
    state: Arc<AppState>,
}

impl IncidentTriage {
    pub fn new(state: Arc<AppState>) -> Self {
        Self { state }
    }
}

fn category(category: Category) -> pb::IncidentCategory {
    match category {
        Category::Medical => pb::IncidentCategory::Medical,
        Category::Fire => pb::IncidentCategory::Fire,
        Category::Crime => pb::IncidentCategory::Crime,
        Category::PublicOrder => pb::IncidentCategory::PublicOrder,
        Category::Traffic => pb::IncidentCategory::Traffic,
        Category::GenderViolence => pb::IncidentCategory::GenderViolence,
        Category::MissingPerson => pb::IncidentCategory::MissingPerson,
        Category::Hazmat => pb::IncidentCategory::Hazmat,
        Category::NaturalDisaster => pb::IncidentCategory::NaturalDisaster,
        Category::Other => pb::IncidentCategory::Other,
    }
}

fn category_from(value: i32) -> Option<Category> {
    Category::ALL
        .iter()
        .copied()
        .find(|c| i32::from(category(*c)) == value)
}

fn discipline(discipline: Discipline) -> pb::Discipline {
    match discipline {
        Discipline::Police => pb::Discipline::Police,
        Discipline::Fire => pb::Discipline::Fire,
        Discipline::Ems => pb::Discipline::Ems,
        Discipline::CivilProtection => pb::Discipline::CivilProtection,
        Discipline::Federal => pb::Discipline::Federal,
        Discipline::VictimSupport => pb::Discipline::VictimSupport,
    }
}

fn discipline_from(value: i32) -> Option<Discipline> {
    Discipline::ALL
        .iter()
        .copied()
        .find(|d| i32::from(discipline(*d)) == value)
}

fn incident_type_message(incident_type: &triage::IncidentType) -> pb::IncidentType {
    pb::IncidentType {
        name: format!("incident-types/{}", incident_type.code),
        code: incident_type.code.clone(),
        display_name: incident_type.display_name.clone(),
        category: category(incident_type.category).into(),
        disciplines: incident_type
            .disciplines
            .iter()
            .map(|d| i32::from(discipline(*d)))
            .collect(),
        default_priority: i32::from(incident_type.default_priority),
        compatible_types: incident_type.compatible_types.clone(),
        protocol: Some(pb::Protocol {
            questions: incident_type
                .questions
                .iter()
                .map(|question| {
                    let (kind, choices, min, max) = match &question.kind {
                        QuestionKind::YesNo => (pb::QuestionKind::YesNo, Vec::new(), None, None),
                        QuestionKind::Choice(choices) => {
                            (pb::QuestionKind::Choice, choices.clone(), None, None)
                        }
                        QuestionKind::Number { min, max } => {
                            (pb::QuestionKind::Number, Vec::new(), *min, *max)
                        }
                    };
                    pb::Question {
                        id: question.id.clone(),
                        text: question.text.clone(),
                        kind: kind.into(),
                        choices,
                        required: question.required,
                        min,
                        max,
                        help_text: question.help.clone(),
                    }
                })
                .collect(),
        }),
        description: incident_type.description.clone(),
    }
}

fn answers_from(answers: &[pb::TriageAnswer]) -> Vec<Answer> {
    answers
        .iter()
        .map(|answer| Answer {
            question_id: answer.question_id.clone(),
            value: answer.value.as_ref().map(|value| match value {
                pb::triage_answer::Value::YesNo(b) => AnswerValue::YesNo(*b),
                pb::triage_answer::Value::Choice(c) => AnswerValue::Choice(c.clone()),
                pb::triage_answer::Value::Number(n) => AnswerValue::Number(*n),
            }),
        })
        .collect()
}

fn name(field: &str, value: &str, violations: &mut Violations) -> Option<IncidentId> {
    violations.collect(IncidentId::parse_name(field, value))
}

fn text(field: &str, value: &str, max: usize, violations: &mut Violations) {
    check_length(violations, field, value, max);
}

fn done<T>(violations: Violations, value: Option<T>) -> Result<T, Status> {
    match value {
        Some(value) if violations.is_empty() => Ok(value),
        _ => Err(invalid(&violations)),
    }
}

fn full(detail: &IncidentDetail) -> Option<pb::Incident> {
    Some(views::incident(detail, true))
}

impl IncidentTriage {
    /// A field unit sees only the incident it is assigned to; any other reads as missing.
    async fn scope_field_unit(&self, principal: &Principal, id: IncidentId) -> Result<(), Status> {
        if principal.role != dispatch_domain::auth::Role::FieldUnit {
            return Ok(());
        }
        let current = match principal.unit {
            Some(unit) => {
                self.state
                    .store
                    .get_unit(unit)
                    .await
                    .map_err(Error::from)?
                    .current_incident
            }
            None => None,
        };
        if current == Some(id) {
            Ok(())
        } else {
            Err(Status::not_found(format!("{id} not found")))
        }
    }

    fn type_exists(&self, field: &str, code: &str, violations: &mut Violations) {
        if self.state.catalogue.get(code).is_none() {
            violations.add(
                field,
                format!("{code:?} is not in the incident type catalogue"),
            );
        }
    }
}

#[tonic::async_trait]
impl IncidentTriageService for IncidentTriage {
    type WatchIncidentsStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::WatchIncidentsResponse, Status>>;

    async fn list_incident_types(
        &self,
        request: Request<pb::ListIncidentTypesRequest>,
    ) -> Result<Response<pb::ListIncidentTypesResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::code_page(message.page_size, &message.page_token));
        let categories = violations.collect(convert::enum_filter(
            "categories",
            &message.categories,
            category_from,
        ));
        let disciplines = violations.collect(convert::enum_filter(
            "disciplines",
            &message.disciplines,
            discipline_from,
        ));
        let (page, categories, disciplines) = done(
            violations,
            page.zip(categories)
                .zip(disciplines)
                .map(|((p, c), d)| (p, c, d)),
        )?;
        let mut matching: Vec<&triage::IncidentType> = self
            .state
            .catalogue
            .types()
            .filter(|t| categories.is_empty() || categories.contains(&t.category))
            .filter(|t| {
                disciplines.is_empty() || t.disciplines.iter().any(|d| disciplines.contains(d))
            })
            .filter(|t| {
                page.after
                    .as_ref()
                    .is_none_or(|after| t.code.as_str() > after.as_str())
            })
            .collect();
        matching.sort_by(|a, b| a.code.cmp(&b.code));
        let size = usize::try_from(page.size).unwrap_or(usize::MAX);
        let next = (matching.len() > size).then(|| matching[size - 1].code.clone());
        matching.truncate(size);
        Ok(Response::new(pb::ListIncidentTypesResponse {
            incident_types: matching.into_iter().map(incident_type_message).collect(),
            next_page_token: convert::code_token(next),
        }))
    }

    async fn get_incident_type(
        &self,
        request: Request<pb::GetIncidentTypeRequest>,
    ) -> Result<Response<pb::GetIncidentTypeResponse>, Status> {
        let name = &request.get_ref().name;
        let Some(code) = name
            .strip_prefix("incident-types/")
            .filter(|c| !c.is_empty())
        else {
            return Err(invalid(&Violations::single(
                "name",
                "must be an incident-types/{code} name",
            )));
        };
        let incident_type = self
            .state
            .catalogue
            .get(code)
            .ok_or_else(|| crate::error::not_found(name))?;
        Ok(Response::new(pb::GetIncidentTypeResponse {
            incident_type: Some(incident_type_message(incident_type)),
        }))
    }

    async fn triage_incident(
        &self,
        request: Request<pb::TriageIncidentRequest>,
    ) -> Result<Response<pb::TriageIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "TriageIncident",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = name("name", &message.name, &mut violations);
        if !message.incident_type.is_empty() {
            self.type_exists("incident_type", &message.incident_type, &mut violations);
        }
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (key, id, etag) = done(
            violations,
            key.zip(id).zip(etag).map(|((k, i), e)| (k, i, e)),
        )?;
        crate::auth::note_resource(id.name());
        let incident_type =
            (!message.incident_type.is_empty()).then_some(message.incident_type.as_str());
        let detail = self
            .state
            .store
            .triage_incident(
                &key,
                &principal.name,
                id,
                &self.state.catalogue,
                incident_type,
                &answers_from(&message.answers),
                etag,
            )
            .await
            .map_err(Error::from)?
            .value;
        let record = detail.triage_history.last().map(views::triage_record);
        Ok(Response::new(pb::TriageIncidentResponse {
            incident: full(&detail),
            triage_record: record,
        }))
    }

    async fn get_incident(
        &self,
        request: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::GetIncidentResponse>, Status> {
        let message = request.into_inner();
        let id = IncidentId::parse_name("name", &message.name).map_err(Error::from)?;
        let detail = self
            .state
            .store
            .incident_detail(id)
            .await
            .map_err(Error::from)?;
        let basic = message.view == i32::from(pb::IncidentView::Basic);
        Ok(Response::new(pb::GetIncidentResponse {
            incident: Some(views::incident(&detail, !basic)),
        }))
    }

    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let message = request.into_inner();
        let mut violations = Violations::new();
        let page = violations.collect(convert::time_page(message.page_size, &message.page_token));
        let statuses = violations.collect(convert::enum_filter(
            "statuses",
            &message.statuses,
            convert::incident_status_from,
        ));
        let mut priority = |field: &str, value: Option<i32>| match value {
            Some(p) if (0..=10).contains(&p) => i16::try_from(p).ok(),
            Some(_) => {
                violations.add(field, "must be from 0 to 10");
                None
            }
            None => None,
        };
        let min_priority = priority("min_priority", message.min_priority);
        let max_priority = priority("max_priority", message.max_priority);
        for (i, code) in message.incident_types.iter().enumerate() {
            self.type_exists(&format!("incident_types[{i}]"), code, &mut violations);
        }
        let (from, until) = match &message.created {
            Some(range) => {
                let from =
                    violations.collect(convert::datetime("created.start", range.start.as_ref()));
                let until =
                    violations.collect(convert::datetime("created.end", range.end.as_ref()));
                (from.flatten(), until.flatten())
            }
            None => (None, None),
        };
        let area = match &message.bounding_box {
            Some(bbox) => convert::bounding_box(bbox, &mut violations),
            None => None,
        };
        let (page, statuses) = done(violations, page.zip(statuses))?;
        let filter = IncidentFilter {
            statuses,
            min_priority,
            max_priority,
            incident_types: message.incident_types,
            created_from: from,
            created_until: until,
            area,
        };
        let (incidents, next) = self
            .state
            .store
            .list_incidents(&filter, &page)
            .await
            .map_err(Error::from)?;
        let full_view = message.view == i32::from(pb::IncidentView::Full);
        // The BASIC view still says who is on each incident (one query for the page).
        let mut assignments = if full_view {
            std::collections::HashMap::new()
        } else {
            let ids: Vec<_> = incidents.iter().map(|i| i.id).collect();
            self.state
                .store
                .assignments_of_incidents(&ids)
                .await
                .map_err(Error::from)?
        };
        let mut messages = Vec::with_capacity(incidents.len());
        for incident in incidents {
            let detail = if full_view {
                self.state
                    .store
                    .incident_detail(incident.id)
                    .await
                    .map_err(Error::from)?
            } else {
                IncidentDetail {
                    assignments: assignments.remove(&incident.id).unwrap_or_default(),
                    incident,
                    calls: Vec::new(),
                    notes: Vec::new(),
                    triage_history: Vec::new(),
                    timeline: Vec::new(),
                }
            };
            messages.push(views::incident(&detail, full_view));
        }
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents: messages,
            next_page_token: convert::time_token(next),
        }))
    }

    async fn update_incident(
        &self,
        request: Request<pb::UpdateIncidentRequest>,
    ) -> Result<Response<pb::UpdateIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "UpdateIncident",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let Some(incident) = &message.incident else {
            violations.add(
                "incident",
                "required: the incident's name, etag and new values",
            );
            return Err(invalid(&violations));
        };
        let id = name("incident.name", &incident.name, &mut violations);
        let etag = match violations.collect(convert::etag_from("incident.etag", &incident.etag)) {
            Some(Some(version)) => Some(version),
            Some(None) => {
                violations.add(
                    "incident.etag",
                    "required: the etag of the incident as you last read it",
                );
                None
            }
            None => None,
        };
        let paths = message
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        if paths.is_empty() {
            violations.add(
                "update_mask",
                "required: which of incident_type, location, summary, priority to change",
            );
        }
        let mut changes = IncidentChanges::default();
        for (i, path) in paths.iter().enumerate() {
            match path.as_str() {
                "incident_type" => {
                    self.type_exists("incident.incident_type", &incident.incident_type, &mut violations);
                    changes.incident_type = Some(incident.incident_type.clone());
                }
                "location" => {
                    changes.location = violations.collect(
                        convert::location_from(incident.location.as_ref()).map_err(|v| v.within("incident.location")),
                    );
                }
                "summary" => {
                    text("incident.summary", &incident.summary, MAX_SUMMARY_CHARS, &mut violations);
                    changes.summary = Some(incident.summary.clone());
                }
                "priority" => {
                    match u8::try_from(incident.priority).ok().filter(|p| *p <= triage::MAX_PRIORITY) {
                        Some(priority) => changes.priority = Some(priority),
                        None => violations.add("incident.priority", "must be from 0 to 10"),
                    }
                    if message.reason.trim().is_empty() {
                        violations.add("reason", "required when overriding the triaged priority");
                    }
                }
                other => violations.add(
                    format!("update_mask.paths[{i}]"),
                    format!("{other:?} cannot be updated; allowed: incident_type, location, summary, priority"),
                ),
            }
        }
        text("reason", &message.reason, MAX_NOTE_CHARS, &mut violations);
        let (key, id, etag) = done(
            violations,
            key.zip(id).zip(etag).map(|((k, i), e)| (k, i, e)),
        )?;
        crate::auth::note_resource(id.name());
        let detail = self
            .state
            .store
            .update_incident(&key, &principal.name, id, &changes, &message.reason, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::UpdateIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn add_incident_note(
        &self,
        request: Request<pb::AddIncidentNoteRequest>,
    ) -> Result<Response<pb::AddIncidentNoteResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "AddIncidentNote",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = name("name", &message.name, &mut violations);
        if let Some(id) = id {
            self.scope_field_unit(&principal, id).await?;
        }
        if message.text.trim().is_empty() {
            violations.add("text", "required");
        }
        text("text", &message.text, MAX_NOTE_CHARS, &mut violations);
        let (key, id) = done(violations, key.zip(id))?;
        crate::auth::note_resource(id.name());
        let detail = self
            .state
            .store
            .add_incident_note(&key, &principal.name, id, &message.text)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::AddIncidentNoteResponse {
            incident: full(&detail),
        }))
    }

    async fn change_incident_status(
        &self,
        request: Request<pb::ChangeIncidentStatusRequest>,
    ) -> Result<Response<pb::ChangeIncidentStatusResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "ChangeIncidentStatus",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = name("name", &message.name, &mut violations);
        let target = match pb::IncidentStatus::try_from(message.status) {
            Ok(pb::IncidentStatus::OnScene) => Some(FieldStatus::OnScene),
            Ok(pb::IncidentStatus::Resolved) => Some(FieldStatus::Resolved),
            _ => {
                violations.add(
                    "status",
                    "must be ON_SCENE or RESOLVED (triage, assignment, close and cancel have their own RPCs)",
                );
                None
            }
        };
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (key, id, target, etag) = done(
            violations,
            key.zip(id)
                .zip(target)
                .zip(etag)
                .map(|(((k, i), t), e)| (k, i, t, e)),
        )?;
        crate::auth::note_resource(id.name());
        let detail = self
            .state
            .store
            .change_incident_status(&key, &principal.name, id, target, &message.note, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::ChangeIncidentStatusResponse {
            incident: full(&detail),
        }))
    }

    async fn merge_incidents(
        &self,
        request: Request<pb::MergeIncidentsRequest>,
    ) -> Result<Response<pb::MergeIncidentsResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "MergeIncidents",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let survivor = name("survivor", &message.survivor, &mut violations);
        let duplicate = name("duplicate", &message.duplicate, &mut violations);
        if survivor.is_some() && survivor == duplicate {
            violations.add("duplicate", "must be another incident than survivor");
        }
        let survivor_etag =
            violations.collect(convert::etag_from("survivor_etag", &message.survivor_etag));
        let duplicate_etag = violations.collect(convert::etag_from(
            "duplicate_etag",
            &message.duplicate_etag,
        ));
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        let (key, survivor, duplicate, survivor_etag, duplicate_etag) = done(
            violations,
            key.zip(survivor)
                .zip(duplicate)
                .zip(survivor_etag)
                .zip(duplicate_etag)
                .map(|((((k, s), d), se), de)| (k, s, d, se, de)),
        )?;
        let (survivor, duplicate) = self
            .state
            .store
            .merge_incidents(
                &key,
                &principal.name,
                survivor,
                duplicate,
                survivor_etag,
                duplicate_etag,
                &message.note,
            )
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::MergeIncidentsResponse {
            survivor: full(&survivor),
            duplicate: full(&duplicate),
        }))
    }

    async fn close_incident(
        &self,
        request: Request<pb::CloseIncidentRequest>,
    ) -> Result<Response<pb::CloseIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CloseIncident",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = name("name", &message.name, &mut violations);
        let code = convert::closing_code_from(message.closing_code);
        let duplicate_of = match (code, message.duplicate_of.is_empty()) {
            (None, _) => {
                violations.add("closing_code", "required: one of C5's closing codes");
                None
            }
            (Some(ClosingCode::Duplicate), true) => {
                violations.add(
                    "duplicate_of",
                    "required when closing as a duplicate: the incident that is kept",
                );
                None
            }
            (Some(ClosingCode::Duplicate), false) => {
                name("duplicate_of", &message.duplicate_of, &mut violations)
            }
            (Some(_), false) => {
                violations.add("duplicate_of", "only with CLOSING_CODE_DUPLICATE");
                None
            }
            (Some(_), true) => None,
        };
        if duplicate_of.is_some() && duplicate_of == id {
            violations.add("duplicate_of", "must be another incident");
        }
        text("note", &message.note, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (key, id, code, etag) = done(
            violations,
            key.zip(id)
                .zip(code)
                .zip(etag)
                .map(|(((k, i), c), e)| (k, i, c, e)),
        )?;
        let detail = match duplicate_of {
            Some(survivor) => {
                let (_, duplicate) = self
                    .state
                    .store
                    .merge_incidents(
                        &key,
                        &principal.name,
                        survivor,
                        id,
                        None,
                        etag,
                        &message.note,
                    )
                    .await
                    .map_err(Error::from)?
                    .value;
                duplicate
            }
            None => {
                self.state
                    .store
                    .close_incident(&key, &principal.name, id, code, &message.note, etag)
                    .await
                    .map_err(Error::from)?
                    .value
            }
        };
        Ok(Response::new(pb::CloseIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn cancel_incident(
        &self,
        request: Request<pb::CancelIncidentRequest>,
    ) -> Result<Response<pb::CancelIncidentResponse>, Status> {
        let principal = Principal::of(&request);
        let message = request.into_inner();
        let mut violations = Violations::new();
        let key = violations.collect(idempotency(
            "CancelIncident",
            &principal,
            &message.request_id,
            &message,
            |m| m.request_id.clear(),
        ));
        let id = name("name", &message.name, &mut violations);
        if message.reason.trim().is_empty() {
            violations.add("reason", "required: why the incident is cancelled");
        }
        text("reason", &message.reason, MAX_NOTE_CHARS, &mut violations);
        let etag = violations.collect(convert::etag_from("etag", &message.etag));
        let (key, id, etag) = done(
            violations,
            key.zip(id).zip(etag).map(|((k, i), e)| (k, i, e)),
        )?;
        crate::auth::note_resource(id.name());
        let detail = self
            .state
            .store
            .cancel_incident(&key, &principal.name, id, &message.reason, etag)
            .await
            .map_err(Error::from)?
            .value;
        Ok(Response::new(pb::CancelIncidentResponse {
            incident: full(&detail),
        }))
    }

    async fn watch_incidents(
        &self,
        request: Request<pb::WatchIncidentsRequest>,
    ) -> Result<Response<Self::WatchIncidentsStream>, Status> {
        let receiver = super::watch::watch_incidents(&self.state, request.into_inner()).await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(
            receiver,
        )))
    }
}
