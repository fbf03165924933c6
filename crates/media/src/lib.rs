//! Media work as pure functions over files and readers: renditions (`render`) and reading zip
//! archives for the core's expansion job.
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod fuzzing;
pub mod render;

pub use render::{MediaRenderer, RenderConfig};

use assetlib_core::Code;
use assetlib_core::ports::{Archive, ArchiveEntry, ArchiveOpener};
use assetlib_core::{Error, Result};
use std::io::Read;
use zip::{CompressionMethod, ZipArchive};

/// The `zip` crate's error for an entry that expands past its declared size.
const ZIP_SIZE_LIE: &str = "larger than its declared uncompressed size";

/// Opens zip archives with the `zip` crate.
#[derive(Debug, Default, Clone, Copy)]
pub struct ZipOpener;

struct ZipReader {
    archive: ZipArchive<std::fs::File>,
    entries: Vec<ArchiveEntry>,
}

/// UTF-8 when the bytes are UTF-8 (flagged or not: most tools write UTF-8 without the flag);
/// otherwise Latin-1, byte for byte, so that the path rules see what the name really holds.
pub fn decode_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
    }
}

impl ArchiveOpener for ZipOpener {
    fn open(&self, file: std::fs::File) -> Result<Box<dyn Archive>> {
        let invalid = |_| Error::invalid(Code::ZipInvalid, "The file is not a valid zip archive.");
        let mut archive = ZipArchive::new(file).map_err(invalid)?;
        let mut entries = Vec::with_capacity(archive.len());
        for index in 0..archive.len() {
            let f = archive.by_index_raw(index).map_err(invalid)?;
            let start = f.header_start();
            let end = f.data_start().unwrap_or(start).saturating_add(f.compressed_size());
            entries.push(ArchiveEntry {
                index,
                name: decode_name(f.name_raw()),
                is_dir: f.is_dir(),
                is_symlink: f.is_symlink(),
                encrypted: f.encrypted(),
                supported: matches!(f.compression(), CompressionMethod::Stored | CompressionMethod::Deflated),
                size: f.size(),
                compressed_size: f.compressed_size(),
                span: start..end.max(start),
            });
        }
        Ok(Box::new(ZipReader { archive, entries }))
    }
}

impl Archive for ZipReader {
    fn entries(&self) -> &[ArchiveEntry] {
        &self.entries
    }

    fn read(&mut self, index: usize, max: u64) -> std::io::Result<Vec<u8>> {
        let file = self.archive.by_index(index).map_err(std::io::Error::other)?;
        let mut data = Vec::with_capacity(max.min(1 << 20) as usize);
        let too_large = || std::io::Error::new(std::io::ErrorKind::FileTooLarge, "entry larger than declared");
        // One byte past `max` tells a lying entry from an honest one. The zip crate also stops
        // an entry at its declared size, with an `InvalidData` error told apart by its text only.
        match file.take(max + 1).read_to_end(&mut data) {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains(ZIP_SIZE_LIE) => {
                return Err(too_large());
            }
            result => result?,
        };
        if data.len() as u64 > max {
            return Err(too_large());
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    #[test]
    fn names_decode_as_utf8_else_latin1() {
        assert_eq!(decode_name("café.png".as_bytes()), "café.png");
        assert_eq!(decode_name(b"caf\xe9.png"), "caf\u{e9}.png");
    }

    #[test]
    fn lists_and_reads_entries() {
        let mut tmp = tempfile::tempfile().unwrap();
        {
            let mut w = zip::ZipWriter::new(&mut tmp);
            w.add_directory("d/", SimpleFileOptions::default()).unwrap();
            w.start_file("d/a.txt", SimpleFileOptions::default()).unwrap();
            w.write_all(b"hello").unwrap();
            w.add_symlink("link.txt", "d/a.txt", SimpleFileOptions::default()).unwrap();
            w.finish().unwrap();
        }
        let mut archive = ZipOpener.open(tmp).unwrap();
        let e = archive.entries().to_vec();
        assert_eq!(e.len(), 3);
        assert!(e[0].is_dir);
        assert_eq!((e[1].name.as_str(), e[1].size), ("d/a.txt", 5));
        assert!(e[2].is_symlink);
        assert_eq!(archive.read(1, 5).unwrap(), b"hello");
        assert_eq!(archive.read(1, 4).unwrap_err().kind(), std::io::ErrorKind::FileTooLarge);
        let not_zip = tempfile::tempfile().unwrap();
        assert_eq!(ZipOpener.open(not_zip).err().unwrap().code, "zip_invalid");
    }

    #[test]
    fn an_entry_larger_than_declared_is_too_large() {
        let mut bytes = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut bytes);
            w.start_file("a.txt", SimpleFileOptions::default()).unwrap();
            w.write_all(&[b'a'; 5000]).unwrap();
            w.finish().unwrap();
        }
        let mut bytes = bytes.into_inner();
        // The central directory's uncompressed size (offset 24 of its header) says 100.
        let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        bytes[central + 24..central + 28].copy_from_slice(&100u32.to_le_bytes());
        let mut tmp = tempfile::tempfile().unwrap();
        tmp.write_all(&bytes).unwrap();
        let mut archive = ZipOpener.open(tmp).unwrap();
        assert_eq!(archive.entries()[0].size, 100);
        assert_eq!(archive.read(0, 100).unwrap_err().kind(), std::io::ErrorKind::FileTooLarge);
    }
}
