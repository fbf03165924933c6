//! The service every API dialect calls: [`Library`], its configuration and construction, who
//! the caller is (authenticate, authorize) and whether the stores answer (readiness). Its
//! operations live in the submodules, grouped by what they act on; each checks the caller's
//! access first, then the rules, then touches the stores.

pub mod admin;
pub mod assets;
pub mod attributes;
pub mod collections;
pub mod counters;
pub mod folders;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod links;
pub mod renditions;
pub mod search;
pub mod sessions;
pub mod uploads;
pub mod zip;

use crate::Code;
use crate::auth::{Access, Principal, hash_api_key};
use crate::enqueue::JobBatcher;
use crate::error::{Error, Result};
use crate::ids::{AccountId, BlobKey};
use crate::model::Account;
use crate::ports::{ArchiveOpener, BlobStore, MetaStore, UrlFetcher};
use crate::rules::Rules;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ZipLimits {
    pub max_entries: usize,
    pub max_total_size: u64,
    pub max_ratio: u64,
    /// Entries that expand to less than this are not held to `max_ratio`: a small file of
    /// zeros compresses past any ratio and harms no one.
    pub ratio_min_size: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        Self { max_entries: 10_000, max_total_size: 1 << 30, max_ratio: 200, ratio_min_size: 1 << 20 }
    }
}

#[derive(Debug, Clone)]
pub struct LibraryConfig {
    pub rules: Rules,
    pub max_upload_size: u64,
    pub zip: ZipLimits,
    /// How long a blob may sit unreferenced after an interrupted upload before it is removed.
    pub orphan_grace: Duration,
    /// How often to sweep the blob store for blobs nothing references; `None`: never.
    pub orphan_sweep: Option<Duration>,
    /// Where zip expansion keeps its working copy of an archive.
    pub tmp_dir: PathBuf,
    pub job_lease: Duration,
    /// Attempts a job gets before it is parked as failed.
    pub job_attempts: u32,
    /// The wait before a failed job's first retry; each later one waits twice as long.
    pub job_backoff: Duration,
    /// This server's stable name among the servers of a shared store (kept in its data dir).
    pub node: String,
    /// The key that signs links; servers of one library share it.
    pub signing: crate::signing::SigningKey,
    /// How long a signed link lives unless its maker asks otherwise.
    pub signed_link_ttl: Duration,
    /// Requests per API key (SPEC 5.6); `None`: unlimited.
    pub rate_limit: Option<limits::RateLimit>,
    /// How long a web UI session lasts after sign-in (SPEC 8).
    pub session_ttl: Duration,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        Self {
            rules: Rules::default(),
            max_upload_size: 10 << 20,
            zip: ZipLimits::default(),
            orphan_grace: Duration::from_secs(3600),
            orphan_sweep: Some(Duration::from_secs(24 * 3600)),
            tmp_dir: std::env::temp_dir(),
            job_lease: Duration::from_secs(60),
            job_attempts: 5,
            job_backoff: Duration::from_secs(1),
            node: crate::ids::random_hex32(),
            signing: crate::signing::SigningKey::generate(),
            signed_link_ttl: Duration::from_secs(crate::signing::DEFAULT_LINK_SECS),
            rate_limit: None,
            session_ttl: Duration::from_secs(sessions::DEFAULT_SESSION_SECS),
        }
    }
}

pub struct Library {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) archives: Arc<dyn ArchiveOpener>,
    pub(crate) config: LibraryConfig,
    pub(crate) wake: Notify,
    pub(crate) fetcher: Option<Arc<dyn UrlFetcher>>,
    /// Makes renditions ([`renditions`]); `None`: no asset gets any.
    pub(crate) renderer: Option<Arc<dyn crate::ports::Renderer>>,
    /// Writes the uploads' cleanup guards, many to a transaction under load.
    guards: JobBatcher,
    /// When this server last recorded each key's use (see [`Library::touch_key`]).
    touched: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Views and downloads not yet written (see [`counters`]).
    tallies: std::sync::Mutex<counters::Tallies>,
    /// Each API key's token bucket, when requests are limited (see [`limits`]).
    limiter: Option<limits::KeyLimiter>,
}

impl Library {
    pub fn new(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        archives: Arc<dyn ArchiveOpener>,
        config: LibraryConfig,
    ) -> Self {
        let guards = JobBatcher::new(meta.clone());
        let limiter = config.rate_limit.map(limits::key_limiter);
        Self {
            meta,
            blobs,
            archives,
            config,
            wake: Notify::new(),
            fetcher: None,
            renderer: None,
            guards,
            touched: Default::default(),
            tallies: Default::default(),
            limiter,
        }
    }

    /// Enables uploads from URLs, fetched by `fetcher`.
    pub fn with_fetcher(mut self, fetcher: Arc<dyn UrlFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.config
    }

    pub fn rules(&self) -> &Rules {
        &self.config.rules
    }

    // ---- identity -------------------------------------------------------------------------

    /// The principal behind an API key secret.
    pub async fn authenticate(&self, secret: &str) -> Result<Principal> {
        let hash = hash_api_key(secret);
        let who =
            self.meta.principal_for_key(&hash).await?.ok_or_else(|| Error::unauthenticated("Invalid API key."))?;
        self.check_rate(&hash)?;
        self.touch_key(&hash);
        Ok(who)
    }

    /// Checks `access` to `account` and returns the account. A platform admin reaching an
    /// account that does not exist gets `NotFound`; anyone else gets `Forbidden`.
    pub async fn authorize(&self, who: &Principal, account: AccountId, access: Access) -> Result<Account> {
        who.check(account, access)?;
        match self.meta.get_account(account).await? {
            Some(a) => Ok(a),
            None if who.admin => Err(Error::not_found(Code::AccountNotFound, format!("Account {account} not found."))),
            None => Err(Error::forbidden(format!("Access to account {account} is not allowed."))),
        }
    }
}

/// Whether the stores answer: what a load balancer's readiness probe asks.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub database: Result<()>,
    pub blob_store: Result<()>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && self.blob_store.is_ok()
    }
}

/// How long a readiness check waits for each store.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Library {
    /// Asks each store a trivial question, each bounded by a timeout: a store that hangs is as
    /// unavailable as one that refuses.
    pub async fn readiness(&self) -> Readiness {
        let timed_out = |what: &str| Error::unavailable(what, "no answer within the readiness timeout");
        let database = tokio::time::timeout(READINESS_TIMEOUT, self.meta.account_count())
            .await
            .unwrap_or_else(|_| Err(timed_out("database")))
            .map(|_| ());
        let probe = BlobKey("readiness/probe".to_owned());
        let blob_store = tokio::time::timeout(READINESS_TIMEOUT, self.blobs.exists(&probe))
            .await
            .unwrap_or_else(|_| Err(timed_out("blob store")))
            .map(|_| ());
        Readiness { database, blob_store }
    }
}
