//! `kontor config check|apply|export`.

use std::path::Path;

use clap::Subcommand;

use crate::app::apply_config;
use crate::config::{ConfigFile, TenantConfig};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the file: syntax, types, names, connections, capabilities, schedules.
    Check,
    /// Write the file's tenants into the store, where running Kontor reads them.
    Apply {
        /// Also remove tenants the file no longer has.
        #[arg(long)]
        prune: bool,
    },
    /// Print the configuration as the store has it, as TOML.
    Export,
}

pub(super) async fn config(
    path: &Path,
    config: ConfigFile,
    command: ConfigCommand,
) -> anyhow::Result<u8> {
    match command {
        ConfigCommand::Check => {
            let connections: usize = config.tenants.values().map(|t| t.connections.len()).sum();
            let flows: usize = config.tenants.values().map(|t| t.flows.len()).sum();
            println!(
                "{}: OK — {} tenants, {connections} connections, {flows} flows",
                path.display(),
                config.tenants.len()
            );
        }
        ConfigCommand::Apply { prune } => {
            let store = super::open_store(&config).await?;
            for applied in apply_config(&store, &config, prune).await? {
                println!(
                    "{}: {} (revision {})",
                    applied.tenant, applied.change, applied.revision
                );
            }
        }
        ConfigCommand::Export => {
            let store = super::open_store(&config).await?;
            let mut exported = config.clone();
            exported.tenants.clear();
            for record in store.tenant_configs().await? {
                let tenant = TenantConfig::from_document(&record.tenant, record.document)?;
                exported.tenants.insert(record.tenant, tenant);
            }
            print!("{}", exported.to_toml()?);
        }
    }
    Ok(0)
}
