//! Stock propagation: the time from a stock change in the ERP until the shop shows it,
//! once with the stock flow polling every second (what works when nothing can reach
//! Kontor) and once with the ERP announcing each change as it happens (a webhook or
//! event, handed to Kontor the way its webhook intake hands them on).

use std::time::{Duration, Instant};

use kontor_connectors::memory::{Changed, MemorySystem, WEB_WAREHOUSE};
use kontor_flows::Change;
use kontor_model::StockLevel;
use rust_decimal::Decimal;

use crate::BenchError;
use crate::harness::{Backend, Kontor};
use crate::measure::{Latencies, millis};
use crate::report::Measurement;

const TENANT: &str = "bench";
/// The shop location the ERP's main warehouse is mapped to.
const LOCATION: &str = "default";
const POLL_EVERY: Duration = Duration::from_secs(1);

fn tenants(stock_every: &str) -> String {
    format!(
        r#"
[tenants.bench.connections.erp]
type = "memory"
seed_demo = true

[tenants.bench.connections.shop]
type = "memory"

[tenants.bench.flows.catalogue]
from = "erp"
to = "shop"
every = "1s"

[tenants.bench.flows.stock]
from = "erp"
to = "shop"
every = "{stock_every}"

[tenants.bench.mappings]
warehouses = {{ MAIN = "{LOCATION}" }}
"#
    )
}

#[derive(Debug, Clone)]
pub struct StockPropagation {
    /// Changes measured per trigger.
    pub samples: usize,
}

#[derive(Debug, Clone)]
pub struct StockResult {
    pub polled: Latencies,
    pub on_events: Latencies,
    /// Writing the same level straight into the shop.
    pub floor: Latencies,
}

impl StockResult {
    pub fn measurements(&self) -> Vec<Measurement> {
        const FLOOR: &str = "the level written straight into the shop";
        let polled = format!("polling every {} s", POLL_EVERY.as_secs());
        let mut out = Vec::new();
        for (case, latencies) in [
            (polled.as_str(), &self.polled),
            ("on events", &self.on_events),
        ] {
            for p in [50.0, 99.0] {
                out.push(
                    Measurement::new(
                        "stock",
                        case,
                        &format!("p{p} ERP change → shop shows it"),
                        "ms",
                        millis(latencies.percentile(p)),
                    )
                    .against(FLOOR, millis(self.floor.percentile(p))),
                );
            }
        }
        out
    }

    pub fn notes(&self) -> Vec<String> {
        vec![format!(
            "stock: {} changes per trigger; polled, a change waits on average half the poll \
             interval for the next poll; on events, the ERP's change notice enqueues the \
             stock flow's poll at once",
            self.polled.len()
        )]
    }
}

impl StockPropagation {
    pub async fn run(&self) -> Result<StockResult, BenchError> {
        let polled = self.measure(false).await?;
        let on_events = self.measure(true).await?;
        let floor = self.floor()?;
        Ok(StockResult {
            polled,
            on_events,
            floor,
        })
    }

    async fn measure(&self, events: bool) -> Result<Latencies, BenchError> {
        let every = if events { "1h" } else { "1s" };
        let kontor = Kontor::start(&Backend::Sqlite, &tenants(every), 4).await?;
        let result = self.drive(&kontor, events).await;
        kontor.stop().await?;
        result
    }

