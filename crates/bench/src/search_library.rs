//! The search benchmark's library and its bulk loads: one account of a million assets with
//! the attributes a library collects over time, written straight into the database (SQLite
//! file or PostgreSQL) by SQL in one transaction, in random order.
//!
//! What is written is what the server's own writes leave (see `crates/db/src/store`): the
//! asset row with `name_folded = lower(name)`, its attributes as compact JSON (`tags`, `skus`,
//! `collection_ids`, `favourites` arrays in the order given, repeats dropped; `metadata` an
//! object in key order), and one side row per tag, SKU, metadata entry, collection and
//! favourite with the database's `lower()` in `folded`, and one `asset_folders` row per folder
//! an asset lies in; `collections` rows; `folders` rows for every folder. Vocabularies and distributions are this module's: tags drawn from 50,000 by a
//! Zipf law (weight 1/rank), 0 to 8 draws per asset; 20 metadata keys, each on a fixed share of
//! the assets with a value from a small vocabulary; 2,000 collections; 5% archived.
//!
//! The random draws are made by the database (as the listing library's are), from vocabularies
//! passed in as JSON into temporary tables: the Zipf law as a cumulative-weight table that one
//! index seek per draw reads.

use crate::library::Library;
use anyhow::Context;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// Distinct tags, by rank (rank 1 the most common).
pub const TAGS: usize = 50_000;
/// Collections of the account.
pub const COLLECTIONS: usize = 2_000;
/// Tag draws per asset: 0 to this many (repeats dropped).
pub const MAX_TAG_DRAWS: usize = 8;
/// Assets archived, in thousandths.
pub const ARCHIVED_PERMILLE: u32 = 50;
/// Dates spread over the last ~347 days, as the listing library's.
const SPREAD_MS: i64 = 30_000_000_000;

/// Words that start names and tags.
const ADJECTIVES: [&str; 20] = [
    "golden", "misty", "urban", "quiet", "bright", "rustic", "frozen", "vivid", "coastal", "autumn", "spring",
    "midnight", "crimson", "silver", "wild", "classic", "modern", "sunny", "stormy", "velvet",
];
const NOUNS: [&str; 20] = [
    "harbour", "forest", "skyline", "market", "studio", "meadow", "canyon", "bridge", "garden", "street", "portrait",
    "kitchen", "desert", "island", "festival", "workshop", "lake", "vineyard", "runway", "library",
];
/// The most common tags by rank, as a team tags: some capitalised, as typed.
const TOP_TAGS: [&str; 24] = [
    "product",
    "lifestyle",
    "Summer",
    "social",
    "hero",
    "banner",
    "web",
    "print",
    "approved-by-legal",
    "Q3",
    "campaign",
    "team",
    "NYC",
    "outdoor",
    "studio",
    "packshot",
    "holiday",
    "Instagram",
    "draft",
    "final",
    "retouched",
    "b-roll",
    "logo",
    "event",
];

