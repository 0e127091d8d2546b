//! The flows between the memory ERP and a Shopify shop (the schema-checked fake), through
//! the real queue and runner: the catalogue, prices, stock per location and trade
//! customers reach the shop; orders reach the ERP exactly once and are paid once; a
//! shipment's tracking number becomes a fulfilment; a refund made in the Shopify admin
//! becomes one credit note; a sale cancelled in the ERP is cancelled in Shopify; a price
//! changed in the ERP shows after the next run.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Connector;
use kontor_connectors::shopify::{ShopifyAccess, ShopifyConfig, ShopifyConnector, ShopifySystem};
use kontor_fakes::FakeShopify;
use kontor_fakes::shopify::{ACCESS_TOKEN, OrderRequest, RefundRequest, id_of};
use kontor_flows::Mappings;
use kontor_model::{Money, OrderStatus, PriceKind, PriceScope};
use rust_decimal::Decimal;
use serde_json::json;
use support::{World, flow, trade_customer};

fn shopify_connector(fake: &FakeShopify) -> Arc<dyn Connector> {
    let config: ShopifyConfig = serde_json::from_value(json!({
        "shop": fake.url(),
        "access_token": {"value": ACCESS_TOKEN},
        "poll_lag": "0s",
    }))
    .unwrap();
    let access = ShopifyAccess {
        access_token: ACCESS_TOKEN.into(),
        client_secret: None,
        ca_pem: Some(fake.ca_pem().as_bytes().to_vec()),
    };
    Arc::new(ShopifyConnector {
        system: ShopifySystem::new(config, access).unwrap(),
    })
}

fn price_of(variant: &serde_json::Value) -> Option<Decimal> {
    variant["price"].as_str().map(|p| p.parse().unwrap())
}

