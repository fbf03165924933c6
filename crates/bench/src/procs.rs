//! The servers under test as child processes: assetlib and nginx. Each is stopped (TERM, then
//! KILL after a grace period) when its guard is dropped, so an error or a panic in the
//! benchmark does not leave a server behind.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server process; stopped on drop.
pub struct Proc {
    name: &'static str,
    child: Option<Child>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the process has exited already (then it is reaped).
    fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL at once, as a crash would end it, and reaps it; no grace period.
    pub fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// TERM, up to 10 s for a clean exit, then KILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if matches!(child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    Ok(None) | Err(_) => {
                        eprintln!("{} did not stop within 10 s of TERM: killing it", self.name);
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(Some(_)) => break,
                }
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// assetlib started by `serve`, with its address and the API key of account 1's owner.
pub struct Assetlib {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub api_key: String,
}

/// Starts `bin serve` on an ephemeral loopback port with a fresh `data_dir`, waits for its
/// "listening" line and reads the first start's credentials.
pub fn start_assetlib(bin: &Path, data_dir: &Path) -> anyhow::Result<Assetlib> {
    start_assetlib_with(bin, data_dir, &[], &[])
}

/// [`start_assetlib`] with more flags (e.g. `--database-url`, `--blob-store`) and environment
/// variables. A restart on the same `data_dir` and store reads the first start's credentials
/// again (the server writes them only once).
pub fn start_assetlib_with(
    bin: &Path,
    data_dir: &Path,
    flags: &[String],
    env: &[(String, String)],
) -> anyhow::Result<Assetlib> {
    start_assetlib_at(bin, data_dir, "127.0.0.1:0", flags, env, None)
}

/// [`start_assetlib_with`] on the address `listen` (a fixed port, so that a restart after a
/// crash is found where clients knew it), its stderr appended to `log` if given.
pub fn start_assetlib_at(
    bin: &Path,
    data_dir: &Path,
    listen: &str,
    flags: &[String],
    env: &[(String, String)],
    log: Option<&Path>,
) -> anyhow::Result<Assetlib> {
    let stderr = match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => Stdio::inherit(),
    };
    let mut child = Command::new(bin)
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .args(flags)
        // Servers of one library must sign links alike: every benchmarked server shares this.
        .env("ASSETLIB_SIGNING_SECRET", "assetlib benchmark signing secret, 32+ bytes")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("assetlib stdout")?;
    let mut proc = Proc { name: "assetlib", child: Some(child) };
    let (tx, rx) = mpsc::channel();
    // Reads the address, then keeps draining stdout so that the server never blocks on it.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("assetlib listening on http://") {
                let _ = tx.send(addr.trim().to_owned());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(addr) => break addr,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                if proc.exited() {
                    bail!("assetlib exited before listening");
                }
            }
            Err(_) => bail!("assetlib did not print its listening line within 60 s"),
        }
    };
    let addr: SocketAddr = addr.parse().with_context(|| format!("assetlib printed a bad address '{addr}'"))?;
    let creds_path = data_dir.join("initial-credentials.json");
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&creds_path).with_context(|| format!("reading {}", creds_path.display()))?,
    )?;
    let api_key = creds["apiKey"].as_str().context("initial-credentials.json has no apiKey")?.to_owned();
    anyhow::ensure!(creds["accountId"] == 1, "initial credentials are not for account 1: {creds}");
    Ok(Assetlib { proc, addr, api_key })
}

/// The environment variable that turns assetlib's in-memory blob cache off, for a second GET
/// phase beside the default configuration's.
pub fn blob_cache_off() -> (String, String) {
    ("ASSETLIB_BLOB_CACHE_MB".to_owned(), "0".to_owned())
}

/// A free loopback port, found by binding port 0 (released before the server binds it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// nginx serving `docroot` on a loopback port with a generated configuration under `prefix`.
pub struct Nginx {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub config: PathBuf,
}

/// The nginx configuration: static files, sendfile, no access log, keep-alive connections
/// that are not closed after a number of requests (hyper, on the assetlib side, never closes
/// them either), everything else under `prefix`.
fn nginx_config(prefix: &Path, docroot: &Path, addr: SocketAddr) -> String {
    let p = prefix.display();
    format!(
        r#"# Generated by assetlib-bench.
user root;
worker_processes auto;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path {p}/tmp/client_body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    types {{
        image/jpeg jpg jpeg;
    }}
    default_type application/octet-stream;

    server {{
        listen {addr};
        server_name localhost;
        root {root};
        location / {{
        }}
    }}
}}
"#,
        root = docroot.display(),
    )
}

