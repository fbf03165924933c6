//! Public files: `GET|HEAD /files/{accountId}/{key}`, without auth, for CDNs. Validators
//! (`ETag`, `Last-Modified`), conditional requests (304), single byte ranges (206), and headers
//! that keep a browser from running what it was not meant to.

use crate::AppState;
use assetlib_core::AccountId;
use assetlib_core::model::Asset;
use assetlib_core::ports::Content;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::ops::Range;
use std::time::{Duration, UNIX_EPOCH};

pub fn routes() -> Router<AppState> {
    Router::new().route("/files/{account_id}/{*key}", get(get_file))
}

/// Characters left as they are in a URL path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The public URL of `key` in `account`: each path segment percent-encoded.
pub fn public_url(base: &str, account: AccountId, key: &str) -> String {
    let mut url = format!("{base}/files/{account}");
    for segment in key.split('/') {
        url.push('/');
        url.extend(utf8_percent_encode(segment, SEGMENT));
    }
    url
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

async fn get_file(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // A path that is not UTF-8 cannot name a key: not found, like any other unknown path.
    let Ok(Path((account, key))) = path else {
        return plain(StatusCode::NOT_FOUND, "Not found\n");
    };
    let Ok(account) = account.parse::<i64>() else {
        return plain(StatusCode::NOT_FOUND, "Not found\n");
    };
    let asset = match state.lib.public_asset(AccountId(account), &key).await {
        Ok(asset) => asset,
        Err(e) => return error_response(e),
    };
    let etag = format!("\"{}\"", asset.hash);
    let modified_secs = (asset.last_modified / 1000).max(0) as u64;
    let last_modified = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(modified_secs));

    let mut out = HeaderMap::new();
    let put = |out: &mut HeaderMap, name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    put(&mut out, header::ETAG, &etag);
    put(&mut out, header::LAST_MODIFIED, &last_modified);
    put(&mut out, header::CACHE_CONTROL, &state.http.cache_control);
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if is_active_content(&asset) {
        out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    }

    if not_modified(&headers, &etag, modified_secs) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    put(&mut out, header::CONTENT_TYPE, &asset.content_type);

    let range = match requested_range(&headers, &etag, asset.size) {
        Ok(range) => range,
        Err(()) => {
            put(&mut out, header::CONTENT_RANGE, &format!("bytes */{}", asset.size));
            return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response();
        }
    };
    let (status, length) = match &range {
        Some(r) => {
            put(&mut out, header::CONTENT_RANGE, &format!("bytes {}-{}/{}", r.start, r.end - 1, asset.size));
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, asset.size),
    };
    put(&mut out, header::CONTENT_LENGTH, &length.to_string());
    if method == Method::HEAD {
        return (status, out).into_response();
    }
    match state.lib.read_content(&asset, range).await {
        Ok(Content::Whole(bytes)) => (status, out, Body::from(bytes)).into_response(),
        Ok(Content::Stream(stream)) => (status, out, Body::from_stream(stream)).into_response(),
        Err(e) => error_response(e),
    }
}

fn error_response(e: assetlib_core::Error) -> Response {
    use assetlib_core::ErrorKind;
    match e.kind {
        ErrorKind::NotFound => plain(StatusCode::NOT_FOUND, "Not found\n"),
        ErrorKind::Unavailable => plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable\n"),
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error\n"),
    }
}

/// HTML and SVG run scripts when opened from our origin; `sandbox` stops that.
fn is_active_content(asset: &Asset) -> bool {
    matches!(asset.content_type.as_str(), "text/html" | "image/svg+xml" | "application/xhtml+xml")
}

/// RFC 9110 section 13.2.2: If-None-Match wins over If-Modified-Since.
fn not_modified(headers: &HeaderMap, etag: &str, modified_secs: u64) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let bare = etag.trim_matches('"');
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == bare);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|since| since.duration_since(UNIX_EPOCH).ok())
        .is_some_and(|since| modified_secs <= since.as_secs())
}

/// The one byte range asked for, if any and if `If-Range` still holds. Several ranges are
/// answered with the whole file (RFC 9110 allows ignoring Range). `Err` when unsatisfiable.
fn requested_range(headers: &HeaderMap, etag: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(raw) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range != etag
    {
        return Ok(None);
    }
    let parsed = match http_range_header::parse_range_header(raw) {
        Ok(p) => p,
        Err(_) => return Ok(None), // a malformed Range header is ignored
    };
    let ranges = parsed.validate(size).map_err(|_| ())?;
    match ranges.as_slice() {
        [one] => Ok(Some(*one.start()..*one.end() + 1)),
        _ => Ok(None),
    }
}
