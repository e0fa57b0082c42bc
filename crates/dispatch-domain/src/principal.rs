//! Principals (who or what acts on the centre) and the credentials they authenticate with.

use chrono::{DateTime, Utc};

use crate::Violations;
use crate::auth::Role;
use crate::ids::{AgencyId, CredentialId, PartnerId, PrincipalId, UnitId};

const DISPLAY_NAME_MAX_CHARS: usize = 200;

/// Someone (or something) that acts: a person, a field unit, a gateway or a partner agency.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub id: PrincipalId,
    /// The unique handle, `^[a-z0-9._-]{1,64}$`.
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Option<AgencyId>,
    /// Set exactly for a field unit: the one unit it speaks for.
    pub unit: Option<UnitId>,
    /// Set exactly for a partner agency: the one partner it speaks for.
    pub partner: Option<PartnerId>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Increases with every update: the etag.
    pub version: i64,
}

impl Principal {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// A principal to create. [`NewPrincipal::validate`] is what the store checks; call it at the
/// edge to report the violations with the wire's field paths.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrincipal {
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub agency: Option<AgencyId>,
    pub unit: Option<UnitId>,
    pub partner: Option<PartnerId>,
}

impl NewPrincipal {
    /// Every violation, with paths relative to the principal (`name`, `unit`, ...).
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if !valid_principal_name(&self.name) {
            violations.add(
                "name",
                "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-'",
            );
        }
        if self.display_name.chars().count() > DISPLAY_NAME_MAX_CHARS {
            violations.add("display_name", "must be at most 200 characters");
        }
        match (self.role, self.unit) {
            (Role::FieldUnit, None) => {
                violations.add("unit", "required for a field_unit principal: its one unit")
            }
            (role, Some(_)) if role != Role::FieldUnit => {
                violations.add("unit", "only a field_unit principal is bound to a unit")
            }
            _ => {}
        }
        match (self.role, self.partner) {
            (Role::PartnerAgency, None) => violations.add(
                "partner",
                "required for a partner_agency principal: its one partner",
            ),
            (role, Some(_)) if role != Role::PartnerAgency => violations.add(
                "partner",
                "only a partner_agency principal is bound to a partner",
            ),
            _ => {}
        }
        if self.role == Role::Liaison && self.agency.is_none() {
            violations.add(
                "agency",
                "required for a liaison principal: the agency it speaks for",
            );
        }
        violations.into_result(|| ())
    }
}

/// `^[a-z0-9._-]{1,64}$`, as the `principals.name` CHECK says.
pub fn valid_principal_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

text_enum! {
    /// How a credential proves its principal.
    pub enum CredentialKind {
        /// `authorization: Bearer dsp_…`.
        BearerToken => "bearer_token",
        /// A TLS client certificate, recognised by the SHA-256 of its DER encoding.
        ClientCertificate => "client_certificate",
    }
}

/// A credential as anyone may see it: never its secret, salt or hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub id: CredentialId,
    pub principal: PrincipalId,
    pub kind: CredentialKind,
    /// The token's first 12 characters (`dsp_` and 8 of the id); empty for a certificate.
    pub token_prefix: String,
    /// Lowercase hex SHA-256 of the certificate's DER encoding, for a client certificate.
    pub certificate_sha256: Option<String>,
    pub description: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoke_reason: String,
}

impl Credential {
    /// Neither revoked nor expired at `now` (the principal may still be disabled).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_validated_like_the_schema() {
        let base = NewPrincipal {
            name: "ana.lopez-2".into(),
            display_name: "Ana López".into(),
            role: Role::Dispatcher,
            agency: None,
            unit: None,
            partner: None,
        };
        assert_eq!(base.validate(), Ok(()));
        for name in ["", "Ana", "ana lopez", "ana@c5", &"a".repeat(65)] {
            let bad = NewPrincipal {
                name: name.into(),
                ..base.clone()
            };
            assert!(bad.validate().is_err(), "{name:?} accepted");
        }
        let unit = UnitId::new_v7();
        let field_unit = NewPrincipal {
            role: Role::FieldUnit,
            unit: Some(unit),
            ..base.clone()
        };
        assert_eq!(field_unit.validate(), Ok(()));
        assert!(
            NewPrincipal {
                unit: None,
                ..field_unit.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            NewPrincipal {
                unit: Some(unit),
                ..base.clone()
            }
            .validate()
            .is_err()
        );
        let partner = NewPrincipal {
            role: Role::PartnerAgency,
            partner: Some(PartnerId::new_v7()),
            ..base.clone()
        };
        assert_eq!(partner.validate(), Ok(()));
        assert!(
            NewPrincipal {
                partner: None,
                ..partner
            }
            .validate()
            .is_err()
        );
        let violations = NewPrincipal {
            name: String::new(),
            display_name: "x".repeat(201),
            role: Role::Gateway,
            agency: None,
            unit: Some(unit),
            partner: Some(PartnerId::new_v7()),
        }
        .validate()
        .expect_err("invalid");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "display_name", "unit", "partner"]);
    }

    #[test]
    fn credential_kinds_round_trip() {
        for kind in CredentialKind::ALL {
            assert_eq!(CredentialKind::parse(kind.as_str()), Some(*kind));
        }
    }
}