/// The metadata keys: name, share of assets that have it (thousandths), and its values.
fn metadata_keys() -> Vec<(String, u32, Vec<String>)> {
    let words = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let numbered = |prefix: &str, n: usize| (1..=n).map(|i| format!("{prefix}-{i:03}")).collect::<Vec<_>>();
    vec![
        (
            "colour".into(),
            800,
            words(&[
                "Red", "Blue", "Green", "Black", "White", "Yellow", "Orange", "Purple", "Grey", "Pink", "Brown", "Teal",
            ]),
        ),
        ("channel".into(), 700, words(&["web", "print", "social", "email", "retail", "tv", "ooh"])),
        ("region".into(), 600, words(&["EMEA", "APAC", "NA", "LATAM", "Global"])),
        ("language".into(), 500, words(&["en", "fr", "de", "es", "it", "ja", "zh", "pt", "nl", "sv"])),
        ("status".into(), 450, words(&["draft", "in-review", "approved", "published", "retired"])),
        ("season".into(), 400, words(&["spring", "summer", "autumn", "winter"])),
        ("department".into(), 350, words(&["marketing", "sales", "product", "design", "hr", "legal", "support"])),
        ("photographer".into(), 300, numbered("photographer", 150)),
        ("usage".into(), 300, words(&["internal", "external", "press", "partner"])),
        ("format".into(), 250, words(&["square", "landscape", "portrait", "story", "banner", "thumbnail"])),
        ("product_line".into(), 250, numbered("line", 40)),
        ("campaign_year".into(), 200, (2015..=2026).map(|y| y.to_string()).collect()),
        ("rights".into(), 200, words(&["owned", "licensed", "royalty-free", "editorial", "restricted"])),
        ("orientation".into(), 150, words(&["horizontal", "vertical", "square"])),
        ("brand".into(), 150, numbered("brand", 60)),
        ("market".into(), 120, words(&["US", "UK", "FR", "DE", "JP", "CN", "BR", "IN", "AU", "CA", "MX", "ES"])),
        ("audience".into(), 100, words(&["consumer", "trade", "investor", "employee", "student"])),
        ("agency".into(), 80, numbered("agency", 25)),
        ("shoot".into(), 60, numbered("shoot", 200)),
        ("priority".into(), 50, words(&["low", "normal", "high", "urgent"])),
    ]
}

/// Name of the tag of rank `r` (from 1).
pub fn tag_name(r: usize) -> String {
    if r <= TOP_TAGS.len() {
        return TOP_TAGS[r - 1].to_owned();
    }
    let word = if r.is_multiple_of(2) { ADJECTIVES[r / 2 % ADJECTIVES.len()] } else { NOUNS[r / 2 % NOUNS.len()] };
    format!("{word}-{r}")
}

/// Name stems: adjective-noun, 400 of them.
pub fn name_stems() -> Vec<String> {
    ADJECTIVES.iter().flat_map(|a| NOUNS.iter().map(move |n| format!("{a}-{n}"))).collect()
}

/// The vocabularies the SQL draws from.
pub struct Vocab {
    /// `[cumulative weight, tag]` by rank: a draw `u` in `0..total` takes the first entry whose
    /// weight exceeds `u`.
    zipf: Vec<(i64, String)>,
    zipf_total: i64,
    keys: Vec<(String, u32, Vec<String>)>,
    /// Collection ids and names.
    pub collections: Vec<(String, String)>,
    stems: Vec<String>,
}

impl Vocab {
    pub fn new(seed: u64) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut cum = 0i64;
        let zipf = (1..=TAGS)
            .map(|r| {
                cum += (1i64 << 40) / r as i64;
                (cum, tag_name(r))
            })
            .collect();
        let themes = name_stems();
        let collections = (0..COLLECTIONS)
            .map(|n| {
                let id = format!("col_{:032x}", rng.random::<u128>());
                (id, format!("{} {:04}", themes[n % themes.len()], n + 1))
            })
            .collect();
        Self { zipf, zipf_total: cum, keys: metadata_keys(), collections, stems: themes }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// A random integer in `0..n`.
    fn rnd(self, n: impl std::fmt::Display) -> String {
        match self {
            Engine::Sqlite => format!("(abs(random()) % ({n}))"),
            Engine::Postgres => format!("floor(random() * ({n}))::bigint"),
        }
    }

