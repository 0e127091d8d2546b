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
            email: Some(Email::new("web@example.com").unwrap()),
            ..Customer::named("web", CustomerKind::Person, "Web sales")
        })
        .await
        .unwrap();
    let mut generator = OrderGenerator::new(1, SellableItem::from_system(&erp));
    let mut order = generator.next_order(Utc::now()).unwrap();
    order.id = "o-1".into();
    order.number = "#1001".into();
    let draft = draft_for(&erp, &order, &customer.id).await;
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
async fn customers_are_found_by_their_current_email_and_reference_or_by_id() {
    let erp = MemorySystem::new("erp");
    let customer = |email: &str| Customer {
        email: Some(Email::new(email).unwrap()),
        ..Customer::named("shop:42", CustomerKind::Person, "Anna")
    };
    let by = |query: CustomerQuery| {
        let erp = erp.clone();
        async move {
            erp.find_customers(&query)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    let email = |e: &str| CustomerQuery::Email(Email::new(e).unwrap());
    let id = erp.put_customer(customer("old@example.com")).unwrap();
    assert_eq!(by(email("OLD@example.com")).await, vec![id.clone()]);

    // The same reference again is the same customer, now with another e-mail.
    assert_eq!(erp.put_customer(customer("new@example.com")).unwrap(), id);
    assert!(by(email("old@example.com")).await.is_empty());
    assert_eq!(by(email("new@example.com")).await, vec![id.clone()]);
    assert_eq!(
        by(CustomerQuery::Reference("shop:42".into())).await,
        vec![id.clone()]
    );
    assert_eq!(
        by(CustomerQuery::Reference(id.clone())).await,
        vec![id.clone()]
    );
    assert!(
        by(CustomerQuery::Reference("shop:43".into()))
            .await
            .is_empty()
    );
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

/// The draft the orders flow would make of `order` for customer `customer_id`.
pub(super) async fn draft_for(
    erp: &MemorySystem,
    order: &kontor_model::Order,
    customer_id: &str,
) -> SalesDraft {
    let skus: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
    let products = CatalogueSource::find_variants(erp, &skus).await.unwrap();
    SalesDraft {
        reference: order.number.clone(),
        kind: SalesDocumentKind::CustomerOrder,
        customer_id: customer_id.to_owned(),
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
                tax_code: None,
                warehouse: None,
            })
            .collect(),
        prices_include_tax: true,
        warehouse: None,
        payment_method: None,
        order: order.clone(),
    }
}

/// A sale for a generated order, created the way the orders flow would.
async fn sale_for_new_order(
    erp: &MemorySystem,
) -> (kontor_model::Order, kontor_connector::SalesDocument) {
    let customer = erp
        .create_customer(&Customer::named("c", CustomerKind::Person, "Anna"))
        .await
        .unwrap();
    let mut generator = OrderGenerator::new(8, SellableItem::from_system(erp));
    let mut order = generator.next_order(Utc::now()).unwrap();
    order.id = "o-9".into();
    order.number = "#2001".into();
    let draft = draft_for(erp, &order, &customer.id).await;
    let sale = erp.create_sale(&draft).await.unwrap();
    (order, sale)
}

#[tokio::test]
async fn a_customer_order_reserves_stock_until_shipped_or_cancelled() {
    let erp = erp();
    let before: Vec<_> = erp
        .stock()
        .into_iter()
        .filter(|l| l.warehouse == WEB_WAREHOUSE)
        .collect();
    let (order, sale) = sale_for_new_order(&erp).await;
    let line = &order.lines[0];
    let reserved_before = before.iter().find(|l| l.sku == line.sku).unwrap().reserved;
    let level = erp.stock_of(&line.sku, WEB_WAREHOUSE).unwrap();
    assert_eq!(level.reserved, reserved_before + line.quantity);

    // Shipping the first line: it leaves the warehouse and its reservation goes.
    let on_hand = level.on_hand;
    let shipment = erp
        .ship(
            &sale.id,
            Some(vec![(line.sku.clone(), line.quantity)]),
            "DPD",
            "TRACK1",
        )
        .unwrap();
    let after = erp.stock_of(&line.sku, WEB_WAREHOUSE).unwrap();
    assert_eq!(
        (after.on_hand, after.reserved),
        (on_hand - line.quantity, reserved_before)
    );
    assert_eq!(shipment.order_number, order.number);
    let expected = if order.lines.len() == 1 {
        kontor_model::OrderStatus::Shipped
    } else {
        kontor_model::OrderStatus::PartiallyShipped
    };
    assert_eq!(erp.sale(&sale.id).unwrap().status, expected);
    let shipments = kontor_connector::ShipmentSource::shipments_changed(&erp, None, 10)
        .await
        .unwrap();
    assert_eq!(shipments.items.len(), 1);

    // Cancelling releases what is still reserved.
    let cancelled = erp
        .cancel_sale(&sale.id, "customer cancelled")
        .await
        .unwrap();
    assert_eq!(cancelled.status, kontor_model::OrderStatus::Cancelled);
    assert!(erp.reserved_by(&sale.id).is_empty());
    for l in order.lines.iter().skip(1) {
        let original = before.iter().find(|b| b.sku == l.sku).unwrap().reserved;
        assert_eq!(
            erp.stock_of(&l.sku, WEB_WAREHOUSE).unwrap().reserved,
            original,
            "{}",
            l.sku
        );
    }
}

#[tokio::test]
async fn payments_receipts_and_invoices_with_a_real_pdf() {
    use kontor_connector::{InvoiceSource, PaymentSink};
    let erp = erp();
    let (order, sale) = sale_for_new_order(&erp).await;
    let payment = kontor_model::Payment {
        order_number: order.number.clone(),
        kind: kontor_model::PaymentKind::Capture,
        amount: sale.total,
        method: "card".into(),
        transaction_id: "txn_1".into(),
        at: Utc::now(),
    };
    erp.record_payment(&sale.id, &payment).await.unwrap();
    assert_eq!(
        erp.payments_of(&sale.id).await.unwrap()[0].transaction_id,
        "txn_1"
    );
    let invoice = erp
        .issue_document(&sale.id, kontor_model::InvoiceKind::Invoice)
        .await
        .unwrap();
    assert_eq!(
        (invoice.number.as_str(), invoice.total),
        ("FV/00001", sale.total)
    );
    let pdf = erp.invoice_pdf(&invoice).await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
    assert!(String::from_utf8_lossy(&pdf).contains("FV/00001"));
    assert_eq!(erp.invoices_changed(None, 10).await.unwrap().items.len(), 1);
    let mut eur = payment.clone();
    eur.amount = kontor_model::Money::parse("1", "EUR").unwrap();
    assert!(matches!(
        erp.record_payment(&sale.id, &eur).await,
        Err(ConnectorError::Rejected { .. })
    ));
}

#[tokio::test]
async fn a_transfer_moves_stock_between_warehouses_and_a_release_frees_the_reservation() {
    use kontor_connector::StockTransferSink;
    let erp = erp();
    let (order, sale) = sale_for_new_order(&erp).await;
    let line = &order.lines[0];
    let web = erp.stock_of(&line.sku, WEB_WAREHOUSE).unwrap();
    let showroom = erp.stock_of(&line.sku, SHOWROOM_WAREHOUSE).unwrap();
    let transfer = kontor_model::StockTransfer {
        reference: format!("{}/pickup", order.number),
        from_warehouse: WEB_WAREHOUSE.into(),
        to_warehouse: SHOWROOM_WAREHOUSE.into(),
        lines: vec![kontor_model::TransferLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
        }],
        order_number: Some(order.number.clone()),
        created_at: Utc::now(),
    };
    let made = erp.create_transfer(&transfer).await.unwrap();
    assert_eq!(
        erp.find_transfer(&transfer.reference).await.unwrap(),
        Some(made)
    );
    erp.release_reservation(&sale.id).await.unwrap();
    let web_after = erp.stock_of(&line.sku, WEB_WAREHOUSE).unwrap();
    assert_eq!(web_after.on_hand, web.on_hand - line.quantity);
    assert_eq!(web_after.reserved, web.reserved - line.quantity);
    assert_eq!(
        erp.stock_of(&line.sku, SHOWROOM_WAREHOUSE).unwrap().on_hand,
        showroom.on_hand + line.quantity
    );
}

