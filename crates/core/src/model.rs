//! Domain records as the stores hold them. Times are Unix milliseconds (UTC).

use crate::ids::{AccountId, AssetId, BlobKey, CollectionId, JobId, QueueId, UserId};
use serde::{Deserialize, Serialize};

pub type Millis = i64;

/// Metadata limits: entries, key length, value length (characters).
pub const MAX_METADATA_ENTRIES: usize = 100;
pub const MAX_METADATA_KEY: usize = 128;
pub const MAX_METADATA_VALUE: usize = 4096;

pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub public: bool,
    #[serde(rename = "createdAt")]
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub admin: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The key's public id (`key_...`): what lists show and revocation names.
    pub id: String,
    /// What its owner calls it.
    pub name: String,
    pub user: UserId,
    /// SHA-256 of the secret, hex. The secret itself is never stored.
    pub hash: String,
    /// Only this account, when set.
    pub account: Option<AccountId>,
    pub read_only: bool,
    pub created_at: Millis,
}

impl NewApiKey {
    /// A new key id.
    pub fn generate_id() -> String {
        format!("key_{}", hex::encode(rand::random::<[u8; 12]>()))
    }
}

/// An API key as its owner's account lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub user: UserId,
    /// Only this account, when set.
    pub account: Option<AccountId>,
    pub read_only: bool,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// An asset as stored: one file at `path/name` in an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    pub account: AccountId,
    pub path: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// blake3 of the content, hex.
    pub hash: String,
    pub blob: BlobKey,
    pub created_at: Millis,
    pub last_modified: Millis,
    pub created_by: Option<UserId>,
    pub archived_at: Option<Millis>,
    pub sensitive_at: Option<Millis>,
    /// Key/value metadata, replaced whole.
    pub metadata: Metadata,
    /// Tags, SKUs, collections, approval, expiry, licence and favourites.
    pub attributes: Attributes,
    /// Reads of the asset by id, and downloads of its content (SPEC 5.6).
    pub views: u64,
    pub downloads: u64,
}

/// What is known of an asset beyond its key, content, marks and metadata (SPEC section 2). A
/// copy carries it whole; replacing the content keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// In the order given, without repeats.
    pub tags: Vec<String>,
    pub skus: Vec<String>,
    /// Collections of the asset's account.
    pub collection_ids: Vec<CollectionId>,
    pub batch_id: Option<String>,
    pub approved_at: Option<Millis>,
    /// When the asset itself expires (informational: nothing is removed).
    pub expires_at: Option<Millis>,
    pub license_expires_at: Option<Millis>,
    /// The users who made it a favourite.
    pub favourites: Vec<UserId>,
}

/// A change to an asset's attributes, marks and metadata: `None` leaves a field as it is. For
/// times that may be cleared, `Some(None)` clears. The marks take a boolean: true sets the time
/// (keeping an earlier one), false clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetPatch {
    pub tags: Option<Vec<String>>,
    pub skus: Option<Vec<String>>,
    /// Replaces the metadata.
    pub metadata: Option<Metadata>,
    /// Then merges into it (RFC 7396): a key set to `None` is removed, one set to a value is
    /// set. It is applied to the stored row under its lock, so that two merges of different
    /// keys never lose one another.
    pub metadata_merge: Option<std::collections::BTreeMap<String, Option<String>>>,
    pub collection_ids: Option<Vec<CollectionId>>,
    pub batch_id: Option<Option<String>>,
    pub approved: Option<bool>,
    pub sensitive: Option<bool>,
    pub archived: Option<bool>,
    pub expires_at: Option<Option<Millis>>,
    pub license_expires_at: Option<Option<Millis>>,
    /// Makes the asset a favourite of the user, or not.
    pub favourite: Option<(UserId, bool)>,
    /// Applies only if the stored asset's [`Asset::etag`] is this (`If-Match`), checked under
    /// the row lock.
    pub if_match: Option<String>,
}

