//! `assetlib-bench zip`: how fast a zip of many small files is expanded (SPEC section 4), on the
//! embedded default (SQLite + local files) and, if asked, on PostgreSQL + S3.
//!
//! For each set-up a fresh `assetlib serve` is started; then, one at a time, zips of many small
//! entries (1–4 KiB of random text, `.txt`/`.json`/`.css`, in ten inner folders, deflated) are
//! uploaded through the native `POST /api/v1/accounts/1/assets?key=...`, which answers 202 with
//! an upload id; the upload is polled through `GET /api/v1/accounts/1/uploads/{id}` until it is
//! final. A run's rate is its entries over the time from the 202 to the first poll that sees
//! `completed` (polls are 10 ms apart). The figure judged is the median over the runs.
//!
//! After the runs every entry is checked through the API: each run's folder is listed in full
//! (`GET /api/v1/accounts/1/assets?pathPrefix=...`, paged by cursor) and must hold exactly the
//! zip's entries with their sizes, and a sample of entries is read back
//! (`GET /api/v1/accounts/1/assets/{id}/content`) and compared byte for byte.
//!
//! The zips (about 20 MB each) are larger than the server's default upload limit (10 MiB), so
//! the servers run with `ASSETLIB_MAX_UPLOAD_SIZE` raised; nothing else differs from the
//! defaults. Everything listens on 127.0.0.1 and every wait is bounded.

use crate::procs;
use crate::report::{Machine, loadavg};
use crate::s3client::{Bucket, S3Settings};
use anyhow::{Context, bail};
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const BEGIN: &str = "<!-- assetlib-bench zip: begin (this section is rewritten by every zip run) -->";
pub const END: &str = "<!-- assetlib-bench zip: end -->";

/// The upload limit the servers run with: the zips are larger than the default 10 MiB.
const MAX_UPLOAD_SIZE: u64 = 64 << 20;
const POLL: Duration = Duration::from_millis(10);
const EXTENSIONS: [&str; 3] = ["txt", "json", "css"];

#[derive(clap::Args, Debug)]
pub struct ZipArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// Which set-ups to run: `embedded` (SQLite + local files), `postgres-s3`, or both.
    #[arg(long, value_delimiter = ',', default_value = "embedded")]
    setups: Vec<String>,
    /// Zips uploaded and expanded, one after another.
    #[arg(long, default_value_t = 5)]
    zips: usize,
    /// Entries in each zip (the server's default limit is 10,000).
    #[arg(long, default_value_t = 10_000)]
    entries: usize,
    /// Smallest entry in bytes.
    #[arg(long, default_value_t = 1024)]
    min_size: usize,
    /// Largest entry in bytes.
    #[arg(long, default_value_t = 4096)]
    max_size: usize,
    /// Entries of each zip read back and compared byte for byte.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// Seconds at most for one expansion.
    #[arg(long, default_value_t = 600.0)]
    max_secs: f64,
    /// Target: the median run expands at least this many entries per second (embedded).
    #[arg(long, default_value_t = 5000.0)]
    min_rate: f64,
    /// PostgreSQL for `postgres-s3`: a role that may create databases; the run creates a fresh
    /// database and drops it at the end.
    #[arg(long, env = "BENCH_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// The S3 endpoint for `postgres-s3` (e.g. SeaweedFS from scripts/seaweedfs.sh); the server
    /// gets it and the credentials as the standard `AWS_*` variables.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    s3_endpoint: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    s3_region: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    s3_access_key_id: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    #[command(flatten)]
    pub run: crate::report::RunArgs,
}

/// One zip to upload: its entries' names (inside the zip) and contents, and the archive.
struct BenchZip {
    entries: Vec<(String, Bytes)>,
    archive: Bytes,
}

/// Random printable text (what a deflated `.txt`, `.json` or `.css` entry costs to inflate is
/// close to this), starting with a line that rules out any executable's magic number.
fn entry_body(rng: &mut impl Rng, index: usize, size: usize) -> Bytes {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 {};:,.\"\n";
    let mut body = format!("/* entry {index} */\n").into_bytes();
    while body.len() < size {
        body.push(ALPHABET[rng.random_range(0..ALPHABET.len())]);
    }
    body.truncate(size);
    Bytes::from(body)
}

fn build_zip(rng: &mut impl Rng, args: &ZipArgs) -> anyhow::Result<BenchZip> {
    let entries: Vec<(String, Bytes)> = (0..args.entries)
        .map(|i| {
            let size = rng.random_range(args.min_size..=args.max_size);
            let name = format!("part{:02}/entry{i:05}.{}", i % 10, EXTENSIONS[i % EXTENSIONS.len()]);
            (name, entry_body(rng, i, size))
        })
        .collect();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in &entries {
        w.start_file(name.as_str(), options)?;
        w.write_all(body)?;
    }
    Ok(BenchZip { entries, archive: Bytes::from(w.finish()?.into_inner()) })
}

