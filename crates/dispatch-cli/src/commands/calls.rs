//! `call`: what a call taker does.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::cli::CallCmd;
use crate::error::Result;
use crate::output::{self, Table};
use crate::parse;

use super::reply::{Answer as _, name_of};

pub async fn run(ctx: &mut Ctx<'_>, command: CallCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut calls = clients.calls();
    match command {
        CallCmd::Take {
            location,
            channel,
            callback,
            caller_name,
            language,
            incident_type,
            device,
            received,
            answered,
            account,
        } => {
            let request = pb::CreateCallRequest {
                request_id: ctx.request_id(""),
                channel: channel.into(),
                received_time: received.map(parse::timestamp),
                answered_time: answered.map(parse::timestamp),
                back_entered: false,
                callback_number: callback,
                caller_name,
                language,
                location: Some(location.location()),
                account: account.join(" "),
                incident_type_hint: incident_type,
                source_device_id: device,
            };
            let response = calls.create_call(request).await.answer("CreateCall")?;
            let name = name_of(response.call.as_ref());
            ctx.emit(&response, &name, |out| {
                if let Some(call) = &response.call {
                    write_call(out, call)?;
                }
                if response.replayed {
                    writeln!(out, "(a retry: this request id was seen before; nothing new was written)")?;
                }
                writeln!(out)?;
                write_candidates(out, &response.duplicate_candidates)?;
                writeln!(out)?;
                if let Some(top) = response.duplicate_candidates.first() {
                    writeln!(out, "Next: a repeat report?   dispatchctl call link {name} {}", top.incident)?;
                    writeln!(out, "      a new emergency?   dispatchctl call open {name} --type TYPE")?;
                } else if response.call.as_ref().is_some_and(|c| !c.incident_type_hint.is_empty()) {
                    writeln!(out, "Next: dispatchctl call open {name}")?;
                } else {
                    writeln!(out, "Next: dispatchctl call open {name} --type TYPE   (types: dispatchctl type list)")?;
                }
                Ok(())
            })
        }
        CallCmd::Get { call } => {
            let request = pb::GetCallRequest {
                name: parse::name("calls", &call),
            };
            ctx.show(calls.get_call(request), write_call).await
        }
        CallCmd::List {
            state,
            channel,
            incident,
            limit,
        } => {
            let all = crate::client::pages(limit, async |page_size, page_token| {
                calls
                    .list_calls(pb::ListCallsRequest {
                        page_size,
                        page_token,
                        received: None,
                        channels: channel.iter().map(|c| (*c).into()).collect(),
                        states: state.iter().map(|s| (*s).into()).collect(),
                        dispositions: Vec::new(),
                        incident: super::units::optional_name("incidents", &incident),
                    })
                    .await
                    .answer("ListCalls")
            })
            .await?;
            let headers = [
                "CALL", "FOLIO", "STATE", "CHANNEL", "RECEIVED", "INCIDENT", "ACCOUNT",
            ];
            ctx.emit_table(&all, &all.calls, headers, |call| {
                vec![
                    call.name.clone(),
                    call.folio.clone(),
                    output::call_state(call.state),
                    output::channel(call.channel),
                    output::time(call.received_time.as_ref()),
                    call.incident.clone(),
                    output::clip(&call.account, 40),
                ]
            })
        }
        CallCmd::Duplicates { call, max } => {
            let name = parse::name("calls", &call);
            let response = calls
                .find_duplicate_candidates(pb::FindDuplicateCandidatesRequest {
                    name: name.clone(),
                    max_candidates: max,
                    probe: None,
                })
                .await
                .answer("FindDuplicateCandidates")?;
            let top = response
                .duplicate_candidates
                .first()
                .map(|c| c.incident.clone())
                .unwrap_or_default();
            ctx.emit(&response, &top, |out| {
                write_candidates(out, &response.duplicate_candidates)
            })
        }
        CallCmd::Link {
            call,
            incident,
            note,
        } => {
            let request = pb::LinkCallToIncidentRequest {
                incident: parse::name("incidents", &incident),
                note,
                ..ctx.change(parse::name("calls", &call))
            };
            let response = calls
                .link_call_to_incident(request)
                .await
                .answer("LinkCallToIncident")?;
            let name = name_of(response.incident.as_ref());
            ctx.emit(&response, &name, |out| {
                if let (Some(call), Some(incident)) = (&response.call, &response.incident) {
                    writeln!(
                        out,
                        "{} ({}) linked to {} ({}, {}, {} calls)",
                        call.name,
                        call.folio,
                        incident.name,
                        incident.folio,
                        output::incident_status(incident.status),
                        incident.linked_call_count
                    )?;
                }
                Ok(())
            })
        }
        CallCmd::Open {
            call,
            incident_type,
            summary,
        } => {
            let request = pb::OpenIncidentFromCallRequest {
                incident_type,
                summary,
                ..ctx.change(parse::name("calls", &call))
            };
            let response = calls
                .open_incident_from_call(request)
                .await
                .answer("OpenIncidentFromCall")?;
            let name = name_of(response.incident.as_ref());
            ctx.emit(&response, &name, |out| {
                if let Some(incident) = &response.incident {
                    super::incidents::write_incident(out, incident)?;
                    writeln!(out)?;
                    writeln!(out, "Next: dispatchctl incident triage {name} --answer QUESTION=VALUE ...   (questions: dispatchctl incident questions {name})")?;
                }
                Ok(())
            })
        }
        CallCmd::Dispose {
            call,
            disposition,
            note,
        } => {
            let request = pb::DisposeCallRequest {
                disposition: disposition.into(),
                note,
                ..ctx.change(parse::name("calls", &call))
            };
            ctx.show(calls.dispose_call(request), write_call).await
        }
        CallCmd::Locate { call, location } => {
            let request = pb::UpdateCallLocationRequest {
                location: Some(location.location()),
                ..ctx.change(parse::name("calls", &call))
            };
            ctx.show(calls.update_call_location(request), write_call)
                .await
        }
    }
}

