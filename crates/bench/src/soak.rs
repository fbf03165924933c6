//! `assetlib-bench soak`: a bounded soak of the embedded default under crashes. N clients (tokio
//! tasks sharing one keep-alive reqwest client) loop for a fixed time over a weighted mix of
//! Jivox and Clinch writes, zips, listings, public GETs, copies and deletes against one
//! `assetlib serve` on a fresh data dir; at given moments the server is killed with SIGKILL
//! and started again at once on the same data dir and port. Then it is restarted once more
//! and every key is read back through its public URL.
//!
//! Each client owns its keys (`soak/cNNN/kK.jpg` and its zips' folders) and runs one request
//! at a time, so it knows what each key may hold: one version once a write was answered 200,
//! more while the outcome of a write is unknown (the connection broke at a kill, or the server
//! answered 5xx). Contents are random bytes from a seed, so a version is a seed and a length
//! and any body can be compared byte for byte. A body that is none of the key's possible
//! versions (truncated, mixed, or an older one) is corrupt; a 404 where every possible
//! version is present is a lost upload; a deleted key that answers is a resurrected one.
//!
//! Every request is bounded by a timeout, the run by its duration and a request count, and
//! the server is stopped at the end or on error (its guard).

use crate::procs::{self, Assetlib};
use crate::report::Machine;
use crate::soak_report::{self, KillRow, KindRow, SoakResults, Verified};
use anyhow::{Context, bail};
use base64::Engine as _;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a client asks the queue of a zip it uploaded for its status.
const ZIP_POLL: Duration = Duration::from_millis(500);

/// The default mix: weights of the operations a client picks from.
const DEFAULT_MIX: &str = "jivox-upload=18,jivox-zip=4,clinch-put=10,clinch-put-json=10,jivox-list=8,\
                           public-get=30,clinch-copy=8,clinch-delete=6,jivox-delete=6";

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// Concurrent clients, each one request at a time.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 60.0)]
    secs: f64,
    /// Seconds into the run at which the server is killed with SIGKILL (and started again at
    /// once on the same data dir and port), comma-separated; `none` for a run without kills.
    #[arg(long, default_value = "20,40")]
    kill_at: String,
    /// Seconds after the restarted server first answers `/healthz` that still belong to the
    /// kill window.
    #[arg(long, default_value_t = 2.0)]
    kill_grace: f64,
    /// Seconds every request may take, all told.
    #[arg(long, default_value_t = 30.0)]
    request_timeout: f64,
    /// Keys each client writes, copies, deletes and reads (besides its zips' entries).
    #[arg(long, default_value_t = 8)]
    keys_per_client: usize,
    /// Largest size of an ordinary upload in bytes; sizes are uniform from 16 bytes up.
    #[arg(long, default_value_t = 64 * 1024)]
    max_file_size: usize,
    /// One upload in this many is large: uniform between --max-file-size and --large-size.
    #[arg(long, default_value_t = 25)]
    large_every: u32,
    #[arg(long, default_value_t = 1 << 20)]
    large_size: usize,
    /// Weights of the operations, `name=weight,...`: jivox-upload, jivox-zip, clinch-put,
    /// clinch-put-json, jivox-list, public-get, clinch-copy, clinch-delete, jivox-delete.
    #[arg(long, default_value = DEFAULT_MIX)]
    mix: String,
    /// Upper bound on requests in all (a safety net; the duration ends a normal run).
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Seconds the final check goes on waiting for acknowledged zips to be expanded while
    /// none completes (a backlog of them may outlast the run by minutes); it waits 15 minutes
    /// at most in all.
    #[arg(long, default_value_t = 60.0)]
    zip_wait: f64,
    /// Directory for the temporary data (default: the system's temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep the data dir and the server's log at the end (their path is printed).
    #[arg(long)]
    keep: bool,
    /// Rewrite the soak section of this Markdown file (e.g. BENCHMARKS.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The command to record in the Markdown (default: this program's command line).
    #[arg(long)]
    command: Option<String>,
    /// What was measured, e.g. a commit, recorded in the Markdown.
    #[arg(long)]
    label: Option<String>,
    /// Seed of the contents and of each client's choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// What a request did, for the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    JivoxUpload,
    JivoxZip,
    QueueStatus,
    ClinchPut,
    ClinchPutJson,
    JivoxList,
    PublicGet,
    ClinchCopy,
    ClinchDelete,
    JivoxDelete,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::JivoxUpload,
        Kind::JivoxZip,
        Kind::QueueStatus,
        Kind::ClinchPut,
        Kind::ClinchPutJson,
        Kind::JivoxList,
        Kind::PublicGet,
        Kind::ClinchCopy,
        Kind::ClinchDelete,
        Kind::JivoxDelete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::JivoxUpload => "jivox-upload",
            Kind::JivoxZip => "jivox-zip",
            Kind::QueueStatus => "queue-status",
            Kind::ClinchPut => "clinch-put",
            Kind::ClinchPutJson => "clinch-put-json",
            Kind::JivoxList => "jivox-list",
            Kind::PublicGet => "public-get",
            Kind::ClinchCopy => "clinch-copy",
            Kind::ClinchDelete => "clinch-delete",
            Kind::JivoxDelete => "jivox-delete",
        }
    }

    /// The request as the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::JivoxUpload => "Jivox upload, one file (multipart POST)",
            Kind::JivoxZip => "Jivox upload, zip of 2–4 files",
            Kind::QueueStatus => "Jivox upload detailed status (zip queue polls)",
            Kind::ClinchPut => "Clinch PutAsset (multipart PUT)",
            Kind::ClinchPutJson => "Clinch PutAssetJSON (base64 content)",
            Kind::JivoxList => "Jivox Get Assets (the client's folder)",
            Kind::PublicGet => "public GET `/files/1/...`, body compared",
            Kind::ClinchCopy => "Clinch CopyAsset (overwrite)",
            Kind::ClinchDelete => "Clinch DeleteAsset",
            Kind::JivoxDelete => "Jivox deleteFile",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name && *k != Kind::QueueStatus)
    }
}

/// `name=weight,...` as (kind, weight) pairs, every weight positive.
pub fn parse_mix(mix: &str) -> anyhow::Result<Vec<(Kind, u32)>> {
    let mut out: Vec<(Kind, u32)> = Vec::new();
    for item in mix.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, weight) = item.split_once('=').with_context(|| format!("--mix: '{item}' is not name=weight"))?;
        let kind = Kind::parse(name.trim()).with_context(|| format!("--mix: unknown operation '{name}'"))?;
        let weight: u32 = weight.trim().parse().with_context(|| format!("--mix: bad weight in '{item}'"))?;
        anyhow::ensure!(!out.iter().any(|(k, _)| *k == kind), "--mix: '{name}' given twice");
        if weight > 0 {
            out.push((kind, weight));
        }
    }
    anyhow::ensure!(!out.is_empty(), "--mix: no operation has a positive weight");
    Ok(out)
}

/// A file's bytes, named by their seed and length: random bytes that start like a JPEG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Content {
    seed: u64,
    len: usize,
}

impl Content {
    fn bytes(&self) -> Bytes {
        crate::random_body(&mut StdRng::seed_from_u64(self.seed), self.len)
    }
}

/// A version a key may hold: `None` is absent.
type Version = Option<Content>;

/// What one key may hold.
#[derive(Clone, Debug)]
struct KeyModel {
    /// The versions the key may hold now: one once a write was answered, more after writes
    /// whose outcome is unknown but settled (the server died or answered meanwhile).
    may: Vec<Version>,
    /// Versions of writes that broke on a live server (a timeout): the server may still be
    /// working on them, so they may land later, even after a newer answered write.
    late: Vec<Version>,
}

impl KeyModel {
    fn absent() -> Self {
        Self { may: vec![None], late: vec![] }
    }

    fn holding(c: Content) -> Self {
        Self { may: vec![Some(c)], late: vec![] }
    }

    fn possible(&self) -> impl Iterator<Item = &Version> {
        self.may.iter().chain(self.late.iter())
    }

    fn may_be_absent(&self) -> bool {
        self.possible().any(Option::is_none)
    }

    /// The contents the key may hold.
    fn contents(&self) -> Vec<Content> {
        let mut out: Vec<Content> = Vec::new();
        for c in self.possible().flatten() {
            if !out.contains(c) {
                out.push(*c);
            }
        }
        out
    }

