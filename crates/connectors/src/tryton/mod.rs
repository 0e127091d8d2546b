//! `tryton`: the Tryton ERP over JSON-RPC — products, stock, list prices and price lists
//! (as Tryton computes them), parties, sales (quoted on create, confirmed once the flow
//! has reconciled them; the shop's order number as the sale's reference), payments and
//! posted invoices with their PDFs, shipments — read incrementally by `write_date`.
//!
//! Layout: `client` (the JSON-RPC session), `values` (Tryton's tagged values), `window`
//! (incremental reads), `mappers` (Tryton ↔ canonical, pure), `ports` (one file per area).
//! Base Tryton has no carriers: a shipment's tracking number is read from its
//! `reference` (configurable).

mod client;
mod config;
mod mappers;
mod ports;
mod values;
mod window;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSource, Connector, ConnectorError, CustomerSink, CustomerSource, InvoiceSource,
    PaymentSink, PriceSource, SalesSink, SalesSource, ShipmentSource, StockSource,
};
use kontor_model::Currency;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::Mutex;

pub use config::TrytonConfig;

use client::TrytonClient;
use values::{Record, get_decimal, get_i64, get_str};

#[derive(Debug, Clone)]
pub(crate) struct Tax {
    pub id: i64,
    pub name: String,
    /// In percent (Tryton keeps a fraction).
    pub percent: Decimal,
}

#[derive(Default)]
struct Cache {
    warehouses: Option<Vec<(i64, String)>>,
    taxes: Option<Vec<Tax>>,
    countries: HashMap<String, i64>,
    currencies: HashMap<i64, Currency>,
    category_taxes: HashMap<i64, Vec<i64>>,
    payment_method: Option<i64>,
    payment_term: Option<i64>,
    tax_rounding: Option<String>,
}

struct Inner {
    client: TrytonClient,
    config: TrytonConfig,
    cache: Mutex<Cache>,
    /// Held while Tryton hands out document numbers (see [`TrytonSystem::press`]).
    numbering: Mutex<()>,
}

/// What a connection of this kind can do: the ports its connector offers.
pub(crate) const CAPABILITIES: &[kontor_connector::Capability] = &[
    kontor_connector::Capability::CatalogueRead,
    kontor_connector::Capability::StockRead,
    kontor_connector::Capability::PriceRead,
    kontor_connector::Capability::CustomerWrite,
    kontor_connector::Capability::CustomerRead,
    kontor_connector::Capability::SalesWrite,
    kontor_connector::Capability::SalesRead,
    kontor_connector::Capability::PaymentWrite,
    kontor_connector::Capability::InvoiceRead,
    kontor_connector::Capability::ShipmentRead,
];

/// One Tryton database. Clones share the session and caches.

#[derive(Clone)]
pub struct TrytonSystem {
    inner: Arc<Inner>,
}

impl TrytonSystem {
    /// Counts this connection's calls (named when the connection is built).
    pub(crate) fn meter(&self) -> &crate::http::Meter {
        &self.inner.client.meter
    }

    pub fn new(config: TrytonConfig, password: String) -> Result<Self, ConnectorError> {
        let client = TrytonClient::new(
            &config.url,
            &config.database,
            &config.username,
            password,
            config.timeout,
        )?;
        Ok(TrytonSystem {
            inner: Arc::new(Inner {
                client,
                config,
                cache: Mutex::new(Cache::default()),
                numbering: Mutex::new(()),
            }),
        })
    }

    pub(crate) fn client(&self) -> &TrytonClient {
        &self.inner.client
    }

