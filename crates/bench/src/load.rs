//! The load generators: uploads through the Jivox endpoint (reqwest, multipart) or as raw S3
//! PUTs (`object_store`, as assetlib writes to S3), and GETs (hyper, one keep-alive HTTP/1.1
//! connection per worker, the same code for every server). Every loop is bounded by a deadline
//! and by a request count.

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::HOST;
use hyper_util::rt::TokioIo;
use object_store::ObjectStoreExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// One file of the set: where it lives under `/files/1/` and its bytes.
#[derive(Clone)]
pub struct BenchFile {
    /// Folder, e.g. `bench`.
    pub folder: String,
    /// File name, e.g. `f00042.jpg`.
    pub name: String,
    pub body: Bytes,
    /// What a GET of the whole file asks for (path and query): the public URL path by
    /// default, a presigned S3 URL's for the raw S3 baseline.
    pub get_target: String,
}

impl BenchFile {
    pub fn new(folder: &str, name: String, body: Bytes) -> Self {
        let get_target = format!("/files/1/{folder}/{name}");
        Self { folder: folder.to_owned(), name, body, get_target }
    }

    /// The public URL path, the same on assetlib and nginx: `/files/1/bench/f00042.jpg`.
    pub fn url_path(&self) -> String {
        format!("/files/1/{}/{}", self.folder, self.name)
    }
}

/// What one measured phase did.
pub struct Stats {
    pub requests: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    /// Latencies in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    pub verified: u64,
    pub reconnects: u64,
    /// Requests completed in all, warm-up included (what the CPU figures are divided by).
    pub completed_all: u64,
    /// CPU used by the server and by this program over the whole phase.
    pub cpu: Option<crate::procs::CpuUse>,
}

impl Stats {
    pub fn new(mut latencies_us: Vec<u64>, elapsed: Duration, bytes: u64) -> Self {
        latencies_us.sort_unstable();
        Self {
            requests: latencies_us.len() as u64,
            bytes,
            elapsed,
            latencies_us,
            verified: 0,
            reconnects: 0,
            completed_all: 0,
            cpu: None,
        }
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[idx] as f64 / 1000.0
    }
}

/// An HTTP client for uploads: no proxy (everything is on loopback), bounded per request.
pub fn upload_client(pool: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().no_proxy().pool_max_idle_per_host(pool).timeout(Duration::from_secs(120)).build()?)
}

