//! The embedded engine: one SQLite file in WAL mode. Writes go through a single connection and
//! `BEGIN IMMEDIATE` transactions, so writers queue instead of failing, also across processes
//! (the admin CLI writes while the server runs). `synchronous=FULL`: a committed transaction
//! survives a crash of the machine, not only of the process.
//!
//! One writer at a time is also why this engine takes no row locks: nothing can change between
//! a transaction's reads and its writes.

use crate::engine::{Attempt, Engine};
use crate::errors::db;
use crate::shared::{job_kind_name, name_of, parent_of};
use crate::sql::{Conn, Stmt, asset_columns};
use crate::store::Store;
use crate::store::search::Features;
use assetlib_core::Code;
use assetlib_core::model::{Asset, AssetWrite, Job, JobQueue, Millis, NewJob};
use assetlib_core::{AccountId, Error, JobId, Result};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The metadata store on SQLite.
pub type SqliteStore = Store<SqliteEngine>;

pub struct SqliteEngine {
    write: SqlitePool,
    read: SqlitePool,
}

/// One job; the same work already queued is not queued twice: that row is kept (due at the
/// sooner of the two times) and its id returned.
/// The end of a multi-row job insert (`insert_jobs`): queued work already there is due at the
/// sooner of the two times.
const INSERT_JOBS_TAIL: &str =
    " ON CONFLICT (dedup_key) WHERE status = 'queued' DO UPDATE SET run_at = min(run_at, excluded.run_at)
     RETURNING id, dedup_key";
/// Jobs in one insert, 6 values each: few enough that binding stays cheap (see
/// `ASSETS_PER_INSERT` in `crate::store`).
const JOBS_PER_INSERT: usize = 64;
const INSERT_FOLDER: &str = "INSERT INTO folders (account_id, path, parent, name, explicit, created_at)
     VALUES ($1, $2, $3, $4, FALSE, $5) ON CONFLICT (account_id, path) DO NOTHING";
const CLAIM_JOB: &str = "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1,
            claims = claims + 1
     WHERE id = (SELECT id FROM jobs
                 WHERE queue = $4 AND ((status = 'queued' AND run_at <= $3) OR (status = 'running' AND locked_until < $3))
                 ORDER BY run_at, id LIMIT 1)
     RETURNING id, payload, attempts, claims";
/// A running job whose work is queued again meanwhile ends here: the queued one does it.
const DROP_RUNNING_TWINS: &str = "DELETE FROM jobs WHERE status = 'running'
       AND dedup_key IN (SELECT dedup_key FROM jobs WHERE status = 'queued' AND dedup_key IS NOT NULL)";
const RELEASE_RUNNING: &str =
    "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE status = 'running'";

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(Code::DatabaseUrlInvalid, format!("Invalid database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Statement journals and sorts in memory: a statement of a long transaction (a
            // zip's commit, 32 rows an insert) journals more than SQLite's 64 KiB and else
            // spilled to a new temporary file each time, a file created and deleted per
            // statement (300 for 10,000 entries), each slowing the next file the blob store
            // creates.
            .pragma("temp_store", "MEMORY");
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
            // A search walks a few thousand index entries and probes a side table's index for
            // each: with SQLite's default 2 MiB page cache every probe was a read from the OS
            // (twice the time on the search benchmark's million assets). Up to 64 MiB per
            // reader, taken only as pages are read.
            .connect_with(options.read_only(true).pragma("cache_size", "-65536"))
            .await
            .map_err(db)?;
        Ok(Store { engine: SqliteEngine { write, read } })
    }
}

impl Engine for SqliteEngine {
    type Conn = SqliteConnection;
    type Pooled = PoolConnection<Sqlite>;
    type Tx = Transaction<'static, Sqlite>;

