//! `kontor secrets`: the key that seals connections' inline secrets in the store.

use clap::Subcommand;

use crate::config::{ConfigFile, TenantConfig};
use crate::secrets::{Keyring, new_key, seal_tenant};

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key for `[store.secrets] key` (keep it in a file or the
    /// environment, never in the store or this file).
    NewKey,
    /// Reseal every stored secret under the current key, so older keys can be retired.
    Rotate,
}

pub(super) async fn secrets(config: ConfigFile, command: SecretsCommand) -> anyhow::Result<u8> {
    match command {
        SecretsCommand::NewKey => {
            println!("{}", new_key()?);
            Ok(0)
        }
        SecretsCommand::Rotate => {
            if config.store.secrets.key.is_none() {
                eprintln!(
                    "error: store.secrets.key: set the new key first (and the old one in store.secrets.previous)"
                );
                return Ok(2);
            }
            let keyring = Keyring::from_settings(&config.store.secrets)?;
            let store = super::open_store(&config).await?;
            let mut failed = false;
            for record in store.tenant_configs().await? {
                let mut tenant = TenantConfig::from_document(&record.tenant, record.document)?;
                match seal_tenant(&record.tenant, &mut tenant, &keyring, None) {
                    Ok(0) => println!("{}: nothing to reseal", record.tenant),
                    Ok(resealed) => {
                        let revision = store
                            .put_tenant_config(
                                &record.tenant,
                                &tenant.to_document(),
                                Some(record.revision),
                            )
                            .await?;
                        println!(
                            "{}: {resealed} secrets resealed (revision {revision})",
                            record.tenant
                        );
                    }
                    Err(problems) => {
                        failed = true;
                        for problem in problems {
                            eprintln!("error: {problem}");
                        }
                    }
                }
            }
            Ok(if failed { 1 } else { 0 })
        }
    }
}
