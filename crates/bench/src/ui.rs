//! `assetlib-bench ui`: how soon the web UI shows the first thumbnails of a big folder, in a
//! real browser (headless Chromium through chromedriver), against the release server.
//!
//! 1. A fresh `assetlib serve` on the embedded default (SQLite + local files in a temp dir)
//!    takes a folder of 10,000 assets through the native `POST /api/v1/accounts/1/assets?key=`
//!    (8 at a time, untimed): small PNGs, each drawn from its index so that no two are alike,
//!    and every fifth a small text file. The server's render workers make the PNGs'
//!    renditions; the folder is polled through `GET /api/v1/accounts/1/tree` until every PNG
//!    lists `versions.thumbnail`, then the server is left until it is idle.
//! 2. Chromium (1280x900) signs in once through the page's form. A script installed before
//!    every document (`Page.addScriptToEvaluateOnNewDocument`) watches the grid on every frame
//!    (`requestAnimationFrame`) and records, in `performance.now()` time from the start of the
//!    navigation: the first frame with tiles in `#grid`; the first frame in which every
//!    thumbnail of the first row of tiles is loaded and decoded (`complete`, `naturalWidth > 0`
//!    and its `decode()` resolved); the same for every thumbnail on the first screen.
//! 3. Timed views, each a number of runs after untimed warm-up runs: a fresh load of the
//!    folder's address (`/#/1/uibench`, from `about:blank`: the page, its script, the session
//!    and the folder's first page); the same after the browser's HTTP cache was cleared (CDP
//!    `Network.clearBrowserCache`); a navigation inside the app, from the root (freshly loaded,
//!    untimed) to the folder by its tile's link; the same with the cache cleared.
//! 4. The peer: the same first page of the folder through HTTP from this program (keep-alive,
//!    the API key), alone and with the first row's thumbnails after it, to show which part of
//!    the browser's time is the server's.
//!
//! Everything listens on 127.0.0.1, every wait is bounded, and the server, chromedriver and
//! Chromium are stopped at the end or on error.

use crate::procs;
use crate::report::{Machine, loadavg};
use anyhow::{Context, bail};
use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BEGIN: &str = "<!-- assetlib-bench ui: begin (this section is rewritten by every ui run) -->";
pub const END: &str = "<!-- assetlib-bench ui: end -->";

/// The folder the assets go into (at the root of account 1).
const FOLDER: &str = "uibench";
/// Upper bound on one WebDriver command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The PNGs' size: their thumbnail (fits 256x256) is a real reduction.
const PNG_SIZE: (u32, u32) = (320, 240);

#[derive(clap::Args, Debug)]
pub struct UiArgs {
    /// The assetlib binary to run (a release build).
    #[arg(long)]
    assetlib: PathBuf,
    /// The chromedriver binary (it starts Chromium; Debian: `apt-get install chromium-driver`).
    #[arg(long, default_value = "chromedriver")]
    chromedriver: String,
    /// The Chromium binary, for its version in the report (chromedriver finds it itself).
    #[arg(long, default_value = "chromium")]
    chromium: String,
    /// Assets in the folder.
    #[arg(long, default_value_t = 10_000)]
    assets: usize,
    /// Every n-th asset is a small text file instead of a PNG (0: all PNGs).
    #[arg(long, default_value_t = 5)]
    text_every: usize,
    /// Uploads at once.
    #[arg(long, default_value_t = 8)]
    upload_concurrency: usize,
    /// Seconds at most for the uploads, and again for the thumbnails to be made.
    #[arg(long, default_value_t = 900.0)]
    load_secs: f64,
    /// Timed runs of each view.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Untimed runs of each view before its timed ones.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Seconds at most for one run (the page until its first screen of thumbnails).
    #[arg(long, default_value_t = 20.0)]
    run_secs: f64,
    /// Target: the first row of thumbnails visible within this many ms (p95 of every view).
    #[arg(long, default_value_t = 1000.0)]
    max_first_row_ms: f64,
    #[command(flatten)]
    pub run: crate::report::RunArgs,
}

// ---- the library -----------------------------------------------------------------------------

/// The name of asset `i` in the folder; name order is index order.
fn asset_name(i: usize, text_every: usize) -> String {
    let ext = if is_text(i, text_every) { "txt" } else { "png" };
    format!("asset-{i:05}.{ext}")
}

