//! The command line.

mod bind;
mod config_cmd;
mod jobs;
mod keys;
mod links;
mod report;
mod run;
mod secrets;
mod status;
mod sync;
mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use kontor_engine::Shutdown;

use crate::config::{ConfigFile, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "kontor",
    version,
    about = "Kontor keeps online shops and ERP systems in step."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "KONTOR_CONFIG",
        default_value = "kontor.toml"
    )]
    pub config: PathBuf,
    /// Log format, overriding the file's `[log] format`.
    #[arg(long, global = true, env = "KONTOR_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workers, the scheduler and the HTTP server until stopped.
    Run,
    /// Run one flow now and wait for it to finish.
    Sync(sync::SyncArgs),
    /// Look at jobs, and retry, skip or edit parked ones.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Look up links between records in connected systems.
    #[command(subcommand)]
    Links(links::LinksCommand),
    /// Tenants, flows, cursors and the queue at a glance.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check, apply or export the configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Reports from synced data.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// API keys for machines: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Console accounts: add (password from stdin, or made up and shown once), list, remove.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// The key that seals connections' inline secrets: make one, rotate to it.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Go-live: match records that already exist on both sides, and link them.
    Bind(bind::BindArgs),
    /// Run Kontor on an embedded store with a demo shop and ERP.
    Demo(crate::demo::DemoArgs),
}

/// Runs a command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Command::Demo(args) = &cli.command {
        crate::telemetry::init_logs(cli.log_format.unwrap_or_default(), "warn");
        return crate::demo::run(args).await;
    }
    if let Command::Secrets(secrets::SecretsCommand::NewKey) = &cli.command {
        // Needs no configuration: it is often the first step of writing one.
        println!("{}", crate::secrets::new_key()?);
        return Ok(0);
    }
    let config = ConfigFile::load(&cli.config)?;
    let format = cli.log_format.unwrap_or(config.log.format);
    crate::telemetry::init_logs(format, &config.log.level);
    match cli.command {
        Command::Run => run::run(config).await,
        Command::Sync(args) => sync::sync(config, args).await,
        Command::Jobs(command) => jobs::jobs(config, command).await,
        Command::Links(command) => links::links(config, command).await,
        Command::Status { json } => status::status(config, json).await,
        Command::Config(command) => config_cmd::config(&cli.config, config, command).await,
        Command::Report(command) => report::report(config, command).await,
        Command::Bind(args) => bind::bind(config, args).await,
        Command::Keys(command) => keys::keys(config, command).await,
        Command::Users(command) => users::users(config, command).await,
        Command::Secrets(command) => secrets::secrets(config, command).await,
        Command::Demo(_) => Ok(0),
    }
}

/// Cancelled on Ctrl-C or SIGTERM.
pub fn shutdown_on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!(message = "Stopping: finishing running jobs.");
        token.cancel();
    });
    shutdown
}

/// Opens only the store (for commands that need no connections).
pub(crate) async fn open_store(config: &ConfigFile) -> anyhow::Result<kontor_engine::Store> {
    Ok(kontor_engine::Store::open_with(
        config.store_options(),
        std::sync::Arc::new(kontor_engine::SystemClock),
    )
    .await?)
}