/// One upload through `POST /v2/accounts/1/asset-library`; `Ok` only for a 200 with a queueId.
pub async fn upload_one(
    client: &reqwest::Client,
    addr: SocketAddr,
    api_key: &str,
    folder: &str,
    name: &str,
    body: Bytes,
) -> anyhow::Result<()> {
    let len = body.len() as u64;
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(body), len)
        .file_name(name.to_owned())
        .mime_str("image/jpeg")?;
    let form = reqwest::multipart::Form::new().text("path", folder.to_owned()).part("file", part);
    let resp = client
        .post(format!("http://{addr}/v2/accounts/1/asset-library"))
        .header("jvx_apikey", api_key)
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("uploading {folder}/{name}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != reqwest::StatusCode::OK {
        bail!("upload of {folder}/{name}: {status} {text}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("upload of {folder}/{name}: not JSON: {text}"))?;
    if !json["queueId"].is_string() {
        bail!("upload of {folder}/{name}: no queueId in {text}");
    }
    Ok(())
}

/// One raw S3 `PUT` of `body` to a presigned URL; `Ok` only for a 200.
pub async fn put_one(client: &reqwest::Client, url: &reqwest::Url, body: Bytes) -> anyhow::Result<()> {
    let resp = client
        .put(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "image/jpeg")
        .body(body)
        .send()
        .await
        .with_context(|| format!("PUT {}", url.path()))?;
    let status = resp.status();
    let text = resp.text().await?;
    if status != reqwest::StatusCode::OK {
        bail!("PUT {}: {status} {text}", url.path());
    }
    Ok(())
}

/// Where uploads go.
pub enum UploadTarget {
    /// `POST /v2/accounts/1/asset-library` of assetlib at `addr`, with this API key.
    Jivox { addr: SocketAddr, api_key: String },
    /// A raw S3 `PUT` of each file's bytes through `object_store` (`keys[i]` for `files[i]`),
    /// the library and signing (payload SHA-256 included) assetlib's own S3 writes use.
    S3Put { store: Arc<dyn object_store::ObjectStore>, keys: Vec<object_store::path::Path> },
}

/// Uploads every file once with `concurrency` workers; fails on the first failed upload or
/// when `deadline` passes before all are done.
pub async fn upload_all(
    target: UploadTarget,
    files: Arc<Vec<BenchFile>>,
    concurrency: usize,
    deadline: Duration,
) -> anyhow::Result<Stats> {
    if let UploadTarget::S3Put { keys, .. } = &target {
        anyhow::ensure!(keys.len() == files.len(), "{} keys for {} files", keys.len(), files.len());
    }
    let target = Arc::new(target);
    let client = upload_client(concurrency)?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let stop_at = start + deadline;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, next, files, target) = (client.clone(), next.clone(), files.clone(), target.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                if Instant::now() >= stop_at {
                    bail!("uploads not finished within {deadline:?}");
                }
                let t = Instant::now();
                match &*target {
                    UploadTarget::Jivox { addr, api_key } => {
                        upload_one(&client, *addr, api_key, &file.folder, &file.name, file.body.clone()).await?
                    }
                    UploadTarget::S3Put { store, keys } => {
                        store
                            .put(&keys[i], object_store::PutPayload::from(file.body.clone()))
                            .await
                            .with_context(|| format!("PUT {}", keys[i]))?;
                    }
                }
                latencies.push(t.elapsed().as_micros() as u64);
                bytes += file.body.len() as u64;
            }
            anyhow::Ok((latencies, bytes))
        });
    }
    let mut latencies = Vec::with_capacity(files.len());
    let mut bytes = 0;
    while let Some(joined) = tasks.join_next().await {
        let (l, b) = joined??;
        latencies.extend(l);
        bytes += b;
    }
    let elapsed = start.elapsed();
    anyhow::ensure!(latencies.len() == files.len(), "{} of {} uploads done", latencies.len(), files.len());
    let mut stats = Stats::new(latencies, elapsed, bytes);
    stats.completed_all = stats.requests;
    Ok(stats)
}

/// What each GET asks for. `Full` is the benchmark; the others take parts of the work away,
/// to show where a server's time goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The whole file: 200 and every byte.
    Full,
    /// `Range: bytes=0-0`: 206 and one byte; the lookup and the open without the body.
    FirstByte,
    /// A name that does not exist in the folder: 404; the lookup alone.
    Missing,
    /// `/healthz` (nginx: a 2-byte static file): the HTTP stack alone.
    Health,
}

impl Probe {
    pub fn describe(self) -> &'static str {
        match self {
            Probe::Full => "whole file (200, 100 KiB)",
            Probe::FirstByte => "`Range: bytes=0-0` (206, 1 byte)",
            Probe::Missing => "missing file (404)",
            Probe::Health => "`/healthz` (nginx: 2-byte file)",
        }
    }
}

/// How a GET load runs.
#[derive(Clone, Copy)]
pub struct GetPlan {
    pub probe: Probe,
    pub concurrency: usize,
    /// Requests before this are not counted (connections warm up, caches fill).
    pub warmup: Duration,
    /// The measured window after the warm-up.
    pub duration: Duration,
    /// At most this many requests in all, warm-up included.
    pub max_requests: u64,
    /// Every n-th response of a worker has its body compared byte for byte; every response
    /// has its status and length checked.
    pub verify_every: u64,
}

pub type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