impl AssetPatch {
    /// The asset as this patch leaves it, at `now`. Lists lose repeats (the first stays). A
    /// merge that would leave more than [`MAX_METADATA_ENTRIES`] metadata entries is refused.
    pub fn apply(&self, asset: &Asset, now: Millis) -> crate::Result<Asset> {
        if let Some(tag) = &self.if_match
            && *tag != asset.etag()
        {
            return Err(precondition_failed());
        }
        let mut out = asset.clone();
        let a = &mut out.attributes;
        if let Some(tags) = &self.tags {
            a.tags = unique(tags);
        }
        if let Some(skus) = &self.skus {
            a.skus = unique(skus);
        }
        if let Some(ids) = &self.collection_ids {
            a.collection_ids = unique(ids);
        }
        if let Some(batch) = &self.batch_id {
            a.batch_id = batch.clone();
        }
        let mark = |set: Option<bool>, at: Option<Millis>| match set {
            Some(true) => Some(at.unwrap_or(now)),
            Some(false) => None,
            None => at,
        };
        a.approved_at = mark(self.approved, a.approved_at);
        if let Some(at) = self.expires_at {
            a.expires_at = at;
        }
        if let Some(at) = self.license_expires_at {
            a.license_expires_at = at;
        }
        if let Some((user, on)) = &self.favourite {
            a.favourites.retain(|u| u != user);
            if *on {
                a.favourites.push(user.clone());
            }
        }
        out.sensitive_at = mark(self.sensitive, asset.sensitive_at);
        out.archived_at = mark(self.archived, asset.archived_at);
        if let Some(metadata) = &self.metadata {
            out.metadata = metadata.clone();
        }
        for (key, value) in self.metadata_merge.iter().flatten() {
            match value {
                Some(v) => out.metadata.insert(key.clone(), v.clone()),
                None => out.metadata.remove(key),
            };
        }
        if out.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(crate::Error::invalid(
                crate::Code::MetadataInvalid,
                format!("Metadata may have at most {MAX_METADATA_ENTRIES} entries."),
            )
            .with_param("metadata"));
        }
        Ok(out)
    }
}

/// The error of an `If-Match` that does not hold.
pub fn precondition_failed() -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::PreconditionFailed,
        crate::Code::PreconditionFailed,
        "The asset has changed since the ETag given in If-Match.",
    )
    .with_param("If-Match")
}

/// `items` in their order, each once.
fn unique<T: Clone + Eq + std::hash::Hash>(items: &[T]) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().filter(|i| seen.insert(*i)).cloned().collect()
}

/// A named set of assets of one account; an asset may be in many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: CollectionId,
    pub account: AccountId,
    pub name: String,
    pub description: String,
    pub created_at: Millis,
    pub last_modified: Millis,
    pub created_by: Option<UserId>,
}

/// An asset's metadata: string keys to string values, in key order.
pub type Metadata = std::collections::BTreeMap<String, String>;

impl Asset {
    pub fn key(&self) -> String {
        crate::rules::join(&self.path, &self.name)
    }

    /// The asset's entity tag (quoted): it changes when its content, key or anything a patch
    /// can set changes, not when its counters do.
    pub fn etag(&self) -> String {
        let a = &self.attributes;
        let fingerprint = serde_json::json!([
            self.hash,
            self.path,
            self.name,
            a.tags,
            a.skus,
            self.metadata,
            a.collection_ids,
            a.batch_id,
            a.approved_at,
            self.sensitive_at,
            self.archived_at,
            a.expires_at,
            a.license_expires_at,
            a.favourites,
        ]);
        format!("\"{}\"", &blake3::hash(fingerprint.to_string().as_bytes()).to_hex()[..32])
    }
}

/// Content that is durable in the blob store and is to become the asset at `path/name`.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub path: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub hash: String,
    pub blob: BlobKey,
    /// The asset's metadata; `None` keeps what a replaced asset had (a new one gets none).
    pub metadata: Option<Metadata>,
}

