#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Every commerce flow end to end on the memory shop and ERP, including bad input: each
//! bad record is parked with its reason, nothing is lost, fixing the cause and retrying
//! succeeds, and nothing is ever created twice.

mod support;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use kontor_connectors::memory::{Knobs, SHOWROOM_WAREHOUSE, TaxRounding, WEB_WAREHOUSE};
use kontor_flows::{Mappings, PlannedAction, SyncStart};
use kontor_model::{
    Currency, Customer, CustomerKind, DeliveryMethod, Email, LocalizedText, Money, OrderStatus,
    PaymentState, Price, PriceKind, PriceScope, Product, ProductStatus, Return, ReturnLine,
    TaxRate, Variant, VatId,
};
use rust_decimal::{Decimal, dec};
use serde_json::json;
use support::{World, all_flows, demo_mappings, flow};

fn pln(amount: Decimal) -> Money {
    Money::new(amount, Currency::PLN)
}

fn business(reference: &str, email: &str, group: &str) -> Customer {
    Customer {
        reference: reference.into(),
        kind: CustomerKind::Company {
            company_name: format!("Firma {reference}"),
            // The hotel's account in the shop (W-1) carries the hotel's VAT id.
            vat_id: Some(
                VatId::new(match reference {
                    "K-100" | "W-1" => "PL6762468118",
                    "K-200" => "PL7792433421",
                    _ => "PL5260001246",
                })
                .unwrap(),
            ),
        },
        name: format!("Firma {reference}"),
        email: Some(Email::new(email).unwrap()),
        phone: None,
        addresses: vec![],
        group: Some(group.into()),
        price_list: None,
        payment_terms: Some(kontor_model::PaymentTerms {
            code: "14D".into(),
            days: 14,
        }),
        credit_limit: Some(pln(dec!(20000))),
        balance: Some(pln(dec!(1250.40))),
    }
}

fn price(sku: &str, amount: Decimal, scope: PriceScope) -> Price {
    Price {
        sku: sku.into(),
        amount: pln(amount),
        includes_tax: true,
        scope,
        kind: PriceKind::Regular,
        min_quantity: Decimal::ONE,
        valid_from: None,
        valid_until: None,
    }
}

fn b2b_mappings() -> Mappings {
    let mut mappings = demo_mappings();
    mappings.customer_groups.insert("b2b".into(), "HURT".into());
    mappings
        .price_lists
        .insert("wholesale".into(), "pl-hurt".into());
    mappings
}

#[tokio::test]
async fn b2b_accounts_and_every_kind_of_price_reach_the_shop_under_the_shops_ids() {
    let mut world = World::with(all_flows(), b2b_mappings()).await;
    let k100 = world
        .erp
        .put_customer(business("K-100", "zakupy@hotel.pl", "HURT"))
        .unwrap();
    let mut consumer = business("K-101", "jan@example.com", "DETAL");
    consumer.kind = CustomerKind::Person;
    world.erp.put_customer(consumer).unwrap();
    world
        .erp
        .put_price(price(
            "MUG-330",
            dec!(29.90),
            PriceScope::PriceList("wholesale".into()),
        ))
        .unwrap();
    world
        .erp
        .put_price(price(
            "TSH-M-BLK",
            dec!(59.00),
            PriceScope::CustomerGroup("HURT".into()),
        ))
        .unwrap();
    world
        .erp
        .put_price(price(
            "BOOK",
            dec!(49.90),
            PriceScope::Customer(k100.clone()),
        ))
        .unwrap();
    let mut promotion = price("HONEY", dec!(27.00), PriceScope::Base);
    promotion.kind = PriceKind::Promotion;
    promotion.valid_from = Some(Utc::now());
    promotion.valid_until = Some(Utc::now() + Duration::days(7));
    world.erp.put_price(promotion).unwrap();

    world.run(&["catalogue", "customers", "prices"]).await;
    world.assert_nothing_parked().await;

    let accounts = world.shop.accounts();
    assert_eq!(accounts.len(), 1, "consumers are left to the shop");
    let (account_id, account) = &accounts[0];
    assert_eq!(
        account.group.as_deref(),
        Some("b2b"),
        "the group in the shop's words"
    );
    assert_eq!(
        (account.credit_limit, account.balance),
        (Some(pln(dec!(20000))), Some(pln(dec!(1250.40))))
    );

    let prices = world.shop.shop_prices();
    let find = |sku: &str, scope: &str| {
        prices
            .iter()
            .find(|p| p.price.sku == sku && p.scope_id.as_deref() == Some(scope))
    };
    assert_eq!(
        find("MUG-330", "pl-hurt").unwrap().price.amount,
        pln(dec!(29.90))
    );
    assert_eq!(
        find("TSH-M-BLK", "b2b").unwrap().price.amount,
        pln(dec!(59.00))
    );
    assert_eq!(
        find("BOOK", account_id).unwrap().price.amount,
        pln(dec!(49.90))
    );
    let promo = prices
        .iter()
        .find(|p| p.price.sku == "HONEY" && p.price.kind == PriceKind::Promotion)
        .unwrap();
    assert!(promo.price.valid_until.is_some() && promo.variant_id.is_some());
    let base = prices
        .iter()
        .filter(|p| p.price.scope == PriceScope::Base && p.price.kind == PriceKind::Regular)
        .count();
    assert_eq!(
        base,
        world.erp.variant_count(),
        "every variant has its base price"
    );

    // Nothing changed: nothing is sent again.
    world.shop.reset_api_calls();
    for name in ["customers", "prices"] {
        world
            .flow(name)
            .flow
            .rewind(&world.store, SyncStart::Beginning)
            .await
            .unwrap();
    }
    world.run(&["customers", "prices"]).await;
    assert_eq!(world.shop.api_calls().get("prices.batch"), None);
    assert_eq!(world.shop.api_calls().get("accounts.batch"), None);

    // A new balance goes out; a price list nobody mapped parks until it is mapped.
    let mut updated = business("K-100", "zakupy@hotel.pl", "HURT");
    updated.balance = Some(pln(dec!(0)));
    world.erp.put_customer(updated).unwrap();
    world
        .erp
        .put_price(price(
            "MUG-450",
            dec!(35),
            PriceScope::PriceList("retail".into()),
        ))
        .unwrap();
    world.run(&["customers", "prices"]).await;
    assert_eq!(world.shop.accounts()[0].1.balance, Some(pln(dec!(0))));
    let parked = world.parked().await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].last_error().unwrap().code, "unmapped_price_list");
    assert!(parked[0].last_error().unwrap().message.contains("retail"));
    let mut fixed = b2b_mappings();
    fixed.price_lists.insert("retail".into(), "pl-detal".into());
    world.configure(all_flows(), fixed);
    world.store.retry_job(parked[0].id, None).await.unwrap();
    world.settle().await;
    world.assert_nothing_parked().await;
    assert!(
        world
            .shop
            .shop_prices()
            .iter()
            .any(|p| p.scope_id.as_deref() == Some("pl-detal"))
    );
}

