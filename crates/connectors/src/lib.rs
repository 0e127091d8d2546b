//! Kontor's connectors, one folder per external system (adapter + mappers + tests), and
//! the registry that lists them (`registry.rs`): adding a connector is a new folder, one
//! line there, and the conformance suite run against it.

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
mod registry;
mod seconds_cursor;
mod shipping;
pub mod shopify;
mod signature;
mod single_price;
pub mod tenant_files;
pub mod tryton;
mod typed;
pub mod vendure;
pub mod woocommerce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use memory::MemorySystem;

pub use registry::{BuildContext, BuildError, ConnectionConfig, ConnectorSettings};

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
