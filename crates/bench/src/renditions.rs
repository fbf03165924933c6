//! `assetlib-bench renditions`: how fast assetlib makes the `thumbnail` (fits 256x256) and `web`
//! (fits 1600x1600) versions of uploaded pictures (SPEC section 6), against libvips'
//! `vipsthumbnail` making the same two sizes of the same files, and the server's peak RSS
//! meanwhile.
//!
//! The inputs are photo-like pictures made from a seed (see `photos.rs`): by default 200 JPEGs
//! of 4000x3000 at quality 90 and 50 PNGs of 2000x1500 with alpha, generated once into a cache
//! directory. Then
//! 1. a fresh `assetlib serve` (release, the embedded default: SQLite + local files) with its
//!    render workers off (`ASSETLIB_RENDER_WORKERS=0`) takes every file through the native
//!    `POST /api/v1/accounts/1/assets?key=...` (JPEGs first), which queues a render job per
//!    file; it is stopped, and its database files are set aside;
//! 2. each round starts the server again on that data with its default configuration (two
//!    render workers) and times from the start to the first poll (every 250 ms, one
//!    `GET /api/v1/accounts/1/assets?limit=1000`) that sees `thumbnail` and `web` in every
//!    asset's `versions`, while `VmRSS` is sampled every 50 ms (and `VmHWM` read at the end);
//!    a sample of the renditions is fetched (`GET .../content?version=`) and decoded; the
//!    database files are put back for the next round;
//! 3. each round then runs `vipsthumbnail` over the same files, two files at a time (as many
//!    as assetlib's render workers), each file twice: `-s 1600` and `-s 256`, JPEG at Q=82 or
//!    PNG for the PNGs, as assetlib writes them; then once one file at a time.
//!
//! The ratio judged is the median over the rounds of assetlib's images per second over
//! vipsthumbnail's (two at a time) in the same round: the machine may be shared, and the two
//! run one after the other on the same cores. Everything listens on 127.0.0.1 and every wait is
//! bounded.

use crate::photos::{self, Input, Kind};
use crate::procs;
use crate::report::{Machine, loadavg};
use anyhow::{Context, bail};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BEGIN: &str = "<!-- assetlib-bench renditions: begin (this section is rewritten by every renditions run) -->";
pub const END: &str = "<!-- assetlib-bench renditions: end -->";

/// assetlib's default `render_workers` (crates/assetlib/src/config.rs), which the server runs
/// with and vipsthumbnail is given as its parallelism.
pub const DEFAULT_RENDER_WORKERS: usize = 2;
const THUMBNAIL: u32 = 256;
const WEB: u32 = 1600;
/// The JPEG quality of assetlib's renditions (crates/media/src/render.rs), given to vips too.
const QUALITY: u8 = 82;
const POLL: Duration = Duration::from_millis(250);
const RSS_EVERY: Duration = Duration::from_millis(50);

#[derive(clap::Args, Debug)]
pub struct RenditionsArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// The vipsthumbnail binary (Debian: `apt-get install -y libvips-tools`).
    #[arg(long, default_value = "vipsthumbnail")]
    vipsthumbnail: String,
    /// Where the generated pictures are kept between runs.
    #[arg(long)]
    cache_dir: PathBuf,
    /// Photo-like JPEGs.
    #[arg(long, default_value_t = 200)]
    jpegs: usize,
    #[arg(long, default_value_t = 4000)]
    jpeg_width: u32,
    #[arg(long, default_value_t = 3000)]
    jpeg_height: u32,
    #[arg(long, default_value_t = 90)]
    jpeg_quality: u8,
    /// Cut-out PNGs with alpha.
    #[arg(long, default_value_t = 50)]
    pngs: usize,
    #[arg(long, default_value_t = 2000)]
    png_width: u32,
    #[arg(long, default_value_t = 1500)]
    png_height: u32,
    /// Rounds of (assetlib, vipsthumbnail two at a time); the ratio judged is their median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Skip vipsthumbnail one file at a time.
    #[arg(long)]
    skip_serial: bool,
    /// Renditions of this many assets fetched and decoded after the first round.
    #[arg(long, default_value_t = 24)]
    sample: usize,
    /// Seconds at most for one round's rendering.
    #[arg(long, default_value_t = 1800.0)]
    max_secs: f64,
    /// Target: assetlib's images per second at least this times vipsthumbnail's.
    #[arg(long, default_value_t = 1.0)]
    min_ratio: f64,
    /// Target: the server's peak RSS while rendering at most this many MB (10^6 bytes).
    #[arg(long, default_value_t = 300.0)]
    max_rss_mb: f64,
    /// Generate the pictures into the cache and stop.
    #[arg(long)]
    generate_only: bool,
    #[command(flatten)]
    pub run: crate::report::RunArgs,
}

