//! Entry point for the zip fuzz target (`fuzz/`): any bytes as an archive, judged by the
//! expansion's limits and then read as the expansion reads it. It panics only if an archive the
//! limits let through writes more than they allow, or if reading misbehaves.

use crate::ZipOpener;
use assetlib_core::library::ZipLimits;
use assetlib_core::library::zip::check_archive;
use assetlib_core::ports::ArchiveOpener;
use std::io::Write;

/// Small limits, so that the fuzzer reaches them with small inputs.
pub fn limits() -> ZipLimits {
    ZipLimits { max_entries: 64, max_total_size: 1 << 20, max_ratio: 200, ratio_min_size: 64 << 10 }
}

pub fn zip(data: &[u8]) {
    let Ok(mut file) = tempfile::tempfile() else { return };
    if file.write_all(data).is_err() {
        return;
    }
    let Ok(mut archive) = ZipOpener.open(file) else { return };
    let limits = limits();
    let entries = archive.entries().to_vec();
    if check_archive(&entries, data.len() as u64, &limits).is_some() {
        return;
    }
    let mut written = 0u64;
    for e in &entries {
        if e.is_dir || e.is_symlink || e.encrypted || !e.supported {
            continue;
        }
        if let Ok(bytes) = archive.read(e.index, e.size) {
            assert!(bytes.len() as u64 <= e.size, "entry {} read past its declared size", e.index);
            written += bytes.len() as u64;
        }
    }
    assert!(written <= limits.max_total_size, "wrote {written} bytes past the total limit");
    assert!(written <= (data.len() as u64).max(1) * limits.max_ratio, "wrote {written} bytes from {}", data.len());
}
