//! The machine the run happened on, the printed table, and the BENCHMARKS.md section.

use crate::load::{Probe, Stats};
use anyhow::Context as _;
use std::fmt::Write as _;
use std::path::Path;

/// What every benchmark run takes to place its data and report itself.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Directory for the servers' data (default: the system's temp dir).
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
    /// Rewrite the benchmark's own section of this Markdown file (e.g. BENCHMARKS.md).
    #[arg(long)]
    pub markdown: Option<std::path::PathBuf>,
    /// The command to record in the Markdown (default: this program's command line).
    #[arg(long)]
    pub command: Option<String>,
    /// What was measured, e.g. a commit, recorded in the Markdown.
    #[arg(long)]
    pub label: Option<String>,
    /// Exit with status 2 when a target is missed.
    #[arg(long)]
    pub strict: bool,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl RunArgs {
    /// A fresh work dir for the run, named `prefix…`, in `--work-dir` or the system's temp dir.
    pub fn temp_dir(&self, prefix: &str) -> std::io::Result<tempfile::TempDir> {
        temp_dir_in(self.work_dir.as_deref(), prefix)
    }

    /// The first lines of the run's section, dated now; `program_command` is this program's
    /// command line.
    pub fn header(&self, program_command: String) -> RunHeader {
        RunHeader {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            command: self.command.clone().unwrap_or_else(|| program_command.clone()),
            program_command,
            label: self.label.clone(),
        }
    }
}

/// `/proc/loadavg` as it reads now: how busy the machine was around a run.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}

/// A fresh directory named `prefix…` in `dir`, or in the system's temp dir.
pub fn temp_dir_in(dir: Option<&Path>, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let builder = tempfile::Builder::new().prefix(prefix).clone();
    match dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
}

/// When a run was made, of what code, and by which commands.
pub struct RunHeader {
    pub date: String,
    pub label: Option<String>,
    pub command: String,
    pub program_command: String,
}

impl RunHeader {
    /// Its lines, and the machine's, with `machine_note` (if any) after the machine.
    pub fn write(&self, out: &mut String, m: &Machine, machine_note: Option<&str>) {
        write_run_header(out, &self.date, self.label.as_deref(), &self.command, &self.program_command, m);
        if let Some(note) = machine_note {
            // Continues the machine's line.
            out.pop();
            let _ = writeln!(out, "; {note}");
        }
    }
}

/// What the figures depend on besides the code.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory: String,
    pub kernel: String,
    pub os: String,
}

impl Machine {
    pub fn probe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let mem_kib: u64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned()))
            .unwrap_or_else(|| "unknown".into());
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            memory: format!("{:.1} GiB", mem_kib as f64 / (1024.0 * 1024.0)),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            os,
        }
    }
}

/// The server's defaults for its in-memory blob cache (`blob_cache_mb`, `blob_cache_max_kb` in
/// crates/assetlib/src/config.rs), which the benchmarks run with and the reports state; a test
/// checks them against the server's.
pub const DEFAULT_BLOB_CACHE_MB: u64 = 256;
pub const DEFAULT_BLOB_CACHE_MAX_KB: u64 = 1024;

/// The label of the whole-file GET phase of a server restarted with its blob cache off.
pub const UNCACHED_LABEL: &str = "whole file, blob cache off (`blob_cache_mb = 0`)";

/// A sentence for the reports: the servers ran with the default configuration, and how the
/// benchmark's files compare with what the blob cache holds.
pub fn default_config_note(files: usize, file_size: usize) -> String {
    let total = files as u64 * file_size as u64;
    let fit = if file_size as u64 > DEFAULT_BLOB_CACHE_MAX_KB << 10 {
        "each larger than the cache takes"
    } else if total <= DEFAULT_BLOB_CACHE_MB << 20 {
        "less than the cache holds"
    } else {
        "more than the cache holds"
    };
    format!(
        "assetlib ran with its default configuration, which keeps up to {DEFAULT_BLOB_CACHE_MB} MiB of files of at \
         most {DEFAULT_BLOB_CACHE_MAX_KB} KiB in memory for public GETs (`blob_cache_mb`, `blob_cache_max_kb`); \
         the benchmark's {files} files come to {:.1} MiB, {fit}.",
        total as f64 / (1024.0 * 1024.0)
    )
}

/// One breakdown probe on both servers.
pub struct BreakdownRow {
    pub probe: Probe,
    pub assetlib: Stats,
    pub nginx: Stats,
}

