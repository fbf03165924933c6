//! The stream every upload passes through on its way to the blob store: it hashes, counts,
//! enforces the size limit while streaming, and refuses executables from their first bytes.
//! An error ends the stream, which aborts the blob write: nothing is stored.

use crate::Code;
use crate::error::{Error, ErrorKind, Result};
use crate::ports::ByteStream;
use crate::size::human_size;
use bytes::Bytes;
use futures::Stream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// How many leading bytes the sniffer looks at.
const SNIFF_LEN: usize = 512;

/// What an ingest saw, read after the blob write returns.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    pub size: u64,
    pub hash: String,
}

#[derive(Default)]
struct State {
    hasher: blake3::Hasher,
    size: u64,
    head: Vec<u8>,
    sniffed: bool,
    done: Option<Digest>,
}

pub struct Ingest {
    inner: ByteStream,
    max: u64,
    state: Arc<Mutex<State>>,
    failed: bool,
}

/// Whether `head` (the first bytes of a file) is a native executable: ELF, MZ (DOS, and PE
/// behind it), or Mach-O.
/// Magic numbers only, checked on as few bytes as the formats need, so that a truncated
/// header is caught too.
pub fn is_executable(head: &[u8]) -> bool {
    const MACH_O: [[u8; 4]; 4] =
        [[0xfe, 0xed, 0xfa, 0xce], [0xfe, 0xed, 0xfa, 0xcf], [0xce, 0xfa, 0xed, 0xfe], [0xcf, 0xfa, 0xed, 0xfe]];
    head.starts_with(b"\x7fELF")
        || MACH_O.iter().any(|m| head.starts_with(m))
        || is_fat_mach_o(head)
        || is_pe(head)
        || is_dos_mz(head)
}

/// A DOS executable: `MZ` (or the `ZM` some loaders also take) and a header whose fields a
/// loader would accept: the bytes in the last 512-byte page (below 512), at least one page,
/// and a header of at least the 28 bytes the format has (2 paragraphs) that fits in the pages.
/// Text that happens to start with `MZ` fails these: its third byte is printable, where the
/// byte count's high byte is 0 or 1.
fn is_dos_mz(head: &[u8]) -> bool {
    if head.len() < 28 || !(head.starts_with(b"MZ") || head.starts_with(b"ZM")) {
        return false;
    }
    let word = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]) as u32;
    let (last_page_bytes, pages, header_paragraphs) = (word(2), word(4), word(8));
    last_page_bytes < 512 && pages >= 1 && header_paragraphs >= 2 && header_paragraphs * 16 <= pages * 512
}

/// A universal binary: `cafebabe` and an architecture count. Java class files share the magic
/// but carry a version of 45 or more where the count would be.
fn is_fat_mach_o(head: &[u8]) -> bool {
    head.len() >= 8
        && head.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
        && (1..45).contains(&u32::from_be_bytes([head[4], head[5], head[6], head[7]]))
}

/// `MZ` followed by a PE header at the offset the DOS header names.
fn is_pe(head: &[u8]) -> bool {
    if !head.starts_with(b"MZ") || head.len() < 64 {
        return false;
    }
    let offset = u32::from_le_bytes([head[60], head[61], head[62], head[63]]) as usize;
    head.get(offset..offset + 4) == Some(b"PE\0\0")
}

pub fn executable_error() -> Error {
    Error::invalid(Code::ExecutableRefused, "Executable files are not allowed.")
}

pub fn too_large_error(max: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        Code::TooLarge,
        format!("File size exceeds the maximum allowed size of {}.", human_size_limit(max)),
    )
}

/// `10 MB` for 10 MiB: limits read best without decimals when they are whole.
fn human_size_limit(max: u64) -> String {
    for (unit, scale) in [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] {
        if max >= scale && max.is_multiple_of(scale) {
            return format!("{} {unit}", max / scale);
        }
    }
    human_size(max)
}

impl Ingest {
    pub fn new(inner: ByteStream, max: u64) -> (Self, IngestResult) {
        let state = Arc::new(Mutex::new(State::default()));
        (Self { inner, max, state: state.clone(), failed: false }, IngestResult(state))
    }

