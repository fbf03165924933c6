//! The web UI (SPEC 8): one page and its script and style, shipped inside the binary and served
//! at `/` and `/ui/…`. Everything it does goes through the native API with a session cookie
//! ([`crate::dialects::native::session`]). Every answer carries a Content-Security-Policy that
//! allows no inline script and no other origin, and the usual hardening headers.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/app.css");
const ICON: &str = include_str!("../ui/icon.svg");

/// Scripts, styles, images, fonts and requests from this server only; no plugins, no framing,
/// no `<base>`, forms posting here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; media-src 'self' blob:; font-src 'self'; connect-src 'self'; \
     frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page(INDEX, "text/html; charset=utf-8") }))
        .route("/ui/app.js", get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }))
        .route("/ui/app.css", get(|| async { page(STYLE, "text/css; charset=utf-8") }))
        .route("/ui/icon.svg", get(|| async { page(ICON, "image/svg+xml") }))
        // Browsers ask for it whatever the page says.
        .route("/favicon.ico", get(|| async { page(ICON, "image/svg+xml") }))
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    // Revalidated on every load: a new server version's page and script arrive together.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
