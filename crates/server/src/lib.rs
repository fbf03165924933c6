//! The HTTP face of assetlib: one axum app carrying the API dialects and the public file route.
//! Dialects translate: they parse, authenticate, call one core operation and render the result
//! in their vendor's shape.
#![forbid(unsafe_code)]

pub mod dialects;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
mod multipart;
mod streamed_json;
pub mod ui;

pub use http::{HttpLimits, serve};

use assetlib_core::Library;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// What the HTTP layer needs beyond the core.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base of public URLs, without a trailing slash: `https://cdn.example.com`.
    pub public_base_url: String,
    /// `Cache-Control` of public files.
    pub cache_control: String,
}

#[derive(Clone)]
pub struct AppState {
    pub lib: Arc<Library>,
    pub http: Arc<HttpConfig>,
}

pub fn router(lib: Arc<Library>, http: HttpConfig) -> Router {
    // Uploads read the raw body, limited while streaming (per file by the core, as a whole by
    // the multipart reader); every extractor that buffers a body (`Json`, `Bytes`, `String`)
    // is held to the JSON limit.
    let state = AppState { lib, http: Arc::new(http) };
    Router::new()
        .merge(dialects::jivox::routes())
        .merge(dialects::clinch::routes())
        .merge(
            dialects::native::routes()
                .layer(axum::middleware::from_fn_with_state(state.clone(), dialects::native::session::guard)),
        )
        .merge(dialects::hivo::routes())
        .merge(files::routes())
        .merge(ui::routes())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(readyz))
        .layer(DefaultBodyLimit::max(http::JSON_BODY_LIMIT))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Readiness: 200 when the database and the blob store both answer, else 503, with each
/// store's state. `/healthz` only says the process is up.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let r = state.lib.readiness().await;
    let describe = |res: &assetlib_core::Result<()>| match res {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.message.clone(),
    };
    let body = serde_json::json!({
        "status": if r.ready() { "ready" } else { "unavailable" },
        "database": describe(&r.database),
        "blobStore": describe(&r.blob_store),
    });
    let status = if r.ready() { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}
