//! A typed client of assetlib's native API (`/api/v1`, SPEC 5.4), over the same wire types the
//! server answers with ([`assetlib_api`]). Every call returns the typed answer, or
//! [`Error::Problem`] with the server's RFC 9457 problem (its `code`, `detail` and `param`).
//!
//! ```no_run
//! # async fn run() -> Result<(), assetlib_client::Error> {
//! let client = assetlib_client::Client::new("http://127.0.0.1:8080", "alk_...");
//! let me = client.me().await?;
//! let page = client.search(me.accounts[0].id, &assetlib_client::Search::new().tag("hero").limit(10)).await?;
//! # Ok(()) }
//! ```

pub use assetlib_api as api;
use assetlib_api::{
    Asset, AssetPage, AssetPatch, BatchDeleteRequest, BatchDeleted, Collection, CollectionBody, CollectionPage,
    CopyRequest, Folder, FolderRequest, Key, KeyPage, KeyRequest, Link, LinkRequest, Me, Problem, Tree, Upload,
    UploadAccepted,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused or failed the request, saying why.
    #[error("{} {}: {}", .0.status, .0.code, .0.detail)]
    Problem(Box<Problem>),
    /// The request did not get an answer.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// An answer the API does not give (a proxy's page, say).
    #[error("unexpected answer {status}: {body}")]
    Unexpected { status: StatusCode, body: String },
    #[error("invalid base URL: {0}")]
    BaseUrl(String),
}

impl Error {
    /// The problem's `code`, if the server answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Problem(p) => Some(&p.code),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// What an upload made.
#[derive(Debug, Clone, PartialEq)]
pub enum Uploaded {
    /// A new asset (201).
    Created(Asset),
    /// The asset that was at the key, with the new content (200).
    Replaced(Asset),
    /// A zip, being expanded by a job (202): poll [`Client::upload_status`].
    Accepted(Upload),
}

/// The parameters of a search (SPEC 5.4); the named ones are shortcuts for [`Search::with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search(Vec<(String, String)>);

impl Search {
    pub fn new() -> Self {
        Self::default()
    }
    /// Any parameter, by its name in the API (`pathPrefix`, `meta.campaign`, ...).
    pub fn with(mut self, name: &str, value: impl ToString) -> Self {
        self.0.push((name.to_owned(), value.to_string()));
        self
    }
    pub fn q(self, prefix: &str) -> Self {
        self.with("q", prefix)
    }
    pub fn tag(self, tag: &str) -> Self {
        self.with("tag", tag)
    }
    pub fn path_prefix(self, folder: &str) -> Self {
        self.with("pathPrefix", folder)
    }
    pub fn meta(self, key: &str, value: &str) -> Self {
        self.with(&format!("meta.{key}"), value)
    }
    pub fn sort(self, sort: &str) -> Self {
        self.with("sort", sort)
    }
    pub fn limit(self, limit: u32) -> Self {
        self.with("limit", limit)
    }
    pub fn cursor(self, cursor: &str) -> Self {
        self.with("cursor", cursor)
    }
}

/// A client of one server, with one API key.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    /// A client of the server at `base` (`http://host:port`), authenticating with `key`.
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Self {
        Self::with_http(reqwest::Client::new(), base, key)
    }

    /// As [`Client::new`], over an HTTP client of the caller's (timeouts, TLS, proxies).
    pub fn with_http(http: reqwest::Client, base: impl Into<String>, key: impl Into<String>) -> Self {
        Self { http, base: base.into().trim_end_matches('/').to_owned(), key: key.into() }
    }

