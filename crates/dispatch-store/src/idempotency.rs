//! Request ids: a retried mutation returns what the first one did and writes nothing new.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::Error;
use crate::schema::idempotency_keys;

/// What a mutating request is, for recognising its retries.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub request_id: Uuid,
    /// The RPC, e.g. `CreateCall`. Keys are (method, request id): one id may be used once per
    /// method (common.proto), so a client may reuse an id across methods.
    pub method: &'static str,
    pub principal: String,
    /// The request's canonical bytes with the request id cleared.
    pub request: Vec<u8>,
}

/// What an idempotent write answers: the resource as it stands after the write, and whether
/// this request id had been used before, so that nothing was written and the first answer is
/// replayed (read back as it is now). Most callers only want `value`; the ones that act on the
/// first write only (ending sessions, announcing) look at `replayed`.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Written<T> {
    pub value: T,
    pub replayed: bool,
}

impl<T> Written<T> {
    pub fn new(value: T, replayed: bool) -> Self {
        Self { value, replayed }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Written<U> {
        Written {
            value: f(self.value),
            replayed: self.replayed,
        }
    }
}

pub(crate) enum Claim {
    /// First time: go ahead; the key is recorded when the transaction commits.
    New,
    /// Seen before with the same request: here is what it produced.
    Replay(String),
}

impl Idempotency {
    /// Seen already, committed? Cheap check before allocating anything (folios).
    pub(crate) async fn lookup(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> Result<Option<String>, Error> {
        let found: Option<(String, Vec<u8>, String)> = idempotency_keys::table
            .find((self.request_id, self.method))
            .select((
                idempotency_keys::principal,
                idempotency_keys::request,
                idempotency_keys::resource,
            ))
            .first(conn)
            .await
            .optional()?;
        found.map(|row| self.check(row)).transpose()
    }

    /// Records the key for `resource` inside the caller's transaction. A concurrent first request
    /// with the same id and method holds the key's index entry until it commits; this waits for
    /// it, then sees its row and answers `Replay`.
    pub(crate) async fn claim(
        &self,
        conn: &mut AsyncPgConnection,
        resource: &str,
    ) -> Result<Claim, Error> {
        let inserted = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::request_id.eq(self.request_id),
                idempotency_keys::method.eq(self.method),
                idempotency_keys::principal.eq(&self.principal),
                idempotency_keys::request.eq(&self.request),
                idempotency_keys::resource.eq(resource),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        match self.lookup(conn).await? {
            Some(resource) => Ok(Claim::Replay(resource)),
            None => Err(Error::Internal(format!(
                "request id {} for {} conflicted but is not there",
                self.request_id, self.method
            ))),
        }
    }

    /// The same method's key: a retry if it is the same principal's same request.
    fn check(
        &self,
        (principal, request, resource): (String, Vec<u8>, String),
    ) -> Result<String, Error> {
        if principal == self.principal && request == self.request {
            Ok(resource)
        } else {
            Err(Error::RequestIdReused {
                request_id: self.request_id,
                method: self.method.to_owned(),
            })
        }
    }
}
