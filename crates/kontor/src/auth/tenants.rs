//! The tenants a principal acts for.

use std::collections::BTreeSet;

/// The tenants a principal acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    All,
    Only(BTreeSet<String>),
}

impl Tenants {
    /// From a list of tenant ids, where `*` means every tenant.
    pub fn from_list(tenants: Vec<String>) -> Tenants {
        if tenants.iter().any(|t| t == "*") {
            Tenants::All
        } else {
            Tenants::Only(tenants.into_iter().collect())
        }
    }

    /// As a list of tenant ids (`*` for every tenant).
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Tenants::All => vec!["*".to_owned()],
            Tenants::Only(tenants) => tenants.iter().cloned().collect(),
        }
    }

    /// Every tenant of `other` is one of these.
    pub fn covers(&self, other: &Tenants) -> bool {
        match (self, other) {
            (Tenants::All, _) => true,
            (Tenants::Only(_), Tenants::All) => false,
            (Tenants::Only(mine), Tenants::Only(theirs)) => theirs.is_subset(mine),
        }
    }

    pub fn contains(&self, tenant: &str) -> bool {
        match self {
            Tenants::All => true,
            Tenants::Only(tenants) => tenants.contains(tenant),
        }
    }
}
