//! The Shopify connector against the stateful fake shop (HTTPS, Admin GraphQL 2026-10,
//! every request checked against Shopify's published schema).

mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use kontor_connector::{
    Connector, ConnectorError, PriceUpdate, ProductUpsert, ProductWritten, StockUpdate, VariantRef,
};
use kontor_fakes::FakeShopify;
use kontor_fakes::shopify::{ACCESS_TOKEN, OrderRequest, RefundRequest};
use kontor_model::{
    LocalizedText, OrderStatus, PaymentState, Product, Shipment, ShipmentLine, TaxRate,
};
use kontor_testkit::conformance;
use rust_decimal::{Decimal, dec};
use serde_json::Value;
use support::{base_price, mug, ok, stock_at, tshirt, upsert, variant};

async fn start() -> FakeShopify {
    FakeShopify::start()
        .await
        .unwrap_or_else(|e| panic!("cannot start the fake shop: {e}"))
}

/// The shop under a custom domain (`localhost`, not `*.myshopify.com`), as an operator
/// configures it: TOML, the token as a secret, the proxy's CA in a file.
fn connect_with(fake: &FakeShopify, dir: &Path, extra: &str) -> Arc<dyn Connector> {
    std::fs::write(dir.join("shop-ca.pem"), fake.ca_pem()).expect("write CA");
    let toml = format!(
        r#"
        type = "shopify"
        shop = "{}"
        access_token = {{ value = "{ACCESS_TOKEN}" }}
        ca_file = "shop-ca.pem"
        {lag}
        {extra}
        "#,
        fake.url().replace("127.0.0.1", "localhost"),
        lag = if extra.contains("poll_lag") {
            ""
        } else {
            "poll_lag = \"0s\""
        },
    );
    support::build(&toml, dir)
}

fn numeric(gid: &Value) -> u64 {
    kontor_fakes::shopify::id_of(gid).unwrap_or_else(|| panic!("not an id: {gid}"))
}

fn price(sku: &str, amount: Decimal) -> PriceUpdate {
    base_price(sku, amount, true)
}

fn stock(sku: &str, location: &str, available: Decimal) -> StockUpdate {
    stock_at(sku, location, available)
}