    async fn drive(&self, kontor: &Kontor, events: bool) -> Result<Latencies, BenchError> {
        let system = |name: &str| {
            kontor
                .memory
                .get(TENANT, name)
                .ok_or_else(|| BenchError::Failed(format!("the memory {name} was not built")))
        };
        let (erp, shop) = (system("erp")?, system("shop")?);
        let skus: Vec<String> = erp
            .stock()
            .into_iter()
            .filter(|l| l.warehouse == WEB_WAREHOUSE)
            .map(|l| l.sku)
            .collect();
        let Some(last) = skus.last() else {
            return Err(BenchError::Failed("the ERP has no stock".into()));
        };
        // The catalogue and the first stock levels reach the shop first (the stock flow
        // sends only to variants the shop has).
        if events {
            kontor
                .app
                .store
                .enqueue(flow_start(kontor, "stock")?)
                .await?;
        }
        let ready = Instant::now();
        while shop.stock_of(last, LOCATION).is_none() {
            if ready.elapsed() > Duration::from_secs(60) {
                return Err(BenchError::Failed(
                    "the shop never got its first stock".into(),
                ));
            }
            if events {
                kontor
                    .app
                    .store
                    .enqueue(flow_start(kontor, "stock")?)
                    .await?;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let forwarder =
            events.then(|| tokio::spawn(forward_events(kontor.app.clone(), erp.watch())));
        let mut samples = Vec::with_capacity(self.samples);
        for i in 0..self.samples {
            let sku = &skus[i % skus.len()];
            let level = erp
                .stock_of(sku, WEB_WAREHOUSE)
                .ok_or_else(|| BenchError::Failed(format!("the ERP lost the stock of {sku}")))?;
            let wanted = level.on_hand - level.reserved + Decimal::from(7 + i as i64);
            let mut shown = shop.watch();
            let changed_at = Instant::now();
            erp.put_stock(StockLevel {
                on_hand: level.on_hand + Decimal::from(7 + i as i64),
                ..level
            })
            .map_err(|e| BenchError::Failed(format!("changing stock: {e}")))?;
            samples.push(wait_for(&shop, &mut shown, sku, wanted, changed_at).await?);
            // Changes apart, as they come in a shop's day: each measured on its own.
            tokio::time::sleep(Duration::from_millis(50 + fastrand_ms(i))).await;
        }
        if let Some(forwarder) = forwarder {
            forwarder.abort();
        }
        Ok(Latencies::new(samples))
    }

    /// The floor: the new level written into the shop directly.
    fn floor(&self) -> Result<Latencies, BenchError> {
        let shop = MemorySystem::new("floor-shop");
        let mut samples = Vec::with_capacity(self.samples);
        for i in 0..self.samples {
            let started = Instant::now();
            shop.put_stock(StockLevel {
                sku: format!("SKU-{i}"),
                warehouse: LOCATION.to_owned(),
                on_hand: Decimal::from(i as i64),
                reserved: Decimal::ZERO,
                incoming: Vec::new(),
            })
            .map_err(|e| BenchError::Failed(format!("writing stock: {e}")))?;
            samples.push(started.elapsed());
        }
        Ok(Latencies::new(samples))
    }
}

/// A spread of pauses, so that changes do not fall in step with the poll interval.
fn fastrand_ms(i: usize) -> u64 {
    ((i as u64).wrapping_mul(7919) % 617) + 13
}

fn flow_start(kontor: &Kontor, flow: &str) -> Result<kontor_engine::NewJob, BenchError> {
    Ok(kontor
        .app
        .flow(Some(TENANT), flow)
        .map_err(BenchError::App)?
        .start_job())
}

/// The ERP's change notices, handed to Kontor as its webhook intake hands them on.
async fn forward_events(
    app: std::sync::Arc<kontor::app::App>,
    mut changes: tokio::sync::broadcast::Receiver<Changed>,
) {
    while let Ok(changed) = changes.recv().await {
        if changed.entity != "stock" {
            continue;
        }
        let sku = changed.key.split('@').next().unwrap_or_default().to_owned();
        let change = Change {
            connection: "erp".to_owned(),
            entity: "stock".to_owned(),
            external_id: sku,
        };
        if let Err(error) = app.on_change(TENANT, &change).await {
            tracing::warn!(message = "A stock event was not queued.", %error);
        }
    }
}

/// Waits until the shop shows `wanted` for `sku`; the time since `since`.
async fn wait_for(
    shop: &MemorySystem,
    shown: &mut tokio::sync::broadcast::Receiver<Changed>,
    sku: &str,
    wanted: Decimal,
    since: Instant,
) -> Result<Duration, BenchError> {
    let key = format!("{sku}@{LOCATION}");
    let deadline = Duration::from_secs(30);
    loop {
        let remaining = deadline.saturating_sub(since.elapsed());
        match tokio::time::timeout(remaining, shown.recv()).await {
            Err(_) => {
                return Err(BenchError::Failed(format!(
                    "the shop did not show {wanted} of {sku} within {deadline:?}"
                )));
            }
            Ok(Err(error)) => {
                return Err(BenchError::Failed(format!("watching the shop: {error}")));
            }
            Ok(Ok(changed)) if changed.entity == "stock" && changed.key == key => {
                let at = since.elapsed();
                if shop
                    .stock_of(sku, LOCATION)
                    .is_some_and(|level| level.on_hand - level.reserved == wanted)
                {
                    return Ok(at);
                }
            }
            Ok(Ok(_)) => {}
        }
    }
}
