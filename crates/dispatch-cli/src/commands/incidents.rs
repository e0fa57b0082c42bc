//! `incident` and `type`: what a dispatcher does with an incident, from triage to closing.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::cli::{IncidentCmd, TypeCmd};
use crate::client::Clients;
use crate::error::{CliError, Result};
use crate::output::{self, Table};
use crate::parse;

use super::reply::{Answer as _, name_of};

pub async fn run(ctx: &mut Ctx<'_>, command: IncidentCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut triage = clients.triage();
    match command {
        IncidentCmd::Get { incident, basic } => {
            let view = if basic {
                pb::IncidentView::Basic
            } else {
                pb::IncidentView::Full
            };
            let request = pb::GetIncidentRequest {
                name: parse::name("incidents", &incident),
                view: view.into(),
            };
            ctx.show(triage.get_incident(request), write_incident_full)
                .await
        }
        IncidentCmd::List {
            status,
            incident_type,
            min_priority,
            limit,
        } => {
            let all = crate::client::pages(limit, async |page_size, page_token| {
                triage
                    .list_incidents(pb::ListIncidentsRequest {
                        page_size,
                        page_token,
                        statuses: status.iter().map(|s| (*s).into()).collect(),
                        min_priority,
                        max_priority: None,
                        incident_types: incident_type.clone(),
                        created: None,
                        bounding_box: None,
                        view: pb::IncidentView::Basic.into(),
                    })
                    .await
                    .answer("ListIncidents")
            })
            .await?;
            let headers = [
                "INCIDENT", "FOLIO", "TYPE", "STATUS", "PRI", "CALLS", "CREATED", "SUMMARY",
            ];
            ctx.emit_table(&all, &all.incidents, headers, |i| {
                vec![
                    i.name.clone(),
                    i.folio.clone(),
                    i.incident_type.clone(),
                    output::incident_status(i.status),
                    i.priority.to_string(),
                    i.linked_call_count.to_string(),
                    output::time(i.create_time.as_ref()),
                    output::clip(&i.summary, 40),
                ]
            })
        }
        IncidentCmd::Questions {
            incident,
            incident_type,
        } => {
            let code = match (incident_type, incident) {
                (Some(code), _) => code,
                (None, Some(incident)) => {
                    type_of(&clients, &parse::name("incidents", &incident)).await?
                }
                (None, None) => {
                    return Err(CliError::local(
                        "name an incident or pass --type CODE (types: dispatchctl type list)",
                    ));
                }
            };
            show_type(ctx, &clients, &code).await
        }
        IncidentCmd::Triage {
            incident,
            incident_type,
            answers,
        } => {
            let name = parse::name("incidents", &incident);
            let code = if incident_type.is_empty() {
                type_of(&clients, &name).await?
            } else {
                incident_type.clone()
            };
            let protocol = get_type(&clients, &code)
                .await?
                .protocol
                .unwrap_or_default();
            let answers = typed_answers(&protocol, &answers)?;
            let request = pb::TriageIncidentRequest {
                incident_type,
                answers,
                ..ctx.change(name.clone())
            };
            let response = triage
                .triage_incident(request)
                .await
                .map_err(|s| {
                    let mut error = CliError::rpc("TriageIncident", &s);
                    if s.code() == tonic::Code::InvalidArgument {
                        error.message.push_str(&format!(
                            "\n  the questions: dispatchctl incident questions {name}"
                        ));
                    }
                    error
                })?
                .into_inner();
            ctx.emit(&response, &name, |out| {
                if let Some(record) = &response.triage_record {
                    let determinant = record.determinant.clone().unwrap_or_default();
                    output::write_fields(
                        out,
                        &[
                            ("incident", name.clone()),
                            ("type", record.incident_type.clone()),
                            (
                                "determinant",
                                format!(
                                    "{} ({}): {}",
                                    determinant.code,
                                    output::level(determinant.level),
                                    determinant.description
                                ),
                            ),
                            (
                                "priority",
                                format!("{} (was {})", record.priority, record.previous_priority),
                            ),
                            ("plan", output::plan(record.response_plan.as_ref())),
                        ],
                    )?;
                    writeln!(out)?;
                    writeln!(out, "Next: dispatchctl incident recommend {name}")?;
                }
                Ok(())
            })
        }
        IncidentCmd::Recommend {
            incident,
            max_candidates,
            plan,
        } => {
            let name = parse::name("incidents", &incident);
            let request = pb::RecommendUnitsRequest {
                plan_override: (!plan.is_empty())
                    .then_some(pb::ResponsePlan { requirements: plan }),
                max_candidates_per_requirement: max_candidates,
                ..ctx.change(name.clone())
            };
            let response = clients
                .units()
                .recommend_units(request)
                .await
                .answer("RecommendUnits")?;
            let recommendation = response.recommendation.clone().unwrap_or_default();
            ctx.emit(&response, &recommendation.name, |out| {
                write_recommendation(out, &recommendation)?;
                writeln!(out)?;
                writeln!(
                    out,
                    "Next: dispatchctl incident assign {name} --recommendation {}",
                    recommendation.name
                )
            })
        }
        IncidentCmd::Assign {
            incident,
            recommendation,
            units,
            override_reason,
        } => {
            let name = parse::name("incidents", &incident);
            let recommendation = if recommendation.is_empty() {
                String::new()
            } else {
                parse::name("recommendations", &recommendation)
            };
            let units: Vec<String> = if units.is_empty() {
                if recommendation.is_empty() {
                    return Err(CliError::local(
                        "say which units: --recommendation NAME (its picks) or --unit NAME ...",
                    ));
                }
                let stored = clients
                    .units()
                    .get_recommendation(pb::GetRecommendationRequest {
                        name: recommendation.clone(),
                    })
                    .await
                    .answer("GetRecommendation")?
                    .recommendation
                    .unwrap_or_default();
                let picked: Vec<String> = stored
                    .fills
                    .iter()
                    .flat_map(|f| f.candidates.iter().filter(|c| c.picked))
                    .map(|c| c.unit.clone())
                    .collect();
                if picked.is_empty() {
                    return Err(CliError::local(format!(
                        "{recommendation} picked no unit (shortfall {}): recommend again, or name units with --unit and --override-reason",
                        stored.total_shortfall
                    )));
                }
                picked
            } else {
                units.iter().map(|u| parse::name("units", u)).collect()
            };
            let request = pb::AssignUnitsRequest {
                units,
                recommendation,
                override_reason,
                ..ctx.change(name.clone())
            };
            let response = clients
                .units()
                .assign_units(request)
                .await
                .answer("AssignUnits")?;
            ctx.emit(&response, &name, |out| {
                if let Some(incident) = &response.incident {
                    writeln!(
                        out,
                        "{} ({}) is {}:",
                        incident.name,
                        incident.folio,
                        output::incident_status(incident.status)
                    )?;
                }
                let headers = ["UNIT", "CALL SIGN", "TYPE", "STATUS"];
                Table::of(headers, &response.units, |unit| {
                    vec![
                        unit.name.clone(),
                        unit.call_sign.clone(),
                        output::unit_type(unit.unit_type),
                        output::unit_status(unit.status),
                    ]
                })
                .write(out)?;
                writeln!(out)?;
                writeln!(
                    out,
                    "Next: dispatchctl unit status UNIT en-route | on-scene | available"
                )
            })
        }
        IncidentCmd::Release {
            incident,
            unit,
            reason,
        } => {
            let request = pb::ReleaseUnitRequest {
                unit: parse::name("units", &unit),
                reason,
                ..ctx.change(parse::name("incidents", &incident))
            };
            let response = clients
                .units()
                .release_unit(request)
                .await
                .answer("ReleaseUnit")?;
            let name = name_of(response.incident.as_ref());
            ctx.emit(&response, &name, |out| {
                if let Some(unit) = &response.unit {
                    writeln!(
                        out,
                        "{} ({}) released from {name}; now {}",
                        unit.name,
                        unit.call_sign,
                        output::unit_status(unit.status)
                    )?;
                }
                Ok(())
            })
        }
        IncidentCmd::Status {
            incident,
            status,
            note,
        } => {
            let request = pb::ChangeIncidentStatusRequest {
                status: status.into(),
                note,
                ..ctx.change(parse::name("incidents", &incident))
            };
            ctx.show(triage.change_incident_status(request), write_incident)
                .await
        }
        IncidentCmd::Update {
            incident,
            incident_type,
            summary,
            priority,
            reason,
        } => {
            let name = parse::name("incidents", &incident);
            let current = triage
                .get_incident(pb::GetIncidentRequest {
                    name: name.clone(),
                    view: pb::IncidentView::Basic.into(),
                })
                .await
                .answer("GetIncident")?
                .incident
                .unwrap_or_default();
            let mut paths = Vec::new();
            let mut changed = pb::Incident {
                name: name.clone(),
                etag: current.etag,
                ..Default::default()
            };
            if let Some(code) = incident_type {
                changed.incident_type = code;
                paths.push("incident_type".to_owned());
            }
            if let Some(summary) = summary {
                changed.summary = summary;
                paths.push("summary".to_owned());
            }
            if let Some(priority) = priority {
                changed.priority = priority;
                paths.push("priority".to_owned());
            }
            if paths.is_empty() {
                return Err(CliError::local(
                    "nothing to change: pass --type, --summary or --priority",
                ));
            }
            let response = triage
                .update_incident(pb::UpdateIncidentRequest {
                    request_id: ctx.request_id(""),
                    incident: Some(changed),
                    update_mask: Some(prost_types::FieldMask { paths }),
                    reason,
                })
                .await
                .answer("UpdateIncident")?;
            ctx.emit(&response, &name, |out| match &response.incident {
                Some(i) => write_incident(out, i),
                None => Ok(()),
            })
        }
        IncidentCmd::Note { incident, text } => {
            let request = pb::AddIncidentNoteRequest {
                text: text.join(" "),
                ..ctx.change(parse::name("incidents", &incident))
            };
            let response = triage
                .add_incident_note(request)
                .await
                .answer("AddIncidentNote")?;
            let name = name_of(response.incident.as_ref());
            ctx.emit(&response, &name, |out| {
                writeln!(out, "note added to {name}")
            })
        }
        IncidentCmd::Close {
            incident,
            code,
            duplicate_of,
            note,
        } => {
            let request = pb::CloseIncidentRequest {
                closing_code: code.into(),
                note,
                duplicate_of: super::units::optional_name("incidents", &duplicate_of),
                ..ctx.change(parse::name("incidents", &incident))
            };
            ctx.show(triage.close_incident(request), write_incident)
                .await
        }
        IncidentCmd::Cancel { incident, reason } => {
            let request = pb::CancelIncidentRequest {
                reason,
                ..ctx.change(parse::name("incidents", &incident))
            };
            ctx.show(triage.cancel_incident(request), write_incident)
                .await
        }
        IncidentCmd::Merge {
            survivor,
            duplicate,
            note,
        } => {
            let request = pb::MergeIncidentsRequest {
                request_id: ctx.request_id(""),
                survivor: parse::name("incidents", &survivor),
                duplicate: parse::name("incidents", &duplicate),
                note,
                ..Default::default()
            };
            ctx.show(triage.merge_incidents(request), write_incident)
                .await
        }
        IncidentCmd::Eido { incident } => {
            let request = pb::GetIncidentEidoRequest {
                name: parse::name("incidents", &incident),
            };
            let response = clients
                .exchange()
                .get_incident_eido(request)
                .await
                .answer("GetIncidentEido")?;
            // The document as NENA spells it, indented for people (the JSON is the server's).
            let document = serde_json::from_str::<serde_json::Value>(&response.eido_json)
                .ok()
                .and_then(|eido| serde_json::to_string_pretty(&eido).ok())
                .unwrap_or_else(|| response.eido_json.clone());
            let tracking_id = response.incident_tracking_id.clone();
            ctx.emit(&response, &tracking_id, |out| writeln!(out, "{document}"))
        }
    }
}

