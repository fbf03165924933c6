//! The metadata store on sqlx, for SQLite and PostgreSQL: every port of
//! `assetlib_core::ports` written once ([`store`]) over statements both engines run
//! (`sql.rs`, `rows.rs`), and per engine only what really differs (`engine.rs`: connections,
//! retries, row locks, list parameters, job claiming). Each engine has its own migrations; the
//! engine is chosen by the database URL.
#![forbid(unsafe_code)]

mod engine;
mod errors;
pub mod postgres;
mod rows;
mod shared;
mod sql;
pub mod sqlite;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use assetlib_core::Code;
use assetlib_core::ports::MetaStore;
use assetlib_core::{Error, Result};
use std::sync::Arc;

/// Whether the store `url` names is owned by one server process (SQLite): then no other
/// process writes its assets (the admin commands add only accounts, users and keys).
pub fn is_single_server(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Opens (creating if need be) and migrates the store a database URL names.
pub async fn connect(url: &str) -> Result<Arc<dyn MetaStore>> {
    connect_with(url, postgres::DEFAULT_MAX_CONNECTIONS).await
}

/// As [`connect`]; a PostgreSQL store keeps at most `max_connections` connections (SQLite has
/// its own fixed pools: one writer, eight readers).
pub async fn connect_with(url: &str, max_connections: u32) -> Result<Arc<dyn MetaStore>> {
    if is_single_server(url) {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open_with(url, max_connections).await?))
    } else {
        Err(Error::invalid(
            Code::DatabaseUrlInvalid,
            format!("Unsupported database URL '{url}': use sqlite://PATH or postgres://..."),
        ))
    }
}
