//! GetHotSpotReport: incidents per H3 cell against the previous period.

use dispatch_proto::v1 as pb;

use super::Reporting;
use crate::error::Error;
use crate::services::rpc::Caller;

impl Reporting {
    pub(super) async fn get_hot_spot_report(
        &self,
        _caller: Caller,
        _request: pb::GetHotSpotReportRequest,
    ) -> Result<pb::GetHotSpotReportResponse, Error> {
        Err(Error::Store(dispatch_store::Error::Internal(
            "GetHotSpotReport is being written".into(),
        )))
    }
}