    /// An answered write (or delete): the key holds `v` now.
    fn set(&mut self, v: Version) {
        self.may = vec![v];
    }

    /// A write of unknown outcome: the key may hold `v` as well.
    fn add(&mut self, v: Version, late: bool) {
        let list = if late { &mut self.late } else { &mut self.may };
        if !list.contains(&v) {
            list.push(v);
        }
    }

    /// A read saw `v` (one of the possible versions): with no write of this client still
    /// pending anywhere, that is what the key holds.
    ///
    /// Returns, when the key was uncertain, whether the writes of unknown outcome took
    /// effect (the key holds other than the version it held before them).
    fn observed(&mut self, v: Version) -> Option<bool> {
        if !self.late.is_empty() {
            return None;
        }
        let landed = (self.may.len() > 1).then(|| v != self.may[0]);
        self.may = vec![v];
        landed
    }

    /// Uncertain only through settled writes: a read tells which version it holds.
    fn needs_read(&self) -> bool {
        self.late.is_empty() && self.may.len() > 1
    }

    fn uncertain(&self) -> bool {
        self.may.len() + self.late.len() > 1
    }
}

/// What a read found, judged against what the key may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// One of the possible versions.
    Match(Version),
    /// 404, but every possible version is present.
    Lost,
    /// 200 with bytes that are none of the possible contents.
    Corrupt,
    /// 200 where the key can only be absent.
    Resurrected,
}

fn check(model: &KeyModel, status: u16, body: &[u8]) -> Check {
    match status {
        404 if model.may_be_absent() => Check::Match(None),
        404 => Check::Lost,
        _ => {
            let contents = model.contents();
            if contents.is_empty() {
                return Check::Resurrected;
            }
            match contents.into_iter().find(|c| c.len == body.len() && c.bytes()[..] == *body) {
                Some(c) => Check::Match(Some(c)),
                None => Check::Corrupt,
            }
        }
    }
}

/// What became of a zip upload.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ZipState {
    /// Answered 200 with a queue; `status` once the queue reached a final status.
    Acked { queue: String, status: Option<String>, message: String },
    /// Never answered (the connection broke, or a 5xx): it may have been taken whole, or not.
    Unknown,
    /// Refused with a 4xx: nothing was taken.
    Refused,
}

#[derive(Clone, Debug)]
struct ZipModel {
    /// `soak/cNNN/zNNNN`
    folder: String,
    entries: Vec<(String, Content)>,
    state: ZipState,
    /// When the upload was answered, and when its queue is to be asked next.
    acked_at: Instant,
    next_poll: Instant,
    /// From the answer to the first poll that saw the final status.
    settled_after: Option<Duration>,
}

impl ZipModel {
    fn completed(&self) -> bool {
        matches!(&self.state, ZipState::Acked { status: Some(s), .. } if s == "Completed")
    }
}

/// How a request failed before a whole answer came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// No connection: nothing was sent.
    Connect,
    Timeout,
    /// The connection broke (reset, closed) once the request was on its way.
    Broken,
}

/// A request's outcome, for the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered as it may be (2xx, or a 4xx the client's model allows).
    Ok,
    /// A 4xx the model does not allow.
    ClientError(u16),
    ServerError(u16),
    Transport(Transport),
}

/// One request: when it ran (since the start of the run) and how it ended.
#[derive(Clone, Debug)]
pub struct Record {
    pub kind: Kind,
    pub start: Duration,
    pub end: Duration,
    pub outcome: Outcome,
    /// For failures: what was asked and what came back.
    pub detail: Option<Box<str>>,
}

/// A finding about the data (not about one request's HTTP outcome).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Finding {
    Lost,
    Corrupt,
    Resurrected,
    /// A zip taken without an answer shows some of its entries but not all, or an entry
    /// outside its archive shows in its folder.
    HalfVisible,
    /// A listing shows a file or folder this client never wrote.
    Unexpected,
    /// An acknowledged zip whose queue ended other than Completed (or vanished).
    ZipNotCompleted,
}

impl Finding {
    pub fn name(self) -> &'static str {
        match self {
            Finding::Lost => "lost",
            Finding::Corrupt => "corrupt",
            Finding::Resurrected => "deleted but back",
            Finding::HalfVisible => "half-visible",
            Finding::Unexpected => "unexpected file",
            Finding::ZipNotCompleted => "zip not completed",
        }
    }
}

/// A finding with its place: during the run or in the final check.
#[derive(Clone, Debug)]
pub struct Anomaly {
    pub finding: Finding,
    /// The key (or zip folder) it is about: the figures count each subject once.
    pub subject: String,
    pub at: Option<Duration>,
    pub detail: String,
}

/// One kill and restart, as the clock saw it.
#[derive(Clone, Copy, Debug)]
struct KillEvent {
    /// Just before SIGKILL.
    begin: Instant,
    /// The process was reaped.
    dead: Option<Instant>,
    /// The restarted server printed its listening line.
    listening: Option<Instant>,
    /// The restarted server answered `/healthz`.
    healthy: Option<Instant>,
}

/// What the clients share.
struct Shared {
    http: reqwest::Client,
    base: String,
    api_key: String,
    t0: Instant,
    deadline: Instant,
    kills: Mutex<Vec<KillEvent>>,
    /// When a zip's queue was last seen final: the final check waits while zips complete.
    last_zip_final: Mutex<Instant>,
    issued: AtomicU64,
    max_requests: u64,
    stop: AtomicBool,
    mix: Vec<(Kind, u32)>,
    keys_per_client: usize,
    max_file_size: usize,
    large_every: u32,
    large_size: usize,
    seed: u64,
}

impl Shared {
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Whether a request that ran from `start` to `end` was on its way when the server was
    /// killed: then whatever it did is settled (the process is gone), not pending.
    fn in_flight_at_kill(&self, start: Instant, end: Instant) -> bool {
        let kills = self.kills.lock().unwrap_or_else(|e| e.into_inner());
        kills.iter().any(|k| k.begin <= end && k.dead.is_none_or(|d| d >= start))
    }

    fn since(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.t0)
    }
}

/// splitmix64: well-spread seeds from counters.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A whole answer, or how the request failed.
struct Reply {
    status: Option<u16>,
    body: Bytes,
    failure: Option<Transport>,
}

impl Reply {
    /// The status if the whole answer came back.
    fn complete(&self) -> Option<u16> {
        self.status.filter(|_| self.failure.is_none())
    }

    fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        s.replace('\n', " ")
    }

    /// The outcome for the figures; `allowed_4xx` when the model allows this 4xx.
    fn outcome(&self, allowed_4xx: bool) -> Outcome {
        match (self.status, self.failure) {
            (Some(s), _) if s >= 500 => Outcome::ServerError(s),
            (Some(s), None) if s >= 400 && !allowed_4xx => Outcome::ClientError(s),
            (_, Some(f)) => Outcome::Transport(f),
            _ => Outcome::Ok,
        }
    }

    fn describe(&self) -> String {
        match (self.status, self.failure) {
            (None, Some(f)) => format!("{f:?}"),
            (Some(s), Some(f)) => format!("{s}, then {f:?} while reading the body"),
            (Some(s), None) => format!("{s} {}", self.text()),
            (None, None) => "no answer".to_owned(),
        }
    }
}

fn transport_of(e: &reqwest::Error) -> Transport {
    if e.is_connect() {
        Transport::Connect
    } else if e.is_timeout() {
        Transport::Timeout
    } else {
        Transport::Broken
    }
}

async fn send(rb: reqwest::RequestBuilder) -> Reply {
    match rb.send().await {
        Err(e) => Reply { status: None, body: Bytes::new(), failure: Some(transport_of(&e)) },
        Ok(resp) => {
            let status = Some(resp.status().as_u16());
            match resp.bytes().await {
                Ok(body) => Reply { status, body, failure: None },
                Err(e) => Reply { status, body: Bytes::new(), failure: Some(transport_of(&e)) },
            }
        }
    }
}

/// One client: its keys, its zips, what it saw.
struct Client {
    id: usize,
    prefix: String,
    rng: StdRng,
    counter: u64,
    keys: Vec<KeyModel>,
    zips: Vec<ZipModel>,
    records: Vec<Record>,
    anomalies: Vec<Anomaly>,
    /// Public GETs during the run whose body was compared, and their bytes.
    gets_verified: u64,
    bytes_verified: u64,
    /// Writes whose outcome stayed unknown (in flight at a kill, a 5xx, a timeout).
    unknown_writes: u64,
    /// Keys uncertain through such writes that a later read settled: the writes had taken
    /// effect, or the key still held what it held before them.
    unknown_landed: u64,
    unknown_not_landed: u64,
}

