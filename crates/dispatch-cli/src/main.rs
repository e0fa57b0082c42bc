//! dispatchctl: a command-line client for dispatchd. It starts small: health, for scripts and CI
//! that wait for a server to come up. The full client is issue 9.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[derive(Debug, Parser)]
#[command(
    name = "dispatchctl",
    version,
    about = "Command-line client for dispatchd"
)]
struct Cli {
    /// dispatchd's gRPC address.
    #[arg(
        long,
        env = "DISPATCH_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prints the server's health (exit 0 when SERVING, 1 otherwise).
    Health {
        /// A service name such as dispatch.v1.CallIntakeService; empty means the whole server.
        #[arg(long, default_value = "")]
        service: String,
        /// Keep asking for up to this many seconds until it is SERVING.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Health { service, wait } => {
            health(&cli.server, &service, Duration::from_secs(wait)).await
        }
    }
}

async fn health(server: &str, service: &str, wait: Duration) -> ExitCode {
    let deadline = Instant::now() + wait;
    let mut backoff = Duration::from_millis(50);
    loop {
        let answer = check(server, service).await;
        match &answer {
            Ok(ServingStatus::Serving) => {
                println!("SERVING");
                return ExitCode::SUCCESS;
            }
            _ if Instant::now() < deadline => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Ok(status) => {
                println!("{}", status.as_str_name());
                return ExitCode::from(1);
            }
            Err(error) => {
                eprintln!("dispatchctl: {server}: {error}");
                return ExitCode::from(2);
            }
        }
    }
}

async fn check(server: &str, service: &str) -> Result<ServingStatus, String> {
    let channel = tonic::transport::Endpoint::from_shared(server.to_owned())
        .map_err(|e| format!("not a server address: {e}"))?
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
