//! One `BlobStore` contract, run on every engine: the local directory and S3 (SeaweedFS in CI;
//! see `assetlib_blobs::testing` for the variables, `scripts/seaweedfs.sh` to start one).

use assetlib_blobs::LocalBlobStore;
use assetlib_core::Code;
use assetlib_core::ports::{BlobStore, ByteStream, Content};
use assetlib_core::{BlobKey, Error, ErrorKind, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn local_dir() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(LocalBlobStore::open(dir.path().to_owned()).unwrap())).await;
}

#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn s3() {
    let Some(store) = assetlib_blobs::testing::fresh_s3_store("conformance::s3").await else { return };
    suite(store).await;
}

#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn s3_under_a_prefix() {
    let Some(s3) = assetlib_blobs::testing::fresh_s3("conformance::s3_under_a_prefix").await else { return };
    let store =
        assetlib_blobs::S3BlobStore::new(&assetlib_blobs::S3Config { prefix: "some/prefix".into(), ..s3.config() })
            .unwrap();
    suite(Arc::new(store)).await;
}

async fn suite(store: Arc<dyn BlobStore>) {
    listing(&*store).await;
    missing_keys(&*store).await;
    put_get_range_delete(&*store).await;
    overwrite(&*store).await;
    empty_bodies(&*store).await;
    large_streamed_body(&*store).await;
    failing_bodies_leave_nothing(&*store).await;
    unsynced_batches(&*store).await;
    store.sweep_staging(Duration::from_secs(3600)).await.unwrap();
}

fn key(name: &str) -> BlobKey {
    BlobKey(format!("assets/1/{}/{name}", &name[..2]))
}

/// `bytes` as a stream of chunks of the given sizes (cycled), as a client's upload arrives.
fn chunked(bytes: Bytes, sizes: &[usize]) -> ByteStream {
    let mut chunks: Vec<Result<Bytes>> = vec![];
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        chunks.push(Ok(bytes.slice(at..end)));
        at = end;
    }
    futures::stream::iter(chunks).boxed()
}

/// Content that shows a misplaced byte: no period divides a part size.
fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 65_521) as u8).collect::<Vec<u8>>().into()
}

async fn read(store: &dyn BlobStore, key: &BlobKey, range: Option<Range<u64>>) -> Vec<u8> {
    let content = store.get(key, range).await.unwrap();
    let chunks: Vec<Bytes> = content.into_stream().try_collect().await.unwrap();
    chunks.concat()
}

async fn missing_keys(store: &dyn BlobStore) {
    let k = key("mi55ing");
    let e = store.get(&k, None).await.err().expect("a missing key is an error");
    assert_eq!((e.kind, e.code), (ErrorKind::NotFound, Code::BlobNotFound));
    let e = store.get(&k, Some(0..10)).await.err().expect("a range of a missing key is an error");
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = store.get(&k, Some(3..3)).await.err().expect("an empty range of a missing key is an error");
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(!store.exists(&k).await.unwrap());
    store.delete(&k).await.expect("deleting what is absent succeeds");
}

async fn put_get_range_delete(store: &dyn BlobStore) {
    let k = key("ab0001");
    assert_eq!(store.put(&k, assetlib_blobs::once("hello, world")).await.unwrap(), 12);
    assert!(store.exists(&k).await.unwrap());
    match store.get(&k, None).await.unwrap() {
        Content::Whole(bytes) => assert_eq!(&bytes[..], b"hello, world"),
        Content::Stream(_) => panic!("a small blob is read whole"),
    }
    assert_eq!(read(store, &k, Some(0..5)).await, b"hello");
    assert_eq!(read(store, &k, Some(7..12)).await, b"world");
    assert_eq!(read(store, &k, Some(7..100)).await, b"world", "a range past the end is clipped");
    assert_eq!(read(store, &k, Some(12..20)).await, b"", "a range at the end is empty");
    assert_eq!(read(store, &k, Some(50..60)).await, b"", "a range past the end is empty");
    assert_eq!(read(store, &k, Some(4..4)).await, b"", "an empty range is empty");
    store.delete(&k).await.unwrap();
    assert!(!store.exists(&k).await.unwrap());
    assert_eq!(store.get(&k, None).await.err().unwrap().kind, ErrorKind::NotFound);
    store.delete(&k).await.unwrap();
}

