//! `memory`: a shop and an ERP held in memory, optionally persisted to a journal file,
//! with knobs for latency, errors, rate limits and outages. Used by the tests, the
//! benchmarks and `kontor demo`.

mod config;
#[cfg(test)]
mod conformance;
mod connector;
mod ports;
mod seed;
mod state;
mod system;
#[cfg(test)]
mod tests;

pub use config::{MemoryConfig, OutageConfig};
pub use connector::MemoryConnector;
pub use seed::{
    DemoCatalogue, OrderGenerator, SHOWROOM_WAREHOUSE, SellableItem, WEB_WAREHOUSE, demo_catalogue,
    seed_demo,
};
pub use system::{Changed, Knobs, MemorySystem, Outage, TaxRounding};
