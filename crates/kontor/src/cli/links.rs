//! `kontor links find`: which records in which systems are one Kontor entity.

use clap::{Args, Subcommand};
use kontor_engine::{Link, MatchKey};
use kontor_model::{Email, VatId};

use crate::config::ConfigFile;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// Find an entity by any of its ids or keys, and show its links in every system.
    Find(FindArgs),
}

#[derive(Debug, Args)]
pub struct FindArgs {
    #[arg(long)]
    tenant: String,
    /// Entity kind: order, customer, product, variant, stock…
    #[arg(long)]
    kind: String,
    /// With --external: the connection the id belongs to.
    #[arg(long, requires = "external")]
    system: Option<String>,
    /// A record's id in --system.
    #[arg(long, requires = "system")]
    external: Option<String>,
    /// Kontor's own id.
    #[arg(long)]
    entity: Option<String>,
    #[arg(long)]
    sku: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    vat_id: Option<String>,
    /// A document number, e.g. the shop's order number.
    #[arg(long)]
    number: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(super) async fn links(config: ConfigFile, command: LinksCommand) -> anyhow::Result<u8> {
    let LinksCommand::Find(args) = command;
    let store = super::open_store(&config).await?;
    let (t, kind) = (&args.tenant, &args.kind);
    let mut entities: Vec<String> = Vec::new();
    if let (Some(system), Some(external)) = (&args.system, &args.external) {
        entities.extend(
            store
                .link_by_external(t, kind, system, external)
                .await?
                .map(|l| l.entity_id),
        );
    }
    entities.extend(args.entity.clone());
    let mut keys = Vec::new();
    if let Some(sku) = &args.sku {
        // Catalogue entities are keyed by SKU itself.
        entities.push(sku.clone());
        keys.push(MatchKey::sku(sku));
    }
    if let Some(email) = &args.email {
        keys.push(MatchKey::email(
            Email::new(email).map_err(anyhow::Error::msg)?.as_str(),
        ));
    }
    if let Some(vat) = &args.vat_id {
        keys.push(MatchKey::vat_id(
            VatId::new(vat).map_err(anyhow::Error::msg)?.as_str(),
        ));
    }
    if let Some(number) = &args.number {
        keys.push(MatchKey::number(number));
    }
    for key in &keys {
        entities.extend(store.find_entities(t, kind, key).await?);
    }
    entities.sort();
    entities.dedup();
    let mut links: Vec<Link> = Vec::new();
    for entity in &entities {
        links.extend(store.links_of_entity(t, kind, entity).await?);
    }
    if args.json {
        output::json(&links)?;
    } else if links.is_empty() {
        println!("no links found");
        return Ok(1);
    } else {
        let rows: Vec<Vec<String>> = links
            .iter()
            .map(|l| {
                vec![
                    l.entity_id.clone(),
                    l.system.clone(),
                    l.external_id.clone(),
                    l.sent_hash
                        .as_deref()
                        .map(|h| h.get(..12).unwrap_or(h).to_owned())
                        .unwrap_or_default(),
                    l.updated_at.map(output::time).unwrap_or_default(),
                ]
            })
            .collect();
        output::table(
            &["ENTITY", "SYSTEM", "EXTERNAL ID", "SENT HASH", "UPDATED"],
            &rows,
        );
    }
    Ok(0)
}
