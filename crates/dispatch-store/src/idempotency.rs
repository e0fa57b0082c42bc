//! Request ids: a retried mutation returns what the first one did and writes nothing new.

use diesel::prelude::*;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use dispatch_domain::Violations;
use tracing::Instrument as _;
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

/// A write run by [`Idempotency::write_once`]. Its future is named (as diesel-async's own
/// `transaction` does) so that the bound can require it to be `Send`: every request's future is
/// spawned onto the runtime.
pub(crate) trait WriteFn<'c, R>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, Error>
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as WriteFn<'c, R>>::Fut
{
    type Fut: Future<Output = Result<R, Error>>;
}

impl<'c, R, F, Fut> WriteFn<'c, R> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, Error>
        + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    type Fut = Fut;
}

/// The read that answers a write run by [`Store::write_once`](crate::Store::write_once), after its transaction
/// committed, on the same connection: given how the write went ([`Claimed`]), the resource as
/// it stands now. Its future is named for the same reason as [`WriteFn`]'s.
pub(crate) trait AnswerFn<'c, R, T>:
    AsyncFnOnce(&'c mut AsyncPgConnection, Claimed<R>) -> Result<T, Error>
    + FnOnce(&'c mut AsyncPgConnection, Claimed<R>) -> <Self as AnswerFn<'c, R, T>>::Fut
{
    type Fut: Future<Output = Result<T, Error>>;
}

impl<'c, R, T, F, Fut> AnswerFn<'c, R, T> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection, Claimed<R>) -> Result<T, Error>
        + FnOnce(&'c mut AsyncPgConnection, Claimed<R>) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    type Fut = Fut;
}

/// How [`Idempotency::write_once`] went: written now, or replayed (nothing written; here is the
/// resource the first request named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claimed<R> {
    New(R),
    Replay(String),
}

impl<R> Claimed<R> {
    /// Whether the request id had been used before: nothing was written now.
    pub(crate) fn replayed(&self) -> bool {
        matches!(self, Self::Replay(_))
    }

    /// What the write answers: `answer`'s read after the commit, on the same connection, and
    /// whether it was a replay.
    pub(crate) async fn answer<T, A>(
        self,
        conn: &mut AsyncPgConnection,
        answer: A,
    ) -> Result<Written<T>, Error>
    where
        for<'c> A: AnswerFn<'c, R, T>,
    {
        let replayed = self.replayed();
        Ok(Written::new(answer(conn, self).await?, replayed))
    }

    /// The id of the resource the request wrote: `fresh` (the one generated for it) when written
    /// now, the stored one on a replay.
    pub(crate) fn resource<I>(
        &self,
        fresh: I,
        parse: impl FnOnce(&str, &str) -> Result<I, Violations>,
    ) -> Result<I, Error> {
        match self {
            Self::New(_) => Ok(fresh),
            Self::Replay(resource) => {
                parse("resource", resource).map_err(|_| crate::error::bad_resource(resource))
            }
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

    /// The transaction of every idempotent write: claim the request id for `resource`, then run
    /// `write` (its rows and its events). A request id used before writes nothing (`write` does
    /// not run) and answers the resource the first request named. Callers go through
    /// [`Store::write_once`](crate::Store::write_once), which reads the answer back too.
    pub(crate) async fn write_once<R, F>(
        &self,
        conn: &mut AsyncPgConnection,
        resource: &str,
        write: F,
    ) -> Result<Claimed<R>, Error>
    where
        for<'c> F: WriteFn<'c, R, Fut: Send> + Send,
        R: Send,
    {
        // A span per transaction: with OpenTelemetry configured, a child of the RPC's span.
        let span = tracing::info_span!("store.transaction", method = self.method, resource);
        conn.transaction(async move |conn| {
            if let Claim::Replay(stored) = self.claim(conn, resource).await? {
                return Ok(Claimed::Replay(stored));
            }
            Ok(Claimed::New(write(conn).await?))
        })
        .instrument(span)
        .await
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
