//! `report open-data`: the period's calls in the columns of Mexico City's open-data portal
//! (those of C5's `incidentes viales` files), spelt as the portal spells them, so that
//! `dispatchctl replay --dataset c5 --file` reads the export back.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::Args;
use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::error::{CliError, Result};
use crate::output::{Format, Table};
use crate::replay::data::{c5_entry, c5_kind, instant};

use super::reply::Answer as _;

/// The portal's columns, in its order (the header of C5's files).
pub const HEADER: [&str; 11] = [
    "folio",
    "alcaldia_inicio",
    "alcaldia_cierre",
    "incidente_c4",
    "tipo_entrada",
    "clasificacion",
    "codigo_cierre",
    "creado",
    "cerrado",
    "lat",
    "lon",
];

#[derive(Debug, Args)]
pub struct OpenDataArgs {
    /// Calls received from then on: a date (midnight in --zone) or an RFC 3339 time.
    #[arg(long)]
    pub from: String,
    /// ... and before then (exclusive).
    #[arg(long)]
    pub to: String,
    /// The IANA zone `creado` and `cerrado` are written in, and a bare date is read in.
    #[arg(long, default_value = "America/Mexico_City")]
    pub zone: String,
    /// Decimal places kept of each coordinate, 2..6 (rounded half away from zero).
    #[arg(long, default_value_t = 3)]
    pub decimals: i32,
    /// Write the CSV to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the CSV on stdout.
    #[arg(long, conflicts_with = "out")]
    pub csv: bool,
    /// Rows asked for per request (1..5000; 0: the server's default, 1000).
    #[arg(long, default_value_t = 0)]
    pub page_size: i32,
}

pub async fn run(ctx: &mut Ctx<'_>, args: OpenDataArgs) -> Result<()> {
    let zone: Tz = args.zone.parse().map_err(|_| {
        CliError::local(format!(
            "--zone {:?} is not an IANA time zone name like America/Mexico_City",
            args.zone
        ))
    })?;
    let from = instant("--from", &args.from, zone).map_err(CliError::local)?;
    let to = instant("--to", &args.to, zone).map_err(CliError::local)?;
    let timestamp = |t: DateTime<Utc>| prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    };
    let period = pb::ReportPeriod {
        start_time: Some(timestamp(from)),
        end_time: Some(timestamp(to)),
        time_zone: zone.name().to_owned(),
    };
    let mut reporting = ctx.clients().await?.reports();
    let all = crate::client::pages(usize::MAX, async |page_size, page_token| {
        reporting
            .export_open_data(pb::ExportOpenDataRequest {
                period: Some(period.clone()),
                coordinate_decimals: args.decimals,
                page_size: if args.page_size == 0 {
                    page_size
                } else {
                    args.page_size
                },
                page_token,
            })
            .await
            .answer("ExportOpenData")
    })
    .await?;
    let rows: Vec<[String; 11]> = all.rows.iter().map(|row| portal_row(row, zone)).collect();
    if let Some(path) = &args.out {
        let file = std::fs::File::create(path)
            .map_err(|e| CliError::local(format!("creating {}: {e}", path.display())))?;
        write_csv(file, &rows)?;
        ctx.note(&format!(
            "{} rows written to {}",
            rows.len(),
            path.display()
        ));
        if ctx.format == Format::Name {
            writeln!(ctx.out, "{}", path.display())?;
        }
        return Ok(());
    }
    if args.csv {
        return write_csv(&mut *ctx.out, &rows);
    }
    ctx.emit(&all, "", |out| {
        let mut table = Table::new(HEADER);
        for row in rows {
            table.row(row.into());
        }
        table.write(out)
    })
}

fn write_csv(out: impl Write, rows: &[[String; 11]]) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer
        .write_record(HEADER)
        .and_then(|()| rows.iter().try_for_each(|row| writer.write_record(row)))
        .and_then(|()| writer.flush().map_err(csv::Error::from))
        .map_err(|e| CliError::local(format!("writing the CSV: {e}")))
}

/// A row as the portal spells it, times in `zone`.
pub fn portal_row(row: &pb::OpenDataRow, zone: Tz) -> [String; 11] {
    let local = |t: Option<&prost_types::Timestamp>| {
        t.and_then(|t| DateTime::from_timestamp(t.seconds, 0))
            .map(|t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let point = row.point.unwrap_or_default();
    [
        row.folio.clone(),
        row.area_start.clone(),
        row.area_close.clone(),
        incident_name(row),
        c5_entry(row.channel()).to_owned(),
        row.classification.clone(),
        closing_letter(row.closing_code()).to_owned(),
        local(row.create_time.as_ref()),
        local(row.close_time.as_ref()),
        point.latitude.to_string(),
        point.longitude.to_string(),
    ]
}

/// `incidente_c4`: C5's own name for the type when it has one (the replay reads it back as the
/// same type), else the catalogue's name, else the code.
fn incident_name(row: &pb::OpenDataRow) -> String {
    match c5_kind(&row.incident_type) {
        Some(kind) => kind.to_owned(),
        None if !row.incident_type_name.is_empty() => row.incident_type_name.clone(),
        None => row.incident_type.clone(),
    }
}

/// `codigo_cierre`: C5's letters; empty while open.
pub fn closing_letter(code: pb::ClosingCode) -> &'static str {
    use pb::ClosingCode as C;
    match code {
        C::Confirmed => "A",
        C::Negative => "N",
        C::Duplicate => "D",
        C::False => "F",
        C::Informative => "I",
        C::Unspecified => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_spelt_as_the_portal_spells_them() {
        let row = pb::OpenDataRow {
            folio: "C5/200601/00007".into(),
            area_start: "TLALPAN".into(),
            area_close: "COYOACAN".into(),
            incident_type: "TRAFFIC-PEDESTRIAN".into(),
            incident_type_name: "Pedestrian struck".into(),
            channel: pb::CallChannel::PanicButton.into(),
            classification: "URGENCIAS MEDICAS".into(),
            closing_code: pb::ClosingCode::Duplicate.into(),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_591_030_800, // 2020-06-01T17:00:00Z
                nanos: 0,
            }),
            close_time: None,
            point: Some(pb::GeoPoint {
                latitude: 19.293,
                longitude: -99.1,
            }),
        };
        let spelt = portal_row(&row, chrono_tz::America::Mexico_City);
        assert_eq!(
            spelt,
            [
                "C5/200601/00007",
                "TLALPAN",
                "COYOACAN",
                "lesionado-atropellado",
                "BOTÓN DE AUXILIO",
                "URGENCIAS MEDICAS",
                "D",
                "2020-06-01 12:00:00",
                "",
                "19.293",
                "-99.1",
            ]
        );
        let fire = pb::OpenDataRow {
            incident_type: "FIRE-STRUCTURE".into(),
            incident_type_name: "Structure fire".into(),
            ..row
        };
        assert_eq!(portal_row(&fire, chrono_tz::UTC)[3], "Structure fire");
        assert_eq!(portal_row(&fire, chrono_tz::UTC)[7], "2020-06-01 17:00:00");
    }
}
