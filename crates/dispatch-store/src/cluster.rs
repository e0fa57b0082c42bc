//! A private PostgreSQL cluster run from the installed server binaries.
//!
//! `dispatchd` with no `DATABASE_URL` and the test harness both use this: `initdb` once (guarded by
//! `PG_VERSION`), then `postgres` listening on 127.0.0.1 only, with a generated superuser password.
//! Running as root, PostgreSQL refuses to start, so both programs are run as the `postgres` user.

use std::fs;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User, geteuid};

/// The superuser `initdb` creates; the password lives beside the cluster, readable only by us.
pub const SUPERUSER: &str = "dispatch";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no PostgreSQL server binaries found (looked for `postgres` and `initdb` in DISPATCH_PG_BIN_DIR, on PATH and in \
         /usr/lib/postgresql/*/bin): install the PostgreSQL server (e.g. `apt-get install \
         postgresql`) or set DATABASE_URL"
    )]
    BinariesNotFound,
    #[error(
        "running as root, PostgreSQL must run as the `postgres` user, which does not exist: \
         create it (`useradd --system postgres`) or set DATABASE_URL"
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` user cannot reach the data directory {dir}: {blocking} is not searchable \
         by it; set DISPATCH_DATA_DIR to a directory it can reach (e.g. under /var/lib or /tmp)"
    )]
    Unreachable { dir: PathBuf, blocking: PathBuf },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("PostgreSQL did not accept connections on port {port} within {waited:?}; see {log}")]
    NotReady {
        port: u16,
        waited: Duration,
        log: PathBuf,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// How to run the private cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root directory: holds `pg/` (the cluster), `pg-password` and `postgres.log`.
    pub root: PathBuf,
    /// Directory holding `postgres` and `initdb`; found on PATH or under /usr/lib/postgresql when
    /// `None`.
    pub bin_dir: Option<PathBuf>,
    /// Durable commits. Only the test harness turns this off, to make throwaway clusters fast.
    pub durable: bool,
    /// How long to wait for the server to accept connections.
    pub ready_timeout: Duration,
    /// The TCP port; `None` picks a free one at every start.
    pub port: Option<u16>,
    /// More server settings (`-c name=value`), given last so that they win: replication for
    /// the failover test (`synchronous_standby_names`, `cluster_name`...).
    pub settings: Vec<(String, String)>,
}

impl Config {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            bin_dir: None,
            durable: true,
            ready_timeout: Duration::from_secs(60),
            port: None,
            settings: Vec::new(),
        }
    }
}

/// A running private cluster. Dropping it stops the server (fast shutdown, SIGINT).
#[derive(Debug)]
pub struct Cluster {
    child: Option<Child>,
    port: u16,
    password: String,
    root: PathBuf,
}

impl Cluster {
    /// Initialises the cluster if needed, starts it and waits until it accepts connections.
    ///
    /// The server gets SIGINT when the thread that called this exits (`PR_SET_PDEATHSIG`), so a
    /// killed `dispatchd` never leaves an orphaned PostgreSQL behind. Call it from a thread that
    /// lives as long as the cluster should (the main thread, or a dedicated one).
    pub fn start(config: &Config) -> Result<Self, Error> {
        let bin_dir = match &config.bin_dir {
            Some(dir) if has_server_binaries(dir) => dir.clone(),
            Some(_) => return Err(Error::BinariesNotFound),
            None => find_bin_dir().ok_or(Error::BinariesNotFound)?,
        };
        let run_as = if geteuid().is_root() {
            Some(
                User::from_name("postgres")
                    .ok()
                    .flatten()
                    .ok_or(Error::NoPostgresUser)?,
            )
        } else {
            None
        };

        fs::create_dir_all(&config.root)
            .map_err(io(format!("creating {}", config.root.display())))?;
        let root = fs::canonicalize(&config.root)
            .map_err(io(format!("resolving {}", config.root.display())))?;
        let data_dir = root.join("pg");
        let log_path = root.join("postgres.log");
        let password_path = root.join("pg-password");

        if let Some(user) = &run_as {
            check_reachable(&root, user)?;
        }

        if !data_dir.join("PG_VERSION").exists() {
            let password = uuid::Uuid::new_v4().simple().to_string();
            write_private(&password_path, &password)?;
            init(&bin_dir, &data_dir, &root, run_as.as_ref())?;
        }
        let password = fs::read_to_string(&password_path)
            .map_err(io(format!("reading {}", password_path.display())))?
            .trim()
            .to_owned();

        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        if let Some(user) = &run_as {
            chown(&log_path, user)?;
        }

        wait_for_previous_postmaster(&data_dir, config.ready_timeout)?;
        let port = match config.port {
            Some(port) => port,
            None => free_port()?,
        };
        let mut command = Command::new(bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&data_dir)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("duplicating log handle"))?)
            .stderr(log);
        if !config.durable {
            command.args(["-c", "fsync=off", "-c", "synchronous_commit=off"]);
            command.args(["-c", "full_page_writes=off"]);
        }
        for (name, value) in &config.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        if let Some(user) = &run_as {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        }
        die_with_parent(&mut command);
        let child = command.spawn().map_err(io("starting postgres"))?;
        let mut cluster = Self {
            child: Some(child),
            port,
            password,
            root,
        };
        cluster.wait_ready(config.ready_timeout, &log_path)?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A connection URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    fn wait_ready(&mut self, timeout: Duration, log: &Path) -> Result<(), Error> {
        let start = Instant::now();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut backoff = Duration::from_millis(5);
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(Error::Command {
                    what: "postgres".into(),
                    detail: format!("exited with {status} at start-up; see {}", log.display()),
                });
            }
            // Accepting TCP is not enough: PostgreSQL accepts while still starting up. The
            // pool's first connection retries "the database system is starting up" as well.
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::NotReady {
                    port: self.port,
                    waited: timeout,
                    log: log.to_owned(),
                });
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Fast shutdown: PostgreSQL rolls back open transactions, checkpoints and exits.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = i32::try_from(child.id()).map_err(|_| Error::Command {
            what: "stopping postgres".into(),
            detail: "pid out of range".into(),
        })?;
        // ESRCH means it already exited; `wait` below reaps it either way.
        let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
        child.wait().map_err(io("waiting for postgres to stop"))?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown() {
            tracing::warn!(%error, "stopping the private PostgreSQL cluster");
        }
    }
}

fn init(bin_dir: &Path, data_dir: &Path, root: &Path, run_as: Option<&User>) -> Result<(), Error> {
    // A half-made cluster from an interrupted initdb would block every later start.
    if data_dir.exists() {
        fs::remove_dir_all(data_dir).map_err(io(format!("clearing {}", data_dir.display())))?;
    }
    fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
        .map_err(io("setting data directory permissions"))?;
    let password_file = root.join("pg-password");
    // initdb (running as `postgres`) must read the password file once; hand it a copy it owns.
    let initdb_password = root.join("pg-password.initdb");
    fs::copy(&password_file, &initdb_password).map_err(io("copying the password file"))?;
    if let Some(user) = run_as {
        chown(root, user)?;
        chown(data_dir, user)?;
        chown(&initdb_password, user)?;
    }
    let mut command = Command::new(bin_dir.join("initdb"));
    command
        .arg("-D")
        .arg(data_dir)
        .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
        .args(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256"])
        .arg(format!("--pwfile={}", initdb_password.display()))
        .stdin(Stdio::null());
    if let Some(user) = run_as {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let output = command.output().map_err(io("running initdb"))?;
    let _ = fs::remove_file(&initdb_password);
    if !output.status.success() {
        return Err(Error::Command {
            what: "initdb".into(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// `postgres` and `initdb` side by side: on PATH first, then the newest Debian install.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| has_server_binaries(dir);
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_both(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("postgres").is_file() && dir.join("initdb").is_file()
}

/// A `dispatchd` killed a moment ago leaves its PostgreSQL finishing its shutdown (it was told
/// to stop when its parent died); a new postmaster would refuse the data directory while the old
/// one's pid is alive. Wait for it, bounded. A stale pid file of a dead process is fine:
/// PostgreSQL itself clears it.
fn wait_for_previous_postmaster(data_dir: &Path, patience: Duration) -> Result<(), Error> {
    let lock = data_dir.join("postmaster.pid");
    let started = Instant::now();
    loop {
        let pid = fs::read_to_string(&lock)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok());
        let Some(pid) = pid.filter(|&pid| pid > 0) else {
            return Ok(());
        };
        // Signal 0 only asks whether the process exists; after a reboot the number may belong
        // to something else entirely.
        let is_postgres = fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|name| name.trim().starts_with("postgres"));
        if kill(Pid::from_raw(pid), None).is_err() || !is_postgres {
            return Ok(());
        }
        if started.elapsed() > patience {
            return Err(Error::Command {
                what: "postgres".into(),
                detail: format!(
                    "another postmaster (pid {pid}) still runs on {}; stop it first",
                    data_dir.display()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> Result<u16, Error> {
    // The port is released before postgres binds it; another process taking it in between makes
    // postgres exit at start-up, which `wait_ready` reports.
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io(format!("restricting {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

fn chown(path: &Path, user: &User) -> Result<(), Error> {
    nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|errno| Error::Io {
        context: format!("chown {} to postgres", path.display()),
        source: errno.into(),
    })
}

/// Every ancestor of `dir` must be searchable by `user`, or initdb fails with a bare EACCES.
fn check_reachable(dir: &Path, user: &User) -> Result<(), Error> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let searchable = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(Error::Unreachable {
                dir: dir.to_owned(),
                blocking: ancestor.to_owned(),
            });
        }
    }
    Ok(())
}

#[expect(
    unsafe_code,
    reason = "pre_exec is the only way to set PR_SET_PDEATHSIG in the child before exec"
)]
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure only calls prctl(2), which is async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)
        });
    }
}