#[tokio::test]
async fn shop_accounts_upsert_by_email_and_prices_need_their_scope_ids() {
    use kontor_connector::{AccountSink, AccountUpsert, PriceSink, PriceUpdate};
    let erp = erp();
    let shop = MemorySystem::new("shop");
    let customer = Customer {
        reference: "K-100".into(),
        kind: CustomerKind::Company {
            company_name: "Hotel Wisła".into(),
            vat_id: Some(kontor_model::VatId::new("PL6762468118").unwrap()),
        },
        name: "Hotel Wisła".into(),
        email: Some(Email::new("zakupy@hotel.pl").unwrap()),
        phone: None,
        addresses: vec![],
        group: Some("wholesale".into()),
        price_list: None,
        payment_terms: None,
        credit_limit: Some(kontor_model::Money::parse("10000", "PLN").unwrap()),
        balance: Some(kontor_model::Money::parse("1250.40", "PLN").unwrap()),
    };
    let first = shop
        .upsert_accounts(&[AccountUpsert {
            customer: customer.clone(),
            account_id: None,
        }])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let again = shop
        .upsert_accounts(&[AccountUpsert {
            customer,
            account_id: None,
        }])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(first.created && !again.created && first.account_id == again.account_id);
    assert_eq!(shop.accounts().len(), 1);

    let product = erp.product_by_sku("MUG-330").unwrap();
    shop.upsert_products(&[ProductUpsert {
        product,
        product_id: None,
    }])
    .await
    .unwrap();
    let mut price = erp
        .prices()
        .into_iter()
        .find(|p| p.sku == "MUG-330")
        .unwrap();
    price.scope = kontor_model::PriceScope::Customer("K-100".into());
    let without_id = PriceUpdate {
        price: price.clone(),
        variant_id: None,
        scope_id: None,
    };
    let with_id = PriceUpdate {
        price,
        variant_id: None,
        scope_id: Some(first.account_id),
    };
    let results = shop.set_prices(&[without_id, with_id]).await.unwrap();
    assert!(matches!(results[0], Err(ConnectorError::Rejected { .. })));
    assert!(results[1].is_ok());
    assert_eq!(shop.shop_prices().len(), 1);
}

#[tokio::test]
async fn watchers_see_each_change_as_it_is_made() {
    let erp = erp();
    let mut changes = erp.watch();
    let mut level = erp.stock_of("MUG-330", WEB_WAREHOUSE).unwrap();
    level.on_hand += Decimal::ONE;
    erp.put_stock(level).unwrap();
    let mut generator = OrderGenerator::new(7, SellableItem::from_system(&erp));
    let order = erp
        .place_order(generator.next_order(Utc::now()).unwrap())
        .unwrap();
    assert_eq!(
        changes.try_recv().unwrap(),
        Changed {
            entity: "stock",
            key: format!("MUG-330@{WEB_WAREHOUSE}")
        }
    );
    assert_eq!(
        changes.try_recv().unwrap(),
        Changed {
            entity: "order",
            key: order.id
        }
    );
    assert!(changes.try_recv().is_err(), "nothing else changed");
}
