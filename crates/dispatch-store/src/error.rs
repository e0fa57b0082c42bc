use diesel::result::{DatabaseErrorKind, Error as DieselError};
use dispatch_domain::location::GeoPoint;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The domain refused the operation (wrong state, invalid combination).
    #[error(transparent)]
    Domain(#[from] dispatch_domain::Error),
    #[error("{0} not found")]
    NotFound(String),
    /// A unique value (a code, a call sign) is already taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The request id was used before for a different request.
    #[error("request_id {request_id} was already used for a different request ({method})")]
    RequestIdReused {
        request_id: uuid::Uuid,
        method: String,
    },
    /// The caller's etag is stale: someone else changed the resource first.
    #[error("{0} was changed by someone else; read it again and retry")]
    Stale(String),
    /// A transaction lost a race it may win on retry.
    #[error("conflicting concurrent change: {0}")]
    Conflict(String),
    /// The database cannot be reached or has no connection to spare.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Configuration the database rejects (an unknown time zone).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Anything else: a bug or an unexpected database error. Logged in full, returned opaque.
    #[error("internal store error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn from_pool(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// What PostgreSQL says while it stops, starts or recovers (diesel does not expose SQLSTATE).
const OUTAGE_MESSAGES: &[&str] = &[
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
];

/// True for what PostgreSQL says while it stops, starts or recovers.
pub(crate) fn is_outage_message(message: &str) -> bool {
    OUTAGE_MESSAGES.iter().any(|m| message.contains(m))
}

/// True for how tokio-postgres reports a connection that dropped or could not be made.
pub(crate) fn is_connection_failure(message: &str) -> bool {
    message.contains("connection closed") || message.contains("Connection refused")
}

impl From<DieselError> for Error {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => Self::NotFound("row".into()),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::SerializationFailure => Self::Conflict(info.message().into()),
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    Self::Unavailable(info.message().into())
                }
                // 25006: the server does not take writes (a standby, or an old primary fenced
                // after a failover). The pool replaces the connection; a retry finds the primary.
                DatabaseErrorKind::ReadOnlyTransaction => Self::Unavailable(info.message().into()),
                // The server is stopping, starting or recovering (57P01..57P03), or the
                // connection dropped under the query (tokio-postgres: "connection closed").
                _ if is_outage_message(info.message()) || is_connection_failure(info.message()) => {
                    Self::Unavailable(info.message().into())
                }
                DatabaseErrorKind::UniqueViolation => Self::AlreadyExists(format!(
                    "already exists ({})",
                    info.constraint_name().unwrap_or("unique constraint")
                )),
                _ => Self::Internal(format!("{error}")),
            },
            // tokio-postgres reports a dropped connection as an I/O error.
            DieselError::BrokenTransactionManager => Self::Unavailable(error.to_string()),
            _ if is_connection_failure(&error.to_string()) => Self::Unavailable(error.to_string()),
            _ => Self::Internal(error.to_string()),
        }
    }
}

/// A stored value this version cannot read (a text column outside its closed set).
pub(crate) fn unexpected(what: &str, value: &str) -> Error {
    Error::Internal(format!("unexpected {what} {value:?} in the database"))
}

/// A stored text column read into its closed set: a value outside it is [`unexpected`].
pub(crate) fn parse<T>(
    what: &str,
    text: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Error> {
    parse(text).ok_or_else(|| unexpected(what, text))
}

/// A stored point (the table's checks keep it on the globe).
pub(crate) fn point(latitude: f64, longitude: f64) -> Result<GeoPoint, Error> {
    GeoPoint::new(latitude, longitude).map_err(|v| Error::Internal(v.to_string()))
}

/// A stored request's resource name that does not parse as the resource it should name.
pub(crate) fn bad_resource(resource: &str) -> Error {
    Error::Internal(format!("unexpected stored resource {resource:?}"))
}

/// A unique violation on insert means the code is taken; say which.
pub(crate) fn taken(error: DieselError, what: &str, value: &str) -> Error {
    match Error::from(error) {
        Error::AlreadyExists(_) => Error::AlreadyExists(format!("{what} {value:?} is taken")),
        // A foreign key names an agency or station that does not exist.
        Error::Internal(message) if message.contains("foreign key") => {
            Error::NotFound(format!("the agency or station referred to ({message})"))
        }
        other => other,
    }
}
