//! One module per API dialect, each with its own routes, auth and error body, and the request
//! reading they share: strict query strings, one credential header, declared body sizes.

pub mod clinch;
pub mod hivo;
pub mod jivox;
pub mod native;

use assetlib_core::Code;
use assetlib_core::{AccountId, Error, ErrorKind};
use axum::http::{HeaderMap, header};
use percent_encoding::percent_decode;

/// The HTTP status of an error kind, as every dialect answers it unless its vendor says
/// otherwise (Clinch answers some with 400).
pub(crate) fn status_of(kind: ErrorKind) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TimedOut => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Adds `Retry-After` (whole seconds) to an error answer that has one.
pub(crate) fn set_retry_after(response: &mut axum::response::Response, secs: Option<u64>) {
    if let Some(secs) = secs {
        response.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
}

/// An account id from a path segment: a positive integer.
pub(crate) fn parse_account_id(raw: &str) -> Option<AccountId> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).map(AccountId)
}

/// ISO-8601 UTC to the second: `2025-08-04T09:28:14Z`.
pub(crate) fn iso_seconds(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A query string as `application/x-www-form-urlencoded` pairs (`+` is a space). A name or
/// value that is not UTF-8 once percent-decoded is refused, never replaced by U+FFFD: two
/// different keys must not become one asset.
pub fn query_pairs(raw: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let decode = |part: &[u8]| -> Result<String, Error> {
        let spaced: Vec<u8> = part.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
        let bytes: Vec<u8> = percent_decode(&spaced).collect();
        String::from_utf8(bytes).map_err(|_| {
            Error::invalid(Code::QueryInvalid, "The query string is not valid UTF-8 once percent-decoded.")
        })
    };
    raw.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// The one value of a credential header. Absent: `Ok(None)`. Sent twice (even with the same
/// value) or not visible ASCII: refused, so that a proxy and the server can never disagree on
/// which credential a request carries.
pub(crate) fn credential<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Error::unauthenticated(format!("The {name} header is sent more than once.")));
    }
    first.to_str().map(Some).map_err(|_| Error::unauthenticated("Invalid API key."))
}

/// Refuses a body whose declared length is over `limit` before any of it is read, so that a
/// client waiting on `Expect: 100-continue` gets its 413 at once instead of `100 Continue`.
pub(crate) fn check_declared_length(
    headers: &HeaderMap,
    limit: u64,
    too_large: impl FnOnce() -> Error,
) -> Result<(), Error> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(too_large()),
        _ => Ok(()),
    }
}

/// The error of a JSON body over its limit.
pub(crate) fn json_too_large(limit: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        Code::BodyTooLarge,
        format!("The request body is larger than {} KB, the most a JSON body may hold.", limit >> 10),
    )
}

/// A body of at most `limit` bytes, read whole: a declared or actual size over it is
/// `TooLarge` ([`json_too_large`]), a stalled body `TimedOut`, anything else unreadable
/// `Invalid`.
pub(crate) async fn read_small_body(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<axum::body::Bytes, Error> {
    let too_large = || json_too_large(limit as u64);
    check_declared_length(headers, limit as u64, too_large)?;
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if crate::http::has_cause::<http_body_util::LengthLimitError>(&e) {
            too_large()
        } else if crate::http::is_body_timeout(&e) {
            crate::http::body_timeout_error()
        } else {
            Error::invalid(Code::BodyUnreadable, format!("Could not read the request body: {e}."))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_strictly() {
        let pairs = query_pairs(b"key=a%2Fb+c.png&x&folder=&k=%C3%A9").unwrap();
        assert_eq!(
            pairs,
            [("key", "a/b c.png"), ("x", ""), ("folder", ""), ("k", "\u{e9}")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(query_pairs(b"key=a%ff.png").unwrap_err().code, "query_invalid");
        assert_eq!(query_pairs(b"k%fe=1").unwrap_err().code, "query_invalid");
        // A stray percent sign is kept as it is, as browsers and form_urlencoded do.
        assert_eq!(query_pairs(b"k=100%").unwrap()[0].1, "100%");
    }

    #[test]
    fn a_credential_header_counts_once() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h, "x-apikey").unwrap(), None);
        h.append("x-apikey", "a".parse().unwrap());
        assert_eq!(credential(&h, "x-apikey").unwrap(), Some("a"));
        h.append("x-apikey", "a".parse().unwrap());
        assert_eq!(credential(&h, "x-apikey").unwrap_err().kind, ErrorKind::Unauthenticated);
    }
}
