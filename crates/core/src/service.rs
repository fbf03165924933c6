//! The service every dialect calls: one method per operation, each checking the caller's access
//! first, then the rules, then touching the stores.

use crate::Code;
use crate::auth::{Access, Principal, hash_api_key, new_api_key};
use crate::cursor::Cursor;
use crate::enqueue::JobBatcher;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{AccountId, AssetId, BlobKey, QueueId, UserId};
use crate::ingest::Ingest;
use crate::model::JobKind;
use crate::model::{
    Account, Asset, AssetWrite, Entry, Metadata, NewApiKey, NewJob, QueueEntry, QueueStatus, Role, StoredFile, User,
    now_millis,
};
use crate::ports::{ArchiveOpener, BlobStore, ByteStream, Content, MetaStore, UrlFetcher};
use crate::rules::Rules;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ZipLimits {
    pub max_entries: usize,
    pub max_total_size: u64,
    pub max_ratio: u64,
    /// Entries that expand to less than this are not held to `max_ratio`: a small file of
    /// zeros compresses past any ratio and harms no one.
    pub ratio_min_size: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self { max_entries: 10_000, max_total_size: 1 << 30, max_ratio: 200, ratio_min_size: 1 << 20 }
    }
}

#[derive(Debug, Clone)]
pub struct LibraryConfig {
    pub rules: Rules,
    pub max_upload_size: u64,
    pub zip: ZipLimits,
    /// How long a blob may sit unreferenced after an interrupted upload before it is removed.
    pub orphan_grace: Duration,
    /// How often to sweep the blob store for blobs nothing references; `None`: never.
    pub orphan_sweep: Option<Duration>,
    /// Where zip expansion keeps its working copy of an archive.
    pub tmp_dir: PathBuf,
    pub job_lease: Duration,
    /// This server's stable name among the servers of a shared store (kept in its data dir).
    pub node: String,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            max_upload_size: 10 << 20,
            zip: ZipLimits::default(),
            orphan_grace: Duration::from_secs(3600),
            orphan_sweep: Some(Duration::from_secs(24 * 3600)),
            tmp_dir: std::env::temp_dir(),
            job_lease: Duration::from_secs(60),
            node: crate::ids::random_hex32(),
        }
    }
}

pub struct Library {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) archives: Arc<dyn ArchiveOpener>,
    pub(crate) config: LibraryConfig,
    pub(crate) wake: Notify,
    pub(crate) fetcher: Option<Arc<dyn UrlFetcher>>,
    /// Writes the uploads' cleanup guards, many to a transaction under load.
    guards: JobBatcher,
}

/// What an upload of a `.zip` file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zips {
    /// Expands it into the folder, as a job (Jivox).
    Expand,
    /// Stores it as one file, like any other.
    Keep,
}

/// A page of a one-level listing.
#[derive(Debug, Clone)]
pub struct Listing {
    pub folder: String,
    pub entries: Vec<Entry>,
    pub next: Option<String>,
}

/// What an upload produced: its queue entry and, for a single file, the stored asset.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    pub queue: QueueEntry,
    pub asset: Option<Asset>,
}

/// An upload whose content is stored but not yet visible.
#[derive(Debug)]
pub struct Received {
    account: AccountId,
    user: UserId,
    file_name: String,
    blob: BlobKey,
    digest: crate::ingest::Digest,
    guard: crate::ids::JobId,
    zip_queue: Option<QueueId>,
    metadata: Option<Metadata>,
}

impl Received {
    /// Gives the asset this metadata (replacing an existing asset's) when committed.
    pub fn with_metadata(mut self, metadata: Option<Metadata>) -> Self {
        self.metadata = metadata;
        self
    }
    /// Commits under this file name instead of the one it was received with (the name is
    /// checked again at commit).
    pub fn with_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.file_name);
        self
    }
    /// The file name it will be committed under.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }
    pub(crate) fn blob(&self) -> &BlobKey {
        &self.blob
    }
}

/// Credentials made for a new user: shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewCredentials {
    #[serde(rename = "userId")]
    pub user_id: UserId,
    #[serde(rename = "apiKey")]
    pub api_key: String,
}

impl Library {
    pub fn new(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        archives: Arc<dyn ArchiveOpener>,
        config: LibraryConfig,
    ) -> Self {
        let guards = JobBatcher::new(meta.clone());
        Self { meta, blobs, archives, config, wake: Notify::new(), fetcher: None, guards }
    }

    /// Enables uploads from URLs, fetched by `fetcher`.
    pub fn with_fetcher(mut self, fetcher: Arc<dyn UrlFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.config
    }

    pub fn rules(&self) -> &Rules {
        &self.config.rules
    }

    // ---- identity -------------------------------------------------------------------------

