//! The connection to dispatchd: one channel, a bearer credential on every call, a client per
//! service, and the retry rule the bulk commands (demo, replay) use.

use std::future::Future;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::victim_care_referral_service_client::VictimCareReferralServiceClient;

use crate::error::CliError;

/// Where dispatchd listens unless told otherwise (dispatchd's own default `DISPATCH_LISTEN`).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// Sends `authorization: Bearer <token>` with every request.
#[derive(Debug, Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// "127.0.0.1:50051" -> "http://127.0.0.1:50051".
pub fn normalise_server(server: &str) -> String {
    let server = server.trim();
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    }
}

/// A connected channel to one server.
pub async fn connect(server: &str, timeout: Duration) -> Result<Channel, CliError> {
    let endpoint = Endpoint::from_shared(normalise_server(server))
        .map_err(|e| {
            CliError::local(format!(
                "{server:?} is not a server address (e.g. http://127.0.0.1:50051): {e}"
            ))
        })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    endpoint
        .connect()
        .await
        .map_err(|e| CliError::connect(server, error_chain(&e)))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A channel plus one credential: hands out clients of every service.
#[derive(Debug, Clone)]
pub struct Clients {
    channel: Channel,
    bearer: Bearer,
}

impl Clients {
    pub fn new(channel: Channel, token: &str) -> Result<Self, CliError> {
        let value = format!("Bearer {}", token.trim())
            .parse::<MetadataValue<Ascii>>()
            .map_err(|_| {
                CliError::local("the token has characters a header cannot carry: copy it again")
            })?;
        Ok(Self {
            channel,
            bearer: Bearer(value),
        })
    }

    /// The same channel with another credential.
    pub fn with_token(&self, token: &str) -> Result<Self, CliError> {
        Self::new(self.channel.clone(), token)
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.bearer.clone())
    }

    pub fn calls(&self) -> CallIntakeServiceClient<Authed> {
        CallIntakeServiceClient::new(self.authed())
    }

    pub fn triage(&self) -> IncidentTriageServiceClient<Authed> {
        IncidentTriageServiceClient::new(self.authed())
    }

    pub fn units(&self) -> UnitAssignmentServiceClient<Authed> {
        UnitAssignmentServiceClient::new(self.authed())
    }

    pub fn referrals(&self) -> VictimCareReferralServiceClient<Authed> {
        VictimCareReferralServiceClient::new(self.authed())
    }

    pub fn directory(&self) -> DirectoryServiceClient<Authed> {
        DirectoryServiceClient::new(self.authed())
    }
}

/// Whether a failed call may simply be sent again (with the same request id, so it is safe
/// even when the first attempt did commit): over a limit, unavailable, a lost race, or timed
/// out (tonic reports its client timeout as CANCELLED).
pub fn retryable(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::ResourceExhausted
            | tonic::Code::Unavailable
            | tonic::Code::Aborted
            | tonic::Code::Cancelled
            | tonic::Code::DeadlineExceeded
    )
}

/// Runs `call` until it succeeds, fails for good, or `attempts` are used up, backing off
/// between tries. Returns the result and how many retries it took. Only for idempotent calls:
/// mutations must reuse their request id.
pub async fn with_retry<T, F, Fut>(attempts: u32, mut call: F) -> (Result<T, tonic::Status>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut delay = Duration::from_millis(20);
    let mut retries = 0;
    loop {
        match call().await {
            Err(status) if retryable(&status) && retries + 1 < attempts => {
                retries += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            result => return (result, retries),
        }
    }
}
