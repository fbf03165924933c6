//! The scale-out run's printed table and its own section of BENCHMARKS.md (its own markers; the
//! embedded run's section is left as it is).

use crate::scaleout::{Parties, Phase, ScaleoutResults};
use std::fmt::Write as _;
use std::path::Path;

pub const BEGIN: &str = "<!-- assetlib-bench scaleout: begin (this section is rewritten by every scale-out run) -->";
pub const END: &str = "<!-- assetlib-bench scaleout: end -->";

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn us(g: Option<crate::procs::GroupUse>) -> String {
    g.map_or("–".to_owned(), |g| format!("{:.0}", g.us_per_req))
}

/// `1000000` as `1,000,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn max_ms(p: &Phase) -> f64 {
    p.stats.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0
}

fn cpu_cells(c: &Parties) -> [String; 4] {
    [us(c.assetlib), us(c.s3), us(c.postgres), format!("{:.0}", c.client.us_per_req)]
}

/// The upload/GET phases: (label, phase).
fn io_rows(r: &ScaleoutResults) -> Vec<(String, &Phase)> {
    let mut rows = vec![
        (format!("upload, assetlib (Jivox POST), concurrency {}", r.upload_concurrency), &r.upload),
        (format!("PUT straight to S3, concurrency {}", r.upload_concurrency), &r.s3_put),
        (format!("GET `/files`, assetlib, concurrency {}", r.get_concurrency), &r.get),
    ];
    if let Some(p) = &r.get_uncached {
        rows.push((format!("GET `/files`, assetlib, blob cache off, concurrency {}", r.get_concurrency), p));
    }
    rows.push((format!("GET straight from S3, concurrency {}", r.get_concurrency), &r.s3_get));
    if let Some(p) = &r.own_core {
        let c = r.upload_concurrency;
        rows.push((format!("upload, assetlib, concurrency {c}, SeaweedFS on a core of its own"), &p.upload));
        rows.push((format!("PUT straight to S3, concurrency {c}, SeaweedFS on a core of its own"), &p.s3_put));
    }
    rows
}

fn list_rows(r: &ScaleoutResults) -> [(String, &Phase); 3] {
    [
        ("assetlib on SQLite, Jivox Get Assets".to_owned(), &r.list_sqlite),
        ("assetlib on PostgreSQL + S3, Jivox Get Assets".to_owned(), &r.list_postgres),
        ("SeaweedFS ListObjectsV2, delimiter `/`".to_owned(), &r.list_s3),
    ]
}

/// The target rows: (target, measured, ok).
fn targets(r: &ScaleoutResults) -> Vec<(String, String, bool)> {
    let p50 = |p: &Phase| p.stats.percentile_ms(50.0);
    vec![
        (
            format!("upload req/s at least {:.2}x raw S3 PUT", r.min_upload_ratio),
            format!("{:.3}x", r.upload_ratio()),
            r.upload_ok(),
        ),
        (
            format!("GET req/s at least {:.2}x raw S3 GET", r.min_get_ratio),
            format!("{:.3}x", r.get_ratio()),
            r.get_ok(),
        ),
        (
            format!("listing p50 at most {:.0} ms, SQLite", r.max_list_p50_ms),
            format!("{:.2} ms", p50(&r.list_sqlite)),
            r.list_ok(&r.list_sqlite),
        ),
        (
            format!("listing p50 at most {:.0} ms, PostgreSQL", r.max_list_p50_ms),
            format!("{:.2} ms", p50(&r.list_postgres)),
            r.list_ok(&r.list_postgres),
        ),
    ]
}

/// The informational lines below the targets, which no target is judged on: the GET ratio
/// with the blob cache off (the GET target is the default configuration's), and the upload
/// ratio with SeaweedFS on a core of its own (the upload target is the shared cores').
fn infos(r: &ScaleoutResults) -> Vec<(String, String)> {
    let mut out = vec![];
    if let Some(ratio) = r.uncached_get_ratio() {
        out.push((
            "for information, not a target: GET req/s with assetlib's blob cache off, vs raw S3 GET".to_owned(),
            format!("{ratio:.3}x"),
        ));
    }
    if let Some(p) = &r.own_core {
        out.push((
            "for information, not a target: upload req/s vs raw S3 PUT, SeaweedFS on a core of its own both times"
                .to_owned(),
            format!("{:.3}x", p.upload_ratio()),
        ));
    }
    out
}