/// Wall time of a phase, overall and until its JPEGs (which go first) were done.
#[derive(Clone, Copy, Debug)]
struct Timed {
    all: Duration,
    jpegs_done: Duration,
    /// CPU seconds of the renderer (the server, or the vipsthumbnail processes).
    cpu_secs: f64,
    /// CPU cores busy on the whole machine meanwhile, whoever used them.
    machine_cores: f64,
}

impl Timed {
    fn rate(&self, n: usize) -> f64 {
        n as f64 / self.all.as_secs_f64()
    }
}

struct AssetlibRound {
    timed: Timed,
    /// From the start to the listening line.
    startup: Duration,
    rss_hwm_kib: u64,
    rss_sampled_kib: u64,
    rss_samples: u64,
}

struct Round {
    assetlib: AssetlibRound,
    vips: Timed,
    loadavg: String,
}

impl Round {
    fn ratio(&self, n: usize) -> f64 {
        self.assetlib.timed.rate(n) / self.vips.rate(n)
    }
}

/// CPU seconds of a process since it started (utime + stime).
fn cpu_secs_of(pid: u32) -> f64 {
    procs::cpu_ticks(&[pid]) as f64 / procs::ticks_per_sec()
}

/// CPU seconds of this program's children that have been waited for (cutime + cstime: fields
/// 16 and 17 of `/proc/self/stat`, 13 and 14 after the command name).
fn reaped_children_cpu_secs() -> f64 {
    let fields = procs::stat_fields(std::process::id()).unwrap_or_default();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (field(13) + field(14)) as f64 / procs::ticks_per_sec()
}

/// The native API of account 1 of a server, as its owner (what the renditions and UI runs
/// ask of it).
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: String,
}

impl Api {
    /// With `connections` kept open at most.
    pub(crate) fn new(server: &procs::Assetlib, connections: usize) -> anyhow::Result<Self> {
        Ok(Api {
            http: crate::load::upload_client(connections)?,
            base: format!("http://{}/api/v1/accounts/1", server.addr),
            key: server.api_key.clone(),
        })
    }

    pub(crate) async fn get(&self, target: &str) -> anyhow::Result<bytes::Bytes> {
        let resp = self.http.get(format!("{}{target}", self.base)).bearer_auth(&self.key).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {target}: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }

    pub(crate) async fn get_json(&self, target: &str) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.get(target).await?).with_context(|| format!("GET {target}: not JSON"))
    }

    /// Every asset of the account, by id (paged by cursor).
    async fn all_assets(&self) -> anyhow::Result<HashMap<String, Value>> {
        let mut out = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let target = match &cursor {
                Some(c) => format!("/assets?limit=1000&cursor={c}"),
                None => "/assets?limit=1000".to_owned(),
            };
            let page = self.get_json(&target).await?;
            for item in page["items"].as_array().context("a page without items")? {
                out.insert(item["id"].as_str().context("an asset without id")?.to_owned(), item.clone());
            }
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
    }
}

/// Whether an asset's JSON lists both renditions.
fn rendered(asset: &Value) -> bool {
    asset["versions"].get("thumbnail").is_some() && asset["versions"].get("web").is_some()
}

/// Uploads every input, four at a time in their order; the asset ids, in the inputs' order.
async fn upload_all(api: &Api, inputs: &Arc<Vec<Input>>) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); inputs.len()]));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (http, base, key) = (api.http.clone(), api.base.clone(), api.key.clone());
        let (inputs, next, ids) = (inputs.clone(), next.clone(), ids.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = inputs.get(n) else { return anyhow::Ok(()) };
                let body = tokio::fs::read(&input.path).await?;
                let url = format!("{base}/assets?key=renditions/{}", input.name);
                let resp = http.post(url).bearer_auth(&key).body(body).send().await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                if status != reqwest::StatusCode::CREATED {
                    bail!("uploading {}: {status} {}", input.name, String::from_utf8_lossy(&body));
                }
                let asset: Value = serde_json::from_slice(&body)?;
                let id = asset["id"].as_str().context("upload: no id")?.to_owned();
                ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?[n] = id;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let ids = std::mem::take(&mut *ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(ids)
}

/// The server's database files (SQLite and its journal), which hold the queued render jobs.
fn database_files(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name().to_string_lossy().starts_with("assetlib.db") {
            files.push(entry.path());
        }
    }
    anyhow::ensure!(!files.is_empty(), "no assetlib.db in {}", data_dir.display());
    Ok(files)
}