/// A failed operation that should wait a little before the next (the server is down).
struct Backoff(bool);

impl Client {
    fn new(id: usize, shared: &Shared) -> Self {
        Self {
            id,
            prefix: format!("soak/c{id:03}"),
            rng: StdRng::seed_from_u64(mix64(shared.seed ^ mix64(id as u64 + 1))),
            counter: 0,
            keys: vec![KeyModel::absent(); shared.keys_per_client],
            zips: Vec::new(),
            records: Vec::new(),
            anomalies: Vec::new(),
            gets_verified: 0,
            bytes_verified: 0,
            unknown_writes: 0,
            unknown_landed: 0,
            unknown_not_landed: 0,
        }
    }

    fn key_name(&self, k: usize) -> String {
        format!("k{k}.jpg")
    }

    fn key(&self, k: usize) -> String {
        format!("{}/{}", self.prefix, self.key_name(k))
    }

    fn new_content(&mut self, shared: &Shared, min: usize, max: usize) -> Content {
        self.counter += 1;
        let seed = mix64(shared.seed ^ mix64(((self.id as u64) << 32) | self.counter));
        Content { seed, len: self.rng.random_range(min..=max.max(min)) }
    }

    fn upload_content(&mut self, shared: &Shared) -> Content {
        if shared.large_every > 0 && self.rng.random_ratio(1, shared.large_every) {
            self.new_content(shared, shared.max_file_size, shared.large_size)
        } else {
            self.new_content(shared, 16, shared.max_file_size)
        }
    }

    fn pick_kind(&mut self, mix: &[(Kind, u32)]) -> Kind {
        let total: u32 = mix.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.random_range(0..total);
        for (kind, w) in mix {
            if x < *w {
                return *kind;
            }
            x -= w;
        }
        mix[0].0
    }

    /// A key that may hold content, if any.
    fn pick_present(&mut self) -> Option<usize> {
        let present: Vec<usize> = (0..self.keys.len()).filter(|&k| !self.keys[k].contents().is_empty()).collect();
        if present.is_empty() { None } else { Some(present[self.rng.random_range(0..present.len())]) }
    }

    fn anomaly(&mut self, finding: Finding, subject: String, at: Duration, detail: String) {
        self.anomalies.push(Anomaly { finding, subject, at: Some(at), detail });
    }

    /// Sends `rb`, timed, counting it against the run's request bound.
    async fn call(&mut self, shared: &Shared, rb: reqwest::RequestBuilder) -> (Reply, Instant, Instant) {
        shared.issued.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let reply = send(rb).await;
        (reply, start, Instant::now())
    }

    fn record(&mut self, shared: &Shared, kind: Kind, span: (Instant, Instant), outcome: Outcome, detail: String) {
        let detail = (outcome != Outcome::Ok).then(|| detail.into_boxed_str());
        self.records.push(Record { kind, start: shared.since(span.0), end: shared.since(span.1), outcome, detail });
    }

    async fn step(&mut self, shared: &Shared) -> Backoff {
        // After a write of unknown outcome (a kill), read the key back before anything else:
        // it must hold the old version or the whole new one.
        if let Some(k) = (0..self.keys.len()).find(|&k| self.keys[k].needs_read()) {
            return self.get(shared, Target::Key(k)).await;
        }
        if let Some(z) = self.due_zip(Instant::now()) {
            return self.poll_zip(shared, z).await;
        }
        let mut kind = self.pick_kind(&shared.mix);
        if matches!(kind, Kind::PublicGet | Kind::ClinchCopy | Kind::ClinchDelete | Kind::JivoxDelete)
            && self.pick_present().is_none()
            && !(kind == Kind::PublicGet && self.zips.iter().any(ZipModel::completed))
        {
            kind = Kind::JivoxUpload;
        }
        match kind {
            Kind::JivoxUpload | Kind::ClinchPut | Kind::ClinchPutJson => self.write(shared, kind).await,
            Kind::JivoxZip => self.zip(shared).await,
            Kind::JivoxList => self.list(shared).await,
            Kind::PublicGet => self.public_get(shared).await,
            Kind::ClinchCopy => self.copy(shared).await,
            Kind::ClinchDelete | Kind::JivoxDelete => self.delete(shared, kind).await,
            Kind::QueueStatus => Backoff(false),
        }
    }

    /// What a write of unknown outcome leaves: settled if the server died or answered
    /// meanwhile, else possibly still to land.
    fn unknown_is_late(shared: &Shared, reply: &Reply, span: (Instant, Instant)) -> bool {
        reply.status.is_none() && !shared.in_flight_at_kill(span.0, span.1)
    }

    async fn write(&mut self, shared: &Shared, kind: Kind) -> Backoff {
        let k = self.rng.random_range(0..self.keys.len());
        let content = self.upload_content(shared);
        let (key, name) = (self.key(k), self.key_name(k));
        let body = content.bytes();
        let rb = match kind {
            Kind::JivoxUpload => {
                let part = multipart_file(body, &name, "image/jpeg");
                let form = reqwest::multipart::Form::new().text("path", self.prefix.clone()).part("file", part);
                shared
                    .http
                    .post(format!("{}/v2/accounts/1/asset-library", shared.base))
                    .header("jvx_apikey", &shared.api_key)
                    .multipart(form)
            }
            Kind::ClinchPut => {
                let form = reqwest::multipart::Form::new().part("file", multipart_file(body, &name, "image/jpeg"));
                shared
                    .http
                    .put(format!("{}/1/Assets/Asset?key={}", shared.base, q(&key)))
                    .header("X-ApiKey", &shared.api_key)
                    .multipart(form)
            }
            _ => {
                let content64 = base64::engine::general_purpose::STANDARD.encode(&body);
                shared
                    .http
                    .put(format!("{}/1/Assets/AssetJSON", shared.base))
                    .header("X-ApiKey", &shared.api_key)
                    .json(&serde_json::json!({ "key": key, "content": content64 }))
            }
        };
        let (reply, start, end) = self.call(shared, rb).await;
        match (reply.status, reply.failure) {
            (Some(200), _) => self.keys[k].set(Some(content)),
            (Some(s), _) if s < 500 => {} // refused: nothing changed
            (None, Some(Transport::Connect)) => {}
            _ => {
                self.unknown_writes += 1;
                let late = Self::unknown_is_late(shared, &reply, (start, end));
                self.keys[k].add(Some(content), late);
            }
        }
        let detail = format!("{} {key} ({} bytes): {}", kind.name(), content.len, reply.describe());
        self.record(shared, kind, (start, end), reply.outcome(false), detail);
        Backoff(reply.failure == Some(Transport::Connect))
    }

