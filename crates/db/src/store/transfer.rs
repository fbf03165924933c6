//! Whole-library export and import for `assetlib migrate` ([`TransferStore`]): pages of each
//! table in primary-key order, and records written back as they are (ids and times kept).

use super::accounts::insert_memberships;
use super::attributes::{Rows, index_folders, write_attributes};
use super::{Store, put_queue_in};
use crate::engine::Engine;
use crate::rows::{AccountRow, ApiKeyRow, AssetRow, CollectionRow, MembershipRow, QueueRow, UserRow};
use crate::shared::{name_of, parent_of};
use crate::sql::{Conn, Stmt, asset_columns, int};
use assetlib_core::model::{Account, Asset, Collection, NewApiKey, QueueEntry, Role, User};
use assetlib_core::ports::TransferStore;
use assetlib_core::transfer::{FolderRecord, Record, RenditionRecord, Table};
use assetlib_core::{AccountId, BlobKey, Result};
use async_trait::async_trait;
use std::collections::HashMap;

const ACCOUNTS_PAGE: &str = "SELECT id, name, public, created_at FROM accounts WHERE id > $1 ORDER BY id LIMIT $2";
const USERS_PAGE: &str = "SELECT id, name, admin, created_at FROM users WHERE id > $1 ORDER BY id LIMIT $2";
const MEMBERSHIPS_OF_USERS: &str =
    "SELECT user_id, account_id, role FROM memberships WHERE user_id >= $1 AND user_id <= $2
     ORDER BY user_id, account_id";
const KEYS_PAGE: &str = "SELECT hash, user_id, account_id, read_only, created_at, id, name FROM api_keys WHERE hash > $1 ORDER BY hash LIMIT $2";
const FOLDERS_PAGE: &str =
    "SELECT account_id, path, explicit, created_at FROM folders WHERE (account_id, path) > ($1, $2)
     ORDER BY account_id, path LIMIT $3";
const ASSETS_PAGE: &str = concat!("SELECT ", asset_columns!(), " FROM assets WHERE id > $1 ORDER BY id LIMIT $2");
const QUEUES_PAGE: &str = "SELECT id, account_id, status, total_items, total_processed, message, errors, source_blob,
       created_at, updated_at FROM upload_queues WHERE id > $1 ORDER BY id LIMIT $2";

const RENDITIONS_PAGE: &str = "SELECT source_blob, version, blob_key, size, content_type, extension, width, height,
       created_at FROM renditions WHERE (source_blob, version) > ($1, $2) ORDER BY source_blob, version LIMIT $3";
const IMPORT_RENDITION: &str = "INSERT INTO renditions
       (source_blob, version, blob_key, size, content_type, extension, width, height, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (source_blob, version) DO UPDATE SET blob_key = excluded.blob_key, size = excluded.size,
       content_type = excluded.content_type, extension = excluded.extension, width = excluded.width,
       height = excluded.height, created_at = excluded.created_at";

#[derive(sqlx::FromRow)]
struct RenditionRow {
    source_blob: String,
    version: String,
    blob_key: String,
    size: i64,
    content_type: String,
    extension: String,
    width: i32,
    height: i32,
    created_at: i64,
}

impl From<RenditionRow> for RenditionRecord {
    fn from(r: RenditionRow) -> Self {
        RenditionRecord {
            source: BlobKey(r.source_blob),
            version: r.version,
            blob: BlobKey(r.blob_key),
            size: u64::try_from(r.size).unwrap_or(0),
            content_type: r.content_type,
            extension: r.extension,
            width: u32::try_from(r.width).unwrap_or(0),
            height: u32::try_from(r.height).unwrap_or(0),
            created_at: r.created_at,
        }
    }
}

const IMPORT_ACCOUNT: &str = "INSERT INTO accounts (id, name, public, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, public = excluded.public, created_at = excluded.created_at";
const IMPORT_USER: &str = "INSERT INTO users (id, name, admin, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, admin = excluded.admin, created_at = excluded.created_at";
const DELETE_MEMBERSHIPS: &str = "DELETE FROM memberships WHERE user_id = $1";
const IMPORT_KEY: &str =
    "INSERT INTO api_keys (hash, user_id, account_id, read_only, created_at, id, name) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (hash) DO UPDATE SET user_id = excluded.user_id, account_id = excluded.account_id,
       read_only = excluded.read_only, created_at = excluded.created_at, id = excluded.id, name = excluded.name";
const IMPORT_FOLDER: &str =
    "INSERT INTO folders (account_id, path, parent, name, explicit, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (account_id, path) DO UPDATE SET explicit = excluded.explicit, created_at = excluded.created_at";
/// The asset's key, content and counters; its attributes follow ([`write_attributes`]).
const IMPORT_ASSET: &str = "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key,
       created_at, last_modified, created_by, views, downloads, name_folded)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, lower($4))
     ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, path = excluded.path, name = excluded.name,
       size = excluded.size, content_type = excluded.content_type, hash = excluded.hash,
       blob_key = excluded.blob_key, created_at = excluded.created_at, last_modified = excluded.last_modified,
       created_by = excluded.created_by, views = excluded.views, downloads = excluded.downloads,
       name_folded = excluded.name_folded";