/// Puts the set-aside database files back (the render jobs queued again, no renditions
/// recorded) and removes the renditions' blobs.
fn restore(data_dir: &Path, saved: &Path) -> anyhow::Result<()> {
    for f in database_files(data_dir)? {
        std::fs::remove_file(f)?;
    }
    for entry in std::fs::read_dir(saved)? {
        let entry = entry?;
        std::fs::copy(entry.path(), data_dir.join(entry.file_name()))?;
    }
    let renditions = data_dir.join("blobs").join("renditions");
    if renditions.exists() {
        std::fs::remove_dir_all(&renditions)?;
    }
    Ok(())
}

/// A decoded rendition or vips output: its format and size.
fn decode(bytes: &[u8]) -> anyhow::Result<(&'static str, u32, u32)> {
    if bytes.starts_with(&[0xff, 0xd8]) {
        let mut d = jpeg_decoder::Decoder::new(bytes);
        let pixels = d.decode()?;
        let info = d.info().context("no JPEG header")?;
        let (w, h) = (u32::from(info.width), u32::from(info.height));
        anyhow::ensure!(pixels.len() >= (w * h) as usize, "short JPEG pixels");
        return Ok(("jpeg", w, h));
    }
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)?;
    anyhow::ensure!(image.color().has_alpha(), "a PNG rendition without alpha");
    Ok(("png", image.width(), image.height()))
}

/// Checks that a rendition of `input` fits its box exactly (the inputs are larger than both).
fn check_size(what: &str, input: &Input, side: u32, (w, h): (u32, u32)) -> anyhow::Result<()> {
    let scale = f64::from(side) / f64::from(input.width.max(input.height));
    let want = ((f64::from(input.width) * scale).round() as u32, (f64::from(input.height) * scale).round() as u32);
    let close = |a: u32, b: u32| a.abs_diff(b) <= 1;
    anyhow::ensure!(
        w.max(h) == side && close(w, want.0) && close(h, want.1),
        "{what} of {} is {w}x{h}, not {}x{} (fits {side})",
        input.name,
        want.0,
        want.1
    );
    Ok(())
}

/// One round of assetlib: the server started on the uploaded data, timed until every asset
/// lists both renditions.
async fn assetlib_round(args: &RenditionsArgs, data_dir: &Path, ids: &[String]) -> anyhow::Result<AssetlibRound> {
    let machine = procs::GroupMeter::start(&[]);
    let started = Instant::now();
    let server = procs::start_assetlib(&args.assetlib, data_dir)?;
    let startup = started.elapsed();
    let pid = server.proc.pid();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = procs::spawn_rss_sampler(pid, RSS_EVERY, stop.clone());
    let api = Api::new(&server, 8)?;
    let jpegs: Vec<&String> = ids.iter().take(args.jpegs).collect();
    let deadline = started + Duration::from_secs_f64(args.max_secs);
    let mut jpegs_done = None;
    let outcome = loop {
        let assets = api.all_assets().await?;
        let done = |id: &String| assets.get(id).is_some_and(rendered);
        let now = started.elapsed();
        if jpegs_done.is_none() && jpegs.iter().all(|id| done(id)) {
            jpegs_done = Some(now);
        }
        let left = ids.iter().filter(|id| !done(id)).count();
        if left == 0 {
            break Ok(now);
        }
        if Instant::now() >= deadline {
            break Err(anyhow::anyhow!(
                "{left} of {} assets had no renditions after {:.0} s",
                ids.len(),
                args.max_secs
            ));
        }
        tokio::time::sleep(POLL).await;
    };
    let cpu_secs = cpu_secs_of(pid);
    let machine_cores = machine.machine_cores();
    let rss_hwm_kib = procs::proc_status_kib(pid, "VmHWM").context("reading VmHWM")?;
    stop.store(true, Ordering::Relaxed);
    let (rss_sampled_kib, rss_samples) = sampler.join().map_err(|_| anyhow::anyhow!("RSS sampler panicked"))?;
    drop(server);
    let all = outcome?;
    let timed = Timed { all, jpegs_done: jpegs_done.unwrap_or(all), cpu_secs, machine_cores };
    Ok(AssetlibRound { timed, startup, rss_hwm_kib, rss_sampled_kib, rss_samples })
}

