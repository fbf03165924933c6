//! Shared by this crate's integration tests: a fresh PostgreSQL database per test (see
//! `assetlib_db::testing`), and a store opened on it.
#![allow(dead_code)] // each test binary uses its own part

use assetlib_core::ports::MetaStore;
use std::sync::Arc;

pub use assetlib_db::testing::{drop_database, fresh_postgres_url};

/// A PostgreSQL store on a fresh database, with that database's URL; `None` when the test is
/// to be skipped (see [`fresh_postgres_url`]).
pub async fn postgres_store() -> Option<(Arc<dyn MetaStore>, String)> {
    let url = fresh_postgres_url().await?;
    let store = assetlib_db::connect(&url).await.expect("opening the PostgreSQL store");
    Some((store, url))
}

/// A SQLite store in a temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (Arc<dyn MetaStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = assetlib_db::connect(&format!("sqlite://{}", dir.path().join("meta.db").display())).await.unwrap();
    (store, dir)
}

/// A stored file at `path/name` whose blob and hash are `blob`, 3 bytes long.
pub fn file(path: &str, name: &str, blob: &str) -> assetlib_core::model::StoredFile {
    assetlib_core::model::StoredFile {
        path: path.into(),
        name: name.into(),
        size: 3,
        content_type: "image/png".into(),
        hash: format!("hash-{blob}"),
        blob: assetlib_core::BlobKey(blob.into()),
        metadata: None,
    }
}

/// A plain write of `files` to `account` at `now`: fresh ids, no queue entry, no jobs.
pub fn write(
    account: assetlib_core::AccountId,
    files: Vec<assetlib_core::model::StoredFile>,
    now: i64,
) -> assetlib_core::model::AssetWrite {
    assetlib_core::model::AssetWrite {
        account,
        new_ids: files.iter().map(|_| assetlib_core::AssetId::generate()).collect(),
        files,
        created_by: None,
        now,
        queue: None,
        cancel_job: None,
        jobs: vec![],
        overwrite: true,
        fence: None,
    }
}
