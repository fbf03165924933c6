//! `BlobStore` over any S3-compatible object store (AWS S3, SeaweedFS, MinIO, ...) through
//! `object_store`'s `AmazonS3`, for the scale-out set-up where several server processes share
//! one store. Path-style addressing always: it is what S3-compatible stores speak, and it needs
//! no wildcard DNS.
//!
//! Writes: a body under one part (5 MiB, S3's minimum) is one PUT; a larger one is a multipart
//! upload in 5 MiB parts, one part in flight while the next is gathered, so an upload holds at
//! most about two parts in memory whatever its size. S3 makes an object visible only when its
//! PUT or its multipart completion succeeds, and then it is durable; a failed write aborts its
//! multipart upload, and one cut short by a crash or a dropped future is aborted later by
//! [`BlobStore::sweep_staging`], which lists incomplete multipart uploads.
//!
//! Reads: a GET (with a `Range` header for ranges); up to 1 MiB is returned whole, larger
//! content streams as S3 sends it.

use assetlib_core::Code;
use assetlib_core::ports::{BlobInfo, BlobStore, ByteStream, Content};
use assetlib_core::{BlobKey, Error, Result};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{ClientConfigKey, GetOptions, GetRange, MultipartId, ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Size of every multipart part but the last, and the size under which a body is one PUT.
/// S3's minimum part size; larger parts would only hold more memory per upload.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Reads of at most this many bytes are answered in one piece (as the local engine does).
const WHOLE_READ: u64 = 1 << 20;

/// Explicit settings for an S3 store, e.g. from a config file. `None` leaves a setting to
/// `object_store`'s default (region `us-east-1`, AWS's endpoint, credentials from the instance
/// metadata service).
#[derive(Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct S3Config {
    pub bucket: String,
    /// Keys are stored under this prefix (no leading or trailing `/` needed).
    pub prefix: String,
    /// e.g. `http://127.0.0.1:8333`. Plain HTTP is allowed on a loopback address, elsewhere
    /// only with `allow_http`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Plain HTTP to an endpoint that is not on a loopback address (a private network).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

pub struct S3BlobStore {
    s3: Arc<AmazonS3>,
    /// Prepended to every key; empty or ending in `/`.
    prefix: String,
    /// For the requests `object_store` has no call for (listing multipart uploads).
    http: reqwest::Client,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3BlobStore({}, prefix {:?})", self.s3, self.prefix)
    }
}

fn config_error(message: String) -> Error {
    Error::invalid(Code::BlobStoreConfigInvalid, message)
}