/// Checks every asset's recorded sizes, and fetches and decodes the renditions of a sample.
async fn check_assetlib(
    args: &RenditionsArgs,
    data_dir: &Path,
    inputs: &[Input],
    ids: &[String],
) -> anyhow::Result<String> {
    let server = procs::start_assetlib_with(
        &args.assetlib,
        data_dir,
        &[],
        &[("ASSETLIB_RENDER_WORKERS".to_owned(), "0".to_owned())],
    )?;
    let api = Api::new(&server, 8)?;
    let assets = api.all_assets().await?;
    for (input, id) in inputs.iter().zip(ids) {
        let asset = assets.get(id).with_context(|| format!("{} is not listed", input.name))?;
        let v = &asset["versions"];
        let size = |name: &str| -> anyhow::Result<(u32, u32)> {
            let w = v[name]["width"].as_u64().with_context(|| format!("{}: no {name} width", input.name))?;
            let h = v[name]["height"].as_u64().with_context(|| format!("{}: no {name} height", input.name))?;
            Ok((u32::try_from(w)?, u32::try_from(h)?))
        };
        anyhow::ensure!(size("original")? == (input.width, input.height), "{}: original size", input.name);
        check_size("recorded thumbnail", input, THUMBNAIL, size("thumbnail")?)?;
        check_size("recorded web", input, WEB, size("web")?)?;
    }
    // An even spread over the inputs, both kinds.
    let step = (inputs.len() / args.sample.max(1)).max(1);
    let mut fetched = (0, 0);
    for (input, id) in inputs.iter().zip(ids).step_by(step) {
        for (version, side) in [("thumbnail", THUMBNAIL), ("web", WEB)] {
            let bytes = api.get(&format!("/assets/{id}/content?version={version}")).await?;
            let (format, w, h) = decode(&bytes).with_context(|| format!("{version} of {}", input.name))?;
            let want = if input.kind == Kind::Jpeg { "jpeg" } else { "png" };
            anyhow::ensure!(format == want, "{version} of {} is {format}, not {want}", input.name);
            check_size(version, input, side, (w, h))?;
        }
        if input.kind == Kind::Jpeg { fetched.0 += 1 } else { fetched.1 += 1 }
    }
    drop(server);
    Ok(format!(
        "every asset lists `thumbnail` and `web` with the size that fits 256 and 1600 (and its original's size); \
         the renditions of {} JPEGs and {} PNGs, fetched through `GET /api/v1/accounts/1/assets/{{id}}/content?version=`, \
         decode (JPEG for the JPEGs, PNG with alpha for the PNGs) to those sizes",
        fetched.0, fetched.1
    ))
}

/// The two vipsthumbnail runs of one input into `out`, as assetlib makes them.
fn vips_one(vips: &str, input: &Input, out: &Path) -> anyhow::Result<()> {
    let stem = input.name.rsplit_once('.').map_or(input.name.as_str(), |(s, _)| s);
    let format = match input.kind {
        Kind::Jpeg => format!("jpg[Q={QUALITY}]"),
        Kind::Png => "png".to_owned(),
    };
    for (version, side) in [("web", WEB), ("thumbnail", THUMBNAIL)] {
        // An absolute -o: a relative one is taken relative to the input's directory.
        let target = out.join(format!("{stem}_{version}.{format}"));
        let status = std::process::Command::new(vips)
            .arg(&input.path)
            .arg("-s")
            .arg(side.to_string())
            .arg("-o")
            .arg(&target)
            .stdin(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {vips}"))?;
        anyhow::ensure!(status.success(), "{vips} on {}: {status}", input.name);
    }
    Ok(())
}

/// vipsthumbnail over every input, `parallel` files at a time, in the inputs' order.
fn vips_all(vips: &str, inputs: &[Input], out: &Path, parallel: usize, jpegs: usize) -> anyhow::Result<Timed> {
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let machine = procs::GroupMeter::start(&[]);
    let cpu0 = reaped_children_cpu_secs();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let jpegs_done = std::sync::Mutex::new(None);
    let started = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..parallel)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(n) else { return Ok(()) };
                        vips_one(vips, input, out)?;
                        if input.kind == Kind::Jpeg && done.fetch_add(1, Ordering::Relaxed) + 1 == jpegs {
                            *jpegs_done.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = Some(started.elapsed());
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().map_err(|_| anyhow::anyhow!("a vips worker panicked"))?)
    })?;
    let all = started.elapsed();
    let jpegs_done = jpegs_done.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.unwrap_or(all);
    Ok(Timed { all, jpegs_done, cpu_secs: reaped_children_cpu_secs() - cpu0, machine_cores: machine.machine_cores() })
}

