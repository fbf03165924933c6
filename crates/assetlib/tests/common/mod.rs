//! Test harness: the real server on 127.0.0.1:0, in this process ([`TestApp`]) or as a child
//! process that can be killed ([`ServerProcess`]), and helpers that talk HTTP to it.
//!
//! The stores are the embedded default, or with `ASSETLIB_TEST_BACKEND=postgres-s3` a fresh
//! PostgreSQL database and a fresh S3 bucket per server ([`Backend`]; `scripts/test.sh` runs
//! the API tests both ways).
#![allow(dead_code)]

use assetlib::config::Config;
use assetlib_core::AccountId;
use assetlib_core::model::Role;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The stores a test's servers use. The embedded default lives in the data dir; the scale-out
/// pair is made fresh for each test.
#[derive(Debug, Clone, Default)]
pub struct Backend {
    pub database_url: Option<String>,
    pub s3: Option<assetlib_blobs::testing::TestS3>,
}

impl Backend {
    /// The backend `ASSETLIB_TEST_BACKEND` asks for; `test` names the test in messages.
    pub async fn from_env(test: &str) -> Self {
        match std::env::var("ASSETLIB_TEST_BACKEND").as_deref() {
            Ok("postgres-s3") => Self {
                database_url: Some(
                    assetlib_db::testing::fresh_postgres_url()
                        .await
                        .expect("ASSETLIB_TEST_BACKEND=postgres-s3 needs ASSETLIB_TEST_POSTGRES_URL"),
                ),
                s3: Some(
                    assetlib_blobs::testing::fresh_s3(test)
                        .await
                        .expect("ASSETLIB_TEST_BACKEND=postgres-s3 needs ASSETLIB_TEST_S3_*"),
                ),
            },
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
            config.s3_secret_access_key = Some(s3.secret_access_key.clone());
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
    pub base: String,
    pub client: reqwest::Client,
    /// API key of the owner of account 1, made at first start.
    pub key: String,
    pub config: Config,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    running: Option<assetlib::Running>,
}

pub fn test_config(dir: &Path) -> Config {
    Config { data_dir: dir.join("data"), listen: "127.0.0.1:0".into(), workers: 2, ..Config::default() }
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

    /// Polls a queue's detailed status until it leaves Queued/Processing (at most 60 s).
    pub async fn wait_queue(&self, queue: &str) -> Value {
        wait_queue(&self.client, &self.base, &self.key, queue).await
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
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .args(backend.args())
            .envs(backend.env())
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

    pub fn initial_key(&self) -> String {
        let raw = std::fs::read_to_string(self.data_dir.join("initial-credentials.json")).expect("credentials");
        let v: Value = serde_json::from_str(&raw).expect("json");
        v["apiKey"].as_str().expect("apiKey").to_owned()
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
pub fn png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1,
        8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5,
        0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ]
}