#[tokio::test]
async fn a_shop_with_one_price_per_variant_gets_base_prices_and_nothing_parks() {
    let mut flows = all_flows();
    flows.insert(
        "prices".into(),
        support::flow("erp", "shop", serde_json::json!({"scopes": ["base"]})),
    );
    let world = World::with(flows, demo_mappings()).await;
    world
        .erp
        .put_price(price(
            "MUG-450",
            dec!(35),
            PriceScope::PriceList("retail".into()),
        ))
        .unwrap();
    world
        .erp
        .put_price(price("MUG-450", dec!(36), PriceScope::Base))
        .unwrap();
    world.run(&["catalogue", "prices"]).await;
    world.assert_nothing_parked().await;
    let sent = world.shop.shop_prices();
    assert!(
        sent.iter().all(|p| p.price.scope == PriceScope::Base),
        "{sent:?}"
    );
    assert!(
        sent.iter()
            .any(|p| p.price.sku == "MUG-450" && p.price.amount == pln(dec!(36)))
    );
}

#[tokio::test]
async fn payments_invoices_shipments_and_statuses_follow_each_order_once() {
    let mut mappings = demo_mappings();
    mappings
        .order_status
        .insert("wc-completed".into(), OrderStatus::Completed);
    let world = World::with(all_flows(), mappings).await;
    let paid = world.place(31, |o| {
        o.payment_state = PaymentState::Paid;
        o.lines.truncate(1);
        o.lines[0].quantity = dec!(2);
        o.totals = o.computed_totals().unwrap();
        o.payments
            .iter_mut()
            .for_each(|p| p.amount = o.totals.total);
    });
    let cod = world.place(32, |o| {
        o.payment_state = PaymentState::Pending;
        o.payment_method = Some("cash_on_delivery".into());
        o.payments.clear();
    });
    assert_eq!(paid.payments.len(), 1);
    world
        .run(&["catalogue", "orders", "payments", "invoices"])
        .await;
    world.assert_nothing_parked().await;

    let sale = world.sale_of(&paid);
    let payments = world.erp.payments_of_sale(&sale.id);
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].transaction_id, paid.payments[0].transaction_id);
    let invoices: Vec<_> = world
        .erp
        .invoices()
        .into_iter()
        .filter(|i| i.order_number == paid.number)
        .collect();
    assert_eq!(invoices.len(), 1, "one receipt or invoice");
    let wanted = if paid.requested_document == kontor_model::RequestedDocument::Invoice {
        kontor_model::InvoiceKind::Invoice
    } else {
        kontor_model::InvoiceKind::Receipt
    };
    assert_eq!(invoices[0].kind, wanted);
    let attached = world.shop.attached_invoices(&paid.id);
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0].0, invoices[0].number);
    assert!(
        attached[0].1.is_some_and(|bytes| bytes > 200),
        "the PDF came along"
    );
    let cod_sale = world.sale_of(&cod);
    assert!(
        world.erp.payments_of_sale(&cod_sale.id).is_empty(),
        "cash on delivery is not paid yet"
    );

    // Again from the beginning: nothing doubles.
    for name in ["payments", "invoices"] {
        world
            .flow(name)
            .flow
            .rewind(&world.store, SyncStart::Beginning)
            .await
            .unwrap();
    }
    world.run(&["payments", "invoices"]).await;
    assert_eq!(world.erp.payments_of_sale(&sale.id).len(), 1);
    assert_eq!(
        world
            .erp
            .invoices()
            .iter()
            .filter(|i| i.order_number == paid.number)
            .count(),
        1
    );
    assert_eq!(world.shop.attached_invoices(&paid.id).len(), 1);

    // The warehouse sends one piece, then the other.
    let sku = paid.lines[0].sku.clone();
    world
        .erp
        .ship(
            &sale.id,
            Some(vec![(sku.clone(), dec!(1))]),
            "DPD",
            "DPD0001",
        )
        .unwrap();
    world.run(&["shipments"]).await;
    let order = world.shop.order(&paid.id).unwrap();
    assert_eq!(order.status, OrderStatus::PartiallyShipped);
    assert!(order.note.as_deref().unwrap_or("").contains("DPD0001"));
    world
        .erp
        .ship(&sale.id, Some(vec![(sku, dec!(1))]), "DPD", "DPD0002")
        .unwrap();
    world.run(&["shipments"]).await;
    assert_eq!(world.shop.fulfilments(&paid.id).len(), 2);
    assert_eq!(
        world.shop.order(&paid.id).unwrap().status,
        OrderStatus::Shipped
    );
    world
        .flow("shipments")
        .flow
        .rewind(&world.store, SyncStart::Beginning)
        .await
        .unwrap();
    world.run(&["shipments"]).await;
    assert_eq!(
        world.shop.fulfilments(&paid.id).len(),
        2,
        "no fulfilment twice"
    );

    // The ERP completes the sale: the shop shows it, in its own words.
    world
        .erp
        .set_sale_status(&sale.id, OrderStatus::Completed, "done")
        .unwrap();
    world.run(&["order_status"]).await;
    let order = world.shop.order(&paid.id).unwrap();
    assert_eq!(
        (order.status, order.source_status.as_deref()),
        (OrderStatus::Completed, Some("wc-completed"))
    );
    world.assert_nothing_parked().await;
}

