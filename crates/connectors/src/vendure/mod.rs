//! `vendure`: a Vendure 3 shop through its Admin GraphQL API — customers and groups,
//! products and variants
//! upserted by SKU (option groups, a `category` facet, tax category by rate), prices and
//! stock per stock location, orders read by `orderPlacedAt` (plus a periodic re-read of
//! open orders, since Vendure does not touch `updatedAt` on state changes), fulfilments
//! with tracking codes, cancellations, settled refunds as returns; and the notices of Kontor's Vendure plugin
//! (`integrations/vendure/`), verified by their HMAC signature.
//!
//! Layout: `client` (the GraphQL session), `mappers` (Vendure ↔ canonical, pure),
//! `webhook` (the plugin's signed notices), `ports` (one file per area).

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
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub use config::{ImagePolicy, VendureConfig};
pub use webhook::sign;

use client::VendureClient;

/// What the channel Kontor works in is set up with.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub currency: Currency,
    pub prices_include_tax: bool,
    pub tax_zone: Option<String>,
}

#[derive(Default)]
struct Cache {
    channel: Option<Channel>,
    /// Stock location name → id.
    stock_locations: Option<HashMap<String, String>>,
    /// (rate in percent, tax category id) in the channel's tax zone.
    tax_categories: Option<Vec<(Decimal, String)>>,
}

struct Inner {
    client: VendureClient,
    config: VendureConfig,
    webhook_secret: Option<String>,
    cache: Mutex<Cache>,
}

/// What a connection of this kind can do: the ports its connector offers.
pub(crate) const CAPABILITIES: &[kontor_connector::Capability] = crate::registry::SHOP_CAPABILITIES;

/// One Vendure channel. Clones share the session and caches.

#[derive(Clone)]
pub struct VendureSystem {
    inner: Arc<Inner>,
}

impl VendureSystem {
    /// Counts this connection's calls (named when the connection is built).
    pub(crate) fn meter(&self) -> &crate::http::Meter {
        &self.inner.client.meter
    }

    pub fn new(
        config: VendureConfig,
        password: String,
        webhook_secret: Option<String>,
    ) -> Result<Self, ConnectorError> {
        let client = VendureClient::new(
            &config.url,
            &config.username,
            password,
            config.channel_token.clone(),
            config.timeout,
        )?;
        Ok(VendureSystem {
            inner: Arc::new(Inner {
                client,
                config,
                webhook_secret,
                cache: Mutex::new(Cache::default()),
            }),
        })
    }

    pub(crate) fn config(&self) -> &VendureConfig {
        &self.inner.config
    }

    pub(crate) fn webhook_secret(&self) -> Option<&str> {
        self.inner.webhook_secret.as_deref()
    }

    pub(crate) async fn run(&self, query: &str, variables: Value) -> Result<Value, ConnectorError> {
        self.inner.client.run(query, variables).await
    }

    pub(crate) fn client(&self) -> &VendureClient {
        &self.inner.client
    }

    pub(crate) async fn channel(&self) -> Result<Channel, ConnectorError> {
        if let Some(known) = &self.inner.cache.lock().await.channel {
            return Ok(known.clone());
        }
        let data = self
            .run(
                "{ activeChannel { defaultCurrencyCode pricesIncludeTax defaultTaxZone { id } } }",
                json!({}),
            )
            .await?;
        let channel = &data["activeChannel"];
        let code = channel["defaultCurrencyCode"].as_str().unwrap_or_default();
        let channel = Channel {
            currency: Currency::new(code).map_err(|e| {
                ConnectorError::protocol(format!("the channel's currency `{code}`: {e}"))
            })?,
            prices_include_tax: channel["pricesIncludeTax"].as_bool().unwrap_or(false),
            tax_zone: channel["defaultTaxZone"]["id"].as_str().map(str::to_owned),
        };
        self.inner.cache.lock().await.channel = Some(channel.clone());
        Ok(channel)
    }

    /// The id of the Vendure stock location Kontor's `location` maps to.
    pub(crate) async fn stock_location(&self, location: &str) -> Result<String, ConnectorError> {
        let name = self.config().stock_location(location).to_owned();
        let mut cache = self.inner.cache.lock().await;
        // A location made in Vendure since the last look: look again.
        let known = cache
            .stock_locations
            .as_ref()
            .is_some_and(|all| all.contains_key(&name));
        if !known {
            let data = self
                .run(
                    "{ stockLocations(options: {take: 100}) { items { id name } } }",
                    json!({}),
                )
                .await?;
            let found = data["stockLocations"]["items"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter_map(|l| {
                            Some((l["name"].as_str()?.to_owned(), l["id"].as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            cache.stock_locations = Some(found);
        }
        let known = cache.stock_locations.as_ref();
        known
            .and_then(|all| all.get(&name))
            .cloned()
            .ok_or_else(|| ConnectorError::Rejected {
                code: Some("unknown_stock_location".into()),
                message: format!(
                    "Vendure has no stock location named `{name}` (it has: {}); map `{location}` under the connection's `stock_locations`",
                    known
                        .map(|all| {
                            let mut names: Vec<&str> = all.keys().map(String::as_str).collect();
                            names.sort_unstable();
                            names.join(", ")
                        })
                        .unwrap_or_default()
                ),
                field: Some("stock_locations".into()),
            })
    }

    /// The tax category whose rate in the channel's tax zone is `percent`.
    pub(crate) async fn tax_category(&self, percent: Decimal) -> Result<String, ConnectorError> {
        let known = self
            .inner
            .cache
            .lock()
            .await
            .tax_categories
            .as_ref()
            .is_some_and(|all| all.iter().any(|(rate, _)| *rate == percent));
        // Unknown rates are looked up again: the merchant may just have added one.
        if !known {
            let zone = self.channel().await?.tax_zone;
            let data = self
                .run(
                    "{ taxRates(options: {take: 100}) { items { value enabled category { id } zone { id } } } }",
                    json!({}),
                )
                .await?;
            let found: Vec<(Decimal, String)> = data["taxRates"]["items"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter(|r| r["enabled"].as_bool() == Some(true))
                        .filter(|r| zone.is_none() || r["zone"]["id"].as_str() == zone.as_deref())
                        .filter_map(|r| {
                            Some((
                                mappers::decimal_of(&r["value"])?,
                                r["category"]["id"].as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.inner.cache.lock().await.tax_categories = Some(found);
        }
        let cache = self.inner.cache.lock().await;
        let known = cache.tax_categories.as_deref().unwrap_or_default();
        known
            .iter()
            .find(|(rate, _)| *rate == percent)
            .map(|(_, id)| id.clone())
            .ok_or_else(|| ConnectorError::Rejected {
                code: Some("unknown_tax_rate".into()),
                message: format!(
                    "Vendure has no tax category with a {percent} % rate in the channel's tax zone; add one under Settings › Tax rates"
                ),
                field: Some("tax_rate".into()),
            })
    }
}

/// The Vendure connection: a shop.
#[derive(Clone)]
pub struct VendureConnector {
    pub system: VendureSystem,
}

#[async_trait]
impl Connector for VendureConnector {
    fn kind(&self) -> &'static str {
        "vendure"
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
            .webhook_secret()
            .is_some()
            .then(|| Arc::new(self.system.clone()) as Arc<dyn WebhookReceiver>)
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.system.channel().await.map(drop)
    }
}
