//! The local directory engine, the embedded default. It is our own rather than
//! `object_store`'s `LocalFileSystem`, for two measured reasons: that writer neither fsyncs nor
//! keeps partial files where a crash can be cleaned up, and that reader hops to a blocking
//! thread every 8 KiB (13 hops for a 100 KB image). Here a write streams into `.staging/`, is
//! fsynced, renamed into place and its directory fsynced. Writes made durable together
//! (`put_unsynced`, then `sync`: a zip's entries) skip both syncs, and a small one is a single
//! call on the blocking pool that writes the file in place; `sync` then fsyncs the files, or for many of them syncs the
//! whole file system at once (`syncfs`), and fsyncs their directories once each. A read of up to 1 MiB whose bytes are
//! all in the page cache is done at once on the calling thread; otherwise it is one call on the
//! blocking pool, and larger reads stream in 256 KiB pieces.

use assetlib_core::Code;
use assetlib_core::ports::{BlobInfo, BlobStore, ByteStream, Content};
use assetlib_core::{BlobKey, Error, Result};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Bytes gathered before each write: bounds memory per upload and the number of writes.
const PART_SIZE: usize = 256 * 1024;

/// Where a write lands until it is complete and durable; then it is renamed into place. Blob
/// keys never start with a dot, so no key can name this directory.
const STAGING: &str = ".staging";

pub struct LocalBlobStore {
    root: PathBuf,
}

fn io_err(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(Code::BlobNotFound, "Blob not found."),
        _ => Error::unavailable("blob store", e),
    }
}

/// A write that the disk refused (full, read-only, gone): the store is unavailable, not broken.
fn write_err(e: std::io::Error) -> Error {
    Error::unavailable("blob store", e)
}

/// Reads of at most this many bytes are answered in one piece.
const WHOLE_READ: u64 = 1 << 20;
/// Larger reads stream in pieces of this size.
const READ_CHUNK: u64 = 256 * 1024;

impl LocalBlobStore {
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&root).map_err(Error::internal)?;
        let root = root.canonicalize().map_err(Error::internal)?;
        std::fs::create_dir_all(root.join(STAGING)).map_err(Error::internal)?;
        Ok(Self { root })
    }

    /// The file of `key`. Keys are made by the core from ids, never from client input; this
    /// refuses anything that could leave the root all the same.
    fn path_of(&self, key: &BlobKey) -> Result<PathBuf> {
        let ok = !key.0.is_empty()
            && key.0.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.starts_with('.'));
        if !ok {
            return Err(Error::internal(format!("bad blob key {key}")));
        }
        Ok(self.root.join(&key.0))
    }
}

/// fsyncs `dir` and its ancestors up to and including `top`, so that the rename which made a
/// blob visible (and any directory it created) is durable.
async fn sync_dirs(dir: PathBuf, top: PathBuf) -> Result<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut current = Some(dir.as_path());
        while let Some(d) = current {
            std::fs::File::open(d)?.sync_all()?;
            if d == top {
                break;
            }
            current = d.parent();
        }
        Ok(())
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)
}

/// Whether a write waits for the disk before it returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Fsynced, renamed into place, its directory fsynced: `put`.
    Now,
    /// Renamed into place unsynced: `put_unsynced`, made durable by `sync`.
    Later,
}

/// Keys up to this many are made durable by `sync` one file at a time (in parallel); more by
/// one `syncfs` of the store's file system, which writes back all of them (and whatever else
/// is dirty there) at the cost of one journal commit, where an fsync each costs one commit
/// each.
const SYNCFS_FROM: usize = 64;
/// Files fsynced at once by a `sync` of few keys.
const SYNC_THREADS: usize = 8;

