//! Kontor's connectors, one folder per external system (adapter + mappers + tests), and
//! the registry that builds a configured connection.

/// Port accessors of a connector whose ports are all implemented by its `system`.
macro_rules! ports {
    ($($accessor:ident: $port:ident),* $(,)?) => {
        $(
            fn $accessor(&self) -> Option<std::sync::Arc<dyn $port>> {
                Some(std::sync::Arc::new(self.system.clone()))
            }
        )*
    };
}

mod http;
pub mod inbox;
pub mod memory;
mod seconds_cursor;
pub mod shopify;
mod signature;
mod single_price;
pub mod tenant_files;
pub mod tryton;
pub mod vendure;
pub mod woocommerce;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use kontor_connector::{Capabilities, Connector};
use serde::{Deserialize, Serialize};

use inbox::{InboxConfig, InboxConnector, OrderInbox};
use memory::{MemoryConfig, MemoryConnector, MemorySystem};
use shopify::{ShopifyAccess, ShopifyConfig, ShopifyConnector, ShopifySystem};
use tryton::{TrytonConfig, TrytonConnector, TrytonSystem};
use vendure::{VendureConfig, VendureConnector, VendureSystem};
use woocommerce::{WooCommerceAccess, WooCommerceConfig, WooCommerceConnector, WooCommerceSystem};

/// A connection's settings; `type` selects the connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConnectionConfig {
    Memory(MemoryConfig),
    Tryton(TrytonConfig),
    Vendure(VendureConfig),
    #[serde(rename = "woocommerce")]
    WooCommerce(WooCommerceConfig),
    Shopify(ShopifyConfig),
    /// Orders handed over through Kontor's API.
    Api(InboxConfig),
}

