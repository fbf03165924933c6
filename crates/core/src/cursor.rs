//! Pages of listings: the largest page any listing returns, and opaque listing cursors (the
//! position after the last entry of a page, as (name, kind); folders sort before files of the
//! same name).

use crate::Code;
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The most entries one page of any listing holds, whatever the caller asks for. Dialects keep
/// their own defaults and may cap lower; this bound is what none of them can forget, and it keeps
/// the one extra entry a listing reads (to know whether a next page exists) from overflowing.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The page size a listing uses when `limit` is asked for.
pub fn page_size(limit: usize) -> usize {
    limit.min(MAX_PAGE_SIZE)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub name: String,
    pub folder: bool,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let tag = if self.folder { 'd' } else { 'f' };
        URL_SAFE_NO_PAD.encode(format!("{tag}:{}", self.name))
    }

    pub fn decode(raw: &str, what: &str) -> Result<Self> {
        let bad = || Error::invalid(Code::CursorInvalid, format!("Invalid {what}."));
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        match text.split_once(':') {
            Some(("d", name)) => Ok(Self { name: name.to_owned(), folder: true }),
            Some(("f", name)) => Ok(Self { name: name.to_owned(), folder: false }),
            _ => Err(bad()),
        }
    }

    /// Whether an entry named `name` of the given kind comes after this cursor.
    pub fn before(&self, name: &str, folder: bool) -> bool {
        (name, !folder) > (self.name.as_str(), !self.folder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(name in "\\PC{0,80}", folder: bool) {
            let c = Cursor { name, folder };
            prop_assert_eq!(Cursor::decode(&c.encode(), "nextKey").unwrap(), c);
        }

        #[test]
        fn garbage_is_rejected_not_panicking(raw in "\\PC{0,40}") {
            let _ = Cursor::decode(&raw, "nextKey");
        }
    }

    #[test]
    fn folders_sort_before_files_of_the_same_name() {
        let folder = Cursor { name: "b".into(), folder: true };
        assert!(folder.before("b", false));
        assert!(!folder.before("b", true));
        assert!(folder.before("c", true));
        let file = Cursor { name: "b".into(), folder: false };
        assert!(!file.before("b", true));
        assert!(!file.before("b", false));
        assert!(file.before("ba", true));
        assert_eq!(Cursor::decode("!!", "nextKey").unwrap_err().message, "Invalid nextKey.");
    }

    #[test]
    fn no_page_is_larger_than_the_maximum() {
        assert_eq!(page_size(0), 0);
        assert_eq!(page_size(50), 50);
        assert_eq!(page_size(MAX_PAGE_SIZE), MAX_PAGE_SIZE);
        assert_eq!(page_size(MAX_PAGE_SIZE + 1), MAX_PAGE_SIZE);
        // A caller asking for everything gets a bounded page (and `limit + 1` cannot overflow).
        assert_eq!(page_size(usize::MAX), MAX_PAGE_SIZE);
    }
}
