//! The ports the core needs from the outside: a metadata store, as narrow traits (accounts and
//! keys, assets, collections, folders, upload queues, jobs, transfer, settings) that
//! [`MetaStore`] gathers, a blob store, an archive reader and a URL fetcher. Engines live in
//! other crates (`assetlib-db`, `assetlib-blobs`, `assetlib-media`).

use crate::auth::Principal;
use crate::cursor::Cursor;
use crate::error::Result;
use crate::ids::{AccountId, AssetId, BlobKey, CollectionId, JobId, QueueId, UserId};
use crate::model::{
    Account, ApiKeyInfo, Asset, AssetPatch, AssetWrite, Collection, Entry, FailedJob, FolderDelete, Job, JobFence,
    JobQueue, Metadata, Millis, NewApiKey, NewJob, QueueEntry, Renditions, Role, User,
};
use crate::search::AssetQuery;
use crate::transfer::{Record, Table};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::collections::HashMap;
use std::ops::Range;

pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// What a blob read gives: the bytes at once, when the store had them cheaply, or a stream.
pub enum Content {
    Whole(Bytes),
    Stream(ByteStream),
}

impl Content {
    pub fn into_stream(self) -> ByteStream {
        match self {
            Content::Whole(bytes) => Box::pin(futures::stream::once(async move { Ok(bytes) })),
            Content::Stream(stream) => stream,
        }
    }
}

/// The metadata store, as one object: every narrow port below. The core holds one
/// `Arc<dyn MetaStore>`; an engine implements the narrow traits and gets this one for free.
pub trait MetaStore:
    AccountStore
    + AssetStore
    + CollectionStore
    + FolderStore
    + UploadQueueStore
    + JobStore
    + RenditionStore
    + TransferStore
    + SettingStore
    + SessionStore
{
}

impl<T> MetaStore for T where
    T: AccountStore
        + AssetStore
        + CollectionStore
        + FolderStore
        + UploadQueueStore
        + JobStore
        + RenditionStore
        + TransferStore
        + SettingStore
        + SessionStore
{
}

/// Accounts, users and their API keys.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Inserts an account; `Conflict` if the id is taken.
    async fn create_account(&self, account: &Account) -> Result<()>;
    async fn get_account(&self, id: AccountId) -> Result<Option<Account>>;
    async fn account_count(&self) -> Result<u64>;

    /// Inserts a user with its account memberships.
    async fn create_user(&self, user: &User, memberships: &[(AccountId, Role)]) -> Result<()>;
    async fn create_api_key(&self, key: &NewApiKey) -> Result<()>;
    /// The principal behind a key hash, with its memberships; `None` for an unknown key.
    async fn principal_for_key(&self, key_hash: &str) -> Result<Option<Principal>>;
    /// The keys that reach `account` (unrestricted or restricted to it) of its members, in id
    /// order after `after`, at most `limit`.
    async fn list_api_keys(&self, account: AccountId, after: &str, limit: usize) -> Result<Vec<ApiKeyInfo>>;
    /// Deletes the key `id` if it is one [`AccountStore::list_api_keys`] lists for `account`;
    /// its hash, or `None` if there was no such key.
    async fn delete_api_key(&self, account: AccountId, id: &str) -> Result<Option<String>>;
    /// Records that the key with this hash was used at `at`.
    async fn touch_api_key(&self, key_hash: &str, at: Millis) -> Result<()>;
}