/// One expansion, timed.
struct Run {
    entries: usize,
    archive_bytes: usize,
    /// Sending the zip until the 202.
    upload: Duration,
    /// The 202 until the first poll that saw the upload final.
    expand: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.entries as f64 / self.expand.as_secs_f64()
    }
}

struct SetupRun {
    name: &'static str,
    detail: String,
    runs: Vec<Run>,
    verified: String,
    loadavg_before: String,
    loadavg_after: String,
}

impl SetupRun {
    fn median_rate(&self) -> f64 {
        let mut rates: Vec<f64> = self.runs.iter().map(Run::rate).collect();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn get_json(&self, target: &str) -> anyhow::Result<Value> {
        let resp = self.http.get(format!("{}{target}", self.base)).bearer_auth(&self.key).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {target}: {status} {}", String::from_utf8_lossy(&body));
        }
        serde_json::from_slice(&body).with_context(|| format!("GET {target}: not JSON"))
    }

    /// Uploads `zip` into `folder`; the upload id from the 202.
    async fn upload_zip(&self, folder: &str, zip: &BenchZip) -> anyhow::Result<String> {
        let url = format!("{}/api/v1/accounts/1/assets?key={folder}/batch.zip", self.base);
        let resp = self.http.post(url).bearer_auth(&self.key).body(zip.archive.clone()).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("uploading the zip into {folder}: {status} {}", String::from_utf8_lossy(&body));
        }
        let v: Value = serde_json::from_slice(&body)?;
        Ok(v["upload"]["id"].as_str().context("202 without upload.id")?.to_owned())
    }

    /// Polls the upload until it is final; its last state.
    async fn wait_final(&self, id: &str, limit: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.get_json(&format!("/api/v1/accounts/1/uploads/{id}")).await?;
            match v["status"].as_str() {
                Some("queued" | "processing") => {}
                Some(_) => return Ok(v),
                None => bail!("upload {id}: no status in {v}"),
            }
            if Instant::now() >= deadline {
                bail!("upload {id} not final after {:.0} s: {v}", limit.as_secs_f64());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every asset under `folder`: key → (id, size).
    async fn list(&self, folder: &str) -> anyhow::Result<HashMap<String, (String, u64)>> {
        let mut out = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut target = format!("/api/v1/accounts/1/assets?pathPrefix={folder}&limit=1000");
            if let Some(c) = &cursor {
                target.push_str(&format!("&cursor={c}"));
            }
            let page = self.get_json(&target).await?;
            for item in page["items"].as_array().context("no items")? {
                let key = item["key"].as_str().context("no key")?.to_owned();
                let id = item["id"].as_str().context("no id")?.to_owned();
                let size = item["size"].as_u64().context("no size")?;
                anyhow::ensure!(out.insert(key.clone(), (id, size)).is_none(), "{key} listed twice");
            }
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn content(&self, id: &str) -> anyhow::Result<Bytes> {
        let url = format!("{}/api/v1/accounts/1/assets/{id}/content", self.base);
        let resp = self.http.get(url).bearer_auth(&self.key).send().await?;
        anyhow::ensure!(resp.status() == reqwest::StatusCode::OK, "content of {id}: {}", resp.status());
        Ok(resp.bytes().await?)
    }
}

/// Checks that `folder` holds exactly `zip`'s entries, with their sizes, and that `sample` of
/// them (spread over the zip) read back byte for byte. Returns the number compared.
async fn verify(api: &Api, folder: &str, zip: &BenchZip, sample: usize) -> anyhow::Result<usize> {
    let listed = api.list(folder).await?;
    anyhow::ensure!(
        listed.len() == zip.entries.len(),
        "{folder}: {} assets listed, the zip has {} entries",
        listed.len(),
        zip.entries.len()
    );
    for (name, body) in &zip.entries {
        let key = format!("{folder}/{name}");
        let (_, size) = listed.get(&key).with_context(|| format!("{key} is not listed"))?;
        anyhow::ensure!(*size == body.len() as u64, "{key}: size {size}, the entry has {}", body.len());
    }
    let step = (zip.entries.len() / sample.max(1)).max(1);
    let mut compared = 0;
    for (name, body) in zip.entries.iter().step_by(step).take(sample) {
        let key = format!("{folder}/{name}");
        let got = api.content(&listed[&key].0).await?;
        anyhow::ensure!(got == *body, "{key}: the content read back differs from the entry");
        compared += 1;
    }
    Ok(compared)
}

async fn run_setup(
    name: &'static str,
    server: &procs::Assetlib,
    detail: String,
    zips: &[BenchZip],
    args: &ZipArgs,
) -> anyhow::Result<SetupRun> {
    let api = Api {
        http: reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?,
        base: format!("http://{}", server.addr),
        key: server.api_key.clone(),
    };
    let loadavg_before = loadavg();
    println!("{name}: assetlib on {} (pid {}); load average {loadavg_before}", server.addr, server.proc.pid());
    let mut runs = Vec::new();
    for (n, zip) in zips.iter().enumerate() {
        let folder = format!("zipbench/run{n}");
        let sent = Instant::now();
        let id = api.upload_zip(&folder, zip).await?;
        let acked = Instant::now();
        let status = api.wait_final(&id, Duration::from_secs_f64(args.max_secs)).await?;
        let expand = acked.elapsed();
        if status["status"] != "completed" {
            bail!("{name}: expansion {n} ended {status}");
        }
        let run = Run { entries: zip.entries.len(), archive_bytes: zip.archive.len(), upload: acked - sent, expand };
        println!(
            "  zip {n}: {} entries, {:.1} MB; upload {:.2} s, expansion {:.2} s: {:.0} entries/s",
            run.entries,
            run.archive_bytes as f64 / 1e6,
            run.upload.as_secs_f64(),
            run.expand.as_secs_f64(),
            run.rate()
        );
        runs.push(run);
    }
    let loadavg_after = loadavg();
    let mut compared = 0;
    for (n, zip) in zips.iter().enumerate() {
        compared += verify(&api, &format!("zipbench/run{n}"), zip, args.sample).await?;
    }
    let total: usize = zips.iter().map(|z| z.entries.len()).sum();
    let verified = format!(
        "all {total} entries listed through the API with their sizes; {compared} read back and equal byte for byte"
    );
    println!("  verified: {verified}");
    Ok(SetupRun { name, detail, runs, verified, loadavg_before, loadavg_after })
}

pub async fn run(args: ZipArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.zips > 0 && args.entries > 0, "--zips and --entries must be positive");
    anyhow::ensure!(args.min_size > 32 && args.min_size <= args.max_size, "need 32 < --min-size <= --max-size");
    for s in &args.setups {
        anyhow::ensure!(matches!(s.as_str(), "embedded" | "postgres-s3"), "unknown set-up '{s}'");
    }
    let machine = Machine::probe();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let work = args.run.temp_dir("assetlib-bench-zip-")?;
    println!("assetlib-bench zip: {assetlib_version}; work dir {}", work.path().display());
    println!("machine: {} cores, {}, {} memory", machine.cores, machine.cpu, machine.memory);
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.run.seed);
    let zips: Vec<BenchZip> = (0..args.zips).map(|_| build_zip(&mut rng, &args)).collect::<anyhow::Result<_>>()?;
    let env = vec![("ASSETLIB_MAX_UPLOAD_SIZE".to_owned(), MAX_UPLOAD_SIZE.to_string())];
    let mut setups = Vec::new();
    if args.setups.iter().any(|s| s == "embedded") {
        let server = procs::start_assetlib_with(&args.assetlib, &work.path().join("embedded"), &[], &env)?;
        let detail = format!("SQLite + local files in `{}` (ext4)", work.path().display());
        setups.push(run_setup("embedded", &server, detail, &zips, &args).await?);
    }
    if args.setups.iter().any(|s| s == "postgres-s3") {
        setups.push(run_postgres_s3(&args, &work.path().join("postgres-s3"), &env, &zips).await?);
    }
    let report = Report {
        header: args.run.header(program_command),
        machine,
        assetlib_version,
        args: &args,
        zips: &zips,
        setups,
    };
    if crate::report::publish(&args.run, BEGIN, END, &report.markdown(), report.pass())? {
        drop(work);
        std::process::exit(2);
    }
    Ok(())
}

