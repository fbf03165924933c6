//! `assetlib-bench search`: the native search route over one account of a million assets with
//! realistic attributes (see `search_library.rs`), on SQLite and on PostgreSQL.
//!
//! For each engine: a fresh server makes the schema and the account, the library is loaded in
//! bulk by SQL, the server starts again on it, and then
//! 1. the load is checked against the server's own writes: sample loaded assets are read back
//!    through `GET /api/v1/accounts/1/assets/{id}`, an asset is uploaded and PATCHed through the
//!    API with the same attributes, and its row and side rows must equal the loaded asset's;
//! 2. each query is timed through the native `GET /api/v1/accounts/1/assets` and, where Hivo
//!    has the filter, through Hivo's `GET /api/rest/v1/assets` (with a key restricted to the
//!    account, as a Hivo client holds), one request at a time on one keep-alive HTTP/1.1
//!    connection, after untimed warm-up requests, every answer checked to be the first
//!    answer's page; the offset page through Hivo's `skip` (the native route pages by cursor).
//!
//! Everything listens on 127.0.0.1 and every loop is bounded in requests and time.

use crate::library::Library;
use crate::load::{Sender, Stats, connect};
use crate::procs;
use crate::report::Machine;
use crate::search_library::{self as sl, Loaded, Vocab};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{AUTHORIZATION, HOST};
use serde_json::{Value, json};
use sqlx::Connection;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const BEGIN: &str = "<!-- assetlib-bench search: begin (this section is rewritten by every search run) -->";
pub const END: &str = "<!-- assetlib-bench search: end -->";

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// A PostgreSQL URL whose role may create databases; the run creates a fresh database and
    /// drops it at the end.
    #[arg(long, env = "BENCH_POSTGRES_URL", default_value = "postgres://assetlib:assetlib@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Which engines to run: `sqlite`, `postgres` or both.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    engines: Vec<String>,
    /// Assets in the account.
    #[arg(long, default_value_t = 1_000_000)]
    assets: usize,
    /// Folder rows (the root, 99 brands and campaign folders under them).
    #[arg(long, default_value_t = 30_000)]
    folders: usize,
    /// Timed requests per query.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Untimed requests per query before the timed ones.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Seconds at most per query (warm-up included); a query cut short says so.
    #[arg(long, default_value_t = 60.0)]
    query_secs: f64,
    /// Depth of the cursor page (walked to in pages of 1000).
    #[arg(long, default_value_t = 100_000)]
    deep: usize,
    /// The offset timed through Hivo's `skip`.
    #[arg(long, default_value_t = 65_536)]
    skip: u64,
    /// Target: p50 at most this many ms for every query.
    #[arg(long, default_value_t = 10.0)]
    max_p50_ms: f64,
    /// Target: p99 at most this many ms for every query.
    #[arg(long, default_value_t = 50.0)]
    max_p99_ms: f64,
    /// Keep the run's PostgreSQL database and data dirs (for EXPLAIN afterwards, or
    /// `--reuse`).
    #[arg(long)]
    keep: bool,
    /// Time the library a `--keep` run left in this work dir instead of loading one (its
    /// `sqlite/` data dir, and the PostgreSQL database named in its `postgres-database`): for
    /// trying a change in minutes. Give the same --assets, --folders and --seed as that run.
    /// The figures say so; the library keeps what each run's checks wrote.
    #[arg(long)]
    reuse: Option<PathBuf>,
    #[command(flatten)]
    pub run: crate::report::RunArgs,
}

/// One timed query: its name, what it asks, and its figures per engine.
struct QueryResult {
    name: String,
    params: String,
    how: &'static str,
    items: usize,
    stats: Stats,
    capped: bool,
}

struct EngineRun {
    engine: &'static str,
    version: String,
    loaded: Loaded,
    checks: Vec<String>,
    queries: Vec<QueryResult>,
}

/// How a request is authenticated: the native bearer key, or Hivo's user and key headers.
enum Auth {
    Bearer(String),
    Hivo { user: String, key: String },
}