#[tokio::test]
async fn a_wrong_token_and_an_untrusted_certificate_are_refused_clearly() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    connect_with(&fake, dir.path(), "")
        .check()
        .await
        .expect("the right token works on a custom domain");

    let wrong = support::build_unchecked(
        &format!(
            "type = \"shopify\"\nshop = \"{}\"\naccess_token = {{ value = \"shpat_wrong\" }}\nca_file = \"shop-ca.pem\"",
            fake.url()
        ),
        dir.path(),
    );
    match wrong.check().await {
        Err(ConnectorError::Unauthorized { message }) => {
            assert!(
                message.contains("Invalid API key or access token"),
                "{message}"
            )
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let untrusted = support::build_unchecked(
        &format!(
            "type = \"shopify\"\nshop = \"{}\"\naccess_token = {{ value = \"{ACCESS_TOKEN}\" }}",
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
async fn catalogue_prices_and_stock_are_written_per_location_and_found_again_by_sku() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    let catalogue = shop.catalogue_sink().expect("catalogue");

    let written = ok(catalogue
        .upsert_products(&[upsert(tshirt(&["S", "M"])), upsert(mug())])
        .await
        .expect("upsert"));
    assert_eq!(written[0].variants.len(), 2);
    assert_eq!(written[0].variants[0].sku, "TSH-S");
    let product = fake.product_by_sku("TSH-M").expect("in the shop");
    assert_eq!(product["title"], "T-shirt");
    assert_eq!(product["handle"], "tsh");
    assert_eq!(product["options"][0]["name"], "size");
    assert_eq!(product["variants"].as_array().map(Vec::len), Some(2));
    assert_eq!(product["tags"][0], "Clothing > Shirts");
    let mug = fake.product_by_sku("MUG").expect("mug");
    assert_eq!(
        mug["options"][0]["name"], "Title",
        "a product without options"
    );
    assert_eq!(fake.media_fetches(), 1);

    // Again, unlinked (a retry after a crash): found by handle, nothing doubled, and
    // a new size added to the same product; images are not fetched again.
    let again = ok(catalogue
        .upsert_products(&[upsert(tshirt(&["S", "M", "L"])), upsert(super_mug())])
        .await
        .expect("upsert again"));
    assert_eq!(again[0].product_id, written[0].product_id);
    assert_eq!(
        again[0].variants[1], written[0].variants[1],
        "variant ids kept"
    );
    assert_eq!(fake.counts(), (2, 4));
    assert_eq!(fake.media_fetches(), 1);

    let found = catalogue
        .find_variants(&["TSH-L".into(), "MUG".into(), "NOPE".into()])
        .await
        .expect("find");
    assert_eq!(found.len(), 2);

    // Prices on the shop's basis (with tax); a net price is refused, not converted.
    let prices = shop.price_sink().expect("prices");
    let mut net = price("MUG", dec!(20));
    net.price.includes_tax = false;
    let results = prices
        .set_prices(&[price("TSH-S", dec!(49.99)), price("MUG", dec!(24.6)), net])
        .await
        .expect("prices");
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    assert!(
        matches!(&results[2], Err(ConnectorError::Rejected { code: Some(c), .. }) if c == "tax_basis_mismatch")
    );
    assert_eq!(
        fake.variant_by_sku("TSH-S").expect("variant")["price"],
        "49.99"
    );
    assert_eq!(
        fake.variant_by_sku("MUG").expect("variant")["price"],
        "24.60"
    );

    // Stock per location, by name; an unknown location is refused for that item only.
    let stock_sink = shop.stock_sink().expect("stock");
    let results = stock_sink
        .set_stock(&[
            stock("TSH-S", "Warszawa", dec!(7)),
            stock("TSH-S", "Kraków", dec!(2)),
            StockUpdate {
                variant_id: Some(found[1].variant_id.clone()),
                ..stock("MUG", "Warszawa", dec!(12.5))
            },
            stock("TSH-M", "Gdańsk", dec!(1)),
        ])
        .await
        .expect("stock");
    assert!(results[..3].iter().all(Result::is_ok), "{results:?}");
    assert!(
        matches!(&results[3], Err(ConnectorError::Rejected { code: Some(c), .. }) if c == "unknown_location")
    );
    assert_eq!(fake.available("TSH-S", "Warszawa"), Some(7));
    assert_eq!(fake.available("TSH-S", "Kraków"), Some(2));
    assert_eq!(fake.available("MUG", "Warszawa"), Some(12), "whole units");

    // Archived, not deleted.
    ok(catalogue
        .archive_products(std::slice::from_ref(&written[1].product_id))
        .await
        .expect("archive"));
    assert_eq!(
        fake.product_by_sku("MUG").expect("kept")["status"],
        "ARCHIVED"
    );
}

fn super_mug() -> Product {
    Product {
        name: LocalizedText::new("en", "Mug (new name)"),
        ..mug()
    }
}

async fn stocked_shop(fake: &FakeShopify, shop: &Arc<dyn Connector>) {
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
            price("TSH-S", dec!(49.99)),
            price("TSH-M", dec!(49.99)),
            price("MUG", dec!(24.60)),
        ])
        .await
        .expect("prices"));
    ok(shop
        .stock_sink()
        .expect("stock")
        .set_stock(&[
            stock("TSH-S", "Warszawa", dec!(50)),
            stock("MUG", "Warszawa", dec!(50)),
        ])
        .await
        .expect("stock"));
    assert!(fake.counts().1 >= 3);
}

