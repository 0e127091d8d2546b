//! `kontor users`: local accounts for the console — added (with a password read from
//! stdin, or made up and shown once), listed, removed.

use std::io::BufRead;

use clap::{Args, Subcommand};

use crate::auth::Tenants;
use crate::auth::accounts::{hash_password, person_role, random_token, valid_username};
use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add an account, or change one's role, tenants and password (its sessions end).
    Add(AddArgs),
    /// List accounts (never their passwords).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an account; its sessions end at once.
    Remove { username: String },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Lower-case letters, digits and . _ - @
    username: String,
    /// admin, operator or viewer.
    #[arg(long)]
    role: String,
    /// A tenant the account acts for (repeat for several); `*` for every tenant.
    #[arg(long = "tenant", required = true)]
    tenants: Vec<String>,
    /// Read the password from the first line of stdin; otherwise one is made up and
    /// printed once.
    #[arg(long)]
    password_stdin: bool,
}

pub(super) async fn users(config: ConfigFile, command: UsersCommand) -> anyhow::Result<u8> {
    let store = super::open_store(&config).await?;
    match command {
        UsersCommand::Add(args) => {
            if !valid_username(&args.username) {
                eprintln!("error: a username is 1–64 lower-case letters, digits and . _ - @");
                return Ok(2);
            }
            let Some(role) = person_role(&args.role) else {
                eprintln!(
                    "error: --role `{}` is not a role for people: use admin, operator or viewer",
                    args.role
                );
                return Ok(2);
            };
            let known = store.tenant_configs().await?;
            if let Some(unknown) = args
                .tenants
                .iter()
                .find(|t| *t != "*" && !known.iter().any(|k| &k.tenant == *t))
            {
                eprintln!("error: --tenant `{unknown}` is not configured");
                return Ok(2);
            }
            let (password, made_up) = if args.password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (random_token()[..20].to_owned(), true)
            };
            let hash = match hash_password(&password) {
                Ok(hash) => hash,
                Err(error) => {
                    eprintln!("error: {error}");
                    return Ok(2);
                }
            };
            let tenants = Tenants::from_list(args.tenants).to_list();
            let created = store
                .put_user(&args.username, &hash, role.name(), &tenants)
                .await?;
            eprintln!(
                "{} {} ({} of {})",
                if created { "added" } else { "changed" },
                args.username,
                role.name(),
                tenants.join(", ")
            );
            if made_up {
                eprintln!("Its password, shown this once:");
                println!("{password}");
            }
            Ok(0)
        }
        UsersCommand::List { json } => {
            let users = store.users().await?;
            if json {
                output::json(&users)?;
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.role.clone(),
                            u.tenants.join(","),
                            u.updated_at.to_rfc3339(),
                        ]
                    })
                    .collect();
                output::table(&["USERNAME", "ROLE", "TENANTS", "CHANGED"], &rows);
            }
            Ok(0)
        }
        UsersCommand::Remove { username } => {
            if store.delete_user(&username).await? {
                println!("removed {username}");
                Ok(0)
            } else {
                eprintln!("error: there is no account `{username}`");
                Ok(1)
            }
        }
    }
}
