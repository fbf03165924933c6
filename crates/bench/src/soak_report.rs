//! The soak's figures: the printed summary and its section of BENCHMARKS.md.

use crate::report::Machine;
use crate::soak::{Finding, Kind};
use std::fmt::Write as _;
use std::path::Path;

pub const BEGIN: &str = "<!-- assetlib-bench soak: begin (this section is rewritten by every soak run) -->";
pub const END: &str = "<!-- assetlib-bench soak: end -->";

/// One kind of request over the run. Errors inside a kill window are counted apart from the
/// others; latencies are those of the answered requests outside the kill windows.
#[derive(Clone, Debug)]
pub struct KindRow {
    pub kind: Kind,
    pub requests: u64,
    pub ok: u64,
    pub window_errors: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl KindRow {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            requests: 0,
            ok: 0,
            window_errors: 0,
            client_errors: 0,
            server_errors: 0,
            transport_errors: 0,
            p50_ms: f64::NAN,
            p99_ms: f64::NAN,
            max_ms: f64::NAN,
        }
    }

    /// Errors outside the kill windows.
    pub fn errors(&self) -> u64 {
        self.client_errors + self.server_errors + self.transport_errors
    }
}

/// One SIGKILL and restart.
#[derive(Clone, Debug)]
pub struct KillRow {
    /// Seconds into the run.
    pub at_s: f64,
    /// From the kill until the restarted server printed its listening line.
    pub listening_ms: Option<f64>,
    /// From the kill until it answered `/healthz`.
    pub healthy_ms: Option<f64>,
    /// The kill window: the kill until `/healthz`, plus the grace.
    pub window_s: f64,
    /// Requests that failed while overlapping the window.
    pub failed_in_window: u64,
    /// Of those, the ones answered 5xx (the others never got a whole answer).
    pub server_errors_in_window: u64,
    pub survived: bool,
}

/// What the final check read back.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    /// Public GETs of the final check.
    pub requests: u64,
    /// Keys and zip entries that held one of their possible contents, byte for byte.
    pub assets: u64,
    pub bytes: u64,
    /// Keys (and entries of unanswered zips) that were rightly absent.
    pub absent: u64,
    pub zip_entries: u64,
    pub zips_completed: u64,
    /// Zips whose upload got no answer (a kill), found whole or found absent.
    pub unanswered_zips_taken: u64,
    pub unanswered_zips_absent: u64,
    /// Keys that ended with more than one possible version (a write of unknown outcome).
    pub uncertain_keys: u64,
}

impl Verified {
    pub fn add(&mut self, o: &Verified) {
        self.requests += o.requests;
        self.assets += o.assets;
        self.bytes += o.bytes;
        self.absent += o.absent;
        self.zip_entries += o.zip_entries;
        self.zips_completed += o.zips_completed;
        self.unanswered_zips_taken += o.unanswered_zips_taken;
        self.unanswered_zips_absent += o.unanswered_zips_absent;
        self.uncertain_keys += o.uncertain_keys;
    }
}

/// Everything one soak measured.
pub struct SoakResults {
    pub date: String,
    pub command: String,
    pub program_command: String,
    pub label: Option<String>,
    pub machine: Machine,
    pub assetlib_version: String,
    pub clients: usize,
    pub secs: f64,
    pub elapsed_s: f64,
    pub kill_grace_s: f64,
    pub request_timeout_s: f64,
    pub keys_per_client: usize,
    pub max_file_size: usize,
    pub large_every: u32,
    pub large_size: usize,
    pub mix: Vec<(Kind, u32)>,
    pub kinds: Vec<KindRow>,
    pub kills: Vec<KillRow>,
    /// TERM, start and `/healthz` before the final check.
    pub final_restart_ms: f64,
    pub verified: Verified,
    /// Public GETs during the run whose body was compared, and their bytes.
    pub gets_verified: u64,
    pub bytes_verified_run: u64,
    /// Writes whose outcome stayed unknown (in flight at a kill, a 5xx, a timeout).
    pub unknown_writes: u64,
    /// Keys left uncertain by such writes that a later read settled: the writes had taken
    /// effect whole, or the key held what it held before them.
    pub unknown_landed: u64,
    pub unknown_not_landed: u64,
    pub zips_acked: u64,
    pub zips_unknown: u64,
    /// Each finding and how often, during the run and in the final check.
    pub findings: Vec<(Finding, u64)>,
    pub log_errors: usize,
    pub log_warnings: usize,
    /// Queue polls of the final check (not in the run's figures).
    pub final_polls: u64,
    /// Files left in the data dir's `tmp/` after the final check (uploads cut off by a kill).
    pub tmp_leftovers: u64,
    /// Acknowledged zips: from the answer to the poll that saw the final status, p50, p99 and
    /// max in ms (polls every 0.5 s, between the client's other requests).
    pub zip_settle: [f64; 3],
    /// Acknowledged zips seen final before the load ended (the others after it).
    pub zips_final_in_run: u64,
    /// `/proc/loadavg` when the run began and when it ended: other work on the machine shows here.
    pub loadavg_before: String,
    pub loadavg_after: String,
}

