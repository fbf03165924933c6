//! One search ([`AssetQuery`]) as one statement, the same text on both engines. The text is put
//! together from this module's fragments and `$N` placeholders only; everything the query holds
//! (names, tags, ids, times) is a bound value.
//!
//! Each filter is a condition on the asset row or a membership in an index of a side table
//! (`a.id IN (SELECT asset_id FROM asset_tags WHERE account_id IN (…) AND folded = lower($n))`),
//! so that the planner can start from whichever index narrows most: the sort's own
//! (`assets_created`, `assets_name`, …), a side table's, the key's, or for a `pathPrefix` the
//! folder side table's (`asset_folders_search`, see [`Plan::Folders`]). The store counts first
//! and says which ([`Plan`]).

use crate::sql::{Stmt, asset_columns, int};
use assetlib_core::model::Millis;
use assetlib_core::search::{AssetQuery, ContentTypeFilter, Paging, Scope, SortField, SortValue};
use sea_query::Value;

/// The code point after which no character sorts: the end of a prefix range.
const TOP: &str = "\u{10FFFF}";

/// What a search may use that only one engine has.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Features {
    /// The metadata side table as a probe names it (aliased `m`): `Engine::METADATA_PROBE`.
    pub metadata_probe: &'static str,
    /// Whether `assets_terms` (PostgreSQL, 0013) can answer a conjunction of tags, metadata
    /// values and a `pathPrefix` ([`Plan::Terms`]).
    pub terms: bool,
    /// Whether the folder rows hold a signature of their asset's tags and metadata values
    /// (`asset_folders.terms`, SQLite's 0015) that a folder walk tests first ([`signature`]).
    pub signatures: bool,
    /// Whether `asset_time_counts` (PostgreSQL, 0016) counts each account's unarchived assets
    /// by creation-time bucket, for a deep offset ([`counted_skip_statement`]).
    pub time_counts: bool,
}

/// The offset from which a search with no filter, in creation order, starts at its bucket
/// of `asset_time_counts` (about 1 ms to sum) rather than counting index entries (about
/// 0.1 ms a thousand).
pub(crate) const COUNTED_SKIP_FROM: u64 = 10_000;

/// The creation-time bucket of 0016's counts: `created_at >> BUCKET_BITS`.
const BUCKET_BITS: u32 = 26;

/// The hash of the SQL text value `s` that SQLite's 0015 computes for a signature bit: its
/// length and five of its characters (first, second, middle, last but one, last). The
/// migration's view and triggers spell out the same expression.
fn text_hash(s: &str) -> String {
    let code = |at: &str| format!("coalesce(unicode({at}), 0)");
    format!(
        "(length({s}) * 7 + {} * 31 + {} * 131 + {} * 17 + {} * 257 + {} * 13)",
        code(s),
        code(&format!("substr({s}, 2, 1)")),
        code(&format!("substr({s}, (length({s}) + 1) / 2, 1)")),
        code(&format!("substr({s}, -2, 1)")),
        code(&format!("substr({s}, -1)")),
    )
}

/// The signature bit of a folded tag `t` (SQL text), as 0015's view has it.
fn tag_bit(t: &str) -> String {
    format!("(1 << ({} % 61))", text_hash(t))
}

/// The signature bit of metadata key `k` with folded value `v` (SQL text), as 0015's view has it.
fn metadata_bit(k: &str, v: &str) -> String {
    format!("(1 << (({} * 3 + {} + 29) % 61))", text_hash(k), text_hash(v))
}

/// The expression `assets_terms` indexes (0013): an asset's tags (`t:` and the folded tag), its
/// metadata (`m:`, the key's length, `:`, the key, `=`, the folded value: the length keeps a key
/// holding `=` apart from a value that does) and every folder it lies in (`d:` and the path).
const TERMS: &str = "asset_terms(tags, metadata, path)";

/// The most assets a [`Plan::Terms`] gathers: each costs a row read (the terms index names
/// rows without holding anything else), and sorting a few thousand is still quick. A
/// conjunction met by more is answered by the other plans.
pub(crate) const TERMS_BELOW: i64 = GATHER_BELOW / 4;

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