    fn accept(&self, chunk: &Bytes) -> Result<()> {
        let mut s = self.state.lock().map_err(Error::internal)?;
        s.size += chunk.len() as u64;
        if s.size > self.max {
            return Err(too_large_error(self.max));
        }
        if !s.sniffed {
            let take = (SNIFF_LEN - s.head.len()).min(chunk.len());
            s.head.extend_from_slice(&chunk[..take]);
            if s.head.len() >= SNIFF_LEN {
                s.sniffed = true;
                if is_executable(&s.head) {
                    return Err(executable_error());
                }
            }
        }
        s.hasher.update(chunk);
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        let mut s = self.state.lock().map_err(Error::internal)?;
        if !s.sniffed && is_executable(&s.head) {
            return Err(executable_error());
        }
        let digest = Digest { size: s.size, hash: s.hasher.finalize().to_hex().to_string() };
        s.done = Some(digest);
        Ok(())
    }
}

impl Stream for Ingest {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.accept(&chunk) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(e) => {
                    self.failed = true;
                    Poll::Ready(Some(Err(e)))
                }
            },
            Poll::Ready(Some(Err(e))) => {
                self.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => match self.finish() {
                Ok(()) => Poll::Ready(None),
                Err(e) => {
                    self.failed = true;
                    Poll::Ready(Some(Err(e)))
                }
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Handle to the digest of an [`Ingest`], available once the stream has ended cleanly.
pub struct IngestResult(Arc<Mutex<State>>);

impl IngestResult {
    pub fn digest(&self) -> Result<Digest> {
        let s = self.0.lock().map_err(Error::internal)?;
        s.done.clone().ok_or_else(|| Error::internal("ingest digest read before the stream ended"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn stream_of(chunks: Vec<&'static [u8]>) -> ByteStream {
        futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))).boxed()
    }

    async fn drain(s: Ingest) -> Result<u64> {
        let mut s = s;
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c?.len() as u64;
        }
        Ok(n)
    }

    #[tokio::test]
    async fn hashes_and_counts() {
        let (s, r) = Ingest::new(stream_of(vec![b"hello ", b"world"]), 100);
        assert_eq!(drain(s).await.unwrap(), 11);
        let d = r.digest().unwrap();
        assert_eq!(d.size, 11);
        assert_eq!(d.hash, blake3::hash(b"hello world").to_hex().to_string());
    }

    #[tokio::test]
    async fn limit_is_enforced_while_streaming() {
        let (s, r) = Ingest::new(stream_of(vec![b"12345", b"67890", b"x"]), 10);
        let e = drain(s).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        assert!(r.digest().is_err());
        assert_eq!(too_large_error(10 * 1024 * 1024).message, "File size exceeds the maximum allowed size of 10 MB.");
    }

    #[tokio::test]
    async fn executables_are_refused_whatever_the_chunking() {
        let elf: &'static [u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
        for chunks in [vec![elf], vec![&elf[..2], &elf[2..]]] {
            let (s, _) = Ingest::new(stream_of(chunks), 1000);
            assert_eq!(drain(s).await.unwrap_err().code, "executable_refused");
        }
        let macho: &'static [u8] = b"\xcf\xfa\xed\xfe\x07\0\0\x01";
        assert!(is_executable(macho));
        let mut pe = vec![0u8; 200];
        pe[0] = b'M';
        pe[1] = b'Z';
        pe[60] = 128;
        pe[128..132].copy_from_slice(b"PE\0\0");
        assert!(is_executable(&pe));
        assert!(!is_executable(b"MZ is how this text file starts"));
        // A DOS program without a PE header: 0x90 bytes in the last page, 3 pages, 4
        // paragraphs of header (what a DOS linker writes).
        let mut dos = vec![0u8; 64];
        dos[..10].copy_from_slice(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00");
        assert!(is_executable(&dos), "DOS MZ");
        dos[..2].copy_from_slice(b"ZM");
        assert!(is_executable(&dos), "DOS ZM");
        assert!(!is_executable(b"MZ\x90\x00\x03\x00\x00\x00\x04"), "too short for a DOS header");
        assert!(!is_executable(b"MZ, a two-letter code, is used on this page for a few lines of text."));
        assert!(!is_executable(b"\x89PNG\r\n\x1a\n"));
        assert!(is_executable(b"\xca\xfe\xba\xbe\0\0\0\x02"), "fat Mach-O");
        assert!(!is_executable(b"\xca\xfe\xba\xbe\0\0\0\x34"), "Java class");
    }
}
