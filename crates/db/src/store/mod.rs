//! The metadata store, written once for both engines: [`Store`] implements every narrow port of
//! `assetlib_core::ports` (one module each) over an `Engine`, with the statements of
//! `crate::sql` and the rows of `crate::rows`.
//!
//! Transactions take their locks through the engine in one order: folder rows by ascending
//! path (ancestors first), then asset rows by key. On SQLite they are no-ops (one writer runs
//! at a time); on PostgreSQL they are what keeps the folder tree's invariant (a folder's
//! ancestors exist; an implicit folder holds an asset or a folder) across servers (see
//! [`crate::postgres`]).

mod accounts;
pub(crate) mod assets;
mod attributes;
mod collections;
pub(crate) mod folders;
mod jobs;
mod queues;
pub(crate) mod renditions;
pub(crate) mod search;
mod sessions;
mod settings;
mod transfer;

use crate::engine::Engine;
use crate::errors::contention;
use crate::rows::{AssetRow, metadata_json};
use crate::shared::{asset_exists, parent_of};
use crate::sql::{Conn, Stmt, asset_columns, int};
use assetlib_core::model::{Asset, AssetWrite, JobKind, Millis, NewJob, QueueEntry, StoredFile};
use assetlib_core::{AccountId, AssetId, BlobKey, Error, JobId, Result};
use attributes::{Rows, index_folders, index_metadata};
use std::collections::{BTreeSet, HashMap};

/// The metadata store on one engine. Outside this crate it is named by engine,
/// [`crate::sqlite::SqliteStore`] or [`crate::postgres::PgStore`]: the engine trait is the
/// crate's own.
#[allow(private_bounds)]
pub struct Store<E: Engine> {
    pub(crate) engine: E,
}

/// How often a write chases an asset key that other servers keep inserting and deleting
/// under it before the transaction gives up and is run again whole.
const MAX_ROUNDS: usize = 16;

pub(crate) const GET_ASSET: &str =
    concat!("SELECT ", asset_columns!(), " FROM assets WHERE account_id = $1 AND path = $2 AND name = $3");
/// Inserts an asset unless its key exists (committed meanwhile by another transaction): then
/// nothing is returned and the caller replaces that asset instead.
pub(crate) const INSERT_ASSET: &str = concat!(
    "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, metadata, name_folded)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, lower($4))
     ON CONFLICT (account_id, path, name) DO NOTHING RETURNING ",
    asset_columns!()
);
const UPDATE_ASSET: &str = concat!(
    "UPDATE assets SET size = $1, content_type = $2, hash = $3, blob_key = $4, last_modified = $5,
       metadata = COALESCE($9, metadata)
     WHERE account_id = $6 AND path = $7 AND name = $8 RETURNING ",
    asset_columns!()
);
/// Removes a folder if it is implicit and empty.
pub(crate) const PRUNE_FOLDER: &str = "DELETE FROM folders WHERE account_id = $1 AND path = $2 AND NOT explicit
       AND NOT EXISTS (SELECT 1 FROM assets WHERE account_id = $1 AND path = $2)
       AND NOT EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND parent = $2)";
const PUT_QUEUE: &str = "INSERT INTO upload_queues (id, account_id, status, total_items, total_processed, message, errors, source_blob, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status, total_items = excluded.total_items,
       total_processed = excluded.total_processed, message = excluded.message, errors = excluded.errors,
       source_blob = excluded.source_blob, updated_at = excluded.updated_at";
const CANCEL_JOB: &str = "DELETE FROM jobs WHERE id = $1 AND status = 'queued'";

/// `folder` and its ancestors, in ascending path (= lock) order: `a/b` gives `a`, `a/b`.
pub(crate) fn chain(folder: &str) -> Vec<String> {
    chains([folder])
}

/// The folders of several paths with all their ancestors, once each, in ascending path order
/// (byte order, as the `COLLATE "C"` columns sort).
pub(crate) fn chains<'a>(folders: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut all = BTreeSet::new();
    for folder in folders {
        let mut current = folder;
        while !current.is_empty() && all.insert(current.to_owned()) {
            current = parent_of(current);
        }
    }
    all.into_iter().collect()
}

/// The values `$1` to `$12` of [`INSERT_ASSET`] (`metadata` as JSON; none is `{}`).
pub(crate) fn bind_new_asset(
    stmt: Stmt,
    w: &AssetWrite,
    file: &StoredFile,
    new_id: &AssetId,
    metadata: Option<&str>,
) -> Stmt {
    stmt.bind(new_id.0.as_str())
        .bind(w.account.0)
        .bind(file.path.as_str())
        .bind(file.name.as_str())
        .bind(int(file.size))
        .bind(file.content_type.as_str())
        .bind(file.hash.as_str())
        .bind(file.blob.0.as_str())
        .bind(w.now)
        .bind(w.now)
        .bind(w.created_by.as_ref().map(|u| u.0.clone()))
        .bind(metadata.unwrap_or("{}"))
}

