//! The Atom feed (RFC 4287) of alerts that CAP consumers poll: one entry per CAP message, its
//! `alternate` link the message's CAP document (`application/cap+xml`), newest first.

use chrono::{DateTime, SecondsFormat, Utc};

use super::MEDIA_TYPE;
use super::xml::Writer;

pub const NAMESPACE: &str = "http://www.w3.org/2005/Atom";
pub const MEDIA_TYPE_ATOM: &str = "application/atom+xml";

/// The feed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// A permanent IRI for the feed (its URL will do).
    pub id: String,
    pub title: String,
    /// The feed's own URL (`rel="self"`).
    pub self_url: String,
    /// Who publishes it (Atom requires an author).
    pub author: String,
    /// When it last changed: the newest entry's time, or `generated` when it has none.
    pub updated: DateTime<Utc>,
    pub entries: Vec<Entry>,
}

/// One CAP message in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// A permanent, absolute IRI for the entry (`urn:uuid:...`).
    pub id: String,
    pub title: String,
    pub updated: DateTime<Utc>,
    pub summary: String,
    /// Where the CAP document is.
    pub cap_url: String,
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Feed {
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new();
        w.open("feed", &[("xmlns", NAMESPACE)]);
        w.leaf("id", &self.id);
        w.leaf("title", &self.title);
        w.leaf("updated", &rfc3339(self.updated));
        w.empty(
            "link",
            &[
                ("rel", "self"),
                ("type", MEDIA_TYPE_ATOM),
                ("href", &self.self_url),
            ],
        );
        w.open("author", &[]);
        w.leaf("name", &self.author);
        w.close("author");
        for entry in &self.entries {
            w.open("entry", &[]);
            w.leaf("id", &entry.id);
            w.leaf("title", &entry.title);
            w.leaf("updated", &rfc3339(entry.updated));
            w.empty(
                "link",
                &[
                    ("rel", "alternate"),
                    ("type", MEDIA_TYPE),
                    ("href", &entry.cap_url),
                ],
            );
            if !entry.summary.is_empty() {
                w.leaf("summary", &entry.summary);
            }
            w.close("entry");
        }
        w.close("feed");
        w.finish()
    }
}