impl LocalBlobStore {
    /// Streams `body` into `.staging/`, then renames it to `key`'s file.
    async fn write(&self, key: &BlobKey, mut body: ByteStream, durability: Durability) -> Result<u64> {
        let target = self.path_of(key)?;
        // A body that fits in one part is written by one call on the blocking pool: most of
        // the cost of a small write is the hops between threads.
        let mut head = BytesMut::new();
        // A stream that has ended must not be polled again (some panic if they are).
        let mut ended = false;
        while head.len() < PART_SIZE {
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk?),
                None if durability == Durability::Later => return self.write_small(target, head.freeze()).await,
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let staging = self.root.join(STAGING).join(assetlib_core::ids::random_hex32());
        let result: Result<u64> = async {
            let mut file = tokio::fs::File::create(&staging).await.map_err(write_err)?;
            let mut buf = head;
            let mut written = buf.len() as u64;
            while !ended && let Some(chunk) = body.next().await {
                let chunk = chunk?;
                written += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                if buf.len() >= PART_SIZE {
                    file.write_all(&buf.split()).await.map_err(write_err)?;
                }
            }
            file.write_all(&buf).await.map_err(write_err)?;
            if durability == Durability::Now {
                file.sync_all().await.map_err(write_err)?;
            }
            drop(file);
            let dir = target.parent().ok_or_else(|| Error::internal(format!("blob key {key} has no parent")))?;
            // Only directories this write creates need their parents synced; an existing one
            // needs only itself synced, for the rename.
            let synced_up_to = match tokio::fs::try_exists(dir).await {
                Ok(true) => dir.to_owned(),
                _ => {
                    tokio::fs::create_dir_all(dir).await.map_err(write_err)?;
                    self.root.clone()
                }
            };
            tokio::fs::rename(&staging, &target).await.map_err(write_err)?;
            if durability == Durability::Now {
                sync_dirs(dir.to_owned(), synced_up_to).await?;
            }
            Ok(written)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result
    }

    /// An unsynced write of a whole body, written where it belongs in one call. It is not staged:
    /// `put_unsynced` promises nothing at `key` until `sync`, and nothing refers to the key
    /// before then, so a torn file there is never seen and the blob sweep removes it if its
    /// writer never commits. Creating the file in its own directory, rather than in `.staging/`
    /// and renaming it over, takes one directory lock instead of three (and no file-system-wide
    /// rename lock): a zip's 10,000 entries are written from many threads at once.
    async fn write_small(&self, target: PathBuf, bytes: Bytes) -> Result<u64> {
        tokio::task::spawn_blocking(move || write_in_place(&target, &bytes).map(|()| bytes.len() as u64))
            .await
            .map_err(Error::internal)?
            .map_err(write_err)
    }
}

/// Writes `bytes` to `target`, replacing what was there and making its directory if it is
/// missing. Nothing is synced.
fn write_in_place(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::write(target, bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(target.parent().ok_or(std::io::ErrorKind::InvalidInput)?)?;
            std::fs::write(target, bytes)
        }
        other => other,
    }
}

