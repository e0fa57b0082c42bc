//! `referral` and `partner`: referring victims to care, and what a partner agency does with
//! the referrals addressed to it.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::cli::{PartnerCmd, ReferralCmd, VictimArgs};
use crate::client::Clients;
use crate::error::{CliError, Result};
use crate::output::{self, Table};
use crate::parse;

use super::reply::{Answer as _, names};

fn victim(args: VictimArgs) -> Result<pb::Victim> {
    let safe_contact = match args.safe_contact {
        None => None,
        Some(text) => {
            let (channel, value) = text.split_once(':').ok_or_else(|| {
                CliError::local(format!(
                    "--safe-contact {text:?}: write CHANNEL:VALUE, e.g. phone:+525512345678"
                ))
            })?;
            let channel = match channel.trim().to_ascii_lowercase().as_str() {
                "phone" => pb::SafeContactChannel::Phone,
                "sms" => pb::SafeContactChannel::Sms,
                "messaging" | "messaging-app" | "app" => pb::SafeContactChannel::MessagingApp,
                "email" => pb::SafeContactChannel::Email,
                "in-person" => pb::SafeContactChannel::InPerson,
                other => {
                    return Err(CliError::local(format!(
                        "--safe-contact: unknown channel {other:?}; one of phone, sms, messaging-app, email, in-person"
                    )));
                }
            };
            Some(pb::SafeContact {
                channel: channel.into(),
                value: value.trim().to_owned(),
                safe_times: String::new(),
            })
        }
    };
    Ok(pb::Victim {
        alias: args.alias,
        full_name: args.full_name,
        age_range: args.age_range.into(),
        gender: args.gender,
        language: args.language,
        safe_contact,
        safety_notes: args.safety_notes,
    })
}

pub async fn run(ctx: &mut Ctx<'_>, command: ReferralCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut referrals = clients.referrals();
    match command {
        ReferralCmd::Suggest { at, needs } => {
            let response = referrals
                .suggest_partners(pb::SuggestPartnersRequest {
                    location: Some(at),
                    needs: needs.iter().map(|n| (*n).into()).collect(),
                    limit: 0,
                })
                .await
                .answer("SuggestPartners")?;
            let top = response
                .suggestions
                .first()
                .map(|s| s.partner.clone())
                .unwrap_or_default();
            ctx.emit(&response, &top, |out| {
                if response.suggestions.is_empty() {
                    return writeln!(out, "No partner serves that place with those needs.");
                }
                let headers = ["PARTNER", "NAME", "KIND", "DISTANCE", "FREE", "WHY"];
                Table::of(headers, &response.suggestions, |s| {
                    vec![
                        s.partner.clone(),
                        s.display_name.clone(),
                        output::partner_kind(s.kind),
                        output::metres(s.distance_m),
                        s.available_slots.to_string(),
                        s.reason.clone(),
                    ]
                })
                .write(out)
            })
        }
        ReferralCmd::Create {
            incident,
            partner,
            needs,
            victim: victim_args,
            consent_by,
            consent_scope,
            life_threat_handoff,
            notes,
        } => {
            let consent = consent_by.map(|by| pb::Consent {
                given: true,
                given_by: by,
                given_time: Some(parse::timestamp(chrono::Utc::now())),
                scope: consent_scope,
            });
            if consent.is_none() && !life_threat_handoff {
                return Err(CliError::local(
                    "a referral needs consent: pass --consent-by WHO (e.g. victim), or \
                     --life-threat-handoff for a medical hand-off to a hospital",
                ));
            }
            let request = pb::CreateReferralRequest {
                request_id: ctx.request_id(""),
                incident: parse::name("incidents", &incident),
                victim: Some(victim(victim_args)?),
                needs: needs.iter().map(|n| (*n).into()).collect(),
                partner: parse::name("partners", &partner),
                consent,
                life_threat_medical_handoff: life_threat_handoff,
                notes,
            };
            ctx.show(referrals.create_referral(request), write_referral)
                .await
        }
        ReferralCmd::List {
            partner,
            incident,
            status,
            limit,
        } => {
            let all = crate::client::pages(limit, async |page_size, page_token| {
                referrals
                    .list_referrals(pb::ListReferralsRequest {
                        page_size,
                        page_token,
                        partner: super::units::optional_name("partners", &partner),
                        incident: super::units::optional_name("incidents", &incident),
                        statuses: status.iter().map(|s| (*s).into()).collect(),
                        created: None,
                    })
                    .await
                    .answer("ListReferrals")
            })
            .await?;
            let headers = [
                "REFERRAL", "STATUS", "PARTNER", "INCIDENT", "NEEDS", "VICTIM", "CREATED",
            ];
            ctx.emit_table(&all, &all.referrals, headers, |r| {
                vec![
                    r.name.clone(),
                    output::referral_status(r.status),
                    r.partner.clone(),
                    r.incident.clone(),
                    output::list(r.needs.iter().map(|n| output::need(*n))),
                    r.victim
                        .as_ref()
                        .map(|v| v.alias.clone())
                        .unwrap_or_default(),
                    output::time(r.create_time.as_ref()),
                ]
            })
        }
        ReferralCmd::Get { referral } => {
            let request = pb::GetReferralRequest {
                name: parse::name("referrals", &referral),
            };
            ctx.show(referrals.get_referral(request), write_referral)
                .await
        }
        ReferralCmd::Accept { referral, note } => {
            let request = pb::AcceptReferralRequest {
                note,
                ..ctx.change(parse::name("referrals", &referral))
            };
            ctx.show(referrals.accept_referral(request), write_status_line)
                .await
        }
        ReferralCmd::Decline { referral, reason } => {
            let request = pb::DeclineReferralRequest {
                reason,
                ..ctx.change(parse::name("referrals", &referral))
            };
            ctx.show(referrals.decline_referral(request), write_status_line)
                .await
        }
        ReferralCmd::Status {
            referral,
            status,
            note,
        } => {
            let request = pb::UpdateReferralStatusRequest {
                status: status.into(),
                note,
                ..ctx.change(parse::name("referrals", &referral))
            };
            ctx.show(referrals.update_referral_status(request), write_status_line)
                .await
        }
        ReferralCmd::Readdress {
            referral,
            partner,
            note,
        } => {
            let request = pb::ReaddressReferralRequest {
                partner: parse::name("partners", &partner),
                note,
                ..ctx.change(parse::name("referrals", &referral))
            };
            ctx.show(referrals.readdress_referral(request), write_status_line)
                .await
        }
        ReferralCmd::FollowUp {
            referral,
            outcome,
            follow_up,
            note,
        } => {
            let request = pb::RecordFollowUpRequest {
                follow_up,
                outcome: outcome.into(),
                outcome_note: note,
                ..ctx.change(parse::name("referrals", &referral))
            };
            let response = referrals
                .record_follow_up(request)
                .await
                .answer("RecordFollowUp")?;
            let f = response.follow_up.clone().unwrap_or_default();
            ctx.emit(&response, &f.name, |out| {
                writeln!(
                    out,
                    "{} recorded: {}",
                    f.name,
                    output::follow_up_outcome(f.outcome)
                )
            })
        }
        ReferralCmd::FollowUps {
            referral,
            status,
            limit,
        } => {
            let response = referrals
                .list_follow_ups(pb::ListFollowUpsRequest {
                    page_size: crate::client::page_size(limit, 0),
                    page_token: String::new(),
                    referral: super::units::optional_name("referrals", &referral),
                    partner: String::new(),
                    statuses: status.iter().map(|s| (*s).into()).collect(),
                    due: None,
                })
                .await
                .answer("ListFollowUps")?;
            let names = names(&response.follow_ups);
            ctx.emit(&response, &names, |out| {
                write_follow_ups(out, &response.follow_ups)
            })
        }
    }
}