async fn run_postgres_s3(
    args: &ZipArgs,
    data_dir: &std::path::Path,
    env: &[(String, String)],
    zips: &[BenchZip],
) -> anyhow::Result<SetupRun> {
    let postgres_url =
        args.postgres_url.as_deref().context("postgres-s3 needs --postgres-url or BENCH_POSTGRES_URL")?;
    let settings = S3Settings {
        endpoint: args.s3_endpoint.clone().context("postgres-s3 needs AWS_ENDPOINT_URL")?.trim_end_matches('/').into(),
        region: args.s3_region.clone(),
        access_key_id: args.s3_access_key_id.clone().context("postgres-s3 needs AWS_ACCESS_KEY_ID")?,
        secret_access_key: args.s3_secret_access_key.clone().context("postgres-s3 needs AWS_SECRET_ACCESS_KEY")?,
    };
    let http = reqwest::Client::new();
    let bucket = Bucket::new(&settings, &format!("bench-zip-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")))?;
    bucket.create(&http).await?;
    bucket.warm_up(&http).await?;
    let db = crate::scaleout::Database::create(postgres_url).await?;
    let flags =
        vec!["--database-url".to_owned(), db.url.clone(), "--blob-store".to_owned(), format!("s3://{}", bucket.name)];
    let mut env = env.to_vec();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), settings.endpoint.clone()),
        ("AWS_REGION".to_owned(), settings.region.clone()),
        ("AWS_ACCESS_KEY_ID".to_owned(), settings.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), settings.secret_access_key.clone()),
    ]);
    let outcome = async {
        let server = procs::start_assetlib_with(&args.assetlib, data_dir, &flags, &env)?;
        let detail =
            format!("PostgreSQL (a fresh database on {}) + S3 at {}", host_of(postgres_url), settings.endpoint);
        run_setup("postgres-s3", &server, detail, zips, args).await
    }
    .await;
    if let Err(e) = db.drop_now().await {
        eprintln!("dropping database {}: {e:#}", db.name);
    }
    outcome
}

