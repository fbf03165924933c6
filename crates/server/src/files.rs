//! Public files: `GET|HEAD /files/{accountId}/{key}`, without auth, for CDNs; and signed links,
//! `GET|HEAD /signed/{token}`, which serve the same way to whoever holds one. Validators
//! (`ETag`, `Last-Modified`), conditional requests (304, 412), single byte ranges (206), and headers
//! that keep a browser from running what it was not meant to.

use crate::AppState;
use assetlib_core::AccountId;
use assetlib_core::model::{ORIGINAL, Rendition};
use assetlib_core::ports::Content;
use axum::Router;
use axum::body::Body;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::ops::Range;
use std::time::{Duration, UNIX_EPOCH};

pub fn routes() -> Router<AppState> {
    Router::new().route("/files/{account_id}/{*key}", get(get_file)).route("/signed/{token}", get(get_signed))
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

/// Every answer of the file routes, errors included, carries `nosniff`.
fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], text)
        .into_response()
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "Not found\n")
}

/// The one spelling of an account id in a public URL: digits without sign or leading zeros, so
/// that a file has one URL and a CDN one cache key for it.
fn canonical_account(raw: &str) -> Option<AccountId> {
    let id = crate::dialects::parse_account_id(raw)?;
    (id.0.to_string() == raw).then_some(id)
}

/// The version a query asks for (`original` when it names none). The same parameter twice with
/// different values names nothing (404); a query that is not UTF-8 is refused (400).
fn requested_version(raw: Option<&str>) -> Result<String, Box<Response>> {
    let Ok(pairs) = crate::dialects::query_pairs(raw.unwrap_or("").as_bytes()) else {
        return Err(Box::new(plain(StatusCode::BAD_REQUEST, "The query string is not valid UTF-8.\n")));
    };
    let mut versions = pairs.iter().filter(|(k, _)| k == "version").map(|(_, v)| v.as_str());
    let first = versions.next().unwrap_or(ORIGINAL);
    if versions.any(|v| v != first) {
        return Err(Box::new(not_found()));
    }
    Ok(first.to_owned())
}

async fn get_file(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let (account, key) = match path {
        Ok(Path(parts)) => parts,
        // A path that is not UTF-8 once percent-decoded names nothing, and is refused as such
        // rather than read with replacement characters.
        Err(PathRejection::FailedToDeserializePathParams(e))
            if matches!(e.kind(), ErrorKind::InvalidUtf8InPathParam { .. }) =>
        {
            return plain(StatusCode::BAD_REQUEST, "The path is not valid UTF-8.\n");
        }
        Err(_) => return not_found(),
    };
    let Some(account) = canonical_account(&account) else {
        return not_found();
    };
    let version = match requested_version(query.as_deref()) {
        Ok(version) => version,
        Err(response) => return *response,
    };
    let asset = match state.lib.public_asset(account, &key).await {
        Ok(asset) => asset,
        Err(e) => return error_response(e),
    };
    let not_found = || assetlib_core::Error::not_found(assetlib_core::Code::FileNotFound, "File not found.");
    let rendition = match state.lib.version_of(&asset, &version, not_found).await {
        Ok(rendition) => rendition,
        Err(e) => return error_response(e),
    };
    serve(&state, &asset, rendition.as_ref(), &method, &headers, &state.http.cache_control, None).await
}

/// A signed link (`/signed/{token}`): the version it grants, to whoever holds it until it
/// expires, whatever the account's public flag or the asset's marks. A refused link is 403
/// with the same words whatever was wrong with it; the asset's name never shows.
async fn get_signed(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let refused = || plain(StatusCode::FORBIDDEN, "This link is not valid or has expired.\n");
    // A token that does not even decode is refused as any other bad link.
    let Ok(Path(token)) = token else { return refused() };
    match state.lib.open_signed(&token).await {
        Ok((asset, claims, rendition)) => {
            let left = (claims.expires - assetlib_core::model::now_millis() / 1000).max(0);
            let cache_control = format!("private, max-age={left}");
            let name = rendition.as_ref().map_or_else(|| asset.name.clone(), |r| r.file_name(&asset.name));
            let disposition = assetlib_core::library::links::content_disposition(claims.disposition, &name);
            serve(&state, &asset, rendition.as_ref(), &method, &headers, &cache_control, Some(&disposition)).await
        }
        Err(e) if e.kind == assetlib_core::ErrorKind::Forbidden => refused(),
        Err(e) => error_response(e),
    }
}

