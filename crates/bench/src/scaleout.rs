//! `assetlib-bench scaleout`: assetlib scaled out (PostgreSQL + an S3 store) against the S3 store
//! alone, in one run on this machine:
//!
//! 1. the upload and GET benchmark of the embedded run (same files, concurrency and client)
//!    against `assetlib serve --database-url postgres://... --blob-store s3://...`,
//! 2. the same bytes PUT (through `object_store`, signed as assetlib signs its writes) and GOT
//!    (the same hyper client, presigned URLs) straight from the store's S3 API at the same
//!    concurrency,
//! 3. listing: a library of 1,000,000 assets loaded in bulk into SQLite and into PostgreSQL, one
//!    page of 100 of one folder through Jivox Get Assets, p50 and p99, beside ListObjectsV2 with a
//!    delimiter on the same keys in the store,
//!
//! then prints the figures against the targets and can rewrite its own section of
//! BENCHMARKS.md. The store (SeaweedFS) and PostgreSQL are started by
//! `scripts/bench-scaleout.sh`; this program makes a fresh database (dropped at the end) and
//! fresh buckets, and starts and stops every assetlib it uses.

use crate::LoadArgs;
use crate::library::{self, Library};
use crate::listing::{self, Api, ListPlan, PageRequest};
use crate::load::{self, BenchFile, GetPlan, Probe, Stats};
use crate::procs::{self, GroupMeter, GroupUse, Pick};
use crate::report::Machine;
use crate::s3client::{Bucket, S3Settings, target_of};
use anyhow::{Context, bail};
use rand::SeedableRng;
use sqlx::Connection;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct ScaleoutArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// A PostgreSQL URL whose role may create databases; the run creates a fresh database next
    /// to the one it names and drops it at the end. (An environment variable rather than a
    /// flag keeps its password out of the recorded command line.)
    #[arg(long, env = "BENCH_POSTGRES_URL", hide_env_values = true)]
    postgres_url: String,
    /// Keep the run's database (it holds the million-asset library) instead of dropping it.
    #[arg(long)]
    keep_database: bool,
    /// The S3 endpoint, e.g. http://127.0.0.1:28333 (a private SeaweedFS); the assetlib servers
    /// get it and the credentials as the standard `AWS_*` variables.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    s3_endpoint: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// The S3 credentials (best given by their variables: the command line is recorded).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    s3_access_key_id: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: String,
    /// The S3 store's process (SeaweedFS: `weed server`, one process), for its CPU figures.
    #[arg(long)]
    s3_pid: Option<u32>,
    /// The S3 store's name and version, for the record.
    #[arg(long, default_value = "unknown S3 store")]
    s3_version: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Assets in the listing library.
    #[arg(long, default_value_t = 1_000_000)]
    library_assets: usize,
    /// Folders holding the library's files (`clients/brand-NN/campaign-NNN`).
    #[arg(long, default_value_t = 1000)]
    library_folders: usize,
    /// Brands the folders are spread over.
    #[arg(long, default_value_t = 20)]
    library_brands: usize,
    /// Entries per listing page.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Timed listing requests per side (after the warm-up).
    #[arg(long, default_value_t = 1000)]
    list_requests: usize,
    #[arg(long, default_value_t = 100)]
    list_warmup: usize,
    /// At most this many objects put into the S3 listing bucket: the measured folder's, then
    /// its sibling folders' (the whole brand if it fits).
    #[arg(long, default_value_t = 60_000)]
    s3_list_max_objects: usize,
    /// Target: assetlib upload req/s at least this times raw S3 PUT's.
    #[arg(long, default_value_t = 0.7)]
    min_upload_ratio: f64,
    /// Target: assetlib GET req/s at least this times raw S3 GET's.
    #[arg(long, default_value_t = 0.9)]
    min_get_ratio: f64,
    /// Target: listing p50 at most this many milliseconds on each database.
    #[arg(long, default_value_t = 5.0)]
    max_list_p50_ms: f64,
    /// Directory for the temporary data (default: the system's temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Rewrite the scale-out section of this Markdown file (e.g. BENCHMARKS.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// The command to record in the Markdown (default: this program's command line).
    #[arg(long)]
    command: Option<String>,
    /// What was measured, e.g. a commit, recorded in the Markdown.
    #[arg(long)]
    label: Option<String>,
    /// Exit with status 2 when a target is missed.
    #[arg(long)]
    strict: bool,
    /// Skip the upload phases with the S3 store on a core of its own (they need `taskset`, two
    /// cores or more and `--s3-pid`, and are skipped without them).
    #[arg(long)]
    skip_own_core: bool,
    /// Seed of the file contents (the embedded run's default: the same bytes).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// The CPU of each party over a phase; `None` where the party takes no part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parties {
    pub assetlib: Option<GroupUse>,
    pub s3: Option<GroupUse>,
    pub postgres: Option<GroupUse>,
    pub client: GroupUse,
    /// Cores busy in other processes meanwhile (the whole machine's busy time less the parties'):
    /// other work on the machine that the figures shared it with.
    pub others_cores: f64,
}

