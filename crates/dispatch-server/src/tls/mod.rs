//! dispatchd's own TLS: the server certificate and key, and for mutual TLS the CA that partner
//! agencies' and gateways' client certificates must chain to.
//!
//! The files are read at start (a bad file stops the start) and then every
//! `--tls-reload-interval`: when any of them changed, the whole server configuration is built
//! again and new connections get it; connections already open keep the one they were made with.
//! A new file that does not load (a half-written key, a certificate that does not match the
//! key) is logged once and the material in use is kept.
//!
//! A client certificate is optional at the TLS layer (browsers and token clients have none) but
//! when presented must chain to the configured CA; who it speaks for is decided by the auth
//! layer ([`client_certificate_sha256`] and the certificate credentials of the store).
//!
//! Without TLS, dispatchd serves plaintext only on loopback addresses (development), or
//! anywhere with `--allow-plaintext` (a TLS-terminating proxy in front): see [`plaintext_check`].

mod exchange;
mod incoming;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

pub use exchange::serve_exchange;
pub use incoming::{Accepting, HANDSHAKE_TIMEOUT, Incoming, accept};

/// The files TLS is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's own first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM bundle of the CAs client certificates must chain to; `None`: no client certificates.
    pub client_ca: Option<PathBuf>,
}

/// What is served on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// The gRPC listener: HTTP/2 (gRPC, and the console for browsers) and HTTP/1.1 (gRPC-web
    /// from older clients).
    Grpc,
    /// The exchange listener: HTTP/1.1 only (its WebSocket upgrades are HTTP/1.1's).
    Exchange,
}

impl Protocols {
    fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Self::Grpc => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Self::Exchange => vec![b"http/1.1".to_vec()],
        }
    }
}

/// The TLS material in use, reloaded when its files change.
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    protocols: Protocols,
    current: RwLock<Arc<ServerConfig>>,
    /// The bytes last read from the files (loaded or refused): a change is loaded once, and a
    /// bad file is complained about once.
    last_read: Mutex<Contents>,
}

type Contents = (Vec<u8>, Vec<u8>, Option<Vec<u8>>);

impl Tls {
    /// Loads the files; an error names the file and what is wrong with it.
    pub fn load(files: TlsFiles, protocols: Protocols) -> Result<Arc<Self>, String> {
        let contents = read(&files)?;
        let config = build(&files, &contents, protocols)?;
        Ok(Arc::new(Self {
            files,
            protocols,
            current: RwLock::new(config),
            last_read: Mutex::new(contents),
        }))
    }

    /// An acceptor with the material in use now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }

    /// Whether client certificates are asked for.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Reads the files again and, if they changed and load, uses them for new connections.
    /// `Ok(true)`: new material is in use.
    pub fn reload(&self) -> Result<bool, String> {
        let contents = read(&self.files)?;
        {
            let mut last = self
                .last_read
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *last == contents {
                return Ok(false);
            }
            *last = contents.clone();
        }
        let config = build(&self.files, &contents, self.protocols)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(true)
    }

    /// Reloads every `interval`, for as long as the process serves.
    pub async fn follow_files(self: Arc<Self>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        // The last complaint: a file that stays unreadable is not logged at every tick.
        let mut complained: Option<String> = None;
        loop {
            ticks.tick().await;
            match self.reload() {
                Ok(true) => {
                    complained = None;
                    tracing::info!(
                        cert = %self.files.cert.display(),
                        "TLS certificate, key or client CA changed: new connections use them"
                    );
                }
                Ok(false) => {}
                Err(error) => {
                    if complained.as_ref() != Some(&error) {
                        tracing::error!(%error, "new TLS files not loaded; the ones in use stay");
                        complained = Some(error);
                    }
                }
            }
        }
    }
}

fn read(files: &TlsFiles) -> Result<Contents, String> {
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .map_err(|error| format!("reading the TLS {what} {}: {error}", path.display()))
    };
    Ok((
        read(&files.cert, "certificate")?,
        read(&files.key, "key")?,
        files
            .client_ca
            .as_deref()
            .map(|path| read(path, "client CA"))
            .transpose()?,
    ))
}