fn is_text(i: usize, text_every: usize) -> bool {
    text_every > 0 && i % text_every == text_every - 1
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small picture of its own for each index: a sky-to-ground gradient in two colours, a disc
/// and a band, all placed and coloured from the index.
fn png_body(seed: u64, i: usize) -> anyhow::Result<Bytes> {
    let (w, h) = PNG_SIZE;
    let mut draw = mix(seed ^ mix(i as u64));
    let mut next = || {
        draw = mix(draw);
        draw
    };
    let colour = |v: u64| [(v & 0xff) as f32, ((v >> 8) & 0xff) as f32, ((v >> 16) & 0xff) as f32];
    let (top, bottom, disc) = (colour(next()), colour(next()), colour(next()));
    let (cx, cy) = ((next() % w as u64) as f32, (next() % h as u64) as f32);
    let radius = 20.0 + (next() % 80) as f32;
    let band = (next() % h as u64) as u32;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let t = y as f32 / h as f32;
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let px = if dx * dx + dy * dy < radius * radius {
            disc
        } else if y.abs_diff(band) < 6 {
            [255.0 - top[0], 255.0 - top[1], 255.0 - top[2]]
        } else {
            let checker = if (x / 16 + y / 16) % 2 == 0 { 8.0 } else { 0.0 };
            [0, 1, 2].map(|c| top[c] + (bottom[c] - top[c]) * t + checker)
        };
        image::Rgb(px.map(|v| v.clamp(0.0, 255.0) as u8))
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    img.write_with_encoder(encoder)?;
    Ok(Bytes::from(out.into_inner()))
}

fn text_body(i: usize) -> Bytes {
    Bytes::from(format!("Notes for asset {i}: a small text file among the pictures.\n"))
}

use crate::renditions::Api;

impl Api {
    /// One page of the folder, as the UI asks for it.
    fn tree_target(limit: usize, cursor: Option<&str>) -> String {
        let mut t = format!("/tree?path={FOLDER}&limit={limit}");
        if let Some(c) = cursor {
            t.push_str("&cursor=");
            t.push_str(&urlencode(c));
        }
        t
    }
}

/// A query value, percent-encoded.
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Uploads the folder, `concurrency` at a time; the bytes uploaded.
async fn upload_folder(api: &Arc<Api>, args: &UiArgs) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.upload_concurrency.max(1) {
        let (api, next, bytes) = (api.clone(), next.clone(), bytes.clone());
        let (n, text_every, seed) = (args.assets, args.text_every, args.run.seed);
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let body = if is_text(i, text_every) {
                    text_body(i)
                } else {
                    tokio::task::spawn_blocking(move || png_body(seed, i)).await??
                };
                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                let name = asset_name(i, text_every);
                let url = format!("{}/assets?key={FOLDER}/{name}", api.base);
                let resp = api.http.post(url).bearer_auth(&api.key).body(body).send().await?;
                let status = resp.status();
                if status != reqwest::StatusCode::CREATED {
                    let body = resp.bytes().await.unwrap_or_default();
                    bail!("uploading {name}: {status} {}", String::from_utf8_lossy(&body));
                }
                if i > 0 && i % 2000 == 0 {
                    println!("  {i} uploaded");
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(bytes.load(Ordering::Relaxed))
}

/// How many of the folder's PNGs list a thumbnail, and how many PNGs it holds.
async fn thumbnails_made(api: &Api) -> anyhow::Result<(usize, usize)> {
    let (mut made, mut pngs) = (0, 0);
    let mut cursor: Option<String> = None;
    loop {
        let page = api.get_json(&Api::tree_target(1000, cursor.as_deref())).await?;
        for e in page["entries"].as_array().context("a tree page without entries")? {
            let asset = &e["asset"];
            if asset["name"].as_str().is_some_and(|n| n.ends_with(".png")) {
                pngs += 1;
                if asset["versions"].get("thumbnail").is_some() {
                    made += 1;
                }
            }
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok((made, pngs)),
        }
    }
}

/// Waits (at most `limit`) until the server's CPU over one second stays under 5% of a core;
/// what it used in the last second.
async fn wait_idle(pid: u32, limit: Duration) -> f64 {
    let tps = procs::ticks_per_sec();
    let deadline = Instant::now() + limit;
    loop {
        let before = procs::cpu_ticks(&[pid]);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cores = (procs::cpu_ticks(&[pid]) - before) as f64 / tps;
        if cores < 0.05 || Instant::now() > deadline {
            return cores;
        }
    }
}

// ---- the browser -----------------------------------------------------------------------------

/// chromedriver (in a process group of its own, with the Chromium it starts) and its session;
/// the session is closed and the group killed on drop.
struct Browser {
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(chromedriver: &str, profile: tempfile::TempDir) -> anyhow::Result<Browser> {
        use std::os::unix::process::CommandExt as _;
        let port = procs::free_port()?;
        let driver = Command::new(chromedriver)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {chromedriver}"))?;
        let mut browser = Browser { client: None, driver, _profile: profile };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver did not listen within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            // performance.memory unrounded, and gc() for the heap figure.
            "--enable-precise-memory-info",
            "--js-flags=--expose-gc",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", browser._profile.path().display())])
        .collect::<Vec<_>>();
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
        let connect = async {
            ClientBuilder::rustls()
                .context("a WebDriver client")?
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .context("a Chromium session")
        };
        browser.client = Some(tokio::time::timeout(COMMAND_TIMEOUT, connect).await.context("starting Chromium")??);
        Ok(browser)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session until closed")
    }

    /// What the session says the browser is (`browserVersion`).
    fn version(&self) -> Option<String> {
        let caps = self.client().capabilities()?;
        Some(format!("{} {}", caps.get("browserName")?.as_str()?, caps.get("browserVersion")?.as_str()?))
    }

    /// Ends the session (Chromium quits), then chromedriver.
    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
        }
        // Drop kills the group.
    }

    async fn cmd<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(r) => r.with_context(|| what.to_owned()),
            Err(_) => bail!("{what}: no answer within {} s", COMMAND_TIMEOUT.as_secs()),
        }
    }

    async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        self.cmd(script, self.client().execute(script, vec![])).await
    }

    async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.cmd(&format!("opening {url}"), self.client().goto(url)).await
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    async fn cdp(&self, cmd: &'static str, params: Value) -> anyhow::Result<Value> {
        self.cmd(cmd, self.client().issue_cmd(Cdp { cmd, params })).await
    }

    /// Waits up to `limit` for `script` to return `true`.
    async fn until(&self, what: &str, script: &str, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if self.eval(script).await? == Value::Bool(true) {
                return Ok(());
            }
            if started.elapsed() > limit {
                let body = self.eval("return document.body ? document.body.innerText : ''").await?;
                bail!("waited {} s for {what}; the page shows: {body}", limit.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver's group: it and the Chromium processes it started, nothing else.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &reqwest::Url, session_id: Option<&str>) -> Result<reqwest::Url, UrlParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// Installed before every document: `__uiBenchWatch(t0)` records, from `t0`, the first frame
/// with tiles in `#grid`, and the first frames in which every thumbnail of the first row, and
/// of the first screen, is loaded and decoded. A fresh load of the folder's address starts it
/// at once (`t0` = 0, the start of the navigation).
fn watcher_script(folder_hash: &str) -> String {
    let script = r#"(() => {
  if (window.__uiBenchWatch) return;
  try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
  const decoded = new WeakMap();
  const ready = (img) => {
    if (!img.complete || img.naturalWidth === 0) return false;
    if (!decoded.has(img)) {
      decoded.set(img, false);
      img.decode().then(() => decoded.set(img, true), () => decoded.set(img, false));
    }
    return decoded.get(img) === true;
  };
  window.__uiBenchWatch = (t0) => {
    const r = { t0, tiles: null, row: null, screen: null, rowImgs: 0, screenImgs: 0, frames: 0 };
    window.__uiBench = r;
    // The tiles on screen when the watch starts (the root's, in the app) are not the folder's:
    // the app replaces them once the address has changed.
    const before = document.getElementById('grid');
    const stale = before ? before.firstElementChild : null;
    const tick = () => {
      if (window.__uiBench !== r) return;
      r.frames += 1;
      const now = performance.now();
      const grid = document.getElementById('grid');
      const tiles = grid ? grid.children : [];
      if (tiles.length > 0 && tiles[0] !== stale) {
        if (r.tiles === null) r.tiles = now;
        const vh = window.innerHeight;
        const top = tiles[0].getBoundingClientRect().top;
        const rowSrcs = [];
        let rowImgs = 0, rowReady = 0, screenImgs = 0, screenReady = 0;
        for (const li of tiles) {
          const rect = li.getBoundingClientRect();
          if (rect.top >= vh) break;
          const img = li.querySelector('img');
          if (!img) continue;
          const ok = ready(img);
          if (Math.abs(rect.top - top) < 2) { rowImgs += 1; rowSrcs.push(img.currentSrc || img.src); if (ok) rowReady += 1; }
          screenImgs += 1; if (ok) screenReady += 1;
        }
        if (r.row === null && rowImgs > 0 && rowReady === rowImgs) { r.row = now; r.rowImgs = rowImgs; r.rowSrcs = rowSrcs; }
        if (r.screen === null && screenImgs > 0 && screenReady === screenImgs) { r.screen = now; r.screenImgs = screenImgs; }
      }
      if (r.row === null || r.screen === null) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };
  if (location.hash === FOLDER_HASH) window.__uiBenchWatch(0);
})();"#;
    script.replace("FOLDER_HASH", &serde_json::to_string(folder_hash).unwrap_or_default())
}

/// Waits in the page (at most `limit_ms`) for the watcher's figures, then adds what the page
/// fetched since its `t0` and its size.
const COLLECT: &str = r#"
const [limitMs, done] = [arguments[0], arguments[arguments.length - 1]];
const until = performance.now() + limitMs;
const finish = () => {
  const r = window.__uiBench || null;
  const since = r ? r.t0 - 1 : 0;
  const entries = performance.getEntriesByType('resource').filter((e) => e.startTime >= since)
    .map((e) => ({ name: e.name, start: e.startTime, end: e.responseEnd, status: e.responseStatus || 0,
                   transfer: e.transferSize, body: e.encodedBodySize }));
  const grid = document.getElementById('grid');
  done({
    watch: r,
    entries,
    tiles: grid ? grid.children.length : 0,
    imgs: grid ? grid.getElementsByTagName('img').length : 0,
    elements: document.getElementsByTagName('*').length,
    heap: performance.memory ? performance.memory.usedJSHeapSize : 0,
    more: !!document.getElementById('more') && !document.getElementById('more').hidden,
    viewport: [window.innerWidth, window.innerHeight],
  });
};
const check = () => {
  const r = window.__uiBench;
  if ((r && r.row !== null && r.screen !== null) || performance.now() > until) finish();
  else setTimeout(check, 25);
};
check();
"#;

/// The views timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    /// A fresh load of the folder's address.
    Load,
    /// The same, the HTTP cache cleared first.
    LoadCold,
    /// From the root, freshly loaded, to the folder by its link.
    InApp,
    /// The same, the HTTP cache cleared before the root was loaded.
    InAppCold,
}

impl View {
    const ALL: [View; 4] = [View::Load, View::LoadCold, View::InApp, View::InAppCold];

    fn label(self) -> &'static str {
        match self {
            View::Load => "fresh load of `/#/1/uibench`",
            View::LoadCold => "fresh load, HTTP cache cleared",
            View::InApp => "in-app: root → folder",
            View::InAppCold => "in-app, HTTP cache cleared",
        }
    }

    fn cold(self) -> bool {
        matches!(self, View::LoadCold | View::InAppCold)
    }

    fn fresh(self) -> bool {
        matches!(self, View::Load | View::LoadCold)
    }
}

