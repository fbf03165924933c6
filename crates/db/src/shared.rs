//! What both engines share: folder path arithmetic, the listing merge, job kind names.

use assetlib_core::Code;
use assetlib_core::JobId;
use assetlib_core::model::{Asset, AssetWrite, Entry, Millis, StoredFile};
use assetlib_core::model::{JobKind, NewJob};
use assetlib_core::{AccountId, AssetId, UserId};
use assetlib_core::{Error, rules::join};
use std::collections::HashMap;

pub(crate) fn parent_of(folder: &str) -> &str {
    folder.rsplit_once('/').map_or("", |(parent, _)| parent)
}

pub(crate) fn name_of(folder: &str) -> &str {
    folder.rsplit_once('/').map_or(folder, |(_, name)| name)
}

/// The half-open range `[folder/, folder0)` holds exactly the paths below `folder` ('0' follows
/// '/'), so a subtree is an index range scan.
pub(crate) fn subtree_bounds(folder: &str) -> (String, String) {
    (format!("{folder}/"), format!("{folder}0"))
}

/// A write that may not replace found an asset at its key.
pub(crate) fn asset_exists(file: &StoredFile) -> Error {
    Error::conflict(Code::AssetExists, format!("Asset '{}' already exists.", join(&file.path, &file.name)))
}

/// The `kind` column of a job: its type, for operators reading the table.
/// The id of each of `jobs`, in order, from the `(id, dedup_key)` rows an insert returned
/// (work named twice shares one row).
pub(crate) fn job_ids_in_order(jobs: &[NewJob], rows: Vec<(i64, String)>) -> assetlib_core::Result<Vec<JobId>> {
    let ids: HashMap<String, i64> = rows.into_iter().map(|(id, key)| (key, id)).collect();
    jobs.iter()
        .map(|job| {
            ids.get(&job.kind.dedup_key())
                .copied()
                .map(JobId)
                .ok_or_else(|| Error::internal("a job insert returned fewer rows than jobs"))
        })
        .collect()
}

pub(crate) fn job_kind_name(kind: &JobKind) -> &'static str {
    match kind {
        JobKind::DeleteBlob { .. } => "delete_blob",
        JobKind::ExpandZip { .. } => "expand_zip",
        JobKind::Render { .. } => "render",
    }
}

/// Merges folder names and files, both in name order, into one page: folders first on a tie.
pub(crate) fn merge(folders: Vec<String>, files: Vec<Asset>, limit: usize) -> Vec<Entry> {
    let mut out = Vec::with_capacity(limit.min(folders.len() + files.len()));
    let mut folders = folders.into_iter().peekable();
    let mut files = files.into_iter().peekable();
    while out.len() < limit {
        let take_folder = match (folders.peek(), files.peek()) {
            (Some(d), Some(f)) => d.as_str() <= f.name.as_str(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_folder { folders.next().map(Entry::Folder) } else { files.next().map(Entry::File) };
        out.extend(next);
    }
    out
}

/// The subtree below `folder` as a half-open range of paths; the root's is every non-root path.
pub(crate) fn subtree_range(folder: &str) -> (String, String) {
    if folder.is_empty() {
        // Every path but "" is at least one character; U+10FFFF as UTF-8 sorts after them all.
        ("\u{1}".to_owned(), "\u{10FFFF}".repeat(2))
    } else {
        subtree_bounds(folder)
    }
}

/// The write a copy of `source` to `to` makes: its blob, hash and metadata under a new key.
pub(crate) fn copy_write(
    account: AccountId,
    source: &Asset,
    to: (&str, &str),
    overwrite: bool,
    new_id: &AssetId,
    created_by: Option<&UserId>,
    now: Millis,
) -> AssetWrite {
    AssetWrite {
        account,
        files: vec![StoredFile {
            path: to.0.to_owned(),
            name: to.1.to_owned(),
            size: source.size,
            content_type: source.content_type.clone(),
            hash: source.hash.clone(),
            blob: source.blob.clone(),
            metadata: Some(source.metadata.clone()),
        }],
        created_by: created_by.cloned(),
        now,
        new_ids: vec![new_id.clone()],
        queue: None,
        cancel_job: None,
        jobs: vec![],
        overwrite,
        fence: None,
    }
}