#[tokio::test]
async fn orders_are_read_once_each_across_pages_with_exact_totals() {
    let fake = start().await;
    // Its clock runs behind, so what it stamps is in the past for the reader, and a
    // test moves it to a later second instead of waiting for one.
    fake.set_clock_behind(std::time::Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_shop(&fake, &shop).await;
    for n in 0..5 {
        fake.place_order(&OrderRequest {
            lines: vec![("TSH-S".into(), 1 + n), ("MUG".into(), 2)],
            vat_id: (n == 0).then(|| "PL5260250274".to_owned()),
            ..OrderRequest::default()
        })
        .expect("order");
    }
    fake.advance_clock(std::time::Duration::from_secs(1));
    let source = shop.order_source().expect("orders");
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let changes = source
            .orders_changed(cursor.as_deref(), 2)
            .await
            .expect("changes");
        seen.extend(changes.items.iter().map(|o| o.number.clone()));
        cursor = changes.cursor.or(cursor);
        if !changes.more {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["1001", "1002", "1003", "1004", "1005"]);
    let after = source
        .orders_changed(cursor.as_deref(), 10)
        .await
        .expect("again");
    assert!(
        after.items.is_empty(),
        "nothing read twice: {:?}",
        after.items
    );

    let summary = source.orders_changed(None, 1).await.expect("first");
    let order = source.get_order(&summary.items[0].id).await.expect("order");
    // 1 × 49.99 + 2 × 24.60 + 15.99 shipping, prices with tax.
    assert_eq!(order.totals.total.amount, dec!(115.18));
    assert!(order.prices_include_tax);
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].tax_rate, TaxRate(dec!(23)));
    let lines: Decimal = order
        .lines
        .iter()
        .map(|l| l.unit_price.amount * l.quantity - l.discount.amount)
        .sum();
    assert_eq!(
        lines
            + order
                .shipping
                .as_ref()
                .map_or(Decimal::ZERO, |s| s.amount.amount),
        order.totals.total.amount,
        "the parts add up to what was paid"
    );
    assert_eq!(order.payment_state, PaymentState::Paid);
    assert_eq!(
        order.customer.vat_id.map(|v| v.to_string()).as_deref(),
        Some("PL5260250274")
    );
    assert_eq!(order.status, OrderStatus::Processing);
}