/// One write of assets, committed in one transaction: each file is inserted, or replaces the
/// content of the asset at its key (keeping id and URL; the old blob is queued for deletion).
#[derive(Debug, Clone)]
pub struct AssetWrite {
    pub account: AccountId,
    pub files: Vec<StoredFile>,
    pub created_by: Option<UserId>,
    pub now: Millis,
    /// Fresh ids for files whose key is new, one per file.
    pub new_ids: Vec<AssetId>,
    /// Upload queue entry to write (insert or replace) in the same transaction.
    pub queue: Option<QueueEntry>,
    /// A pending cleanup job guarding these blobs, cancelled by this commit.
    pub cancel_job: Option<JobId>,
    /// Jobs to enqueue in the same transaction.
    pub jobs: Vec<NewJob>,
    /// Whether a file may replace an asset at its key; if not, such a write fails with
    /// `Conflict` and changes nothing.
    pub overwrite: bool,
    /// The claim of the job whose result this write is (a zip's expansion): the write fails
    /// with `Conflict` (`job_lease_lost`) and changes nothing unless the claim still holds.
    pub fence: Option<JobFence>,
}

/// What deleting a folder only if it is empty found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderDelete {
    Deleted,
    Missing,
    NotEmpty,
}

/// One entry of a one-level listing: files and folders merge in name order.
#[allow(clippy::large_enum_variant)] // pages are short-lived; boxing would cost more than it saves
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Folder(String),
    File(Asset),
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Folder(name) => name,
            Entry::File(asset) => &asset.name,
        }
    }
    pub fn is_folder(&self) -> bool {
        matches!(self, Entry::Folder(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueStatus {
    Queued,
    Processing,
    Completed,
    CompletedWithErrors,
    Failed,
}

impl QueueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueStatus::Queued => "Queued",
            QueueStatus::Processing => "Processing",
            QueueStatus::Completed => "Completed",
            QueueStatus::CompletedWithErrors => "CompletedWithErrors",
            QueueStatus::Failed => "Failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Processing, Self::Completed, Self::CompletedWithErrors, Self::Failed]
            .into_iter()
            .find(|q| q.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    pub item: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub id: QueueId,
    pub account: AccountId,
    pub status: QueueStatus,
    pub total_items: u64,
    pub total_processed: u64,
    pub message: String,
    pub errors: Vec<ItemError>,
    /// The uploaded zip while it waits to be expanded; cleared when the expansion ends.
    pub source_blob: Option<BlobKey>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a [`crate::ports::Renderer`] made of one file: the original's size in pixels when it is
/// an image, and each rendition's bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Width and height of the original, for an image (after EXIF orientation); `None` for a
    /// video or a document.
    pub original: Option<(u32, u32)>,
    pub versions: Vec<RenderedVersion>,
}

/// One rendition's encoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedVersion {
    /// [`THUMBNAIL`] or [`WEB`].
    pub name: String,
    pub bytes: Vec<u8>,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// `jpg`, `png` or `webp`.
    pub extension: String,
    pub width: u32,
    pub height: u32,
}

/// What is recorded of one content blob's renditions ([`crate::ports::RenditionStore`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Renditions {
    /// The original's width and height, for an image.
    pub original: Option<(u32, u32)>,
    /// In the order made (`thumbnail`, then `web`).
    pub versions: Vec<Rendition>,
}

impl Renditions {
    pub fn get(&self, version: &str) -> Option<&Rendition> {
        self.versions.iter().find(|r| r.version == version)
    }
}

/// One stored rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub version: String,
    pub blob: BlobKey,
    pub size: u64,
    pub content_type: String,
    pub extension: String,
    pub width: u32,
    pub height: u32,
}

impl Rendition {
    /// The file name a download of this rendition of `name` suggests: `photo.png`'s thumbnail
    /// is `photo-thumbnail.jpg`.
    pub fn file_name(&self, name: &str) -> String {
        let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        format!("{stem}-{}.{}", self.version, self.extension)
    }

