use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Secret;
use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use super::{VendureConnector, VendureSystem};
use crate::{BuildContext, BuildError, ConnectorSettings};

/// A Vendure shop, spoken to through its Admin GraphQL API.
///
/// ```toml
/// [tenants.acme.connections.shop]
/// type = "vendure"
/// url = "https://shop.example.com/admin-api"
/// username = "kontor"
/// password = { env = "VENDURE_PASSWORD" }
/// language = "pl"                      # product names are written in this language
/// webhook_secret = { env = "VENDURE_WEBHOOK_SECRET" }  # shared with Kontor's plugin
/// [tenants.acme.connections.shop.stock_locations]
/// MAIN = "Default Stock Location"      # Kontor's location → Vendure's stock location name
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendureConfig {
    /// The Admin API's address, e.g. `https://shop.example.com/admin-api`.
    pub url: String,
    /// An administrator allowed to edit the catalogue and orders.
    pub username: String,
    pub password: Secret,
    /// The channel to work in (its token); the default channel when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_token: Option<String>,
    /// The language product names and descriptions are written in (a Vendure
    /// `LanguageCode`, e.g. `en`, `pl`); the product's text in that language is used,
    /// else its first.
    #[serde(default = "default_language")]
    pub language: String,
    /// Kontor's stock location names (from the stock flow's warehouse map) → Vendure
    /// stock location names. Unlisted names are used as they are.
    #[serde(default)]
    pub stock_locations: BTreeMap<String, String>,
    /// `upload` (default): product images are fetched from their URLs and uploaded as
    /// Vendure assets (once each); `skip`: images are left to the shop.
    #[serde(default)]
    pub images: ImagePolicy,
    /// Shared with Kontor's Vendure plugin, which signs its notices with it. Without it,
    /// webhooks are refused and Kontor relies on polling alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<Secret>,
    /// How long one call may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How far behind now incremental reads stop: an order stamped `orderPlacedAt`
    /// commits a moment later.
    #[serde(default = "default_poll_lag", with = "humantime_serde")]
    pub poll_lag: Duration,
    /// How often polling also re-reads orders still open, to notice state changes
    /// (cancellations) that Vendure does not record in `updatedAt`, when no webhook said
    /// so. Zero turns it off.
    #[serde(default = "default_recheck_every", with = "humantime_serde")]
    pub recheck_every: Duration,
    /// How far back that re-read reaches, by `orderPlacedAt`.
    #[serde(default = "default_recheck_window", with = "humantime_serde")]
    pub recheck_window: Duration,
}

/// What to do with products' images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImagePolicy {
    #[default]
    Upload,
    Skip,
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

fn default_recheck_every() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_recheck_window() -> Duration {
    Duration::from_secs(14 * 24 * 3600)
}

impl VendureConfig {
    /// Vendure's name for one of Kontor's stock locations.
    pub(crate) fn stock_location<'a>(&'a self, location: &'a str) -> &'a str {
        self.stock_locations
            .get(location)
            .map_or(location, String::as_str)
    }
}

impl ConnectorSettings for VendureConfig {
    fn capabilities(&self) -> Capabilities {
        super::CAPABILITIES.iter().copied().collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            problems.push(("url", format!("`{}` is not an http(s) URL", self.url)));
        }
        if self.username.trim().is_empty() {
            problems.push(("username", "is required".to_owned()));
        }
        let language = &self.language;
        if language.len() < 2
            || !language
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '_')
        {
            problems.push((
                "language",
                format!("`{language}` is not a language code such as `en` or `pt_BR`"),
            ));
        }
        if self.timeout < Duration::from_secs(1) {
            problems.push(("timeout", "must be at least 1s".to_owned()));
        }
        problems
    }

    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        let mut secrets = vec![("password", &mut self.password)];
        secrets.extend(self.webhook_secret.as_mut().map(|s| ("webhook_secret", s)));
        secrets
    }

    fn address(&self) -> Option<String> {
        Some(self.url.clone())
    }

    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        let password = ctx.secret("password", &self.password)?;
        let webhook_secret = ctx.optional_secret("webhook_secret", self.webhook_secret.as_ref())?;
        let system = VendureSystem::new(self.clone(), password, webhook_secret)
            .map_err(|e| ctx.fail(e.to_string()))?;
        system.meter().name(ctx.tenant, ctx.connection, "vendure");
        Ok(Arc::new(VendureConnector { system }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_sensibly_and_problems_name_the_key() {
        let config: VendureConfig = toml::from_str(
            r#"
            url = "shop.example.com/admin-api"
            username = "kontor"
            password = { env = "VENDURE_PASSWORD" }
            language = "p l"
            stock_locations = { MAIN = "Default Stock Location" }
            "#,
        )
        .expect("parses");
        assert_eq!(config.poll_lag, Duration::from_secs(2));
        assert_eq!(config.recheck_every, Duration::from_secs(900));
        assert_eq!(config.stock_location("MAIN"), "Default Stock Location");
        assert_eq!(config.stock_location("Showroom"), "Showroom");
        let keys: Vec<&str> = config.problems().iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, ["url", "language"]);
        let unknown = toml::from_str::<VendureConfig>(
            "url = \"http://x\"\nusername = \"u\"\npassword = { value = \"p\" }\nchanel_token = \"t\"",
        );
        assert!(
            unknown
                .expect_err("unknown key")
                .to_string()
                .contains("chanel_token")
        );
    }
}
