//! Accepting TLS connections: each handshake runs in a task of its own, bounded in time, so a
//! slow or broken client never holds up the next accept.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use super::Tls;

/// Longest a TLS handshake may take before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections that finished their handshake and wait for the server to take them.
const READY_BACKLOG: usize = 64;

/// After a failed accept (out of file descriptors, say), this long before the next one.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Accepts on `listener` and does the handshakes, and reloads the TLS files every
/// `reload_interval`, until the [`Accepting`] is dropped.
pub fn accept(
    listener: TcpListener,
    tls: Arc<Tls>,
    reload_interval: Duration,
) -> (Incoming, Accepting) {
    let (ready, taken) = mpsc::channel(READY_BACKLOG);
    let reloading = tokio::spawn(tls.clone().follow_files(reload_interval));
    let accepting = tokio::spawn(async move {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            };
            // Without TCP_NODELAY a response's frames wait for the client's delayed ACK.
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, %peer, "setting TCP_NODELAY");
            }
            let acceptor = tls.acceptor();
            let ready = ready.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = ready.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    (
        ReceiverStream::new(taken),
        Accepting {
            tasks: [accepting, reloading],
        },
    )
}

/// Connections with TLS up, for tonic's `serve_with_incoming*`.
pub type Incoming = ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>>;

/// The accept loop and the reloading of the files: both end when this is dropped (the
/// listening socket closes with the accept loop).
#[derive(Debug)]
pub struct Accepting {
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Accepting {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
