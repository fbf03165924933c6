//! The job that expands an uploaded zip (SPEC section 4): every entry passes the same path and
//! type rules as a single upload; bad entries are skipped and reported; limits on entry count,
//! expanded size and compression ratio fail the whole expansion. Nothing becomes visible until
//! the end, when all stored entries are committed in one transaction with the final queue
//! status, so a failed expansion changes nothing and a re-run after a crash starts clean. So
//! entries are written without waiting for the disk one by one, and made durable together just
//! before that commit (`BlobStore::put_unsynced`, `BlobStore::sync`).

use super::ingest::{Ingest, executable_error, is_executable};
use super::uploads::{content_type_for, uploaded_message};
use super::{Library, ZipLimits};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{AssetId, BlobKey, QueueId, UserId};
use crate::model::JobKind;
use crate::model::{AssetWrite, ItemError, NewJob, QueueEntry, QueueStatus, StoredFile, now_millis};
use crate::ports::{Archive, ArchiveEntry};
use crate::rules::{AssetKey, join};
use crate::size::human_size;
use bytes::Bytes;
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// What became of one archive entry before any bytes were read.
enum Plan {
    /// Skipped without a word: directories, `__MACOSX/`, `.DS_Store`.
    Ignore,
    Skip(String),
    Store,
}

/// One planned entry: its key in the library and its blob, and the checked key or why it is
/// skipped.
struct Step {
    key: String,
    blob: BlobKey,
    entry: ArchiveEntry,
    checked: std::result::Result<AssetKey, String>,
}

/// What the reader gave for an entry to store.
enum Inflated {
    Data(Vec<u8>),
    /// The archive is at fault: the expansion fails.
    Fatal(String),
    /// The reader ended before it (it panicked).
    Gone,
}

enum Stored {
    Done(StoredFile),
    Skipped { key: String, error: String },
    Fatal(String),
}

/// Entries written at once: small writes spend most of their time waiting (on a blocking
/// thread, on S3), so several overlap.
const WRITES_IN_FLIGHT: usize = 16;
/// Entries inflated ahead of the writes.
const READ_AHEAD: usize = 64;

const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// The most skipped entries the queue message names; all are kept in the entry's errors.
const MESSAGE_SKIPS: usize = 20;

/// The first limit an archive of `archive_size` bytes breaks, judged on its directory before
/// anything is read, as the queue's failure message. Entries are read no further than their
/// declared sizes (`read_entry`), so the declared sizes bound what is really written:
/// - at most `max_entries` entries, and at most `max_total_size` bytes in all;
/// - one entry of `ratio_min_size` or more at most `max_ratio` times its compressed size;
/// - all entries together at most `max_ratio` times the archive's size, whatever their sizes,
///   so that many small entries of zeros cannot add up to a bomb;
/// - no two entries sharing bytes of the archive (overlapping entries expand one compressed
///   run many times over while each looks honest on its own).
pub fn check_archive(entries: &[ArchiveEntry], archive_size: u64, limits: &ZipLimits) -> Option<String> {
    if entries.len() > limits.max_entries {
        return Some(format!("Zip archive has more than {} entries.", limits.max_entries));
    }
    let total = entries.iter().fold(0u64, |sum, e| sum.saturating_add(e.size));
    if total > limits.max_total_size {
        return Some(format!("Zip archive expands to more than {}.", human_size(limits.max_total_size)));
    }
    if let Some(e) =
        entries.iter().find(|e| e.size >= limits.ratio_min_size && e.size / e.compressed_size.max(1) > limits.max_ratio)
    {
        return Some(format!("Zip entry '{}' exceeds the compression ratio limit of {}:1.", e.name, limits.max_ratio));
    }
    if total > archive_size.max(1).saturating_mul(limits.max_ratio) {
        return Some(format!(
            "Zip archive expands to more than {} times its size ({} from {}).",
            limits.max_ratio,
            human_size(total),
            human_size(archive_size)
        ));
    }
    let mut spans: Vec<&ArchiveEntry> = entries.iter().collect();
    spans.sort_by_key(|e| (e.span.start, e.span.end));
    spans
        .windows(2)
        .find(|w| w[1].span.start < w[0].span.end)
        .map(|w| format!("Zip entries '{}' and '{}' overlap in the archive; it is refused.", w[0].name, w[1].name))
}