fn build(
    files: &TlsFiles,
    contents: &Contents,
    protocols: Protocols,
) -> Result<Arc<ServerConfig>, String> {
    let (cert, key, client_ca) = contents;
    let chain = certificates(cert, &files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|error| format!("TLS key {}: {error}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS protocol versions: {error}"))?;
    let builder = match (client_ca, &files.client_ca) {
        (Some(bundle), Some(path)) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates(bundle, path)? {
                roots
                    .add(certificate)
                    .map_err(|error| format!("TLS client CA {}: {error}", path.display()))?;
            }
            // Optional at the TLS layer: browsers and token clients present none. One that is
            // presented must chain to these CAs, or the handshake fails.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| format!("TLS client CA {}: {error}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|error| {
        format!(
            "TLS certificate {} with key {}: {error}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    config.alpn_protocols = protocols.alpn();
    Ok(Arc::new(config))
}

fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("TLS certificate file {}: {error}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(chain)
}

/// TLS for each listener, when configured.
#[derive(Debug, Default)]
pub struct Listening {
    pub grpc: Option<Arc<Tls>>,
    pub exchange: Option<Arc<Tls>>,
}

/// TLS for the listeners when configured (the exchange listener with the same certificate,
/// without client certificates); without it, the plaintext check of each listener.
pub fn setup(
    config: &crate::Config,
    grpc: SocketAddr,
    exchange: &Option<tokio::net::TcpListener>,
) -> Result<Listening, String> {
    let allow = config.allow_plaintext;
    let exchange = exchange.as_ref().and_then(|l| l.local_addr().ok());
    let Some(files) = files(config)? else {
        plaintext_check(grpc, "gRPC and the console", allow)?;
        if let Some(address) = exchange {
            plaintext_check(address, "the exchange listener", allow)?;
        }
        return Ok(Listening::default());
    };
    let exchange_files = TlsFiles {
        client_ca: None,
        ..files.clone()
    };
    let tls = Tls::load(files, Protocols::Grpc)?;
    tracing::info!(
        address = %grpc,
        mutual = tls.mutual(),
        "serving gRPC and the console over TLS"
    );
    Ok(Listening {
        grpc: Some(tls),
        exchange: match exchange {
            Some(address) => {
                tracing::info!(%address, "serving the exchange listener over TLS (wss)");
                Some(Tls::load(exchange_files, Protocols::Exchange)?)
            }
            None => None,
        },
    })
}

/// The TLS files `--tls-cert`, `--tls-key` and `--tls-client-ca` name; `None` without TLS.
pub fn files(config: &crate::Config) -> Result<Option<TlsFiles>, String> {
    match (&config.tls_cert, &config.tls_key, &config.tls_client_ca) {
        (Some(cert), Some(key), client_ca) => Ok(Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: client_ca.clone(),
        })),
        (None, None, None) => Ok(None),
        (None, None, Some(_)) => {
            Err("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS)".into())
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            Err("--tls-cert and --tls-key go together: set both or neither".into())
        }
    }
}

/// Without TLS: plaintext on a loopback address is development, said at start; anywhere else
/// it is refused unless `--allow-plaintext` says a TLS-terminating proxy is in front.
pub fn plaintext_check(address: SocketAddr, what: &str, allow: bool) -> Result<(), String> {
    if address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "serving {what} in PLAINTEXT on a loopback address (development): set --tls-cert \
             and --tls-key to serve TLS"
        );
        Ok(())
    } else if allow {
        tracing::warn!(
            %address,
            "serving {what} in PLAINTEXT as --allow-plaintext says: only behind a \
             TLS-terminating proxy"
        );
        Ok(())
    } else {
        Err(format!(
            "refusing to serve {what} in plaintext on {address}, which is not a loopback \
             address: set --tls-cert and --tls-key (DISPATCH_TLS_CERT, DISPATCH_TLS_KEY), or \
             --allow-plaintext (DISPATCH_ALLOW_PLAINTEXT=true) behind a TLS-terminating proxy"
        ))
    }
}

/// The remote address of a request's connection, plaintext or TLS.
pub fn remote_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<TcpConnectInfo>()
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .map(TlsConnectInfo::get_ref)
        })
        .and_then(TcpConnectInfo::remote_addr)
}

/// The SHA-256 (lowercase hex) of the client certificate the request's connection presented,
/// already verified against the client CA in the handshake; `None` when it presented none.
pub fn client_certificate_sha256(extensions: &http::Extensions) -> Option<String> {
    let certificates = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let end_entity = certificates.first()?;
    Some(dispatch_store::tokens::certificate_fingerprint(end_entity))
}