    /// The rows of a JSON array of arrays passed as `$param`, columns `c0..` as given types.
    fn json_rows(self, param: usize, cols: &[&str]) -> String {
        let cols: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, ty)| match self {
                Engine::Sqlite => format!("CAST(json_extract(value, '$[{i}]') AS {ty}) AS c{i}"),
                Engine::Postgres => format!("CAST(value->>{i} AS {ty}) AS c{i}"),
            })
            .collect();
        match self {
            Engine::Sqlite => format!("SELECT {} FROM json_each(${param})", cols.join(", ")),
            Engine::Postgres => format!("SELECT {} FROM json_array_elements(${param}::json)", cols.join(", ")),
        }
    }

    fn temp(self, name_and_columns: &str) -> String {
        match self {
            Engine::Sqlite => format!("CREATE TEMP TABLE {name_and_columns}"),
            Engine::Postgres => format!("CREATE TEMP TABLE {name_and_columns} ON COMMIT DROP"),
        }
    }

    /// A JSON array of `col` over the rows of `from_where`, in `ord` order (`[]` if none), as
    /// serde_json writes it: compact.
    fn json_list(self, col: &str, ord: &str, from_where: &str) -> String {
        match self {
            Engine::Sqlite => format!("(SELECT json_group_array({col} ORDER BY {ord}) FROM {from_where})"),
            Engine::Postgres => format!(
                "COALESCE((SELECT '[' || string_agg(to_json({col})::text, ',' ORDER BY {ord}) || ']' FROM {from_where}), '[]')"
            ),
        }
    }

    /// A JSON object of `key: value` over the rows of `from_where`, keys in byte order.
    fn json_object(self, from_where: &str) -> String {
        match self {
            Engine::Sqlite => format!("(SELECT json_group_object(key, value ORDER BY key) FROM {from_where})"),
            Engine::Postgres => format!(
                "COALESCE((SELECT '{{' || string_agg(to_json(key)::text || ':' || to_json(value)::text, ',' ORDER BY key COLLATE \"C\") || '}}' FROM {from_where}), '{{}}')"
            ),
        }
    }

    fn pad5(self, expr: &str) -> String {
        match self {
            Engine::Sqlite => format!("printf('%05d', {expr})"),
            Engine::Postgres => format!("lpad(({expr})::text, 5, '0')"),
        }
    }

    fn hex32(self) -> &'static str {
        match self {
            Engine::Sqlite => "lower(hex(randomblob(16)))",
            Engine::Postgres => "replace(gen_random_uuid()::text, '-', '')",
        }
    }

    fn hex64(self) -> &'static str {
        match self {
            Engine::Sqlite => "lower(hex(randomblob(32)))",
            Engine::Postgres => "md5(random()::text) || md5(random()::text)",
        }
    }
}

/// Counts of what a load wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Loaded {
    pub assets: u64,
    pub tag_rows: u64,
    pub metadata_rows: u64,
    pub collection_rows: u64,
    pub sku_rows: u64,
    pub favourite_rows: u64,
    pub archived: u64,
    pub folder_rows: u64,
    pub took: Duration,
    /// PostgreSQL: `VACUUM ANALYZE` after the load.
    pub vacuum: Option<Duration>,
    /// Loaded by an earlier run and only counted by this one (`--reuse`).
    pub reused: bool,
}