    /// The principal behind an API key secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal> {
        self.meta
            .principal_for_key(&hash_api_key(secret))
            .await?
            .ok_or_else(|| Error::unauthenticated("Invalid API key."))
    }

    /// Checks `access` to `account` and returns the account. A platform admin reaching an
    /// account that does not exist gets `NotFound`; anyone else gets `Forbidden`.
    pub async fn authorize(&self, who: &Principal, account: AccountId, access: Access) -> Result<Account> {
        who.check(account, access)?;
        match self.meta.get_account(account).await? {
            Some(a) => Ok(a),
            None if who.admin => Err(Error::not_found(Code::AccountNotFound, format!("Account {account} not found."))),
            None => Err(Error::forbidden(format!("Access to account {account} is not allowed."))),
        }
    }

    // ---- administration (operator CLI) ----------------------------------------------------

    /// Creates an account; `public` says whether its files are served at public URLs.
    pub async fn create_account(&self, id: AccountId, name: &str, public: bool) -> Result<Account> {
        if id.0 <= 0 {
            return Err(Error::invalid(Code::AccountInvalid, "Account id must be a positive integer."));
        }
        let account = Account { id, name: name.to_owned(), public, created_at: now_millis() };
        self.meta.create_account(&account).await?;
        Ok(account)
    }

    /// Creates a user with `role` in `account` and an unrestricted API key for it.
    pub async fn create_user(&self, name: &str, admin: bool, account: AccountId, role: Role) -> Result<NewCredentials> {
        if self.meta.get_account(account).await?.is_none() {
            return Err(Error::not_found(Code::AccountNotFound, format!("Account {account} not found.")));
        }
        let now = now_millis();
        let user = User { id: UserId::generate(), name: name.to_owned(), admin, created_at: now };
        self.meta.create_user(&user, &[(account, role)]).await?;
        let (secret, hash) = new_api_key();
        self.meta
            .create_api_key(&NewApiKey {
                user: user.id.clone(),
                hash,
                account: None,
                read_only: false,
                created_at: now,
            })
            .await?;
        Ok(NewCredentials { user_id: user.id, api_key: secret })
    }

    /// On an empty store: account 1 and an owner user for it. `None` if the store has accounts.
    pub async fn bootstrap(&self) -> Result<Option<(Account, NewCredentials)>> {
        if self.meta.account_count().await? > 0 {
            return Ok(None);
        }
        // Servers starting together on an empty shared store race here; the loser finds the
        // account made and leaves the rest to the winner.
        let account = match self.create_account(AccountId(1), "Default", true).await {
            Err(e) if e.kind == ErrorKind::Conflict => return Ok(None),
            other => other?,
        };
        let creds = self.create_user("owner", false, account.id, Role::Owner).await?;
        Ok(Some((account, creds)))
    }

    // ---- folders and listing --------------------------------------------------------------

    pub async fn list_folder(
        &self,
        who: &Principal,
        account: AccountId,
        folder: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Listing> {
        self.authorize(who, account, Access::Read).await?;
        let folder = self.config.rules.folder(folder)?;
        let after = cursor.map(|c| Cursor::decode(c, "nextKey")).transpose()?;
        let mut entries = self.meta.list_folder(account, &folder, after.as_ref(), limit + 1).await?;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| Cursor { name: e.name().to_owned(), folder: e.is_folder() }.encode())
        } else {
            None
        };
        Ok(Listing { folder, entries, next })
    }

    /// Creates an explicit folder, which persists while empty. `Conflict` if it exists.
    pub async fn create_folder(&self, who: &Principal, account: AccountId, folder: &str) -> Result<String> {
        self.authorize(who, account, Access::Write).await?;
        let folder = self.config.rules.folder(folder)?;
        if folder.is_empty() {
            return Err(Error::invalid(Code::FolderRequired, "A folder name is required."));
        }
        if !self.meta.create_folder(account, &folder, now_millis()).await? {
            return Err(Error::conflict(Code::FolderExists, format!("Folder '{folder}' already exists.")));
        }
        Ok(folder)
    }

    /// Archives or un-archives, marks or clears as sensitive, the asset at `key`. Archived and
    /// sensitive assets are not served at public URLs.
    pub async fn set_asset_marks(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        archived: Option<bool>,
        sensitive: Option<bool>,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let key = self.config.rules.lookup_key(key)?;
        self.meta
            .set_asset_marks(account, &key.path, &key.name, archived, sensitive, now_millis())
            .await?
            .ok_or_else(|| Error::not_found(Code::AssetNotFound, "Asset not found."))
    }

    // ---- uploads --------------------------------------------------------------------------

    /// Uploads are two calls: `receive` streams the content into the blob store, then
    /// [`Library::commit_upload`] makes it visible. Two, because a multipart client may send
    /// the file before the `path` field that says where it goes. Checks access and the file name (with the folder,
    /// when it is known already); the content is durable but invisible until
    /// [`Library::commit_upload`]. If that never comes, a delayed cleanup job removes it.
    pub async fn receive(
        &self,
        who: &Principal,
        account: AccountId,
        folder: Option<&str>,
        file_name: &str,
        body: ByteStream,
        zips: Zips,
    ) -> Result<Received> {
        self.authorize(who, account, Access::Write).await?;
        let key = self.config.rules.key_in(folder.unwrap_or(""), file_name)?;
        let zip_queue = (zips == Zips::Expand && key.extension() == "zip").then(QueueId::generate);
        self.receive_content(who, account, file_name, body, zip_queue).await
    }

    /// As [`Library::receive`] for a file whose name and folder are not known yet (a client
    /// that names the target after sending the file): only access is checked now; the name
    /// given at commit ([`Received::with_name`]) is checked then. A `.zip` stays one file.
    pub async fn receive_unnamed(&self, who: &Principal, account: AccountId, body: ByteStream) -> Result<Received> {
        self.authorize(who, account, Access::Write).await?;
        self.receive_content(who, account, "", body, None).await
    }

    async fn receive_content(
        &self,
        who: &Principal,
        account: AccountId,
        file_name: &str,
        body: ByteStream,
        zip_queue: Option<QueueId>,
    ) -> Result<Received> {
        let blob = match &zip_queue {
            Some(queue) => BlobKey::for_zip(account, queue),
            None => BlobKey::for_upload(account),
        };
        let guard = self
            .guards
            .enqueue(NewJob {
                kind: JobKind::DeleteBlob { blob: blob.clone() },
                run_at: now_millis() + self.config.orphan_grace.as_millis() as i64,
            })
            .await?;
        let (ingest, result) = Ingest::new(body, self.config.max_upload_size);
        if let Err(e) = self.blobs.put(&blob, Box::pin(ingest)).await {
            // The store aborts a failed put; this removes anything a backend left behind. Not
            // when the store is unavailable: the delete would only fail too, after as long a
            // wait again (a hung store doubled the time to the 503); the guard job removes it.
            if e.kind != ErrorKind::Unavailable {
                let _ = self.blobs.delete(&blob).await;
            }
            return Err(e);
        }
        Ok(Received {
            account,
            user: who.user.clone(),
            file_name: file_name.to_owned(),
            blob,
            digest: result.digest()?,
            guard,
            zip_queue,
            metadata: None,
        })
    }

    /// Makes a received upload visible at `folder/file_name`. A zip is acknowledged with a
    /// `Queued` entry and expanded by a job; any other file becomes an asset now, with a
    /// `Completed` entry. On error the received content is removed.
    pub async fn commit_upload(&self, received: Received, folder: &str) -> Result<UploadOutcome> {
        let result = self.commit_received(&received, folder).await;
        if result.is_err() {
            // The guard job removes the blob later if this delete fails too.
            let _ = self.blobs.delete(&received.blob).await;
        }
        result
    }

    async fn commit_received(&self, r: &Received, folder: &str) -> Result<UploadOutcome> {
        let key = self.config.rules.key_in(folder, &r.file_name)?;
        let now = now_millis();
        if let Some(queue_id) = &r.zip_queue {
            let queue = QueueEntry {
                id: queue_id.clone(),
                account: r.account,
                status: QueueStatus::Queued,
                total_items: 0,
                total_processed: 0,
                message: "Queued".to_owned(),
                errors: vec![],
                source_blob: Some(r.blob.clone()),
                created_at: now,
                updated_at: now,
            };
            let job = NewJob {
                kind: JobKind::ExpandZip {
                    queue: queue_id.clone(),
                    folder: key.path.clone(),
                    created_by: Some(r.user.clone()),
                },
                run_at: now,
            };
            self.meta.put_queue(&queue, Some(&job), Some(r.guard)).await?;
            self.wake.notify_one();
            return Ok(UploadOutcome { queue, asset: None });
        }
        let queue = QueueEntry {
            id: QueueId::generate(),
            account: r.account,
            status: QueueStatus::Completed,
            total_items: 1,
            total_processed: 1,
            message: uploaded_message(1),
            errors: vec![],
            source_blob: None,
            created_at: now,
            updated_at: now,
        };
        let write = AssetWrite {
            account: r.account,
            files: vec![StoredFile {
                content_type: content_type_for(&key.extension()),
                path: key.path,
                name: key.name,
                size: r.digest.size,
                hash: r.digest.hash.clone(),
                blob: r.blob.clone(),
                metadata: r.metadata.clone(),
            }],
            created_by: Some(r.user.clone()),
            now,
            new_ids: vec![AssetId::generate()],
            queue: Some(queue.clone()),
            cancel_job: Some(r.guard),
            jobs: vec![],
            overwrite: true,
        };
        let mut assets = self.meta.write_assets(&write).await?;
        Ok(UploadOutcome { queue, asset: assets.pop() })
    }

    // ---- deletes --------------------------------------------------------------------------

    /// Deletes the file `name` in `folder`; deleting what does not exist succeeds.
    pub async fn delete_file(&self, who: &Principal, account: AccountId, folder: &str, name: &str) -> Result<bool> {
        self.authorize(who, account, Access::Write).await?;
        let key = self.config.rules.lookup_key_in(folder, name)?;
        self.remove_asset(account, &key).await
    }

    /// Deletes the asset at a validated key (the caller has checked access); `false` if there
    /// was none. Wakes a worker for the blob's deletion job.
    pub(crate) async fn remove_asset(&self, account: AccountId, key: &crate::rules::AssetKey) -> Result<bool> {
        let deleted = self.meta.delete_asset(account, &key.path, &key.name, now_millis()).await?;
        if deleted {
            self.wake.notify_one();
        }
        Ok(deleted)
    }

    /// Deletes `folder` and everything under it; deleting what does not exist succeeds.
    pub async fn delete_folder(&self, who: &Principal, account: AccountId, folder: &str) -> Result<u64> {
        self.authorize(who, account, Access::Write).await?;
        let folder = self.config.rules.folder(folder)?;
        if folder.is_empty() {
            return Err(Error::invalid(Code::PathRequired, "Parameter 'path' is required."));
        }
        let n = self.meta.delete_folder(account, &folder, now_millis()).await?;
        if n > 0 {
            self.wake.notify_one();
        }
        Ok(n)
    }

    // ---- queues ---------------------------------------------------------------------------

    pub async fn queue(&self, who: &Principal, id: &str) -> Result<QueueEntry> {
        let not_found = || Error::not_found(Code::QueueNotFound, "Queue not found.");
        let id = QueueId::parse(id).ok_or_else(not_found)?;
        let entry = self.meta.get_queue(&id).await?.ok_or_else(not_found)?;
        who.check(entry.account, Access::Read)?;
        Ok(entry)
    }

    // ---- public files ---------------------------------------------------------------------

    /// The asset a public URL names, if it may be served: the account is public and the asset
    /// neither archived nor sensitive. Everything else is `NotFound`, with no hint why.
    pub async fn public_asset(&self, account: AccountId, key: &str) -> Result<Asset> {
        let not_found = || Error::not_found(Code::FileNotFound, "File not found.");
        let key = self.config.rules.lookup_key(key).map_err(|_| not_found())?;
        let (acct, asset) =
            self.meta.get_account_and_asset(account, &key.path, &key.name).await?.ok_or_else(not_found)?;
        let asset = asset.filter(|_| acct.public).ok_or_else(not_found)?;
        if asset.archived_at.is_some() || asset.sensitive_at.is_some() {
            return Err(not_found());
        }
        Ok(asset)
    }

    /// The content of an asset, or a range of it.
    pub async fn read_content(&self, asset: &Asset, range: Option<Range<u64>>) -> Result<Content> {
        self.blobs.get(&asset.blob, range).await.map_err(|e| match e.kind {
            // The row names a blob that is gone: a defect, not the caller's fault.
            ErrorKind::NotFound => Error::internal(format!("blob {} of asset {} is missing", asset.blob, asset.id)),
            _ => e,
        })
    }
}

