//! Accounts, users and API keys ([`AccountStore`]).

use super::Store;
use crate::engine::Engine;
use crate::rows::{AccountRow, ApiKeyInfoRow, KeyOwnerRow, MembershipRow};
use crate::sql::{Conn, Stmt};
use assetlib_core::auth::Principal;
use assetlib_core::model::{Account, ApiKeyInfo, Millis, NewApiKey, Role, User};
use assetlib_core::ports::AccountStore;
use assetlib_core::{AccountId, Code, Error, ErrorKind, Result, UserId};
use async_trait::async_trait;

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (id, name, public, created_at) VALUES ($1, $2, $3, $4)";
const GET_ACCOUNT: &str = "SELECT id, name, public, created_at FROM accounts WHERE id = $1";
const COUNT_ACCOUNTS: &str = "SELECT COUNT(*) FROM accounts";
const INSERT_USER: &str = "INSERT INTO users (id, name, admin, created_at) VALUES ($1, $2, $3, $4)";
const INSERT_MEMBERSHIP: &str = "INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, $3)";
const INSERT_KEY: &str = "INSERT INTO api_keys (hash, user_id, account_id, read_only, created_at, id, name)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
/// The keys of `account`'s members that reach it.
const ACCOUNT_KEYS: &str = "SELECT k.id, k.name, k.user_id, k.account_id, k.read_only, k.created_at, k.last_used_at
     FROM api_keys k JOIN memberships m ON m.user_id = k.user_id AND m.account_id = $1
     WHERE (k.account_id IS NULL OR k.account_id = $1) AND k.id > $2 ORDER BY k.id LIMIT $3";
const DELETE_KEY: &str = "DELETE FROM api_keys WHERE id = $2 AND (account_id IS NULL OR account_id = $1)
       AND user_id IN (SELECT user_id FROM memberships WHERE account_id = $1)
     RETURNING hash";
const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $1 WHERE hash = $2";
const KEY_OWNER: &str = "SELECT k.user_id, k.account_id, k.read_only, u.name, u.admin
     FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1";
const MEMBERSHIPS: &str = "SELECT user_id, account_id, role FROM memberships WHERE user_id = $1";

/// Gives `user` its `memberships` (a new user, or one whose memberships were removed).
pub(crate) async fn insert_memberships(
    conn: &mut impl Conn,
    user: &UserId,
    memberships: &[(AccountId, Role)],
) -> Result<()> {
    for (account, role) in memberships {
        conn.execute(Stmt::new(INSERT_MEMBERSHIP).bind(user.0.as_str()).bind(account.0).bind(role.as_str())).await?;
    }
    Ok(())
}

#[async_trait]
impl<E: Engine> AccountStore for Store<E> {
    async fn create_account(&self, a: &Account) -> Result<()> {
        let stmt = Stmt::new(INSERT_ACCOUNT).bind(a.id.0).bind(a.name.as_str()).bind(a.public).bind(a.created_at);
        self.engine.write().await?.execute(stmt).await.map_err(|e| match e {
            e if e.kind == ErrorKind::Conflict => {
                Error::conflict(Code::AccountExists, format!("Account {} exists already.", a.id))
            }
            e => e,
        })?;
        Ok(())
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>> {
        let row: Option<AccountRow> =
            self.engine.read().await?.fetch_optional(Stmt::new(GET_ACCOUNT).bind(id.0)).await?;
        Ok(row.map(Account::from))
    }

    async fn account_count(&self) -> Result<u64> {
        let (n,): (i64,) = self.engine.read().await?.fetch_one(Stmt::new(COUNT_ACCOUNTS)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_user(&self, user: &User, memberships: &[(AccountId, Role)]) -> Result<()> {
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    tx.execute(
                        Stmt::new(INSERT_USER)
                            .bind(user.id.0.as_str())
                            .bind(user.name.as_str())
                            .bind(user.admin)
                            .bind(user.created_at),
                    )
                    .await?;
                    insert_memberships(&mut *tx, &user.id, memberships).await?;
                    E::commit(tx).await
                })
            })
            .await
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<()> {
        let stmt = Stmt::new(INSERT_KEY)
            .bind(key.hash.as_str())
            .bind(key.user.0.as_str())
            .bind(key.account.map(|a| a.0))
            .bind(key.read_only)
            .bind(key.created_at)
            .bind(key.id.as_str())
            .bind(key.name.as_str());
        self.engine.write().await?.execute(stmt).await?;
        Ok(())
    }

    async fn list_api_keys(&self, account: AccountId, after: &str, limit: usize) -> Result<Vec<ApiKeyInfo>> {
        let stmt = Stmt::new(ACCOUNT_KEYS).bind(account.0).bind(after).bind(crate::sql::int(limit));
        let rows: Vec<ApiKeyInfoRow> = self.engine.read().await?.fetch_all(stmt).await?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    async fn delete_api_key(&self, account: AccountId, id: &str) -> Result<Option<String>> {
        let stmt = Stmt::new(DELETE_KEY).bind(account.0).bind(id);
        let row: Option<(String,)> = self.engine.write().await?.fetch_optional(stmt).await?;
        Ok(row.map(|(hash,)| hash))
    }

    async fn touch_api_key(&self, key_hash: &str, at: Millis) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(TOUCH_KEY).bind(at).bind(key_hash)).await?;
        Ok(())
    }

    async fn principal_for_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        let mut conn = self.engine.read().await?;
        let Some(owner) = conn.fetch_optional::<KeyOwnerRow>(Stmt::new(KEY_OWNER).bind(key_hash)).await? else {
            return Ok(None);
        };
        let memberships: Vec<MembershipRow> =
            conn.fetch_all(Stmt::new(MEMBERSHIPS).bind(owner.user_id.as_str())).await?;
        owner.principal(memberships).map(Some)
    }
}