/// How a search reaches the assets its filters allow. Neither way suits every value: a tag on
/// three assets is found at once from its index and costs a walk of the whole account in the
/// sort's order; a tag on a third of the account is the reverse (its ids are hundreds of
/// thousands to gather and sort, while a walk meets a hundred of them within a few hundred
/// rows). Neither engine can tell the two apart from the statement (SQLite, without
/// statistics, takes any index to narrow to a few rows, and guesses a fixed size for every
/// `IN (SELECT …)`), so the store counts first ([`narrowest`]) and says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The assets one filter's index names (a side table's, the names' and tags' for `q`, the
    /// paths' for a folder), each fetched by id, then sorted; every other side filter is
    /// checked by the asset's id. The account condition is kept off the sort indexes
    /// (`+a.account_id`), so that no engine walks the account instead. For `q`, the names are
    /// sorted with the date `assets_name_folded` holds (0009) and only the page's rows read.
    Gather(Driver),
    /// In the sort's order (its index), each asset checked in the side tables by its id.
    Walk,
    /// Newest first (or oldest) through the `pathPrefix` folder's own rows of `asset_folders`
    /// (`asset_folders_search`: account, folder, creation time, id): a walk that meets only
    /// the assets of that subtree, each checked in the side tables by its id before its row is
    /// read. Only for the creation-time sort, the one that index holds.
    Folders,
    /// Newest first (or oldest) through the n-th side filter's own index entries, a tag's or a
    /// metadata value's (`asset_tags_search`, `asset_metadata_search`: account, value,
    /// creation time, id; 0012): a walk that meets only the assets with that value, each
    /// checked in the other side tables by its id before its row is read. For the
    /// creation-time sort in one account, without a folder to walk.
    Dated(usize),
    /// Every asset that holds all the terms of the query's tags, metadata values and
    /// `pathPrefix` folder (PostgreSQL's GIN index intersects their lists) and meets the other
    /// conditions, up to [`TERMS_BELOW`], sorted, with their number: several filters, each on
    /// many assets, that few assets meet together. The store tries it first where it can
    /// ([`terms_statement`]) and keeps its answer when that number is under the bound.
    Terms,
}

/// The filter a [`Plan::Gather`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    /// The n-th side filter (tags, SKU, collection, favourites, metadata, in that order).
    Side(usize),
    Text,
    Path,
}

/// A filter whose assets are fewer than this many (times the number of filters, each of
/// which narrows a walk further) is gathered; otherwise the sort's order is walked. About
/// where the two cost the same for a page of 100 in a million: gathering N costs N lookups,
/// walking 100 x (1,000,000 / N) row checks.
pub(crate) const GATHER_BELOW: i64 = 10_000;

/// One side-table filter: a table (its rows name an asset by `asset_id`) and a condition.
struct Side {
    table: &'static str,
    condition: String,
}

impl Side {
    /// Whether the table's search index ends in (created_at, asset_id) after the condition's
    /// columns ([`Plan::Dated`]).
    fn dated(&self) -> bool {
        matches!(self.table, "asset_tags" | "asset_metadata")
    }
}

/// The filters of `q` on the row and in the side tables, their values bound in `b`.
struct Filters {
    /// The accounts in scope, `account_id IN (…) AND ` (empty for every account).
    in_scope: String,
    sides: Vec<Side>,
    /// `q`: the placeholders of its text and of [`TOP`].
    text: Option<(String, String)>,
    /// The folder conditions on `path` (`path_prefix`, `path`), unqualified.
    path: Option<String>,
    /// The placeholder of `path_prefix` (not empty), and the condition of `path` alone.
    prefix: Option<String>,
    exact_path: Option<String>,
    /// `asset_terms(…) @> ARRAY[…]`, for an engine with the terms index and a query with two
    /// or more filters it holds.
    terms: Option<String>,
    /// The bits of the query's tags and metadata values in a folder row's signature (an SQL
    /// expression), for an engine that keeps signatures.
    signature: Option<String>,
}

impl Filters {
    /// The ids `driver` names, as a statement (`SELECT id …`).
    fn ids(&self, driver: Driver) -> String {
        let scope = &self.in_scope;
        match driver {
            Driver::Side(i) => {
                let s = &self.sides[i];
                format!("SELECT asset_id FROM {} WHERE {scope}{}", s.table, s.condition)
            }
            Driver::Text => {
                let text = self.text.as_ref().map(|t| (prefix_range("name_folded", t), prefix_range("folded", t)));
                let (names, tags) = text.unwrap_or_default();
                format!(
                    "SELECT id FROM assets WHERE {scope}{names} UNION ALL SELECT asset_id FROM asset_tags WHERE {scope}{tags}"
                )
            }
            Driver::Path => format!("SELECT id FROM assets WHERE {scope}{}", self.path.clone().unwrap_or_default()),
        }
    }

    fn drivers(&self) -> Vec<Driver> {
        let mut out: Vec<Driver> = (0..self.sides.len()).map(Driver::Side).collect();
        out.extend(self.text.as_ref().map(|_| Driver::Text));
        out.extend(self.path.as_ref().map(|_| Driver::Path));
        out
    }

    /// Whether the terms condition holds side filter `i` (a tag or a metadata value).
    fn in_terms(&self, i: usize) -> bool {
        self.terms.is_some() && self.sides[i].dated()
    }
}

/// The range of values of `column` that start with the text `lo` (folded), below `top`.
fn prefix_range(column: &str, (lo, top): &(String, String)) -> String {
    format!("{column} >= lower({lo}) AND {column} < (lower({lo}) || {top})")
}