impl SoakResults {
    pub fn total(&self) -> KindRow {
        let mut t = KindRow::new(Kind::JivoxUpload);
        for r in &self.kinds {
            t.requests += r.requests;
            t.ok += r.ok;
            t.window_errors += r.window_errors;
            t.client_errors += r.client_errors;
            t.server_errors += r.server_errors;
            t.transport_errors += r.transport_errors;
        }
        t
    }

    pub fn finding(&self, f: Finding) -> u64 {
        self.findings.iter().find(|(g, _)| *g == f).map_or(0, |(_, n)| *n)
    }

    pub fn kills_survived(&self) -> usize {
        self.kills.iter().filter(|k| k.survived).count()
    }

    /// The targets, as (what, measured, passed).
    pub fn targets(&self) -> Vec<(String, String, bool)> {
        let t = self.total();
        let mut out = vec![
            ("5xx outside the kill windows: 0".to_owned(), t.server_errors.to_string(), t.server_errors == 0),
            (
                format!("kills survived: {} of {}", self.kills.len(), self.kills.len()),
                format!("{} of {}", self.kills_survived(), self.kills.len()),
                self.kills_survived() == self.kills.len(),
            ),
        ];
        for (f, what) in [
            (Finding::Lost, "lost keys: 0 (acknowledged, not deleted, yet missing)"),
            (Finding::Corrupt, "corrupt keys: 0 (bytes that are none of the key's possible versions)"),
            (Finding::Resurrected, "deleted keys back: 0"),
            (Finding::HalfVisible, "half-visible zips or entries: 0 (an unanswered zip partly there)"),
            (Finding::Unexpected, "unexpected files or folders in a listing: 0"),
            (Finding::ZipNotCompleted, "acknowledged zips not Completed: 0"),
        ] {
            let n = self.finding(f);
            out.push((what.to_owned(), n.to_string(), n == 0));
        }
        out
    }

    pub fn passed(&self) -> bool {
        self.targets().iter().all(|(_, _, ok)| *ok)
    }