/// `host:port` of a URL, without its credentials, for the record.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port().unwrap_or(5432))))
        .unwrap_or_else(|| "?".into())
}

struct Report<'a> {
    header: crate::report::RunHeader,
    machine: Machine,
    assetlib_version: String,
    args: &'a ZipArgs,
    zips: &'a [BenchZip],
    setups: Vec<SetupRun>,
}

impl Report<'_> {
    /// The target is judged on the embedded default only.
    fn pass(&self) -> bool {
        self.setups.iter().filter(|s| s.name == "embedded").all(|s| s.median_rate() >= self.args.min_rate)
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(out, "## Zip expansion: many small entries\n");
        self.header.write(&mut out, &self.machine, None);
        let entries = self.zips.first().map_or(0, |z| z.entries.len());
        let mb: Vec<String> = self.zips.iter().map(|z| format!("{:.1}", z.archive.len() as f64 / 1e6)).collect();
        let _ = writeln!(
            out,
            "- Server: {}, default configuration but `ASSETLIB_MAX_UPLOAD_SIZE={MAX_UPLOAD_SIZE}` (the zips \
             exceed the default 10 MiB); server and client share the machine's cores.",
            self.assetlib_version
        );
        let _ = writeln!(
            out,
            "- Load: {} zips of {entries} entries each ({} to {} bytes of random text, `.txt`/`.json`/`.css` \
             in ten inner folders, deflated; {} MB per zip), uploaded one at a time through the native \
             `POST /api/v1/accounts/1/assets?key=…/batch.zip` (202), then `GET /api/v1/accounts/1/uploads/{{id}}` \
             polled every {} ms. A run's rate: its entries over the time from the 202 to the first poll that \
             saw `completed`.",
            self.zips.len(),
            self.args.min_size,
            self.args.max_size,
            mb.join(", "),
            POLL.as_millis()
        );
        for s in &self.setups {
            let _ = writeln!(
                out,
                "- {}: {}; `/proc/loadavg` before the runs: {}, after: {}",
                s.name, s.detail, s.loadavg_before, s.loadavg_after
            );
            let _ = writeln!(out, "- {} checked: {}", s.name, s.verified);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "| set-up | run | entries | zip MB | upload s | expansion s | entries/s |");
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for s in &self.setups {
            for (n, r) in s.runs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "| {} | {n} | {} | {:.1} | {:.2} | {:.2} | {:.0} |",
                    s.name,
                    r.entries,
                    r.archive_bytes as f64 / 1e6,
                    r.upload.as_secs_f64(),
                    r.expand.as_secs_f64(),
                    r.rate()
                );
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "| set-up | p50 entries/s | target | |");
        let _ = writeln!(out, "| --- | ---: | --- | --- |");
        for s in &self.setups {
            let (target, verdict) = if s.name == "embedded" {
                let pass = s.median_rate() >= self.args.min_rate;
                (format!("≥ {:.0}", self.args.min_rate), if pass { "PASS" } else { "**MISS**" })
            } else {
                ("none (for comparison)".to_owned(), "")
            };
            let _ = writeln!(out, "| {} | {:.0} | {target} | {verdict} |", s.name, s.median_rate());
        }
        let _ = writeln!(out, "{END}");
        out
    }
}
