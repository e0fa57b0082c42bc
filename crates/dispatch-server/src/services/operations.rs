//! `OperationService`: planned operations (mass events, standing watch zones), their staged
//! units and watch orders, the cameras a video operator should watch now, and the operation's
//! report. A liaison (a participating agency's principal) reads only the operations its agency
//! takes part in; any other is NOT_FOUND.

use chrono::{Duration, Utc};

use dispatch_domain::auth::Role;
use dispatch_domain::ids::OperationId;
use dispatch_domain::operation::{self, Operation};
use dispatch_domain::reporting::Period;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::operation_service_server::OperationService;

use super::request;
use super::rpc::{Caller, service};
use crate::auth::Principal;
use crate::edge::operations::{
    AddWatchOrder, CreateOperation, StageUnits, StandDown, camera_to_watch_message,
    operation_message, report_message, watch_order_message,
};
use crate::error::Error;

/// How far back the watch list counts a zone's incidents.
const WATCH_LOOK_BACK_HOURS: i64 = 24;
/// Cameras listed at most.
const MAX_CAMERAS: usize = 500;

service! {
    /// Planned operations, staged units, watch orders, the watch list, the report.
    Operations: OperationService {
        rpc create_operation(CreateOperationRequest) -> CreateOperationResponse;
        rpc get_operation(GetOperationRequest) -> GetOperationResponse;
        rpc list_operations(ListOperationsRequest) -> ListOperationsResponse;
        rpc stage_units(StageUnitsRequest) -> StageUnitsResponse;
        rpc add_watch_order(AddWatchOrderRequest) -> AddWatchOrderResponse;
        rpc list_cameras_to_watch(ListCamerasToWatchRequest) -> ListCamerasToWatchResponse;
        rpc get_operation_report(GetOperationReportRequest) -> GetOperationReportResponse;
        rpc stand_down_operation(StandDownOperationRequest) -> StandDownOperationResponse;
    }
}

/// A liaison sees an operation only when its agency takes part; anyone else the table lets
/// through sees every operation.
fn visible(principal: &Principal, operation: &Operation) -> Result<(), Error> {
    if principal.role != Role::Liaison {
        return Ok(());
    }
    match principal.agency {
        Some(agency) if operation.spec.agencies.contains(&agency) => Ok(()),
        _ => Err(Error::NotFound(operation.id().name())),
    }
}

impl Operations {
    async fn operation(&self, principal: &Principal, id: OperationId) -> Result<Operation, Error> {
        let operation = self.state.store.get_operation(id).await?;
        visible(principal, &operation)?;
        Ok(operation)
    }

    async fn create_operation(
        &self,
        caller: Caller,
        command: CreateOperation,
    ) -> Result<pb::CreateOperationResponse, Error> {
        crate::auth::note_resource(command.operation.id.name());
        let key = caller.key(command.mutation);
        let written = self
            .state
            .store
            .create_operation(&key, caller.actor(), &command.operation)
            .await?;
        Ok(pb::CreateOperationResponse {
            operation: Some(operation_message(&written.value, Utc::now())),
        })
    }

    async fn get_operation(
        &self,
        caller: Caller,
        request: pb::GetOperationRequest,
    ) -> Result<pb::GetOperationResponse, Error> {
        let id = OperationId::parse_name("name", &request.name)?;
        let operation = self.operation(&caller.principal, id).await?;
        Ok(pb::GetOperationResponse {
            operation: Some(operation_message(&operation, Utc::now())),
        })
    }

    async fn list_operations(
        &self,
        caller: Caller,
        request: pb::ListOperationsRequest,
    ) -> Result<pb::ListOperationsResponse, Error> {
        let page = request::time_page(request.page_size, &request.page_token)?;
        let agency = match caller.principal.role {
            Role::Liaison => Some(
                caller
                    .principal
                    .agency
                    .ok_or_else(|| Error::NotFound("operations".into()))?,
            ),
            _ => None,
        };
        let now = Utc::now();
        let (operations, next) = self.state.store.list_operations(agency, &page).await?;
        Ok(pb::ListOperationsResponse {
            operations: operations
                .iter()
                .map(|o| operation_message(o, now))
                .collect(),
            next_page_token: request::time_token(next),
        })
    }

    async fn stage_units(
        &self,
        caller: Caller,
        command: StageUnits,
    ) -> Result<pb::StageUnitsResponse, Error> {
        crate::auth::note_resource(command.operation.name());
        let key = caller.key(command.mutation);
        let written = self
            .state
            .store
            .stage_units(&key, command.operation, &command.units)
            .await?;
        Ok(pb::StageUnitsResponse {
            operation: Some(operation_message(&written.value, Utc::now())),
        })
    }