/// The table printed at the end of a run.
pub fn text(r: &ScaleoutResults) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<52} {:>8} {:>5} {:>7} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}",
        "phase",
        "requests",
        "secs",
        "req/s",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "asl us",
        "s3 us",
        "pg us",
        "cli us",
        "others"
    );
    for (name, p) in io_rows(r).iter().chain(list_rows(r).iter()) {
        let s = &p.stats;
        let [a, s3, pg, c] = cpu_cells(&p.cpu);
        let _ = writeln!(
            out,
            "{:<52} {:>8} {:>5.1} {:>7.0} {:>6.0} {:>7.2} {:>7.2} {:>7.1} {a:>7} {s3:>7} {pg:>7} {c:>7} {:>6.2}",
            name.replace('`', ""),
            s.requests,
            s.elapsed.as_secs_f64(),
            s.rps(),
            s.mib_per_sec(),
            s.percentile_ms(50.0),
            s.percentile_ms(99.0),
            max_ms(p),
            p.cpu.others_cores
        );
    }
    let _ = writeln!(
        out,
        "(asl/s3/pg/cli us: CPU microseconds per request of assetlib, the S3 store, PostgreSQL, this client; \
         others: cores busy in other processes meanwhile)"
    );
    for (target, measured, ok) in targets(r) {
        let _ = writeln!(out, "{target}: {measured}  {}", verdict(ok));
    }
    for (what, measured) in infos(r) {
        let _ = writeln!(out, "({what}: {measured})");
    }
    out
}

