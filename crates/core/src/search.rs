//! One search over assets, which every dialect parses into: the scope (the accounts a caller
//! reaches), the filters of SPEC 5.2 and 5.4, a sort, and either a keyset cursor or an offset.
//! Every filter means the same in every dialect; the store serves each from an index.

use crate::Code;
use crate::error::{Error, Result};
use crate::ids::{AccountId, AssetId, CollectionId, UserId};
use crate::model::{Asset, Millis};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// At most this many ids in one `id` filter (Hivo's bound).
pub const MAX_IDS: usize = 512;
/// The largest offset a search skips (Hivo's `skip` bound); deeper pages take a cursor.
pub const MAX_SKIP: u64 = 65_536;

/// Which accounts a search looks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// These accounts (never empty).
    Accounts(Vec<AccountId>),
    /// Every account (a platform admin's unrestricted key).
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortField {
    CreatedAt,
    Name,
    Size,
    LastModified,
}

/// A sort; ties are broken by id in the same direction, so that an order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first, as every dialect defaults.
    fn default() -> Self {
        Sort { field: SortField::CreatedAt, descending: true }
    }
}

impl Sort {
    /// `createdAt`, `-createdAt`, `name`, `-name`, `size`, `-size`, `lastModified`, `-lastModified`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let field = match name {
            "createdAt" => SortField::CreatedAt,
            "name" => SortField::Name,
            "size" => SortField::Size,
            "lastModified" => SortField::LastModified,
            _ => return None,
        };
        Some(Sort { field, descending })
    }
}

/// The sort key of the last asset of a page: where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// A keyset position, opaque to clients: the sort it belongs to, and the last asset's sort
/// value and id. Stable under concurrent inserts: a page resumes strictly after the asset it
/// ended on, wherever new assets land.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCursor {
    pub field: SortField,
    pub descending: bool,
    pub value: SortValue,
    pub id: AssetId,
}

impl SearchCursor {
    /// The position after `asset` in `sort`.
    pub fn after(asset: &Asset, sort: Sort) -> Self {
        let value = match sort.field {
            SortField::CreatedAt => SortValue::Int(asset.created_at),
            SortField::LastModified => SortValue::Int(asset.last_modified),
            SortField::Size => SortValue::Int(i64::try_from(asset.size).unwrap_or(i64::MAX)),
            SortField::Name => SortValue::Text(asset.name.clone()),
        };
        SearchCursor { field: sort.field, descending: sort.descending, value, id: asset.id.clone() }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(1, self)).unwrap_or_default())
    }

    /// Decodes a cursor made for `sort`; one made for another sort, or not made here, is
    /// `Invalid` naming `param`.
    pub fn decode(raw: &str, sort: Sort, param: &str) -> Result<Self> {
        let bad = || Error::invalid(Code::CursorInvalid, format!("Invalid {param}.")).with_param(param);
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let (version, cursor): (u32, SearchCursor) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let kind_matches = matches!(
            (cursor.field, &cursor.value),
            (SortField::Name, SortValue::Text(_))
                | (SortField::CreatedAt | SortField::Size | SortField::LastModified, SortValue::Int(_))
        );
        if version != 1 || cursor.field != sort.field || cursor.descending != sort.descending || !kind_matches {
            return Err(bad());
        }
        Ok(cursor)
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// After a cursor (`None`: from the start).
    After(Option<SearchCursor>),
    /// After skipping this many (at most [`MAX_SKIP`]).
    Skip(u64),
}

/// A content type filter: one type, or every subtype of a type (`image/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentTypeFilter {
    Exact(String),
    /// The part before the slash.
    Family(String),
}

impl ContentTypeFilter {
    /// `type/subtype` or `type/*`, lowercase letters, digits and `.+-` only.
    pub fn parse(raw: &str) -> Option<Self> {
        let (family, sub) = raw.split_once('/')?;
        let ok = |s: &str| {
            !s.is_empty() && s.len() <= 127 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        };
        if !ok(family) {
            return None;
        }
        let family = family.to_ascii_lowercase();
        match sub {
            "*" => Some(Self::Family(family)),
            sub if ok(sub) => Some(Self::Exact(format!("{family}/{}", sub.to_ascii_lowercase()))),
            _ => None,
        }
    }
}

