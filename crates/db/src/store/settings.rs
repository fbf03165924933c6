//! Named facts every server of a library agrees on ([`SettingStore`]).

use super::Store;
use crate::engine::Engine;
use crate::sql::{Conn, Stmt};
use assetlib_core::Result;
use assetlib_core::ports::SettingStore;
use async_trait::async_trait;

const GET: &str = "SELECT value FROM settings WHERE name = $1";
const INSERT_IF_ABSENT: &str = "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
const UPSERT: &str =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";

#[async_trait]
impl<E: Engine> SettingStore for Store<E> {
    async fn get_setting(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = self.engine.read().await?.fetch_optional(Stmt::new(GET).bind(name)).await?;
        Ok(row.map(|(v,)| v))
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String> {
        let mut conn = self.engine.write().await?;
        conn.execute(Stmt::new(INSERT_IF_ABSENT).bind(name).bind(value)).await?;
        let (stored,): (String,) = conn.fetch_one(Stmt::new(GET).bind(name)).await?;
        Ok(stored)
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(UPSERT).bind(name).bind(value)).await?;
        Ok(())
    }
}