/// The statements of one load, in order; `$1`.. as [`bind_all`] binds them.
fn statements(e: Engine) -> Vec<String> {
    let rnd = |n: &str| e.rnd(n);
    let mut s = vec![
        // $1 zipf [[cum, tag]], $2 keys [[k, key, permille, nvalues]], $3 values [[k, n, value]],
        // $4 collections [[n, id, name]], $5 stems [[n, stem]], $6 leaves [[path, count]],
        // $7 account, $8 now, $9 owner, $10 zipf total, $11 kinds [[n, ext, ctype]]
        e.temp("bz (cum BIGINT PRIMARY KEY, tag TEXT NOT NULL)"),
        format!("INSERT INTO bz (cum, tag) {}", e.json_rows(1, &["BIGINT", "TEXT"])),
        e.temp("bk (k BIGINT PRIMARY KEY, key TEXT NOT NULL, permille BIGINT NOT NULL, nvalues BIGINT NOT NULL)"),
        format!(
            "INSERT INTO bk (k, key, permille, nvalues) {}",
            e.json_rows(2, &["BIGINT", "TEXT", "BIGINT", "BIGINT"])
        ),
        e.temp("bv (k BIGINT NOT NULL, n BIGINT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (k, n))"),
        format!("INSERT INTO bv (k, n, value) {}", e.json_rows(3, &["BIGINT", "BIGINT", "TEXT"])),
        e.temp("bc (n BIGINT PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL)"),
        format!("INSERT INTO bc (n, id, name) {}", e.json_rows(4, &["BIGINT", "TEXT", "TEXT"])),
        e.temp("bs (n BIGINT PRIMARY KEY, stem TEXT NOT NULL)"),
        format!("INSERT INTO bs (n, stem) {}", e.json_rows(5, &["BIGINT", "TEXT"])),
        e.temp("bx (n BIGINT PRIMARY KEY, ext TEXT NOT NULL, ctype TEXT NOT NULL)"),
        format!("INSERT INTO bx (n, ext, ctype) {}", e.json_rows(11, &["BIGINT", "TEXT", "TEXT"])),
        e.temp("bd (j BIGINT PRIMARY KEY)"),
        format!("INSERT INTO bd (j) SELECT k FROM bk WHERE k <= {MAX_TAG_DRAWS}"),
        // One row per asset: its id, key and the draws that decide its attributes.
        e.temp(
            "bg (id TEXT PRIMARY KEY, path TEXT NOT NULL, i BIGINT NOT NULL, stem BIGINT NOT NULL, t BIGINT NOT NULL,
                 ntags BIGINT NOT NULL, rcoll BIGINT NOT NULL, rsku BIGINT NOT NULL, fav BIGINT NOT NULL,
                 batch_id TEXT, approved_at BIGINT, sensitive_at BIGINT, archived_at BIGINT, expires_at BIGINT,
                 license_expires_at BIGINT, views BIGINT NOT NULL, downloads BIGINT NOT NULL)",
        ),
    ];
    let draws = format!(
        "{id} AS id, path, i, {stem} AS stem, $8 - {spread} AS t, {ntags} AS ntags, {rcoll} AS rcoll, {rsku} AS rsku,
         {fav} AS fav, {rbatch} AS rbatch, {rappr} AS rappr, {rsens} AS rsens, {rarch} AS rarch, {rexp} AS rexp,
         {rlic} AS rlic, {views} AS views, {downloads} AS downloads, {r1} AS r1, {r2} AS r2, {r3} AS r3, {r4} AS r4",
        id = e.hex32(),
        stem = rnd("(SELECT count(*) FROM bs)"),
        spread = rnd(&SPREAD_MS.to_string()),
        ntags = rnd(&(MAX_TAG_DRAWS + 1).to_string()),
        rcoll = rnd("1000"),
        rsku = rnd("1000"),
        fav = rnd("100"),
        rbatch = rnd("5"),
        rappr = rnd("10"),
        rsens = rnd("50"),
        rarch = rnd("1000"),
        rexp = rnd("10"),
        rlic = rnd("7"),
        views = rnd("5000"),
        downloads = rnd("500"),
        r1 = rnd("20000"),
        r2 = rnd("86400000"),
        r3 = rnd(&SPREAD_MS.to_string()),
        r4 = rnd(&SPREAD_MS.to_string()),
    );
    let derive = format!(
        "SELECT id, path, i, stem, t, ntags, rcoll, rsku, fav,
                CASE WHEN rbatch = 0 THEN 'batch-' || {batch} END,
                CASE WHEN rappr < 6 THEN t + r2 END,
                CASE WHEN rsens = 0 THEN t + r2 END,
                CASE WHEN rarch < {ARCHIVED_PERMILLE} THEN t + r2 END,
                CASE WHEN rexp = 0 THEN $8 + r3 END,
                CASE WHEN rlic = 0 THEN $8 - {half} + r4 END,
                views, downloads",
        batch = e.pad5("r1"),
        half = SPREAD_MS / 2,
    );
    let insert_bg =
        "INSERT INTO bg (id, path, i, stem, t, ntags, rcoll, rsku, fav, batch_id, approved_at, sensitive_at,
         archived_at, expires_at, license_expires_at, views, downloads)";
    s.push(match e {
        // MATERIALIZED: each row's draws are made once (a flattened subquery would draw again
        // at each use).
        Engine::Sqlite => format!(
            "{insert_bg}
             WITH RECURSIVE
               f(path, n) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($6)),
               g(path, i, n) AS (SELECT path, 1, n FROM f WHERE n > 0 UNION ALL SELECT path, i + 1, n FROM g WHERE i < n),
               r AS MATERIALIZED (SELECT {draws} FROM g)
             {derive} FROM r"
        ),
        Engine::Postgres => format!(
            "{insert_bg}
             WITH r AS MATERIALIZED (
               SELECT {draws} FROM unnest(ARRAY(SELECT value->>0 FROM json_array_elements($6::json)),
                                          ARRAY(SELECT (value->>1)::int FROM json_array_elements($6::json))) AS f(path, n),
                                   generate_series(1, f.n) AS i)
             {derive} FROM r"
        ),
    });
    // Tag draws by the Zipf table, repeats dropped (the first stays, as a write keeps it).
    s.push(e.temp("bt (id TEXT NOT NULL, tag TEXT NOT NULL, ord BIGINT NOT NULL, PRIMARY KEY (id, tag))"));
    s.push(format!(
        "INSERT INTO bt (id, tag, ord)
         WITH d AS MATERIALIZED (SELECT g.id, bd.j, {u} AS u FROM bg g JOIN bd ON bd.j <= g.ntags)
         SELECT id, tag, min(j) FROM (
           SELECT d.id, d.j, (SELECT tag FROM bz WHERE cum > d.u ORDER BY cum LIMIT 1) AS tag FROM d
         ) x GROUP BY id, tag",
        u = rnd("$10"),
    ));
    // Metadata: each key on its share of the assets, a value from its vocabulary. The draw names
    // the asset's row so that SQLite makes it for each pair (a condition on the key's row alone
    // would be drawn once per key).
    s.push(e.temp("bm (id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (id, key))"));
    s.push(format!(
        "INSERT INTO bm (id, key, value)
         WITH x AS MATERIALIZED (SELECT g.id, bk.k, {n} AS n FROM bg g, bk WHERE {p} + 0 * g.ntags < bk.permille)
         SELECT x.id, bk.key, bv.value FROM x JOIN bk ON bk.k = x.k JOIN bv ON bv.k = x.k AND bv.n = x.n",
        n = rnd("bk.nvalues"),
        p = rnd("1000"),
    ));
    // Collections: 60% of the assets in none, 30% in one, 10% in two.
    s.push(e.temp("bcol (id TEXT NOT NULL, cid TEXT NOT NULL, ord BIGINT NOT NULL, PRIMARY KEY (id, cid))"));
    s.push(format!(
        "INSERT INTO bcol (id, cid, ord)
         WITH x AS MATERIALIZED (
           SELECT g.id, bd.j, {c} AS c FROM bg g JOIN bd ON bd.j <= CASE WHEN g.rcoll < 600 THEN 0 WHEN g.rcoll < 900 THEN 1 ELSE 2 END
         )
         SELECT x.id, bc.id, min(x.j) FROM x JOIN bc ON bc.n = x.c GROUP BY x.id, bc.id",
        c = rnd(&COLLECTIONS.to_string()),
    ));
    // SKUs: 70% none, 25% one, 5% two, from 100,000.
    s.push(e.temp("bsku (id TEXT NOT NULL, sku TEXT NOT NULL, ord BIGINT NOT NULL, PRIMARY KEY (id, sku))"));
    s.push(format!(
        "INSERT INTO bsku (id, sku, ord)
         WITH x AS MATERIALIZED (
           SELECT g.id, bd.j, 'SKU-' || {pad} AS sku FROM bg g
           JOIN bd ON bd.j <= CASE WHEN g.rsku < 700 THEN 0 WHEN g.rsku < 950 THEN 1 ELSE 2 END
         )
         SELECT id, sku, min(j) FROM x GROUP BY id, sku",
        pad = e.pad5(&rnd("100000")),
    ));
    s.push(
        "INSERT INTO collections (id, account_id, name, description, created_at, last_modified, created_by)
         SELECT id, $7, name, '', $8 - 31000000000, $8 - 31000000000, $9 FROM bc"
            .to_owned(),
    );
    // The asset rows, in random order.
    s.push(format!(
        "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified,
           created_by, archived_at, sensitive_at, metadata, tags, skus, collection_ids, favourites, batch_id, approved_at,
           expires_at, license_expires_at, views, downloads, name_folded)
         SELECT y.id, $7, y.path, y.name, y.size, y.ctype, y.hash, 'assets/' || $7 || '/' || substr(y.id, 1, 2) || '/' || y.id,
           y.t, y.t, $9, y.archived_at, y.sensitive_at,
           {meta}, {tags}, {skus}, {colls}, CASE WHEN y.fav = 0 THEN {owner_list} ELSE '[]' END,
           y.batch_id, y.approved_at, y.expires_at, y.license_expires_at, y.views, y.downloads, lower(y.name)
         FROM (
           SELECT g.*, bs.stem || '_' || {pad} || bx.ext AS name, bx.ctype, 1000 + {size} AS size, {hash} AS hash
           FROM bg g JOIN bs ON bs.n = g.stem JOIN bx ON bx.n = g.i % 5
         ) y ORDER BY random()",
        meta = e.json_object("bm WHERE bm.id = y.id"),
        tags = e.json_list("tag", "ord", "bt WHERE bt.id = y.id"),
        skus = e.json_list("sku", "ord", "bsku WHERE bsku.id = y.id"),
        colls = e.json_list("cid", "ord", "bcol WHERE bcol.id = y.id"),
        owner_list = match e {
            Engine::Sqlite => "json_array($9)",
            Engine::Postgres => "'[' || to_json($9::text)::text || ']'",
        },
        pad = e.pad5("g.i"),
        size = rnd("2000000"),
        hash = e.hex64(),
    ));
    s.push(
        "INSERT INTO asset_tags (asset_id, account_id, tag, folded, created_at)
         SELECT bt.id, $7, bt.tag, lower(bt.tag), bg.t FROM bt JOIN bg ON bg.id = bt.id"
            .to_owned(),
    );
    s.push("INSERT INTO asset_skus (asset_id, account_id, sku) SELECT id, $7, sku FROM bsku".to_owned());
    s.push(
        "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded, created_at)
         SELECT bm.id, $7, bm.key, bm.value, lower(bm.value), bg.t FROM bm JOIN bg ON bg.id = bm.id"
            .to_owned(),
    );
    s.push(
        "INSERT INTO asset_collections (asset_id, collection_id, account_id) SELECT id, cid, $7 FROM bcol".to_owned(),
    );
    s.push(
        "INSERT INTO asset_favourites (asset_id, user_id, account_id) SELECT id, $9, $7 FROM bg WHERE fav = 0"
            .to_owned(),
    );
    // One row per asset and folder it lies in, at any depth (its own folder, then those it is
    // below), as the server writes them and migration 0009 fills them from the folders (on
    // PostgreSQL after the statistics the migration takes too: without them the planner joins
    // every folder with every asset).
    if e == Engine::Postgres {
        s.push("ANALYZE assets, folders".to_owned());
    }
    for join in ["a.path = f.path", "a.path >= f.path || '/' AND a.path < f.path || '0'"] {
        s.push(format!(
            "INSERT INTO asset_folders (asset_id, account_id, folder, created_at)
             SELECT a.id, a.account_id, f.path, a.created_at
             FROM folders f JOIN assets a ON a.account_id = f.account_id AND {join}
             WHERE f.account_id = $7 AND f.path <> ''"
        ));
    }
    s
}