/// A search. Every filter narrows; `None` or empty leaves it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetQuery {
    pub scope: Scope,
    /// A prefix of the name or of any tag, case-insensitive.
    pub q: Option<String>,
    pub ids: Vec<AssetId>,
    /// Exactly this folder.
    pub path: Option<String>,
    /// This folder and every folder below it (`a/b` matches `a/b` and `a/b/c`, not `a/bc`).
    pub path_prefix: Option<String>,
    /// Every one of these tags, case-insensitive.
    pub tags: Vec<String>,
    pub sku: Option<String>,
    pub collection: Option<CollectionId>,
    pub batch_id: Option<String>,
    pub approved: Option<bool>,
    pub sensitive: Option<bool>,
    /// `None` hides archived assets (the default everywhere); `Some(true)` finds only them.
    pub archived: Option<bool>,
    /// Whether the licence expired by the time of the search.
    pub license_expired: Option<bool>,
    pub favourite_of: Option<UserId>,
    /// Inclusive bounds on the creation time.
    pub created_min: Option<Millis>,
    pub created_max: Option<Millis>,
    pub content_type: Option<ContentTypeFilter>,
    /// Each key with this value, the value compared ignoring case.
    pub metadata: Vec<(String, String)>,
    pub sort: Sort,
    pub paging: Paging,
    pub limit: usize,
}

impl AssetQuery {
    /// A search of `scope` with no filter, newest first, from the start.
    pub fn new(scope: Scope, limit: usize) -> Self {
        AssetQuery {
            scope,
            q: None,
            ids: vec![],
            path: None,
            path_prefix: None,
            tags: vec![],
            sku: None,
            collection: None,
            batch_id: None,
            approved: None,
            sensitive: None,
            archived: None,
            license_expired: None,
            favourite_of: None,
            created_min: None,
            created_max: None,
            content_type: None,
            metadata: vec![],
            sort: Sort::default(),
            paging: Paging::After(None),
            limit,
        }
    }

    /// Whether the query uses a filter only owners may use (SPEC 5.2: `sensitive`, `archived`,
    /// `licenseExpired`, whatever their value).
    pub fn uses_owner_filters(&self) -> bool {
        self.sensitive.is_some() || self.archived.is_some() || self.license_expired.is_some()
    }
}

/// A page of a search: the assets, and the cursor after the last one if there are more.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub assets: Vec<Asset>,
    pub next: Option<SearchCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sorts_parse_with_direction() {
        assert_eq!(Sort::parse("-createdAt"), Some(Sort { field: SortField::CreatedAt, descending: true }));
        assert_eq!(Sort::parse("name"), Some(Sort { field: SortField::Name, descending: false }));
        assert_eq!(Sort::parse("size"), Some(Sort { field: SortField::Size, descending: false }));
        assert_eq!(Sort::parse("-lastModified"), Some(Sort { field: SortField::LastModified, descending: true }));
        for bad in ["", "-", "created", "--name", "Name", "name "] {
            assert_eq!(Sort::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types_parse() {
        assert_eq!(ContentTypeFilter::parse("image/*"), Some(ContentTypeFilter::Family("image".into())));
        assert_eq!(ContentTypeFilter::parse("Image/PNG"), Some(ContentTypeFilter::Exact("image/png".into())));
        assert_eq!(
            ContentTypeFilter::parse("application/vnd.ms-excel"),
            Some(ContentTypeFilter::Exact("application/vnd.ms-excel".into()))
        );
        for bad in ["image", "/png", "image/", "*/*", "image/png;q=1", "im age/png", "image/p/ng"] {
            assert_eq!(ContentTypeFilter::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_only_fits_its_own_sort() {
        let sort = Sort::default();
        let c = SearchCursor { field: sort.field, descending: true, value: SortValue::Int(5), id: AssetId("a".into()) };
        assert_eq!(SearchCursor::decode(&c.encode(), sort, "cursor").unwrap(), c);
        let other = Sort { descending: false, ..sort };
        let e = SearchCursor::decode(&c.encode(), other, "cursor").unwrap_err();
        assert_eq!((e.code, e.param.as_deref()), (Code::CursorInvalid, Some("cursor")));
        let by_name = Sort { field: SortField::Name, descending: true };
        let forged = SearchCursor { field: SortField::Name, ..c };
        assert!(SearchCursor::decode(&forged.encode(), by_name, "cursor").is_err(), "a name sort needs a text value");
    }

    proptest! {
        #[test]
        fn cursors_round_trip(name in "\\PC{0,60}", id in "[a-z0-9]{1,32}", descending: bool) {
            let sort = Sort { field: SortField::Name, descending };
            let c = SearchCursor { field: sort.field, descending, value: SortValue::Text(name), id: AssetId(id) };
            prop_assert_eq!(SearchCursor::decode(&c.encode(), sort, "cursor").unwrap(), c);
        }

        #[test]
        fn garbage_cursors_are_refused_not_panicking(raw in "\\PC{0,80}") {
            let _ = SearchCursor::decode(&raw, Sort::default(), "cursor");
        }
    }
}
