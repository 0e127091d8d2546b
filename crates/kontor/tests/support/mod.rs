//! A workspace for one test: a directory with a config file, a memory shop and ERP kept
//! in journal files, and the `kontor` binary to run against them.
#![allow(dead_code)]

pub mod app;
pub mod issuer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::Utc;
use kontor_connectors::memory::{MemorySystem, OrderGenerator, SellableItem, seed_demo};

pub const TENANT: &str = "acme";

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::env::var("KONTOR_KEEP_TEST_DIRS").is_ok() {
            let path = self.dir.path().to_path_buf();
            eprintln!("kept {}", path.display());
            std::mem::forget(std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("temp dir"),
            ));
        }
    }
}

impl Workspace {
    /// A directory with `kontor.toml` written from `config` (`{dir}` replaced by the path).
    pub fn new(config: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = config.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(dir.path().join("kontor.toml"), text).expect("write config");
        Workspace { dir }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A file of tenant `acme`'s, in its folder (`data_dir/tenants/acme/`), where its
    /// connections' `state_file`s are.
    pub fn tenant_file(&self, file: &str) -> PathBuf {
        let folder = self.dir.path().join("tenants").join(TENANT);
        std::fs::create_dir_all(&folder).expect("tenant folder");
        folder.join(file)
    }

    pub fn config(&self) -> PathBuf {
        self.path("kontor.toml")
    }

    /// Seeds the ERP's journal with the demo catalogue and places `orders` in the shop's.
    pub fn seed(&self, orders: usize) -> Vec<kontor_model::Order> {
        let erp = MemorySystem::open("erp", &self.tenant_file("erp.jsonl")).expect("open erp");
        seed_demo(&erp, 1).expect("seed erp");
        let shop = MemorySystem::open("shop", &self.tenant_file("shop.jsonl")).expect("open shop");
        let mut generator = OrderGenerator::new(42, SellableItem::from_system(&erp));
        (0..orders)
            .map(|_| {
                shop.place_order(generator.next_order(Utc::now()).expect("order"))
                    .expect("place")
            })
            .collect()
    }

    pub fn erp(&self) -> MemorySystem {
        MemorySystem::snapshot("erp", &self.tenant_file("erp.jsonl")).expect("read erp journal")
    }

    pub fn shop(&self) -> MemorySystem {
        MemorySystem::snapshot("shop", &self.tenant_file("shop.jsonl")).expect("read shop journal")
    }

    pub fn kontor(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kontor"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("KONTOR_STORE_URL")
            .current_dir(self.dir.path())
            .output()
            .expect("run kontor")
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A configuration with a memory shop and ERP in `{dir}` and the three flows.
pub const MEMORY_CONFIG: &str = r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"

[server]
enabled = false

[runner]
workers = 4
idle_poll = "20ms"

[runner.retry]
initial_delay = "20ms"
max_delay = "200ms"

[tenants.acme.connections.shop]
type = "memory"
state_file = "shop.jsonl"

[tenants.acme.connections.erp]
type = "memory"
state_file = "erp.jsonl"

[tenants.acme.flows.catalogue]
from = "erp"
to = "shop"

[tenants.acme.flows.stock]
from = "erp"
to = "shop"

[tenants.acme.flows.orders]
from = "shop"
to = "erp"

[tenants.acme.mappings]
warehouses = { MAIN = "default" }
"#;

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// Waits until `done` answers true, looking every 20 ms for up to 10 s; panics naming
/// `what` if it never does.
pub async fn eventually<F: AsyncFn() -> bool>(what: &str, done: F) {
    eventually_within(what, std::time::Duration::from_secs(10), done).await;
}

/// As [`eventually`], for up to `limit`: real systems (Vendure) take their time.
pub async fn eventually_within<F: AsyncFn() -> bool>(
    what: &str,
    limit: std::time::Duration,
    done: F,
) {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("waited in vain for {what}");
}

/// Runs one of the project's install scripts (`scripts/<name>/install`) and gives the
/// path of the command it prints.
pub fn installed(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let install = Command::new(root.join("scripts").join(name).join("install"))
        .output()
        .expect("run the install script");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    String::from_utf8(install.stdout)
        .expect("a path")
        .trim()
        .to_owned()
}