/// One run of a view, in ms from its start.
#[derive(Clone, Debug, Default)]
struct Sample {
    tiles: f64,
    row: f64,
    screen: f64,
    row_imgs: usize,
    screen_imgs: usize,
    /// `/ui/app.js` and `GET /api/v1/session` answered (fresh loads only).
    script_end: Option<f64>,
    session_end: Option<f64>,
    /// The folder's first page asked for and answered.
    tree_start: f64,
    tree_end: f64,
    tree_bytes: u64,
    tree_requests: usize,
    /// Thumbnails asked for by the time the first screen was ready: fetched in full,
    /// revalidated (304: only headers came) or taken from the HTTP cache (nothing came).
    thumbs: usize,
    thumbs_full: usize,
    thumbs_revalidated: usize,
    thumbs_cached: usize,
    /// The first thumbnail request's start, and the end of the last of the first row's.
    thumb_first_start: Option<f64>,
    row_thumbs_end: Option<f64>,
    tiles_rendered: usize,
    imgs: usize,
    elements: usize,
    heap: u64,
    more: bool,
    viewport: (u64, u64),
}

fn sample_of(v: &Value, t0: f64) -> anyhow::Result<Sample> {
    let w = &v["watch"];
    let at = |k: &str| w[k].as_f64().map(|t| t - t0);
    let (Some(tiles), Some(row), Some(screen)) = (at("tiles"), at("row"), at("screen")) else {
        bail!("the page did not show its thumbnails in time: {w}");
    };
    let mut s = Sample {
        tiles,
        row,
        screen,
        row_imgs: w["rowImgs"].as_u64().unwrap_or(0) as usize,
        screen_imgs: w["screenImgs"].as_u64().unwrap_or(0) as usize,
        tiles_rendered: v["tiles"].as_u64().unwrap_or(0) as usize,
        imgs: v["imgs"].as_u64().unwrap_or(0) as usize,
        elements: v["elements"].as_u64().unwrap_or(0) as usize,
        heap: v["heap"].as_u64().unwrap_or(0),
        more: v["more"].as_bool().unwrap_or(false),
        viewport: (v["viewport"][0].as_u64().unwrap_or(0), v["viewport"][1].as_u64().unwrap_or(0)),
        ..Sample::default()
    };
    let row_srcs: Vec<&str> =
        w["rowSrcs"].as_array().map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
    for e in v["entries"].as_array().context("no resource entries")? {
        let name = e["name"].as_str().unwrap_or_default();
        let (start, end) = (e["start"].as_f64().unwrap_or(0.0) - t0, e["end"].as_f64().unwrap_or(0.0) - t0);
        if name.ends_with("/ui/app.js") {
            s.script_end = Some(end);
        } else if name.ends_with("/api/v1/session") {
            s.session_end = Some(end);
        } else if is_folder_page(name) {
            s.tree_requests += 1;
            if s.tree_requests == 1 {
                (s.tree_start, s.tree_end) = (start, end);
                s.tree_bytes = e["body"].as_u64().unwrap_or(0);
            }
        } else if name.contains("version=thumbnail") {
            s.thumbs += 1;
            let (transfer, body) = (e["transfer"].as_u64().unwrap_or(0), e["body"].as_u64().unwrap_or(0));
            match transfer {
                0 => s.thumbs_cached += 1,
                t if t < body => s.thumbs_revalidated += 1,
                _ => s.thumbs_full += 1,
            }
            s.thumb_first_start = Some(s.thumb_first_start.map_or(start, |f: f64| f.min(start)));
            if row_srcs.contains(&name) {
                s.row_thumbs_end = Some(s.row_thumbs_end.map_or(end, |r: f64| r.max(end)));
            }
        }
    }
    Ok(s)
}