/// Whether the stores answer: what a load balancer's readiness probe asks.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub database: Result<()>,
    pub blob_store: Result<()>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && self.blob_store.is_ok()
    }
}

/// How long a readiness check waits for each store.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Library {
    /// Asks each store a trivial question, each bounded by a timeout: a store that hangs is as
    /// unavailable as one that refuses.
    pub async fn readiness(&self) -> Readiness {
        let timed_out = |what: &str| Error::unavailable(what, "no answer within the readiness timeout");
        let database = tokio::time::timeout(READINESS_TIMEOUT, self.meta.account_count())
            .await
            .unwrap_or_else(|_| Err(timed_out("database")))
            .map(|_| ());
        let probe = BlobKey("readiness/probe".to_owned());
        let blob_store = tokio::time::timeout(READINESS_TIMEOUT, self.blobs.exists(&probe))
            .await
            .unwrap_or_else(|_| Err(timed_out("blob store")))
            .map(|_| ());
        Readiness { database, blob_store }
    }
}

pub fn uploaded_message(n: u64) -> String {
    format!("Number of assets uploaded: {n}")
}

/// The stored content type comes from the extension, never from what the client claims.
pub fn content_type_for(ext: &str) -> String {
    match ext {
        // mime_guess has no entry for these two.
        "apng" => "image/apng".to_owned(),
        "m4a" => "audio/mp4".to_owned(),
        _ => mime_guess::from_ext(ext).first_or_octet_stream().essence_str().to_owned(),
    }
}
