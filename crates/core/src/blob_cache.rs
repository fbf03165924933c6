//! A `BlobStore` decorator that keeps small blobs in memory, bounded in bytes. A public GET of
//! a cached blob then costs no file open and read (embedded default) and no round trip to the
//! object store (scale-out), and the bytes go to the socket from one shared buffer.
//!
//! Safe without any coordination between servers because a blob key never names two different
//! contents: upload keys are fresh random names, and a zip entry's key is rewritten only with the
//! same entry's bytes when an interrupted expansion runs again. A write or delete through this
//! store drops the entry all the same.
//!
//! Only whole reads of blobs up to `max_object` bytes are admitted; ranges of cached blobs are
//! cut from memory, ranges of others go to the store. Eviction is quick_cache's (CLOCK-Pro-like:
//! a blob read once does not push out blobs read often).

use crate::error::Result;
use crate::ids::BlobKey;
use crate::ports::{BlobInfo, BlobStore, ByteStream, Content};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::ops::Range;
use std::sync::Arc;

#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<BlobKey, Bytes> for ByLength {
    fn weight(&self, _key: &BlobKey, bytes: &Bytes) -> u64 {
        // An empty blob still takes an entry; quick_cache never evicts weight-0 entries.
        (bytes.len() as u64).max(1)
    }
}

pub struct CachedBlobStore {
    inner: Arc<dyn BlobStore>,
    blobs: quick_cache::sync::Cache<BlobKey, Bytes, ByLength>,
    max_object: u64,
}

impl CachedBlobStore {
    /// Keeps up to `capacity` bytes of blobs of at most `max_object` bytes each.
    pub fn new(inner: Arc<dyn BlobStore>, capacity: u64, max_object: u64) -> Self {
        // quick_cache splits the capacity into shards and refuses an entry heavier than a shard;
        // the item estimate (which sizes its tables) assumes blobs of about 64 KiB.
        let estimated_items = (capacity / (64 << 10)).clamp(16, 1 << 20) as usize;
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(estimated_items)
            .weight_capacity(capacity)
            .shards(shards_for(capacity, max_object))
            .build()
            .expect("valid cache options");
        let blobs = quick_cache::sync::Cache::with_options(
            options,
            ByLength,
            quick_cache::DefaultHashBuilder::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        );
        Self { inner, blobs, max_object: max_object.min(capacity) }
    }

    /// Bytes held now.
    pub fn weight(&self) -> u64 {
        self.blobs.weight()
    }
}

/// A power of two number of shards (what quick_cache wants), as many as the cores allow for
/// little lock contention, but few enough that a shard holds several of the largest blobs.
fn shards_for(capacity: u64, max_object: u64) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut shards = (cores * 4).next_power_of_two();
    while shards > 1 && capacity / shards as u64 <= max_object.saturating_mul(4) {
        shards /= 2;
    }
    shards
}

/// `range` of `bytes`, clamped as the stores clamp: past the end is cut, backwards is empty.
fn cut(bytes: &Bytes, range: Option<Range<u64>>) -> Bytes {
    let len = bytes.len() as u64;
    match range {
        None => bytes.clone(),
        Some(r) => {
            let start = r.start.min(len);
            let end = r.end.min(len).max(start);
            bytes.slice(start as usize..end as usize)
        }
    }
}

#[async_trait]
impl BlobStore for CachedBlobStore {
    async fn put(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
        let written = self.inner.put(key, body).await;
        self.blobs.remove(key);
        written
    }

    async fn put_unsynced(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
        let written = self.inner.put_unsynced(key, body).await;
        self.blobs.remove(key);
        written
    }

    async fn sync(&self, keys: &[BlobKey]) -> Result<()> {
        self.inner.sync(keys).await
    }