/// The partner a partner principal acts for, when the command leaves it out.
async fn own_partner(clients: &Clients, given: Option<String>) -> Result<String> {
    if let Some(partner) = given {
        return Ok(parse::name("partners", &partner));
    }
    let me = clients
        .directory()
        .get_current_principal(pb::GetCurrentPrincipalRequest {})
        .await
        .answer("GetCurrentPrincipal")?
        .principal
        .unwrap_or_default();
    if me.partner.is_empty() {
        return Err(CliError::local(
            "name the partner (partners/<uuid>): this token is not a partner agency's",
        ));
    }
    Ok(me.partner)
}

pub async fn run_partner(ctx: &mut Ctx<'_>, command: PartnerCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut directory = clients.directory();
    match command {
        PartnerCmd::List { serves, needs } => {
            let response = directory
                .list_partner_agencies(pb::ListPartnerAgenciesRequest {
                    page_size: 500,
                    page_token: String::new(),
                    kinds: Vec::new(),
                    services: needs.iter().map(|n| (*n).into()).collect(),
                    serves_point: serves,
                })
                .await
                .answer("ListPartnerAgencies")?;
            let headers = ["PARTNER", "CODE", "KIND", "FREE", "SERVICES", "NAME"];
            ctx.emit_table(&response, &response.partner_agencies, headers, |p| {
                let capacity = p.capacity.clone().unwrap_or_default();
                vec![
                    p.name.clone(),
                    p.code.clone(),
                    output::partner_kind(p.kind),
                    if capacity.not_accepting {
                        "diverting".to_owned()
                    } else {
                        format!("{}/{}", capacity.available_slots, capacity.total_slots)
                    },
                    output::list(p.services.iter().map(|n| output::need(*n))),
                    p.display_name.clone(),
                ]
            })
        }
        PartnerCmd::Get { partner } => {
            let name = own_partner(&clients, partner).await?;
            let request = pb::GetPartnerAgencyRequest { name };
            ctx.show(directory.get_partner_agency(request), write_partner)
                .await
        }
        PartnerCmd::Create {
            code,
            name,
            kind,
            services,
            areas,
            area_files,
            at,
            address,
            available,
            total,
        } => {
            let mut service_areas: Vec<pb::ServiceArea> = areas
                .into_iter()
                .map(|polygon| pb::ServiceArea {
                    display_name: String::new(),
                    shape: Some(pb::service_area::Shape::Polygon(polygon)),
                })
                .collect();
            for path in area_files {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::local(format!("reading {}: {e}", path.display())))?;
                service_areas.push(pb::ServiceArea {
                    display_name: path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    shape: Some(pb::service_area::Shape::Geojson(text)),
                });
            }
            let partner_agency = pb::PartnerAgency {
                code,
                display_name: name,
                kind: kind.into(),
                services: services.iter().map(|s| (*s).into()).collect(),
                service_areas,
                capacity: Some(pb::Capacity {
                    available_slots: available,
                    total_slots: total,
                    ..Default::default()
                }),
                location: Some(at),
                address,
                ..Default::default()
            };
            let request = pb::CreatePartnerAgencyRequest {
                request_id: ctx.request_id(""),
                partner_agency: Some(partner_agency),
            };
            ctx.show(directory.create_partner_agency(request), write_partner)
                .await
        }
        PartnerCmd::Capacity {
            partner,
            available,
            total,
            not_accepting,
            note,
        } => {
            let capacity = pb::Capacity {
                available_slots: available,
                total_slots: total,
                not_accepting,
                update_time: None,
                note,
            };
            let request = pb::UpdatePartnerCapacityRequest {
                capacity: Some(capacity),
                ..ctx.change(own_partner(&clients, partner).await?)
            };
            ctx.show(directory.update_partner_capacity(request), write_partner)
                .await
        }
    }
}

