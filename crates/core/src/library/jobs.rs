//! The durable job queue's worker loop, and the sweeps that remove what interrupted uploads left
//! in the blob store. The kinds of job are [`JobKind`], in the model. Jobs are rows in the
//! metadata store, enqueued in the same transaction as the write that needs them, claimed with a
//! lease that a running job keeps extending, and idempotent: a job interrupted by a crash runs
//! again whole.

use super::Library;
use crate::error::Result;
use crate::ids::BlobKey;
use crate::model::{Job, JobKind, now_millis};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A job that fails this many times is given up.
const MAX_ATTEMPTS: u32 = 5;
/// An idle worker looks for due jobs at least this often (delayed jobs, other processes).
const IDLE_POLL: Duration = Duration::from_millis(500);

impl Library {
    /// Returns to the queue the jobs this server's previous run left running (a crash) and jobs
    /// whose lease ran out; other live servers' jobs stay theirs.
    pub async fn release_abandoned_jobs(&self) -> Result<u64> {
        self.meta.release_abandoned_jobs(&self.config.node).await
    }

    /// Makes a worker look for work now (after enqueueing a job in this process).
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
    }

    /// Runs `count` workers until `shutdown` turns true, and the tasks beside them (the writer
    /// of view and download counts, the staging sweeper). A job in progress at shutdown is left
    /// to be claimed again (jobs are idempotent).
    pub fn spawn_workers(
        self: &Arc<Self>,
        count: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        // `{node}/{run}-{i}`: the node survives restarts, so a restarted server knows its own.
        let instance = format!("{}/{}", self.config.node, &crate::ids::random_hex32()[..12]);
        let mut handles: Vec<_> = (0..count)
            .map(|i| {
                let lib = self.clone();
                let mut shutdown = shutdown.clone();
                let worker = format!("{instance}-{i}");
                tokio::spawn(async move {
                    loop {
                        if *shutdown.borrow() {
                            break;
                        }
                        let worked = tokio::select! {
                            r = lib.run_one(&worker) => r,
                            _ = shutdown.changed() => break,
                        };
                        match worked {
                            Ok(true) => continue,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(error = %e, "job queue unavailable"),
                        }
                        tokio::select! {
                            _ = lib.wake.notified() => {}
                            _ = tokio::time::sleep(IDLE_POLL) => {}
                            _ = shutdown.changed() => break,
                        }
                    }
                })
            })
            .collect();
        handles.push(self.spawn_count_writer(shutdown.clone()));
        handles.push(self.spawn_staging_sweeper(shutdown));
        handles
    }

    /// Removes partial writes older than `older_than` from the blob store's staging area (for
    /// the local store `.staging/`, for S3 incomplete multipart uploads).
    pub async fn sweep_partial_writes(&self, older_than: Duration) -> Result<u64> {
        self.blobs.sweep_staging(older_than).await
    }

    /// Removes partial writes that a crash left in the blob store, once they are older than the
    /// orphan grace period: at start and then every grace period (at most hourly). Every
    /// `orphan_sweep` it also removes complete blobs nothing references ([`Library::sweep_orphans`]).
    fn spawn_staging_sweeper(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let lib = self.clone();
        let grace = self.config.orphan_grace;
        let every = grace.clamp(Duration::from_secs(1), Duration::from_secs(3600));
        tokio::spawn(async move {
            let mut last_orphan_sweep = tokio::time::Instant::now();
            loop {
                match lib.blobs.sweep_staging(grace).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed partial writes left by an interrupted upload"),
                    Err(e) => tracing::warn!(error = %e, "could not sweep partial writes"),
                }
                if lib.config.orphan_sweep.is_some_and(|period| last_orphan_sweep.elapsed() >= period) {
                    last_orphan_sweep = tokio::time::Instant::now();
                    match lib.sweep_orphans(grace).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(removed = n, "removed blobs nothing referenced"),
                        Err(e) => tracing::warn!(error = %e, "could not sweep unreferenced blobs"),
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.changed() => break,
                }
            }
        })
    }

    /// Claims and runs one job. `Ok(false)` when none was due.
    pub async fn run_one(&self, worker: &str) -> Result<bool> {
        let lease = self.config.job_lease.as_millis() as i64;
        let Some(job) = self.meta.claim_job(worker, now_millis(), now_millis() + lease).await? else {
            return Ok(false);
        };
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.config.job_lease / 3).await;
                if let Err(e) = self.meta.extend_job(job.id, worker, now_millis() + lease).await {
                    tracing::warn!(error = %e, job = job.id.0, "could not extend job lease");
                }
            }
        };
        let outcome = tokio::select! {
            r = self.run_job(&job) => r,
            _ = heartbeat => unreachable!("the heartbeat never ends"),
        };
        match outcome {
            Ok(()) => self.meta.finish_job(job.id).await?,
            Err(e) if job.attempts >= MAX_ATTEMPTS => {
                tracing::error!(job = job.id.0, error = %e, "job failed for good");
                self.give_up(&job).await;
                self.meta.fail_job(job.id, &e.message).await?;
            }
            Err(e) => {
                let backoff = 1000i64 << job.attempts.min(10);
                tracing::warn!(job = job.id.0, attempt = job.attempts, error = %e, "job failed; will retry");
                self.meta.retry_job(job.id, now_millis() + backoff, &e.message).await?;
            }
        }
        Ok(true)
    }

    async fn run_job(&self, job: &Job) -> Result<()> {
        match &job.kind {
            JobKind::DeleteBlob { blob } => {
                if !self.meta.blob_referenced(blob).await? {
                    self.blobs.delete(blob).await?;
                }
                Ok(())
            }
            JobKind::ExpandZip { queue, folder, created_by } => {
                self.expand_zip(queue, folder, created_by.as_ref()).await
            }
        }
    }

    /// Removes every blob that no asset and no pending upload references and that is older than
    /// `grace`: what a crash between a blob's write and its commit left, or anything a failed
    /// cleanup job missed. The grace period is what keeps it off an upload in flight, whose
    /// blob is written before its row commits; an expansion still running keeps its entries.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<u64> {
        use futures::StreamExt;
        let cutoff = crate::model::now_millis() - grace.as_millis() as i64;
        let mut removed = 0;
        for prefix in ["assets/", "uploads/"] {
            let mut blobs = self.blobs.list(prefix).await?;
            while let Some(blob) = blobs.next().await {
                let blob = blob?;
                if blob.modified > cutoff || self.blob_in_use(&blob.key).await? {
                    continue;
                }
                self.blobs.delete(&blob.key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn blob_in_use(&self, blob: &BlobKey) -> Result<bool> {
        if self.meta.blob_referenced(blob).await? {
            return Ok(true);
        }
        // A zip's entries are referenced only once its expansion commits.
        let Some(queue) = blob.zip_entry_queue() else { return Ok(false) };
        Ok(self.meta.get_queue(&queue).await?.is_some_and(|q| {
            matches!(q.status, crate::model::QueueStatus::Queued | crate::model::QueueStatus::Processing)
        }))
    }

    /// A job that will not be retried leaves a clear trace where the client looks.
    async fn give_up(&self, job: &Job) {
        if let JobKind::ExpandZip { queue, .. } = &job.kind
            && let Err(e) = self.fail_zip(queue, "The archive could not be expanded.").await
        {
            tracing::error!(error = %e, %queue, "could not mark queue failed");
        }
    }
}
