//! Surviving the loss of the database server: which pooled connections may be used again.
//!
//! `DATABASE_URL` may name several hosts with `target_session_attrs=read-write`; every new
//! connection (pooled, the feed's listener, migrations) then finds the server that takes writes
//! by itself. What the URL cannot do is retire connections made before a failover. A connection
//! whose socket closed reports itself broken and the pool drops it, but one can outlive its
//! server's role: a server that was fenced by turning it read-only answers every write with
//! SQLSTATE 25006, and a connection to a host that vanished without closing its sockets looks
//! alive until a query fails. So every pooled connection watches its own queries: the first
//! that says its server is gone or read-only marks every connection made until then as stale,
//! and the pool replaces each at its next checkout (through the URL: the new primary). A
//! connection made after the mark is kept.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::{Hook, HookError};

/// When the pool last learnt that its server went away or stopped taking writes.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    stale_before: Mutex<Option<Instant>>,
}

impl Generations {
    /// Every connection made until now is to be replaced.
    fn retire_all(&self) {
        let mut stale_before = self
            .stale_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if stale_before.is_none() {
            tracing::warn!(
                "a pooled connection lost its database server or found it read-only: \
                 replacing the connections made before now"
            );
        }
        *stale_before = Some(Instant::now());
    }

    fn is_stale(&self, created: Instant) -> bool {
        self.stale_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|before| created <= before)
    }

    /// The pool's `post_recycle` hook: a connection made before the last mark is not handed
    /// out again (deadpool drops it and takes or makes another).
    pub(crate) fn recycle_hook(self: &Arc<Self>) -> Hook<AsyncPgConnection> {
        let generations = self.clone();
        Hook::sync_fn(move |_conn, metrics| {
            if generations.is_stale(metrics.created) {
                Err(HookError::message(
                    "made before the database server was lost or turned read-only",
                ))
            } else {
                Ok(())
            }
        })
    }

    /// What each pooled connection carries to report its failed queries.
    pub(crate) fn watcher(self: &Arc<Self>) -> ConnectionWatcher {
        ConnectionWatcher {
            generations: self.clone(),
        }
    }
}

/// Sees every query of one connection finish (diesel's instrumentation hook).
pub(crate) struct ConnectionWatcher {
    generations: Arc<Generations>,
}

impl Instrumentation for ConnectionWatcher {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery {
            error: Some(error), ..
        } = event
            && server_lost_or_read_only(error)
        {
            self.generations.retire_all();
        }
    }
}

/// True when the error says the server behind the connection is gone (closed, stopping,
/// crashed) or does not take writes (25006: a standby, or a fenced old primary).
pub(crate) fn server_lost_or_read_only(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ReadOnlyTransaction
            | DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => {
            crate::error::is_outage_message(info.message())
                || crate::error::is_connection_failure(info.message())
        }
        DieselError::BrokenTransactionManager => true,
        other => crate::error::is_connection_failure(&other.to_string()),
    }
}
