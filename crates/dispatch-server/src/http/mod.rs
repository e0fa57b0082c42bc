//! The exchange listener: plain HTTP/1.1 for what other systems speak besides our gRPC
//! contract (`--exchange-listen`). A listener of its own because the gRPC server (tonic)
//! serves its connections without HTTP upgrades, which a WebSocket needs.
//!
//! Routes, one module each: `sta024` (the NENA-STA-024 EIDO conveyance WebSocket), `alerts`
//! (the public CAP feed: Atom, and each alert's CAP document; public and read-only). The
//! WebSocket is admitted with the same credentials, role table and audit as gRPC
//! (`crate::auth::AuthLayer::admit`).

mod alerts;
mod sta024;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::AppState;
use crate::auth::AuthLayer;

/// What every route of the exchange listener shares.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub state: Arc<AppState>,
    pub auth: AuthLayer,
    /// Largest WebSocket message read from a client, bytes.
    pub max_message_bytes: usize,
    /// Turns true when the process stops: open WebSockets end their subscriptions and close.
    pub stopping: watch::Receiver<bool>,
}

/// Every route of the exchange listener.
pub fn router(exchange: Exchange) -> Router {
    Router::new()
        .merge(sta024::routes())
        .merge(alerts::routes())
        .with_state(exchange)
}

/// Serves `router` on `listener` until `stopping` turns true.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        // A dropped sender means the process is stopping too.
        let _ = stopping.wait_for(|stop| *stop).await;
    })
    .await
}