#[tokio::test]
async fn shipments_fulfil_once_with_tracking_refunds_become_returns_and_cancellation_restocks() {
    let fake = start().await;
    // Its clock runs behind, so what it stamps is in the past for the reader, and a
    // test moves it to a later second instead of waiting for one.
    fake.set_clock_behind(std::time::Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_shop(&fake, &shop).await;
    let order = fake
        .place_order(&OrderRequest {
            lines: vec![("TSH-S".into(), 2), ("MUG".into(), 1)],
            ..OrderRequest::default()
        })
        .expect("order");
    let order_id = numeric(&order["id"]).to_string();
    let sink = shop.fulfilment_sink().expect("fulfilment");
    let shipment = |reference: &str, lines: &[(&str, Decimal)], tracking: &str| Shipment {
        reference: reference.into(),
        order_number: "1001".into(),
        carrier: Some("InPost".into()),
        tracking_number: Some(tracking.into()),
        tracking_url: Some(format!("https://inpost.pl/sledzenie?number={tracking}")),
        lines: lines
            .iter()
            .map(|(sku, q)| ShipmentLine {
                sku: (*sku).into(),
                quantity: *q,
            })
            .collect(),
        warehouse: None,
        shipped_at: Utc::now(),
    };
    let first = sink
        .create_fulfilment(
            &order_id,
            &shipment("WZ/1", &[("TSH-S", dec!(1))], "TRACK1"),
            None,
        )
        .await
        .expect("fulfil");
    let retried = sink
        .create_fulfilment(
            &order_id,
            &shipment("WZ/1", &[("TSH-S", dec!(1))], "TRACK1"),
            None,
        )
        .await
        .expect("retry");
    assert_eq!(first, retried);
    let too_much = sink
        .create_fulfilment(
            &order_id,
            &shipment("WZ/2", &[("MUG", dec!(3))], "TRACK2"),
            None,
        )
        .await;
    assert!(
        matches!(&too_much, Err(ConnectorError::Rejected { code: Some(c), .. }) if c == "more_than_ordered"),
        "{too_much:?}"
    );
    sink.create_fulfilment(
        &order_id,
        &shipment("WZ/2", &[("TSH-S", dec!(1)), ("MUG", dec!(1))], "TRACK2"),
        None,
    )
    .await
    .expect("the rest");
    let known = sink.fulfilments_of(&order_id).await.expect("refs");
    assert_eq!(known.len(), 2);
    let shown = fake.order(numeric(&order["id"])).expect("order");
    assert_eq!(shown["fulfillments"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        shown["fulfillments"][0]["trackingInfo"][0]["number"],
        "TRACK1"
    );
    assert_eq!(
        shown["fulfillments"][0]["trackingInfo"][0]["company"],
        "InPost"
    );
    assert_eq!(shown["displayFulfillmentStatus"], "FULFILLED");
    assert_eq!(shown["closed"], false, "closing is the flow's to decide");
    // The shipments flow, told that shipped orders are complete, closes it.
    shop.order_status_sink()
        .expect("status")
        .set_order_status(&order_id, OrderStatus::Completed, None, None)
        .await
        .expect("close");
    let shown = fake.order(numeric(&order["id"])).expect("order");
    assert_eq!(shown["closed"], true, "closed once everything shipped");

    // A refund in the admin becomes a return with the money given back.
    // A change in a later second than what was read.
    fake.advance_clock(std::time::Duration::from_secs(1));
    fake.refund(
        numeric(&order["id"]),
        &RefundRequest {
            lines: vec![("MUG".into(), 1)],
            shipping: false,
            note: Some("broken".into()),
        },
    )
    .expect("refund");
    let returns = shop.return_source().expect("returns");
    let changes = returns.returns_changed(None, 50).await.expect("returns");
    assert_eq!(changes.items.len(), 1);
    let goods_return = &changes.items[0];
    assert_eq!(goods_return.order_number, "1001");
    assert_eq!(goods_return.lines[0].sku, "MUG");
    assert_eq!(goods_return.lines[0].reason.as_deref(), Some("broken"));
    assert_eq!(goods_return.refund.map(|m| m.amount), Some(dec!(24.60)));
    let again = returns
        .returns_changed(changes.cursor.as_deref(), 50)
        .await
        .expect("again");
    assert!(again.items.is_empty());

    // Cancelling from the ERP cancels in Shopify and gives the stock back; twice is fine.
    let other = fake
        .place_order(&OrderRequest {
            lines: vec![("TSH-S".into(), 3)],
            ..OrderRequest::default()
        })
        .expect("order");
    assert_eq!(fake.available("TSH-S", "Warszawa"), Some(45));
    let status = shop.order_status_sink().expect("status");
    let other_id = numeric(&other["id"]).to_string();
    status
        .set_order_status(
            &other_id,
            OrderStatus::Cancelled,
            None,
            Some("out of stock"),
        )
        .await
        .expect("cancel");
    status
        .set_order_status(&other_id, OrderStatus::Cancelled, None, None)
        .await
        .expect("cancel again");
    let cancelled = fake.order(numeric(&other["id"])).expect("order");
    assert!(cancelled["cancelledAt"].is_string());
    assert_eq!(fake.available("TSH-S", "Warszawa"), Some(48));
    let read = shop
        .order_source()
        .expect("orders")
        .get_order(&other_id)
        .await
        .expect("read");
    assert_eq!(read.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn a_throttled_shop_is_waited_for_and_nothing_fails() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_shop(&fake, &shop).await;
    // Another app empties the bucket: the next calls are THROTTLED until it refills.
    fake.drain_bucket();
    let started = std::time::Instant::now();
    ok(shop
        .stock_sink()
        .expect("stock")
        .set_stock(&[stock("MUG", "Warszawa", dec!(9))])
        .await
        .expect("waits, then succeeds"));
    assert_eq!(fake.available("MUG", "Warszawa"), Some(9));
    assert!(fake.throttled() >= 1, "the fake did throttle");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(50),
        "it waited"
    );
    // The client now knows the bucket and paces itself instead of being refused.
    let refused = fake.throttled();
    for _ in 0..3 {
        shop.catalogue_sink()
            .expect("catalogue")
            .find_variants(&["MUG".into()])
            .await
            .expect("find");
    }
    assert_eq!(fake.throttled(), refused, "paced, not refused again");
}

#[tokio::test]
async fn an_order_with_more_lines_than_one_answer_carries_is_read_whole() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_shop(&fake, &shop).await;
    // A B2B order: 130 lines, more than the 100 one answer carries.
    let placed = fake
        .place_order(&OrderRequest {
            lines: (0..130).map(|_| ("MUG".to_owned(), 1)).collect(),
            shipping: None,
            ..OrderRequest::default()
        })
        .expect("order");
    let id = numeric(&placed["id"]).to_string();
    let order = shop
        .order_source()
        .expect("orders")
        .get_order(&id)
        .await
        .expect("read");
    assert_eq!(order.lines.len(), 130);
    let lines: Decimal = order
        .lines
        .iter()
        .map(|l| l.unit_price.amount * l.quantity - l.discount.amount)
        .sum();
    assert_eq!(lines, order.totals.total.amount, "every line counted");
}

#[tokio::test]
async fn a_mutation_whose_answer_is_lost_goes_back_to_its_job_and_a_query_is_asked_again() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), "");
    stocked_shop(&fake, &shop).await;
    let stock = shop.stock_sink().expect("stock");

    // The stock is set, but a proxy loses the answer: the write may have landed, so
    // it is not sent again in place; the job's retry starts over.
    fake.clear_calls();
    fake.lose_answers_to_next_mutations(1);
    let first = stock
        .set_stock(&[stock_at("MUG", "Warszawa", dec!(7))])
        .await;
    assert!(matches!(&first, Err(e) if e.is_transient()), "{first:?}");
    let mutations = |fake: &FakeShopify| {
        fake.operations()
            .iter()
            .filter(|o| o.starts_with("mutation"))
            .count()
    };
    assert_eq!(mutations(&fake), 1, "{:?}", fake.operations());
    assert_eq!(fake.available("MUG", "Warszawa"), Some(7), "it did land");
    ok(stock
        .set_stock(&[stock_at("MUG", "Warszawa", dec!(7))])
        .await
        .expect("the retry"));
    assert_eq!(fake.available("MUG", "Warszawa"), Some(7));

    // A read whose answer is lost is simply asked again.
    fake.lose_answers_to_next_queries(1);
    let found = shop
        .catalogue_sink()
        .expect("catalogue")
        .find_variants(&["MUG".into()])
        .await
        .expect("asked again");
    assert_eq!(found.len(), 1);
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
    // The fewest calls for any number of products: one bulk operation — stage the
    // file, upload it, start the operation, see it finished, read the results.
    let minimum = 5;
    let mut links: Vec<Option<String>> = vec![None; products.len()];
    let mut written: Vec<ProductWritten> = Vec::new();
    let mut sync = async |label: &str| {
        written.clear();
        fake.clear_calls();
        let started = std::time::Instant::now();
        for (n, chunk) in products.chunks(catalogue.batch_size()).enumerate() {
            let upserts: Vec<ProductUpsert> = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| ProductUpsert {
                    product: p.clone(),
                    product_id: links[n * catalogue.batch_size() + i].clone(),
                })
                .collect();
            for (i, w) in ok(catalogue.upsert_products(&upserts).await.expect("upsert"))
                .into_iter()
                .enumerate()
            {
                links[n * catalogue.batch_size() + i] = Some(w.product_id.clone());
                written.push(w);
            }
        }
        let calls = fake.calls();
        println!(
            "{label}: {} calls for 10,000 variants (minimum {minimum}) in {:?}",
            calls.len(),
            started.elapsed()
        );
        calls.len()
    };
    let first = sync("first sync").await;
    assert_eq!(fake.counts(), (1000, 10_000));
    // Polling may take a call or two more while Shopify runs the operation.
    assert!(
        first <= minimum + 2,
        "first sync took {first} calls, minimum {minimum}"
    );
    let second = sync("re-sync").await;
    assert_eq!(fake.counts(), (1000, 10_000), "nothing duplicated");
    assert!(
        second <= minimum + 2,
        "re-sync took {second} calls, minimum {minimum}"
    );

    // The variants as the sync wrote them; a lookup by SKU finds the same ones.
    let found: Vec<VariantRef> = written.into_iter().flat_map(|w| w.variants).collect();
    assert_eq!(found.len(), 10_000);
    let some: Vec<String> = found.iter().step_by(100).map(|v| v.sku.clone()).collect();
    let looked_up = catalogue.find_variants(&some).await.expect("find");
    assert_eq!(looked_up.len(), 100);
    assert!(
        looked_up.iter().all(|v| found.contains(v)),
        "found the same variants"
    );
    let priced = std::time::Instant::now();
    fake.clear_calls();
    let prices = shop.price_sink().expect("prices");
    for chunk in found.chunks(prices.batch_size()) {
        let updates: Vec<PriceUpdate> = chunk
            .iter()
            .map(|v| PriceUpdate {
                variant_id: Some(v.variant_id.clone()),
                ..price(&v.sku, dec!(19.99))
            })
            .collect();
        ok(prices.set_prices(&updates).await.expect("prices"));
    }
    let price_calls = fake.calls().len();
    let price_minimum = 10_000usize.div_ceil(prices.batch_size()) * minimum;
    println!(
        "prices: {price_calls} calls for 10,000 variants (minimum {price_minimum}) in {:?}",
        priced.elapsed()
    );
    assert!(
        price_calls <= price_minimum + 2 * 10_000usize.div_ceil(prices.batch_size()),
        "prices took {price_calls}"
    );
    assert_eq!(
        fake.variant_by_sku("P0999-9").expect("variant")["price"],
        "19.99"
    );

    // Stock for all at one location: 250 quantities per inventorySetQuantities.
    fake.clear_calls();
    let sink = shop.stock_sink().expect("stock");
    for chunk in found.chunks(sink.batch_size()) {
        let updates: Vec<StockUpdate> = chunk
            .iter()
            .map(|v| StockUpdate {
                variant_id: Some(v.variant_id.clone()),
                ..stock(&v.sku, "Warszawa", dec!(3))
            })
            .collect();
        ok(sink.set_stock(&updates).await.expect("stock"));
    }
    let stock_calls = fake.calls().len();
    println!("stock: {stock_calls} calls for 10,000 variants (minimum 40)");
    assert!(stock_calls <= 40 + 1, "stock took {stock_calls} calls");
    assert_eq!(fake.available("P0500-5", "Warszawa"), Some(3));
}

