//! `assetlib migrate`: an embedded library (SQLite + local directory) copied into other stores.
//! The target is PostgreSQL + S3 where the scale-out services are configured
//! (`ASSETLIB_TEST_BACKEND=postgres-s3`, as `scripts/test.sh` runs it), and a second SQLite +
//! local directory otherwise.

mod common;

use assetlib::config::Config;
use assetlib_core::AccountId;
use assetlib_core::migrate::{Flow, Options, Progress, Stores, Table, migrate};
use assetlib_core::model::{Asset, AssetPatch, Collection, Role};
use common::{Backend, TestApp, binary, png, test_config, zip_of};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// A target's config: the scale-out stores when configured, else the embedded pair in `dir`.
async fn target_config(dir: &Path, test: &str) -> (Config, Backend) {
    let backend = Backend::from_env(test).await;
    let mut config = test_config(dir);
    backend.apply(&mut config);
    (config, backend)
}

/// The source: an embedded server with a bit of everything in it, stopped when this returns.
struct Source {
    config: Config,
    owner_key: String,
    viewer_key: String,
    other_key: String,
    /// Key → bytes of every asset, as served before the migration.
    files: Vec<(String, Vec<u8>)>,
    /// Listings (Jivox) of a few folders, as the source gave them.
    listings: Vec<(String, Value)>,
    /// An asset with every kind of attribute, and the collection it is in.
    logo: Asset,
    collection: Collection,
    _dir: tempfile::TempDir,
}

