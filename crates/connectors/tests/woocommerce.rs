//! The WooCommerce connector against the stateful fake store (HTTPS, REST v3).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use kontor_connector::{Connector, ConnectorError, PriceUpdate, ProductUpsert, StockUpdate};
use kontor_fakes::FakeWooCommerce;
use kontor_fakes::woocommerce::{CONSUMER_KEY, CONSUMER_SECRET, OrderRequest, RefundRequest};
use kontor_model::{
    LocalizedText, OrderStatus, PaymentState, PriceKind, Product, Shipment, ShipmentLine, TaxRate,
};
use kontor_testkit::conformance;
use rust_decimal::{Decimal, dec};
use support::{base_price, mug, ok, stock_at, tshirt, upsert, variant};

async fn start() -> FakeWooCommerce {
    FakeWooCommerce::start()
        .await
        .unwrap_or_else(|e| panic!("cannot start the fake store: {e}"))
}

/// The connection as an operator configures it: TOML, secrets, the store's CA in a file.
fn connect_with(fake: &FakeWooCommerce, dir: &Path, extra: &str) -> Arc<dyn Connector> {
    std::fs::write(dir.join("shop-ca.pem"), fake.ca_pem()).expect("write CA");
    let toml = format!(
        r#"
        type = "woocommerce"
        url = "{}"
        consumer_key = {{ value = "{CONSUMER_KEY}" }}
        consumer_secret = {{ value = "{CONSUMER_SECRET}" }}
        ca_file = "shop-ca.pem"
        {lag}
        {extra}
        "#,
        fake.url(),
        lag = if extra.contains("poll_lag") {
            ""
        } else {
            "poll_lag = \"0s\""
        },
    );
    support::build(&toml, dir)
}

fn writes(fake: &FakeWooCommerce) -> usize {
    fake.calls().iter().filter(|c| c.method != "GET").count()
}

fn price(sku: &str, amount: Decimal) -> PriceUpdate {
    base_price(sku, amount, false)
}

fn stock(sku: &str, available: Decimal) -> StockUpdate {
    stock_at(sku, "MAIN", available)
}