    async fn zip(&mut self, shared: &Shared) -> Backoff {
        let n = self.rng.random_range(2..=4);
        let entries: Vec<(String, Content)> =
            (0..n).map(|i| (format!("e{i}.jpg"), self.new_content(shared, 16, 8192))).collect();
        let folder = format!("{}/z{:04}", self.prefix, self.zips.len());
        let archive = match zip_of(&entries) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("soak: building a zip: {e:#}");
                return Backoff(false);
            }
        };
        let form = reqwest::multipart::Form::new()
            .text("path", folder.clone())
            .part("file", multipart_file(Bytes::from(archive), "a.zip", "application/zip"));
        let rb = shared
            .http
            .post(format!("{}/v2/accounts/1/asset-library", shared.base))
            .header("jvx_apikey", &shared.api_key)
            .multipart(form);
        let (reply, start, end) = self.call(shared, rb).await;
        let state = match (reply.status, reply.failure) {
            (Some(200), _) => {
                let queue = serde_json::from_slice::<serde_json::Value>(&reply.body)
                    .ok()
                    .and_then(|v| v["queueId"].as_str().map(str::to_owned));
                match queue {
                    Some(queue) => Some(ZipState::Acked { queue, status: None, message: String::new() }),
                    // Taken, but the queue id never arrived: as good as unknown.
                    None => Some(ZipState::Unknown),
                }
            }
            (Some(s), _) if s < 500 => Some(ZipState::Refused),
            (None, Some(Transport::Connect)) => None,
            _ => {
                self.unknown_writes += 1;
                Some(ZipState::Unknown)
            }
        };
        let detail = format!("jivox-zip {folder} ({n} entries): {}", reply.describe());
        self.record(shared, Kind::JivoxZip, (start, end), reply.outcome(false), detail);
        let backoff = Backoff(reply.failure == Some(Transport::Connect));
        if let Some(state) = state {
            // Its queue is polled from the client's loop, between its other requests.
            let next_poll = end + ZIP_POLL;
            self.zips.push(ZipModel { folder, entries, state, acked_at: end, next_poll, settled_after: None });
        }
        backoff
    }

    /// The oldest acknowledged zip not yet final, if its queue is due to be asked. One queue
    /// at a time: with a backlog of expansions, polling every pending queue would crowd out
    /// the client's other requests (jobs run in about the order they were enqueued).
    fn due_zip(&self, now: Instant) -> Option<usize> {
        let z = (0..self.zips.len()).find(|&z| matches!(self.zips[z].state, ZipState::Acked { status: None, .. }))?;
        (self.zips[z].next_poll <= now).then_some(z)
    }

    /// Polls an acknowledged zip's queue until it reaches a final status, or no zip of any
    /// client has for `idle`, or `cap` passes.
    async fn await_zip(&mut self, shared: &Shared, z: usize, idle: Duration, cap: Instant) {
        while matches!(self.zips[z].state, ZipState::Acked { status: None, .. }) {
            self.poll_zip(shared, z).await;
            let last = *shared.last_zip_final.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if now + ZIP_POLL >= cap || now.saturating_duration_since(last) >= idle {
                return;
            }
            tokio::time::sleep(ZIP_POLL).await;
        }
    }

    /// Asks an acknowledged zip's queue for its status once.
    async fn poll_zip(&mut self, shared: &Shared, z: usize) -> Backoff {
        {
            let ZipState::Acked { queue, status: None, .. } = &self.zips[z].state else { return Backoff(false) };
            let queue = queue.clone();
            let rb = shared
                .http
                .get(format!("{}/v2/queues/{queue}/status", shared.base))
                .header("jvx_apikey", &shared.api_key);
            let (reply, start, end) = self.call(shared, rb).await;
            let detail = format!("queue-status {queue} ({}): {}", self.zips[z].folder, reply.describe());
            self.record(shared, Kind::QueueStatus, (start, end), reply.outcome(false), detail);
            if reply.complete() == Some(200) {
                let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
                let status = v["status"].as_str().unwrap_or("").to_owned();
                if matches!(status.as_str(), "Completed" | "CompletedWithErrors" | "Failed") {
                    let message = v["message"].as_str().unwrap_or("").to_owned();
                    if status != "Completed" {
                        let detail = format!("zip {} (queue {queue}) ended {status}: {message}", self.zips[z].folder);
                        let folder = self.zips[z].folder.clone();
                        self.anomaly(Finding::ZipNotCompleted, folder, shared.since(end), detail);
                    }
                    self.zips[z].state = ZipState::Acked { queue, status: Some(status), message };
                    self.zips[z].settled_after = Some(end - self.zips[z].acked_at);
                    *shared.last_zip_final.lock().unwrap_or_else(|e| e.into_inner()) = end;
                }
            } else if reply.complete() == Some(404) {
                let detail =
                    format!("zip {} (queue {queue}): the queue is gone: {}", self.zips[z].folder, reply.text());
                let folder = self.zips[z].folder.clone();
                self.anomaly(Finding::ZipNotCompleted, folder, shared.since(end), detail);
                self.zips[z].state = ZipState::Acked { queue, status: Some("gone".into()), message: String::new() };
            }
            self.zips[z].next_poll = end + ZIP_POLL;
            Backoff(reply.failure == Some(Transport::Connect))
        }
    }

    async fn list(&mut self, shared: &Shared) -> Backoff {
        let rb = shared
            .http
            .get(format!("{}/v2/accounts/1/asset-library?prefix={}&limit=1000", shared.base, q(&self.prefix)))
            .header("jvx_apikey", &shared.api_key);
        let (reply, start, end) = self.call(shared, rb).await;
        let detail = format!("jivox-list {}: {}", self.prefix, reply.describe());
        self.record(shared, Kind::JivoxList, (start, end), reply.outcome(false), detail);
        if reply.complete() == Some(200) {
            match serde_json::from_slice::<serde_json::Value>(&reply.body) {
                Ok(v) => {
                    let findings = self.check_listing(&v);
                    for (finding, subject, detail) in findings {
                        self.anomaly(finding, subject, shared.since(end), detail);
                    }
                }
                Err(e) => {
                    let detail = format!("jivox-list {}: not JSON ({e}): {}", self.prefix, reply.text());
                    self.anomaly(Finding::Corrupt, self.prefix.clone(), shared.since(end), detail);
                }
            }
        }
        Backoff(reply.failure == Some(Transport::Connect))
    }

    /// A listing of the client's folder against its model: every key that must be there is,
    /// none that must be gone is, and nothing else is.
    fn check_listing(&self, v: &serde_json::Value) -> Vec<(Finding, String, String)> {
        let names: HashSet<&str> =
            v["files"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
        let folders: Vec<&str> =
            v["folders"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
        let mut out = Vec::new();
        for (k, model) in self.keys.iter().enumerate() {
            let listed = names.contains(self.key_name(k).as_str());
            if listed && model.contents().is_empty() {
                let detail = format!("listing of {} shows deleted {}", self.prefix, self.key(k));
                out.push((Finding::Resurrected, self.key(k), detail));
            }
            if !listed && !model.may_be_absent() {
                out.push((Finding::Lost, self.key(k), format!("listing of {} lacks {}", self.prefix, self.key(k))));
            }
        }
        let pool: HashSet<String> = (0..self.keys.len()).map(|k| self.key_name(k)).collect();
        for name in names.iter().filter(|n| !pool.contains(**n)) {
            let detail = format!("listing of {} shows a file '{name}'", self.prefix);
            out.push((Finding::Unexpected, format!("{}/{name}", self.prefix), detail));
        }
        let zip_folders: HashSet<String> =
            self.zips.iter().map(|z| z.folder.rsplit('/').next().unwrap_or("").to_owned()).collect();
        for name in folders.iter().filter(|n| !zip_folders.contains(**n)) {
            let detail = format!("listing of {} shows a folder '{name}'", self.prefix);
            out.push((Finding::Unexpected, format!("{}/{name}/", self.prefix), detail));
        }
        out
    }

    /// A read settled what key `k` holds.
    fn observe(&mut self, k: usize, v: Version) {
        match self.keys[k].observed(v) {
            Some(true) => self.unknown_landed += 1,
            Some(false) => self.unknown_not_landed += 1,
            None => {}
        }
    }

    async fn public_get(&mut self, shared: &Shared) -> Backoff {
        let completed: Vec<usize> = (0..self.zips.len()).filter(|&z| self.zips[z].completed()).collect();
        // Mostly keys that may hold content; some of any state (404s are answers too), some zip entries.
        let target = if !completed.is_empty() && self.rng.random_ratio(1, 4) {
            let z = completed[self.rng.random_range(0..completed.len())];
            let e = self.rng.random_range(0..self.zips[z].entries.len());
            Target::Entry(z, e)
        } else if self.rng.random_ratio(1, 5) {
            Target::Key(self.rng.random_range(0..self.keys.len()))
        } else {
            match self.pick_present() {
                Some(k) => Target::Key(k),
                None => Target::Key(self.rng.random_range(0..self.keys.len())),
            }
        };
        self.get(shared, target).await
    }

    /// A public GET of `target`, its answer judged against what it may hold.
    async fn get(&mut self, shared: &Shared, target: Target) -> Backoff {
        let (key, model) = match target {
            Target::Key(k) => (self.key(k), self.keys[k].clone()),
            Target::Entry(z, e) => {
                let (name, c) = &self.zips[z].entries[e];
                (format!("{}/{name}", self.zips[z].folder), KeyModel::holding(*c))
            }
        };
        let rb = shared.http.get(format!("{}/files/1/{key}", shared.base));
        let (reply, start, end) = self.call(shared, rb).await;
        let detail = format!("public-get {key}: {}", reply.describe());
        let status = reply.complete();
        let allowed = status == Some(404) && model.may_be_absent();
        self.record(shared, Kind::PublicGet, (start, end), reply.outcome(allowed), detail);
        if let Some(status @ (200 | 404)) = status {
            match check(&model, status, &reply.body) {
                Check::Match(v) => {
                    if v.is_some() {
                        self.gets_verified += 1;
                        self.bytes_verified += reply.body.len() as u64;
                    }
                    if let Target::Key(k) = target {
                        self.observe(k, v);
                    }
                }
                finding => {
                    let detail = describe_mismatch(&key, &model, status, &reply.body);
                    self.anomaly(finding_of(finding), key.clone(), shared.since(end), detail);
                }
            }
        }
        Backoff(reply.failure == Some(Transport::Connect))
    }

    async fn copy(&mut self, shared: &Shared) -> Backoff {
        let Some(src) = self.pick_present() else { return Backoff(false) };
        let mut dst = self.rng.random_range(0..self.keys.len() - 1);
        if dst >= src {
            dst += 1;
        }
        let (src_key, dst_key) = (self.key(src), self.key(dst));
        let rb = shared
            .http
            .post(format!("{}/1/Assets/CopyAsset", shared.base))
            .header("X-ApiKey", &shared.api_key)
            .json(&serde_json::json!({ "sourceKey": src_key, "destinationKey": dst_key, "overwrite": true }));
        let (reply, start, end) = self.call(shared, rb).await;
        let sources = self.keys[src].contents();
        let says_missing = reply.complete() == Some(400) && reply.text().contains("does not exist");
        let mut allowed = false;
        match (reply.status, reply.failure) {
            (Some(200), _) => {
                self.keys[dst].may = sources.into_iter().map(Some).collect();
            }
            _ if says_missing => {
                if self.keys[src].may_be_absent() {
                    allowed = true;
                    self.observe(src, None);
                } else {
                    let detail = format!("copy {src_key} -> {dst_key}: the source is gone: {}", reply.text());
                    self.anomaly(Finding::Lost, src_key.clone(), shared.since(end), detail);
                }
            }
            (Some(s), _) if s < 500 => {}
            (None, Some(Transport::Connect)) => {}
            _ => {
                self.unknown_writes += 1;
                let late = Self::unknown_is_late(shared, &reply, (start, end));
                for c in sources {
                    self.keys[dst].add(Some(c), late);
                }
            }
        }
        let detail = format!("clinch-copy {src_key} -> {dst_key}: {}", reply.describe());
        self.record(shared, Kind::ClinchCopy, (start, end), reply.outcome(allowed), detail);
        Backoff(reply.failure == Some(Transport::Connect))
    }

    async fn delete(&mut self, shared: &Shared, kind: Kind) -> Backoff {
        let k = match self.pick_present() {
            Some(k) => k,
            None => self.rng.random_range(0..self.keys.len()),
        };
        let key = self.key(k);
        let rb = if kind == Kind::ClinchDelete {
            shared
                .http
                .delete(format!("{}/1/Assets/Asset?key={}", shared.base, q(&key)))
                .header("X-ApiKey", &shared.api_key)
        } else {
            shared
                .http
                .delete(format!(
                    "{}/v2/accounts/1/asset-library?command=deleteFile&path={}&file={}",
                    shared.base,
                    q(&self.prefix),
                    q(&self.key_name(k))
                ))
                .header("jvx_apikey", &shared.api_key)
        };
        let (reply, start, end) = self.call(shared, rb).await;
        let says_missing = reply.complete() == Some(400) && reply.text().contains("does not exist");
        let mut allowed = false;
        match (reply.status, reply.failure) {
            (Some(200), _) => self.keys[k].set(None),
            _ if says_missing => {
                if self.keys[k].may_be_absent() {
                    allowed = true;
                    self.observe(k, None);
                } else {
                    let detail = format!("{} {key}: gone before the delete: {}", kind.name(), reply.text());
                    self.anomaly(Finding::Lost, key.clone(), shared.since(end), detail);
                }
            }
            (Some(s), _) if s < 500 => {}
            (None, Some(Transport::Connect)) => {}
            _ => {
                self.unknown_writes += 1;
                let late = Self::unknown_is_late(shared, &reply, (start, end));
                self.keys[k].add(None, late);
            }
        }
        let detail = format!("{} {key}: {}", kind.name(), reply.describe());
        self.record(shared, kind, (start, end), reply.outcome(allowed), detail);
        Backoff(reply.failure == Some(Transport::Connect))
    }
}

#[derive(Clone, Copy)]
enum Target {
    Key(usize),
    Entry(usize, usize),
}

fn finding_of(c: Check) -> Finding {
    match c {
        Check::Lost => Finding::Lost,
        Check::Resurrected => Finding::Resurrected,
        _ => Finding::Corrupt,
    }
}

fn describe_mismatch(key: &str, model: &KeyModel, status: u16, body: &[u8]) -> String {
    let may: Vec<String> = model
        .possible()
        .map(|v| match v {
            None => "absent".to_owned(),
            Some(c) => format!("{} bytes (seed {:#x})", c.len, c.seed),
        })
        .collect();
    let got = if status == 200 { format!("200 with {} bytes", body.len()) } else { status.to_string() };
    let mut detail = format!("GET /files/1/{key}: {got}; it may be: {}", may.join(", "));
    // Where a wrong body of the right size first differs, and whether it is a prefix.
    if status == 200 {
        for c in model.contents() {
            let want = c.bytes();
            let same = want.iter().zip(body).take_while(|(a, b)| a == b).count();
            let _ = write!(detail, "; matches the {}-byte version for its first {same} bytes", c.len);
        }
    }
    detail
}

/// `s` as a query parameter value: percent-encoded but for unreserved characters and `/`
/// (the reqwest build here has no `query` feature).
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn multipart_file(body: Bytes, name: &str, mime: &str) -> reqwest::multipart::Part {
    let len = body.len() as u64;
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(body), len).file_name(name.to_owned());
    match part.mime_str(mime) {
        Ok(p) => p,
        Err(_) => unreachable!("a constant MIME type parses"),
    }
}