/// Everything one run measured.
pub struct Results {
    pub date: String,
    pub command: String,
    pub program_command: String,
    pub label: Option<String>,
    pub machine: Machine,
    pub assetlib_version: String,
    pub nginx_version: String,
    pub files: usize,
    pub file_size: usize,
    pub upload_concurrency: usize,
    pub get_concurrency: usize,
    pub get_secs: f64,
    pub warmup_secs: f64,
    pub upload: Stats,
    pub assetlib_get: Stats,
    pub nginx_get: Stats,
    /// Every whole-file GET round, the main table's first.
    pub rounds: Vec<Round>,
    pub breakdown: Vec<BreakdownRow>,
    /// Whole-file GETs (the breakdown probes' duration) from assetlib restarted on the same data
    /// dir with its blob cache off; `None` when skipped.
    pub uncached_get: Option<Stats>,
    pub big_uploads: usize,
    pub big_size: usize,
    pub big_wall_secs: f64,
    pub rss_idle_kib: u64,
    /// `VmRSS` of the GET phase's server at its end: its blob cache full of the files read.
    pub rss_after_gets_kib: u64,
    pub rss_peak_hwm_kib: u64,
    pub rss_peak_sampled_kib: u64,
    pub rss_samples: u64,
    pub min_get_ratio: f64,
    pub max_rss_mb: f64,
}

/// One whole-file GET round: assetlib's req/s, then nginx's, measured one after the other.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub assetlib_rps: f64,
    pub nginx_rps: f64,
}

impl Round {
    pub fn ratio(&self) -> f64 {
        self.assetlib_rps / self.nginx_rps
    }
}

impl Results {
    /// The median of the rounds' assetlib/nginx ratios (the first round is the main table's).
    pub fn get_ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self.rounds.iter().map(Round::ratio).collect();
        if ratios.is_empty() {
            return self.assetlib_get.rps() / self.nginx_get.rps();
        }
        ratios.sort_by(f64::total_cmp);
        let mid = ratios.len() / 2;
        if ratios.len() % 2 == 1 { ratios[mid] } else { (ratios[mid - 1] + ratios[mid]) / 2.0 }
    }

    /// The GET ratio with assetlib's blob cache off (for information: the target is the default
    /// configuration's).
    pub fn uncached_get_ratio(&self) -> Option<f64> {
        self.uncached_get.as_ref().map(|u| u.rps() / self.nginx_get.rps())
    }

    /// Peak RSS in MB (10^6 bytes), the unit of the target.
    pub fn peak_rss_mb(&self) -> f64 {
        self.rss_peak_hwm_kib.max(self.rss_peak_sampled_kib) as f64 * 1024.0 / 1e6
    }

    pub fn get_ok(&self) -> bool {
        self.get_ratio() >= self.min_get_ratio
    }

    pub fn rss_ok(&self) -> bool {
        self.peak_rss_mb() <= self.max_rss_mb
    }
}

fn cpu_us(s: &Stats) -> f64 {
    s.cpu.map_or(f64::NAN, |c| c.server_us_per_req)
}

/// req/s and server CPU µs/req, or dashes where the server was not measured.
fn rps_cpu_cells(s: Option<&Stats>) -> [String; 2] {
    s.map_or(["–".to_owned(), "–".to_owned()], |s| [format!("{:.0}", s.rps()), format!("{:.0}", cpu_us(s))])
}

/// The main GET first, then the blob-cache-off GET (assetlib only), then the probes.
fn breakdown_rows(r: &Results) -> Vec<(&'static str, &Stats, Option<&Stats>)> {
    let mut rows = vec![(Probe::Full.describe(), &r.assetlib_get, Some(&r.nginx_get))];
    rows.extend(r.uncached_get.as_ref().map(|u| (UNCACHED_LABEL, u, None)));
    rows.extend(r.breakdown.iter().map(|b| (b.probe.describe(), &b.assetlib, Some(&b.nginx))));
    rows
}