/// The section of BENCHMARKS.md that a scale-out run rewrites.
pub fn markdown_section(r: &ScaleoutResults) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let l = &r.library;
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(out, "## Scale-out run: PostgreSQL + S3\n");
    crate::report::write_run_header(&mut out, &r.date, r.label.as_deref(), &r.command, &r.program_command, &r.machine);
    let _ = writeln!(
        out,
        "- Servers: {}; {}, the Debian cluster with its default settings; {}, one private `weed server` process \
         (master, volume server, filer and S3 gateway; data on the local disk)",
        r.assetlib_version, r.postgres_version, r.s3_version
    );
    let _ = writeln!(
        out,
        "- Everything runs on the same {} cores: the load generator, assetlib, SeaweedFS and PostgreSQL \
         (`/proc/loadavg` when the run began: {}).",
        m.cores, r.loadavg_before
    );
    let _ = writeln!(
        out,
        "- Upload and GET: the embedded run's files ({} of {} bytes, the same bytes), concurrency and clients. \
         assetlib: Jivox POST (reqwest, multipart) and `GET /files` (hyper, one keep-alive connection per \
         worker, {:.0} s after a {:.0} s warm-up). Raw S3, same concurrency: a PUT of each file's bytes through \
         `object_store` (the library assetlib reaches S3 with, signing each PUT as assetlib's writes are \
         signed, payload SHA-256 included), and GETs by the same hyper code as assetlib's to URLs presigned \
         beforehand with SigV4 by `object_store` (SeaweedFS checks every signature; the client signs nothing in \
         the measured loop). Statuses and lengths of every answer checked, sample bodies compared byte for \
         byte.",
        r.files, r.file_size, r.get_secs, r.warmup_secs
    );
    let _ = writeln!(out, "- {}", crate::report::default_config_note(r.files, r.file_size));
    if r.get_uncached.is_some() {
        let _ = writeln!(
            out,
            "- The blob-cache-off row: the same GETs from assetlib restarted on the same stores with the same flags \
             and `ASSETLIB_BLOB_CACHE_MB=0`, every GET fetching its file from S3. It is for information: the GET \
             target is judged on the default configuration's row."
        );
    }
    if let Some(p) = &r.own_core {
        let _ = writeln!(
            out,
            "- The two rows with SeaweedFS on a core of its own: {} more files of the same size, uploaded through \
             assetlib (restarted on the same stores) and PUT straight to S3 as above, with `weed server` bound to \
             core {} and everything else of the run (assetlib, PostgreSQL's postmaster and the run's backends, the \
             load generator) to the other cores (`taskset`), as if the store ran on a machine of its own, as a \
             scale-out deployment's does. For information: the upload target is judged on the shared cores.",
            p.upload.stats.requests, p.store_core
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| phase | requests | secs | req/s | MiB/s | p50 ms | p99 ms | max ms | assetlib CPU µs/req | SeaweedFS CPU µs/req | PostgreSQL CPU µs/req | client CPU µs/req | CPU busy, all four (cores) | other processes (cores) |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, p) in io_rows(r) {
        let s = &p.stats;
        let [a, s3, pg, c] = cpu_cells(&p.cpu);
        let _ = writeln!(
            out,
            "| {name} | {} | {:.1} | **{:.0}** | {:.0} | {:.2} | {:.2} | {:.1} | {a} | {s3} | {pg} | {c} | {:.2} | {:.2} |",
            s.requests,
            s.elapsed.as_secs_f64(),
            s.rps(),
            s.mib_per_sec(),
            s.percentile_ms(50.0),
            s.percentile_ms(99.0),
            max_ms(p),
            p.cpu.cores(),
            p.cpu.others_cores
        );
    }
    let _ = writeln!(
        out,
        "\nCPU columns: user+system time from `/proc/PID/stat` over the whole phase (warm-up included), per \
         completed request: the assetlib process, the `weed server` process, the PostgreSQL backends serving the \
         run's database (not the checkpointer or WAL writer), and the load generator; – where that party takes \
         no part. \"CPU busy, all four\" adds them up per second of wall time (the machine has {} cores); \
         \"other processes\" is the rest of the machine's busy time meanwhile (`/proc/stat`): other work the \
         figures shared the cores with.\n",
        m.cores
    );
    let _ = writeln!(
        out,
        "Listing: a library of **{} assets** in account 1, loaded in bulk by SQL in one transaction (SQLite: a \
         recursive CTE; PostgreSQL: `generate_series`), rows as an upload writes them (random ids, blob keys, \
         hashes, sizes and dates; `folders` rows for every folder) in random order, so that a folder's rows are \
         scattered over the table. Tree: `clients/brand-NN/campaign-NNN`, {} brands, {} campaign folders holding \
         {}–{} files each ({} folder rows). Timed: `{}` ({} files): its {} full pages of {} (`limit={}`, the first \
         without a cursor, the others with the `nextKey` a walk returned), in turn, one request at a time on one \
         keep-alive connection, {} requests after {} untimed; every answer compared with the walk's names. \
         SeaweedFS: the same keys as empty objects, {} objects in all: {}; its pages asked for with `prefix`, \
         `delimiter=/`, `max-keys={}` and `start-after` (the last key of the page before), presigned.\n",
        thousands(l.assets),
        l.brands,
        l.leaves,
        l.min_files,
        l.max_files,
        l.folder_rows,
        l.measured_folder,
        l.measured_files,
        l.pages,
        r.page_size,
        r.page_size,
        r.list_requests,
        r.list_warmup,
        thousands(l.s3_objects),
        if l.s3_brand_complete {
            format!("the timed folder and its {} sibling folders (the whole brand)", l.s3_folders - 1)
        } else {
            format!("the timed folder and {} of its sibling folders", l.s3_folders - 1)
        },
        r.page_size
    );
    let _ = writeln!(
        out,
        "| listing, one page of {} | requests | p50 ms | p99 ms | max ms | assetlib CPU µs/req | SeaweedFS CPU µs/req | PostgreSQL CPU µs/req | client CPU µs/req | other processes (cores) |",
        r.page_size
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (name, p) in list_rows(r) {
        let s = &p.stats;
        let [a, s3, pg, c] = cpu_cells(&p.cpu);
        let _ = writeln!(
            out,
            "| {name} | {} | **{:.2}** | {:.2} | {:.1} | {a} | {s3} | {pg} | {c} | {:.2} |",
            s.requests,
            s.percentile_ms(50.0),
            s.percentile_ms(99.0),
            max_ms(p),
            p.cpu.others_cores
        );
    }
    let _ = writeln!(
        out,
        "\nLoading took {:.1} s on SQLite, {:.1} s on PostgreSQL (then {:.1} s of `VACUUM ANALYZE assets, folders`, \
         what autovacuum would do on its own soon after), and {:.1} s for the {} S3 objects (empty PUTs, \
         concurrency 32).\n",
        l.sqlite_load.as_secs_f64(),
        l.postgres_load.as_secs_f64(),
        l.postgres_vacuum.as_secs_f64(),
        l.s3_put.as_secs_f64(),
        thousands(l.s3_objects)
    );
    let _ = writeln!(out, "| target | measured | result |");
    let _ = writeln!(out, "| --- | ---: | --- |");
    for (target, measured, ok) in targets(r) {
        let _ = writeln!(out, "| {target} | {measured} | {} |", verdict(ok));
    }
    for (what, measured) in infos(r) {
        let _ = writeln!(out, "| *{what}* | *{measured}* | – |");
    }
    let _ = writeln!(out, "{END}");
    out
}

/// Replaces the scale-out section of `path`, or appends it after everything else.
pub fn write_markdown(path: &Path, r: &ScaleoutResults) -> anyhow::Result<()> {
    crate::report::replace_section(path, BEGIN, END, &markdown_section(r), "# Benchmarks\n\n")
}

#[cfg(test)]
mod tests {
    use crate::report::tests::{machine, stats};
    use crate::scaleout::{LibraryFacts, OwnCore, Parties, Phase, ScaleoutResults};
    use std::time::Duration;

    fn phase(requests: usize, secs: f64) -> Phase {
        Phase { stats: stats(requests, secs), cpu: Parties::default() }
    }

    fn results(uncached: Option<Phase>) -> ScaleoutResults {
        ScaleoutResults {
            date: "2026-01-01 00:00 UTC".into(),
            command: "bench".into(),
            program_command: "assetlib-bench scaleout".into(),
            label: None,
            machine: machine(),
            loadavg_before: "0.00 0.00 0.00 1/100 1".into(),
            assetlib_version: "assetlib 0.1.0".into(),
            s3_version: "SeaweedFS 1.0".into(),
            postgres_version: "PostgreSQL 17".into(),
            files: 2000,
            file_size: 100 * 1024,
            upload_concurrency: 16,
            get_concurrency: 32,
            get_secs: 10.0,
            warmup_secs: 2.0,
            page_size: 100,
            list_requests: 1000,
            list_warmup: 100,
            upload: phase(800, 1.0),
            s3_put: phase(1000, 1.0),
            get: phase(12000, 10.0),
            get_uncached: uncached,
            s3_get: phase(10000, 10.0),
            own_core: None,
            library: LibraryFacts {
                assets: 1_000_000,
                folder_rows: 1021,
                leaves: 1000,
                brands: 20,
                min_files: 500,
                max_files: 1500,
                measured_folder: "clients/brand-01/campaign-001".into(),
                measured_files: 1000,
                pages: 10,
                sqlite_load: Duration::from_secs(1),
                postgres_load: Duration::from_secs(1),
                postgres_vacuum: Duration::from_secs(1),
                s3_objects: 50_000,
                s3_folders: 50,
                s3_brand_complete: true,
                s3_put: Duration::from_secs(1),
            },
            list_sqlite: phase(1000, 1.0),
            list_postgres: phase(1000, 1.0),
            list_s3: phase(1000, 1.0),
            min_upload_ratio: 0.7,
            min_get_ratio: 0.9,
            max_list_p50_ms: 5.0,
        }
    }

    #[test]
    fn the_blob_cache_off_phase_is_a_row_and_not_a_target() {
        let md = super::markdown_section(&results(Some(phase(7000, 10.0))));
        let lines: Vec<&str> = md.lines().collect();
        let get = lines.iter().position(|l| l.starts_with("| GET `/files`, assetlib, concurrency 32 |")).unwrap();
        assert!(lines[get + 1].starts_with("| GET `/files`, assetlib, blob cache off, concurrency 32 | 7000 |"));
        assert!(lines[get + 2].starts_with("| GET straight from S3, concurrency 32 |"));
        assert!(md.contains("| GET req/s at least 0.90x raw S3 GET | 1.200x | PASS |"));
        assert!(md.contains(
            "| *for information, not a target: GET req/s with assetlib's blob cache off, vs raw S3 GET* | *0.700x* | – |"
        ));
        assert!(md.contains("`ASSETLIB_BLOB_CACHE_MB=0`"));
        let text = super::text(&results(Some(phase(7000, 10.0))));
        assert!(text.contains("GET /files, assetlib, blob cache off, concurrency 32"));
        assert!(text.contains(
            "(for information, not a target: GET req/s with assetlib's blob cache off, vs raw S3 GET: 0.700x)"
        ));
    }

    #[test]
    fn without_the_blob_cache_off_phase_there_is_no_row() {
        let md = super::markdown_section(&results(None));
        assert!(!md.contains("blob cache off"));
        assert!(md.contains("assetlib ran with its default configuration"));
    }

    #[test]
    fn the_own_core_phases_are_rows_and_not_a_target() {
        let mut r = results(None);
        assert!(!super::markdown_section(&r).contains("core of its own"));
        r.own_core = Some(OwnCore { store_core: 1, upload: phase(1800, 2.0), s3_put: phase(2000, 2.0) });
        let md = super::markdown_section(&r);
        let lines: Vec<&str> = md.lines().collect();
        let get = lines.iter().position(|l| l.starts_with("| GET straight from S3, concurrency 32 |")).unwrap();
        assert!(
            lines[get + 1].starts_with("| upload, assetlib, concurrency 16, SeaweedFS on a core of its own | 1800 |")
        );
        assert!(
            lines[get + 2].starts_with("| PUT straight to S3, concurrency 16, SeaweedFS on a core of its own | 2000 |")
        );
        assert!(
            md.contains("| upload req/s at least 0.70x raw S3 PUT | 0.800x | PASS |"),
            "judged on the shared cores"
        );
        assert!(md.contains(
            "| *for information, not a target: upload req/s vs raw S3 PUT, SeaweedFS on a core of its own both times* | *0.900x* | – |"
        ));
        assert!(md.contains("`weed server` bound to core 1"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(49331), "49,331");
        assert_eq!(super::thousands(1_000_000), "1,000,000");
    }
}
