//! Entry points for the fuzz targets (`fuzz/`).
//!
//! `zip`: any bytes as an archive, judged by the expansion's limits and then read as the
//! expansion reads it. It panics only if an archive the limits let through writes more than they
//! allow, or if reading misbehaves.
//!
//! `render`: any bytes as an image (the first byte picks the extension: png, jpg, gif or svg; the
//! raster decoders sniff the content anyway), rendered under a 1-megapixel limit without the
//! renderer's guard against panics. It panics if a decoder does, or if a rendition does not fit
//! its box or has no pixels.

use crate::ZipOpener;
use crate::render::{MediaRenderer, RenderConfig, THUMBNAIL_SIZE, WEB_SIZE};
use assetlib_core::library::ZipLimits;
use assetlib_core::library::zip::check_archive;
use assetlib_core::model::{THUMBNAIL, WEB};
use assetlib_core::ports::ArchiveOpener;
use std::io::Write;

/// Small limits, so that the fuzzer reaches them with small inputs.
pub fn limits() -> ZipLimits {
    ZipLimits { max_entries: 64, max_total_size: 1 << 20, max_ratio: 200, ratio_min_size: 64 << 10 }
}

/// The pixel limit of the `render` target: small, so that large declared sizes are reached.
pub const RENDER_MAX_PIXELS: u64 = 1 << 20;

pub fn render(data: &[u8]) {
    let Some((&selector, content)) = data.split_first() else { return };
    let extension = ["png", "jpg", "gif", "svg"][usize::from(selector % 4)];
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join(format!("in.{extension}"));
    if std::fs::write(&path, content).is_err() {
        return;
    }
    let renderer = MediaRenderer::new(RenderConfig { max_pixels: RENDER_MAX_PIXELS, ..RenderConfig::default() });
    let Ok(rendered) = renderer.render_file(&path, extension) else { return };
    let (w, h) = rendered.original.expect("an image has an original size");
    assert!(w > 0 && h > 0, "an original of {w}x{h}");
    assert_eq!(rendered.versions.len(), 2);
    for v in &rendered.versions {
        let side = match v.name.as_str() {
            WEB => WEB_SIZE,
            THUMBNAIL => THUMBNAIL_SIZE,
            other => panic!("a version named {other}"),
        };
        assert!(
            v.width > 0 && v.height > 0 && v.width <= side && v.height <= side,
            "{} is {}x{}",
            v.name,
            v.width,
            v.height
        );
        assert!(v.width <= w.max(1) && v.height <= h.max(1), "{} upscaled {w}x{h} to {}x{}", v.name, v.width, v.height);
        assert!(!v.bytes.is_empty());
    }
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

#[cfg(test)]
mod tests {
    use assetlib_core::Result;
    use assetlib_core::model::Rendered;

    /// Each input of `dir` (relative to this crate): its path, after it went through the target,
    /// and what the renderer (its guard aside) makes of it under the target's pixel limit.
    fn each_input(dir: &str) -> Vec<(std::path::PathBuf, Result<Rendered>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let renderer = super::MediaRenderer::new(super::RenderConfig {
            max_pixels: super::RENDER_MAX_PIXELS,
            ..super::RenderConfig::default()
        });
        let mut out = vec![];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            super::render(&data);
            let (&selector, content) = data.split_first().unwrap();
            let extension = ["png", "jpg", "gif", "svg"][usize::from(selector % 4)];
            let file = tempfile::Builder::new().suffix(&format!(".{extension}")).tempfile().unwrap();
            std::fs::write(file.path(), content).unwrap();
            let result = renderer.render_file(file.path(), extension);
            out.push((path, result));
        }
        out
    }

    /// Every render seed runs through the target, and the well-formed ones really render (so the
    /// fuzzer starts past the decoders' headers).
    #[test]
    fn the_render_seeds_run_and_the_good_ones_render() {
        let seeds = each_input("../../fuzz/corpus/render");
        for (path, result) in &seeds {
            let name = path.file_name().unwrap().to_str().unwrap();
            // Over the pixel limit; an external entity the parser refuses to expand.
            let refused = ["png_big_declared", "svg_external"].contains(&name);
            assert_eq!(result.is_ok(), !refused, "{name}: {:?}", result.as_ref().err());
        }
        assert!(seeds.len() >= 10, "only {} seeds", seeds.len());
        super::render(b"");
        super::render(b"\x01\xff\xd8\xff");
    }

    /// Every input that once made a decoder panic goes through the target without a panic and is
    /// refused as undecodable.
    #[test]
    fn the_render_regressions_are_refused_without_a_panic() {
        let regressions = each_input("../../fuzz/regressions/render");
        for (path, result) in &regressions {
            let name = path.display();
            let message = result.as_ref().err().unwrap_or_else(|| panic!("{name} rendered")).to_string();
            assert!(message.contains("could not be decoded"), "{name}: {message}");
        }
        assert!(!regressions.is_empty(), "no regressions");
    }
}
