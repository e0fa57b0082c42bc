//! `dispatchd` as its own process, as an operator runs it: started with the environment a test
//! gives it, its JSON log read (bounded, never a fixed sleep) until it says it serves, stopped
//! with SIGTERM. The README test and the server's process, crash and outage tests use it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic::transport::{Channel, Endpoint};

/// The line `dispatchd` prints before the admin token it made on a first start.
const FIRST_START: &str = "dispatchd: first start:";
/// How many of its last log lines a failed start shows.
const TAIL: usize = 40;

/// A running `dispatchd`; killed if it still runs when dropped (a test that failed half-way
/// leaves nothing behind: its private PostgreSQL follows through PR_SET_PDEATHSIG).
#[derive(Debug)]
pub struct Dispatchd {
    pub child: Child,
    /// Where it serves gRPC ("127.0.0.1:port").
    pub address: String,
    /// The port of the private PostgreSQL cluster it runs, when it runs one.
    pub pg_port: Option<u16>,
    /// The admin token it printed on a first start, when it printed one.
    pub first_start_token: Option<String>,
}

/// What `dispatchd` said on stderr that a test needs.
enum Log {
    ClusterPort(u16),
    AdminToken(String),
    Serving(String),
    Line(String),
}

impl Dispatchd {
    /// Starts `command` (the binary and the environment the test chose) listening on a port the
    /// OS picks, logging JSON, and waits up to `deadline` for the log line that says it serves.
    /// Panics with the last lines of its log (and `hint`) if it dies or is too slow.
    pub fn start(mut command: Command, deadline: Duration, hint: &str) -> Self {
        let mut child = command
            .env("DISPATCH_LISTEN", "127.0.0.1:0")
            .env("DISPATCH_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning dispatchd");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = mpsc::channel();
        // Reads the whole log for as long as dispatchd lives, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
            while let Some(line) = lines.next() {
                let event = if line.starts_with(FIRST_START) {
                    lines.next().map_or(Log::Line(line), |token| {
                        Log::AdminToken(token.trim().to_owned())
                    })
                } else {
                    parse(line)
                };
                let _ = sender.send(event);
            }
        });
        let started = Instant::now();
        let mut log = Vec::new();
        let mut pg_port = None;
        let mut first_start_token = None;
        let address = loop {
            let left = deadline.saturating_sub(started.elapsed());
            match receiver.recv_timeout(left) {
                Ok(Log::ClusterPort(port)) => pg_port = Some(port),
                Ok(Log::AdminToken(token)) => first_start_token = Some(token),
                Ok(Log::Serving(address)) => break address,
                Ok(Log::Line(line)) => {
                    log.push(line);
                    if log.len() > TAIL {
                        log.remove(0);
                    }
                }
                Err(error) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    panic!(
                        "dispatchd did not serve within {deadline:?} ({error}; exit: {status:?}); \
                         its last lines:\n{}\n{hint}",
                        log.join("\n"),
                    );
                }
            }
        };
        // The rest of the log is drained by the reader thread; nobody needs it any more.
        drop(receiver);
        Self {
            child,
            address,
            pg_port,
            first_start_token,
        }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    /// A lazily connected channel to it (made inside a runtime's context).
    pub fn channel(&self) -> Channel {
        channel(&self.address)
    }

    /// Stops it as an operator does, with SIGTERM, and says how it exited.
    pub fn stop(mut self) -> std::process::ExitStatus {
        kill(self.pid(), Signal::SIGTERM).expect("SIGTERM");
        self.child.wait().expect("waiting for dispatchd")
    }
}

impl Drop for Dispatchd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One JSON log line: the cluster's port, the serving address, or a line to keep.
fn parse(line: String) -> Log {
    let entry = serde_json::from_str::<serde_json::Value>(&line).ok();
    match entry.as_ref().map(|e| &e["fields"]) {
        Some(f) if f["message"] == "private PostgreSQL cluster running" => f["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .map_or(Log::Line(line), Log::ClusterPort),
        Some(f) if f["message"] == "serving gRPC" => f["address"]
            .as_str()
            .map_or(Log::Line(line), |a| Log::Serving(a.to_owned())),
        _ => Log::Line(line),
    }
}

/// A lazily connected channel to `address` (made inside a runtime's context).
pub fn channel(address: &str) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect_lazy()
}
