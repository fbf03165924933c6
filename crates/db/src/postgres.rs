//! The scale-out engine: one PostgreSQL database shared by any number of server processes. It
//! behaves exactly as the SQLite engine does; what SQLite gets from running one writer at a time
//! (`BEGIN IMMEDIATE`), this engine gets from READ COMMITTED transactions and row locks, so that
//! uploads from many servers proceed side by side.
//!
//! # Locking
//!
//! The folder tree's invariant (a folder's ancestors exist; an implicit folder holds an asset or
//! a folder) spans rows that several transactions touch at once, so folder rows double as locks:
//!
//! - A write of assets first locks the folder chain of every file (`a`, `a/b`, `a/b/c`) with
//!   `FOR KEY SHARE` and inserts the missing folders. Writers share these locks: uploads into
//!   the same folder do not wait for each other. Then, file by file in key order, it locks the
//!   asset row at the key (`FOR UPDATE`) and replaces it, or inserts with `ON CONFLICT DO
//!   NOTHING`; if another server committed that key in between, it goes round again and
//!   replaces that asset, queueing its blob for deletion. A race on a new key thus ends as one
//!   asset and deleted blobs for the losers, never in a unique violation.
//! - Anything that may remove folders (deleting an asset, which prunes, or a folder) first locks
//!   the chain of the folder it works in with `FOR UPDATE`. That waits for the writers under it
//!   and holds new ones off, so its emptiness checks, run in later statements and so on fresh
//!   snapshots, see everything that was committed under it, and nothing is added meanwhile. If
//!   the folder does not exist at that moment, neither does anything under it: there is
//!   nothing to delete.
//! - Locks are taken in one order, folder rows by ascending path (ancestors first) and then
//!   asset rows by key, so transactions do not deadlock on each other. Where going on would
//!   break that order (a missing folder that another server created meanwhile), the
//!   transaction rolls back and runs again (`Engine::retrying`); so it does on the rare deadlock
//!   PostgreSQL still detects, and on a serialization failure.
//!
//! Jobs are claimed with `FOR UPDATE SKIP LOCKED`, so workers on many servers never claim the
//! same job and never wait for each other.

use crate::engine::{Attempt, Engine};
use crate::errors::{CONTENTION, contention, db};
use crate::rows::{AssetRow, JobRow, metadata_json};
use crate::shared::{job_kind_name, name_of, parent_of};
use crate::sql::{Conn, Stmt, asset_columns, int};
use crate::store::search::Features;
use crate::store::{Store, bind_new_asset, chain};
use assetlib_core::Code;
use assetlib_core::model::{Asset, AssetWrite, Job, JobQueue, Millis, NewJob, now_millis};
use assetlib_core::{AccountId, Error, JobId, Result};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres, Transaction};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

/// On PostgreSQL, sqlx's migrator holds a session advisory lock (`pg_advisory_lock`, keyed by
/// the database name) from before it creates its bookkeeping table until the last migration is
/// applied, so servers that start at once apply each migration exactly once: the others wait,
/// then find it applied. [`PgStore::open`] migrates on a connection of its own and closes it,
/// so the lock is released even when a migration fails half-way (sqlx then skips its unlock).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How often a transaction that lost to a deadlock or serialization failure is run again.
const MAX_TX_ATTEMPTS: u32 = 8;

/// Connections a server keeps to PostgreSQL unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// The metadata store on PostgreSQL.
pub type PgStore = Store<PgEngine>;

pub struct PgEngine {
    pool: PgPool,
}

