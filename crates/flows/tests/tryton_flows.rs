//! The flows between a memory shop and a real Tryton 8.2 server: the catalogue and stock
//! reach the shop; orders become confirmed sales exactly once, through a retry after a
//! crash and through an outage of Tryton; payments, invoices with their PDF and
//! shipments come back.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use kontor_connector::Secret;
use kontor_connector::{Connector, SalesSink};
use kontor_connectors::memory::{OrderGenerator, SellableItem};
use kontor_connectors::tryton::{TrytonConfig, TrytonConnector, TrytonSystem};
use kontor_engine::JobState;
use kontor_flows::{FlowConfig, Mappings};
use kontor_model::{Currency, DeliveryMethod, Money, Order, OrderStatus, ShippingCharge, TaxRate};
use kontor_testkit::{TrytonServer, tryton};
use rust_decimal::Decimal;
use serde_json::json;
use support::{World, flow};

fn tryton_system(server: &TrytonServer) -> TrytonSystem {
    let config = TrytonConfig {
        url: server.url(),
        database: tryton::DATABASE.into(),
        username: tryton::USERNAME.into(),
        password: Secret::Value(tryton::PASSWORD.into()),
        timeout: Duration::from_secs(60),
        warehouses: vec!["WH".into()],
        languages: vec!["pl".into()],
        payment_method: Some("Card".into()),
        payment_term: None,
        tracking_field: "reference".into(),
        carrier: None,
        poll_lag: Duration::ZERO,
    };
    TrytonSystem::new(config, tryton::PASSWORD.into()).unwrap()
}

fn flows() -> BTreeMap<String, FlowConfig> {
    BTreeMap::from([
        ("catalogue".to_owned(), flow("erp", "shop", json!(null))),
        ("stock".to_owned(), flow("erp", "shop", json!(null))),
        // Tryton cannot reach some gross prices to the cent (net prices, rounded lines).
        (
            "orders".to_owned(),
            flow("shop", "erp", json!({ "tolerance": "0.01" })),
        ),
        ("payments".to_owned(), flow("shop", "erp", json!(null))),
        ("invoices".to_owned(), flow("erp", "shop", json!(null))),
        ("shipments".to_owned(), flow("erp", "shop", json!(null))),
    ])
}

fn mappings() -> Mappings {
    Mappings {
        warehouses: BTreeMap::from([("WH".to_owned(), "default".to_owned())]),
        shipping_methods: BTreeMap::from([
            ("courier".to_owned(), "SHIP-COURIER".to_owned()),
            ("parcel_locker".to_owned(), "SHIP-COURIER".to_owned()),
        ]),
        ..Mappings::default()
    }
}

async fn world(server: &TrytonServer) -> (World, TrytonSystem) {
    let erp = tryton_system(server);
    let connector: Arc<dyn Connector> = Arc::new(TrytonConnector {
        system: erp.clone(),
    });
    (World::with_erp(connector, flows(), mappings()).await, erp)
}

/// What the shop sells of Tryton's goods, at gross prices.
fn basket() -> Vec<SellableItem> {
    let pln = |cents: i64| Money::new(Decimal::new(cents, 2), Currency::PLN);
    let item = |sku: &str, cents: i64, rate: u32| SellableItem {
        sku: sku.into(),
        name: sku.into(),
        gross_price: pln(cents),
        tax_rate: TaxRate(Decimal::from(rate)),
    };
    vec![
        item("TSH-S-WHT", 7900, 23),
        item("TSH-M-BLK", 7900, 23),
        item("MUG-330", 3990, 23),
        item("BOOK", 6490, 5),
        item("HONEY", 3250, 5),
    ]
}

/// Orders shipped by courier (Tryton has one warehouse and no showroom).
fn place(world: &World, n: usize, seed: u64) -> Vec<Order> {
    let mut generator = OrderGenerator::new(seed, basket());
    (0..n)
        .map(|_| {
            let mut order = generator.next_order(Utc::now()).unwrap();
            order.delivery = DeliveryMethod::Shipping {
                method: "courier".into(),
                carrier: Some("DPD".into()),
            };
            order.shipping = Some(ShippingCharge {
                method: "courier".into(),
                amount: Money::new(Decimal::new(1499, 2), Currency::PLN),
                tax_rate: TaxRate(Decimal::from(23)),
            });
            if order.shipping_address.is_none() {
                order.shipping_address = order.billing_address.clone();
            }
            order.totals = order.computed_totals().unwrap();
            world.shop.place_order(order).unwrap()
        })
        .collect()
}

