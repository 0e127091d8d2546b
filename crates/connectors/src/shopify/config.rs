use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Secret;
use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use super::{ShopifyAccess, ShopifyConnector, ShopifySystem};
use crate::{BuildContext, BuildError, ConnectorSettings};

/// A Shopify shop, spoken to through the Admin GraphQL API.
///
/// ```toml
/// [tenants.acme.connections.shop]
/// type = "shopify"
/// shop = "acme"                                  # acme.myshopify.com, or any https:// address
/// access_token = { env = "SHOPIFY_ACCESS_TOKEN" }  # the app's Admin API access token
/// client_secret = { env = "SHOPIFY_CLIENT_SECRET" } # signs the shop's webhooks
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyConfig {
    /// The shop: its handle (`acme` → `https://acme.myshopify.com`), its
    /// `*.myshopify.com` domain, or the https:// address of a custom domain or proxy
    /// that serves the Admin API.
    pub shop: String,
    /// The Admin API access token of the custom app (`shpat_…`).
    pub access_token: Secret,
    /// The app's client secret, with which Shopify signs webhooks. Without it, webhooks
    /// are refused and Kontor relies on polling alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// The Admin API version spoken (Shopify supports each for a year).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The language product names and descriptions are taken in (translations are
    /// Shopify's Translate & Adapt's business).
    #[serde(default = "default_language")]
    pub language: String,
    /// A PEM file with a certificate authority to trust besides the public ones (a
    /// proxy on premises); relative paths are read from the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Batches of more products than this are written as one bulk operation (staged
    /// JSONL, run in the background by Shopify) instead of one call per product.
    #[serde(default = "default_bulk_threshold")]
    pub bulk_threshold: usize,
    /// How long a bulk operation may run before the job is retried later.
    #[serde(default = "default_bulk_timeout", with = "humantime_serde")]
    pub bulk_timeout: Duration,
    /// Moved to the shipments flow (`complete_status = "completed"` closes a Shopify
    /// order): when an order counts as done is the merchant's policy, not the
    /// connector's. Refused with that hint.
    #[serde(default, skip_serializing)]
    pub close_when_fulfilled: Option<bool>,
    /// How long one call may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How far behind now incremental reads stop (Shopify stamps whole seconds).
    #[serde(default = "default_poll_lag", with = "humantime_serde")]
    pub poll_lag: Duration,
    /// How many times a throttled call is retried after the wait the bucket needs.
    #[serde(default = "default_retries")]
    pub rate_limit_retries: u32,
    /// The longest wait honoured in place; a longer one goes back to the queue.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
}

fn default_api_version() -> String {
    "2026-10".to_owned()
}

fn default_language() -> String {
    "en".to_owned()
}

fn default_bulk_threshold() -> usize {
    20
}

fn default_bulk_timeout() -> Duration {
    Duration::from_secs(600)
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_poll_lag() -> Duration {
    Duration::from_secs(2)
}

fn default_retries() -> u32 {
    5
}

fn default_max_wait() -> Duration {
    Duration::from_secs(30)
}

impl ShopifyConfig {
    /// The shop's base address: `https://<handle>.myshopify.com` for a bare handle.
    pub fn base_url(&self) -> String {
        let shop = self.shop.trim().trim_end_matches('/');
        if shop.contains("://") {
            shop.to_owned()
        } else if shop.contains('.') {
            format!("https://{shop}")
        } else {
            format!("https://{shop}.myshopify.com")
        }
    }
}

impl ConnectorSettings for ShopifyConfig {
    fn capabilities(&self) -> Capabilities {
        super::CAPABILITIES.iter().copied().collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.close_when_fulfilled.is_some() {
            problems.push((
                "close_when_fulfilled",
                "moved to the shipments flow: set its `complete_status` to `completed` to close fulfilled orders".to_owned(),
            ));
        }
        if self.shop.trim().is_empty() {
            problems.push((
                "shop",
                "is empty; give the shop's handle or address".to_owned(),
            ));
        } else if !self.base_url().starts_with("https://") {
            problems.push((
                "shop",
                format!(
                    "`{}` is not https://; Shopify serves the Admin API over HTTPS only",
                    self.shop
                ),
            ));
        }
        let version_ok = self.api_version == "unstable"
            || (self.api_version.len() == 7
                && self.api_version.as_bytes()[4] == b'-'
                && self.api_version[..4].bytes().all(|b| b.is_ascii_digit())
                && matches!(&self.api_version[5..], "01" | "04" | "07" | "10"));
        if !version_ok {
            problems.push((
                "api_version",
                format!(
                    "`{}` is not a Shopify API version (YYYY-01, -04, -07 or -10)",
                    self.api_version
                ),
            ));
        }
        if self.timeout < Duration::from_secs(1) {
            problems.push(("timeout", "must be at least 1s".to_owned()));
        }
        problems
    }

    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        let mut secrets = vec![("access_token", &mut self.access_token)];
        secrets.extend(self.client_secret.as_mut().map(|s| ("client_secret", s)));
        secrets
    }

    fn files(&self) -> Vec<(&'static str, &Path)> {
        crate::registry::file_at("ca_file", self.ca_file.as_deref())
    }

    fn address(&self) -> Option<String> {
        Some(self.base_url())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        let access = ShopifyAccess {
            access_token: ctx.secret("access_token", &self.access_token)?,
            client_secret: ctx.optional_secret("client_secret", self.client_secret.as_ref())?,
            ca_pem: ctx.read_file("ca_file", self.ca_file.as_deref())?,
        };
        let system =
            ShopifySystem::new(self.clone(), access).map_err(|e| ctx.fail(e.to_string()))?;
        system.meter().name(ctx.tenant, ctx.connection, "shopify");
        Ok(Arc::new(ShopifyConnector { system }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(shop: &str) -> ShopifyConfig {
        toml::from_str(&format!(
            "shop = \"{shop}\"\naccess_token = {{ value = \"t\" }}"
        ))
        .expect("parses")
    }

    #[test]
    fn shops_are_named_by_handle_domain_or_custom_address() {
        assert_eq!(config("acme").base_url(), "https://acme.myshopify.com");
        assert_eq!(
            config("acme.myshopify.com").base_url(),
            "https://acme.myshopify.com"
        );
        assert_eq!(
            config("https://sklep.example.pl/").base_url(),
            "https://sklep.example.pl"
        );
        assert!(config("acme").problems().is_empty());
        let keys: Vec<&str> = config("http://shop.example.com")
            .problems()
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(keys, ["shop"]);
        let mut odd = config("acme");
        odd.api_version = "2026-13".into();
        assert_eq!(odd.problems()[0].0, "api_version");
        assert!(
            toml::from_str::<ShopifyConfig>(
                "shop = \"a\"\naccess_token = { value = \"t\" }\nacess = 1"
            )
            .expect_err("unknown key")
            .to_string()
            .contains("acess")
        );
    }
}
