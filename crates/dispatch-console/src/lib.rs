//! The web console, as `dispatchd` serves it: the files of `dist/`, built from the TypeScript
//! in `web/` (`npm run build` there) and committed, so that building the server needs no Node.
//! CI rebuilds them from source and fails if the result differs from what is committed.

/// One file of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub body: &'static [u8],
    /// The same bytes gzipped, for a browser that accepts gzip.
    pub gzipped: Option<&'static [u8]>,
    pub content_type: &'static str,
}

/// Every file the console is made of, by its URL path.
pub const ASSETS: &[(&str, Asset)] = &[
    (
        "/index.html",
        Asset {
            body: include_bytes!("../dist/index.html"),
            gzipped: None,
            content_type: "text/html; charset=utf-8",
        },
    ),
    (
        "/app.js",
        Asset {
            body: include_bytes!("../dist/app.js"),
            gzipped: Some(include_bytes!("../dist/app.js.gz")),
            content_type: "text/javascript; charset=utf-8",
        },
    ),
    (
        "/app.css",
        Asset {
            body: include_bytes!("../dist/app.css"),
            gzipped: Some(include_bytes!("../dist/app.css.gz")),
            content_type: "text/css; charset=utf-8",
        },
    ),
];

/// The file served at `path`; `/` is the console's page.
pub fn asset(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, asset)| *asset)
}

/// The content type of a console file name (for a console served from a directory).
pub fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "geojson" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_script_are_embedded() {
        let page = asset("/").expect("the console page");
        let html = std::str::from_utf8(page.body).expect("UTF-8");
        assert!(html.contains("app.js") && html.contains("app.css"));
        assert!(!asset("/app.js").expect("the script").body.is_empty());
        assert_eq!(asset("/nothing.js"), None);
    }
}
