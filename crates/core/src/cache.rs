//! A `MetaStore` decorator that keeps the lookups every request makes in memory: the public
//! file route's asset lookups, and the API key and account lookups of every API call. Each
//! lookup through SQLite costs two thread wake-ups (sqlx runs a connection on its own thread),
//! which on a small machine is most of a public GET's cost; on PostgreSQL each is a round trip.
//!
//! Every write through this store bumps its account's generation, which makes that account's
//! cached lookups stale at once; a time-to-live bounds how long a write made by another process
//! (an admin command, another server) can go unseen. Keys and accounts are only ever created
//! (roles do not change yet), so only found ones are kept: a key created a moment ago by the
//! admin command works at once. A key deleted through this store is dropped at once; one
//! deleted through another server stops working here within the TTL (`lookup_cache_ms`).

use crate::auth::Principal;
use crate::cursor::Cursor;
use crate::error::Result;
use crate::ids::{AccountId, AssetId, BlobKey, CollectionId, JobId, QueueId, UserId};
use crate::model::{
    Account, ApiKeyInfo, Asset, AssetPatch, AssetWrite, Collection, Entry, FailedJob, FolderDelete, Job, JobFence,
    JobQueue, Metadata, Millis, NewApiKey, NewJob, QueueEntry, Renditions, Role, User,
};
use crate::ports::{
    AccountStore, AssetStore, CollectionStore, FolderStore, JobStore, MetaStore, RenditionStore, SessionStore,
    SettingStore, TransferStore, UploadQueueStore,
};
use crate::search::AssetQuery;
use crate::transfer::{Record, Table};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

type Lookup = Option<(Account, Option<Asset>)>;

#[derive(Clone)]
struct Cached {
    generation: u64,
    at: Instant,
    value: Arc<Lookup>,
}

/// A found value and when it was read.
#[derive(Clone)]
struct Found<T> {
    at: Instant,
    value: T,
}

impl<T> Found<T> {
    fn now(value: T) -> Self {
        Self { at: Instant::now(), value }
    }
}

/// The value kept for `key`, if it was read less than `ttl` ago.
fn fresh<K, Q, T>(cache: &quick_cache::sync::Cache<K, Found<T>>, key: &Q, ttl: Duration) -> Option<T>
where
    K: Eq + std::hash::Hash,
    Q: std::hash::Hash + quick_cache::Equivalent<K> + ?Sized,
    T: Clone,
{
    cache.get(key).filter(|hit| hit.at.elapsed() < ttl).map(|hit| hit.value)
}

pub struct CachedMetaStore {
    inner: Arc<dyn MetaStore>,
    lookups: quick_cache::sync::Cache<(AccountId, String), Cached>,
    principals: quick_cache::sync::Cache<String, Found<Principal>>,
    accounts: quick_cache::sync::Cache<AccountId, Found<Account>>,
    generations: RwLock<HashMap<AccountId, u64>>,
    ttl: Duration,
    sole_writer: bool,
}

impl CachedMetaStore {
    /// Caches up to `capacity` lookups, each for at most `ttl`.
    pub fn new(inner: Arc<dyn MetaStore>, capacity: usize, ttl: Duration) -> Self {
        Self {
            inner,
            lookups: quick_cache::sync::Cache::new(capacity),
            principals: quick_cache::sync::Cache::new(capacity.clamp(16, 10_000)),
            accounts: quick_cache::sync::Cache::new(capacity.clamp(16, 10_000)),
            generations: RwLock::default(),
            ttl,
            sole_writer: false,
        }
    }

    /// For a store no other process writes assets to (the embedded SQLite store, which one
    /// server owns; the admin commands only add accounts, users and keys): an asset lookup in an
    /// account that exists is then kept until a write through this store changes the account,
    /// not only for the time-to-live. Lookups that found no account still expire, so that an
    /// account made by the admin command is seen.
    pub fn sole_writer(mut self) -> Self {
        self.sole_writer = true;
        self
    }

    fn generation(&self, account: AccountId) -> u64 {
        self.generations.read().map(|g| g.get(&account).copied().unwrap_or(0)).unwrap_or(u64::MAX)
    }

    fn invalidate(&self, account: AccountId) {
        if let Ok(mut g) = self.generations.write() {
            *g.entry(account).or_insert(0) += 1;
        }
    }
}

