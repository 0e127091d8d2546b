//! Flow configuration: the parts every flow has (which connections, when it runs) and
//! options of its own kind, plus the tenant's mappings between systems' vocabularies.

use std::collections::BTreeMap;
use std::time::Duration;

use kontor_model::OrderStatus;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The kinds of flow Kontor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Products and variants, ERP → shop.
    Catalogue,
    /// Prices, price lists, group and customer prices, promotions, ERP → shop.
    Prices,
    /// Sellable stock per location, ERP → shop.
    Stock,
    /// B2B customer accounts, ERP → shop.
    Customers,
    /// Orders, shop → ERP sales documents.
    Orders,
    /// Payments, shop → ERP, and the receipt or invoice.
    Payments,
    /// Invoices and their PDFs, ERP → shop orders.
    Invoices,
    /// Shipments, ERP → shop fulfilments with tracking.
    Shipments,
    /// Order statuses, ERP → shop.
    OrderStatus,
    /// Returns and refunds, shop → ERP credit notes or goods returns.
    Returns,
    /// Showroom pickup: stock transfers to the showroom, shop → ERP.
    Showroom,
}

impl FlowKind {
    pub const ALL: [FlowKind; 11] = [
        FlowKind::Catalogue,
        FlowKind::Prices,
        FlowKind::Stock,
        FlowKind::Customers,
        FlowKind::Orders,
        FlowKind::Payments,
        FlowKind::Invoices,
        FlowKind::Shipments,
        FlowKind::OrderStatus,
        FlowKind::Returns,
        FlowKind::Showroom,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            FlowKind::Catalogue => "catalogue",
            FlowKind::Prices => "prices",
            FlowKind::Stock => "stock",
            FlowKind::Customers => "customers",
            FlowKind::Orders => "orders",
            FlowKind::Payments => "payments",
            FlowKind::Invoices => "invoices",
            FlowKind::Shipments => "shipments",
            FlowKind::OrderStatus => "order_status",
            FlowKind::Returns => "returns",
            FlowKind::Showroom => "showroom",
        }
    }
}

impl std::fmt::Display for FlowKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One flow of one tenant.
///
/// ```toml
/// [tenants.acme.flows.orders]
/// kind = "orders"          # optional when the flow's name is its kind
/// from = "shop"
/// to = "erp"
/// every = "30s"            # or: cron = "0 */5 * * * *"
/// options = { tolerance = "0.01" }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FlowKind>,
    /// The connection data comes from.
    pub from: String,
    /// The connection data goes to.
    pub to: String,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Poll this often.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub every: Option<Duration>,
    /// Or on this cron schedule (5 fields, or 6 with seconds; UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Options of this flow's kind; see the kind's options type.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub options: serde_json::Value,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A configuration problem, with the key it is about (relative to the tenant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigProblem {
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl FlowConfig {
    /// The flow's kind: given, or the flow's name when that names a kind.
    pub fn kind_for(&self, name: &str) -> Result<FlowKind, ConfigProblem> {
        if let Some(kind) = self.kind {
            return Ok(kind);
        }
        FlowKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                ConfigProblem::new(
                    format!("flows.{name}.kind"),
                    format!(
                        "is required when the flow's name is not its kind (one of {})",
                        FlowKind::ALL.map(|k| k.as_str()).join(", ")
                    ),
                )
            })
    }

    /// Parses the options of this flow's kind, naming the offending key on error.
    pub fn options<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, ConfigProblem> {
        if self.options.is_null() {
            return Ok(T::default());
        }
        serde_path_to_error::deserialize(self.options.clone()).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                format!("flows.{name}.options")
            } else {
                format!("flows.{name}.options.{path}")
            };
            ConfigProblem::new(key, e.into_inner().to_string())
        })
    }
}

/// How one system's words translate into another's. Keys and values are the systems'
/// own codes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mappings {
    /// Shop SKU → ERP SKU, where they differ.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sku: BTreeMap<String, String>,
    /// ERP warehouse → shop location. Empty: all stock is sold from location `default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warehouses: BTreeMap<String, String>,
    /// Shop payment method → ERP payment method.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payment_methods: BTreeMap<String, String>,
    /// Shop shipping method → SKU of the ERP service product that bills it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shipping_methods: BTreeMap<String, String>,
    /// Shop order status → Kontor's order status.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub order_status: BTreeMap<String, OrderStatus>,
    /// Shop customer group → ERP customer group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub customer_groups: BTreeMap<String, String>,
    /// Tax rate in percent (`"23"`, `"8"`) → the ERP's tax code for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tax_rates: BTreeMap<String, String>,
    /// ERP price list → the shop's price list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub price_lists: BTreeMap<String, String>,
}