/// Splits `s3://BUCKET[/PREFIX]`.
fn parse_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| config_error(format!("Not an S3 blob store URL: '{url}' (use s3://BUCKET[/PREFIX]).")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(config_error(format!("The S3 blob store URL '{url}' names no bucket.")));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// Whether `endpoint` is `http://` on a loopback address: the one case where plain HTTP is
/// allowed without being asked for (with `AWS_ALLOW_HTTP=true` it is allowed anywhere).
fn is_loopback_http(endpoint: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(endpoint) else { return false };
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    url.scheme() == "http"
        && (host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

impl S3Config {
    /// The store `s3://BUCKET[/PREFIX]` names, each setting from its standard variable
    /// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) when
    /// set; a caller then overrides what its own configuration gives.
    pub fn from_url_and_env(url: &str) -> Result<Self> {
        let (bucket, prefix) = parse_url(url)?;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Self {
            bucket,
            prefix,
            endpoint: var("AWS_ENDPOINT_URL"),
            region: var("AWS_REGION"),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            allow_http: var("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        })
    }
}

impl S3BlobStore {
    /// The store `s3://BUCKET[/PREFIX]` names, with endpoint, region and credentials from the
    /// standard variables `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` (and the others `object_store` reads: `AWS_SESSION_TOKEN`,
    /// `AWS_ALLOW_HTTP`, ...).
    pub fn from_env(url: &str) -> Result<Self> {
        let (bucket, prefix) = parse_url(url)?;
        Self::build(AmazonS3Builder::from_env(), &bucket, &prefix)
    }

    /// A store from explicit settings; no `AWS_*` variable is read.
    pub fn new(config: &S3Config) -> Result<Self> {
        let mut builder = AmazonS3Builder::new();
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if config.allow_http {
            builder = builder.with_allow_http(true);
        }
        Self::build(builder, &config.bucket, &config.prefix)
    }

    fn build(builder: AmazonS3Builder, bucket: &str, prefix: &str) -> Result<Self> {
        if bucket.is_empty() {
            return Err(config_error("The S3 blob store needs a bucket name.".into()));
        }
        let endpoint = builder
            .get_config_value(&AmazonS3ConfigKey::S3Endpoint)
            .or_else(|| builder.get_config_value(&AmazonS3ConfigKey::Endpoint));
        let mut builder = builder.with_bucket_name(bucket).with_virtual_hosted_style_request(false);
        if let Some(endpoint) = endpoint.as_deref().filter(|e| e.starts_with("http://")) {
            let asked = builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp));
            if is_loopback_http(endpoint) {
                builder = builder.with_allow_http(true);
            } else if asked.as_deref() != Some("true") {
                return Err(config_error(format!(
                    "The S3 endpoint {endpoint} is plain HTTP off this machine: use https, or allow it \
                     (AWS_ALLOW_HTTP=true, or allow_http in the config)."
                )));
            }
        }
        // A store that is down must turn into a 503 within seconds, not after object_store's
        // default of ten retries over three minutes: a few quick retries ride out a blip.
        let retry =
            object_store::RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(10), ..Default::default() };
        // Set key by key: `with_client_options` would drop `allow_http` set above.
        let builder = builder
            .with_retry(retry)
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "3s")
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "30s");
        let s3 = builder.build().map_err(|e| config_error(format!("S3 blob store: {e}")))?;
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        if !prefix.is_empty() {
            Path::parse(&prefix).map_err(|e| config_error(format!("S3 blob store prefix '{prefix}': {e}")))?;
        }
        // Bounded like object_store's own requests, so that a hung store cannot stall the sweep.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| config_error(format!("S3 blob store: {e}")))?;
        Ok(Self { s3: Arc::new(s3), prefix, http })
    }

    /// The object of `key`. Keys are made by the core from ids; this refuses any that would
    /// not name one plain object all the same.
    fn path_of(&self, key: &BlobKey) -> Result<Path> {
        let ok = !key.0.is_empty()
            && key.0.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.starts_with('.'));
        if !ok {
            return Err(Error::internal(format!("bad blob key {key}")));
        }
        Path::parse(format!("{}{}", self.prefix, key.0))
            .map_err(|e| Error::internal(format!("bad blob key {key}: {e}")))
    }

    /// A URL that lets anyone GET `key` for `expires` (SigV4 query signing; S3 caps it at seven
    /// days). Signed locally: no request is made, and the key need not exist.
    pub async fn presign_get(&self, key: &BlobKey, expires: Duration) -> Result<String> {
        self.presign_get_with(key, expires, &PresignedResponse::default()).await
    }

    /// [`Self::presign_get`], with the response headers S3 is to send (part of the signature,
    /// so the link's holder cannot change them).
    pub async fn presign_get_with(
        &self,
        key: &BlobKey,
        expires: Duration,
        response: &PresignedResponse,
    ) -> Result<String> {
        let path = self.path_of(key)?;
        let mut query = vec![];
        if let Some(v) = &response.content_type {
            query.push(("response-content-type".to_owned(), v.clone()));
        }
        if let Some(v) = &response.content_disposition {
            query.push(("response-content-disposition".to_owned(), v.clone()));
        }
        if let Some(v) = &response.cache_control {
            query.push(("response-cache-control".to_owned(), v.clone()));
        }
        let options = SignedUrlOptions::default().with_query(query);
        let url = self.s3.signed_url_opts(reqwest::Method::GET, &path, expires, &options).await.map_err(s3_err)?;
        Ok(url.to_string())
    }

    /// A signed request on the bucket itself (`extra_query` names the sub-resource), for the
    /// calls `object_store` does not make. Signed by `object_store`'s own SigV4 signer, as a
    /// short-lived presigned URL.
    async fn bucket_url(&self, method: reqwest::Method, extra_query: Vec<(String, String)>) -> Result<reqwest::Url> {
        let options = SignedUrlOptions::default().with_query(extra_query);
        self.s3.signed_url_opts(method, &Path::default(), Duration::from_secs(300), &options).await.map_err(s3_err)
    }

    /// Creates the bucket (tests and first-time set-up). Succeeds if it exists and is ours.
    pub async fn create_bucket(&self) -> Result<()> {
        let url = self.bucket_url(reqwest::Method::PUT, vec![]).await?;
        let response = self.http.put(url).send().await.map_err(|e| Error::unavailable("blob store", e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        if body.contains("BucketAlreadyOwnedByYou") {
            return Ok(());
        }
        // Not a client-facing path (set-up and tests): the cause goes into the message.
        Err(Error::new(
            assetlib_core::ErrorKind::Unavailable,
            Code::Unavailable,
            format!("Creating bucket {}: {status}: {body}", self.s3),
        ))
    }

    /// The incomplete multipart uploads under this store's prefix. `object_store` has no call
    /// for this, so it sends S3's `ListMultipartUploads` itself, signed by `object_store`. A
    /// store that does not implement that call (501) has none to show.
    pub async fn incomplete_uploads(&self) -> Result<Vec<IncompleteUpload>> {
        let mut uploads = vec![];
        let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
        loop {
            let Some(page) = self.list_uploads(key_marker.as_deref(), upload_id_marker.as_deref()).await? else {
                tracing::debug!("the S3 store cannot list multipart uploads");
                return Ok(uploads);
            };
            uploads.extend(page.upload.into_iter().map(|u| IncompleteUpload {
                initiated: chrono::DateTime::parse_from_rfc3339(&u.initiated).ok().map(|t| t.to_utc()),
                key: u.key,
                upload_id: u.upload_id,
            }));
            if !page.is_truncated || page.next_key_marker.is_none() {
                return Ok(uploads);
            }
            (key_marker, upload_id_marker) = (page.next_key_marker, page.next_upload_id_marker);
        }
    }

    /// One page of the incomplete multipart uploads under this store's prefix; `None` if the
    /// store does not implement the call.
    async fn list_uploads(
        &self,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
    ) -> Result<Option<ListUploads>> {
        let mut query = vec![("uploads".to_owned(), String::new())];
        if !self.prefix.is_empty() {
            query.push(("prefix".to_owned(), self.prefix.clone()));
        }
        if let Some(marker) = key_marker {
            query.push(("key-marker".to_owned(), marker.to_owned()));
        }
        if let Some(marker) = upload_id_marker {
            query.push(("upload-id-marker".to_owned(), marker.to_owned()));
        }
        let url = self.bucket_url(reqwest::Method::GET, query).await?;
        let response = self.http.get(url).send().await.map_err(|e| Error::unavailable("blob store", e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| Error::unavailable("blob store", e))?;
        if status == reqwest::StatusCode::NOT_IMPLEMENTED {
            return Ok(None);
        }
        if !status.is_success() {
            let body = String::from_utf8_lossy(&body);
            return Err(Error::unavailable("blob store", format!("listing multipart uploads: {status}: {body}")));
        }
        quick_xml::de::from_reader(body.as_ref())
            .map(Some)
            .map_err(|e| Error::unavailable("blob store", format!("listing multipart uploads: {e}")))
    }
}

/// Response headers a presigned GET makes S3 send in place of the object's own.
pub use assetlib_core::ports::SignedResponse as PresignedResponse;

/// A multipart upload begun and neither completed nor aborted.
#[derive(Debug, Clone)]
pub struct IncompleteUpload {
    /// The object key in the bucket, prefix included.
    pub key: String,
    pub upload_id: String,
    /// `None` if the store sent a time that does not parse.
    pub initiated: Option<chrono::DateTime<chrono::Utc>>,
}

/// `ListMultipartUploadsResult`, the parts of it the sweep needs.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListUploads {
    #[serde(default)]
    upload: Vec<ListedUpload>,
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedUpload {
    key: String,
    upload_id: String,
    initiated: String,
}

fn s3_err(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found(Code::BlobNotFound, "Blob not found."),
        e => Error::unavailable("blob store", e),
    }
}

/// Up to one part of a body, as the chunks it came in (no copying).
#[derive(Default)]
struct PartBuffer {
    chunks: Vec<Bytes>,
    len: usize,
}

impl PartBuffer {
    /// Adds as much of `chunk` as fits in the part; returns the rest, if the part is full.
    fn fill(&mut self, mut chunk: Bytes) -> Option<Bytes> {
        let room = PART_SIZE - self.len;
        if chunk.len() < room {
            self.len += chunk.len();
            if !chunk.is_empty() {
                self.chunks.push(chunk);
            }
            return None;
        }
        let rest = chunk.split_off(room);
        self.len += chunk.len();
        self.chunks.push(chunk);
        Some(rest)
    }

    fn is_full(&self) -> bool {
        self.len == PART_SIZE
    }

    fn take(&mut self) -> PutPayload {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().collect()
    }

    /// The buffered bytes as one chunk: a body of many chunks (a multipart form's parser gives
    /// a dozen for 100 KiB) goes out as as many frames; one costs a copy of at most a part.
    fn take_contiguous(&mut self) -> PutPayload {
        self.len = 0;
        let chunks = std::mem::take(&mut self.chunks);
        match <[Bytes; 1]>::try_from(chunks) {
            Ok([one]) => PutPayload::from(one),
            Err(chunks) => PutPayload::from(Bytes::from(chunks.concat())),
        }
    }
}

/// A multipart upload in progress: at most one part in flight while the caller gathers the
/// next. Aborted on drop unless completed or aborted, so a write whose future is dropped
/// (a client that went away) leaves no parts behind either, as far as a runtime is there to
/// run the abort; the sweep catches the rest.
struct Upload {
    s3: Arc<AmazonS3>,
    path: Path,
    id: MultipartId,
    parts: Vec<PartId>,
    in_flight: Option<JoinHandle<object_store::Result<PartId>>>,
    settled: bool,
}

impl Upload {
    async fn start(s3: Arc<AmazonS3>, path: Path) -> Result<Self> {
        let id = s3.create_multipart(&path).await.map_err(s3_err)?;
        Ok(Self { s3, path, id, parts: vec![], in_flight: None, settled: false })
    }

    async fn wait_in_flight(&mut self) -> Result<()> {
        if let Some(handle) = self.in_flight.take() {
            let part = handle.await.map_err(Error::internal)?.map_err(s3_err)?;
            self.parts.push(part);
        }
        Ok(())
    }

    /// Sends the next part once the one in flight is done.
    async fn send(&mut self, part: PutPayload) -> Result<()> {
        self.wait_in_flight().await?;
        let (s3, path, id, index) = (self.s3.clone(), self.path.clone(), self.id.clone(), self.parts.len());
        self.in_flight = Some(tokio::spawn(async move { s3.put_part(&path, &id, index, part).await }));
        Ok(())
    }

    async fn complete(&mut self, last: Option<PutPayload>) -> Result<()> {
        if let Some(part) = last {
            self.send(part).await?;
        }
        self.wait_in_flight().await?;
        let parts = std::mem::take(&mut self.parts);
        self.s3.complete_multipart(&self.path, &self.id, parts).await.map_err(s3_err)?;
        self.settled = true;
        Ok(())
    }

    /// Best effort: a failure is logged, and the sweep retries later.
    async fn abort(&mut self) {
        if let Some(handle) = self.in_flight.take() {
            handle.abort();
            let _ = handle.await;
        }
        self.settled = true;
        if let Err(e) = self.s3.abort_multipart(&self.path, &self.id).await {
            tracing::warn!(error = %e, path = %self.path, "could not abort a multipart upload; the sweep will retry");
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Some(handle) = self.in_flight.take() {
            handle.abort();
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (s3, path, id) = (self.s3.clone(), self.path.clone(), std::mem::take(&mut self.id));
            runtime.spawn(async move {
                if let Err(e) = s3.abort_multipart(&path, &id).await {
                    tracing::warn!(error = %e, %path, "could not abort a multipart upload; the sweep will retry");
                }
            });
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, mut body: ByteStream) -> Result<u64> {
        let path = self.path_of(key)?;
        let mut buffer = PartBuffer::default();
        let mut upload: Option<Upload> = None;
        let mut written = 0u64;
        let result: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let mut chunk = chunk?;
                written += chunk.len() as u64;
                while let Some(rest) = buffer.fill(chunk) {
                    // A full part: from now on this is a multipart upload.
                    let upload = match &mut upload {
                        Some(upload) => upload,
                        None => upload.insert(Upload::start(self.s3.clone(), path.clone()).await?),
                    };
                    upload.send(buffer.take()).await?;
                    chunk = rest;
                }
                debug_assert!(!buffer.is_full());
            }
            match &mut upload {
                None => {
                    self.s3.put(&path, buffer.take_contiguous()).await.map_err(s3_err)?;
                }
                Some(upload) => {
                    let last = (buffer.len > 0).then(|| buffer.take());
                    upload.complete(last).await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some(mut upload) = upload {
                upload.abort().await;
            }
            return Err(e);
        }
        Ok(written)
    }

    async fn get(&self, key: &BlobKey, range: Option<Range<u64>>) -> Result<Content> {
        let path = self.path_of(key)?;
        if let Some(r) = &range
            && r.start >= r.end
        {
            // S3 has no empty range; the answer is empty if the object exists.
            self.s3.head(&path).await.map_err(s3_err)?;
            return Ok(Content::Whole(Bytes::new()));
        }
        let options = GetOptions { range: range.clone().map(GetRange::Bounded), ..Default::default() };
        let result = match self.s3.get_opts(&path, options).await {
            Ok(result) => result,
            Err(e) => {
                // A range that starts at or past the end is refused by S3 (416); like the
                // local engine, answer it with the empty remainder.
                if let (Some(r), false) = (&range, matches!(e, object_store::Error::NotFound { .. }))
                    && let Ok(meta) = self.s3.head(&path).await
                    && r.start >= meta.size
                {
                    return Ok(Content::Whole(Bytes::new()));
                }
                return Err(s3_err(e));
            }
        };
        if result.range.end - result.range.start <= WHOLE_READ {
            return Ok(Content::Whole(result.bytes().await.map_err(s3_err)?));
        }
        Ok(Content::Stream(result.into_stream().map_err(s3_err).boxed()))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.s3.delete(&self.path_of(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_err(e)),
        }
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self.s3.head(&self.path_of(key)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(s3_err(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<futures::stream::BoxStream<'static, Result<BlobInfo>>> {
        let own = self.prefix.clone();
        let wanted = prefix.to_owned();
        // object_store lists by whole path segments: list the folder that holds `prefix`, then
        // keep what really starts with it.
        let full = format!("{own}{prefix}");
        let folder = full.rsplit_once('/').map(|(folder, _)| Path::from(folder));
        Ok(self
            .s3
            .list(folder.as_ref())
            .map_err(s3_err)
            .try_filter_map(move |meta| {
                let info = meta
                    .location
                    .as_ref()
                    .strip_prefix(own.as_str())
                    .filter(|key| key.starts_with(wanted.as_str()))
                    .map(|key| BlobInfo {
                        key: BlobKey(key.to_owned()),
                        modified: meta.last_modified.timestamp_millis(),
                    });
                futures::future::ready(Ok(info))
            })
            .boxed())
    }

    /// Aborts the incomplete multipart uploads under this store's prefix that started more
    /// than `older_than` ago: those of writes cut short by a crash (a failed or dropped write
    /// aborts its own). See [`S3BlobStore::incomplete_uploads`] for how they are listed.
    async fn sweep_staging(&self, older_than: Duration) -> Result<u64> {
        let Some(cutoff) =
            chrono::Duration::from_std(older_than).ok().and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        else {
            return Ok(0);
        };
        let mut removed = 0;
        for upload in self.incomplete_uploads().await? {
            let Some(initiated) = upload.initiated else {
                tracing::warn!(key = %upload.key, "multipart upload with an unreadable start time; left alone");
                continue;
            };
            if initiated > cutoff {
                continue;
            }
            let Ok(path) = Path::parse(&upload.key) else { continue };
            match self.s3.abort_multipart(&path, &upload.upload_id).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(e) => return Err(s3_err(e)),
            }
        }
        Ok(removed)
    }

    /// A presigned URL (SigV4 query signing), made locally.
    async fn signed_get(
        &self,
        key: &BlobKey,
        expires: Duration,
        response: &PresignedResponse,
    ) -> Result<Option<String>> {
        self.presign_get_with(key, expires, response).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(parse_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert_eq!(parse_url("s3://b/p/q/").unwrap(), ("b".into(), "p/q/".into()));
        assert!(parse_url("s3://").is_err());
        assert!(parse_url("s3:///p").is_err());
        assert!(parse_url("file:///x").is_err());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(is_loopback_http("http://127.0.0.1:8333"));
        assert!(is_loopback_http("http://127.8.0.1"));
        assert!(is_loopback_http("http://localhost:9000/"));
        assert!(is_loopback_http("http://[::1]:8333"));
        assert!(!is_loopback_http("https://127.0.0.1:8333"));
        assert!(!is_loopback_http("http://10.0.0.1:8333"));
        assert!(!is_loopback_http("http://s3.example.com"));
        assert!(!is_loopback_http("not a url"));
    }

    #[test]
    fn keys_map_under_the_prefix() {
        let config = S3Config {
            bucket: "b".into(),
            prefix: "/blobs/".into(),
            endpoint: Some("http://127.0.0.1:1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            ..Default::default()
        };
        let store = S3BlobStore::new(&config).unwrap();
        assert_eq!(store.path_of(&BlobKey("assets/1/ab/abc".into())).unwrap().as_ref(), "blobs/assets/1/ab/abc");
        assert!(store.path_of(&BlobKey("../x".into())).is_err());
        assert!(store.path_of(&BlobKey("a//b".into())).is_err());
        assert!(store.path_of(&BlobKey(String::new())).is_err());
        assert!(!format!("{config:?}").contains("\"s\""), "the secret is not printed");
    }

    #[test]
    fn plain_http_off_this_machine_must_be_asked_for() {
        let config = S3Config {
            bucket: "b".into(),
            endpoint: Some("http://10.1.2.3:9000".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            ..Default::default()
        };
        let e = S3BlobStore::new(&config).unwrap_err();
        assert_eq!(e.code, "blob_store_config_invalid");
        assert!(e.message.contains("allow_http"), "{e}");
        S3BlobStore::new(&S3Config { allow_http: true, ..config.clone() }).unwrap();
        S3BlobStore::new(&S3Config { endpoint: Some("https://10.1.2.3:9000".into()), ..config }).unwrap();
    }

    #[test]
    fn parts_are_cut_at_the_part_size() {
        let mut buffer = PartBuffer::default();
        assert!(buffer.fill(Bytes::from(vec![0u8; PART_SIZE - 1])).is_none());
        let rest = buffer.fill(Bytes::from(vec![1u8; 10])).unwrap();
        assert_eq!(rest.len(), 9);
        assert!(buffer.is_full());
        assert_eq!(buffer.take().content_length(), PART_SIZE);
        assert!(buffer.fill(Bytes::new()).is_none());
        assert_eq!(buffer.len, 0);
        assert!(buffer.chunks.is_empty());
    }

    #[test]
    fn the_upload_listing_parses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket>
<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>a/c</NextKeyMarker>
<NextUploadIdMarker>u2</NextUploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
<Upload><Key>a/b</Key><UploadId>u1</UploadId><Initiator><ID>x</ID></Initiator><StorageClass>STANDARD</StorageClass><Initiated>2024-01-02T03:04:05.000Z</Initiated></Upload>
<Upload><Key>a/c</Key><UploadId>u2</UploadId><Initiated>2024-01-02T03:04:06Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let page: ListUploads = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(page.upload.len(), 2);
        assert_eq!(page.upload[1].upload_id, "u2");
        assert!(page.is_truncated);
        assert_eq!(page.next_key_marker.as_deref(), Some("a/c"));
        let empty: ListUploads = quick_xml::de::from_str(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert!(empty.upload.is_empty() && !empty.is_truncated);
    }
}
