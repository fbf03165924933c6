//! Configuration: compiled defaults, then a TOML file (`--config`), then `ASSETLIB_*`
//! environment variables, then command-line flags. `assetlib.example.toml` names every key.

use assetlib_core::library::ZipLimits;
use assetlib_core::rules::DEFAULT_EXTENSIONS;
use assetlib_server::HttpLimits;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded default keeps its SQLite file and blobs.
    pub data_dir: PathBuf,
    pub listen: String,
    /// `sqlite://PATH`; default `sqlite://{data_dir}/assetlib.db`.
    pub database_url: Option<String>,
    /// `file:///DIR`; default `file://{data_dir}/blobs`.
    pub blob_store: Option<String>,
    /// Endpoint of an `s3://` blob store, e.g. `http://127.0.0.1:8333`; default `AWS_ENDPOINT_URL`.
    pub s3_endpoint: Option<String>,
    /// Region of an `s3://` blob store; default `AWS_REGION`.
    pub s3_region: Option<String>,
    /// Credentials of an `s3://` blob store; default `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    /// Base of public file URLs; default `http://{listen address}`.
    pub public_base_url: Option<String>,
    pub cache_control: String,
    pub max_upload_size: u64,
    pub allowed_extensions: Vec<String>,
    pub zip_max_entries: usize,
    pub zip_max_total_size: u64,
    pub zip_max_ratio: u64,
    pub zip_ratio_min_size: u64,
    /// Job workers in this process for zip expansions (the `ingest` queue).
    pub workers: usize,
    /// Job workers in this process for renditions (the `render` queue); 0 leaves rendering to
    /// other servers of the same store.
    pub render_workers: usize,
    /// Job workers in this process for blob deletions (the `cleanup` queue).
    pub cleanup_workers: usize,
    /// Attempts a job gets before it is parked as failed (`assetlib jobs failed` lists them).
    pub job_attempts: u32,
    /// Milliseconds before a failed job's first retry; each later retry waits twice as long.
    pub job_backoff_ms: u64,
    /// Whether this server makes renditions (SPEC section 6) of what is uploaded to it.
    pub renditions: bool,
    /// The most pixels an image may declare to be rendered; larger ones get no renditions.
    pub render_max_pixels: u64,
    /// Seconds a video or PDF renderer (ffmpeg, pdftoppm) may run for one file.
    pub render_timeout_secs: u64,
    /// Megabytes of memory a video or PDF renderer may use for one file.
    pub render_memory_mb: u64,
    /// Milliseconds a public file lookup may be answered from memory. Writes through this
    /// server are seen at once; this bounds how long a write made elsewhere (an admin command,
    /// another server on the same store) may go unseen. 0 turns the cache off.
    pub lookup_cache_ms: u64,
    /// Megabytes of small blobs (up to `blob_cache_max_kb` each) kept in memory for public
    /// GETs, so that a hot file is served without a read from the blob store. 0 turns it off.
    pub blob_cache_mb: u64,
    /// Kilobytes of the largest blob the memory cache takes.
    pub blob_cache_max_kb: u64,
    /// Seconds before the content of an interrupted upload is removed.
    pub orphan_grace_secs: u64,
    /// Seconds between sweeps for blobs nothing references; 0 turns the sweep off.
    pub orphan_sweep_secs: u64,
    /// Connections each server keeps to a PostgreSQL database (SQLite ignores it).
    pub database_max_connections: u32,
    /// Seconds a fetch of an upload's URL (Clinch PutAssetJSON `url`) may take, all told.
    pub fetch_timeout_secs: u64,
    /// Hosts (names or addresses) a URL upload may fetch from although they are loopback,
    /// private or link-local. For tests; leave empty in production.
    pub fetch_allow_hosts: Vec<String>,
    /// Seconds a client has to send a request's head, from its first byte (or from the
    /// connection's opening); then the connection closes (408 when part of a head came).
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub keepalive_timeout_secs: u64,
    /// Seconds a request body may send nothing before it is abandoned (408; nothing of it is
    /// kept), and a response may go unread before its connection closes.
    pub body_read_timeout_secs: u64,
    /// Client connections open at once; more wait to be accepted. Kept under the open-file
    /// limit, which the server raises to its hard limit at start.
    pub max_connections: usize,
    /// Seconds a signed link lives unless its maker asks otherwise (at most 7 days).
    pub signed_url_ttl_secs: u64,
    /// Seconds a web UI session lasts after sign-in (1 minute to 30 days).
    pub session_ttl_secs: u64,
    /// The secret that signs links, at least 32 bytes. Servers that share a library must share
    /// it: unset, each server generates its own into `<data_dir>/signing-key`, and a second
    /// server whose key differs from the one the library has registered refuses to start.
    pub signing_secret: Option<Secret>,
    /// Requests a second per API key over every authenticated route (0: unlimited). Public
    /// files and signed links are never limited.
    pub rate_limit_per_sec: u32,
    /// Requests a key may make at once before `rate_limit_per_sec` applies (0: the same).
    pub rate_limit_burst: u32,
    /// `tracing` filter, e.g. `info` or `assetlib=debug`; `RUST_LOG` wins when set.
    pub log: String,
}