/// Checks vipsthumbnail's output of every input: decoded, the size that fits each box.
fn check_vips(inputs: &[Input], out: &Path) -> anyhow::Result<String> {
    for input in inputs {
        let stem = input.name.rsplit_once('.').map_or(input.name.as_str(), |(s, _)| s);
        for (version, side) in [("web", WEB), ("thumbnail", THUMBNAIL)] {
            let path = out.join(format!("{stem}_{version}.{}", input.kind.extension()));
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let (_, w, h) = decode(&bytes).with_context(|| format!("vips' {version} of {}", input.name))?;
            check_size(&format!("vips' {version}"), input, side, (w, h))?;
        }
    }
    Ok(format!("all {} of vipsthumbnail's outputs decode to the same sizes", inputs.len() * 2))
}

pub async fn run(args: RenditionsArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.jpegs + args.pngs > 0 && args.rounds > 0, "nothing to render");
    anyhow::ensure!(
        args.jpeg_width.max(args.jpeg_height) > WEB && args.png_width.max(args.png_height) > WEB,
        "the pictures must be larger than the web version ({WEB})"
    );
    let plan = photos::Plan {
        seed: args.run.seed,
        jpegs: args.jpegs,
        jpeg_size: (args.jpeg_width, args.jpeg_height),
        jpeg_quality: args.jpeg_quality,
        pngs: args.pngs,
        png_size: (args.png_width, args.png_height),
    };
    let cache = args.cache_dir.clone();
    let inputs = tokio::task::spawn_blocking(move || photos::ensure(&cache, plan)).await??;
    let mb = |kind: Kind| {
        let sizes: Vec<u64> = inputs.iter().filter(|i| i.kind == kind).map(|i| i.size).collect();
        let total = sizes.iter().sum::<u64>() as f64 / 1e6;
        (total / sizes.len().max(1) as f64, total)
    };
    println!(
        "inputs: {} JPEGs (mean {:.2} MB), {} PNGs (mean {:.2} MB)",
        args.jpegs,
        mb(Kind::Jpeg).0,
        args.pngs,
        mb(Kind::Png).0
    );
    if args.generate_only {
        return Ok(());
    }
    let vips_version = crate::version_of(&args.vipsthumbnail, "--version");
    if !vips_version.starts_with("vips") {
        bail!("{} does not run ({vips_version}); on Debian: apt-get install -y libvips-tools", args.vipsthumbnail);
    }
    let machine = Machine::probe();
    let loadavg_before = loadavg();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let work = args.run.temp_dir("assetlib-bench-renditions-")?;
    println!("assetlib-bench renditions: {assetlib_version}, {vips_version}; work dir {}", work.path().display());
    println!(
        "machine: {} cores, {}, {} memory; load average {loadavg_before}",
        machine.cores, machine.cpu, machine.memory
    );
    let n = inputs.len();
    let inputs = Arc::new(inputs);

    // 1: the uploads, with the render workers off; the queued jobs' database set aside.
    let data_dir = work.path().join("assetlib");
    let upload_started = Instant::now();
    let ids = {
        let env = [("ASSETLIB_RENDER_WORKERS".to_owned(), "0".to_owned())];
        let server = procs::start_assetlib_with(&args.assetlib, &data_dir, &[], &env)?;
        println!("uploading {n} files to assetlib (render workers off) on {} ...", server.addr);
        let ids = upload_all(&Api::new(&server, 8)?, &inputs).await?;
        drop(server);
        ids
    };
    let upload_secs = upload_started.elapsed().as_secs_f64();
    println!("  uploaded in {upload_secs:.1} s");
    let saved = work.path().join("saved-db");
    std::fs::create_dir_all(&saved)?;
    for f in database_files(&data_dir)? {
        std::fs::copy(&f, saved.join(f.file_name().context("a file name")?))?;
    }

    // 2 and 3: rounds of assetlib and vipsthumbnail, one after the other.
    let vips_out = work.path().join("vips");
    let mut rounds = Vec::new();
    let mut checks = Vec::new();
    for r in 1..=args.rounds {
        if r > 1 {
            restore(&data_dir, &saved)?;
        }
        println!("round {r} of {}: assetlib, {DEFAULT_RENDER_WORKERS} render workers ...", args.rounds);
        let a = assetlib_round(&args, &data_dir, &ids).await?;
        println!(
            "  {:.2} images/s ({:.1} s; JPEGs done at {:.1} s), server CPU {:.2} s/image, peak RSS {:.0} MB (VmHWM), machine busy {:.2} cores",
            a.timed.rate(n),
            a.timed.all.as_secs_f64(),
            a.timed.jpegs_done.as_secs_f64(),
            a.timed.cpu_secs / n as f64,
            a.rss_hwm_kib as f64 * 1024.0 / 1e6,
            a.timed.machine_cores
        );
        if r == 1 {
            checks.push(check_assetlib(&args, &data_dir, &inputs, &ids).await?);
            println!("  checked: {}", checks[0]);
        }
        println!("round {r} of {}: vipsthumbnail, {DEFAULT_RENDER_WORKERS} files at a time ...", args.rounds);
        let (vips, inputs_, out) = (args.vipsthumbnail.clone(), inputs.clone(), vips_out.clone());
        let jpegs = args.jpegs;
        let v = tokio::task::spawn_blocking(move || vips_all(&vips, &inputs_, &out, DEFAULT_RENDER_WORKERS, jpegs))
            .await??;
        println!(
            "  {:.2} images/s ({:.1} s; JPEGs done at {:.1} s), vips CPU {:.2} s/image, machine busy {:.2} cores",
            v.rate(n),
            v.all.as_secs_f64(),
            v.jpegs_done.as_secs_f64(),
            v.cpu_secs / n as f64,
            v.machine_cores
        );
        if r == 1 {
            checks.push(check_vips(&inputs, &vips_out)?);
        }
        rounds.push(Round { assetlib: a, vips: v, loadavg: loadavg() });
        println!("  ratio {:.2}", rounds[r - 1].ratio(n));
    }
    let serial = if args.skip_serial {
        None
    } else {
        println!("vipsthumbnail, one file at a time ...");
        let (vips, inputs_, out) = (args.vipsthumbnail.clone(), inputs.clone(), vips_out.clone());
        let jpegs = args.jpegs;
        let v = tokio::task::spawn_blocking(move || vips_all(&vips, &inputs_, &out, 1, jpegs)).await??;
        println!("  {:.2} images/s ({:.1} s)", v.rate(n), v.all.as_secs_f64());
        Some(v)
    };

    let report = Report {
        header: args.run.header(program_command),
        machine,
        loadavg_before,
        loadavg_after: loadavg(),
        assetlib_version,
        vips_version,
        args: &args,
        inputs: &inputs,
        upload_secs,
        rounds,
        serial,
        checks,
    };
    print!("\n{}", report.markdown());
    if let Some(path) = &args.run.markdown {
        crate::report::replace_section(path, BEGIN, END, &report.markdown(), "# Benchmarks\n\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.run.strict && !(report.ratio_ok() && report.rss_ok()) {
        drop(work);
        std::process::exit(2);
    }
    Ok(())
}

