use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use super::system::{Knobs, Outage};
use super::{MemoryConnector, MemorySystem};
use crate::{BuildContext, BuildError, ConnectorSettings};

/// A shop or ERP held in memory — for the demo, tests and benchmarks.
///
/// ```toml
/// [tenants.demo.connections.erp]
/// type = "memory"
/// state_file = "erp.jsonl"   # keep records across restarts (relative to the data dir)
/// seed_demo = true           # fill an empty system with the demo catalogue
/// latency = "5ms"
/// error_rate = 0.02          # share of calls failing with 503
/// rate_limit = 50            # calls per second
/// outage = { after = "60s", lasting = "20s" }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    /// Journal file keeping the system's records across restarts; in memory only when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// Fill an empty system with the demo catalogue, prices and stock.
    #[serde(default)]
    pub seed_demo: bool,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<Duration>,
    /// Share of calls, from 0 to 1, that fail as if the system answered 503.
    #[serde(default)]
    pub error_rate: f64,
    /// Calls per second; beyond that calls are refused with a Retry-After.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage: Option<OutageConfig>,
    /// Most records one batch call accepts (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// As an ERP: the warehouse sales reserve from and returns go to (default `MAIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_warehouse: Option<String>,
    /// As an ERP: round tax per `document` (default) or per `line`.
    #[serde(default)]
    pub tax_rounding: super::system::TaxRounding,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutageConfig {
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    #[serde(with = "humantime_serde")]
    pub lasting: Duration,
}

impl MemoryConfig {
    pub fn knobs(&self) -> Knobs {
        Knobs {
            latency: self.latency.unwrap_or_default(),
            error_rate: self.error_rate,
            rate_limit: self.rate_limit,
            outage: self.outage.map(|o| Outage {
                after: o.after,
                lasting: o.lasting,
            }),
            batch_size: self.batch_size.unwrap_or(100),
            default_warehouse: self
                .default_warehouse
                .clone()
                .unwrap_or_else(|| super::seed::WEB_WAREHOUSE.to_owned()),
            tax_rounding: self.tax_rounding,
        }
    }
}

impl ConnectorSettings for MemoryConfig {
    fn capabilities(&self) -> Capabilities {
        super::connector::CAPABILITIES.iter().copied().collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(0.0..=1.0).contains(&self.error_rate) {
            problems.push((
                "error_rate",
                format!("must be between 0 and 1, is {}", self.error_rate),
            ));
        }
        if self.rate_limit == Some(0) {
            problems.push((
                "rate_limit",
                "must be at least 1 call per second".to_owned(),
            ));
        }
        if self.batch_size == Some(0) {
            problems.push(("batch_size", "must be at least 1".to_owned()));
        }
        problems
    }

    fn files(&self) -> Vec<(&'static str, &Path)> {
        crate::registry::file_at("state_file", self.state_file.as_deref())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        // One system per connection and process, shared with whoever else asks for it
        // (the demo, tests, a rebuilt tenant keeping its records).
        let system = match ctx.memory.get(ctx.tenant, ctx.connection) {
            Some(system) => system,
            None => {
                let name = format!("{}/{}", ctx.tenant, ctx.connection);
                let system = match &self.state_file {
                    Some(file) => {
                        let path = ctx.file("state_file", file)?;
                        MemorySystem::open(&name, &path).map_err(|e| {
                            ctx.fail(format!("state_file: cannot open {}: {e}", file.display()))
                        })?
                    }
                    None => MemorySystem::new(&name),
                };
                if self.seed_demo && system.is_empty() {
                    super::seed_demo(&system, 1)
                        .map_err(|e| ctx.fail(format!("cannot seed demo data: {e}")))?;
                }
                ctx.memory
                    .insert(ctx.tenant, ctx.connection, system.clone());
                system
            }
        };
        system.set_knobs(self.knobs());
        Ok(Arc::new(MemoryConnector { system }))
    }
}
