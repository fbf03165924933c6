//! The `assetlib` program as a library: open the stores a configuration names, and run the
//! server (the binary and the tests start it the same way).
#![forbid(unsafe_code)]

pub mod config;

use anyhow::Context;
use assetlib_core::library::admin::NewCredentials;
use assetlib_core::{Library, LibraryConfig, rules::Rules};
use assetlib_server::HttpConfig;
use config::Config;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Opens (creating and migrating if need be) the stores `config` names.
pub async fn open_library(config: &Config) -> anyhow::Result<Arc<Library>> {
    open_library_with(config, None).await
}

/// [`open_library`] with `renderer` making renditions instead of the configured one (tests give
/// one that fails or waits on purpose).
pub async fn open_library_with(
    config: &Config,
    renderer: Option<Arc<dyn assetlib_core::ports::Renderer>>,
) -> anyhow::Result<Arc<Library>> {
    let mut meta = assetlib_db::connect_with(&config.database_url(), config.database_max_connections)
        .await
        .context("opening the metadata store")?;
    if config.lookup_cache_ms > 0 {
        let ttl = Duration::from_millis(config.lookup_cache_ms);
        let cache = assetlib_core::cache::CachedMetaStore::new(meta, 100_000, ttl);
        let single = assetlib_db::is_single_server(&config.database_url());
        meta = Arc::new(if single { cache.sole_writer() } else { cache });
    }
    let mut blobs = open_blobs(config).context("opening the blob store")?;
    if config.blob_cache_mb > 0 && config.blob_cache_max_kb > 0 {
        blobs = Arc::new(assetlib_core::blob_cache::CachedBlobStore::new(
            blobs,
            config.blob_cache_mb << 20,
            config.blob_cache_max_kb << 10,
        ));
    }
    let lib_config = LibraryConfig {
        rules: Rules::new(config.allowed_extensions.clone()),
        max_upload_size: config.max_upload_size,
        zip: config.zip_limits(),
        orphan_grace: Duration::from_secs(config.orphan_grace_secs),
        orphan_sweep: (config.orphan_sweep_secs > 0).then(|| Duration::from_secs(config.orphan_sweep_secs)),
        tmp_dir: config.data_dir.join("tmp"),
        job_lease: Duration::from_secs(60),
        job_attempts: config.job_attempts,
        job_backoff: Duration::from_millis(config.job_backoff_ms),
        node: node_id(&config.data_dir)?,
        signing: signing_key(config)?,
        signed_link_ttl: Duration::from_secs(config.signed_url_ttl_secs),
        session_ttl: Duration::from_secs(config.session_ttl_secs),
        rate_limit: assetlib_core::library::limits::RateLimit::from_config(
            config.rate_limit_per_sec,
            config.rate_limit_burst,
        ),
    };
    let fetcher = assetlib_fetch::SafeFetcher::new(assetlib_fetch::FetchOptions {
        timeout: Duration::from_secs(config.fetch_timeout_secs),
        max_redirects: assetlib_fetch::FetchOptions::DEFAULT_MAX_REDIRECTS,
        allow_hosts: config.fetch_allow_hosts.clone(),
    })?;
    let mut lib =
        Library::new(meta, blobs, Arc::new(assetlib_media::ZipOpener), lib_config).with_fetcher(Arc::new(fetcher));
    if let Some(renderer) = renderer {
        lib = lib.with_renderer(renderer);
    } else if config.renditions {
        let render = assetlib_media::RenderConfig {
            max_pixels: config.render_max_pixels,
            timeout: Duration::from_secs(config.render_timeout_secs),
            memory_limit: config.render_memory_mb.saturating_mul(1 << 20),
            ..assetlib_media::RenderConfig::detect()
        };
        lib = lib.with_renderer(Arc::new(assetlib_media::MediaRenderer::new(render)));
    }
    Ok(Arc::new(lib))
}

/// The stores `config` names, as they are (no cache), for `assetlib migrate`.
pub async fn open_stores(config: &Config) -> anyhow::Result<assetlib_core::migrate::Stores> {
    let meta = assetlib_db::connect_with(&config.database_url(), config.database_max_connections)
        .await
        .context("opening the metadata store")?;
    let blobs = open_blobs(config).context("opening the blob store")?;
    Ok(assetlib_core::migrate::Stores { meta, blobs })
}