fn filters(q: &AssetQuery, features: Features, b: &mut Builder) -> Filters {
    // The accounts in scope, for the asset rows and for every side table (each is indexed by
    // account first).
    let in_scope = match &q.scope {
        Scope::All => String::new(),
        Scope::Accounts(accounts) => {
            let list: Vec<String> = accounts.iter().map(|a| b.arg(a.0)).collect();
            format!("account_id IN ({}) AND ", list.join(", "))
        }
    };
    let text = q.q.as_ref().map(|text| (b.arg(text.as_str()), b.arg(TOP)));
    let mut paths = Vec::new();
    let exact_path = q.path.as_ref().map(|path| format!("path = {}", b.arg(path.as_str())));
    paths.extend(exact_path.clone());
    let mut prefix_arg = None;
    if let Some(prefix) = q.path_prefix.as_deref().filter(|p| !p.is_empty()) {
        // One index range, from the folder to the end of its subfolders (`/` is followed by
        // `0`): the paths in it start with the prefix; the siblings among them that are not
        // below it (`a/b-c` for `a/b`) fail the second condition.
        let (p, lo, hi) = (b.arg(prefix), b.arg(format!("{prefix}/")), b.arg(format!("{prefix}0")));
        paths.push(format!("path >= {p} AND path < {hi} AND (path = {p} OR path >= {lo})"));
        prefix_arg = Some(p);
    }
    let path = (!paths.is_empty()).then(|| paths.join(" AND "));
    let mut sides = Vec::new();
    let mut bits: Vec<String> = Vec::new();
    // The same values as terms (see [`TERMS`]).
    let mut terms: Vec<String> = prefix_arg.iter().map(|p| format!("'d:' || {p}")).collect();
    for tag in &q.tags {
        let t = b.arg(tag.as_str());
        sides.push(Side { table: "asset_tags", condition: format!("folded = lower({t})") });
        terms.push(format!("'t:' || lower({t})"));
        bits.push(tag_bit(&format!("lower({t})")));
    }
    if let Some(sku) = &q.sku {
        let s = b.arg(sku.as_str());
        sides.push(Side { table: "asset_skus", condition: format!("sku = {s}") });
    }
    if let Some(collection) = &q.collection {
        let c = b.arg(collection.0.as_str());
        sides.push(Side { table: "asset_collections", condition: format!("collection_id = {c}") });
    }
    if let Some(user) = &q.favourite_of {
        let u = b.arg(user.0.as_str());
        sides.push(Side { table: "asset_favourites", condition: format!("user_id = {u}") });
    }
    for (key, value) in &q.metadata {
        let (k, v) = (b.arg(key.as_str()), b.arg(value.as_str()));
        sides.push(Side { table: "asset_metadata", condition: format!("key = {k} AND folded = lower({v})") });
        terms.push(format!("'m:' || length({k}) || ':' || {k} || '=' || lower({v})"));
        bits.push(metadata_bit(&k, &format!("lower({v})")));
    }
    let terms = (features.terms && terms.len() >= 2).then(|| format!("{TERMS} @> ARRAY[{}]", terms.join(", ")));
    let signature = (features.signatures && !bits.is_empty()).then(|| bits.join(" | "));
    Filters { in_scope, sides, text, path, prefix: prefix_arg, exact_path, terms, signature }
}

/// The bound of each count of [`narrowest`] for a query with `filters` filters.
fn gather_below(filters: usize) -> i64 {
    GATHER_BELOW * i64::try_from(filters.max(1)).unwrap_or(1)
}

/// The statement that counts the assets of `q`'s `pathPrefix` subtree, up to [`GATHER_BELOW`],
/// as one row `(n)`, when a [`Plan::Folders`] walk is to be weighed against gathering another
/// filter's assets; `None` when there is no such choice. `counts` are those of
/// [`narrowest`]'s statement: a filter can be gathered instead of the walk only with fewer
/// assets than a quarter of the subtree ([`folder_side_bound`]), which is never more than
/// [`GATHER_BELOW`] / 4, so when none is below that the subtree is not counted (the walk wins
/// whatever its size).
pub(crate) fn folder_count(q: &AssetQuery, counts: &[(i64, i64)]) -> Option<Stmt> {
    let narrowest = counts.iter().map(|(_, n)| *n).min().unwrap_or(GATHER_BELOW);
    if !folders_walkable(q) || narrowest >= folder_side_bound(None) {
        return None;
    }
    let mut b = Builder::default();
    let f = filters(q, Features { metadata_probe: "", terms: false, signatures: false, time_counts: false }, &mut b);
    let prefix = f.prefix.clone().unwrap_or_default();
    // Counted only as far as decides: at four times the narrowest filter's count (and more), it
    // is gathered ([`folder_side_bound`]).
    let bound = b.arg((narrowest * 4 + 4).min(GATHER_BELOW));
    let sql = format!(
        "SELECT count(*) FROM (SELECT asset_id FROM asset_folders WHERE {}folder = {prefix} LIMIT {bound}) AS s",
        f.in_scope
    );
    Some(Stmt::built(sql, b.args))
}

