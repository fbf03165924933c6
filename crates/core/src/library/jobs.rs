//! The durable job queue's worker loop, and the sweeps that remove what interrupted uploads left
//! in the blob store. The kinds of job are [`JobKind`], in the model. Jobs are rows in the
//! metadata store, enqueued in the same transaction as the write that needs them, claimed with a
//! lease that a running job keeps extending, and idempotent: a job interrupted by a crash runs
//! again whole.

use super::Library;
use crate::error::Result;
use crate::ids::BlobKey;
use crate::ids::JobId;
use crate::model::{FailedJob, Job, JobFence, JobKind, JobQueue, now_millis};
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

tokio::task_local! {
    /// The claim of the job a worker is running, for the writes that commit its result.
    static CLAIM: JobFence;
}

/// The claim of the job this task runs, if it runs one: what a job's result-committing write
/// carries as its fence ([`crate::model::AssetWrite::fence`]).
pub(crate) fn current_claim() -> Option<JobFence> {
    CLAIM.try_with(|claim| *claim).ok()
}

/// How many workers each queue gets in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobWorkers {
    /// Zip expansions.
    pub ingest: usize,
    /// Renditions.
    pub render: usize,
    /// Blob deletions.
    pub cleanup: usize,
}

impl Default for JobWorkers {
    fn default() -> Self {
        Self { ingest: 2, render: 2, cleanup: 1 }
    }
}

impl JobWorkers {
    pub fn of(&self, queue: JobQueue) -> usize {
        match queue {
            JobQueue::Ingest => self.ingest,
            JobQueue::Render => self.render,
            JobQueue::Cleanup => self.cleanup,
        }
    }
}

/// What a panic carried, when it is text.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

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

    /// Runs the job workers, each queue's own ([`JobWorkers`]), until `shutdown` turns true, and
    /// the tasks beside them (the writer of view and download counts, the staging sweeper). A
    /// job in progress at shutdown is left to be claimed again (jobs are idempotent).
    pub fn spawn_workers(
        self: &Arc<Self>,
        workers: JobWorkers,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        // `{node}/{run}-{queue}-{i}`: the node survives restarts, so a restarted server knows
        // its own.
        let instance = format!("{}/{}", self.config.node, &crate::ids::random_hex32()[..12]);
        let mut handles = vec![];
        for queue in JobQueue::ALL {
            for i in 0..workers.of(queue) {
                let lib = self.clone();
                let mut shutdown = shutdown.clone();
                let worker = format!("{instance}-{}-{i}", queue.as_str());
                handles.push(tokio::spawn(async move {
                    loop {
                        if *shutdown.borrow() {
                            break;
                        }
                        let worked = tokio::select! {
                            r = lib.run_one(queue, &worker) => r,
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
                }));
            }
        }
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
                match lib.sweep_sessions().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed ended sessions"),
                    Err(e) => tracing::warn!(error = %e, "could not sweep ended sessions"),
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

    /// Claims and runs one job of `queue`. `Ok(false)` when none was due.
    ///
    /// A job that fails, or panics, is retried with a backoff (`job_backoff`, then twice as long
    /// each time), then after `job_attempts` attempts parked
    /// as failed with its reason ([`Library::failed_jobs`]); the worker goes on either way. A
    /// worker whose lease ran out (the heartbeat found another claim) drops the job, and the
    /// fence keeps anything it would still write from landing.
    pub async fn run_one(&self, queue: JobQueue, worker: &str) -> Result<bool> {
        let lease = self.config.job_lease.as_millis() as i64;
        let now = now_millis();
        let Some(job) = self.meta.claim_job(queue, worker, now, now + lease).await? else {
            return Ok(false);
        };
        let fence = job.fence();
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.config.job_lease / 3).await;
                match self.meta.extend_job(fence, now_millis() + lease).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, job = job.id.0, "could not extend job lease"),
                }
            }
        };
        let outcome = tokio::select! {
            r = AssertUnwindSafe(CLAIM.scope(fence, self.run_job(&job))).catch_unwind() => match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(panic) => Err(format!("the job panicked: {}", panic_message(&*panic))),
            },
            () = heartbeat => {
                tracing::warn!(job = job.id.0, "job lease lost to another worker; dropped");
                return Ok(true);
            }
        };
        let held = match outcome {
            Ok(()) => self.meta.finish_job(fence).await?,
            Err(reason) if job.attempts >= self.config.job_attempts.max(1) => {
                tracing::error!(job = job.id.0, error = %reason, "job failed for good");
                self.give_up(&job).await;
                self.meta.fail_job(fence, &reason).await?
            }
            Err(reason) => {
                let backoff =
                    (self.config.job_backoff.as_millis() as i64).saturating_mul(1 << job.attempts.clamp(1, 11) >> 1);
                tracing::warn!(job = job.id.0, attempt = job.attempts, error = %reason, "job failed; will retry");
                self.meta.retry_job(fence, now_millis() + backoff, &reason).await?
            }
        };
        if !held {
            tracing::warn!(job = job.id.0, "job lease lost to another worker; its outcome was dropped");
        }
        Ok(true)
    }

    async fn run_job(&self, job: &Job) -> Result<()> {
        match &job.kind {
            JobKind::DeleteBlob { blob } => self.delete_blob_unless_used(blob).await,
            JobKind::ExpandZip { queue, folder, created_by } => {
                self.expand_zip(queue, folder, created_by.as_ref()).await
            }
            JobKind::Render { blob, extension } => self.render(job.fence(), blob, extension).await,
        }
    }

    /// Jobs queued or running, blob deletions aside: what a migration waits for, and tests.
    pub async fn unfinished_jobs(&self) -> Result<u64> {
        self.meta.unfinished_jobs().await
    }

    /// Failed jobs with their reasons, oldest first, after `after`.
    pub async fn failed_jobs(&self, after: Option<JobId>, limit: usize) -> Result<Vec<FailedJob>> {
        self.meta.failed_jobs(after, limit).await
    }

    /// Queues a failed job again with its attempts reset; `false` if there is no such failed job.
    pub async fn retry_failed_job(&self, id: JobId) -> Result<bool> {
        let queued = self.meta.retry_failed_job(id, now_millis()).await?;
        if queued {
            self.wake_workers();
        }
        Ok(queued)
    }

    /// Removes every blob that no asset, no pending upload and no recorded rendition references and that is older than
    /// `grace`: what a crash between a blob's write and its commit left, or anything a failed
    /// cleanup job missed. The grace period is what keeps it off an upload in flight, whose
    /// blob is written before its row commits; an expansion still running keeps its entries.
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<u64> {
        use futures::StreamExt;
        let cutoff = crate::model::now_millis() - grace.as_millis() as i64;
        let mut removed = 0;
        for prefix in ["assets/", "uploads/", "renditions/"] {
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
        if blob.0.starts_with("renditions/") {
            return self.meta.rendition_referenced(blob).await;
        }
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