#[tokio::test]
async fn a_cancelled_shop_order_cancels_its_erp_document_and_frees_its_stock() {
    let world = World::with(all_flows(), demo_mappings()).await;
    let order = world.place_orders(1, 41).remove(0);
    world.run(&["orders"]).await;
    let sale = world.sale_of(&order);
    assert!(!world.erp.reserved_by(&sale.id).is_empty());
    let mut cancelled = world.shop.order(&order.id).unwrap();
    cancelled.status = OrderStatus::Cancelled;
    cancelled.updated_at = Utc::now();
    world.shop.update_order(cancelled).unwrap();
    world.run(&["orders"]).await;
    assert_eq!(
        world.erp.sale(&sale.id).unwrap().status,
        OrderStatus::Cancelled
    );
    assert!(world.erp.reserved_by(&sale.id).is_empty());
    assert_eq!(world.erp.sales_for(&order.number).len(), 1);

    // Cancelled before it ever reached the ERP: never imported.
    let early = world.place(42, |o| o.status = OrderStatus::Cancelled);
    world.run(&["orders"]).await;
    assert!(world.erp.sales_for(&early.number).is_empty());
    world.assert_nothing_parked().await;
}

#[tokio::test]
async fn a_shop_refund_becomes_one_credit_note() {
    let world = World::with(all_flows(), demo_mappings()).await;
    let order = world.place_orders(1, 51).remove(0);
    world.run(&["orders"]).await;
    let refund = Return {
        reference: "RMA-1".into(),
        order_number: order.number.clone(),
        lines: vec![ReturnLine {
            sku: order.lines[0].sku.clone(),
            quantity: Decimal::ONE,
            reason: Some("za mały".into()),
        }],
        refund: None,
        created_at: Utc::now(),
    };
    world.shop.add_return(refund).unwrap();
    world.run(&["returns"]).await;
    world
        .flow("returns")
        .flow
        .rewind(&world.store, SyncStart::Beginning)
        .await
        .unwrap();
    world.run(&["returns"]).await;
    world.assert_nothing_parked().await;
    let documents = world.erp.return_documents();
    assert_eq!(documents.len(), 1);
    assert_eq!(
        documents[0].kind,
        kontor_connector::ReturnDocumentKind::CreditNote
    );
    let line = &world.sale_of(&order).lines[0];
    assert_eq!(
        documents[0].total,
        line.total.checked_div(line.quantity).unwrap().rounded()
    );
}

