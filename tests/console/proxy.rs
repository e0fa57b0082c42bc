//! A TCP proxy between the browser and a dispatchd, so a test can drop the console's
//! connections (and refuse new ones) at will, then let it reconnect: a real dropped connection,
//! with no hook in the page. It also notes every HTTP request the browser sends through it
//! (path and body), so a test can check what a reconnecting console asked for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One request the browser sent.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub body: Vec<u8>,
    /// How many cuts there had been when it was sent.
    pub after_cuts: u64,
}

impl Seen {
    /// The message of a gRPC-web request body (one uncompressed frame).
    pub fn message(&self) -> &[u8] {
        let Some(header) = self.body.get(..5) else {
            return &[];
        };
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        self.body.get(5..5 + len).unwrap_or(&[])
    }
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// (cuts so far, cut now): every change ends the connections in flight.
    state: watch::Sender<(u64, bool)>,
    seen: Mutex<Vec<Seen>>,
    /// Bytes sent to the browser so far, every connection together.
    downloaded: AtomicU64,
}

#[derive(Debug)]
pub struct Proxy {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.shared.state.send_modify(|(cuts, _)| *cuts += 1);
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            upstream,
            state: watch::channel((0, false)).0,
            seen: Mutex::new(Vec::new()),
            downloaded: AtomicU64::new(0),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (cuts, cut) = *accepting.state.borrow();
                if cut {
                    // Refused: closed at once, as a server that is not there.
                    drop(client);
                    continue;
                }
                tokio::spawn(pipe(accepting.clone(), client, cuts));
            }
        });
        Self {
            address,
            shared,
            task,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Drops every connection through the proxy and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.shared.state.send_modify(|(cuts, cut)| {
            *cuts += 1;
            *cut = true;
        });
    }

    pub fn restore(&self) {
        self.shared.state.send_modify(|(_, cut)| *cut = false);
    }

    /// Bytes the browser received through the proxy so far (HTTP headers and bodies).
    pub fn downloaded(&self) -> u64 {
        self.shared.downloaded.load(Ordering::Relaxed)
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("the proxy's log").clone()
    }
}

/// Copies both ways until either side closes or the proxy is cut.
async fn pipe(shared: Arc<Shared>, client: TcpStream, cuts: u64) {
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut changes = shared.state.subscribe();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let logging = shared.clone();
    let upstream = async move {
        let mut requests = Requests::default();
        let mut buf = vec![0_u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for (path, body) in requests.feed(&buf[..n]) {
                logging.seen.lock().expect("the proxy's log").push(Seen {
                    path,
                    body,
                    after_cuts: cuts,
                });
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let counting = shared.clone();
    let downstream = async move {
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            counting.downloaded.fetch_add(n as u64, Ordering::Relaxed);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
        _ = changes.wait_for(|(now, _)| *now != cuts) => {}
    }
}

/// HTTP/1.1 requests, parsed from what a browser sends (bodies with Content-Length).
#[derive(Debug, Default)]
struct Requests {
    buf: Vec<u8>,
    /// The request whose body is being read: its path and body length.
    reading: Option<(String, usize)>,
    /// Something this parser does not follow (chunked bodies): stop noting.
    lost: bool,
}

impl Requests {
    fn feed(&mut self, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut done = Vec::new();
        if self.lost {
            return done;
        }
        self.buf.extend_from_slice(bytes);
        loop {
            if let Some((path, len)) = &self.reading {
                if self.buf.len() < *len {
                    break;
                }
                let body: Vec<u8> = self.buf.drain(..*len).collect();
                done.push((path.clone(), body));
                self.reading = None;
                continue;
            }
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                break;
            };
            let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.buf.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let path = lines
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .unwrap_or_default()
                .to_owned();
            let mut len = 0;
            for line in lines {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                if name.eq_ignore_ascii_case("content-length") {
                    len = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    self.lost = true;
                    return done;
                }
            }
            self.reading = Some((path, len));
        }
        done
    }
}