async fn make_source() -> Source {
    let app = TestApp::spawn_on(Backend::default()).await;
    let mut files = vec![];
    for (path, name, bytes) in [
        (None, "logo.png", png()),
        (Some("docs"), "readme.txt", b"read me".to_vec()),
        (Some("deep/x/y"), "z.txt", b"deep down".to_vec()),
        (Some("docs"), "report_1.txt", b"report one".to_vec()),
    ] {
        app.put(path, name, bytes.clone()).await;
        files.push((path.map_or(name.to_owned(), |p| format!("{p}/{name}")), bytes));
    }
    // Replaced content: only the new bytes are the asset's.
    app.put(Some("docs"), "readme.txt", b"read me, version 2".to_vec()).await;
    files[1].1 = b"read me, version 2".to_vec();
    let queue = app.put(Some("unzipped"), "two.zip", zip_of(&[("b.txt", b"bee"), ("c/d.txt", b"dee")])).await;
    assert_eq!(app.wait_queue(&queue).await["status"], "Completed");
    files.push(("unzipped/b.txt".into(), b"bee".to_vec()));
    files.push(("unzipped/c/d.txt".into(), b"dee".to_vec()));
    let owner = app.owner().await;
    app.lib().create_folder(&owner, AccountId(1), "empty/explicit").await.expect("explicit folder");
    app.lib().set_asset_marks(&owner, AccountId(1), "deep/x/y/z.txt", Some(true), None).await.expect("archive");
    // Attributes and a collection, which the migration must carry too.
    let collection = app.lib().create_collection(&owner, AccountId(1), "Launch", "the launch set").await.unwrap();
    let logo = app.lib().find_asset(&owner, AccountId(1), "logo.png").await.unwrap();
    let patch = AssetPatch {
        tags: Some(vec!["brand".into(), "Logo".into()]),
        skus: Some(vec!["SKU-9".into()]),
        collection_ids: Some(vec![collection.id.clone()]),
        approved: Some(true),
        batch_id: Some(Some("b-1".into())),
        favourite: Some((owner.user.clone(), true)),
        ..AssetPatch::default()
    };
    let logo = app.lib().update_asset(&owner, AccountId(1), &logo.id, patch).await.expect("attributes");
    let viewer_key = app.user(1, Role::Viewer).await;
    app.account(2).await;
    let other_key = app.user(2, Role::Editor).await;
    let res = app.upload(&other_key, 2, Some("two"), "only.txt", b"account two".to_vec()).await;
    assert_eq!(res.status(), 200);

    let mut listings = vec![];
    for (key, path) in [
        (&app.key, "/v2/accounts/1/asset-library"),
        (&app.key, "/v2/accounts/1/asset-library?prefix=docs"),
        (&app.key, "/v2/accounts/1/asset-library?prefix=empty"),
        (&app.key, "/v2/accounts/1/asset-library?prefix=unzipped&recursive=true"),
        (&other_key, "/v2/accounts/2/asset-library?prefix=two"),
    ] {
        let (status, body) = app.get_json(key, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        listings.push((path.to_owned(), body));
    }
    let config = app.config.clone();
    let owner_key = app.key.clone();
    let dir = app.stop_keeping_data().await;
    Source { config, owner_key, viewer_key, other_key, files, listings, logo, collection, _dir: dir }
}

fn run_migrate(source: &Source, target: &Config, backend: &Backend) -> (bool, Value, String) {
    let out = Command::new(binary())
        .arg("migrate")
        .args(["--data-dir", source.config.data_dir.to_str().unwrap()])
        .args(["--to-database-url", &target.database_url()])
        .args(["--to-blob-store", &target.blob_store()])
        .envs(backend.env())
        .output()
        .expect("run assetlib migrate");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let summary = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (out.status.success(), summary, stderr)
}

async fn stores(config: &Config) -> Stores {
    assetlib::open_stores(config).await.expect("open stores")
}

#[tokio::test]
async fn round_trip_through_the_command_line_keeps_keys_ids_and_urls() {
    let source = make_source().await;
    let dir = tempfile::tempdir().unwrap();
    let (target, backend) = target_config(dir.path(), "migrate round trip").await;

    let (ok, summary, stderr) = run_migrate(&source, &target, &backend);
    assert!(ok, "migrate failed: {stderr}");
    assert!(stderr.contains("migrate: assets 7/7"), "progress on stderr: {stderr}");
    assert_eq!(summary["accounts"], 2, "{summary}");
    assert_eq!(summary["users"], 3, "owner, viewer, account 2's editor: {summary}");
    assert_eq!(summary["folders"], 9, "docs, deep(/x(/y)), unzipped(/c), empty(/explicit), two: {summary}");
    assert_eq!(summary["uploadQueues"], 7, "{summary}");
    assert_eq!(summary["collections"], 1, "{summary}");
    assert_eq!(summary["apiKeys"], 3, "{summary}");
    assert_eq!(summary["assets"], 7, "{summary}");
    assert_eq!(summary["blobsCopied"], 7, "{summary}");
    assert_eq!(summary["blobsSkipped"], 0, "{summary}");
    let total: usize = source.files.iter().map(|(_, b)| b.len()).sum::<usize>() + b"account two".len();
    assert_eq!(summary["bytesCopied"], total as u64, "{summary}");

    // Running it again finds everything there: nothing is copied twice.
    let (ok, again, stderr) = run_migrate(&source, &target, &backend);
    assert!(ok, "second run failed: {stderr}");
    assert_eq!(again["blobsCopied"], 0, "{again}");
    assert_eq!(again["blobsSkipped"], 7, "{again}");
    assert_eq!(again["assets"], 7, "{again}");

    // A server on the target: same keys, same listings, same files at the same URLs.
    let app = TestApp::spawn_target(backend, target).await;
    for (path, before) in &source.listings {
        let key = if path.contains("/accounts/2/") { &source.other_key } else { &source.owner_key };
        let (status, after) = app.get_json(key, path).await;
        assert_eq!(status, 200, "{path}: {after}");
        assert_eq!(&strip_urls(after), &strip_urls(before.clone()), "listing {path}");
    }
    for (key, bytes) in &source.files {
        let res = app.client.get(app.url(&format!("/files/1/{key}"))).send().await.unwrap();
        if key == "deep/x/y/z.txt" {
            assert_eq!(res.status(), 404, "the archived file stays unpublished");
            continue;
        }
        assert_eq!(res.status(), 200, "{key}");
        assert_eq!(&res.bytes().await.unwrap()[..], &bytes[..], "{key}");
    }
    let res = app.client.get(app.url("/files/2/two/only.txt")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "account two");
    // Every attribute and the collection came along, by the same ids.
    let owner = app.lib().authenticate(&source.owner_key).await.unwrap();
    assert_eq!(app.lib().asset_by_id(&owner, &source.logo.id).await.unwrap(), source.logo);
    assert_eq!(app.lib().collection(&owner, AccountId(1), &source.collection.id).await.unwrap(), source.collection);
    // Roles and account scopes came along.
    let res = app.upload(&source.viewer_key, 1, None, "v.txt", b"no".to_vec()).await;
    assert_eq!(res.status(), 403, "a viewer still may not write");
    let (status, _) = app.get_json(&source.other_key, "/v2/accounts/1/asset-library").await;
    assert_eq!(status, 403, "account 2's key still does not reach account 1");
    let res = app.upload(&source.owner_key, 1, Some("after"), "new.txt", b"on the new stores".to_vec()).await;
    assert_eq!(res.status(), 200, "the owner writes on the new stores");
    app.stop().await;
}

/// Listings carry the server's base URL in `cdnUrl`; the rest must be equal.
fn strip_urls(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            if let Some(Value::String(url)) = map.get_mut("cdnUrl") {
                *url = url.split_once("/files/").map_or(url.clone(), |(_, rest)| rest.to_owned());
            }
            for value in map.values_mut() {
                *value = strip_urls(value.take());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| *i = strip_urls(i.take())),
        _ => {}
    }
    v
}

