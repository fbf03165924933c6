//! The statement layer both engines share. A [`Stmt`] is one SQL text with `$N` placeholders
//! and its values (sea-query's `Value`, which sea-query-sqlx binds on SQLite as on PostgreSQL;
//! sqlx binds SQLite's `$N` by number). A [`Conn`] runs it on either engine's connection and
//! decodes rows into types that derive `sqlx::FromRow` (see [`crate::rows`]): a column of the
//! wrong type is an error, never a panic. Every store operation is written once against these
//! two ([`crate::store`]); an engine adds only what really differs ([`crate::engine`]).

use crate::errors::db;
use assetlib_core::Result;
use sea_query::Value;
use sea_query_sqlx::SqlxValues;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, SqliteConnection};
use std::borrow::Cow;
use std::future::Future;

/// The columns of an asset row, in the order [`crate::rows::AssetRow`] reads them, for
/// `concat!` into static SQL.
macro_rules! asset_columns {
    () => {
        "id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, archived_at, sensitive_at, metadata, tags, skus, collection_ids, favourites, batch_id, approved_at, expires_at, license_expires_at, views, downloads"
    };
}
pub(crate) use asset_columns;

/// A row type both engines can decode.
pub(crate) trait Decode: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

impl<T> Decode for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// One statement and its values.
pub(crate) struct Stmt {
    sql: Cow<'static, str>,
    args: Vec<Value>,
}

impl Stmt {
    pub(crate) fn new(sql: &'static str) -> Self {
        Self { sql: Cow::Borrowed(sql), args: Vec::new() }
    }

    /// A statement put together at run time, with its values (see [`crate::store::search`]).
    /// Its text must be made of this crate's constants and `$N` placeholders only: whatever a
    /// client sent is a value, never text.
    pub(crate) fn built(sql: String, args: Vec<Value>) -> Self {
        Self { sql: Cow::Owned(sql), args }
    }

    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }

    /// The statement's text.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.sql
    }

    fn into_parts(self) -> (AssertSqlSafe<Cow<'static, str>>, SqlxValues) {
        (AssertSqlSafe(self.sql), SqlxValues(sea_query::Values(self.args)))
    }
}

/// A connection of either engine (or a transaction, through `&mut *tx`).
pub(crate) trait Conn: Send {
    /// Runs `stmt`; the number of rows it changed.
    fn execute(&mut self, stmt: Stmt) -> impl Future<Output = Result<u64>> + Send;
    fn fetch_all<T: Decode>(&mut self, stmt: Stmt) -> impl Future<Output = Result<Vec<T>>> + Send;
    fn fetch_optional<T: Decode>(&mut self, stmt: Stmt) -> impl Future<Output = Result<Option<T>>> + Send;
    fn fetch_one<T: Decode>(&mut self, stmt: Stmt) -> impl Future<Output = Result<T>> + Send;
}

/// `Conn` for one engine's connection type; the bodies are the same text, each compiled
/// against its own sqlx driver.
macro_rules! conn_for {
    ($conn:ty, $db:ty) => {
        impl Conn for $conn {
            async fn execute(&mut self, stmt: Stmt) -> Result<u64> {
                let (sql, args) = stmt.into_parts();
                let done = sqlx::query_with::<$db, _>(sql, args).execute(self).await.map_err(db)?;
                Ok(done.rows_affected())
            }

            async fn fetch_all<T: Decode>(&mut self, stmt: Stmt) -> Result<Vec<T>> {
                let (sql, args) = stmt.into_parts();
                sqlx::query_as_with::<$db, T, _>(sql, args).fetch_all(self).await.map_err(db)
            }

            async fn fetch_optional<T: Decode>(&mut self, stmt: Stmt) -> Result<Option<T>> {
                let (sql, args) = stmt.into_parts();
                sqlx::query_as_with::<$db, T, _>(sql, args).fetch_optional(self).await.map_err(db)
            }

            async fn fetch_one<T: Decode>(&mut self, stmt: Stmt) -> Result<T> {
                let (sql, args) = stmt.into_parts();
                sqlx::query_as_with::<$db, T, _>(sql, args).fetch_one(self).await.map_err(db)
            }
        }
    };
}

conn_for!(SqliteConnection, sqlx::Sqlite);
conn_for!(PgConnection, sqlx::Postgres);

/// A count or size as SQL holds it (BIGINT); a value past `i64::MAX` is clamped, which no
/// page size or file size reaches.
pub(crate) fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}
