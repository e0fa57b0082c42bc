//! What went wrong, the exit code scripts can rely on, and what to do about it.

use std::fmt::Write as _;

use tonic::Code;
use tonic_types::StatusExt as _;

/// The documented exit codes. Stable: scripts branch on them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Usage or local error (bad flags, unreadable file, no token), and anything not below.
    pub const LOCAL: u8 = 1;
    /// The server refused the request as invalid (INVALID_ARGUMENT); the fields are printed.
    pub const INVALID_ARGUMENT: u8 = 2;
    /// NOT_FOUND: no such resource (or one the credential may not see).
    pub const NOT_FOUND: u8 = 3;
    /// FAILED_PRECONDITION, ABORTED or ALREADY_EXISTS: valid, but conflicts with the state.
    pub const CONFLICT: u8 = 4;
    /// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, or the server cannot be reached:
    /// retrying later may work.
    pub const UNAVAILABLE: u8 = 5;
    /// UNAUTHENTICATED or PERMISSION_DENIED: the credential is missing, wrong, or its role
    /// may not do this.
    pub const AUTH: u8 = 6;
}

/// The exit-code table, as `--help` shows it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  usage or local error (bad flags, unreadable file, no token), or an unexpected server error
  2  INVALID_ARGUMENT: the request was refused; the bad fields are listed
  3  NOT_FOUND
  4  FAILED_PRECONDITION, ABORTED or ALREADY_EXISTS: the state does not allow it (re-read, retry)
  5  UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED or cannot connect: retry later
  6  UNAUTHENTICATED or PERMISSION_DENIED: fix the token or use a role that may do this
`health` keeps its own: 0 SERVING, 1 not serving, 2 cannot ask.";

/// A failed command: the exit code, the message for humans, and the same for `--json`.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    pub json: serde_json::Value,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    /// A local problem: exit 1 with `message` (which should say what to fix).
    pub fn local(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code: exit::LOCAL,
            json: serde_json::json!({ "error": { "code": "LOCAL", "message": message } }),
            message,
        }
    }

    /// The server could not be reached.
    pub fn connect(server: &str, detail: impl std::fmt::Display) -> Self {
        let message = format!(
            "cannot connect to {server}: {detail}\n  is dispatchd running there? set DISPATCH_SERVER or pass --server"
        );
        Self {
            code: exit::UNAVAILABLE,
            json: serde_json::json!({ "error": { "code": "UNAVAILABLE", "message": message } }),
            message,
        }
    }

    /// An RPC failed with `status`; `rpc` names it (e.g. "CreateCall").
    pub fn rpc(rpc: &str, status: &tonic::Status) -> Self {
        let code = exit_code(status.code());
        let mut fields = Vec::new();
        let mut preconditions = Vec::new();
        let mut reason = String::new();
        let bad = status
            .get_details_bad_request()
            .filter(|b| !b.field_violations.is_empty());
        // The violations are listed one per line: the server's summary would repeat them.
        let mut message = if bad.is_some() {
            format!(
                "{rpc}: {}: the request was refused:",
                code_name(status.code())
            )
        } else {
            format!("{rpc}: {}: {}", code_name(status.code()), status.message())
        };
        if let Some(bad) = bad {
            for violation in bad.field_violations {
                list_violation(
                    &mut message,
                    &mut fields,
                    "field",
                    violation.field,
                    violation.description,
                );
            }
        }
        if let Some(failure) = status.get_details_precondition_failure() {
            for violation in failure.violations {
                list_violation(
                    &mut message,
                    &mut preconditions,
                    "subject",
                    violation.subject,
                    violation.description,
                );
            }
        }
        if let Some(info) = status.get_details_error_info() {
            reason = info.reason;
        }
        if let Some(hint) = hint(status.code(), &reason) {
            let _ = write!(message, "\n  {hint}");
        }
        Self {
            code,
            json: serde_json::json!({ "error": {
                "rpc": rpc,
                "code": code_name(status.code()),
                "message": status.message(),
                "reason": reason,
                "fieldViolations": fields,
                "preconditionViolations": preconditions,
            }}),
            message,
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<std::io::Error>() {
            Ok(io) => io.into(),
            Err(error) => Self::local(format!("{error:#}")),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        // `dispatchctl ... | head`: the reader has what it wanted; nothing to report.
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Self {
                code: exit::OK,
                message: String::new(),
                json: serde_json::Value::Null,
            };
        }
        Self::local(format!("writing output: {error}"))
    }
}

/// The exit code of a gRPC status code.
pub fn exit_code(code: Code) -> u8 {
    match code {
        Code::Ok => exit::OK,
        Code::InvalidArgument | Code::OutOfRange => exit::INVALID_ARGUMENT,
        Code::NotFound => exit::NOT_FOUND,
        Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists => exit::CONFLICT,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => exit::UNAVAILABLE,
        Code::Unauthenticated | Code::PermissionDenied => exit::AUTH,
        Code::Cancelled | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
            exit::LOCAL
        }
    }
}

/// The canonical upper-case name of a status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn hint(code: Code, reason: &str) -> Option<&'static str> {
    Some(match (code, reason) {
        (Code::AlreadyExists, "REQUEST_ID_REUSED") => {
            "this --request-id was used for a different request: use a new one, or drop --request-id"
        }
        (Code::AlreadyExists, _) => "that code is taken: choose another, or use the existing one",
        (Code::Aborted, "ETAG_MISMATCH") => {
            "someone changed it meanwhile: read it again (get) and retry with the new etag"
        }
        (Code::Aborted, _) => "a concurrent change won: retry",
        (Code::NotFound, _) => {
            "check the name (e.g. incidents/<uuid>); a credential sees only what its role may"
        }
        (Code::Unauthenticated, _) => {
            "check the token: set DISPATCH_TOKEN or pass --token (a token is shown once, when issued)"
        }
        (Code::PermissionDenied, _) => {
            "this role may not do that: use the token of a role that may (README, Security)"
        }
        (Code::Unavailable, _) => "the server or its database is unavailable: retry later",
        (Code::ResourceExhausted, _) => "over a rate or concurrency limit: slow down and retry",
        (Code::DeadlineExceeded, _) => "it took too long: retry, or raise --timeout",
        (Code::Unimplemented, _) => "this server does not implement that RPC yet",
        _ => return None,
    })
}

/// One violation: a line of the message ("  what: description") and an entry of the JSON list
/// (`{key: what, "description": description}`).
fn list_violation(
    message: &mut String,
    list: &mut Vec<serde_json::Value>,
    key: &str,
    what: String,
    description: String,
) {
    let _ = write!(message, "\n  {what}: {description}");
    let mut entry = serde_json::Map::new();
    entry.insert(key.to_owned(), what.into());
    entry.insert("description".to_owned(), description.into());
    list.push(entry.into());
}