impl ConnectionConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectionConfig::Memory(_) => "memory",
            ConnectionConfig::Tryton(_) => "tryton",
            ConnectionConfig::Vendure(_) => "vendure",
            ConnectionConfig::WooCommerce(_) => "woocommerce",
            ConnectionConfig::Shopify(_) => "shopify",
            ConnectionConfig::Api(_) => inbox::KIND,
        }
    }

    /// Problems found without connecting, as (key relative to the connection, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = match self {
            ConnectionConfig::Memory(config) => config.problems(),
            ConnectionConfig::Tryton(config) => config.problems(),
            ConnectionConfig::Vendure(config) => config.problems(),
            ConnectionConfig::WooCommerce(config) => config.problems(),
            ConnectionConfig::Shopify(config) => config.problems(),
            ConnectionConfig::Api(config) => config.problems(),
        };
        for (key, path) in self.files() {
            if let Some(problem) = tenant_files::path_problem(path) {
                problems.push((key, problem));
            }
        }
        problems
    }

    /// The files the connection names, by key: each lives in the tenant's folder.
    pub fn files(&self) -> Vec<(&'static str, &Path)> {
        let file = match self {
            ConnectionConfig::Memory(config) => {
                config.state_file.as_deref().map(|f| ("state_file", f))
            }
            ConnectionConfig::WooCommerce(config) => {
                config.ca_file.as_deref().map(|f| ("ca_file", f))
            }
            ConnectionConfig::Shopify(config) => config.ca_file.as_deref().map(|f| ("ca_file", f)),
            ConnectionConfig::Tryton(_)
            | ConnectionConfig::Vendure(_)
            | ConnectionConfig::Api(_) => None,
        };
        file.into_iter().collect()
    }

    /// The address the connection's credentials are sent to (`None`: it sends them
    /// nowhere). A secret kept from saved settings is only used with the same address.
    pub fn address(&self) -> Option<String> {
        match self {
            ConnectionConfig::Memory(_) | ConnectionConfig::Api(_) => None,
            ConnectionConfig::Tryton(config) => Some(format!("{} {}", config.url, config.database)),
            ConnectionConfig::Vendure(config) => Some(config.url.clone()),
            ConnectionConfig::WooCommerce(config) => Some(config.url.clone()),
            ConnectionConfig::Shopify(config) => Some(config.base_url()),
        }
    }

    /// The connection's secrets, by key (to seal them for the store, and open them).
    pub fn secrets_mut(&mut self) -> Vec<(&'static str, &mut kontor_connector::Secret)> {
        match self {
            ConnectionConfig::Memory(_) | ConnectionConfig::Api(_) => Vec::new(),
            ConnectionConfig::Tryton(config) => vec![("password", &mut config.password)],
            ConnectionConfig::Vendure(config) => {
                let mut secrets = vec![("password", &mut config.password)];
                secrets.extend(
                    config
                        .webhook_secret
                        .as_mut()
                        .map(|s| ("webhook_secret", s)),
                );
                secrets
            }
            ConnectionConfig::WooCommerce(config) => {
                let mut secrets = vec![
                    ("consumer_key", &mut config.consumer_key),
                    ("consumer_secret", &mut config.consumer_secret),
                ];
                secrets.extend(
                    config
                        .webhook_secret
                        .as_mut()
                        .map(|s| ("webhook_secret", s)),
                );
                secrets
            }
            ConnectionConfig::Shopify(config) => {
                let mut secrets = vec![("access_token", &mut config.access_token)];
                secrets.extend(config.client_secret.as_mut().map(|s| ("client_secret", s)));
                secrets
            }
        }
    }

    /// The connection's secrets, by key, as configured.
    pub fn secrets(&self) -> Vec<(&'static str, kontor_connector::Secret)> {
        let mut copy = self.clone();
        copy.secrets_mut()
            .into_iter()
            .map(|(name, secret)| (name, secret.clone()))
            .collect()
    }

    /// What a connection of this configuration can do, known without connecting.
    pub fn capabilities(&self) -> Capabilities {
        match self {
            ConnectionConfig::Memory(_) => MemoryConnector {
                system: MemorySystem::new("capabilities"),
            }
            .capabilities(),
            ConnectionConfig::Tryton(config) => TrytonSystem::new(config.clone(), String::new())
                .map(|system| TrytonConnector { system }.capabilities())
                .unwrap_or_default(),
            ConnectionConfig::Vendure(config) => {
                VendureSystem::new(config.clone(), String::new(), None)
                    .map(|system| VendureConnector { system }.capabilities())
                    .unwrap_or_default()
            }
            ConnectionConfig::WooCommerce(config) => WooCommerceSystem::new(
                config.clone(),
                WooCommerceAccess {
                    consumer_key: String::new(),
                    consumer_secret: String::new(),
                    webhook_secret: None,
                    ca_pem: None,
                },
            )
            .map(|system| WooCommerceConnector { system }.capabilities())
            .unwrap_or_default(),
            ConnectionConfig::Shopify(config) => ShopifySystem::new(
                config.clone(),
                ShopifyAccess {
                    access_token: String::new(),
                    client_secret: None,
                    ca_pem: None,
                },
            )
            .map(|system| ShopifyConnector { system }.capabilities())
            .unwrap_or_default(),
            ConnectionConfig::Api(_) => [kontor_connector::Capability::OrderRead]
                .into_iter()
                .collect(),
        }
    }
}

/// Memory systems shared by name within one process, so that tests and the demo can
/// reach the systems their connections use.
#[derive(Clone, Default)]
pub struct MemoryRegistry(Arc<Mutex<HashMap<String, MemorySystem>>>);

impl MemoryRegistry {
    pub fn key(tenant: &str, connection: &str) -> String {
        format!("{tenant}/{connection}")
    }

    pub fn insert(&self, tenant: &str, connection: &str, system: MemorySystem) {
        self.lock().insert(Self::key(tenant, connection), system);
    }

