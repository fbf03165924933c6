//! `assetlib-bench`: in one run, on this machine (`assetlib-bench scaleout` is another mode,
//! assetlib on PostgreSQL + S3 against S3 alone: see `scaleout.rs`; `assetlib-bench soak` a
//! third, mixed load with crashes: see `soak.rs`; `assetlib-bench search` a fourth, the search
//! route over a million assets with attributes: see `search.rs`; `assetlib-bench zip` a fifth,
//! the expansion of zips of many small entries: see `zip_expand.rs`; `assetlib-bench ui` a sixth,
//! the web UI opening a folder of 10,000 assets in headless Chromium: see `ui.rs`),
//!
//! 1. uploads N files through the Jivox endpoint of a fresh assetlib (concurrency 16),
//! 2. GETs them through `/files` (concurrency 32, one keep-alive connection per worker),
//! 3. serves the same files from nginx and GETs them with the same client code,
//! 4. measures a fresh assetlib's peak RSS while 32 clients each upload a 10 MiB file,
//!
//! then prints req/s, p50/p99, the assetlib/nginx ratio and the peak RSS against the targets,
//! and can rewrite its section of BENCHMARKS.md. It builds nothing: `scripts/bench.sh` builds
//! the release binaries and passes the path of `assetlib`. Everything runs on 127.0.0.1, every
//! loop is bounded in time and requests, and the servers are stopped at the end or on error.

mod library;
mod listing;
mod load;
mod photos;
mod procs;
mod renditions;
mod report;
mod s3client;
mod scaleout;
mod scaleout_report;
mod search;
mod search_library;
mod soak;
mod soak_report;
mod ui;
mod zip_expand;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use load::{BenchFile, GetPlan, Probe};
use rand::{RngCore, SeedableRng};
use report::{BreakdownRow, Machine, Results, Round};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The upload/GET load both modes run: the same files, concurrency and measurement.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Number of files uploaded and then served.
    #[arg(long, default_value_t = 2000)]
    pub files: usize,
    /// Size of each file in bytes (100 KiB).
    #[arg(long, default_value_t = 100 * 1024)]
    pub file_size: usize,
    #[arg(long, default_value_t = 16)]
    pub upload_concurrency: usize,
    #[arg(long, default_value_t = 32)]
    pub get_concurrency: usize,
    /// Measured seconds of GETs per server under test.
    #[arg(long, default_value_t = 10.0)]
    pub get_secs: f64,
    /// Seconds of GETs per server under test before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_secs: f64,
    /// Upper bound on GET requests per server under test, warm-up included.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_get_requests: u64,
    /// Compare every n-th body of each GET worker byte for byte.
    #[arg(long, default_value_t = 16)]
    pub verify_every: u64,
    /// Skip the second assetlib GET phase, on a server restarted with its blob cache off
    /// (`ASSETLIB_BLOB_CACHE_MB=0`), that shows what the cache buys.
    #[arg(long)]
    pub skip_uncached: bool,
}

#[derive(Parser, Debug)]
#[command(
    name = "assetlib-bench",
    about = "Benchmarks assetlib against nginx, or (`scaleout`) assetlib on PostgreSQL + S3 against S3 alone, or (`soak`) soaks it under mixed load and crashes, or (`search`) times its search over a million assets, or (`zip`) times zip expansion, or (`ui`) times the web UI opening a big folder in Chromium",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The assetlib binary to run (a release build).
    #[arg(long, required = true)]
    assetlib: Option<PathBuf>,
    /// The nginx binary.
    #[arg(long, default_value = "nginx")]
    nginx: String,
    #[command(flatten)]
    load: LoadArgs,
    /// Measured seconds per server of each breakdown probe (Range 0-0, 404, /healthz, and assetlib's
    /// whole-file GET with the blob cache off); 0 skips them.
    #[arg(long, default_value_t = 5.0)]
    breakdown_secs: f64,
    /// Whole-file GET rounds per server, taken in turn (assetlib, nginx, assetlib, nginx, ...)
    /// on the same cores; the target is judged on the median of the rounds' ratios, because
    /// one server's req/s moves between runs by more than the margin the target leaves.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent big uploads for the memory measurement.
    #[arg(long, default_value_t = 32)]
    big_uploads: usize,
    /// Size of each big upload in bytes (10 MiB, the server's default upload limit).
    #[arg(long, default_value_t = 10 << 20)]
    big_size: usize,
    /// Target: assetlib GET req/s at least this times nginx's.
    #[arg(long, default_value_t = 0.8)]
    min_get_ratio: f64,
    /// Target: peak RSS under the big uploads at most this many MB (10^6 bytes).
    #[arg(long, default_value_t = 150.0)]
    max_rss_mb: f64,
    /// Directory for the temporary data (default: the system's temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Rewrite the run's section of this Markdown file (e.g. BENCHMARKS.md).
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
    /// Seed of the file contents.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(clap::Subcommand, Debug)]
