//! `kontor demo`: Kontor on an embedded SQLite store, between a memory shop and a memory
//! ERP, with shoppers placing orders and a warehouse moving stock. Ctrl-C stops it
//! cleanly; running it again resumes where it stopped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use kontor_connectors::MemoryRegistry;
use kontor_connectors::memory::{MemorySystem, OrderGenerator, SellableItem, WEB_WAREHOUSE};
use kontor_engine::{JobFilter, JobState, Shutdown};
use rust_decimal::Decimal;

use crate::app::App;
use crate::config::ConfigFile;
use crate::startup::Application;

/// The demo's configuration, as shipped.
pub const DEMO_CONFIG: &str = include_str!("demo.toml");
const TENANT: &str = "demo";
/// A product the ERP no longer has; orders for it are parked for a person.
const RETIRED_SKU: &str = "MUG-250";

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its store and the shop's and ERP's records.
    #[arg(long, default_value = ".kontor/demo")]
    pub data_dir: PathBuf,
    /// How many orders shoppers place per minute.
    #[arg(long, default_value_t = 60)]
    pub orders_per_minute: u32,
    /// Address for health, metrics and the API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Stop after this long (e.g. `30s`); runs until Ctrl-C otherwise.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Start over: forget everything from earlier runs.
    #[arg(long)]
    pub fresh: bool,
}

/// The demo's configuration with its files in `data_dir`.
pub fn demo_config(data_dir: &Path, listen: SocketAddr) -> anyhow::Result<ConfigFile> {
    let mut config = ConfigFile::parse(DEMO_CONFIG, Path::new("demo.toml"))?;
    config.data_dir = data_dir.to_path_buf();
    config.store.url = format!("sqlite://{}", data_dir.join("kontor.db").display());
    config.server.listen = listen;
    Ok(config)
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<u8> {
    if args.fresh && args.data_dir.exists() {
        std::fs::remove_dir_all(&args.data_dir)?;
    }
    std::fs::create_dir_all(&args.data_dir)?;
    let config = demo_config(&args.data_dir, args.listen)?;
    let config_path = args.data_dir.join("kontor.toml");
    std::fs::write(&config_path, config.to_toml()?)?;

    let memory = MemoryRegistry::default();
    let application = Application::build(config, memory.clone()).await?;
    let app = application.app().clone();
    let (Some(shop), Some(erp)) = (memory.get(TENANT, "shop"), memory.get(TENANT, "erp")) else {
        anyhow::bail!("the demo's memory shop and ERP did not start");
    };
    let listener = match app.listen().await {
        Ok(listener) => Some(listener),
        Err(error) => {
            eprintln!("note: {error}; running without HTTP (use --listen to pick another address)");
            None
        }
    };
    let shutdown = crate::cli::shutdown_on_signals();
    if let Some(duration) = args.duration {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        });
    }

    let accounts = console_accounts(&app, &args.data_dir).await?;
    let resumed = !shop.orders().is_empty();
    println!(
        "Kontor demo — {} products in the ERP, {} orders in the shop{}",
        erp.products().len(),
        shop.orders().len(),
        if resumed { " (resumed)" } else { "" }
    );
    if let Some(listener) = &listener {
        let addr = listener.local_addr()?;
        println!(
            "HTTP: http://{addr}/api/v1/status · API docs http://{addr}/api/docs · http://{addr}/metrics"
        );
        let signins: Vec<String> = accounts
            .iter()
            .map(|(name, password)| format!("{name} / {password}"))
            .collect();
        println!(
            "Console: http://{addr}/console/ — sign in as {}",
            signins.join(", or ")
        );
    }
    println!(
        "Inspect meanwhile: kontor --config {} status   (Ctrl-C stops)\n",
        config_path.display()
    );

    let interval = Duration::from_secs_f64(60.0 / f64::from(args.orders_per_minute.max(1)));
    let _ = tokio::join!(
        application.run(shutdown.clone(), listener),
        shoppers(shop.clone(), erp.clone(), interval, shutdown.clone()),
        warehouse(erp.clone(), shutdown.clone()),
        report(app.clone(), shop.clone(), erp.clone(), shutdown.clone()),
    );
    print_progress(&app, &shop, &erp).await;
    let parked = parked_jobs(&app).await;
    if parked > 0 {
        println!(
            "\n{parked} jobs are parked for a person. See why: kontor --config {} jobs list --state parked",
            config_path.display()
        );
        println!(
            "(Orders for {RETIRED_SKU}, a product the ERP retired, park on purpose: map it under [tenants.demo.mappings.sku], or skip them.)"
        );
    }
    println!(
        "\nStopped. Everything is kept in {}; run `kontor demo` again to resume.",
        args.data_dir.display()
    );
    Ok(0)
}

