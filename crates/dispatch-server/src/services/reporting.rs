//! `ReportingService`: what supervisors are judged by, read from the times the centre records.
//! A handler converts the request to a domain query, the store reads the rows it needs in one
//! repeatable-read transaction, and the domain's `reporting` computes the report (every
//! definition is there and in README.md, "Reports"). Reads only; the auth layer audits each.

mod hot_spots;
mod open_data;

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::reporting_service_server::ReportingService;

use super::rpc::{Caller, service};
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
        _request: pb::GetIntervalReportRequest,
    ) -> Result<pb::GetIntervalReportResponse, Error> {
        Err(Error::Store(dispatch_store::Error::Internal(
            "GetIntervalReport is being written".into(),
        )))
    }

    async fn get_utilization_report(
        &self,
        _caller: Caller,
        _request: pb::GetUtilizationReportRequest,
    ) -> Result<pb::GetUtilizationReportResponse, Error> {
        Err(Error::Store(dispatch_store::Error::Internal(
            "GetUtilizationReport is being written".into(),
        )))
    }

    async fn get_duplicate_report(
        &self,
        _caller: Caller,
        _request: pb::GetDuplicateReportRequest,
    ) -> Result<pb::GetDuplicateReportResponse, Error> {
        Err(Error::Store(dispatch_store::Error::Internal(
            "GetDuplicateReport is being written".into(),
        )))
    }
}
