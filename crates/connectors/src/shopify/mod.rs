//! `shopify`: a Shopify shop through the Admin GraphQL API — products with options and
//! variants written with `productSet` (one call per product, or one bulk operation for
//! a large batch), stock per location with `inventorySetQuantities`, prices with
//! `productVariantsBulkUpdate`, customers with `customerSet`, orders read by
//! `updated_at`, fulfilments with tracking, cancellation, refunds as returns, and the
//! shop's webhooks, verified by their HMAC signature and told apart by webhook id.
//!
//! Layout: `client` (the GraphQL session and the cost-based rate limit), `bulk` (staged
//! JSONL and bulk mutations), `mappers` (Shopify ↔ canonical, pure), `webhook`, `ports`
//! (one file per area).

mod bulk;
mod client;
mod config;
mod mappers;
mod ports;
mod types;
mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{
    AccountSink, CatalogueSink, Connector, ConnectorError, FulfilmentSink, OrderSource,
    OrderStatusSink, PriceSink, ReturnSource, StockSink, WebhookReceiver,
};
use kontor_model::Currency;
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub use config::ShopifyConfig;

use client::ShopifyClient;

/// The shop settings prices depend on.
#[derive(Debug, Clone)]
pub(crate) struct ShopSettings {
    pub currency: Currency,
    pub taxes_included: bool,
}

#[derive(Default)]
struct Cache {
    settings: Option<ShopSettings>,
    /// Location name → global id (both the name and the id itself are keys).
    locations: Option<HashMap<String, String>>,
}

struct Inner {
    client: ShopifyClient,
    config: ShopifyConfig,
    client_secret: Option<String>,
    cache: Mutex<Cache>,
}

/// What a connection of this kind can do: the ports its connector offers.
pub(crate) const CAPABILITIES: &[kontor_connector::Capability] = crate::registry::SHOP_CAPABILITIES;

/// One Shopify shop. Clones share the HTTP client and caches.

#[derive(Clone)]
pub struct ShopifySystem {
    inner: Arc<Inner>,
}

/// The credentials and trust a shop connection needs, resolved from secrets and files.
pub struct ShopifyAccess {
    pub access_token: String,
    pub client_secret: Option<String>,
    /// PEM of a certificate authority to trust besides the public ones.
    pub ca_pem: Option<Vec<u8>>,
}

pub(crate) fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The number at the end of a global id (`gid://shopify/Order/42` → 42).
pub(crate) fn numeric(gid: &Value) -> Option<u64> {
    gid.as_str()?
        .rsplit('/')
        .next()?
        .split('?')
        .next()?
        .parse()
        .ok()
}

/// A variant as Kontor keeps its id: product, variant and inventory item, because
/// prices are written per product and stock per inventory item. Text: `"p/v/i"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ItemId {
    pub product: u64,
    pub variant: u64,
    pub item: u64,
}

impl ItemId {
    pub fn parse(text: &str) -> Option<ItemId> {
        let mut parts = text.split('/').map(|p| p.parse::<u64>().ok());
        let (Some(Some(product)), Some(Some(variant)), Some(Some(item)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(ItemId {
            product,
            variant,
            item,
        })
    }

    /// A variant as queries select it: `id sku product { id } inventoryItem { id }`.
    pub fn of(variant: &Value) -> Option<ItemId> {
        Some(ItemId {
            product: numeric(&variant["product"]["id"])?,
            variant: numeric(&variant["id"])?,
            item: numeric(&variant["inventoryItem"]["id"])?,
        })
    }

    pub fn text(&self) -> String {
        format!("{}/{}/{}", self.product, self.variant, self.item)
    }
}

/// Most SKUs in one `query:` search, and most items in a page.
const SKUS_PER_SEARCH: usize = 50;
pub(crate) const PAGE: usize = 250;

// `first` is the number of SKUs asked for: Shopify charges for the page size asked,
// not the rows found, so a one-SKU lookup costs 5 points instead of 752.
const VARIANTS_BY_SKU: &str = "query VariantsBySku($query: String!, $first: Int!, $after: String) {
  productVariants(first: $first, query: $query, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id sku product { id } inventoryItem { id } }
  }
}";

impl ShopifySystem {
    /// Counts this connection's calls (named when the connection is built).
    pub(crate) fn meter(&self) -> &crate::http::Meter {
        &self.inner.client.meter
    }

    pub fn new(config: ShopifyConfig, access: ShopifyAccess) -> Result<Self, ConnectorError> {
        let http = crate::http::client_trusting(config.timeout, access.ca_pem.as_deref())?;
        let client = ShopifyClient::new(
            http,
            &config.base_url(),
            &config.api_version,
            access.access_token,
            config.rate_limit_retries,
            config.max_wait,
            config.timeout,
        );
        Ok(ShopifySystem {
            inner: Arc::new(Inner {
                client,
                config,
                client_secret: access.client_secret,
                cache: Mutex::new(Cache::default()),
            }),
        })
    }

    pub(crate) fn config(&self) -> &ShopifyConfig {
        &self.inner.config
    }

    pub(crate) fn client(&self) -> &ShopifyClient {
        &self.inner.client
    }