impl Parties {
    /// CPU cores busy in all parties together.
    pub fn cores(&self) -> f64 {
        [self.assetlib, self.s3, self.postgres].iter().flatten().map(|g| g.cores).sum::<f64>() + self.client.cores
    }

    fn with_machine(mut self, machine_cores: f64) -> Self {
        self.others_cores = (machine_cores - self.cores()).max(0.0);
        self
    }
}

/// One measured phase.
pub struct Phase {
    pub stats: Stats,
    pub cpu: Parties,
}

/// The library and how it was loaded.
pub struct LibraryFacts {
    pub assets: usize,
    pub folder_rows: usize,
    pub leaves: usize,
    pub brands: usize,
    pub min_files: usize,
    pub max_files: usize,
    pub measured_folder: String,
    pub measured_files: usize,
    pub pages: usize,
    pub sqlite_load: Duration,
    pub postgres_load: Duration,
    pub postgres_vacuum: Duration,
    pub s3_objects: usize,
    pub s3_folders: usize,
    pub s3_brand_complete: bool,
    pub s3_put: Duration,
}

/// Uploads through assetlib and straight to S3 with the S3 store bound to one core and
/// everything else of the run to the others, as if the store had a machine of its own.
pub struct OwnCore {
    pub store_core: usize,
    pub upload: Phase,
    pub s3_put: Phase,
}

impl OwnCore {
    pub fn upload_ratio(&self) -> f64 {
        self.upload.stats.rps() / self.s3_put.stats.rps()
    }
}

/// Everything one scale-out run measured.
pub struct ScaleoutResults {
    pub date: String,
    pub command: String,
    pub program_command: String,
    pub label: Option<String>,
    pub machine: Machine,
    /// `/proc/loadavg` when the run began: other work on the machine shows here.
    pub loadavg_before: String,
    pub assetlib_version: String,
    pub s3_version: String,
    pub postgres_version: String,
    pub files: usize,
    pub file_size: usize,
    pub upload_concurrency: usize,
    pub get_concurrency: usize,
    pub get_secs: f64,
    pub warmup_secs: f64,
    pub page_size: usize,
    pub list_requests: usize,
    pub list_warmup: usize,
    pub upload: Phase,
    pub s3_put: Phase,
    pub get: Phase,
    /// The same GETs from assetlib restarted on the same stores with its blob cache off;
    /// `None` when skipped (`--skip-uncached`).
    pub get_uncached: Option<Phase>,
    pub s3_get: Phase,
    /// The uploads again with the S3 store on a core of its own; `None` when skipped.
    pub own_core: Option<OwnCore>,
    pub library: LibraryFacts,
    pub list_sqlite: Phase,
    pub list_postgres: Phase,
    pub list_s3: Phase,
    pub min_upload_ratio: f64,
    pub min_get_ratio: f64,
    pub max_list_p50_ms: f64,
}

impl ScaleoutResults {
    pub fn upload_ratio(&self) -> f64 {
        self.upload.stats.rps() / self.s3_put.stats.rps()
    }
    pub fn get_ratio(&self) -> f64 {
        self.get.stats.rps() / self.s3_get.stats.rps()
    }
    /// The GET ratio with assetlib's blob cache off (for information: the target is the default
    /// configuration's).
    pub fn uncached_get_ratio(&self) -> Option<f64> {
        self.get_uncached.as_ref().map(|p| p.stats.rps() / self.s3_get.stats.rps())
    }
    pub fn upload_ok(&self) -> bool {
        self.upload_ratio() >= self.min_upload_ratio
    }
    pub fn get_ok(&self) -> bool {
        self.get_ratio() >= self.min_get_ratio
    }
    pub fn list_ok(&self, phase: &Phase) -> bool {
        phase.stats.percentile_ms(50.0) <= self.max_list_p50_ms
    }
    pub fn all_ok(&self) -> bool {
        self.upload_ok() && self.get_ok() && self.list_ok(&self.list_sqlite) && self.list_ok(&self.list_postgres)
    }
}

