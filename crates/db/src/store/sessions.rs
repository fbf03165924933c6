//! Web UI sessions ([`SessionStore`]): the hash of a cookie's secret, the key it stands for,
//! and when it ends.

use super::Store;
use crate::engine::Engine;
use crate::sql::{Conn, Stmt};
use assetlib_core::model::Millis;
use assetlib_core::ports::SessionStore;
use assetlib_core::{Code, Error, Result};
use async_trait::async_trait;

/// Inserts only for a key that exists, so that a revoked key cannot gain a session.
const CREATE: &str = "INSERT INTO sessions (hash, key_hash, created_at, expires_at)
     SELECT $1, hash, $3, $4 FROM api_keys WHERE hash = $2";
const KEY: &str = "SELECT key_hash, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2";
const DELETE: &str = "DELETE FROM sessions WHERE hash = $1";
const SWEEP: &str = "DELETE FROM sessions WHERE expires_at <= $1";

#[async_trait]
impl<E: Engine> SessionStore for Store<E> {
    async fn create_session(&self, hash: &str, key_hash: &str, now: Millis, expires_at: Millis) -> Result<()> {
        let stmt = Stmt::new(CREATE).bind(hash).bind(key_hash).bind(now).bind(expires_at);
        match self.engine.write().await?.execute(stmt).await? {
            0 => Err(Error::not_found(Code::KeyNotFound, "The API key does not exist.")),
            _ => Ok(()),
        }
    }

    async fn session_key(&self, hash: &str, now: Millis) -> Result<Option<(String, Millis)>> {
        self.engine.read().await?.fetch_optional(Stmt::new(KEY).bind(hash).bind(now)).await
    }

    async fn delete_session(&self, hash: &str) -> Result<bool> {
        Ok(self.engine.write().await?.execute(Stmt::new(DELETE).bind(hash)).await? > 0)
    }

    async fn sweep_sessions(&self, now: Millis) -> Result<u64> {
        self.engine.write().await?.execute(Stmt::new(SWEEP).bind(now)).await
    }
}
