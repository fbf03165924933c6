//! The embedded engine: one SQLite file in WAL mode. Writes go through a single connection and
//! `BEGIN IMMEDIATE` transactions, so writers queue instead of failing, also across processes
//! (the admin CLI writes while the server runs). `synchronous=FULL`: a committed transaction
//! survives a crash of the machine, not only of the process.

use crate::errors::db;
use crate::shared::{asset_exists, job_kind_name, merge, metadata_json, name_of, parent_of, subtree_bounds};
use assetlib_core::Code;
use assetlib_core::auth::Principal;
use assetlib_core::cursor::Cursor;
use assetlib_core::model::JobKind;
use assetlib_core::model::{
    Account, Asset, AssetWrite, Entry, FolderDelete, ItemError, Job, Metadata, Millis, NewApiKey, NewJob, QueueEntry,
    QueueStatus, Role, StoredFile, User,
};
use assetlib_core::ports::MetaStore;
use assetlib_core::transfer::{Record, Table};
use assetlib_core::{AccountId, AssetId, BlobKey, Error, JobId, QueueId, Result, UserId};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

/// The columns [`asset_from`] reads, for `concat!` into static SQL.
macro_rules! asset_columns {
    () => {
        "id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, archived_at, sensitive_at, metadata"
    };
}

mod assets;
mod transfer;

/// The statements this engine runs as the other does ([`crate::queries`]).
mod common {
    crate::queries::common_queries!(super::SqliteStore, sqlx::SqliteConnection, read, write);
}

const GET_ASSET: &str =
    concat!("SELECT ", asset_columns!(), " FROM assets WHERE account_id = ? AND path = ? AND name = ?");
const UPDATE_ASSET: &str = concat!(
    "UPDATE assets SET size = ?, content_type = ?, hash = ?, blob_key = ?, last_modified = ?,
       metadata = COALESCE(?, metadata)
     WHERE account_id = ? AND path = ? AND name = ? RETURNING ",
    asset_columns!()
);
const INSERT_ASSET: &str = concat!(
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, metadata)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
    asset_columns!()
);
/// An account and its asset at a key, in one statement (the public file route's lookup).
const GET_ACCOUNT_AND_ASSET: &str = concat!(
    "SELECT acc.id AS acc_id, acc.name AS acc_name, acc.public AS acc_public, acc.created_at AS acc_created_at, ",
    "s.id, s.account_id, s.path, s.name, s.size, s.content_type, s.hash, s.blob_key, s.created_at, s.last_modified, ",
    "s.created_by, s.archived_at, s.sensitive_at, s.metadata ",
    "FROM accounts acc LEFT JOIN assets s ON s.account_id = acc.id AND s.path = ?2 AND s.name = ?3 WHERE acc.id = ?1"
);
const SET_MARKS: &str = concat!(
    "UPDATE assets SET
       archived_at = CASE ?1 WHEN 1 THEN COALESCE(archived_at, ?3) WHEN 0 THEN NULL ELSE archived_at END,
       sensitive_at = CASE ?2 WHEN 1 THEN COALESCE(sensitive_at, ?3) WHEN 0 THEN NULL ELSE sensitive_at END
     WHERE account_id = ?4 AND path = ?5 AND name = ?6 RETURNING ",
    asset_columns!()
);
/// A page of child folders: one range of `folders_children`.
const FOLDERS_PAGE: &str =
    "SELECT name FROM folders WHERE account_id = ? AND parent = ? AND name > ? ORDER BY name LIMIT ?";
