//! GetHotSpotReport: incidents per H3 cell against the previous period.

use dispatch_proto::v1 as pb;

use super::Reporting;
use crate::edge::reporting::hot_spots::{query, response};
use crate::error::Error;
use crate::services::rpc::Caller;

impl Reporting {
    pub(super) async fn get_hot_spot_report(
        &self,
        _caller: Caller,
        request: pb::GetHotSpotReportRequest,
    ) -> Result<pb::GetHotSpotReportResponse, Error> {
        let query = query(&request)?;
        let counts = self.state.store.hot_spots(&query).await?;
        Ok(response(&query, counts))
    }
}