/// Whether there is a breakdown table to show.
fn has_breakdown(r: &Results) -> bool {
    !r.breakdown.is_empty() || r.uncached_get.is_some()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn row(out: &mut String, name: &str, s: &Stats, md: bool) {
    let (rps, mbs, p50, p99, max) = (
        s.rps(),
        s.mib_per_sec(),
        s.percentile_ms(50.0),
        s.percentile_ms(99.0),
        s.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    let (srv_cores, srv_us, cli_cores, cli_us) = match s.cpu {
        Some(c) => (c.server_cores, c.server_us_per_req, c.client_cores, c.client_us_per_req),
        None => (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
    };
    if md {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.1} | **{rps:.0}** | {mbs:.0} | {p50:.2} | {p99:.2} | {max:.1} | {srv_cores:.2} | {srv_us:.0} | {cli_cores:.2} | {cli_us:.0} |",
            s.requests,
            s.elapsed.as_secs_f64()
        );
    } else {
        let _ = writeln!(
            out,
            "{name:<22} {:>8} {:>5.1} {rps:>8.0} {mbs:>6.0} {p50:>7.2} {p99:>7.2} {max:>7.1} {srv_cores:>6.2} {srv_us:>7.0} {cli_cores:>6.2} {cli_us:>7.0}",
            s.requests,
            s.elapsed.as_secs_f64()
        );
    }
}

/// The table printed at the end of a run.
pub fn text_table(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:>8} {:>5} {:>8} {:>6} {:>7} {:>7} {:>7} {:>6} {:>7} {:>6} {:>7}",
        "phase",
        "requests",
        "secs",
        "req/s",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "srv cr",
        "srv us",
        "cli cr",
        "cli us"
    );
    row(&mut out, &format!("upload, c{}", r.upload_concurrency), &r.upload, false);
    row(&mut out, &format!("GET assetlib, c{}", r.get_concurrency), &r.assetlib_get, false);
    row(&mut out, &format!("GET nginx, c{}", r.get_concurrency), &r.nginx_get, false);
    let _ = writeln!(
        out,
        "(srv/cli cr: CPU cores busy in the server / this client; srv/cli us: CPU microseconds per request)"
    );
    let _ = writeln!(
        out,
        "(blob cache: {DEFAULT_BLOB_CACHE_MB} MiB, the default, except where the breakdown says it is off)"
    );
    if has_breakdown(r) {
        let _ = writeln!(out, "\nwhere the time goes (concurrency {}):", r.get_concurrency);
        let _ = writeln!(out, "{:<48} {:>10} {:>10} {:>10} {:>10}", "GET", "assetlib/s", "srv us", "nginx/s", "srv us");
        for (label, a, n) in breakdown_rows(r) {
            let [nrps, nus] = rps_cpu_cells(n);
            let _ = writeln!(
                out,
                "{:<48} {:>10.0} {:>10.0} {nrps:>10} {nus:>10}",
                label.replace('`', ""),
                a.rps(),
                cpu_us(a)
            );
        }
    }
    if r.rounds.len() > 1 {
        let _ = writeln!(out, "\nwhole-file GET rounds, each server in turn:");
        for (i, round) in r.rounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "  round {}: assetlib {:.0} req/s, nginx {:.0} req/s, ratio {:.3}",
                i + 1,
                round.assetlib_rps,
                round.nginx_rps,
                round.ratio()
            );
        }
    }
    let _ = writeln!(
        out,
        "\nGET req/s assetlib/nginx (median of the rounds): {:.3}  (target >= {:.2}: {})",
        r.get_ratio(),
        r.min_get_ratio,
        verdict(r.get_ok())
    );
    if let Some(ratio) = r.uncached_get_ratio() {
        let _ =
            writeln!(out, "GET req/s assetlib/nginx, blob cache off: {ratio:.3}  (for information, not the target)");
    }
    let _ = writeln!(
        out,
        "peak RSS, {} concurrent uploads of {} MiB: {:.1} MB ({:.1} MiB; idle {:.1} MiB; {:.1} s)  (target <= {:.0} MB: {})",
        r.big_uploads,
        r.big_size >> 20,
        r.peak_rss_mb(),
        mib(r.rss_peak_hwm_kib.max(r.rss_peak_sampled_kib)),
        mib(r.rss_idle_kib),
        r.big_wall_secs,
        r.max_rss_mb,
        verdict(r.rss_ok())
    );
    out
}

/// The lines that open every run's section of BENCHMARKS.md after its title: when, which code,
/// the command, the program and the machine.
pub fn write_run_header(
    out: &mut String,
    date: &str,
    label: Option<&str>,
    command: &str,
    program_command: &str,
    m: &Machine,
) {
    let _ = writeln!(out, "- Date: {date}");
    if let Some(label) = label {
        let _ = writeln!(out, "- Code: {label}");
    }
    let _ = writeln!(out, "- Command: `{command}`");
    let _ = writeln!(out, "- Program: `{program_command}`");
    let _ = writeln!(
        out,
        "- Machine: {} cores (`nproc`), {}, {} memory, {}, Linux {}",
        m.cores, m.cpu, m.memory, m.os, m.kernel
    );
}