    /// `/api/v1/` followed by `segments`, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = Url::parse(&format!("{}/api/v1", self.base)).map_err(|e| Error::BaseUrl(e.to_string()))?;
        url.path_segments_mut().map_err(|()| Error::BaseUrl(self.base.clone()))?.extend(segments);
        Ok(url)
    }

    fn account_url(&self, account: i64, rest: &[&str]) -> Result<Url> {
        let account = account.to_string();
        let mut segments = vec!["accounts", account.as_str()];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.key)
    }

    /// The answer if its status is a success, else the problem it carries.
    async fn checked(response: Response) -> Result<Response> {
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let body = response.text().await?;
        match serde_json::from_str::<Problem>(&body) {
            Ok(problem) => Err(Error::Problem(Box::new(problem))),
            Err(_) => Err(Error::Unexpected { status, body }),
        }
    }

    async fn json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
        let response = Self::checked(request.send().await?).await?;
        let status = response.status();
        let body = response.bytes().await?;
        serde_json::from_slice(&body)
            .map_err(|_| Error::Unexpected { status, body: String::from_utf8_lossy(&body).into_owned() })
    }

    async fn empty(request: RequestBuilder) -> Result<()> {
        Self::checked(request.send().await?).await?;
        Ok(())
    }

    /// The caller and the accounts its key reaches.
    pub async fn me(&self) -> Result<Me> {
        Self::json(self.request(Method::GET, self.url(&["me"])?)).await
    }

    /// One page of a search of `account`.
    pub async fn search(&self, account: i64, search: &Search) -> Result<AssetPage> {
        Self::json(self.request(Method::GET, self.account_url(account, &["assets"])?).query(&search.0)).await
    }

    /// The asset and its ETag (for [`Client::patch_asset`]'s `if_match`).
    pub async fn asset(&self, account: i64, id: &str) -> Result<(Asset, String)> {
        let response = self.request(Method::GET, self.account_url(account, &["assets", id])?).send().await?;
        let response = Self::checked(response).await?;
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let status = response.status();
        let body = response.bytes().await?;
        let asset = serde_json::from_slice(&body)
            .map_err(|_| Error::Unexpected { status, body: String::from_utf8_lossy(&body).into_owned() })?;
        Ok((asset, etag))
    }

    /// Applies a merge patch; with `if_match`, only to the asset as that ETag saw it.
    pub async fn patch_asset(
        &self,
        account: i64,
        id: &str,
        patch: &AssetPatch,
        if_match: Option<&str>,
    ) -> Result<Asset> {
        let mut request = self
            .request(Method::PATCH, self.account_url(account, &["assets", id])?)
            .header("content-type", "application/merge-patch+json")
            .body(serde_json::to_vec(patch).unwrap_or_default());
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        Self::json(request).await
    }

    pub async fn delete_asset(&self, account: i64, id: &str) -> Result<()> {
        Self::empty(self.request(Method::DELETE, self.account_url(account, &["assets", id])?)).await
    }

    async fn uploaded(request: RequestBuilder) -> Result<Uploaded> {
        let response = Self::checked(request.send().await?).await?;
        let status = response.status();
        let body = response.bytes().await?;
        let unexpected = || Error::Unexpected { status, body: String::from_utf8_lossy(&body).into_owned() };
        match status {
            StatusCode::CREATED => serde_json::from_slice(&body).map(Uploaded::Created).map_err(|_| unexpected()),
            StatusCode::OK => serde_json::from_slice(&body).map(Uploaded::Replaced).map_err(|_| unexpected()),
            StatusCode::ACCEPTED => serde_json::from_slice::<UploadAccepted>(&body)
                .map(|a| Uploaded::Accepted(a.upload))
                .map_err(|_| unexpected()),
            _ => Err(unexpected()),
        }
    }

    /// Uploads `body` as the asset at `key` (`path/name.ext`); a `.zip` is expanded there.
    pub async fn upload(&self, account: i64, key: &str, body: impl Into<reqwest::Body>) -> Result<Uploaded> {
        let request = self
            .request(Method::POST, self.account_url(account, &["assets"])?)
            .query(&[("key", key)])
            .header("content-type", "application/octet-stream")
            .body(body);
        Self::uploaded(request).await
    }

    /// Uploads a file as multipart `file` named `file_name` into `folder` (the root if `None`).
    pub async fn upload_file(
        &self,
        account: i64,
        folder: Option<&str>,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Uploaded> {
        let mut form = reqwest::multipart::Form::new();
        if let Some(folder) = folder {
            form = form.text("path", folder.to_owned());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()));
        Self::uploaded(self.request(Method::POST, self.account_url(account, &["assets"])?).multipart(form)).await
    }

    /// The bytes of the asset's original.
    pub async fn content(&self, account: i64, id: &str) -> Result<bytes::Bytes> {
        let response = self.request(Method::GET, self.account_url(account, &["assets", id, "content"])?).send().await?;
        Ok(Self::checked(response).await?.bytes().await?)
    }

    /// Copies the asset; says whether the copy replaced an asset.
    pub async fn copy(&self, account: i64, id: &str, copy: &CopyRequest) -> Result<(Asset, bool)> {
        let request = self.request(Method::POST, self.account_url(account, &["assets", id, "copy"])?).json(copy);
        let response = Self::checked(request.send().await?).await?;
        let replaced = response.status() == StatusCode::OK;
        Ok((response.json().await?, replaced))
    }

    /// A signed link to the asset.
    pub async fn link(&self, account: i64, id: &str, link: &LinkRequest) -> Result<Link> {
        Self::json(self.request(Method::POST, self.account_url(account, &["assets", id, "links"])?).json(link)).await
    }

    pub async fn batch_delete(&self, account: i64, request: &BatchDeleteRequest) -> Result<BatchDeleted> {
        let url = self.account_url(account, &["assets", "batch-delete"])?;
        Self::json(self.request(Method::POST, url).json(request)).await
    }

    /// One folder level (the root for `""`).
    pub async fn tree(&self, account: i64, path: &str, cursor: Option<&str>, limit: Option<u32>) -> Result<Tree> {
        let mut query = vec![("path", path.to_owned())];
        query.extend(cursor.map(|c| ("cursor", c.to_owned())));
        query.extend(limit.map(|l| ("limit", l.to_string())));
        Self::json(self.request(Method::GET, self.account_url(account, &["tree"])?).query(&query)).await
    }

    /// One level of `path`'s child folders only (`type=folder`), in name order.
    pub async fn subfolders(&self, account: i64, path: &str, cursor: Option<&str>, limit: Option<u32>) -> Result<Tree> {
        let mut query = vec![("path", path.to_owned()), ("type", "folder".to_owned())];
        query.extend(cursor.map(|c| ("cursor", c.to_owned())));
        query.extend(limit.map(|l| ("limit", l.to_string())));
        Self::json(self.request(Method::GET, self.account_url(account, &["tree"])?).query(&query)).await
    }

    pub async fn create_folder(&self, account: i64, path: &str) -> Result<Folder> {
        let body = FolderRequest { path: path.to_owned() };
        Self::json(self.request(Method::POST, self.account_url(account, &["folders"])?).json(&body)).await
    }

    pub async fn delete_folder(&self, account: i64, path: &str, recursive: bool) -> Result<()> {
        let query = [("path", path.to_owned()), ("recursive", recursive.to_string())];
        Self::empty(self.request(Method::DELETE, self.account_url(account, &["folders"])?).query(&query)).await
    }

    pub async fn upload_status(&self, account: i64, id: &str) -> Result<Upload> {
        Self::json(self.request(Method::GET, self.account_url(account, &["uploads", id])?)).await
    }

    pub async fn collections(&self, account: i64, cursor: Option<&str>, limit: Option<u32>) -> Result<CollectionPage> {
        let mut query = vec![];
        query.extend(cursor.map(|c| ("cursor", c.to_owned())));
        query.extend(limit.map(|l| ("limit", l.to_string())));
        Self::json(self.request(Method::GET, self.account_url(account, &["collections"])?).query(&query)).await
    }

    pub async fn create_collection(&self, account: i64, body: &CollectionBody) -> Result<Collection> {
        Self::json(self.request(Method::POST, self.account_url(account, &["collections"])?).json(body)).await
    }

    pub async fn collection(&self, account: i64, id: &str) -> Result<Collection> {
        Self::json(self.request(Method::GET, self.account_url(account, &["collections", id])?)).await
    }

    pub async fn update_collection(&self, account: i64, id: &str, body: &CollectionBody) -> Result<Collection> {
        Self::json(self.request(Method::PATCH, self.account_url(account, &["collections", id])?).json(body)).await
    }

    pub async fn delete_collection(&self, account: i64, id: &str) -> Result<()> {
        Self::empty(self.request(Method::DELETE, self.account_url(account, &["collections", id])?)).await
    }

    pub async fn keys(&self, account: i64, cursor: Option<&str>, limit: Option<u32>) -> Result<KeyPage> {
        let mut query = vec![];
        query.extend(cursor.map(|c| ("cursor", c.to_owned())));
        query.extend(limit.map(|l| ("limit", l.to_string())));
        Self::json(self.request(Method::GET, self.account_url(account, &["keys"])?).query(&query)).await
    }

    /// A new key for the caller, restricted to `account`; its secret is in `key`, this once.
    pub async fn create_key(&self, account: i64, request: &KeyRequest) -> Result<Key> {
        Self::json(self.request(Method::POST, self.account_url(account, &["keys"])?).json(request)).await
    }

    pub async fn delete_key(&self, account: i64, id: &str) -> Result<()> {
        Self::empty(self.request(Method::DELETE, self.account_url(account, &["keys", id])?)).await
    }
}
