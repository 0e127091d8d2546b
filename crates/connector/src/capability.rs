use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Something a connection can do. Flows declare the capabilities they need of each
/// connection; `kontor config check` reports any that are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read products and variants incrementally.
    CatalogueRead,
    /// Create and update products and variants.
    CatalogueWrite,
    /// Read stock per warehouse incrementally.
    StockRead,
    /// Set sellable quantities per location.
    StockWrite,
    /// Read orders incrementally and by id.
    OrderRead,
    /// Create sales documents (customer orders, draft invoices) from shop orders.
    SalesWrite,
    /// Find and create customers.
    CustomerWrite,
    /// Read prices incrementally.
    PriceRead,
    /// Set prices (base, price lists, groups, customers, promotions).
    PriceWrite,
    /// Record payments and issue receipts and invoices.
    PaymentWrite,
    /// Read issued invoices and their PDFs.
    InvoiceRead,
    /// Show invoices on orders.
    InvoiceWrite,
    /// Read shipments.
    ShipmentRead,
    /// Fulfil orders with carrier and tracking.
    FulfilmentWrite,
    /// Read changes to sales documents.
    SalesRead,
    /// Set order statuses.
    OrderStatusWrite,
    /// Read returns and refunds.
    ReturnRead,
    /// Record returns (credit notes, goods returns).
    ReturnWrite,
    /// Read customers incrementally.
    CustomerRead,
    /// Create and update customer accounts.
    AccountWrite,
    /// Move stock between warehouses.
    TransferWrite,
}

impl Capability {
    pub fn describe(&self) -> &'static str {
        match self {
            Capability::CatalogueRead => "read products",
            Capability::CatalogueWrite => "write products",
            Capability::StockRead => "read stock",
            Capability::StockWrite => "write stock",
            Capability::OrderRead => "read orders",
            Capability::SalesWrite => "create sales documents",
            Capability::CustomerWrite => "find and create customers",
            Capability::PriceRead => "read prices",
            Capability::PriceWrite => "write prices",
            Capability::PaymentWrite => "record payments and issue receipts or invoices",
            Capability::InvoiceRead => "read invoices",
            Capability::InvoiceWrite => "attach invoices to orders",
            Capability::ShipmentRead => "read shipments",
            Capability::FulfilmentWrite => "fulfil orders",
            Capability::SalesRead => "read sales documents",
            Capability::OrderStatusWrite => "set order statuses",
            Capability::ReturnRead => "read returns",
            Capability::ReturnWrite => "record returns",
            Capability::CustomerRead => "read customers",
            Capability::AccountWrite => "write customer accounts",
            Capability::TransferWrite => "move stock between warehouses",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities(BTreeSet<Capability>);

impl Capabilities {
    pub fn insert(&mut self, capability: Capability) {
        self.0.insert(capability);
    }

    pub fn contains(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// Those of `needed` that are missing here.
    pub fn missing(&self, needed: &[Capability]) -> Vec<Capability> {
        needed
            .iter()
            .copied()
            .filter(|c| !self.contains(*c))
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Capabilities(iter.into_iter().collect())
    }
}
