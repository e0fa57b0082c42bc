//! The `dispatch.v1` gRPC contract: generated prost messages and tonic clients and servers.
//!
//! Generated from `proto/` at build time into OUT_DIR; nothing generated is checked in.

pub mod codec;

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::allow_attributes_without_reason,
    missing_debug_implementations,
    unused_qualifications,
    reason = "generated code; which lints fire depends on the generator version"
)]
pub mod v1 {
    tonic::include_proto!("dispatch.v1");
}

/// The encoded `FileDescriptorSet` of every file in `proto/`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/dispatch_descriptor.bin"));

/// The fully qualified names of the services, as health and reflection report them.
pub const SERVICE_NAMES: [&str; 9] = [
    "dispatch.v1.CallIntakeService",
    "dispatch.v1.IncidentTriageService",
    "dispatch.v1.IncidentExchangeService",
    "dispatch.v1.UnitAssignmentService",
    "dispatch.v1.VictimCareReferralService",
    "dispatch.v1.DirectoryService",
    "dispatch.v1.PublicAlertService",
    "dispatch.v1.ReportingService",
    "dispatch.v1.OperationService",
];
