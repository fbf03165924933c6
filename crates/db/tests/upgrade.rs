//! A library written before a migration is carried forward unchanged by it: a database at an
//! earlier step, with data in it, opened by this version, keeps every asset as it was and gains
//! the new columns' defaults and the side rows that search reads (metadata since 0004, the
//! folders an asset lies in since 0009, the creation time in tag and metadata rows since 0012).

use assetlib_core::model::Attributes;
use assetlib_core::{AccountId, AssetId};
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use std::path::Path;

mod common;

/// The migrations of `engine` up to and including `last`, copied into `dir`.
fn migrations_up_to(engine: &str, last: u32, dir: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let step: u32 = name.split('_').next().unwrap().parse().unwrap();
        if step <= last {
            std::fs::copy(&path, dir.join(&name)).unwrap();
        }
    }
}

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, name, public, created_at) VALUES (7, 'old', TRUE, 1)";
const INSERT_ASSET: &str = "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key,
       created_at, last_modified, created_by, archived_at, sensitive_at, metadata)
     VALUES ('old-asset', 7, 'p', 'a.png', 3, 'image/png', 'h', 'blob', 5, 6, NULL, 9, NULL, '{\"Team\":\"Red\"}')";
const SIDE_ROWS: &str = "SELECT key, value, folded FROM asset_metadata WHERE asset_id = 'old-asset'";

async fn check(url: &str) {
    let store = assetlib_db::connect(url).await.unwrap();
    let asset = store.get_asset_by_id(&AssetId("old-asset".into())).await.unwrap().unwrap();
    assert_eq!((asset.account, asset.key().as_str(), asset.size), (AccountId(7), "p/a.png", 3));
    assert_eq!((asset.created_at, asset.last_modified, asset.archived_at, asset.sensitive_at), (5, 6, Some(9), None));
    assert_eq!(asset.metadata.get("Team").map(String::as_str), Some("Red"));
    assert_eq!((asset.attributes, asset.views, asset.downloads), (Attributes::default(), 0, 0));
}

#[tokio::test]
async fn sqlite_libraries_before_the_asset_attributes_carry_forward() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("sqlite", 3, old.path());
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    conn.execute(INSERT_ASSET).await.unwrap();
    conn.close().await.unwrap();
    check(&url).await;
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(SIDE_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, [("Team".to_owned(), "Red".to_owned(), "red".to_owned())]);
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_libraries_before_the_asset_attributes_carry_forward() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("postgres", 3, old.path());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    conn.execute(INSERT_ASSET).await.unwrap();
    check(&url).await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(SIDE_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, [("Team".to_owned(), "Red".to_owned(), "red".to_owned())]);
    conn.close().await.unwrap();
    common::drop_database(&url).await;
}

/// A library of migration 0008 (folder rows for every folder an asset is in, as the store
/// writes them) gains the folder side rows of 0009, and a path prefix finds its assets.
const FOLDERED: [&str; 5] = [
    "INSERT INTO folders (account_id, path, parent, name, explicit, created_at) VALUES
       (7, 'a', '', 'a', FALSE, 1), (7, 'a/b', 'a', 'b', FALSE, 1), (7, 'ab', '', 'ab', FALSE, 1)",
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded)
       VALUES ('in-a', 7, 'a', 'x.png', 1, 'image/png', 'h', 'b1', 10, 10, 'x.png')",
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded)
       VALUES ('in-ab', 7, 'a/b', 'y.png', 1, 'image/png', 'h', 'b2', 20, 20, 'y.png')",
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded)
       VALUES ('beside', 7, 'ab', 'z.png', 1, 'image/png', 'h', 'b3', 30, 30, 'z.png')",
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded)
       VALUES ('at-root', 7, '', 'r.png', 1, 'image/png', 'h', 'b4', 40, 40, 'r.png')",
];
const FOLDER_ROWS: &str = "SELECT asset_id, folder, created_at FROM asset_folders ORDER BY asset_id, folder";

async fn check_folders(url: &str) -> Vec<(String, String, i64)> {
    use assetlib_core::search::{AssetQuery, Scope};
    let store = assetlib_db::connect(url).await.unwrap();
    let find = |prefix: &str| AssetQuery {
        path_prefix: Some(prefix.to_owned()),
        ..AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 10)
    };
    let ids = |v: Vec<assetlib_core::model::Asset>| v.into_iter().map(|a| a.id.0).collect::<Vec<_>>();
    assert_eq!(ids(store.search_assets(&find("a"), 100).await.unwrap()), ["in-ab", "in-a"]);
    assert_eq!(ids(store.search_assets(&find("a/b"), 100).await.unwrap()), ["in-ab"]);
    assert_eq!(ids(store.search_assets(&find("ab"), 100).await.unwrap()), ["beside"]);
    vec![
        ("beside".into(), "ab".into(), 30),
        ("in-a".into(), "a".into(), 10),
        ("in-ab".into(), "a".into(), 20),
        ("in-ab".into(), "a/b".into(), 20),
    ]
}