async fn overwrite(store: &dyn BlobStore) {
    let k = key("cd0002");
    store.put(&k, assetlib_blobs::once("first version, longer")).await.unwrap();
    store.put(&k, assetlib_blobs::once("second")).await.unwrap();
    assert_eq!(read(store, &k, None).await, b"second");
    // Small over large and large over small.
    let big = pattern(6 * MIB + 3);
    store.put(&k, chunked(big.clone(), &[MIB])).await.unwrap();
    assert_eq!(read(store, &k, None).await, big);
    store.put(&k, assetlib_blobs::once("third")).await.unwrap();
    assert_eq!(read(store, &k, None).await, b"third");
    store.delete(&k).await.unwrap();
}

async fn empty_bodies(store: &dyn BlobStore) {
    let k = key("ef0003");
    assert_eq!(store.put(&k, futures::stream::empty().boxed()).await.unwrap(), 0);
    assert!(store.exists(&k).await.unwrap(), "an empty blob exists");
    assert_eq!(read(store, &k, None).await, b"");
    assert_eq!(read(store, &k, Some(0..10)).await, b"", "any range of an empty blob is empty");
    let empty_chunks = futures::stream::iter(vec![Ok(Bytes::new()), Ok(Bytes::from_static(b"x")), Ok(Bytes::new())]);
    assert_eq!(store.put(&k, empty_chunks.boxed()).await.unwrap(), 1);
    assert_eq!(read(store, &k, None).await, b"x");
    store.delete(&k).await.unwrap();
}

async fn large_streamed_body(store: &dyn BlobStore) {
    let k = key("0a0004");
    let len = 12 * MIB;
    let content = pattern(len);
    // Odd sizes, so that no chunk boundary meets a part boundary.
    let sizes = [1, 7_919, 65_537, 1_048_573, 3, 262_147, 999_983];
    assert_eq!(store.put(&k, chunked(content.clone(), &sizes)).await.unwrap(), len as u64);
    match store.get(&k, None).await.unwrap() {
        Content::Stream(stream) => {
            let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
            assert!(chunks.iter().all(|c| c.len() <= 4 * MIB), "a large read streams in pieces");
            let all = chunks.concat();
            assert_eq!(all.len(), len);
            assert!(all == content, "12 MiB read back differ");
        }
        Content::Whole(_) => panic!("a 12 MiB read streams"),
    }
    let part = (5 * MIB) as u64;
    for range in [
        part - 10..part + 10,
        2 * part - 1..2 * part + 1,
        0..1,
        len as u64 - 1..len as u64,
        MIB as u64..11 * MIB as u64,
    ] {
        let got = read(store, &k, Some(range.clone())).await;
        assert!(got == content[range.start as usize..range.end as usize], "range {range:?} differs");
    }
    store.delete(&k).await.unwrap();
    assert!(!store.exists(&k).await.unwrap());
}

async fn failing_bodies_leave_nothing(store: &dyn BlobStore) {
    let boom = Error::invalid(Code::UploadInterrupted, "client went away");
    // Failing before one S3 part, after one, and after two.
    for (i, before) in [1_000, 5 * MIB + 1, 11 * MIB].into_iter().enumerate() {
        let k = key(&format!("f{i}0005"));
        let body = futures::stream::iter(vec![Ok(pattern(before)), Err(boom.clone())]).boxed();
        let e = store.put(&k, body).await.expect_err("a failing body fails the write");
        assert_eq!(
            (e.kind, e.code, e.message.as_str()),
            (boom.kind, boom.code, boom.message.as_str()),
            "returned unchanged"
        );
        assert!(!store.exists(&k).await.unwrap(), "nothing at the key after a failure {before} bytes in");
        assert_eq!(store.get(&k, None).await.err().unwrap().kind, ErrorKind::NotFound);
    }
    // A failed replacement leaves the old content as it was.
    let k = key("ff0005");
    store.put(&k, assetlib_blobs::once("old")).await.unwrap();
    let body = futures::stream::iter(vec![Ok(pattern(6 * MIB)), Err(boom.clone())]).boxed();
    store.put(&k, body).await.expect_err("a failing body fails the write");
    assert_eq!(read(store, &k, None).await, b"old");
    store.delete(&k).await.unwrap();
}

