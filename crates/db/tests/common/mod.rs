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
