//! Typed identifiers. On the wire a resource is named `collection/{uuid}`.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::Violations;

macro_rules! resource_id {
    ($(#[$meta:meta])* $name:ident, $collection:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const COLLECTION: &'static str = $collection;

            /// A new, time-ordered id (UUIDv7), so new rows land at the end of the index.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// The resource name, `collection/{uuid}`.
            pub fn name(&self) -> String {
                format!("{}/{}", $collection, self.0)
            }

            /// Parses a resource name; the violation names `field`.
            pub fn parse_name(field: &str, name: &str) -> Result<Self, Violations> {
                let Some(rest) = name.strip_prefix(concat!($collection, "/")) else {
                    return Err(Violations::single(
                        field,
                        if name.is_empty() {
                            concat!("required: a ", $collection, "/{uuid} name").to_owned()
                        } else {
                            format!(concat!("must be a ", $collection, "/{{uuid}} name, got {:?}"), truncate(name))
                        },
                    ));
                };
                Uuid::from_str(rest).map(Self).map_err(|_| {
                    Violations::single(field, format!("{:?} is not a valid UUID", truncate(rest)))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", $collection, self.0)
            }
        }

        // Stored (in the event log's details) by its resource name, as the wire names it.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = String::deserialize(deserializer)?;
                Self::parse_name($collection, &name).map_err(|_| {
                    serde::de::Error::custom(format!(concat!("not a ", $collection, "/{{uuid}} name: {:?}"), name))
                })
            }
        }
    };
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

resource_id!(AgencyId, "agencies");
resource_id!(StationId, "stations");
resource_id!(UnitId, "units");
resource_id!(CallId, "calls");
resource_id!(IncidentId, "incidents");
resource_id!(RecommendationId, "recommendations");
resource_id!(CameraId, "cameras");
resource_id!(PrincipalId, "principals");
resource_id!(CredentialId, "credentials");
resource_id!(PartnerId, "partners");
resource_id!(ReferralId, "referrals");
resource_id!(AlertId, "alerts");
resource_id!(OperationId, "operations");
resource_id!(WatchOrderId, "watch-orders");

/// A follow-up of a referral. Follow-ups live inside their referral, so the resource name is
/// the referral's: `referrals/{uuid}/follow-ups/{uuid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FollowUpId(pub Uuid);

impl FollowUpId {
    pub const COLLECTION: &'static str = "follow-ups";

    /// A new, time-ordered id (UUIDv7), so new rows land at the end of the index.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    /// The resource name within `referral`: `referrals/{uuid}/follow-ups/{uuid}`.
    pub fn name(&self, referral: ReferralId) -> String {
        format!("{referral}/{}/{}", Self::COLLECTION, self.0)
    }
}

/// The idempotency key every mutating request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub Uuid);

impl RequestId {
    pub fn parse(field: &str, text: &str) -> Result<Self, Violations> {
        if text.is_empty() {
            return Err(Violations::single(
                field,
                "required: a client-generated UUID, the same on every retry",
            ));
        }
        Uuid::from_str(text).map(Self).map_err(|_| {
            Violations::single(field, format!("{:?} is not a valid UUID", truncate(text)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = CallId::new_v7();
        assert_eq!(CallId::parse_name("call", &id.name()), Ok(id));
    }

    #[test]
    fn wrong_collection_names_the_field() {
        let id = IncidentId::new_v7();
        let error = CallId::parse_name("name", &id.name()).unwrap_err();
        let violation = error.iter().next().unwrap();
        assert_eq!(violation.field, "name");
        assert!(
            violation.description.contains("calls/{uuid}"),
            "{violation:?}"
        );
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        assert!(CallId::parse_name("name", "").is_err());
        assert!(CallId::parse_name("name", "calls/not-a-uuid").is_err());
        assert!(RequestId::parse("request_id", "").is_err());
        assert!(RequestId::parse("request_id", "x").is_err());
        assert!(RequestId::parse("request_id", &Uuid::new_v4().to_string()).is_ok());
    }
}