pub const BEGIN: &str = "<!-- assetlib-bench: begin (this section is rewritten by every run) -->";
pub const END: &str = "<!-- assetlib-bench: end -->";

/// The section of BENCHMARKS.md that a run rewrites.
pub fn markdown_section(r: &Results) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(out, "## Latest run\n");
    write_run_header(&mut out, &r.date, r.label.as_deref(), &r.command, &r.program_command, &r.machine);
    let _ = writeln!(out, "- Servers: {}; {}", r.assetlib_version, r.nginx_version);
    let _ = writeln!(
        out,
        "- The load generator runs on the same {} cores as the server under test, so every figure \
         includes the client's share of the CPU; the ratio compares two servers under the same client.",
        m.cores
    );
    let _ = writeln!(
        out,
        "- Files: {} of {} bytes (random, `.jpg` names); GETs for {:.0} s after a {:.0} s warm-up, one \
         keep-alive HTTP/1.1 connection per worker; sample bodies compared byte for byte, all statuses \
         and lengths checked.\n",
        r.files, r.file_size, r.get_secs, r.warmup_secs
    );
    let _ = writeln!(
        out,
        "| phase | requests | secs | req/s | MiB/s | p50 ms | p99 ms | max ms | server CPU (cores) | server CPU µs/req | client CPU (cores) | client CPU µs/req |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    row(&mut out, &format!("upload (Jivox POST), concurrency {}", r.upload_concurrency), &r.upload, true);
    row(&mut out, &format!("GET `/files` assetlib, concurrency {}", r.get_concurrency), &r.assetlib_get, true);
    row(&mut out, &format!("GET nginx, concurrency {}", r.get_concurrency), &r.nginx_get, true);
    let _ = writeln!(
        out,
        "\nCPU columns: user+system time from `/proc/PID/stat` over the whole phase (warm-up included) of the \
         server's processes (nginx: master and workers) and of the load generator, per second of wall time and \
         per completed request.\n"
    );
    let _ = writeln!(out, "{}\n", default_config_note(r.files, r.file_size));
    if has_breakdown(r) {
        let secs = r
            .breakdown
            .first()
            .map(|b| &b.assetlib)
            .or(r.uncached_get.as_ref())
            .map_or(0.0, |s| s.elapsed.as_secs_f64());
        let _ = write!(
            out,
            "Where the time goes: the same client and concurrency asking for less of the work \
             ({secs:.0} s each after a short warm-up; the whole-file row is the benchmark above)."
        );
        if let Some(ratio) = r.uncached_get_ratio() {
            let _ = write!(
                out,
                " The blob-cache-off row is assetlib restarted on the same data directory with \
                 `ASSETLIB_BLOB_CACHE_MB=0`, every GET reading its file from the blob store on disk (through the \
                 OS page cache, as nginx's reads go): {ratio:.3}x nginx's whole-file req/s, for information (the \
                 target below is the default configuration's). nginx has no such cache to turn off, hence the \
                 dashes."
            );
        }
        let _ = writeln!(out, "\n");
        let _ = writeln!(
            out,
            "| GET | assetlib req/s | assetlib server CPU µs/req | nginx req/s | nginx server CPU µs/req |"
        );
        let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
        for (label, a, n) in breakdown_rows(r) {
            let [nrps, nus] = rps_cpu_cells(n);
            let _ = writeln!(out, "| {label} | {:.0} | {:.0} | {nrps} | {nus} |", a.rps(), cpu_us(a));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "Peak RSS of a fresh assetlib while {} clients each upload one {} MiB file at once: \
         **{:.1} MB** ({:.1} MiB; `VmHWM` {:.1} MiB, highest of {} `VmRSS` samples taken every 10 ms \
         {:.1} MiB; idle before the uploads {:.1} MiB; the uploads took {:.1} s).\n",
        r.big_uploads,
        r.big_size >> 20,
        r.peak_rss_mb(),
        mib(r.rss_peak_hwm_kib.max(r.rss_peak_sampled_kib)),
        mib(r.rss_peak_hwm_kib),
        r.rss_samples,
        mib(r.rss_peak_sampled_kib),
        mib(r.rss_idle_kib),
        r.big_wall_secs
    );
    let _ = writeln!(
        out,
        "That is the memory uploads cost. A server that has served for a while holds its blob cache \
         on top: the GET phase's server ended at {:.1} MiB RSS with the benchmark's files cached \
         (`blob_cache_mb` bounds it; 0 turns it off).\n",
        mib(r.rss_after_gets_kib)
    );
    if r.rounds.len() > 1 {
        let _ = writeln!(
            out,
            "Whole-file GET rounds: each server {} times, in turn (assetlib, then nginx, then assetlib \
             again, each restarted; the first round is the table above). The target is judged on \
             the median of the rounds' ratios: one server's req/s moves between runs by more than \
             the margin the target leaves.\n",
            r.rounds.len()
        );
        let _ = writeln!(out, "| round | assetlib req/s | nginx req/s | assetlib/nginx |");
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: |");
        for (i, round) in r.rounds.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.3} |",
                i + 1,
                round.assetlib_rps,
                round.nginx_rps,
                round.ratio()
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "| target | measured | result |");
    let _ = writeln!(out, "| --- | ---: | --- |");
    let _ = writeln!(
        out,
        "| GET req/s at least {:.2}x nginx (median of the rounds) | {:.3}x | {} |",
        r.min_get_ratio,
        r.get_ratio(),
        verdict(r.get_ok())
    );
    let _ = writeln!(
        out,
        "| peak RSS under {} x {} MiB uploads at most {:.0} MB | {:.1} MB | {} |",
        r.big_uploads,
        r.big_size >> 20,
        r.max_rss_mb,
        r.peak_rss_mb(),
        verdict(r.rss_ok())
    );
    let _ = writeln!(out, "{END}");
    out
}