/// An asset's content, or one of its renditions, with its validators, conditional answers
/// (304, 412) and single byte ranges (206): what public files, signed links and the native
/// content route serve. A rendition has its own entity tag, type and size; it changes when the
/// asset's content does, so it shares the asset's modification time.
pub(crate) async fn serve(
    state: &AppState,
    asset: &assetlib_core::model::Asset,
    rendition: Option<&Rendition>,
    method: &Method,
    headers: &HeaderMap,
    cache_control: &str,
    disposition: Option<&str>,
) -> Response {
    let (etag, content_type, size) = match rendition {
        Some(r) => (format!("\"{}-{}\"", asset.hash, r.version), r.content_type.as_str(), r.size),
        None => (format!("\"{}\"", asset.hash), asset.content_type.as_str(), asset.size),
    };
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
    put(&mut out, header::CACHE_CONTROL, cache_control);
    if let Some(disposition) = disposition {
        put(&mut out, header::CONTENT_DISPOSITION, disposition);
    }
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if needs_sandbox(content_type) {
        out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    }

    match preconditions(headers, &etag, modified_secs) {
        Precondition::Proceed => {}
        Precondition::Failed => return (StatusCode::PRECONDITION_FAILED, out).into_response(),
        Precondition::NotModified => return (StatusCode::NOT_MODIFIED, out).into_response(),
    }
    put(&mut out, header::CONTENT_TYPE, content_type);

    let range = match requested_range(headers, &etag, size) {
        Ok(range) => range,
        Err(()) => {
            put(&mut out, header::CONTENT_RANGE, &format!("bytes */{}", size));
            return (StatusCode::RANGE_NOT_SATISFIABLE, out).into_response();
        }
    };
    let (status, length) = match &range {
        Some(r) => {
            put(&mut out, header::CONTENT_RANGE, &format!("bytes {}-{}/{}", r.start, r.end - 1, size));
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    put(&mut out, header::CONTENT_LENGTH, &length.to_string());
    if *method == Method::HEAD {
        return (status, out).into_response();
    }
    let content = match rendition {
        Some(r) => state.lib.read_rendition(r, range).await,
        None => state.lib.read_content(asset, range).await,
    };
    match content {
        Ok(Content::Whole(bytes)) => (status, out, Body::from(bytes)).into_response(),
        Ok(Content::Stream(stream)) => (status, out, Body::from_stream(stream)).into_response(),
        Err(e) => error_response(e),
    }
}

fn error_response(e: assetlib_core::Error) -> Response {
    use assetlib_core::ErrorKind;
    match e.kind {
        ErrorKind::NotFound => not_found(),
        ErrorKind::Unavailable => plain(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable\n"),
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error\n"),
    }
}

/// Whether a browser might run `content_type` as a document on our origin. Only what is plainly
/// media, a font or inert data is served without `Content-Security-Policy: sandbox`; HTML,
/// XHTML, XML, SVG, PDF and every type this list does not know are sandboxed.
pub(crate) fn needs_sandbox(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((&essence, ""));
    let inert = match kind {
        "image" => !subtype.contains("svg") && !subtype.contains("xml"),
        "audio" | "video" | "font" => !subtype.contains("xml"),
        "text" => matches!(subtype, "plain" | "csv" | "css" | "javascript"),
        "application" => matches!(subtype, "json" | "javascript" | "zip"),
        _ => false,
    };
    !inert
}

/// What the validators of a GET or HEAD decide, in the order of RFC 9110 section 13.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    Proceed,
    /// `If-Match` or `If-Unmodified-Since` failed: 412.
    Failed,
    /// `If-None-Match` or `If-Modified-Since` hold: 304.
    NotModified,
}

/// The entity tags of a validator header; `None` for `*`.
fn entity_tags(value: &str) -> Option<Vec<&str>> {
    if value.trim() == "*" {
        return None;
    }
    Some(value.split(',').map(str::trim).filter(|t| !t.is_empty()).collect())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn http_date_secs(value: &str) -> Option<u64> {
    httpdate::parse_http_date(value).ok()?.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

pub(crate) fn preconditions(headers: &HeaderMap, etag: &str, modified_secs: u64) -> Precondition {
    // If-Match compares strongly: a weak tag never matches; If-Unmodified-Since counts only
    // without If-Match, and is ignored when it is not a date.
    if let Some(value) = header_text(headers, header::IF_MATCH) {
        let matches = entity_tags(value).is_none_or(|tags| tags.contains(&etag));
        if !matches {
            return Precondition::Failed;
        }
    } else if headers.contains_key(header::IF_MATCH) {
        return Precondition::Failed; // present but not text: it matches nothing
    } else if let Some(since) = header_text(headers, header::IF_UNMODIFIED_SINCE).and_then(http_date_secs)
        && modified_secs > since
    {
        return Precondition::Failed;
    }
    // If-None-Match compares weakly, and wins over If-Modified-Since.
    if let Some(value) = header_text(headers, header::IF_NONE_MATCH) {
        let bare = etag.trim_matches('"');
        let matches = entity_tags(value)
            .is_none_or(|tags| tags.iter().any(|t| t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == bare));
        return if matches { Precondition::NotModified } else { Precondition::Proceed };
    }
    match header_text(headers, header::IF_MODIFIED_SINCE).and_then(http_date_secs) {
        Some(since) if modified_secs <= since => Precondition::NotModified,
        _ => Precondition::Proceed,
    }
}

/// The one byte range asked for, if any and if `If-Range` still holds. Several ranges are
/// answered with the whole file (RFC 9110 allows ignoring Range). `Err` when unsatisfiable.
pub(crate) fn requested_range(headers: &HeaderMap, etag: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(raw) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range != etag
    {
        return Ok(None);
    }
    // A suffix range longer than the file is the whole file (RFC 9110 section 14.1.3); the
    // parser below would call it unsatisfiable. A suffix of no bytes, or any suffix of an
    // empty file, selects nothing: unsatisfiable.
    if let Some(suffix) = raw.trim().strip_prefix("bytes=-").and_then(|n| n.trim().parse::<u64>().ok()) {
        if suffix == 0 {
            return Err(());
        }
        if suffix >= size && size > 0 {
            return Ok(Some(0..size));
        }
    }
    let parsed = match http_range_header::parse_range_header(raw) {
        Ok(p) => p,
        Err(_) => return Ok(None), // a malformed Range header is ignored
    };
    // Of an empty file every range is unsatisfiable (RFC 9110 section 14.1.1); the parser would
    // let `bytes=0-` through as the byte 0..1 that is not there.
    if size == 0 {
        return Err(());
    }
    let ranges = parsed.validate(size).map_err(|_| ())?;
    match ranges.as_slice() {
        [one] => Ok(Some(*one.start()..*one.end() + 1)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, "\"e\"", size)
    }

    #[test]
    fn ranges_stay_inside_the_file() {
        assert_eq!(range("bytes=0-", 10), Ok(Some(0..10)));
        assert_eq!(range("bytes=2-4", 10), Ok(Some(2..5)));
        assert_eq!(range("bytes=-100", 10), Ok(Some(0..10)), "a long suffix is the whole file");
        assert_eq!(range("bytes=-0", 10), Err(()));
        // Found by the range fuzz target: an empty file has no byte 0.
        for value in ["bytes=0-", "bytes=0-0", "bytes=0-1000", "bytes=-5"] {
            assert_eq!(range(value, 0), Err(()), "{value}");
        }
        assert_eq!(range("bytes=20-", 10), Err(()));
        assert_eq!(range("nonsense", 10), Ok(None), "a malformed Range is ignored");
    }

    #[test]
    fn preconditions_follow_rfc_9110() {
        let with = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
            }
            preconditions(&h, "\"e\"", 1_000_000)
        };
        assert_eq!(with(&[]), Precondition::Proceed);
        assert_eq!(with(&[("if-match", "\"x\"")]), Precondition::Failed);
        assert_eq!(with(&[("if-match", "W/\"e\"")]), Precondition::Failed);
        assert_eq!(with(&[("if-match", "\"e\"")]), Precondition::Proceed);
        assert_eq!(with(&[("if-match", "\"e\""), ("if-none-match", "\"e\"")]), Precondition::NotModified);
        assert_eq!(with(&[("if-none-match", "W/\"e\"")]), Precondition::NotModified);
        assert_eq!(with(&[("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]), Precondition::Failed);
        assert_eq!(with(&[("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")]), Precondition::NotModified);
    }
}