#[tokio::test]
async fn a_memory_erp_fills_shopify_and_its_orders_reach_the_erp_once() {
    let fake = FakeShopify::start().await.unwrap();
    // Its clock runs behind; a test moves it to a later second instead of waiting.
    fake.set_clock_behind(Duration::from_secs(10));
    let flows = BTreeMap::from([
        (
            "catalogue".to_owned(),
            flow("erp", "shop", json!({"page_size": 3})),
        ),
        ("customers".to_owned(), flow("erp", "shop", json!(null))),
        (
            "prices".to_owned(),
            flow("erp", "shop", json!({"page_size": 4, "scopes": ["base"]})),
        ),
        (
            "stock".to_owned(),
            flow("erp", "shop", json!({"page_size": 4})),
        ),
        (
            "orders".to_owned(),
            flow("shop", "erp", json!({"page_size": 2})),
        ),
        ("payments".to_owned(), flow("shop", "erp", json!(null))),
        ("shipments".to_owned(), flow("erp", "shop", json!(null))),
        ("returns".to_owned(), flow("shop", "erp", json!(null))),
        ("order_status".to_owned(), flow("erp", "shop", json!(null))),
    ]);
    // The web store's warehouse sells in Warszawa, the showroom's in Kraków.
    let mappings = Mappings {
        warehouses: BTreeMap::from([
            ("MAIN".to_owned(), "Warszawa".to_owned()),
            ("SHOWROOM-KRK".to_owned(), "Kraków".to_owned()),
        ]),
        ..Mappings::default()
    };
    let world = World::with_shop(shopify_connector(&fake), None, flows, mappings).await;
    world.erp.put_customer(trade_customer()).unwrap();
    world
        .run(&["catalogue", "prices", "stock", "customers"])
        .await;
    world.assert_nothing_parked().await;

    // The trade customer has an account, tagged with its group.
    let account = fake.customer_by_email("zakupy@hotel.example").unwrap();
    let tags: Vec<&str> = account["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&"kontor-group:Hurt"), "{tags:?}");

    // Every ERP variant is in the shop at its ERP price, its stock at each location.
    let base: BTreeMap<String, Money> = world
        .erp
        .prices()
        .into_iter()
        .filter(|p| p.scope == PriceScope::Base && p.kind == PriceKind::Regular)
        .map(|p| (p.sku, p.amount))
        .collect();
    let products = world.erp.products();
    let variants: usize = products.iter().map(|p| p.variants.len()).sum();
    assert_eq!(fake.counts(), (products.len(), variants));
    for product in &products {
        for variant in &product.variants {
            let shown = fake
                .variant_by_sku(&variant.sku)
                .unwrap_or_else(|| panic!("{} is not in the shop", variant.sku));
            if let Some(price) = base.get(&variant.sku) {
                assert_eq!(price_of(&shown), Some(price.amount), "{}", variant.sku);
            }
        }
    }
    for level in world.erp.stock() {
        let location = if level.warehouse == "MAIN" {
            "Warszawa"
        } else {
            "Kraków"
        };
        assert_eq!(
            fake.available(&level.sku, location).map(Decimal::from),
            Some(level.available(Decimal::ZERO).floor().max(Decimal::ZERO)),
            "{} at {location}",
            level.sku
        );
    }
    let in_stock = world
        .erp
        .stock()
        .into_iter()
        .find(|l| l.warehouse == "MAIN" && l.available(Decimal::ZERO) >= Decimal::from(5))
        .unwrap();
    let tax_rate = world
        .erp
        .product_by_sku(&in_stock.sku)
        .and_then(|p| p.tax_rate)
        .unwrap();

    // Three shoppers check out; each order becomes one sale, however often flows run.
    let orders: Vec<u64> = (0..3)
        .map(|n| {
            let placed = fake
                .place_order(&OrderRequest {
                    email: format!("shopper{n}@example.com"),
                    lines: vec![(in_stock.sku.clone(), 1)],
                    tax_rate: tax_rate.0,
                    ..OrderRequest::default()
                })
                .unwrap();
            id_of(&placed["id"]).unwrap()
        })
        .collect();
    fake.advance_clock(Duration::from_secs(1));
    world.run(&["orders", "payments"]).await;
    world.run(&["orders", "payments"]).await;
    world.assert_nothing_parked().await;
    let mut sales = Vec::new();
    for id in &orders {
        let number = fake.order(*id).unwrap()["name"]
            .as_str()
            .unwrap()
            .trim_start_matches('#')
            .to_owned();
        let found = world.erp.sales_for(&number);
        assert_eq!(found.len(), 1, "order {number} must be in the ERP once");
        // What the customer paid is what the ERP document says.
        let paid: Decimal = fake.order(*id).unwrap()["totalPriceSet"]["shopMoney"]["amount"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(found[0].total.amount, paid, "order {number}");
        assert_eq!(world.erp.payments_of_sale(&found[0].id).len(), 1);
        sales.push(found.into_iter().next().unwrap());
    }

    // The warehouse ships the first: a fulfilment with its tracking number, once.
    world
        .erp
        .ship(&sales[0].id, None, "DPD", "DPD-777")
        .unwrap();
    world.run(&["shipments"]).await;
    world.run(&["shipments"]).await;
    world.assert_nothing_parked().await;
    let shipped = fake.order(orders[0]).unwrap();
    assert_eq!(shipped["displayFulfillmentStatus"], "FULFILLED");
    let fulfilments = shipped["fulfillments"].as_array().unwrap();
    assert_eq!(fulfilments.len(), 1);
    assert_eq!(fulfilments[0]["trackingInfo"][0]["number"], "DPD-777");

    // The merchant refunds the second order in the admin: one credit note in the ERP.
    // A change in a later second than what was read.
    fake.advance_clock(Duration::from_secs(1));
    fake.refund(
        orders[1],
        &RefundRequest {
            lines: vec![(in_stock.sku.clone(), 1)],
            shipping: false,
            note: Some("Changed my mind".into()),
        },
    )
    .unwrap();
    world.run(&["returns"]).await;
    world.run(&["returns"]).await;
    world.assert_nothing_parked().await;
    assert_eq!(world.erp.return_documents().len(), 1);

    // The ERP cancels the third sale: Shopify cancels the order and restocks it.
    let before = fake.available(&in_stock.sku, "Warszawa").unwrap();
    world
        .erp
        .set_sale_status(&sales[2].id, OrderStatus::Cancelled, "cancelled")
        .unwrap();
    world.run(&["order_status"]).await;
    world.run(&["order_status"]).await;
    world.assert_nothing_parked().await;
    assert!(fake.order(orders[2]).unwrap()["cancelledAt"].is_string());
    assert_eq!(fake.available(&in_stock.sku, "Warszawa"), Some(before + 1));

    // A price changed in the ERP shows in the shop after the next run.
    let (sku, old) = base.iter().next().unwrap();
    let mut changed = world
        .erp
        .prices()
        .into_iter()
        .find(|p| &p.sku == sku && p.scope == PriceScope::Base && p.kind == PriceKind::Regular)
        .unwrap();
    changed.amount = Money::new(old.amount + Decimal::from(10), old.currency);
    world.erp.put_price(changed).unwrap();
    world.run(&["prices"]).await;
    assert_eq!(
        price_of(&fake.variant_by_sku(sku).unwrap()),
        Some(old.amount + Decimal::from(10))
    );
}
