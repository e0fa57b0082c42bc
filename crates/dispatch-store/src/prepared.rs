//! Hand-written SQL that PostgreSQL prepares once per connection.
//!
//! diesel's `sql_query` marks its statement unsafe to cache, so diesel-async prepares it again at
//! every execution: one more round trip, and a parse and plan each time (on the intake path,
//! about 0.15 ms of PostgreSQL's CPU per query). A `PreparedSql` is a fixed text (`&'static str`:
//! one text is one statement) that the connection's statement cache keys by that text and its
//! bind types. It is bound like `sql_query`, `$1`, `$2`... in the order of the `bind` calls.
//!
//! diesel writes a placeholder where each parameter is pushed; ours are already in the text, so
//! the pushed ones land in a trailing SQL comment (`-- $1 $2 ...`), which keeps the text fixed
//! and changes nothing PostgreSQL runs.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

#[derive(Debug, Clone, Copy)]
#[must_use = "a query runs only when loaded"]
pub(crate) struct PreparedSql(pub &'static str);

/// A `PreparedSql` with its parameters so far.
#[derive(Debug, Clone, Copy)]
#[must_use = "a query runs only when loaded"]
pub(crate) struct Bound<Q, Value, ST> {
    query: Q,
    value: Value,
    sql_type: PhantomData<ST>,
}

pub(crate) trait BindNext: Sized {
    /// The next parameter, `$n` in the text.
    fn bind<ST, Value>(self, value: Value) -> Bound<Self, Value, ST> {
        Bound {
            query: self,
            value,
            sql_type: PhantomData,
        }
    }
}

impl BindNext for PreparedSql {}
impl<Q, Value, ST> BindNext for Bound<Q, Value, ST> {}

impl QueryFragment<Pg> for PreparedSql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.0);
        out.push_sql("\n--");
        Ok(())
    }
}

impl<Q, Value, ST> QueryFragment<Pg> for Bound<Q, Value, ST>
where
    Q: QueryFragment<Pg>,
    Pg: HasSqlType<ST>,
    Value: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" ");
        out.push_bind_param::<ST, Value>(&self.value)
    }
}

impl QueryId for PreparedSql {
    type QueryId = ();
    // No type identifies the statement: the cache keys it by its SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, Value, ST> QueryId for Bound<Q, Value, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for PreparedSql {
    type SqlType = Untyped;
}

impl<Q, Value, ST> Query for Bound<Q, Value, ST> {
    type SqlType = Untyped;
}
