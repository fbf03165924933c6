//! The job system as a server runs it: queues with their own workers (a burst of renditions
//! never holds up a zip expansion), and a job that panics is retried with backoff, then parked
//! as failed with its reason, without killing its worker; an operator can queue it again. On
//! PostgreSQL + S3 too where configured.

mod common;

use assetlib_core::Library;
use assetlib_core::library::jobs::JobWorkers;
use assetlib_core::library::uploads::Zips;
use assetlib_core::model::{JobKind, QueueStatus, Rendered, Role};
use assetlib_core::ports::{ByteStream, Renderer};
use assetlib_core::{AccountId, Result};
use bytes::Bytes;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A renderer for tests: `png` files panic; `gif` files wait until the gate opens; any other
/// renderable file renders to nothing.
#[derive(Default)]
struct TestRenderer {
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl TestRenderer {
    fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

impl Renderer for TestRenderer {
    fn renderable(&self, extension: &str) -> bool {
        matches!(extension, "png" | "gif" | "jpg")
    }

    fn render(&self, _file: &std::path::Path, extension: &str) -> Result<Rendered> {
        match extension {
            "png" => panic!("decoder blew up"),
            "gif" => {
                let mut open = self.gate.0.lock().unwrap();
                while !*open {
                    open = self.gate.1.wait(open).unwrap();
                }
                Ok(Rendered::default())
            }
            _ => Ok(Rendered::default()),
        }
    }
}

fn body(bytes: Vec<u8>) -> ByteStream {
    Box::pin(futures::stream::once(async move { Ok(Bytes::from(bytes)) }))
}

struct Setup {
    lib: Arc<Library>,
    who: assetlib_core::auth::Principal,
    shutdown: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
    _backend: common::Backend,
}

async fn setup(test: &str, renderer: Arc<TestRenderer>, workers: JobWorkers) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let backend = common::Backend::from_env(test).await;
    let mut config = common::test_config(dir.path());
    config.job_attempts = 3;
    config.job_backoff_ms = 20;
    backend.apply(&mut config);
    let lib = assetlib::open_library_with(&config, Some(renderer)).await.unwrap();
    lib.create_account(AccountId(1), "one", true).await.unwrap();
    let creds = lib.create_user("owner", false, AccountId(1), Role::Owner).await.unwrap();
    let who = lib.authenticate(&creds.api_key).await.unwrap();
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    lib.spawn_workers(workers, rx);
    Setup { lib, who, shutdown, _dir: dir, _backend: backend }
}

async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_is_retried_then_parked_and_its_worker_goes_on() {
    let renderer = Arc::new(TestRenderer::default());
    renderer.open();
    let workers = JobWorkers { ingest: 1, render: 1, cleanup: 1 };
    let s = setup("a_panicking_job_is_retried_then_parked", renderer, workers).await;
    s.lib.put_asset(&s.who, AccountId(1), "x.png", body(common::png()), None).await.unwrap();
    eventually("the job parked as failed", || async { !s.lib.failed_jobs(None, 10).await.unwrap().is_empty() }).await;
    let failed = s.lib.failed_jobs(None, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 3, "every attempt was made");
    assert_eq!(failed[0].error, "the renderer panicked: decoder blew up");
    assert!(matches!(failed[0].kind, JobKind::Render { .. }));
    assert_eq!(s.lib.unfinished_jobs().await.unwrap(), 0, "parked, not queued");

    // The same worker goes on with the next job.
    let ok = s.lib.put_asset(&s.who, AccountId(1), "y.jpg", body(vec![1, 2, 3]), None).await.unwrap();
    eventually("the next render job done", || async { s.lib.unfinished_jobs().await.unwrap() == 0 }).await;
    assert!(s.lib.renditions(&ok).await.unwrap().versions.is_empty());

    // An operator queues the failed job again: it runs (and fails) again, all its attempts.
    assert!(s.lib.retry_failed_job(assetlib_core::JobId(failed[0].id)).await.unwrap());
    assert!(!s.lib.retry_failed_job(assetlib_core::JobId(failed[0].id)).await.unwrap(), "queued already");
    eventually("the retried job parked again", || async {
        s.lib.failed_jobs(None, 10).await.unwrap().first().is_some_and(|j| j.attempts == 3)
            && s.lib.unfinished_jobs().await.unwrap() == 0
    })
    .await;
    s.shutdown.send(true).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_renditions_never_holds_up_a_zip_expansion() {
    let renderer = Arc::new(TestRenderer::default());
    let workers = JobWorkers { ingest: 1, render: 1, cleanup: 1 };
    let s = setup("a_burst_of_renditions_never_holds_up_a_zip_expansion", renderer.clone(), workers).await;
    // Ten render jobs; the render worker is stuck on the first until the gate opens.
    for i in 0..10 {
        s.lib.put_asset(&s.who, AccountId(1), &format!("burst/{i}.gif"), body(vec![i]), None).await.unwrap();
    }
    let zip = common::zip_of(&[("a.txt", b"a"), ("b.txt", b"b")]);
    let received = s.lib.receive(&s.who, AccountId(1), Some("z"), "z.zip", body(zip), Zips::Expand).await.unwrap();
    let queue = s.lib.commit_upload(received, "z").await.unwrap().queue;
    eventually("the zip expanded", || async {
        s.lib.queue(&s.who, &queue.id.0).await.unwrap().status == QueueStatus::Completed
    })
    .await;
    assert_eq!(s.lib.unfinished_jobs().await.unwrap(), 10, "the renditions are all still waiting");
    renderer.open();
    eventually("the renditions done", || async { s.lib.unfinished_jobs().await.unwrap() == 0 }).await;
    s.shutdown.send(true).unwrap();
}