/// The common upload, whole in one statement and so one round trip and one commit: a new key
/// in folders that exist. It takes the folder locks first, as a transaction does
/// ([`lock_folders_shared`]), then inserts the asset; only if that inserted does it write the
/// queue entry ($13.., none if $13 is NULL), its folder side rows (one per folder of the chain
/// $24, as `index_folders` writes them) and cancel the cleanup guard ($23). A key that is
/// taken, or a folder that is missing, inserts nothing and changes nothing: the caller then
/// runs the full transaction.
const WRITE_NEW_ASSET: &str = concat!(
    "WITH locked AS (
       SELECT path FROM folders WHERE account_id = $2 AND path = ANY($24) ORDER BY path FOR KEY SHARE
     ), asset AS (
       INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, metadata, name_folded)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, lower($4)
       WHERE (SELECT count(*) FROM locked) = cardinality($24::text[])
       ON CONFLICT (account_id, path, name) DO NOTHING RETURNING ",
    asset_columns!(),
    "), placed AS (
       INSERT INTO asset_folders (asset_id, account_id, folder, created_at)
       SELECT asset.id, asset.account_id, f.folder, asset.created_at FROM asset, unnest($24::text[]) AS f(folder)
     ), cancelled AS (
       DELETE FROM jobs WHERE id = $23 AND status = 'queued' AND EXISTS (SELECT 1 FROM asset)
     ), queued AS (
       INSERT INTO upload_queues (id, account_id, status, total_items, total_processed, message, errors, source_blob, created_at, updated_at)
       SELECT $13, $14, $15, $16, $17, $18, $19, $20, $21, $22 WHERE $13::text IS NOT NULL AND EXISTS (SELECT 1 FROM asset)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, total_items = excluded.total_items,
         total_processed = excluded.total_processed, message = excluded.message, errors = excluded.errors,
         source_blob = excluded.source_blob, updated_at = excluded.updated_at
     )
     SELECT * FROM asset"
);
/// Shares the locks of existing folders among writers, in ascending path order.
const LOCK_FOLDERS_SHARED: &str =
    "SELECT path FROM folders WHERE account_id = $1 AND path = ANY($2) ORDER BY path FOR KEY SHARE";
/// Takes the locks of existing folders for a transaction that may remove them.
const LOCK_FOLDERS_EXCLUSIVE: &str =
    "SELECT path FROM folders WHERE account_id = $1 AND path = ANY($2) ORDER BY path FOR UPDATE";
/// Inserts implicit folders (given in ascending path order), skipping those that exist.
const INSERT_FOLDERS: &str = "INSERT INTO folders (account_id, path, parent, name, explicit, created_at)
     SELECT $1, f.path, f.parent, f.name, FALSE, $5 FROM unnest($2::text[], $3::text[], $4::text[]) AS f(path, parent, name)
     ON CONFLICT (account_id, path) DO NOTHING";
/// Inserts jobs given as parallel arrays (kind, payload, run_at, queue, dedup key), in one
/// statement; the same work already queued is kept instead (due at the sooner of the two
/// times) and its id returned. The arrays hold each dedup key once.
const INSERT_JOBS: &str = "INSERT INTO jobs (kind, payload, run_at, created_at, queue, dedup_key)
     SELECT j.kind, j.payload, j.run_at, $4, j.queue, j.dedup_key
     FROM unnest($1::text[], $2::text[], $3::int8[], $5::text[], $6::text[]) AS j(kind, payload, run_at, queue, dedup_key)
     ON CONFLICT (dedup_key) WHERE status = 'queued' DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at)
     RETURNING id, dedup_key";
/// The next due job of a queue, or one whose lease ran out, whichever comes first by
/// (`run_at`, `id`). Each is the head of one `jobs_due` range, so a claim costs the same with
/// a backlog of thousands; a row another worker is claiming right now is skipped, not waited
/// for (the head not chosen is locked only until the statement ends).
const CLAIM_JOB: &str = "WITH queued AS (
         SELECT id, run_at FROM jobs WHERE queue = $4 AND status = 'queued' AND run_at <= $3
         ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
     expired AS (
         SELECT id, run_at FROM jobs WHERE queue = $4 AND status = 'running' AND locked_until < $3
         ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
     next AS (
         SELECT id, run_at FROM queued UNION ALL SELECT id, run_at FROM expired ORDER BY run_at, id LIMIT 1)
     UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1,
            claims = claims + 1
     WHERE id = (SELECT id FROM next)
     RETURNING id, payload, attempts, claims";

/// Many servers share this store, so a running job may belong to a live one: only jobs whose
/// lease has run out (by this machine's clock) go back to the queue, and those an earlier run
/// of this server left. `claim_job` would take the others over anyway; releasing them at
/// start-up just makes them due at once under their original `run_at`, as SQLite's release
/// does. Node names are hex: nothing in them is special to LIKE.
const RELEASE_ABANDONED: &str = "WITH twins AS (
         DELETE FROM jobs WHERE status = 'running' AND (locked_until < $1 OR locked_by LIKE $2)
           AND dedup_key IN (SELECT dedup_key FROM jobs WHERE status = 'queued' AND dedup_key IS NOT NULL)
         RETURNING id),
     released AS (
         UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL
         WHERE status = 'running' AND (locked_until < $1 OR locked_by LIKE $2) AND id NOT IN (SELECT id FROM twins)
         RETURNING id)
     SELECT (SELECT COUNT(*) FROM twins) + (SELECT COUNT(*) FROM released)";