#[tokio::test]
async fn a_pickup_order_sent_to_the_showroom_moves_its_goods_and_releases_its_reservation() {
    let world = World::with(all_flows(), demo_mappings()).await;
    let order = world.place(61, |o| {
        o.delivery = DeliveryMethod::StorePickup {
            location: SHOWROOM_WAREHOUSE.into(),
        };
        o.shipping = None;
        o.shipping_address = None;
        o.lines.truncate(1);
        o.totals = o.computed_totals().unwrap();
    });
    world.run(&["orders"]).await;
    let sale = world.sale_of(&order);
    let sku = &order.lines[0].sku;
    let before_web = world.erp.stock_of(sku, WEB_WAREHOUSE).unwrap();
    let before_showroom = world.erp.stock_of(sku, SHOWROOM_WAREHOUSE).unwrap();
    world.run(&["showroom"]).await;
    assert!(
        world.erp.transfers().is_empty(),
        "not until the shop sends it to the showroom"
    );

    let mut sent = world.shop.order(&order.id).unwrap();
    sent.source_status = Some("sent_to_showroom".into());
    sent.updated_at = Utc::now();
    world.shop.update_order(sent).unwrap();
    world.run(&["showroom"]).await;
    world
        .flow("showroom")
        .flow
        .rewind(&world.store, SyncStart::Beginning)
        .await
        .unwrap();
    world.run(&["showroom"]).await;
    world.assert_nothing_parked().await;

    let transfers = world.erp.transfers();
    assert_eq!(transfers.len(), 1, "one transfer, however often it runs");
    assert_eq!(
        (
            transfers[0].1.from_warehouse.as_str(),
            transfers[0].1.to_warehouse.as_str()
        ),
        (WEB_WAREHOUSE, SHOWROOM_WAREHOUSE)
    );
    let quantity = order.lines[0].quantity;
    let web = world.erp.stock_of(sku, WEB_WAREHOUSE).unwrap();
    assert_eq!(web.on_hand, before_web.on_hand - quantity);
    assert_eq!(
        web.reserved,
        before_web.reserved - quantity,
        "the reservation is released"
    );
    assert_eq!(
        world.erp.stock_of(sku, SHOWROOM_WAREHOUSE).unwrap().on_hand,
        before_showroom.on_hand + quantity
    );
    assert!(world.erp.reserved_by(&sale.id).is_empty());
}

#[tokio::test]
async fn lines_are_split_across_preferred_warehouses_by_available_stock() {
    let mut flows = all_flows();
    flows.insert(
        "orders".into(),
        flow(
            "shop",
            "erp",
            json!({ "warehouses": [WEB_WAREHOUSE, SHOWROOM_WAREHOUSE] }),
        ),
    );
    let world = World::with(flows, demo_mappings()).await;
    // Neither warehouse has 5 alone: the line is split, preferred warehouse first.
    for (warehouse, on_hand) in [(WEB_WAREHOUSE, 3), (SHOWROOM_WAREHOUSE, 4)] {
        let mut level = world.erp.stock_of("MUG-330", warehouse).unwrap();
        level.on_hand = Decimal::from(on_hand);
        level.reserved = Decimal::ZERO;
        world.erp.put_stock(level).unwrap();
    }
    let order = world.place(71, |o| {
        o.lines.truncate(1);
        o.lines[0].sku = "MUG-330".into();
        o.lines[0].quantity = dec!(5);
        o.lines[0].unit_price = pln(dec!(39.90));
        o.lines[0].discount = pln(dec!(10.00));
        o.lines[0].tax_rate = TaxRate(dec!(23));
        o.totals = o.computed_totals().unwrap();
    });
    world.run(&["orders"]).await;
    world.assert_nothing_parked().await;
    let sale = world.sale_of(&order);
    assert_eq!(sale.total, order.totals.total, "splitting changes no money");
    let draft = world.erp.sale_draft(&sale.id).unwrap();
    let parts: Vec<_> = draft
        .lines
        .iter()
        .filter(|l| l.sku == "MUG-330")
        .map(|l| (l.warehouse.clone().unwrap(), l.quantity, l.discount))
        .collect();
    assert_eq!(
        parts,
        vec![
            (WEB_WAREHOUSE.to_owned(), dec!(3), pln(dec!(6.00))),
            (SHOWROOM_WAREHOUSE.to_owned(), dec!(2), pln(dec!(4.00)))
        ]
    );
    assert_eq!(
        world
            .erp
            .stock_of("MUG-330", WEB_WAREHOUSE)
            .unwrap()
            .reserved,
        dec!(3)
    );
    assert_eq!(
        world
            .erp
            .stock_of("MUG-330", SHOWROOM_WAREHOUSE)
            .unwrap()
            .reserved,
        dec!(2)
    );
}

