//! Statements both engines run alike (accounts, keys, single-asset reads, job leases): one
//! text each, with `$N` placeholders, which sqlx binds by number on SQLite as on PostgreSQL.
//! [`common_queries!`] writes them into an engine's module as functions of its store, reading
//! through one pool and writing through another (the same on PostgreSQL); the engine's
//! `MetaStore` methods call them.

/// `common_queries!(Store, Connection, read_pool_field, write_pool_field)`, in a module inside
/// an engine's module, which defines `asset_from`, `GET_ASSET` and `GET_ACCOUNT_AND_ASSET`.
macro_rules! common_queries {
    ($store:ty, $conn:ty, $read:ident, $write:ident) => {
        use super::{GET_ACCOUNT_AND_ASSET, GET_ASSET, asset_from};
        use crate::errors::db;
        use assetlib_core::auth::Principal;
        use assetlib_core::model::{Account, Asset, Millis, Role};
        use assetlib_core::{AccountId, Error, JobId, Result, UserId};
        use sqlx::Row;
        use std::collections::HashMap;

        /// Gives `user` its `memberships` (a new user, or one whose memberships were removed).
        pub(super) async fn insert_memberships(
            conn: &mut $conn,
            user: &UserId,
            memberships: &[(AccountId, Role)],
        ) -> Result<()> {
            for (account, role) in memberships {
                sqlx::query("INSERT INTO memberships (user_id, account_id, role) VALUES ($1, $2, $3)")
                    .bind(&user.0)
                    .bind(account.0)
                    .bind(role.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
            }
            Ok(())
        }

        pub(super) async fn create_account(store: &$store, a: &Account) -> Result<()> {
            sqlx::query("INSERT INTO accounts (id, name, public, created_at) VALUES ($1, $2, $3, $4)")
                .bind(a.id.0)
                .bind(&a.name)
                .bind(a.public)
                .bind(a.created_at)
                .execute(&store.$write)
                .await
                .map_err(|e| match db(e) {
                    e if e.kind == assetlib_core::ErrorKind::Conflict => {
                        Error::conflict(assetlib_core::Code::AccountExists, format!("Account {} exists already.", a.id))
                    }
                    e => e,
                })?;
            Ok(())
        }

        pub(super) async fn get_account(store: &$store, id: AccountId) -> Result<Option<Account>> {
            let row = sqlx::query("SELECT id, name, public, created_at FROM accounts WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&store.$read)
                .await
                .map_err(db)?;
            Ok(row.map(|r| Account {
                id: AccountId(r.get("id")),
                name: r.get("name"),
                public: r.get("public"),
                created_at: r.get("created_at"),
            }))
        }

        pub(super) async fn principal_for_key(store: &$store, key_hash: &str) -> Result<Option<Principal>> {
            let Some(row) = sqlx::query(
                "SELECT k.user_id, k.account_id, k.read_only, u.name, u.admin
                 FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1",
            )
            .bind(key_hash)
            .fetch_optional(&store.$read)
            .await
            .map_err(db)?
            else {
                return Ok(None);
            };
            let user: String = row.get("user_id");
            let roles = sqlx::query("SELECT account_id, role FROM memberships WHERE user_id = $1")
                .bind(&user)
                .fetch_all(&store.$read)
                .await
                .map_err(db)?
                .iter()
                .filter_map(|r| Some((AccountId(r.get("account_id")), Role::parse(r.get("role"))?)))
                .collect::<HashMap<_, _>>();
            Ok(Some(Principal {
                user: UserId(user),
                name: row.get("name"),
                admin: row.get("admin"),
                roles,
                key_account: row.get::<Option<i64>, _>("account_id").map(AccountId),
                read_only: row.get("read_only"),
            }))
        }

        pub(super) async fn get_asset(
            store: &$store,
            account: AccountId,
            path: &str,
            name: &str,
        ) -> Result<Option<Asset>> {
            let row = sqlx::query(GET_ASSET)
                .bind(account.0)
                .bind(path)
                .bind(name)
                .fetch_optional(&store.$read)
                .await
                .map_err(db)?;
            Ok(row.as_ref().map(asset_from))
        }

        pub(super) async fn get_account_and_asset(
            store: &$store,
            account: AccountId,
            path: &str,
            name: &str,
        ) -> Result<Option<(Account, Option<Asset>)>> {
            let row = sqlx::query(GET_ACCOUNT_AND_ASSET)
                .bind(account.0)
                .bind(path)
                .bind(name)
                .fetch_optional(&store.$read)
                .await
                .map_err(db)?;
            Ok(row.map(|r| {
                let acct = Account {
                    id: AccountId(r.get("acc_id")),
                    name: r.get("acc_name"),
                    public: r.get("acc_public"),
                    created_at: r.get("acc_created_at"),
                };
                let asset = r.get::<Option<String>, _>("id").is_some().then(|| asset_from(&r));
                (acct, asset)
            }))
        }

        pub(super) async fn extend_job(store: &$store, id: JobId, worker: &str, lease_until: Millis) -> Result<()> {
            sqlx::query("UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'")
                .bind(lease_until)
                .bind(id.0)
                .bind(worker)
                .execute(&store.$write)
                .await
                .map_err(db)?;
            Ok(())
        }

        pub(super) async fn retry_job(store: &$store, id: JobId, run_at: Millis, error: &str) -> Result<()> {
            sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL
                 WHERE id = $3",
            )
            .bind(run_at)
            .bind(error)
            .bind(id.0)
            .execute(&store.$write)
            .await
            .map_err(db)?;
            Ok(())
        }

        pub(super) async fn fail_job(store: &$store, id: JobId, error: &str) -> Result<()> {
            sqlx::query(
                "UPDATE jobs SET status = 'failed', last_error = $1, locked_by = NULL, locked_until = NULL WHERE id = $2",
            )
            .bind(error)
            .bind(id.0)
            .execute(&store.$write)
            .await
            .map_err(db)?;
            Ok(())
        }
    };
}

pub(crate) use common_queries;