pub async fn run_type(ctx: &mut Ctx<'_>, command: TypeCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    match command {
        TypeCmd::List { category } => {
            let mut triage = clients.triage();
            let all = crate::client::pages(usize::MAX, async |page_size, page_token| {
                triage
                    .list_incident_types(pb::ListIncidentTypesRequest {
                        page_size,
                        page_token,
                        categories: category.iter().map(|c| (*c).into()).collect(),
                        disciplines: Vec::new(),
                    })
                    .await
                    .answer("ListIncidentTypes")
            })
            .await?;
            let names = all
                .incident_types
                .iter()
                .map(|t| t.code.clone())
                .collect::<Vec<_>>()
                .join("\n");
            ctx.emit(&all, &names, |out| {
                let headers = ["CODE", "CATEGORY", "PRIORITY", "NAME"];
                Table::of(headers, &all.incident_types, |t| {
                    vec![
                        t.code.clone(),
                        output::category(t.category),
                        t.default_priority.to_string(),
                        t.display_name.clone(),
                    ]
                })
                .write(out)
            })
        }
        TypeCmd::Get { code } => show_type(ctx, &clients, &code).await,
    }
}

async fn get_type(clients: &Clients, code: &str) -> Result<pb::IncidentType> {
    let code = code.trim_start_matches("incident-types/");
    Ok(clients
        .triage()
        .get_incident_type(pb::GetIncidentTypeRequest {
            name: format!("incident-types/{code}"),
        })
        .await
        .answer("GetIncidentType")?
        .incident_type
        .unwrap_or_default())
}

