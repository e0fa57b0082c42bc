//! The shape every command shares: one RPC, its answer (or an error naming the RPC), and the
//! answer printed through [`Ctx::emit`] with the names of the resources it carries.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::error::{CliError, Result};
use crate::output::{Proto, Table};

/// The message of an RPC's answer, or the error `dispatchctl` reports for `rpc`.
pub trait Answer<T> {
    fn answer(self, rpc: &str) -> Result<T>;
}

impl<T> Answer<T> for Result<tonic::Response<T>, tonic::Status> {
    fn answer(self, rpc: &str) -> Result<T> {
        self.map(tonic::Response::into_inner)
            .map_err(|status| CliError::rpc(rpc, &status))
    }
}

/// A resource with a name such as "calls/{uuid}", which `-q` prints.
pub trait Named {
    fn name(&self) -> &str;
}

macro_rules! named {
    ($($t:ident),* $(,)?) => {
        $(impl Named for pb::$t {
            fn name(&self) -> &str {
                &self.name
            }
        })*
    };
}

named!(
    Agency,
    AuditRecord,
    Call,
    Camera,
    Credential,
    FollowUp,
    Incident,
    IncidentType,
    PartnerAgency,
    Principal,
    Referral,
    Station,
    Unit,
);

/// The names of `resources`, one a line: what `-q` prints for a list.
pub fn names<R: Named>(resources: &[R]) -> String {
    resources
        .iter()
        .map(Named::name)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Ctx<'_> {
    /// Prints a response whose main resource is `resource`: its table is what `table` writes
    /// of the resource (nothing when the response carries none).
    pub fn emit_resource<M: Proto, R: Named>(
        &mut self,
        message: &M,
        resource: Option<&R>,
        table: impl FnOnce(&mut dyn Write, &R) -> std::io::Result<()>,
    ) -> Result<()> {
        let name = resource.map(Named::name).unwrap_or_default().to_owned();
        self.emit(message, &name, |out| match resource {
            Some(resource) => table(out, resource),
            None => Ok(()),
        })
    }

    /// Prints a list: the names of `items` (`-q`), or a table with a row of `cells` for each.
    pub fn emit_table<M: Proto, R: Named, const N: usize>(
        &mut self,
        message: &M,
        items: &[R],
        headers: [&str; N],
        cells: impl FnMut(&R) -> Vec<String>,
    ) -> Result<()> {
        self.emit(message, &names(items), |out| {
            Table::of(headers, items, cells).write(out)
        })
    }
}
