//! What both engines share: folder path arithmetic, the listing merge, job kind names.

use assetlib_core::jobs::JobKind;
use assetlib_core::model::{Asset, Entry};

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

/// The `kind` column of a job: its type, for operators reading the table.
pub(crate) fn job_kind_name(kind: &JobKind) -> &'static str {
    match kind {
        JobKind::DeleteBlob { .. } => "delete_blob",
        JobKind::ExpandZip { .. } => "expand_zip",
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
