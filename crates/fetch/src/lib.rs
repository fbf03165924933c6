//! Fetching a URL for an upload, safely: [`SafeFetcher`] implements the core's [`UrlFetcher`].
//!
//! Only http and https; no user info; redirects are followed here, not by the client (at most
//! [`FetchOptions::max_redirects`]), and every hop is checked again. Loopback, private,
//! link-local, metadata and other non-public addresses are refused before any connection:
//! IP literals when the URL is checked, host names by the client's DNS resolver, which refuses a
//! name if any address it resolves to is refused, so the address checked is the address used.
//! One deadline covers resolving, connecting, every redirect and the whole body; the body is
//! streamed and cut off past the size limit. Every failure is an `Invalid` error naming why.

#![forbid(unsafe_code)]

mod errors;
mod guard;
mod name;

use assetlib_core::ports::{ByteStream, Fetched, UrlFetcher};
use assetlib_core::{Error, Result};
use async_trait::async_trait;
use guard::{GuardedResolver, Policy};
use reqwest::{StatusCode, header};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};
use url::Url;

pub use guard::refusal as address_refusal;

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// For the whole fetch: resolving, connecting, redirects and the body.
    pub timeout: Duration,
    /// Redirects followed before the fetch fails.
    pub max_redirects: usize,
    /// Host names or IP addresses fetched even though the rules refuse them (for tests). A name
    /// is allowed with whatever it resolves to; an address wherever it appears.
    pub allow_hosts: Vec<String>,
}

impl FetchOptions {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_REDIRECTS: usize = 5;
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { timeout: Self::DEFAULT_TIMEOUT, max_redirects: Self::DEFAULT_MAX_REDIRECTS, allow_hosts: Vec::new() }
    }
}

/// Redirect statuses that carry a `Location` to follow. The fetch is always a GET, so 303 and
/// the others are followed alike.
const REDIRECTS: [StatusCode; 5] = [
    StatusCode::MOVED_PERMANENTLY,
    StatusCode::FOUND,
    StatusCode::SEE_OTHER,
    StatusCode::TEMPORARY_REDIRECT,
    StatusCode::PERMANENT_REDIRECT,
];

pub struct SafeFetcher {
    client: reqwest::Client,
    policy: Arc<Policy>,
    options: FetchOptions,
}

impl SafeFetcher {
    /// Fails only if the HTTP client cannot be built (its TLS setup).
    pub fn new(options: FetchOptions) -> Result<Self> {
        let policy = Arc::new(Policy::new(&options.allow_hosts));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect in our place, past the guard.
            .no_proxy()
            .dns_resolver(GuardedResolver { policy: policy.clone() })
            .user_agent(concat!("assetlib/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::internal)?;
        Ok(Self { client, policy, options })
    }

    /// Requests `url` and follows its redirects, checking each hop; the final response is a
    /// success.
    async fn follow(&self, mut url: Url, deadline: Instant) -> Result<(reqwest::Response, Url)> {
        let mut redirects = 0;
        loop {
            self.policy.check_url(&url)?;
            let sent = timeout_at(deadline, self.client.get(url.clone()).send()).await;
            let response = sent.map_err(|_| errors::timeout(self.options.timeout))?.map_err(request_error)?;
            let status = response.status();
            if status.is_success() {
                return Ok((response, url));
            }
            let location = response.headers().get(header::LOCATION);
            match location {
                Some(location) if REDIRECTS.contains(&status) => {
                    if redirects == self.options.max_redirects {
                        return Err(errors::too_many_redirects(self.options.max_redirects));
                    }
                    redirects += 1;
                    let location = location.to_str().map_err(|_| errors::bad_redirect())?;
                    url = url.join(location).map_err(|_| errors::bad_redirect())?;
                    tracing::debug!(%url, redirects, "following redirect");
                }
                _ => return Err(errors::status(status)),
            }
        }
    }
}

#[async_trait]
impl UrlFetcher for SafeFetcher {
    async fn fetch(&self, url: &str, max_bytes: u64) -> Result<Fetched> {
        let deadline = Instant::now() + self.options.timeout;
        let url = Url::parse(url.trim()).map_err(errors::invalid_url)?;
        let (response, url) = self.follow(url, deadline).await?;
        let length = response.content_length();
        if length.is_some_and(|length| length > max_bytes) {
            return Err(errors::too_large(max_bytes));
        }
        let headers = response.headers();
        let disposition = headers.get(header::CONTENT_DISPOSITION).map(|v| v.as_bytes());
        let file_name = name::file_name(disposition, &url);
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = body_stream(response, max_bytes, deadline, self.options.timeout);
        Ok(Fetched { body, file_name, content_type, length })
    }
}

/// The body in chunks, failing once more than `max` bytes came or the deadline passed.
fn body_stream(response: reqwest::Response, max: u64, deadline: Instant, limit: Duration) -> ByteStream {
    Box::pin(futures::stream::try_unfold((response, 0u64), move |(mut response, received)| async move {
        let chunk = timeout_at(deadline, response.chunk()).await.map_err(|_| errors::timeout(limit))?;
        match chunk.map_err(request_error)? {
            None => Ok(None),
            Some(bytes) => {
                let received = received + bytes.len() as u64;
                if received > max {
                    return Err(errors::too_large(max));
                }
                Ok(Some((bytes, (response, received))))
            }
        }
    }))
}

/// The guard's own refusal if the resolver gave one; else the cause in a few words: an OS
/// error by its kind ("connection refused"), else the innermost cause (hyper's "connection
/// closed before message completed", rustls's certificate complaints). The full chain goes to
/// the debug log.
fn request_error(error: reqwest::Error) -> Error {
    let mut reason = None;
    let mut innermost = None;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Error>() {
            return refused.clone();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.raw_os_error().is_some()
        {
            reason.get_or_insert_with(|| io.kind().to_string());
        }
        innermost = Some(cause);
        source = cause.source();
    }
    tracing::debug!(error = ?error, "URL fetch failed");
    let reason = reason.or_else(|| innermost.map(ToString::to_string)).unwrap_or_else(|| {
        if error.is_connect() { "the connection failed".to_owned() } else { "the request failed".to_owned() }
    });
    errors::unreachable(reason)
}