/// fsyncs each of `files` (a few threads at a time), then each of `dirs` and its ancestors up
/// to `root`, each once.
fn sync_files_and_dirs(root: &Path, files: Vec<PathBuf>, dirs: BTreeSet<PathBuf>) -> std::io::Result<()> {
    if files.len() >= SYNCFS_FROM {
        rustix::fs::syncfs(std::fs::File::open(root)?)?;
    } else {
        let per_thread = files.len().div_ceil(SYNC_THREADS).max(1);
        std::thread::scope(|s| {
            let threads: Vec<_> = files
                .chunks(per_thread)
                .map(|chunk| s.spawn(move || chunk.iter().try_for_each(|f| std::fs::File::open(f)?.sync_all())))
                .collect();
            threads.into_iter().try_for_each(|t| t.join().unwrap_or_else(|_| Err(std::io::ErrorKind::Other.into())))
        })?;
    }
    let mut synced = BTreeSet::new();
    for dir in dirs {
        let mut current = Some(dir.as_path());
        while let Some(d) = current {
            if !d.starts_with(root) || !synced.insert(d.to_owned()) {
                break;
            }
            std::fs::File::open(d)?.sync_all()?;
            current = d.parent();
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
        self.write(key, body, Durability::Now).await
    }

    async fn put_unsynced(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
        self.write(key, body, Durability::Later).await
    }

    async fn sync(&self, keys: &[BlobKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let files = keys.iter().map(|k| self.path_of(k)).collect::<Result<Vec<_>>>()?;
        let dirs: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.parent().map(Path::to_owned)).collect();
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sync_files_and_dirs(&root, files, dirs))
            .await
            .map_err(Error::internal)?
            .map_err(io_err)
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<Content> {
        let path = self.path_of(key)?;
        if let Some(bytes) = read_if_cached(&path, range.clone()) {
            return Ok(Content::Whole(bytes));
        }
        let (file, range, first) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = std::fs::File::open(&path)?;
            let len = file.metadata()?.len();
            let range = match range {
                Some(r) => r.start.min(len)..r.end.min(len),
                None => 0..len,
            };
            let first = read_at(&file, range.start, (range.end - range.start).min(WHOLE_READ))?;
            Ok((file, range, first))
        })
        .await
        .map_err(Error::internal)?
        .map_err(io_err)?;
        let done = range.start + first.len() as u64;
        if done >= range.end {
            return Ok(Content::Whole(first));
        }
        let head = futures::stream::once(async move { Ok(first) });
        // Pieces are read one after another, so the shared file position is never raced.
        let file = Arc::new(file);
        let rest = futures::stream::try_unfold(done, move |offset| {
            let file = file.clone();
            let end = range.end;
            async move {
                if offset >= end {
                    return Ok(None);
                }
                let want = (end - offset).min(READ_CHUNK);
                let chunk = tokio::task::spawn_blocking(move || read_at(&file, offset, want))
                    .await
                    .map_err(Error::internal)?
                    .map_err(io_err)?;
                if chunk.is_empty() {
                    return Err(Error::internal("blob shorter than its length"));
                }
                let next = offset + chunk.len() as u64;
                Ok(Some((chunk, next)))
            }
        });
        Ok(Content::Stream(head.chain(rest).boxed()))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn sweep_staging(&self, older_than: Duration) -> Result<u64> {
        let dir = self.root.join(STAGING);
        tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
            let mut removed = 0;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
                if age >= older_than && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
    }

    async fn list(&self, prefix: &str) -> Result<futures::stream::BoxStream<'static, Result<BlobInfo>>> {
        // A blocking thread walks the tree and hands entries over a bounded channel, so a
        // listing of millions of blobs holds a page of them in memory, not all.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<BlobInfo>>(1024);
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut dirs = vec![root.clone()];
            while let Some(dir) = dirs.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(io_err(e)));
                        return;
                    }
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(rel) = path.strip_prefix(&root) else { continue };
                    let Some(key) = rel.to_str().map(str::to_owned) else { continue };
                    if key.starts_with('.') {
                        continue; // .staging: not complete writes
                    }
                    let Ok(meta) = entry.metadata() else { continue };
                    if meta.is_dir() {
                        // Only descend where keys under `prefix` can be.
                        if prefix.starts_with(&format!("{key}/")) || key.starts_with(&prefix) || prefix.is_empty() {
                            dirs.push(path);
                        }
                    } else if key.starts_with(&prefix) {
                        let modified = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_millis() as i64);
                        if tx.blocking_send(Ok(BlobInfo { key: BlobKey(key), modified })).is_err() {
                            return; // the listing was dropped
                        }
                    }
                }
            }
        });
        Ok(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool> {
        tokio::fs::try_exists(self.path_of(key)?).await.map_err(io_err)
    }
}

/// The fast path of a read, on the calling thread: only when the file's directory entries and
/// the whole range are in memory, so it cannot wait for the disk (`openat2` with
/// `RESOLVE_CACHED`, `preadv2` with `RWF_NOWAIT`). A hop to the blocking pool costs two thread
/// wake-ups, which on a small machine cost more than reading a cached 100 KB image. `None`
/// sends the read to the blocking pool: something is on disk only, the range is large, the
/// kernel lacks these calls, or any error (which the slow path then reports).
fn read_if_cached(path: &std::path::Path, range: Option<Range<u64>>) -> Option<Bytes> {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
    use rustix::io::{ReadWriteFlags, preadv2};
    let fd = openat2(CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::CACHED).ok()?;
    let file = std::fs::File::from(fd);
    let len = file.metadata().ok()?.len();
    let range = match range {
        Some(r) => r.start.min(len)..r.end.min(len),
        None => 0..len,
    };
    let want = range.end - range.start;
    if want > WHOLE_READ {
        return None;
    }
    let mut buf = vec![0u8; want as usize];
    let read = preadv2(&file, &mut [std::io::IoSliceMut::new(&mut buf)], range.start, ReadWriteFlags::NOWAIT).ok()?;
    (read as u64 == want).then(|| Bytes::from(buf))
}

