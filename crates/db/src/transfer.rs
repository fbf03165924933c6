//! Whole-library export and import for `assetlib migrate` (see `assetlib_core::migrate`), the
//! same on every engine: [`export_import!`] writes it into an engine's module. Both engines
//! take `$N` placeholders (sqlx binds SQLite's `$N` by number, as PostgreSQL does), so the SQL
//! is one text. What differs is given to the macro: the store type, its connection type, the
//! pool that reads, and how a queue entry is written; each engine keeps `blobs_of`, whose
//! list parameter each engine spells its own way.

/// `export_import!(Store, Connection, read_pool_field, write_queue_fn)`, in a module whose
/// parent defines `asset_columns!`, `asset_from` and `queue_from`; `write_queue_fn(conn, entry)`
/// inserts or replaces an upload queue entry.
macro_rules! export_import {
    ($store:ident, $conn:ty, $read:ident, $import_queue:path) => {
        use super::{asset_from, queue_from};
        use crate::errors::db;
        use crate::shared::{metadata_json, name_of, parent_of};
        use assetlib_core::transfer::{FolderRecord, Record, Table};
        use assetlib_core::model::{Account, NewApiKey, Role, User};
        use assetlib_core::{AccountId, Error, Result, UserId};
        use sqlx::Row;
        use std::collections::HashMap;

        const ASSETS_PAGE: &str = concat!("SELECT ", asset_columns!(), " FROM assets WHERE id > $1 ORDER BY id LIMIT $2");
        const IMPORT_ASSET: &str = "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key,
               created_at, last_modified, created_by, archived_at, sensitive_at, metadata)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, path = excluded.path, name = excluded.name,
               size = excluded.size, content_type = excluded.content_type, hash = excluded.hash,
               blob_key = excluded.blob_key, created_at = excluded.created_at, last_modified = excluded.last_modified,
               created_by = excluded.created_by, archived_at = excluded.archived_at, sensitive_at = excluded.sensitive_at,
               metadata = excluded.metadata";

        impl $store {
            pub(super) async fn export_page(&self, table: Table, after: Option<&Record>, limit: usize) -> Result<Vec<Record>> {
                let limit = limit as i64;
                let read = &self.$read;
                let records = match (table, after) {
                    (Table::Accounts, after) => {
                        let after = match after {
                            Some(Record::Account(a)) => a.id.0,
                            _ => i64::MIN,
                        };
                        sqlx::query("SELECT id, name, public, created_at FROM accounts WHERE id > $1 ORDER BY id LIMIT $2")
                            .bind(after)
                            .bind(limit)
                            .fetch_all(read)
                            .await
                            .map_err(db)?
                            .iter()
                            .map(|r| {
                                Record::Account(Account {
                                    id: AccountId(r.get("id")),
                                    name: r.get("name"),
                                    public: r.get("public"),
                                    created_at: r.get("created_at"),
                                })
                            })
                            .collect()
                    }
                    (Table::Users, after) => {
                        let after = match after {
                            Some(Record::User { user, .. }) => user.id.0.as_str(),
                            _ => "",
                        };
                        let users: Vec<User> =
                            sqlx::query("SELECT id, name, admin, created_at FROM users WHERE id > $1 ORDER BY id LIMIT $2")
                                .bind(after)
                                .bind(limit)
                                .fetch_all(read)
                                .await
                                .map_err(db)?
                                .iter()
                                .map(|r| User {
                                    id: UserId(r.get("id")),
                                    name: r.get("name"),
                                    admin: r.get("admin"),
                                    created_at: r.get("created_at"),
                                })
                                .collect();
                        let (Some(first), Some(last)) = (users.first(), users.last()) else { return Ok(vec![]) };
                        let mut memberships: HashMap<String, Vec<(AccountId, Role)>> = HashMap::new();
                        let rows = sqlx::query(
                            "SELECT user_id, account_id, role FROM memberships WHERE user_id >= $1 AND user_id <= $2
                             ORDER BY user_id, account_id",
                        )
                        .bind(&first.id.0)
                        .bind(&last.id.0)
                        .fetch_all(read)
                        .await
                        .map_err(db)?;
                        for r in rows {
                            let role: String = r.get("role");
                            let role = Role::parse(&role).ok_or_else(|| Error::internal(format!("bad role {role}")))?;
                            memberships.entry(r.get("user_id")).or_default().push((AccountId(r.get("account_id")), role));
                        }
                        users
                            .into_iter()
                            .map(|user| Record::User { memberships: memberships.remove(&user.id.0).unwrap_or_default(), user })
                            .collect()
                    }
                    (Table::ApiKeys, after) => {
                        let after = match after {
                            Some(Record::ApiKey(k)) => k.hash.as_str(),
                            _ => "",
                        };
                        sqlx::query(
                            "SELECT hash, user_id, account_id, read_only, created_at FROM api_keys WHERE hash > $1
                             ORDER BY hash LIMIT $2",
                        )
                        .bind(after)
                        .bind(limit)
                        .fetch_all(read)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| {
                            Record::ApiKey(NewApiKey {
                                hash: r.get("hash"),
                                user: UserId(r.get("user_id")),
                                account: r.get::<Option<i64>, _>("account_id").map(AccountId),
                                read_only: r.get("read_only"),
                                created_at: r.get("created_at"),
                            })
                        })
                        .collect()
                    }
                    (Table::Folders, after) => {
                        let (account, path) = match after {
                            Some(Record::Folder(f)) => (f.account.0, f.path.as_str()),
                            _ => (i64::MIN, ""),
                        };
                        sqlx::query(
                            "SELECT account_id, path, explicit, created_at FROM folders WHERE (account_id, path) > ($1, $2)
                             ORDER BY account_id, path LIMIT $3",
                        )
                        .bind(account)
                        .bind(path)
                        .bind(limit)
                        .fetch_all(read)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| {
                            Record::Folder(FolderRecord {
                                account: AccountId(r.get("account_id")),
                                path: r.get("path"),
                                explicit: r.get("explicit"),
                                created_at: r.get("created_at"),
                            })
                        })
                        .collect()
                    }
                    (Table::Assets, after) => {
                        let after = match after {
                            Some(Record::Asset(a)) => a.id.0.as_str(),
                            _ => "",
                        };
                        let rows = sqlx::query(ASSETS_PAGE).bind(after).bind(limit).fetch_all(read).await.map_err(db)?;
                        rows.iter().map(|r| Record::Asset(asset_from(r))).collect()
                    }
                    (Table::Queues, after) => {
                        let after = match after {
                            Some(Record::Queue(q)) => q.id.0.as_str(),
                            _ => "",
                        };
                        let rows = sqlx::query("SELECT * FROM upload_queues WHERE id > $1 ORDER BY id LIMIT $2")
                            .bind(after)
                            .bind(limit)
                            .fetch_all(read)
                            .await
                            .map_err(db)?;
                        rows.iter().map(|r| queue_from(r).map(Record::Queue)).collect::<Result<_>>()?
                    }
                };
                Ok(records)
            }

            pub(super) async fn import_records(&self, records: &[Record]) -> Result<()> {
                let mut tx = self.begin().await?;
                for record in records {
                    import_one(&mut tx, record).await?;
                }
                tx.commit().await.map_err(db)
            }

            pub(super) async fn count_rows(&self, table: Table) -> Result<u64> {
                let sql = match table {
                    Table::Accounts => "SELECT COUNT(*) FROM accounts",
                    Table::Users => "SELECT COUNT(*) FROM users",
                    Table::ApiKeys => "SELECT COUNT(*) FROM api_keys",
                    Table::Folders => "SELECT COUNT(*) FROM folders",
                    Table::Assets => "SELECT COUNT(*) FROM assets",
                    Table::Queues => "SELECT COUNT(*) FROM upload_queues",
                };
                let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.$read).await.map_err(db)?;
                Ok(n as u64)
            }

            pub(super) async fn count_unfinished_jobs(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM jobs WHERE kind <> 'delete_blob' AND status IN ('queued', 'running')",
                )
                .fetch_one(&self.$read)
                .await
                .map_err(db)?;
                Ok(n as u64)
            }
        }

        async fn import_one(conn: &mut $conn, record: &Record) -> Result<()> {
            match record {
                Record::Account(a) => {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, public, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, public = excluded.public,
                           created_at = excluded.created_at",
                    )
                    .bind(a.id.0)
                    .bind(&a.name)
                    .bind(a.public)
                    .bind(a.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Record::User { user, memberships } => {
                    sqlx::query(
                        "INSERT INTO users (id, name, admin, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name, admin = excluded.admin,
                           created_at = excluded.created_at",
                    )
                    .bind(&user.id.0)
                    .bind(&user.name)
                    .bind(user.admin)
                    .bind(user.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                    sqlx::query("DELETE FROM memberships WHERE user_id = $1")
                        .bind(&user.id.0)
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                    super::common::insert_memberships(conn, &user.id, memberships).await?;
                }
                Record::ApiKey(k) => {
                    sqlx::query(
                        "INSERT INTO api_keys (hash, user_id, account_id, read_only, created_at) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (hash) DO UPDATE SET user_id = excluded.user_id, account_id = excluded.account_id,
                           read_only = excluded.read_only, created_at = excluded.created_at",
                    )
                    .bind(&k.hash)
                    .bind(&k.user.0)
                    .bind(k.account.map(|a| a.0))
                    .bind(k.read_only)
                    .bind(k.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Record::Folder(f) => {
                    sqlx::query(
                        "INSERT INTO folders (account_id, path, parent, name, explicit, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (account_id, path) DO UPDATE SET explicit = excluded.explicit,
                           created_at = excluded.created_at",
                    )
                    .bind(f.account.0)
                    .bind(&f.path)
                    .bind(parent_of(&f.path))
                    .bind(name_of(&f.path))
                    .bind(f.explicit)
                    .bind(f.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Record::Asset(a) => {
                    sqlx::query(IMPORT_ASSET)
                        .bind(&a.id.0)
                        .bind(a.account.0)
                        .bind(&a.path)
                        .bind(&a.name)
                        .bind(a.size as i64)
                        .bind(&a.content_type)
                        .bind(&a.hash)
                        .bind(&a.blob.0)
                        .bind(a.created_at)
                        .bind(a.last_modified)
                        .bind(a.created_by.as_ref().map(|u| u.0.as_str()))
                        .bind(a.archived_at)
                        .bind(a.sensitive_at)
                        .bind(metadata_json(&a.metadata))
                        .execute(&mut *conn)
                        .await
                        .map_err(db)?;
                }
                Record::Queue(q) => $import_queue(conn, q).await?,
            }
            Ok(())
        }
    };
}

pub(crate) use export_import;
