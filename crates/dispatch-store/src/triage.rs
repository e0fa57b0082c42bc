//! Triage of an incident: the protocol's answers, the determinant and the plan it gives.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use dispatch_domain::Violations;
use dispatch_domain::event::IncidentEvent;
use dispatch_domain::incident::{Transition, Triage};
use dispatch_domain::triage::{Answer, AnswerValue, Catalogue, Outcome};

use crate::events::{self, About};
use crate::incidents::{IncidentDetail, lock_current, set_status};
use crate::rows::plan_json;
use crate::schema::{incidents, triage_records};
use crate::{Error, Idempotency, Store, Written};

fn answer_json(answer: &Answer) -> serde_json::Value {
    match &answer.value {
        Some(AnswerValue::YesNo(value)) => {
            json!({ "question_id": answer.question_id, "yes_no": value })
        }
        Some(AnswerValue::Choice(value)) => {
            json!({ "question_id": answer.question_id, "choice": value })
        }
        Some(AnswerValue::Number(value)) => {
            json!({ "question_id": answer.question_id, "number": value })
        }
        None => json!({ "question_id": answer.question_id }),
    }
}

impl Store {
    /// Triages (or re-triages) an incident with the catalogue's protocol for its type.
    pub async fn triage_incident(
        &self,
        key: &Idempotency,
        actor: &str,
        catalogue: &Catalogue,
        command: &Triage,
    ) -> Result<Written<IncidentDetail>, Error> {
        let Triage {
            incident: id,
            ref incident_type,
            ref answers,
            expected_version,
        } = *command;
        self.write_incident(key, id, async |conn| {
            let incident = lock_current(conn, id, expected_version).await?;
            let next = incident.status.apply(Transition::Triage, &id.name())?;
            let code = incident_type
                .clone()
                .or_else(|| incident.incident_type.clone())
                .ok_or_else(|| {
                    dispatch_domain::Error::from(Violations::single(
                        "incident_type",
                        "required: the incident has no type yet",
                    ))
                })?;
            let protocol = catalogue.get(&code).ok_or_else(|| {
                dispatch_domain::Error::from(Violations::single(
                    "incident_type",
                    format!("{code:?} is not in the incident type catalogue"),
                ))
            })?;
            let Outcome {
                determinant,
                priority,
                plan,
            } = protocol
                .triage(answers)
                .map_err(dispatch_domain::Error::from)?;
            let previous_priority = incident.priority;
            let priority = i16::from(priority);
            let now: DateTime<Utc> = diesel::update(incidents::table.find(id.0))
                .set((
                    incidents::incident_type.eq(&code),
                    incidents::priority.eq(priority),
                    incidents::determinant_code.eq(&determinant.code),
                    incidents::determinant_level.eq(determinant.level.as_str()),
                    incidents::determinant_description.eq(&determinant.description),
                    incidents::response_plan.eq(plan_json(&plan)),
                    incidents::triaged_at.eq(diesel::dsl::now),
                    incidents::version.eq(incidents::version + 1),
                    incidents::updated_at.eq(diesel::dsl::now),
                ))
                .returning(incidents::updated_at)
                .get_result(conn)
                .await?;
            set_status(conn, id, incident.status, next).await?;
            diesel::insert_into(triage_records::table)
                .values((
                    triage_records::incident_id.eq(id.0),
                    triage_records::triaged_by.eq(actor),
                    triage_records::incident_type.eq(&code),
                    triage_records::answers.eq(serde_json::Value::Array(
                        answers.iter().map(answer_json).collect(),
                    )),
                    triage_records::determinant_code.eq(&determinant.code),
                    triage_records::determinant_level.eq(determinant.level.as_str()),
                    triage_records::determinant_description.eq(&determinant.description),
                    triage_records::priority.eq(priority),
                    triage_records::previous_priority.eq(previous_priority),
                    triage_records::response_plan.eq(plan_json(&plan)),
                    triage_records::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
            let mut entries = vec![IncidentEvent::Triaged {
                incident_type: code.to_owned(),
                determinant: determinant.code.clone(),
                level: determinant.level,
                priority,
            }];
            if previous_priority != Some(priority) {
                entries.push(IncidentEvent::PriorityChanged {
                    from: previous_priority,
                    to: priority,
                    reason: "triage".to_owned(),
                });
            }
            let about = About::incident(id);
            events::append(conn, actor, entries.into_iter().map(|e| (about, e.into()))).await
        })
        .await
    }
}
