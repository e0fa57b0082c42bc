//! The connection to dispatchd: one channel, a bearer credential on every call, a client per
//! service, every call retried and paced by [`crate::retry`].

use std::sync::Arc;
use std::time::Duration;

use std::path::PathBuf;
use tonic::metadata::errors::InvalidMetadataValue;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::directory_service_client::DirectoryServiceClient;
use dispatch_proto::v1::incident_exchange_service_client::IncidentExchangeServiceClient;
use dispatch_proto::v1::incident_triage_service_client::IncidentTriageServiceClient;
use dispatch_proto::v1::reporting_service_client::ReportingServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::victim_care_referral_service_client::VictimCareReferralServiceClient;

use crate::error::{CliError, Result};
use crate::retry::{Counts, Pacer, Policy, Retry, Stats};

/// Where dispatchd listens unless told otherwise (dispatchd's own default `DISPATCH_LISTEN`).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";

/// Sends `authorization: Bearer <token>` with every request (dispatchctl's clients and the
/// benchmark's); nothing for an empty token (a client certificate is the credential then).
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// Fails when the token has characters a header cannot carry.
    pub fn new(token: &str) -> Result<Self, InvalidMetadataValue> {
        let token = token.trim();
        if token.is_empty() {
            return Ok(Self(None));
        }
        format!("Bearer {token}")
            .parse()
            .map(|value| Self(Some(value)))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// TLS to dispatchd: the CA its certificate is issued under, and a client certificate for
/// mutual TLS (a partner agency's or gateway's credential).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Tls {
    /// The client certificate is the credential (no token needed).
    pub fn has_client_certificate(&self) -> bool {
        self.client_cert.is_some()
    }

    /// `endpoint` with TLS for an `https://` address; a plain `http://` one with TLS files is
    /// a mistake worth saying.
    pub fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, CliError> {
        let https = endpoint.uri().scheme_str() == Some("https");
        if !https {
            if self != &Self::default() {
                return Err(CliError::local(
                    "--ca-file, --client-cert and --client-key need an https:// server address",
                ));
            }
            return Ok(endpoint);
        }
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path)
                .map_err(|e| CliError::local(format!("reading the {what} {}: {e}", path.display())))
        };
        let Some(ca_file) = &self.ca_file else {
            return Err(CliError::local(
                "an https:// server needs --ca-file (DISPATCH_CA_FILE): the PEM certificate of \
                 the CA that issued dispatchd's certificate",
            ));
        };
        let mut config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca_file, "CA file")?));
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                config = config.identity(Identity::from_pem(
                    read(cert, "client certificate")?,
                    read(key, "client key")?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(CliError::local(
                    "--client-cert and --client-key go together: set both or neither",
                ));
            }
        }
        endpoint
            .tls_config(config)
            .map_err(|e| CliError::local(format!("TLS configuration: {}", error_chain(&e))))
    }
}

/// The channel under every client: retrying and pacing.
pub type Transport = Retry<Channel>;

pub type Authed = InterceptedService<Transport, Bearer>;

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
pub async fn connect(server: &str, timeout: Duration, tls: &Tls) -> Result<Channel, CliError> {
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
    tls.apply(endpoint)?
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

/// How a connection's clients treat refusals and pace themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Manners {
    /// Requests per second per credential (not a positive number: unpaced).
    pub rate: f64,
    pub policy: Policy,
}

impl Default for Manners {
    fn default() -> Self {
        Self {
            rate: crate::retry::DEFAULT_RATE,
            policy: Policy::default(),
        }
    }
}

/// A channel plus one credential: hands out clients of every service. Clients made from it
/// (and from [`Clients::with_token`]) share the retry counts; each credential has its own pacer,
/// as the server limits each principal on its own.
#[derive(Debug, Clone)]
pub struct Clients {
    transport: Transport,
    bearer: Bearer,
    rate: f64,
}

impl Clients {
    pub fn new(channel: Channel, token: &str, manners: Manners) -> Result<Self, CliError> {
        let transport = Retry::new(channel, manners.policy, None, Arc::new(Stats::default()));
        Self::with_transport(&transport, token, manners.rate)
    }

    fn with_transport(transport: &Transport, token: &str, rate: f64) -> Result<Self, CliError> {
        let bearer = Bearer::new(token).map_err(|_| {
            CliError::local("the token has characters a header cannot carry: copy it again")
        })?;
        Ok(Self {
            transport: transport.with_pacer(Pacer::new(rate).map(Arc::new)),
            bearer,
            rate,
        })
    }

