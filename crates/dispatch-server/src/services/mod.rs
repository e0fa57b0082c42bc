//! One module per gRPC service. Services a later issue implements are registered now with no
//! methods of their own, so every RPC of the contract answers (UNIMPLEMENTED until then).

pub mod call_intake;
pub mod directory;
pub mod security;
pub mod triage;
pub mod units;
mod views;

use dispatch_proto::v1::victim_care_referral_service_server::VictimCareReferralService;

/// Victim-care referral: implemented by the referral work (issue 7).
#[derive(Debug, Clone, Default)]
pub struct VictimCareReferral;

#[tonic::async_trait]
impl VictimCareReferralService for VictimCareReferral {}