impl Mappings {
    /// What is wrong with the maps themselves, keys relative to `mappings`: a blank code
    /// on either side, a SKU mapped to itself, a tax rate that is not a percentage.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        fn pairs(map: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
            map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
        }
        let statuses = self.order_status.keys().map(|k| (k.as_str(), "-"));
        let tables: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("sku", pairs(&self.sku).collect()),
            ("warehouses", pairs(&self.warehouses).collect()),
            ("payment_methods", pairs(&self.payment_methods).collect()),
            ("shipping_methods", pairs(&self.shipping_methods).collect()),
            ("order_status", statuses.collect()),
            ("customer_groups", pairs(&self.customer_groups).collect()),
            ("tax_rates", pairs(&self.tax_rates).collect()),
            ("price_lists", pairs(&self.price_lists).collect()),
        ];
        let mut problems = Vec::new();
        for (table, entries) in tables {
            for (from, to) in entries {
                let key = format!("mappings.{table}.{from}");
                let problem = if from.trim().is_empty() {
                    Some("a code to map from is blank")
                } else if to.trim().is_empty() {
                    Some("maps to a blank code")
                } else if table == "sku" && from == to {
                    Some("maps a SKU to itself; leave it out")
                } else if table == "tax_rates" && from.parse::<rust_decimal::Decimal>().is_err() {
                    Some("a tax rate is a percentage, e.g. \"23\" or \"5.5\"")
                } else {
                    None
                };
                problems.extend(problem.map(|message| ConfigProblem::new(key, message)));
            }
        }
        problems
    }

    /// The ERP's SKU for a shop SKU.
    pub fn erp_sku<'a>(&'a self, shop_sku: &'a str) -> &'a str {
        self.sku
            .get(shop_sku)
            .map(String::as_str)
            .unwrap_or(shop_sku)
    }

    /// The ERP's tax code for a rate, if one is mapped.
    pub fn tax_code(&self, rate: kontor_model::TaxRate) -> Option<String> {
        self.tax_rates
            .get(&rate.percent().normalize().to_string())
            .cloned()
    }

    /// The shop's SKU for an ERP SKU (the map is kept shop → ERP).
    pub fn shop_sku<'a>(&'a self, erp_sku: &'a str) -> &'a str {
        self.sku
            .iter()
            .find(|(_, erp)| erp.as_str() == erp_sku)
            .map(|(shop, _)| shop.as_str())
            .unwrap_or(erp_sku)
    }

    /// Kontor's status for a shop's own status name, when the map has it.
    pub fn status_of(&self, shop_status: &str) -> Option<OrderStatus> {
        self.order_status.get(shop_status).copied()
    }

    /// The shop's own status name for Kontor's status, when the map has one.
    pub fn shop_status(&self, status: OrderStatus) -> Option<&str> {
        self.order_status
            .iter()
            .find(|(_, s)| **s == status)
            .map(|(name, _)| name.as_str())
    }

    /// The shop's customer group for an ERP group (the map is kept shop → ERP).
    pub fn shop_customer_group(&self, erp_group: &str) -> Option<&str> {
        self.customer_groups
            .iter()
            .find(|(_, erp)| erp.as_str() == erp_group)
            .map(|(shop, _)| shop.as_str())
    }

    /// The shop location selling an ERP warehouse's stock, if it is sold at all.
    pub fn location_for<'a>(&'a self, warehouse: &str) -> Option<&'a str> {
        if self.warehouses.is_empty() {
            Some("default")
        } else {
            self.warehouses.get(warehouse).map(String::as_str)
        }
    }

    /// The ERP warehouses whose stock a shop location sells.
    pub fn warehouses_for(&self, location: &str) -> Vec<&str> {
        self.warehouses
            .iter()
            .filter(|(_, l)| l.as_str() == location)
            .map(|(w, _)| w.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_problems_name_the_entry() {
        let mut mappings = Mappings::default();
        assert!(mappings.problems().is_empty());
        mappings.sku.insert("A".into(), "A".into());
        mappings.sku.insert("B".into(), " ".into());
        mappings.sku.insert("C".into(), "D".into());
        mappings.tax_rates.insert("vat".into(), "V23".into());
        let keys: Vec<String> = mappings.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["mappings.sku.A", "mappings.sku.B", "mappings.tax_rates.vat"]
        );
    }

    #[test]
    fn option_errors_name_the_key() {
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Opts {
            #[allow(dead_code)]
            page_size: Option<u32>,
        }
        let config = FlowConfig {
            kind: None,
            from: "a".into(),
            to: "b".into(),
            enabled: true,
            every: None,
            cron: None,
            options: serde_json::json!({"page_size": "many"}),
        };
        let err = config.options::<Opts>("orders").unwrap_err();
        assert_eq!(err.key, "flows.orders.options.page_size");
        assert!(config.kind_for("orders").is_ok());
        assert_eq!(config.kind_for("web").unwrap_err().key, "flows.web.kind");
    }
}