/// Who is measured: the processes of each party.
#[derive(Clone)]
struct Picks {
    s3: Option<Pick>,
    postgres: Option<Pick>,
}

impl Picks {
    /// Starts a meter over `assetlib` (if running) and whichever of the store and the database
    /// take part.
    fn meter(&self, assetlib: Option<u32>, s3: bool, postgres: bool) -> (GroupMeter, [bool; 3]) {
        let none = Pick::Pids(vec![]);
        let picks = [
            assetlib.map_or(none.clone(), |pid| Pick::Pids(vec![pid])),
            self.s3.clone().filter(|_| s3).unwrap_or(none.clone()),
            self.postgres.clone().filter(|_| postgres).unwrap_or(none),
            Pick::Pids(vec![std::process::id()]),
        ];
        let present = [assetlib.is_some(), s3 && self.s3.is_some(), postgres && self.postgres.is_some()];
        (GroupMeter::start(&picks), present)
    }
}

/// The parties' CPU from a meter's groups (see [`Picks::meter`]) and the machine's busy cores.
fn parties(used: Vec<GroupUse>, present: [bool; 3], machine_cores: f64) -> Parties {
    let at = |i: usize| used.get(i).copied().unwrap_or_default();
    Parties {
        assetlib: present[0].then(|| at(0)),
        s3: present[1].then(|| at(1)),
        postgres: present[2].then(|| at(2)),
        client: at(3),
        others_cores: 0.0,
    }
    .with_machine(machine_cores)
}

/// A finished phase: its stats and the CPU its meter saw.
fn phase(stats: Stats, meter: &GroupMeter, present: [bool; 3]) -> Phase {
    let used = meter.finish(stats.completed_all);
    Phase { cpu: parties(used, present, meter.machine_cores()), stats }
}

/// The fresh database of the run; dropped by [`Database::drop_now`].
pub(crate) struct Database {
    admin_url: String,
    pub(crate) name: String,
    pub(crate) url: String,
}

impl Database {
    pub(crate) async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("assetlib_bench_{}_{}", chrono::Utc::now().format("%Y%m%d%H%M%S"), std::process::id());
        let mut url = reqwest::Url::parse(admin_url).context("the PostgreSQL URL does not parse")?;
        url.set_path(&format!("/{name}"));
        let mut admin = sqlx::PgConnection::connect(admin_url).await.context("connecting to PostgreSQL")?;
        // The name is made here of digits, letters and underscores.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("creating the database")?;
        admin.close().await?;
        Ok(Self { admin_url: admin_url.to_owned(), name, url: url.to_string() })
    }

    /// The database `name` (kept by an earlier run) on the server of `admin_url`.
    pub(crate) fn existing(admin_url: &str, name: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "'{name}' is not a database name this program makes"
        );
        let mut url = reqwest::Url::parse(admin_url).context("the PostgreSQL URL does not parse")?;
        url.set_path(&format!("/{name}"));
        Ok(Self { admin_url: admin_url.to_owned(), name: name.to_owned(), url: url.to_string() })
    }

    pub(crate) async fn drop_now(&self) -> anyhow::Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await?;
        admin.close().await?;
        Ok(())
    }

    /// The server version and the postmaster's pid (the parent of this connection's backend).
    async fn server_facts(&self) -> anyhow::Result<(String, Option<u32>)> {
        let mut conn = sqlx::PgConnection::connect(&self.url).await?;
        let version: String = sqlx::query_scalar("SHOW server_version").fetch_one(&mut conn).await?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await?;
        let postmaster = std::fs::read_to_string(format!("/proc/{backend}/stat")).ok().and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().nth(1)?.parse().ok()
        });
        conn.close().await?;
        Ok((format!("PostgreSQL {version}"), postmaster))
    }
}

