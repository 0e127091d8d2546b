use std::time::Duration;

use chrono::Utc;
use kontor_connector::{
    CatalogueSink, CatalogueSource, ConnectorError, CustomerQuery, CustomerSink, OrderSource,
    ProductUpsert, SalesDocumentKind, SalesDraft, SalesSink, StockSink, StockSource, StockUpdate,
};
use kontor_model::{Customer, CustomerKind, Email};
use rust_decimal::Decimal;

use super::*;

fn erp() -> MemorySystem {
    let system = MemorySystem::new("erp");
    seed_demo(&system, 1).unwrap();
    system
}

#[tokio::test]
async fn change_feeds_page_with_cursors_and_show_each_record_once_at_its_latest_change() {
    let erp = erp();
    let first = erp.products_changed(None, 5).await.unwrap();
    assert_eq!(first.items.len(), 5);
    assert!(first.more);
    let rest = erp
        .products_changed(first.cursor.as_deref(), 1000)
        .await
        .unwrap();
    assert!(!rest.more);
    assert_eq!(first.items.len() + rest.items.len(), erp.products().len());
    let cursor = rest.cursor.clone();
    assert!(
        erp.products_changed(cursor.as_deref(), 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A product changed again moves to the end of the feed.
    let mut mug = erp.product_by_sku("MUG-330").unwrap();
    mug.tags.push("bestseller".into());
    erp.put_product(mug).unwrap();
    let changed = erp.products_changed(cursor.as_deref(), 10).await.unwrap();
    assert_eq!(
        changed
            .items
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>(),
        vec!["MUG"]
    );

    let stock = erp.stock_changed(None, 10_000).await.unwrap();
    assert_eq!(stock.items.len(), erp.stock().len());
}

#[tokio::test]
async fn a_journaled_system_survives_a_restart_and_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("erp.jsonl");
    {
        let erp = MemorySystem::open("erp", &path).unwrap();
        seed_demo(&erp, 1).unwrap();
    }
    // A crash in the middle of a write leaves half a line.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"op\":\"stock\",\"sku\":"))
        .unwrap();
    let reopened = MemorySystem::open("erp", &path).unwrap();
    assert_eq!(reopened.products().len(), erp().products().len());
    assert_eq!(reopened.stock().len(), erp().stock().len());
    // New changes after the torn line are kept too.
    let mut level = reopened.stock()[0].clone();
    level.on_hand = Decimal::from(999);
    reopened.put_stock(level.clone()).unwrap();
    drop(reopened);
    let again = MemorySystem::open("erp", &path).unwrap();
    assert_eq!(
        again
            .stock_of(&level.sku, &level.warehouse)
            .unwrap()
            .on_hand,
        Decimal::from(999)
    );
}

#[tokio::test]
async fn upserting_finds_existing_products_by_sku_so_retries_create_nothing_new() {
    let erp = erp();
    let shop = MemorySystem::new("shop");
    let product = erp.product_by_sku("TSH-M-BLK").unwrap();
    let upsert = ProductUpsert {
        product: product.clone(),
        product_id: None,
    };
    let first = shop
        .upsert_products(std::slice::from_ref(&upsert))
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let second = shop
        .upsert_products(&[upsert])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.product_id, second.product_id);
    assert_eq!(shop.products().len(), 1);
    assert_eq!(first.variants.len(), product.variants.len());
}

#[tokio::test]
async fn the_shop_refuses_stock_for_a_sku_it_does_not_have_item_by_item() {
    let erp = erp();
    let shop = MemorySystem::new("shop");
    let product = erp.product_by_sku("MUG-330").unwrap();
    shop.upsert_products(&[ProductUpsert {
        product,
        product_id: None,
    }])
    .await
    .unwrap();
    let update = |sku: &str| StockUpdate {
        sku: sku.into(),
        variant_id: None,
        location: "default".into(),
        available: Decimal::from(5),
        incoming: None,
    };
    let results = shop
        .set_stock(&[update("MUG-330"), update("NOPE-1")])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(ConnectorError::NotFound { .. })));
    assert_eq!(
        shop.stock_of("MUG-330", "default").unwrap().on_hand,
        Decimal::from(5)
    );
}

