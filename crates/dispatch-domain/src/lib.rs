//! The dispatch domain: identifiers, calls, incidents, units and the rules they obey.
//!
//! Architecture invariant: this crate is pure. No I/O, no async, no clock reads (callers pass
//! `now`), no tonic, no diesel. Wire types convert into these at the server's edge.

/// A closed set of values stored as text: `as_str` is the database spelling, `ALL` every value.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Stored (in the event log's details) as its text, like the columns that hold it.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", stringify!($name), " {:?}"), text))
                })
            }
        }
    };
}

pub mod assignment;
pub mod audit;
pub mod auth;
pub mod call;
pub mod directory;
pub mod duplicates;
pub mod error;
pub mod event;
pub mod ids;
pub mod incident;
pub mod location;
pub mod operation;
pub mod principal;
pub mod referral;
pub mod reporting;
pub mod retention;
pub mod triage;
pub mod unit;

pub use error::{Error, FieldViolation, Violations};
