//! The side tables that search reads (one row per tag, SKU, metadata entry, collection and
//! favourite of an asset, and one per folder it lies in) hold exactly what the asset's row
//! says, after every kind of write: an upload with and without metadata, a patch, a metadata
//! replacement, a copy, a replacement of the content, a write of many files at once, a
//! collection's deletion, a move, an
//! asset's deletion, a folder's deletion and an import; and on SQLite each folder row's
//! signature of its asset's tags and values (0015) is the one they give, and on PostgreSQL each
//! count of unarchived assets by creation time (0016) is the number they make. They are read here
//! with SQL, as no port reads them yet.

use assetlib_core::model::{Asset, AssetPatch, Collection, Metadata};
use assetlib_core::ports::MetaStore;
use assetlib_core::transfer::{Record, Table};
use assetlib_core::{AccountId, AssetId, CollectionId, UserId};
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::collections::BTreeSet;

mod common;

const A: AccountId = AccountId(1);

/// `table asset value folded` lines (tags and metadata: `folded@created_at`; folders:
/// `account@created_at`).
type Rows = BTreeSet<String>;

const SIDE_ROWS: &str = "SELECT 'tag' AS t, asset_id, tag AS v, folded || '@' || CAST(created_at AS TEXT) AS f FROM asset_tags
     UNION ALL SELECT 'sku', asset_id, sku, '' FROM asset_skus
     UNION ALL SELECT 'meta', asset_id, key || '=' || value, folded || '@' || CAST(created_at AS TEXT) FROM asset_metadata
     UNION ALL SELECT 'col', asset_id, collection_id, '' FROM asset_collections
     UNION ALL SELECT 'fav', asset_id, user_id, '' FROM asset_favourites
     UNION ALL SELECT 'dir', asset_id, folder, CAST(account_id AS TEXT) || '@' || CAST(created_at AS TEXT) FROM asset_folders";

enum Db {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Folder rows whose signature (SQLite's 0015, kept by triggers) is not the one their asset's
/// tags and metadata give now. PostgreSQL keeps none: its column stays 0.
const STALE_SIGNATURES: &str = "SELECT asset_id, folder FROM asset_folders f
     WHERE terms <> (SELECT coalesce(sum(DISTINCT b), 0) FROM asset_term_bits WHERE asset_id = f.asset_id)";
const ANY_SIGNATURE: &str = "SELECT asset_id, folder FROM asset_folders WHERE terms <> 0";

/// Buckets whose count of unarchived assets (PostgreSQL's 0016, kept by triggers) is not the
/// number of such assets they hold, and buckets with such assets but no count.
const STALE_TIME_COUNTS: &str = "SELECT account_id, bucket, n FROM (
       SELECT account_id, bucket, sum(live)::BIGINT AS n FROM asset_time_counts GROUP BY 1, 2) c
     WHERE n <> (SELECT count(*) FROM assets a
                 WHERE a.account_id = c.account_id AND a.created_at >> 26 = c.bucket AND a.archived_at IS NULL)
     UNION ALL SELECT account_id, created_at >> 26, count(*) FROM assets a
     WHERE archived_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM asset_time_counts c WHERE c.account_id = a.account_id AND c.bucket = a.created_at >> 26)
     GROUP BY 1, 2";

impl Db {
    /// The side rows, after checking that every folder row's signature (and on PostgreSQL
    /// every time count) is exact.
    async fn rows(&mut self) -> Rows {
        if let Db::Pg(c) = self {
            let stale: Vec<(i64, i64, i64)> = sqlx::query_as(STALE_TIME_COUNTS).fetch_all(c).await.unwrap();
            assert!(stale.is_empty(), "time counts other than the assets': {stale:?}");
        }
        let stale: Vec<(String, String)> = match self {
            Db::Sqlite(c) => sqlx::query_as(STALE_SIGNATURES).fetch_all(c).await.unwrap(),
            Db::Pg(c) => sqlx::query_as(ANY_SIGNATURE).fetch_all(c).await.unwrap(),
        };
        assert!(stale.is_empty(), "folder rows with a signature other than their asset's: {stale:?}");
        let rows: Vec<(String, String, String, String)> = match self {
            Db::Sqlite(c) => sqlx::query_as(SIDE_ROWS).fetch_all(c).await.unwrap(),
            Db::Pg(c) => sqlx::query_as(SIDE_ROWS).fetch_all(c).await.unwrap(),
        };
        rows.into_iter().map(|(t, a, v, f)| format!("{t} {a} {v} {f}").trim_end().to_owned()).collect()
    }
}