    pub(crate) fn config(&self) -> &TrytonConfig {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    /// Warehouses to read stock from: the configured codes, or all.
    pub(crate) async fn warehouses(&self) -> Result<Vec<(i64, String)>, ConnectorError> {
        if let Some(known) = &self.inner.cache.lock().await.warehouses {
            return Ok(known.clone());
        }
        let found = self
            .client()
            .search_read(
                "stock.location",
                json!([["type", "=", "warehouse"]]),
                None,
                json!([["id", "ASC"]]),
                &["code"],
                None,
            )
            .await?;
        let all: Vec<(i64, String)> = found
            .iter()
            .filter_map(|r| {
                Some((
                    get_i64(r, "id").ok()?,
                    get_str(r, "code").unwrap_or_default().to_owned(),
                ))
            })
            .collect();
        let chosen = if self.config().warehouses.is_empty() {
            all
        } else {
            let mut chosen = Vec::new();
            for code in &self.config().warehouses {
                let found = all.iter().find(|(_, c)| c == code).ok_or_else(|| {
                    ConnectorError::Rejected {
                        code: Some("unknown_warehouse".into()),
                        message: format!("Tryton has no warehouse with code `{code}`"),
                        field: Some("warehouses".into()),
                    }
                })?;
                chosen.push(found.clone());
            }
            chosen
        };
        self.inner.cache.lock().await.warehouses = Some(chosen.clone());
        Ok(chosen)
    }

    pub(crate) async fn taxes(&self) -> Result<Vec<Tax>, ConnectorError> {
        if let Some(known) = &self.inner.cache.lock().await.taxes {
            return Ok(known.clone());
        }
        let found = self
            .client()
            .search_read(
                "account.tax",
                json!([["type", "=", "percentage"]]),
                None,
                json!([["id", "ASC"]]),
                &["name", "rate"],
                None,
            )
            .await?;
        let taxes: Vec<Tax> = found
            .iter()
            .filter_map(|r| {
                Some(Tax {
                    id: get_i64(r, "id").ok()?,
                    name: get_str(r, "name").unwrap_or_default().to_owned(),
                    percent: (get_decimal(r, "rate").ok()? * Decimal::ONE_HUNDRED).normalize(),
                })
            })
            .collect();
        self.inner.cache.lock().await.taxes = Some(taxes.clone());
        Ok(taxes)
    }

    /// The customer taxes of a product's account category.
    pub(crate) async fn category_taxes(&self, category: i64) -> Result<Vec<i64>, ConnectorError> {
        if let Some(known) = self.inner.cache.lock().await.category_taxes.get(&category) {
            return Ok(known.clone());
        }
        let read = self
            .client()
            .read("product.category", &[category], &["customer_taxes"], None)
            .await?;
        let taxes = match read.first() {
            Some(record) => values::get_ids(record, "customer_taxes")?,
            None => Vec::new(),
        };
        self.inner
            .cache
            .lock()
            .await
            .category_taxes
            .insert(category, taxes.clone());
        Ok(taxes)
    }

    pub(crate) async fn country(&self, code: &str) -> Result<i64, ConnectorError> {
        if let Some(id) = self.inner.cache.lock().await.countries.get(code) {
            return Ok(*id);
        }
        let ids = self
            .client()
            .search("country.country", json!([["code", "=", code]]), Some(1))
            .await?;
        let id = ids.first().copied().ok_or_else(|| ConnectorError::Rejected {
            code: Some("unknown_country".into()),
            message: format!("Tryton has no country with code {code}; add it under Administration › Countries"),
            field: Some("country".into()),
        })?;
        self.inner
            .cache
            .lock()
            .await
            .countries
            .insert(code.to_owned(), id);
        Ok(id)
    }

    pub(crate) async fn currency(&self, id: i64) -> Result<Currency, ConnectorError> {
        if let Some(currency) = self.inner.cache.lock().await.currencies.get(&id) {
            return Ok(*currency);
        }
        let read = self
            .client()
            .read("currency.currency", &[id], &["code"], None)
            .await?;
        let code = read
            .first()
            .and_then(|r| get_str(r, "code"))
            .unwrap_or_default();
        let currency = Currency::new(code).map_err(|e| ConnectorError::protocol(e.to_string()))?;
        self.inner
            .cache
            .lock()
            .await
            .currencies
            .insert(id, currency);
        Ok(currency)
    }

    /// By configured name, else the first one.
    async fn named(&self, model: &str, name: Option<&str>) -> Result<i64, ConnectorError> {
        let domain = match name {
            Some(name) => json!([["name", "=", name]]),
            None => json!([]),
        };
        let ids = self.client().search(model, domain, Some(1)).await?;
        ids.first()
            .copied()
            .ok_or_else(|| ConnectorError::Rejected {
                code: Some("missing_setup".into()),
                message: format!(
                    "Tryton has no {model}{}",
                    name.map(|n| format!(" named `{n}`")).unwrap_or_default()
                ),
                field: None,
            })
    }

    pub(crate) async fn payment_method(&self) -> Result<i64, ConnectorError> {
        if let Some(id) = self.inner.cache.lock().await.payment_method {
            return Ok(id);
        }
        let id = self
            .named(
                "account.invoice.payment.method",
                self.config().payment_method.as_deref(),
            )
            .await?;
        self.inner.cache.lock().await.payment_method = Some(id);
        Ok(id)
    }

    pub(crate) async fn payment_term(&self) -> Result<i64, ConnectorError> {
        if let Some(id) = self.inner.cache.lock().await.payment_term {
            return Ok(id);
        }
        let id = self
            .named(
                "account.invoice.payment_term",
                self.config().payment_term.as_deref(),
            )
            .await?;
        self.inner.cache.lock().await.payment_term = Some(id);
        Ok(id)
    }

    /// `document` (tax rounded per document and rate) or `line`.
    pub(crate) async fn tax_rounding(&self) -> Result<String, ConnectorError> {
        if let Some(rounding) = &self.inner.cache.lock().await.tax_rounding {
            return Ok(rounding.clone());
        }
        let read = self
            .client()
            .read("account.configuration", &[1], &["tax_rounding"], None)
            .await?;
        let rounding = read
            .first()
            .and_then(|r| get_str(r, "tax_rounding"))
            .unwrap_or("document")
            .to_owned();
        self.inner.cache.lock().await.tax_rounding = Some(rounding.clone());
        Ok(rounding)
    }

    /// Presses a button that numbers documents (quoting a sale, confirming it, posting an
    /// invoice), one at a time. Tryton on SQLite takes no lock on its sequences, so two
    /// such calls at once can hand out one number twice; on PostgreSQL this costs little.
    pub(crate) async fn press(
        &self,
        model: &str,
        button: &str,
        ids: &[i64],
    ) -> Result<(), ConnectorError> {
        let _numbering = self.inner.numbering.lock().await;
        self.client().button(model, button, ids).await
    }

    /// Runs a wizard that numbers documents (paying an invoice makes an account move),
    /// one at a time, as [`TrytonSystem::press`].
    pub(crate) async fn run_wizard(
        &self,
        name: &str,
        model: &str,
        ids: &[i64],
        steps: &[(&str, Value)],
    ) -> Result<(), ConnectorError> {
        let _numbering = self.inner.numbering.lock().await;
        self.client().wizard(name, model, ids, steps).await
    }

    /// Context for reading stock in one warehouse.
    pub(crate) fn in_location(location: i64) -> Record {
        let mut context = Record::new();
        context.insert("locations".into(), Value::from(vec![location]));
        context
    }
}

/// The Tryton connection: an ERP.
#[derive(Clone)]
pub struct TrytonConnector {
    pub system: TrytonSystem,
}

#[async_trait]
impl Connector for TrytonConnector {
    fn kind(&self) -> &'static str {
        "tryton"
    }

    ports! {
        catalogue_source: CatalogueSource,
        stock_source: StockSource,
        price_source: PriceSource,
        customer_sink: CustomerSink,
        customer_source: CustomerSource,
        sales_sink: SalesSink,
        sales_source: SalesSource,
        payment_sink: PaymentSink,
        invoice_source: InvoiceSource,
        shipment_source: ShipmentSource,
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.system.client().context().await.map(drop)
    }
}