/// The bound of the counts weighed against a folder walk over `in_folder` assets (not counted:
/// [`GATHER_BELOW`] or more): gathering n ids reads n rows by id and sorts them, while the walk
/// reads index entries (a few probes each) and stops at the page; it pays only for a filter
/// much narrower than the subtree.
fn folder_side_bound(in_folder: Option<i64>) -> i64 {
    (in_folder.unwrap_or(GATHER_BELOW) / 4).max(1)
}

/// The statement that counts, for each filter of `q` that can start a [`Plan::Gather`], its
/// assets up to a bound (a few ten thousand index entries at most), as rows `(k, n)`; `None`
/// if `q` has none, or names its assets by id (then they are few). With a folder walk
/// possible, the folder is not among them (its count, if needed, comes after: see
/// [`folder_count`]), and the bound is the most [`folder_side_bound`] can be.
pub(crate) fn narrowest(q: &AssetQuery, features: Features) -> Option<Stmt> {
    if !q.ids.is_empty() {
        return None;
    }
    let mut b = Builder::default();
    let f = filters(q, features, &mut b);
    let drivers = f.drivers();
    let walkable = folders_walkable(q);
    // A folder alone is walked in its own index whatever its size, and so is a tag or a
    // metadata value alone: nothing to weigh.
    if drivers.is_empty() || (walkable && drivers == [Driver::Path]) || lone_dated(q, &f).is_some() {
        return None;
    }
    let bound = b.arg(if walkable { folder_side_bound(None) } else { gather_below(drivers.len()) });
    let counts: Vec<String> = drivers
        .iter()
        .enumerate()
        .filter(|(_, d)| !walkable || **d != Driver::Path)
        .map(|(k, d)| {
            format!("SELECT CAST({k} AS BIGINT) AS k, count(*) AS n FROM ({} LIMIT {bound}) AS s{k}", f.ids(*d))
        })
        .collect();
    Some(Stmt::built(counts.join(" UNION ALL "), b.args))
}

/// Whether `q` can walk a side filter's own index ([`Plan::Dated`]): the creation-time sort,
/// one account (the index is ordered within an account), no list of ids, no folder to walk.
fn dated_walkable(q: &AssetQuery) -> bool {
    q.ids.is_empty()
        && q.sort.field == SortField::CreatedAt
        && matches!(&q.scope, Scope::Accounts(a) if a.len() == 1)
        && !folders_walkable(q)
}

/// The side filter of `q` to walk when it is the only filter an index can list and its index
/// is dated: nothing to count, as its walk reads about a page of entries whatever its size.
fn lone_dated(q: &AssetQuery, f: &Filters) -> Option<usize> {
    let drivers = f.drivers();
    match drivers.as_slice() {
        [Driver::Side(i)] if dated_walkable(q) && f.sides[*i].dated() => Some(*i),
        _ => None,
    }
}

/// Whether `q` can be answered by [`Plan::Folders`]: a `pathPrefix` under the creation-time
/// sort, not a list of ids.
fn folders_walkable(q: &AssetQuery) -> bool {
    q.ids.is_empty() && q.sort.field == SortField::CreatedAt && q.path_prefix.as_deref().is_some_and(|p| !p.is_empty())
}