/// The highest `$N` a statement uses.
fn max_param(sql: &str) -> usize {
    let mut max = 0;
    let bytes = sql.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'$' {
            let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<usize>() {
                max = max.max(n);
            }
        }
    }
    max
}

/// The values `$1..$11` of the statements, as strings and integers.
enum Arg {
    Text(String),
    Int(i64),
}

fn args(lib: &Library, vocab: &Vocab, owner: &str, now: i64) -> Vec<Arg> {
    let j = |v: serde_json::Value| Arg::Text(v.to_string());
    use serde_json::json;
    vec![
        j(json!(vocab.zipf.iter().map(|(c, t)| json!([c, t])).collect::<Vec<_>>())),
        j(json!(
            vocab.keys.iter().enumerate().map(|(k, (key, p, v))| json!([k + 1, key, p, v.len()])).collect::<Vec<_>>()
        )),
        j(json!(
            vocab
                .keys
                .iter()
                .enumerate()
                .flat_map(|(k, (_, _, values))| values.iter().enumerate().map(move |(n, v)| json!([k + 1, n, v])))
                .collect::<Vec<_>>()
        )),
        j(json!(vocab.collections.iter().enumerate().map(|(n, (id, name))| json!([n, id, name])).collect::<Vec<_>>())),
        j(json!(vocab.stems.iter().enumerate().map(|(n, s)| json!([n, s])).collect::<Vec<_>>())),
        j(json!(lib.leaves.iter().map(|(p, n)| json!([p, n])).collect::<Vec<_>>())),
        Arg::Int(lib.account),
        Arg::Int(now),
        Arg::Text(owner.to_owned()),
        Arg::Int(vocab.zipf_total),
        j(json!(
            crate::library::KINDS
                .iter()
                .enumerate()
                .map(|(n, (ext, ctype))| json!([n, ext, ctype]))
                .collect::<Vec<_>>()
        )),
    ]
}