/// A page of files after a file (or from the start, after ""): one range of `assets_key`.
const FILES_AFTER_FILE: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = ? AND path = ? AND name > ? ORDER BY name LIMIT ?"
);
/// After a folder, a file of the same name comes next.
const FILES_AFTER_FOLDER: &str = concat!(
    "SELECT ",
    asset_columns!(),
    " FROM assets WHERE account_id = ? AND path = ? AND name >= ? ORDER BY name LIMIT ?"
);

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(Code::DatabaseUrlInvalid, format!("Invalid database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(Error::internal)?;
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        MIGRATOR.run(&write).await.map_err(|e| Error::internal(format!("migration failed: {e}")))?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .map_err(db)?;
        Ok(Self { write, read })
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.write.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

fn asset_from(row: &SqliteRow) -> Asset {
    Asset {
        id: AssetId(row.get("id")),
        account: AccountId(row.get("account_id")),
        path: row.get("path"),
        name: row.get("name"),
        size: row.get::<i64, _>("size") as u64,
        content_type: row.get("content_type"),
        hash: row.get("hash"),
        blob: BlobKey(row.get("blob_key")),
        created_at: row.get("created_at"),
        last_modified: row.get("last_modified"),
        created_by: row.get::<Option<String>, _>("created_by").map(UserId),
        archived_at: row.get("archived_at"),
        sensitive_at: row.get("sensitive_at"),
        metadata: crate::shared::metadata_from(row.get("metadata")),
    }
}

fn queue_from(row: &SqliteRow) -> Result<QueueEntry> {
    let status: String = row.get("status");
    let errors: String = row.get("errors");
    Ok(QueueEntry {
        id: QueueId(row.get("id")),
        account: AccountId(row.get("account_id")),
        status: QueueStatus::parse(&status).ok_or_else(|| Error::internal(format!("bad queue status {status}")))?,
        total_items: row.get::<i64, _>("total_items") as u64,
        total_processed: row.get::<i64, _>("total_processed") as u64,
        message: row.get("message"),
        errors: serde_json::from_str::<Vec<ItemError>>(&errors).map_err(Error::internal)?,
        source_blob: row.get::<Option<String>, _>("source_blob").map(BlobKey),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

async fn insert_job(conn: &mut SqliteConnection, job: &NewJob, now: Millis) -> Result<JobId> {
    let kind = job_kind_name(&job.kind);
    let id: i64 = sqlx::query("INSERT INTO jobs (kind, payload, run_at, created_at) VALUES (?, ?, ?, ?) RETURNING id")
        .bind(kind)
        .bind(job.kind.to_json())
        .bind(job.run_at)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?
        .get(0);
    Ok(JobId(id))
}

/// Creates `folder` and its ancestors as implicit folders. Stops at the first that exists:
/// its ancestors exist too.
async fn ensure_folders(conn: &mut SqliteConnection, account: AccountId, folder: &str, now: Millis) -> Result<()> {
    let mut current = folder;
    while !current.is_empty() {
        let inserted = sqlx::query(
            "INSERT INTO folders (account_id, path, parent, name, explicit, created_at) VALUES (?, ?, ?, ?, 0, ?)
             ON CONFLICT (account_id, path) DO NOTHING",
        )
        .bind(account.0)
        .bind(current)
        .bind(parent_of(current))
        .bind(name_of(current))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        if inserted == 0 {
            break;
        }
        current = parent_of(current);
    }
    Ok(())
}

/// Removes `folder` and then its ancestors while they are implicit and empty.
async fn prune_folders(conn: &mut SqliteConnection, account: AccountId, folder: &str) -> Result<()> {
    let mut current = folder.to_owned();
    while !current.is_empty() {
        let removed = sqlx::query(
            "DELETE FROM folders WHERE account_id = ?1 AND path = ?2 AND explicit = 0
               AND NOT EXISTS (SELECT 1 FROM assets WHERE account_id = ?1 AND path = ?2)
               AND NOT EXISTS (SELECT 1 FROM folders WHERE account_id = ?1 AND parent = ?2)",
        )
        .bind(account.0)
        .bind(&current)
        .execute(&mut *conn)
        .await
        .map_err(db)?
        .rows_affected();
        if removed == 0 {
            break;
        }
        current = parent_of(&current).to_owned();
    }
    Ok(())
}

/// Writes `file` as the asset at its key: replaces the content of the asset there (queueing its
/// old blob for deletion), or inserts a new one (with its folders).
async fn put_asset(conn: &mut SqliteConnection, w: &AssetWrite, file: &StoredFile, new_id: &AssetId) -> Result<Asset> {
    let existing = sqlx::query("SELECT blob_key FROM assets WHERE account_id = ? AND path = ? AND name = ?")
        .bind(w.account.0)
        .bind(&file.path)
        .bind(&file.name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let metadata = file.metadata.as_ref().map(metadata_json);
    let row = if let Some(existing) = existing {
        if !w.overwrite {
            return Err(asset_exists(file));
        }
        let old_blob: String = existing.get(0);
        if old_blob != file.blob.0 {
            delete_blob_later(conn, old_blob, w.now).await?;
        }
        sqlx::query(UPDATE_ASSET)
            .bind(file.size as i64)
            .bind(&file.content_type)
            .bind(&file.hash)
            .bind(&file.blob.0)
            .bind(w.now)
            .bind(metadata)
            .bind(w.account.0)
            .bind(&file.path)
            .bind(&file.name)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?
    } else {
        ensure_folders(conn, w.account, &file.path, w.now).await?;
        sqlx::query(INSERT_ASSET)
            .bind(&new_id.0)
            .bind(w.account.0)
            .bind(&file.path)
            .bind(&file.name)
            .bind(file.size as i64)
            .bind(&file.content_type)
            .bind(&file.hash)
            .bind(&file.blob.0)
            .bind(w.now)
            .bind(w.now)
            .bind(w.created_by.as_ref().map(|u| u.0.as_str()))
            .bind(metadata.unwrap_or_else(|| "{}".to_owned()))
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?
    };
    Ok(asset_from(&row))
}

async fn delete_blob_later(conn: &mut SqliteConnection, blob: String, now: Millis) -> Result<()> {
    insert_job(conn, &NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(blob) }, run_at: now }, now).await?;
    Ok(())
}

async fn put_queue_in(conn: &mut SqliteConnection, q: &QueueEntry) -> Result<()> {
    sqlx::query(
        "INSERT INTO upload_queues (id, account_id, status, total_items, total_processed, message, errors, source_blob, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, total_items = excluded.total_items,
           total_processed = excluded.total_processed, message = excluded.message, errors = excluded.errors,
           source_blob = excluded.source_blob, updated_at = excluded.updated_at",
    )
    .bind(&q.id.0)
    .bind(q.account.0)
    .bind(q.status.as_str())
    .bind(q.total_items as i64)
    .bind(q.total_processed as i64)
    .bind(&q.message)
    .bind(serde_json::to_string(&q.errors).map_err(Error::internal)?)
    .bind(q.source_blob.as_ref().map(|b| b.0.as_str()))
    .bind(q.created_at)
    .bind(q.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn cancel_job_in(conn: &mut SqliteConnection, id: Option<JobId>) -> Result<()> {
    if let Some(id) = id {
        sqlx::query("DELETE FROM jobs WHERE id = ? AND status = 'queued'")
            .bind(id.0)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn create_account(&self, a: &Account) -> Result<()> {
        common::create_account(self, a).await
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>> {
        common::get_account(self, id).await
    }

    async fn account_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM accounts").fetch_one(&self.read).await.map_err(db)?.get(0);
        Ok(n as u64)
    }

    async fn create_user(&self, user: &User, memberships: &[(AccountId, Role)]) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO users (id, name, admin, created_at) VALUES (?, ?, ?, ?)")
            .bind(&user.id.0)
            .bind(&user.name)
            .bind(user.admin)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        common::insert_memberships(&mut tx, &user.id, memberships).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<()> {
        sqlx::query("INSERT INTO api_keys (hash, user_id, account_id, read_only, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&key.hash)
            .bind(&key.user.0)
            .bind(key.account.map(|a| a.0))
            .bind(key.read_only)
            .bind(key.created_at)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn principal_for_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        common::principal_for_key(self, key_hash).await
    }

    async fn get_asset(&self, account: AccountId, path: &str, name: &str) -> Result<Option<Asset>> {
        common::get_asset(self, account, path, name).await
    }

    async fn get_account_and_asset(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
    ) -> Result<Option<(Account, Option<Asset>)>> {
        common::get_account_and_asset(self, account, path, name).await
    }

    async fn write_assets(&self, w: &AssetWrite) -> Result<Vec<Asset>> {
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(w.files.len());
        for (file, new_id) in w.files.iter().zip(&w.new_ids) {
            out.push(put_asset(&mut tx, w, file, new_id).await?);
        }
        if let Some(q) = &w.queue {
            put_queue_in(&mut tx, q).await?;
        }
        cancel_job_in(&mut tx, w.cancel_job).await?;
        for job in &w.jobs {
            insert_job(&mut tx, job, w.now).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn list_folder(
        &self,
        account: AccountId,
        folder: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let after_name = after.map_or("", |c| c.name.as_str());
        // Folders named exactly like the cursor come before it whatever its kind; files of that
        // name come after it only if the cursor is a folder.
        let files_sql = if after.is_some_and(|c| c.folder) { FILES_AFTER_FOLDER } else { FILES_AFTER_FILE };
        let folders: Vec<String> = sqlx::query(FOLDERS_PAGE)
            .bind(account.0)
            .bind(folder)
            .bind(after_name)
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await
            .map_err(db)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let files: Vec<Asset> = sqlx::query(files_sql)
            .bind(account.0)
            .bind(folder)
            .bind(after_name)
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await
            .map_err(db)?
            .iter()
            .map(asset_from)
            .collect();
        Ok(merge(folders, files, limit))
    }

    async fn delete_asset(&self, account: AccountId, path: &str, name: &str, now: Millis) -> Result<bool> {
        let mut tx = self.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM assets WHERE account_id = ? AND path = ? AND name = ? RETURNING blob_key")
                .bind(account.0)
                .bind(path)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some(row) = deleted else {
            return Ok(false);
        };
        delete_blob_later(&mut tx, row.get(0), now).await?;
        prune_folders(&mut tx, account, path).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn delete_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<u64> {
        let (lo, hi) = subtree_bounds(folder);
        let mut tx = self.begin().await?;
        let blobs: Vec<String> = sqlx::query(
            "DELETE FROM assets WHERE account_id = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4)) RETURNING blob_key",
        )
        .bind(account.0)
        .bind(folder)
        .bind(&lo)
        .bind(&hi)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get(0))
        .collect();
        let n = blobs.len() as u64;
        for blob in blobs {
            delete_blob_later(&mut tx, blob, now).await?;
        }
        sqlx::query("DELETE FROM folders WHERE account_id = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4))")
            .bind(account.0)
            .bind(folder)
            .bind(&lo)
            .bind(&hi)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        prune_folders(&mut tx, account, parent_of(folder)).await?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    async fn create_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<bool> {
        let mut tx = self.begin().await?;
        let existed = sqlx::query("SELECT 1 FROM folders WHERE account_id = ? AND path = ?")
            .bind(account.0)
            .bind(folder)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .is_some();
        if existed {
            return Ok(false);
        }
        ensure_folders(&mut tx, account, folder, now).await?;
        sqlx::query("UPDATE folders SET explicit = 1 WHERE account_id = ? AND path = ?")
            .bind(account.0)
            .bind(folder)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn set_asset_marks(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        archived: Option<bool>,
        sensitive: Option<bool>,
        now: Millis,
    ) -> Result<Option<Asset>> {
        // For each mark: NULL leaves it, 1 sets it (keeping an earlier time), 0 clears it.
        let row = sqlx::query(SET_MARKS)
            .bind(archived)
            .bind(sensitive)
            .bind(now)
            .bind(account.0)
            .bind(path)
            .bind(name)
            .fetch_optional(&self.write)
            .await
            .map_err(db)?;
        Ok(row.as_ref().map(asset_from))
    }

    async fn blob_referenced(&self, blob: &BlobKey) -> Result<bool> {
        let referenced: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM assets WHERE blob_key = ?1)
                 OR EXISTS (SELECT 1 FROM upload_queues WHERE source_blob = ?1)",
        )
        .bind(&blob.0)
        .fetch_one(&self.write)
        .await
        .map_err(db)?
        .get(0);
        Ok(referenced)
    }

    async fn get_queue(&self, id: &QueueId) -> Result<Option<QueueEntry>> {
        let row = sqlx::query("SELECT * FROM upload_queues WHERE id = ?")
            .bind(&id.0)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(queue_from).transpose()
    }

    async fn put_queue(&self, entry: &QueueEntry, job: Option<&NewJob>, cancel_job: Option<JobId>) -> Result<()> {
        let mut tx = self.begin().await?;
        put_queue_in(&mut tx, entry).await?;
        if let Some(job) = job {
            insert_job(&mut tx, job, entry.updated_at).await?;
        }
        cancel_job_in(&mut tx, cancel_job).await?;
        tx.commit().await.map_err(db)
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<JobId> {
        let mut conn = self.write.acquire().await.map_err(db)?;
        insert_job(&mut conn, job, assetlib_core::model::now_millis()).await
    }

    async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<Vec<JobId>> {
        if let [job] = jobs {
            return Ok(vec![self.enqueue_job(job).await?]);
        }
        let now = assetlib_core::model::now_millis();
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            ids.push(insert_job(&mut tx, job, now).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(ids)
    }

    async fn claim_job(&self, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        let row = sqlx::query(
            "UPDATE jobs SET status = 'running', locked_by = ?1, locked_until = ?2, attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs
                         WHERE (status = 'queued' AND run_at <= ?3) OR (status = 'running' AND locked_until < ?3)
                         ORDER BY run_at, id LIMIT 1)
             RETURNING id, payload, attempts",
        )
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&self.write)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(Job {
                id: JobId(r.get("id")),
                kind: JobKind::from_json(r.get("payload"))?,
                attempts: r.get::<i64, _>("attempts") as u32,
            })
        })
        .transpose()
    }

    async fn extend_job(&self, id: JobId, worker: &str, lease_until: Millis) -> Result<()> {
        common::extend_job(self, id, worker, lease_until).await
    }

    async fn finish_job(&self, id: JobId) -> Result<()> {
        sqlx::query("DELETE FROM jobs WHERE id = ?").bind(id.0).execute(&self.write).await.map_err(db)?;
        Ok(())
    }

    async fn retry_job(&self, id: JobId, run_at: Millis, error: &str) -> Result<()> {
        common::retry_job(self, id, run_at, error).await
    }

    async fn fail_job(&self, id: JobId, error: &str) -> Result<()> {
        common::fail_job(self, id, error).await
    }

    async fn copy_asset(
        &self,
        account: AccountId,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        remove_source: bool,
        new_id: &AssetId,
        created_by: Option<&UserId>,
        now: Millis,
    ) -> Result<Option<Asset>> {
        self.copy(account, from, to, overwrite, remove_source, new_id, created_by, now).await
    }
    async fn set_asset_metadata(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<Option<Asset>> {
        self.set_metadata(account, path, name, metadata).await
    }
    async fn list_assets(
        &self,
        account: AccountId,
        folder: &str,
        recursive: bool,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Asset>> {
        self.assets_page(account, folder, recursive, after, limit).await
    }
    async fn list_subfolders(
        &self,
        account: AccountId,
        folder: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.subfolders(account, folder, after, limit).await
    }
    async fn folder_exists(&self, account: AccountId, folder: &str) -> Result<bool> {
        self.has_folder(account, folder).await
    }
    async fn delete_empty_folder(&self, account: AccountId, folder: &str) -> Result<FolderDelete> {
        self.delete_if_empty(account, folder).await
    }
    async fn export(&self, table: Table, after: Option<&Record>, limit: usize) -> Result<Vec<Record>> {
        self.export_page(table, after, limit).await
    }
    async fn import(&self, records: &[Record]) -> Result<()> {
        self.import_records(records).await
    }
    async fn count(&self, table: Table) -> Result<u64> {
        self.count_rows(table).await
    }
    async fn unfinished_jobs(&self) -> Result<u64> {
        self.count_unfinished_jobs().await
    }
    async fn asset_blobs(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, BlobKey>> {
        self.blobs_of(ids).await
    }
    async fn release_abandoned_jobs(&self, _node: &str) -> Result<u64> {
        // One process per SQLite store: whatever is running was left by an earlier run.
        let n = sqlx::query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE status = 'running'",
        )
        .execute(&self.write)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listing and key lookups read one index range: their cost does not grow with the library.
    #[tokio::test]
    async fn hot_queries_use_indexes_not_scans() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
        let cases = [
            (FOLDERS_PAGE, "folders_children"),
            (FILES_AFTER_FILE, "assets_key"),
            (FILES_AFTER_FOLDER, "assets_key"),
            (GET_ASSET, "assets_key"),
            (GET_ACCOUNT_AND_ASSET, "assets_key"),
        ];
        for (sql, index) in cases {
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&store.read)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(&format!("INDEX {index}")), "{sql}\n  plan: {plan}");
            assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{sql}\n  plan: {plan}");
        }
    }
}
