//! Kontor's benchmarks. Each measures Kontor and, in the same run, the floor it cannot
//! beat, and reports both with their ratio and the target it must meet:
//!
//! - `orders` — orders through the API, the queue and the orders flow into a memory ERP,
//!   against a bare HTTP client posting them straight to an ERP endpoint;
//! - `catalogue` — a 1 % change of a large catalogue, in shop API calls against the
//!   fewest the shop's batch limit allows, and in memory as the catalogue grows;
//! - `stock` — a stock change in the ERP until the shop shows it, polled and on events;
//! - `footprint` — binary size, idle memory and start-up of `kontor run`, against a
//!   bare HTTP server process.
//!
//! `scripts/bench` runs them all and writes `bench-results/bench.json` and `bench.md`.

pub mod cases;
pub mod catalogue;
pub mod client;
pub mod footprint;
pub mod harness;
pub mod measure;
pub mod orders;
pub mod report;
pub mod stock;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    App(#[from] kontor::app::AppError),
    #[error(transparent)]
    Config(#[from] kontor::config::ConfigError),
    #[error(transparent)]
    Store(#[from] kontor_engine::StoreError),
    #[error(transparent)]
    Client(#[from] client::ClientError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

impl BenchError {
    pub fn io(what: &str, source: std::io::Error) -> Self {
        BenchError::Io {
            what: what.to_owned(),
            source,
        }
    }
}