#[tokio::test]
async fn sqlite_libraries_before_the_folder_rows_carry_forward() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("sqlite", 8, old.path());
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for sql in FOLDERED {
        conn.execute(sql).await.unwrap();
    }
    conn.close().await.unwrap();
    let want = check_folders(&url).await;
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(FOLDER_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, want);
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_libraries_before_the_folder_rows_carry_forward() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("postgres", 8, old.path());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for sql in FOLDERED {
        conn.execute(sql).await.unwrap();
    }
    let want = check_folders(&url).await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(FOLDER_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, want);
    conn.close().await.unwrap();
    common::drop_database(&url).await;
}

/// A library of migration 0011 (tag and metadata rows without a time) gains its assets'
/// creation times in those rows (0012), and a search by one tag or one metadata value (a walk
/// of that index in date order) finds them newest first.
const TAGGED: [&str; 6] = [
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded, tags, metadata)
       VALUES ('older', 7, 'p', 'o.png', 1, 'image/png', 'h', 'b1', 10, 10, 'o.png', '[\"Hero\"]', '{\"Team\":\"Red\"}')",
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded, tags, metadata)
       VALUES ('newer', 7, 'p', 'n.png', 1, 'image/png', 'h', 'b2', 20, 20, 'n.png', '[\"Hero\"]', '{\"Team\":\"red\"}')",
    "INSERT INTO asset_tags (asset_id, account_id, tag, folded) VALUES ('older', 7, 'Hero', 'hero')",
    "INSERT INTO asset_tags (asset_id, account_id, tag, folded) VALUES ('newer', 7, 'Hero', 'hero')",
    "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded) VALUES ('older', 7, 'Team', 'Red', 'red')",
    "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded) VALUES ('newer', 7, 'Team', 'red', 'red')",
];
const DATED_ROWS: &str = "SELECT 'tag', asset_id, created_at FROM asset_tags
     UNION ALL SELECT 'meta', asset_id, created_at FROM asset_metadata ORDER BY 1, 2";

async fn check_dated(url: &str) -> Vec<(String, String, i64)> {
    use assetlib_core::search::{AssetQuery, Scope};
    let store = assetlib_db::connect(url).await.unwrap();
    let ids = |v: Vec<assetlib_core::model::Asset>| v.into_iter().map(|a| a.id.0).collect::<Vec<_>>();
    let mut by_tag = AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 10);
    by_tag.tags = vec!["hero".into()];
    assert_eq!(ids(store.search_assets(&by_tag, 100).await.unwrap()), ["newer", "older"]);
    by_tag.sort.descending = false;
    assert_eq!(ids(store.search_assets(&by_tag, 100).await.unwrap()), ["older", "newer"]);
    let mut by_value = AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 1);
    by_value.metadata = vec![("Team".into(), "RED".into())];
    assert_eq!(ids(store.search_assets(&by_value, 100).await.unwrap()), ["newer"]);
    vec![
        ("meta".into(), "newer".into(), 20),
        ("meta".into(), "older".into(), 10),
        ("tag".into(), "newer".into(), 20),
        ("tag".into(), "older".into(), 10),
    ]
}

