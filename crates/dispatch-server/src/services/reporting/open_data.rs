//! ExportOpenData: the period's calls in the columns of Mexico City's open-data portal.

use dispatch_domain::reporting::open_data;
use dispatch_proto::v1 as pb;

use super::Reporting;
use crate::edge::reporting::open_data::{ExportOpenData, page_token, row};
use crate::error::Error;
use crate::services::rpc::Caller;

impl Reporting {
    pub(super) async fn export_open_data(
        &self,
        _caller: Caller,
        request: ExportOpenData,
    ) -> Result<pb::ExportOpenDataResponse, Error> {
        let ExportOpenData {
            period,
            decimals,
            page,
        } = request;
        let (calls, next) = self
            .state
            .store
            .open_data_calls(period.start, period.end, &page)
            .await?;
        let catalogue = &self.state.catalogue;
        Ok(pb::ExportOpenDataResponse {
            rows: calls
                .iter()
                .map(|call| row(&open_data::row(call, catalogue, decimals)))
                .collect(),
            next_page_token: page_token(next),
        })
    }
}
