//! Group commit for jobs enqueued on the request path (an upload's cleanup guard): jobs that
//! arrive while a batch is being written wait for the next batch, and each batch is one
//! transaction, so under load many uploads share one round trip and one durable commit.
//! Alone, a job is written at once, as if enqueued directly.

use crate::error::{Error, Result};
use crate::ids::JobId;
use crate::model::NewJob;
use crate::ports::MetaStore;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// At most this many jobs go into one transaction.
const MAX_BATCH: usize = 256;

type Request = (NewJob, oneshot::Sender<Result<JobId>>);

pub struct JobBatcher {
    meta: Arc<dyn MetaStore>,
    /// The writer task's inbox, made on first use (a runtime is needed to start it).
    inbox: OnceLock<mpsc::UnboundedSender<Request>>,
}

impl JobBatcher {
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        Self { meta, inbox: OnceLock::new() }
    }

    /// Enqueues `job`, durably, and returns its id.
    pub async fn enqueue(&self, job: NewJob) -> Result<JobId> {
        let inbox = self.inbox.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(self.meta.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError((job, _))) = inbox.send((job, reply)) {
            // The writer is gone with the runtime that started it: write this one alone.
            return self.meta.enqueue_job(&job).await;
        }
        answer.await.map_err(|_| Error::unavailable("database", "the job writer stopped"))?
    }
}

/// Writes whatever is waiting, one batch at a time, until every sender is gone.
async fn write_batches(meta: Arc<dyn MetaStore>, mut inbox: mpsc::UnboundedReceiver<Request>) {
    let mut batch: Vec<Request> = Vec::new();
    while inbox.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (jobs, replies): (Vec<NewJob>, Vec<_>) = batch.drain(..).unzip();
        let written = meta.enqueue_jobs(&jobs).await.and_then(|ids| {
            if ids.len() == replies.len() {
                Ok(ids)
            } else {
                Err(Error::internal("a batch of jobs came back with a different number of ids"))
            }
        });
        match written {
            Ok(ids) => replies.into_iter().zip(ids).for_each(|(reply, id)| drop(reply.send(Ok(id)))),
            Err(e) => replies.into_iter().for_each(|reply| drop(reply.send(Err(e.clone())))),
        }
    }
}
