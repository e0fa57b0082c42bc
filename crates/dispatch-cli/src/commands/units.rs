//! `unit`: status and positions (field units, dispatchers, gateways), the fleet (supervisors).

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::cli::UnitCmd;
use crate::error::{CliError, Result};
use crate::output;
use crate::parse;

use super::reply::Answer as _;

pub async fn run(ctx: &mut Ctx<'_>, command: UnitCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut units = clients.units();
    match command {
        UnitCmd::List {
            agency,
            station,
            status,
            unit_type,
            capabilities,
            limit,
        } => {
            let all = crate::client::pages(limit, async |page_size, page_token| {
                units
                    .list_units(pb::ListUnitsRequest {
                        page_size,
                        page_token,
                        agency: optional_name("agencies", &agency),
                        station: optional_name("stations", &station),
                        unit_types: unit_type.iter().map(|t| (*t).into()).collect(),
                        statuses: status.iter().map(|s| (*s).into()).collect(),
                        bounding_box: None,
                        capabilities: capabilities.clone(),
                        include_decommissioned: false,
                    })
                    .await
                    .answer("ListUnits")
            })
            .await?;
            ctx.emit_table(&all, &all.units, UNIT_COLUMNS, unit_row)
        }
        UnitCmd::Get { unit } => {
            let request = pb::GetUnitRequest {
                name: parse::name("units", &unit),
            };
            ctx.show(clients.directory().get_unit(request), write_unit)
                .await
        }
        UnitCmd::Status {
            unit,
            status,
            incident,
            note,
        } => {
            let request = pb::SetUnitStatusRequest {
                status: status.into(),
                incident: optional_name("incidents", &incident),
                note,
                ..ctx.change(parse::name("units", &unit))
            };
            let response = units
                .set_unit_status(request)
                .await
                .answer("SetUnitStatus")?;
            let u = response.unit.clone().unwrap_or_default();
            ctx.emit(&response, &u.name, |out| {
                writeln!(
                    out,
                    "{} ({}) is {}",
                    u.name,
                    u.call_sign,
                    output::unit_status(u.status)
                )?;
                if let Some(incident) = &response.incident {
                    writeln!(
                        out,
                        "{} ({}) is {}",
                        incident.name,
                        incident.folio,
                        output::incident_status(incident.status)
                    )?;
                }
                Ok(())
            })
        }
        UnitCmd::Position { unit, at, accuracy } => {
            let name = parse::name("units", &unit);
            let response = units
                .report_position_batch(pb::ReportPositionBatchRequest {
                    request_id: ctx.request_id(""),
                    reports: vec![pb::PositionReport {
                        unit: name.clone(),
                        point: Some(at),
                        accuracy_m: accuracy,
                        heading_deg: None,
                        speed_mps: None,
                        fix_time: Some(parse::timestamp(chrono::Utc::now())),
                    }],
                })
                .await
                .answer("ReportPositionBatch")?;
            if let Some(rejected) = response.rejected.first() {
                let why = rejected
                    .violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(CliError {
                    code: if rejected.reason == pb::PositionRejectionReason::UnitNotFound as i32 {
                        crate::exit::NOT_FOUND
                    } else {
                        crate::exit::INVALID_ARGUMENT
                    },
                    message: format!(
                        "position of {name} rejected ({:?}) {why}",
                        pb::PositionRejectionReason::try_from(rejected.reason)
                            .map(|r| r.as_str_name())
                            .unwrap_or("UNKNOWN")
                    ),
                    json: output::to_json(&response)?,
                });
            }
            ctx.emit(&response, &name, |out| {
                if response.superseded_count > 0 {
                    writeln!(out, "{name}: a newer fix was already stored")
                } else {
                    writeln!(out, "{name} at {}", output::point(Some(&at)))
                }
            })
        }
        UnitCmd::Create {
            call_sign,
            agency,
            unit_type,
            capabilities,
            station,
            out_of_service,
        } => {
            let unit = pb::Unit {
                call_sign,
                agency: parse::name("agencies", &agency),
                unit_type: unit_type.into(),
                capabilities,
                home_station: optional_name("stations", &station),
                // Explicit: dispatchd makes an UNSPECIFIED status OUT_OF_SERVICE.
                status: if out_of_service {
                    pb::UnitStatus::OutOfService
                } else {
                    pb::UnitStatus::Available
                }
                .into(),
                ..Default::default()
            };
            let request = pb::CreateUnitRequest {
                request_id: ctx.request_id(""),
                unit: Some(unit),
            };
            ctx.show(clients.directory().create_unit(request), write_unit)
                .await
        }
        UnitCmd::Decommission { unit, reason } => {
            let request = pb::DecommissionUnitRequest {
                reason,
                ..ctx.change(parse::name("units", &unit))
            };
            ctx.show(clients.directory().decommission_unit(request), write_unit)
                .await
        }
    }
}

pub fn optional_name(collection: &str, text: &str) -> String {
    if text.trim().is_empty() {
        String::new()
    } else {
        parse::name(collection, text)
    }
}

/// The columns of `unit list`, and a unit's row.
const UNIT_COLUMNS: [&str; 7] = [
    "UNIT",
    "CALL SIGN",
    "TYPE",
    "STATUS",
    "INCIDENT",
    "POSITION",
    "CAPABILITIES",
];

fn unit_row(u: &pb::Unit) -> Vec<String> {
    vec![
        u.name.clone(),
        u.call_sign.clone(),
        output::unit_type(u.unit_type),
        output::unit_status(u.status),
        u.current_incident.clone(),
        output::point(u.position.as_ref().and_then(|p| p.point.as_ref())),
        u.capabilities.join(","),
    ]
}

fn write_unit(out: &mut dyn Write, u: &pb::Unit) -> std::io::Result<()> {
    let position = u
        .position
        .as_ref()
        .map(|p| {
            format!(
                "{} at {}{}",
                output::point(p.point.as_ref()),
                output::time(p.fix_time.as_ref()),
                if p.stale { " (stale)" } else { "" }
            )
        })
        .unwrap_or_default();
    output::write_fields(
        out,
        &[
            ("unit", u.name.clone()),
            ("call sign", u.call_sign.clone()),
            ("agency", u.agency.clone()),
            ("type", output::unit_type(u.unit_type)),
            ("capabilities", u.capabilities.join(",")),
            ("station", u.home_station.clone()),
            ("status", output::unit_status(u.status)),
            ("incident", u.current_incident.clone()),
            ("position", position),
        ],
    )
}