/// What the side tables should hold for these assets, from their values alone.
fn expected(assets: &[&Asset]) -> Rows {
    let mut out = Rows::new();
    for a in assets {
        let id = &a.id.0;
        let at = &a.attributes;
        let at_time = a.created_at;
        out.extend(at.tags.iter().map(|t| format!("tag {id} {t} {}@{at_time}", t.to_lowercase())));
        out.extend(at.skus.iter().map(|s| format!("sku {id} {s}")));
        out.extend(a.metadata.iter().map(|(k, v)| format!("meta {id} {k}={v} {}@{at_time}", v.to_lowercase())));
        out.extend(at.collection_ids.iter().map(|c| format!("col {id} {c}")));
        out.extend(at.favourites.iter().map(|u| format!("fav {id} {u}")));
        // Every folder the asset lies in, from its own up to the top (the root has none).
        let mut folder = a.path.as_str();
        while !folder.is_empty() {
            out.insert(format!("dir {id} {folder} {}@{}", a.account, a.created_at));
            folder = folder.rsplit_once('/').map_or("", |(parent, _)| parent);
        }
    }
    out
}

fn md(pairs: &[(&str, &str)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn check(store: &dyn MetaStore, db: &mut Db, target: &dyn MetaStore, target_db: &mut Db) {
    store
        .create_account(&assetlib_core::model::Account { id: A, name: "a".into(), public: true, created_at: 1 })
        .await
        .unwrap();
    let col = |id: &str| Collection {
        id: CollectionId(id.into()),
        account: A,
        name: id.into(),
        description: String::new(),
        created_at: 1,
        last_modified: 1,
        created_by: None,
    };
    store.create_collection(&col("c1")).await.unwrap();
    store.create_collection(&col("c2")).await.unwrap();

    // An upload with metadata indexes it.
    let mut w = common::write(A, vec![common::file("p", "a.png", "blob-a")], 10);
    w.files[0].metadata = Some(md(&[("Team", "Red"), ("year", "2026")]));
    let a = store.write_assets(&w).await.unwrap().remove(0);
    assert_eq!(db.rows().await, expected(&[&a]));

    // A patch replaces what it names.
    let patch = AssetPatch {
        tags: Some(vec!["Hero".into(), "spring".into()]),
        skus: Some(vec!["SKU-1".into(), "sku-1".into()]),
        collection_ids: Some(vec![CollectionId("c1".into()), CollectionId("c2".into())]),
        favourite: Some((UserId("usr_1".into()), true)),
        ..AssetPatch::default()
    };
    let a = store.update_asset(A, &a.id, &patch, 11).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a]));
    assert!(db.rows().await.contains(&format!("tag {} Hero hero@10", a.id)), "tags are folded for search, dated");
    let patch = AssetPatch { tags: Some(vec!["Other".into()]), ..AssetPatch::default() };
    let a = store.update_asset(A, &a.id, &patch, 12).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a]));

    // Metadata replaced whole; content replaced with and without new metadata.
    let a = store.set_asset_metadata(A, "p", "a.png", &md(&[("Team", "Blue")])).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a]));
    let a = store.write_assets(&common::write(A, vec![common::file("p", "a.png", "blob-a2")], 13)).await.unwrap();
    let a = a.into_iter().next().unwrap();
    assert_eq!(db.rows().await, expected(&[&a]), "a replacement without metadata keeps it");
    let mut w = common::write(A, vec![common::file("p", "a.png", "blob-a3")], 14);
    w.files[0].metadata = Some(md(&[("kind", "Banner")]));
    let a = store.write_assets(&w).await.unwrap().remove(0);
    assert_eq!(db.rows().await, expected(&[&a]));

    // A copy has rows of its own; a collection's deletion and the copy's deletion take theirs.
    let b_id = AssetId("copy-b".into());
    let b = store.copy_asset(A, ("p", "a.png"), ("q", "b.png"), false, false, &b_id, None, 15).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a, &b]));
    assert!(store.delete_collection(A, &CollectionId("c1".into())).await.unwrap());
    let a = store.get_asset_by_id(&a.id).await.unwrap().unwrap();
    let b = store.get_asset_by_id(&b.id).await.unwrap().unwrap();
    assert_eq!(a.attributes.collection_ids, [CollectionId("c2".into())]);
    assert_eq!(db.rows().await, expected(&[&a, &b]));
    assert!(store.delete_asset(A, "q", "b.png", 16).await.unwrap());
    assert_eq!(db.rows().await, expected(&[&a]));

    // An upload without metadata (PostgreSQL's one-statement write), deep; moves by id and by
    // key; a folder's deletion.
    let c = store.write_assets(&common::write(A, vec![common::file("x/y/z", "c.png", "blob-c")], 17)).await.unwrap();
    let c = c.into_iter().next().unwrap();
    assert_eq!(db.rows().await, expected(&[&a, &c]));
    let c = store.move_asset_by_id(A, &c.id, ("x/w", "c.png"), 18).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a, &c]));
    let unused = AssetId("unused".into());
    let c =
        store.copy_asset(A, ("x/w", "c.png"), ("", "c.png"), false, true, &unused, None, 19).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a, &c]), "an asset at the root lies in no folder");
    let c = store.move_asset_by_id(A, &c.id, ("x/v", "c.png"), 20).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a, &c]));
    store.delete_folder(A, "x", 21).await.unwrap();
    assert_eq!(db.rows().await, expected(&[&a]));
    let a = store.move_asset_by_id(A, &a.id, ("r/s", "a.png"), 22).await.unwrap().unwrap();
    assert_eq!(db.rows().await, expected(&[&a]));

    // An import builds the rows from the records.
    for table in Table::ALL {
        let records: Vec<Record> = store.export(table, None, 100).await.unwrap();
        target.import(&records).await.unwrap();
        target.import(&records).await.unwrap();
    }
    assert_eq!(target_db.rows().await, expected(&[&a]));

    // Many files in one write (a zip's commit: many rows a statement, more than one statement):
    // new keys in several folders, metadata on some, a key given twice (the later file
    // replaces the earlier) and a key that exists (replaced, keeping its id and metadata).
    let mut files: Vec<_> =
        (0..1_203).map(|i| common::file(&format!("bulk/f{}", i % 7), &format!("n{i}.png"), &format!("b{i}"))).collect();
    files[5].metadata = Some(md(&[("Team", "Green")]));
    files.push(common::file("bulk/f0", "n0.png", "b0-again"));
    files.push(common::file("r/s", "a.png", "blob-a-bulk"));
    let written = store.write_assets(&common::write(A, files, 30)).await.unwrap();
    assert_eq!(written.len(), 1_205);
    assert_eq!(written[0].id, written[1_203].id, "a key given twice is one asset");
    assert_eq!(written[1_203].blob.0, "b0-again", "the later file wins");
    assert_eq!((written[1_204].id.clone(), written[1_204].blob.0.as_str()), (a.id.clone(), "blob-a-bulk"));
    assert_eq!(written[1_204].metadata, a.metadata);
    assert_eq!(written[5].metadata, md(&[("Team", "Green")]));
    assert_eq!((written[9].path.as_str(), written[9].name.as_str(), written[9].created_at), ("bulk/f2", "n9.png", 30));
    let current: Vec<&Asset> = written[1..].iter().collect();
    assert_eq!(db.rows().await, expected(&current));
    for asset in [&written[5], &written[700], &written[1_203], &written[1_204]] {
        assert_eq!(store.get_asset_by_id(&asset.id).await.unwrap().as_ref(), Some(asset));
    }

    // A write that may not replace, meeting a taken key, changes nothing.
    let mut w =
        common::write(A, vec![common::file("bulk/new", "x.png", "bx"), common::file("bulk/f1", "n1.png", "by")], 31);
    w.overwrite = false;
    assert!(store.write_assets(&w).await.is_err());
    assert!(store.get_asset(A, "bulk/new", "x.png").await.unwrap().is_none());
    assert_eq!(db.rows().await, expected(&current));
}

#[tokio::test]
async fn sqlite_side_rows_follow_the_assets() {
    let (store, dir) = common::sqlite_store().await;
    let (target, target_dir) = common::sqlite_store().await;
    let url = |d: &tempfile::TempDir| format!("sqlite://{}", d.path().join("meta.db").display());
    let mut db = Db::Sqlite(SqliteConnection::connect(&url(&dir)).await.unwrap());
    let mut target_db = Db::Sqlite(SqliteConnection::connect(&url(&target_dir)).await.unwrap());
    check(&*store, &mut db, &*target, &mut target_db).await;
}

#[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
#[tokio::test]
async fn postgres_side_rows_follow_the_assets() {
    let Some((store, url)) = common::postgres_store().await else { return };
    let Some((target, target_url)) = common::postgres_store().await else { return };
    let mut db = Db::Pg(PgConnection::connect(&url).await.unwrap());
    let mut target_db = Db::Pg(PgConnection::connect(&target_url).await.unwrap());
    check(&*store, &mut db, &*target, &mut target_db).await;
    drop((db, target_db));
    common::drop_database(&url).await;
    common::drop_database(&target_url).await;
}
