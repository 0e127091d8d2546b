//! The memory system through the conformance suite, as a shop and as an ERP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_connector::{Connector, CustomerSink, SalesDraft};
use kontor_model::{Customer, CustomerKind};
use kontor_testkit::conformance::{self, FeedSystem, SalesErp};

use super::tests::draft_for;
use super::*;

fn erp() -> MemorySystem {
    let system = MemorySystem::new("erp");
    seed_demo(&system, 1).expect("seeds");
    system
}

struct Shop {
    system: MemorySystem,
    orders: Mutex<OrderGenerator>,
}

#[async_trait]
impl FeedSystem for Shop {
    async fn add(&self) -> String {
        let order = self
            .orders
            .lock()
            .expect("generator")
            .next_order(Utc::now())
            .expect("an order");
        self.system.place_order(order).expect("placed").id
    }
    async fn restamp(&self, key: &str, at: DateTime<Utc>) {
        let mut order = self.system.order(key).expect("the order");
        order.updated_at = at;
        self.system.update_order(order).expect("updated");
    }
    fn lag(&self) -> Duration {
        Duration::ZERO
    }
    fn unknown_key(&self) -> String {
        "o-none".into()
    }
}

struct Erp {
    system: MemorySystem,
    customer_id: String,
    added: Mutex<u32>,
}

#[async_trait]
impl FeedSystem for Erp {
    async fn add(&self) -> String {
        let n = {
            let mut added = self.added.lock().expect("counter");
            *added += 1;
            *added
        };
        let mut product = self.system.products()[0].clone();
        product.code = format!("CONF-{n}");
        for (i, variant) in product.variants.iter_mut().enumerate() {
            variant.sku = format!("CONF-{n}-{i}");
        }
        self.system.put_product(product.clone()).expect("added");
        product.code
    }
    async fn restamp(&self, key: &str, at: DateTime<Utc>) {
        let mut product = self
            .system
            .products()
            .into_iter()
            .find(|p| p.code == key)
            .expect("the product");
        product.updated_at = Some(at);
        self.system.put_product(product).expect("restamped");
    }
    fn lag(&self) -> Duration {
        Duration::ZERO
    }
    fn unknown_key(&self) -> String {
        "NO-SUCH-CODE".into()
    }
}

#[async_trait]
impl SalesErp for Erp {
    async fn draft(&self, reference: &str) -> SalesDraft {
        let mut generator = OrderGenerator::new(3, SellableItem::from_system(&self.system));
        let mut order = generator.next_order(Utc::now()).expect("an order");
        order.number = reference.to_owned();
        draft_for(&self.system, &order, &self.customer_id).await
    }
}

#[async_trait]
impl conformance::Faults for Erp {
    fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(MemoryConnector {
            system: self.system.clone(),
        })
    }
    fn with_wrong_credentials(&self) -> Option<Arc<dyn Connector>> {
        None
    }
    fn unreachable(&self) -> Arc<dyn Connector> {
        let down = MemorySystem::new("down");
        down.set_down(true);
        Arc::new(MemoryConnector { system: down })
    }
    async fn rate_limit_next(&self) -> Duration {
        let wait = Duration::from_millis(300);
        self.system.throttle_next(1, wait);
        wait
    }
}

async fn customer(erp: &MemorySystem) -> String {
    erp.create_customer(&Customer::named(
        "conformance",
        CustomerKind::Person,
        "Anna",
    ))
    .await
    .expect("customer")
    .id
}

#[tokio::test]
async fn the_memory_shop_passes_the_order_feed_checks() {
    let erp = erp();
    let shop = Shop {
        system: MemorySystem::new("shop"),
        orders: Mutex::new(OrderGenerator::new(5, SellableItem::from_system(&erp))),
    };
    let feed = conformance::order_feed(Arc::new(shop.system.clone()));
    conformance::change_feed(&feed, &shop).await;
}

#[tokio::test]
async fn the_memory_erp_passes_the_catalogue_sales_and_failure_checks() {
    let system = erp();
    let erp = Erp {
        customer_id: customer(&system).await,
        system,
        added: Mutex::new(0),
    };
    let feed = conformance::catalogue_feed(Arc::new(erp.system.clone()));
    conformance::change_feed(&feed, &erp).await;
    conformance::sales_sink(&erp.system, &erp).await;
    conformance::failures(&erp).await;
}