enum Mode {
    /// assetlib on PostgreSQL + S3 against the S3 store alone: uploads, GETs and listing of a
    /// million-asset library (also on SQLite); see scripts/bench-scaleout.sh.
    Scaleout(scaleout::ScaleoutArgs),
    /// A bounded soak of the embedded default: concurrent clients mixing uploads, zips,
    /// listings, public GETs, copies and deletes, the server killed with SIGKILL and restarted
    /// during the run, then every acknowledged write read back; see scripts/bench-soak.sh.
    Soak(soak::SoakArgs),
    /// The native search route over one account of a million assets with tags, metadata,
    /// collections and the rest, on SQLite and on PostgreSQL; see scripts/bench-search.sh.
    Search(search::SearchArgs),
    /// Zip expansion throughput: zips of many small entries uploaded one at a time, entries
    /// expanded per second, every entry checked afterwards; see scripts/bench-zip.sh.
    Zip(zip_expand::ZipArgs),
    /// Renditions of big photos and PNGs with alpha: images per second against vipsthumbnail
    /// making the same two sizes, and the server's peak RSS; see scripts/bench-renditions.sh.
    Renditions(renditions::RenditionsArgs),
    /// The web UI in headless Chromium: a folder of 10,000 assets (most of them small PNGs with
    /// thumbnails) opened by a fresh page load and from inside the app, until its first row of
    /// thumbnails is shown; see scripts/bench-ui.sh.
    Ui(ui::UiArgs),
}

/// Random bytes that start like a JPEG (the server refuses executables by their first bytes;
/// random data could only look like one by a vanishing chance, this rules it out).
pub(crate) fn random_body(rng: &mut impl RngCore, size: usize) -> Bytes {
    let mut body = vec![0u8; size];
    rng.fill_bytes(&mut body);
    let magic = [0xff, 0xd8, 0xff, 0xe0];
    let n = magic.len().min(size);
    body[..n].copy_from_slice(&magic[..n]);
    Bytes::from(body)
}

/// One GET load with the server's CPU measured over it.
async fn measured_get(
    name: &str,
    addr: std::net::SocketAddr,
    pids: &[u32],
    files: &Arc<Vec<BenchFile>>,
    plan: GetPlan,
) -> anyhow::Result<load::Stats> {
    println!(
        "GET {name}, {}, concurrency {}, {:.0} s + {:.0} s warm-up ...",
        plan.probe.describe(),
        plan.concurrency,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64()
    );
    let meter = procs::CpuMeter::start(pids.to_vec());
    let mut stats = load::get_load(addr, files.clone(), plan).await.with_context(|| format!("GET phase, {name}"))?;
    let cpu = meter.finish(stats.completed_all);
    stats.cpu = Some(cpu);
    println!("  {:.0} req/s, server CPU {:.0} us/request", stats.rps(), cpu.server_us_per_req);
    Ok(stats)
}

/// Warns about `ASSETLIB_*` variables in this program's environment (but the test suites'
/// `ASSETLIB_TEST_*`, which the server ignores): every assetlib it starts inherits them, and the
/// reports say the servers run with their default configuration.
pub(crate) fn warn_inherited_config() {
    let configures = |key: &str| {
        let key = key.to_ascii_uppercase();
        key.starts_with("ASSETLIB_") && !key.starts_with("ASSETLIB_TEST_")
    };
    for (key, _) in std::env::vars_os().filter(|(k, _)| configures(&k.to_string_lossy())) {
        eprintln!(
            "warning: {} is set: the servers inherit it, so they do not run with the default configuration \
             the report describes",
            key.to_string_lossy()
        );
    }
}

/// `arg` as a POSIX shell word.
fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) { arg.to_owned() } else { format!("'{}'", arg.replace('\'', "'\\''")) }
}

