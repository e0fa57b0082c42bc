//! The role x RPC table: who may call what. The one place authorisation is decided.
//!
//! Scoping below the RPC (a field unit's own unit, a partner's own referrals) is the handlers'
//! job; this table only says which roles may call an RPC at all. A test checks that every RPC of
//! the contract has exactly one row.

use dispatch_domain::auth::Role;

use Role::{
    Admin, CallTaker, Dispatcher, FieldUnit, Gateway, Liaison, PartnerAgency, Supervisor,
    VideoOperator,
};

/// One RPC and who may call it.
#[derive(Debug)]
pub struct Rule {
    pub service: &'static str,
    pub method: &'static str,
    pub roles: &'static [Role],
    /// Changes state: audited with its outcome.
    pub mutation: bool,
}

const EVERYONE: &[Role] = &[
    CallTaker,
    Dispatcher,
    Supervisor,
    VideoOperator,
    FieldUnit,
    PartnerAgency,
    Gateway,
    Admin,
    Liaison,
];
const STAFF: &[Role] = &[CallTaker, Dispatcher, Supervisor, VideoOperator];
const INTAKE: &[Role] = &[CallTaker, Dispatcher, Supervisor, VideoOperator];
const DISPATCH: &[Role] = &[Dispatcher, Supervisor];
const DIRECTORY_READ: &[Role] = &[
    CallTaker,
    Dispatcher,
    Supervisor,
    VideoOperator,
    FieldUnit,
    Admin,
];
const DIRECTORY_WRITE: &[Role] = &[Supervisor, Admin];
const SECURITY: &[Role] = &[Admin];
const REPORTS: &[Role] = &[Supervisor, Admin];

macro_rules! rules {
    ($($service:literal / $method:literal => $roles:expr, $mutation:literal;)+) => {
        /// Every RPC of the contract, and the reflection service.
        pub const RULES: &[Rule] = &[$(Rule { service: $service, method: $method, roles: $roles, mutation: $mutation },)+];
    };
}

