//! Outages, for real: `assetlib serve` on a SeaweedFS or a PostgreSQL of the test's own, which
//! the test takes down without warning (SIGKILL; PostgreSQL's immediate shutdown) and starts
//! again. While a store is down, every request that needs it answers 503 with a message naming
//! it, within seconds (never a 500, never a hang), `/readyz` says which store is down, what does
//! not need it goes on working; once the store is back, the server is too, by itself, and every
//! upload it acknowledged is there byte for byte. SeaweedFS also hangs first (SIGSTOP: it takes
//! connections and answers nothing), which the S3 request timeout bounds.
//!
//! Uploads run one after another in the background the whole time, so that some are in flight
//! when the store goes away and when it comes back.
//!
//! Each test skips (says so) without SeaweedFS or PostgreSQL binaries, except in CI. The other
//! store is the embedded default, or with `ASSETLIB_TEST_BACKEND=postgres-s3` the shared test
//! PostgreSQL or S3 store.

mod common;

use common::{Backend, PrivatePostgres, PrivateSeaweed, ServerProcess};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a request may take while a store is down: S3 retries give up within 10 s, the
/// database pool's wait within 5 s.
const PROMPT: Duration = Duration::from_secs(15);
/// How long a request may take while the blob store hangs: one S3 request times out after 30 s
/// and is not retried past 10 s.
const HUNG_PROMPT: Duration = Duration::from_secs(40);
/// How long the server may take to be ready again once its store is back.
const RECOVERY: Duration = Duration::from_secs(30);

fn scale_out() -> bool {
    std::env::var("ASSETLIB_TEST_BACKEND").as_deref() == Ok("postgres-s3")
}

/// `len` bytes that differ for each `seed`, starting like a PDF.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut bytes = b"%PDF-1.7\n".to_vec();
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// A client that gives up on a request long after [`PROMPT`], so that a hang fails the test
/// instead of stalling it.
fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client")
}

struct Server {
    process: ServerProcess,
    key: String,
    client: reqwest::Client,
}

impl Server {
    fn start(backend: &Backend, data_dir: &std::path::Path, envs: &[(&str, &str)]) -> Self {
        let process = ServerProcess::start(backend, data_dir, envs);
        let key = process.initial_key();
        Self { process, key, client: client() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base)
    }

    async fn upload(&self, path: &str, name: &str, bytes: Vec<u8>) -> (u16, Value, Duration) {
        let started = Instant::now();
        let res = common::upload(&self.client, &self.process.base, &self.key, 1, Some(path), name, bytes).await;
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body, started.elapsed())
    }

    async fn get_json(&self, path: &str) -> (u16, Value, Duration) {
        let started = Instant::now();
        let res = self.client.get(self.url(path)).header("jvx_apikey", &self.key).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null), started.elapsed())
    }

    /// A public file: status, body, time taken.
    async fn get_file(&self, key: &str) -> (u16, Vec<u8>, Duration) {
        let started = Instant::now();
        let res = self.client.get(self.url(&format!("/files/1/{key}"))).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.bytes().await.expect("body").to_vec(), started.elapsed())
    }

    async fn readyz(&self) -> (u16, Value, Duration) {
        let started = Instant::now();
        let res = self.client.get(self.url("/readyz")).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null), started.elapsed())
    }

    /// Polls `/readyz` until it is 200; returns how long that took.
    async fn wait_ready(&self) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body, _) = self.readyz().await;
            if status == 200 {
                return started.elapsed();
            }
            assert!(started.elapsed() < RECOVERY, "not ready {RECOVERY:?} after the store came back: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The file names listed in folder `path`.
    async fn names(&self, path: &str) -> Vec<String> {
        let (status, body, _) = self.get_json(&format!("/v2/accounts/1/asset-library?prefix={path}&limit=1000")).await;
        assert_eq!(status, 200, "listing {path}: {body}");
        assert!(body["nextKey"].is_null(), "one page is enough here");
        body["files"].as_array().expect("files").iter().map(|f| f["name"].as_str().expect("name").to_owned()).collect()
    }

    /// Every file of `files` (name in folder `path`, content) is listed and served whole.
    /// After an outage: what was kept and what was acknowledged meanwhile is intact, nothing
    /// refused is listed, and a new upload works.
    async fn assert_recovered(&self, kept: &[(String, Vec<u8>)], acked: &[(String, Vec<u8>)], refused: &[String]) {
        self.assert_intact("kept", kept).await;
        self.assert_intact("bg", acked).await;
        let listed = self.names("bg").await;
        for name in refused {
            assert!(!listed.contains(name), "bg/{name} was refused, yet it is listed");
        }
        let (status, body, _) = self.upload("new", "new.pdf", content(99, 50_000)).await;
        assert_eq!(status, 200, "an upload after the outage: {body}");
        self.assert_intact("new", &[("new.pdf".to_owned(), content(99, 50_000))]).await;
        assert_eq!(self.names("new").await, ["new.pdf"], "what was refused is not there");
    }

    async fn assert_intact(&self, path: &str, files: &[(String, Vec<u8>)]) {
        let listed = self.names(path).await;
        for (name, bytes) in files {
            assert!(listed.contains(name), "{path}/{name} is not listed after the outage");
            let (status, body, _) = self.get_file(&format!("{path}/{name}")).await;
            assert_eq!(status, 200, "{path}/{name}");
            assert!(
                body == *bytes,
                "{path}/{name}: {} bytes served, {} acknowledged, or other bytes",
                body.len(),
                bytes.len()
            );
        }
    }

    /// Still running: an outage must not take the process down.
    fn assert_alive(&mut self) {
        assert!(self.process.child.try_wait().expect("try_wait").is_none(), "the server exited during the outage");
    }
}