#[tokio::test]
async fn wrong_keys_and_untrusted_certificates_are_refused_clearly() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = connect_with(&fake, dir.path(), "");
    good.check().await.expect("the right keys work");

    let toml = format!(
        "type = \"woocommerce\"\nurl = \"{}\"\nconsumer_key = {{ value = \"ck_wrong\" }}\nconsumer_secret = {{ value = \"x\" }}\nca_file = \"shop-ca.pem\"",
        fake.url()
    );
    let wrong = support::build_unchecked(&toml, dir.path());
    match wrong.check().await {
        Err(ConnectorError::Unauthorized { message }) => {
            assert!(message.contains("Consumer key is invalid"), "{message}")
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    // Without the store's CA the certificate is not trusted, and nothing is sent.
    let untrusted = support::build_unchecked(
        &format!(
            "type = \"woocommerce\"\nurl = \"{}\"\nconsumer_key = {{ value = \"{CONSUMER_KEY}\" }}\nconsumer_secret = {{ value = \"{CONSUMER_SECRET}\" }}",
            fake.url()
        ),
        dir.path(),
    );
    let error = untrusted.check().await;
    assert!(
        matches!(error, Err(ConnectorError::Unavailable { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn catalogue_prices_and_stock_are_written_and_found_again_by_sku() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    let catalogue = shop.catalogue_sink().expect("catalogue");

    let written = ok(catalogue
        .upsert_products(&[upsert(tshirt(&["S", "M"])), upsert(mug())])
        .await
        .expect("upsert"));
    assert!(written.iter().all(|w| w.created));
    assert_eq!(written[0].variants.len(), 2);
    let parent = fake.product_by_sku("TSH").expect("variable product");
    assert_eq!(parent["type"], "variable");
    assert_eq!(parent["name"], "T-shirt");
    assert_eq!(
        parent["attributes"][0]["options"],
        serde_json::json!(["S", "M"])
    );
    assert_eq!(parent["categories"][0]["name"], "Shirts");
    let small = fake.product_by_sku("TSH-S").expect("variation");
    assert_eq!(small["parent_id"], parent["id"]);
    assert_eq!(small["attributes"][0]["option"], "S");
    let simple = fake.product_by_sku("MUG").expect("simple product");
    assert_eq!(simple["type"], "simple");
    assert_eq!(simple["tax_class"], "reduced-rate");
    // No price yet: WooCommerce will not sell it.
    assert_eq!(simple["purchasable"], false);
    assert_eq!(fake.sideloads(), 1);

    // Again, with one size more: nothing duplicated, the image is not fetched again.
    let again = ok(catalogue
        .upsert_products(&[upsert(tshirt(&["S", "M", "L"])), upsert(mug())])
        .await
        .expect("upsert again"));
    assert!(again.iter().all(|w| !w.created));
    assert_eq!(again[0].product_id, written[0].product_id);
    assert_eq!(again[0].variants[..2], written[0].variants[..]);
    assert_eq!(fake.product_count(), (2, 3));
    assert_eq!(fake.sideloads(), 1);
    let found = catalogue
        .find_variants(&["TSH-L".into(), "MUG".into(), "NOPE".into()])
        .await
        .expect("find");
    assert_eq!(found.len(), 2);

    let prices = shop.price_sink().expect("prices");
    let mut sale = price("TSH-M", dec!(39.99));
    sale.price.kind = PriceKind::Promotion;
    sale.price.valid_from = Some(Utc::now() - chrono::Duration::days(1));
    sale.price.valid_until = Some(Utc::now() + chrono::Duration::days(7));
    let mut gross = price("MUG", dec!(30.00));
    gross.price.includes_tax = true;
    let mut tier = price("MUG", dec!(20.00));
    tier.price.min_quantity = dec!(10);
    let results = prices
        .set_prices(&[
            price("TSH-S", dec!(49.99)),
            price("TSH-M", dec!(49.99)),
            sale,
            price("MUG", dec!(24.39)),
            gross,
            tier,
            price("GHOST", dec!(1)),
        ])
        .await
        .expect("prices");
    assert!(results[..4].iter().all(Result::is_ok), "{results:?}");
    let code = |r: &Result<(), ConnectorError>| match r {
        Err(ConnectorError::Rejected { code, .. }) => code.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(code(&results[4]).as_deref(), Some("tax_basis_mismatch"));
    assert_eq!(code(&results[5]).as_deref(), Some("unsupported_tier_price"));
    assert!(matches!(results[6], Err(ConnectorError::NotFound { .. })));
    let medium = fake.product_by_sku("TSH-M").expect("variation");
    assert_eq!(
        (medium["price"].as_str(), medium["on_sale"].as_bool()),
        (Some("39.99"), Some(true))
    );
    assert_eq!(fake.product_by_sku("MUG").expect("mug")["price"], "24.39");

    let stock_sink = shop.stock_sink().expect("stock");
    let mut linked = stock("TSH-S", dec!(7.6));
    linked.variant_id = Some(written[0].variants[0].variant_id.clone());
    ok(stock_sink
        .set_stock(&[linked, stock("TSH-M", dec!(0)), stock("MUG", dec!(12))])
        .await
        .expect("stock"));
    let small = fake.product_by_sku("TSH-S").expect("variation");
    assert_eq!(
        (
            small["stock_quantity"].as_i64(),
            small["stock_status"].as_str()
        ),
        (Some(7), Some("instock"))
    );
    assert_eq!(
        fake.product_by_sku("TSH-M").expect("m")["stock_status"],
        "outofstock"
    );
    assert_eq!(
        fake.product_by_sku("MUG").expect("mug")["stock_quantity"],
        12
    );

    ok(catalogue
        .archive_products(&[written[1].product_id.clone()])
        .await
        .expect("archive"));
    assert_eq!(fake.product_by_sku("MUG").expect("mug")["status"], "draft");
}

async fn stocked_store(fake: &FakeWooCommerce, shop: &Arc<dyn Connector>) {
    ok(shop
        .catalogue_sink()
        .expect("catalogue")
        .upsert_products(&[upsert(tshirt(&["S", "M"])), upsert(mug())])
        .await
        .expect("upsert"));
    ok(shop
        .price_sink()
        .expect("prices")
        .set_prices(&[
            price("TSH-S", dec!(40.65)),
            price("TSH-M", dec!(40.65)),
            price("MUG", dec!(18.52)),
        ])
        .await
        .expect("prices"));
    let _ = fake;
}

#[tokio::test]
async fn orders_are_read_once_each_in_pages_with_exact_totals() {
    let fake = start().await;
    // Its clock runs behind, so what it stamps is in the past for the reader, and a
    // test moves it to a later second instead of waiting for one.
    fake.set_clock_behind(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_store(&fake, &shop).await;
    let mut placed = Vec::new();
    for n in 0..5 {
        let order = fake
            .place_order(&OrderRequest::new(
                &[("TSH-S", 1 + n), ("MUG", 2)],
                &format!("buyer{n}@example.com"),
            ))
            .expect("order");
        placed.push(order["id"].as_u64().expect("id").to_string());
    }
    // WordPress stamps whole seconds; a second is read once it is over.
    fake.advance_clock(Duration::from_secs(1));
    let orders = shop.order_source().expect("orders");
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let page = orders
            .orders_changed(cursor.as_deref(), 2)
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|o| o.id.clone()));
        if let Some(next) = page.cursor {
            cursor = Some(next);
        }
        if !page.more {
            break;
        }
    }
    seen.sort();
    let mut expected = placed.clone();
    expected.sort();
    assert_eq!(seen, expected, "every order once");
    let nothing = orders
        .orders_changed(cursor.as_deref(), 2)
        .await
        .expect("again");
    assert!(nothing.items.is_empty());

    let order = orders.get_order(&placed[2]).await.expect("order");
    let computed = order.computed_totals().expect("totals");
    assert_eq!(
        computed.total, order.totals.total,
        "lines, shipping and tax add up"
    );
    assert_eq!(order.payment_state, PaymentState::Paid);
    assert_eq!(order.lines[0].unit_price.amount, dec!(40.65));
    assert_eq!(order.lines[1].tax_rate, TaxRate(dec!(8)));
    assert_eq!(order.status, OrderStatus::Processing);

    // A status change in wp-admin shows as a change of that order alone.
    // A change in a later second than what was read.
    fake.advance_clock(Duration::from_secs(1));
    fake.set_order_status(placed[0].parse().expect("id"), "on-hold")
        .expect("status");
    let changed = orders
        .orders_changed(cursor.as_deref(), 10)
        .await
        .expect("changes");
    assert_eq!(
        changed
            .items
            .iter()
            .map(|o| o.id.clone())
            .collect::<Vec<_>>(),
        vec![placed[0].clone()]
    );
}

#[tokio::test]
async fn shipments_complete_the_order_once_and_refunds_become_returns() {
    let fake = start().await;
    // Its clock runs behind, so what it stamps is in the past for the reader, and a
    // test moves it to a later second instead of waiting for one.
    fake.set_clock_behind(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_store(&fake, &shop).await;
    let order = fake
        .place_order(&OrderRequest::new(
            &[("TSH-S", 2), ("MUG", 1)],
            "anna@example.com",
        ))
        .expect("order");
    let id = order["id"].as_u64().expect("id");
    let order_id = id.to_string();
    let fulfilment = shop.fulfilment_sink().expect("fulfilment");
    let shipment = |reference: &str, lines: &[(&str, u32)]| Shipment {
        reference: reference.into(),
        order_number: order_id.clone(),
        carrier: Some("InPost".into()),
        tracking_number: Some(format!("TRK-{reference}")),
        tracking_url: None,
        lines: lines
            .iter()
            .map(|(sku, q)| ShipmentLine {
                sku: (*sku).into(),
                quantity: Decimal::from(*q),
            })
            .collect(),
        warehouse: None,
        shipped_at: Utc::now(),
    };
    fulfilment
        .create_fulfilment(
            &order_id,
            &shipment("WZ/1", &[("TSH-S", 1)]),
            Some("Wysłano: WZ/1"),
        )
        .await
        .expect("first");
    assert_eq!(fake.order(id).expect("order")["status"], "processing");
    let too_much = fulfilment
        .create_fulfilment(
            &order_id,
            &shipment("WZ/X", &[("MUG", 2)]),
            Some("Wysłano: WZ/X"),
        )
        .await;
    assert!(
        matches!(too_much, Err(ConnectorError::Rejected { .. })),
        "{too_much:?}"
    );
    fulfilment
        .create_fulfilment(
            &order_id,
            &shipment("WZ/2", &[("TSH-S", 1), ("MUG", 1)]),
            Some("Wysłano: WZ/2"),
        )
        .await
        .expect("second");
    // A retry of the second finds it: no third note, no second e-mail.
    fulfilment
        .create_fulfilment(
            &order_id,
            &shipment("WZ/2", &[("TSH-S", 1), ("MUG", 1)]),
            Some("Wysłano: WZ/2"),
        )
        .await
        .expect("retry");
    // Complete once everything shipped: the shipments flow says so, not the connector.
    assert_eq!(fake.order(id).expect("order")["status"], "processing");
    shop.order_status_sink()
        .expect("status")
        .set_order_status(&order_id, OrderStatus::Shipped, None, Some("all shipped"))
        .await
        .expect("complete");
    let stored = fake.order(id).expect("order");
    assert_eq!(stored["status"], "completed");
    let notes: Vec<serde_json::Value> = fake
        .notes(id)
        .into_iter()
        .filter(|n| n["customer_note"] == true)
        .collect();
    assert_eq!(notes.len(), 2);
    assert!(notes[1]["note"].as_str().unwrap_or_default() == "Wysłano: WZ/2");
    assert_eq!(notes[1]["customer_note"], true);
    let known = fulfilment
        .fulfilments_of(&order_id)
        .await
        .expect("fulfilments");
    assert_eq!(
        known
            .iter()
            .map(|f| f.reference.as_str())
            .collect::<Vec<_>>(),
        ["WZ/1", "WZ/2"]
    );

    let returns = shop.return_source().expect("returns");
    let before = returns.returns_changed(None, 50).await.expect("returns");
    assert!(before.items.is_empty());
    // A change in a later second than what was read.
    fake.advance_clock(Duration::from_secs(1));
    fake.refund(
        id,
        &RefundRequest {
            lines: vec![("MUG".into(), 1)],
            reason: "broken".into(),
        },
    )
    .expect("refund");
    let after = returns
        .returns_changed(before.cursor.as_deref(), 50)
        .await
        .expect("returns");
    assert_eq!(after.items.len(), 1);
    let refund = &after.items[0];
    assert_eq!(refund.lines[0].sku, "MUG");
    assert_eq!(refund.lines[0].quantity, Decimal::ONE);
    // 18.52 net at 8 %: 20.00 with tax.
    assert_eq!(refund.refund.map(|m| m.amount), Some(dec!(20.00)));

    let other = fake
        .place_order(&OrderRequest::new(&[("MUG", 1)], "anna@example.com"))
        .expect("order");
    let other_id = other["id"].as_u64().expect("id").to_string();
    let status = shop.order_status_sink().expect("status");
    status
        .set_order_status(
            &other_id,
            OrderStatus::Cancelled,
            None,
            Some("Out of stock"),
        )
        .await
        .expect("cancel");
    status
        .set_order_status(
            &other_id,
            OrderStatus::Cancelled,
            None,
            Some("Out of stock"),
        )
        .await
        .expect("cancel again");
    assert_eq!(
        fake.order(other["id"].as_u64().expect("id"))
            .expect("order")["status"],
        "cancelled"
    );
    assert_eq!(fake.notes(other["id"].as_u64().expect("id")).len(), 1);
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_goes_back_to_its_job_whose_retry_neither_loses_nor_doubles_the_note()
 {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_store(&fake, &shop).await;
    let order = fake
        .place_order(&OrderRequest::new(&[("MUG", 2)], "anna@example.com"))
        .expect("order");
    let id = order["id"].as_u64().expect("id");
    let order_id = id.to_string();
    let fulfilment = shop.fulfilment_sink().expect("fulfilment");
    let shipment = |reference: &str| Shipment {
        reference: reference.into(),
        order_number: order_id.clone(),
        carrier: Some("InPost".into()),
        tracking_number: Some(format!("TRK-{reference}")),
        tracking_url: None,
        lines: vec![ShipmentLine {
            sku: "MUG".into(),
            quantity: Decimal::ONE,
        }],
        warehouse: None,
        shipped_at: Utc::now(),
    };
    let writes = |fake: &FakeWooCommerce| fake.calls().iter().filter(|c| c.method != "GET").count();

    // The shipment is recorded, but its answer is lost, so its note is not sent: a
    // crash between the two writes looks the same. Nothing is repeated in place.
    fake.clear_calls();
    fake.lose_answers_to_next_writes(1);
    let lost = fulfilment
        .create_fulfilment(&order_id, &shipment("WZ/1"), Some("Wysłano: WZ/1"))
        .await;
    assert!(matches!(&lost, Err(e) if e.is_transient()), "{lost:?}");
    assert_eq!(writes(&fake), 1, "{:?}", fake.calls());
    assert!(fake.notes(id).is_empty());
    // The job's retry finds the shipment recorded and sends the note it owes.
    fulfilment
        .create_fulfilment(&order_id, &shipment("WZ/1"), Some("Wysłano: WZ/1"))
        .await
        .expect("retry");
    assert_eq!(fake.notes(id).len(), 1);

    // Both writes of the second shipment land with their answers lost: two retries,
    // one record, one note.
    fake.lose_answers_to_next_writes(2);
    for _ in 0..2 {
        let lost = fulfilment
            .create_fulfilment(&order_id, &shipment("WZ/2"), Some("Wysłano: WZ/2"))
            .await;
        assert!(matches!(&lost, Err(e) if e.is_transient()), "{lost:?}");
    }
    fulfilment
        .create_fulfilment(&order_id, &shipment("WZ/2"), Some("Wysłano: WZ/2"))
        .await
        .expect("third try");
    let notes = fake.notes(id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(
        fulfilment
            .fulfilments_of(&order_id)
            .await
            .expect("refs")
            .len(),
        2
    );
    assert_eq!(fake.order(id).expect("order")["status"], "processing");
}

#[tokio::test]
async fn a_throttled_store_is_waited_for_and_nothing_fails() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_store(&fake, &shop).await;
    fake.clear_calls();
    fake.throttle_next(2, 1);
    let started = Instant::now();
    ok(shop
        .stock_sink()
        .expect("stock")
        .set_stock(&[stock("MUG", dec!(5))])
        .await
        .expect("stock set after waiting"));
    let statuses: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(&statuses[..3], [429, 429, 200]);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was honoured"
    );
    assert_eq!(
        fake.product_by_sku("MUG").expect("mug")["stock_quantity"],
        5
    );

    // A limiter that does not let up: the job is handed back to the queue with the
    // wait, not failed.
    let impatient = connect_with(&fake, dir.path(), "rate_limit_retries = 1");
    fake.throttle_next(5, 1);
    let error = impatient
        .stock_sink()
        .expect("stock")
        .set_stock(&[stock("MUG", dec!(6))])
        .await
        .expect_err("still throttled");
    assert!(error.is_transient());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn ten_thousand_variants_sync_in_close_to_the_fewest_calls_the_api_allows() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    let catalogue = shop.catalogue_sink().expect("catalogue");
    let products: Vec<Product> = (0..1000)
        .map(|n| Product {
            code: format!("P{n:04}"),
            name: LocalizedText::new("en", format!("Product {n}")),
            categories: vec![],
            images: vec![],
            variants: (0..10)
                .map(|v| variant(&format!("P{n:04}-{v}"), &[("size", &v.to_string())]))
                .collect(),
            ..tshirt(&[])
        })
        .collect();
    // The fewest calls: one `/products/batch` per 100 products and one
    // `/variations/batch` per product (10 variations each fit in one).
    let minimum = 1000 / 100 + 1000;
    let sync = |label: &'static str| {
        let catalogue = catalogue.clone();
        let products = products.clone();
        let fake = &fake;
        async move {
            fake.clear_calls();
            for chunk in products.chunks(catalogue.batch_size()) {
                let upserts: Vec<ProductUpsert> = chunk.iter().cloned().map(upsert).collect();
                ok(catalogue.upsert_products(&upserts).await.expect("upsert"));
            }
            let calls = fake.calls().len();
            println!(
                "{label}: {calls} calls for 10,000 variants ({} writes; minimum {minimum})",
                writes(fake)
            );
            calls
        }
    };
    let first = sync("first sync").await;
    assert_eq!(fake.product_count(), (1000, 10_000));
    assert!(
        first as f64 <= minimum as f64 * 1.05,
        "first sync took {first} calls, minimum {minimum}"
    );
    let second = sync("re-sync").await;
    assert_eq!(fake.product_count(), (1000, 10_000), "nothing duplicated");
    assert!(
        second as f64 <= minimum as f64 * 1.15,
        "re-sync took {second} calls, minimum {minimum}"
    );

    // Stock for every variant, with the ids Kontor keeps: one call per product.
    let found = catalogue
        .find_variants(
            &products
                .iter()
                .flat_map(|p| p.variants.iter().map(|v| v.sku.clone()))
                .collect::<Vec<_>>(),
        )
        .await
        .expect("find");
    assert_eq!(found.len(), 10_000);
    fake.clear_calls();
    let sink = shop.stock_sink().expect("stock");
    for chunk in found.chunks(sink.batch_size()) {
        let updates: Vec<StockUpdate> = chunk
            .iter()
            .map(|v| StockUpdate {
                variant_id: Some(v.variant_id.clone()),
                ..stock(&v.sku, dec!(3))
            })
            .collect();
        ok(sink.set_stock(&updates).await.expect("stock"));
    }
    let calls = fake.calls().len();
    println!("stock: {calls} calls for 10,000 variants (minimum 1000)");
    assert!(calls <= 1000 + 100, "stock took {calls} calls");
}

/// The store as the conformance suite drives it: orders placed at its checkout.
struct Store {
    fake: FakeWooCommerce,
    dir: tempfile::TempDir,
    shop: Arc<dyn Connector>,
}

const CONFORMANCE_LAG: Duration = Duration::from_secs(2);

#[async_trait::async_trait]
impl conformance::FeedSystem for Store {
    async fn add(&self) -> String {
        let order = self
            .fake
            .place_order(&OrderRequest::new(&[("MUG", 1)], "anna@example.com"))
            .expect("order");
        order["id"].to_string()
    }
    async fn restamp(&self, key: &str, at: chrono::DateTime<Utc>) {
        let id = key.parse().expect("a WooCommerce order id");
        self.fake.restamp_order(id, at).expect("restamped");
    }
    fn lag(&self) -> Duration {
        CONFORMANCE_LAG
    }
    fn unknown_key(&self) -> String {
        "999999".into()
    }
}

#[async_trait::async_trait]
impl conformance::Faults for Store {
    fn connector(&self) -> Arc<dyn Connector> {
        self.shop.clone()
    }
    fn with_wrong_credentials(&self) -> Option<Arc<dyn Connector>> {
        Some(support::build_unchecked(
            &format!(
                "type = \"woocommerce\"\nurl = \"{}\"\nconsumer_key = {{ value = \"ck_wrong\" }}\nconsumer_secret = {{ value = \"x\" }}\nca_file = \"shop-ca.pem\"",
                self.fake.url()
            ),
            self.dir.path(),
        ))
    }
    fn unreachable(&self) -> Arc<dyn Connector> {
        support::build_unchecked(
            &format!(
                "type = \"woocommerce\"\nurl = \"https://127.0.0.1:{}\"\nconsumer_key = {{ value = \"{CONSUMER_KEY}\" }}\nconsumer_secret = {{ value = \"{CONSUMER_SECRET}\" }}\nca_file = \"shop-ca.pem\"",
                support::closed_port()
            ),
            self.dir.path(),
        )
    }
    async fn rate_limit_next(&self) -> Duration {
        self.fake.throttle_next(1, 1);
        Duration::from_secs(1)
    }
}

#[tokio::test]
async fn the_store_passes_the_conformance_suite() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), r#"poll_lag = "2s""#);
    stocked_store(&fake, &shop).await;
    let store = Store { fake, dir, shop };
    let feed = conformance::order_feed(store.shop.order_source().expect("orders"));
    conformance::change_feed(&feed, &store).await;
    conformance::failures(&store).await;
}