/// Sales in Tryton with this reference, as counted by Tryton itself.
fn sales_in_tryton(server: &TrytonServer, reference: &str) -> usize {
    let admin = server.admin().unwrap();
    let found = admin
        .call(
            "model.sale.sale.search",
            json!([[["reference", "=", reference]], 0, null, null]),
        )
        .unwrap();
    found.as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn the_shop_gets_trytons_goods_and_orders_come_back_as_confirmed_sales_paid_and_invoiced() {
    let server = TrytonServer::start().unwrap();
    let (world, erp) = world(&server).await;

    world.run(&["catalogue"]).await;
    for job in world.jobs(&[]).await {
        eprintln!(
            "JOB {} {:?} {:?} {:?}",
            job.kind,
            job.state,
            job.outcome,
            job.last_error().map(|e| e.message.clone())
        );
    }
    world.run(&["stock"]).await;
    world.assert_nothing_parked().await;
    let shirt = world
        .shop
        .product_by_sku("TSH-M-BLK")
        .expect("the shirt reached the shop");
    assert_eq!(shirt.variants.len(), 3);
    assert_eq!(
        world
            .shop
            .stock_of("TSH-S-WHT", "default")
            .map(|l| l.on_hand),
        Some(Decimal::from(40))
    );

    let orders = place(&world, 3, 7);
    world.run(&["orders"]).await;
    world.assert_nothing_parked().await;
    for order in &orders {
        let sale = erp
            .find_sale(&order.number)
            .await
            .unwrap()
            .expect("a sale per order");
        assert_eq!(
            sale.state, "processing",
            "confirmed once reconciled: {sale:?}"
        );
        let difference = (sale.total.amount - order.totals.total.amount).abs();
        assert!(
            difference <= Decimal::new(1, 2),
            "{} paid {}, Tryton {}",
            order.number,
            order.totals.total,
            sale.total
        );
        assert_eq!(sales_in_tryton(&server, &order.number), 1);
    }

    world.run(&["payments", "invoices"]).await;
    world.assert_nothing_parked().await;
    let paid: Vec<&Order> = orders
        .iter()
        .filter(|o| o.payment_state.is_paid())
        .collect();
    assert!(!paid.is_empty());
    for order in paid {
        let attached = world.shop.attached_invoices(&order.id);
        assert_eq!(attached.len(), 1, "{}: {attached:?}", order.number);
        assert!(
            attached[0].1.is_some_and(|pdf| pdf > 1000),
            "the PDF came along: {attached:?}"
        );
        let sale = erp.find_sale(&order.number).await.unwrap().unwrap();
        let payments = kontor_connector::PaymentSink::payments_of(&erp, &sale.id)
            .await
            .unwrap();
        assert_eq!(payments.len(), 1, "paid once in Tryton: {payments:?}");
    }

    // The warehouse ships the first order with a tracking number; the shop hears of it.
    let first = &orders[0];
    let sale = erp.find_sale(&first.number).await.unwrap().unwrap();
    server
        .admin()
        .unwrap()
        .ship_sale(sale.id.parse().unwrap(), "DPD-123")
        .unwrap();
    world.run(&["shipments"]).await;
    world.assert_nothing_parked().await;
    let fulfilments = world.shop.fulfilments(&first.id);
    assert_eq!(fulfilments.len(), 1);
    assert_eq!(fulfilments[0].1.tracking_number.as_deref(), Some("DPD-123"));
}

#[tokio::test]
async fn a_sale_made_before_a_crash_is_found_not_made_again_and_an_outage_only_delays() {
    let server = TrytonServer::start().unwrap();
    let (world, erp) = world(&server).await;
    world.run(&["catalogue"]).await;

    // Tryton made the sale, then Kontor died before recording it.
    let order = place(&world, 1, 11).remove(0);
    world.run(&["orders"]).await;
    let sale = erp.find_sale(&order.number).await.unwrap().unwrap();
    // Forget Kontor's side by starting over with a fresh store against the same Tryton.
    let (fresh, _) = self::world(&server).await;
    fresh.shop.place_order(order.clone()).unwrap();
    fresh.run(&["catalogue", "orders"]).await;
    fresh.assert_nothing_parked().await;
    assert_eq!(
        sales_in_tryton(&server, &order.number),
        1,
        "found by its reference, not made again"
    );
    assert_eq!(
        erp.find_sale(&order.number).await.unwrap().unwrap().id,
        sale.id
    );

    // Tryton goes down with an order waiting: the job retries, nothing is lost.
    let mut server = server;
    let waiting = place(&world, 1, 12).remove(0);
    server.stop();
    world.start("orders").await;
    world
        .settle_until(|jobs| {
            jobs.iter()
                .any(|j| j.attempts >= 2 && j.state == JobState::Pending)
        })
        .await;
    assert!(world.parked().await.is_empty(), "an outage parks nothing");
    server.resume().unwrap();
    world.settle().await;
    world.assert_nothing_parked().await;
    assert_eq!(sales_in_tryton(&server, &waiting.number), 1);
    assert_eq!(
        erp.find_sale(&waiting.number)
            .await
            .unwrap()
            .unwrap()
            .status,
        OrderStatus::Processing
    );
}