fn write_partner(out: &mut dyn Write, p: &pb::PartnerAgency) -> std::io::Result<()> {
    let capacity = p.capacity.clone().unwrap_or_default();
    output::write_fields(
        out,
        &[
            ("partner", p.name.clone()),
            ("code", p.code.clone()),
            ("name", p.display_name.clone()),
            ("kind", output::partner_kind(p.kind)),
            (
                "services",
                output::list(p.services.iter().map(|n| output::need(*n))),
            ),
            (
                "areas",
                output::list(p.service_areas.iter().map(|a| a.display_name.clone())),
            ),
            (
                "capacity",
                format!(
                    "{}/{} free{}",
                    capacity.available_slots,
                    capacity.total_slots,
                    if capacity.not_accepting {
                        ", not accepting"
                    } else {
                        ""
                    }
                ),
            ),
            ("location", output::point(p.location.as_ref())),
        ],
    )
}

fn write_status_line(out: &mut dyn Write, r: &pb::Referral) -> std::io::Result<()> {
    writeln!(
        out,
        "{} is {} (partner {})",
        r.name,
        output::referral_status(r.status),
        r.partner
    )
}

fn write_referral(out: &mut dyn Write, r: &pb::Referral) -> std::io::Result<()> {
    let victim = r.victim.clone().unwrap_or_default();
    output::write_fields(
        out,
        &[
            ("referral", r.name.clone()),
            ("status", output::referral_status(r.status)),
            ("incident", r.incident.clone()),
            ("partner", r.partner.clone()),
            (
                "needs",
                output::list(r.needs.iter().map(|n| output::need(*n))),
            ),
            (
                "victim",
                format!("{} ({})", victim.alias, output::age_range(victim.age_range)),
            ),
            (
                "consent",
                r.consent
                    .as_ref()
                    .filter(|c| c.given)
                    .map(|c| format!("given by {}: {}", c.given_by, c.scope))
                    .unwrap_or_else(|| {
                        if r.life_threat_medical_handoff {
                            "none (life-threat medical hand-off)".to_owned()
                        } else {
                            String::new()
                        }
                    }),
            ),
            ("declined", r.decline_reason.clone()),
            ("notes", r.notes.clone()),
        ],
    )?;
    if !r.history.is_empty() {
        writeln!(out, "\nHistory:")?;
        Table::of(["TIME", "WHAT", "FROM", "TO", "NOTE"], &r.history, |h| {
            vec![
                output::time(h.time.as_ref()),
                output::referral_entry_kind(h.kind),
                output::referral_status(h.from_status),
                output::referral_status(h.to_status),
                h.note.clone(),
            ]
        })
        .write(out)?;
    }
    if !r.follow_ups.is_empty() {
        writeln!(out, "\nFollow-ups:")?;
        write_follow_ups(out, &r.follow_ups)?;
    }
    Ok(())
}

fn write_follow_ups(out: &mut dyn Write, follow_ups: &[pb::FollowUp]) -> std::io::Result<()> {
    Table::of(["FOLLOW-UP", "DUE", "STATUS", "OUTCOME"], follow_ups, |f| {
        vec![
            f.name.clone(),
            output::time(f.due_time.as_ref()),
            output::follow_up_status(f.status),
            if f.outcome == 0 {
                String::new()
            } else {
                output::follow_up_outcome(f.outcome)
            },
        ]
    })
    .write(out)
}
