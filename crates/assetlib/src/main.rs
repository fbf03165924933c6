//! `assetlib`: the server and the operator's commands (SPEC section 7).

use anyhow::Context;
use assetlib::config::{Config, Overrides};
use assetlib_core::AccountId;
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
    }
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
