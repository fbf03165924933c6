//! The file name a response suggests: Content-Disposition's `filename*` (RFC 6266 / 8187), then
//! its `filename`, then the last segment of the URL's path. Only a base name comes out: any
//! directory part is dropped, and names that are empty, `.`, `..` or hold control characters
//! are ignored. The core still validates the name like any other.

use percent_encoding::percent_decode_str;
use url::Url;

pub(crate) fn file_name(content_disposition: Option<&[u8]>, url: &Url) -> Option<String> {
    content_disposition.and_then(from_content_disposition).or_else(|| from_url(url))
}

fn from_url(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    base_name(&percent_decode_str(segment).decode_utf8().ok()?)
}

fn from_content_disposition(header: &[u8]) -> Option<String> {
    // Latin-1 is what a header's bytes mean when they are not ASCII.
    let header: String = header.iter().map(|&b| b as char).collect();
    let params = parameters(&header);
    let extended = params.iter().find(|(k, _)| k.eq_ignore_ascii_case("filename*")).and_then(|(_, v)| decode_ext(v));
    let plain = || params.iter().find(|(k, _)| k.eq_ignore_ascii_case("filename")).map(|(_, v)| v.clone());
    extended.or_else(plain).and_then(|name| base_name(&name))
}

/// The `key=value` parameters after the disposition type; quoted values unescaped.
fn parameters(header: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = header.split_once(';').map_or("", |(_, rest)| rest);
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some((key, after)) = rest.split_once('=') else { return params };
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim_end().to_owned(), &after[end..])
        };
        params.push((key.trim().to_owned(), value));
        rest = remaining.split_once(';').map_or("", |(_, rest)| rest);
    }
}

/// `UTF-8''na%C3%AFve.txt`; ISO-8859-1 too, which RFC 8187 still names.
fn decode_ext(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let (charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = percent_decode_str(encoded);
    if charset.eq_ignore_ascii_case("utf-8") {
        bytes.decode_utf8().ok().map(|s| s.into_owned())
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.map(char::from).collect())
    } else {
        None
    }
}

fn base_name(name: &str) -> Option<String> {
    let name = name.rsplit(['/', '\\']).next()?.trim();
    let usable = !name.is_empty() && name != "." && name != ".." && !name.chars().any(char::is_control);
    usable.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(header: Option<&str>, url: &str) -> Option<String> {
        file_name(header.map(str::as_bytes), &Url::parse(url).expect("test URL"))
    }

    #[test]
    fn names_come_from_the_header_then_the_url() {
        let url = "http://example.com/files/photo%20one.jpg?x=1";
        assert_eq!(name(None, url).as_deref(), Some("photo one.jpg"));
        assert_eq!(name(None, "http://example.com/").as_deref(), None);
        assert_eq!(name(None, "http://example.com/dir/").as_deref(), None);
        assert_eq!(name(None, "http://example.com/%2E%2E").as_deref(), None);
        assert_eq!(name(None, "http://example.com/a%2Fb.txt").as_deref(), Some("b.txt"));
        assert_eq!(name(Some("attachment"), url).as_deref(), Some("photo one.jpg"));
        assert_eq!(name(Some("attachment; filename=report.pdf"), url).as_deref(), Some("report.pdf"));
        assert_eq!(
            name(Some("attachment; filename=\"my \\\"report\\\".pdf\""), url).as_deref(),
            Some("my \"report\".pdf")
        );
        assert_eq!(name(Some("inline; filename=\"a;b.txt\"; size=3"), url).as_deref(), Some("a;b.txt"));
        assert_eq!(
            name(Some("attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve.txt"), url).as_deref(),
            Some("naïve.txt")
        );
        assert_eq!(name(Some("attachment; FILENAME*=iso-8859-1'en'caf%E9.txt"), url).as_deref(), Some("café.txt"));
        assert_eq!(name(Some("attachment; filename=\"../../etc/passwd\""), url).as_deref(), Some("passwd"));
        assert_eq!(name(Some("attachment; filename=\"C:\\\\x\\\\y.doc\""), url).as_deref(), Some("y.doc"));
        assert_eq!(name(Some("attachment; filename=\"..\""), url).as_deref(), Some("photo one.jpg"));
        assert_eq!(name(Some("attachment; filename=\"a\tb\""), url).as_deref(), Some("photo one.jpg"));
    }
}
