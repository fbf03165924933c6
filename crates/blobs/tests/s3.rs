//! What the S3 engine promises beyond the `BlobStore` contract: presigned GETs, no multipart
//! upload left behind by a failed or dropped write, the sweep of those a crash leaves, and
//! `connect` reading the standard `AWS_*` variables. Against SeaweedFS; skipped (or failing, in
//! CI) without the `ASSETLIB_TEST_S3_*` variables.

use assetlib_blobs::testing::fresh_s3;
use assetlib_blobs::{PresignedResponse, S3BlobStore, S3Config};
use assetlib_core::Code;
use assetlib_core::ports::BlobStore;
use assetlib_core::{BlobKey, Error};
use bytes::Bytes;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use std::time::Duration;

const MIB: usize = 1024 * 1024;

#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn presigned_get_serves_the_blob_until_it_expires() {
    let Some(s3) = fresh_s3("s3::presigned_get_serves_the_blob_until_it_expires").await else { return };
    let store = s3.store();
    let key = BlobKey("assets/1/ab/abcdef".into());
    store.put(&key, assetlib_blobs::once("presigned content")).await.unwrap();
    let http = reqwest::Client::new();

    let url = store.presign_get(&key, Duration::from_secs(300)).await.unwrap();
    assert!(url.starts_with(&s3.endpoint), "{url}");
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), "presigned content");

    let range = http.get(&url).header("range", "bytes=10-16").send().await.unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap(), "content");

    let response = PresignedResponse {
        content_type: Some("text/plain; charset=utf-8".into()),
        content_disposition: Some("attachment; filename=\"a b.txt\"".into()),
        cache_control: None,
    };
    let download = store.presign_get_with(&key, Duration::from_secs(300), &response).await.unwrap();
    let got = http.get(&download).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-disposition"], "attachment; filename=\"a b.txt\"");
    assert_eq!(got.headers()["content-type"], "text/plain; charset=utf-8");
    let forged = download.replace("attachment", "inline");
    assert_eq!(http.get(&forged).send().await.unwrap().status(), 403, "the signature covers the headers");

    let other = BlobKey("assets/1/ab/abcdeg".into());
    store.put(&other, assetlib_blobs::once("other")).await.unwrap();
    let tampered = url.replace("abcdef", "abcdeg");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403, "the signature covers the key");

    let short = store.presign_get(&key, Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(http.get(&short).send().await.unwrap().status(), 403, "an expired link is refused");

    let missing = store.presign_get(&BlobKey("assets/1/zz/zzz".into()), Duration::from_secs(60)).await.unwrap();
    assert_eq!(http.get(&missing).send().await.unwrap().status(), 404);
}

#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn failed_and_dropped_writes_leave_no_upload_behind() {
    let Some(s3) = fresh_s3("s3::failed_and_dropped_writes_leave_no_upload_behind").await else { return };
    let store = s3.store();

    // Failed: the body errs after two parts.
    let key = BlobKey("assets/1/cd/cdef".into());
    let body = futures::stream::iter(vec![
        Ok(Bytes::from(vec![7u8; 11 * MIB])),
        Err(Error::invalid(Code::UploadInterrupted, "gone")),
    ]);
    store.put(&key, body.boxed()).await.unwrap_err();
    assert!(store.incomplete_uploads().await.unwrap().is_empty(), "a failed write aborts its upload");

    // Dropped: the body stalls after one part and the write's future is dropped, as when a
    // client goes away mid-upload.
    let stalled = futures::stream::iter(vec![Ok(Bytes::from(vec![7u8; 6 * MIB]))]).chain(futures::stream::pending());
    let put = store.put(&key, stalled.boxed());
    assert!(tokio::time::timeout(Duration::from_secs(2), put).await.is_err());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.incomplete_uploads().await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "a dropped write aborts its upload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!store.exists(&key).await.unwrap());
}