/// Assets: reads by key, writes, copies and moves, marks and metadata, flat listings, and
/// which blobs they reference.
#[async_trait]
pub trait AssetStore: Send + Sync + 'static {
    /// The assets `query` finds at `now` (the time licence expiry is judged by), at most
    /// `query.limit`, in its order. The caller has checked the scope and the filters.
    async fn search_assets(&self, query: &AssetQuery, now: Millis) -> Result<Vec<Asset>>;
    /// The asset with this id, in whatever account: the caller checks the account.
    async fn get_asset_by_id(&self, id: &AssetId) -> Result<Option<Asset>>;
    /// Adds `(views, downloads)` to each asset's counters, in one transaction; an asset that
    /// is gone is skipped.
    async fn add_asset_counts(&self, counts: &[(AssetId, u64, u64)]) -> Result<()>;
    /// Applies `patch` to the asset `id` of `account` in one transaction (see
    /// [`AssetPatch::apply`], under the row lock, a metadata merge included); `None` if the
    /// account has no such asset. Every collection the patch names must be `account`'s (else
    /// `Invalid` naming `collectionIds`), checked in the same transaction.
    async fn update_asset(
        &self,
        account: AccountId,
        id: &AssetId,
        patch: &AssetPatch,
        now: Millis,
    ) -> Result<Option<Asset>>;
    async fn get_asset(&self, account: AccountId, path: &str, name: &str) -> Result<Option<Asset>>;
    /// The account and, if there is one, its asset at `path/name`, in one round trip (the
    /// public file route's lookup). `None` if the account does not exist.
    async fn get_account_and_asset(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
    ) -> Result<Option<(Account, Option<Asset>)>>;
    /// Commits a write of assets in one transaction (see [`AssetWrite`]): creates the folders
    /// of new keys, queues the replaced blobs for deletion, writes the queue entry, cancels the
    /// guard job and enqueues the given jobs. Returns the assets as stored, in input order.
    async fn write_assets(&self, write: &AssetWrite) -> Result<Vec<Asset>>;
    /// Deletes the asset at `path/name`, queues its blob for deletion and prunes implicit
    /// folders left empty. `false` if there was none.
    async fn delete_asset(&self, account: AccountId, path: &str, name: &str, now: Millis) -> Result<bool>;
    /// As [`AssetStore::delete_asset`], of the asset `id` of `account` wherever it is (a
    /// concurrent move never makes it delete another asset); `false` if there is none.
    async fn delete_asset_by_id(&self, account: AccountId, id: &AssetId, now: Millis) -> Result<bool>;
    /// Moves the asset `id` of `account` to `to` (which must be free, else `Conflict`), as a
    /// move of [`AssetStore::copy_asset`] does; `None` if there is no such asset.
    async fn move_asset_by_id(
        &self,
        account: AccountId,
        id: &AssetId,
        to: (&str, &str),
        now: Millis,
    ) -> Result<Option<Asset>>;
    /// Sets or clears an asset's archived and sensitive marks (`None` leaves one as it is).
    /// Returns the asset as stored, `None` if there is none at `path/name`.
    async fn set_asset_marks(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        archived: Option<bool>,
        sensitive: Option<bool>,
        now: Millis,
    ) -> Result<Option<Asset>>;
    /// Copies the asset at `from` to `to` in one transaction: the copy shares the source's blob
    /// (no bytes are duplicated) and metadata, keeps `to`'s id if it replaces an asset there
    /// (only with `overwrite`; else `Conflict`), and takes `new_id` if not. `None` if there is
    /// no asset at `from`. A concurrent delete of the source either wins (`None`) or waits for
    /// this commit, so the shared blob stays referenced. With `remove_source` it is a move: the
    /// source goes in the same transaction (pruning implicit folders left empty), so of
    /// concurrent moves of one source exactly one happens.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<Option<Asset>>;
    /// Replaces the metadata of the asset at `path/name`; `None` if there is none.
    async fn set_asset_metadata(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<Option<Asset>>;
    /// Files in `folder` (with `recursive`, also below it), ordered by (path, name), strictly
    /// after `after` (a (path, name) pair), at most `limit`. One index range, not a scan.
    async fn list_assets(
        &self,
        account: AccountId,
        folder: &str,
        recursive: bool,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Asset>>;
    /// Whether any asset or pending upload still points at `blob`.
    async fn blob_referenced(&self, blob: &BlobKey) -> Result<bool>;
    /// Which of `ids` exist, with the blob each points at.
    async fn asset_blobs(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, BlobKey>>;
}

/// Named facts every server of a library must agree on (the signing key's id).
#[async_trait]
pub trait SettingStore: Send + Sync + 'static {
    async fn get_setting(&self, name: &str) -> Result<Option<String>>;
    /// Stores `value` under `name` unless a value is there already; returns the value stored
    /// (the one that was there, or `value`). Of servers that race, one value wins for all.
    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String>;
    /// Stores `value` under `name`, replacing any.
    async fn set_setting(&self, name: &str, value: &str) -> Result<()>;
}

/// Web UI sessions: a cookie's secret stands for the API key it was given for, until it ends,
/// it is deleted, or the key is. Only hashes are stored.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Records a session (`hash` of its secret) for the key whose hash is `key_hash`;
    /// `NotFound` if there is no such key.
    async fn create_session(&self, hash: &str, key_hash: &str, now: Millis, expires_at: Millis) -> Result<()>;
    /// The hash of the key of the session whose secret hashes to `hash`, and when the session
    /// ends, if it has not ended by `now`.
    async fn session_key(&self, hash: &str, now: Millis) -> Result<Option<(String, Millis)>>;
    /// Ends a session; `false` if there was none.
    async fn delete_session(&self, hash: &str) -> Result<bool>;
    /// Removes the sessions that ended before `now`; how many.
    async fn sweep_sessions(&self, now: Millis) -> Result<u64>;
}

