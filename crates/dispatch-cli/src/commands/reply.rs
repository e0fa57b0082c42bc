//! The shape every command shares: one RPC, its answer (or an error naming the RPC), and the
//! answer printed through [`Ctx::emit`] with the names of the resources it carries.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::error::{CliError, Result};
use crate::output::{Proto, Table};

/// The message of an RPC's answer, or the error `dispatchctl` reports for `rpc`.
pub trait Answer<T> {
    fn answer(self, rpc: &str) -> Result<T>;
}

impl<T> Answer<T> for Result<tonic::Response<T>, tonic::Status> {
    fn answer(self, rpc: &str) -> Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| CliError::rpc(rpc, &status))
    }
}

/// A resource with a name such as "calls/{uuid}", which `-q` prints.
pub trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ident),* $(,)?) => {
        $(impl Named for pb::$t {
            fn name(&self) -> &str {
                &self.name
            }
        })*
    };
}

named!(
    Agency,
    AuditRecord,
    Call,
    Camera,
    Credential,
    FollowUp,
    Incident,
    IncidentType,
    PartnerAgency,
    Principal,
    Referral,
    Station,
    Unit,
);

/// A response that answers with one resource, which `dispatchctl` prints.
pub trait Carries: Proto {
    type Resource: Named;
    fn resource(&self) -> Option<&Self::Resource>;
}

macro_rules! carries {
    ($($response:ident . $field:ident: $resource:ident),* $(,)?) => {
        $(impl Carries for pb::$response {
            type Resource = pb::$resource;
            fn resource(&self) -> Option<&pb::$resource> {
                self.$field.as_ref()
            }
        })*
    };
}

carries!(
    GetCallResponse.call: Call,
    DisposeCallResponse.call: Call,
    UpdateCallLocationResponse.call: Call,
    GetIncidentResponse.incident: Incident,
    ChangeIncidentStatusResponse.incident: Incident,
    CloseIncidentResponse.incident: Incident,
    CancelIncidentResponse.incident: Incident,
    MergeIncidentsResponse.survivor: Incident,
    CreateReferralResponse.referral: Referral,
    GetReferralResponse.referral: Referral,
    AcceptReferralResponse.referral: Referral,
    DeclineReferralResponse.referral: Referral,
    UpdateReferralStatusResponse.referral: Referral,
    ReaddressReferralResponse.referral: Referral,
    GetPartnerAgencyResponse.partner_agency: PartnerAgency,
    CreatePartnerAgencyResponse.partner_agency: PartnerAgency,
    UpdatePartnerCapacityResponse.partner_agency: PartnerAgency,
    GetUnitResponse.unit: Unit,
    CreateUnitResponse.unit: Unit,
    DecommissionUnitResponse.unit: Unit,
);

/// The RPC a response answers: `dispatch.v1.GetCallResponse` answers `GetCall`.
fn rpc_of<M: Proto>() -> &'static str {
    M::NAME
        .trim_start_matches("dispatch.v1.")
        .trim_end_matches("Response")
}

/// A request that changes one resource. `dispatchctl` sends it with this command's request id
/// (a retried command changes nothing twice) and no etag: the change applies to the version the
/// server holds.
pub trait Change: Default {
    fn change(request_id: String, target: String) -> Self;
}

macro_rules! change {
    ($($request:ident . $target:ident),* $(,)?) => {
        $(impl Change for pb::$request {
            fn change(request_id: String, target: String) -> Self {
                Self {
                    request_id,
                    $target: target,
                    ..Default::default()
                }
            }
        })*
    };
}

change!(
    LinkCallToIncidentRequest.name,
    OpenIncidentFromCallRequest.name,
    DisposeCallRequest.name,
    UpdateCallLocationRequest.name,
    TriageIncidentRequest.name,
    ChangeIncidentStatusRequest.name,
    AddIncidentNoteRequest.name,
    CloseIncidentRequest.name,
    CancelIncidentRequest.name,
    ReleaseUnitRequest.incident,
    RecommendUnitsRequest.incident,
    AssignUnitsRequest.incident,
    SetUnitStatusRequest.unit,
    DecommissionUnitRequest.name,
    AcceptReferralRequest.name,
    DeclineReferralRequest.name,
    UpdateReferralStatusRequest.name,
    ReaddressReferralRequest.name,
    RecordFollowUpRequest.referral,
    UpdatePartnerCapacityRequest.partner,
);

/// The name of `resource`; empty when the response carries none.
pub fn name_of<R: Named>(resource: Option<&R>) -> String {
    resource.map(Named::name).unwrap_or_default().to_owned()
}

/// The names of `resources`, one a line: what `-q` prints for a list.
pub fn names<R: Named>(resources: &[R]) -> String {
    resources
        .iter()
        .map(Named::name)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Ctx<'_> {
    /// A request changing `target`, sent with this command's request id.
    pub fn change<R: Change>(&self, target: String) -> R {
        R::change(self.request_id(""), target)
    }

    /// Waits for the answer to one RPC and prints the resource it carries as `table` writes it.
    pub async fn show<M: Carries>(
        &mut self,
        sent: impl Future<Output = Result<tonic::Response<M>, tonic::Status>>,
        table: impl FnOnce(&mut dyn Write, &M::Resource) -> std::io::Result<()>,
    ) -> Result<()> {
        let response = sent.await.answer(rpc_of::<M>())?;
        self.emit_resource(&response, response.resource(), table)
    }

    /// Prints a response whose main resource is `resource`: its table is what `table` writes
    /// of the resource (nothing when the response carries none).
    pub fn emit_resource<M: Proto, R: Named>(
        &mut self,
        message: &M,
        resource: Option<&R>,
        table: impl FnOnce(&mut dyn Write, &R) -> std::io::Result<()>,
    ) -> Result<()> {
        self.emit(message, &name_of(resource), |out| match resource {
            Some(resource) => table(out, resource),
            None => Ok(()),
        })
    }

    /// Prints a list: the names of `items` (`-q`), or a table with a row of `cells` for each.
    pub fn emit_table<M: Proto, R: Named, const N: usize>(
        &mut self,
        message: &M,
        items: &[R],
        headers: [&str; N],
        cells: impl FnMut(&R) -> Vec<String>,
    ) -> Result<()> {
        self.emit(message, &names(items), |out| {
            Table::of(headers, items, cells).write(out)
        })
    }
}