/// Starts nginx (`bin`) on a free loopback port and waits until it accepts connections.
pub fn start_nginx(bin: &str, prefix: &Path, docroot: &Path) -> anyhow::Result<Nginx> {
    std::fs::create_dir_all(prefix.join("tmp"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let config = prefix.join("nginx.conf");
    std::fs::write(&config, nginx_config(prefix, docroot, addr))?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(prefix)
        .arg("-e")
        .arg(prefix.join("error.log"))
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {bin}"))?;
    let mut proc = Proc { name: "nginx", child: Some(child) };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if proc.exited() {
            let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default();
            bail!("nginx exited before listening:\n{log}");
        }
        if Instant::now() >= deadline {
            bail!("nginx did not accept connections on {addr} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Nginx { proc, addr, config })
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `pid` and its direct children (nginx's master and workers).
pub fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if stat_fields(child).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok())) == Some(pid) {
                pids.push(child);
            }
        }
    }
    pids
}

/// The fields of `/proc/PID/stat` after the command name: `[state, ppid, ...]`.
pub(crate) fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// User plus system CPU time of `pids` (all their threads) in clock ticks.
pub(crate) fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|&pid| {
            let f = stat_fields(pid)?;
            // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// Clock ticks per second of the `/proc` CPU times.
pub(crate) fn ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU used by the server (its processes) and by this program over a phase.
#[derive(Clone, Copy, Debug)]
pub struct CpuUse {
    /// Server CPU seconds per second of wall time (2.0 = both cores of a 2-core machine).
    pub server_cores: f64,
    pub client_cores: f64,
    /// Server CPU microseconds per request.
    pub server_us_per_req: f64,
    pub client_us_per_req: f64,
}

pub struct CpuMeter {
    pids: Vec<u32>,
    server0: u64,
    client0: u64,
    start: Instant,
}

impl CpuMeter {
    pub fn start(pids: Vec<u32>) -> Self {
        let me = std::process::id();
        Self { server0: cpu_ticks(&pids), client0: cpu_ticks(&[me]), pids, start: Instant::now() }
    }

    /// The CPU used since `start`, over `requests` requests.
    pub fn finish(&self, requests: u64) -> CpuUse {
        let tps = ticks_per_sec();
        let secs = self.start.elapsed().as_secs_f64();
        let server = cpu_ticks(&self.pids).saturating_sub(self.server0) as f64 / tps;
        let client = cpu_ticks(&[std::process::id()]).saturating_sub(self.client0) as f64 / tps;
        let n = requests.max(1) as f64;
        CpuUse {
            server_cores: server / secs,
            client_cores: client / secs,
            server_us_per_req: server * 1e6 / n,
            client_us_per_req: client * 1e6 / n,
        }
    }
}

/// Which processes a [`GroupMeter`] counts.
#[derive(Clone, Debug)]
pub enum Pick {
    /// These processes.
    Pids(Vec<u32>),
    /// The children of `parent` whose command line (the process title) contains `title`:
    /// PostgreSQL's backends for one database, which come and go with the connection pool.
    ChildrenTitled { parent: u32, title: String },
}

impl Pick {
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Pick::Pids(pids) => pids.clone(),
            Pick::ChildrenTitled { parent, title } => with_children(*parent)
                .into_iter()
                .filter(|&pid| pid != *parent)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(title.as_str()))
                })
                .collect(),
        }
    }
}

/// The CPU time of several groups of processes over a phase. A process that appears during
/// the phase counts from zero; one that exits during it loses what it used (a pooled
/// connection's backend lives as long as the server).
pub struct GroupMeter {
    groups: Vec<(Pick, std::collections::HashMap<u32, u64>)>,
    machine0: u64,
    start: Instant,
}

/// Busy clock ticks of the whole machine, all CPUs (`/proc/stat`: all but idle and iowait).
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0 };
    let f: Vec<u64> = cpu.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum()
}

/// CPU of one group over a phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct GroupUse {
    /// CPU seconds per second of wall time.
    pub cores: f64,
    /// CPU microseconds per request.
    pub us_per_req: f64,
}

impl GroupMeter {
    pub fn start(picks: &[Pick]) -> Self {
        let groups = picks
            .iter()
            .map(|p| (p.clone(), p.pids().into_iter().map(|pid| (pid, cpu_ticks(&[pid]))).collect()))
            .collect();
        Self { groups, machine0: machine_busy_ticks(), start: Instant::now() }
    }

    /// CPU cores busy on the whole machine since `start`, whoever used them.
    pub fn machine_cores(&self) -> f64 {
        let ticks = machine_busy_ticks().saturating_sub(self.machine0) as f64;
        ticks / ticks_per_sec() / self.start.elapsed().as_secs_f64()
    }

    /// Each group's CPU since `start`, over `requests` requests, in the order of the picks.
    pub fn finish(&self, requests: u64) -> Vec<GroupUse> {
        let tps = ticks_per_sec();
        let secs = self.start.elapsed().as_secs_f64();
        let n = requests.max(1) as f64;
        self.groups
            .iter()
            .map(|(pick, start)| {
                let ticks: u64 = pick
                    .pids()
                    .into_iter()
                    .map(|pid| cpu_ticks(&[pid]).saturating_sub(start.get(&pid).copied().unwrap_or(0)))
                    .sum();
                let cpu = ticks as f64 / tps;
                GroupUse { cores: cpu / secs, us_per_req: cpu * 1e6 / n }
            })
            .collect()
    }
}

/// Samples `VmRSS` of `pid` every `every` until `stop`; returns (max KiB, samples).
pub fn spawn_rss_sampler(pid: u32, every: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let (mut max, mut n) = (0u64, 0u64);
        while !stop.load(Ordering::Relaxed) {
            if let Some(kib) = proc_status_kib(pid, "VmRSS") {
                max = max.max(kib);
                n += 1;
            }
            std::thread::sleep(every);
        }
        (max, n)
    })
}
