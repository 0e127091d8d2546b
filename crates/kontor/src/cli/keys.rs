//! `kontor keys`: API keys for machines — made (and shown once), listed, revoked.

use clap::{Args, Subcommand};
use kontor_engine::NewApiKey;

use crate::auth::{Role, mint_key};
use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a key; it is printed once and only its hash is kept.
    Create(CreateArgs),
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: it stops working at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        /// The key's id (the part after `kontor_`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The tenant the key acts for.
    #[arg(long)]
    tenant: String,
    /// shop (catalogue and order submission), viewer, operator or admin.
    #[arg(long)]
    role: String,
    /// What the key is for.
    #[arg(long)]
    name: String,
}

pub(super) async fn keys(config: ConfigFile, command: KeysCommand) -> anyhow::Result<u8> {
    let store = super::open_store(&config).await?;
    match command {
        KeysCommand::Create(args) => {
            let Some(role) = Role::from_name(&args.role) else {
                eprintln!(
                    "error: --role `{}` is not a role: use shop, viewer, operator or admin",
                    args.role
                );
                return Ok(2);
            };
            let known = store.tenant_configs().await?;
            if !known.iter().any(|t| t.tenant == args.tenant) {
                eprintln!("error: --tenant `{}` is not configured", args.tenant);
                return Ok(2);
            }
            let minted = mint_key();
            store
                .create_api_key(&NewApiKey {
                    id: &minted.id,
                    secret_hash: &minted.secret_hash,
                    tenant: &args.tenant,
                    role: role.name(),
                    name: &args.name,
                })
                .await?;
            eprintln!(
                "API key {} ({} of {}). Shown this once — keep it now:",
                minted.id,
                role.name(),
                args.tenant
            );
            println!("{}", minted.key);
            Ok(0)
        }
        KeysCommand::List { tenant, json } => {
            let keys = store.api_keys(tenant.as_deref()).await?;
            if json {
                output::json(&keys)?;
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.id.clone(),
                            k.tenant.clone(),
                            k.role.clone(),
                            k.name.clone(),
                            k.created_at.to_rfc3339(),
                            k.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                output::table(
                    &["ID", "TENANT", "ROLE", "NAME", "CREATED", "REVOKED"],
                    &rows,
                );
            }
            Ok(0)
        }
        KeysCommand::Revoke { tenant, id } => {
            if store.revoke_api_key(&id, &tenant).await? {
                println!("revoked {id}");
                Ok(0)
            } else {
                eprintln!("error: tenant `{tenant}` has no live key `{id}`");
                Ok(1)
            }
        }
    }
}
