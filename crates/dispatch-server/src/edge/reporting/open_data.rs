//! ExportOpenData's request and answer.

use chrono::DateTime;

use dispatch_domain::Violations;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::open_data::{self, OpenDataRow};
use dispatch_proto::v1 as pb;
use dispatch_store::Page;
use dispatch_store::open_data::ReceivedCursor;

use super::super::enums::{WireEnum as _, wire_or_unspecified};
use super::super::wire::{geo_point, timestamp, valid};
use super::{period, report_page};

/// A checked ExportOpenData request.
#[derive(Debug)]
pub struct ExportOpenData {
    pub period: Period,
    pub decimals: u32,
    pub page: Page<ReceivedCursor>,
}

impl TryFrom<pb::ExportOpenDataRequest> for ExportOpenData {
    type Error = Violations;

    fn try_from(message: pb::ExportOpenDataRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let period = period(message.period.as_ref(), &mut violations);
        let decimals = violations.collect(open_data::decimals(
            "coordinate_decimals",
            message.coordinate_decimals,
        ));
        let page = violations.collect(page(message.page_size, &message.page_token));
        valid(violations, || {
            Some(Self {
                period: period?,
                decimals: decimals?,
                page: page?,
            })
        })
    }
}

/// The page size (1..=5000, 0 for 1000) and the position a `page_token` resumes from.
fn page(size: i32, token: &str) -> Result<Page<ReceivedCursor>, Violations> {
    report_page(size, token, "rows", parse_token)
}

/// Page tokens of the export (oldest first): `r.<received, microseconds>.<folio>`.
pub fn page_token(cursor: Option<ReceivedCursor>) -> String {
    cursor.map_or_else(String::new, |c| {
        format!("r.{}.{}", c.received_at.timestamp_micros(), c.folio)
    })
}

/// Longest folio a token may carry: longer than any folio the server draws.
const MAX_TOKEN_FOLIO_BYTES: usize = 256;

fn parse_token(token: &str) -> Option<ReceivedCursor> {
    let (micros, folio) = token.strip_prefix("r.")?.split_once('.')?;
    // A folio never holds a NUL (PostgreSQL text cannot): no such token was issued.
    if folio.is_empty() || folio.len() > MAX_TOKEN_FOLIO_BYTES || folio.contains('\0') {
        return None;
    }
    Some(ReceivedCursor {
        received_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        folio: folio.to_owned(),
    })
}

/// A published row on the wire.
pub fn row(row: &OpenDataRow) -> pb::OpenDataRow {
    pb::OpenDataRow {
        folio: row.folio.clone(),
        area_start: row.area_start.clone(),
        area_close: row.area_close.clone(),
        incident_type: row.incident_type.clone(),
        incident_type_name: row.incident_type_name.clone(),
        channel: row.channel.wire(),
        classification: row
            .classification
            .map(|class| class.as_str().to_owned())
            .unwrap_or_default(),
        closing_code: wire_or_unspecified(row.closing_code),
        create_time: Some(timestamp(row.create_time)),
        close_time: row.close_time.map(timestamp),
        point: Some(geo_point(&row.point)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_PAGE_SIZE;
    use super::*;

    #[test]
    fn tokens_read_back_and_strangers_are_refused() {
        let cursor = ReceivedCursor {
            received_at: "2020-06-01T17:00:00.123456Z".parse().unwrap(),
            folio: "C5/200601/00001".into(),
        };
        let token = page_token(Some(cursor.clone()));
        assert_eq!(page(0, &token).unwrap().after, Some(cursor));
        assert_eq!(page(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(page(5000, "").unwrap().size, 5000);
        for (size, token, field) in [
            (5001, "", "page_size"),
            (-1, "", "page_size"),
            (10, "t.1.x", "page_token"),
            (10, "r.x.C5", "page_token"),
            (10, "r.1.", "page_token"),
        ] {
            let error = page(size, token).unwrap_err();
            assert_eq!(
                error.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(),
                [field],
                "{size} {token}"
            );
        }
    }
}