    fn mix_text(&self) -> String {
        self.mix.iter().map(|(k, w)| format!("{} {w}", k.name())).collect::<Vec<_>>().join(", ")
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(v: f64) -> String {
    if v.is_nan() { "–".to_owned() } else { format!("{v:.1}") }
}

/// Milliseconds shown as seconds.
fn secs(ms: f64) -> String {
    if ms.is_nan() { "–".to_owned() } else { format!("{:.1}", ms / 1000.0) }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("never".to_owned(), |v| format!("{v:.0}"))
}

/// The summary printed at the end of a run.
pub fn text(r: &SoakResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>8} {:>8} {:>9} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8}",
        "request", "requests", "ok", "kill-win", "4xx", "5xx", "transp", "p50 ms", "p99 ms", "max ms"
    );
    let t = r.total();
    for row in r.kinds.iter().chain(std::iter::once(&t)) {
        let name = if std::ptr::eq(row, &t) { "total" } else { row.kind.name() };
        let _ = writeln!(
            out,
            "{name:<16} {:>8} {:>8} {:>9} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8}",
            row.requests,
            row.ok,
            row.window_errors,
            row.client_errors,
            row.server_errors,
            row.transport_errors,
            ms(row.p50_ms),
            ms(row.p99_ms),
            ms(row.max_ms)
        );
    }
    let _ = writeln!(
        out,
        "(kill-win: failed while overlapping a kill window; 4xx/5xx/transp: errors outside them; \
         latencies: answered requests outside them)"
    );
    let _ = writeln!(
        out,
        "{} clients, {:.1} s, {:.0} requests/s; {} errors outside the kill windows",
        r.clients,
        r.elapsed_s,
        t.requests as f64 / r.elapsed_s,
        t.errors()
    );
    for (i, k) in r.kills.iter().enumerate() {
        let _ = writeln!(
            out,
            "kill {} at {:.1} s: listening again after {} ms, /healthz after {} ms; window {:.1} s, {} requests failed \
             in it ({} of them 5xx)",
            i + 1,
            k.at_s,
            opt_ms(k.listening_ms),
            opt_ms(k.healthy_ms),
            k.window_s,
            k.failed_in_window,
            k.server_errors_in_window
        );
    }
    let v = &r.verified;
    let _ = writeln!(
        out,
        "final restart (TERM, start, /healthz): {:.0} ms; final check: {} GETs, {} queue polls",
        r.final_restart_ms, v.requests, r.final_polls
    );
    let _ = writeln!(
        out,
        "verified after the run: {} assets byte for byte ({:.1} MiB; {} of them zip entries of {} completed zips), \
         {} keys rightly absent",
        v.assets,
        mib(v.bytes),
        v.zip_entries,
        v.zips_completed,
        v.absent
    );
    let _ = writeln!(
        out,
        "verified during the run: {} public GETs byte for byte ({:.1} MiB)",
        r.gets_verified,
        mib(r.bytes_verified_run)
    );
    let _ = writeln!(
        out,
        "zips, answer to final status seen (polls every 0.5 s): p50 {} s, p99 {} s, max {} s; \
         {} of {} acknowledged zips seen final before the load ended",
        secs(r.zip_settle[0]),
        secs(r.zip_settle[1]),
        secs(r.zip_settle[2]),
        r.zips_final_in_run,
        r.zips_acked
    );
    let _ = writeln!(
        out,
        "writes of unknown outcome: {} (read back: {} had taken effect, {} had not); keys left with more than \
         one possible version: {}; zips acknowledged {}, unanswered {} (found whole {}, absent {})",
        r.unknown_writes,
        r.unknown_landed,
        r.unknown_not_landed,
        v.uncertain_keys,
        r.zips_acked,
        r.zips_unknown,
        v.unanswered_zips_taken,
        v.unanswered_zips_absent
    );
    let _ = writeln!(
        out,
        "server log: {} ERROR lines, {} WARN lines; files left in the data dir's tmp/: {}",
        r.log_errors, r.log_warnings, r.tmp_leftovers
    );
    for (what, measured, ok) in r.targets() {
        let _ = writeln!(out, "{what:<66} {measured:>8}  {}", verdict(ok));
    }
    out
}

