//! The flows between the memory ERP and a WooCommerce store (the stateful fake), through
//! the real queue and runner: the catalogue, prices, stock and trade customers reach the
//! store page after page; checkouts reach the ERP exactly once and are paid once; a
//! shipment's tracking number comes back on the order, which completes; a refund made
//! in wp-admin becomes one credit note; a price changed in the ERP shows after the next
//! run.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::Connector;
use kontor_connectors::woocommerce::{
    WooCommerceAccess, WooCommerceConfig, WooCommerceConnector, WooCommerceSystem,
};
use kontor_fakes::FakeWooCommerce;
use kontor_fakes::woocommerce::{CONSUMER_KEY, CONSUMER_SECRET, OrderRequest, RefundRequest};
use kontor_flows::Mappings;
use kontor_model::{Customer, Email, Money, PriceKind, PriceScope};
use rust_decimal::Decimal;
use serde_json::json;
use support::{World, flow, trade_customer};

fn woocommerce_connector(fake: &FakeWooCommerce) -> Arc<dyn Connector> {
    let config: WooCommerceConfig = serde_json::from_value(json!({
        "url": fake.url(),
        "consumer_key": {"value": CONSUMER_KEY},
        "consumer_secret": {"value": CONSUMER_SECRET},
        "poll_lag": "0s",
        "location": "MAIN",
    }))
    .unwrap();
    let access = WooCommerceAccess {
        consumer_key: CONSUMER_KEY.into(),
        consumer_secret: CONSUMER_SECRET.into(),
        webhook_secret: None,
        ca_pem: Some(fake.ca_pem().as_bytes().to_vec()),
    };
    Arc::new(WooCommerceConnector {
        system: WooCommerceSystem::new(config, access).unwrap(),
    })
}