/// Whether a request is for a page of the folder's listing (not the side tree's folders-only
/// levels, `type=folder`).
fn is_folder_page(url: &str) -> bool {
    url.contains("/tree?") && url.contains(&format!("path={FOLDER}")) && !url.contains("type=folder")
}

/// One run of `view`.
async fn run_view(b: &Browser, view: View, base: &str, run_secs: f64) -> anyhow::Result<Sample> {
    let limit = Duration::from_secs_f64(run_secs);
    if view.cold() {
        b.cdp("Network.clearBrowserCache", json!({})).await?;
    }
    b.goto("about:blank").await?;
    let (raw, t0) = if view.fresh() {
        b.goto(&format!("{base}/#/1/{FOLDER}")).await?;
        (b.cmd("collecting", b.client().execute_async(COLLECT, vec![json!(run_secs * 1000.0)])).await?, 0.0)
    } else {
        b.goto(&format!("{base}/#/1")).await?;
        let link = format!("#grid li[data-kind=folder] a[href=\"#/1/{FOLDER}\"]");
        b.until(
            "the root's folder tile",
            &format!("return !!document.querySelector('{link}') && !/Loading/.test(document.getElementById('status').textContent)"),
            limit,
        )
        .await?;
        // Starts the watch and follows the link in one script: t0 is the click.
        let start = format!(
            "const t0 = performance.now(); window.__uiBenchWatch(t0); document.querySelector('{link}').click(); return t0;"
        );
        let t0 = b.eval(&start).await?.as_f64().context("no t0")?;
        (b.cmd("collecting", b.client().execute_async(COLLECT, vec![json!(run_secs * 1000.0)])).await?, t0)
    };
    let sample = sample_of(&raw, t0)?;
    let hash = b.eval("return location.hash").await?;
    anyhow::ensure!(hash == json!(format!("#/1/{FOLDER}")), "the page ended at {hash}");
    Ok(sample)
}

