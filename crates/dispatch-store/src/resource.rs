//! Resources kept one row each in a table of their own (agencies, stations, cameras, units,
//! partners, principals, credentials): read by their typed id, created by one insert that
//! announces them, changed by idempotent writes that answer them as they stand.

use std::fmt::Display;

use diesel::result::Error as DieselError;
use diesel_async::AsyncPgConnection;
use diesel_async::methods::ExecuteDsl;
use dispatch_domain::Violations;
use dispatch_domain::event::Event;

use crate::events::{self, About};
use crate::idempotency::WriteFn;
use crate::{Error, Idempotency, Store, Written};

/// A domain value stored as one row of its own table, found by its typed id.
pub(crate) trait Resource: Sized + Send {
    /// Its typed id, whose `Display` is the resource name (`collection/{uuid}`).
    type Id: Copy + Send + Sync + Display;

    /// Parses a resource name back into the id (a violation names `field`).
    fn parse_id(field: &str, name: &str) -> Result<Self::Id, Violations>;

    /// The resource `id` as stored, `NotFound` naming it when there is none.
    fn read(
        conn: &mut AsyncPgConnection,
        id: Self::Id,
    ) -> impl Future<Output = Result<Self, Error>> + Send;
}

/// Implements [`Resource`] for `$resource`, stored in `$table` (by its `id` column) and read as
/// `$row`. A macro because each table's diesel types are its own.
macro_rules! stored_in {
    ($resource:ty, $id:ty, $table:ident, $row:ty) => {
        impl $crate::resource::Resource for $resource {
            type Id = $id;

            fn parse_id(field: &str, name: &str) -> Result<$id, dispatch_domain::Violations> {
                <$id>::parse_name(field, name)
            }

            async fn read(
                conn: &mut diesel_async::AsyncPgConnection,
                id: $id,
            ) -> Result<Self, $crate::Error> {
                let query = $table::table.find(id.0).select(<$row>::as_select());
                $crate::find_one::<_, $row, _>(conn, query, || id.name()).await
            }
        }
    };
}
pub(crate) use stored_in;

impl Store {
    /// The resource `id`, on a connection of its own.
    pub(crate) async fn get<T: Resource>(&self, id: T::Id) -> Result<T, Error> {
        T::read(&mut *self.conn().await?, id).await
    }

    /// The shape of every create: [`write_once`](Self::write_once) for the new resource `id`
    /// that runs `insert` (its row; `refused` says what a refused insert means in the
    /// request's terms, such as which code is taken) and appends the `created` event; answers
    /// the resource as stored (on a replay, the one the first request created).
    pub(crate) async fn create<T, S>(
        &self,
        key: &Idempotency,
        actor: &str,
        id: T::Id,
        insert: S,
        refused: impl FnOnce(DieselError) -> Error + Send,
        created: (About, Event),
    ) -> Result<Written<T>, Error>
    where
        T: Resource,
        S: ExecuteDsl<AsyncPgConnection> + Send,
    {
        self.write_once(
            key,
            &id.to_string(),
            async |conn| {
                ExecuteDsl::execute(insert, conn).await.map_err(refused)?;
                events::append(conn, actor, [created]).await
            },
            async |conn, claimed| T::read(conn, claimed.resource(id, T::parse_id)?).await,
        )
        .await
    }

    /// The shape of every change to one resource: [`write_once`](Self::write_once) for `id`
    /// that runs `write` (lock, check, write, append events); answers the resource as it
    /// stands after the commit.
    pub(crate) async fn write_resource<T, W>(
        &self,
        key: &Idempotency,
        id: T::Id,
        write: W,
    ) -> Result<Written<T>, Error>
    where
        T: Resource,
        for<'c> W: WriteFn<'c, (), Fut: Send> + Send,
    {
        self.write_once(key, &id.to_string(), write, async |conn, _| {
            T::read(conn, id).await
        })
        .await
    }
}