    pub fn get(&self, tenant: &str, connection: &str) -> Option<MemorySystem> {
        self.lock().get(&Self::key(tenant, connection)).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemorySystem>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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

#[derive(Debug, thiserror::Error)]
#[error("connection `{connection}`: {message}")]
pub struct BuildError {
    pub connection: String,
    pub message: String,
}

impl ConnectionConfig {
    /// Builds the connection. Nothing is sent to the system yet.
    pub fn build(&self, ctx: &BuildContext<'_>) -> Result<Arc<dyn Connector>, BuildError> {
        let fail = |message: String| BuildError {
            connection: ctx.connection.to_owned(),
            message,
        };
        match self {
            ConnectionConfig::Memory(config) => {
                let system = match ctx.memory.get(ctx.tenant, ctx.connection) {
                    Some(system) => system,
                    None => {
                        let name = format!("{}/{}", ctx.tenant, ctx.connection);
                        let system = match &config.state_file {
                            Some(file) => {
                                let path = tenant_files::resolve(ctx.tenant_dir, file)
                                    .map_err(|e| fail(format!("state_file: {e}")))?;
                                MemorySystem::open(&name, &path).map_err(|e| {
                                    fail(format!("state_file: cannot open {}: {e}", file.display()))
                                })?
                            }
                            None => MemorySystem::new(&name),
                        };
                        if config.seed_demo && system.is_empty() {
                            memory::seed_demo(&system, 1)
                                .map_err(|e| fail(format!("cannot seed demo data: {e}")))?;
                        }
                        ctx.memory
                            .insert(ctx.tenant, ctx.connection, system.clone());
                        system
                    }
                };
                system.set_knobs(config.knobs());
                Ok(Arc::new(MemoryConnector { system }))
            }
            ConnectionConfig::Tryton(config) => {
                let password = config
                    .password
                    .resolve()
                    .map_err(|e| fail(format!("password: {e}")))?;
                let system =
                    TrytonSystem::new(config.clone(), password).map_err(|e| fail(e.to_string()))?;
                system.meter().name(ctx.tenant, ctx.connection, "tryton");
                Ok(Arc::new(TrytonConnector { system }))
            }
            ConnectionConfig::Vendure(config) => {
                let password = config
                    .password
                    .resolve()
                    .map_err(|e| fail(format!("password: {e}")))?;
                let webhook_secret = match &config.webhook_secret {
                    Some(secret) => Some(
                        secret
                            .resolve()
                            .map_err(|e| fail(format!("webhook_secret: {e}")))?,
                    ),
                    None => None,
                };
                let system = VendureSystem::new(config.clone(), password, webhook_secret)
                    .map_err(|e| fail(e.to_string()))?;
                system.meter().name(ctx.tenant, ctx.connection, "vendure");
                Ok(Arc::new(VendureConnector { system }))
            }
            ConnectionConfig::WooCommerce(config) => {
                let secret = |name: &str, secret: &kontor_connector::Secret| {
                    secret.resolve().map_err(|e| fail(format!("{name}: {e}")))
                };
                let ca_pem = read_ca(ctx, config.ca_file.as_deref()).map_err(fail)?;
                let access = WooCommerceAccess {
                    consumer_key: secret("consumer_key", &config.consumer_key)?,
                    consumer_secret: secret("consumer_secret", &config.consumer_secret)?,
                    webhook_secret: match &config.webhook_secret {
                        Some(s) => Some(secret("webhook_secret", s)?),
                        None => None,
                    },
                    ca_pem,
                };
                let system = WooCommerceSystem::new(config.clone(), access)
                    .map_err(|e| fail(e.to_string()))?;
                system
                    .meter()
                    .name(ctx.tenant, ctx.connection, "woocommerce");
                Ok(Arc::new(WooCommerceConnector { system }))
            }
            ConnectionConfig::Shopify(config) => {
                let secret = |name: &str, secret: &kontor_connector::Secret| {
                    secret.resolve().map_err(|e| fail(format!("{name}: {e}")))
                };
                let access = ShopifyAccess {
                    access_token: secret("access_token", &config.access_token)?,
                    client_secret: match &config.client_secret {
                        Some(s) => Some(secret("client_secret", s)?),
                        None => None,
                    },
                    ca_pem: read_ca(ctx, config.ca_file.as_deref()).map_err(fail)?,
                };
                let system =
                    ShopifySystem::new(config.clone(), access).map_err(|e| fail(e.to_string()))?;
                system.meter().name(ctx.tenant, ctx.connection, "shopify");
                Ok(Arc::new(ShopifyConnector { system }))
            }
            ConnectionConfig::Api(_) => {
                let inbox = ctx
                    .inbox
                    .ok_or_else(|| fail("the API's order inbox is not available here".into()))?;
                Ok(Arc::new(InboxConnector {
                    tenant: ctx.tenant.to_owned(),
                    connection: ctx.connection.to_owned(),
                    inbox: inbox.clone(),
                }))
            }
        }
    }
}

/// The PEM of a connection's `ca_file`, if it names one.
fn read_ca(ctx: &BuildContext<'_>, file: Option<&Path>) -> Result<Option<Vec<u8>>, String> {
    let Some(file) = file else {
        return Ok(None);
    };
    let path = tenant_files::resolve(ctx.tenant_dir, file).map_err(|e| format!("ca_file: {e}"))?;
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| format!("ca_file: cannot read {}: {e}", file.display()))
}
