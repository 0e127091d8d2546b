//! The registry: every kind of connection Kontor can make, one line each.
//!
//! A connector is its folder. The folder's settings type (`type = "…"` in a connection's
//! TOML) implements [`ConnectorSettings`]: what its problems are without connecting,
//! which of its fields are secrets and files, what it can do, and how to build the
//! connection. Adding a connector is a new folder, one line in [`registry!`] below, and
//! the conformance suite run against it (`tests/conformance/`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kontor_connector::{Capabilities, Connector, Secret};
use serde::{Deserialize, Serialize};

use crate::inbox::OrderInbox;
use crate::{MemoryRegistry, tenant_files};

/// One kind of connector's typed settings, and how a connection is built from them.
pub trait ConnectorSettings: std::fmt::Debug + Send + Sync {
    /// What a connection with these settings can do, known without building it.
    fn capabilities(&self) -> Capabilities;

    /// Problems found without connecting, as (key relative to the connection, message).
    fn problems(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The secrets among the settings, by key (sealed for the store, opened to build).
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        Vec::new()
    }

    /// The files the settings name, by key: each lives in the tenant's folder.
    fn files(&self) -> Vec<(&'static str, &Path)> {
        Vec::new()
    }

    /// The address the connection's credentials are sent to (`None`: nowhere). A
    /// secret kept from saved settings is only used with the same address.
    fn address(&self) -> Option<String> {
        None
    }

    /// Builds the connection. Nothing is sent to the system yet.
    fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError>;
}

/// What a shop connector offers: the catalogue, prices, stock and accounts written
/// to it; its orders and returns read; fulfilments and statuses set.
pub(crate) const SHOP_CAPABILITIES: &[kontor_connector::Capability] = {
    use kontor_connector::Capability::*;
    &[
        CatalogueWrite,
        AccountWrite,
        StockWrite,
        PriceWrite,
        OrderRead,
        FulfilmentWrite,
        OrderStatusWrite,
        ReturnRead,
    ]
};

/// The file a setting names, if it names one, for [`ConnectorSettings::files`].
pub(crate) fn file_at<'a>(
    key: &'static str,
    file: Option<&'a Path>,
) -> Vec<(&'static str, &'a Path)> {
    file.map(|file| (key, file)).into_iter().collect()
}

/// What building a connection may need from its surroundings.
pub struct BuildContext<'a> {
    pub tenant: &'a str,
    pub connection: &'a str,
    /// The tenant's own folder: the files a connection names are resolved inside it
    /// (see [`tenant_files`]).
    pub tenant_dir: &'a Path,
    pub memory: &'a MemoryRegistry,
    /// Where orders submitted through the API are kept (for `api` connections).
    pub inbox: Option<&'a Arc<dyn OrderInbox>>,
}

