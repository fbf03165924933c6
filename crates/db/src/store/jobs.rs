//! The durable job queue ([`JobStore`]). Claiming and releasing differ by engine; the rest is
//! one statement each.

use super::Store;
use crate::engine::Engine;
use crate::rows::FailedJobRow;
use crate::sql::{Conn, Stmt};
use assetlib_core::model::{FailedJob, Job, JobFence, JobQueue, Millis, NewJob, now_millis};
use assetlib_core::ports::JobStore;
use assetlib_core::{JobId, Result};
use async_trait::async_trait;

const EXTEND_JOB: &str = "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND claims = $3 AND status = 'running'";
const FINISH_JOB: &str = "DELETE FROM jobs WHERE id = $1 AND claims = $2 AND status = 'running'";
/// Back to the queue, unless the same work is queued again meanwhile (the unique dedup index
/// would refuse it): then [`DROP_CLAIMED`] ends this one, and the queued one does the work.
const RETRY_JOB: &str =
    "UPDATE jobs SET status = 'queued', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL
     WHERE id = $3 AND claims = $4 AND status = 'running'
       AND NOT EXISTS (SELECT 1 FROM jobs twin WHERE twin.dedup_key = jobs.dedup_key AND twin.status = 'queued')";
const DROP_CLAIMED: &str = FINISH_JOB;
const FAIL_JOB: &str = "UPDATE jobs SET status = 'failed', last_error = $1, locked_by = NULL, locked_until = NULL
     WHERE id = $2 AND claims = $3 AND status = 'running'";
const FAILED_JOBS: &str = "SELECT id, queue, payload, attempts, last_error, created_at FROM jobs
     WHERE status = 'failed' AND id > $1 ORDER BY id LIMIT $2";
const RETRY_FAILED_JOB: &str =
    "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, last_error = NULL WHERE id = $2 AND status = 'failed'
       AND NOT EXISTS (SELECT 1 FROM jobs twin WHERE twin.dedup_key = jobs.dedup_key AND twin.status = 'queued')";
const UNFINISHED_JOBS: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind <> 'delete_blob' AND status IN ('queued', 'running')";

#[async_trait]
impl<E: Engine> JobStore for Store<E> {
    async fn enqueue_jobs(&self, jobs: &[NewJob]) -> Result<Vec<JobId>> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.engine.begin().await?;
        let ids = E::insert_jobs(&mut tx, jobs, now_millis()).await?;
        E::commit(tx).await?;
        Ok(ids)
    }

    async fn claim_job(&self, queue: JobQueue, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        self.engine.claim_job(queue, worker, now, lease_until).await
    }

    async fn extend_job(&self, fence: JobFence, lease_until: Millis) -> Result<bool> {
        let stmt = Stmt::new(EXTEND_JOB).bind(lease_until).bind(fence.id.0).bind(i64::from(fence.claim));
        Ok(self.engine.write().await?.execute(stmt).await? == 1)
    }

    async fn finish_job(&self, fence: JobFence) -> Result<bool> {
        let stmt = Stmt::new(FINISH_JOB).bind(fence.id.0).bind(i64::from(fence.claim));
        Ok(self.engine.write().await?.execute(stmt).await? == 1)
    }

    async fn retry_job(&self, fence: JobFence, run_at: Millis, error: &str) -> Result<bool> {
        let mut conn = self.engine.write().await?;
        let stmt = Stmt::new(RETRY_JOB).bind(run_at).bind(error).bind(fence.id.0).bind(i64::from(fence.claim));
        if conn.execute(stmt).await? == 1 {
            return Ok(true);
        }
        let stmt = Stmt::new(DROP_CLAIMED).bind(fence.id.0).bind(i64::from(fence.claim));
        Ok(conn.execute(stmt).await? == 1)
    }

    async fn fail_job(&self, fence: JobFence, error: &str) -> Result<bool> {
        let stmt = Stmt::new(FAIL_JOB).bind(error).bind(fence.id.0).bind(i64::from(fence.claim));
        Ok(self.engine.write().await?.execute(stmt).await? == 1)
    }

    async fn failed_jobs(&self, after: Option<JobId>, limit: usize) -> Result<Vec<FailedJob>> {
        let stmt = Stmt::new(FAILED_JOBS).bind(after.map_or(0, |id| id.0)).bind(limit.min(10_000) as i64);
        let rows: Vec<FailedJobRow> = self.engine.read().await?.fetch_all(stmt).await?;
        rows.into_iter().map(FailedJob::try_from).collect()
    }

    async fn retry_failed_job(&self, id: JobId, now: Millis) -> Result<bool> {
        let stmt = Stmt::new(RETRY_FAILED_JOB).bind(now).bind(id.0);
        Ok(self.engine.write().await?.execute(stmt).await? == 1)
    }

    async fn release_abandoned_jobs(&self, node: &str) -> Result<u64> {
        self.engine.release_abandoned_jobs(node).await
    }

    async fn unfinished_jobs(&self) -> Result<u64> {
        let (n,): (i64,) = self.engine.read().await?.fetch_one(Stmt::new(UNFINISHED_JOBS)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