rules! {
    "dispatch.v1.CallIntakeService" / "CreateCall" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, Gateway], true;
    "dispatch.v1.CallIntakeService" / "GetCall" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, Gateway], false;
    "dispatch.v1.CallIntakeService" / "ListCalls" => INTAKE, false;
    "dispatch.v1.CallIntakeService" / "UpdateCallLocation" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, Gateway], true;
    "dispatch.v1.CallIntakeService" / "LinkCallToIncident" => INTAKE, true;
    "dispatch.v1.CallIntakeService" / "OpenIncidentFromCall" => INTAKE, true;
    "dispatch.v1.CallIntakeService" / "DisposeCall" => INTAKE, true;
    "dispatch.v1.CallIntakeService" / "FindDuplicateCandidates" => INTAKE, false;

    "dispatch.v1.IncidentTriageService" / "ListIncidentTypes" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, FieldUnit, Admin], false;
    "dispatch.v1.IncidentTriageService" / "GetIncidentType" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, FieldUnit, Admin], false;
    "dispatch.v1.IncidentTriageService" / "TriageIncident" => &[CallTaker, Dispatcher, Supervisor], true;
    // A liaison: the incidents of the operations its agency takes part in (services/triage).
    "dispatch.v1.IncidentTriageService" / "GetIncident" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, FieldUnit, Liaison], false;
    "dispatch.v1.IncidentTriageService" / "ListIncidents" => STAFF, false;
    "dispatch.v1.IncidentTriageService" / "UpdateIncident" => &[CallTaker, Dispatcher, Supervisor], true;
    "dispatch.v1.IncidentTriageService" / "AddIncidentNote" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, FieldUnit], true;
    "dispatch.v1.IncidentTriageService" / "ChangeIncidentStatus" => DISPATCH, true;
    "dispatch.v1.IncidentTriageService" / "MergeIncidents" => DISPATCH, true;
    "dispatch.v1.IncidentTriageService" / "CloseIncident" => DISPATCH, true;
    "dispatch.v1.IncidentTriageService" / "CancelIncident" => DISPATCH, true;
    "dispatch.v1.IncidentTriageService" / "WatchIncidents" => &[CallTaker, Dispatcher, Supervisor, VideoOperator, Liaison], false;

    // NENA EIDOs (issue 19). An EIDO carries the whole incident with its callers: the roles
    // that handle incidents at the centre, not a field unit, partner or gateway.
    "dispatch.v1.IncidentExchangeService" / "GetIncidentEido" => &[CallTaker, Dispatcher, Supervisor], false;
    // The roles that would receive a transferred call or incident.
    "dispatch.v1.IncidentExchangeService" / "ImportEido" => &[CallTaker, Dispatcher, Supervisor, Gateway], true;
    // The same EIDOs as a stream; the STA-024 WebSocket (crate::http) is admitted by this row.
    "dispatch.v1.IncidentExchangeService" / "WatchIncidentEidos" => &[CallTaker, Dispatcher, Supervisor], false;

    "dispatch.v1.UnitAssignmentService" / "SetUnitStatus" => &[Dispatcher, Supervisor, FieldUnit], true;
    "dispatch.v1.UnitAssignmentService" / "ReportPositions" => &[FieldUnit, Gateway], true;
    "dispatch.v1.UnitAssignmentService" / "ReportPositionBatch" => &[FieldUnit, Gateway], true;
    "dispatch.v1.UnitAssignmentService" / "RecommendUnits" => DISPATCH, true;
    "dispatch.v1.UnitAssignmentService" / "GetRecommendation" => DISPATCH, false;
    "dispatch.v1.UnitAssignmentService" / "AssignUnits" => DISPATCH, true;
    "dispatch.v1.UnitAssignmentService" / "ReleaseUnit" => DISPATCH, true;
    "dispatch.v1.UnitAssignmentService" / "ListUnits" => STAFF, false;
    "dispatch.v1.UnitAssignmentService" / "NearestCameras" => STAFF, false;
    "dispatch.v1.UnitAssignmentService" / "WatchUnits" => &[Dispatcher, Supervisor, VideoOperator], false;

    "dispatch.v1.VictimCareReferralService" / "SuggestPartners" => &[CallTaker, Dispatcher, Supervisor], false;
    "dispatch.v1.VictimCareReferralService" / "CreateReferral" => &[CallTaker, Dispatcher, Supervisor], true;
    "dispatch.v1.VictimCareReferralService" / "GetReferral" => &[Dispatcher, Supervisor, PartnerAgency], false;
    "dispatch.v1.VictimCareReferralService" / "ListReferrals" => &[Dispatcher, Supervisor, PartnerAgency], false;
    "dispatch.v1.VictimCareReferralService" / "AcceptReferral" => &[PartnerAgency, Supervisor], true;
    "dispatch.v1.VictimCareReferralService" / "DeclineReferral" => &[PartnerAgency, Supervisor], true;
    "dispatch.v1.VictimCareReferralService" / "UpdateReferralStatus" => &[PartnerAgency, Dispatcher, Supervisor], true;
    "dispatch.v1.VictimCareReferralService" / "ReaddressReferral" => DISPATCH, true;
    "dispatch.v1.VictimCareReferralService" / "RecordFollowUp" => &[PartnerAgency, Dispatcher, Supervisor], true;
    "dispatch.v1.VictimCareReferralService" / "ListFollowUps" => &[PartnerAgency, Dispatcher, Supervisor], false;
    "dispatch.v1.VictimCareReferralService" / "WatchReferrals" => &[PartnerAgency, Supervisor], false;

    "dispatch.v1.DirectoryService" / "CreateAgency" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "GetAgency" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "ListAgencies" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "CreateStation" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "GetStation" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "ListStations" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "CreateUnit" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "GetUnit" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "UpdateUnit" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "DecommissionUnit" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "CreateCamera" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "GetCamera" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "ListCameras" => DIRECTORY_READ, false;
    "dispatch.v1.DirectoryService" / "UpdateCamera" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "CreatePartnerAgency" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "GetPartnerAgency" => &[CallTaker, Dispatcher, Supervisor, PartnerAgency, Admin], false;
    "dispatch.v1.DirectoryService" / "ListPartnerAgencies" => &[CallTaker, Dispatcher, Supervisor, Admin], false;
    "dispatch.v1.DirectoryService" / "UpdatePartnerAgency" => DIRECTORY_WRITE, true;
    "dispatch.v1.DirectoryService" / "UpdatePartnerCapacity" => &[PartnerAgency, Supervisor, Admin], true;
    "dispatch.v1.DirectoryService" / "CreatePrincipal" => SECURITY, true;
    "dispatch.v1.DirectoryService" / "GetPrincipal" => &[Supervisor, Admin], false;
    "dispatch.v1.DirectoryService" / "ListPrincipals" => &[Supervisor, Admin], false;
    "dispatch.v1.DirectoryService" / "GetCurrentPrincipal" => EVERYONE, false;
    "dispatch.v1.DirectoryService" / "UpdatePrincipal" => SECURITY, true;
    "dispatch.v1.DirectoryService" / "IssueCredential" => SECURITY, true;
    "dispatch.v1.DirectoryService" / "RevokeCredential" => SECURITY, true;
    "dispatch.v1.DirectoryService" / "ListCredentials" => SECURITY, false;
    "dispatch.v1.DirectoryService" / "ListAuditRecords" => &[Supervisor, Admin], false;

    "dispatch.v1.PublicAlertService" / "IssueAlert" => &[Supervisor], true;
    "dispatch.v1.PublicAlertService" / "UpdateAlert" => &[Supervisor], true;
    "dispatch.v1.PublicAlertService" / "CancelAlert" => &[Supervisor], true;
    "dispatch.v1.PublicAlertService" / "GetAlert" => DISPATCH, false;
    "dispatch.v1.PublicAlertService" / "ListAlerts" => DISPATCH, false;

    "dispatch.v1.ReportingService" / "GetIntervalReport" => REPORTS, false;
    "dispatch.v1.ReportingService" / "GetHotSpotReport" => REPORTS, false;
    "dispatch.v1.ReportingService" / "GetUtilizationReport" => REPORTS, false;
    "dispatch.v1.ReportingService" / "GetDuplicateReport" => REPORTS, false;
    "dispatch.v1.ReportingService" / "ExportOpenData" => REPORTS, false;

    // Planned operations (issue 24): supervisors plan, the floor reads, a liaison reads its
    // agency's operations (scoped in services/operations).
    "dispatch.v1.OperationService" / "CreateOperation" => &[Supervisor], true;
    "dispatch.v1.OperationService" / "GetOperation" => &[Dispatcher, Supervisor, VideoOperator, Liaison], false;
    "dispatch.v1.OperationService" / "ListOperations" => &[Dispatcher, Supervisor, VideoOperator, Liaison], false;
    "dispatch.v1.OperationService" / "StageUnits" => &[Supervisor], true;
    "dispatch.v1.OperationService" / "AddWatchOrder" => &[Supervisor, VideoOperator], true;
    "dispatch.v1.OperationService" / "ListCamerasToWatch" => &[Supervisor, VideoOperator], false;
    "dispatch.v1.OperationService" / "GetOperationReport" => REPORTS, false;
    "dispatch.v1.OperationService" / "StandDownOperation" => &[Supervisor], true;

    "grpc.reflection.v1.ServerReflection" / "ServerReflectionInfo" => EVERYONE, false;
    "grpc.reflection.v1alpha.ServerReflection" / "ServerReflectionInfo" => EVERYONE, false;
}

