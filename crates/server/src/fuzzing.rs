//! Entry points for the coverage-guided fuzz targets (`fuzz/`): each takes arbitrary bytes,
//! drives one request parser of the HTTP layer as a request would, and panics only when an
//! invariant does not hold. They run in the unit tests too, on a few fixed inputs.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use futures::StreamExt;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// Headers from `Name: value` lines; lines that are not headers are skipped.
fn headers_of(text: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in text.lines() {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (HeaderName::try_from(name.trim()), HeaderValue::from_str(value.trim()))
        {
            headers.append(name, value);
        }
    }
    headers
}

/// The streaming multipart reader: a body of any bytes under a fixed boundary. No file part
/// yields more than the limit, and no text part more than its own.
pub fn multipart(data: &[u8]) {
    const MAX_FILE: u64 = 4096;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("multipart/form-data; boundary=XyZ"));
    let body = axum::body::Body::from(data.to_vec());
    runtime().block_on(async move {
        let Ok(mut form) = crate::multipart::Multipart::new(&headers, body, MAX_FILE) else { return };
        while let Ok(Some(part)) = form.next().await {
            match part {
                crate::multipart::Part::File { mut body, .. } => {
                    let mut n = 0u64;
                    while let Some(Ok(chunk)) = body.next().await {
                        n += chunk.len() as u64;
                    }
                    assert!(n <= MAX_FILE + (1 << 16), "a file part yielded {n} bytes");
                }
                crate::multipart::Part::Text { value, .. } => assert!(value.len() <= 64 * 1024),
            }
        }
    });
}

/// `Range`, `If-Range` and the conditional headers of public files, against a file whose size
/// is the first line: a satisfiable range lies inside the file.
pub fn range_and_conditionals(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let size = first.trim().parse::<u64>().unwrap_or(1000) % (1 << 40);
    let headers = headers_of(rest);
    let etag = "\"abc\"";
    let _ = crate::files::preconditions(&headers, etag, 1_700_000_000);
    if let Ok(Some(range)) = crate::files::requested_range(&headers, etag, size) {
        assert!(range.start < range.end && range.end <= size, "range {range:?} of a {size}-byte file");
    }
}

/// Query strings as the dialects decode them: what the strict decoder accepts is exactly what
/// the `application/x-www-form-urlencoded` parser reads (which replaces bad UTF-8 with U+FFFD),
/// and it refuses only input whose decoding is not UTF-8.
pub fn query(data: &[u8]) {
    let lossy: Vec<(String, String)> =
        form_urlencoded::parse(data).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    match crate::dialects::query_pairs(data) {
        Ok(pairs) => assert_eq!(pairs, lossy, "the strict decoder read the query differently"),
        Err(_) => {
            // Some name or value, split as the format splits them, is not UTF-8 once decoded.
            let not_utf8 = |part: &[u8]| {
                std::str::from_utf8(&percent_encoding::percent_decode(part).collect::<Vec<u8>>()).is_err()
            };
            let bad = data.split(|&b| b == b'&').any(|pair| match pair.iter().position(|&b| b == b'=') {
                Some(i) => not_utf8(&pair[..i]) || not_utf8(&pair[i + 1..]),
                None => not_utf8(pair),
            });
            assert!(bad, "refused a query whose every part decodes to UTF-8");
        }
    }
}

/// The native API's parsers: the first line as a search query string, the second as an
/// `If-Match` value, the rest as a PATCH body.
pub fn native(data: &[u8]) {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let query = lines.next().unwrap_or_default();
    let if_match = lines.next().unwrap_or_default();
    let body = lines.next().unwrap_or_default();
    crate::dialects::native::fuzz_parsers(query, if_match, body);
}

/// Hivo's asset query: any bytes as a query string.
pub fn hivo(data: &[u8]) {
    if let Ok(raw) = std::str::from_utf8(data) {
        crate::dialects::hivo::fuzz_query(raw);
    }
}

/// Clinch's JSON bodies: PutAssetJSON's streamed reader over any bytes, and the small bodies.
pub fn clinch_json(data: &[u8]) {
    runtime().block_on(crate::dialects::clinch::fuzz_bodies(data.to_vec()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_targets_take_odd_input() {
        let inputs: [&[u8]; 5] = [
            b"",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nhello\r\n--XyZ--\r\n",
            b"100\nRange: bytes=-500\nIf-Match: \"abc\"",
            b"key=a%2Fb.png&folder=%ff",
            b"{\"key\":\"a.txt\",\"content\":\"aGVs bG8=\",\"metadata\":{\"a\":\"b\"}}",
        ];
        for input in inputs {
            super::multipart(input);
            super::range_and_conditionals(input);
            super::query(input);
            super::clinch_json(input);
            super::native(input);
            super::hivo(input);
        }
        super::hivo(b"filter[search]=a&filter[id]=x,y&filter[metadata][k]=v&limit=256&skip=65536&sort=createdAt");
        super::native(b"tag=a&meta.team=Red&sort=-name&limit=5&cursor=xyz\n\"abc\"\n{\"metadata\":{\"a\":null}}");
    }
}