/// What the first start of a server wrote: its owner's user id.
fn owner_of(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("initial-credentials.json");
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    Ok(creds["userId"].as_str().context("initial-credentials.json has no userId")?.to_owned())
}

fn socket_addr_of(endpoint: &str) -> anyhow::Result<SocketAddr> {
    let url = reqwest::Url::parse(endpoint).context("the S3 endpoint does not parse")?;
    anyhow::ensure!(url.scheme() == "http", "the benchmark's clients speak plain HTTP to the S3 endpoint");
    let host = url.host_str().context("the S3 endpoint has no host")?;
    let port = url.port_or_known_default().context("the S3 endpoint has no port")?;
    Ok(SocketAddr::new(host.parse().context("the S3 endpoint must be an IP address")?, port))
}

pub async fn run(args: ScaleoutArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.load.files > 0 && args.load.file_size > 0, "--files and --file-size must be positive");
    anyhow::ensure!(
        args.load.verify_every > 0 && args.page_size > 0,
        "--verify-every and --page-size must be positive"
    );
    let machine = Machine::probe();
    let loadavg_before = crate::report::loadavg();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let tmp = crate::report::temp_dir_in(args.work_dir.as_deref(), "assetlib-bench-scaleout-")?;
    println!("assetlib-bench scaleout: {assetlib_version}, {}; work dir {}", args.s3_version, tmp.path().display());
    println!(
        "machine: {} cores, {}, {} memory (the client shares these cores with the servers)",
        machine.cores, machine.cpu, machine.memory
    );
    let db = Database::create(&args.postgres_url).await?;
    println!("database {}", db.name);
    println!("load average before the run: {loadavg_before}");
    // On Ctrl-C the run's future is dropped (its servers stop with it) and the database still goes.
    let outcome = tokio::select! {
        outcome = run_with_database(&args, &db, tmp.path(), machine, assetlib_version, program_command) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if args.keep_database {
        println!("kept database {}", db.name);
    } else if let Err(e) = db.drop_now().await {
        eprintln!("could not drop database {}: {e:#}", db.name);
    }
    let mut results = outcome?;
    results.loadavg_before = loadavg_before;
    print!("{}", crate::scaleout_report::text(&results));
    if let Some(path) = &args.markdown {
        crate::scaleout_report::write_markdown(path, &results)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.strict && !results.all_ok() {
        drop(tmp);
        std::process::exit(2);
    }
    Ok(())
}

async fn run_with_database(
    args: &ScaleoutArgs,
    db: &Database,
    work: &Path,
    machine: Machine,
    assetlib_version: String,
    program_command: String,
) -> anyhow::Result<ScaleoutResults> {
    let (postgres_version, postmaster) = db.server_facts().await?;
    let picks = Picks {
        s3: args.s3_pid.map(|pid| Pick::Pids(vec![pid])),
        postgres: postmaster.map(|parent| Pick::ChildrenTitled { parent, title: format!(" {} ", db.name) }),
    };
    let settings = S3Settings {
        endpoint: args.s3_endpoint.trim_end_matches('/').to_owned(),
        region: args.s3_region.clone(),
        access_key_id: args.s3_access_key_id.clone(),
        secret_access_key: args.s3_secret_access_key.clone(),
    };
    let s3_addr = socket_addr_of(&settings.endpoint)?;
    let http = load::upload_client(args.load.get_concurrency)?;
    let suffix = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let buckets = [
        Bucket::new(&settings, &format!("bench-assetlib-{suffix}"))?,
        Bucket::new(&settings, &format!("bench-raw-{suffix}"))?,
        Bucket::new(&settings, &format!("bench-listing-{suffix}"))?,
    ];
    for b in &buckets {
        b.create(&http).await?;
        b.warm_up(&http).await?;
    }
    let [asset_bucket, raw_bucket, list_bucket] = buckets;
    println!("S3 {} buckets {}, {}, {}", settings.endpoint, asset_bucket.name, raw_bucket.name, list_bucket.name);

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let files: Arc<Vec<BenchFile>> = Arc::new(
        (0..args.load.files)
            .map(|i| BenchFile::new("bench", format!("f{i:05}.jpg"), crate::random_body(&mut rng, args.load.file_size)))
            .collect(),
    );
    let plan = GetPlan {
        probe: Probe::Full,
        concurrency: args.load.get_concurrency,
        warmup: Duration::from_secs_f64(args.load.warmup_secs),
        duration: Duration::from_secs_f64(args.load.get_secs),
        max_requests: args.load.max_get_requests,
        verify_every: args.load.verify_every,
    };
    let upload_deadline = Duration::from_secs(600);

    // The scale-out server: PostgreSQL + S3.
    let pg_dir = work.join("assetlib-pg-s3");
    let pg_flags = vec![
        "--database-url".to_owned(),
        db.url.clone(),
        "--blob-store".to_owned(),
        format!("s3://{}", asset_bucket.name),
    ];
    let pg_env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), settings.endpoint.clone()),
        ("AWS_REGION".to_owned(), settings.region.clone()),
        ("AWS_ACCESS_KEY_ID".to_owned(), settings.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), settings.secret_access_key.clone()),
    ];
    let (upload, get, get_uncached) = {
        let server = procs::start_assetlib_with(&args.assetlib, &pg_dir, &pg_flags, &pg_env)?;
        let pid = server.proc.pid();
        println!("assetlib on PostgreSQL + S3 on {} (pid {pid})", server.addr);
        println!(
            "uploading {} files of {} bytes through assetlib, concurrency {} ...",
            args.load.files, args.load.file_size, args.load.upload_concurrency
        );
        let (meter, present) = picks.meter(Some(pid), true, true);
        let target = load::UploadTarget::Jivox { addr: server.addr, api_key: server.api_key.clone() };
        let stats = load::upload_all(target, files.clone(), args.load.upload_concurrency, upload_deadline)
            .await
            .context("upload phase, assetlib")?;
        let upload = phase(stats, &meter, present);
        report_phase(&upload);
        println!("GET /files from assetlib, concurrency {} ...", args.load.get_concurrency);
        let (meter, present) = picks.meter(Some(pid), true, true);
        let stats = load::get_load(server.addr, files.clone(), plan).await.context("GET phase, assetlib")?;
        let get = phase(stats, &meter, present);
        report_phase(&get);
        drop(server);
        let mut get_uncached = None;
        if !args.load.skip_uncached {
            // The same stores and flags, so the same files; only the blob cache differs.
            let mut env = pg_env.clone();
            env.push(procs::blob_cache_off());
            let server = procs::start_assetlib_with(&args.assetlib, &pg_dir, &pg_flags, &env)?;
            let pid = server.proc.pid();
            println!(
                "GET /files from assetlib restarted with its blob cache off (pid {pid}), concurrency {} ...",
                args.load.get_concurrency
            );
            let (meter, present) = picks.meter(Some(pid), true, true);
            let stats = load::get_load(server.addr, files.clone(), plan)
                .await
                .context("GET phase, assetlib, blob cache off")?;
            let p = phase(stats, &meter, present);
            report_phase(&p);
            get_uncached = Some(p);
        }
        (upload, get, get_uncached)
    }; // stopped: the raw S3 phases run with the store alone

    // The same bytes straight to and from S3, same clients, same concurrency.
    let mut put_keys = Vec::with_capacity(files.len());
    let mut raw_files = Vec::with_capacity(files.len());
    for f in files.iter() {
        let key = format!("{}/{}", f.folder, f.name);
        put_keys.push(object_store::path::Path::parse(&key)?);
        let mut raw = f.clone();
        raw.get_target = target_of(&raw_bucket.presign(reqwest::Method::GET, &key, &[]).await?);
        raw_files.push(raw);
    }
    let raw_files = Arc::new(raw_files);
    println!("PUT {} files straight to S3, concurrency {} ...", args.load.files, args.load.upload_concurrency);
    let (meter, present) = picks.meter(None, true, false);
    let stats = load::upload_all(
        load::UploadTarget::S3Put { store: raw_bucket.store(), keys: put_keys },
        raw_files.clone(),
        args.load.upload_concurrency,
        upload_deadline,
    )
    .await
    .context("raw S3 PUT phase")?;
    let s3_put = phase(stats, &meter, present);
    report_phase(&s3_put);
    println!("GET straight from S3, concurrency {} ...", args.load.get_concurrency);
    let (meter, present) = picks.meter(None, true, false);
    let stats = load::get_load(s3_addr, raw_files, plan).await.context("raw S3 GET phase")?;
    let s3_get = phase(stats, &meter, present);
    report_phase(&s3_get);

    // The uploads again, with the store on a core of its own.
    let own_core = match (args.skip_own_core, args.s3_pid, postmaster) {
        (false, Some(store), Some(postmaster)) if machine.cores >= 2 => {
            let core = machine.cores - 1;
            let server = procs::start_assetlib_with(&args.assetlib, &pg_dir, &pg_flags, &pg_env)?;
            let pid = server.proc.pid();
            match Placement::bind(store, core, vec![std::process::id(), pid, postmaster], picks.postgres.clone()) {
                Err(e) => {
                    println!("not measuring with the store on a core of its own: {e:#}");
                    None
                }
                Ok(placement) => {
                    let files: Arc<Vec<BenchFile>> = Arc::new(
                        files.iter().map(|f| BenchFile::new("own-core", f.name.clone(), f.body.clone())).collect(),
                    );
                    println!(
                        "uploading the files again through assetlib (pid {pid}), SeaweedFS alone on core {core} ..."
                    );
                    let (meter, present) = picks.meter(Some(pid), true, true);
                    let target = load::UploadTarget::Jivox { addr: server.addr, api_key: server.api_key.clone() };
                    let stats = load::upload_all(target, files.clone(), args.load.upload_concurrency, upload_deadline)
                        .await
                        .context("upload phase, assetlib, store on a core of its own")?;
                    let upload = phase(stats, &meter, present);
                    report_phase(&upload);
                    drop(server);
                    let keys = files
                        .iter()
                        .map(|f| object_store::path::Path::parse(format!("{}/{}", f.folder, f.name)))
                        .collect::<Result<Vec<_>, _>>()?;
                    println!("PUT the files again straight to S3, SeaweedFS alone on core {core} ...");
                    let (meter, present) = picks.meter(None, true, false);
                    let target = load::UploadTarget::S3Put { store: raw_bucket.store(), keys };
                    let stats = load::upload_all(target, files, args.load.upload_concurrency, upload_deadline)
                        .await
                        .context("raw S3 PUT phase, store on a core of its own")?;
                    let s3_put = phase(stats, &meter, present);
                    report_phase(&s3_put);
                    drop(placement);
                    Some(OwnCore { store_core: core, upload, s3_put })
                }
            }
        }
        _ => None,
    };
    drop(files);

    // Listing.
    let lib = Library::new(1, args.library_assets, args.library_folders, args.library_brands)?;
    let folder = lib.measured_folder().to_owned();
    let list_plan =
        ListPlan { warmup: args.list_warmup, requests: args.list_requests, deadline: Duration::from_secs(300) };
    println!(
        "library: {} assets in {} folders ({} folder rows); timed folder {folder} ({} files)",
        lib.total(),
        lib.leaves.len(),
        lib.folders.len(),
        lib.leaves[lib.measured].1
    );

    println!("loading the library into PostgreSQL ...");
    let owner = owner_of(&pg_dir)?;
    let (postgres_load, postgres_vacuum) = library::load_postgres(&db.url, &lib, &owner).await?;
    println!("  {:.1} s, VACUUM ANALYZE {:.1} s", postgres_load.as_secs_f64(), postgres_vacuum.as_secs_f64());
    let (list_postgres, pg_pages) = {
        let server = procs::start_assetlib_with(&args.assetlib, &pg_dir, &pg_flags, &pg_env)?;
        time_jivox(&server, &lib, &folder, args.page_size, &list_plan, &picks, true).await?
    };
    report_phase(&list_postgres);

    let sqlite_dir = work.join("assetlib-sqlite");
    let server = procs::start_assetlib(&args.assetlib, &sqlite_dir)?;
    drop(server); // its migrations have run and account 1 exists
    println!("loading the library into SQLite ...");
    let sqlite_load = library::load_sqlite(&sqlite_dir.join("assetlib.db"), &lib, &owner_of(&sqlite_dir)?).await?;
    println!("  {:.1} s", sqlite_load.as_secs_f64());
    let (list_sqlite, sqlite_pages) = {
        let server = procs::start_assetlib(&args.assetlib, &sqlite_dir)?;
        time_jivox(&server, &lib, &folder, args.page_size, &list_plan, &picks, false).await?
    };
    report_phase(&list_sqlite);
    let names = |pages: &[PageRequest]| pages.iter().map(|p| p.names.clone()).collect::<Vec<_>>();
    anyhow::ensure!(names(&pg_pages) == names(&sqlite_pages), "SQLite and PostgreSQL list the folder differently");

    // The same keys in S3: the timed folder's, then its siblings' while they fit.
    let (_, brand_leaves) = lib.measured_brand();
    let mut put_folders = vec![(folder.clone(), lib.leaves[lib.measured].1)];
    put_folders.extend(brand_leaves.iter().filter(|(p, _)| *p != folder).cloned());
    let mut keys = Vec::new();
    let mut s3_folders = 0;
    for (path, n) in &put_folders {
        if keys.len() + n > args.s3_list_max_objects && s3_folders > 0 {
            break;
        }
        keys.extend((1..=*n).map(|i| format!("{path}/{}", library::file_name(i))));
        s3_folders += 1;
    }
    let s3_brand_complete = s3_folders == put_folders.len();
    println!("putting {} empty objects ({s3_folders} folders) into {} ...", keys.len(), list_bucket.name);
    let s3_put_time = put_empty(&list_bucket, keys.clone(), 32).await?;
    println!("  {:.1} s", s3_put_time.as_secs_f64());
    let prefix = format!("{folder}/");
    let s3_pages = listing::walk_s3(s3_addr, &list_bucket, &prefix, args.page_size, 100_000).await?;
    anyhow::ensure!(names(&s3_pages) == names(&pg_pages), "S3 lists the folder differently from assetlib");
    println!("ListObjectsV2 of {prefix}, {} pages, one at a time ...", s3_pages.len());
    let s3_picks = [Pick::Pids(vec![]), picks.s3.clone().unwrap_or(Pick::Pids(vec![])), Pick::Pids(vec![])];
    let (stats, used, busy) =
        listing::time_pages(s3_addr, Api::S3, &prefix, &s3_pages, &list_plan, &with_client(&s3_picks)).await?;
    let list_s3 = Phase { stats, cpu: parties(used, [false, picks.s3.is_some(), false], busy) };
    report_phase(&list_s3);

    let library = LibraryFacts {
        assets: lib.total(),
        folder_rows: lib.folders.len(),
        leaves: lib.leaves.len(),
        brands: args.library_brands,
        min_files: lib.leaves.iter().map(|l| l.1).min().unwrap_or(0),
        max_files: lib.leaves.iter().map(|l| l.1).max().unwrap_or(0),
        measured_folder: folder,
        measured_files: lib.leaves[lib.measured].1,
        pages: pg_pages.len(),
        sqlite_load,
        postgres_load,
        postgres_vacuum,
        s3_objects: keys.len(),
        s3_folders,
        s3_brand_complete,
        s3_put: s3_put_time,
    };
    Ok(ScaleoutResults {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: args.command.clone().unwrap_or_else(|| program_command.clone()),
        program_command,
        label: args.label.clone(),
        machine,
        loadavg_before: String::new(),
        assetlib_version,
        s3_version: args.s3_version.clone(),
        postgres_version,
        files: args.load.files,
        file_size: args.load.file_size,
        upload_concurrency: args.load.upload_concurrency,
        get_concurrency: args.load.get_concurrency,
        get_secs: args.load.get_secs,
        warmup_secs: args.load.warmup_secs,
        page_size: args.page_size,
        list_requests: args.list_requests,
        list_warmup: args.list_warmup,
        upload,
        s3_put,
        get,
        get_uncached,
        s3_get,
        own_core,
        library,
        list_sqlite,
        list_postgres,
        list_s3,
        min_upload_ratio: args.min_upload_ratio,
        min_get_ratio: args.min_get_ratio,
        max_list_p50_ms: args.max_list_p50_ms,
    })
}