/// The demo's console accounts — an admin and a viewer — with passwords made up on the
/// first run and kept in the data directory (readable by its owner only), so a resumed
/// demo signs in the same way.
async fn console_accounts(app: &App, data_dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    use crate::auth::accounts::{hash_password, random_token};
    let file = data_dir.join("console-accounts.txt");
    let kept = std::fs::read_to_string(&file).unwrap_or_default();
    let mut accounts = Vec::new();
    for (name, role, tenant) in [("admin", "admin", "*"), ("viewer", "viewer", TENANT)] {
        let known = kept
            .lines()
            .filter_map(|line| line.split_once(' '))
            .find(|(n, _)| *n == name)
            .map(|(_, password)| password.to_owned());
        let exists = app.store.user_with_hash(name).await?.is_some();
        let password = match known {
            Some(password) if exists => password,
            _ => {
                let password = random_token()[..16].to_owned();
                let hash = hash_password(&password)?;
                app.store
                    .put_user(name, &hash, role, &[tenant.to_owned()])
                    .await?;
                password
            }
        };
        accounts.push((name.to_owned(), password));
    }
    let text: String = accounts
        .iter()
        .map(|(name, password)| format!("{name} {password}\n"))
        .collect();
    write_private(&file, &text)?;
    Ok(accounts)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Shoppers placing orders; now and then one for a product the ERP retired.
async fn shoppers(shop: MemorySystem, erp: MemorySystem, interval: Duration, shutdown: Shutdown) {
    let mut generator = OrderGenerator::new(
        Utc::now().timestamp_micros() as u64,
        SellableItem::from_system(&erp),
    );
    let mut placed = shop.orders().len();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let Some(mut order) = generator.next_order(Utc::now()) else {
            return;
        };
        placed += 1;
        if placed.is_multiple_of(40) {
            order.lines[0].sku = RETIRED_SKU.to_owned();
            order.lines[0].name = "Kubek ceramiczny 250 ml (wycofany)".to_owned();
        }
        if let Err(error) = shop.place_order(order) {
            tracing::warn!(message = "The demo shop could not take an order.", %error);
        }
    }
}

/// The warehouse: deliveries arrive, the showroom sells, parcels go out.
async fn warehouse(erp: MemorySystem, shutdown: Shutdown) {
    let mut rng = fastrand::Rng::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        // Pack the oldest open order that is paid for (or cash on delivery).
        let open = erp
            .sales()
            .into_iter()
            .filter(|s| s.status == kontor_model::OrderStatus::Processing)
            .min_by(|a, b| a.number.cmp(&b.number));
        if let Some(sale) = open {
            let tracking = format!("DPD{:010}", rng.u64(..10_000_000_000));
            if let Err(error) = erp.ship(&sale.id, None, "DPD", &tracking) {
                tracing::warn!(message = "The demo warehouse could not ship.", %error);
            }
        }
        let levels: Vec<_> = erp
            .stock()
            .into_iter()
            .filter(|l| l.warehouse == WEB_WAREHOUSE)
            .collect();
        if levels.is_empty() {
            continue;
        }
        let mut level = levels[rng.usize(..levels.len())].clone();
        level.on_hand = (level.on_hand + Decimal::from(rng.i64(-3..=10))).max(Decimal::ZERO);
        if let Err(error) = erp.put_stock(level) {
            tracing::warn!(message = "The demo ERP could not change stock.", %error);
        }
    }
}

async fn parked_jobs(app: &App) -> usize {
    app.store
        .list_jobs(&JobFilter {
            states: vec![JobState::Parked],
            limit: 1000,
            ..Default::default()
        })
        .await
        .map(|jobs| jobs.len())
        .unwrap_or(0)
}

async fn print_progress(app: &App, shop: &MemorySystem, erp: &MemorySystem) {
    let in_erp = erp.sales().len();
    let pending = app
        .store
        .list_jobs(&JobFilter {
            states: vec![JobState::Pending, JobState::Running],
            limit: 1000,
            ..Default::default()
        })
        .await
        .map(|jobs| jobs.len())
        .unwrap_or(0);
    let orders = shop.orders();
    let shipped = orders
        .iter()
        .filter(|o| {
            matches!(
                o.status,
                kontor_model::OrderStatus::Shipped | kontor_model::OrderStatus::Completed
            )
        })
        .count();
    let invoiced = orders
        .iter()
        .filter(|o| !shop.attached_invoices(&o.id).is_empty())
        .count();
    println!(
        "{}  orders: {} placed, {} in the ERP, {} invoiced, {} shipped, {} parked │ shop: {} products, {} prices │ queue: {} to do",
        Utc::now().format("%H:%M:%S"),
        orders.len(),
        in_erp,
        invoiced,
        shipped,
        parked_jobs(app).await,
        shop.products().len(),
        shop.shop_prices().len(),
        pending,
    );
}

async fn report(app: Arc<App>, shop: MemorySystem, erp: MemorySystem, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(3)) => {}
        }
        print_progress(&app, &shop, &erp).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_demo_configuration_is_valid() {
        let config = demo_config(
            Path::new("/tmp/kontor-demo"),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        assert_eq!(config.tenants["demo"].flows.len(), 9);
    }
}