/// Collections: named sets of one account's assets.
#[async_trait]
pub trait CollectionStore: Send + Sync + 'static {
    /// Inserts a collection; `Conflict` if its id is taken.
    async fn create_collection(&self, collection: &Collection) -> Result<()>;
    async fn get_collection(&self, account: AccountId, id: &CollectionId) -> Result<Option<Collection>>;
    /// `account`'s collections in id order, after `after`, at most `limit`.
    async fn list_collections(
        &self,
        account: AccountId,
        after: Option<&CollectionId>,
        limit: usize,
    ) -> Result<Vec<Collection>>;
    /// Sets the name and description (`None` leaves one as it is); `None` if there is no such
    /// collection.
    async fn update_collection(
        &self,
        account: AccountId,
        id: &CollectionId,
        name: Option<&str>,
        description: Option<&str>,
        now: Millis,
    ) -> Result<Option<Collection>>;
    /// Deletes the collection and takes it out of every asset that was in it; `false` if there
    /// was none.
    async fn delete_collection(&self, account: AccountId, id: &CollectionId) -> Result<bool>;
    /// The collections of `accounts` (`None`: every account) in id order, `skip` of them
    /// skipped, at most `limit`.
    async fn collections_of(&self, accounts: Option<&[AccountId]>, skip: u64, limit: usize) -> Result<Vec<Collection>>;
    /// The collections with these ids, in whatever account (the caller checks), in id order.
    async fn collections_by_ids(&self, ids: &[CollectionId]) -> Result<Vec<Collection>>;
    /// How many assets are in each of the collections `ids` of `account` (archived ones
    /// included), in one query; a collection that is empty or not `account`'s is absent.
    async fn collection_sizes(&self, account: AccountId, ids: &[CollectionId]) -> Result<HashMap<CollectionId, u64>>;
}

/// The folder tree: one level's listing, explicit folders, subtree and strict deletes.
#[async_trait]
pub trait FolderStore: Send + Sync + 'static {
    /// One level of `folder`: child folders and files, merged in name order (folders first on
    /// a tie), strictly after `after`, at most `limit` entries. Costs a page, not a scan.
    async fn list_folder(
        &self,
        account: AccountId,
        folder: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Entry>>;
    /// Deletes `folder`, everything under it, and implicit ancestors left empty. Returns the
    /// number of assets deleted.
    async fn delete_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<u64>;
    /// Creates `folder` as an explicit folder (it persists while empty), with implicit
    /// ancestors. `false`, changing nothing, if a folder of that path exists already.
    async fn create_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<bool>;
    /// Names of `folder`'s child folders after `after`, in name order, at most `limit`.
    async fn list_subfolders(&self, account: AccountId, folder: &str, after: &str, limit: usize)
    -> Result<Vec<String>>;
    async fn folder_exists(&self, account: AccountId, folder: &str) -> Result<bool>;
    /// Deletes `folder` only if it holds no asset and no folder, pruning implicit ancestors
    /// left empty.
    async fn delete_empty_folder(&self, account: AccountId, folder: &str) -> Result<FolderDelete>;
}

/// The status entries of uploads and zip expansions (a Clinch upload queue, by its id).
#[async_trait]
pub trait UploadQueueStore: Send + Sync + 'static {
    async fn get_queue(&self, id: &QueueId) -> Result<Option<QueueEntry>>;
    /// Inserts or replaces a queue entry; in the same transaction enqueues `job` and cancels
    /// `cancel_job`.
    async fn put_queue(&self, entry: &QueueEntry, job: Option<&NewJob>, cancel_job: Option<JobId>) -> Result<()>;
}