const COLLECTIONS_PAGE: &str = "SELECT id, account_id, name, description, created_at, last_modified, created_by
     FROM collections WHERE id > $1 ORDER BY id LIMIT $2";
const IMPORT_COLLECTION: &str =
    "INSERT INTO collections (id, account_id, name, description, created_at, last_modified, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id, name = excluded.name,
       description = excluded.description, created_at = excluded.created_at,
       last_modified = excluded.last_modified, created_by = excluded.created_by";

#[derive(sqlx::FromRow)]
struct FolderRow {
    account_id: i64,
    path: String,
    explicit: bool,
    created_at: i64,
}

async fn import_one(conn: &mut impl Conn, record: &Record) -> Result<()> {
    match record {
        Record::Account(a) => {
            conn.execute(
                Stmt::new(IMPORT_ACCOUNT).bind(a.id.0).bind(a.name.as_str()).bind(a.public).bind(a.created_at),
            )
            .await?;
        }
        Record::User { user, memberships } => {
            conn.execute(
                Stmt::new(IMPORT_USER)
                    .bind(user.id.0.as_str())
                    .bind(user.name.as_str())
                    .bind(user.admin)
                    .bind(user.created_at),
            )
            .await?;
            conn.execute(Stmt::new(DELETE_MEMBERSHIPS).bind(user.id.0.as_str())).await?;
            insert_memberships(conn, &user.id, memberships).await?;
        }
        Record::ApiKey(k) => {
            conn.execute(
                Stmt::new(IMPORT_KEY)
                    .bind(k.hash.as_str())
                    .bind(k.user.0.as_str())
                    .bind(k.account.map(|a| a.0))
                    .bind(k.read_only)
                    .bind(k.created_at)
                    .bind(k.id.as_str())
                    .bind(k.name.as_str()),
            )
            .await?;
        }
        Record::Folder(f) => {
            conn.execute(
                Stmt::new(IMPORT_FOLDER)
                    .bind(f.account.0)
                    .bind(f.path.as_str())
                    .bind(parent_of(&f.path))
                    .bind(name_of(&f.path))
                    .bind(f.explicit)
                    .bind(f.created_at),
            )
            .await?;
        }
        Record::Asset(a) => {
            conn.execute(
                Stmt::new(IMPORT_ASSET)
                    .bind(a.id.0.as_str())
                    .bind(a.account.0)
                    .bind(a.path.as_str())
                    .bind(a.name.as_str())
                    .bind(int(a.size))
                    .bind(a.content_type.as_str())
                    .bind(a.hash.as_str())
                    .bind(a.blob.0.as_str())
                    .bind(a.created_at)
                    .bind(a.last_modified)
                    .bind(a.created_by.as_ref().map(|u| u.0.clone()))
                    .bind(int(a.views))
                    .bind(int(a.downloads)),
            )
            .await?;
            write_attributes(conn, a, Rows::Replace).await?;
            index_folders(conn, a, Rows::Replace).await?;
        }
        Record::Collection(c) => {
            conn.execute(
                Stmt::new(IMPORT_COLLECTION)
                    .bind(c.id.0.as_str())
                    .bind(c.account.0)
                    .bind(c.name.as_str())
                    .bind(c.description.as_str())
                    .bind(c.created_at)
                    .bind(c.last_modified)
                    .bind(c.created_by.as_ref().map(|u| u.0.clone())),
            )
            .await?;
        }
        Record::Queue(q) => put_queue_in(conn, q).await?,
        Record::Rendition(r) => {
            conn.execute(
                Stmt::new(IMPORT_RENDITION)
                    .bind(r.source.0.as_str())
                    .bind(r.version.as_str())
                    .bind(r.blob.0.as_str())
                    .bind(int(r.size))
                    .bind(r.content_type.as_str())
                    .bind(r.extension.as_str())
                    .bind(i64::from(r.width))
                    .bind(i64::from(r.height))
                    .bind(r.created_at),
            )
            .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl<E: Engine> TransferStore for Store<E> {
    async fn export(&self, table: Table, after: Option<&Record>, limit: usize) -> Result<Vec<Record>> {
        let limit = int(limit);
        let mut conn = self.engine.read().await?;
        let records = match table {
            Table::Accounts => {
                let after = match after {
                    Some(Record::Account(a)) => a.id.0,
                    _ => i64::MIN,
                };
                let rows: Vec<AccountRow> = conn.fetch_all(Stmt::new(ACCOUNTS_PAGE).bind(after).bind(limit)).await?;
                rows.into_iter().map(|r| Record::Account(Account::from(r))).collect()
            }
            Table::Users => {
                let after = match after {
                    Some(Record::User { user, .. }) => user.id.0.as_str(),
                    _ => "",
                };
                let rows: Vec<UserRow> = conn.fetch_all(Stmt::new(USERS_PAGE).bind(after).bind(limit)).await?;
                let users: Vec<User> = rows.into_iter().map(User::from).collect();
                let (Some(first), Some(last)) = (users.first(), users.last()) else { return Ok(vec![]) };
                let rows: Vec<MembershipRow> = conn
                    .fetch_all(Stmt::new(MEMBERSHIPS_OF_USERS).bind(first.id.0.as_str()).bind(last.id.0.as_str()))
                    .await?;
                let mut memberships: HashMap<String, Vec<(AccountId, Role)>> = HashMap::new();
                for r in rows {
                    let role = r.role()?;
                    memberships.entry(r.user_id).or_default().push((AccountId(r.account_id), role));
                }
                users
                    .into_iter()
                    .map(|user| Record::User { memberships: memberships.remove(&user.id.0).unwrap_or_default(), user })
                    .collect()
            }
            Table::ApiKeys => {
                let after = match after {
                    Some(Record::ApiKey(k)) => k.hash.as_str(),
                    _ => "",
                };
                let rows: Vec<ApiKeyRow> = conn.fetch_all(Stmt::new(KEYS_PAGE).bind(after).bind(limit)).await?;
                rows.into_iter().map(|r| Record::ApiKey(NewApiKey::from(r))).collect()
            }
            Table::Folders => {
                let (account, path) = match after {
                    Some(Record::Folder(f)) => (f.account.0, f.path.as_str()),
                    _ => (i64::MIN, ""),
                };
                let rows: Vec<FolderRow> =
                    conn.fetch_all(Stmt::new(FOLDERS_PAGE).bind(account).bind(path).bind(limit)).await?;
                rows.into_iter()
                    .map(|r| {
                        Record::Folder(FolderRecord {
                            account: AccountId(r.account_id),
                            path: r.path,
                            explicit: r.explicit,
                            created_at: r.created_at,
                        })
                    })
                    .collect()
            }
            Table::Collections => {
                let after = match after {
                    Some(Record::Collection(c)) => c.id.0.as_str(),
                    _ => "",
                };
                let rows: Vec<CollectionRow> =
                    conn.fetch_all(Stmt::new(COLLECTIONS_PAGE).bind(after).bind(limit)).await?;
                rows.into_iter().map(|r| Record::Collection(Collection::from(r))).collect()
            }
            Table::Assets => {
                let after = match after {
                    Some(Record::Asset(a)) => a.id.0.as_str(),
                    _ => "",
                };
                let rows: Vec<AssetRow> = conn.fetch_all(Stmt::new(ASSETS_PAGE).bind(after).bind(limit)).await?;
                rows.into_iter().map(|r| Record::Asset(Asset::from(r))).collect()
            }
            Table::Renditions => {
                let (source, version) = match after {
                    Some(Record::Rendition(r)) => (r.source.0.as_str(), r.version.as_str()),
                    _ => ("", ""),
                };
                let stmt = Stmt::new(RENDITIONS_PAGE).bind(source).bind(version).bind(limit);
                let rows: Vec<RenditionRow> = conn.fetch_all(stmt).await?;
                rows.into_iter().map(|r| Record::Rendition(r.into())).collect()
            }
            Table::Queues => {
                let after = match after {
                    Some(Record::Queue(q)) => q.id.0.as_str(),
                    _ => "",
                };
                let rows: Vec<QueueRow> = conn.fetch_all(Stmt::new(QUEUES_PAGE).bind(after).bind(limit)).await?;
                rows.into_iter().map(|r| QueueEntry::try_from(r).map(Record::Queue)).collect::<Result<_>>()?
            }
        };
        Ok(records)
    }

    async fn import(&self, records: &[Record]) -> Result<()> {
        let mut tx = self.engine.begin().await?;
        for record in records {
            import_one(&mut *tx, record).await?;
        }
        E::commit(tx).await
    }

    async fn count(&self, table: Table) -> Result<u64> {
        let sql = match table {
            Table::Accounts => "SELECT COUNT(*) FROM accounts",
            Table::Users => "SELECT COUNT(*) FROM users",
            Table::ApiKeys => "SELECT COUNT(*) FROM api_keys",
            Table::Folders => "SELECT COUNT(*) FROM folders",
            Table::Collections => "SELECT COUNT(*) FROM collections",
            Table::Assets => "SELECT COUNT(*) FROM assets",
            Table::Renditions => "SELECT COUNT(*) FROM renditions",
            Table::Queues => "SELECT COUNT(*) FROM upload_queues",
        };
        let (n,): (i64,) = self.engine.read().await?.fetch_one(Stmt::new(sql)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
