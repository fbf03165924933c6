//! Uploads: content streamed into the blob store ([`Library::receive`]) and then made visible
//! ([`Library::commit_upload`]), single assets put from bytes or from a URL's content, and the
//! upload queue entries clients poll.

use super::Library;
use super::assets::check_metadata;
use super::ingest::Ingest;
use crate::Code;
use crate::auth::{Access, Principal};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{AccountId, AssetId, BlobKey, QueueId, UserId};
use crate::model::JobKind;
use crate::model::{Asset, AssetWrite, Metadata, NewJob, QueueEntry, QueueStatus, StoredFile, now_millis};
use crate::ports::ByteStream;
use crate::rules::join;

/// What an upload of a `.zip` file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zips {
    /// Expands it into the folder, as a job.
    Expand,
    /// Stores it as one file, like any other.
    Keep,
}

/// What an upload produced: its queue entry and, for a single file, the stored asset.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    pub queue: QueueEntry,
    pub asset: Option<Asset>,
    /// Whether the asset replaced one at its key.
    pub replaced: bool,
}

/// An upload whose content is stored but not yet visible.
#[derive(Debug)]
pub struct Received {
    account: AccountId,
    user: UserId,
    file_name: String,
    blob: BlobKey,
    digest: super::ingest::Digest,
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

impl Library {
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
            return Ok(UploadOutcome { queue, asset: None, replaced: false });
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
        let new_id = AssetId::generate();
        let files = vec![StoredFile {
            content_type: content_type_for(&key.extension()),
            path: key.path,
            name: key.name,
            size: r.digest.size,
            hash: r.digest.hash.clone(),
            blob: r.blob.clone(),
            metadata: r.metadata.clone(),
        }];
        let jobs = self.render_jobs(&files, now);
        let rendering = !jobs.is_empty();
        let write = AssetWrite {
            account: r.account,
            files,
            created_by: Some(r.user.clone()),
            now,
            new_ids: vec![new_id.clone()],
            queue: Some(queue.clone()),
            cancel_job: Some(r.guard),
            jobs,
            overwrite: true,
            fence: None,
        };
        let asset = self.meta.write_assets(&write).await?.pop();
        if rendering {
            self.wake_workers();
        }
        // A replaced asset keeps its own id.
        let replaced = asset.as_ref().is_some_and(|a| a.id != new_id);
        Ok(UploadOutcome { queue, asset, replaced })
    }

    /// Stores `body` as the asset at `key` (a `.zip` stays one file), with `metadata` if given
    /// (else a replaced asset keeps its own).
    pub async fn put_asset(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        body: ByteStream,
        metadata: Option<Metadata>,
    ) -> Result<Asset> {
        let k = self.config.rules.key(key)?;
        if let Some(m) = &metadata {
            check_metadata(m)?;
        }
        let received = self.receive(who, account, Some(&k.path), &k.name, body, Zips::Keep).await?;
        let outcome = self.commit_upload(received.with_metadata(metadata), &k.path).await?;
        outcome.asset.ok_or_else(|| Error::internal("a single-file upload made no asset"))
    }

    /// Makes content received before its key was known (a body that names the key after the
    /// content, [`Library::receive_unnamed`]) the asset at `key`, with `metadata` if given.
    /// On any error the content is removed.
    pub async fn commit_as(&self, received: Received, key: &str, metadata: Option<Metadata>) -> Result<Asset> {
        let checked = self.config.rules.key(key).and_then(|k| match &metadata {
            Some(m) => check_metadata(m).map(|()| k),
            None => Ok(k),
        });
        let k = match checked {
            Ok(k) => k,
            Err(e) => {
                self.discard(received).await;
                return Err(e);
            }
        };
        let received = received.with_name(&k.name).with_metadata(metadata);
        let outcome = self.commit_upload(received, &k.path).await?;
        outcome.asset.ok_or_else(|| Error::internal("a single-file upload made no asset"))
    }

    /// Drops received content that will not be committed (the request it came with failed).
    /// Its cleanup job removes it later if this delete fails.
    pub async fn discard(&self, received: Received) {
        let _ = self.blobs.delete(received.blob()).await;
    }

    /// Fetches `url` (through the configured fetcher, which refuses unsafe addresses) and
    /// stores its content as the asset at `key`. Access and the key are checked before
    /// anything is fetched.
    pub async fn put_asset_from_url(
        &self,
        who: &Principal,
        account: AccountId,
        key: &str,
        url: &str,
        metadata: Option<Metadata>,
    ) -> Result<Asset> {
        self.authorize(who, account, Access::Write).await?;
        let k = self.config.rules.key(key)?;
        if let Some(m) = &metadata {
            check_metadata(m)?;
        }
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| Error::invalid(Code::UrlUploadsDisabled, "Uploads from a URL are not enabled."))?;
        let fetched = fetcher.fetch(url, self.config.max_upload_size).await?;
        self.put_asset(who, account, &join(&k.path, &k.name), fetched.body, metadata).await
    }

    pub async fn queue(&self, who: &Principal, id: &str) -> Result<QueueEntry> {
        let not_found = || Error::not_found(Code::QueueNotFound, "Queue not found.");
        let id = QueueId::parse(id).ok_or_else(not_found)?;
        let entry = self.meta.get_queue(&id).await?.ok_or_else(not_found)?;
        who.check(entry.account, Access::Read)?;
        Ok(entry)
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