#[tokio::test]
async fn sqlite_libraries_before_the_dated_side_rows_carry_forward() {
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("sqlite", 11, old.path());
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for sql in TAGGED {
        conn.execute(sql).await.unwrap();
    }
    conn.close().await.unwrap();
    let want = check_dated(&url).await;
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(DATED_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, want);
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_libraries_before_the_dated_side_rows_carry_forward() {
    let Some(url) = common::fresh_postgres_url().await else { return };
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("postgres", 11, old.path());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for sql in TAGGED {
        conn.execute(sql).await.unwrap();
    }
    let want = check_dated(&url).await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(DATED_ROWS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(rows, want);
    conn.close().await.unwrap();
    common::drop_database(&url).await;
}

/// A PostgreSQL library of migration 0012 gains the terms index (0013) over the assets it
/// holds: a conjunction that fewer assets meet than each of its filters alone is answered from
/// it, and finds them.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_libraries_before_the_terms_index_carry_forward() {
    use assetlib_core::search::{AssetQuery, Scope, Sort};
    let Some(url) = common::fresh_postgres_url().await else { return };
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("postgres", 12, old.path());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for (id, tag, team) in [("both", "Hero", "Red"), ("tag-only", "hero", "Blue"), ("team-only", "Other", "red")] {
        let asset = format!(
            "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded, tags, metadata)
               VALUES ('{id}', 7, 'p/q', '{id}.png', 1, 'image/png', 'h', 'b-{id}', 10, 10, '{id}.png', '[\"{tag}\"]', '{{\"Team\":\"{team}\"}}')"
        );
        let tag_row = format!(
            "INSERT INTO asset_tags (asset_id, account_id, tag, folded, created_at) VALUES ('{id}', 7, '{tag}', lower('{tag}'), 10)"
        );
        let team_row = format!(
            "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded, created_at) VALUES ('{id}', 7, 'Team', '{team}', lower('{team}'), 10)"
        );
        for sql in [asset, tag_row, team_row] {
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
    }
    let store = assetlib_db::connect(&url).await.unwrap();
    let mut q = AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 10);
    q.tags = vec!["HERO".into()];
    q.metadata = vec![("Team".into(), "RED".into())];
    q.path_prefix = Some("p".into());
    q.sort = Sort::parse("name").unwrap();
    let found: Vec<String> = store.search_assets(&q, 100).await.unwrap().into_iter().map(|a| a.id.0).collect();
    assert_eq!(found, ["both"]);
    let indexed: (i64,) = sqlx::query_as("SELECT count(*) FROM assets WHERE asset_terms(tags, metadata, path) @> ARRAY['t:hero', 'm:4:Team=red', 'd:p', 'd:p/q']")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(indexed.0, 1, "the terms of the rows the library held");
    conn.close().await.unwrap();
    common::drop_database(&url).await;
}

/// A PostgreSQL library of migration 0015 gains 0016's counts of the assets it holds by
/// creation time, and a deep offset started from them finds the page that counting finds.
#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_libraries_before_the_time_counts_carry_forward() {
    use assetlib_core::search::{AssetQuery, Paging, Scope};
    let Some(url) = common::fresh_postgres_url().await else { return };
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("postgres", 15, old.path());
    let mut conn = PgConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    conn.execute(
        "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded, archived_at)
         SELECT 'a-' || g, 7, 'p', 'a-' || g, 1, 'image/png', 'h', 'a-' || g, g::BIGINT * 1000003, 1, 'a-' || g,
                CASE WHEN g % 5 = 0 THEN 1 END
         FROM generate_series(1, 15000) AS g ORDER BY random()",
    )
    .await
    .unwrap();
    let store = assetlib_db::connect(&url).await.unwrap();
    let counted: (i64,) = sqlx::query_as("SELECT sum(live)::BIGINT FROM asset_time_counts WHERE account_id = 7")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(counted.0, 12_000, "the unarchived assets the library held");
    for skip in [10_000u64, 10_500, 11_995, 12_000] {
        let mut q = AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 10);
        q.paging = Paging::Skip(skip);
        let found: Vec<String> = store.search_assets(&q, 0).await.unwrap().into_iter().map(|a| a.id.0).collect();
        let want: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM assets WHERE account_id = 7 AND archived_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 10 OFFSET {skip}"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(found, want.into_iter().map(|(id,)| id).collect::<Vec<_>>(), "skip {skip}");
    }
    conn.close().await.unwrap();
    common::drop_database(&url).await;
}

/// A SQLite library of migration 0014 gains the signatures of 0015 in its folder rows: a folder
/// walk with a tag and a metadata value finds what it found before, and no other asset.
#[tokio::test]
async fn sqlite_libraries_before_the_folder_signatures_carry_forward() {
    use assetlib_core::search::{AssetQuery, Scope};
    let dir = tempfile::tempdir().unwrap();
    let old = tempfile::tempdir().unwrap();
    migrations_up_to("sqlite", 14, old.path());
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    Migrator::new(old.path()).await.unwrap().run(&mut conn).await.unwrap();
    conn.execute(INSERT_ACCOUNT).await.unwrap();
    for (id, tag, team, at) in
        [("both", "Hero", "Red", 30), ("tag-only", "hero", "Blue", 20), ("team-only", "Other", "red", 10)]
    {
        let rows = [
            format!(
                "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded, tags, metadata)
                 VALUES ('{id}', 7, 'p/q', '{id}.png', 1, 'image/png', 'h', 'b-{id}', {at}, {at}, '{id}.png', '[\"{tag}\"]', '{{\"Team\":\"{team}\"}}')"
            ),
            format!("INSERT INTO asset_tags (asset_id, account_id, tag, folded, created_at) VALUES ('{id}', 7, '{tag}', lower('{tag}'), {at})"),
            format!(
                "INSERT INTO asset_metadata (asset_id, account_id, key, value, folded, created_at) VALUES ('{id}', 7, 'Team', '{team}', lower('{team}'), {at})"
            ),
            format!("INSERT INTO asset_folders (asset_id, account_id, folder, created_at) VALUES ('{id}', 7, 'p', {at}), ('{id}', 7, 'p/q', {at})"),
        ];
        for sql in rows {
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
    }
    conn.close().await.unwrap();
    let store = assetlib_db::connect(&url).await.unwrap();
    let mut q = AssetQuery::new(Scope::Accounts(vec![AccountId(7)]), 10);
    q.path_prefix = Some("p".into());
    q.tags = vec!["HERO".into()];
    q.metadata = vec![("Team".into(), "RED".into())];
    let ids = |v: Vec<assetlib_core::model::Asset>| v.into_iter().map(|a| a.id.0).collect::<Vec<_>>();
    assert_eq!(ids(store.search_assets(&q, 100).await.unwrap()), ["both"]);
    q.metadata.clear();
    assert_eq!(ids(store.search_assets(&q, 100).await.unwrap()), ["both", "tag-only"]);
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    let (unset,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM asset_folders WHERE terms = 0").fetch_one(&mut conn).await.unwrap();
    assert_eq!(unset, 0, "every folder row has its asset's signature");
}
