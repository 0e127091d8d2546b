//! The order path: N orders submitted to Kontor's API → kept and queued → the orders
//! flow → a memory ERP that answers at once. The floor, measured in the same run: the
//! same client posting the same orders straight to an HTTP endpoint that writes them
//! into a memory ERP — what an integration costs with no integrator at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use kontor_connectors::memory::{MemorySystem, OrderGenerator, SellableItem, seed_demo};
use kontor_model::{Order, Validate};
use tokio::sync::broadcast::error::RecvError;

use crate::BenchError;
use crate::client::{LoadGenerator, Post, Sent};
use crate::harness::{Backend, Kontor};
use crate::measure::{self, Latencies, mebibytes, millis};
use crate::report::{Measurement, Target};

pub const TENANT: &str = "bench";

/// The tenant: orders come in through the API (an `api` connection) and go to a memory
/// ERP with no latency.
const TENANTS: &str = r#"
[tenants.bench.connections.web]
type = "api"

[tenants.bench.connections.erp]
type = "memory"
seed_demo = true

[tenants.bench.flows.orders]
from = "web"
to = "erp"

[tenants.bench.mappings]
warehouses = { MAIN = "default" }
"#;

#[derive(Debug, Clone)]
pub struct OrderPath {
    /// Orders sent as fast as they are taken, for throughput and cost.
    pub orders: usize,
    /// Requests in flight at once, for Kontor and the floor alike.
    pub concurrency: usize,
    /// Kontor's job workers.
    pub workers: usize,
    /// How long the latency phase sends for, at half the throughput measured.
    pub paced_for: Duration,
}

/// One side's run: how long, how fast each order got into the ERP, what it cost.
#[derive(Debug, Clone)]
pub struct PathRun {
    pub orders: usize,
    /// From the first request sent to the last order in the ERP.
    pub wall: Duration,
    /// Per order: from its request being sent to its being in the ERP.
    pub latencies: Latencies,
    /// CPU time of the server side (everything but the load generator).
    pub cpu: Duration,
    pub peak_rss: u64,
}