#[async_trait]
impl AccountStore for CachedMetaStore {
    async fn create_account(&self, account: &Account) -> Result<()> {
        let r = self.inner.create_account(account).await;
        self.invalidate(account.id);
        self.accounts.remove(&account.id);
        r
    }

    async fn get_account(&self, id: AccountId) -> Result<Option<Account>> {
        if let Some(account) = fresh(&self.accounts, &id, self.ttl) {
            return Ok(Some(account));
        }
        let found = self.inner.get_account(id).await?;
        if let Some(account) = &found {
            self.accounts.insert(id, Found::now(account.clone()));
        }
        Ok(found)
    }

    async fn account_count(&self) -> Result<u64> {
        self.inner.account_count().await
    }

    async fn create_user(&self, user: &User, memberships: &[(AccountId, Role)]) -> Result<()> {
        // A new user has no key yet, so no cached principal is its.
        self.inner.create_user(user, memberships).await
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<()> {
        self.inner.create_api_key(key).await
    }

    async fn principal_for_key(&self, key_hash: &str) -> Result<Option<Principal>> {
        if let Some(principal) = fresh(&self.principals, key_hash, self.ttl) {
            return Ok(Some(principal));
        }
        let found = self.inner.principal_for_key(key_hash).await?;
        if let Some(principal) = &found {
            self.principals.insert(key_hash.to_owned(), Found::now(principal.clone()));
        }
        Ok(found)
    }

    async fn list_api_keys(&self, account: AccountId, after: &str, limit: usize) -> Result<Vec<ApiKeyInfo>> {
        self.inner.list_api_keys(account, after, limit).await
    }

    /// A deleted key stops working here at once; other servers drop it within the TTL.
    async fn delete_api_key(&self, account: AccountId, id: &str) -> Result<Option<String>> {
        let hash = self.inner.delete_api_key(account, id).await?;
        if let Some(hash) = &hash {
            self.principals.remove(hash.as_str());
        }
        Ok(hash)
    }

    async fn touch_api_key(&self, key_hash: &str, at: Millis) -> Result<()> {
        self.inner.touch_api_key(key_hash, at).await
    }
}

#[async_trait]
impl AssetStore for CachedMetaStore {
    async fn search_assets(&self, query: &AssetQuery, now: Millis) -> Result<Vec<Asset>> {
        self.inner.search_assets(query, now).await
    }

    async fn get_asset_by_id(&self, id: &AssetId) -> Result<Option<Asset>> {
        self.inner.get_asset_by_id(id).await
    }

    /// Counters change no lookup a public file needs: nothing is invalidated.
    async fn add_asset_counts(&self, counts: &[(AssetId, u64, u64)]) -> Result<()> {
        self.inner.add_asset_counts(counts).await
    }

    async fn update_asset(
        &self,
        account: AccountId,
        id: &AssetId,
        patch: &AssetPatch,
        now: Millis,
    ) -> Result<Option<Asset>> {
        // A patch may mark the asset archived or sensitive, which the public lookup reads.
        let r = self.inner.update_asset(account, id, patch, now).await;
        self.invalidate(account);
        r
    }

    async fn get_asset(&self, account: AccountId, path: &str, name: &str) -> Result<Option<Asset>> {
        self.inner.get_asset(account, path, name).await
    }

    async fn get_account_and_asset(&self, account: AccountId, path: &str, name: &str) -> Result<Lookup> {
        let key = (account, format!("{path}/{name}"));
        // Read the generation before the store: a write that lands in between makes this
        // entry stale rather than wrong.
        let generation = self.generation(account);
        if let Some(hit) = self.lookups.get(&key)
            && hit.generation == generation
            && (hit.at.elapsed() < self.ttl || (self.sole_writer && hit.value.is_some()))
        {
            return Ok((*hit.value).clone());
        }
        let value = self.inner.get_account_and_asset(account, path, name).await?;
        self.lookups.insert(key, Cached { generation, at: Instant::now(), value: Arc::new(value.clone()) });
        Ok(value)
    }

    async fn write_assets(&self, write: &AssetWrite) -> Result<Vec<Asset>> {
        let r = self.inner.write_assets(write).await;
        self.invalidate(write.account);
        r
    }

    async fn delete_asset(&self, account: AccountId, path: &str, name: &str, now: Millis) -> Result<bool> {
        let r = self.inner.delete_asset(account, path, name, now).await;
        self.invalidate(account);
        r
    }