    /// Where a rendition of `source` is stored: derived from the source and the version, so a
    /// job run again overwrites rather than leaks.
    pub fn blob_for(source: &BlobKey, version: &str, extension: &str) -> BlobKey {
        BlobKey(format!("renditions/{}/{version}.{extension}", source.0))
    }
}

/// The version every asset has: its content as uploaded.
pub const ORIGINAL: &str = "original";
/// A rendition that fits 256x256 (SPEC section 6).
pub const THUMBNAIL: &str = "thumbnail";
/// A rendition that fits 1600x1600, never upscaled.
pub const WEB: &str = "web";

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: JobKind,
    pub run_at: Millis,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    /// Attempts so far, this one included (an operator's retry of a failed job starts again
    /// from none).
    pub attempts: u32,
    /// Claims so far, this one included, never reset: the claim's fencing token.
    pub claim: u32,
}

impl Job {
    /// What proves this claim still holds the job: a worker whose lease ran out, and whose job
    /// another worker claimed since, can neither finish it nor commit its result.
    pub fn fence(&self) -> JobFence {
        JobFence { id: self.id, claim: self.claim }
    }
}

/// One claim of one job ([`Job::fence`]). Each claim counts one more, so a stale worker's
/// count is lower than the job's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFence {
    pub id: JobId,
    pub claim: u32,
}

/// The queues jobs wait in. Each has its own workers, so that a burst of one kind of work
/// (renditions after a large zip) never delays another (the zip's expansion, cleanups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobQueue {
    /// Zip expansions: work a client waits on.
    Ingest,
    /// Renditions.
    Render,
    /// Blob deletions.
    Cleanup,
}

impl JobQueue {
    pub const ALL: [JobQueue; 3] = [JobQueue::Ingest, JobQueue::Render, JobQueue::Cleanup];

    pub fn as_str(self) -> &'static str {
        match self {
            JobQueue::Ingest => "ingest",
            JobQueue::Render => "render",
            JobQueue::Cleanup => "cleanup",
        }
    }
}

/// A job given up after its last attempt, kept with its reason until an operator retries or
/// drops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedJob {
    pub id: i64,
    pub queue: JobQueue,
    pub kind: JobKind,
    pub attempts: u32,
    pub error: String,
    pub created_at: Millis,
}

/// What a queued job does. Data, beside [`NewJob`] and [`Job`]; the worker loop that runs them
/// is [`crate::library::jobs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// Deletes a blob unless an asset or a pending upload still references it.
    DeleteBlob { blob: BlobKey },
    /// Expands the zip behind an upload queue entry into `folder`.
    ExpandZip { queue: QueueId, folder: String, created_by: Option<UserId> },
    /// Makes the renditions of one content blob (SPEC section 6); `extension` is the file's,
    /// lower case, which tells the renderer what the bytes should be.
    Render { blob: BlobKey, extension: String },
}

impl JobKind {
    pub fn queue(&self) -> JobQueue {
        match self {
            JobKind::DeleteBlob { .. } => JobQueue::Cleanup,
            JobKind::ExpandZip { .. } => JobQueue::Ingest,
            JobKind::Render { .. } => JobQueue::Render,
        }
    }

    /// The work a job does, named: while one job with this key is queued or running, enqueueing
    /// another with the same key adds nothing.
    pub fn dedup_key(&self) -> String {
        match self {
            JobKind::DeleteBlob { blob } => format!("delete_blob:{blob}"),
            JobKind::ExpandZip { queue, .. } => format!("expand_zip:{queue}"),
            JobKind::Render { blob, .. } => format!("render:{blob}"),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    pub fn from_json(s: &str) -> crate::Result<Self> {
        serde_json::from_str(s).map_err(|e| crate::Error::internal(format!("bad job payload: {e}")))
    }
}
