//! `woocommerce`: a WooCommerce store through its REST API v3 — products and variations
//! written in `/batch` calls of up to 100 items, found again by SKU; stock and prices
//! per variation; customers by e-mail; orders read by `date_modified_gmt`; shipments
//! recorded on the order (Shipment Tracking's meta format, a note to the customer,
//! `completed` when all is shipped); cancellations; refunds as returns; and the store's
//! webhooks, verified by their HMAC signature.
//!
//! Layout: `client` (the REST session), `mappers` (WooCommerce ↔ canonical, pure),
//! `webhook` (signed deliveries), `ports` (one file per area).

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
use tokio::sync::Mutex;

pub use config::WooCommerceConfig;

use client::WooClient;

/// The store settings prices depend on.
#[derive(Debug, Clone)]
pub(crate) struct StoreSettings {
    pub currency: Currency,
    pub prices_include_tax: bool,
}

#[derive(Default)]
struct Cache {
    settings: Option<StoreSettings>,
    /// (rate in percent, tax class slug; "" is the standard class).
    tax_classes: Option<Vec<(Decimal, String)>>,
    /// Category path ("A/B") → id.
    categories: HashMap<String, u64>,
}

struct Inner {
    client: WooClient,
    config: WooCommerceConfig,
    webhook_secret: Option<String>,
    cache: Mutex<Cache>,
}

/// What a connection of this kind can do: the ports its connector offers.
pub(crate) const CAPABILITIES: &[kontor_connector::Capability] = crate::registry::SHOP_CAPABILITIES;

/// One WooCommerce store. Clones share the HTTP client and caches.

#[derive(Clone)]
pub struct WooCommerceSystem {
    inner: Arc<Inner>,
}

/// The credentials and trust a store connection needs, resolved from secrets and files.
pub struct WooCommerceAccess {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub webhook_secret: Option<String>,
    /// PEM of a certificate authority to trust besides the public ones.
    pub ca_pem: Option<Vec<u8>>,
}

impl WooCommerceSystem {
    /// Counts this connection's calls (named when the connection is built).
    pub(crate) fn meter(&self) -> &crate::http::Meter {
        &self.inner.client.meter
    }

    pub fn new(
        config: WooCommerceConfig,
        access: WooCommerceAccess,
    ) -> Result<Self, ConnectorError> {
        let http = crate::http::client_trusting(config.timeout, access.ca_pem.as_deref())?;
        let client = WooClient::new(
            http,
            &config.url,
            access.consumer_key,
            access.consumer_secret,
            config.rate_limit_retries,
            config.max_wait,
            config.timeout,
        );
        Ok(WooCommerceSystem {
            inner: Arc::new(Inner {
                client,
                config,
                webhook_secret: access.webhook_secret,
                cache: Mutex::new(Cache::default()),
            }),
        })
    }

    pub(crate) fn config(&self) -> &WooCommerceConfig {
        &self.inner.config
    }

    pub(crate) fn webhook_secret(&self) -> Option<&str> {
        self.inner.webhook_secret.as_deref()
    }

    pub(crate) fn client(&self) -> &WooClient {
        &self.inner.client
    }

    pub(crate) async fn settings(&self) -> Result<StoreSettings, ConnectorError> {
        if let Some(known) = &self.inner.cache.lock().await.settings {
            return Ok(known.clone());
        }
        let currency = self
            .client()
            .get("/settings/general/woocommerce_currency", &[])
            .await?;
        let code = currency["value"].as_str().unwrap_or_default();
        let include = self
            .client()
            .get("/settings/tax/woocommerce_prices_include_tax", &[])
            .await?;
        let settings = StoreSettings {
            currency: Currency::new(code).map_err(|e| {
                ConnectorError::protocol(format!("the store's currency `{code}`: {e}"))
            })?,
            prices_include_tax: include["value"] == "yes",
        };
        self.inner.cache.lock().await.settings = Some(settings.clone());
        Ok(settings)
    }

    /// The tax class whose rate is `percent` (`""` for the standard class).
    pub(crate) async fn tax_class(&self, percent: Decimal) -> Result<String, ConnectorError> {
        let find = |all: &[(Decimal, String)]| {
            all.iter()
                .find(|(rate, _)| *rate == percent)
                .map(|(_, class)| class.clone())
        };
        if let Some(class) = self
            .inner
            .cache
            .lock()
            .await
            .tax_classes
            .as_deref()
            .and_then(find)
        {
            return Ok(class);
        }
        // Unknown rates are looked up again: the merchant may just have added one.
        let mut found = Vec::new();
        let mut page = 1;
        loop {
            let taxes = self
                .client()
                .page(
                    "/taxes",
                    &[("per_page", "100".into()), ("page", page.to_string())],
                )
                .await?;
            for tax in &taxes.items {
                let Some(rate) = mappers::decimal_of(&tax["rate"]) else {
                    continue;
                };
                let class = tax["class"].as_str().unwrap_or("standard");
                let class = if class == "standard" { "" } else { class };
                found.push((rate.normalize(), class.to_owned()));
            }
            if page >= taxes.total_pages {
                break;
            }
            page += 1;
        }
        let class = find(&found);
        self.inner.cache.lock().await.tax_classes = Some(found);
        class.ok_or_else(|| ConnectorError::Rejected {
            code: Some("unknown_tax_rate".into()),
            message: format!(
                "WooCommerce has no tax rate of {percent} %; add one under WooCommerce › Settings › Tax"
            ),
            field: Some("tax_rate".into()),
        })
    }
}

/// The WooCommerce connection: a shop.
#[derive(Clone)]
pub struct WooCommerceConnector {
    pub system: WooCommerceSystem,
}

#[async_trait]
impl Connector for WooCommerceConnector {
    fn kind(&self) -> &'static str {
        "woocommerce"
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
        self.system.settings().await.map(drop)
    }
}
