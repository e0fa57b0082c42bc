//! GetUtilizationReport's request and answer: a period, and a page of the units' lines (a
//! centre's whole fleet does not fit one message) with every total whole on each page.

use uuid::Uuid;

use dispatch_domain::Violations;
use dispatch_domain::ids::UnitId;
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::utilization::{FirstDue, Utilization, UtilizationReport};
use dispatch_proto::v1 as pb;
use dispatch_store::Page;

use super::super::enums::wire_or_unspecified;
use super::super::wire::{duration, valid};
use super::{period, report_page, wide};

/// Where a page of units resumes: after this call sign and unit (the lines' order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitCursor {
    pub call_sign: String,
    pub unit: UnitId,
}

/// GetUtilizationReport's question: its period and the page of units.
#[derive(Debug)]
pub struct UtilizationQuery {
    pub period: Period,
    pub page: Page<UnitCursor>,
}

impl TryFrom<pb::GetUtilizationReportRequest> for UtilizationQuery {
    type Error = Violations;

    fn try_from(message: pb::GetUtilizationReportRequest) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let period = period(message.period.as_ref(), &mut violations);
        let page = violations.collect(page(message.page_size, &message.page_token));
        valid(violations, || {
            Some(Self {
                period: period?,
                page: page?,
            })
        })
    }
}

fn page(size: i32, token: &str) -> Result<Page<UnitCursor>, Violations> {
    report_page(size, token, "units", parse_token)
}

/// `u.<unit uuid>.<call sign>`.
fn page_token(cursor: &UnitCursor) -> String {
    format!("u.{}.{}", cursor.unit.0, cursor.call_sign)
}

fn parse_token(token: &str) -> Option<UnitCursor> {
    let (unit, call_sign) = token.strip_prefix("u.")?.split_once('.')?;
    if call_sign.is_empty() || call_sign.len() > 256 {
        return None;
    }
    Some(UnitCursor {
        call_sign: call_sign.to_owned(),
        unit: UnitId(Uuid::parse_str(unit).ok()?),
    })
}

fn utilization_message(line: &Utilization) -> pb::Utilization {
    pb::Utilization {
        unit: line.unit.map(|u| u.name()).unwrap_or_default(),
        label: line.label.clone(),
        on_duty: Some(duration(line.on_duty)),
        committed: Some(duration(line.committed)),
        unit_hour_utilization: line.ratio(),
        assignments: wide(line.assignments),
        unit_type: wire_or_unspecified(line.unit_type),
    }
}

fn first_due_message(line: &FirstDue) -> pb::FirstDue {
    pb::FirstDue {
        station_area: line.station_area.clone(),
        incidents: wide(line.incidents),
        first_unit_from_elsewhere: wide(line.first_unit_from_elsewhere),
        share: line.share(),
    }
}

/// The report with the page of units `page` asks for.
pub fn utilization_response(
    report: &UtilizationReport,
    page: &Page<UnitCursor>,
) -> pb::GetUtilizationReportResponse {
    let start = page.after.as_ref().map_or(0, |after| {
        report.units.partition_point(|line| {
            (line.label.as_str(), line.unit) <= (after.call_sign.as_str(), Some(after.unit))
        })
    });
    let size = usize::try_from(page.size).unwrap_or(usize::MAX);
    let lines = report.units.get(start..).unwrap_or_default();
    let (shown, rest) = lines.split_at(size.min(lines.len()));
    let next_page_token = match (shown.last(), rest.is_empty()) {
        (Some(last), false) => last.unit.map_or_else(String::new, |unit| {
            page_token(&UnitCursor {
                call_sign: last.label.clone(),
                unit,
            })
        }),
        _ => String::new(),
    };
    pb::GetUtilizationReportResponse {
        units: shown.iter().map(utilization_message).collect(),
        unit_types: report.unit_types.iter().map(utilization_message).collect(),
        stations: report.stations.iter().map(utilization_message).collect(),
        first_due: report.first_due.iter().map(first_due_message).collect(),
        first_due_total: Some(first_due_message(&report.first_due_total)),
        next_page_token,
    }
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_PAGE_SIZE;
    use super::*;

    #[test]
    fn tokens_read_back_and_strangers_are_refused() {
        let cursor = UnitCursor {
            call_sign: "E1.North".into(),
            unit: UnitId(Uuid::now_v7()),
        };
        assert_eq!(page(0, &page_token(&cursor)).unwrap().after, Some(cursor));
        assert_eq!(page(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        for (size, token, field) in [
            (5001, "", "page_size"),
            (-1, "", "page_size"),
            (10, "u.not-a-uuid.E1", "page_token"),
            (10, "r.1.E1", "page_token"),
            (10, &format!("u.{}.", Uuid::now_v7()), "page_token"),
        ] {
            let error = page(size, token).unwrap_err();
            assert!(
                error.to_string().contains(field),
                "{size} {token:?}: {error}"
            );
        }
    }
}
