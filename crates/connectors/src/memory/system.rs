//! The memory system: a shop or an ERP held in memory (optionally journaled to a file),
//! with knobs that make it slow, flaky, rate-limited or down.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kontor_connector::{ConnectorError, SalesDocument};
use kontor_model::{
    Customer, Order, OrderStatus, Price, Product, Return, Shipment, ShipmentLine, StockLevel,
};

use super::state::{CustomerRecord, Journal, Mutation, ProductRecord, State};

/// How many changes a slow watcher may fall behind before it misses some.
const EVENT_BUFFER: usize = 65_536;

/// A record the system changed: what an ERP's or shop's own event feed would announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// `product`, `stock`, `price`, `order`, `sale` or `customer`.
    pub entity: &'static str,
    /// The record's key: a product code, `SKU@warehouse`, an order id, the shop order
    /// number a sale was made for, a customer's reference.
    pub key: String,
}

/// How the memory system misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Knobs {
    /// Added to every call.
    pub latency: Duration,
    /// Share of calls (0–1) that fail as if the system answered 503.
    pub error_rate: f64,
    /// Calls per second allowed; beyond that, calls are refused with a Retry-After.
    pub rate_limit: Option<u32>,
    /// Down for a while, some time after start.
    pub outage: Option<Outage>,
    /// Most records one batch call accepts.
    pub batch_size: usize,
    /// The ERP warehouse sales reserve and returns go to, unless a line says otherwise.
    pub default_warehouse: String,
    /// How the ERP rounds tax on a sales document.
    pub tax_rounding: TaxRounding,
}

/// Whether tax is rounded once per rate over the whole document (most ERPs' default), or
/// on every line and then summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxRounding {
    #[default]
    Document,
    Line,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            latency: Duration::ZERO,
            error_rate: 0.0,
            rate_limit: None,
            outage: None,
            batch_size: 100,
            default_warehouse: super::seed::WEB_WAREHOUSE.to_owned(),
            tax_rounding: TaxRounding::Document,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub after: Duration,
    pub lasting: Duration,
}

#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    refilled: Instant,
}

struct Locked {
    state: State,
    journal: Option<Journal>,
}

struct Inner {
    name: String,
    data: Mutex<Locked>,
    knobs: Mutex<Knobs>,
    bucket: Mutex<TokenBucket>,
    started: Instant,
    down: AtomicBool,
    /// Calls still to refuse as rate-limited, and the wait they ask for.
    throttled: Mutex<(u32, Duration)>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    changes: tokio::sync::broadcast::Sender<Changed>,
}

