//! `report`: the reports supervisors are judged by, as tables for people, `--csv` for
//! spreadsheets, and `--json` (the protobuf JSON mapping) for programs.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use dispatch_proto::v1 as pb;

use super::reply::Answer;
use crate::Ctx;
use crate::cli::{PeriodArgs, ReportCmd};
use crate::error::{CliError, Result};
use crate::output::{self, Proto, Table};
use crate::parse;

pub async fn run(ctx: &mut Ctx<'_>, command: ReportCmd) -> Result<()> {
    match command {
        ReportCmd::HotSpots(args) => super::report_hot_spots::run(ctx, args).await,
        ReportCmd::OpenData(args) => super::open_data::run(ctx, args).await,
        ReportCmd::Intervals { period, by, csv } => {
            let response = ctx
                .clients()
                .await?
                .reports()
                .get_interval_report(pb::GetIntervalReportRequest {
                    period: Some(report_period(&period)?),
                    group_by: by.iter().map(|d| *d as i32).collect(),
                    targets: Vec::new(),
                })
                .await
                .answer("GetIntervalReport")?;
            emit(ctx, &response, intervals_table(&response), csv)
        }
        ReportCmd::Utilization { period, csv } => {
            let mut reports = ctx.clients().await?.reports();
            let mut request = pb::GetUtilizationReportRequest {
                period: Some(report_period(&period)?),
                page_size: 5000,
                page_token: String::new(),
            };
            // Every page's units under the first page's totals.
            let mut response = pb::GetUtilizationReportResponse::default();
            loop {
                let page = reports
                    .get_utilization_report(request.clone())
                    .await
                    .answer("GetUtilizationReport")?;
                let next = page.next_page_token.clone();
                if request.page_token.is_empty() {
                    response = page;
                } else {
                    response.units.extend(page.units);
                }
                if next.is_empty() {
                    break;
                }
                request.page_token = next;
            }
            response.next_page_token.clear();
            emit(ctx, &response, utilization_table(&response), csv)
        }
        ReportCmd::Duplicates { period, csv } => {
            let response = ctx
                .clients()
                .await?
                .reports()
                .get_duplicate_report(pb::GetDuplicateReportRequest {
                    period: Some(report_period(&period)?),
                })
                .await
                .answer("GetDuplicateReport")?;
            emit(ctx, &response, duplicates_table(&response), csv)
        }
    }
}

/// The period of `--from`, `--to` and `--zone`.
pub fn report_period(args: &PeriodArgs) -> Result<pb::ReportPeriod> {
    let zone: Tz = args
        .zone
        .parse()
        .map_err(|_| CliError::local(format!("--zone {:?} is not an IANA time zone", args.zone)))?;
    let bound = |flag: &str, text: &str| -> Result<DateTime<Utc>> {
        if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
            let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
            return zone
                .from_local_datetime(&midnight)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| CliError::local(format!("{flag} {text}: no midnight in {zone}")));
        }
        parse::time(text).map_err(|e| CliError::local(format!("{flag}: {e}")))
    };
    Ok(pb::ReportPeriod {
        start_time: Some(parse::timestamp(bound("--from", &args.from)?)),
        end_time: Some(parse::timestamp(bound("--to", &args.to)?)),
        time_zone: args.zone.clone(),
    })
}

/// Prints `table` (or its CSV), or `message` as JSON with `--json`.
fn emit<M: Proto>(ctx: &mut Ctx<'_>, message: &M, table: Rows, csv: bool) -> Result<()> {
    if csv && ctx.format == output::Format::Table {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| CliError::local(format!("writing CSV: {e}"));
        writer.write_record(&table.headers).map_err(io)?;
        for row in &table.rows {
            writer.write_record(row).map_err(io)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| CliError::local(format!("writing CSV: {e}")))?;
        ctx.out.write_all(&bytes)?;
        return Ok(());
    }
    ctx.emit(message, "", |out| {
        let mut printed = Table::new_dynamic(&table.headers);
        for row in table.rows {
            printed.row(row);
        }
        printed.write(out)
    })
}

/// A report's lines: the same for the table and the CSV.
struct Rows {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Rows {
    fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }
}

/// Seconds to the millisecond, as CSV and tables print intervals; empty when unset.
fn seconds(d: Option<&prost_types::Duration>) -> String {
    d.map(|d| format!("{:.3}", d.seconds as f64 + f64::from(d.nanos) / 1e9))
        .unwrap_or_default()
}