/// What a settled fresh load holds: 3 s after its first screen, after a garbage collection.
#[derive(Debug, Default)]
struct Settled {
    tiles: usize,
    imgs: usize,
    thumbs_fetched: usize,
    tree_requests: usize,
    elements: usize,
    heap: u64,
    more: bool,
    status: String,
}

async fn settled(b: &Browser, base: &str, run_secs: f64) -> anyhow::Result<Settled> {
    b.goto("about:blank").await?;
    b.goto(&format!("{base}/#/1/{FOLDER}")).await?;
    b.cmd("collecting", b.client().execute_async(COLLECT, vec![json!(run_secs * 1000.0)])).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = b
        .eval(
            "if (window.gc) window.gc();
             const names = performance.getEntriesByType('resource').map((e) => e.name);
             const pages = names.filter((n) => n.includes('/tree?') && n.includes('path=uibench') && !n.includes('type=folder'));
             const grid = document.getElementById('grid');
             return { tiles: grid.children.length, imgs: grid.getElementsByTagName('img').length,
                      thumbs: names.filter((n) => n.includes('version=thumbnail')).length,
                      trees: pages.length,
                      elements: document.getElementsByTagName('*').length,
                      heap: performance.memory ? performance.memory.usedJSHeapSize : 0,
                      more: !document.getElementById('more').hidden,
                      status: document.getElementById('status').textContent };",
        )
        .await?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
    Ok(Settled {
        tiles: n("tiles"),
        imgs: n("imgs"),
        thumbs_fetched: n("thumbs"),
        tree_requests: n("trees"),
        elements: n("elements"),
        heap: v["heap"].as_u64().unwrap_or(0),
        more: v["more"].as_bool().unwrap_or(false),
        status: v["status"].as_str().unwrap_or_default().to_owned(),
    })
}

// ---- the peer --------------------------------------------------------------------------------

/// The first page through HTTP from this program, and the first page then `row` thumbnails
/// (6 at a time, as a browser fetches from one host), in ms.
struct Peer {
    page: Vec<f64>,
    page_and_row: Vec<f64>,
    row: usize,
    page_bytes: usize,
}

async fn peer(api: &Api, runs: usize, warmup: usize, row: usize) -> anyhow::Result<Peer> {
    let mut out = Peer { page: Vec::new(), page_and_row: Vec::new(), row, page_bytes: 0 };
    let target = Api::tree_target(200, None);
    for n in 0..warmup + runs {
        let started = Instant::now();
        let body = api.get(&target).await?;
        let page_ms = started.elapsed().as_secs_f64() * 1e3;
        let page: Value = serde_json::from_slice(&body)?;
        let ids: Vec<String> = page["entries"]
            .as_array()
            .context("no entries")?
            .iter()
            .filter(|e| e["asset"]["versions"].get("thumbnail").is_some())
            .filter_map(|e| e["asset"]["id"].as_str().map(str::to_owned))
            .take(row)
            .collect();
        let mut set = tokio::task::JoinSet::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(6));
        for id in ids {
            let (http, url, key, sem) = (
                api.http.clone(),
                format!("{}/assets/{id}/content?version=thumbnail", api.base),
                api.key.clone(),
                sem.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await?;
                let resp = http.get(url).bearer_auth(key).send().await?;
                anyhow::ensure!(resp.status().is_success(), "thumbnail: {}", resp.status());
                resp.bytes().await?;
                anyhow::Ok(())
            });
        }
        while let Some(j) = set.join_next().await {
            j??;
        }
        let all_ms = started.elapsed().as_secs_f64() * 1e3;
        if n >= warmup {
            out.page.push(page_ms);
            out.page_and_row.push(all_ms);
            out.page_bytes = body.len();
        }
    }
    Ok(out)
}

// ---- the run ---------------------------------------------------------------------------------

/// The p-th percentile (nearest rank) of `v`.
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

struct Library {
    assets: usize,
    pngs: usize,
    bytes: u64,
    upload_secs: f64,
    thumbs_secs: f64,
    idle_cores: f64,
}

struct ViewRuns {
    view: View,
    samples: Vec<Sample>,
    warmups: Vec<Sample>,
}

impl ViewRuns {
    fn of(&self, f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        self.samples.iter().map(f).collect()
    }

    fn row_p95(&self) -> f64 {
        pct(&self.of(|s| s.row), 95.0)
    }
}