/// A secret setting: read like a string, never shown by `Debug` (and so never logged).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl Default for Config {
    fn default() -> Self {
        let zip = ZipLimits::default();
        let http = HttpLimits::default();
        Self {
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            blob_store: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            public_base_url: None,
            cache_control: "public, max-age=3600".into(),
            max_upload_size: 10 << 20,
            allowed_extensions: DEFAULT_EXTENSIONS.iter().map(|s| (*s).to_owned()).collect(),
            zip_max_entries: zip.max_entries,
            zip_max_total_size: zip.max_total_size,
            zip_max_ratio: zip.max_ratio,
            zip_ratio_min_size: zip.ratio_min_size,
            workers: 2,
            job_attempts: 5,
            job_backoff_ms: 1000,
            render_workers: 2,
            cleanup_workers: 1,
            renditions: true,
            render_max_pixels: 100_000_000,
            render_timeout_secs: 60,
            render_memory_mb: 1024,
            lookup_cache_ms: 2000,
            blob_cache_mb: 256,
            blob_cache_max_kb: 1024,
            orphan_grace_secs: 3600,
            orphan_sweep_secs: 86400,
            database_max_connections: 16,
            fetch_timeout_secs: 30,
            fetch_allow_hosts: vec![],
            header_read_timeout_secs: http.header_read_timeout.as_secs(),
            keepalive_timeout_secs: http.keepalive_timeout.as_secs(),
            body_read_timeout_secs: http.body_read_timeout.as_secs(),
            max_connections: http.max_connections,
            signed_url_ttl_secs: assetlib_core::signing::DEFAULT_LINK_SECS,
            session_ttl_secs: assetlib_core::library::sessions::DEFAULT_SESSION_SECS,
            signing_secret: None,
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            log: "info".into(),
        }
    }
}

/// Values given as flags; `None` leaves the layer below in force.
#[derive(Debug, Clone, Default, Serialize, clap::Args)]
pub struct Overrides {
    /// Data directory (SQLite file and blobs of the embedded default) [env: ASSETLIB_DATA_DIR]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [env: ASSETLIB_LISTEN]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Metadata store: sqlite://PATH [env: ASSETLIB_DATABASE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Blob store: file:///DIR [env: ASSETLIB_BLOB_STORE]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_store: Option<String>,
    /// Base URL of public file links [env: ASSETLIB_PUBLIC_BASE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
}

impl Config {
    /// Layers defaults, the TOML file, `ASSETLIB_*` variables and flags.
    pub fn load(file: Option<&std::path::Path>, flags: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            anyhow::ensure!(file.exists(), "config file {} does not exist", file.display());
            figment = figment.merge(Toml::file(file));
        }
        // ASSETLIB_TEST_* belongs to the test suites (which stores to test against), not to the
        // server; any other unknown ASSETLIB_* variable is an error, so that typos show.
        let env = Env::prefixed("ASSETLIB_")
            .ignore(&["config"])
            .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"));
        figment = figment.merge(env).merge(Serialized::defaults(flags));
        Ok(figment.extract()?)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("assetlib.db").display()))
    }

    pub fn blob_store(&self) -> String {
        self.blob_store.clone().unwrap_or_else(|| format!("file://{}", self.data_dir.join("blobs").display()))
    }

    /// The HTTP limits of SPEC 5.7; a timeout of 0 seconds is taken as 1 (0 would close every
    /// connection at once).
    pub fn http_limits(&self) -> HttpLimits {
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        HttpLimits {
            header_read_timeout: secs(self.header_read_timeout_secs),
            keepalive_timeout: secs(self.keepalive_timeout_secs),
            body_read_timeout: secs(self.body_read_timeout_secs),
            max_connections: self.max_connections.max(1),
        }
    }

    pub fn zip_limits(&self) -> ZipLimits {
        ZipLimits {
            max_entries: self.zip_max_entries,
            max_total_size: self.zip_max_total_size,
            max_ratio: self.zip_max_ratio,
            ratio_min_size: self.zip_ratio_min_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference config in the repository names real keys with the compiled defaults.
    #[test]
    fn the_reference_config_matches_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assetlib.example.toml");
        let from_file: Config = Figment::from(Toml::file(&path)).extract().expect("reference config parses");
        let defaults = Config::default();
        assert_eq!(serde_json::to_value(&from_file).unwrap(), serde_json::to_value(&defaults).unwrap());
    }
}