    const LOCK_ASSET: &'static str = "SELECT blob_key FROM assets WHERE account_id = $1 AND path = $2 AND name = $3";
    const COPY_SOURCE: &'static str =
        concat!("SELECT ", asset_columns!(), " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3");
    const MOVE_SOURCE: &'static str = Self::COPY_SOURCE;
    const ASSET_FOR_UPDATE: &'static str =
        concat!("SELECT ", asset_columns!(), " FROM assets WHERE id = $1 AND account_id = $2");
    const COLLECTION_MEMBERS: &'static str = concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE id IN (SELECT asset_id FROM asset_collections WHERE collection_id = $1) ORDER BY id"
    );
    const ASSET_BLOBS: &'static str = "SELECT id, blob_key FROM assets WHERE id IN (SELECT value FROM json_each($1))";
    const COLLECTIONS_IN: &'static str =
        "SELECT id FROM collections WHERE account_id = $1 AND id IN (SELECT value FROM json_each($2))";
    const COLLECTION_FOR_DELETE: &'static str = "SELECT id FROM collections WHERE account_id = $1 AND id = $2";
    const COLLECTIONS_OF: &'static str =
        "SELECT id, account_id, name, description, created_at, last_modified, created_by FROM collections
         WHERE account_id IN (SELECT value FROM json_each($1)) ORDER BY id LIMIT $2 OFFSET $3";
    const COLLECTIONS_BY_IDS: &'static str = "SELECT id, account_id, name, description, created_at, last_modified, created_by FROM collections WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id";
    const COLLECTION_SIZES: &'static str = "SELECT collection_id, COUNT(*) FROM asset_collections
         WHERE collection_id IN (SELECT id FROM collections WHERE account_id = $1 AND id IN (SELECT value FROM json_each($2)))
         GROUP BY collection_id";
    const RENDITIONS_OF: &'static str = "SELECT source_blob, version, blob_key, size, content_type, extension, width, height
         FROM renditions WHERE source_blob IN (SELECT value FROM json_each($1)) ORDER BY source_blob, created_at, version";
    const ASSET_USING_BLOB: &'static str = "SELECT id FROM assets WHERE blob_key = $1 LIMIT 1";
    /// SQLite, without statistics, takes the primary key (asset id, key) for a probe that names
    /// both, and then reads the row for `folded`; `asset_metadata_asset` (0008) holds all three
    /// (a fifth less time for a walk of a million assets probing each).
    ///
    /// SQLite has no index of many values a row (its conjunctions are walked: see
    /// `Plan::Dated` and `Plan::Folders`).
    /// Its folder rows hold signatures of their assets' tags and values (0015).
    const SEARCH: Features = Features {
        metadata_probe: "asset_metadata m INDEXED BY asset_metadata_asset",
        terms: false,
        signatures: true,
        time_counts: false,
    };

    async fn read(&self) -> Result<Self::Pooled> {
        self.read.acquire().await.map_err(db)
    }

    async fn write(&self) -> Result<Self::Pooled> {
        self.write.acquire().await.map_err(db)
    }

    async fn begin(&self) -> Result<Self::Tx> {
        self.write.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    async fn commit(tx: Self::Tx) -> Result<()> {
        tx.commit().await.map_err(db)
    }

    /// One writer at a time: a transaction never loses a race, so it runs once.
    async fn retrying<'a, T: Send + 'a>(
        &'a self,
        attempt: impl Fn() -> Attempt<'a, T> + Send + Sync + 'a,
    ) -> Result<T> {
        attempt().await
    }

    /// A JSON array, which `json_each` reads.
    fn id_list(ids: Vec<String>) -> sea_query::Value {
        serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned()).into()
    }

    fn int_list(ids: Vec<i64>) -> sea_query::Value {
        serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned()).into()
    }

    /// Inserts the missing folders, deepest first; a folder that exists has its ancestors, so
    /// they are not tried.
    async fn hold_folders(
        conn: &mut SqliteConnection,
        account: AccountId,
        folders: &[String],
        now: Millis,
    ) -> Result<()> {
        let mut present: HashSet<&str> = HashSet::new();
        for folder in folders.iter().rev() {
            if present.contains(folder.as_str()) {
                continue;
            }
            let stmt = Stmt::new(INSERT_FOLDER)
                .bind(account.0)
                .bind(folder.as_str())
                .bind(parent_of(folder))
                .bind(name_of(folder))
                .bind(now);
            if conn.execute(stmt).await? == 0 {
                let mut current = folder.as_str();
                while !current.is_empty() && present.insert(current) {
                    current = parent_of(current);
                }
            }
        }
        Ok(())
    }

    async fn lock_folders_for_removal(_: &mut SqliteConnection, _: AccountId, _: &[String]) -> Result<bool> {
        Ok(true)
    }

    /// Many jobs a statement (a zip of images queues one per entry); the same work named twice
    /// in one statement is merged by the upsert, due at its soonest.
    async fn insert_jobs(conn: &mut SqliteConnection, jobs: &[NewJob], now: Millis) -> Result<Vec<JobId>> {
        let mut rows: Vec<(i64, String)> = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(JOBS_PER_INSERT) {
            let mut sql =
                String::from("INSERT INTO jobs (kind, payload, run_at, created_at, queue, dedup_key) VALUES ");
            for row in 0..chunk.len() {
                let b = row * 6;
                let sep = if row == 0 { "" } else { ", " };
                sql.push_str(&format!("{sep}(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
            }
            sql.push_str(INSERT_JOBS_TAIL);
            let mut stmt = Stmt::built(sql, vec![]);
            for job in chunk {
                stmt = stmt
                    .bind(job_kind_name(&job.kind))
                    .bind(job.kind.to_json())
                    .bind(job.run_at)
                    .bind(now)
                    .bind(job.kind.queue().as_str())
                    .bind(job.kind.dedup_key());
            }
            rows.extend(conn.fetch_all::<(i64, String)>(stmt).await?);
        }
        crate::shared::job_ids_in_order(jobs, rows)
    }

    async fn write_new_asset(&self, _: &AssetWrite) -> Result<Option<Asset>> {
        Ok(None)
    }

    async fn claim_job(&self, queue: JobQueue, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        let stmt = Stmt::new(CLAIM_JOB).bind(worker).bind(lease_until).bind(now).bind(queue.as_str());
        let row: Option<crate::rows::JobRow> = self.write().await?.fetch_optional(stmt).await?;
        row.map(Job::try_from).transpose()
    }

    /// One process per SQLite store: whatever is running was left by an earlier run.
    async fn release_abandoned_jobs(&self, _node: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let dropped = tx.execute(Stmt::new(DROP_RUNNING_TWINS)).await?;
        let released = tx.execute(Stmt::new(RELEASE_RUNNING)).await?;
        Self::commit(tx).await?;
        Ok(dropped + released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GET_ASSET;
    use sqlx::Row;

    /// Listing and key lookups read one index range: their cost does not grow with the library.
    #[tokio::test]
    async fn hot_queries_use_indexes_not_scans() {
        use crate::store::assets::{FILES_BELOW, GET_ACCOUNT_AND_ASSET};
        use crate::store::folders::{FILES_AFTER_FILE, FILES_AFTER_FOLDER, FOLDERS_PAGE};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
        let cases = [
            (FOLDERS_PAGE, "folders_children"),
            (FILES_AFTER_FILE, "assets_key"),
            (FILES_AFTER_FOLDER, "assets_key"),
            (FILES_BELOW, "assets_key"),
            (GET_ASSET, "assets_key"),
            (GET_ACCOUNT_AND_ASSET, "assets_key"),
            (SqliteEngine::LOCK_ASSET, "assets_key"),
        ];
        for (sql, index) in cases {
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                .fetch_all(&store.engine.read)
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