/// The plan for `q` from the counts of [`narrowest`]'s statement (none when it had none) and
/// of [`folder_count`]'s (`in_folder`, none when it was not needed).
///
/// With a folder under the creation-time sort, its walk ([`Plan::Folders`]) reads at most the
/// subtree's index entries, and never more than a walk of the whole account: only a filter
/// with far fewer assets than the subtree (a rare tag in a large folder) is gathered instead.
pub(crate) fn plan_for(q: &AssetQuery, features: Features, in_folder: Option<i64>, counts: &[(i64, i64)]) -> Plan {
    let mut b = Builder::default();
    let f = filters(q, features, &mut b);
    if let Some(i) = lone_dated(q, &f) {
        return Plan::Dated(i);
    }
    let drivers = f.drivers();
    let bound = if folders_walkable(q) { folder_side_bound(in_folder) } else { gather_below(drivers.len()) };
    let best = counts
        .iter()
        .filter(|(_, n)| *n < bound)
        .min_by_key(|(_, n)| *n)
        .and_then(|(k, _)| drivers.get(usize::try_from(*k).ok()?).copied());
    // Else the dated side filter with the fewest assets is walked: it meets fewer assets than
    // the sort's index does, in the same order.
    let dated = || {
        counts
            .iter()
            .filter_map(|(k, n)| match drivers.get(usize::try_from(*k).ok()?) {
                Some(Driver::Side(i)) if f.sides[*i].dated() => Some((*n, *i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i)
    };
    match best {
        Some(driver) => Plan::Gather(driver),
        None if folders_walkable(q) => Plan::Folders,
        None => match dated().filter(|_| dated_walkable(q)) {
            Some(i) => Plan::Dated(i),
            None => Plan::Walk,
        },
    }
}

/// The statement that answers `q` by [`Plan::Terms`], where the engine has the terms index and
/// `q` two or more filters it holds: rows of the page's assets, each with `matched`, the number
/// of assets gathered (at most [`TERMS_BELOW`]). Under the bound the page is the answer; at it,
/// or with no row to tell, the store plans as if there were no terms.
pub(crate) fn terms_statement(q: &AssetQuery, now: Millis, features: Features) -> Option<Stmt> {
    let mut b = Builder::default();
    let f = filters(q, features, &mut b);
    (q.ids.is_empty() && f.terms.is_some()).then(|| statement(q, now, Plan::Terms, features))
}

/// Where the engine counts assets by creation time and `q` is an offset of at least `from`
/// into the creation order with no filter but its scope (archived assets hidden), the page in
/// one statement: the bucket counts, summed in the query's order, name the bucket the offset
/// falls in and how many assets come before it; the walk of the creation index starts at that
/// bucket and skips only the rest. One statement, so the counts and the walk see one snapshot.
pub(crate) fn counted_skip_statement(q: &AssetQuery, features: Features, from: u64) -> Option<Stmt> {
    let Paging::Skip(skip) = q.paging else { return None };
    // Nothing but the scope, the order and the page (archived assets hidden, as by default):
    // compared with a query of no filter, so that a filter added later is never passed over.
    let bare = AssetQuery {
        archived: q.archived.filter(|only_archived| !only_archived),
        sort: q.sort,
        paging: q.paging.clone(),
        ..AssetQuery::new(q.scope.clone(), q.limit)
    };
    let unfiltered = *q == bare;
    if !(features.time_counts && unfiltered && q.sort.field == SortField::CreatedAt && skip >= from) {
        return None;
    }
    let mut b = Builder::default();
    let f = filters(q, features, &mut b);
    let scope = f.in_scope.as_str();
    let asset_scope = if scope.is_empty() { String::new() } else { format!("a.{scope}") };
    let skip = b.arg(int(skip));
    let limit = b.arg(int(q.limit));
    let (direction, op, start) = if q.sort.descending {
        ("DESC", "<", format!("(p.bucket + 1) << {BUCKET_BITS}"))
    } else {
        ("ASC", ">=", format!("p.bucket << {BUCKET_BITS}"))
    };
    let sql = format!(
        "WITH buckets AS (
           SELECT bucket, sum(live) AS n FROM asset_time_counts WHERE {scope}TRUE GROUP BY bucket
         ), ranked AS (
           SELECT bucket, n, sum(n) OVER (ORDER BY bucket {direction}) - n AS before FROM buckets
         ), pick AS (
           SELECT bucket, before FROM ranked WHERE before <= {skip} AND before + n > {skip}
         )
         SELECT {} FROM assets WHERE id IN (
           SELECT a.id FROM assets a WHERE {asset_scope}a.archived_at IS NULL AND EXISTS (SELECT 1 FROM pick)
             AND a.created_at {op} (SELECT {start} FROM pick p)
           ORDER BY a.created_at {direction}, a.id {direction}
           LIMIT {limit} OFFSET {skip} - (SELECT before FROM pick)
         ) ORDER BY created_at {direction}, id {direction}",
        asset_columns!()
    );
    Some(Stmt::built(sql, b.args))
}

/// The statement that answers `q` at `now` (the time licence expiry is judged by) by `plan`:
/// at most `q.limit` assets in the query's order.
pub(crate) fn statement(q: &AssetQuery, now: Millis, plan: Plan, features: Features) -> Stmt {
    let mut b = Builder::default();
    let f = filters(q, features, &mut b);
    let metadata_probe = features.metadata_probe;
    // The filters the terms condition holds are not checked again.
    let by_terms = plan == Plan::Terms;
    let in_scope = f.in_scope.as_str();
    let walk_folders = plan == Plan::Folders;
    let walked_side = match plan {
        Plan::Dated(i) => f.sides.get(i),
        _ => None,
    };
    // The asset's id as the side checks name it: in a folder or side walk, the walked row's,
    // so that they are made from indexes before the asset's row is read.
    let id = match plan {
        Plan::Folders => "f.asset_id",
        Plan::Dated(_) => "d.asset_id",
        _ => "a.id",
    };
    if !in_scope.is_empty() {
        let scope = in_scope.trim_end_matches(" AND ");
        b.when(match plan {
            Plan::Folders => format!("f.{scope}"),
            Plan::Dated(_) => format!("d.{scope}"),
            // Off the account's indexes: the terms index leads.
            Plan::Gather(_) | Plan::Terms => format!("+a.{scope}"),
            Plan::Walk => format!("a.{scope}"),
        });
    }
    if walk_folders {
        b.when(format!("f.folder = {}", f.prefix.clone().unwrap_or_default()));
        // Assets whose signature lacks a wanted bit are passed over from the index entry,
        // before any probe.
        if let Some(bits) = &f.signature {
            b.when(format!("(f.terms & ({bits})) = ({bits})"));
        }
    }
    if let Some(side) = walked_side {
        // Its columns are the side table's own (`folded`, `key`): no asset column has their
        // names.
        b.when(side.condition.clone());
    }
    if let Plan::Gather(driver) = plan
        && driver != Driver::Text
    {
        b.when(format!("a.id IN ({})", f.ids(driver)));
    }
    if let (Plan::Terms, Some(terms)) = (plan, &f.terms) {
        // Its columns are the asset row's only one in the statement: as the index names them.
        b.when(terms.clone());
    }
    // Every other side filter is checked by the asset's id (each side table's key starts with
    // `asset_id`).
    let exists = |table: &str, condition: &str| {
        // LIMIT 1 keeps each check a probe made where it is written: SQLite (3.46+) would
        // otherwise turn it into a join placed after the asset's row is read.
        let from = if table == "asset_metadata" { metadata_probe.to_owned() } else { format!("{table} m") };
        format!("EXISTS (SELECT 1 FROM {from} WHERE m.asset_id = {id} AND {condition} LIMIT 1)")
    };
    if let Some(text) = &f.text
        && plan != Plan::Gather(Driver::Text)
    {
        b.when(format!(
            "(({}) OR {})",
            prefix_range("a.name_folded", text),
            exists("asset_tags", &prefix_range("m.folded", text))
        ));
    }
    if !q.ids.is_empty() {
        let list: Vec<String> = q.ids.iter().map(|id| b.arg(id.0.as_str())).collect();
        b.when(format!("a.id IN ({})", list.join(", ")));
    }
    // The folder walk meets only the subtree's assets, as the terms hold only them; an exact
    // folder is still checked.
    let path = if walk_folders || by_terms { f.exact_path.as_ref() } else { f.path.as_ref() };
    if let Some(path) = path
        && plan != Plan::Gather(Driver::Path)
    {
        b.when(format!("({})", path.replace("path ", "a.path ")));
    }
    for (i, side) in f.sides.iter().enumerate() {
        if plan != Plan::Gather(Driver::Side(i)) && plan != Plan::Dated(i) && !(by_terms && f.in_terms(i)) {
            b.when(exists(side.table, &side.condition));
        }
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
    // The order as the walked index holds it: the folder rows carry the creation time.
    let (key, key_id) = match plan {
        Plan::Folders => ("f.created_at", "f.asset_id"),
        Plan::Dated(_) => ("d.created_at", "d.asset_id"),
        _ => (column, "a.id"),
    };
    let direction = if q.sort.descending { "DESC" } else { "ASC" };
    let tail = match &q.paging {
        Paging::After(Some(cursor)) => {
            let value = match &cursor.value {
                SortValue::Int(n) => b.arg(*n),
                SortValue::Text(s) => b.arg(s.as_str()),
            };
            let cursor_id = b.arg(cursor.id.0.as_str());
            let op = if q.sort.descending { "<" } else { ">" };
            b.when(format!("({key}, {key_id}) {op} ({value}, {cursor_id})"));
            format!(" LIMIT {}", b.arg(int(q.limit)))
        }
        Paging::After(None) => format!(" LIMIT {}", b.arg(int(q.limit))),
        Paging::Skip(n) => {
            let limit = b.arg(int(q.limit));
            format!(" LIMIT {limit} OFFSET {}", b.arg(int(*n)))
        }
    };
    let conditions = if b.conditions.is_empty() { "TRUE".to_owned() } else { b.conditions.join(" AND ") };
    let order = format!("ORDER BY {key} {direction}, {key_id} {direction}");
    // Three plans pick the page's ids first, from indexes where they can, and read only the
    // page's rows after.
    let page_ids = match plan {
        // SQLite keeps the folder rows as the outer loop (CROSS JOIN), as PostgreSQL chooses.
        Plan::Folders => Some(format!(
            "SELECT f.asset_id FROM asset_folders f CROSS JOIN assets a WHERE a.id = f.asset_id AND {conditions} {order}{tail}"
        )),
        Plan::Dated(_) => walked_side.map(|side| {
            format!(
                "SELECT d.asset_id FROM {} d CROSS JOIN assets a WHERE a.id = d.asset_id AND {conditions} {order}{tail}",
                side.table
            )
        }),
        // The names that start with the text, with their sort key and `archived_at`, from the
        // name index alone (0009); the assets tagged with it, by id; sorted together.
        // Each side is cut to the page (and what an offset skips) in the query's order before
        // the two are merged, so that the merge removes the doubles of a few hundred rows, not
        // of every name that starts with the text (2,327 of them took 1.7 ms to sort whole).
        Plan::Gather(Driver::Text) => {
            let text = f.text.as_ref().map(|t| (prefix_range("a.name_folded", t), prefix_range("folded", t)));
            let (names, tags) = text.unwrap_or_default();
            let reach = match q.paging {
                Paging::Skip(n) => b.arg(int(n.saturating_add(u64::try_from(q.limit).unwrap_or(u64::MAX)))),
                Paging::After(_) => b.arg(int(q.limit)),
            };
            let side = format!("ORDER BY {column} {direction}, a.id {direction} LIMIT {reach}");
            Some(format!(
                "SELECT g.id FROM (
                   SELECT * FROM (SELECT a.id AS id, {column} AS s FROM assets a WHERE {in_scope}{names} AND {conditions} {side}) n
                   UNION SELECT * FROM (SELECT a.id AS id, {column} AS s FROM assets a
                     WHERE a.id IN (SELECT asset_id FROM asset_tags WHERE {in_scope}{tags}) AND {conditions} {side}) t
                 ) g ORDER BY g.s {direction}, g.id {direction}{tail}"
            ))
        }
        // The skipped rows are counted off the ids alone (the sort indexes hold the id and
        // `archived_at`, so an unfiltered search skips them in the index without reading a
        // row).
        _ if matches!(q.paging, Paging::Skip(_)) => {
            Some(format!("SELECT a.id FROM assets a WHERE {conditions} {order}{tail}"))
        }
        _ => None,
    };
    if plan == Plan::Terms {
        // Gathered up to the bound, counted before the page is cut: the count says whether
        // that was all of them.
        let bound = b.arg(TERMS_BELOW);
        let sql = format!(
            "SELECT {}, count(*) OVER () AS matched FROM (SELECT * FROM assets a WHERE {conditions} LIMIT {bound}) AS a {order}{tail}",
            asset_columns!()
        );
        return Stmt::built(sql, b.args);
    }
    let sql = match page_ids {
        Some(ids) => {
            let outer = column.trim_start_matches("a.");
            format!(
                "SELECT {} FROM assets WHERE id IN ({ids}) ORDER BY {outer} {direction}, id {direction}",
                asset_columns!()
            )
        }
        None => format!("SELECT {} FROM assets a WHERE {conditions} {order}{tail}", asset_columns!()),
    };
    Stmt::built(sql, b.args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use assetlib_core::AccountId;

    /// An engine without the terms index, and one with it.
    const SQLITE: Features =
        Features { metadata_probe: "asset_metadata m", terms: false, signatures: true, time_counts: false };
    const POSTGRES: Features =
        Features { metadata_probe: "asset_metadata m", terms: true, signatures: false, time_counts: true };

    fn narrowest_sqlite(q: &AssetQuery) -> Option<Stmt> {
        narrowest(q, SQLITE)
    }

    fn plan_for_sqlite(q: &AssetQuery, in_folder: Option<i64>, counts: &[(i64, i64)]) -> Plan {
        plan_for(q, SQLITE, in_folder, counts)
    }

    fn query(prefix: Option<&str>, tag: &str) -> AssetQuery {
        let mut q = AssetQuery::new(Scope::Accounts(vec![AccountId(1)]), 100);
        q.path_prefix = prefix.map(str::to_owned);
        q.tags = vec![tag.to_owned()];
        q
    }

    #[test]
    fn a_folder_is_counted_only_when_a_filter_could_be_gathered_instead() {
        let q = query(Some("a/b"), "t");
        let cap = folder_side_bound(None);
        // Every other filter at the bound: the walk wins whatever the folder's size.
        assert!(folder_count(&q, &[(0, cap)]).is_none());
        assert_eq!(plan_for_sqlite(&q, None, &[(0, cap)]), Plan::Folders);
        // A narrow one: weighed against the folder's size.
        assert!(folder_count(&q, &[(0, 30)]).is_some());
        assert_eq!(plan_for_sqlite(&q, Some(GATHER_BELOW), &[(0, 30)]), Plan::Gather(Driver::Side(0)));
        assert_eq!(plan_for_sqlite(&q, Some(100), &[(0, 30)]), Plan::Folders, "30 is not much narrower than 100");
        // The folder alone: nothing to count.
        let mut alone = q.clone();
        alone.tags.clear();
        assert!(narrowest_sqlite(&alone).is_none() && folder_count(&alone, &[]).is_none());
        assert_eq!(plan_for_sqlite(&alone, None, &[]), Plan::Folders);
        // No folder to walk, and a filter an index of its own cannot walk in date order (a
        // collection): the sort's order, or the filter's assets.
        let mut q = query(None, "t");
        q.tags.clear();
        q.collection = Some(assetlib_core::CollectionId("c".into()));
        assert!(folder_count(&q, &[(0, 30)]).is_none());
        assert!(narrowest_sqlite(&q).is_some());
        assert_eq!(plan_for_sqlite(&q, None, &[(0, GATHER_BELOW)]), Plan::Walk);
        assert_eq!(plan_for_sqlite(&q, None, &[(0, 30)]), Plan::Gather(Driver::Side(0)));
    }

    #[test]
    fn one_tag_or_metadata_value_walks_its_own_index_in_date_order() {
        // Alone, in one account, newest or oldest first: no count at all.
        let q = query(None, "t");
        assert!(narrowest_sqlite(&q).is_none());
        assert_eq!(plan_for_sqlite(&q, None, &[]), Plan::Dated(0));
        let mut oldest = q.clone();
        oldest.sort.descending = false;
        assert_eq!(plan_for_sqlite(&oldest, None, &[]), Plan::Dated(0));
        let stmt = statement(&q, 0, Plan::Dated(0), SQLITE);
        let sql = stmt.text();
        assert!(sql.contains("FROM asset_tags d CROSS JOIN assets a"), "{sql}");
        assert!(sql.contains("ORDER BY d.created_at DESC, d.asset_id DESC"), "{sql}");
        // Beside a collection: the narrowest is gathered; else the dated side is walked.
        let mut two = q.clone();
        two.metadata = vec![("colour".into(), "red".into())];
        two.collection = Some(assetlib_core::CollectionId("c".into()));
        assert!(narrowest_sqlite(&two).is_some());
        assert_eq!(plan_for_sqlite(&two, None, &[(0, 30_000), (1, 500), (2, 30_000)]), Plan::Gather(Driver::Side(1)));
        // Every count at its bound: the first dated side (its walk meets fewer assets than the
        // sort's index does, in the same order).
        let cap = gather_below(3);
        assert_eq!(plan_for_sqlite(&two, None, &[(0, cap), (1, cap), (2, cap)]), Plan::Dated(0));
        // Other sorts, several accounts, every account, a folder, a list of ids: not dated.
        let mut by_name = q.clone();
        by_name.sort.field = SortField::Name;
        let mut two_accounts = q.clone();
        two_accounts.scope = Scope::Accounts(vec![AccountId(1), AccountId(2)]);
        let mut all = q.clone();
        all.scope = Scope::All;
        let mut ids = q.clone();
        ids.ids = vec![assetlib_core::AssetId("x".into())];
        for other in [by_name, two_accounts, all, ids] {
            assert_ne!(plan_for_sqlite(&other, None, &[(0, GATHER_BELOW)]), Plan::Dated(0), "{other:?}");
        }
        assert_eq!(plan_for_sqlite(&query(Some("a"), "t"), None, &[(0, folder_side_bound(None))]), Plan::Folders);
    }

    #[test]
    fn a_conjunction_is_gathered_from_the_terms_index_where_the_engine_has_one() {
        let mut q = query(Some("clients/brand-07"), "Product");
        q.metadata = vec![("channel".into(), "web".into())];
        let sql = terms_statement(&q, 0, POSTGRES).unwrap().text().to_owned();
        assert!(sql.contains("asset_terms(tags, metadata, path) @> ARRAY['d:' || $"), "{sql}");
        assert!(sql.contains("count(*) OVER () AS matched") && sql.contains("+a.account_id IN ($1)"), "{sql}");
        // The terms hold the tag, the value and the folder: none is checked again.
        assert!(!sql.contains("asset_tags") && !sql.contains("asset_metadata") && !sql.contains("a.path"), "{sql}");
        assert!(terms_statement(&q, 0, SQLITE).is_none());
        // Filters the terms do not hold still are.
        let mut more = q.clone();
        more.collection = Some(assetlib_core::CollectionId("c".into()));
        more.path = Some("clients/brand-07".into());
        let sql = terms_statement(&more, 0, POSTGRES).unwrap().text().to_owned();
        assert!(sql.contains("asset_collections") && sql.contains("(a.path = $"), "{sql}");
        // No other plan uses them.
        for plan in [Plan::Folders, Plan::Walk, Plan::Gather(Driver::Side(1)), Plan::Dated(0)] {
            let sql = statement(&q, 0, plan, POSTGRES).text().to_owned();
            assert!(!sql.contains("asset_terms") && sql.contains("asset_metadata"), "{plan:?}: {sql}");
        }
        // One filter the terms hold, or a list of ids: nothing to intersect.
        let mut one = q.clone();
        one.metadata.clear();
        one.path_prefix = None;
        one.collection = Some(assetlib_core::CollectionId("c".into()));
        assert!(terms_statement(&one, 0, POSTGRES).is_none());
        let mut ids = q.clone();
        ids.ids = vec![assetlib_core::AssetId("x".into())];
        assert!(terms_statement(&ids, 0, POSTGRES).is_none());
    }
    #[test]
    fn a_folder_walk_tests_the_signature_first_where_the_engine_keeps_one() {
        let mut q = query(Some("clients/brand-07"), "Product");
        q.metadata = vec![("channel".into(), "web".into())];
        let sql = statement(&q, 0, Plan::Folders, SQLITE).text().to_owned();
        let test = sql.find("(f.terms & (").unwrap_or_else(|| panic!("{sql}"));
        assert!(test < sql.find("EXISTS").unwrap(), "before any probe: {sql}");
        // The probes still decide.
        assert!(sql.contains("asset_tags") && sql.contains("asset_metadata"), "{sql}");
        // Not where the engine keeps none, and not for other filters alone.
        assert!(!statement(&q, 0, Plan::Folders, POSTGRES).text().contains("f.terms"));
        let mut collection = query(Some("a"), "t");
        collection.tags.clear();
        collection.collection = Some(assetlib_core::CollectionId("c".into()));
        assert!(!statement(&collection, 0, Plan::Folders, SQLITE).text().contains("f.terms"));
    }
}
