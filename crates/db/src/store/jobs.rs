//! The durable job queue ([`JobStore`]). Claiming and releasing differ by engine; the rest is
//! one statement each.

use super::Store;
use crate::engine::Engine;
use crate::sql::{Conn, Stmt};
use assetlib_core::model::{Job, Millis, NewJob, now_millis};
use assetlib_core::ports::JobStore;
use assetlib_core::{JobId, Result};
use async_trait::async_trait;

const EXTEND_JOB: &str = "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'running'";
const FINISH_JOB: &str = "DELETE FROM jobs WHERE id = $1";
const RETRY_JOB: &str =
    "UPDATE jobs SET status = 'queued', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL
     WHERE id = $3";
const FAIL_JOB: &str =
    "UPDATE jobs SET status = 'failed', last_error = $1, locked_by = NULL, locked_until = NULL WHERE id = $2";
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

    async fn claim_job(&self, worker: &str, now: Millis, lease_until: Millis) -> Result<Option<Job>> {
        self.engine.claim_job(worker, now, lease_until).await
    }

    async fn extend_job(&self, id: JobId, worker: &str, lease_until: Millis) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(EXTEND_JOB).bind(lease_until).bind(id.0).bind(worker)).await?;
        Ok(())
    }

    async fn finish_job(&self, id: JobId) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(FINISH_JOB).bind(id.0)).await?;
        Ok(())
    }

    async fn retry_job(&self, id: JobId, run_at: Millis, error: &str) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(RETRY_JOB).bind(run_at).bind(error).bind(id.0)).await?;
        Ok(())
    }

    async fn fail_job(&self, id: JobId, error: &str) -> Result<()> {
        self.engine.write().await?.execute(Stmt::new(FAIL_JOB).bind(error).bind(id.0)).await?;
        Ok(())
    }

    async fn release_abandoned_jobs(&self, node: &str) -> Result<u64> {
        self.engine.release_abandoned_jobs(node).await
    }

    async fn unfinished_jobs(&self) -> Result<u64> {
        let (n,): (i64,) = self.engine.read().await?.fetch_one(Stmt::new(UNFINISHED_JOBS)).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