/// Removes `folder` and then its ancestors while they are implicit and empty. The caller holds
/// them (see [`Engine::lock_folders_for_removal`]), so the checks see all there is.
pub(crate) async fn prune_folders(conn: &mut impl Conn, account: AccountId, folder: &str) -> Result<()> {
    let mut current = folder;
    while !current.is_empty() {
        let removed = conn.execute(Stmt::new(PRUNE_FOLDER).bind(account.0).bind(current)).await?;
        if removed == 0 {
            break;
        }
        current = parent_of(current);
    }
    Ok(())
}

/// Queues a blob deletion job for each of `blobs`.
pub(crate) async fn delete_blobs_later<E: Engine>(conn: &mut E::Conn, blobs: Vec<String>, now: Millis) -> Result<()> {
    if blobs.is_empty() {
        return Ok(());
    }
    let jobs: Vec<NewJob> = blobs
        .into_iter()
        .map(|blob| NewJob { kind: JobKind::DeleteBlob { blob: BlobKey(blob) }, run_at: now })
        .collect();
    E::insert_jobs(conn, &jobs, now).await?;
    Ok(())
}

/// Stores `file` at its key: inserts a new asset, or replaces the one there (keeping its id;
/// its old blob is queued for deletion). The caller holds the key's folder chain.
pub(crate) async fn put_asset<E: Engine>(
    conn: &mut E::Conn,
    w: &AssetWrite,
    file: &StoredFile,
    new_id: &AssetId,
) -> Result<Asset> {
    let metadata = file.metadata.as_ref().map(metadata_json);
    for _ in 0..MAX_ROUNDS {
        // Most writes are of new keys: the insert comes first, so that they take one statement.
        let inserted: Option<AssetRow> =
            conn.fetch_optional(bind_new_asset(Stmt::new(INSERT_ASSET), w, file, new_id, metadata.as_deref())).await?;
        if let Some(row) = inserted {
            let asset = Asset::from(row);
            index_folders(conn, &asset, Rows::New).await?;
            if !asset.metadata.is_empty() {
                index_metadata(conn, &asset, Rows::New).await?;
            }
            return Ok(asset);
        }
        if !w.overwrite {
            return Err(asset_exists(file));
        }
        // The key is taken (in READ COMMITTED the next statement sees the row the insert met):
        // lock it and replace it.
        let key = || Stmt::new(E::LOCK_ASSET).bind(w.account.0).bind(file.path.as_str()).bind(file.name.as_str());
        let Some((old_blob,)) = conn.fetch_optional::<(String,)>(key()).await? else {
            continue; // deleted since the insert met it: insert again
        };
        if old_blob != file.blob.0 {
            delete_blobs_later::<E>(conn, vec![old_blob], w.now).await?;
        }
        let row: AssetRow = conn
            .fetch_one(
                Stmt::new(UPDATE_ASSET)
                    .bind(int(file.size))
                    .bind(file.content_type.as_str())
                    .bind(file.hash.as_str())
                    .bind(file.blob.0.as_str())
                    .bind(w.now)
                    .bind(w.account.0)
                    .bind(file.path.as_str())
                    .bind(file.name.as_str())
                    .bind(metadata.clone()),
            )
            .await?;
        let asset = Asset::from(row);
        if file.metadata.is_some() {
            index_metadata(conn, &asset, Rows::Replace).await?;
        }
        return Ok(asset);
    }
    Err(contention())
}

/// Rows in one multi-row insert of new assets (12 values each) and of folder side rows (4
/// each). Few hundred values a statement: SQLite's driver looks each placeholder up by name in
/// a list as long as the statement's, so binding costs the square of the values (at 6,000
/// values a statement, binding took more time than inserting).
const ASSETS_PER_INSERT: usize = 32;
const FOLDER_ROWS_PER_INSERT: usize = 96;