/// An RPC, looked up by its path; `None` for anything not in the table (refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method(Option<&'static Rule>);

impl Method {
    /// `/dispatch.v1.CallIntakeService/CreateCall` -> its rule.
    pub fn from_path(path: &str) -> Self {
        let rule = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(service, method)| {
                RULES
                    .iter()
                    .find(|rule| rule.service == service && rule.method == method)
            });
        Self(rule)
    }

    /// Its row of the table; `None` for a path the table does not list.
    pub fn rule(self) -> Option<&'static Rule> {
        self.0
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.service == other.service && self.method == other.method
    }
}

impl Eq for Rule {}

pub fn allowed(role: Role, method: Method) -> bool {
    method.0.is_some_and(|rule| rule.roles.contains(&role))
}

/// Every RPC `role` may call, as "package.Service/Method".
pub fn permitted_methods(role: Role) -> Vec<String> {
    RULES
        .iter()
        .filter(|rule| rule.roles.contains(&role))
        .map(|rule| format!("{}/{}", rule.service, rule.method))
        .collect()
}

pub fn is_mutation(method: Method) -> bool {
    method.0.is_some_and(|rule| rule.mutation)
}

/// The request is a stream from the client (position reports): it lasts as long as the client
/// keeps it open, so no request timeout applies.
pub fn is_client_stream(method: Method) -> bool {
    method
        .0
        .is_some_and(|rule| rule.method == "ReportPositions")
}