/// A zip of the entries, stored (random bytes do not compress).
fn zip_of(entries: &[(String, Content)]) -> anyhow::Result<Vec<u8>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, c) in entries {
        w.start_file(name.as_str(), options)?;
        w.write_all(&c.bytes())?;
    }
    Ok(w.finish()?.into_inner())
}

/// Runs the clients until the deadline, each one request at a time.
async fn run_client(shared: Arc<Shared>, id: usize) -> Client {
    let mut client = Client::new(id, &shared);
    while !shared.should_stop() {
        if shared.issued.load(Ordering::Relaxed) >= shared.max_requests {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        if client.step(&shared).await.0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    client
}

/// Polls `/healthz` until it answers 200; `None` if it does not within `limit`.
async fn await_healthy(http: &reqwest::Client, base: &str, limit: Duration) -> Option<Instant> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        let ok = http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
        if ok {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Where the server runs and how it is started again.
struct ServerSpec {
    bin: PathBuf,
    data_dir: PathBuf,
    listen: String,
    log: PathBuf,
}

impl ServerSpec {
    async fn start(&self) -> anyhow::Result<Assetlib> {
        let (bin, dir, listen, log) = (self.bin.clone(), self.data_dir.clone(), self.listen.clone(), self.log.clone());
        tokio::task::spawn_blocking(move || procs::start_assetlib_at(&bin, &dir, &listen, &[], &[], Some(&log)))
            .await
            .context("the start task panicked")?
    }
}

/// Kills the server at each of `kill_at` (seconds into the run) and starts it again at once;
/// returns the server that runs at the end.
async fn killer(
    shared: Arc<Shared>,
    spec: &ServerSpec,
    mut server: Assetlib,
    kill_at: &[f64],
) -> anyhow::Result<Assetlib> {
    for &at in kill_at {
        let when = shared.t0 + Duration::from_secs_f64(at);
        if when >= shared.deadline {
            break;
        }
        tokio::time::sleep_until(when.into()).await;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let begin = Instant::now();
        let idx = {
            let mut kills = shared.kills.lock().unwrap_or_else(|e| e.into_inner());
            kills.push(KillEvent { begin, dead: None, listening: None, healthy: None });
            kills.len() - 1
        };
        let pid = server.proc.pid();
        server.proc.kill_now();
        let dead = Instant::now();
        shared.kills.lock().unwrap_or_else(|e| e.into_inner())[idx].dead = Some(dead);
        println!(
            "  {:5.1} s: killed the server (pid {pid}) with SIGKILL; starting it again",
            shared.since(begin).as_secs_f64()
        );
        server = spec.start().await.context("starting the server again after SIGKILL")?;
        let listening = Instant::now();
        let healthy = await_healthy(&shared.http, &shared.base, Duration::from_secs(60))
            .await
            .context("the restarted server did not answer /healthz within 60 s")?;
        {
            let mut kills = shared.kills.lock().unwrap_or_else(|e| e.into_inner());
            kills[idx].listening = Some(listening);
            kills[idx].healthy = Some(healthy);
        }
        println!(
            "  {:5.1} s: up again (pid {}), listening {:.0} ms and /healthz {:.0} ms after the kill",
            shared.since(healthy).as_secs_f64(),
            server.proc.pid(),
            (listening - begin).as_secs_f64() * 1000.0,
            (healthy - begin).as_secs_f64() * 1000.0
        );
    }
    Ok(server)
}

/// What the final check of one client found.
#[derive(Default)]
struct Tally {
    verified: Verified,
    anomalies: Vec<Anomaly>,
    records: Vec<Record>,
}

/// A GET for the final check: the status and the whole body, retried on a broken
/// connection (nothing is being killed any more).
async fn final_get(http: &reqwest::Client, url: &str) -> anyhow::Result<(u16, Bytes)> {
    let mut last = None;
    for _ in 0..3 {
        let reply = send(http.get(url)).await;
        if let Some(status) = reply.complete() {
            return Ok((status, reply.body));
        }
        last = Some(reply.describe());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("GET {url}: {}", last.unwrap_or_default())
}

/// Reads back every key and zip entry of one client after the run, against its model.
async fn final_check(
    shared: Arc<Shared>,
    mut client: Client,
    zip_idle: Duration,
    zip_cap: Instant,
) -> anyhow::Result<(Client, Tally)> {
    let mut t = Tally::default();
    // Acknowledged zips still being expanded: wait for their queues (polls are recorded apart).
    let before = client.records.len();
    for z in 0..client.zips.len() {
        if matches!(client.zips[z].state, ZipState::Acked { status: None, .. }) {
            client.await_zip(&shared, z, zip_idle, zip_cap).await;
            if matches!(client.zips[z].state, ZipState::Acked { status: None, .. }) {
                let detail =
                    format!("zip {}: still not expanded when the final check gave up waiting", client.zips[z].folder);
                t.anomalies.push(Anomaly {
                    finding: Finding::ZipNotCompleted,
                    subject: client.zips[z].folder.clone(),
                    at: None,
                    detail,
                });
            }
        }
    }
    t.records = client.records.split_off(before);
    let note = |t: &mut Tally, finding: Finding, subject: String, detail: String| {
        t.anomalies.push(Anomaly { finding, subject, at: None, detail });
    };
    for k in 0..client.keys.len() {
        let key = client.key(k);
        let model = &client.keys[k];
        let (status, body) = final_get(&shared.http, &format!("{}/files/1/{key}", shared.base)).await?;
        t.verified.requests += 1;
        if model.uncertain() {
            t.verified.uncertain_keys += 1;
        }
        match (status, check(model, status, &body)) {
            (200 | 404, Check::Match(Some(_))) => {
                t.verified.assets += 1;
                t.verified.bytes += body.len() as u64;
            }
            (200 | 404, Check::Match(None)) => t.verified.absent += 1,
            (200 | 404, c) => note(&mut t, finding_of(c), key.clone(), describe_mismatch(&key, model, status, &body)),
            (s, _) => note(&mut t, Finding::Lost, key.clone(), format!("GET /files/1/{key}: {s}")),
        }
    }
    for zip in &client.zips {
        let acked = matches!(zip.state, ZipState::Acked { .. });
        if zip.state == ZipState::Refused {
            continue;
        }
        if zip.state == ZipState::Unknown {
            // Its expansion, if it was taken, may still be running (a job re-run after a
            // kill); it commits all entries at once, so partial visibility may only be a
            // moment between two GETs: look again a few times before judging.
            for _ in 0..5 {
                let mut seen = 0;
                for (name, _) in &zip.entries {
                    let url = format!("{}/files/1/{}/{name}", shared.base, zip.folder);
                    seen += usize::from(final_get(&shared.http, &url).await?.0 == 200);
                }
                if seen == 0 || seen == zip.entries.len() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        let mut present = 0;
        for (name, c) in &zip.entries {
            let key = format!("{}/{name}", zip.folder);
            let (status, body) = final_get(&shared.http, &format!("{}/files/1/{key}", shared.base)).await?;
            t.verified.requests += 1;
            // An acknowledged zip's entries must all be there; an unanswered one's may be absent.
            let model =
                if acked { KeyModel::holding(*c) } else { KeyModel { may: vec![None, Some(*c)], late: vec![] } };
            match (status, check(&model, status, &body)) {
                (200 | 404, Check::Match(Some(_))) => {
                    present += 1;
                    t.verified.zip_entries += 1;
                    t.verified.assets += 1;
                    t.verified.bytes += body.len() as u64;
                }
                (200 | 404, Check::Match(None)) => t.verified.absent += 1,
                (200 | 404, c) => {
                    note(&mut t, finding_of(c), key.clone(), describe_mismatch(&key, &model, status, &body))
                }
                (s, _) => note(&mut t, Finding::Lost, key.clone(), format!("GET /files/1/{key}: {s}")),
            }
        }
        match &zip.state {
            ZipState::Acked { status: Some(s), .. } if s == "Completed" => t.verified.zips_completed += 1,
            ZipState::Unknown if present == zip.entries.len() => t.verified.unanswered_zips_taken += 1,
            ZipState::Unknown if present == 0 => t.verified.unanswered_zips_absent += 1,
            ZipState::Unknown => note(
                &mut t,
                Finding::HalfVisible,
                zip.folder.clone(),
                format!("unanswered zip {}: {present} of {} entries visible", zip.folder, zip.entries.len()),
            ),
            _ => {}
        }
        // Nothing but the archive's entries in its folder.
        if present > 0 {
            let v = final_list(&shared, &zip.folder).await?;
            let names: Vec<&str> =
                v["files"].as_array().into_iter().flatten().filter_map(|f| f["name"].as_str()).collect();
            for name in names.iter().filter(|n| !zip.entries.iter().any(|(e, _)| e == **n)) {
                note(
                    &mut t,
                    Finding::HalfVisible,
                    format!("{}/{name}", zip.folder),
                    format!("zip folder {} shows a file '{name}'", zip.folder),
                );
            }
        }
    }
    let listing = final_list(&shared, &client.prefix).await?;
    for (finding, subject, detail) in client.check_listing(&listing) {
        note(&mut t, finding, subject, detail);
    }
    Ok((client, t))
}

async fn final_list(shared: &Shared, prefix: &str) -> anyhow::Result<serde_json::Value> {
    let reply = send(
        shared
            .http
            .get(format!("{}/v2/accounts/1/asset-library?prefix={}&limit=1000", shared.base, q(prefix)))
            .header("jvx_apikey", &shared.api_key),
    )
    .await;
    anyhow::ensure!(reply.complete() == Some(200), "listing {prefix}: {}", reply.describe());
    Ok(serde_json::from_slice(&reply.body)?)
}

/// The kill windows, as offsets from the start of the run: from the kill until the restarted
/// server answered `/healthz`, plus the grace; to `end` if it never did.
fn kill_windows(shared: &Shared, grace: Duration, end: Duration) -> Vec<(Duration, Duration)> {
    let kills = shared.kills.lock().unwrap_or_else(|e| e.into_inner());
    kills.iter().map(|k| (shared.since(k.begin), k.healthy.map_or(end, |h| shared.since(h) + grace))).collect()
}

fn in_window(r: &Record, windows: &[(Duration, Duration)]) -> bool {
    windows.iter().any(|(b, e)| r.start <= *e && r.end >= *b)
}

/// Per-kind figures of the records.
pub fn kind_rows(records: &[Record], windows: &[(Duration, Duration)]) -> Vec<KindRow> {
    let mut rows: BTreeMap<Kind, (KindRow, Vec<u64>)> = BTreeMap::new();
    for r in records {
        let (row, lat) = rows.entry(r.kind).or_insert_with(|| (KindRow::new(r.kind), Vec::new()));
        row.requests += 1;
        let windowed = in_window(r, windows);
        match r.outcome {
            Outcome::Ok => {
                row.ok += 1;
                if !windowed {
                    lat.push((r.end - r.start).as_micros() as u64);
                }
            }
            _ if windowed => row.window_errors += 1,
            Outcome::ClientError(_) => row.client_errors += 1,
            Outcome::ServerError(_) => row.server_errors += 1,
            Outcome::Transport(_) => row.transport_errors += 1,
        }
    }
    rows.into_values()
        .map(|(mut row, mut lat)| {
            lat.sort_unstable();
            row.p50_ms = percentile_ms(&lat, 50.0);
            row.p99_ms = percentile_ms(&lat, 99.0);
            row.max_ms = lat.last().map_or(f64::NAN, |&us| us as f64 / 1000.0);
            row
        })
        .collect()
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

/// Files under `dir`, recursively (0 if it does not exist).
fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// Lines of the server's log with its level, for the report: how many, and the first few.
fn log_lines(path: &Path, level: &str, keep: usize) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let hits: Vec<&str> = text.lines().filter(|l| l.contains(level)).collect();
    (hits.len(), hits.iter().take(keep).map(|l| (*l).to_owned()).collect())
}

pub async fn run(args: SoakArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be positive");
    anyhow::ensure!(args.secs > 0.0, "--secs must be positive");
    anyhow::ensure!(args.keys_per_client >= 2, "--keys-per-client must be at least 2 (copies need two)");
    anyhow::ensure!(args.max_file_size >= 16 && args.large_size >= args.max_file_size, "bad file sizes");
    let mix = parse_mix(&args.mix)?;
    let mut kill_at: Vec<f64> = match args.kill_at.trim() {
        "" | "none" => Vec::new(),
        list => list
            .split(',')
            .map(|t| t.trim().parse::<f64>().with_context(|| format!("--kill-at: bad time '{t}'")))
            .collect::<anyhow::Result<_>>()?,
    };
    kill_at.sort_by(f64::total_cmp);
    anyhow::ensure!(kill_at.iter().all(|&t| t > 0.0 && t < args.secs), "--kill-at times must lie inside the run");
    let machine = Machine::probe();
    let loadavg_before = crate::report::loadavg();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let tmp = crate::report::temp_dir_in(args.work_dir.as_deref(), "assetlib-soak-")?;
    let data_dir = tmp.path().join("data");
    let log = tmp.path().join("server.log");
    let port = procs::free_port()?;
    let spec = ServerSpec {
        bin: args.assetlib.clone(),
        data_dir: data_dir.clone(),
        listen: format!("127.0.0.1:{port}"),
        log: log.clone(),
    };
    println!("assetlib-bench soak: {assetlib_version}; work dir {}", tmp.path().display());
    println!(
        "machine: {} cores, {}, {} memory (the clients share these cores with the server)",
        machine.cores, machine.cpu, machine.memory
    );
    let server = spec.start().await?;
    let addr: SocketAddr = server.addr;
    println!("assetlib on {addr} (pid {}), its log in {}", server.proc.pid(), log.display());
    let timeout = Duration::from_secs_f64(args.request_timeout);
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(args.clients + 8)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .build()?;
    let t0 = Instant::now();
    let shared = Arc::new(Shared {
        http,
        base: format!("http://{addr}"),
        api_key: server.api_key.clone(),
        t0,
        deadline: t0 + Duration::from_secs_f64(args.secs),
        kills: Mutex::new(Vec::new()),
        last_zip_final: Mutex::new(t0),
        issued: AtomicU64::new(0),
        max_requests: args.max_requests,
        stop: AtomicBool::new(false),
        mix: mix.clone(),
        keys_per_client: args.keys_per_client,
        max_file_size: args.max_file_size,
        large_every: args.large_every,
        large_size: args.large_size,
        seed: args.seed,
    });
    println!(
        "{} clients for {:.0} s, SIGKILL at {} s, every request bounded by {:.0} s ...",
        args.clients,
        args.secs,
        kill_at.iter().map(|t| format!("{t}")).collect::<Vec<_>>().join(", "),
        args.request_timeout
    );
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..args.clients {
        tasks.spawn(run_client(shared.clone(), id));
    }
    let killed = killer(shared.clone(), &spec, server, &kill_at).await;
    if killed.is_err() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    let mut clients = Vec::with_capacity(args.clients);
    while let Some(joined) = tasks.join_next().await {
        clients.push(joined.context("a client panicked")?);
    }
    let run_end = Instant::now();
    let mut server = killed?;
    let elapsed = run_end - t0;
    println!(
        "load done after {:.1} s; restarting the server (TERM, then start) for the final check ...",
        elapsed.as_secs_f64()
    );

    // The final check: a fresh process (TERM, as an operator restarts), empty caches.
    let stop_begin = Instant::now();
    server.proc.stop();
    let server = spec.start().await.context("starting the server for the final check")?;
    await_healthy(&shared.http, &shared.base, Duration::from_secs(60))
        .await
        .context("the server did not answer /healthz for the final check")?;
    let final_restart = stop_begin.elapsed();
    // Zips still expanding: the wait goes on while any completes (it starts now).
    *shared.last_zip_final.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    let (zip_idle, zip_cap) = (Duration::from_secs_f64(args.zip_wait), Instant::now() + Duration::from_secs(900));
    let semaphore = Arc::new(tokio::sync::Semaphore::new(32));
    let mut checks = tokio::task::JoinSet::new();
    for client in clients {
        let (shared, semaphore) = (shared.clone(), semaphore.clone());
        checks.spawn(async move {
            let _permit = semaphore.acquire_owned().await?;
            final_check(shared, client, zip_idle, zip_cap).await
        });
    }
    let (mut records, mut anomalies, mut final_records) = (Vec::new(), Vec::new(), Vec::new());
    let mut verified = Verified::default();
    let (mut gets_verified, mut bytes_verified_run, mut unknown_writes) = (0, 0, 0);
    let (mut unknown_landed, mut unknown_not_landed) = (0, 0);
    let (mut zips_acked, mut zips_unknown) = (0, 0);
    let mut zip_settle_us: Vec<u64> = Vec::new();
    let mut zips_final_in_run = 0;
    while let Some(joined) = checks.join_next().await {
        let (client, tally) = joined.context("a final check panicked")??;
        records.extend(client.records);
        anomalies.extend(client.anomalies);
        anomalies.extend(tally.anomalies);
        final_records.extend(tally.records);
        verified.add(&tally.verified);
        gets_verified += client.gets_verified;
        bytes_verified_run += client.bytes_verified;
        unknown_writes += client.unknown_writes;
        unknown_landed += client.unknown_landed;
        unknown_not_landed += client.unknown_not_landed;
        zips_acked += client.zips.iter().filter(|z| matches!(z.state, ZipState::Acked { .. })).count() as u64;
        zips_unknown += client.zips.iter().filter(|z| z.state == ZipState::Unknown).count() as u64;
        zip_settle_us.extend(client.zips.iter().filter_map(|z| z.settled_after).map(|d| d.as_micros() as u64));
        zips_final_in_run +=
            client.zips.iter().filter(|z| z.settled_after.is_some_and(|d| z.acked_at + d <= run_end)).count() as u64;
    }
    let server_pid = server.proc.pid();
    drop(server);
    let tmp_leftovers = count_files(&data_dir.join("tmp"));

    let grace = Duration::from_secs_f64(args.kill_grace);
    let windows = kill_windows(&shared, grace, elapsed);
    let kills: Vec<KillRow> = {
        let events = shared.kills.lock().unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .zip(&windows)
            .map(|(k, (b, e))| KillRow {
                at_s: shared.since(k.begin).as_secs_f64(),
                listening_ms: k.listening.map(|l| (l - k.begin).as_secs_f64() * 1000.0),
                healthy_ms: k.healthy.map(|h| (h - k.begin).as_secs_f64() * 1000.0),
                window_s: (*e - *b).as_secs_f64(),
                failed_in_window: records
                    .iter()
                    .filter(|r| r.outcome != Outcome::Ok && r.start <= *e && r.end >= *b)
                    .count() as u64,
                server_errors_in_window: records
                    .iter()
                    .filter(|r| matches!(r.outcome, Outcome::ServerError(_)) && r.start <= *e && r.end >= *b)
                    .count() as u64,
                survived: k.healthy.is_some(),
            })
            .collect()
    };
    let kinds = kind_rows(&records, &windows);
    let errors: Vec<&Record> = records.iter().filter(|r| r.outcome != Outcome::Ok && !in_window(r, &windows)).collect();
    let (log_errors, log_error_lines) = log_lines(&log, " ERROR ", 10);
    let (log_warnings, _) = log_lines(&log, " WARN ", 0);
    anomalies.sort_by_key(|a| (a.finding, a.at));
    let results = SoakResults {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: args.command.clone().unwrap_or_else(|| program_command.clone()),
        program_command,
        label: args.label.clone(),
        machine,
        assetlib_version,
        clients: args.clients,
        secs: args.secs,
        elapsed_s: elapsed.as_secs_f64(),
        kill_grace_s: args.kill_grace,
        request_timeout_s: args.request_timeout,
        keys_per_client: args.keys_per_client,
        max_file_size: args.max_file_size,
        large_every: args.large_every,
        large_size: args.large_size,
        mix,
        kinds,
        kills,
        final_restart_ms: final_restart.as_secs_f64() * 1000.0,
        verified,
        gets_verified,
        bytes_verified_run,
        unknown_writes,
        unknown_landed,
        unknown_not_landed,
        zips_acked,
        zips_unknown,
        findings: Finding::count(&anomalies),
        log_errors,
        log_warnings,
        final_polls: final_records.len() as u64,
        tmp_leftovers,
        zips_final_in_run,
        zip_settle: {
            zip_settle_us.sort_unstable();
            let max = zip_settle_us.last().map_or(f64::NAN, |&us| us as f64 / 1000.0);
            [percentile_ms(&zip_settle_us, 50.0), percentile_ms(&zip_settle_us, 99.0), max]
        },
        loadavg_before,
        loadavg_after: crate::report::loadavg(),
    };
    println!();
    print!("{}", soak_report::text(&results));
    if !errors.is_empty() {
        println!("\nerrors outside the kill windows (first 20 of {}):", errors.len());
        for r in errors.iter().take(20) {
            println!(
                "  {:6.2}-{:6.2} s {:?}: {}",
                r.start.as_secs_f64(),
                r.end.as_secs_f64(),
                r.outcome,
                r.detail.as_deref().unwrap_or("")
            );
        }
    }
    if !anomalies.is_empty() {
        println!("\nfindings (first 30 of {}):", anomalies.len());
        for a in anomalies.iter().take(30) {
            let at = a.at.map_or("final check".to_owned(), |t| format!("{:.2} s", t.as_secs_f64()));
            println!("  {} ({at}): {}", a.finding.name(), a.detail);
        }
    }
    if log_errors > 0 {
        println!("\nthe server logged {log_errors} ERROR lines (pid {server_pid} last); the first:");
        for line in &log_error_lines {
            println!("  {line}");
        }
    }
    if let Some(path) = &args.markdown {
        soak_report::write_markdown(path, &results).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.keep {
        let kept = tmp.keep();
        println!("kept the data dir and the server's log under {}", kept.display());
    } else {
        drop(tmp);
    }
    if !results.passed() {
        eprintln!("soak: FAIL (see the figures above)");
        std::process::exit(2);
    }
    println!("soak: PASS");
    Ok(())
}

impl Finding {
    const ALL: [Finding; 6] = [
        Finding::Lost,
        Finding::Corrupt,
        Finding::Resurrected,
        Finding::HalfVisible,
        Finding::Unexpected,
        Finding::ZipNotCompleted,
    ];

    /// How many keys (or zip folders) had each finding, in a fixed order: a key seen lost
    /// by three reads counts once.
    fn count(anomalies: &[Anomaly]) -> Vec<(Finding, u64)> {
        Finding::ALL
            .into_iter()
            .map(|f| {
                let subjects: HashSet<&str> =
                    anomalies.iter().filter(|a| a.finding == f).map(|a| a.subject.as_str()).collect();
                (f, subjects.len() as u64)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(seed: u64, len: usize) -> Content {
        Content { seed, len }
    }

    #[test]
    fn a_read_is_judged_against_every_possible_version() {
        let (a, b) = (content(1, 100), content(2, 200));
        let mut m = KeyModel::absent();
        assert_eq!(check(&m, 404, b""), Check::Match(None));
        assert_eq!(check(&m, 200, &a.bytes()), Check::Resurrected);
        m.set(Some(a));
        assert_eq!(check(&m, 200, &a.bytes()), Check::Match(Some(a)));
        assert_eq!(check(&m, 404, b""), Check::Lost);
        assert_eq!(check(&m, 200, &a.bytes()[..99]), Check::Corrupt, "a truncated body is corrupt");
        assert_eq!(check(&m, 200, &b.bytes()), Check::Corrupt);
        // An upload of unknown outcome: the old version, the new one, nothing else.
        m.add(Some(b), false);
        assert_eq!(check(&m, 200, &b.bytes()), Check::Match(Some(b)));
        assert_eq!(check(&m, 200, &a.bytes()), Check::Match(Some(a)));
        assert_eq!(check(&m, 404, b""), Check::Lost);
        assert!(m.needs_read());
        assert_eq!(m.observed(Some(b)), Some(true), "the write of unknown outcome took effect");
        assert!(!m.needs_read());
        assert_eq!(check(&m, 200, &a.bytes()), Check::Corrupt, "once seen, the new version is what it holds");
        assert_eq!(m.observed(Some(b)), None, "nothing was uncertain");
    }

    #[test]
    fn a_write_that_may_land_late_stays_possible() {
        let (a, b) = (content(1, 10), content(2, 20));
        let mut m = KeyModel::holding(a);
        m.add(None, true); // a delete that timed out on a live server
        m.set(Some(b));
        assert!(!m.needs_read(), "a read cannot settle a write that may still land");
        assert_eq!(m.observed(Some(b)), None);
        assert!(m.may_be_absent(), "the late delete may still land");
        assert_eq!(check(&m, 404, b""), Check::Match(None));
        assert!(m.uncertain());
    }

    #[test]
    fn contents_are_reproducible_and_look_like_jpegs() {
        let c = content(7, 64);
        assert_eq!(c.bytes(), c.bytes());
        assert_eq!(&c.bytes()[..4], &[0xff, 0xd8, 0xff, 0xe0]);
        assert_ne!(content(8, 64).bytes(), c.bytes());
    }

    #[test]
    fn the_mix_parses_and_refuses_nonsense() {
        let mix = parse_mix(DEFAULT_MIX).expect("default mix");
        assert_eq!(mix.len(), 9);
        assert!(parse_mix("public-get=1,jivox-zip=0").is_ok_and(|m| m == vec![(Kind::PublicGet, 1)]));
        assert!(parse_mix("queue-status=1").is_err(), "queue polls follow zips, they are not picked");
        assert!(parse_mix("public-get=1,public-get=2").is_err());
        assert!(parse_mix("nothing=1").is_err());
        assert!(parse_mix("public-get=0").is_err());
    }

    #[test]
    fn failures_overlapping_a_kill_window_are_counted_apart() {
        let ms = Duration::from_millis;
        let rec = |start, end, outcome| Record {
            kind: Kind::PublicGet,
            start: ms(start),
            end: ms(end),
            outcome,
            detail: None,
        };
        let records = vec![
            rec(0, 10, Outcome::Ok),
            rec(990, 1010, Outcome::Transport(Transport::Broken)), // in flight at the kill
            rec(1500, 1600, Outcome::ServerError(503)),            // while restarting
            rec(5000, 5010, Outcome::ServerError(500)),            // outside
            rec(5100, 5120, Outcome::ClientError(400)),
        ];
        let rows = kind_rows(&records, &[(ms(1000), ms(3000))]);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.requests, r.ok, r.window_errors, r.server_errors, r.client_errors), (5, 1, 2, 1, 1));
        assert_eq!(r.p50_ms, 10.0);
    }

    #[test]
    fn a_zip_holds_its_entries() {
        let entries = vec![("e0.jpg".to_owned(), content(1, 100)), ("e1.jpg".to_owned(), content(2, 3))];
        let bytes = zip_of(&entries).expect("zip");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("readable");
        assert_eq!(archive.len(), 2);
        let mut e1 = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name("e1.jpg").expect("e1"), &mut e1).expect("read");
        assert_eq!(e1, content(2, 3).bytes());
    }
}