#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn the_sweep_aborts_stale_uploads_under_its_prefix_only() {
    let Some(s3) = fresh_s3("s3::the_sweep_aborts_stale_uploads_under_its_prefix_only").await else { return };
    let config = S3Config { prefix: "mine".into(), ..s3.config() };
    let store = S3BlobStore::new(&config).unwrap();
    // A write cut short by a crash: begun with a part sent, never completed nor aborted.
    let raw = AmazonS3Builder::new()
        .with_endpoint(&s3.endpoint)
        .with_region(&s3.region)
        .with_access_key_id(&s3.access_key_id)
        .with_secret_access_key(&s3.secret_access_key)
        .with_bucket_name(&s3.bucket)
        .with_allow_http(true)
        .build()
        .unwrap();
    let crashed = Path::from("mine/assets/1/ef/efgh");
    let id = raw.create_multipart(&crashed).await.unwrap();
    raw.put_part(&crashed, &id, 0, Bytes::from(vec![1u8; 5 * MIB]).into()).await.unwrap();
    let elsewhere = Path::from("theirs/assets/1/ef/efgh");
    let other_id = raw.create_multipart(&elsewhere).await.unwrap();

    let listed = store.incomplete_uploads().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, "mine/assets/1/ef/efgh");
    assert!(listed[0].initiated.is_some(), "{listed:?}");

    assert_eq!(store.sweep_staging(Duration::from_secs(3600)).await.unwrap(), 0, "a recent upload stays");
    // S3 times have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.sweep_staging(Duration::ZERO).await.unwrap(), 1);
    assert!(store.incomplete_uploads().await.unwrap().is_empty());
    assert!(!store.exists(&BlobKey("assets/1/ef/efgh".into())).await.unwrap());
    assert!(raw.head(&crashed).await.is_err());

    // The upload outside the prefix was not this store's to sweep.
    raw.abort_multipart(&elsewhere, &other_id).await.unwrap();
}

/// `connect("s3://...")` takes endpoint, region and credentials from `AWS_*`. Environment
/// variables are process-wide, so the check runs in a child process: this test runs itself.
#[ignore = "needs an S3 store: ASSETLIB_TEST_S3_* (.ci/run starts SeaweedFS; scripts/test.sh runs these then)"]
#[tokio::test]
async fn connect_reads_the_aws_variables() {
    const CHILD: &str = "ASSETLIB_BLOBS_TEST_CHILD_URL";
    if let Ok(url) = std::env::var(CHILD) {
        let store = assetlib_blobs::connect(&url).unwrap();
        let key = BlobKey("assets/1/ab/abc".into());
        store.put(&key, assetlib_blobs::once("via env")).await.unwrap();
        let content: Vec<Bytes> =
            futures::TryStreamExt::try_collect(store.get(&key, None).await.unwrap().into_stream()).await.unwrap();
        assert_eq!(content.concat(), b"via env");
        return;
    }
    let Some(s3) = fresh_s3("s3::connect_reads_the_aws_variables").await else { return };
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args(["--exact", "connect_reads_the_aws_variables", "--nocapture", "--include-ignored"]);
    for var in ["AWS_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_ALLOW_HTTP"] {
        child.env_remove(var);
    }
    child.envs(s3.env()).env(CHILD, format!("{}/with/prefix", s3.url()));
    let output = child.output().unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let store = s3.store();
    assert!(!store.exists(&BlobKey("assets/1/ab/abc".into())).await.unwrap(), "written under the URL's prefix");
    assert!(store.exists(&BlobKey("with/prefix/assets/1/ab/abc".into())).await.unwrap());
}

#[tokio::test]
async fn connect_refuses_bad_urls() {
    for url in ["s3://", "ftp://host/x"] {
        let e = assetlib_blobs::connect(url).err().expect(url);
        assert_eq!(e.kind, assetlib_core::ErrorKind::Invalid, "{url}");
    }
}