fn is_mac_litter(name: &str) -> bool {
    name.starts_with("__MACOSX/") || name == "__MACOSX" || name == ".DS_Store" || name.ends_with("/.DS_Store")
}

impl Library {
    fn plan(&self, e: &ArchiveEntry) -> Plan {
        if e.is_dir || is_mac_litter(&e.name) {
            return Plan::Ignore;
        }
        let reason = if e.is_symlink {
            "Symbolic links are not allowed.".to_owned()
        } else if e.encrypted {
            "Encrypted entries are not supported.".to_owned()
        } else if crate::rules::extension_of(&e.name) == "zip" {
            "Nested zip archives are not expanded.".to_owned()
        } else if !e.supported {
            "Unsupported compression method.".to_owned()
        } else if e.size > self.config.max_upload_size {
            super::ingest::too_large_error(self.config.max_upload_size).message
        } else {
            return Plan::Store;
        };
        Plan::Skip(reason)
    }

    pub(crate) async fn expand_zip(&self, queue_id: &QueueId, folder: &str, created_by: Option<&UserId>) -> Result<()> {
        let Some(mut queue) = self.meta.get_queue(queue_id).await? else {
            return Ok(());
        };
        let Some(source) = queue.source_blob.clone() else {
            return Ok(()); // already finished: a duplicate run does nothing
        };
        queue.status = QueueStatus::Processing;
        queue.total_processed = 0;
        queue.errors.clear();
        queue.message = "Processing".to_owned();
        queue.updated_at = now_millis();
        self.meta.put_queue(&queue, None, None).await?;

        let tmp = self.fetch_to_temp(&source).await?;
        let file = tmp.reopen().map_err(Error::internal)?;
        let archive_size = file.metadata().map_err(Error::internal)?.len();
        let archives = self.archives.clone();
        let opened = tokio::task::spawn_blocking(move || archives.open(file)).await.map_err(Error::internal)?;
        let archive = match opened {
            Ok(a) => a,
            Err(e) if e.kind == ErrorKind::Invalid => return self.finish_failed(queue, &e.message, vec![]).await,
            Err(e) => return Err(e),
        };
        let entries = archive.entries().to_vec();
        if let Some(reason) = check_archive(&entries, archive_size, &self.config.zip) {
            return self.finish_failed(queue, &reason, vec![]).await;
        }
        let plans: Vec<(ArchiveEntry, Plan)> = entries
            .into_iter()
            .map(|e| (e.clone(), self.plan(&e)))
            .filter(|(_, p)| !matches!(p, Plan::Ignore))
            .collect();
        queue.total_items = plans.len() as u64;
        let started = Instant::now();

        // Each entry's fate is known before any is read: skipped (with its reason), or read and
        // stored under its checked key.
        let steps: Vec<Step> = plans
            .into_iter()
            .map(|(entry, plan)| {
                let key = join(folder, &entry.name);
                let checked = match plan {
                    Plan::Skip(reason) => Err(reason),
                    // The entry's own name first, so that `/abs.png` is reported as absolute
                    // rather than as the `//` it makes once joined to the folder.
                    _ => self
                        .config
                        .rules
                        .key(&entry.name)
                        .and_then(|_| self.config.rules.key(&key))
                        .map_err(|e| e.message),
                };
                Step { key, blob: BlobKey::for_zip_entry(queue.account, queue_id, entry.index), entry, checked }
            })
            .collect();
        // A blocking thread inflates the entries to store, in order, a few ahead of the writes;
        // up to WRITES_IN_FLIGHT entries are written at once. The writes are not synced one by
        // one: nothing refers to them until the commit below, before which they are synced
        // together, and a crash before it leaves nothing visible (a re-run rewrites the same keys).
        let reads: Vec<(usize, u64)> =
            steps.iter().filter(|s| s.checked.is_ok()).map(|s| (s.entry.index, s.entry.size)).collect();
        let inflated = inflate_in_order(archive, reads);
        let paired = futures::stream::unfold((steps.into_iter(), inflated), |(mut steps, mut inflated)| async move {
            let step = steps.next()?;
            let data = match step.checked {
                Ok(_) => Some(inflated.recv().await.unwrap_or(Inflated::Gone)),
                Err(_) => None,
            };
            Some(((step, data), (steps, inflated)))
        });
        let mut outcomes = paired.map(|(step, data)| self.store_entry(step, data)).buffered(WRITES_IN_FLIGHT).boxed();

        let mut files: Vec<StoredFile> = Vec::new();
        let mut last_progress = Instant::now();
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                Stored::Done(file) => files.push(file),
                Stored::Skipped { key, error } => queue.errors.push(ItemError { item: key, error }),
                Stored::Fatal(reason) => {
                    drop(outcomes);
                    // Every entry before this one was written; none after it was.
                    let written = files.into_iter().map(|f| f.blob).collect();
                    return self.finish_failed(queue, &reason, written).await;
                }
            }
            queue.total_processed += 1;
            if last_progress.elapsed() >= PROGRESS_EVERY {
                queue.updated_at = now_millis();
                self.meta.put_queue(&queue, None, None).await?;
                last_progress = Instant::now();
            }
        }
        drop(outcomes);
        // Durable before the commit makes them visible.
        let written: Vec<BlobKey> = files.iter().map(|f| f.blob.clone()).collect();
        self.blobs.sync(&written).await?;

        let stored = files.len() as u64;
        queue.status = if queue.errors.is_empty() { QueueStatus::Completed } else { QueueStatus::CompletedWithErrors };
        queue.message = summary(stored, &queue.errors);
        let skipped = queue.errors.len();
        // How long the entries took to write and sync, and the commit: for the operator's log.
        let written_in = started.elapsed();
        self.commit_expansion(queue, files, created_by).await?;
        tracing::info!(
            queue = %queue_id,
            stored,
            skipped,
            write_ms = written_in.as_millis() as u64,
            commit_ms = (started.elapsed() - written_in).as_millis() as u64,
            "zip expanded"
        );
        Ok(())
    }

    /// Stores one entry the reader inflated (`data`), or says why it is skipped.
    async fn store_entry(&self, step: Step, data: Option<Inflated>) -> Result<Stored> {
        let Step { key, blob, checked, .. } = step;
        let k = match checked {
            Ok(k) => k,
            Err(error) => return Ok(Stored::Skipped { key, error }),
        };
        let data = match data {
            Some(Inflated::Data(data)) => data,
            Some(Inflated::Fatal(reason)) => return Ok(Stored::Fatal(reason)),
            Some(Inflated::Gone) | None => return Err(Error::internal("the zip reader stopped early")),
        };
        if is_executable(&data) {
            return Ok(Stored::Skipped { key, error: executable_error().message });
        }
        let (ingest, digest) = Ingest::new(
            futures::stream::once(async move { Ok(Bytes::from(data)) }).boxed(),
            self.config.max_upload_size,
        );
        self.blobs.put_unsynced(&blob, Box::pin(ingest)).await?;
        let digest = digest.digest()?;
        Ok(Stored::Done(StoredFile {
            content_type: content_type_for(&k.extension()),
            path: k.path,
            name: k.name,
            size: digest.size,
            hash: digest.hash,
            blob,
            metadata: None,
        }))
    }

    async fn commit_expansion(
        &self,
        mut queue: QueueEntry,
        files: Vec<StoredFile>,
        created_by: Option<&UserId>,
    ) -> Result<()> {
        let now = now_millis();
        let mut jobs = self.render_jobs(&files, now);
        if let Some(source) = queue.source_blob.take() {
            jobs.push(NewJob { kind: JobKind::DeleteBlob { blob: source }, run_at: now });
        }
        queue.updated_at = now;
        let write = AssetWrite {
            account: queue.account,
            new_ids: files.iter().map(|_| AssetId::generate()).collect(),
            files,
            created_by: created_by.cloned(),
            now,
            queue: Some(queue),
            cancel_job: None,
            jobs,
            overwrite: true,
            // Only the claim that still holds the expansion may commit its outcome.
            fence: super::jobs::current_claim(),
        };
        self.meta.write_assets(&write).await?;
        self.wake_workers();
        Ok(())
    }

    /// Ends an expansion as `Failed`: nothing it wrote becomes visible, and its blobs go.
    async fn finish_failed(&self, mut queue: QueueEntry, reason: &str, written: Vec<BlobKey>) -> Result<()> {
        queue.status = QueueStatus::Failed;
        queue.message = format!("{}. {reason}", uploaded_message(0));
        let now = now_millis();
        let jobs: Vec<NewJob> =
            written.into_iter().map(|blob| NewJob { kind: JobKind::DeleteBlob { blob }, run_at: now }).collect();
        let mut write_queue = queue.clone();
        let mut extra = jobs;
        if let Some(source) = write_queue.source_blob.take() {
            extra.push(NewJob { kind: JobKind::DeleteBlob { blob: source }, run_at: now });
        }
        write_queue.updated_at = now;
        let write = AssetWrite {
            account: queue.account,
            files: vec![],
            created_by: None,
            now,
            new_ids: vec![],
            queue: Some(write_queue),
            cancel_job: None,
            jobs: extra,
            overwrite: true,
            // Only the claim that still holds the expansion may commit its outcome.
            fence: super::jobs::current_claim(),
        };
        self.meta.write_assets(&write).await?;
        self.wake_workers();
        Ok(())
    }

    /// Marks an expansion failed for good (the job gave up).
    pub(crate) async fn fail_zip(&self, queue_id: &QueueId, reason: &str) -> Result<()> {
        match self.meta.get_queue(queue_id).await? {
            Some(queue) if queue.source_blob.is_some() => self.finish_failed(queue, reason, vec![]).await,
            _ => Ok(()),
        }
    }

    /// Copies a blob to a temporary file: the zip reader needs to seek.
    pub(crate) async fn fetch_to_temp(&self, blob: &BlobKey) -> Result<tempfile::NamedTempFile> {
        tokio::fs::create_dir_all(&self.config.tmp_dir).await.map_err(Error::internal)?;
        let tmp = tempfile::NamedTempFile::new_in(&self.config.tmp_dir).map_err(Error::internal)?;
        let mut out = tokio::fs::File::from_std(tmp.reopen().map_err(Error::internal)?);
        let mut body = self.blobs.get_for_job(blob).await?.into_stream();
        while let Some(chunk) = body.next().await {
            out.write_all(&chunk?).await.map_err(Error::internal)?;
        }
        out.flush().await.map_err(Error::internal)?;
        Ok(tmp)
    }
}

