//! What the server's metrics need to know about the connection pool, without the store
//! depending on a metrics library: the pool's figures on demand, and each checkout's wait
//! told to whoever asked to hear it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::Store;

/// The pool's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool may hold.
    pub max_size: usize,
    /// Connections open now (idle or checked out).
    pub size: usize,
    /// Idle connections ready to be checked out.
    pub available: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    /// Connections checked out now.
    pub fn in_use(&self) -> usize {
        self.size.saturating_sub(self.available)
    }
}

type Observer = Arc<dyn Fn(Duration) + Send + Sync>;

/// Told how long each checkout waited. Shared by every clone of the store; replaced, not
/// stacked, when a new observer is set (a server started again on the same store).
#[derive(Clone, Default)]
pub(crate) struct AcquireHook(Arc<RwLock<Option<Observer>>>);

impl AcquireHook {
    pub(crate) fn observe(&self, waited: Duration) {
        let observer = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(observer) = observer.as_ref() {
            observer(waited);
        }
    }
}

impl Store {
    /// The pool's figures now.
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }

    /// Calls `observer` with the time every later checkout of a connection took (waiting for
    /// a free one, or opening one).
    pub fn on_acquire(&self, observer: impl Fn(Duration) + Send + Sync + 'static) {
        *self
            .acquire
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(observer));
    }
}
