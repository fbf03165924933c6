//! `MetaStore` engines on sqlx. Each engine is a module with its own migrations; the engine is
//! chosen by the database URL.
#![forbid(unsafe_code)]

mod errors;
pub mod postgres;
mod shared;
pub mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use assetlib_core::ports::MetaStore;
use assetlib_core::{Error, Result};
use std::sync::Arc;

/// Opens (creating if need be) and migrates the store a database URL names.
pub async fn connect(url: &str) -> Result<Arc<dyn MetaStore>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(Error::invalid(
            "database_url_invalid",
            format!("Unsupported database URL '{url}': use sqlite://PATH or postgres://..."),
        ))
    }
}
