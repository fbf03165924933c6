//! The `BlobStore` engines and the URL that picks one: a local directory ([`local`], the
//! embedded default) or any S3-compatible object store ([`s3`], through `object_store`, for
//! the scale-out set-up). With the `testing` feature, [`testing`] hands tests of any crate a
//! fresh S3 bucket.
#![forbid(unsafe_code)]

pub mod local;
pub mod s3;
#[cfg(feature = "testing")]
pub mod testing;

pub use local::LocalBlobStore;
pub use s3::{IncompleteUpload, PresignedResponse, S3BlobStore, S3Config};

use assetlib_core::Code;
use assetlib_core::ports::{BlobStore, ByteStream};
use assetlib_core::{Error, Result};
use bytes::Bytes;
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Opens the blob store a URL names: `file:///dir` (or a plain path), or `s3://BUCKET[/PREFIX]`
/// with endpoint, region and credentials from the standard `AWS_*` variables (see
/// [`S3BlobStore::from_env`]).
pub fn connect(url: &str) -> Result<Arc<dyn BlobStore>> {
    if let Some(dir) = url.strip_prefix("file://") {
        Ok(Arc::new(LocalBlobStore::open(PathBuf::from(dir))?))
    } else if url.starts_with("s3://") {
        Ok(Arc::new(S3BlobStore::from_env(url)?))
    } else if !url.contains("://") {
        Ok(Arc::new(LocalBlobStore::open(PathBuf::from(url))?))
    } else {
        Err(Error::invalid(
            Code::BlobStoreUrlInvalid,
            format!("Unsupported blob store '{url}': use file:///DIR or s3://BUCKET."),
        ))
    }
}

/// Bytes as a one-chunk stream (tests and small writes).
pub fn once(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    futures::stream::once(async move { Ok(bytes) }).boxed()
}