    async fn stand_down_operation(
        &self,
        caller: Caller,
        command: StandDown,
    ) -> Result<pb::StandDownOperationResponse, Error> {
        crate::auth::note_resource(command.operation.name());
        let key = caller.key(command.mutation);
        let now = Utc::now();
        let written = self
            .state
            .store
            .stand_down_operation(&key, command.operation, now)
            .await?;
        Ok(pb::StandDownOperationResponse {
            operation: Some(operation_message(&written.value, Utc::now())),
        })
    }

    async fn add_watch_order(
        &self,
        caller: Caller,
        command: AddWatchOrder,
    ) -> Result<pb::AddWatchOrderResponse, Error> {
        let order = command.order;
        crate::auth::note_resource(order.operation.name());
        let operation = self.operation(&caller.principal, order.operation).await?;
        order.validate(&operation, Utc::now())?;
        let key = caller.key(command.mutation);
        let written = self
            .state
            .store
            .add_watch_order(&key, caller.actor(), &order)
            .await?;
        Ok(pb::AddWatchOrderResponse {
            watch_order: Some(watch_order_message(&written.value)),
        })
    }

    async fn list_cameras_to_watch(
        &self,
        _caller: Caller,
        request: pb::ListCamerasToWatchRequest,
    ) -> Result<pb::ListCamerasToWatchResponse, Error> {
        if request.page_size < 0 {
            return Err(Error::Invalid(dispatch_domain::Violations::single(
                "page_size",
                "must not be negative",
            )));
        }
        let limit = match usize::try_from(request.page_size).unwrap_or(0) {
            0 => MAX_CAMERAS,
            n => n.min(MAX_CAMERAS),
        };
        let now = Utc::now();
        let store = &self.state.store;
        let staging = store.active_operations(now).await?;
        let active = staging.active();
        let camera_ids: Vec<_> = active
            .iter()
            .flat_map(|o| o.spec.cameras.iter().copied())
            .collect();
        let cameras = store.get_cameras(&camera_ids).await?;
        let ids: Vec<OperationId> = active.iter().map(Operation::id).collect();
        let orders = store.current_watch_orders(&ids, now).await?;
        let recent = store
            .recent_incident_points(now - Duration::hours(WATCH_LOOK_BACK_HOURS))
            .await?;
        let mut list = operation::cameras_to_watch(active, &cameras, &orders, &recent, now);
        list.truncate(limit);
        Ok(pb::ListCamerasToWatchResponse {
            cameras: list.iter().map(camera_to_watch_message).collect(),
        })
    }

    async fn get_operation_report(
        &self,
        caller: Caller,
        request: pb::GetOperationReportRequest,
    ) -> Result<pb::GetOperationReportResponse, Error> {
        let id = OperationId::parse_name("name", &request.name)?;
        let operation = self.operation(&caller.principal, id).await?;
        let now = Utc::now();
        let window = operation.spec.window;
        let end = window.end_or(now);
        // A standing operation is reported over its latest year at most.
        let start = window.start.max(end - Duration::days(365));
        if end <= start {
            return Err(Error::Domain(dispatch_domain::Error::WrongState {
                subject: id.name(),
                current: "not started".into(),
                action: "report".into(),
            }));
        }
        let period =
            Period::new("operation", Some(start), Some(end), &request.time_zone).map_err(|v| {
                if v.to_string().contains("time_zone") {
                    dispatch_domain::Violations::single("time_zone", "not an IANA time zone")
                } else {
                    v
                }
            })?;
        let store = &self.state.store;
        let inputs = store
            .operation_report_inputs(id, &operation.spec.staged, &period)
            .await?;
        let city = store.interval_times(&period, &[]).await?;
        crate::auth::note_detail(format!("{} from {} to {}", id, period.start, period.end));
        let report = operation::report::report(
            &period,
            &inputs.incidents,
            &inputs.times,
            &city,
            &operation.spec.staged,
            &inputs.staged,
        );
        Ok(report_message(&report))
    }
}

/// A liaison reads an incident only when it belongs to an operation its agency takes part in;
/// any other is NOT_FOUND. Each read is audited, as a partner's reads are.
pub async fn scope_liaison(
    state: &crate::AppState,
    principal: &Principal,
    id: dispatch_domain::ids::IncidentId,
) -> Result<(), Error> {
    if principal.role != Role::Liaison {
        return Ok(());
    }
    crate::auth::note_victim_data_read(id.name());
    let visible = match principal.agency {
        Some(agency) => state.store.incident_visible_to_agency(id, agency).await?,
        None => false,
    };
    if visible {
        Ok(())
    } else {
        Err(Error::NotFound(id.name()))
    }
}