/// The durable job queue: enqueue, claim with a lease, finish, retry or fail.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    async fn enqueue_job(&self, job: &NewJob) -> Result<JobId> {
        let ids = self.enqueue_jobs(std::slice::from_ref(job)).await?;
        ids.into_iter().next().ok_or_else(|| crate::Error::internal("a job insert returned no id"))
    }
    /// Enqueues `jobs` in one transaction; their ids come back in the order of `jobs`. A job
    /// whose [`JobKind::dedup_key`] is already queued or running is not added again: its id is
    /// the one already there.
    async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<Vec<JobId>>;
    /// Claims the next due job of `queue` (or one whose lease ran out) for `worker` until
    /// `lease_until`.
    async fn claim_job(&self, queue: JobQueue, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>>;
    /// Each of these acts only while `fence` is the job's latest claim and it runs; `false`
    /// when it is not (the lease ran out and another worker claimed the job): nothing changed.
    async fn extend_job(&self, fence: JobFence, lease_until: Millis) -> Result<bool>;
    async fn finish_job(&self, fence: JobFence) -> Result<bool>;
    async fn retry_job(&self, fence: JobFence, run_at: Millis, error: &str) -> Result<bool>;
    /// Parks the job as failed with its reason ([`JobStore::failed_jobs`]).
    async fn fail_job(&self, fence: JobFence, error: &str) -> Result<bool>;
    /// Failed jobs, oldest first, after `after` (an id), at most `limit`.
    async fn failed_jobs(&self, after: Option<JobId>, limit: usize) -> Result<Vec<FailedJob>>;
    /// Queues a failed job again, due at `now`, with its attempts reset. `false` if no failed
    /// job has this id (or the same work is already queued again).
    async fn retry_failed_job(&self, id: JobId, now: Millis) -> Result<bool>;
    /// Returns to the queue, at a server's start, the jobs an earlier run of that server left
    /// running (their worker names start with `{node}/`) and jobs whose lease has run out. A
    /// store that only one server process may use (SQLite) returns every running job.
    async fn release_abandoned_jobs(&self, node: &str) -> Result<u64>;
    /// Jobs queued or running, other than blob deletions.
    async fn unfinished_jobs(&self) -> Result<u64>;
}

/// The renditions of content blobs (SPEC section 6). They belong to the content, not to an
/// asset: copies, which share the blob, share them.
#[async_trait]
pub trait RenditionStore: Send + Sync + 'static {
    /// Records what rendering `source` made, replacing what was recorded, in one transaction
    /// that also checks `fence` (the render job's claim) and that an asset still uses `source`.
    /// `false`: one of them no longer holds and nothing was written (the caller removes the
    /// blobs it stored for it).
    async fn put_renditions(&self, fence: JobFence, source: &BlobKey, renditions: &Renditions) -> Result<bool>;
    /// What is recorded for each of `sources` that has anything.
    async fn renditions_of(&self, sources: &[BlobKey]) -> Result<HashMap<BlobKey, Renditions>>;
    /// Forgets `source`'s renditions and returns the blobs they were stored in.
    async fn delete_renditions(&self, source: &BlobKey) -> Result<Vec<BlobKey>>;
    /// Whether a recorded rendition is stored in `blob`.
    async fn rendition_referenced(&self, blob: &BlobKey) -> Result<bool>;
}

/// Whole-library export and import, for `assetlib migrate` (see [`crate::migrate`]).
#[async_trait]
pub trait TransferStore: Send + Sync + 'static {
    /// A page of `table` in primary-key order, after `after` (a record of the same table).
    async fn export(&self, table: Table, after: Option<&Record>, limit: usize) -> Result<Vec<Record>>;
    /// Writes records as they are (ids and times kept) in one transaction: each is inserted, or
    /// its row updated to equal it. A user's memberships are replaced by the record's.
    async fn import(&self, records: &[Record]) -> Result<()>;
    /// The number of rows in `table`.
    async fn count(&self, table: Table) -> Result<u64>;
}

