//! The outline every RPC shares, written once: who is calling, the request converted to its
//! command (`TryFrom`, or the message as it arrived), the service's handler, the one
//! `Error` → `Status` mapping, the response. A service declares its RPCs with [`service!`]; its
//! handlers are plain methods that take a [`Caller`] and a command.

use tonic::Request;

use dispatch_store::Idempotency;

use super::request::Mutation;
use crate::auth::Principal;

/// Who called which RPC (the method of the idempotency
/// key a mutation claims).
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    method: &'static str,
}

impl Caller {
    pub fn of<T>(request: &Request<T>, method: &'static str) -> Self {
        Self {
            principal: Principal::of(request),
            method,
        }
    }

    /// The key the store claims for this call's mutation.
    pub fn key(&self, mutation: Mutation) -> Idempotency {
        mutation.key(self.method, &self.principal)
    }

    /// Who the store records as making the change.
    pub fn actor(&self) -> &str {
        &self.principal.name
    }
}

/// The RPC of a request message type: `CreateCall` for `CreateCallRequest`.
pub const fn method_name(request_type: &'static str) -> &'static str {
    request_type
        .split_at(request_type.len() - "Request".len())
        .0
}

/// What a request converts from: the message alone, or with the context it is checked against
/// (`input!(message, &catalogue)`).
macro_rules! input {
    ($message:expr) => {
        $message
    };
    ($message:expr, $context:expr) => {
        ($message, $context)
    };
}
pub(crate) use input;

/// A gRPC service: its server (the shared state) and its RPCs, each answered by the server's
/// inherent method of the same name.
///
/// - `rpc name(XRequest) -> XResponse;` calls `async fn name(&self, Caller, C) -> Result<pb::XResponse, Error>`
///   where `C: TryFrom<pb::XRequest>` (the message itself when the handler wants it whole);
///   `rpc name(XRequest, catalogue)` converts `(message, &state.catalogue)` instead.
/// - `watch name(XRequest) -> XStream of XResponse;` is a server-streaming RPC whose handler
///   answers the stream.
/// - `upload name(XRequest) -> XResponse;` is a client-streaming RPC whose handler takes the
///   request as it came.
///
/// The trait has no default methods, so an RPC missing here does not compile.
macro_rules! service {
    (
        $(#[$doc:meta])*
        $server:ident: $service:ident {
            $( rpc $rpc:ident($request:ident $(, $context:ident)?) -> $response:ident; )*
            $( watch $watch:ident($watch_request:ident) -> $stream:ident of $item:ident; )*
            $( upload $upload:ident($upload_request:ident) -> $upload_response:ident; )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $server {
            state: std::sync::Arc<$crate::AppState>,
        }

        impl $server {
            pub fn new(state: std::sync::Arc<$crate::AppState>) -> Self {
                Self { state }
            }
        }

        #[tonic::async_trait]
        impl $service for $server {
            $( type $stream = $crate::feed::WatchStream<dispatch_proto::v1::$item>; )*

            $(
                async fn $rpc(
                    &self,
                    request: tonic::Request<dispatch_proto::v1::$request>,
                ) -> Result<tonic::Response<dispatch_proto::v1::$response>, tonic::Status> {
                    const METHOD: &str = $crate::services::rpc::method_name(stringify!($request));
                    let caller = $crate::services::rpc::Caller::of(&request, METHOD);
                    let message = request.into_inner();
                    let command = TryFrom::try_from($crate::services::rpc::input!(
                        message $(, &self.state.$context)?
                    ))
                    .map_err($crate::error::Error::from)?;
                    Ok(tonic::Response::new($server::$rpc(self, caller, command).await?))
                }
            )*

            $(
                async fn $watch(
                    &self,
                    request: tonic::Request<dispatch_proto::v1::$watch_request>,
                ) -> Result<tonic::Response<Self::$stream>, tonic::Status> {
                    const METHOD: &str =
                        $crate::services::rpc::method_name(stringify!($watch_request));
                    let caller = $crate::services::rpc::Caller::of(&request, METHOD);
                    let command = TryFrom::try_from(request.into_inner())
                        .map_err($crate::error::Error::from)?;
                    Ok(tonic::Response::new($server::$watch(self, caller, command).await?))
                }
            )*

            $(
                async fn $upload(
                    &self,
                    request: tonic::Request<tonic::Streaming<dispatch_proto::v1::$upload_request>>,
                ) -> Result<tonic::Response<dispatch_proto::v1::$upload_response>, tonic::Status> {
                    $server::$upload(self, request).await
                }
            )*
        }
    };
}
pub(crate) use service;

#[cfg(test)]
mod tests {
    use super::method_name;

    #[test]
    fn the_method_is_the_request_type_without_its_suffix() {
        assert_eq!(method_name("CreateCallRequest"), "CreateCall");
        assert_eq!(
            method_name("LinkCallToIncidentRequest"),
            "LinkCallToIncident"
        );
    }
}
