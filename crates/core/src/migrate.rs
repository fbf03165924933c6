//! Copying a whole library from one pair of stores to another (`assetlib migrate`): accounts,
//! users, keys, folders, assets with their content, and upload queue entries, keeping every id
//! and time, so keys, asset ids and public URLs work unchanged on the new stores.
//!
//! Each blob is hashed on its way out of the source (a mismatch with the recorded hash stops the
//! copy before anything is written for it) and read back from the target and hashed again before
//! its asset row is written. Rows are written as they are in the source (inserted, or updated to
//! equal it), so an interrupted run is resumed by running it again: it skips assets whose row
//! already points at the same blob, and copies what is new or changed since.

use crate::Code;
use crate::error::{Error, Result};
use crate::ids::{AssetId, BlobKey};
use crate::model::{Asset, QueueEntry};
use crate::ports::{BlobStore, ByteStream, MetaStore};
pub use crate::transfer::{FolderRecord, Record, Table};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::sync::Arc;

/// The stores on one side of a migration.
#[derive(Clone)]
pub struct Stores {
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
}

/// How far a migration has got, reported after every page.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub table: Option<Table>,
    /// Rows of `table` done, and in the source.
    pub done: u64,
    pub total: u64,
    /// Blobs copied (and verified) so far in this run, and their bytes.
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    /// Assets whose content the target already had from an earlier run.
    pub blobs_skipped: u64,
}

/// What a finished migration did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub accounts: u64,
    pub users: u64,
    pub api_keys: u64,
    pub folders: u64,
    pub collections: u64,
    pub assets: u64,
    pub renditions: u64,
    pub upload_queues: u64,
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    pub blobs_skipped: u64,
}

/// Whether to go on after a progress report. Anything but `Continue` stops the migration where
/// it stands, as an interruption would (tests use this; the command line always continues).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

pub struct Options {
    /// Rows per page (and per target transaction).
    pub page_size: usize,
    /// Blobs copied at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { page_size: 200, concurrency: 4 }
    }
}

/// Copies everything in `from` into `to`. Refuses, changing nothing, when the source has
/// unfinished work (zip expansions) or the target holds an account the source does not have
/// as it is. Returns `None` when `report` asked to stop.
pub async fn migrate(
    from: &Stores,
    to: &Stores,
    options: &Options,
    mut report: impl FnMut(&Progress) -> Flow,
) -> Result<Option<Summary>> {
    let unfinished = from.meta.unfinished_jobs().await?;
    if unfinished > 0 {
        return Err(Error::conflict(
            Code::MigrateSourceBusy,
            format!(
                "The source library has {unfinished} unfinished job(s) (zip expansions, renditions); start its server until \
                 they finish, stop it, and run migrate again."
            ),
        ));
    }
    check_target_accounts(from, to).await?;

    let mut summary = Summary::default();
    let mut progress = Progress::default();
    for table in Table::ALL {
        let total = from.meta.count(table).await?;
        progress.table = Some(table);
        progress.done = 0;
        progress.total = total;
        let mut after: Option<Record> = None;
        loop {
            let page = from.meta.export(table, after.as_ref(), options.page_size.max(1)).await?;
            let Some(last) = page.last().cloned() else { break };
            let page = match table {
                Table::Assets => {
                    copy_contents(from, to, &page, options, &mut progress).await?;
                    page
                }
                Table::Renditions => {
                    copy_renditions(from, to, &page, options, &mut progress).await?;
                    page
                }
                // A queue entry's zip is only referenced while it waits to be expanded, and the
                // source has no such work; an entry never points at a blob the target lacks.
                Table::Queues => page
                    .into_iter()
                    .map(|r| match r {
                        Record::Queue(q) => Record::Queue(QueueEntry { source_blob: None, ..q }),
                        other => other,
                    })
                    .collect(),
                _ => page,
            };
            to.meta.import(&page).await?;
            progress.done += page.len() as u64;
            *summary_count(&mut summary, table) += page.len() as u64;
            after = Some(last);
            if report(&progress) != Flow::Continue {
                return Ok(None);
            }
        }
    }
    summary.blobs_copied = progress.blobs_copied;
    summary.bytes_copied = progress.bytes_copied;
    summary.blobs_skipped = progress.blobs_skipped;
    Ok(Some(summary))
}

fn summary_count(summary: &mut Summary, table: Table) -> &mut u64 {
    match table {
        Table::Accounts => &mut summary.accounts,
        Table::Users => &mut summary.users,
        Table::ApiKeys => &mut summary.api_keys,
        Table::Folders => &mut summary.folders,
        Table::Collections => &mut summary.collections,
        Table::Assets => &mut summary.assets,
        Table::Renditions => &mut summary.renditions,
        Table::Queues => &mut summary.upload_queues,
    }
}