#[tokio::test]
async fn like_any_erp_it_creates_a_second_sale_if_asked_twice() {
    let erp = erp();
    let customer = erp
        .create_customer(&Customer {
            reference: "web".into(),
            kind: CustomerKind::Person,
            name: "Web sales".into(),
            email: Some(Email::new("web@example.com").unwrap()),
            phone: None,
            addresses: vec![],
            group: None,
            price_list: None,
            payment_terms: None,
            credit_limit: None,
            balance: None,
        })
        .await
        .unwrap();
    let mut generator = OrderGenerator::new(1, SellableItem::from_system(&erp));
    let mut order = generator.next_order(Utc::now()).unwrap();
    order.id = "o-1".into();
    order.number = "#1001".into();
    let products = CatalogueSource::find_variants(
        &erp,
        &order
            .lines
            .iter()
            .map(|l| l.sku.clone())
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    let draft = SalesDraft {
        reference: order.number.clone(),
        kind: SalesDocumentKind::CustomerOrder,
        customer_id: customer.id.clone(),
        lines: order
            .lines
            .iter()
            .map(|l| kontor_connector::DraftLine {
                product_id: products
                    .iter()
                    .find(|p| p.sku == l.sku)
                    .map(|p| p.product_id.clone()),
                sku: l.sku.clone(),
                description: l.name.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax_rate: l.tax_rate,
            })
            .collect(),
        prices_include_tax: true,
        warehouse: None,
        payment_method: None,
        order: order.clone(),
    };
    let sale = erp.create_sale(&draft).await.unwrap();
    assert_eq!(erp.find_sale("#1001").await.unwrap().unwrap().id, sale.id);
    erp.create_sale(&draft).await.unwrap();
    assert_eq!(
        erp.sales_for("#1001").len(),
        2,
        "duplicates are the flow's job to prevent"
    );
    let found = erp
        .find_customers(&CustomerQuery::Email(
            Email::new("WEB@example.com").unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    let mut unknown = draft.clone();
    unknown.customer_id = "c-999".into();
    assert!(matches!(
        erp.create_sale(&unknown).await,
        Err(ConnectorError::Rejected { .. })
    ));
}

#[tokio::test]
async fn knobs_make_it_down_throttled_or_flaky_and_calls_are_counted() {
    let erp = erp();
    erp.set_down(true);
    assert!(matches!(
        erp.stock_changed(None, 1).await,
        Err(ConnectorError::Unavailable { .. })
    ));
    erp.set_down(false);

    erp.set_knobs(Knobs {
        rate_limit: Some(2),
        batch_size: 100,
        ..Knobs::default()
    });
    erp.stock_changed(None, 1).await.unwrap();
    erp.stock_changed(None, 1).await.unwrap();
    let throttled = erp.stock_changed(None, 1).await.unwrap_err();
    assert!(
        throttled
            .retry_after()
            .is_some_and(|d| d > Duration::ZERO && d <= Duration::from_secs(1))
    );

    erp.set_knobs(Knobs {
        error_rate: 1.0,
        batch_size: 100,
        ..Knobs::default()
    });
    assert!(erp.get_order("o-1").await.unwrap_err().is_transient());

    erp.set_knobs(Knobs {
        outage: Some(Outage {
            after: Duration::ZERO,
            lasting: Duration::from_secs(3600),
        }),
        batch_size: 100,
        ..Knobs::default()
    });
    assert!(matches!(
        erp.orders_changed(None, 1).await,
        Err(ConnectorError::Unavailable { .. })
    ));
    assert_eq!(erp.api_calls().get("stock.list"), Some(&4));
}