/// What a request that needs the `what` store answers while it is down: within `within`.
fn assert_unavailable_within(within: Duration, what: &str, label: &str, (status, body, took): &(u16, Value, Duration)) {
    assert_eq!(*status, 503, "{label}: {body}");
    assert_eq!(body, &serde_json::json!({"msg": format!("The {what} is unavailable; try again shortly.")}), "{label}");
    assert!(*took < within, "{label} took {took:?}");
}

fn assert_unavailable(what: &str, label: &str, outcome: &(u16, Value, Duration)) {
    assert_unavailable_within(PROMPT, what, label, outcome);
}

/// The public file route answers a store outage in plain text, as it does its other errors.
fn assert_file_unavailable_within(within: Duration, label: &str, (status, body, took): &(u16, Vec<u8>, Duration)) {
    assert_eq!(*status, 503, "{label}: {}", String::from_utf8_lossy(body));
    assert_eq!(String::from_utf8_lossy(body), "Service unavailable\n", "{label}");
    assert!(*took < within, "{label} took {took:?}");
}

fn assert_file_unavailable(label: &str, outcome: &(u16, Vec<u8>, Duration)) {
    assert_file_unavailable_within(PROMPT, label, outcome);
}

/// `/readyz` while the store `what` (its field `field`) is down, the other one up.
fn assert_not_ready(field: &str, what: &str, (status, body, took): &(u16, Value, Duration)) {
    assert_eq!(*status, 503, "{body}");
    let mut expected = serde_json::json!({"status": "unavailable", "database": "ok", "blobStore": "ok"});
    expected[field] = format!("The {what} is unavailable; try again shortly.").into();
    assert_eq!(body, &expected);
    // Readiness waits at most 3 s for each store.
    assert!(*took < Duration::from_secs(5), "readyz took {took:?}");
}

struct Outcome {
    name: String,
    bytes: Vec<u8>,
    status: u16,
    body: Value,
    took: Duration,
}

/// Uploads small files into folder `bg`, one after another, until stopped.
struct Uploader {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Outcome>>,
}