pub async fn run(args: UiArgs, program_command: String) -> anyhow::Result<()> {
    anyhow::ensure!(args.assets > 0 && args.runs > 0, "--assets and --runs must be positive");
    anyhow::ensure!(args.text_every != 1, "--text-every 1 leaves no pictures");
    let machine = Machine::probe();
    let assetlib_version = crate::version_of(&args.assetlib.display().to_string(), "--version");
    let chromium_version = crate::version_of(&args.chromium, "--version");
    let driver_version = crate::version_of(&args.chromedriver, "--version");
    let work = args.run.temp_dir("assetlib-bench-ui-")?;
    println!("assetlib-bench ui: {assetlib_version}; {chromium_version}; work dir {}", work.path().display());
    println!("machine: {} cores, {}, {} memory", machine.cores, machine.cpu, machine.memory);

    let server = procs::start_assetlib(&args.assetlib, &work.path().join("data"))?;
    println!("assetlib on {} (pid {})", server.addr, server.proc.pid());
    let api = Arc::new(Api::new(&server, args.upload_concurrency.max(6))?);
    let load_limit = Duration::from_secs_f64(args.load_secs);

    // 1. The folder, then its thumbnails.
    println!("uploading {} assets into {FOLDER}/, {} at a time ...", args.assets, args.upload_concurrency);
    let started = Instant::now();
    let bytes = tokio::time::timeout(load_limit, upload_folder(&api, &args))
        .await
        .with_context(|| format!("the uploads took more than {} s", args.load_secs))??;
    let upload_secs = started.elapsed().as_secs_f64();
    println!("  {} assets, {:.1} MB in {upload_secs:.1} s", args.assets, bytes as f64 / 1e6);
    let started = Instant::now();
    let pngs = loop {
        let (made, pngs) = thumbnails_made(&api).await?;
        println!("  thumbnails: {made} of {pngs} ({:.0} s)", started.elapsed().as_secs_f64());
        if made == pngs {
            break pngs;
        }
        if started.elapsed() > load_limit {
            bail!("only {made} of {pngs} thumbnails after {} s", args.load_secs);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let thumbs_secs = started.elapsed().as_secs_f64();
    let idle_cores = wait_idle(server.proc.pid(), Duration::from_secs(60)).await;
    println!("  server idle: {idle_cores:.3} cores over the last second");
    let library = Library { assets: args.assets, pngs, bytes, upload_secs, thumbs_secs, idle_cores };

    // 2 and 3. The browser.
    let loadavg_before = loadavg();
    let base = format!("http://{}", server.addr);
    let browser = Browser::start(&args.chromedriver, args.run.temp_dir("assetlib-bench-ui-profile-")?).await?;
    let outcome = browse(&browser, &base, &server.api_key, &args).await;
    let session_version = browser.version();
    browser.close().await;
    let (views, settled) = outcome?;
    let loadavg_after = loadavg();

    // 4. The peer, with the browser gone.
    let row = views.first().and_then(|v| v.samples.first()).map_or(6, |s| s.row_imgs);
    println!("peer: the first page through HTTP from this program ...");
    let peer = peer(&api, args.runs, args.warmup, row).await?;
    drop(server);

    let report = Report {
        header: args.run.header(program_command),
        machine,
        assetlib_version,
        chromium_version: session_version.map_or(chromium_version.clone(), |v| format!("{v} (`{chromium_version}`)")),
        driver_version,
        args: &args,
        library,
        views,
        settled,
        peer,
        loadavg_before,
        loadavg_after,
    };
    if crate::report::publish(&args.run, BEGIN, END, &report.markdown(), report.pass())? {
        drop(work);
        std::process::exit(2);
    }
    Ok(())
}

/// Signs in, then runs every view; the views' runs and a settled fresh load.
async fn browse(b: &Browser, base: &str, api_key: &str, args: &UiArgs) -> anyhow::Result<(Vec<ViewRuns>, Settled)> {
    let limit = Duration::from_secs_f64(args.run_secs);
    b.cdp("Page.enable", json!({})).await?;
    b.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": watcher_script(&format!("#/1/{FOLDER}")) }))
        .await?;
    b.goto(&format!("{base}/")).await?;
    b.until("the sign-in form", "return !document.getElementById('signin').hidden", limit).await?;
    let key = b.cmd("the key field", b.client().find(Locator::Id("key"))).await?;
    b.cmd("typing the key", key.send_keys(api_key)).await?;
    let submit = b.cmd("the sign-in button", b.client().find(Locator::Css("#signin-form button[type=submit]"))).await?;
    b.cmd("signing in", submit.click()).await?;
    b.until("the library", "return !document.getElementById('library').hidden", limit).await?;
    let mut views = Vec::new();
    for view in View::ALL {
        println!("{}: {} runs after {} untimed ...", view.label(), args.runs, args.warmup);
        let mut runs = ViewRuns { view, samples: Vec::new(), warmups: Vec::new() };
        for n in 0..args.warmup + args.runs {
            let s =
                run_view(b, view, base, args.run_secs).await.with_context(|| format!("{}, run {n}", view.label()))?;
            if n < args.warmup {
                runs.warmups.push(s);
            } else {
                runs.samples.push(s);
            }
        }
        println!(
            "  first tiles p50 {:.0} ms; first row of thumbnails p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; first screen p50 {:.0} ms",
            pct(&runs.of(|s| s.tiles), 50.0),
            pct(&runs.of(|s| s.row), 50.0),
            runs.row_p95(),
            max(&runs.of(|s| s.row)),
            pct(&runs.of(|s| s.screen), 50.0)
        );
        views.push(runs);
    }
    let settled = settled(b, base, args.run_secs).await?;
    Ok((views, settled))
}

// ---- the report ------------------------------------------------------------------------------

struct Report<'a> {
    header: crate::report::RunHeader,
    machine: Machine,
    assetlib_version: String,
    chromium_version: String,
    driver_version: String,
    args: &'a UiArgs,
    library: Library,
    views: Vec<ViewRuns>,
    settled: Settled,
    peer: Peer,
    loadavg_before: String,
    loadavg_after: String,
}

impl Report<'_> {
    fn pass(&self) -> bool {
        self.views.iter().all(|v| v.row_p95() <= self.args.max_first_row_ms)
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let lib = &self.library;
        let a = self.args;
        let first = self.views.first().and_then(|v| v.samples.first()).cloned().unwrap_or_default();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(
            out,
            "## Web UI: a folder of {} assets in headless Chromium\n",
            crate::scaleout_report::thousands(lib.assets)
        );
        self.header.write(&mut out, &self.machine, None);
        let _ = writeln!(
            out,
            "- Browser: {}; {}; headless, `--window-size=1280,900` (viewport {}x{}), driven through WebDriver \
             (fantoccini), one profile and session, signed in once through the page's form. Browser, server and \
             this program share the machine's cores. `/proc/loadavg` before the browser's runs: {}, after: {}",
            self.chromium_version,
            self.driver_version,
            first.viewport.0,
            first.viewport.1,
            self.loadavg_before,
            self.loadavg_after
        );
        let _ = writeln!(
            out,
            "- Server: {}, `serve` on the embedded default (SQLite + local files in a temp dir), default \
             configuration (2 render workers), on 127.0.0.1.",
            self.assetlib_version
        );
        let texts = lib.assets - lib.pngs;
        let _ = writeln!(
            out,
            "- Folder `{FOLDER}/` (at the root of account 1, alone there): {} assets, {} PNGs of {}x{} (each drawn \
             from its index, no two alike) and {} small text files (every {}th, shown as a type label), {:.1} MB \
             in all, named `asset-00000.png` … so that name order mixes them. Uploaded through the native \
             `POST /api/v1/accounts/1/assets?key={FOLDER}/…`, {} at a time ({:.1} s, untimed); the server's \
             render workers had made all {} thumbnails {:.1} s after the last upload (`GET …/tree` polled for \
             `versions.thumbnail`), and the timing began once the server used under 5% of a core \
             ({:.3} cores over the last second).",
            crate::scaleout_report::thousands(lib.assets),
            crate::scaleout_report::thousands(lib.pngs),
            PNG_SIZE.0,
            PNG_SIZE.1,
            crate::scaleout_report::thousands(texts),
            a.text_every,
            lib.bytes as f64 / 1e6,
            a.upload_concurrency,
            lib.upload_secs,
            crate::scaleout_report::thousands(lib.pngs),
            lib.thumbs_secs,
            lib.idle_cores
        );
        let _ = writeln!(
            out,
            "- Method: a script installed before every document (CDP `Page.addScriptToEvaluateOnNewDocument`) \
             checks the grid on every frame (`requestAnimationFrame`) and notes, in the page's \
             `performance.now()`: the first frame with tiles in `#grid`; the first frame in which every \
             thumbnail `<img>` of the first row of tiles is loaded and decoded (`complete`, `naturalWidth > 0`, \
             its `decode()` resolved); the same for every thumbnail whose tile starts on the first screen. \
             A fresh load goes from `about:blank` to `/#/1/{FOLDER}` and counts from the start of the \
             navigation (0: the page, `app.js`, `GET /api/v1/session`, the folder's first page, the \
             thumbnails). An in-app run loads `/#/1` (the root, untimed) and counts from a click on the \
             folder's tile (the same document: the page's script is loaded, the session known; the \
             root's tile, on screen until the app replaces it, is not counted). \
             \"Cache cleared\": CDP `Network.clearBrowserCache` before the run; otherwise the browser's HTTP \
             cache holds the thumbnails from earlier runs (`private, no-cache`: each is revalidated, 304). \
             {} timed runs per view after {} untimed ones, views in the order of the table.",
            a.runs, a.warmup
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| view | runs | first tiles p50 ms | p95 | max | first row of thumbnails ({} images) p50 ms | p95 | max | \
             first screen ({} images) p50 ms | p95 | max | first row, 1st untimed run ms |",
            first.row_imgs, first.screen_imgs
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for v in &self.views {
            let (t, r, sc) = (v.of(|s| s.tiles), v.of(|s| s.row), v.of(|s| s.screen));
            let first_run = v.warmups.first().map_or("–".to_owned(), |s| format!("{:.0}", s.row));
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.0} | **{:.0}** | **{:.0}** | {:.0} | {:.0} | {:.0} | {:.0} | {first_run} |",
                v.view.label(),
                v.samples.len(),
                pct(&t, 50.0),
                pct(&t, 95.0),
                max(&t),
                pct(&r, 50.0),
                pct(&r, 95.0),
                max(&r),
                pct(&sc, 50.0),
                pct(&sc, 95.0),
                max(&sc)
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Where the time goes (p50 over the timed runs, ms from the same start; the requests' times from the \
             page's Resource Timing; thumbnails: those asked for by the first screen's frame, fetched in full, \
             revalidated (304, only headers came) or taken from the HTTP cache):\n"
        );
        let _ = writeln!(
            out,
            "| view | `app.js` answered | session answered | folder page asked | folder page answered | first tiles | \
             first thumbnail asked | first row's thumbnails answered | first row | first screen | thumbnails \
             (full / 304 / cache) |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for v in &self.views {
            let opt = |f: &dyn Fn(&Sample) -> Option<f64>| {
                let xs: Vec<f64> = v.samples.iter().filter_map(f).collect();
                if xs.is_empty() { "–".to_owned() } else { format!("{:.0}", pct(&xs, 50.0)) }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {:.0} | {:.0} | {:.0} ({:.0} / {:.0} / {:.0}) |",
                v.view.label(),
                opt(&|s| s.script_end),
                opt(&|s| s.session_end),
                pct(&v.of(|s| s.tree_start), 50.0),
                pct(&v.of(|s| s.tree_end), 50.0),
                pct(&v.of(|s| s.tiles), 50.0),
                opt(&|s| s.thumb_first_start),
                opt(&|s| s.row_thumbs_end),
                pct(&v.of(|s| s.row), 50.0),
                pct(&v.of(|s| s.screen), 50.0),
                pct(&v.of(|s| s.thumbs as f64), 50.0),
                pct(&v.of(|s| s.thumbs_full as f64), 50.0),
                pct(&v.of(|s| s.thumbs_revalidated as f64), 50.0),
                pct(&v.of(|s| s.thumbs_cached as f64), 50.0)
            );
        }
        let _ = writeln!(out);
        let p = &self.peer;
        let _ = writeln!(
            out,
            "The peer, measured in the same run after the browser had quit: the same server asked by this program \
             over HTTP (keep-alive, the API key), {} runs after {} untimed:\n",
            p.page.len(),
            a.warmup
        );
        let _ = writeln!(out, "| request | p50 ms | p95 ms | max ms |");
        let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
        let _ = writeln!(
            out,
            "| the folder's first page, `GET /api/v1/accounts/1/tree?path={FOLDER}&limit=200` ({:.0} KB of JSON) | {:.1} | {:.1} | {:.1} |",
            p.page_bytes as f64 / 1024.0,
            pct(&p.page, 50.0),
            pct(&p.page, 95.0),
            max(&p.page)
        );
        let _ = writeln!(
            out,
            "| the same, then the first row's {} thumbnails (6 at a time) | {:.1} | {:.1} | {:.1} |",
            p.row,
            pct(&p.page_and_row, 50.0),
            pct(&p.page_and_row, 95.0),
            max(&p.page_and_row)
        );
        let _ = writeln!(out);
        let st = &self.settled;
        let sizes = |f: &dyn Fn(&Sample) -> f64| {
            let xs: Vec<f64> = self.views.iter().flat_map(|v| v.samples.iter().map(f)).collect();
            (pct(&xs, 0.0), max(&xs))
        };
        let (tiles_lo, tiles_hi) = sizes(&|s| s.tiles_rendered as f64);
        let (imgs_lo, imgs_hi) = sizes(&|s| s.imgs as f64);
        let (heap_lo, heap_hi) = sizes(&|s| s.heap as f64 / 1e6);
        let (el_lo, el_hi) = sizes(&|s| s.elements as f64);
        let more = self.views.iter().all(|v| v.samples.iter().all(|s| s.more));
        let _ = writeln!(
            out,
            "What the page holds: at the first screen of every timed run, {tiles_lo:.0}–{tiles_hi:.0} tiles of the \
             folder's {} in `#grid` ({imgs_lo:.0}–{imgs_hi:.0} of them thumbnail `<img>`; \"Show more\" shown in \
             every run: {}), {el_lo:.0}–{el_hi:.0} elements in the document, JS heap \
             (`performance.memory.usedJSHeapSize`) {heap_lo:.1}–{heap_hi:.1} MB. A fresh load left 3 s to settle, \
             after `gc()`: {} tiles ({} `<img>`; \"Show more\" shown: {}), {} request(s) for a page of the folder, \
             {} thumbnails fetched (lazy loading: the ones on and near the screen), {} elements, JS heap {:.1} MB; \
             the status line says \"{}\".",
            crate::scaleout_report::thousands(lib.assets),
            if more { "yes" } else { "no" },
            st.tiles,
            st.imgs,
            if st.more { "yes" } else { "no" },
            st.tree_requests,
            st.thumbs_fetched,
            st.elements,
            st.heap as f64 / 1e6,
            st.status
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| view | first row of thumbnails p95 | target | |");
        let _ = writeln!(out, "| --- | ---: | --- | --- |");
        for v in &self.views {
            let ok = v.row_p95() <= a.max_first_row_ms;
            let _ = writeln!(
                out,
                "| {} | {:.0} ms | ≤ {:.0} ms | {} |",
                v.view.label(),
                v.row_p95(),
                a.max_first_row_ms,
                if ok { "PASS" } else { "**MISS**" }
            );
        }
        let _ = writeln!(out, "{END}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(pct(&v, 50.0), 10.0);
        assert_eq!(pct(&v, 95.0), 19.0);
        assert_eq!(pct(&v, 0.0), 1.0);
        assert_eq!(max(&v), 20.0);
    }

    #[test]
    fn names_mix_pictures_and_text_in_name_order() {
        assert_eq!(asset_name(0, 5), "asset-00000.png");
        assert_eq!(asset_name(4, 5), "asset-00004.txt");
        assert_eq!(asset_name(4, 0), "asset-00004.png");
        assert_eq!(crate::scaleout_report::thousands(10_000), "10,000");
        assert_eq!(crate::scaleout_report::thousands(999), "999");
    }

    #[test]
    fn pictures_are_valid_and_distinct() {
        let (a, b) = (png_body(42, 0).unwrap(), png_body(42, 1).unwrap());
        assert_ne!(a, b);
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), PNG_SIZE);
    }
}