impl PgStore {
    /// Connects to the database a `postgres://` URL names and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, DEFAULT_MAX_CONNECTIONS).await
    }

    /// As [`PgStore::open`], keeping at most `max_connections` connections.
    pub async fn open_with(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::invalid(Code::DatabaseUrlInvalid, format!("Invalid database URL: {e}")))?
            .application_name("assetlib")
            // No parallel workers: every statement here reads a few index ranges, and starting
            // workers (tens of ms) cost more than they saved whenever the planner misjudged a
            // search's walk as long (the metadata value of BENCHMARKS.md's search run).
            .options([("max_parallel_workers_per_gather", "0")]);
        let mut conn = options.connect().await.map_err(open_error)?;
        let migrated = MIGRATOR.run(&mut conn).await;
        // Closing ends the session, and with it the migrator's advisory lock whatever happened.
        let _ = conn.close().await;
        migrated.map_err(|e| Error::internal(format!("migration failed: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            // A database that is down is a 503 within seconds, not a request hanging.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Ok(Store { engine: PgEngine { pool } })
    }
}

/// A server that cannot log in, or names a database that does not exist, is misconfigured:
/// the operator is told why (PostgreSQL's message names the user or database, never the
/// password). Anything else is as for any statement.
fn open_error(e: sqlx::Error) -> Error {
    match &e {
        // invalid_authorization_specification (28xxx), invalid_catalog_name (3D000)
        sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("28") || c == "3D000") => {
            Error::invalid(Code::DatabaseUnusable, format!("Cannot open the database: {}", d.message()))
        }
        _ => db(e),
    }
}

impl Engine for PgEngine {
    type Conn = PgConnection;
    type Pooled = PoolConnection<Postgres>;
    type Tx = Transaction<'static, Postgres>;

