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