    async fn get_for_job(&self, key: &BlobKey) -> Result<Content> {
        self.inner.get(key, None).await
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<Content> {
        if let Some(bytes) = self.blobs.get(key) {
            return Ok(Content::Whole(cut(&bytes, range)));
        }
        let content = self.inner.get(key, range.clone()).await?;
        if range.is_none()
            && let Content::Whole(bytes) = &content
            && bytes.len() as u64 <= self.max_object
        {
            // A copy of its own: the store's `Bytes` may be a slice of a larger buffer (an HTTP
            // client's read buffer), which the cache would keep alive without counting it.
            self.blobs.insert(key.clone(), Bytes::copy_from_slice(bytes));
        }
        Ok(content)
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        self.blobs.remove(key);
        self.inner.delete(key).await
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool> {
        self.inner.exists(key).await
    }

    async fn list(&self, prefix: &str) -> Result<BoxStream<'static, Result<BlobInfo>>> {
        self.inner.list(prefix).await
    }

    async fn sweep_staging(&self, older_than: std::time::Duration) -> Result<u64> {
        self.inner.sweep_staging(older_than).await
    }

    async fn signed_get(
        &self,
        key: &BlobKey,
        expires: std::time::Duration,
        response: &crate::ports::SignedResponse,
    ) -> Result<Option<String>> {
        self.inner.signed_get(key, expires, response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::ports::BlobInfo;
    use futures::{StreamExt, TryStreamExt};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory store that counts the reads that reach it.
    #[derive(Default)]
    struct Counting {
        blobs: Mutex<HashMap<BlobKey, Bytes>>,
        gets: AtomicUsize,
    }

    #[async_trait]
    impl BlobStore for Counting {
        async fn put(&self, key: &BlobKey, body: ByteStream) -> Result<u64> {
            let parts: Vec<Bytes> = body.try_collect().await?;
            let bytes = Bytes::from(parts.concat());
            let n = bytes.len() as u64;
            self.blobs.lock().unwrap().insert(key.clone(), bytes);
            Ok(n)
        }
        async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<Content> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            let bytes = self.blobs.lock().unwrap().get(key).cloned();
            let bytes = bytes.ok_or_else(|| Error::not_found(crate::Code::BlobNotFound, "no such blob"))?;
            Ok(Content::Whole(cut(&bytes, range)))
        }
        async fn delete(&self, key: &BlobKey) -> Result<()> {
            self.blobs.lock().unwrap().remove(key);
            Ok(())
        }
        async fn exists(&self, key: &BlobKey) -> Result<bool> {
            Ok(self.blobs.lock().unwrap().contains_key(key))
        }
        async fn list(&self, _prefix: &str) -> Result<BoxStream<'static, Result<BlobInfo>>> {
            Ok(futures::stream::empty().boxed())
        }
        async fn sweep_staging(&self, _older_than: std::time::Duration) -> Result<u64> {
            Ok(0)
        }
    }

    fn body(bytes: &'static [u8]) -> ByteStream {
        futures::stream::once(async move { Ok(Bytes::from_static(bytes)) }).boxed()
    }

    async fn read(store: &CachedBlobStore, key: &BlobKey, range: Option<Range<u64>>) -> Result<Bytes> {
        match store.get(key, range).await? {
            Content::Whole(bytes) => Ok(bytes),
            Content::Stream(s) => Ok(Bytes::from(s.try_collect::<Vec<Bytes>>().await?.concat())),
        }
    }

    fn key(name: &str) -> BlobKey {
        BlobKey(format!("assets/1/ab/{name}"))
    }

    #[tokio::test]
    async fn a_second_read_and_its_ranges_come_from_memory() {
        let inner = Arc::new(Counting::default());
        let store = CachedBlobStore::new(inner.clone(), 1 << 20, 1 << 10);
        store.put(&key("a"), body(b"0123456789")).await.unwrap();
        assert_eq!(read(&store, &key("a"), None).await.unwrap(), &b"0123456789"[..]);
        assert_eq!(inner.gets.load(Ordering::SeqCst), 1);
        assert_eq!(read(&store, &key("a"), None).await.unwrap(), &b"0123456789"[..]);
        assert_eq!(read(&store, &key("a"), Some(2..5)).await.unwrap(), &b"234"[..]);
        assert_eq!(read(&store, &key("a"), Some(8..50)).await.unwrap(), &b"89"[..]);
        assert_eq!(read(&store, &key("a"), Some(20..30)).await.unwrap(), &b""[..]);
        let backwards = Range { start: 5, end: 3 };
        assert_eq!(read(&store, &key("a"), Some(backwards)).await.unwrap(), &b""[..]);
        assert_eq!(inner.gets.load(Ordering::SeqCst), 1, "every read after the first came from memory");
        assert_eq!(store.weight(), 10);
    }

    #[tokio::test]
    async fn reads_for_jobs_pass_the_cache_by() {
        let inner = Arc::new(Counting::default());
        let store = CachedBlobStore::new(inner.clone(), 1 << 20, 1 << 10);
        store.put(&key("j"), body(b"0123")).await.unwrap();
        for _ in 0..2 {
            let Content::Whole(bytes) = store.get_for_job(&key("j")).await.unwrap() else { panic!("whole") };
            assert_eq!(bytes, &b"0123"[..]);
        }
        assert_eq!(inner.gets.load(Ordering::SeqCst), 2, "both reached the store");
        assert_eq!(store.weight(), 0, "and neither was cached");
    }

    #[tokio::test]
    async fn ranges_and_large_blobs_are_not_admitted() {
        let inner = Arc::new(Counting::default());
        let store = CachedBlobStore::new(inner.clone(), 1 << 20, 4);
        store.put(&key("big"), body(b"0123456789")).await.unwrap();
        store.put(&key("small"), body(b"0123")).await.unwrap();
        read(&store, &key("small"), Some(0..2)).await.unwrap();
        read(&store, &key("small"), Some(0..2)).await.unwrap();
        read(&store, &key("big"), None).await.unwrap();
        read(&store, &key("big"), None).await.unwrap();
        assert_eq!(inner.gets.load(Ordering::SeqCst), 4);
        assert_eq!(store.weight(), 0);
        read(&store, &key("small"), None).await.unwrap();
        read(&store, &key("small"), None).await.unwrap();
        assert_eq!(inner.gets.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn writes_and_deletes_drop_the_entry() {
        let inner = Arc::new(Counting::default());
        let store = CachedBlobStore::new(inner.clone(), 1 << 20, 1 << 10);
        store.put(&key("a"), body(b"old")).await.unwrap();
        assert_eq!(read(&store, &key("a"), None).await.unwrap(), &b"old"[..]);
        store.put(&key("a"), body(b"new")).await.unwrap();
        assert_eq!(read(&store, &key("a"), None).await.unwrap(), &b"new"[..]);
        store.delete(&key("a")).await.unwrap();
        let gone = read(&store, &key("a"), None).await.unwrap_err();
        assert_eq!(gone.kind, crate::error::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn the_byte_budget_holds() {
        let inner = Arc::new(Counting::default());
        let store = CachedBlobStore::new(inner.clone(), 64 << 10, 4 << 10);
        static BLOB: [u8; 4096] = [7; 4096];
        for i in 0..100 {
            store.put(&key(&format!("k{i}")), body(&BLOB)).await.unwrap();
            read(&store, &key(&format!("k{i}")), None).await.unwrap();
            assert!(store.weight() <= 64 << 10, "{} bytes held", store.weight());
        }
        assert!(store.weight() > 0);
    }
}
