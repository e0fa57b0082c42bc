//! `ReportingService`: what supervisors are judged by, read from the times the centre records.
//! A handler converts the request to a domain query, the store reads the rows it needs in one
//! repeatable-read transaction, and the domain's `reporting` computes the report (every
//! definition is there and in README.md, "Reports"). Reads only; the auth layer audits each.

mod hot_spots;
mod open_data;

use chrono::Utc;

use dispatch_domain::reporting::intervals;
use dispatch_domain::reporting::{duplicates, utilization};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_server::ReportingService;

use super::rpc::{Caller, service};
use crate::edge::reporting::utilization::{UtilizationQuery, utilization_response};
use crate::edge::reporting::{
    DuplicateQuery, IntervalRequest, duplicate_response, interval_response,
};
use crate::error::Error;

service! {
    /// Reports: intervals, hot spots, utilization, duplicates, the open-data export.
    Reporting: ReportingService {
        rpc get_interval_report(GetIntervalReportRequest) -> GetIntervalReportResponse;
        rpc get_hot_spot_report(GetHotSpotReportRequest) -> GetHotSpotReportResponse;
        rpc get_utilization_report(GetUtilizationReportRequest) -> GetUtilizationReportResponse;
        rpc get_duplicate_report(GetDuplicateReportRequest) -> GetDuplicateReportResponse;
        rpc export_open_data(ExportOpenDataRequest) -> ExportOpenDataResponse;
    }
}

impl Reporting {
    async fn get_interval_report(
        &self,
        _caller: Caller,
        IntervalRequest(query): IntervalRequest,
    ) -> Result<pb::GetIntervalReportResponse, Error> {
        let incidents = self
            .state
            .store
            .interval_times(&query.period, &query.group_by)
            .await?;
        Ok(interval_response(&intervals::report(&query, &incidents)))
    }

    async fn get_utilization_report(
        &self,
        _caller: Caller,
        UtilizationQuery { period, page }: UtilizationQuery,
    ) -> Result<pb::GetUtilizationReportResponse, Error> {
        let (units, first_due) = self
            .state
            .store
            .utilization_inputs(&period, Utc::now())
            .await?;
        let report = utilization::report(&units, first_due);
        Ok(utilization_response(&report, &page))
    }

    async fn get_duplicate_report(
        &self,
        _caller: Caller,
        DuplicateQuery(period): DuplicateQuery,
    ) -> Result<pb::GetDuplicateReportResponse, Error> {
        let counts = self.state.store.call_counts(&period).await?;
        Ok(duplicate_response(&duplicates::report(&counts)))
    }
}
