//! dispatchctl: the command-line client of dispatchd, as a library so that tests run its
//! commands in-process ([`run`]) against a real server.
//!
//! Every role has its commands: call takers (`call`), dispatchers (`incident`, `unit`),
//! partner agencies (`referral accept|decline`, `partner capacity`), administrators
//! (`principal`, `credential`, `agency`, ...). Output is a readable table, `--json` (the
//! protobuf JSON mapping) or `-q` (names only); exit codes are documented in [`error::exit`].
//! `demo load` builds the Mexico City demo through the public API and `replay` feeds historical
//! calls through it.

use std::ffi::OsString;
use std::io::Write;
use std::time::Duration;

use tonic::transport::Channel;

pub mod cli;
mod client;
mod commands;
pub mod demo;
pub mod error;
mod output;
mod parse;
pub mod replay;
pub mod retry;

pub use client::{Bearer, DEFAULT_SERVER};
/// The duplicate fit's data side (the bench's quality section reads the data sets through it).
pub use commands::fit::duplicates as fit_duplicates;
pub use error::exit;

/// Where the shared data sets are, for the tests that read them: `DISPATCH_REPLAY_DATA`, else
/// `../shared/data` beside the repository, else the development machines' `/work/shared/data`;
/// `None` when none has the files (such tests skip, saying why).
pub fn shared_data_dir() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::var_os("DISPATCH_REPLAY_DATA")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([root.join("../shared/data"), "/work/shared/data".into()])
        .find(|dir| dir.join("sf_fire_stations.csv").is_file())
}

use crate::client::Clients;
use crate::error::{CliError, Result};
use crate::output::{Format, Proto};

/// What every command gets: where to write, how, and the connection (made on first use).
pub struct Ctx<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub format: Format,
    pub server: String,
    token: Option<String>,
    request_id: Option<uuid::Uuid>,
    timeout: Duration,
    manners: client::Manners,
    tls: client::Tls,
    channel: Option<Channel>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("server", &self.server)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// The channel, connected on first use.
    pub async fn channel(&mut self) -> Result<Channel> {
        if let Some(channel) = &self.channel {
            return Ok(channel.clone());
        }
        let channel = client::connect(&self.server, self.timeout, &self.tls).await?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }

    /// The token given with --token or DISPATCH_TOKEN.
    pub fn token(&self) -> Result<String> {
        match self.token.as_deref().map(str::trim) {
            Some(token) if !token.is_empty() => Ok(token.to_owned()),
            _ => Err(CliError::local(
                "no token: set DISPATCH_TOKEN or pass --token (dispatchd prints the first admin \
                 token on its first start; `dispatchctl demo load` writes one per role to \
                 demo-credentials.env)",
            )),
        }
    }

    /// Clients of every service, authenticated with the token.
    pub async fn clients(&mut self) -> Result<Clients> {
        // A client certificate is a credential of its own: no token is sent with it.
        let token = if self.tls.has_client_certificate() && self.token.is_none() {
            String::new()
        } else {
            self.token()?
        };
        let channel = self.channel().await?;
        Clients::new(channel, &token, self.manners)
    }

    /// The request id of a mutation. With --request-id, the first step uses it as given and
    /// later steps derive theirs from it, so retrying the whole command is safe.
    pub fn request_id(&self, step: &str) -> String {
        match self.request_id {
            Some(id) if step.is_empty() => id.to_string(),
            Some(id) => uuid::Uuid::new_v5(&id, step.as_bytes()).to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Prints a response: JSON, its main resource's name, or the table `table` writes.
    pub fn emit<M: Proto>(
        &mut self,
        message: &M,
        name: &str,
        table: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        match self.format {
            Format::Json => output::write_json(self.out, message)?,
            Format::Name => writeln!(self.out, "{name}")?,
            Format::Table => table(self.out)?,
        }
        Ok(())
    }

    /// A line for people on stderr (progress, hints); nothing with --json or -q.
    pub fn note(&mut self, text: &str) {
        if self.format == Format::Table {
            let _ = writeln!(self.err, "{text}");
        }
    }
}

/// Runs dispatchctl with `args` (the first is the program name), writing results to `out` and
/// errors to `err`; returns the exit code (see [`exit`]).
pub async fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::Parser as _;
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            let text = error.render().to_string();
            return match error.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = write!(out, "{text}");
                    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::LOCAL
                    } else {
                        exit::OK
                    }
                }
                _ => {
                    let _ = write!(err, "{text}");
                    exit::LOCAL
                }
            };
        }
    };
    let tls = client::Tls {
        ca_file: cli.ca_file.clone(),
        client_cert: cli.client_cert.clone(),
        client_key: cli.client_key.clone(),
    };
    if let cli::Command::Health { service, wait } = &cli.command {
        let wait = Duration::from_secs(*wait);
        return commands::health::run(&cli.server, &tls, service, wait, out, err).await;
    }
    let format = if cli.json {
        Format::Json
    } else if cli.quiet {
        Format::Name
    } else {
        Format::Table
    };
    let mut ctx = Ctx {
        out,
        err,
        format,
        server: client::normalise_server(&cli.server),
        token: cli.token,
        request_id: cli.request_id,
        timeout: cli.timeout,
        manners: client::Manners {
            rate: cli.rate,
            policy: retry::Policy {
                max_attempts: cli.retries.saturating_add(1),
                ..retry::Policy::default()
            },
        },
        tls,
        channel: None,
    };
    match commands::dispatch(&mut ctx, cli.command).await {
        Ok(()) => exit::OK,
        Err(error) if error.message.is_empty() && error.code == exit::OK => exit::OK,
        Err(error) => {
            if ctx.format == Format::Json {
                let _ = writeln!(ctx.err, "{}", error.json);
            } else {
                let _ = writeln!(ctx.err, "dispatchctl: {}", error.message);
            }
            error.code
        }
    }
}