#[tokio::test]
async fn a_memory_erp_fills_woocommerce_and_its_orders_reach_the_erp_once() {
    let fake = FakeWooCommerce::start().await.unwrap();
    // Its clock runs behind; a test moves it to a later second instead of waiting.
    fake.set_clock_behind(Duration::from_secs(10));
    // The demo ERP keeps gross prices, as Polish B2C merchants do: so does this store.
    fake.set_prices_include_tax(true);
    let flows = BTreeMap::from([
        (
            "catalogue".to_owned(),
            flow("erp", "shop", json!({"page_size": 3})),
        ),
        ("customers".to_owned(), flow("erp", "shop", json!(null))),
        // One price per item: price lists and B2B prices stay in the ERP.
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
        (
            "shipments".to_owned(),
            flow(
                "erp",
                "shop",
                // The merchant's own words, in the customer's language.
                json!({"customer_note": [
                    "Zamówienie wysłane[ przez {carrier}], numer przesyłki {tracking}.",
                    "Zamówienie wysłane."
                ]}),
            ),
        ),
        ("returns".to_owned(), flow("shop", "erp", json!(null))),
    ]);
    let mappings = Mappings {
        warehouses: BTreeMap::from([("MAIN".to_owned(), "MAIN".to_owned())]),
        ..Mappings::default()
    };
    let world = World::with_shop(woocommerce_connector(&fake), None, flows, mappings).await;
    world.erp.put_customer(trade_customer()).unwrap();
    // A trade customer the ERP has no e-mail for: WooCommerce knows accounts by e-mail,
    // so the flow parks it for a person instead of sending it.
    let no_email = Customer {
        reference: "K-101".into(),
        name: "Bar Sopot".into(),
        email: None,
        ..trade_customer()
    };
    world.erp.put_customer(no_email.clone()).unwrap();
    world
        .run(&["catalogue", "prices", "stock", "customers"])
        .await;
    let parked = world.parked().await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    let reason = parked[0].last_error().unwrap();
    assert_eq!(reason.code, "email_required");
    assert!(reason.message.contains("K-101"), "{}", reason.message);
    assert!(fake.customer_by_email("bar@sopot.example").is_none());
    // Given one in the ERP, the next run sends it; the parked job, holding the customer
    // as it was, is skipped.
    world
        .erp
        .put_customer(Customer {
            email: Some(Email::new("bar@sopot.example").unwrap()),
            ..no_email
        })
        .unwrap();
    world.run(&["customers"]).await;
    assert!(fake.customer_by_email("bar@sopot.example").is_some());
    world
        .store
        .skip_job(parked[0].id, None, "sent by a later run")
        .await
        .unwrap();
    world.assert_nothing_parked().await;

    // The trade customer has an account, its group in the account's meta.
    let account = fake.customer_by_email("zakupy@hotel.example").unwrap();
    assert_eq!(account["last_name"], "Hotel Gdańsk");
    assert!(
        account["meta_data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == "kontor_customer_group" && m["value"] == "Hurt")
    );

    // Every ERP variant is in the store at its ERP price (or its running promotion).
    let base: BTreeMap<String, Money> = world
        .erp
        .prices()
        .into_iter()
        .filter(|p| p.scope == PriceScope::Base && p.kind == PriceKind::Regular)
        .map(|p| (p.sku, p.amount))
        .collect();
    for product in world.erp.products() {
        for variant in &product.variants {
            let item = fake
                .product_by_sku(&variant.sku)
                .unwrap_or_else(|| panic!("{} is not in the store", variant.sku));
            if let Some(price) = base.get(&variant.sku) {
                assert_eq!(
                    item["regular_price"]
                        .as_str()
                        .map(|p| p.parse::<Decimal>().unwrap()),
                    Some(price.amount),
                    "{}",
                    variant.sku
                );
            }
        }
    }
    let in_stock = world
        .erp
        .stock()
        .into_iter()
        .find(|l| {
            l.warehouse == "MAIN"
                && l.available(Decimal::ZERO) >= Decimal::from(3)
                && fake
                    .product_by_sku(&l.sku)
                    .is_some_and(|p| p["purchasable"] == true)
        })
        .unwrap();
    assert_eq!(
        fake.product_by_sku(&in_stock.sku).unwrap()["stock_quantity"]
            .as_i64()
            .map(Decimal::from),
        Some(in_stock.available(Decimal::ZERO).floor())
    );

    // Three shoppers check out; each order becomes one sale, however often flows run.
    let orders: Vec<u64> = (0..3)
        .map(|n| {
            fake.place_order(&OrderRequest::new(
                &[(in_stock.sku.as_str(), 1)],
                &format!("shopper{n}@example.com"),
            ))
            .unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    fake.advance_clock(Duration::from_secs(1));
    world.run(&["orders", "payments"]).await;
    world.run(&["orders", "payments"]).await;
    world.assert_nothing_parked().await;
    for id in &orders {
        let sales = world.erp.sales_for(&id.to_string());
        assert_eq!(sales.len(), 1, "order {id} must be in the ERP once");
    }

    // The warehouse ships the first: the tracking number is on the order, now complete.
    let sale = world.erp.sales_for(&orders[0].to_string()).remove(0);
    world.erp.ship(&sale.id, None, "DPD", "DPD-777").unwrap();
    world.run(&["shipments"]).await;
    world.run(&["shipments"]).await;
    world.assert_nothing_parked().await;
    let shipped = fake.order(orders[0]).unwrap();
    assert_eq!(shipped["status"], "completed");
    let tracking = shipped["meta_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "_wc_shipment_tracking_items")
        .unwrap()["value"]
        .clone();
    assert_eq!(tracking[0]["tracking_number"], "DPD-777");
    let to_customer: Vec<_> = fake
        .notes(orders[0])
        .into_iter()
        .filter(|n| n["customer_note"] == true)
        .map(|n| n["note"].clone())
        .collect();
    assert_eq!(
        to_customer,
        [json!(
            "Zamówienie wysłane przez DPD, numer przesyłki DPD-777."
        )],
        "one e-mail to the customer, in the merchant's words"
    );

    // The merchant refunds the second order in wp-admin: one credit note in the ERP.
    // A change in a later second than what was read.
    fake.advance_clock(Duration::from_secs(1));
    fake.refund(
        orders[1],
        &RefundRequest {
            lines: vec![(in_stock.sku.clone(), 1)],
            reason: "Changed my mind".into(),
        },
    )
    .unwrap();
    world.run(&["returns"]).await;
    world.run(&["returns"]).await;
    world.assert_nothing_parked().await;
    assert_eq!(world.erp.return_documents().len(), 1);

    // A price changed in the ERP shows in the store after the next run.
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
        fake.product_by_sku(sku).unwrap()["regular_price"]
            .as_str()
            .map(|p| p.parse::<Decimal>().unwrap()),
        Some(old.amount + Decimal::from(10))
    );
}