/// Writes made durable together (a zip's entries): each readable as soon as it is written,
/// overwritable, failing as `put` fails, and all of them (small, large, empty, in new and in
/// existing directories) still whole after `sync`. That `sync` makes them durable is shown by
/// the kill -9 tests of the server (`crates/assetlib/tests/durability.rs`).
async fn unsynced_batches(store: &dyn BlobStore) {
    let dir = |i: usize| BlobKey(format!("assets/1/z/q{}/{i}", i % 3));
    let contents: Vec<Bytes> = (0..150).map(|i| pattern(i * 37 % 4096)).collect();
    let writes = contents.iter().enumerate().map(|(i, c)| {
        let k = dir(i);
        async move { store.put_unsynced(&k, chunked(c.clone(), &[1000])).await }
    });
    let sizes: Vec<u64> = futures::stream::iter(writes).buffered(16).try_collect().await.unwrap();
    assert_eq!(sizes, contents.iter().map(|c| c.len() as u64).collect::<Vec<_>>());
    assert_eq!(read(store, &dir(7), None).await, contents[7], "readable before the sync");
    // Larger than a part of either engine, and empty.
    let big = key("ba0006");
    let large = pattern(6 * MIB + 5);
    assert_eq!(store.put_unsynced(&big, chunked(large.clone(), &[MIB])).await.unwrap(), large.len() as u64);
    let empty = key("be0006");
    assert_eq!(store.put_unsynced(&empty, futures::stream::empty().boxed()).await.unwrap(), 0);
    // An overwrite, as a re-run of an interrupted expansion does.
    store.put_unsynced(&dir(0), assetlib_blobs::once("rewritten")).await.unwrap();
    // A failing body leaves nothing, and returns its error unchanged.
    let boom = Error::invalid(Code::UploadInterrupted, "client went away");
    for before in [10, 6 * MIB] {
        let k = key("bf0006");
        let body = futures::stream::iter(vec![Ok(pattern(before)), Err(boom.clone())]).boxed();
        let e = store.put_unsynced(&k, body).await.expect_err("a failing body fails the write");
        assert_eq!((e.kind, e.message.as_str()), (boom.kind, boom.message.as_str()));
        assert!(!store.exists(&k).await.unwrap(), "nothing after a failure {before} bytes in");
    }
    let mut keys: Vec<BlobKey> = (0..contents.len()).map(dir).collect();
    keys.extend([big.clone(), empty.clone()]);
    store.sync(&keys).await.unwrap();
    store.sync(&keys[..3]).await.expect("a few keys at once");
    store.sync(&[]).await.expect("no keys at all");
    assert_eq!(read(store, &dir(0), None).await, b"rewritten");
    for (i, c) in contents.iter().enumerate().skip(1) {
        assert!(read(store, &dir(i), None).await == *c, "blob {i} differs after the sync");
    }
    assert!(read(store, &big, None).await == large);
    assert_eq!(read(store, &empty, None).await, b"");
    assert_eq!(listed(store, "assets/1/z/").await.len(), contents.len(), "each listed once");
    for k in &keys {
        store.delete(k).await.unwrap();
    }
    assert!(listed(store, "assets/1/z/").await.is_empty());
}

async fn listed(store: &dyn BlobStore, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store.list(prefix).await.unwrap().map_ok(|b| b.key.0).try_collect().await.unwrap();
    keys.sort();
    keys
}

/// Listing by prefix: complete blobs only, exactly those under the prefix, with their time.
async fn listing(store: &dyn BlobStore) {
    for key in ["list/a/1", "list/a/2", "list/ab/3", "list/b/4"] {
        store.put(&BlobKey(key.into()), assetlib_blobs::once(Bytes::from_static(b"x"))).await.unwrap();
    }
    assert_eq!(listed(store, "list/").await, ["list/a/1", "list/a/2", "list/ab/3", "list/b/4"]);
    assert_eq!(listed(store, "list/a/").await, ["list/a/1", "list/a/2"]);
    assert_eq!(listed(store, "list/a").await, ["list/a/1", "list/a/2", "list/ab/3"]);
    assert!(listed(store, "nothing/").await.is_empty());
    let one: Vec<_> = store.list("list/b/").await.unwrap().try_collect().await.unwrap();
    let age = chrono::Utc::now().timestamp_millis() - one[0].modified;
    assert!((-60_000..60_000).contains(&age), "modified time {} is not now", one[0].modified);
    for key in ["list/a/1", "list/a/2", "list/ab/3", "list/b/4"] {
        store.delete(&BlobKey(key.into())).await.unwrap();
    }
    assert!(listed(store, "list/").await.is_empty());
}