#[tokio::test]
async fn bad_orders_are_parked_with_their_reason_and_nothing_reaches_the_erp() {
    let mut flows = all_flows();
    flows.insert(
        "orders".into(),
        flow("shop", "erp", json!({ "currencies": ["PLN"] })),
    );
    let world = World::with(flows, demo_mappings()).await;
    let no_address = world.place(81, |o| {
        o.shipping_address = None;
        o.delivery = DeliveryMethod::Shipping {
            method: "courier".into(),
            carrier: None,
        };
    });
    let negative = world.place(82, |o| o.lines[0].quantity = dec!(-1));
    let euro = world.place(83, |o| {
        o.currency = Currency::EUR;
        for line in &mut o.lines {
            line.unit_price.currency = Currency::EUR;
            line.discount.currency = Currency::EUR;
        }
        if let Some(s) = &mut o.shipping {
            s.amount.currency = Currency::EUR;
        }
        o.payments.clear();
        o.totals = o.computed_totals().unwrap();
    });
    let mixed = world.place(84, |o| o.lines[0].unit_price.currency = Currency::EUR);
    world.run(&["orders"]).await;

    let parked = world.parked().await;
    let reason = |number: &str| {
        let order = [&no_address, &negative, &euro, &mixed]
            .into_iter()
            .find(|o| o.number == number)
            .unwrap();
        parked
            .iter()
            .find(|j| j.payload["order_id"] == order.id)
            .map(|j| {
                (
                    j.last_error().unwrap().code.clone(),
                    j.last_error().unwrap().message.clone(),
                )
            })
            .unwrap()
    };
    let (code, message) = reason(&no_address.number);
    assert_eq!(code, "invalid_order");
    assert!(message.contains("shipping_address"), "{message}");
    let (code, message) = reason(&negative.number);
    assert!(
        code == "invalid_order" && message.contains("lines[0].quantity"),
        "{message}"
    );
    let (code, message) = reason(&euro.number);
    assert!(
        code == "currency_mismatch" && message.contains("EUR"),
        "{message}"
    );
    let (code, message) = reason(&mixed.number);
    assert!(
        code == "invalid_order" && message.contains("lines[0].unit_price.currency"),
        "{message}"
    );
    assert!(world.erp.sales().is_empty(), "nothing half-created");
    assert!(world.erp.customers().is_empty());

    // The shop corrects the address; a retry imports it.
    let mut fixed = world.shop.order(&no_address.id).unwrap();
    fixed.shipping_address = fixed.billing_address.clone();
    world.shop.update_order(fixed).unwrap();
    let job = parked
        .iter()
        .find(|j| j.payload["order_id"] == no_address.id)
        .unwrap();
    world.store.retry_job(job.id, None).await.unwrap();
    world.settle().await;
    assert_eq!(world.erp.sales_for(&no_address.number).len(), 1);
}

/// Three lines of 10.01 net at 23 %: rounded per line the tax is 3 × 2.30 = 6.90 and
/// the total 36.93; rounded per document it is 30.03 × 23 % = 6.91, total 36.94.
fn net_priced(o: &mut kontor_model::Order) {
    o.prices_include_tax = false;
    o.shipping = None;
    o.delivery = DeliveryMethod::StorePickup {
        location: SHOWROOM_WAREHOUSE.into(),
    };
    o.shipping_address = None;
    o.payments.clear();
    let template = o.lines[0].clone();
    o.lines = ["MUG-330", "MUG-450", "SOCK-39"]
        .iter()
        .enumerate()
        .map(|(i, sku)| kontor_model::OrderLine {
            id: (i + 1).to_string(),
            sku: (*sku).into(),
            quantity: Decimal::ONE,
            unit_price: pln(dec!(10.01)),
            discount: pln(Decimal::ZERO),
            tax_rate: TaxRate(dec!(23)),
            ..template.clone()
        })
        .collect();
}

fn rounding_product() -> Product {
    Product {
        code: "ROUNDING".into(),
        name: LocalizedText::new("pl", "Zaokrąglenie"),
        description: LocalizedText::default(),
        categories: vec![],
        tags: vec!["service".into()],
        attributes: BTreeMap::new(),
        options: vec![],
        images: vec![],
        attachments: vec![],
        variants: vec![Variant {
            sku: "ROUNDING".into(),
            ean: None,
            options: BTreeMap::new(),
            name: None,
            images: vec![],
            weight_kg: None,
        }],
        tax_rate: Some(TaxRate::ZERO),
        status: ProductStatus::Draft,
        updated_at: None,
    }
}

#[tokio::test]
async fn a_total_the_erp_would_get_wrong_parks_before_anything_is_created_and_a_rounding_line_fixes_it()
 {
    let mut world = World::with(all_flows(), demo_mappings()).await;
    world.erp.put_product(rounding_product()).unwrap();
    // This shop rounds tax per line: the customer paid 36.93.
    let order = world.place(91, |o| {
        net_priced(o);
        o.totals = kontor_model::OrderTotals {
            total: pln(dec!(36.93)),
            tax: pln(dec!(6.90)),
        };
    });
    world.run(&["orders"]).await;
    let parked = world.parked().await;
    assert_eq!(parked.len(), 1);
    let error = parked[0].last_error().unwrap();
    assert_eq!(error.code, "total_mismatch");
    assert!(
        error.message.contains("totals 36.94 PLN") && error.message.contains("difference 0.01 PLN"),
        "{}",
        error.message
    );
    let diff = error.details.as_ref().unwrap();
    assert_eq!(diff["order_total"]["amount"], "36.93");
    assert_eq!(
        diff["lines"].as_array().unwrap().len(),
        3,
        "line by line: {diff}"
    );
    assert!(
        world.erp.sales().is_empty(),
        "no wrong document was created"
    );

    // The merchant accepts a cent, booked on a rounding line.
    let mut flows = all_flows();
    flows.insert(
        "orders".into(),
        flow(
            "shop",
            "erp",
            json!({ "tolerance": "0.01", "adjustment_sku": "ROUNDING" }),
        ),
    );
    world.configure(flows, demo_mappings());
    world.store.retry_job(parked[0].id, None).await.unwrap();
    world.settle().await;
    world.assert_nothing_parked().await;
    let sale = world.sale_of(&order);
    assert_eq!(
        sale.total,
        pln(dec!(36.93)),
        "the document totals what the customer paid"
    );
    assert!(
        sale.lines
            .iter()
            .any(|l| l.sku == "ROUNDING" && l.total == pln(dec!(-0.01)))
    );
}