/// The section of BENCHMARKS.md that a soak run rewrites.
pub fn markdown_section(r: &SoakResults) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let v = &r.verified;
    let t = r.total();
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(out, "## Soak run: mixed load and crashes, embedded default\n");
    crate::report::write_run_header(&mut out, &r.date, r.label.as_deref(), &r.command, &r.program_command, &r.machine);
    let _ = writeln!(
        out,
        "- Server: {}, `serve` on the embedded default (SQLite + local files) in a fresh data dir, default \
         configuration, on 127.0.0.1; the clients run on the same {} cores (`/proc/loadavg` when the run began: \
         {}; when it ended: {}).",
        r.assetlib_version, m.cores, r.loadavg_before, r.loadavg_after
    );
    let _ = writeln!(
        out,
        "- Load: {} clients (tokio tasks, one shared keep-alive reqwest client), each one request at a time for \
         {:.0} s ({:.1} s with the last answers), picking by weight from: {}; besides, it asks the queue of its \
         oldest zip not yet final for its status every 0.5 s. Every request bounded by {:.0} s. Each client owns {} \
         keys (`soak/cNNN/kK.jpg`) and its zips' folders, so it knows what each key may hold: contents are random \
         bytes from a seed, sizes uniform from 16 bytes to {} KiB, one upload in {} up to {} KiB; zips hold 2–4 \
         entries of up to 8 KiB.",
        r.clients,
        r.secs,
        r.elapsed_s,
        r.mix_text(),
        r.request_timeout_s,
        r.keys_per_client,
        r.max_file_size / 1024,
        r.large_every,
        r.large_size / 1024
    );
    if r.kills.is_empty() {
        let _ = writeln!(out, "- Crashes: none in this run (`--kill-at none`).");
    } else {
        let _ = writeln!(
            out,
            "- Crashes: SIGKILL at {} s, the server started again at once on the same data dir and port. A kill \
         window runs from the kill until the restarted server answers `/healthz`, plus {:.0} s; a request that \
         overlaps one and fails counts as a kill-window error, not as an error. A write answered 200 is \
         acknowledged; one whose answer never came (or a 5xx) may have happened or not, and the key may hold \
         either version, but nothing else.",
            r.kills.iter().map(|k| format!("{:.0}", k.at_s)).collect::<Vec<_>>().join(" and "),
            r.kill_grace_s
        );
    }
    let _ = writeln!(
        out,
        "- After the run the server is stopped (TERM) and started again ({:.0} ms to `/healthz`), the \
         acknowledged zips are awaited, and every key and zip entry is read through its public URL and \
         compared byte for byte with what it may hold; each client's folder (and each zip's) is listed and \
         must show nothing else.\n",
        r.final_restart_ms
    );
    let _ = writeln!(
        out,
        "| request | requests | ok | failed in kill windows | 4xx outside | 5xx outside | transport errors outside | p50 ms | p99 ms | max ms |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for row in &r.kinds {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.kind.describe(),
            row.requests,
            row.ok,
            row.window_errors,
            row.client_errors,
            row.server_errors,
            row.transport_errors,
            ms(row.p50_ms),
            ms(row.p99_ms),
            ms(row.max_ms)
        );
    }
    let _ = writeln!(
        out,
        "| **total** ({:.0} requests/s) | **{}** | {} | {} | {} | **{}** | {} | | | |",
        t.requests as f64 / r.elapsed_s,
        t.requests,
        t.ok,
        t.window_errors,
        t.client_errors,
        t.server_errors,
        t.transport_errors
    );
    let _ = writeln!(
        out,
        "\nok: answered as the client's model allows (a 404 for a key that may be absent is ok). Latencies: the \
         answered requests outside the kill windows, from the first byte sent to the last byte read.\n"
    );
    if !r.kills.is_empty() {
        let _ = writeln!(
            out,
            "| kill | at s | listening again after ms | `/healthz` after ms | window s | requests failed in it | of them 5xx |"
        );
        let _ = writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    }
    for (i, k) in r.kills.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {} | {:.1} | {} | {} |",
            i + 1,
            k.at_s,
            opt_ms(k.listening_ms),
            opt_ms(k.healthy_ms),
            k.window_s,
            k.failed_in_window,
            k.server_errors_in_window
        );
    }
    let _ = writeln!(
        out,
        "\nVerified after the run: **{} assets byte for byte ({:.1} MiB)**, {} of them entries of {} completed \
         zips, and {} keys rightly absent. During the run: {} public GETs compared byte for byte ({:.1} MiB). \
         Writes of unknown outcome (cut off by a kill, or answered 5xx): {}; the client reads such a key back \
         first thing, and those reads found it taken whole: {}, not taken at all (the key held its previous \
         version): {}; keys that ended with more than one possible version (each held one of them): {}; \
         of {} zip uploads that got no answer, {} were found whole and {} absent. The server logged {} \
         ERROR and {} WARN lines; {} files were left in the data dir's `tmp/` (uploads cut off by a kill; \
         not visible, for information).\n",
        v.assets,
        mib(v.bytes),
        v.zip_entries,
        v.zips_completed,
        v.absent,
        r.gets_verified,
        mib(r.bytes_verified_run),
        r.unknown_writes,
        r.unknown_landed,
        r.unknown_not_landed,
        v.uncertain_keys,
        r.zips_unknown,
        v.unanswered_zips_taken,
        v.unanswered_zips_absent,
        r.log_errors,
        r.log_warnings,
        r.tmp_leftovers
    );
    let _ = writeln!(
        out,
        "Zips: from the upload's answer to the poll that saw its queue Completed (each client polls the queue \
         of its oldest pending zip every 0.5 s between its other requests): p50 {} s, p99 {} s, max {} s; {} \
         of the {} acknowledged zips were seen Completed before the load ended, the others after it.\n",
        secs(r.zip_settle[0]),
        secs(r.zip_settle[1]),
        secs(r.zip_settle[2]),
        r.zips_final_in_run,
        r.zips_acked
    );
    let _ = writeln!(out, "| target | measured | result |");
    let _ = writeln!(out, "| --- | ---: | --- |");
    for (what, measured, ok) in r.targets() {
        let _ = writeln!(out, "| {what} | {measured} | {} |", verdict(ok));
    }
    let _ = writeln!(out, "{END}");
    out
}