pub(crate) fn version_of(cmd: &str, arg: &str) -> String {
    match std::process::Command::new(cmd).arg(arg).output() {
        Ok(out) => {
            let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
            String::from_utf8_lossy(&text).trim().replace("nginx version: ", "")
        }
        Err(e) => format!("{cmd}: {e}"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let program_command = std::env::args().map(|a| shell_quote(&a)).collect::<Vec<_>>().join(" ");
    warn_inherited_config();
    match args.mode {
        Some(Mode::Scaleout(scaleout_args)) => return scaleout::run(scaleout_args, program_command).await,
        Some(Mode::Soak(soak_args)) => return soak::run(soak_args, program_command).await,
        Some(Mode::Search(search_args)) => return search::run(search_args, program_command).await,
        Some(Mode::Zip(zip_args)) => return zip_expand::run(zip_args, program_command).await,
        Some(Mode::Renditions(r_args)) => return renditions::run(r_args, program_command).await,
        Some(Mode::Ui(ui_args)) => return ui::run(ui_args, program_command).await,
        None => {}
    }
    let assetlib = args.assetlib.clone().context("--assetlib is required")?;
    anyhow::ensure!(args.load.files > 0 && args.load.file_size > 0, "--files and --file-size must be positive");
    anyhow::ensure!(args.load.verify_every > 0, "--verify-every must be positive");
    let machine = Machine::probe();
    let assetlib_version = version_of(&assetlib.display().to_string(), "--version");
    let nginx_version = version_of(&args.nginx, "-v");
    let tmp = crate::report::temp_dir_in(args.work_dir.as_deref(), "assetlib-bench-")?;
    println!("assetlib-bench: {assetlib_version}, {nginx_version}; work dir {}", tmp.path().display());
    println!(
        "machine: {} cores, {}, {} memory (the client shares these cores with the servers)",
        machine.cores, machine.cpu, machine.memory
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let files: Arc<Vec<BenchFile>> = Arc::new(
        (0..args.load.files)
            .map(|i| BenchFile::new("bench", format!("f{i:05}.jpg"), random_body(&mut rng, args.load.file_size)))
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
    let probes = [Probe::FirstByte, Probe::Missing, Probe::Health];
    let probe_plan = |probe| GetPlan {
        probe,
        warmup: Duration::from_secs_f64(args.load.warmup_secs.min(1.0)),
        duration: Duration::from_secs_f64(args.breakdown_secs),
        ..plan
    };

    // 1 and 2: assetlib uploads, then GETs (then whole files again with the blob cache off).
    let get_dir = tmp.path().join("assetlib-get");
    let (upload, assetlib_get, assetlib_probes, uncached_get, rss_after_gets_kib) = {
        let server = procs::start_assetlib(&assetlib, &get_dir)?;
        println!("assetlib on {} (pid {})", server.addr, server.proc.pid());
        println!(
            "uploading {} files of {} bytes, concurrency {} ...",
            args.load.files, args.load.file_size, args.load.upload_concurrency
        );
        let meter = procs::CpuMeter::start(vec![server.proc.pid()]);
        let target = load::UploadTarget::Jivox { addr: server.addr, api_key: server.api_key.clone() };
        let mut upload =
            load::upload_all(target, files.clone(), args.load.upload_concurrency, Duration::from_secs(600))
                .await
                .context("upload phase")?;
        upload.cpu = Some(meter.finish(upload.completed_all));
        println!("  {:.0} req/s", upload.rps());
        let pids = vec![server.proc.pid()];
        let get = measured_get("assetlib", server.addr, &pids, &files, plan).await?;
        // What the blob cache holds after the GETs, on top of the server's own memory.
        let rss_after_gets_kib = procs::proc_status_kib(server.proc.pid(), "VmRSS").context("reading VmRSS")?;
        let mut by_probe = Vec::new();
        if args.breakdown_secs > 0.0 {
            for probe in probes {
                by_probe.push(measured_get("assetlib", server.addr, &pids, &files, probe_plan(probe)).await?);
            }
        }
        drop(server); // stopped before nginx runs: one server at a time on the cores
        let mut uncached = None;
        if args.breakdown_secs > 0.0 && !args.load.skip_uncached {
            // The same data dir, so the same files; only the blob cache differs.
            let server = procs::start_assetlib_with(&assetlib, &get_dir, &[], &[procs::blob_cache_off()])?;
            println!("assetlib restarted with its blob cache off on {} (pid {})", server.addr, server.proc.pid());
            let pids = vec![server.proc.pid()];
            let plan = probe_plan(Probe::Full);
            uncached = Some(measured_get("assetlib, blob cache off", server.addr, &pids, &files, plan).await?);
        }
        (upload, get, by_probe, uncached, rss_after_gets_kib)
    };

    // 3: the same files from nginx, the same client.
    let docroot = tmp.path().join("nginx-www");
    let (nginx_get, nginx_probes) = {
        for f in files.iter() {
            let path = docroot.join(f.url_path().trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().context("file path")?)?;
            std::fs::write(&path, &f.body)?;
        }
        std::fs::write(docroot.join("healthz"), "ok")?;
        let nginx = procs::start_nginx(&args.nginx, &tmp.path().join("nginx"), &docroot)?;
        println!("nginx on {} (pid {}, config {})", nginx.addr, nginx.proc.pid(), nginx.config.display());
        let pids = procs::with_children(nginx.proc.pid());
        let get = measured_get("nginx", nginx.addr, &pids, &files, plan).await?;
        let mut by_probe = Vec::new();
        if args.breakdown_secs > 0.0 {
            for probe in probes {
                by_probe.push(measured_get("nginx", nginx.addr, &pids, &files, probe_plan(probe)).await?);
            }
        }
        drop(nginx);
        (get, by_probe)
    };
    // 3b: more whole-file rounds, each server in turn (restarted: one at a time on the cores).
    let mut rounds = vec![Round { assetlib_rps: assetlib_get.rps(), nginx_rps: nginx_get.rps() }];
    for n in 2..=args.rounds {
        println!("round {n} of {}:", args.rounds);
        let server = procs::start_assetlib(&assetlib, &get_dir)?;
        let a = measured_get("assetlib", server.addr, &[server.proc.pid()], &files, plan).await?;
        drop(server);
        let nginx = procs::start_nginx(&args.nginx, &tmp.path().join("nginx"), &docroot)?;
        let pids = procs::with_children(nginx.proc.pid());
        let b = measured_get("nginx", nginx.addr, &pids, &files, plan).await?;
        drop(nginx);
        rounds.push(Round { assetlib_rps: a.rps(), nginx_rps: b.rps() });
    }

    let breakdown: Vec<BreakdownRow> = probes
        .into_iter()
        .zip(assetlib_probes.into_iter().zip(nginx_probes))
        .map(|(probe, (assetlib, nginx))| BreakdownRow { probe, assetlib, nginx })
        .collect();
    drop(files);

    // 4: peak RSS of a fresh server under concurrent big uploads.
    let big: Vec<Bytes> = (0..args.big_uploads).map(|_| random_body(&mut rng, args.big_size)).collect();
    let server = procs::start_assetlib(&assetlib, &tmp.path().join("assetlib-rss"))?;
    let pid = server.proc.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_kib = procs::proc_status_kib(pid, "VmRSS").context("reading VmRSS")?;
    println!(
        "peak RSS: {} concurrent uploads of {} bytes to a fresh assetlib (pid {pid}, idle {} KiB) ...",
        args.big_uploads, args.big_size, rss_idle_kib
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = procs::spawn_rss_sampler(pid, Duration::from_millis(10), stop.clone());
    let client = load::upload_client(args.big_uploads)?;
    let started = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, body) in big.into_iter().enumerate() {
        let (client, key, addr, done) = (client.clone(), server.api_key.clone(), server.addr, done.clone());
        tasks.spawn(async move {
            load::upload_one(&client, addr, &key, "big", &format!("big{i:03}.jpg"), body).await?;
            done.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(())
        });
    }
    let outcome = tokio::time::timeout(Duration::from_secs(600), async {
        while let Some(joined) = tasks.join_next().await {
            joined??;
        }
        anyhow::Ok(())
    })
    .await;
    let big_wall_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (rss_peak_sampled_kib, rss_samples) = sampler.join().map_err(|_| anyhow::anyhow!("RSS sampler panicked"))?;
    let rss_peak_hwm_kib = procs::proc_status_kib(pid, "VmHWM").context("reading VmHWM")?;
    drop(server);
    outcome.context("big uploads did not finish within 600 s")??;
    anyhow::ensure!(done.load(Ordering::Relaxed) == args.big_uploads as u64, "not every big upload succeeded");

    let results = Results {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: args.command.clone().unwrap_or_else(|| program_command.clone()),
        program_command,
        label: args.label.clone(),
        machine,
        assetlib_version,
        nginx_version,
        files: args.load.files,
        file_size: args.load.file_size,
        upload_concurrency: args.load.upload_concurrency,
        get_concurrency: args.load.get_concurrency,
        get_secs: args.load.get_secs,
        warmup_secs: args.load.warmup_secs,
        upload,
        assetlib_get,
        nginx_get,
        rounds,
        breakdown,
        uncached_get,
        big_uploads: args.big_uploads,
        big_size: args.big_size,
        big_wall_secs,
        rss_idle_kib,
        rss_after_gets_kib,
        rss_peak_hwm_kib,
        rss_peak_sampled_kib,
        rss_samples,
        min_get_ratio: args.min_get_ratio,
        max_rss_mb: args.max_rss_mb,
    };
    println!(
        "\nGET bodies compared byte for byte: assetlib {}, nginx {}; reconnections: assetlib {}, nginx {}\n",
        results.assetlib_get.verified,
        results.nginx_get.verified,
        results.assetlib_get.reconnects,
        results.nginx_get.reconnects
    );
    print!("{}", report::text_table(&results));
    if let Some(path) = &args.markdown {
        report::write_markdown(path, &results).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.strict && !(results.get_ok() && results.rss_ok()) {
        drop(tmp);
        std::process::exit(2);
    }
    Ok(())
}