    /// The same channel with another credential (and its own pacer).
    pub fn with_token(&self, token: &str) -> Result<Self, CliError> {
        Self::with_transport(&self.transport, token, self.rate)
    }

    /// Requests sent again so far by every client of this connection.
    pub fn retries(&self) -> Counts {
        self.transport.stats().counts()
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.transport.clone(), self.bearer.clone())
    }

    pub fn calls(&self) -> CallIntakeServiceClient<Authed> {
        CallIntakeServiceClient::new(self.authed())
    }

    pub fn triage(&self) -> IncidentTriageServiceClient<Authed> {
        IncidentTriageServiceClient::new(self.authed())
    }

    pub fn exchange(&self) -> IncidentExchangeServiceClient<Authed> {
        IncidentExchangeServiceClient::new(self.authed())
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

    /// An authenticated channel, for a service's client made elsewhere (OperationService).
    pub fn authed_channel(&self) -> Authed {
        self.authed()
    }

    pub fn reports(&self) -> ReportingServiceClient<Authed> {
        ReportingServiceClient::new(self.authed())
    }

    /// Fails with an AUTH error unless the token is an admin's. `what` names the command in the
    /// JSON error ("demo load"); `message` is the full text people read.
    pub async fn require_admin(&self, what: &str, message: &str) -> Result<(), CliError> {
        let me = self
            .directory()
            .get_current_principal(dispatch_proto::v1::GetCurrentPrincipalRequest {})
            .await
            .map_err(|s| CliError::rpc("GetCurrentPrincipal", &s))?
            .into_inner()
            .principal
            .unwrap_or_default();
        if me.role == dispatch_proto::v1::Role::Admin as i32 {
            return Ok(());
        }
        Err(CliError {
            code: crate::exit::AUTH,
            message: message.into(),
            json: serde_json::json!({"error": {"code": "PERMISSION_DENIED", "message": format!("{what} needs an admin token")}}),
        })
    }
}

/// A page size for fetching `limit` items of which `have` are already here.
pub fn page_size(limit: usize, have: usize) -> i32 {
    i32::try_from(limit.saturating_sub(have).clamp(1, 500)).unwrap_or(500)
}

/// A List RPC's answer: one page of items and the token of the next page.
pub trait ListPage {
    type Item;
    fn into_page(self) -> (Vec<Self::Item>, String);
    fn from_page(items: Vec<Self::Item>, next_page_token: String) -> Self;
}

macro_rules! list_page {
    ($($response:ident { $items:ident: $item:ident }),* $(,)?) => {
        $(impl ListPage for pb::$response {
            type Item = pb::$item;

            fn into_page(self) -> (Vec<pb::$item>, String) {
                (self.$items, self.next_page_token)
            }

            fn from_page($items: Vec<pb::$item>, next_page_token: String) -> Self {
                Self { $items, next_page_token }
            }
        })*
    };
}

list_page!(
    ExportOpenDataResponse { rows: OpenDataRow },
    ListAgenciesResponse { agencies: Agency },
    ListCallsResponse { calls: Call },
    ListCamerasResponse { cameras: Camera },
    ListIncidentTypesResponse {
        incident_types: IncidentType
    },
    ListIncidentsResponse {
        incidents: Incident
    },
    ListPartnerAgenciesResponse {
        partner_agencies: PartnerAgency
    },
    ListPrincipalsResponse {
        principals: Principal
    },
    ListReferralsResponse {
        referrals: Referral
    },
    ListStationsResponse { stations: Station },
    ListUnitsResponse { units: Unit },
);

/// Pages through a List RPC: each request asks for what is still missing of `limit` (the server
/// may send less), until `limit` items or the last page. Answers at most `limit` items with the
/// token of the page after them (empty after the last). `page` makes one request:
/// `(page_size, page_token)` to the page.
pub async fn pages<R: ListPage>(
    limit: usize,
    mut page: impl AsyncFnMut(i32, String) -> Result<R>,
) -> Result<R> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let (items, next) = page(page_size(limit, all.len()), page_token)
            .await?
            .into_page();
        all.extend(items);
        page_token = next;
        if page_token.is_empty() || all.len() >= limit {
            break;
        }
    }
    all.truncate(limit);
    Ok(R::from_page(all, page_token))
}
