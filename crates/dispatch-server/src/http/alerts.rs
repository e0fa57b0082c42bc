//! The public CAP feed on the exchange listener: an Atom feed of the newest public warning
//! messages (`GET /cap/alerts.atom`, `application/atom+xml`), each entry linking to its CAP 1.2
//! document exactly as issued (`GET /cap/alerts/{identifier}.xml`, `application/cap+xml`).
//! Public and read-only: CAP consumers poll it without credentials, as they poll any agency's
//! alert feed; what they read was published on purpose, and nothing here writes.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use dispatch_standards::cap::{self, MsgType, atom};
use dispatch_store::alerts::StoredAlert;
use dispatch_store::{Error as StoreError, Page};

use super::Exchange;

pub const FEED_PATH: &str = "/cap/alerts.atom";
const DOCUMENT_DIR: &str = "/cap/alerts";
/// How many of the newest messages the feed lists: consumers poll often and keep what they saw.
const FEED_ENTRIES: i64 = 100;

pub fn routes() -> Router<Exchange> {
    Router::new()
        .route(FEED_PATH, get(feed))
        .route("/cap/alerts/{file}", get(document))
}

/// `http(s)://host` as the consumer reached us, for the feed's absolute links. Only what a
/// host name and port can hold is taken from the `Host` header.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    // Behind a TLS-terminating proxy the consumer reached us over https.
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn xml(media_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, media_type)], body).into_response()
}

fn failure(error: &StoreError) -> Response {
    let status = match error {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::error!(%error, "serving the CAP feed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let reason = status.canonical_reason().unwrap_or("error");
    (status, [(header::CONTENT_TYPE, "text/plain")], reason).into_response()
}

fn entry(stored: &StoredAlert, base: &str) -> atom::Entry {
    let alert = &stored.alert;
    let title = match alert.msg_type {
        MsgType::Alert => alert.headline.clone(),
        other => format!("{}: {}", other.as_str(), alert.headline),
    };
    atom::Entry {
        id: format!("urn:uuid:{}", alert.id.0),
        title,
        updated: alert.sent_at,
        summary: format!(
            "CAP {} {} ({})",
            alert.status.as_str(),
            alert.msg_type.as_str(),
            alert.identifier
        ),
        cap_url: format!("{base}{DOCUMENT_DIR}/{}.xml", alert.identifier),
    }
}

async fn feed(State(exchange): State<Exchange>, headers: HeaderMap) -> Response {
    let page = Page {
        size: FEED_ENTRIES,
        after: None,
    };
    let alerts = match exchange.state.store.list_alerts(None, &page).await {
        Ok((alerts, _)) => alerts,
        Err(error) => return failure(&error),
    };
    let base = base_url(&headers);
    let sender = &exchange.state.alert_sender;
    let publisher = sender
        .name
        .clone()
        .unwrap_or_else(|| sender.sender.as_str().to_owned());
    let url = format!("{base}{FEED_PATH}");
    let feed = atom::Feed {
        id: url.clone(),
        title: format!("{publisher}: public alerts (CAP 1.2)"),
        self_url: url,
        author: publisher,
        updated: alerts
            .first()
            .map_or_else(chrono::Utc::now, |newest| newest.alert.sent_at),
        entries: alerts.iter().map(|a| entry(a, &base)).collect(),
    };
    xml(atom::MEDIA_TYPE_ATOM, feed.to_xml())
}

async fn document(State(exchange): State<Exchange>, Path(file): Path<String>) -> Response {
    let Some(identifier) = file.strip_suffix(".xml") else {
        return failure(&StoreError::NotFound(file));
    };
    // Only what an identifier may be reaches the database.
    if cap::Token::new("identifier", identifier).is_err() {
        return failure(&StoreError::NotFound(file));
    }
    match exchange
        .state
        .store
        .get_alert_by_identifier(identifier.to_owned())
        .await
    {
        Ok(stored) => xml(cap::MEDIA_TYPE, stored.alert.cap_xml),
        Err(error) => failure(&error),
    }
}
