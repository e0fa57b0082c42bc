//! `dispatchctl operation ...`: planned operations (mass events, standing watch zones), their
//! staged units and watch orders, the cameras to watch now, and an operation's report.

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::operation_service_client::OperationServiceClient;

use crate::Ctx;
use crate::error::{CliError, Result};
use crate::output::Table;
use crate::parse;

use super::reply::Answer as _;

#[derive(Debug, clap::Subcommand)]
pub enum OperationCmd {
    /// Plans an operation (supervisors).
    Create(CreateArgs),
    /// Shows an operation.
    Get { name: String },
    /// Lists operations, newest first.
    List,
    /// Stages more units for an operation (supervisors).
    Stage {
        operation: String,
        /// "units/{uuid}", repeatable.
        #[arg(long = "unit", required = true)]
        units: Vec<String>,
    },
    /// Stands an operation down now: its window ends, its staged units are released
    /// (supervisors).
    StandDown { name: String },
    /// Adds a watch order ("consigna") on a camera or a zone of an operation.
    Watch {
        operation: String,
        /// "cameras/{uuid}".
        #[arg(long, conflicts_with = "zone")]
        camera: Option<String>,
        /// Index of the operation's zone.
        #[arg(long)]
        zone: Option<u32>,
        /// What to watch for.
        #[arg(long)]
        instruction: String,
        /// Until when (RFC 3339).
        #[arg(long, value_parser = parse::time)]
        until: DateTime<Utc>,
    },
    /// The cameras to watch now, busiest zones first (video operators).
    Cameras,
    /// The operation's report: incidents by type and hour, intervals inside vs the city,
    /// staged units' use.
    Report {
        name: String,
        /// IANA time zone of the hours; default America/Mexico_City.
        #[arg(long, default_value = "")]
        zone: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// What it is called.
    #[arg(long)]
    pub name: String,
    /// A zone: `lat,lon;lat,lon;lat,lon...` (3 or more vertices); repeatable.
    #[arg(long = "zone", required = true, allow_hyphen_values = true)]
    pub zones: Vec<String>,
    /// Start (RFC 3339).
    #[arg(long, value_parser = parse::time)]
    pub from: DateTime<Utc>,
    /// End (RFC 3339); none for a standing operation.
    #[arg(long, value_parser = parse::time)]
    pub to: Option<DateTime<Utc>>,
    /// "agencies/{uuid}" taking part, repeatable.
    #[arg(long = "agency")]
    pub agencies: Vec<String>,
    /// The command post (a C2 Móvil), "units/{uuid}".
    #[arg(long, default_value = "")]
    pub command_post: String,
    /// "units/{uuid}" staged for it, repeatable.
    #[arg(long = "unit")]
    pub units: Vec<String>,
    /// "cameras/{uuid}" covering its zones, repeatable.
    #[arg(long = "camera")]
    pub cameras: Vec<String>,
}

/// `lat,lon;lat,lon;...` as a polygon.
pub fn zone(text: &str) -> std::result::Result<pb::Polygon, String> {
    let points = text
        .split(';')
        .map(parse::point)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(pb::Polygon { points })
}

fn operation_rows(operations: &[pb::Operation]) -> Table {
    let mut table = Table::new([
        "NAME",
        "DISPLAY NAME",
        "ACTIVE",
        "ZONES",
        "STAGED",
        "CAMERAS",
    ]);
    for o in operations {
        table.row(vec![
            o.name.clone(),
            o.display_name.clone(),
            o.active.to_string(),
            o.zones.len().to_string(),
            o.staged_units.len().to_string(),
            o.cameras.len().to_string(),
        ]);
    }
    table
}

pub async fn run(ctx: &mut Ctx<'_>, command: OperationCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut client = OperationServiceClient::new(clients.authed_channel());
    match command {
        OperationCmd::Create(args) => {
            let zones = args
                .zones
                .iter()
                .map(|z| zone(z))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| CliError::local(format!("--zone: {e}")))?;
            let response = client
                .create_operation(pb::CreateOperationRequest {
                    request_id: ctx.request_id(""),
                    operation: Some(pb::Operation {
                        display_name: args.name,
                        zones,
                        start_time: Some(parse::timestamp(args.from)),
                        end_time: args.to.map(parse::timestamp),
                        agencies: args.agencies,
                        command_post: args.command_post,
                        staged_units: args.units,
                        cameras: args.cameras,
                        ..Default::default()
                    }),
                })
                .await
                .answer("CreateOperation")?;
            let operation = response.operation.clone().unwrap_or_default();
            ctx.emit(&response, &operation.name, |out| {
                operation_rows(std::slice::from_ref(&operation)).write(out)
            })
        }
        OperationCmd::Get { name } => {
            let response = client
                .get_operation(pb::GetOperationRequest { name })
                .await
                .answer("GetOperation")?;
            let operation = response.operation.clone().unwrap_or_default();
            ctx.emit(&response, &operation.name, |out| {
                operation_rows(std::slice::from_ref(&operation)).write(out)
            })
        }
        OperationCmd::List => {
            // Every page, as one answer.
            let mut response = pb::ListOperationsResponse::default();
            loop {
                let page = client
                    .list_operations(pb::ListOperationsRequest {
                        page_size: 500,
                        page_token: response.next_page_token.clone(),
                    })
                    .await
                    .answer("ListOperations")?;
                response.operations.extend(page.operations);
                response.next_page_token = page.next_page_token;
                if response.next_page_token.is_empty() {
                    break;
                }
            }
            let names: Vec<&str> = response
                .operations
                .iter()
                .map(|o| o.name.as_str())
                .collect();
            ctx.emit(&response, &names.join("\n"), |out| {
                operation_rows(&response.operations).write(out)
            })
        }
        OperationCmd::Stage { operation, units } => {
            let response = client
                .stage_units(pb::StageUnitsRequest {
                    request_id: ctx.request_id(""),
                    operation,
                    units,
                })
                .await
                .answer("StageUnits")?;
            let operation = response.operation.clone().unwrap_or_default();
            ctx.emit(&response, &operation.name, |out| {
                operation_rows(std::slice::from_ref(&operation)).write(out)
            })
        }
        OperationCmd::StandDown { name } => {
            let response = client
                .stand_down_operation(pb::StandDownOperationRequest {
                    request_id: ctx.request_id(""),
                    name,
                })
                .await
                .answer("StandDownOperation")?;
            let operation = response.operation.clone().unwrap_or_default();
            ctx.emit(&response, &operation.name, |out| {
                operation_rows(std::slice::from_ref(&operation)).write(out)
            })
        }
        OperationCmd::Watch {
            operation,
            camera,
            zone,
            instruction,
            until,
        } => {
            let target = match (camera, zone) {
                (Some(camera), None) => pb::watch_order::Target::Camera(camera),
                (None, Some(zone)) => pb::watch_order::Target::Zone(zone),
                _ => return Err(CliError::local("give --camera or --zone")),
            };
            let response = client
                .add_watch_order(pb::AddWatchOrderRequest {
                    request_id: ctx.request_id(""),
                    watch_order: Some(pb::WatchOrder {
                        operation,
                        target: Some(target),
                        instruction,
                        until: Some(parse::timestamp(until)),
                        ..Default::default()
                    }),
                })
                .await
                .answer("AddWatchOrder")?;
            let name = response
                .watch_order
                .as_ref()
                .map(|o| o.name.clone())
                .unwrap_or_default();
            ctx.emit(&response, &name, |out| writeln!(out, "{name}"))
        }
        OperationCmd::Cameras => {
            let response = client
                .list_cameras_to_watch(pb::ListCamerasToWatchRequest::default())
                .await
                .answer("ListCamerasToWatch")?;
            let names: Vec<&str> = response.cameras.iter().map(|c| c.camera.as_str()).collect();
            ctx.emit(&response, &names.join("\n"), |out| {
                let mut table = Table::new(["CAMERA", "CODE", "ZONE", "RECENT", "ORDERS"]);
                for c in &response.cameras {
                    let orders: Vec<&str> =
                        c.orders.iter().map(|o| o.instruction.as_str()).collect();
                    table.row(vec![
                        c.camera.clone(),
                        c.code.clone(),
                        c.zone.to_string(),
                        c.recent_incidents.to_string(),
                        orders.join(" | "),
                    ]);
                }
                table.write(out)
            })
        }
        OperationCmd::Report { name, zone } => {
            let response = client
                .get_operation_report(pb::GetOperationReportRequest {
                    name: name.clone(),
                    time_zone: zone,
                })
                .await
                .answer("GetOperationReport")?;
            ctx.emit(&response, &name, |out| {
                let mut types = Table::new(["TYPE", "INCIDENTS"]);
                for t in &response.by_type {
                    types.row(vec![t.incident_type.clone(), t.count.to_string()]);
                }
                types.write(out)?;
                writeln!(out)?;
                let p90 = |d: &Option<prost_types::Duration>| {
                    d.as_ref()
                        .map_or("-".to_owned(), |d| format!("{}s", d.seconds))
                };
                let mut intervals =
                    Table::new(["INTERVAL", "INSIDE N", "INSIDE P90", "CITY N", "CITY P90"]);
                for i in &response.intervals {
                    intervals.row(vec![
                        i.interval.clone(),
                        i.inside_count.to_string(),
                        p90(&i.inside_p90),
                        i.city_count.to_string(),
                        p90(&i.city_p90),
                    ]);
                }
                intervals.write(out)?;
                writeln!(out)?;
                let mut staged = Table::new(["UNIT", "INSIDE", "OUTSIDE", "SHARE"]);
                for s in &response.staged_units {
                    staged.row(vec![
                        s.unit.clone(),
                        s.assignments_inside.to_string(),
                        s.assignments_outside.to_string(),
                        format!("{:.1}%", s.share * 100.0),
                    ]);
                }
                staged.write(out)
            })
        }
    }
}