/// Inserts the files of `w` at `picked` (indexes into `w.files`, no key twice) as new assets,
/// many rows a statement, with their metadata and folder side rows; returns each inserted asset
/// with its index. A key that is taken inserts nothing and is not returned: the caller writes
/// that file with [`put_asset`], which replaces the asset there. The caller holds the keys'
/// folder chains.
pub(crate) async fn insert_new_assets(
    conn: &mut impl Conn,
    w: &AssetWrite,
    picked: &[usize],
) -> Result<Vec<(usize, Asset)>> {
    let mut inserted = Vec::with_capacity(picked.len());
    for chunk in picked.chunks(ASSETS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO assets (id, account_id, path, name, size, content_type, hash, blob_key, created_at, last_modified, created_by, metadata, name_folded) VALUES ",
        );
        for row in 0..chunk.len() {
            let b = row * 12;
            let values: Vec<String> = (1..=12).map(|k| format!("${}", b + k)).collect();
            let sep = if row == 0 { "" } else { ", " };
            sql.push_str(&format!("{sep}({}, lower(${}))", values.join(", "), b + 4));
        }
        sql.push_str(concat!(" ON CONFLICT (account_id, path, name) DO NOTHING RETURNING ", asset_columns!()));
        let mut stmt = Stmt::built(sql, vec![]);
        for &i in chunk {
            let file = &w.files[i];
            let metadata = file.metadata.as_ref().map(metadata_json);
            stmt = bind_new_asset(stmt, w, file, &w.new_ids[i], metadata.as_deref());
        }
        let rows: Vec<AssetRow> = conn.fetch_all(stmt).await?;
        let index: HashMap<&str, usize> = chunk.iter().map(|&i| (w.new_ids[i].0.as_str(), i)).collect();
        for row in rows {
            let asset = Asset::from(row);
            let i =
                *index.get(asset.id.0.as_str()).ok_or_else(|| Error::internal("an insert returned an unknown id"))?;
            inserted.push((i, asset));
        }
    }
    for (_, asset) in &inserted {
        if !asset.metadata.is_empty() {
            index_metadata(conn, asset, Rows::New).await?;
        }
    }
    let assets: Vec<&Asset> = inserted.iter().map(|(_, a)| a).collect();
    index_new_folders(conn, &assets).await?;
    Ok(inserted)
}

/// The folder side rows of new assets (as [`index_folders`] writes them for one), many a
/// statement.
async fn index_new_folders(conn: &mut impl Conn, assets: &[&Asset]) -> Result<()> {
    let rows: Vec<(&Asset, String)> =
        assets.iter().flat_map(|a| chain(&a.path).into_iter().map(move |folder| (*a, folder))).collect();
    for chunk in rows.chunks(FOLDER_ROWS_PER_INSERT) {
        let mut sql = String::from("INSERT INTO asset_folders (asset_id, account_id, folder, created_at) VALUES ");
        let mut stmt_args = Vec::with_capacity(chunk.len());
        for (row, (asset, folder)) in chunk.iter().enumerate() {
            let b = row * 4;
            let sep = if row == 0 { "" } else { ", " };
            sql.push_str(&format!("{sep}(${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4));
            stmt_args.push((asset, folder));
        }
        let mut stmt = Stmt::built(sql, vec![]);
        for (asset, folder) in stmt_args {
            stmt = stmt.bind(asset.id.0.as_str()).bind(asset.account.0).bind(folder.as_str()).bind(asset.created_at);
        }
        conn.execute(stmt).await?;
    }
    Ok(())
}

/// Inserts or replaces an upload queue entry.
pub(crate) async fn put_queue_in(conn: &mut impl Conn, q: &QueueEntry) -> Result<()> {
    conn.execute(
        Stmt::new(PUT_QUEUE)
            .bind(q.id.0.as_str())
            .bind(q.account.0)
            .bind(q.status.as_str())
            .bind(int(q.total_items))
            .bind(int(q.total_processed))
            .bind(q.message.as_str())
            .bind(serde_json::to_string(&q.errors).map_err(Error::internal)?)
            .bind(q.source_blob.as_ref().map(|b| b.0.clone()))
            .bind(q.created_at)
            .bind(q.updated_at),
    )
    .await?;
    Ok(())
}

/// Deletes the job `id` if it is still queued (an upload's cleanup guard).
pub(crate) async fn cancel_job_in(conn: &mut impl Conn, id: Option<JobId>) -> Result<()> {
    if let Some(id) = id {
        conn.execute(Stmt::new(CANCEL_JOB).bind(id.0)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_hold_ancestors_once_in_lock_order() {
        assert_eq!(chain("a/b/c"), ["a", "a/b", "a/b/c"]);
        assert!(chain("").is_empty());
        assert_eq!(chains(["b/x", "a", "", "b", "a/b"]), ["a", "a/b", "b", "b/x"]);
        // Byte order, as COLLATE "C": '/' (0x2F) sorts before '0' and letters, 'Z' before 'a'.
        assert_eq!(chains(["a-b", "a/b", "Z"]), ["Z", "a", "a-b", "a/b"]);
    }
}
