//! Test helpers (feature `testing`): a fresh S3 bucket on the store the `ASSETLIB_TEST_S3_*`
//! variables name (`scripts/seaweedfs.sh start DIR` starts one and prints them):
//! `ASSETLIB_TEST_S3_ENDPOINT` (e.g. `http://127.0.0.1:8333`), `ASSETLIB_TEST_S3_ACCESS_KEY`,
//! `ASSETLIB_TEST_S3_SECRET_KEY`, and optionally `ASSETLIB_TEST_S3_REGION`.
//!
//! Without them a test is skipped (it says so on stderr), except where `CI` is set: there a
//! skipped S3 case is a failure, so the helpers panic.

use crate::s3::{S3BlobStore, S3Config};
use assetlib_core::ports::BlobStore;
use std::sync::Arc;

/// A bucket of its own for one test, with what a test needs to reach it: as a store, as a
/// config, or as the `--blob-store` URL plus `AWS_*` variables for a server process.
#[derive(Debug, Clone)]
pub struct TestS3 {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub bucket: String,
}

impl TestS3 {
    pub fn config(&self) -> S3Config {
        S3Config {
            bucket: self.bucket.clone(),
            prefix: String::new(),
            endpoint: Some(self.endpoint.clone()),
            region: Some(self.region.clone()),
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
            allow_http: false,
        }
    }

    /// The store on this bucket.
    pub fn store(&self) -> Arc<S3BlobStore> {
        Arc::new(S3BlobStore::new(&self.config()).expect("S3 test store"))
    }

    /// `s3://BUCKET`, for `--blob-store` / `connect`, used with [`Self::env`].
    pub fn url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// The standard variables `connect(self.url())` reads, for a child process's environment.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
        ]
    }
}

/// The S3 test settings from the environment, `None` (after saying so) when there are none
/// and this is not CI. `test` names the test in the skip message.
pub fn s3_env(test: &str) -> Option<(String, String, String, String)> {
    // The engine logs an S3 failure's cause rather than returning it; show it with the test's
    // output (`RUST_LOG` picks the level, warnings by default).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("ASSETLIB_TEST_S3_ENDPOINT"), var("ASSETLIB_TEST_S3_ACCESS_KEY"), var("ASSETLIB_TEST_S3_SECRET_KEY")) {
        (Some(endpoint), Some(key), Some(secret)) => {
            let region = var("ASSETLIB_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into());
            Some((endpoint, region, key, secret))
        }
        _ if std::env::var_os("CI").is_some() => panic!(
            "{test}: ASSETLIB_TEST_S3_ENDPOINT, ASSETLIB_TEST_S3_ACCESS_KEY and ASSETLIB_TEST_S3_SECRET_KEY \
             must be set in CI (a skipped S3 case is a failure); see scripts/seaweedfs.sh"
        ),
        _ => {
            eprintln!("{test}: skipped: ASSETLIB_TEST_S3_* not set (see scripts/seaweedfs.sh)");
            None
        }
    }
}

/// A new bucket with a random name, created on the test S3 store. `None` when the test is to
/// be skipped (see the module doc); panics if the store cannot be reached.
pub async fn fresh_s3(test: &str) -> Option<TestS3> {
    let (endpoint, region, access_key_id, secret_access_key) = s3_env(test)?;
    let bucket = format!("assetlib-test-{}", &assetlib_core::ids::random_hex32()[..20]);
    let s3 = TestS3 { endpoint, region, access_key_id, secret_access_key, bucket };
    if let Err(e) = s3.store().create_bucket().await {
        panic!("{test}: creating S3 bucket {} at {}: {e:?}", s3.bucket, s3.endpoint);
    }
    Some(s3)
}

/// [`fresh_s3`] as a `BlobStore`.
pub async fn fresh_s3_store(test: &str) -> Option<Arc<dyn BlobStore>> {
    Some(fresh_s3(test).await?.store())
}