/// The shop as the conformance suite drives it: orders placed at its checkout.
struct Shop {
    fake: FakeShopify,
    dir: tempfile::TempDir,
    shop: Arc<dyn Connector>,
}

#[async_trait::async_trait]
impl conformance::FeedSystem for Shop {
    async fn add(&self) -> String {
        let order = self
            .fake
            .place_order(&OrderRequest {
                lines: vec![("MUG".into(), 1)],
                ..OrderRequest::default()
            })
            .expect("order");
        numeric(&order["id"]).to_string()
    }
    async fn restamp(&self, key: &str, at: chrono::DateTime<chrono::Utc>) {
        let id = key.parse().expect("a Shopify order id");
        self.fake.restamp_order(id, at).expect("restamped");
    }
    fn lag(&self) -> std::time::Duration {
        std::time::Duration::from_secs(2)
    }
    fn unknown_key(&self) -> String {
        "999999".into()
    }
}

#[async_trait::async_trait]
impl conformance::Faults for Shop {
    fn connector(&self) -> Arc<dyn Connector> {
        self.shop.clone()
    }
    fn with_wrong_credentials(&self) -> Option<Arc<dyn Connector>> {
        Some(support::build_unchecked(
            &format!(
                "type = \"shopify\"\nshop = \"{}\"\naccess_token = {{ value = \"shpat_wrong\" }}\nca_file = \"shop-ca.pem\"",
                self.fake.url()
            ),
            self.dir.path(),
        ))
    }
    fn unreachable(&self) -> Arc<dyn Connector> {
        support::build_unchecked(
            &format!(
                "type = \"shopify\"\nshop = \"https://localhost:{}\"\naccess_token = {{ value = \"{ACCESS_TOKEN}\" }}\nca_file = \"shop-ca.pem\"",
                support::closed_port()
            ),
            self.dir.path(),
        )
    }
    async fn rate_limit_next(&self) -> std::time::Duration {
        // Another app empties the bucket; it refills at 50 points a second.
        self.fake.drain_bucket();
        std::time::Duration::from_millis(50)
    }
}

#[tokio::test]
async fn the_shop_passes_the_conformance_suite() {
    let fake = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let shop = connect_with(&fake, dir.path(), r#"poll_lag = "2s""#);
    stocked_shop(&fake, &shop).await;
    let shop = Shop { fake, dir, shop };
    let feed = conformance::order_feed(shop.shop.order_source().expect("orders"));
    conformance::change_feed(&feed, &shop).await;
    conformance::failures(&shop).await;
}
