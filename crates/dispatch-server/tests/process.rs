//! The `dispatchd` binary as an operator runs it: its own PostgreSQL cluster from the installed
//! binaries, data kept across restarts, a clean stop on SIGTERM, one clear line when it cannot
//! start. (The services themselves are tested end to end in `tests/`.)

mod common;

use std::process::Command;

use dispatch_proto::v1 as pb;

use common::{admin_directory, start, temp_dir};
use dispatch_tests::fixtures::{create_agency_in, new_agency};

/// Runs `dispatchd` set up by `configure` until it gives up, as it must here; its stderr.
fn run_failing(configure: impl FnOnce(&mut Command) -> &mut Command) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dispatchd"));
    let output = configure(command.env("DISPATCH_LISTEN", "127.0.0.1:0"))
        .output()
        .expect("running dispatchd");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn data_survives_a_restart_and_sigterm_stops_everything() {
    let data_dir = temp_dir("restart");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");

    let first = start(&data_dir, &[]);
    let created = runtime.block_on(async {
        let mut directory = admin_directory(first.channel());
        let erum = new_agency(
            "ERUM",
            "Escuadrón de Rescate y Urgencias Médicas",
            pb::AgencyKind::Ems,
        );
        create_agency_in(&mut directory, erum).await
    });
    assert!(first.stop().success(), "dispatchd exits 0 on SIGTERM");
    // The private cluster was stopped cleanly with it: its lock file is gone.
    assert!(
        !data_dir.join("pg/postmaster.pid").exists(),
        "PostgreSQL still running after dispatchd stopped"
    );

    let second = start(&data_dir, &[]);
    let fetched = runtime.block_on(async {
        admin_directory(second.channel())
            .get_agency(pb::GetAgencyRequest {
                name: created.name.clone(),
            })
            .await
            .expect("the agency is still there")
            .into_inner()
            .agency
            .expect("agency")
    });
    assert_eq!(fetched, created);
    let status = second.stop();
    assert!(
        status.success(),
        "the restarted dispatchd exits 0 on SIGTERM: {status:?}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn without_postgres_binaries_it_says_what_to_install_in_one_line() {
    let data_dir = temp_dir("nobinaries");
    let stderr = run_failing(|command| {
        command
            .env_remove("DATABASE_URL")
            .env("DISPATCH_DATA_DIR", &data_dir)
            .env("DISPATCH_PG_BIN_DIR", data_dir.join("nowhere"))
    });
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("install the PostgreSQL server") && lines[0].contains("DATABASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn an_unreachable_database_url_fails_with_one_line() {
    let data_dir = temp_dir("badurl");
    let stderr = run_failing(|command| {
        command.env(
            "DATABASE_URL",
            "postgres://nobody:wrong@127.0.0.1:1/dispatch",
        )
    });
    let last = stderr.lines().last().expect("an error line");
    assert!(
        last.starts_with("dispatchd: ") && last.contains("DATABASE_URL"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