/// Processes bound to cores for the own-core phases; dropping it gives them all cores back.
struct Placement {
    pids: Vec<u32>,
    /// PostgreSQL's backends for the run's database: those forked while the postmaster was
    /// bound are bound too.
    backends: Option<Pick>,
    all: String,
}

impl Placement {
    /// Binds every thread of `store` to core `core`, and `others` (and what they start from
    /// now on) and the `backends` running now to the cores below it.
    fn bind(store: u32, core: usize, others: Vec<u32>, backends: Option<Pick>) -> anyhow::Result<Self> {
        let rest = if core == 1 { "0".to_owned() } else { format!("0-{}", core - 1) };
        let mut placement = Self { pids: vec![], backends, all: format!("0-{core}") };
        taskset(&core.to_string(), store)?;
        placement.pids.push(store);
        let running = placement.backends.as_ref().map(Pick::pids).unwrap_or_default();
        for pid in others.into_iter().chain(running) {
            taskset(&rest, pid)?;
            placement.pids.push(pid);
        }
        Ok(placement)
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        let backends = self.backends.as_ref().map(Pick::pids).unwrap_or_default();
        for &pid in self.pids.iter().chain(&backends) {
            if let Err(e) = taskset(&self.all, pid) {
                eprintln!("could not give process {pid} all cores back: {e:#}");
            }
        }
    }
}