struct Report<'a> {
    header: crate::report::RunHeader,
    machine: Machine,
    loadavg_before: String,
    loadavg_after: String,
    assetlib_version: String,
    vips_version: String,
    args: &'a RenditionsArgs,
    inputs: &'a [Input],
    upload_secs: f64,
    rounds: Vec<Round>,
    serial: Option<Timed>,
    checks: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "**MISS**" }
}

impl Report<'_> {
    fn n(&self) -> usize {
        self.inputs.len()
    }

    fn median_ratio(&self) -> f64 {
        median(self.rounds.iter().map(|r| r.ratio(self.n())).collect())
    }

    /// The highest of the rounds' peaks: `VmHWM`, or a sample if one saw more.
    fn peak_rss_mb(&self) -> f64 {
        let kib = self.rounds.iter().map(|r| r.assetlib.rss_hwm_kib.max(r.assetlib.rss_sampled_kib)).max();
        kib.unwrap_or(0) as f64 * 1024.0 / 1e6
    }

    fn ratio_ok(&self) -> bool {
        self.median_ratio() >= self.args.min_ratio
    }

    fn rss_ok(&self) -> bool {
        self.peak_rss_mb() <= self.args.max_rss_mb
    }

    /// Images per second: all, JPEGs (until they were done), PNGs (after that).
    fn rates(&self, t: &Timed) -> [f64; 3] {
        let (j, p) = (self.args.jpegs as f64, self.args.pngs as f64);
        let png_secs = (t.all - t.jpegs_done).as_secs_f64();
        [t.rate(self.n()), j / t.jpegs_done.as_secs_f64(), if png_secs > 0.0 { p / png_secs } else { 0.0 }]
    }

    fn markdown(&self) -> String {
        let a = self.args;
        let n = self.n();
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(
            out,
            "## Renditions run: {} JPEGs of {}x{} and {} PNGs of {}x{} with alpha, against vipsthumbnail\n",
            a.jpegs, a.jpeg_width, a.jpeg_height, a.pngs, a.png_width, a.png_height
        );
        self.header.write(&mut out, &self.machine, None);
        let _ = writeln!(
            out,
            "- Load: `/proc/loadavg` {} when the run began, {} when it ended. The machine is shared with other work, so each round runs assetlib and then vipsthumbnail on the same cores, and the ratio judged is the median of the rounds' ratios; the busy cores column counts the whole machine (every process, ours or not) over each phase.",
            self.loadavg_before, self.loadavg_after
        );
        let _ =
            writeln!(out, "- Versions: {}; {} (Debian's `libvips-tools`)", self.assetlib_version, self.vips_version);
        let size = |kind: Kind| {
            let s: Vec<u64> = self.inputs.iter().filter(|i| i.kind == kind).map(|i| i.size).collect();
            let mean = s.iter().sum::<u64>() as f64 / s.len().max(1) as f64 / 1e6;
            let (lo, hi) = (s.iter().min().copied().unwrap_or(0), s.iter().max().copied().unwrap_or(0));
            format!("mean {mean:.2} MB, {:.2}–{:.2} MB", lo as f64 / 1e6, hi as f64 / 1e6)
        };
        let _ = writeln!(
            out,
            "- Inputs (seed {}, generated once into a cache by `crates/bench/src/photos.rs`): {} photo-like landscapes, {}x{} JPEG at quality {} (baseline, 4:2:0; sky gradients, clouds and ground from fractal value noise, vignette, sensor grain; {}), and {} product cut-outs, {}x{} RGBA PNG (a shaded, textured shape with a feathered edge and a half-transparent shadow on transparent pixels; {}).",
            a.run.seed,
            a.jpegs,
            a.jpeg_width,
            a.jpeg_height,
            a.jpeg_quality,
            size(Kind::Jpeg),
            a.pngs,
            a.png_width,
            a.png_height,
            size(Kind::Png)
        );
        let _ = writeln!(
            out,
            "- assetlib: `assetlib serve` on the embedded default (SQLite + local files in a temp dir). All {n} files were uploaded (`POST /api/v1/accounts/1/assets?key=...`, four at a time, JPEGs first; {:.0} s) to the server started with `ASSETLIB_RENDER_WORKERS=0`, which queues one render job per file; each round then starts it again on that data with its default configuration ({} render workers) and times from the start (the server's start-up included: {}) to the first poll (every {} ms, `GET /api/v1/accounts/1/assets?limit=1000`) that sees `thumbnail` and `web` in every asset's `versions`. The render job reads the blob to a temp file, decodes (JPEG with DCT scaling to the smallest scale at least 1600 px), makes `web` (Lanczos3) and `thumbnail` from it, encodes (JPEG Q={QUALITY}, or PNG with fast compression where the alpha is used), stores both blobs and records them. The database is put back between rounds (the jobs queued again).",
            self.upload_secs,
            DEFAULT_RENDER_WORKERS,
            self.rounds
                .iter()
                .map(|r| format!("{:.2} s", r.assetlib.startup.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", "),
            POLL.as_millis()
        );
        let _ = writeln!(
            out,
            "- vipsthumbnail: for each file `vipsthumbnail IN -s 1600 -o OUT_web.jpg[Q={QUALITY}]` then `vipsthumbnail IN -s 256 -o OUT_thumbnail.jpg[Q={QUALITY}]` (`.png` for the PNGs), {} files at a time (assetlib's default render workers), each process with libvips' default threads; wall time over all files, JPEGs first. Each size is its own process and decodes the file again (JPEG with shrink-on-load), as the command line offers it.",
            DEFAULT_RENDER_WORKERS
        );
        let _ = writeln!(
            out,
            "- Peak RSS: the server's `VmHWM` at the end of each round (its whole life: start-up and rendering), and `VmRSS` sampled every {} ms; the table's figure is the highest of the rounds.",
            RSS_EVERY.as_millis()
        );
        let _ = writeln!(out, "- Checked: {}.", self.checks.join("; "));
        let _ = writeln!(out, "\nRounds (images/s counts a file with both versions made as one image):\n");
        let _ = writeln!(
            out,
            "| round | assetlib images/s | assetlib s | server CPU s/image | busy cores | vips images/s | vips s | vips CPU s/image | busy cores | ratio | `/proc/loadavg` after |"
        );
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        for (i, r) in self.rounds.iter().enumerate() {
            let (x, v) = (&r.assetlib.timed, &r.vips);
            let _ = writeln!(
                out,
                "| {} | {:.2} | {:.1} | {:.3} | {:.2} | {:.2} | {:.1} | {:.3} | {:.2} | {:.2} | {} |",
                i + 1,
                x.rate(n),
                x.all.as_secs_f64(),
                x.cpu_secs / n as f64,
                x.machine_cores,
                v.rate(n),
                v.all.as_secs_f64(),
                v.cpu_secs / n as f64,
                v.machine_cores,
                r.ratio(n),
                r.loadavg
            );
        }
        let pick = |f: &dyn Fn(&Round) -> f64| median(self.rounds.iter().map(f).collect());
        let rate_a = |k: usize| pick(&|r: &Round| self.rates(&r.assetlib.timed)[k]);
        let rate_v = |k: usize| pick(&|r: &Round| self.rates(&r.vips)[k]);
        let serial = |k: usize| self.serial.as_ref().map_or("—".to_owned(), |t| format!("{:.2}", self.rates(t)[k]));
        let _ = writeln!(
            out,
            "\nMedians over the rounds (JPEGs: until the last JPEG was done; PNGs: the time after that):\n"
        );
        let _ = writeln!(
            out,
            "| images/s | assetlib ({DEFAULT_RENDER_WORKERS} render workers) | vipsthumbnail, {DEFAULT_RENDER_WORKERS} at a time | assetlib / vips | vipsthumbnail, 1 at a time |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
        for (k, what) in
            [format!("all {n}"), format!("{} JPEGs", a.jpegs), format!("{} PNGs", a.pngs)].iter().enumerate()
        {
            let _ = writeln!(
                out,
                "| {what} | {:.2} | {:.2} | {:.2} | {} |",
                rate_a(k),
                rate_v(k),
                rate_a(k) / rate_v(k),
                serial(k)
            );
        }
        let cpu_a = pick(&|r: &Round| r.assetlib.timed.cpu_secs / n as f64);
        let cpu_v = pick(&|r: &Round| r.vips.cpu_secs / n as f64);
        let _ = writeln!(
            out,
            "| CPU s per image | {cpu_a:.3} | {cpu_v:.3} | {:.2} | {} |",
            cpu_v / cpu_a,
            self.serial.as_ref().map_or("—".to_owned(), |t| format!("{:.3}", t.cpu_secs / n as f64))
        );
        let _ = writeln!(
            out,
            "\nTargets: assetlib's images/s at least {:.1}x vipsthumbnail's (median of the rounds' ratios {}): {:.2}x **{}**; the server's peak RSS while rendering at most {:.0} MB: {:.0} MB (`VmHWM` {}; sampled {}) **{}**.",
            a.min_ratio,
            self.rounds.iter().map(|r| format!("{:.2}", r.ratio(n))).collect::<Vec<_>>().join(", "),
            self.median_ratio(),
            verdict(self.ratio_ok()),
            a.max_rss_mb,
            self.peak_rss_mb(),
            self.rounds
                .iter()
                .map(|r| format!("{:.0}", r.assetlib.rss_hwm_kib as f64 * 1024.0 / 1e6))
                .collect::<Vec<_>>()
                .join(", "),
            self.rounds
                .iter()
                .map(|r| format!(
                    "{:.0} MB in {} samples",
                    r.assetlib.rss_sampled_kib as f64 * 1024.0 / 1e6,
                    r.assetlib.rss_samples
                ))
                .collect::<Vec<_>>()
                .join(", "),
            verdict(self.rss_ok())
        );
        let _ = writeln!(out, "{END}");
        out
    }
}
