//! Upload queue entries ([`UploadQueueStore`]).

use super::{Store, cancel_job_in, put_queue_in};
use crate::engine::Engine;
use crate::rows::QueueRow;
use crate::sql::{Conn, Stmt};
use assetlib_core::model::{NewJob, QueueEntry};
use assetlib_core::ports::UploadQueueStore;
use assetlib_core::{JobId, QueueId, Result};
use async_trait::async_trait;

const GET_QUEUE: &str = "SELECT id, account_id, status, total_items, total_processed, message, errors, source_blob,
       created_at, updated_at FROM upload_queues WHERE id = $1";

#[async_trait]
impl<E: Engine> UploadQueueStore for Store<E> {
    async fn get_queue(&self, id: &QueueId) -> Result<Option<QueueEntry>> {
        let row: Option<QueueRow> =
            self.engine.read().await?.fetch_optional(Stmt::new(GET_QUEUE).bind(id.0.as_str())).await?;
        row.map(QueueEntry::try_from).transpose()
    }

    async fn put_queue(&self, entry: &QueueEntry, job: Option<&NewJob>, cancel_job: Option<JobId>) -> Result<()> {
        self.engine
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.engine.begin().await?;
                    put_queue_in(&mut *tx, entry).await?;
                    if let Some(job) = job {
                        E::insert_jobs(&mut tx, std::slice::from_ref(job), entry.updated_at).await?;
                    }
                    cancel_job_in(&mut *tx, cancel_job).await?;
                    E::commit(tx).await
                })
            })
            .await
    }
}
