//! A shop, an ERP and Kontor's store, with flows running between them through the real
//! queue and runner.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kontor_connector::Connector;
use kontor_connectors::memory::{
    MemoryConnector, MemorySystem, OrderGenerator, SellableItem, WEB_WAREHOUSE, seed_demo,
};
use kontor_engine::{
    Job, JobFilter, JobState, RetryPolicy, Runner, RunnerConfig, Shutdown, Store, StoreOptions,
    SystemClock,
};
use kontor_flows::{BuiltFlow, FlowConfig, FlowKind, Mappings, build_flows, handler_registry};
use kontor_model::{Customer, CustomerKind, Email, Order, VatId};
use serde_json::json;

/// A condition on the jobs in the store that ends a run.
type Enough<'a> = dyn Fn(&[Job]) -> bool + 'a;

pub struct World {
    pub store: Store,
    pub shop: MemorySystem,
    pub erp: MemorySystem,
    pub flows: Vec<BuiltFlow>,
    /// The ERP connection when it is not `erp` (a real system).
    pub erp_connector: Option<Arc<dyn Connector>>,
    /// The shop connection when it is not `shop` (a real system).
    pub shop_connector: Option<Arc<dyn Connector>>,
    _dir: tempfile::TempDir,
}

/// A flow whose name is its kind.
pub fn flow(from: &str, to: &str, options: serde_json::Value) -> FlowConfig {
    FlowConfig {
        kind: None,
        from: from.into(),
        to: to.into(),
        enabled: true,
        every: None,
        cron: None,
        options: if options.is_null() {
            serde_json::Value::Null
        } else {
            options
        },
    }
}

/// Every kind of flow between `shop` and `erp`, in its natural direction.
pub fn all_flows() -> BTreeMap<String, FlowConfig> {
    FlowKind::ALL
        .into_iter()
        .map(|kind| {
            let from_erp = matches!(
                kind,
                FlowKind::Catalogue
                    | FlowKind::Prices
                    | FlowKind::Stock
                    | FlowKind::Customers
                    | FlowKind::Invoices
                    | FlowKind::Shipments
                    | FlowKind::OrderStatus
            );
            let (from, to) = if from_erp {
                ("erp", "shop")
            } else {
                ("shop", "erp")
            };
            (kind.as_str().to_owned(), flow(from, to, json!(null)))
        })
        .collect()
}

pub fn three_flows() -> BTreeMap<String, FlowConfig> {
    all_flows()
        .into_iter()
        .filter(|(name, _)| ["catalogue", "stock", "orders"].contains(&name.as_str()))
        .collect()
}

pub fn demo_mappings() -> Mappings {
    Mappings {
        warehouses: BTreeMap::from([(WEB_WAREHOUSE.to_owned(), "default".to_owned())]),
        ..Mappings::default()
    }
}

impl World {
    pub async fn new() -> World {
        World::with(three_flows(), demo_mappings()).await
    }

    pub async fn with(flows: BTreeMap<String, FlowConfig>, mappings: Mappings) -> World {
        let retry = RetryPolicy {
            max_attempts: 10,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        };
        World::with_retry(flows, mappings, retry).await
    }

    pub async fn with_retry(
        flows: BTreeMap<String, FlowConfig>,
        mappings: Mappings,
        retry: RetryPolicy,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut options =
            StoreOptions::new(format!("sqlite://{}", dir.path().join("k.db").display()));
        options.retry = retry;
        let store = Store::open_with(options, Arc::new(SystemClock))
            .await
            .unwrap();
        let erp = MemorySystem::new("erp");
        seed_demo(&erp, 1).unwrap();
        let mut world = World {
            store,
            shop: MemorySystem::new("shop"),
            erp,
            flows: vec![],
            erp_connector: None,
            shop_connector: None,
            _dir: dir,
        };
        world.configure(flows, mappings);
        world
    }