    async fn delete_asset_by_id(&self, account: AccountId, id: &AssetId, now: Millis) -> Result<bool> {
        let r = self.inner.delete_asset_by_id(account, id, now).await;
        self.invalidate(account);
        r
    }

    async fn move_asset_by_id(
        &self,
        account: AccountId,
        id: &AssetId,
        to: (&str, &str),
        now: Millis,
    ) -> Result<Option<Asset>> {
        let r = self.inner.move_asset_by_id(account, id, to, now).await;
        self.invalidate(account);
        r
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
        let r = self.inner.set_asset_marks(account, path, name, archived, sensitive, now).await;
        self.invalidate(account);
        r
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
        let r = self.inner.copy_asset(account, from, to, overwrite, remove_source, new_id, created_by, now).await;
        self.invalidate(account);
        r
    }

    async fn set_asset_metadata(
        &self,
        account: AccountId,
        path: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<Option<Asset>> {
        let r = self.inner.set_asset_metadata(account, path, name, metadata).await;
        self.invalidate(account);
        r
    }

    async fn list_assets(
        &self,
        account: AccountId,
        folder: &str,
        recursive: bool,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Asset>> {
        self.inner.list_assets(account, folder, recursive, after, limit).await
    }

    async fn blob_referenced(&self, blob: &BlobKey) -> Result<bool> {
        self.inner.blob_referenced(blob).await
    }

    async fn asset_blobs(&self, ids: &[AssetId]) -> Result<HashMap<AssetId, BlobKey>> {
        self.inner.asset_blobs(ids).await
    }
}

#[async_trait]
impl SettingStore for CachedMetaStore {
    async fn get_setting(&self, name: &str) -> Result<Option<String>> {
        self.inner.get_setting(name).await
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String> {
        self.inner.setting_or_insert(name, value).await
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        self.inner.set_setting(name, value).await
    }
}

/// Not cached: a session ends everywhere the moment it is deleted.
#[async_trait]
impl SessionStore for CachedMetaStore {
    async fn create_session(&self, hash: &str, key_hash: &str, now: Millis, expires_at: Millis) -> Result<()> {
        self.inner.create_session(hash, key_hash, now, expires_at).await
    }

    async fn session_key(&self, hash: &str, now: Millis) -> Result<Option<(String, Millis)>> {
        self.inner.session_key(hash, now).await
    }

    async fn delete_session(&self, hash: &str) -> Result<bool> {
        self.inner.delete_session(hash).await
    }

    async fn sweep_sessions(&self, now: Millis) -> Result<u64> {
        self.inner.sweep_sessions(now).await
    }
}

#[async_trait]
impl CollectionStore for CachedMetaStore {
    async fn create_collection(&self, collection: &Collection) -> Result<()> {
        self.inner.create_collection(collection).await
    }

    async fn get_collection(&self, account: AccountId, id: &CollectionId) -> Result<Option<Collection>> {
        self.inner.get_collection(account, id).await
    }

    async fn list_collections(
        &self,
        account: AccountId,
        after: Option<&CollectionId>,
        limit: usize,
    ) -> Result<Vec<Collection>> {
        self.inner.list_collections(account, after, limit).await
    }

    async fn update_collection(
        &self,
        account: AccountId,
        id: &CollectionId,
        name: Option<&str>,
        description: Option<&str>,
        now: Millis,
    ) -> Result<Option<Collection>> {
        self.inner.update_collection(account, id, name, description, now).await
    }

    async fn collections_of(&self, accounts: Option<&[AccountId]>, skip: u64, limit: usize) -> Result<Vec<Collection>> {
        self.inner.collections_of(accounts, skip, limit).await
    }

    async fn collections_by_ids(&self, ids: &[CollectionId]) -> Result<Vec<Collection>> {
        self.inner.collections_by_ids(ids).await
    }

    async fn collection_sizes(
        &self,
        account: AccountId,
        ids: &[CollectionId],
    ) -> Result<std::collections::HashMap<CollectionId, u64>> {
        self.inner.collection_sizes(account, ids).await
    }

    async fn delete_collection(&self, account: AccountId, id: &CollectionId) -> Result<bool> {
        // Assets lose the collection: cached lookups of the account are stale.
        let r = self.inner.delete_collection(account, id).await;
        self.invalidate(account);
        r
    }
}

#[async_trait]
impl FolderStore for CachedMetaStore {
    async fn list_folder(
        &self,
        account: AccountId,
        folder: &str,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        self.inner.list_folder(account, folder, after, limit).await
    }

    async fn delete_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<u64> {
        let r = self.inner.delete_folder(account, folder, now).await;
        self.invalidate(account);
        r
    }

    async fn create_folder(&self, account: AccountId, folder: &str, now: Millis) -> Result<bool> {
        self.inner.create_folder(account, folder, now).await
    }

    async fn list_subfolders(
        &self,
        account: AccountId,
        folder: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.inner.list_subfolders(account, folder, after, limit).await
    }

    async fn folder_exists(&self, account: AccountId, folder: &str) -> Result<bool> {
        self.inner.folder_exists(account, folder).await
    }

    async fn delete_empty_folder(&self, account: AccountId, folder: &str) -> Result<FolderDelete> {
        let r = self.inner.delete_empty_folder(account, folder).await;
        self.invalidate(account);
        r
    }

    // Everything else passes through.
}

#[async_trait]
impl UploadQueueStore for CachedMetaStore {
    async fn get_queue(&self, id: &QueueId) -> Result<Option<QueueEntry>> {
        self.inner.get_queue(id).await
    }

    async fn put_queue(&self, entry: &QueueEntry, job: Option<&NewJob>, cancel_job: Option<JobId>) -> Result<()> {
        self.inner.put_queue(entry, job, cancel_job).await
    }
}

#[async_trait]
impl JobStore for CachedMetaStore {
    async fn enqueue_job(&self, job: &NewJob) -> Result<JobId> {
        self.inner.enqueue_job(job).await
    }

    async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<Vec<JobId>> {
        self.inner.enqueue_jobs(jobs).await
    }

    async fn claim_job(&self, queue: JobQueue, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        self.inner.claim_job(queue, worker, now, lease_until).await
    }

    async fn extend_job(&self, fence: JobFence, lease_until: Millis) -> Result<bool> {
        self.inner.extend_job(fence, lease_until).await
    }

    async fn finish_job(&self, fence: JobFence) -> Result<bool> {
        self.inner.finish_job(fence).await
    }

    async fn retry_job(&self, fence: JobFence, run_at: Millis, error: &str) -> Result<bool> {
        self.inner.retry_job(fence, run_at, error).await
    }

    async fn fail_job(&self, fence: JobFence, error: &str) -> Result<bool> {
        self.inner.fail_job(fence, error).await
    }

    async fn failed_jobs(&self, after: Option<JobId>, limit: usize) -> Result<Vec<FailedJob>> {
        self.inner.failed_jobs(after, limit).await
    }

    async fn retry_failed_job(&self, id: JobId, now: Millis) -> Result<bool> {
        self.inner.retry_failed_job(id, now).await
    }

    async fn release_abandoned_jobs(&self, node: &str) -> Result<u64> {
        self.inner.release_abandoned_jobs(node).await
    }

    async fn unfinished_jobs(&self) -> Result<u64> {
        self.inner.unfinished_jobs().await
    }
}

#[async_trait]
impl RenditionStore for CachedMetaStore {
    async fn put_renditions(&self, fence: JobFence, source: &BlobKey, renditions: &Renditions) -> Result<bool> {
        self.inner.put_renditions(fence, source, renditions).await
    }

    async fn renditions_of(&self, sources: &[BlobKey]) -> Result<HashMap<BlobKey, Renditions>> {
        self.inner.renditions_of(sources).await
    }

    async fn delete_renditions(&self, source: &BlobKey) -> Result<Vec<BlobKey>> {
        self.inner.delete_renditions(source).await
    }

    async fn rendition_referenced(&self, blob: &BlobKey) -> Result<bool> {
        self.inner.rendition_referenced(blob).await
    }
}

#[async_trait]
impl TransferStore for CachedMetaStore {
    async fn export(&self, table: Table, after: Option<&Record>, limit: usize) -> Result<Vec<Record>> {
        self.inner.export(table, after, limit).await
    }

    async fn import(&self, records: &[Record]) -> Result<()> {
        let result = self.inner.import(records).await;
        self.lookups.clear();
        result
    }

    async fn count(&self, table: Table) -> Result<u64> {
        self.inner.count(table).await
    }
}
