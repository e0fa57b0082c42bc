//! `health`: for scripts and CI that wait for a server to come up. Its exit codes predate the
//! others and stay: 0 SERVING, 1 not serving, 2 cannot ask.

use std::io::Write;
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub async fn run(
    server: &str,
    tls: &crate::client::Tls,
    service: &str,
    wait: Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let deadline = Instant::now() + wait;
    let mut backoff = Duration::from_millis(50);
    loop {
        let answer = check(server, tls, service).await;
        match &answer {
            Ok(ServingStatus::Serving) => {
                let _ = writeln!(out, "SERVING");
                return 0;
            }
            _ if Instant::now() < deadline => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Ok(status) => {
                let _ = writeln!(out, "{}", status.as_str_name());
                return 1;
            }
            Err(error) => {
                let _ = writeln!(err, "dispatchctl: {server}: {error}");
                return 2;
            }
        }
    }
}

async fn check(
    server: &str,
    tls: &crate::client::Tls,
    service: &str,
) -> Result<ServingStatus, String> {
    let endpoint = tonic::transport::Endpoint::from_shared(crate::client::normalise_server(server))
        .map_err(|e| format!("not a server address: {e}"))?;
    let channel = tls
        .apply(endpoint)
        .map_err(|e| e.message)?
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut client = HealthClient::new(channel);
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
    ServingStatus::try_from(response.into_inner().status)
        .map_err(|_| "unknown health status".to_owned())
}
