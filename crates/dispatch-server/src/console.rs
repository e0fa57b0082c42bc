//! The web console, served on the gRPC port: a browser's plain GET of `/`, `/app.js` or
//! `/app.css` is answered here with the embedded assets of `dispatch-console` (or, for console
//! development, the files of `DISPATCH_CONSOLE_DIR`); every other request goes on to the gRPC
//! services (gRPC-web from the console, gRPC from everyone else). The page then calls the same
//! services under the same credentials, roles, scoping and audit as any client.

use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use tonic::body::Body;

/// Where the console's files come from.
#[derive(Debug, Clone)]
pub enum Assets {
    /// Not served.
    Off,
    /// The files embedded in the binary.
    Embedded,
    /// Read from this directory at every request (console development: rebuild, reload).
    Directory(Arc<PathBuf>),
}

/// Where the console's map finds its base layer (404 when the centre configured none).
pub const MAP_LAYER_PATH: &str = "/map/base.geojson";

#[derive(Debug, Clone)]
pub struct ConsoleLayer {
    assets: Assets,
    map_layer: Option<Bytes>,
}

impl ConsoleLayer {
    pub fn new(assets: Assets, map_layer: Option<Bytes>) -> Self {
        Self { assets, map_layer }
    }
}

impl<S> tower::Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Console {
            inner,
            assets: self.assets.clone(),
            map_layer: self.map_layer.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Console<S> {
    inner: S,
    assets: Assets,
    map_layer: Option<Bytes>,
}

/// The page may load only its own script and style and talk only to its own origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

impl<S> Console<S> {
    fn is_console_request<B>(&self, request: &Request<B>) -> bool {
        if matches!(self.assets, Assets::Off) {
            return false;
        }
        let method = request.method();
        if method != Method::GET && method != Method::HEAD {
            return false;
        }
        // gRPC and gRPC-web are POSTs; a GET with a gRPC content type is still theirs.
        !request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"))
    }

    fn answer(&self, path: &str, head_only: bool, accepts_gzip: bool) -> Response<Body> {
        let file = match &self.assets {
            Assets::Off => None,
            _ if path == MAP_LAYER_PATH => self
                .map_layer
                .clone()
                .map(|layer| (layer, "application/geo+json", false)),
            Assets::Embedded => dispatch_console::asset(path).map(|asset| {
                match asset.gzipped.filter(|_| accepts_gzip) {
                    Some(gzipped) => (Bytes::from_static(gzipped), asset.content_type, true),
                    None => (Bytes::from_static(asset.body), asset.content_type, false),
                }
            }),
            Assets::Directory(dir) => {
                from_directory(dir, path).map(|(body, content_type)| (body, content_type, false))
            }
        };
        let Some((body, content_type, gzipped)) = file else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let body = if head_only { Bytes::new() } else { body };
        let mut response = Response::new(Body::new(http_body_util::Full::new(body)));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzipped {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        // Small files that change with the server: always revalidated, never stale.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        response
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A file of the console directory: only plain names directly inside it (no `..`, no
/// subdirectories), only known content types.
fn from_directory(dir: &std::path::Path, path: &str) -> Option<(Bytes, &'static str)> {
    let name = match path.strip_prefix('/')? {
        "" => "index.html",
        name => name,
    };
    if name.contains('/') || name.contains('\\') || name.starts_with('.') {
        return None;
    }
    let content_type = dispatch_console::content_type(name)?;
    let bytes = std::fs::read(dir.join(name)).ok()?;
    Some((Bytes::from(bytes), content_type))
}

impl<S> tower::Service<Request<Body>> for Console<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    // Every gRPC call passes here: its future goes on unboxed.
    type Future =
        futures::future::Either<std::future::Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if self.is_console_request(&request) {
            let accepts_gzip = request
                .headers()
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.split(',').any(|coding| coding.trim().starts_with("gzip")));
            let response = self.answer(
                request.uri().path(),
                request.method() == Method::HEAD,
                accepts_gzip,
            );
            return futures::future::Either::Left(std::future::ready(Ok(response)));
        }
        futures::future::Either::Right(self.inner.call(request))
    }
}
