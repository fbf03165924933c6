//! Entry points for the coverage-guided fuzz targets (`fuzz/`): each takes arbitrary bytes,
//! drives one parser of the core, and panics only when an invariant the rest of the product
//! relies on does not hold. They run in the unit tests too, on a few fixed inputs.

use crate::cursor::Cursor;
use crate::rules::{MAX_PATH_LEN, Rules};

/// The path and key rules: whatever they accept is a key the stores can hold safely.
pub fn rules(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let rules = Rules::default();
    let looked_up = rules.lookup_key(raw);
    if let Ok(key) = rules.key(raw) {
        // A key that may be written may be looked up, as the same key.
        assert_eq!(looked_up.as_ref().ok(), Some(&key), "a writable key could not be looked up");
        let full = key.key();
        assert!(full.chars().count() <= MAX_PATH_LEN, "accepted an over-long key");
        assert!(!full.contains("..") && !full.contains("//") && !full.contains("./"), "accepted {full:?}");
        assert!(!full.starts_with('/') && !full.ends_with('/') && !key.name.is_empty(), "accepted {full:?}");
        assert!(!full.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}'), "accepted a control character");
        assert!(rules.check_extension(&key.extension()).is_ok());
        // A key splits into a folder and a name that are accepted again, unchanged.
        let again = rules.key_in(&key.path, &key.name).expect("a key's own parts are accepted");
        assert_eq!(again.key(), full);
    }
    if let Ok(key) = &looked_up {
        // A lookup key differs from a writable one only in the extension rule.
        assert!(rules.key(raw).is_ok() || rules.check_extension(&key.extension()).is_err(), "refused {raw:?}");
    }
    if let Ok(folder) = rules.folder(raw) {
        assert!(!folder.ends_with('/') || folder.is_empty(), "folder {folder:?} kept its slash");
        assert!(!folder.contains("..") && !folder.contains("//"), "accepted {folder:?}");
        assert_eq!(rules.folder(&folder).expect("a folder is accepted again"), folder);
    }
}

/// The tokens clients send back: listing cursors (Jivox `nextKey`, Clinch `nextToken`), search
/// cursors and signed links. Garbage is refused without a panic; an accepted cursor encodes back
/// to one that decodes to the same position; a link verifies only under the key that signed it.
pub fn cursor(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    for sort in ["-createdAt", "name", "size"] {
        let sort = crate::search::Sort::parse(sort).expect("a known sort");
        if let Ok(c) = crate::search::SearchCursor::decode(raw, sort, "cursor") {
            assert_eq!(crate::search::SearchCursor::decode(&c.encode(), sort, "cursor").expect("re-encoded"), c);
        }
    }
    let key = crate::signing::SigningKey::new(&[7u8; 32]).expect("a long enough secret");
    if let Ok(claims) = key.verify(raw, 0) {
        assert_eq!(claims.key_id, key.id(), "a link of another key verified");
        assert_eq!(key.sign(&claims), raw, "a link verified that this key did not make");
    }
    if let Ok(c) = Cursor::decode(raw, "nextKey") {
        assert_eq!(Cursor::decode(&c.encode(), "nextKey").expect("re-encoded cursor"), c);
    }
    if let Ok((path, name)) = crate::library::assets::decode_token(raw, "nextToken") {
        let again = crate::library::assets::encode_token(&path, &name);
        assert_eq!(crate::library::assets::decode_token(&again, "nextToken").expect("re-encoded token"), (path, name));
    }
}

#[cfg(test)]
mod tests {
    /// The seeds that reach the deep branches do reach them: the search cursor decodes and the
    /// signed link verifies (so the fuzzer starts past the MAC check).
    #[test]
    fn the_token_seeds_are_valid() {
        let link = include_str!("../../../fuzz/corpus/cursor/signed_link");
        let key = crate::signing::SigningKey::new(&[7u8; 32]).unwrap();
        assert_eq!(key.sign(&key.verify(link, 0).expect("the seed link verifies")), link);
        let cursor = include_str!("../../../fuzz/corpus/cursor/search_cursor");
        crate::search::SearchCursor::decode(cursor, crate::search::Sort::default(), "cursor").expect("decodes");
        super::cursor(link.as_bytes());
    }

    #[test]
    fn the_targets_take_odd_input() {
        for input in [&b""[..], b"a/b.png", b"../x.png", b"a//b.png", b"ZjpiLnBuZw", b"WyJhIiwiYi5wbmciXQ", b"\xff"] {
            super::rules(input);
            super::cursor(input);
        }
    }
}
