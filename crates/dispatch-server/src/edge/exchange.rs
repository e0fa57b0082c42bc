//! `IncidentExchangeService`'s requests: an EIDO's JSON text read into an import command by
//! `dispatch_standards::eido::import`, whose violations name JSON paths in the document
//! (`$.callComponent[0].callStartTimestamp`). On the wire they are rooted at the field that
//! holds the document, like every other field path (`eido_json.callComponent[0].callStartTimestamp`).

use dispatch_domain::Violations;
use dispatch_domain::triage::Catalogue;
use dispatch_proto::v1 as pb;
use dispatch_standards::eido::import::{self, EidoImport};

use super::wire::{self, mutation, valid};
use crate::services::request::Mutation;

pub struct ImportEido {
    pub mutation: Mutation,
    pub import: EidoImport,
}

impl TryFrom<(pb::ImportEidoRequest, &Catalogue)> for ImportEido {
    type Error = Violations;

    fn try_from(
        (message, catalogue): (pb::ImportEidoRequest, &Catalogue),
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let mutation = mutation!(message, violations);
        let fallback = match message.fallback_location.as_ref() {
            Some(location) => violations.collect(
                wire::location_from(Some(location)).map_err(|v| v.within("fallback_location")),
            ),
            None => None,
        };
        let read = if message.eido_json.trim().is_empty() {
            violations.add("eido_json", "required: the EIDO, JSON text");
            None
        } else {
            violations.collect(
                import::read(
                    &message.eido_json,
                    fallback.as_ref(),
                    catalogue,
                    chrono::Utc::now(),
                )
                .map_err(|problems| rooted_at("eido_json", problems)),
            )
        };
        valid(violations, || {
            Some(Self {
                mutation: mutation?,
                import: read?,
            })
        })
    }
}

/// JSON paths (`$`, `$.a[0].b`, `$['@x']`) rooted at the request field holding the document.
fn rooted_at(field: &str, problems: Violations) -> Violations {
    let mut rooted = Violations::new();
    for problem in problems.iter() {
        let inner = problem.field.strip_prefix('$').unwrap_or(&problem.field);
        rooted.add(format!("{field}{inner}"), problem.description.clone());
    }
    rooted
}