async fn get_json(sender: &mut Sender, addr: SocketAddr, auth: &Auth, target: &str) -> anyhow::Result<(Value, usize)> {
    let req = Request::get(target).header(HOST, addr.to_string());
    let req = match auth {
        Auth::Bearer(key) => req.header(AUTHORIZATION, format!("Bearer {key}")),
        Auth::Hivo { user, key } => req.header("x-user-id", user.as_str()).header("x-api-key", key.as_str()),
    };
    let req = req.body(Empty::<Bytes>::new())?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if status != hyper::StatusCode::OK {
        bail!("GET {target}: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok((serde_json::from_slice(&body).context("not JSON")?, body.len()))
}

const NATIVE_SEARCH: &str = "/api/v1/accounts/1/assets";
const HIVO_SEARCH: &str = "/api/rest/v1/assets";

fn search_target(params: &[(&str, String)]) -> String {
    target_at(NATIVE_SEARCH, params)
}

fn target_at(path: &str, params: &[(&str, String)]) -> String {
    let base = format!("http://x{path}");
    let url = reqwest::Url::parse_with_params(&base, params)
        .unwrap_or_else(|_| reqwest::Url::parse(&base).unwrap_or_else(|_| unreachable!("a constant URL")));
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The ids of a page: the native `items` or Hivo's `data`.
fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .or_else(|| page["data"].as_array())
        .map(|a| a.iter().filter_map(|i| i["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// How each query is timed.
struct Timing {
    warmup: usize,
    requests: usize,
    /// Bounds one query, warm-up included.
    cap: Duration,
}

impl Timing {
    fn of(args: &SearchArgs) -> Self {
        Self { warmup: args.warmup, requests: args.requests, cap: Duration::from_secs_f64(args.query_secs) }
    }
}

/// Times `target`: `warmup` untimed requests, then `requests` timed, each answer the first's.
async fn time_query(
    addr: SocketAddr,
    auth: &Auth,
    how: &'static str,
    name: &str,
    params: String,
    target: &str,
    t: &Timing,
) -> anyhow::Result<QueryResult> {
    let (warmup, requests) = (t.warmup, t.requests);
    let mut sender = connect(addr).await?;
    let stop_at = Instant::now() + t.cap;
    let (first, _) = get_json(&mut sender, addr, auth, target).await.with_context(|| name.to_owned())?;
    let want = ids_of(&first);
    let mut latencies = Vec::with_capacity(requests);
    let mut bytes = 0;
    let mut capped = false;
    let started = Instant::now();
    for n in 0..warmup + requests {
        if Instant::now() >= stop_at {
            capped = true;
            break;
        }
        let t = Instant::now();
        let (page, len) = get_json(&mut sender, addr, auth, target).await?;
        let took = t.elapsed();
        anyhow::ensure!(ids_of(&page) == want, "{name}: an answer differs from the first");
        if n >= warmup {
            latencies.push(took.as_micros() as u64);
            bytes += len as u64;
        }
    }
    let stats = Stats::new(latencies, started.elapsed(), bytes);
    println!(
        "  {how:<6} {name:<34} {:>4} items  p50 {:>8.2} ms  p99 {:>8.2} ms{}",
        want.len(),
        stats.percentile_ms(50.0),
        stats.percentile_ms(99.0),
        if capped { " (cut short by the time cap)" } else { "" }
    );
    Ok(QueryResult { name: name.to_owned(), params, how, items: want.len(), stats, capped })
}

/// A connection to the run's database, for checks: every column read as text.
enum Db {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Db {
    async fn open(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            Db::Sqlite(sqlx::SqliteConnection::connect(url).await?)
        } else {
            Db::Pg(sqlx::PgConnection::connect(url).await?)
        })
    }

    /// The rows of `sql` (every column `CAST(... AS TEXT)` by the caller), with `$1` = `arg`.
    async fn rows(&mut self, sql: &str, arg: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        use sqlx::Row;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        Ok(match self {
            Db::Sqlite(c) => sqlx::query(sql)
                .bind(arg)
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<_, _>>())
                .collect::<Result<_, _>>()?,
            Db::Pg(c) => sqlx::query(sql)
                .bind(arg)
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<_, _>>())
                .collect::<Result<_, _>>()?,
        })
    }

    async fn one(&mut self, sql: &str, arg: &str) -> anyhow::Result<Option<String>> {
        Ok(self.rows(sql, arg).await?.into_iter().next().and_then(|r| r.into_iter().next()).flatten())
    }

    async fn close(self) {
        let _ = match self {
            Db::Sqlite(c) => c.close().await,
            Db::Pg(c) => c.close().await,
        };
    }
}

/// The row columns a write sets from an asset's attributes (times compared as null or not:
/// a PATCH sets the marks to its own time), and each side table's rows but the asset id (the
/// creation time of tag and metadata rows compared with the asset's).
const ROW_CHECK: &str = "SELECT tags, skus, collection_ids, favourites, metadata, batch_id,
     CAST(approved_at IS NULL AS TEXT), CAST(sensitive_at IS NULL AS TEXT), CAST(archived_at IS NULL AS TEXT),
     CAST(expires_at AS TEXT), CAST(license_expires_at AS TEXT), CAST(name_folded = lower(name) AS TEXT),
     CAST(account_id AS TEXT), created_by
   FROM assets WHERE id = $1";
const SIDE_CHECKS: [&str; 5] = [
    "SELECT CAST(t.account_id AS TEXT), t.tag, t.folded, CAST(t.created_at = a.created_at AS TEXT)
       FROM asset_tags t JOIN assets a ON a.id = t.asset_id WHERE t.asset_id = $1 ORDER BY t.tag",
    "SELECT CAST(account_id AS TEXT), sku FROM asset_skus WHERE asset_id = $1 ORDER BY sku",
    "SELECT CAST(m.account_id AS TEXT), m.key, m.value, m.folded, CAST(m.created_at = a.created_at AS TEXT)
       FROM asset_metadata m JOIN assets a ON a.id = m.asset_id WHERE m.asset_id = $1 ORDER BY m.key",
    "SELECT CAST(account_id AS TEXT), collection_id FROM asset_collections WHERE asset_id = $1 ORDER BY collection_id",
    "SELECT CAST(account_id AS TEXT), user_id FROM asset_favourites WHERE asset_id = $1 ORDER BY user_id",
];

/// The folder side rows of an asset that agree with its row (account, creation time, and a
/// folder its path is or lies below), in folder order; they must be all of its folders.
const FOLDER_CHECK: &str = "SELECT f.folder FROM asset_folders f JOIN assets a ON a.id = f.asset_id
     WHERE f.asset_id = $1 AND f.account_id = a.account_id AND f.created_at = a.created_at
       AND (a.path = f.folder OR substr(a.path, 1, length(f.folder) + 1) = f.folder || '/')
     ORDER BY f.folder";
const FOLDER_ROWS: &str = "SELECT CAST(count(*) AS TEXT) FROM asset_folders WHERE asset_id = $1";
const PATH_OF: &str = "SELECT path FROM assets WHERE id = $1";

/// An asset's folders, as its folder side rows should name them: `a/b` gives `a`, `a/b`.
fn folders_of(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < path.len() {
        let end = path[at..].find('/').map_or(path.len(), |i| at + i);
        out.push(path[..end].to_owned());
        at = end + 1;
    }
    out
}

/// Checks the folder side rows of the asset `id` against its path.
async fn check_folders(db: &mut Db, id: &str) -> anyhow::Result<()> {
    let path = db.one(PATH_OF, id).await?.context("the asset's path")?;
    let found: Vec<String> =
        db.rows(FOLDER_CHECK, id).await?.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
    let all: usize = db.one(FOLDER_ROWS, id).await?.unwrap_or_default().parse()?;
    let want = folders_of(&path);
    anyhow::ensure!(found == want && all == want.len(), "{id} at '{path}': folder rows {found:?} ({all} in all)");
    Ok(())
}

/// The fields of an asset's JSON that its attributes decide.
const ATTRIBUTE_FIELDS: [&str; 9] =
    ["tags", "skus", "metadata", "collectionIds", "batchId", "expiresAt", "licenseExpiresAt", "favorite", "accountId"];

/// Checks loaded assets against what the server writes for the same attributes; returns what
/// was checked.
async fn check_load(addr: SocketAddr, key: &str, db_url: &str) -> anyhow::Result<Vec<String>> {
    let mut db = Db::open(db_url).await?;
    let picks = [
        (
            "tags, SKUs, metadata, collections, batch, approval and expiry",
            "SELECT id FROM assets WHERE account_id = 1 AND tags <> '[]' AND skus <> '[]' AND metadata <> '{}'
               AND collection_ids <> '[]' AND batch_id IS NOT NULL AND approved_at IS NOT NULL AND archived_at IS NULL
               AND expires_at IS NOT NULL AND $1 = $1 ORDER BY id LIMIT 1",
        ),
        (
            "a favourite with a licence expiry",
            "SELECT id FROM assets WHERE account_id = 1 AND favourites <> '[]' AND license_expires_at IS NOT NULL
               AND $1 = $1 ORDER BY id LIMIT 1",
        ),
        (
            "archived and sensitive",
            "SELECT id FROM assets WHERE account_id = 1 AND archived_at IS NOT NULL AND sensitive_at IS NOT NULL
               AND $1 = $1 ORDER BY id LIMIT 1",
        ),
        (
            "in two collections",
            "SELECT id FROM assets WHERE account_id = 1 AND collection_ids LIKE '%,%' AND $1 = $1 ORDER BY id LIMIT 1",
        ),
        (
            "no tags, SKUs, collections or batch",
            "SELECT id FROM assets WHERE account_id = 1 AND tags = '[]' AND skus = '[]' AND collection_ids = '[]'
               AND favourites = '[]' AND batch_id IS NULL AND $1 = $1 ORDER BY id LIMIT 1",
        ),
    ];
    let http = crate::load::upload_client(1)?;
    let base = format!("http://{addr}/api/v1/accounts/1/assets");
    let mut checked = Vec::new();
    for (n, (what, sql)) in picks.iter().enumerate() {
        let id = db.one(sql, "x").await?.with_context(|| format!("no loaded asset is {what}"))?;
        let loaded: Value =
            http.get(format!("{base}/{id}")).bearer_auth(key).send().await?.error_for_status()?.json().await?;
        // Read back: the JSON holds what the row holds.
        let row = db.rows(ROW_CHECK, &id).await?.into_iter().next().context("the row")?;
        let parse = |v: &Option<String>| -> anyhow::Result<Value> {
            Ok(serde_json::from_str(v.as_deref().context("a JSON column is NULL")?)?)
        };
        anyhow::ensure!(loaded["tags"] == parse(&row[0])?, "{id}: tags read back differ");
        anyhow::ensure!(loaded["skus"] == parse(&row[1])?, "{id}: SKUs read back differ");
        anyhow::ensure!(loaded["collectionIds"] == parse(&row[2])?, "{id}: collections read back differ");
        anyhow::ensure!(loaded["metadata"] == parse(&row[4])?, "{id}: metadata read back differs");
        // The same attributes written through the API onto a new asset.
        let up: Value = http
            .post(format!("{base}?key=search-check/check-{n}.jpg"))
            .bearer_auth(key)
            .body(vec![0xffu8, 0xd8, 0xff, 0xe0, 1, 2, 3, 4])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let new_id = up["id"].as_str().context("upload: no id")?.to_owned();
        let patch = json!({
            "tags": loaded["tags"], "skus": loaded["skus"], "metadata": loaded["metadata"],
            "collectionIds": loaded["collectionIds"], "batchId": loaded["batchId"],
            "approved": !loaded["approvedAt"].is_null(), "sensitive": !loaded["sensitiveAt"].is_null(),
            "archived": !loaded["archivedAt"].is_null(), "expiresAt": loaded["expiresAt"],
            "licenseExpiresAt": loaded["licenseExpiresAt"], "favorite": loaded["favorite"],
        });
        let resp = http.patch(format!("{base}/{new_id}")).bearer_auth(key).json(&patch).send().await?;
        let status = resp.status();
        let patched: Value = resp.json().await?;
        anyhow::ensure!(status.is_success(), "PATCH {new_id}: {status} {patched}");
        let written: Value =
            http.get(format!("{base}/{new_id}")).bearer_auth(key).send().await?.error_for_status()?.json().await?;
        for field in ATTRIBUTE_FIELDS {
            anyhow::ensure!(
                loaded[field] == written[field],
                "{field}: loaded {id} reads {}, written {new_id} reads {}",
                loaded[field],
                written[field]
            );
        }
        for field in ["approvedAt", "sensitiveAt", "archivedAt"] {
            anyhow::ensure!(loaded[field].is_null() == written[field].is_null(), "{field}: set on one only");
        }
        let written_row = db.rows(ROW_CHECK, &new_id).await?.into_iter().next().context("the written row")?;
        anyhow::ensure!(row == written_row, "row of loaded {id} {row:?} differs from written {new_id} {written_row:?}");
        for sql in SIDE_CHECKS {
            let (a, b) = (db.rows(sql, &id).await?, db.rows(sql, &new_id).await?);
            anyhow::ensure!(a == b, "{sql}: loaded {id} has {a:?}, written {new_id} has {b:?}");
        }
        // The folder rows differ by path and time: each must match its own asset's.
        check_folders(&mut db, &id).await?;
        check_folders(&mut db, &new_id).await?;
        let gone = http.delete(format!("{base}/{new_id}")).bearer_auth(key).send().await?;
        anyhow::ensure!(gone.status().as_u16() == 204, "DELETE {new_id}: {}", gone.status());
        checked.push(format!("{what} (`{id}`)"));
        println!("  loaded asset {id} ({what}) reads back and matches the server's own write");
    }
    db.close().await;
    Ok(checked)
}

/// The parameters of the timed queries, from the loaded data.
struct QueryPlan {
    popular_tag: String,
    rare_tag: String,
    rare_count: i64,
    collection: String,
    brand: String,
}

async fn plan_queries(db_url: &str, vocab: &Vocab) -> anyhow::Result<QueryPlan> {
    let mut db = Db::open(db_url).await?;
    let mut rare = None;
    // From the rarest ranks down: the first with a few assets (a few draws in a million).
    for r in (100..=sl::TAGS).rev().step_by(7) {
        let tag = sl::tag_name(r);
        let n: i64 = db
            .one(
                "SELECT CAST(count(*) AS TEXT) FROM asset_tags t JOIN assets a ON a.id = t.asset_id
                 WHERE t.account_id = 1 AND t.folded = lower($1) AND a.archived_at IS NULL",
                &tag,
            )
            .await?
            .unwrap_or_default()
            .parse()?;
        if (3..=20).contains(&n) {
            rare = Some((tag, n));
            break;
        }
    }
    db.close().await;
    let (rare_tag, rare_count) = rare.context("no rare tag with 3 to 20 assets")?;
    Ok(QueryPlan {
        popular_tag: sl::tag_name(1),
        rare_tag,
        rare_count,
        collection: vocab.collections[0].0.clone(),
        brand: "clients/brand-50".to_owned(),
    })
}

/// The HTTP queries: name and parameters.
fn http_queries(p: &QueryPlan) -> Vec<(String, Vec<(&'static str, String)>)> {
    let s = |v: &str| v.to_owned();
    vec![
        (s("`q` prefix (name or tag)"), vec![("q", s("misty-gar"))]),
        (s("one tag, popular (rank 1)"), vec![("tag", p.popular_tag.clone())]),
        (format!("one tag, rare ({} assets)", p.rare_count), vec![("tag", p.rare_tag.clone())]),
        (s("one metadata value"), vec![("meta.colour", s("red"))]),
        (s("one collection"), vec![("collectionId", p.collection.clone())]),
        (s("path prefix (a brand)"), vec![("pathPrefix", p.brand.clone())]),
        (
            s("three filters: tag + metadata + path prefix"),
            vec![("tag", p.popular_tag.clone()), ("meta.channel", s("web")), ("pathPrefix", s("clients/brand-07"))],
        ),
        (s("sort by name"), vec![("sort", s("name"))]),
        (s("matches nothing (unknown tag)"), vec![("tag", s("no-such-tag"))]),
    ]
}

/// The Hivo queries (limit 100, to compare with the native pages): the native queries Hivo
/// has filters for (no tag filter: `filter[search]` covers tags by prefix), its ascending
/// sort, and an offset page.
fn hivo_queries(p: &QueryPlan, skip: u64) -> Vec<(String, Vec<(&'static str, String)>)> {
    let s = |v: &str| v.to_owned();
    let limit = || ("limit", s("100"));
    vec![
        (s("`filter[search]` prefix (name or tag)"), vec![("filter[search]", s("misty-gar")), limit()]),
        (s("one metadata value"), vec![("filter[metadata][colour]", s("red")), limit()]),
        (s("one collection"), vec![("filter[collectionId]", p.collection.clone()), limit()]),
        (s("path prefix (a brand)"), vec![("filter[pathPrefix]", p.brand.clone()), limit()]),
        (
            s("three filters: metadata + approved + path prefix"),
            vec![
                ("filter[metadata][channel]", s("web")),
                ("filter[approved]", s("true")),
                ("filter[pathPrefix]", s("clients/brand-07")),
                limit(),
            ],
        ),
        (s("oldest first"), vec![("sort", s("createdAt")), limit()]),
        (s("matches nothing (unknown SKU)"), vec![("filter[sku]", s("no-such-sku")), limit()]),
        (format!("offset {}", thousands(skip)), vec![("skip", skip.to_string()), limit()]),
    ]
}

/// A key restricted to account 1, made through the native API with the server's first key,
/// as Hivo's headers carry it.
async fn hivo_auth(addr: SocketAddr, admin_key: &str) -> anyhow::Result<Auth> {
    let made: Value = crate::load::upload_client(1)?
        .post(format!("http://{addr}/api/v1/accounts/1/keys"))
        .bearer_auth(admin_key)
        .json(&json!({"name": "bench-hivo", "readOnly": true}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let field = |k: &str| made[k].as_str().map(str::to_owned).with_context(|| format!("the new key has no {k}"));
    Ok(Auth::Hivo { user: field("userId")?, key: field("key")? })
}

fn describe(params: &[(&str, String)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Walks the default sort in pages of 1000 to `depth`, then times the page of 100 there.
async fn time_deep_cursor(addr: SocketAddr, auth: &Auth, args: &SearchArgs) -> anyhow::Result<QueryResult> {
    let mut sender = connect(addr).await?;
    let mut cursor: Option<String> = None;
    let mut walked = 0;
    let started = Instant::now();
    while walked < args.deep {
        let mut params = vec![("limit", (args.deep - walked).min(1000).to_string())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let (page, _) = get_json(&mut sender, addr, auth, &search_target(&params)).await?;
        walked += ids_of(&page).len();
        cursor = Some(page["nextCursor"].as_str().context("the walk ended early")?.to_owned());
    }
    println!("  walked {walked} assets in pages of 1000 in {:.1} s", started.elapsed().as_secs_f64());
    let params = vec![("cursor", cursor.context("no cursor")?)];
    let target = search_target(&params);
    let mut q = time_query(addr, auth, "native", "cursor page deep", String::new(), &target, &Timing::of(args)).await?;
    q.name = format!("cursor page {} deep", thousands(args.deep as u64));
    q.params = format!("cursor=… (after {} assets, walked with limit=1000)", thousands(args.deep as u64));
    Ok(q)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn owner_of(data_dir: &Path) -> anyhow::Result<String> {
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(data_dir.join("initial-credentials.json"))?)?;
    Ok(creds["userId"].as_str().context("initial-credentials.json has no userId")?.to_owned())
}

/// The file of a kept work dir that names its PostgreSQL database.
const KEPT_DATABASE: &str = "postgres-database";

/// Loads, checks and times one engine.
async fn run_engine(
    engine: &'static str,
    args: &SearchArgs,
    lib: &Library,
    vocab: &Vocab,
    data_dir: &Path,
    flags: &[String],
    db_url: &str,
) -> anyhow::Result<EngineRun> {
    println!("{engine}:");
    let loaded = match (&args.reuse, engine == "SQLite") {
        (Some(_), true) => sl::count_sqlite(&data_dir.join("assetlib.db"), lib).await?,
        (Some(_), false) => sl::count_postgres(db_url, lib).await?,
        (None, sqlite) => {
            drop(procs::start_assetlib_with(&args.assetlib, data_dir, flags, &[])?); // schema, account 1, owner
            let owner = owner_of(data_dir)?;
            println!("  loading {} assets ...", lib.total());
            if sqlite {
                sl::load_sqlite(&data_dir.join("assetlib.db"), lib, vocab, &owner).await?
            } else {
                sl::load_postgres(db_url, lib, vocab, &owner).await?
            }
        }
    };
    println!(
        "  loaded in {:.1} s{}: {} assets, {} tag rows, {} metadata rows, {} collection rows, {} SKU rows, {} favourites, {} folder rows, {} archived",
        loaded.took.as_secs_f64(),
        loaded.vacuum.map(|v| format!(" (VACUUM ANALYZE {:.1} s more)", v.as_secs_f64())).unwrap_or_default(),
        loaded.assets,
        loaded.tag_rows,
        loaded.metadata_rows,
        loaded.collection_rows,
        loaded.sku_rows,
        loaded.favourite_rows,
        loaded.folder_rows,
        loaded.archived
    );
    let version = if engine == "SQLite" {
        let mut db = Db::open(db_url).await?;
        let v = db.one("SELECT 'SQLite ' || sqlite_version() WHERE $1 = $1", "x").await?.unwrap_or_default();
        db.close().await;
        v
    } else {
        let mut db = Db::open(db_url).await?;
        let v = db
            .one("SELECT 'PostgreSQL ' || current_setting('server_version') WHERE $1 = $1", "x")
            .await?
            .unwrap_or_default();
        db.close().await;
        v
    };
    let plan = plan_queries(db_url, vocab).await?;
    let server = procs::start_assetlib_with(&args.assetlib, data_dir, flags, &[])?;
    println!("  assetlib on {} (pid {})", server.addr, server.proc.pid());
    let checks = check_load(server.addr, &server.api_key, db_url).await?;
    let timing = Timing::of(args);
    let native = Auth::Bearer(server.api_key.clone());
    let mut queries = Vec::new();
    for (name, params) in http_queries(&plan) {
        let target = search_target(&params);
        queries.push(time_query(server.addr, &native, "native", &name, describe(&params), &target, &timing).await?);
    }
    queries.push(time_deep_cursor(server.addr, &native, args).await?);
    let hivo = hivo_auth(server.addr, &server.api_key).await?;
    for (name, params) in hivo_queries(&plan, args.skip) {
        let target = target_at(HIVO_SEARCH, &params);
        queries.push(time_query(server.addr, &hivo, "Hivo", &name, describe(&params), &target, &timing).await?);
    }
    drop(server);
    Ok(EngineRun { engine, version, loaded, checks, queries })
}

pub async fn run(args: SearchArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.folders > 200 && args.assets >= args.folders, "at least 201 folders and one asset per folder");
    anyhow::ensure!(args.requests > 0, "--requests must be positive");
    let machine = Machine::probe();
    let loadavg_before = crate::report::loadavg();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let tmp = args.run.temp_dir("assetlib-bench-search-")?;
    let base = args.reuse.clone().unwrap_or_else(|| tmp.path().to_owned());
    println!("assetlib-bench search: {assetlib_version}; work dir {}", base.display());
    println!(
        "machine: {} cores, {}, {} memory; load average {loadavg_before}",
        machine.cores, machine.cpu, machine.memory
    );
    let brands = 99;
    let lib = Library::new(1, args.assets, args.folders - 1 - brands, brands)?;
    let vocab = Vocab::new(args.run.seed);
    let mut runs = Vec::new();
    for engine in &args.engines {
        match engine.as_str() {
            "sqlite" => {
                let dir = base.join("sqlite");
                let url = format!("sqlite://{}", dir.join("assetlib.db").display());
                runs.push(run_engine("SQLite", &args, &lib, &vocab, &dir, &[], &url).await?);
            }
            "postgres" => {
                let db = match &args.reuse {
                    Some(dir) => {
                        let name = std::fs::read_to_string(dir.join(KEPT_DATABASE))
                            .with_context(|| format!("reading {KEPT_DATABASE} in {}", dir.display()))?;
                        crate::scaleout::Database::existing(&args.postgres_url, name.trim())?
                    }
                    None => crate::scaleout::Database::create(&args.postgres_url).await?,
                };
                println!("database {}", db.name);
                let dir = base.join("postgres");
                let flags = vec!["--database-url".to_owned(), db.url.clone()];
                let outcome = tokio::select! {
                    outcome = run_engine("PostgreSQL", &args, &lib, &vocab, &dir, &flags, &db.url) => outcome,
                    _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
                };
                if args.keep || args.reuse.is_some() {
                    std::fs::write(base.join(KEPT_DATABASE), &db.name)?;
                    println!("kept database {}", db.name);
                } else if let Err(e) = db.drop_now().await {
                    eprintln!("could not drop database {}: {e:#}", db.name);
                }
                runs.push(outcome?);
            }
            other => bail!("unknown engine '{other}' (sqlite or postgres)"),
        }
    }
    let report = Report {
        header: args.run.header(program_command),
        machine,
        loadavg_before,
        assetlib_version,
        lib_folders: lib.folders.len(),
        runs,
        max_p50: args.max_p50_ms,
        max_p99: args.max_p99_ms,
        requests: args.requests,
        warmup: args.warmup,
        query_secs: args.query_secs,
    };
    let ok = report.all_ok();
    if let Some(path) = &args.run.markdown {
        crate::report::replace_section(path, BEGIN, END, &report.markdown(), "# Benchmarks\n\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.keep && args.reuse.is_none() {
        println!("kept {}", tmp.keep().display());
    }
    if args.run.strict && !ok {
        std::process::exit(2);
    }
    Ok(())
}

struct Report {
    header: crate::report::RunHeader,
    machine: Machine,
    loadavg_before: String,
    assetlib_version: String,
    lib_folders: usize,
    runs: Vec<EngineRun>,
    max_p50: f64,
    max_p99: f64,
    requests: usize,
    warmup: usize,
    query_secs: f64,
}

impl Report {
    fn ok(&self, q: &QueryResult) -> bool {
        !q.capped && q.stats.percentile_ms(50.0) <= self.max_p50 && q.stats.percentile_ms(99.0) <= self.max_p99
    }

    fn all_ok(&self) -> bool {
        self.runs.iter().all(|r| r.queries.iter().all(|q| self.ok(q)))
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let assets = self.runs.first().map_or(0, |r| r.loaded.assets);
        let _ = writeln!(out, "## Search run: one account of {} assets\n", thousands(assets));
        let loadavg = format!("`/proc/loadavg` when the run began: {}", self.loadavg_before);
        self.header.write(&mut out, &self.machine, Some(&loadavg));
        let versions: Vec<String> = self.runs.iter().map(|r| r.version.clone()).collect();
        let _ = writeln!(
            out,
            "- Servers: {}; {} (PostgreSQL: the Debian cluster with its default settings). Server, database and load generator share the machine's cores.",
            self.assetlib_version,
            versions.join(", ")
        );
        let _ = writeln!(
            out,
            "- Library: account 1, {} folder rows (`clients/brand-NN/campaign-NNN`, 99 brands), names `adjective-noun_NNNNN.ext`; tags drawn from {} by a Zipf law (weight 1/rank), 0 to {} draws per asset, repeats dropped; 20 metadata keys, each on a fixed share of the assets (80% to 5%) with a value from 3 to 200; {} collections (60% of the assets in none, 30% in one, 10% in two); SKUs on 30%; favourites (the owner's) on 1%; batch ids on 20%; approval on 60%; sensitive 2%; {}% archived. Loaded by SQL in one transaction, in random order, with the side rows and `folded` values the server's writes produce (`crates/bench/src/search_library.rs`).",
            self.lib_folders,
            thousands(sl::TAGS as u64),
            sl::MAX_TAG_DRAWS,
            thousands(sl::COLLECTIONS as u64),
            sl::ARCHIVED_PERMILLE / 10
        );
        for r in &self.runs {
            let l = &r.loaded;
            let _ = writeln!(
                out,
                "- {} load: {} — {} assets, {} tag rows, {} metadata rows, {} collection rows, {} SKU rows, {} favourite rows, {} folder rows, {} archived",
                r.engine,
                if l.reused {
                    "made by an earlier run (`--keep`) and reused (`--reuse`), so not timed here".to_owned()
                } else {
                    format!(
                        "{:.0} s{}",
                        l.took.as_secs_f64(),
                        l.vacuum
                            .map(|v| format!(" (then `VACUUM ANALYZE` {:.0} s)", v.as_secs_f64()))
                            .unwrap_or_default()
                    )
                },
                thousands(l.assets),
                thousands(l.tag_rows),
                thousands(l.metadata_rows),
                thousands(l.collection_rows),
                thousands(l.sku_rows),
                thousands(l.favourite_rows),
                thousands(l.folder_rows),
                thousands(l.archived)
            );
            let _ = writeln!(
                out,
                "- {} load checked: each of these loaded assets reads back through `GET /api/v1/accounts/1/assets/{{id}}` as its row holds it, and an asset uploaded and PATCHed through the API with the same attributes has the same row values and side rows, and each has the folder rows its own path and time call for: {}",
                r.engine,
                r.checks.join("; ")
            );
        }
        let _ = writeln!(
            out,
            "- Timed: `native` rows `GET /api/v1/accounts/1/assets?…` (default `limit` 100) with the server's first key; `Hivo` rows `GET /api/rest/v1/assets?…` with `limit=100` and a key restricted to account 1 (`X-User-Id`, `X-Api-Key`); default sort `-createdAt` unless said; {} requests per query after {} untimed, one at a time on one keep-alive HTTP/1.1 connection, at most {:.0} s per query; every answer compared with the first (same ids). Hivo has no tag filter (`filter[search]` covers tags by prefix); the offset page is Hivo's `skip` (the native route pages by cursor only).\n",
            self.requests, self.warmup, self.query_secs
        );
        let mut header = "| query | parameters | via |".to_owned();
        let mut rule = "| --- | --- | --- |".to_owned();
        for r in &self.runs {
            let _ = write!(header, " {0} items | {0} p50 ms | {0} p99 ms |", r.engine);
            rule.push_str(" ---: | ---: | ---: |");
        }
        header.push_str(" target |");
        rule.push_str(" --- |");
        let _ = writeln!(out, "{header}\n{rule}");
        let n = self.runs.first().map_or(0, |r| r.queries.len());
        for i in 0..n {
            let first = &self.runs[0].queries[i];
            let params =
                if first.params.is_empty() { String::new() } else { format!("`{}`", first.params.replace('`', "")) };
            let mut line = format!("| {} | {} | {} |", first.name, params, first.how);
            let mut pass = true;
            for r in &self.runs {
                let q = &r.queries[i];
                pass &= self.ok(q);
                let _ = write!(
                    line,
                    " {} | {:.2} | {:.2}{} |",
                    q.items,
                    q.stats.percentile_ms(50.0),
                    q.stats.percentile_ms(99.0),
                    if q.capped { " (cut short)" } else { "" }
                );
            }
            let _ = write!(line, " {} |", if pass { "PASS" } else { "**MISS**" });
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "\nTarget: p50 at most {} ms and p99 at most {} ms for every query on both engines: **{}**.",
            self.max_p50,
            self.max_p99,
            if self.all_ok() { "met" } else { "missed (see the notes below)" }
        );
        let _ = writeln!(out, "{END}");
        out
    }
}
