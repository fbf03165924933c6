//! Test harness: the real server on 127.0.0.1:0, in this process ([`TestApp`]) or as a child
//! process that can be killed ([`ServerProcess`]), and helpers that talk HTTP to it.
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

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// API key of the owner of account 1, made at first start.
    pub key: String,
    pub config: Config,
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
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let running = assetlib::start(&config).await.expect("server starts");
        let key = running.initial_credentials.as_ref().expect("first start makes credentials").api_key.clone();
        Self {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            key,
            config,
            dir,
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
        let mut form = Form::new();
        if let Some(path) = path {
            form = form.text("path", path.to_owned());
        }
        form = form.part("file", Part::bytes(bytes).file_name(name.to_owned()));
        self.client
            .post(self.url(&format!("/v2/accounts/{account}/asset-library")))
            .header("jvx_apikey", key)
            .multipart(form)
            .send()
            .await
            .expect("request")
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
    /// Starts `assetlib serve` on 127.0.0.1:0 and waits for its "listening" line.
    pub fn start(data_dir: &Path, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
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