/// The target may hold accounts only as an earlier run of this migration left them: a target a
/// server has already started on (which made its own account 1) is refused.
async fn check_target_accounts(from: &Stores, to: &Stores) -> Result<()> {
    let mut after: Option<Record> = None;
    loop {
        let page = to.meta.export(Table::Accounts, after.as_ref(), 500).await?;
        for record in &page {
            let Record::Account(theirs) = record else { continue };
            if from.meta.get_account(theirs.id).await?.as_ref() != Some(theirs) {
                return Err(Error::conflict(
                    Code::MigrateTargetNotEmpty,
                    format!(
                        "The target already holds account {}, which the source does not have as it is; \
                         migrate into empty stores (a server started on them creates an account of its own).",
                        theirs.id
                    ),
                ));
            }
        }
        match page.last() {
            Some(last) => after = Some(last.clone()),
            None => return Ok(()),
        }
    }
}

/// Copies the content of a page of assets that the target does not have yet, verifying each.
async fn copy_contents(
    from: &Stores,
    to: &Stores,
    page: &[Record],
    options: &Options,
    progress: &mut Progress,
) -> Result<()> {
    let assets: Vec<&Asset> = page
        .iter()
        .filter_map(|r| match r {
            Record::Asset(a) => Some(a),
            _ => None,
        })
        .collect();
    let ids: Vec<AssetId> = assets.iter().map(|a| a.id.clone()).collect();
    let present: HashMap<AssetId, BlobKey> = to.meta.asset_blobs(&ids).await?;
    let (todo, done): (Vec<&Asset>, Vec<&Asset>) =
        assets.into_iter().partition(|a| present.get(&a.id) != Some(&a.blob));
    progress.blobs_skipped += done.len() as u64;
    let mut copies =
        futures::stream::iter(todo).map(|asset| copy_one(from, to, asset)).buffer_unordered(options.concurrency.max(1));
    while let Some(bytes) = copies.try_next().await? {
        progress.blobs_copied += 1;
        progress.bytes_copied += bytes;
    }
    Ok(())
}

/// Copies the blobs of a page of renditions (the `original` rows name the asset's own blob,
/// copied with the assets). A rendition is made again from its source, not verified against
/// a hash: it is compared by size.
async fn copy_renditions(
    from: &Stores,
    to: &Stores,
    page: &[Record],
    options: &Options,
    progress: &mut Progress,
) -> Result<()> {
    let todo = page.iter().filter_map(|r| match r {
        Record::Rendition(r) if r.version != crate::model::ORIGINAL => Some(r),
        _ => None,
    });
    let mut copies = futures::stream::iter(todo)
        .map(|r| async move {
            let source = from.blobs.get(&r.blob, None).await?;
            let written = to.blobs.put(&r.blob, source.into_stream()).await?;
            if written != r.size {
                return Err(Error::internal(format!("rendition {} copied as {written} bytes, not {}", r.blob, r.size)));
            }
            Ok(written)
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(bytes) = copies.try_next().await? {
        progress.blobs_copied += 1;
        progress.bytes_copied += bytes;
    }
    Ok(())
}

async fn copy_one(from: &Stores, to: &Stores, asset: &Asset) -> Result<u64> {
    let source = from.blobs.get(&asset.blob, None).await.map_err(|e| {
        Error::new(e.kind, e.code, format!("Reading the content of {} ({}): {}", asset.key(), asset.blob, e.message))
    })?;
    let written = to.blobs.put(&asset.blob, verified(source.into_stream(), asset.clone())).await?;
    let back = to.blobs.get(&asset.blob, None).await?.into_stream();
    let (size, hash) = digest(back).await?;
    if size != asset.size || hash != asset.hash {
        return Err(mismatch(asset, "as read back from the target", size, &hash));
    }
    Ok(written)
}

/// Passes `body` through, and ends it with an error (aborting the write) if its size or hash is
/// not the asset's.
fn verified(body: ByteStream, asset: Asset) -> ByteStream {
    let state = (body, blake3::Hasher::new(), 0u64, asset);
    Box::pin(futures::stream::try_unfold(state, |(mut body, mut hasher, mut size, asset)| async move {
        match body.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                size += chunk.len() as u64;
                Ok(Some((chunk, (body, hasher, size, asset))))
            }
            Some(Err(e)) => Err(e),
            None => {
                let hash = hasher.finalize().to_hex().to_string();
                if size == asset.size && hash == asset.hash {
                    Ok(None)
                } else {
                    Err(mismatch(&asset, "in the source", size, &hash))
                }
            }
        }
    }))
}

async fn digest(mut body: ByteStream) -> Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    Ok((size, hasher.finalize().to_hex().to_string()))
}

fn mismatch(asset: &Asset, where_: &str, size: u64, hash: &str) -> Error {
    Error::new(
        crate::ErrorKind::Internal,
        Code::MigrateContentMismatch,
        format!(
            "The content of {} (blob {}) {where_} is not what the library recorded: {size} bytes with hash {hash}, \
             expected {} bytes with hash {}. The asset was not copied.",
            asset.key(),
            asset.blob,
            asset.size,
            asset.hash
        ),
    )
}