/// Replaces the soak section of `path` (or appends it).
pub fn write_markdown(path: &Path, r: &SoakResults) -> anyhow::Result<()> {
    crate::report::replace_section(path, BEGIN, END, &markdown_section(r), "# Benchmarks\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> SoakResults {
        let mut upload = KindRow::new(Kind::JivoxUpload);
        (upload.requests, upload.ok, upload.window_errors, upload.p50_ms, upload.p99_ms) = (100, 90, 10, 5.0, 50.0);
        let mut get = KindRow::new(Kind::PublicGet);
        (get.requests, get.ok, get.server_errors) = (200, 199, 1);
        SoakResults {
            date: "2026-01-01 00:00 UTC".into(),
            command: "bash scripts/bench-soak.sh".into(),
            program_command: "assetlib-bench soak".into(),
            label: None,
            machine: crate::report::tests::machine(),
            assetlib_version: "assetlib 0.1.0".into(),
            clients: 200,
            secs: 60.0,
            elapsed_s: 60.5,
            kill_grace_s: 2.0,
            request_timeout_s: 30.0,
            keys_per_client: 8,
            max_file_size: 64 * 1024,
            large_every: 25,
            large_size: 1 << 20,
            mix: crate::soak::parse_mix("jivox-upload=1,public-get=2").expect("mix"),
            kinds: vec![upload, get],
            kills: vec![KillRow {
                at_s: 20.0,
                listening_ms: Some(150.0),
                healthy_ms: Some(160.0),
                window_s: 2.2,
                failed_in_window: 10,
                server_errors_in_window: 0,
                survived: true,
            }],
            final_restart_ms: 300.0,
            verified: Verified { assets: 1500, bytes: 1 << 30, ..Verified::default() },
            gets_verified: 10,
            bytes_verified_run: 1 << 20,
            unknown_writes: 3,
            unknown_landed: 1,
            unknown_not_landed: 2,
            zips_acked: 5,
            zips_unknown: 1,
            findings: vec![(Finding::Lost, 0), (Finding::Corrupt, 0)],
            log_errors: 0,
            log_warnings: 2,
            final_polls: 0,
            tmp_leftovers: 0,
            zip_settle: [1000.0, 5000.0, 6000.0],
            zips_final_in_run: 4,
            loadavg_before: "0.10 0.20 0.30 1/100 1".into(),
            loadavg_after: "1.90 1.00 0.50 1/100 2".into(),
        }
    }

    #[test]
    fn a_5xx_outside_the_windows_fails_the_soak_and_shows() {
        let r = results();
        assert_eq!(r.total().server_errors, 1);
        assert!(!r.passed());
        let md = markdown_section(&r);
        assert!(md.starts_with(BEGIN) && md.trim_end().ends_with(END));
        assert!(md.contains("| 5xx outside the kill windows: 0 | 1 | FAIL |"));
        assert!(md.contains("| **total** (5 requests/s) | **300** | 289 | 10 | 0 | **1** | 0 | | | |"));
        assert!(
            md.contains("| Jivox upload, one file (multipart POST) | 100 | 90 | 10 | 0 | 0 | 0 | 5.0 | 50.0 | – |")
        );
        assert!(md.contains("**1500 assets byte for byte (1024.0 MiB)**"));
        assert!(text(&r).contains("kill 1 at 20.0 s: listening again after 150 ms, /healthz after 160 ms"));
    }

    #[test]
    fn a_run_without_kills_says_so() {
        let mut r = results();
        r.kills.clear();
        let md = markdown_section(&r);
        assert!(md.contains("- Crashes: none in this run (`--kill-at none`)."));
        assert!(!md.contains("SIGKILL at") && !md.contains("| kill |"));
        assert!(md.contains("| kills survived: 0 of 0 | 0 of 0 | PASS |"));
    }

    #[test]
    fn clean_figures_pass_and_a_finding_fails() {
        let mut r = results();
        r.kinds[1].server_errors = 0;
        assert!(r.passed());
        r.findings = vec![(Finding::Corrupt, 1)];
        assert!(!r.passed());
        r.findings.clear();
        r.kills[0].survived = false;
        assert!(!r.passed());
    }
}