#[tokio::test]
async fn an_interrupted_migration_resumes_where_it_stopped() {
    let source = make_source().await;
    let dir = tempfile::tempdir().unwrap();
    let (target, _backend) = target_config(dir.path(), "migrate resume").await;
    let from = stores(&source.config).await;
    let to = stores(&target).await;
    let options = Options { page_size: 2, concurrency: 2 };

    // Stop after the first page of assets, as a crash between two pages would.
    let stop_in_assets = |p: &Progress| if p.table == Some(Table::Assets) { Flow::Stop } else { Flow::Continue };
    let stopped = migrate(&from, &to, &options, stop_in_assets).await.expect("first run");
    assert!(stopped.is_none(), "it stopped");
    assert_eq!(to.meta.count(Table::Assets).await.unwrap(), 2, "one page of assets went in");
    assert_eq!(to.meta.count(Table::Accounts).await.unwrap(), 2);

    let summary = migrate(&from, &to, &options, |_| Flow::Continue).await.expect("resumed").expect("finished");
    assert_eq!(summary.assets, 7);
    assert_eq!(summary.blobs_skipped, 2, "the first page's blobs were not copied again");
    assert_eq!(summary.blobs_copied, 5);
    for table in Table::ALL {
        assert_eq!(
            to.meta.count(table).await.unwrap(),
            from.meta.count(table).await.unwrap(),
            "{} match",
            table.as_str()
        );
    }
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_hash_stops_the_copy() {
    let source = make_source().await;
    let from = stores(&source.config).await;
    // Corrupt one stored blob behind the library's back.
    let asset = from.meta.get_asset(AccountId(1), "docs", "readme.txt").await.unwrap().expect("asset");
    let root = source.config.blob_store().trim_start_matches("file://").to_owned();
    std::fs::write(Path::new(&root).join(&asset.blob.0), b"read me, version 3").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (target, _backend) = target_config(dir.path(), "migrate corrupt").await;
    let to = stores(&target).await;
    let options = Options { page_size: 100, concurrency: 1 };
    let err = migrate(&from, &to, &options, |_| Flow::Continue).await.expect_err("refused");
    assert_eq!(err.code, "migrate_content_mismatch");
    assert!(err.message.contains("docs/readme.txt"), "{}", err.message);
    assert!(to.meta.asset_blobs(std::slice::from_ref(&asset.id)).await.unwrap().is_empty(), "no row for it");
    assert!(!to.blobs.exists(&asset.blob).await.unwrap(), "no blob for it");
}

#[tokio::test]
async fn a_target_that_a_server_has_started_on_is_refused() {
    let source = make_source().await;
    let dir = tempfile::tempdir().unwrap();
    let (target, backend) = target_config(dir.path(), "migrate used target").await;
    // A server started on the target made its own account 1.
    let app = TestApp::spawn_target(backend.clone(), target.clone()).await;
    app.stop().await;
    let (ok, _, stderr) = run_migrate(&source, &target, &backend);
    assert!(!ok, "refused");
    assert!(stderr.contains("The target already holds account 1"), "{stderr}");
}

#[tokio::test]
async fn a_source_with_unfinished_zip_expansions_is_refused() {
    let source = make_source().await;
    let from = stores(&source.config).await;
    let job = assetlib_core::model::NewJob {
        kind: assetlib_core::model::JobKind::ExpandZip {
            queue: assetlib_core::QueueId::generate(),
            folder: String::new(),
            created_by: None,
        },
        run_at: i64::MAX,
    };
    from.meta.enqueue_job(&job).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (target, _backend) = target_config(dir.path(), "migrate busy").await;
    let to = stores(&target).await;
    let err = migrate(&from, &to, &Options::default(), |_| Flow::Continue).await.expect_err("refused");
    assert_eq!(err.code, "migrate_source_busy");
    assert_eq!(to.meta.count(Table::Accounts).await.unwrap(), 0, "nothing was written");
}