    /// A world whose ERP is `erp` (e.g. a real Tryton) instead of the memory ERP.
    pub async fn with_erp(
        erp: Arc<dyn Connector>,
        flows: BTreeMap<String, FlowConfig>,
        mappings: Mappings,
    ) -> World {
        // A real system restarts in seconds: retries outlast that.
        let retry = RetryPolicy {
            max_attempts: 100,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let mut world = World::with_retry(BTreeMap::new(), mappings.clone(), retry).await;
        world.erp_connector = Some(erp);
        world.configure(flows, mappings);
        world
    }

    /// A world whose shop is `shop` (e.g. a real Vendure), and whose ERP is `erp` when
    /// given, else the memory ERP with its demo catalogue.
    pub async fn with_shop(
        shop: Arc<dyn Connector>,
        erp: Option<Arc<dyn Connector>>,
        flows: BTreeMap<String, FlowConfig>,
        mappings: Mappings,
    ) -> World {
        let retry = RetryPolicy {
            max_attempts: 100,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let mut world = World::with_retry(BTreeMap::new(), mappings.clone(), retry).await;
        world.shop_connector = Some(shop);
        world.erp_connector = erp;
        world.configure(flows, mappings);
        world
    }

    /// (Re)builds the flows, as a configuration change does.
    pub fn configure(&mut self, flows: BTreeMap<String, FlowConfig>, mappings: Mappings) {
        let connections: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::from([
            (
                "shop".to_owned(),
                self.shop_connector.clone().unwrap_or_else(|| {
                    Arc::new(MemoryConnector {
                        system: self.shop.clone(),
                    })
                }),
            ),
            (
                "erp".to_owned(),
                self.erp_connector.clone().unwrap_or_else(|| {
                    Arc::new(MemoryConnector {
                        system: self.erp.clone(),
                    })
                }),
            ),
        ]);
        self.flows = build_flows("acme", &flows, &connections, Arc::new(mappings)).unwrap();
    }

    pub fn flow(&self, name: &str) -> &BuiltFlow {
        self.flows
            .iter()
            .find(|f| f.flow.context().name == name)
            .unwrap()
    }

    pub async fn start(&self, name: &str) {
        self.store
            .enqueue(self.flow(name).flow.start_job())
            .await
            .unwrap();
    }

    /// Runs these flows, one after the other, each until it settles.
    pub async fn run(&self, names: &[&str]) {
        for name in names {
            self.start(name).await;
            self.settle().await;
        }
    }

    /// Runs jobs until none is pending or running.
    pub async fn settle(&self) {
        self.run_jobs(None).await;
        assert!(
            self.jobs(&[JobState::Pending, JobState::Running])
                .await
                .is_empty(),
            "jobs did not settle"
        );
    }

    /// Runs jobs until `enough` holds for the jobs in the store.
    pub async fn settle_until(&self, enough: impl Fn(&[Job]) -> bool) {
        self.run_jobs(Some(&enough)).await;
    }

    async fn run_jobs(&self, enough: Option<&Enough<'_>>) {
        let flows: Vec<_> = self.flows.iter().map(|f| f.flow.clone()).collect();
        let runner = Runner::new(
            self.store.clone(),
            handler_registry(&flows),
            RunnerConfig {
                workers: 4,
                idle_poll: Duration::from_millis(10),
                ..RunnerConfig::default()
            },
        );
        let shutdown = Shutdown::new();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { runner.run(shutdown).await }
        });
        // Long enough for a real ERP's seconds-long calls; a stuck test still ends.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while tokio::time::Instant::now() < deadline {
            let done = match enough {
                Some(enough) => enough(&self.jobs(&[]).await),
                None => self
                    .jobs(&[JobState::Pending, JobState::Running])
                    .await
                    .is_empty(),
            };
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        running.await.unwrap();
    }

    pub async fn jobs(&self, states: &[JobState]) -> Vec<Job> {
        self.store
            .list_jobs(&JobFilter {
                states: states.to_vec(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    pub async fn parked(&self) -> Vec<Job> {
        self.jobs(&[JobState::Parked]).await
    }

    /// Asserts nothing is parked, showing what is if something is.
    pub async fn assert_nothing_parked(&self) {
        let parked = self.parked().await;
        assert!(
            parked.is_empty(),
            "parked: {:#?}",
            parked
                .iter()
                .map(|j| (j.kind.clone(), j.last_error().map(|e| e.message.clone())))
                .collect::<Vec<_>>()
        );
    }

    pub fn generator(&self, seed: u64) -> OrderGenerator {
        OrderGenerator::new(seed, SellableItem::from_system(&self.erp))
    }

    pub fn place_orders(&self, n: usize, seed: u64) -> Vec<Order> {
        let mut generator = self.generator(seed);
        (0..n)
            .map(|_| {
                self.shop
                    .place_order(generator.next_order(Utc::now()).unwrap())
                    .unwrap()
            })
            .collect()
    }

    /// Places `order` as generated, after `change` adjusts it.
    pub fn place(&self, seed: u64, change: impl FnOnce(&mut Order)) -> Order {
        let mut order = self.generator(seed).next_order(Utc::now()).unwrap();
        change(&mut order);
        self.shop.place_order(order).unwrap()
    }

    /// The ERP sale created for a shop order.
    pub fn sale_of(&self, order: &Order) -> kontor_connector::SalesDocument {
        let sales = self.erp.sales_for(&order.number);
        assert_eq!(
            sales.len(),
            1,
            "order {} must be in the ERP exactly once",
            order.number
        );
        sales.into_iter().next().unwrap()
    }
}

/// The ERP's trade customer the shop tests sync: Hotel Gdańsk (`K-100`), a company with
/// a Polish VAT id, in the `Hurt` (wholesale) group.
pub fn trade_customer() -> Customer {
    Customer {
        reference: "K-100".into(),
        kind: CustomerKind::Company {
            company_name: "Hotel Gdańsk".into(),
            vat_id: Some(VatId::new("PL6762468118").unwrap()),
        },
        name: "Hotel Gdańsk".into(),
        email: Some(Email::new("zakupy@hotel.example").unwrap()),
        phone: None,
        addresses: vec![],
        group: Some("Hurt".into()),
        price_list: None,
        payment_terms: None,
        credit_limit: None,
        balance: None,
    }
}