/// Reads up to `len` bytes at `offset` (fewer only at the end of the file), into a buffer
/// that is not zeroed first.
fn read_at(mut file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf)?;
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use assetlib_core::ErrorKind;
    use futures::TryStreamExt;

    /// A body that panics if polled after its end (as `futures::stream::unfold` does).
    fn fused_once(bytes: &'static [u8]) -> assetlib_core::ports::ByteStream {
        futures::stream::unfold(Some(bytes), |left| async move { left.map(|b| (Ok(Bytes::from_static(b)), None)) })
            .boxed()
    }

    #[tokio::test]
    async fn a_small_body_is_not_polled_after_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        let (now, later) = (BlobKey("assets/1/ab/now".into()), BlobKey("assets/1/ab/later".into()));
        assert_eq!(store.put(&now, fused_once(b"hello")).await.unwrap(), 5);
        assert_eq!(store.put_unsynced(&later, fused_once(b"world")).await.unwrap(), 5);
        store.sync(std::slice::from_ref(&later)).await.unwrap();
        for (key, want) in [(&now, &b"hello"[..]), (&later, &b"world"[..])] {
            let got: Vec<Bytes> = store.get(key, None).await.unwrap().into_stream().try_collect().await.unwrap();
            assert_eq!(got.concat(), want);
        }
    }

    #[tokio::test]
    async fn put_get_range_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        let key = BlobKey("assets/1/ab/abc".into());
        let chunks: Vec<Result<Bytes>> = (0..40).map(|i| Ok(Bytes::from(vec![i as u8; 30_000]))).collect();
        let n = store.put(&key, futures::stream::iter(chunks).boxed()).await.unwrap();
        assert_eq!(n, 1_200_000);
        let all: Vec<Bytes> = store.get(&key, None).await.unwrap().into_stream().try_collect().await.unwrap();
        assert_eq!(all.iter().map(|b| b.len()).sum::<usize>(), 1_200_000);
        let all = all.concat();
        assert!(all.chunks(30_000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)));
        let part: Vec<Bytes> =
            store.get(&key, Some(29_999..30_001)).await.unwrap().into_stream().try_collect().await.unwrap();
        assert_eq!(part.concat(), vec![0u8, 1u8]);
        // A range across the streamed part of a large read.
        let wide: Vec<Bytes> =
            store.get(&key, Some(1_000_000..1_199_999)).await.unwrap().into_stream().try_collect().await.unwrap();
        assert_eq!(wide.concat(), all[1_000_000..1_199_999]);
        let tail: Vec<Bytes> =
            store.get(&key, Some(100..1_200_000)).await.unwrap().into_stream().try_collect().await.unwrap();
        assert!(tail.len() > 1, "large reads stream in pieces");
        assert_eq!(tail.concat(), all[100..]);
        assert!(store.exists(&key).await.unwrap());
        assert!(store.path_of(&BlobKey("../x".into())).is_err());
        assert!(store.path_of(&BlobKey(".staging/x".into())).is_err());
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert!(!store.exists(&key).await.unwrap());
        let missing = store.get(&key, None).await.err().unwrap();
        assert_eq!(missing.kind, ErrorKind::NotFound);
    }

    #[test]
    fn cached_reads_take_the_fast_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, (0..=255u8).collect::<Vec<_>>()).unwrap();
        // Just written: in the page cache.
        assert_eq!(read_if_cached(&path, None).unwrap().len(), 256);
        assert_eq!(&read_if_cached(&path, Some(10..20)).unwrap()[..], &(10..20u8).collect::<Vec<_>>()[..]);
        assert_eq!(read_if_cached(&path, Some(250..300)).unwrap().len(), 6, "clipped to the file");
        assert!(read_if_cached(&dir.path().join("missing"), None).is_none());
    }

    #[tokio::test]
    async fn a_failing_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        let key = BlobKey("assets/1/cd/cde".into());
        let body = futures::stream::iter(vec![
            Ok(Bytes::from(vec![1u8; PART_SIZE + 10])),
            Err(Error::invalid(Code::UploadInterrupted, "client went away")),
        ])
        .boxed();
        let e = store.put(&key, body).await.unwrap_err();
        assert_eq!(e.message, "client went away");
        assert!(!store.exists(&key).await.unwrap());
        let leftovers: Vec<_> = walk(dir.path());
        assert!(leftovers.is_empty(), "staging files left: {leftovers:?}");
    }

    #[tokio::test]
    async fn stale_staging_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        std::fs::write(dir.path().join(STAGING).join("left-by-a-crash"), b"partial").unwrap();
        assert_eq!(store.sweep_staging(Duration::from_secs(3600)).await.unwrap(), 0, "fresh files stay");
        assert_eq!(store.sweep_staging(Duration::ZERO).await.unwrap(), 1);
        assert!(walk(dir.path()).is_empty());
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
        out
    }
}