/// The counts a load is checked by.
const COUNTS: [(&str, &str); 8] = [
    ("assets", "SELECT count(*) FROM assets WHERE account_id = $1"),
    ("tag rows", "SELECT count(*) FROM asset_tags WHERE account_id = $1"),
    ("metadata rows", "SELECT count(*) FROM asset_metadata WHERE account_id = $1"),
    ("collection rows", "SELECT count(*) FROM asset_collections WHERE account_id = $1"),
    ("SKU rows", "SELECT count(*) FROM asset_skus WHERE account_id = $1"),
    ("favourite rows", "SELECT count(*) FROM asset_favourites WHERE account_id = $1"),
    ("archived", "SELECT count(*) FROM assets WHERE account_id = $1 AND archived_at IS NOT NULL"),
    ("folder rows", "SELECT count(*) FROM asset_folders WHERE account_id = $1"),
];

macro_rules! run_load {
    ($conn:expr, $engine:expr, $lib:expr, $vocab:expr, $owner:expr) => {{
        let now = chrono::Utc::now().timestamp_millis();
        let values = args($lib, $vocab, $owner, now);
        let mut tx = $conn.begin().await?;
        if $engine == Engine::Postgres {
            sqlx::query("SET LOCAL work_mem = '512MB'").execute(&mut *tx).await?;
        }
        // Folders: every one, as an upload leaves them (implicit).
        let folders = serde_json::json!(
            $lib.folders.iter().map(|(p, parent, n)| serde_json::json!([p, parent, n])).collect::<Vec<_>>()
        )
        .to_string();
        let sql = format!(
            "INSERT INTO folders (account_id, path, parent, name, explicit, created_at)
             SELECT $2, c0, c1, c2, {no}, $3 FROM ({rows}) f",
            no = if $engine == Engine::Sqlite { "0" } else { "FALSE" },
            rows = $engine.json_rows(1, &["TEXT", "TEXT", "TEXT"]),
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&folders)
            .bind($lib.account)
            .bind(now - SPREAD_MS)
            .execute(&mut *tx)
            .await
            .context("inserting the folders")?;
        for (n, sql) in statements($engine).into_iter().enumerate() {
            let used = max_param(&sql);
            let started = Instant::now();
            // Made of this module's constants only.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for v in values.iter().take(used) {
                q = match v {
                    Arg::Text(s) => q.bind(s.clone()),
                    Arg::Int(i) => q.bind(*i),
                };
            }
            let done = q.execute(&mut *tx).await.with_context(|| format!("load statement {n}: {sql}"))?;
            if started.elapsed() > Duration::from_secs(5) {
                println!(
                    "    statement {n}: {} rows in {:.1} s",
                    done.rows_affected(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let mut counts = Vec::new();
        for (what, sql) in COUNTS {
            let n: i64 = sqlx::query_scalar(sql).bind($lib.account).fetch_one(&mut *tx).await?;
            counts.push((what, n as u64));
        }
        tx.commit().await?;
        counts
    }};
}

fn loaded(counts: &[(&str, u64)], took: Duration) -> Loaded {
    let c = |i: usize| counts[i].1;
    Loaded {
        assets: c(0),
        tag_rows: c(1),
        metadata_rows: c(2),
        collection_rows: c(3),
        sku_rows: c(4),
        favourite_rows: c(5),
        archived: c(6),
        folder_rows: c(7),
        took,
        vacuum: None,
        reused: false,
    }
}

/// What a library loaded by an earlier run holds (`--reuse`): its rows counted as a load
/// counts them, no load time.
macro_rules! count_loaded {
    ($conn:expr, $lib:expr) => {{
        let mut counts = Vec::new();
        for (what, sql) in COUNTS {
            let n: i64 = sqlx::query_scalar(sql).bind($lib.account).fetch_one(&mut $conn).await?;
            counts.push((what, n as u64));
        }
        $conn.close().await?;
        Ok(Loaded { reused: true, ..loaded(&counts, Duration::ZERO) })
    }};
}

/// [`count_loaded`] for the SQLite database at `db_path`.
pub async fn count_sqlite(db_path: &std::path::Path, lib: &Library) -> anyhow::Result<Loaded> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db_path).read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.context("opening the SQLite database")?;
    count_loaded!(conn, lib)
}

/// [`count_loaded`] for the PostgreSQL database at `url`.
pub async fn count_postgres(url: &str, lib: &Library) -> anyhow::Result<Loaded> {
    let mut conn = sqlx::PgConnection::connect(url).await.context("connecting to PostgreSQL")?;
    count_loaded!(conn, lib)
}

/// Loads `lib` with attributes into the SQLite database at `db_path` (the server stopped, its
/// migrations run, account `lib.account` and the user `owner` made).
pub async fn load_sqlite(
    db_path: &std::path::Path,
    lib: &Library,
    vocab: &Vocab,
    owner: &str,
) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db_path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10));
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.context("opening the SQLite database")?;
    // The temporary tables' sorts and indexes in memory where they fit.
    sqlx::raw_sql("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -1000000").execute(&mut conn).await?;
    let counts = run_load!(conn, Engine::Sqlite, lib, vocab, owner);
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await?;
    conn.close().await?;
    anyhow::ensure!(counts[0].1 as usize == lib.total(), "loaded {} assets, expected {}", counts[0].1, lib.total());
    Ok(loaded(&counts, started.elapsed()))
}

/// Loads `lib` with attributes into the PostgreSQL database at `url`, then `VACUUM ANALYZE`s
/// the tables written, as autovacuum would soon after a bulk insert.
pub async fn load_postgres(url: &str, lib: &Library, vocab: &Vocab, owner: &str) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let mut conn = sqlx::PgConnection::connect(url).await.context("connecting to PostgreSQL")?;
    let counts = run_load!(conn, Engine::Postgres, lib, vocab, owner);
    let took = started.elapsed();
    let vacuum_started = Instant::now();
    sqlx::raw_sql(
        "VACUUM ANALYZE assets, folders, collections, asset_tags, asset_skus, asset_metadata, asset_collections, asset_favourites, asset_folders",
    )
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    anyhow::ensure!(counts[0].1 as usize == lib.total(), "loaded {} assets, expected {}", counts[0].1, lib.total());
    let mut out = loaded(&counts, took);
    out.vacuum = Some(vacuum_started.elapsed());
    Ok(out)
}
