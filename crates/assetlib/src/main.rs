//! `assetlib`: the server and the operator's commands (SPEC section 7).

use anyhow::Context;
use assetlib::config::{Config, Overrides};
use assetlib_core::AccountId;
use assetlib_core::migrate::{Flow, Options};
use assetlib_core::model::Role;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "assetlib", version, about = "A self-hosted, multi-tenant asset library server")]
struct Cli {
    /// TOML configuration file [env: ASSETLIB_CONFIG]
    #[arg(long, global = true, env = "ASSETLIB_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Background jobs that failed for good.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Copy this library (the stores --data-dir, --database-url and --blob-store name) into
    /// other stores, e.g. from the embedded default to PostgreSQL + S3. Progress goes to stderr,
    /// a summary as JSON to stdout. Run again to resume an interrupted copy.
    Migrate {
        /// The target metadata store (postgres://... or sqlite://...).
        #[arg(long)]
        to_database_url: String,
        /// The target blob store (s3://BUCKET[/PREFIX] or file:///DIR); S3 settings as for serve.
        #[arg(long)]
        to_blob_store: String,
        /// Blobs copied at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Rows per page and per target transaction.
        #[arg(long, default_value_t = 200)]
        page_size: usize,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account; prints it as JSON.
    Create {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        name: String,
        /// Do not serve the account's files at public URLs (signed links still work).
        #[arg(long)]
        private: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List the jobs parked as failed after their last attempt, oldest first, one JSON object
    /// per line: {id, queue, kind, attempts, error, createdAt}.
    Failed {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Queue a failed job again (its attempts start over); a running server picks it up.
    Retry { id: i64 },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a role in an account; prints {"userId", "apiKey"} as JSON.
    Create {
        #[arg(long)]
        account: i64,
        #[arg(long, value_parser = ["viewer", "editor", "owner"])]
        role: String,
        /// Platform admin: reaches every account.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        name: String,
    },
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref(), &cli.overrides)?;
    match cli.command {
        Command::Serve => {
            init_tracing(&config.log);
            serve(config).await
        }
        Command::Account { command: AccountCommand::Create { id, name, private } } => {
            init_tracing("warn");
            let lib = assetlib::open_library(&config).await?;
            let account = lib.create_account(AccountId(id), &name, !private).await?;
            println!("{}", serde_json::to_string(&account)?);
            Ok(())
        }
        Command::User { command: UserCommand::Create { account, role, admin, name } } => {
            init_tracing("warn");
            let lib = assetlib::open_library(&config).await?;
            let role = Role::parse(&role).context("role must be viewer, editor or owner")?;
            let creds = lib.create_user(&name, admin, AccountId(account), role).await?;
            println!("{}", serde_json::to_string(&creds)?);
            Ok(())
        }
        Command::Jobs { command: JobsCommand::Failed { limit } } => {
            init_tracing("warn");
            let lib = assetlib::open_library(&config).await?;
            for job in lib.failed_jobs(None, limit).await? {
                let line = serde_json::json!({
                    "id": job.id,
                    "queue": job.queue,
                    "kind": job.kind,
                    "attempts": job.attempts,
                    "error": job.error,
                    "createdAt": job.created_at,
                });
                println!("{line}");
            }
            Ok(())
        }
        Command::Jobs { command: JobsCommand::Retry { id } } => {
            init_tracing("warn");
            let lib = assetlib::open_library(&config).await?;
            if !lib.retry_failed_job(assetlib_core::JobId(id)).await? {
                anyhow::bail!("no failed job {id}");
            }
            println!("{}", serde_json::json!({ "queued": id }));
            Ok(())
        }
        Command::Migrate { to_database_url, to_blob_store, concurrency, page_size } => {
            init_tracing("warn");
            let target =
                Config { database_url: Some(to_database_url), blob_store: Some(to_blob_store), ..config.clone() };
            if target.database_url() == config.database_url() || target.blob_store() == config.blob_store() {
                anyhow::bail!("the target stores must differ from the source's");
            }
            migrate(&config, &target, &Options { page_size, concurrency }).await
        }
    }
}

/// Copies the library, printing a progress line to stderr at most every second and at the
/// end of each table.
async fn migrate(source: &Config, target: &Config, options: &Options) -> anyhow::Result<()> {
    let from = assetlib::open_stores(source).await.context("opening the source")?;
    let to = assetlib::open_stores(target).await.context("opening the target")?;
    let mut last = std::time::Instant::now();
    let summary = assetlib_core::migrate::migrate(&from, &to, options, |p| {
        let table_done = p.done == p.total;
        if table_done || last.elapsed() >= std::time::Duration::from_secs(1) {
            last = std::time::Instant::now();
            let table = p.table.map_or("", |t| t.as_str());
            eprintln!(
                "migrate: {table} {}/{}; blobs copied {} ({:.1} MiB), already there {}",
                p.done,
                p.total,
                p.blobs_copied,
                p.bytes_copied as f64 / 1048576.0,
                p.blobs_skipped
            );
        }
        Flow::Continue
    })
    .await?
    .context("the migration stopped before the end")?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = assetlib::start(&config).await?;
    if running.initial_credentials.is_some() {
        println!(
            "first start: the owner of account 1 and an API key are in {}",
            config.data_dir.join("initial-credentials.json").display()
        );
    }
    // Tests and scripts wait for this line; it is printed once the port accepts connections.
    println!("assetlib listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return ctrl_c.await.unwrap_or_default(),
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