/// The type code of an incident; an error saying what to do when it has none yet.
async fn type_of(clients: &Clients, incident: &str) -> Result<String> {
    let found = clients
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: incident.to_owned(),
            view: pb::IncidentView::Basic.into(),
        })
        .await
        .answer("GetIncident")?
        .incident
        .unwrap_or_default();
    if found.incident_type.is_empty() {
        return Err(CliError::local(format!(
            "{incident} has no type yet: pass --type CODE (see dispatchctl type list)"
        )));
    }
    Ok(found.incident_type)
}

async fn show_type(ctx: &mut Ctx<'_>, clients: &Clients, code: &str) -> Result<()> {
    let code = code.trim_start_matches("incident-types/");
    let response = clients
        .triage()
        .get_incident_type(pb::GetIncidentTypeRequest {
            name: format!("incident-types/{code}"),
        })
        .await
        .answer("GetIncidentType")?;
    let t = response.incident_type.clone().unwrap_or_default();
    ctx.emit(&response, &t.code, |out| {
        output::write_fields(
            out,
            &[
                ("type", format!("{} ({})", t.code, t.display_name)),
                ("category", output::category(t.category)),
                ("priority", t.default_priority.to_string()),
                (
                    "disciplines",
                    output::list(t.disciplines.iter().map(|d| output::discipline(*d))),
                ),
                ("compatible", t.compatible_types.join(",")),
                ("about", t.description.clone()),
            ],
        )?;
        writeln!(out)?;
        let mut table = Table::new(["QUESTION", "KIND", "REQUIRED", "ANSWERS", "TEXT"]);
        for q in t.protocol.iter().flat_map(|p| &p.questions) {
            let answers = match pb::QuestionKind::try_from(q.kind) {
                Ok(pb::QuestionKind::YesNo) => "yes|no".to_owned(),
                Ok(pb::QuestionKind::Choice) => q.choices.join("|"),
                Ok(pb::QuestionKind::Number) => match (q.min, q.max) {
                    (Some(min), Some(max)) => format!("{min}..{max}"),
                    (Some(min), None) => format!(">= {min}"),
                    (None, Some(max)) => format!("<= {max}"),
                    (None, None) => "a number".to_owned(),
                },
                _ => String::new(),
            };
            table.row(vec![
                q.id.clone(),
                output::question_kind(q.kind),
                if q.required { "yes" } else { "no" }.to_owned(),
                answers,
                q.text.clone(),
            ]);
        }
        table.write(out)?;
        writeln!(out)?;
        writeln!(
            out,
            "Answer with: dispatchctl incident triage INCIDENT --answer QUESTION=VALUE ..."
        )
    })
}