impl BuildContext<'_> {
    /// A build error of this connection.
    pub fn fail(&self, message: impl Into<String>) -> BuildError {
        BuildError {
            connection: self.connection.to_owned(),
            message: message.into(),
        }
    }

    /// The value of the secret at `key`.
    pub fn secret(&self, key: &str, secret: &Secret) -> Result<String, BuildError> {
        secret
            .resolve()
            .map_err(|e| self.fail(format!("{key}: {e}")))
    }

    /// The value of the optional secret at `key`.
    pub fn optional_secret(
        &self,
        key: &str,
        secret: Option<&Secret>,
    ) -> Result<Option<String>, BuildError> {
        secret.map(|s| self.secret(key, s)).transpose()
    }

    /// Where the file at `key` is, inside the tenant's folder.
    pub fn file(&self, key: &str, file: &Path) -> Result<PathBuf, BuildError> {
        tenant_files::resolve(self.tenant_dir, file).map_err(|e| self.fail(format!("{key}: {e}")))
    }

    /// The contents of the optional file at `key`.
    pub fn read_file(&self, key: &str, file: Option<&Path>) -> Result<Option<Vec<u8>>, BuildError> {
        let Some(file) = file else {
            return Ok(None);
        };
        let path = self.file(key, file)?;
        std::fs::read(&path)
            .map(Some)
            .map_err(|e| self.fail(format!("{key}: cannot read {}: {e}", file.display())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("connection `{connection}`: {message}")]
pub struct BuildError {
    pub connection: String,
    pub message: String,
}

/// The registry's one list becomes [`ConnectionConfig`]: a connection's settings, the
/// `type` key choosing the connector.
macro_rules! registry {
    ($($(#[$doc:meta])* $kind:literal => $variant:ident($settings:ty),)*) => {
        /// A connection's settings; `type` selects the connector.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum ConnectionConfig {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($settings),)*
        }

        impl ConnectionConfig {
            /// Every connector's `type`, as the registry lists them.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The connector's `type`: `memory`, `tryton`, `shopify`, …
            pub fn kind(&self) -> &'static str {
                match self {
                    $(ConnectionConfig::$variant(_) => $kind,)*
                }
            }

            /// The typed settings behind the connector's `type`.
            pub fn settings(&self) -> &dyn ConnectorSettings {
                match self {
                    $(ConnectionConfig::$variant(settings) => settings,)*
                }
            }

            fn settings_mut(&mut self) -> &mut dyn ConnectorSettings {
                match self {
                    $(ConnectionConfig::$variant(settings) => settings,)*
                }
            }
        }
    };
}

registry! {
    /// A shop or ERP held in memory: the demo, tests and benchmarks.
    "memory" => Memory(crate::memory::MemoryConfig),
    "tryton" => Tryton(crate::tryton::TrytonConfig),
    "vendure" => Vendure(crate::vendure::VendureConfig),
    "woocommerce" => WooCommerce(crate::woocommerce::WooCommerceConfig),
    "shopify" => Shopify(crate::shopify::ShopifyConfig),
    /// Orders handed over through Kontor's API.
    "api" => Api(crate::inbox::InboxConfig),
}

impl ConnectionConfig {
    /// Problems found without connecting, as (key relative to the connection, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = self.settings().problems();
        for (key, path) in self.files() {
            if let Some(problem) = tenant_files::path_problem(path) {
                problems.push((key, problem));
            }
        }
        problems
    }

    /// The files the connection names, by key: each lives in the tenant's folder.
    pub fn files(&self) -> Vec<(&'static str, &Path)> {
        self.settings().files()
    }

    /// The address the connection's credentials are sent to (`None`: it sends them
    /// nowhere). A secret kept from saved settings is only used with the same address.
    pub fn address(&self) -> Option<String> {
        self.settings().address()
    }

    /// The connection's secrets, by key (to seal them for the store, and open them).
    pub fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Secret)> {
        self.settings_mut().secrets_mut()
    }

    /// The connection's secrets, by key, as configured.
    pub fn secrets(&self) -> Vec<(&'static str, Secret)> {
        let mut copy = self.clone();
        copy.secrets_mut()
            .into_iter()
            .map(|(name, secret)| (name, secret.clone()))
            .collect()
    }

    /// What a connection of this configuration can do, known without connecting.
    pub fn capabilities(&self) -> Capabilities {
        self.settings().capabilities()
    }

    /// Builds the connection. Nothing is sent to the system yet.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        self.settings().build(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One connection of each kind, as its TOML would give it.
    fn one_of_each() -> Vec<ConnectionConfig> {
        [
            serde_json::json!({"type": "memory"}),
            serde_json::json!({"type": "tryton", "url": "http://127.0.0.1:9", "database": "erp", "username": "kontor", "password": {"value": "x"}}),
            serde_json::json!({"type": "vendure", "url": "http://127.0.0.1:9/admin-api", "username": "kontor", "password": {"value": "x"}}),
            serde_json::json!({"type": "woocommerce", "url": "https://shop.example", "consumer_key": {"value": "x"}, "consumer_secret": {"value": "x"}}),
            serde_json::json!({"type": "shopify", "shop": "kontor-test", "access_token": {"value": "x"}}),
            serde_json::json!({"type": "api"}),
        ]
        .into_iter()
        .map(|settings| serde_json::from_value(settings).expect("settings"))
        .collect()
    }

    #[test]
    fn every_kind_says_what_it_can_do_as_its_built_connection_does() {
        let configs = one_of_each();
        let kinds: Vec<&str> = configs.iter().map(ConnectionConfig::kind).collect();
        assert_eq!(
            kinds,
            ConnectionConfig::KINDS,
            "one sample per registered kind"
        );
        let memory = MemoryRegistry::default();
        let inbox: Arc<dyn OrderInbox> = Arc::new(NoInbox);
        let dir = tempfile::tempdir().expect("a folder");
        for config in &configs {
            assert!(config.problems().is_empty(), "{:?}", config.problems());
            let built = config
                .build(&BuildContext {
                    tenant: "acme",
                    connection: "c",
                    tenant_dir: dir.path(),
                    memory: &memory,
                    inbox: Some(&inbox),
                })
                .expect("builds");
            assert_eq!(built.kind(), config.kind());
            assert_eq!(
                built.capabilities(),
                config.capabilities(),
                "{}: the settings and the connection disagree",
                config.kind()
            );
        }
    }

    struct NoInbox;

    #[async_trait::async_trait]
    impl OrderInbox for NoInbox {
        async fn submitted_after(
            &self,
            _: &str,
            _: &str,
            _: i64,
            _: usize,
        ) -> Result<Vec<(i64, kontor_model::Order)>, kontor_connector::ConnectorError> {
            Ok(Vec::new())
        }

        async fn submitted(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Option<kontor_model::Order>, kontor_connector::ConnectorError> {
            Ok(None)
        }
    }
}
