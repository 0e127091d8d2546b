use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Secret;
use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use super::{WooCommerceAccess, WooCommerceConnector, WooCommerceSystem};
use crate::{BuildContext, BuildError, ConnectorSettings};

/// A WooCommerce store, spoken to through its REST API (`/wp-json/wc/v3`).
///
/// ```toml
/// [tenants.acme.connections.shop]
/// type = "woocommerce"
/// url = "https://shop.example.com"            # the WordPress site; HTTPS only
/// consumer_key = { env = "WC_CONSUMER_KEY" }  # WooCommerce › Settings › Advanced › REST API
/// consumer_secret = { env = "WC_CONSUMER_SECRET" }
/// webhook_secret = { env = "WC_WEBHOOK_SECRET" }  # the secret of the store's webhooks
/// location = "MAIN"                           # the one stock location the store sells from
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WooCommerceConfig {
    /// The site's address, e.g. `https://shop.example.com` (the API is under
    /// `/wp-json/wc/v3`). WooCommerce takes keys as HTTP Basic credentials only over
    /// HTTPS, so `http://` is refused.
    pub url: String,
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    /// The language product names and descriptions are taken in (WooCommerce holds one);
    /// a product without text in it gives its first.
    #[serde(default = "default_language")]
    pub language: String,
    /// The secret the store's webhooks are created with. Without it, webhooks are
    /// refused and Kontor relies on polling alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// A PEM file with the certificate authority of a store whose certificate is not
    /// publicly trusted (on premises); relative paths are read from the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// WooCommerce keeps one stock quantity per product: the Kontor location (from the
    /// stock flow's warehouse map) it comes from. Updates for other locations are
    /// refused. Unset: any location is taken (map exactly one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Moved to the shipments flow (`complete_status`): when an order counts as
    /// complete is the merchant's policy, not the connector's. Refused with that hint.
    #[serde(default, skip_serializing)]
    pub complete_when_shipped: Option<bool>,
    /// How long one call may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How far behind now incremental reads stop (WordPress stamps whole seconds).
    #[serde(default = "default_poll_lag", with = "humantime_serde")]
    pub poll_lag: Duration,
    /// How many times a call answered `429`/`503` is retried after the wait the store
    /// asks for, before the job is put back in the queue.
    #[serde(default = "default_retries")]
    pub rate_limit_retries: u32,
    /// The longest wait honoured in place; a longer `Retry-After` goes back to the queue.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
}

fn default_language() -> String {
    "en".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_poll_lag() -> Duration {
    Duration::from_secs(2)
}

fn default_retries() -> u32 {
    3
}

fn default_max_wait() -> Duration {
    Duration::from_secs(30)
}

impl ConnectorSettings for WooCommerceConfig {
    fn capabilities(&self) -> Capabilities {
        super::CAPABILITIES.iter().copied().collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.complete_when_shipped.is_some() {
            problems.push((
                "complete_when_shipped",
                "moved to the shipments flow: set its `complete_status` (`shipped` completes a WooCommerce order)".to_owned(),
            ));
        }
        if !self.url.starts_with("https://") {
            problems.push((
                "url",
                format!(
                    "`{}` is not an https:// URL; WooCommerce accepts consumer keys only over HTTPS",
                    self.url
                ),
            ));
        }
        if self.timeout < Duration::from_secs(1) {
            problems.push(("timeout", "must be at least 1s".to_owned()));
        }
        problems
    }

    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        let mut secrets = vec![
            ("consumer_key", &mut self.consumer_key),
            ("consumer_secret", &mut self.consumer_secret),
        ];
        secrets.extend(self.webhook_secret.as_mut().map(|s| ("webhook_secret", s)));
        secrets
    }

    fn files(&self) -> Vec<(&'static str, &Path)> {
        crate::registry::file_at("ca_file", self.ca_file.as_deref())
    }

    fn address(&self) -> Option<String> {
        Some(self.url.clone())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        let access = WooCommerceAccess {
            consumer_key: ctx.secret("consumer_key", &self.consumer_key)?,
            consumer_secret: ctx.secret("consumer_secret", &self.consumer_secret)?,
            webhook_secret: ctx.optional_secret("webhook_secret", self.webhook_secret.as_ref())?,
            ca_pem: ctx.read_file("ca_file", self.ca_file.as_deref())?,
        };
        let system =
            WooCommerceSystem::new(self.clone(), access).map_err(|e| ctx.fail(e.to_string()))?;
        system
            .meter()
            .name(ctx.tenant, ctx.connection, "woocommerce");
        Ok(Arc::new(WooCommerceConnector { system }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_sensibly_and_problems_name_the_key() {
        let config: WooCommerceConfig = toml::from_str(
            r#"
            url = "http://shop.example.com"
            consumer_key = { env = "WC_KEY" }
            consumer_secret = { value = "cs" }
            timeout = "100ms"
            complete_when_shipped = true
            "#,
        )
        .expect("parses");
        assert_eq!(config.rate_limit_retries, 3);
        let keys: Vec<&str> = config.problems().iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, ["complete_when_shipped", "url", "timeout"]);
        let unknown = toml::from_str::<WooCommerceConfig>(
            "url = \"https://x\"\nconsumer_key = { value = \"k\" }\nconsumer_secret = { value = \"s\" }\nlocaton = \"MAIN\"",
        );
        assert!(
            unknown
                .expect_err("unknown key")
                .to_string()
                .contains("locaton")
        );
    }
}
