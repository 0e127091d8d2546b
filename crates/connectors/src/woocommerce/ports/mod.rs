//! The ports of a WooCommerce store, one file per area, and what they share: finding
//! products and variations by SKU, and writing many of them in `/batch` calls.

mod catalogue;
mod customers;
mod fulfilment;
mod orders;
mod prices;
mod returns;
mod stock;

use std::collections::{BTreeMap, HashMap};

use kontor_connector::ConnectorError;
use serde_json::{Value, json};

use super::WooCommerceSystem;
use super::client::batch_item;

/// Most items in one page or one `/batch` call.
pub(crate) const PAGE: usize = 100;
/// Most characters of SKUs in one `?sku=` query, so the URL stays well inside what web
/// servers accept (8 KiB is common).
const SKU_QUERY_CHARS: usize = 3000;

/// Where a sellable item lives: a simple product, or a variation of a variable one.
/// Kontor keeps it as the variant's id: `"<product>"` or `"<product>/<variation>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ItemId {
    Simple(u64),
    Variation { parent: u64, id: u64 },
}

impl ItemId {
    pub fn parse(text: &str) -> Option<ItemId> {
        match text.split_once('/') {
            Some((parent, id)) => Some(ItemId::Variation {
                parent: parent.parse().ok()?,
                id: id.parse().ok()?,
            }),
            None => text.parse().ok().map(ItemId::Simple),
        }
    }

    /// A product or variation as `GET /products?sku=` lists it.
    pub fn of(item: &Value) -> Option<ItemId> {
        let id = item["id"].as_u64()?;
        match item["parent_id"].as_u64() {
            Some(parent) if parent > 0 && item["type"] == "variation" => {
                Some(ItemId::Variation { parent, id })
            }
            _ => Some(ItemId::Simple(id)),
        }
    }

    pub fn text(&self) -> String {
        match self {
            ItemId::Simple(id) => id.to_string(),
            ItemId::Variation { parent, id } => format!("{parent}/{id}"),
        }
    }

    pub fn id(&self) -> u64 {
        match self {
            ItemId::Simple(id) | ItemId::Variation { id, .. } => *id,
        }
    }
}

impl WooCommerceSystem {
    /// Products and variations with these SKUs, by SKU. `GET /products?sku=a,b` searches
    /// variations too; SKUs go in as few queries as the URL length allows, and each
    /// query reads as many pages as it finds.
    pub(crate) async fn by_sku(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, Value>, ConnectorError> {
        let mut found = HashMap::new();
        let mut chunk: Vec<&str> = Vec::new();
        let mut chars = 0;
        let mut chunks = Vec::new();
        for sku in skus.iter().filter(|s| !s.is_empty()) {
            if chars + sku.len() + 1 > SKU_QUERY_CHARS && !chunk.is_empty() {
                chunks.push(std::mem::take(&mut chunk));
                chars = 0;
            }
            chars += sku.len() + 1;
            chunk.push(sku);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        for chunk in chunks {
            let joined = chunk.join(",");
            let mut page = 1;
            loop {
                let listed = self
                    .client()
                    .page(
                        "/products",
                        &[
                            ("sku", joined.clone()),
                            ("per_page", PAGE.to_string()),
                            ("page", page.to_string()),
                        ],
                    )
                    .await?;
                for item in listed.items {
                    if let Some(sku) = item["sku"].as_str().filter(|s| !s.is_empty()) {
                        found.insert(sku.to_owned(), item);
                    }
                }
                if page >= listed.total_pages {
                    break;
                }
                page += 1;
            }
        }
        Ok(found)
    }

    /// Updates many items: simple products through `/products/batch`, variations through
    /// their product's `/variations/batch`, up to 100 per call. Each body gets its id.
    /// The results come back in the order of `updates`.
    pub(crate) async fn update_items(
        &self,
        updates: &[(ItemId, Value)],
    ) -> Result<Vec<Result<(), ConnectorError>>, ConnectorError> {
        let mut groups: BTreeMap<Option<u64>, Vec<usize>> = BTreeMap::new();
        for (index, (item, _)) in updates.iter().enumerate() {
            let parent = match item {
                ItemId::Simple(_) => None,
                ItemId::Variation { parent, .. } => Some(*parent),
            };
            groups.entry(parent).or_default().push(index);
        }
        let mut results: Vec<Option<Result<(), ConnectorError>>> =
            (0..updates.len()).map(|_| None).collect();
        for (parent, indexes) in groups {
            let path = match parent {
                None => "/products/batch".to_owned(),
                Some(parent) => format!("/products/{parent}/variations/batch"),
            };
            for chunk in indexes.chunks(PAGE) {
                let bodies: Vec<Value> = chunk
                    .iter()
                    .map(|&i| {
                        let (item, body) = &updates[i];
                        let mut body = body.clone();
                        body["id"] = json!(item.id());
                        body
                    })
                    .collect();
                let answer = match self
                    .client()
                    .post(&path, &json!({ "update": bodies }))
                    .await
                {
                    Ok(answer) => answer,
                    // A product gone from the store: its variations' writes fail alone.
                    Err(error @ ConnectorError::NotFound { .. }) if parent.is_some() => {
                        for &i in chunk {
                            results[i] = Some(Err(ConnectorError::NotFound {
                                what: format!("{path}: {error}"),
                            }));
                        }
                        continue;
                    }
                    Err(error) => return Err(error),
                };
                let answered = answer["update"].as_array().cloned().unwrap_or_default();
                for (n, &i) in chunk.iter().enumerate() {
                    results[i] = Some(match answered.get(n) {
                        Some(item) => batch_item(item).map(drop),
                        None => Err(ConnectorError::protocol(format!(
                            "{path} answered {} of {} updates",
                            answered.len(),
                            chunk.len()
                        ))),
                    });
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ConnectorError::protocol("an update was not sent"))))
            .collect())
    }

    /// Where each update's item lives: the id Kontor has, else found by SKU.
    pub(crate) async fn locate(
        &self,
        wanted: &[(&str, Option<&str>)],
    ) -> Result<Vec<Result<ItemId, ConnectorError>>, ConnectorError> {
        let unknown: Vec<String> = wanted
            .iter()
            .filter(|(_, id)| id.and_then(ItemId::parse).is_none())
            .map(|(sku, _)| (*sku).to_owned())
            .collect();
        let found = if unknown.is_empty() {
            HashMap::new()
        } else {
            self.by_sku(&unknown).await?
        };
        Ok(wanted
            .iter()
            .map(|(sku, id)| {
                id.and_then(ItemId::parse)
                    .or_else(|| found.get(*sku).and_then(ItemId::of))
                    .ok_or_else(|| ConnectorError::NotFound {
                        what: format!("product or variation with SKU {sku} in WooCommerce"),
                    })
            })
            .collect())
    }
}
