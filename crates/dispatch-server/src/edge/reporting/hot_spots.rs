//! GetHotSpotReport's request and answer.

use dispatch_domain::Violations;
use dispatch_domain::reporting::areas::{CellShape, HotSpotQuery, change};
use dispatch_proto::v1 as pb;
use dispatch_store::hot_spots::HotSpotCounts;

use crate::edge::wire::{geo_point, timestamp};

/// The request as a query; every bad field is named (`period.*`, `resolution`,
/// `incident_type`, `hour_of_week`, `max_cells`).
pub fn query(request: &pb::GetHotSpotReportRequest) -> Result<HotSpotQuery, Violations> {
    let mut violations = Violations::new();
    let period = super::period(request.period.as_ref(), &mut violations);
    let query = violations.collect(HotSpotQuery::new(
        period,
        request.resolution,
        &request.incident_type,
        request.hour_of_week,
        request.max_cells,
    ));
    match query {
        Some(query) if violations.is_empty() => Ok(query),
        _ => Err(violations),
    }
}

/// The counts as the answer, each cell drawn with its centre and boundary.
pub fn response(query: &HotSpotQuery, counts: HotSpotCounts) -> pb::GetHotSpotReportResponse {
    pb::GetHotSpotReportResponse {
        cells: counts
            .cells
            .iter()
            .filter_map(|cell| {
                let shape = CellShape::of(cell.cell)?;
                Some(pb::HotSpotCell {
                    cell: shape.name,
                    centre: Some(geo_point(&shape.centre)),
                    boundary: shape.boundary.iter().map(geo_point).collect(),
                    count: cell.count,
                    previous_count: cell.previous_count,
                    change: change(cell.count, cell.previous_count),
                })
            })
            .collect(),
        total: counts.total,
        previous_total: counts.previous_total,
        hour_of_week_counts: counts.hour_of_week,
        types: counts
            .types
            .into_iter()
            .map(|(incident_type, count)| pb::TypeCount {
                incident_type,
                count,
            })
            .collect(),
        resolution: i32::from(query.resolution),
        previous_start_time: Some(timestamp(query.period.previous().start)),
    }
}