impl Uploader {
    fn start(server: &Server) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, base, key, flag) =
            (server.client.clone(), server.process.base.clone(), server.key.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut outcomes = vec![];
            for i in 0u64.. {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("bg{i:04}.pdf");
                let bytes = content(1_000_000 + i, 20_000 + (i as usize % 7) * 1000);
                let started = Instant::now();
                let res = common::upload(&client, &base, &key, 1, Some("bg"), &name, bytes.clone()).await;
                let status = res.status().as_u16();
                let body = res.json().await.unwrap_or(Value::Null);
                outcomes.push(Outcome { name, bytes, status, body, took: started.elapsed() });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            outcomes
        });
        Self { stop, task }
    }

    /// Stops it; checks that every upload was acknowledged or refused with a 503 naming `what`
    /// within `within`; returns the acknowledged ones and the refused names.
    async fn finish(self, what: &str, within: Duration) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let outcomes = self.task.await.expect("uploader");
        let (mut acked, mut refused) = (vec![], vec![]);
        for o in outcomes {
            match o.status {
                200 => acked.push((o.name, o.bytes)),
                _ => {
                    let label = format!("background upload {}", o.name);
                    assert_unavailable_within(within, what, &label, &(o.status, o.body, o.took));
                    refused.push(o.name);
                }
            }
        }
        (acked, refused)
    }
}

/// Files of several sizes: one PUT, a streamed read (over 1 MiB), a multipart upload (over
/// 5 MiB).
fn kept_files() -> Vec<(String, Vec<u8>)> {
    [1_000, 300_000, 2_000_000, 6_000_000]
        .into_iter()
        .enumerate()
        .map(|(i, len)| (format!("kept{i}.pdf"), content(i as u64, len)))
        .collect()
}