/// A shop or ERP in memory. Clones share one system.
#[derive(Clone)]
pub struct MemorySystem {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemorySystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySystem")
            .field("name", &self.inner.name)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the data half-written (every change is
    // one assignment), so a poisoned lock is still safe to use.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemorySystem {
    fn with(name: &str, state: State, journal: Option<Journal>) -> Self {
        MemorySystem {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                data: Mutex::new(Locked { state, journal }),
                knobs: Mutex::new(Knobs::default()),
                bucket: Mutex::new(TokenBucket {
                    tokens: 0.0,
                    refilled: Instant::now(),
                }),
                started: Instant::now(),
                down: AtomicBool::new(false),
                throttled: Mutex::new((0, Duration::ZERO)),
                calls: Mutex::new(BTreeMap::new()),
                changes: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
            }),
        }
    }

    /// A system that lives only as long as this process.
    pub fn new(name: &str) -> Self {
        MemorySystem::with(name, State::default(), None)
    }

    /// A system kept in a journal file: reopening it restores every change.
    pub fn open(name: &str, path: &Path) -> std::io::Result<Self> {
        let (journal, state) = Journal::open(path)?;
        Ok(MemorySystem::with(name, state, Some(journal)))
    }

    /// A copy of a journaled system as it is now, for looking at while another process
    /// runs it. Changes to the copy are not saved.
    pub fn snapshot(name: &str, path: &Path) -> std::io::Result<Self> {
        Ok(MemorySystem::with(name, Journal::snapshot(path)?, None))
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        let mut bucket = lock(&self.inner.bucket);
        bucket.tokens = f64::from(knobs.rate_limit.unwrap_or(0));
        bucket.refilled = Instant::now();
        *lock(&self.inner.knobs) = knobs;
    }

    pub fn knobs(&self) -> Knobs {
        lock(&self.inner.knobs).clone()
    }

    /// Takes the system down (every call fails as unreachable) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// Refuses the next `calls` calls as rate-limited, asking to wait `retry_after`: a
    /// shop whose other apps used up the allowance.
    pub fn throttle_next(&self, calls: u32, retry_after: Duration) {
        *lock(&self.inner.throttled) = (calls, retry_after);
    }

    /// Every change from now on, as it is made (the system's event feed: how the
    /// benchmarks see an order land, and how a test plays an ERP that pushes events).
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<Changed> {
        self.inner.changes.subscribe()
    }

    /// API calls made through the ports, per operation.
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        lock(&self.inner.calls)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    pub fn total_api_calls(&self) -> u64 {
        lock(&self.inner.calls).values().sum()
    }

    pub fn reset_api_calls(&self) {
        lock(&self.inner.calls).clear();
    }

    /// Every port call goes through here: counted, delayed, and failed as the knobs say.
    pub(crate) async fn call(&self, operation: &'static str) -> Result<(), ConnectorError> {
        *lock(&self.inner.calls).entry(operation).or_default() += 1;
        let knobs = self.knobs();
        if !knobs.latency.is_zero() {
            tokio::time::sleep(knobs.latency).await;
        }
        let in_outage = knobs.outage.is_some_and(|o| {
            let up_for = self.inner.started.elapsed();
            up_for >= o.after && up_for < o.after + o.lasting
        });
        if in_outage || self.inner.down.load(Ordering::SeqCst) {
            return Err(ConnectorError::Unavailable {
                message: format!("{} is down (connection refused)", self.inner.name),
                source: None,
            });
        }
        {
            let mut throttled = lock(&self.inner.throttled);
            if throttled.0 > 0 {
                throttled.0 -= 1;
                return Err(ConnectorError::RateLimited {
                    retry_after: Some(throttled.1),
                });
            }
        }
        if let Some(per_second) = knobs.rate_limit {
            let mut bucket = lock(&self.inner.bucket);
            let now = Instant::now();
            let refill = now.duration_since(bucket.refilled).as_secs_f64() * f64::from(per_second);
            bucket.tokens = (bucket.tokens + refill).min(f64::from(per_second));
            bucket.refilled = now;
            if bucket.tokens < 1.0 {
                let wait = (1.0 - bucket.tokens) / f64::from(per_second.max(1));
                return Err(ConnectorError::RateLimited {
                    retry_after: Some(Duration::from_secs_f64(wait)),
                });
            }
            bucket.tokens -= 1.0;
        }
        if knobs.error_rate > 0.0 && fastrand::f64() < knobs.error_rate {
            return Err(ConnectorError::Unavailable {
                message: format!(
                    "{} answered 503 Service Unavailable (injected)",
                    self.inner.name
                ),
                source: None,
            });
        }
        Ok(())
    }

    /// Refuses a batch bigger than the system takes, as a real API answers 400.
    pub(crate) fn check_batch(&self, len: usize) -> Result<(), ConnectorError> {
        let limit = self.knobs().batch_size.max(1);
        if len > limit {
            return Err(ConnectorError::rejected(format!(
                "a batch takes at most {limit} records, got {len}"
            )));
        }
        Ok(())
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&lock(&self.inner.data).state)
    }

    /// Changes the state: `f` returns the mutations to record (journal first, then apply)
    /// and a result. A journal that cannot be written fails the call, as a real
    /// system's failed commit would.
    pub(crate) fn write<R>(
        &self,
        f: impl FnOnce(&mut State) -> (Vec<Mutation>, R),
    ) -> Result<R, ConnectorError> {
        let mut data = lock(&self.inner.data);
        let Locked { state, journal } = &mut *data;
        let (mutations, result) = f(state);
        for mutation in mutations {
            if let Some(journal) = journal {
                journal
                    .append(&mutation)
                    .map_err(|e| ConnectorError::Unavailable {
                        message: format!("{} could not save the change", self.inner.name),
                        source: Some(Box::new(e)),
                    })?;
            }
            let changed = mutation.changed();
            state.apply(mutation);
            if let Some(changed) = changed {
                // No watchers is the usual case, and not an error.
                let _ = self.inner.changes.send(changed);
            }
        }
        Ok(result)
    }

    // Direct access for tests, seeding and the demo: no knobs, not counted.

    /// Adds or replaces a product (matched by its code); returns its id.
    pub fn put_product(&self, product: Product) -> Result<String, ConnectorError> {
        self.write(|state| {
            let existing = state
                .products
                .values()
                .find(|p| p.product.code == product.code)
                .cloned();
            let id = existing
                .as_ref()
                .map(|p| p.id.clone())
                .unwrap_or_else(|| state.new_id("p"));
            let mut variant_ids = BTreeMap::new();
            for variant in &product.variants {
                let known = existing
                    .as_ref()
                    .and_then(|p| p.variant_ids.get(&variant.sku).cloned());
                variant_ids.insert(
                    variant.sku.clone(),
                    known.unwrap_or_else(|| state.new_id("v")),
                );
            }
            let record = ProductRecord {
                id: id.clone(),
                product,
                variant_ids,
                archived: false,
            };
            (vec![Mutation::Product(record)], id)
        })
    }

    pub fn put_stock(&self, level: StockLevel) -> Result<(), ConnectorError> {
        self.write(|_| (vec![Mutation::Stock(level)], ()))
    }

    pub fn put_price(&self, price: Price) -> Result<(), ConnectorError> {
        self.write(|_| (vec![Mutation::Price(price)], ()))
    }

    /// Places an order as a shopper would; an empty id or number is assigned.
    pub fn place_order(&self, mut order: Order) -> Result<Order, ConnectorError> {
        self.write(|state| {
            if order.id.is_empty() {
                order.id = state.new_id("o");
            }
            if order.number.is_empty() {
                order.number = format!("#{}", 1000 + state.orders.len() + 1);
            }
            for payment in order
                .payments
                .iter_mut()
                .filter(|p| p.order_number.is_empty())
            {
                payment.order_number.clone_from(&order.number);
            }
            (vec![Mutation::Order(Box::new(order.clone()))], order)
        })
    }

    /// Replaces an order (as the shop does when it changes).
    pub fn update_order(&self, order: Order) -> Result<(), ConnectorError> {
        self.write(|_| (vec![Mutation::Order(Box::new(order))], ()))
    }

    /// Products as the system shows them (archived ones with that status).
    pub fn products(&self) -> Vec<Product> {
        self.read(|s| s.products.values().map(ProductRecord::view).collect())
    }

    pub fn product_by_sku(&self, sku: &str) -> Option<Product> {
        self.read(|s| {
            s.sku_index
                .get(sku)
                .and_then(|id| s.products.get(id))
                .map(ProductRecord::view)
        })
    }

    pub fn variant_count(&self) -> usize {
        self.read(|s| s.sku_index.len())
    }

    pub fn stock_of(&self, sku: &str, location: &str) -> Option<StockLevel> {
        self.read(|s| s.stock.get(&(sku.to_owned(), location.to_owned())).cloned())
    }

    pub fn stock(&self) -> Vec<StockLevel> {
        self.read(|s| s.stock.values().cloned().collect())
    }

    pub fn prices(&self) -> Vec<Price> {
        self.read(|s| s.prices.values().cloned().collect())
    }

    pub fn orders(&self) -> Vec<Order> {
        self.read(|s| s.orders.values().cloned().collect())
    }

    pub fn order(&self, id: &str) -> Option<Order> {
        self.read(|s| s.orders.get(id).cloned())
    }

    pub fn sales(&self) -> Vec<SalesDocument> {
        self.read(|s| s.sales.values().map(|r| r.document.clone()).collect())
    }

    /// Every sales document made for one shop order: more than one is a duplicate.
    pub fn sales_for(&self, reference: &str) -> Vec<SalesDocument> {
        self.read(|s| {
            s.sales_by_reference
                .get(reference)
                .into_iter()
                .flatten()
                .filter_map(|id| s.sales.get(id))
                .map(|r| r.document.clone())
                .collect()
        })
    }

    /// The draft a sales document was created from (what Kontor sent).
    pub fn sale_draft(&self, sale_id: &str) -> Option<kontor_connector::SalesDraft> {
        self.read(|s| s.sales.get(sale_id).map(|r| r.draft.clone()))
    }

    /// The warehouse ships goods of a sale (all of it, or these lines), as the ERP's
    /// staff would: stock leaves the warehouse and the sale moves on.
    pub fn ship(
        &self,
        sale_id: &str,
        lines: Option<Vec<(String, rust_decimal::Decimal)>>,
        carrier: &str,
        tracking: &str,
    ) -> Result<Shipment, ConnectorError> {
        let default_warehouse = self.knobs().default_warehouse;
        self.write(|state| {
            let Some(record) = state.sales.get(sale_id).cloned() else {
                return (
                    vec![],
                    Err(ConnectorError::NotFound {
                        what: format!("sale {sale_id}"),
                    }),
                );
            };
            let goods: Vec<(String, rust_decimal::Decimal)> = lines.unwrap_or_else(|| {
                record
                    .draft
                    .lines
                    .iter()
                    .filter(|l| l.product_id.is_some())
                    .map(|l| (l.sku.clone(), l.quantity))
                    .collect()
            });
            let already: usize = state
                .shipments
                .values()
                .filter(|s| s.order_number == record.document.reference)
                .count();
            let shipment = Shipment {
                reference: format!("{}-WZ{}", sale_id, already + 1),
                order_number: record.document.reference.clone(),
                carrier: Some(carrier.to_owned()),
                tracking_number: Some(tracking.to_owned()),
                tracking_url: Some(format!("https://tracking.example.com/{tracking}")),
                lines: goods
                    .iter()
                    .map(|(sku, quantity)| ShipmentLine {
                        sku: sku.clone(),
                        quantity: *quantity,
                    })
                    .collect(),
                warehouse: Some(default_warehouse.clone()),
                shipped_at: chrono::Utc::now(),
            };
            let mut moves = Vec::new();
            let mut still_reserved = record.reserved.clone();
            for (sku, quantity) in &goods {
                let warehouse = record
                    .reserved
                    .iter()
                    .find(|(s, _, _)| s == sku)
                    .map_or(default_warehouse.clone(), |(_, w, _)| w.clone());
                let held = record
                    .reserved
                    .iter()
                    .find(|(s, _, _)| s == sku)
                    .map_or(rust_decimal::Decimal::ZERO, |(_, _, q)| (*q).min(*quantity));
                moves.push((sku.clone(), warehouse, -held, -*quantity));
                for reserved in still_reserved.iter_mut().filter(|(s, _, _)| s == sku) {
                    reserved.2 -= held;
                }
            }
            still_reserved.retain(|(_, _, q)| !q.is_zero());
            let mut updated = record.clone();
            updated.reserved = still_reserved;
            let shipped_everything = updated.reserved.is_empty();
            updated.document.status = if shipped_everything {
                OrderStatus::Shipped
            } else {
                OrderStatus::PartiallyShipped
            };
            updated.document.state = if shipped_everything {
                "done".into()
            } else {
                "processing".into()
            };
            let mut mutations = super::ports::stock_moves(state, &moves);
            mutations.push(Mutation::Shipment(Box::new(shipment.clone())));
            mutations.push(Mutation::Sale(Box::new(updated)));
            (mutations, Ok(shipment))
        })?
    }

    /// The ERP moves a sale to another state (staff at work).
    pub fn set_sale_status(
        &self,
        sale_id: &str,
        status: OrderStatus,
        state_name: &str,
    ) -> Result<(), ConnectorError> {
        self.write(|state| match state.sales.get(sale_id).cloned() {
            None => (
                vec![],
                Err(ConnectorError::NotFound {
                    what: format!("sale {sale_id}"),
                }),
            ),
            Some(mut record) => {
                record.document.status = status;
                record.document.state = state_name.to_owned();
                (vec![Mutation::Sale(Box::new(record))], Ok(()))
            }
        })?
    }

    /// A return or refund entered in the shop.
    pub fn add_return(&self, goods_return: Return) -> Result<(), ConnectorError> {
        self.write(|_| (vec![Mutation::Return(Box::new(goods_return))], ()))
    }

    /// A customer kept in the ERP (a B2B account); returns its id.
    pub fn put_customer(&self, customer: Customer) -> Result<String, ConnectorError> {
        self.write(|state| {
            let id = state
                .customers_by_reference
                .get(&customer.reference)
                .and_then(|ids| ids.first().cloned())
                .unwrap_or_else(|| state.new_id("c"));
            (
                vec![Mutation::Customer(CustomerRecord {
                    id: id.clone(),
                    customer,
                })],
                id,
            )
        })
    }

    pub fn sale(&self, sale_id: &str) -> Option<SalesDocument> {
        self.read(|s| s.sales.get(sale_id).map(|r| r.document.clone()))
    }

    /// Stock a sale holds reserved, by (SKU, warehouse).
    pub fn reserved_by(&self, sale_id: &str) -> Vec<(String, String, rust_decimal::Decimal)> {
        self.read(|s| {
            s.sales
                .get(sale_id)
                .map(|r| r.reserved.clone())
                .unwrap_or_default()
        })
    }

    pub fn shop_prices(&self) -> Vec<kontor_connector::PriceUpdate> {
        self.read(|s| s.shop_prices.values().cloned().collect())
    }

    pub fn payments_of_sale(&self, sale_id: &str) -> Vec<kontor_connector::PaymentRecord> {
        self.read(|s| s.payments.get(sale_id).cloned().unwrap_or_default())
    }

    pub fn invoices(&self) -> Vec<kontor_model::Invoice> {
        self.read(|s| s.invoices.values().map(|r| r.invoice.clone()).collect())
    }

    /// Invoice numbers on a shop order, and the size of each attached PDF.
    pub fn attached_invoices(&self, order_id: &str) -> Vec<(String, Option<usize>)> {
        self.read(|s| {
            s.attached_invoices
                .get(order_id)
                .into_iter()
                .flatten()
                .map(|a| (a.number.clone(), a.pdf_bytes))
                .collect()
        })
    }

    /// Fulfilments on a shop order, with the shipments they were made from.
    pub fn fulfilments(&self, order_id: &str) -> Vec<(kontor_connector::FulfilmentRef, Shipment)> {
        self.read(|s| {
            s.fulfilments
                .get(order_id)
                .into_iter()
                .flatten()
                .map(|f| (f.fulfilment.clone(), f.shipment.clone()))
                .collect()
        })
    }

    pub fn return_documents(&self) -> Vec<kontor_connector::ReturnDocument> {
        self.read(|s| {
            s.return_documents
                .values()
                .map(|r| r.document.clone())
                .collect()
        })
    }

    pub fn accounts(&self) -> Vec<(String, Customer)> {
        self.read(|s| {
            s.accounts
                .values()
                .map(|a| (a.id.clone(), a.customer.clone()))
                .collect()
        })
    }

    pub fn transfers(&self) -> Vec<(kontor_connector::TransferRef, kontor_model::StockTransfer)> {
        self.read(|s| {
            s.transfers
                .values()
                .map(|t| (t.transfer.clone(), t.details.clone()))
                .collect()
        })
    }

    pub fn customers(&self) -> Vec<Customer> {
        self.read(|s| s.customers.values().map(|c| c.customer.clone()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.read(|s| s.products.is_empty() && s.orders.is_empty() && s.sales.is_empty())
    }
}