pub async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Fails the run (rather than counting an error) for a wrong status or body: the server is
/// broken and the figures would mean nothing. Returns the body length.
async fn get_one(sender: &mut Sender, host: &str, file: &BenchFile, probe: Probe, verify: bool) -> anyhow::Result<u64> {
    let (path, expect_status, expect_body): (String, u16, Option<&[u8]>) = match probe {
        Probe::Full => (file.get_target.clone(), 200, Some(&file.body[..])),
        Probe::FirstByte => (file.get_target.clone(), 206, Some(&file.body[..1])),
        Probe::Missing => (format!("/files/1/{}/missing-{}", file.folder, file.name), 404, None),
        Probe::Health => ("/healthz".to_owned(), 200, Some(b"ok")),
    };
    let mut req = Request::get(&path).header(HOST, host);
    if probe == Probe::FirstByte {
        req = req.header(hyper::header::RANGE, "bytes=0-0");
    }
    let resp = sender.send_request(req.body(Empty::<Bytes>::new())?).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut got = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            if let Some(expected) = expect_body.filter(|_| verify) {
                let end = got + data.len();
                if end > expected.len() || expected[got..end] != data[..] {
                    bail!("GET {path}: body differs from the uploaded file at byte {got}");
                }
            }
            got += data.len();
        }
    }
    if status.as_u16() != expect_status {
        bail!("GET {path}: status {status}, expected {expect_status}");
    }
    if let Some(expected) = expect_body
        && got != expected.len()
    {
        bail!("GET {path}: {got} bytes, expected {}", expected.len());
    }
    Ok(got as u64)
}

/// Whether an error is the connection going away (then the worker reconnects) rather than a
/// wrong answer.
fn is_connection_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<hyper::Error>().is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
        || e.downcast_ref::<std::io::Error>().is_some()
}

/// GETs the files from `addr` with `plan.concurrency` workers, each on its own keep-alive
/// connection, walking the file set from its own offset.
pub async fn get_load(addr: SocketAddr, files: Arc<Vec<BenchFile>>, plan: GetPlan) -> anyhow::Result<Stats> {
    anyhow::ensure!(!files.is_empty(), "no files to GET");
    let host = addr.to_string();
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..plan.concurrency {
        let (files, issued, host) = (files.clone(), issued.clone(), host.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let (mut bytes, mut verified, mut reconnects, mut n, mut ok) = (0u64, 0u64, 0u64, 0u64, 0u64);
            let mut idx = w * files.len() / plan.concurrency;
            let mut sender = connect(addr).await?;
            loop {
                let t = Instant::now();
                if t >= end || issued.fetch_add(1, Ordering::Relaxed) >= plan.max_requests {
                    break;
                }
                let file = &files[idx % files.len()];
                idx += 1;
                n += 1;
                let verify = n % plan.verify_every == 1 || plan.verify_every == 1;
                if sender.ready().await.is_err() {
                    sender = reconnect(addr, &mut reconnects).await?;
                }
                match get_one(&mut sender, &host, file, plan.probe, verify).await {
                    Ok(len) => {
                        let done = Instant::now();
                        if t >= measure_from && done <= end {
                            latencies.push((done - t).as_micros() as u64);
                            bytes += len;
                        }
                        verified += u64::from(verify);
                        ok += 1;
                    }
                    Err(e) if is_connection_error(&e) => {
                        sender = reconnect(addr, &mut reconnects).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            anyhow::Ok((latencies, bytes, verified, reconnects, ok))
        });
    }
    let (mut latencies, mut bytes, mut verified, mut reconnects, mut completed_all) = (Vec::new(), 0, 0, 0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (l, b, v, r, ok) = joined??;
        latencies.extend(l);
        bytes += b;
        verified += v;
        reconnects += r;
        completed_all += ok;
    }
    let measured_end = Instant::now().min(end);
    let elapsed = measured_end.saturating_duration_since(measure_from);
    anyhow::ensure!(!elapsed.is_zero() && !latencies.is_empty(), "no request fell in the measured window");
    let mut stats = Stats::new(latencies, elapsed, bytes);
    stats.verified = verified;
    stats.reconnects = reconnects;
    stats.completed_all = completed_all;
    Ok(stats)
}

/// A new connection after the server closed one; too many means something is wrong.
async fn reconnect(addr: SocketAddr, reconnects: &mut u64) -> anyhow::Result<Sender> {
    *reconnects += 1;
    if *reconnects > 1000 {
        bail!("more than 1000 reconnections to {addr}");
    }
    connect(addr).await
}