/// A stored blob, as a listing gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: BlobKey,
    /// When it was last written (Unix milliseconds).
    pub modified: crate::model::Millis,
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Streams `body` into `key`, replacing what was there. When it returns `Ok` the content is
    /// durable. An error from `body` aborts the write, leaves nothing at `key` and is returned
    /// unchanged. Returns the number of bytes written.
    async fn put(&self, key: &BlobKey, body: ByteStream) -> Result<u64>;
    /// [`BlobStore::put`] for one of many writes that are made durable together by
    /// [`BlobStore::sync`] (a zip's entries): readable at `key` when it returns, but until `sync`
    /// with `key` has returned `Ok`, a crash may leave `key` holding the content, nothing, or
    /// part of it. For keys nothing refers to before that `sync`. The default is `put`, durable
    /// at once.
    async fn put_unsynced(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
        self.put(key, body).await
    }
    /// Makes what [`BlobStore::put_unsynced`] wrote at `keys` durable, all at once. The default
    /// has nothing to do: its `put_unsynced` is `put`.
    async fn sync(&self, _keys: &[BlobKey]) -> Result<()> {
        Ok(())
    }
    /// The content of `key`, or of `range` of it. `NotFound` if absent.
    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<Content>;
    /// The whole content of `key` for background work (a zip's expansion, a rendition): read
    /// past any cache in front of the store, so that it neither fills the cache with what no
    /// client asked for nor evicts what they did.
    async fn get_for_job(&self, key: &BlobKey) -> Result<Content> {
        self.get(key, None).await
    }
    /// Deletes `key`; deleting what is absent succeeds.
    async fn delete(&self, key: &BlobKey) -> Result<()>;
    async fn exists(&self, key: &BlobKey) -> Result<bool>;
    /// Every blob whose key starts with `prefix` (complete writes only), in no set order.
    async fn list(&self, prefix: &str) -> Result<BoxStream<'static, Result<BlobInfo>>>;
    /// Removes what interrupted writes left behind, if older than `older_than`.
    async fn sweep_staging(&self, older_than: std::time::Duration) -> Result<u64>;
    /// A URL of the store itself that lets anyone GET `key` for `expires`, with the response
    /// headers given (signed with it, so a holder cannot change them); `None` for a store that
    /// has no such URLs (the server then signs its own link).
    async fn signed_get(
        &self,
        _key: &BlobKey,
        _expires: std::time::Duration,
        _response: &SignedResponse,
    ) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Response headers a signed GET of a blob store makes it send in place of the object's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedResponse {
    /// e.g. `image/png`.
    pub content_type: Option<String>,
    /// e.g. `attachment; filename="a.png"`.
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
}

/// One entry of an archive's central directory.
#[derive(Debug, Clone)]
pub struct ArchiveEntry {
    pub index: usize,
    /// The name, decoded: UTF-8 when flagged or valid, else Latin-1.
    pub name: String,
    pub is_dir: bool,
    pub is_symlink: bool,
    pub encrypted: bool,
    /// Whether the compression method can be read.
    pub supported: bool,
    /// Declared uncompressed size.
    pub size: u64,
    pub compressed_size: u64,
    /// Where the entry sits in the archive, from its local header to the end of its data:
    /// two entries whose spans overlap share bytes (an overlapping-entries zip bomb).
    pub span: std::ops::Range<u64>,
}

/// An opened archive. Synchronous: the core drives it from a blocking thread.
pub trait Archive: Send {
    fn entries(&self) -> &[ArchiveEntry];
    /// Reads entry `index`, at most `max` bytes; more than `max` is an error of kind
    /// `std::io::ErrorKind::FileTooLarge`.
    fn read(&mut self, index: usize, max: u64) -> std::io::Result<Vec<u8>>;
}

pub trait ArchiveOpener: Send + Sync + 'static {
    /// Opens a zip archive; `Invalid` if the file is not one.
    fn open(&self, file: std::fs::File) -> Result<Box<dyn Archive>>;
}

/// Makes an asset's renditions (SPEC section 6) from its content in a local file. Blocking and
/// CPU-bound: the core runs it on a blocking thread. An implementation bounds its own memory
/// and time (a pixel limit, a time limit for what it runs beside it) and never reads another
/// file or reaches the network, whatever the content claims.
pub trait Renderer: Send + Sync + 'static {
    /// Whether a file with this extension (lower case, no dot) can have renditions at all on
    /// this machine (a video needs ffmpeg, a PDF poppler). Others get no job.
    fn renderable(&self, extension: &str) -> bool;
    /// The renditions of the content in `file`. An error is a file that cannot be rendered:
    /// the asset stays valid without renditions and the reason is logged.
    fn render(&self, file: &std::path::Path, extension: &str) -> Result<crate::model::Rendered>;
}

/// Fetches a URL's content for an upload. Implementations refuse unsafe targets.
#[async_trait]
pub trait UrlFetcher: Send + Sync + 'static {
    /// The response body as a stream (at most `max_bytes`; more is an `Invalid` error from the stream),
    /// with the file name the URL or Content-Disposition suggests and the declared content type, if any.
    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched>;
}

/// What a [`UrlFetcher`] gives.
pub struct Fetched {
    pub body: ByteStream,
    /// The base name from Content-Disposition, else the last segment of the final URL's path.
    pub file_name: Option<String>,
    /// The Content-Type header, as declared.
    pub content_type: Option<String>,
    /// The Content-Length header, if declared.
    pub length: Option<u64>,
}
