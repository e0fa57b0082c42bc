//! `report hot-spots`: incidents per H3 cell over a period against the period before it, as a
//! table (cells, types, a week of hours), `--json` (the response's protobuf JSON mapping) or
//! `--csv` (one row per cell).

use std::io::Write;

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::error::{CliError, Result};
use crate::output::{Format, Table};
use crate::parse;

use super::reply::Answer as _;

/// What `dispatchctl report hot-spots` takes.
#[derive(Debug, clap::Args)]
pub struct HotSpotsArgs {
    /// Start of the period (RFC 3339), inclusive: incidents are selected by their first call.
    #[arg(long, value_parser = parse::time)]
    pub from: DateTime<Utc>,
    /// End of the period (RFC 3339), exclusive.
    #[arg(long, value_parser = parse::time)]
    pub to: DateTime<Utc>,
    /// IANA time zone of the hours of week; default America/Mexico_City.
    #[arg(long, default_value = "")]
    pub zone: String,
    /// H3 resolution 4..10 (0: the server's default, 8).
    #[arg(long, default_value_t = 0)]
    pub resolution: i32,
    /// Only incidents of this type code.
    #[arg(long = "type", default_value = "")]
    pub incident_type: String,
    /// Only incidents whose first call fell in this hour of the week (0 = Monday 00:00).
    #[arg(long)]
    pub hour_of_week: Option<i32>,
    /// The busiest cells listed, 1..5000 (0: the server's default, 200).
    #[arg(long, default_value_t = 0)]
    pub max_cells: i32,
    /// One CSV row per cell (cell, latitude, longitude, count, previous_count, change).
    #[arg(long)]
    pub csv: bool,
}

pub async fn run(ctx: &mut Ctx<'_>, args: HotSpotsArgs) -> Result<()> {
    if args.csv && ctx.format == Format::Json {
        return Err(CliError::local("--csv and --json: choose one"));
    }
    let clients = ctx.clients().await?;
    let response = clients
        .reports()
        .get_hot_spot_report(pb::GetHotSpotReportRequest {
            period: Some(pb::ReportPeriod {
                start_time: Some(parse::timestamp(args.from)),
                end_time: Some(parse::timestamp(args.to)),
                time_zone: args.zone,
            }),
            resolution: args.resolution,
            incident_type: args.incident_type,
            hour_of_week: args.hour_of_week,
            max_cells: args.max_cells,
        })
        .await
        .answer("GetHotSpotReport")?;
    if args.csv {
        return write_csv(ctx.out, &response);
    }
    let names: Vec<&str> = response.cells.iter().map(|c| c.cell.as_str()).collect();
    ctx.emit(&response, &names.join("\n"), |out| {
        write_table(out, &response)
    })
}

fn centre(cell: &pb::HotSpotCell) -> (f64, f64) {
    cell.centre
        .map_or((0.0, 0.0), |c| (c.latitude, c.longitude))
}

/// "+25.0%", or "new" when the previous period had none there.
fn change(change: Option<f64>) -> String {
    change.map_or_else(|| "new".to_owned(), |c| format!("{:+.1}%", c * 100.0))
}

fn write_table(
    out: &mut dyn Write,
    response: &pb::GetHotSpotReportResponse,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} incidents (previous period from {}: {}), H3 resolution {}",
        response.total,
        crate::output::time(response.previous_start_time.as_ref()),
        response.previous_total,
        response.resolution
    )?;
    writeln!(out)?;
    Table::of(
        ["CELL", "LAT,LON", "COUNT", "PREVIOUS", "CHANGE"],
        &response.cells,
        |cell| {
            let (latitude, longitude) = centre(cell);
            vec![
                cell.cell.clone(),
                format!("{latitude:.5},{longitude:.5}"),
                cell.count.to_string(),
                cell.previous_count.to_string(),
                change(cell.change),
            ]
        },
    )
    .write(out)?;
    writeln!(out)?;
    Table::of(["TYPE", "COUNT"], &response.types, |t| {
        let name = if t.incident_type.is_empty() {
            "(not triaged)".to_owned()
        } else {
            t.incident_type.clone()
        };
        vec![name, t.count.to_string()]
    })
    .write(out)?;
    writeln!(out)?;
    let mut hours = Table::new([
        "DAY", "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13",
        "14", "15", "16", "17", "18", "19", "20", "21", "22", "23",
    ]);
    for (day, counts) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .zip(response.hour_of_week_counts.chunks(24))
    {
        let mut row = vec![(*day).to_owned()];
        row.extend(counts.iter().map(i64::to_string));
        hours.row(row);
    }
    hours.write(out)
}

fn write_csv(out: &mut dyn Write, response: &pb::GetHotSpotReportResponse) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let failed = |e: csv::Error| CliError::local(format!("writing CSV: {e}"));
    writer
        .write_record([
            "cell",
            "latitude",
            "longitude",
            "count",
            "previous_count",
            "change",
        ])
        .map_err(failed)?;
    for cell in &response.cells {
        let (latitude, longitude) = centre(cell);
        writer
            .write_record([
                cell.cell.clone(),
                latitude.to_string(),
                longitude.to_string(),
                cell.count.to_string(),
                cell.previous_count.to_string(),
                cell.change.map(|c| c.to_string()).unwrap_or_default(),
            ])
            .map_err(failed)?;
    }
    writer
        .flush()
        .map_err(|e| CliError::local(format!("writing CSV: {e}")))
}
