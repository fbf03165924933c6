//! The raw S3 side of the scale-out benchmark: buckets, an `object_store` client (the library
//! assetlib itself reaches S3 with) for PUTs, and SigV4 presigned URLs for GET and
//! ListObjectsV2, signed by `object_store` too. Presigned requests are sent by the benchmark's
//! own hyper client, the one that loads assetlib, so that both sides of a GET comparison pay the
//! same client costs; signing happens before the measured loops (SeaweedFS still checks every
//! signature). PUTs go through `object_store` itself, signed as assetlib's own writes are
//! (payload SHA-256 included; a presigned PUT is `UNSIGNED-PAYLOAD`), so that the client pays for
//! hashing and signing as assetlib does.

use anyhow::{Context, bail};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use std::sync::Arc;
use std::time::Duration;

/// How long presigned URLs stay valid: longer than any run.
const EXPIRES: Duration = Duration::from_secs(3600);

/// Endpoint and credentials of an S3-compatible store.
#[derive(Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// One bucket, path-style, for signing.
#[derive(Clone)]
pub struct Bucket {
    pub name: String,
    s3: AmazonS3,
}

impl Bucket {
    pub fn new(settings: &S3Settings, name: &str) -> anyhow::Result<Self> {
        let s3 = AmazonS3Builder::new()
            .with_endpoint(&settings.endpoint)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_bucket_name(name)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(true)
            .build()
            .with_context(|| format!("S3 client for bucket {name}"))?;
        Ok(Self { name: name.to_owned(), s3 })
    }

    /// The bucket as an `object_store` store.
    pub fn store(&self) -> Arc<AmazonS3> {
        Arc::new(self.s3.clone())
    }

    /// A presigned URL for `method` on `key` (the bucket itself when `key` is empty).
    pub async fn presign(
        &self,
        method: reqwest::Method,
        key: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Url> {
        let path = if key.is_empty() { Path::default() } else { Path::parse(key)? };
        let options = SignedUrlOptions::default().with_query(query.iter().map(|(k, v)| (*k, *v)));
        Ok(self.s3.signed_url_opts(method, &path, EXPIRES, &options).await?)
    }

    /// Creates the bucket (a signed `PUT` on it); an existing bucket of ours is fine.
    pub async fn create(&self, http: &reqwest::Client) -> anyhow::Result<()> {
        let url = self.presign(reqwest::Method::PUT, "", &[]).await?;
        let resp = http.put(url).send().await.with_context(|| format!("creating bucket {}", self.name))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() && !body.contains("BucketAlreadyOwnedByYou") {
            bail!("creating bucket {}: {status} {body}", self.name);
        }
        Ok(())
    }

    /// Writes and deletes one small object: SeaweedFS gives a bucket its volumes on the first
    /// write (about a second), a set-up cost that is not to land in a measured phase.
    pub async fn warm_up(&self, http: &reqwest::Client) -> anyhow::Result<()> {
        let key = "bench-warm-up";
        let put = self.presign(reqwest::Method::PUT, key, &[]).await?;
        crate::load::put_one(http, &put, bytes::Bytes::from_static(b"warm-up")).await?;
        let delete = self.presign(reqwest::Method::DELETE, key, &[]).await?;
        let status = http.delete(delete).send().await?.status();
        anyhow::ensure!(status.is_success(), "deleting {key} from {}: {status}", self.name);
        Ok(())
    }

    /// A ListObjectsV2 request: one level under `prefix` (which ends in `/`), `max_keys` at
    /// most, after the key `start_after` if given.
    pub async fn presign_list(
        &self,
        prefix: &str,
        max_keys: usize,
        start_after: Option<&str>,
    ) -> anyhow::Result<reqwest::Url> {
        let max_keys = max_keys.to_string();
        let mut query = vec![("list-type", "2"), ("prefix", prefix), ("delimiter", "/"), ("max-keys", &max_keys)];
        if let Some(after) = start_after {
            query.push(("start-after", after));
        }
        self.presign(reqwest::Method::GET, "", &query).await
    }
}

/// The request target (path and query) of a URL, for the hyper client.
pub fn target_of(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// What a ListObjectsV2 page holds: the object keys and the common prefixes, in order.
#[derive(Debug, Default)]
pub struct ListPage {
    pub keys: Vec<String>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
}

/// Reads a `ListBucketResult`. The benchmark's keys need no XML unescaping (plain ASCII
/// without `&<>`), so elements are found by name.
pub fn parse_list(xml: &str) -> anyhow::Result<ListPage> {
    anyhow::ensure!(xml.contains("<ListBucketResult"), "not a ListBucketResult: {}", &xml[..xml.len().min(300)]);
    let mut page = ListPage { truncated: xml.contains("<IsTruncated>true</IsTruncated>"), ..Default::default() };
    for contents in xml.split("<Contents>").skip(1) {
        page.keys.push(element(contents, "Key").context("a Contents without a Key")?.to_owned());
    }
    for common in xml.split("<CommonPrefixes>").skip(1) {
        page.prefixes.push(element(common, "Prefix").context("CommonPrefixes without a Prefix")?.to_owned());
    }
    Ok(page)
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_page_parses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>a/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>a/x.jpg</Key><Size>0</Size></Contents><Contents><Key>a/y.jpg</Key></Contents><CommonPrefixes><Prefix>a/z/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let page = parse_list(xml).unwrap();
        assert_eq!(page.keys, ["a/x.jpg", "a/y.jpg"]);
        assert_eq!(page.prefixes, ["a/z/"]);
        assert!(page.truncated);
    }
}
