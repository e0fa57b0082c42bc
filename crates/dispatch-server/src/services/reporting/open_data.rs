//! ExportOpenData: the period's calls in the columns of Mexico City's open-data portal.

use dispatch_proto::v1 as pb;

use super::Reporting;
use crate::error::Error;
use crate::services::rpc::Caller;

impl Reporting {
    pub(super) async fn export_open_data(
        &self,
        _caller: Caller,
        _request: pb::ExportOpenDataRequest,
    ) -> Result<pb::ExportOpenDataResponse, Error> {
        Err(Error::Store(dispatch_store::Error::Internal(
            "ExportOpenData is being written".into(),
        )))
    }
}