impl PathRun {
    fn per_second(&self) -> f64 {
        self.orders as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    fn cpu_per_order(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.orders.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct OrderPathResult {
    pub backend: Backend,
    /// Orders sent as fast as each side takes them: throughput, CPU, memory. Latency
    /// here is mostly time spent waiting in the queue, so it is not reported.
    pub saturated: Sides,
    /// Orders sent at a steady `rate`, half the throughput Kontor reached: latency.
    pub paced: Sides,
    pub rate: f64,
}

#[derive(Debug, Clone)]
pub struct Sides {
    pub kontor: PathRun,
    pub floor: PathRun,
}

impl OrderPathResult {
    pub fn measurements(&self) -> Vec<Measurement> {
        const FLOOR: &str = "bare HTTP client → ERP endpoint";
        let case = self.backend.name();
        let sqlite = self.backend == Backend::Sqlite;
        let with_target = |m: Measurement, target: Target| {
            if sqlite { m.target(target) } else { m }
        };
        let (k, f) = (&self.saturated.kontor, &self.saturated.floor);
        let (pk, pf) = (&self.paced.kontor, &self.paced.floor);
        let at = format!("at {:.0} orders/s", self.rate);
        let latency = |p: f64| {
            Measurement::new(
                "orders",
                case,
                &format!("p{p:.0} latency {at}, sent → in the ERP"),
                "ms",
                millis(pk.latencies.percentile(p)),
            )
            .against(FLOOR, millis(pf.latencies.percentile(p)))
        };
        let added = |p: f64| {
            let value = millis(
                pk.latencies
                    .percentile(p)
                    .saturating_sub(pf.latencies.percentile(p)),
            );
            Measurement::new(
                "orders",
                case,
                &format!("p{p:.0} added latency {at}"),
                "ms",
                value,
            )
        };
        vec![
            with_target(
                Measurement::new("orders", case, "throughput", "orders/s", k.per_second())
                    .against(FLOOR, f.per_second()),
                Target::AtLeast(2000.0),
            ),
            Measurement::new(
                "orders",
                case,
                "CPU time per order",
                "µs",
                k.cpu_per_order(),
            )
            .against(FLOOR, f.cpu_per_order()),
            Measurement::new("orders", case, "peak RSS", "MiB", mebibytes(k.peak_rss))
                .against(FLOOR, mebibytes(f.peak_rss)),
            latency(50.0),
            latency(99.0),
            added(50.0),
            with_target(added(99.0), Target::AtMost(10.0)),
        ]
    }
}

/// The orders both sides send: the same bodies, numbered uniquely.
fn orders(from: usize, count: usize) -> Result<Vec<Order>, BenchError> {
    let catalogue = MemorySystem::new("catalogue");
    seed_demo(&catalogue, 1).map_err(|e| BenchError::Failed(format!("seeding: {e}")))?;
    let mut generator = OrderGenerator::new(2026, SellableItem::from_system(&catalogue));
    let now = chrono::Utc::now();
    (from..from + count)
        .map(|i| {
            let mut order = generator
                .next_order(now)
                .ok_or_else(|| BenchError::Failed("the demo catalogue sells nothing".into()))?;
            order.id = format!("bench-{i}");
            order.number = format!("B{i:07}");
            Ok(order)
        })
        .collect()
}

fn bodies(orders: &[Order]) -> Result<Vec<Arc<Vec<u8>>>, BenchError> {
    orders
        .iter()
        .map(|o| {
            serde_json::to_vec(o)
                .map(Arc::new)
                .map_err(|e| BenchError::Failed(format!("encoding an order: {e}")))
        })
        .collect()
}

fn refused(sent: &[Sent], ok: &[u16]) -> Result<(), BenchError> {
    match sent.iter().find(|s| !ok.contains(&s.status)) {
        Some(s) => Err(BenchError::Failed(format!(
            "request {} was answered {}",
            s.index, s.status
        ))),
        None => Ok(()),
    }
}

impl OrderPath {
    pub async fn run(
        &self,
        backend: &Backend,
        client: &LoadGenerator,
    ) -> Result<OrderPathResult, BenchError> {
        let orders_now = orders(0, self.orders)?;
        let bodies_now = bodies(&orders_now)?;
        let floor = self.floor(&bodies_now, client, None).await?;
        let kontor = Kontor::start(backend, TENANTS, self.workers).await?;
        let result = async {
            let saturated = self
                .drive(&kontor, &orders_now, &bodies_now, client, None)
                .await?;
            let rate = (saturated.per_second() / 2.0).max(1.0);
            let count = ((rate * self.paced_for.as_secs_f64()) as usize).max(100);
            let paced_orders = orders(self.orders, count)?;
            let paced_bodies = bodies(&paced_orders)?;
            let paced = self
                .drive(&kontor, &paced_orders, &paced_bodies, client, Some(rate))
                .await?;
            Ok::<_, BenchError>((saturated, paced, paced_bodies, rate))
        }
        .await;
        kontor.stop().await?;
        let (saturated, paced, paced_bodies, rate) = result?;
        let paced_floor = self.floor(&paced_bodies, client, Some(rate)).await?;
        Ok(OrderPathResult {
            backend: backend.clone(),
            saturated: Sides {
                kontor: saturated,
                floor,
            },
            paced: Sides {
                kontor: paced,
                floor: paced_floor,
            },
            rate,
        })
    }

    /// The floor: an ERP endpoint that parses the order and writes it, posted to directly.
    async fn floor(
        &self,
        bodies: &[Arc<Vec<u8>>],
        client: &LoadGenerator,
        per_second: Option<f64>,
    ) -> Result<PathRun, BenchError> {
        let erp = MemorySystem::new("floor-erp");
        let router = axum::Router::new()
            .route("/orders", post(take_order))
            .with_state(erp.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| BenchError::io("binding the floor's port", e))?;
        let url = format!(
            "http://{}/orders",
            listener
                .local_addr()
                .map_err(|e| BenchError::io("reading the floor's port", e))?
        );
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let posts = bodies
            .iter()
            .map(|body| Post {
                url: url.clone(),
                bearer: None,
                idempotency_key: None,
                body: body.clone(),
            })
            .collect();

        measure::reset_peak_rss();
        let cpu_before = measure::cpu_time_of_server();
        let sent = client.send_all(posts, self.concurrency, per_second).await?;
        let cpu = measure::cpu_time_of_server().saturating_sub(cpu_before);
        let peak_rss = measure::peak_rss();
        server.abort();
        refused(&sent, &[201])?;
        if erp.orders().len() != bodies.len() {
            return Err(BenchError::Failed(format!(
                "the floor's ERP holds {} orders of {}",
                erp.orders().len(),
                bodies.len()
            )));
        }
        let first = sent.iter().map(|s| s.sent).min();
        let last = sent.iter().map(|s| s.answered).max();
        Ok(PathRun {
            orders: bodies.len(),
            wall: match (first, last) {
                (Some(a), Some(b)) => b - a,
                _ => Duration::ZERO,
            },
            latencies: Latencies::new(sent.iter().map(|s| s.answered - s.sent).collect()),
            cpu,
            peak_rss,
        })
    }

    async fn drive(
        &self,
        kontor: &Kontor,
        orders: &[Order],
        bodies: &[Arc<Vec<u8>>],
        client: &LoadGenerator,
        per_second: Option<f64>,
    ) -> Result<PathRun, BenchError> {
        let key = kontor.shop_key(TENANT).await?;
        let erp = kontor
            .memory
            .get(TENANT, "erp")
            .ok_or_else(|| BenchError::Failed("the memory ERP was not built".into()))?;
        let index: HashMap<String, usize> = orders
            .iter()
            .enumerate()
            .map(|(i, o)| (o.number.clone(), i))
            .collect();
        let count = orders.len();
        let mut changes = erp.watch();
        let landed = tokio::spawn(async move {
            let mut landed: Vec<Option<Instant>> = vec![None; count];
            let mut seen = 0;
            while seen < count {
                match changes.recv().await {
                    Ok(change) if change.entity == "sale" => {
                        if let Some(slot) = index.get(&change.key).map(|&i| &mut landed[i])
                            && slot.is_none()
                        {
                            *slot = Some(Instant::now());
                            seen += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        return Err(BenchError::Failed(format!(
                            "the ERP's change feed fell {missed} changes behind"
                        )));
                    }
                    Err(RecvError::Closed) => break,
                }
            }
            Ok(landed)
        });
        let url = format!("{}/api/v1/tenants/{TENANT}/orders", kontor.base);
        let posts = orders
            .iter()
            .zip(bodies)
            .map(|(order, body)| Post {
                url: url.clone(),
                bearer: Some(key.clone()),
                idempotency_key: Some(order.id.clone()),
                body: body.clone(),
            })
            .collect();

        measure::reset_peak_rss();
        let cpu_before = measure::cpu_time_of_server();
        let sent = client.send_all(posts, self.concurrency, per_second).await?;
        refused(&sent, &[201])?;
        let wait = Duration::from_secs(60) + Duration::from_millis(count as u64 * 10);
        let landed = tokio::time::timeout(wait, landed)
            .await
            .map_err(|_| {
                BenchError::Failed(format!("not every order reached the ERP within {wait:?}"))
            })?
            .map_err(|e| BenchError::Failed(format!("watching the ERP: {e}")))??;
        let cpu = measure::cpu_time_of_server().saturating_sub(cpu_before);
        let peak_rss = measure::peak_rss();

        // Nothing lost, nothing doubled — or the numbers mean nothing.
        let mut per_reference: HashMap<String, usize> = HashMap::new();
        for sale in erp.sales() {
            *per_reference.entry(sale.reference).or_default() += 1;
        }
        if let Some((reference, times)) = per_reference.iter().find(|(_, n)| **n != 1) {
            return Err(BenchError::Failed(format!(
                "order {reference} is in the ERP {times} times"
            )));
        }
        if let Some(missing) = orders
            .iter()
            .find(|o| !per_reference.contains_key(&o.number))
        {
            return Err(BenchError::Failed(format!(
                "order {} is not in the ERP",
                missing.number
            )));
        }
        let parked = kontor.parked().await?;
        if parked > 0 {
            return Err(BenchError::Failed(format!("{parked} orders were parked")));
        }

        let mut latencies = Vec::with_capacity(count);
        let mut last = None;
        for (s, at) in sent.iter().zip(&landed) {
            let at =
                at.ok_or_else(|| BenchError::Failed(format!("order {} never landed", s.index)))?;
            latencies.push(at - s.sent);
            last = last.max(Some(at));
        }
        let first = sent.iter().map(|s| s.sent).min();
        Ok(PathRun {
            orders: count,
            wall: match (first, last) {
                (Some(a), Some(b)) => b - a,
                _ => Duration::ZERO,
            },
            latencies: Latencies::new(latencies),
            cpu,
            peak_rss,
        })
    }
}

/// The floor's ERP endpoint: parse, check, write.
async fn take_order(State(erp): State<MemorySystem>, body: Bytes) -> (StatusCode, String) {
    let order: Order = match serde_json::from_slice(&body) {
        Ok(order) => order,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()),
    };
    if let Err(problems) = order.validate() {
        return (StatusCode::BAD_REQUEST, problems.to_string());
    }
    match erp.place_order(order) {
        Ok(order) => (StatusCode::CREATED, order.id),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