pub fn write_call(out: &mut dyn Write, call: &pb::Call) -> std::io::Result<()> {
    output::write_fields(
        out,
        &[
            ("call", call.name.clone()),
            ("folio", call.folio.clone()),
            ("state", output::call_state(call.state)),
            ("channel", output::channel(call.channel)),
            ("received", output::time(call.received_time.as_ref())),
            ("location", output::location(call.location.as_ref())),
            ("callback", call.callback_number.clone()),
            ("caller", call.caller_name.clone()),
            ("type hint", call.incident_type_hint.clone()),
            ("device", call.source_device_id.clone()),
            ("incident", call.incident.clone()),
            (
                "disposition",
                output::coded(
                    call.disposition,
                    output::disposition,
                    &call.disposition_note,
                ),
            ),
            ("account", call.account.clone()),
        ],
    )
}

pub fn write_candidates(
    out: &mut dyn Write,
    candidates: &[pb::DuplicateCandidate],
) -> std::io::Result<()> {
    if candidates.is_empty() {
        return writeln!(
            out,
            "No open incident nearby: this looks like a new emergency."
        );
    }
    writeln!(out, "Possible duplicates, most likely first:")?;
    let headers = [
        "#", "INCIDENT", "FOLIO", "TYPE", "STATUS", "DISTANCE", "AGE", "LIKELY", "WHY",
    ];
    Table::of(headers, candidates.iter().enumerate(), |(i, c)| {
        vec![
            (i + 1).to_string(),
            c.incident.clone(),
            c.incident_folio.clone(),
            c.incident_type.clone(),
            output::incident_status(c.status),
            c.distance_m.map(output::metres).unwrap_or_default(),
            output::duration(c.age.as_ref()),
            format!("{:.0} %", c.likelihood * 100.0),
            c.explanation.clone(),
        ]
    })
    .write(out)
}