    const LOCK_ASSET: &'static str =
        "SELECT blob_key FROM assets WHERE account_id = $1 AND path = $2 AND name = $3 FOR UPDATE";
    const COPY_SOURCE: &'static str = concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3 FOR SHARE"
    );
    const MOVE_SOURCE: &'static str = concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3 FOR UPDATE"
    );
    const ASSET_FOR_UPDATE: &'static str =
        concat!("SELECT ", asset_columns!(), " FROM assets WHERE id = $1 AND account_id = $2 FOR UPDATE");
    const COLLECTION_MEMBERS: &'static str = concat!(
        "SELECT ",
        asset_columns!(),
        " FROM assets WHERE id IN (SELECT asset_id FROM asset_collections WHERE collection_id = $1) ORDER BY id FOR UPDATE"
    );
    const ASSET_BLOBS: &'static str = "SELECT id, blob_key FROM assets WHERE id = ANY($1)";
    const COLLECTIONS_IN: &'static str =
        "SELECT id FROM collections WHERE account_id = $1 AND id = ANY($2) ORDER BY id FOR KEY SHARE";
    const COLLECTION_FOR_DELETE: &'static str =
        "SELECT id FROM collections WHERE account_id = $1 AND id = $2 FOR UPDATE";
    const COLLECTIONS_OF: &'static str = "SELECT id, account_id, name, description, created_at, last_modified, created_by FROM collections WHERE account_id = ANY($1) ORDER BY id LIMIT $2 OFFSET $3";
    const COLLECTIONS_BY_IDS: &'static str = "SELECT id, account_id, name, description, created_at, last_modified, created_by FROM collections WHERE id = ANY($1) ORDER BY id";
    const COLLECTION_SIZES: &'static str = "SELECT collection_id, COUNT(*) FROM asset_collections
         WHERE collection_id IN (SELECT id FROM collections WHERE account_id = $1 AND id = ANY($2))
         GROUP BY collection_id";
    const RENDITIONS_OF: &'static str =
        "SELECT source_blob, version, blob_key, size, content_type, extension, width, height
         FROM renditions WHERE source_blob = ANY($1) ORDER BY source_blob, created_at, version";
    const ASSET_USING_BLOB: &'static str = "SELECT id FROM assets WHERE blob_key = $1 LIMIT 1 FOR KEY SHARE";
    /// A GIN index intersects the lists of a conjunction's terms (0013).
    const SEARCH: Features =
        Features { metadata_probe: "asset_metadata m", terms: true, signatures: false, time_counts: true };

    async fn read(&self) -> Result<Self::Pooled> {
        self.pool.acquire().await.map_err(db)
    }

    async fn write(&self) -> Result<Self::Pooled> {
        self.pool.acquire().await.map_err(db)
    }

    async fn begin(&self) -> Result<Self::Tx> {
        self.pool.begin().await.map_err(db)
    }

    async fn commit(tx: Self::Tx) -> Result<()> {
        tx.commit().await.map_err(db)
    }

    /// A transaction that PostgreSQL aborted for a deadlock or a serialization failure, or that
    /// gave up chasing concurrent changes, runs again after a short random pause.
    async fn retrying<'a, T: Send + 'a>(
        &'a self,
        attempt: impl Fn() -> Attempt<'a, T> + Send + Sync + 'a,
    ) -> Result<T> {
        let mut n = 1;
        loop {
            match attempt().await {
                Err(e) if e.code == CONTENTION && n < MAX_TX_ATTEMPTS => {
                    let ceiling = 5u64 << n.min(6);
                    tokio::time::sleep(Duration::from_millis(rand::random_range(1..=ceiling))).await;
                    n += 1;
                }
                Err(e) if e.code == CONTENTION => {
                    tracing::warn!(attempts = n, "transaction kept losing to concurrent ones");
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    fn id_list(ids: Vec<String>) -> sea_query::Value {
        ids.into()
    }

    fn int_list(ids: Vec<i64>) -> sea_query::Value {
        ids.into()
    }

    /// Existing folders are locked first (`FOR KEY SHARE`), then the missing ones inserted, both
    /// in path order. If another transaction committed one of the missing folders in between,
    /// this gives up with [`contention`] and the whole transaction runs again (the folder is
    /// then simply locked): going on to lock it now would take a lock out of path order while
    /// holding the inserted rows, which can deadlock with a transaction that removes folders.
    async fn hold_folders(conn: &mut PgConnection, account: AccountId, folders: &[String], now: Millis) -> Result<()> {
        if folders.is_empty() {
            return Ok(());
        }
        let locked: Vec<(String,)> =
            conn.fetch_all(Stmt::new(LOCK_FOLDERS_SHARED).bind(account.0).bind(folders.to_vec())).await?;
        let locked: HashSet<String> = locked.into_iter().map(|(p,)| p).collect();
        let missing: Vec<String> = folders.iter().filter(|f| !locked.contains(*f)).cloned().collect();
        if missing.is_empty() {
            return Ok(());
        }
        let parents: Vec<String> = missing.iter().map(|f| parent_of(f).to_owned()).collect();
        let names: Vec<String> = missing.iter().map(|f| name_of(f).to_owned()).collect();
        let n = missing.len() as u64;
        let stmt = Stmt::new(INSERT_FOLDERS).bind(account.0).bind(missing).bind(parents).bind(names).bind(now);
        if conn.execute(stmt).await? == n { Ok(()) } else { Err(contention()) }
    }

    /// `FOR UPDATE` on the chain: waits for the writers under it and holds new ones off, so the
    /// emptiness checks that follow (later statements, fresh snapshots) see everything
    /// committed under it, and nothing is added meanwhile.
    async fn lock_folders_for_removal(conn: &mut PgConnection, account: AccountId, folders: &[String]) -> Result<bool> {
        if folders.is_empty() {
            return Ok(true);
        }
        let locked: Vec<(String,)> =
            conn.fetch_all(Stmt::new(LOCK_FOLDERS_EXCLUSIVE).bind(account.0).bind(folders.to_vec())).await?;
        Ok(locked.len() == folders.len())
    }

    /// All of `jobs` in one statement however many there are.
    async fn insert_jobs(conn: &mut PgConnection, jobs: &[NewJob], now: Millis) -> Result<Vec<JobId>> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        // One row per dedup key (a batch may name the same work twice), due at its soonest.
        let mut first: HashMap<String, usize> = HashMap::new();
        let mut unique: Vec<(NewJob, String)> = vec![];
        for job in jobs {
            let key = job.kind.dedup_key();
            match first.get(&key) {
                Some(&i) => unique[i].0.run_at = unique[i].0.run_at.min(job.run_at),
                None => {
                    first.insert(key.clone(), unique.len());
                    unique.push((job.clone(), key));
                }
            }
        }
        let kinds: Vec<String> = unique.iter().map(|(j, _)| job_kind_name(&j.kind).to_owned()).collect();
        let payloads: Vec<String> = unique.iter().map(|(j, _)| j.kind.to_json()).collect();
        let run_ats: Vec<i64> = unique.iter().map(|(j, _)| j.run_at).collect();
        let queues: Vec<String> = unique.iter().map(|(j, _)| j.kind.queue().as_str().to_owned()).collect();
        let keys: Vec<String> = unique.into_iter().map(|(_, k)| k).collect();
        let stmt = Stmt::new(INSERT_JOBS).bind(kinds).bind(payloads).bind(run_ats).bind(now).bind(queues).bind(keys);
        let rows: Vec<(i64, String)> = conn.fetch_all(stmt).await?;
        crate::shared::job_ids_in_order(jobs, rows)
    }

    async fn write_new_asset(&self, w: &AssetWrite) -> Result<Option<Asset>> {
        let ([file], [new_id], [], None) = (w.files.as_slice(), w.new_ids.as_slice(), w.jobs.as_slice(), w.fence)
        else {
            return Ok(None);
        };
        if file.metadata.as_ref().is_some_and(|m| !m.is_empty()) {
            return Ok(None); // its metadata has side rows to write: the transaction does
        }
        let q = w.queue.as_ref();
        let errors = q.map(|q| serde_json::to_string(&q.errors)).transpose().map_err(Error::internal)?;
        let metadata = file.metadata.as_ref().map(metadata_json);
        let stmt = bind_new_asset(Stmt::new(WRITE_NEW_ASSET), w, file, new_id, metadata.as_deref())
            .bind(q.map(|q| q.id.0.clone()))
            .bind(q.map(|q| q.account.0))
            .bind(q.map(|q| q.status.as_str()))
            .bind(q.map(|q| int(q.total_items)))
            .bind(q.map(|q| int(q.total_processed)))
            .bind(q.map(|q| q.message.clone()))
            .bind(errors)
            .bind(q.and_then(|q| q.source_blob.as_ref().map(|b| b.0.clone())))
            .bind(q.map(|q| q.created_at))
            .bind(q.map(|q| q.updated_at))
            .bind(w.cancel_job.map(|id| id.0))
            .bind(chain(&file.path));
        match self.write().await?.fetch_optional::<AssetRow>(stmt).await {
            Ok(row) => Ok(row.map(Asset::from)),
            // A deadlock undid the statement; the caller's transaction retries.
            Err(e) if e.code == CONTENTION => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn claim_job(&self, queue: JobQueue, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        let stmt = Stmt::new(CLAIM_JOB).bind(worker).bind(lease_until).bind(now).bind(queue.as_str());
        let row: Option<JobRow> = self.write().await?.fetch_optional(stmt).await?;
        row.map(Job::try_from).transpose()
    }

    async fn release_abandoned_jobs(&self, node: &str) -> Result<u64> {
        let stmt = Stmt::new(RELEASE_ABANDONED).bind(now_millis()).bind(format!("{node}/%"));
        let (n,): (i64,) = self.write().await?.fetch_one(stmt).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::assets::GET_ACCOUNT_AND_ASSET;
    use crate::store::folders::{
        DELETE_FOLDER, DELETE_FOLDER_ASSETS, DELETE_SUBTREE_ASSETS, DELETE_SUBTREE_FOLDERS, FILES_AFTER_FILE,
        FILES_AFTER_FOLDER, FOLDERS_PAGE,
    };
    use crate::store::{GET_ASSET, PRUNE_FOLDER};
    use sqlx::Row;

    enum Arg {
        Int(i64),
        Text(&'static str),
        Texts(&'static [&'static str]),
    }

    /// Listing, key lookups and the statements of writes read index ranges: their cost does
    /// not grow with the library.
    #[ignore = "needs PostgreSQL: ASSETLIB_TEST_POSTGRES_URL (.ci/run starts one; scripts/test.sh runs these then)"]
    #[tokio::test]
    async fn hot_queries_use_indexes_not_scans() {
        let Some(url) = crate::testing::fresh_postgres_url().await else { return };
        let store = PgStore::open(&url).await.unwrap();
        let mut conn = store.engine.pool.acquire().await.unwrap();
        // A few thousand assets over fifty folders (each name in many of them), with statistics, so that the planner weighs
        // the indexes as it would on a real library (on empty tables every index costs the
        // same, and which one it takes is chance).
        for sql in [
            "INSERT INTO accounts (id, name, public, created_at) VALUES (1, 'a', TRUE, 0)",
            "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, name_folded)
             SELECT 'id' || g, 1, 'f' || (g % 50), 'n' || (g / 50) || '.png', g, 'image/png', 'h', 'b' || g, g, g,
               'n' || (g / 50) || '.png'
             FROM generate_series(1, 5000) AS g",
            "INSERT INTO folders (account_id, path, parent, name, explicit, created_at)
             SELECT 1, 'f' || g, '', 'f' || g, FALSE, 0 FROM generate_series(0, 49) AS g",
            "ANALYZE",
        ] {
            sqlx::query(sql).execute(&mut *conn).await.unwrap();
        }
        // On tables this small the planner would rightly read some whole; what is checked
        // here is that an index answers each query in order, with no sort.
        sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
        use Arg::{Int, Text, Texts};
        let page = [Int(1), Text("f1"), Text(""), Int(10)];
        let key = [Int(1), Text("f1"), Text("n1.png")];
        let subtree = [Int(1), Text("p/"), Text("p0")];
        let chain = [Int(1), Texts(&["p", "p/q"])];
        // Deleting a folder's assets reads their keys by path: the key index or the path index
        // (0008, which also holds the id) serve it alike.
        let by_path: &[&str] = &["assets_key", "assets_path"];
        let cases: [(&str, &[Arg], &[&str]); 14] = [
            (CLAIM_JOB, &[Text("w"), Int(2), Int(1), Text("cleanup")], &["jobs_due"]),
            (FOLDERS_PAGE, &page, &["folders_children"]),
            (FILES_AFTER_FILE, &page, &["assets_key"]),
            (FILES_AFTER_FOLDER, &page, &["assets_key"]),
            (GET_ASSET, &key, &["assets_key"]),
            (GET_ACCOUNT_AND_ASSET, &key, &["assets_key"]),
            (PgEngine::LOCK_ASSET, &key, &["assets_key"]),
            (LOCK_FOLDERS_SHARED, &chain, &["folders_pkey"]),
            (LOCK_FOLDERS_EXCLUSIVE, &chain, &["folders_pkey"]),
            (DELETE_FOLDER_ASSETS, &[Int(1), Text("p")], by_path),
            (DELETE_SUBTREE_ASSETS, &subtree, by_path),
            (DELETE_FOLDER, &[Int(1), Text("p")], &["folders_pkey"]),
            (DELETE_SUBTREE_FOLDERS, &subtree, &["folders_pkey"]),
            (PRUNE_FOLDER, &[Int(1), Text("p")], &["folders_children"]),
        ];
        for (sql, args, indexes) in cases {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
            // The types the engine binds: int8, text, text[].
            for arg in args {
                query = match *arg {
                    Int(n) => query.bind(n),
                    Text(s) => query.bind(s),
                    Texts(v) => query.bind(v),
                };
            }
            let plan: Vec<String> =
                query.fetch_all(&mut *conn).await.unwrap().iter().map(|r| r.get::<String, _>(0)).collect();
            let plan = plan.join("\n");
            let by_index = indexes.iter().any(|index| {
                plan.contains(&format!("Scan using {index} ")) || plan.contains(&format!("Scan on {index}"))
            });
            assert!(by_index, "{sql}\n  plan:\n{plan}");
            assert!(!plan.contains("Seq Scan"), "{sql}\n  plan:\n{plan}");
            if sql == CLAIM_JOB {
                // The backlog of queued jobs is read from the head of the index; running jobs
                // (a few per worker) and the two candidates may be sorted.
                let queued = plan.split("CTE expired").next().unwrap_or_default();
                assert!(queued.contains("Index Scan using jobs_due") && !queued.contains("Sort"), "plan:\n{plan}");
            } else if sql.contains("= ANY") {
                // A chain of a few folders is sorted, then locked in that (path) order.
                assert!(plan.starts_with("LockRows") && plan.contains("Sort Key: path"), "{sql}\n  plan:\n{plan}");
            } else {
                assert!(!plan.contains("Sort"), "{sql}\n  plan:\n{plan}");
            }
        }
        drop(conn);
        store.engine.pool.close().await;
        crate::testing::drop_database(&url).await;
    }
}