/// `taskset -a -p -c CORES PID`: every thread of `pid`, and the threads and children it
/// makes later, run on `cores` only.
fn taskset(cores: &str, pid: u32) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running taskset")?;
    anyhow::ensure!(status.success(), "taskset -a -p -c {cores} {pid}: {status}");
    Ok(())
}

/// `picks` (assetlib, store, database) and this program.
fn with_client(picks: &[Pick; 3]) -> Vec<Pick> {
    let mut all = picks.to_vec();
    all.push(Pick::Pids(vec![std::process::id()]));
    all
}

/// Walks the timed folder through `server`'s Get Assets, then times its pages.
async fn time_jivox(
    server: &procs::Assetlib,
    lib: &Library,
    folder: &str,
    page_size: usize,
    plan: &ListPlan,
    picks: &Picks,
    postgres: bool,
) -> anyhow::Result<(Phase, Vec<PageRequest>)> {
    let engine = if postgres { "PostgreSQL + S3" } else { "SQLite" };
    let pages = listing::walk_jivox(server.addr, &server.api_key, lib.account, folder, page_size, 100_000).await?;
    let expected = lib.leaves[lib.measured].1 / page_size;
    if pages.len() != expected {
        bail!("assetlib on {engine} gave {} full pages of {folder}, expected {expected}", pages.len());
    }
    println!("Get Assets of {folder} from assetlib on {engine}, {} pages, one at a time ...", pages.len());
    let none = Pick::Pids(vec![]);
    let pg = picks.postgres.clone().filter(|_| postgres);
    let group = [Pick::Pids(vec![server.proc.pid()]), none.clone(), pg.clone().unwrap_or(none)];
    let (stats, used, busy) =
        listing::time_pages(server.addr, Api::Jivox, "", &pages, plan, &with_client(&group)).await?;
    Ok((Phase { stats, cpu: parties(used, [true, false, pg.is_some()], busy) }, pages))
}