#[tokio::test]
async fn an_erp_that_totals_differently_has_its_document_parked_with_the_difference() {
    let mut world = World::with(all_flows(), demo_mappings()).await;
    world.erp.set_knobs(Knobs {
        tax_rounding: TaxRounding::Line,
        ..Knobs::default()
    });
    // This shop rounds per document (36.94); the ERP rounds per line (36.93).
    let order = world.place(92, |o| {
        net_priced(o);
        o.totals = o.computed_totals().unwrap();
    });
    assert_eq!(order.totals.total, pln(dec!(36.94)));
    world.run(&["orders"]).await;
    let parked = world.parked().await;
    assert_eq!(parked.len(), 1);
    let error = parked[0].last_error().unwrap();
    assert_eq!(error.code, "total_mismatch");
    assert_eq!(
        error.details.as_ref().unwrap()["erp_total"]["amount"],
        "36.93"
    );
    assert_eq!(
        world.erp.sales_for(&order.number).len(),
        1,
        "the document exists; it is not linked"
    );

    // Accepting the cent links the existing document; nothing is created twice.
    let mut flows = all_flows();
    flows.insert(
        "orders".into(),
        flow("shop", "erp", json!({ "tolerance": "0.01" })),
    );
    world.configure(flows, demo_mappings());
    world.store.retry_job(parked[0].id, None).await.unwrap();
    world.settle().await;
    world.assert_nothing_parked().await;
    assert_eq!(world.erp.sales_for(&order.number).len(), 1);
    let done = world
        .store
        .get_job(parked[0].id, None)
        .await
        .unwrap()
        .unwrap();
    assert!(done.outcome.unwrap().contains("linked"));
}

#[tokio::test]
async fn dry_runs_of_every_flow_change_nothing() {
    let world = World::with(all_flows(), b2b_mappings()).await;
    world
        .erp
        .put_customer(business("K-100", "zakupy@hotel.pl", "HURT"))
        .unwrap();
    world.place_orders(2, 95);
    for built in &world.flows {
        let plan = built.flow.plan(&world.store, 50).await.unwrap();
        let name = &built.flow.context().name;
        if ["catalogue", "customers", "orders", "prices", "stock"].contains(&name.as_str()) {
            assert!(!plan.changes.is_empty(), "{name} has something to plan");
        }
        assert!(
            plan.changes
                .iter()
                .all(|c| c.action != PlannedAction::Unchanged || !c.detail.is_empty())
        );
    }
    assert!(
        world.shop.products().is_empty()
            && world.shop.accounts().is_empty()
            && world.shop.shop_prices().is_empty()
    );
    assert!(world.erp.sales().is_empty() && world.erp.customers().len() == 1);
    assert!(
        world.jobs(&[]).await.is_empty(),
        "a dry run enqueues nothing"
    );
}

#[tokio::test]
async fn the_sales_report_adds_up_synced_orders_per_channel_day_and_product() {
    let world = World::with(all_flows(), demo_mappings()).await;
    let orders = world.place_orders(12, 101);
    world.run(&["orders"]).await;
    // A cancelled order does not count.
    let mut cancelled = world.shop.order(&orders[0].id).unwrap();
    cancelled.status = OrderStatus::Cancelled;
    world.shop.update_order(cancelled).unwrap();
    world.run(&["orders"]).await;

    let today = Utc::now().date_naive();
    let report =
        kontor_flows::reports::sales_report(&world.store, "acme", today - Duration::days(1), today)
            .await
            .unwrap();
    let counted = &orders[1..];
    let orders_in_report: u64 = report.by_day.iter().map(|r| r.orders).sum();
    assert_eq!(orders_in_report, counted.len() as u64);
    let gross: Decimal = report.by_day.iter().map(|r| r.gross).sum();
    assert_eq!(
        gross,
        counted
            .iter()
            .map(|o| o.totals.total.amount)
            .sum::<Decimal>()
    );
    assert!(
        report
            .by_day
            .iter()
            .all(|r| r.channel == "shop" && r.currency == Currency::PLN)
    );
    let units: Decimal = report.by_product.iter().map(|p| p.units).sum();
    assert_eq!(
        units,
        counted
            .iter()
            .flat_map(|o| &o.lines)
            .map(|l| l.quantity)
            .sum::<Decimal>()
    );
    assert_eq!(report.totals.len(), 1);
    let nothing = kontor_flows::reports::sales_report(
        &world.store,
        "acme",
        today - Duration::days(30),
        today - Duration::days(2),
    )
    .await
    .unwrap();
    assert!(nothing.by_day.is_empty());
}