#[tokio::test]
async fn seaweedfs_down_and_back() {
    let test = "outage: SeaweedFS down and back";
    let Some(weed) = PrivateSeaweed::start(test) else { return };
    let database_url = match scale_out() {
        true => Some(assetlib_db::testing::fresh_postgres_url().await.expect("postgres-s3 needs PostgreSQL")),
        false => None,
    };
    let backend =
        Backend { database_url: database_url.clone(), s3: Some(weed.fresh_bucket().await), database_guard: None };
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&backend, &dir.path().join("data"), &[]);

    let kept = kept_files();
    for (name, bytes) in &kept {
        let (status, body, _) = server.upload("kept", name, bytes.clone()).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    let uploader = Uploader::start(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // It hangs: each request to it waits for the S3 timeout; readiness says so at once.
    let outage = Instant::now();
    weed.pause();
    let (upload, big_upload, file, ready, listing) = tokio::join!(
        server.upload("new", "hung.pdf", content(98, 50_000)),
        server.upload("new", "hung-big.pdf", content(97, 6_000_000)),
        server.get_file("kept/kept2.pdf"),
        server.readyz(),
        server.get_json("/v2/accounts/1/asset-library?prefix=kept"),
    );
    assert_not_ready("blobStore", "blob store", &ready);
    assert_eq!(listing.0, 200, "{}", listing.1);
    assert_unavailable_within(HUNG_PROMPT, "blob store", "upload to a hung store", &upload);
    assert_unavailable_within(HUNG_PROMPT, "blob store", "multipart upload to a hung store", &big_upload);
    assert_file_unavailable_within(HUNG_PROMPT, "public file from a hung store", &file);
    eprintln!("{test}: hung store: upload 503 after {:?}, public GET 503 after {:?}", upload.2, file.2);

    // It dies: refused connections, a prompt 503.
    weed.kill();
    let down = Instant::now();
    let (upload, file, ready, listing, queue) = tokio::join!(
        server.upload("new", "new.pdf", content(99, 50_000)),
        server.get_file("kept/kept2.pdf"),
        server.readyz(),
        server.get_json("/v2/accounts/1/asset-library?prefix=kept"),
        server.get_json("/v2/queues/00000000000000000000000000000000/status"),
    );
    assert_unavailable("blob store", "upload", &upload);
    assert_file_unavailable("public file", &file);
    assert_not_ready("blobStore", "blob store", &ready);
    // What needs only the database goes on.
    assert_eq!(listing.0, 200, "{}", listing.1);
    assert_eq!(listing.1["files"].as_array().map(Vec::len), Some(kept.len()), "{}", listing.1);
    assert_eq!(queue.0, 404, "{}", queue.1);
    // A small file too (read in one piece rather than streamed).
    assert_file_unavailable("small public file", &server.get_file("kept/kept0.pdf").await);
    server.assert_alive();
    eprintln!("{test}: dead store: 503s checked in {:?}", down.elapsed());

    let restart = Instant::now();
    weed.restart();
    eprintln!("{test}: SeaweedFS down {:?}, restarted in {:?}", outage.elapsed(), restart.elapsed());
    let ready_in = server.wait_ready().await;
    eprintln!("{test}: the server was ready {ready_in:?} after SeaweedFS");
    // Uploads go on a little after the store came back.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (acked, refused) = uploader.finish("blob store", HUNG_PROMPT).await;
    eprintln!("{test}: background uploads: {} acknowledged, {} refused with 503", acked.len(), refused.len());
    assert!(!refused.is_empty(), "no background upload met the outage");

    server.assert_recovered(&kept, &acked, &refused).await;
    server.assert_alive();

    assert!(server.process.terminate().success(), "graceful stop");
    if let Some(url) = database_url {
        assetlib_db::testing::drop_database(&url).await;
    }
}

#[tokio::test]
async fn postgres_down_and_back() {
    let test = "outage: PostgreSQL down and back";
    let Some(pg) = PrivatePostgres::start(test) else { return };
    let s3 = match scale_out() {
        true => Some(assetlib_blobs::testing::fresh_s3(test).await.expect("postgres-s3 needs S3")),
        false => None,
    };
    let backend = Backend { database_url: Some(pg.url()), s3, database_guard: None };
    let dir = tempfile::tempdir().unwrap();
    // Public lookups straight from the database, so that the outage shows at once.
    let mut server = Server::start(&backend, &dir.path().join("data"), &[("ASSETLIB_LOOKUP_CACHE_MS", "0")]);

    let kept = kept_files();
    for (name, bytes) in &kept {
        let (status, body, _) = server.upload("kept", name, bytes.clone()).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    let uploader = Uploader::start(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let outage = Instant::now();
    pg.stop_immediate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (upload, file, ready, listing, delete) = tokio::join!(
        server.upload("new", "new.pdf", content(99, 50_000)),
        server.get_file("kept/kept2.pdf"),
        server.readyz(),
        server.get_json("/v2/accounts/1/asset-library?prefix=kept"),
        async {
            let started = Instant::now();
            let url = server.url("/v2/accounts/1/asset-library?command=deleteFile&path=kept&file=kept0.pdf");
            let res = server.client.delete(url).header("jvx_apikey", &server.key).send().await.expect("request");
            let status = res.status().as_u16();
            (status, res.json().await.unwrap_or(Value::Null), started.elapsed())
        },
    );
    assert_unavailable("database", "upload", &upload);
    assert_unavailable("database", "listing", &listing);
    assert_unavailable("database", "delete", &delete);
    assert_file_unavailable("public file", &file);
    assert_not_ready("database", "database", &ready);
    // A second round: the pool has no connection left to try, only a server that is gone.
    assert_unavailable("database", "listing again", &server.get_json("/v2/accounts/1/asset-library").await);
    server.assert_alive();
    eprintln!("{test}: 503s checked {:?} into the outage", outage.elapsed());

    let restart = Instant::now();
    pg.start_again();
    eprintln!("{test}: PostgreSQL down {:?}, restarted in {:?}", outage.elapsed(), restart.elapsed());
    let ready_in = server.wait_ready().await;
    eprintln!("{test}: the server was ready {ready_in:?} after PostgreSQL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (acked, refused) = uploader.finish("database", PROMPT).await;
    eprintln!("{test}: background uploads: {} acknowledged, {} refused with 503", acked.len(), refused.len());
    assert!(!refused.is_empty(), "no background upload met the outage");

    server.assert_recovered(&kept, &acked, &refused).await;
    server.assert_intact("kept", &kept).await;
    server.assert_alive();

    assert!(server.process.terminate().success(), "graceful stop");
}