/// PUTs an empty object at each key, `concurrency` at a time (signing as it goes).
async fn put_empty(bucket: &Bucket, keys: Vec<String>, concurrency: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = load::upload_client(concurrency)?;
    let keys = Arc::new(keys);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bucket = Arc::new(bucket.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, keys, next, bucket) = (client.clone(), keys.clone(), next.clone(), bucket.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(key) = keys.get(i) else { break };
                if started.elapsed() > Duration::from_secs(600) {
                    bail!("the listing objects were not all put within 600 s");
                }
                let url = bucket.presign(reqwest::Method::PUT, key, &[]).await?;
                load::put_one(&client, &url, bytes::Bytes::new()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(started.elapsed())
}

fn report_phase(phase: &Phase) {
    let s = &phase.stats;
    let us = |g: Option<GroupUse>| g.map_or("-".to_owned(), |g| format!("{:.0}", g.us_per_req));
    println!(
        "  {} requests, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; CPU us/request: assetlib {}, S3 store {}, PostgreSQL {}, client {:.0}; {:.2} cores busy, {:.2} in other processes",
        s.requests,
        s.rps(),
        s.percentile_ms(50.0),
        s.percentile_ms(99.0),
        us(phase.cpu.assetlib),
        us(phase.cpu.s3),
        us(phase.cpu.postgres),
        phase.cpu.client.us_per_req,
        phase.cpu.cores(),
        phase.cpu.others_cores
    );
}