/// The blob store `config` names; for `s3://`, the `s3_*` settings override the `AWS_*`
/// variables one by one.
fn open_blobs(config: &Config) -> assetlib_core::Result<Arc<dyn assetlib_core::ports::BlobStore>> {
    let url = config.blob_store();
    if !url.starts_with("s3://") {
        return assetlib_blobs::connect(&url);
    }
    let mut s3 = assetlib_blobs::S3Config::from_url_and_env(&url)?;
    let secret = config.s3_secret_access_key.as_ref().map(|s| s.0.clone());
    let settings = [
        (&mut s3.endpoint, &config.s3_endpoint),
        (&mut s3.region, &config.s3_region),
        (&mut s3.access_key_id, &config.s3_access_key_id),
        (&mut s3.secret_access_key, &secret),
    ];
    for (setting, configured) in settings {
        if configured.is_some() {
            setting.clone_from(configured);
        }
    }
    Ok(Arc::new(assetlib_blobs::S3BlobStore::new(&s3)?))
}

/// This server's stable node name, made at first start and kept in `<data-dir>/node-id`: a
/// restarted server recognises the jobs its previous run left, and takes them back at once.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
            let id = assetlib_core::ids::random_hex32();
            std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
    }
}

/// The key that signs links: the configured secret, or the one this server generated into
/// `<data-dir>/signing-key` at its first start (hex, readable by its owner only).
fn signing_key(config: &Config) -> anyhow::Result<assetlib_core::signing::SigningKey> {
    use assetlib_core::signing::{MAX_LINK_SECS, SigningKey};
    anyhow::ensure!(
        (1..=MAX_LINK_SECS).contains(&config.signed_url_ttl_secs),
        "signed_url_ttl_secs must be 1 to {MAX_LINK_SECS} (7 days)"
    );
    anyhow::ensure!(
        (60..=30 * 24 * 3600).contains(&config.session_ttl_secs),
        "session_ttl_secs must be 60 to 2592000 (30 days)"
    );
    if let Some(secret) = &config.signing_secret {
        return SigningKey::new(secret.0.as_bytes()).context("signing_secret");
    }
    let path = config.data_dir.join("signing-key");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(secret) = hex::decode(text.trim())
    {
        return SigningKey::new(&secret).with_context(|| format!("the key in {}", path.display()));
    }
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let secret: [u8; 32] = rand::random();
    let mut file = {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).with_context(|| format!("creating {}", path.display()))?
    };
    std::io::Write::write_all(&mut file, hex::encode(secret).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(SigningKey::new(&secret)?)
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub lib: Arc<Library>,
    /// The first account's owner, when this start created them.
    pub initial_credentials: Option<NewCredentials>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and stops the workers.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await??;
        for w in self.workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        Ok(())
    }
}

/// Binds, opens the stores, creates the first account on an empty store, starts the job
/// workers and serves until [`Running::stop`].
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let listener =
        tokio::net::TcpListener::bind(&config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let lib = open_library(config).await?;
    lib.register_signing_key().await?;
    let initial_credentials = match lib.bootstrap().await? {
        Some((account, creds)) => {
            write_initial_credentials(config, account.id.0, &creds)?;
            Some(creds)
        }
        None => None,
    };
    // A store that one server owns (SQLite) has no other writer: whatever partial writes its
    // staging area holds were cut off by the last stop, and go now. Shared stores keep them
    // for the grace period, since another server may be writing them.
    if assetlib_db::is_single_server(&config.database_url()) {
        match lib.sweep_partial_writes(Duration::ZERO).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed partial writes the last stop left"),
            Err(e) => tracing::warn!(error = %e, "could not sweep partial writes"),
        }
    }
    let released = lib.release_abandoned_jobs().await?;
    if released > 0 {
        tracing::info!(released, "resuming jobs interrupted by the last stop");
    }
    let (shutdown, rx) = watch::channel(false);
    let job_workers = assetlib_core::library::jobs::JobWorkers {
        ingest: config.workers,
        render: config.render_workers,
        cleanup: config.cleanup_workers,
    };
    let workers = lib.spawn_workers(job_workers, rx.clone());
    let http = HttpConfig {
        public_base_url: config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned(),
        cache_control: config.cache_control.clone(),
    };
    let app = assetlib_server::router(lib.clone(), http);
    let mut limits = config.http_limits();
    limits.max_connections = assetlib_server::http::connection_cap(limits.max_connections);
    let mut rx_server = rx;
    let server = tokio::spawn(assetlib_server::serve(listener, app, limits, async move {
        let _ = rx_server.wait_for(|stop| *stop).await;
    }));
    Ok(Running { addr, lib, initial_credentials, shutdown, server, workers })
}

/// `<data-dir>/initial-credentials.json`, readable by its owner only.
fn write_initial_credentials(config: &Config, account: i64, creds: &NewCredentials) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = config.data_dir.join("initial-credentials.json");
    let body = serde_json::json!({ "accountId": account, "userId": creds.user_id, "apiKey": creds.api_key });
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(serde_json::to_string_pretty(&body)?.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "first start: wrote the owner's credentials for account {account}");
    Ok(())
}
