//! `BlobStore` for a local directory (the embedded default; S3 comes with the scale-out
//! engine). Reads and deletes go through `object_store`. Writes are our own: object_store's
//! local writer neither fsyncs nor keeps its partial files where a crash can be cleaned up, so
//! a write streams into `.staging/`, is fsynced, renamed into place, and the directory fsynced.
#![forbid(unsafe_code)]

use assetlib_core::ports::{BlobStore, ByteStream};
use assetlib_core::{BlobKey, Error, ErrorKind, Result};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Bytes gathered before each write: bounds memory per upload and the number of writes.
const PART_SIZE: usize = 256 * 1024;

/// Where a write lands until it is complete and durable; then it is renamed into place. Blob
/// keys never start with a dot, so no key can name this directory.
const STAGING: &str = ".staging";

/// Opens the blob store a URL names: `file:///dir` (or a plain path).
pub fn connect(url: &str) -> Result<Arc<dyn BlobStore>> {
    if let Some(dir) = url.strip_prefix("file://") {
        Ok(Arc::new(LocalBlobStore::open(PathBuf::from(dir))?))
    } else if url.starts_with("s3://") {
        Err(Error::invalid("blob_store_unsupported", "S3 support is not built into this version yet."))
    } else if !url.contains("://") {
        Ok(Arc::new(LocalBlobStore::open(PathBuf::from(url))?))
    } else {
        Err(Error::invalid("blob_store_url_invalid", format!("Unsupported blob store '{url}': use file:///DIR.")))
    }
}

pub struct LocalBlobStore {
    root: PathBuf,
    store: LocalFileSystem,
}

fn store_err(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found("blob_not_found", "Blob not found."),
        e => Error::unavailable("blob store", e),
    }
}

fn object_path(key: &BlobKey) -> Result<ObjectPath> {
    ObjectPath::parse(&key.0).map_err(|e| Error::internal(format!("bad blob key {key}: {e}")))
}

impl LocalBlobStore {
    pub fn open(root: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&root).map_err(Error::internal)?;
        let root = root.canonicalize().map_err(Error::internal)?;
        std::fs::create_dir_all(root.join(STAGING)).map_err(Error::internal)?;
        let store = LocalFileSystem::new_with_prefix(&root).map_err(Error::internal)?;
        Ok(Self { root, store })
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

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream) -> Result<u64> {
        let target = self.root.join(&key.0);
        let staging = self.root.join(STAGING).join(assetlib_core::ids::random_hex32());
        let result: Result<u64> = async {
            let mut file = tokio::fs::File::create(&staging).await.map_err(Error::internal)?;
            let mut buf = BytesMut::with_capacity(PART_SIZE);
            let mut written = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                written += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                if buf.len() >= PART_SIZE {
                    file.write_all(&buf.split()).await.map_err(Error::internal)?;
                }
            }
            file.write_all(&buf).await.map_err(Error::internal)?;
            file.sync_all().await.map_err(Error::internal)?;
            drop(file);
            let dir = target.parent().ok_or_else(|| Error::internal(format!("blob key {key} has no parent")))?;
            // Only directories this write creates need their parents synced; an existing one
            // needs only itself synced, for the rename.
            let synced_up_to = match tokio::fs::try_exists(dir).await {
                Ok(true) => dir.to_owned(),
                _ => {
                    tokio::fs::create_dir_all(dir).await.map_err(Error::internal)?;
                    self.root.clone()
                }
            };
            tokio::fs::rename(&staging, &target).await.map_err(Error::internal)?;
            sync_dirs(dir.to_owned(), synced_up_to).await?;
            Ok(written)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<ByteStream> {
        let path = object_path(key)?;
        let options = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
        let result = self.store.get_opts(&path, options).await.map_err(store_err)?;
        Ok(result.into_stream().map_err(store_err).boxed())
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.store.delete(&object_path(key)?).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(e)),
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

    async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self.store.head(&object_path(key)?).await {
            Ok(_) => Ok(true),
            Err(e) => match store_err(e) {
                e if e.kind == ErrorKind::NotFound => Ok(false),
                e => Err(e),
            },
        }
    }
}

/// Bytes as a one-chunk stream (tests and small writes).
pub fn once(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    futures::stream::once(async move { Ok(bytes) }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_range_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        let key = BlobKey("assets/1/ab/abc".into());
        let chunks: Vec<Result<Bytes>> = (0..40).map(|i| Ok(Bytes::from(vec![i as u8; 30_000]))).collect();
        let n = store.put(&key, futures::stream::iter(chunks).boxed()).await.unwrap();
        assert_eq!(n, 1_200_000);
        let all: Vec<Bytes> = store.get(&key, None).await.unwrap().try_collect().await.unwrap();
        assert_eq!(all.iter().map(|b| b.len()).sum::<usize>(), 1_200_000);
        let part: Vec<Bytes> = store.get(&key, Some(29_999..30_001)).await.unwrap().try_collect().await.unwrap();
        assert_eq!(part.concat(), vec![0u8, 1u8]);
        assert!(store.exists(&key).await.unwrap());
        store.delete(&key).await.unwrap();
        store.delete(&key).await.unwrap();
        assert!(!store.exists(&key).await.unwrap());
        let missing = store.get(&key, None).await.err().unwrap();
        assert_eq!(missing.kind, ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_failing_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path().to_owned()).unwrap();
        let key = BlobKey("assets/1/cd/cde".into());
        let body = futures::stream::iter(vec![
            Ok(Bytes::from(vec![1u8; PART_SIZE + 10])),
            Err(Error::invalid("boom", "client went away")),
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