    pub(crate) fn client_secret(&self) -> Option<&str> {
        self.inner.client_secret.as_deref()
    }

    pub(crate) async fn settings(&self) -> Result<ShopSettings, ConnectorError> {
        if let Some(known) = &self.inner.cache.lock().await.settings {
            return Ok(known.clone());
        }
        let data = self
            .client()
            .run("shop", "{ shop { currencyCode taxesIncluded } }", json!({}))
            .await?;
        let code = data["shop"]["currencyCode"].as_str().unwrap_or_default();
        let settings = ShopSettings {
            currency: Currency::new(code).map_err(|e| {
                ConnectorError::protocol(format!("the shop's currency `{code}`: {e}"))
            })?,
            taxes_included: data["shop"]["taxesIncluded"].as_bool().unwrap_or(false),
        };
        self.inner.cache.lock().await.settings = Some(settings.clone());
        Ok(settings)
    }

    /// The global id of a location named (or given by id) in the stock flow's map.
    pub(crate) async fn location(&self, name: &str) -> Result<String, ConnectorError> {
        if let Some(id) = self
            .inner
            .cache
            .lock()
            .await
            .locations
            .as_ref()
            .and_then(|l| l.get(name))
        {
            return Ok(id.clone());
        }
        let data = self
            .client()
            .run(
                "locations",
                "{ locations(first: 250) { nodes { id name isActive } } }",
                json!({}),
            )
            .await?;
        let mut known = HashMap::new();
        for location in data["locations"]["nodes"].as_array().into_iter().flatten() {
            let (Some(id), Some(location_name)) =
                (location["id"].as_str(), location["name"].as_str())
            else {
                continue;
            };
            known.insert(location_name.to_owned(), id.to_owned());
            known.insert(id.to_owned(), id.to_owned());
            if let Some(n) = numeric(&location["id"]) {
                known.insert(n.to_string(), id.to_owned());
            }
        }
        let found = known.get(name).cloned();
        self.inner.cache.lock().await.locations = Some(known);
        found.ok_or_else(|| ConnectorError::Rejected {
            code: Some("unknown_location".into()),
            message: format!(
                "Shopify has no location `{name}`; map the warehouse to one of the shop's locations (Settings › Locations)"
            ),
            field: Some("location".into()),
        })
    }

    /// Variants with these SKUs, by SKU, in as few searches as the query length allows.
    pub(crate) async fn by_sku(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, Value>, ConnectorError> {
        let mut found = HashMap::new();
        let wanted: Vec<&String> = skus.iter().filter(|s| !s.is_empty()).collect();
        for chunk in wanted.chunks(SKUS_PER_SEARCH) {
            let query = chunk
                .iter()
                .map(|sku| format!("sku:\"{}\"", sku.replace('"', "\\\"")))
                .collect::<Vec<_>>()
                .join(" OR ");
            let mut after = Value::Null;
            loop {
                let data = self
                    .client()
                    .run(
                        "variants by SKU",
                        VARIANTS_BY_SKU,
                        json!({ "query": query, "first": chunk.len(), "after": after }),
                    )
                    .await?;
                let page = &data["productVariants"];
                for variant in page["nodes"].as_array().into_iter().flatten() {
                    if let Some(sku) = variant["sku"]
                        .as_str()
                        .filter(|s| chunk.iter().any(|w| w.as_str() == *s))
                    {
                        found.insert(sku.to_owned(), variant.clone());
                    }
                }
                if page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
        }
        Ok(found)
    }

    /// Where each item lives: the id Kontor has, else found by SKU.
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
                        what: format!("variant with SKU {sku} in Shopify"),
                    })
            })
            .collect())
    }
}

/// The Shopify connection: a shop.
#[derive(Clone)]
pub struct ShopifyConnector {
    pub system: ShopifySystem,
}

#[async_trait]
impl Connector for ShopifyConnector {
    fn kind(&self) -> &'static str {
        "shopify"
    }

    ports! {
        catalogue_sink: CatalogueSink,
        account_sink: AccountSink,
        stock_sink: StockSink,
        price_sink: PriceSink,
        order_source: OrderSource,
        fulfilment_sink: FulfilmentSink,
        order_status_sink: OrderStatusSink,
        return_source: ReturnSource,
    }

    fn webhooks(&self) -> Option<Arc<dyn WebhookReceiver>> {
        self.system
            .client_secret()
            .is_some()
            .then(|| Arc::new(self.system.clone()) as Arc<dyn WebhookReceiver>)
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.system.settings().await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ids_carry_product_variant_and_inventory_item() {
        let item = ItemId::of(&json!({
            "id": "gid://shopify/ProductVariant/2", "product": { "id": "gid://shopify/Product/1" },
            "inventoryItem": { "id": "gid://shopify/InventoryItem/3" },
        }));
        assert_eq!(item.map(|i| i.text()).as_deref(), Some("1/2/3"));
        assert_eq!(ItemId::parse("1/2/3"), item);
        assert_eq!(ItemId::parse("1/2"), None);
        assert_eq!(ItemId::parse("1/2/3/4"), None);
        assert_eq!(
            numeric(&json!("gid://shopify/InventoryLevel/7?inventory_item_id=7")),
            Some(7)
        );
    }
}