/// Inflates the entries `reads` (index, declared size) in order on a blocking thread, each
/// bounded by its declared size, up to READ_AHEAD ahead of the receiver. An entry that lies
/// about its size is a fatal fault of the archive, which fails the expansion: the reader stops
/// there. It stops too when the receiver is dropped.
fn inflate_in_order(mut archive: Box<dyn Archive>, reads: Vec<(usize, u64)>) -> tokio::sync::mpsc::Receiver<Inflated> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        for (index, declared) in reads {
            let inflated = match archive.read(index, declared) {
                Ok(data) => Inflated::Data(data),
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                    Inflated::Fatal(format!("Zip entry {index} expands beyond its declared size."))
                }
                Err(e) => Inflated::Fatal(format!("Zip entry {index} could not be read: {e}.")),
            };
            let fatal = matches!(inflated, Inflated::Fatal(_));
            if tx.blocking_send(inflated).is_err() || fatal {
                return;
            }
        }
    });
    rx
}

fn summary(stored: u64, errors: &[ItemError]) -> String {
    let mut message = uploaded_message(stored);
    if !errors.is_empty() {
        let named: Vec<String> = errors
            .iter()
            .take(MESSAGE_SKIPS)
            .map(|e| format!("{} ({})", e.item, e.error.trim_end_matches('.')))
            .collect();
        message.push_str(&format!(". Skipped {}: {}", errors.len(), named.join("; ")));
        if errors.len() > MESSAGE_SKIPS {
            message.push_str("; ...");
        }
    }
    message
}