const PREAMBLE: &str = "# Benchmarks\n\n\
Produced by `bash scripts/bench.sh` (the program is `crates/bench`, `assetlib-bench`). The section \
between the markers below is rewritten by each run; the text outside it is kept.\n\n";

/// Replaces the marked section of `path` (or creates the file) with the run's section.
pub fn write_markdown(path: &Path, r: &Results) -> anyhow::Result<()> {
    replace_section(path, BEGIN, END, &markdown_section(r), PREAMBLE)
}

/// Replaces what stands between `begin` and `end` (markers included, as `section` has them) in
/// `path`; a file without them gets `section` appended, a missing or empty one `preamble` first.
/// Prints a run's section and writes it between `begin` and `end` of `--markdown`, if given;
/// whether the run is to exit with 2 (`--strict` and a missed target).
pub fn publish(run: &RunArgs, begin: &str, end: &str, markdown: &str, pass: bool) -> anyhow::Result<bool> {
    print!("{markdown}");
    if let Some(path) = &run.markdown {
        replace_section(path, begin, end, markdown, "# Benchmarks\n\n")
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(run.strict && !pass)
}

pub fn replace_section(path: &Path, begin: &str, end: &str, section: &str, preamble: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = match (existing.find(begin), existing.find(end)) {
        (Some(b), Some(e)) if e > b => {
            let after = &existing[e + end.len()..];
            format!("{}{}{}", &existing[..b], section.trim_end_matches('\n'), after)
        }
        _ if existing.trim().is_empty() => format!("{preamble}{section}"),
        _ => format!("{}\n\n{section}", existing.trim_end()),
    };
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// `requests` requests of 1 ms each over `secs` seconds, 10 µs of server CPU each.
    pub(crate) fn stats(requests: usize, secs: f64) -> Stats {
        let mut s = Stats::new(vec![1000; requests], Duration::from_secs_f64(secs), requests as u64 * 100 * 1024);
        s.completed_all = requests as u64;
        s.cpu = Some(crate::procs::CpuUse {
            server_cores: 1.0,
            client_cores: 1.0,
            server_us_per_req: 10.0,
            client_us_per_req: 10.0,
        });
        s
    }

    pub(crate) fn machine() -> Machine {
        Machine {
            cores: 4,
            cpu: "test cpu".into(),
            memory: "1.0 GiB".into(),
            kernel: "6.0".into(),
            os: "test os".into(),
        }
    }

    fn results(uncached: Option<Stats>, breakdown: bool) -> Results {
        let breakdown = if breakdown {
            vec![BreakdownRow { probe: Probe::Missing, assetlib: stats(5000, 5.0), nginx: stats(6000, 5.0) }]
        } else {
            vec![]
        };
        Results {
            date: "2026-01-01 00:00 UTC".into(),
            command: "bench".into(),
            program_command: "assetlib-bench".into(),
            label: None,
            machine: machine(),
            assetlib_version: "assetlib 0.1.0".into(),
            nginx_version: "nginx/1.0".into(),
            files: 2000,
            file_size: 100 * 1024,
            upload_concurrency: 16,
            get_concurrency: 32,
            get_secs: 10.0,
            warmup_secs: 2.0,
            upload: stats(1000, 1.0),
            assetlib_get: stats(9000, 10.0),
            nginx_get: stats(10000, 10.0),
            rounds: vec![Round { assetlib_rps: 900.0, nginx_rps: 1000.0 }],
            breakdown,
            uncached_get: uncached,
            big_uploads: 32,
            big_size: 10 << 20,
            big_wall_secs: 1.0,
            rss_idle_kib: 10_000,
            rss_after_gets_kib: 220_000,
            rss_peak_hwm_kib: 50_000,
            rss_peak_sampled_kib: 49_000,
            rss_samples: 100,
            min_get_ratio: 0.8,
            max_rss_mb: 150.0,
        }
    }

    #[test]
    fn the_blob_cache_off_row_follows_the_whole_file_row() {
        let r = results(Some(stats(3000, 5.0)), true);
        let md = markdown_section(&r);
        let lines: Vec<&str> = md.lines().collect();
        let full = lines.iter().position(|l| l.starts_with("| whole file (200")).expect("whole-file row");
        assert_eq!(lines[full], "| whole file (200, 100 KiB) | 900 | 10 | 1000 | 10 |");
        assert_eq!(lines[full + 1], "| whole file, blob cache off (`blob_cache_mb = 0`) | 600 | 10 | – | – |");
        assert!(lines[full + 2].starts_with("| missing file (404) | 1000 |"));
        assert!(md.contains("0.600x nginx's whole-file req/s"));
        assert!(md.contains("the benchmark's 2000 files come to 195.3 MiB, less than the cache holds."));
        // The target stays the default configuration's.
        assert!(md.contains("| GET req/s at least 0.80x nginx (median of the rounds) | 0.900x | PASS |"));
        let text = text_table(&r);
        assert!(text.contains("whole file, blob cache off (blob_cache_mb = 0)"));
        assert!(text.contains("GET req/s assetlib/nginx, blob cache off: 0.600  (for information, not the target)"));
    }

    #[test]
    fn without_the_blob_cache_off_phase_there_is_no_row() {
        let r = results(None, true);
        let md = markdown_section(&r);
        assert!(!md.contains("blob cache off"));
        assert!(md.contains("| missing file (404) |"));
        assert!(md.contains("assetlib ran with its default configuration"));
        let r = results(None, false);
        assert!(!markdown_section(&r).contains("Where the time goes"));
        assert!(!text_table(&r).contains("where the time goes"));
    }

    #[test]
    fn the_target_is_the_median_of_the_rounds() {
        let mut r = results(None, true);
        r.rounds = [(900.0, 1000.0), (700.0, 1000.0), (820.0, 1000.0)]
            .map(|(a, n)| Round { assetlib_rps: a, nginx_rps: n })
            .to_vec();
        assert!((r.get_ratio() - 0.82).abs() < 1e-9);
        assert!(r.get_ok());
        let md = markdown_section(&r);
        assert!(md.contains("| 2 | 700 | 1000 | 0.700 |"));
        assert!(md.contains("| GET req/s at least 0.80x nginx (median of the rounds) | 0.820x | PASS |"));
        r.rounds.push(Round { assetlib_rps: 600.0, nginx_rps: 1000.0 });
        assert!((r.get_ratio() - 0.76).abs() < 1e-9, "an even count takes the mean of the middle two");
        assert!(!r.get_ok());
    }

    #[test]
    fn the_stated_blob_cache_defaults_are_the_servers() {
        let config = assetlib::config::Config::default();
        assert_eq!(
            (DEFAULT_BLOB_CACHE_MB, DEFAULT_BLOB_CACHE_MAX_KB),
            (config.blob_cache_mb, config.blob_cache_max_kb)
        );
    }

    #[test]
    fn the_note_says_when_the_files_do_not_fit() {
        assert!(default_config_note(4000, 100 * 1024).ends_with("390.6 MiB, more than the cache holds."));
        assert!(default_config_note(10, 2 << 20).ends_with("each larger than the cache takes."));
    }
}