/// `question=value` pairs made into typed answers by the protocol's question kinds. Questions
/// the protocol does not know are sent as choices, for the server to name.
pub fn typed_answers(
    protocol: &pb::Protocol,
    answers: &[(String, String)],
) -> Result<Vec<pb::TriageAnswer>> {
    use pb::triage_answer::Value;
    answers
        .iter()
        .map(|(id, text)| {
            let question = protocol.questions.iter().find(|q| &q.id == id);
            let value = match question.and_then(|q| pb::QuestionKind::try_from(q.kind).ok()) {
                Some(pb::QuestionKind::YesNo) => Value::YesNo(
                    parse::yes_no(text)
                        .ok_or_else(|| CliError::local(format!("{id}={text}: answer yes or no")))?,
                ),
                Some(pb::QuestionKind::Number) => {
                    Value::Number(text.parse::<f64>().map_err(|_| {
                        CliError::local(format!("{id}={text}: answer with a number"))
                    })?)
                }
                _ => Value::Choice(text.clone()),
            };
            Ok(pb::TriageAnswer {
                question_id: id.clone(),
                value: Some(value),
            })
        })
        .collect()
}

pub fn write_incident(out: &mut dyn Write, i: &pb::Incident) -> std::io::Result<()> {
    let determinant = i
        .determinant
        .as_ref()
        .map(|d| format!("{} ({})", d.code, output::level(d.level)))
        .unwrap_or_default();
    output::write_fields(
        out,
        &[
            ("incident", i.name.clone()),
            ("folio", i.folio.clone()),
            ("type", i.incident_type.clone()),
            ("status", output::incident_status(i.status)),
            ("priority", i.priority.to_string()),
            ("determinant", determinant),
            ("plan", output::plan(i.response_plan.as_ref())),
            ("location", output::location(i.location.as_ref())),
            ("summary", i.summary.clone()),
            ("calls", i.linked_call_count.to_string()),
            ("created", output::time(i.create_time.as_ref())),
            (
                "closed",
                output::coded(i.closing_code, output::closing_code, &i.duplicate_of),
            ),
            ("closing note", i.closing_note.clone()),
        ],
    )
}

