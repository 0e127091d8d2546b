use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Secret;
use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use super::{TrytonConnector, TrytonSystem};
use crate::{BuildContext, BuildError, ConnectorSettings};

/// A Tryton server, spoken to over JSON-RPC.
///
/// ```toml
/// [tenants.acme.connections.erp]
/// type = "tryton"
/// url = "http://erp.internal:8000"
/// database = "acme"
/// username = "kontor"
/// password = { env = "TRYTON_PASSWORD" }
/// warehouses = ["WH"]          # stock is read from these; sales ship from the first
/// languages = ["pl", "en"]     # product names are read in these
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrytonConfig {
    /// The server's address, without the database.
    pub url: String,
    pub database: String,
    pub username: String,
    pub password: Secret,
    /// How long one call may take (confirming a sale or posting an invoice takes seconds).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Warehouse codes to read stock from; sales ship from the first. Empty: every
    /// warehouse, and Tryton's default for sales.
    #[serde(default)]
    pub warehouses: Vec<String>,
    /// Languages to read product names and descriptions in (the first is the default).
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// The invoice payment method shop payments are recorded with, by name (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// The payment term of new sales, by name (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_term: Option<String>,
    /// The shipment field holding the tracking number (`reference` in base Tryton).
    #[serde(default = "default_tracking_field")]
    pub tracking_field: String,
    /// The carrier named on shipments (base Tryton has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// How far behind now incremental reads stop: covers transactions that commit after
    /// they stamp `write_date`, and clock differences.
    #[serde(default = "default_poll_lag", with = "humantime_serde")]
    pub poll_lag: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_languages() -> Vec<String> {
    vec!["en".to_owned()]
}

fn default_tracking_field() -> String {
    "reference".to_owned()
}

fn default_poll_lag() -> Duration {
    Duration::from_secs(5)
}

impl ConnectorSettings for TrytonConfig {
    fn capabilities(&self) -> Capabilities {
        super::CAPABILITIES.iter().copied().collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            problems.push(("url", format!("`{}` is not an http(s) URL", self.url)));
        }
        if self.database.trim().is_empty() {
            problems.push(("database", "is required".to_owned()));
        }
        if self.username.trim().is_empty() {
            problems.push(("username", "is required".to_owned()));
        }
        if self.languages.is_empty() {
            problems.push(("languages", "needs at least one language".to_owned()));
        }
        if self.timeout < Duration::from_secs(1) {
            problems.push(("timeout", "must be at least 1s".to_owned()));
        }
        problems
    }

    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        vec![("password", &mut self.password)]
    }

    fn address(&self) -> Option<String> {
        Some(format!("{} {}", self.url, self.database))
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        let password = ctx.secret("password", &self.password)?;
        let system =
            TrytonSystem::new(self.clone(), password).map_err(|e| ctx.fail(e.to_string()))?;
        system.meter().name(ctx.tenant, ctx.connection, "tryton");
        Ok(Arc::new(TrytonConnector { system }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_sensibly_and_problems_name_the_key() {
        let config: TrytonConfig = toml::from_str(
            r#"
            url = "erp.internal:8000"
            database = "acme"
            username = "kontor"
            password = { env = "TRYTON_PASSWORD" }
            languages = []
            "#,
        )
        .expect("parses");
        assert_eq!(
            (config.timeout, config.poll_lag),
            (Duration::from_secs(60), Duration::from_secs(5))
        );
        let keys: Vec<&str> = config.problems().iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, ["url", "languages"]);
        let unknown = toml::from_str::<TrytonConfig>(
            "url = \"http://x\"\ndatabase = \"a\"\nusername = \"u\"\npassword = { value = \"p\" }\npasword = 1",
        );
        assert!(
            unknown
                .expect_err("unknown key")
                .to_string()
                .contains("pasword")
        );
    }
}