#[tokio::test]
async fn go_live_binding_matches_existing_records_reports_the_rest_and_writes_only_when_accepted() {
    use kontor_connector::{AccountSink, AccountUpsert, CatalogueSink, ProductUpsert};
    let world = World::with(all_flows(), b2b_mappings()).await;
    // The shop already sells two of the ERP's products, one of them twice over, and one
    // product the ERP does not have.
    let mug = world.erp.product_by_sku("MUG-330").unwrap();
    let bag = world.erp.product_by_sku("BAG-BLK").unwrap();
    let mut mug_copy = mug.clone();
    mug_copy.code = "MUG-COPY".into();
    mug_copy.variants.retain(|v| v.sku == "MUG-450");
    let mut legacy = mug.clone();
    legacy.code = "LEGACY".into();
    legacy.variants = vec![Variant {
        sku: "LEGACY-1".into(),
        ..mug.variants[0].clone()
    }];
    for product in [bag.clone(), mug, legacy] {
        world
            .shop
            .upsert_products(&[ProductUpsert {
                product,
                product_id: None,
            }])
            .await
            .unwrap();
    }
    // MUG-450 now lives in two shop products: the shop's own duplicate.
    world.shop.put_product(mug_copy).unwrap();
    // Customers: one matches by e-mail; one has no account yet.
    world
        .erp
        .put_customer(business("K-100", "zakupy@hotel.pl", "HURT"))
        .unwrap();
    world
        .erp
        .put_customer(business("K-200", "biuro@kawiarnia.pl", "HURT"))
        .unwrap();
    world
        .shop
        .upsert_accounts(&[AccountUpsert {
            customer: business("W-1", "zakupy@hotel.pl", "b2b"),
            account_id: None,
        }])
        .await
        .unwrap();

    let catalogue = world
        .flow("catalogue")
        .flow
        .bind(&world.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(catalogue.matched.len(), 1, "{catalogue:#?}");
    assert_eq!(catalogue.matched[0].record, "product BAG");
    assert_eq!(catalogue.ambiguous.len(), 1);
    assert_eq!(catalogue.ambiguous[0].record, "product MUG");
    assert!(
        catalogue.ambiguous[0].why.contains("several products"),
        "{:?}",
        catalogue.ambiguous[0]
    );
    assert_eq!(catalogue.only_in_target, vec!["product LEGACY".to_owned()]);
    assert_eq!(
        catalogue.only_in_source.len(),
        world.erp.products().len() - 2
    );
    let customers = world
        .flow("customers")
        .flow
        .bind(&world.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (customers.matched.len(), customers.only_in_source.len()),
        (1, 1)
    );
    assert_eq!(customers.matched[0].note.as_deref(), Some("by e-mail"));
    assert!(
        world
            .store
            .link_by_entity("acme", kontor_flows::kinds::PRODUCT, "shop", "BAG")
            .await
            .unwrap()
            .is_none(),
        "a report writes nothing"
    );

    // The operator accepts: the links are written, and the first sync updates the
    // matched records instead of creating them again.
    for link in catalogue.links.iter().chain(&customers.links) {
        world.store.upsert_link(link).await.unwrap();
    }
    let shop_products_before = world.shop.products().len();
    world.run(&["catalogue", "customers"]).await;
    let created = world.erp.products().len() - 2; // all but BAG (bound) and MUG (ambiguous, left for a person)
    assert_eq!(world.shop.products().len(), shop_products_before + created);
    assert_eq!(
        world.shop.accounts().len(),
        2,
        "the bound account was updated, the other created"
    );
    let again = world
        .flow("catalogue")
        .flow
        .bind(&world.store)
        .await
        .unwrap()
        .unwrap();
    assert!(again.already_linked >= 1);
}

#[tokio::test]
async fn archived_products_follow_the_policy_and_planned_deliveries_reach_the_shop() {
    let mut world = World::with(all_flows(), demo_mappings()).await;
    world.run(&["catalogue", "stock"]).await;
    let incoming = world
        .erp
        .stock()
        .into_iter()
        .find(|l| l.warehouse == WEB_WAREHOUSE && !l.incoming.is_empty())
        .expect("the demo has a delivery on its way");
    let shown = world.shop.stock_of(&incoming.sku, "default").unwrap();
    assert_eq!(
        shown.incoming, incoming.incoming,
        "planned availability is shown"
    );

    let mut mug = world.erp.product_by_sku("MUG-330").unwrap();
    mug.status = ProductStatus::Archived;
    world.erp.put_product(mug.clone()).unwrap();
    world.run(&["catalogue"]).await;
    assert_eq!(
        world.shop.product_by_sku("MUG-330").unwrap().status,
        ProductStatus::Archived
    );

    // With `archived = "ignore"` the shop's product is left as it is.
    let mut flows = all_flows();
    flows.insert(
        "catalogue".into(),
        flow("erp", "shop", json!({ "archived": "ignore" })),
    );
    world.configure(flows, demo_mappings());
    let mut bag = world.erp.product_by_sku("BAG-BLK").unwrap();
    bag.status = ProductStatus::Archived;
    world.erp.put_product(bag).unwrap();
    world.run(&["catalogue"]).await;
    assert_eq!(
        world.shop.product_by_sku("BAG-BLK").unwrap().status,
        ProductStatus::Active
    );
    world.assert_nothing_parked().await;
}

#[tokio::test]
async fn consumer_orders_go_to_the_web_sales_account_and_unpaid_ones_wait_unless_exempt() {
    let mut flows = all_flows();
    flows.insert(
        "orders".into(),
        flow(
            "shop",
            "erp",
            json!({
                "b2c_customer": "WEB-SALES",
                "import_when": "paid",
                "unpaid_methods": ["cash_on_delivery"],
            }),
        ),
    );
    let world = World::with(flows, demo_mappings()).await;
    let mut web_sales = business("WEB-SALES", "sklep@example.com", "DETAL");
    web_sales.kind = CustomerKind::Person;
    let web_sales_id = world.erp.put_customer(web_sales).unwrap();
    let consumer = world.place(111, |o| {
        o.customer.company = None;
        o.customer.vat_id = None;
        o.requested_document = kontor_model::RequestedDocument::Receipt;
        o.discounts.push(kontor_model::Discount {
            code: Some("WITAJ10".into()),
            description: "Welcome voucher".into(),
            amount: pln(dec!(10)),
            tax_rate: TaxRate(dec!(23)),
        });
        o.totals = o.computed_totals().unwrap();
        o.payments
            .iter_mut()
            .for_each(|p| p.amount = o.totals.total);
    });
    let company = world.place(112, |o| {
        o.customer.company = Some("Hotel Wisła Sp. z o.o.".into());
        o.customer.vat_id = Some(VatId::new("PL6762468118").unwrap());
        o.payment_state = PaymentState::Paid;
    });
    let unpaid_transfer = world.place(113, |o| {
        o.payment_state = PaymentState::Pending;
        o.payment_method = Some("bank_transfer".into());
        o.payments.clear();
    });
    let cash_on_delivery = world.place(114, |o| {
        o.payment_state = PaymentState::Pending;
        o.payment_method = Some("cash_on_delivery".into());
        o.payments.clear();
    });
    world.run(&["orders"]).await;
    world.assert_nothing_parked().await;

    let sale = world.sale_of(&consumer);
    assert_eq!(
        world.erp.sale_draft(&sale.id).unwrap().customer_id,
        web_sales_id,
        "booked to the web-sales account"
    );
    assert_eq!(
        sale.total, consumer.totals.total,
        "the voucher is on the document"
    );
    assert!(
        world
            .erp
            .sale_draft(&sale.id)
            .unwrap()
            .lines
            .iter()
            .any(|l| l.sku == "discount:WITAJ10")
    );
    let company_sale = world.sale_of(&company);
    assert_ne!(
        world.erp.sale_draft(&company_sale.id).unwrap().customer_id,
        web_sales_id,
        "businesses get their own"
    );
    assert!(
        world.erp.sales_for(&unpaid_transfer.number).is_empty(),
        "waits for the transfer"
    );
    world.sale_of(&cash_on_delivery);

    // Paid later: imported on its next change.
    let mut paid = world.shop.order(&unpaid_transfer.id).unwrap();
    paid.payment_state = PaymentState::Paid;
    world.shop.update_order(paid).unwrap();
    world.run(&["orders"]).await;
    world.sale_of(&unpaid_transfer);
}

#[tokio::test]
async fn a_payment_seen_before_its_order_never_holds_the_order_back() {
    let world = World::with(all_flows(), demo_mappings()).await;
    let order = world.place(121, |o| {
        o.payment_state = PaymentState::Paid;
        o.payment_method = Some("card".into());
        o.payments = vec![kontor_model::Payment {
            order_number: String::new(),
            kind: kontor_model::PaymentKind::Capture,
            amount: o.totals.total,
            method: "card".into(),
            transaction_id: "txn_early".into(),
            at: Utc::now(),
        }];
    });
    // The payments flow sees the order first; its job waits for the import, and the
    // import — enqueued later — must not wait behind it.
    world.start("payments").await;
    world
        .settle_until(|jobs| {
            jobs.iter()
                .any(|j| j.kind == "payments.record" && j.attempts >= 1)
        })
        .await;
    world.run(&["orders"]).await;
    assert_eq!(
        world.erp.sales_for(&order.number).len(),
        1,
        "the import was not held back"
    );
    world.settle().await;
    let sale = world.sale_of(&order);
    let jobs = world.jobs(&[]).await;
    let payment_jobs: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == "payments.record")
        .map(|j| (j.state, j.attempts, j.outcome.clone()))
        .collect();
    assert_eq!(
        world.erp.payments_of_sale(&sale.id).len(),
        1,
        "and the payment followed it: {payment_jobs:?} {:?}",
        order.payments
    );
    world.assert_nothing_parked().await;
}