fn share(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

fn group_label(keys: &[pb::GroupKey]) -> String {
    if keys.is_empty() {
        return "(all)".into();
    }
    keys.iter()
        .map(|k| {
            let value = if k.value.is_empty() {
                "(none)"
            } else {
                &k.value
            };
            format!("{}={value}", output::report_dimension(k.dimension))
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

fn target_label(c: &pb::TargetCompliance) -> String {
    let Some(target) = &c.target else {
        return String::new();
    };
    let who = match target.unit_type {
        0 => String::new(),
        t => format!(" {}", output::unit_type(t)),
    };
    format!(
        "{}{who} <= {} s @ {:.0}%: {} of {} ({}) {}",
        target.source,
        seconds(target.threshold.as_ref()),
        target.percentile * 100.0,
        c.within,
        c.count,
        share(c.share),
        if c.met { "met" } else { "NOT MET" }
    )
}

fn intervals_table(report: &pb::GetIntervalReportResponse) -> Rows {
    let mut rows = Rows::new(&[
        "GROUP",
        "INTERVAL",
        "N",
        "P50_S",
        "P90_S",
        "MEAN_S",
        "MAX_S",
        "MISSING",
        "CANCELLED",
        "NEGATIVE",
        "TARGETS",
    ]);
    for group in report.total.iter().chain(&report.groups) {
        for s in &group.intervals {
            rows.rows.push(vec![
                group_label(&group.keys),
                output::interval_kind(s.interval),
                s.count.to_string(),
                seconds(s.p50.as_ref()),
                seconds(s.p90.as_ref()),
                seconds(s.mean.as_ref()),
                seconds(s.max.as_ref()),
                s.excluded_missing.to_string(),
                s.excluded_cancelled.to_string(),
                s.excluded_negative.to_string(),
                s.compliance
                    .iter()
                    .map(target_label)
                    .collect::<Vec<_>>()
                    .join("; "),
            ]);
        }
    }
    rows
}

fn utilization_table(report: &pb::GetUtilizationReportResponse) -> Rows {
    let mut rows = Rows::new(&[
        "KIND",
        "LABEL",
        "ON_DUTY_H",
        "COMMITTED_H",
        "UTILIZATION",
        "ASSIGNMENTS",
    ]);
    let hours = |d: Option<&prost_types::Duration>| {
        d.map(|d| format!("{:.2}", d.seconds as f64 / 3600.0))
            .unwrap_or_default()
    };
    for (kind, lines) in [
        ("unit", &report.units),
        ("unit type", &report.unit_types),
        ("station", &report.stations),
    ] {
        for line in lines {
            rows.rows.push(vec![
                kind.to_owned(),
                line.label.clone(),
                hours(line.on_duty.as_ref()),
                hours(line.committed.as_ref()),
                share(line.unit_hour_utilization),
                line.assignments.to_string(),
            ]);
        }
    }
    for line in report.first_due.iter().chain(&report.first_due_total) {
        rows.rows.push(vec![
            "first due".to_owned(),
            if line.station_area.is_empty() {
                "(all)".into()
            } else {
                line.station_area.clone()
            },
            String::new(),
            String::new(),
            format!("{} from elsewhere", share(line.share)),
            format!("{} of {}", line.first_unit_from_elsewhere, line.incidents),
        ]);
    }
    rows
}

fn duplicates_table(report: &pb::GetDuplicateReportResponse) -> Rows {
    let mut rows = Rows::new(&[
        "BY",
        "VALUE",
        "CALLS",
        "DUPLICATES",
        "SHARE",
        "DISPOSED",
        "OPEN",
    ]);
    let mut line = |by: &str, value: String, s: &pb::DuplicateShare| {
        rows.rows.push(vec![
            by.to_owned(),
            value,
            s.calls.to_string(),
            s.duplicates.to_string(),
            share(s.share),
            s.disposed.to_string(),
            s.open.to_string(),
        ]);
    };
    if let Some(total) = &report.total {
        line("total", "(all)".into(), total);
    }
    for c in &report.channels {
        if let Some(s) = &c.share {
            line("channel", output::channel(c.channel), s);
        }
    }
    for h in &report.hours {
        if let Some(s) = &h.share {
            line("hour", format!("{:02}", h.hour), s);
        }
    }
    rows
}