/// The RPCs that stream (from the server, the client or both): they outlive a request, so
/// the auth layer ends them when their credential stops being valid.
const STREAMS: &[&str] = &[
    "WatchIncidents",
    "WatchUnits",
    "WatchReferrals",
    "WatchIncidentEidos",
    "ReportPositions",
    "ServerReflectionInfo",
];

/// The request opens a stream (see [`STREAMS`]).
pub fn is_stream(method: Method) -> bool {
    method.0.is_some_and(|rule| STREAMS.contains(&rule.method))
}

/// A ReportingService read: audited like the audit trail's own reads.
pub fn is_report_read(method: Method) -> bool {
    method
        .0
        .is_some_and(|rule| rule.service == "dispatch.v1.ReportingService")
}

pub fn is_audit_read(method: Method) -> bool {
    method
        .0
        .is_some_and(|rule| rule.method == "ListAuditRecords")
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// Every RPC of the contract: its `package.Service/Method` name and its descriptor.
    fn contract() -> Vec<(String, prost_types::MethodDescriptorProto)> {
        let set =
            prost_types::FileDescriptorSet::decode(dispatch_proto::FILE_DESCRIPTOR_SET).unwrap();
        set.file
            .iter()
            .flat_map(|file| {
                file.service.iter().flat_map(move |service| {
                    service.method.iter().map(move |method| {
                        let name =
                            format!("{}.{}/{}", file.package(), service.name(), method.name());
                        (name, method.clone())
                    })
                })
            })
            .collect()
    }

    #[test]
    fn every_rpc_of_the_contract_has_exactly_one_rule() {
        let mut contract: Vec<String> = contract().into_iter().map(|(name, _)| name).collect();
        let mut table: Vec<String> = RULES
            .iter()
            .filter(|r| r.service.starts_with("dispatch."))
            .map(|r| format!("{}/{}", r.service, r.method))
            .collect();
        contract.sort();
        table.sort();
        let mut deduped = table.clone();
        deduped.dedup();
        assert_eq!(deduped.len(), table.len(), "a rule is listed twice");
        assert_eq!(table, contract);
    }

    #[test]
    fn every_streaming_rpc_is_known_as_one() {
        let mut streaming = Vec::new();
        for (name, method) in contract() {
            let path = format!("/{name}");
            let streams = method.client_streaming() || method.server_streaming();
            assert_eq!(
                is_stream(Method::from_path(&path)),
                streams,
                "{path} streams: {streams}"
            );
            if streams {
                streaming.push(path);
            }
        }
        assert_eq!(streaming.len(), STREAMS.len() - 1, "{streaming:?}");
        assert!(is_stream(Method::from_path(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        )));
    }

    #[test]
    fn unknown_paths_are_refused_to_everyone() {
        for role in Role::ALL {
            assert!(!allowed(
                *role,
                Method::from_path("/dispatch.v1.CallIntakeService/DropTables")
            ));
            assert!(!allowed(*role, Method::from_path("garbage")));
        }
    }

    #[test]
    fn a_partner_agency_reaches_only_referrals_and_itself() {
        for rule in RULES {
            if rule.roles.contains(&PartnerAgency) {
                assert!(
                    rule.service.ends_with("VictimCareReferralService")
                        || matches!(
                            rule.method,
                            "GetPartnerAgency"
                                | "UpdatePartnerCapacity"
                                | "GetCurrentPrincipal"
                                | "ServerReflectionInfo"
                        ),
                    "{}/{}",
                    rule.service,
                    rule.method
                );
            }
        }
    }
}
