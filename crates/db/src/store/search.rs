//! One search ([`AssetQuery`]) as one statement, the same text on both engines. The text is put
//! together from this module's fragments and `$N` placeholders only; everything the query holds
//! (names, tags, ids, times) is a bound value.
//!
//! Each filter is a condition on the asset row or a membership in an index of a side table
//! (`a.id IN (SELECT asset_id FROM asset_tags WHERE account_id IN (…) AND folded = lower($n))`),
//! so that the planner can start from whichever index narrows most: the sort's own
//! (`assets_created`, `assets_name`, …), a side table's, or the key's.

use crate::sql::{Stmt, asset_columns, int};
use assetlib_core::model::Millis;
use assetlib_core::search::{AssetQuery, ContentTypeFilter, Paging, Scope, SortField, SortValue};
use sea_query::Value;

/// The code point after which no character sorts: the end of a prefix range.
const TOP: &str = "\u{10FFFF}";

#[derive(Default)]
struct Builder {
    args: Vec<Value>,
    conditions: Vec<String>,
}

impl Builder {
    /// Binds `value`; its placeholder.
    fn arg(&mut self, value: impl Into<Value>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    fn when(&mut self, condition: String) {
        self.conditions.push(condition);
    }
}

fn sort_column(field: SortField) -> &'static str {
    match field {
        SortField::CreatedAt => "a.created_at",
        SortField::Name => "a.name",
        SortField::Size => "a.size",
        SortField::LastModified => "a.last_modified",
    }
}

/// The statement that answers `q` at `now` (the time licence expiry is judged by): at most
/// `q.limit` assets in the query's order.
pub(crate) fn statement(q: &AssetQuery, now: Millis) -> Stmt {
    let mut b = Builder::default();
    // The accounts in scope, for the asset rows and for every side table (each is indexed by
    // account first).
    let in_scope = match &q.scope {
        Scope::All => String::new(),
        Scope::Accounts(accounts) => {
            let list: Vec<String> = accounts.iter().map(|a| b.arg(a.0)).collect();
            format!("account_id IN ({}) AND ", list.join(", "))
        }
    };
    if !in_scope.is_empty() {
        b.when(format!("a.{}", in_scope.trim_end_matches(" AND ")));
    }
    let member =
        |table: &str, condition: String| format!("a.id IN (SELECT asset_id FROM {table} WHERE {in_scope}{condition})");

    if let Some(text) = &q.q {
        let (lo, top) = (b.arg(text.as_str()), b.arg(TOP));
        let range = |column: &str| format!("{column} >= lower({lo}) AND {column} < (lower({lo}) || {top})");
        let tags = member("asset_tags", range("folded"));
        b.when(format!("(({}) OR {tags})", range("a.name_folded")));
    }
    if !q.ids.is_empty() {
        let list: Vec<String> = q.ids.iter().map(|id| b.arg(id.0.as_str())).collect();
        b.when(format!("a.id IN ({})", list.join(", ")));
    }
    if let Some(path) = &q.path {
        let p = b.arg(path.as_str());
        b.when(format!("a.path = {p}"));
    }
    if let Some(prefix) = q.path_prefix.as_deref().filter(|p| !p.is_empty()) {
        let (p, lo, hi) = (b.arg(prefix), b.arg(format!("{prefix}/")), b.arg(format!("{prefix}0")));
        b.when(format!("(a.path = {p} OR (a.path >= {lo} AND a.path < {hi}))"));
    }
    for tag in &q.tags {
        let t = b.arg(tag.as_str());
        let condition = member("asset_tags", format!("folded = lower({t})"));
        b.when(condition);
    }
    if let Some(sku) = &q.sku {
        let s = b.arg(sku.as_str());
        let condition = member("asset_skus", format!("sku = {s}"));
        b.when(condition);
    }
    if let Some(collection) = &q.collection {
        let c = b.arg(collection.0.as_str());
        let condition = member("asset_collections", format!("collection_id = {c}"));
        b.when(condition);
    }
    if let Some(user) = &q.favourite_of {
        let u = b.arg(user.0.as_str());
        let condition = member("asset_favourites", format!("user_id = {u}"));
        b.when(condition);
    }
    for (key, value) in &q.metadata {
        let (k, v) = (b.arg(key.as_str()), b.arg(value.as_str()));
        let condition = member("asset_metadata", format!("key = {k} AND folded = lower({v})"));
        b.when(condition);
    }
    if let Some(batch) = &q.batch_id {
        let v = b.arg(batch.as_str());
        b.when(format!("a.batch_id = {v}"));
    }
    for (column, wanted) in [("a.approved_at", q.approved), ("a.sensitive_at", q.sensitive)] {
        if let Some(set) = wanted {
            b.when(format!("{column} IS {}NULL", if set { "NOT " } else { "" }));
        }
    }
    // Archived assets are hidden unless asked for.
    b.when(format!("a.archived_at IS {}NULL", if q.archived == Some(true) { "NOT " } else { "" }));
    if let Some(expired) = q.license_expired {
        let t = b.arg(now);
        b.when(if expired {
            format!("a.license_expires_at <= {t}")
        } else {
            format!("(a.license_expires_at IS NULL OR a.license_expires_at > {t})")
        });
    }
    if let Some(min) = q.created_min {
        let t = b.arg(min);
        b.when(format!("a.created_at >= {t}"));
    }
    if let Some(max) = q.created_max {
        let t = b.arg(max);
        b.when(format!("a.created_at <= {t}"));
    }
    match &q.content_type {
        Some(ContentTypeFilter::Exact(t)) => {
            let t = b.arg(t.as_str());
            b.when(format!("a.content_type = {t}"));
        }
        Some(ContentTypeFilter::Family(family)) => {
            let (lo, hi) = (b.arg(format!("{family}/")), b.arg(format!("{family}0")));
            b.when(format!("a.content_type >= {lo} AND a.content_type < {hi}"));
        }
        None => {}
    }

    let column = sort_column(q.sort.field);
    let direction = if q.sort.descending { "DESC" } else { "ASC" };
    let tail = match &q.paging {
        Paging::After(Some(cursor)) => {
            let value = match &cursor.value {
                SortValue::Int(n) => b.arg(*n),
                SortValue::Text(s) => b.arg(s.as_str()),
            };
            let id = b.arg(cursor.id.0.as_str());
            let op = if q.sort.descending { "<" } else { ">" };
            b.when(format!("({column}, a.id) {op} ({value}, {id})"));
            format!(" LIMIT {}", b.arg(int(q.limit)))
        }
        Paging::After(None) => format!(" LIMIT {}", b.arg(int(q.limit))),
        Paging::Skip(n) => {
            let limit = b.arg(int(q.limit));
            format!(" LIMIT {limit} OFFSET {}", b.arg(int(*n)))
        }
    };
    let conditions = if b.conditions.is_empty() { "TRUE".to_owned() } else { b.conditions.join(" AND ") };
    let sql = format!(
        "SELECT {} FROM assets a WHERE {conditions} ORDER BY {column} {direction}, a.id {direction}{tail}",
        asset_columns!()
    );
    Stmt::built(sql, b.args)
}
