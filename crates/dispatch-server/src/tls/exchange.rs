//! The exchange listener (axum, HTTP/1.1: the STA-024 WebSocket) over the same TLS: `wss://`.
//! Its requests authenticate with bearer tokens as before; it asks for no client certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tokio_stream::StreamExt as _;

use super::{Incoming, Tls};

/// Connections with TLS up, as axum takes them.
struct TlsListener {
    incoming: Incoming,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.incoming.next().await {
                Some(Ok(stream)) => {
                    let peer = stream.get_ref().0.peer_addr();
                    match peer {
                        Ok(peer) => return (stream, peer),
                        // Gone already.
                        Err(_) => continue,
                    }
                }
                Some(Err(error)) => tracing::debug!(%error, "exchange listener connection"),
                // The accept loop ended: the process is stopping.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `router` over TLS on `listener` until `stopping` turns true.
pub async fn serve_exchange(
    listener: TcpListener,
    tls: Arc<Tls>,
    reload_interval: Duration,
    router: axum::Router,
    mut stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let (incoming, _accepting) = super::accept(listener, tls, reload_interval);
    // `tap_io` only so that axum's connect info (the peer's address) applies to this listener.
    let listener = TlsListener { incoming, local }.tap_io(|_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    })
    .await
}