fn write_incident_full(out: &mut dyn Write, i: &pb::Incident) -> std::io::Result<()> {
    write_incident(out, i)?;
    if !i.assignments.is_empty() {
        writeln!(out, "\nAssignments:")?;
        let headers = [
            "UNIT",
            "CALL SIGN",
            "TYPE",
            "STATUS",
            "DISPATCHED",
            "ON SCENE",
        ];
        Table::of(headers, &i.assignments, |a| {
            vec![
                a.unit.clone(),
                a.call_sign.clone(),
                output::unit_type(a.unit_type),
                output::assignment_status(a.status),
                output::time(a.dispatch_time.as_ref()),
                output::time(a.on_scene_time.as_ref()),
            ]
        })
        .write(out)?;
    }
    if !i.calls.is_empty() {
        writeln!(out, "\nCalls: {}", i.calls.join(", "))?;
    }
    if !i.timeline.is_empty() {
        writeln!(out, "\nTimeline:")?;
        Table::of(["#", "TIME", "WHAT", "DETAIL"], &i.timeline, |e| {
            vec![
                e.sequence.to_string(),
                output::time(e.time.as_ref()),
                output::timeline_kind(e.kind),
                output::clip(&e.description, 80),
            ]
        })
        .write(out)?;
    }
    Ok(())
}

pub fn write_recommendation(out: &mut dyn Write, r: &pb::Recommendation) -> std::io::Result<()> {
    writeln!(
        out,
        "{} for {} (shortfall {}):",
        r.name, r.incident, r.total_shortfall
    )?;
    let mut table = Table::new([
        "NEED",
        "PICK",
        "RANK",
        "UNIT",
        "CALL SIGN",
        "TYPE",
        "DISTANCE",
        "ETA",
        "WHY",
    ]);
    for fill in &r.fills {
        let need = fill
            .requirement
            .as_ref()
            .map(|q| format!("{}={}", q.capability, q.count))
            .unwrap_or_default();
        if fill.candidates.is_empty() {
            table.row(vec![
                need.clone(),
                String::new(),
                String::new(),
                format!("(none available; short {})", fill.shortfall),
            ]);
        }
        for c in &fill.candidates {
            table.row(vec![
                need.clone(),
                if c.picked { "*" } else { "" }.to_owned(),
                c.rank.to_string(),
                c.unit.clone(),
                c.call_sign.clone(),
                output::unit_type(c.unit_type),
                output::metres(c.straight_line_m),
                output::duration(c.eta.as_ref()),
                c.reason.clone(),
            ]);
        }
    }
    table.write(out)
}
