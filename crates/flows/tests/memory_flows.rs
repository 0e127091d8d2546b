#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Flows end to end on the memory shop and ERP, through the real queue and runner.

mod support;

use std::collections::HashSet;

use kontor_connectors::memory::WEB_WAREHOUSE;
use kontor_engine::{EnqueueOutcome, JobFilter, JobState};
use kontor_flows::{PlannedAction, kinds};
use kontor_model::OrderStatus;
use rust_decimal::Decimal;
use serde_json::json;
use support::{World, demo_mappings, three_flows};

#[tokio::test]
async fn every_order_reaches_the_erp_once_with_its_customer_created_once() {
    let world = World::new().await;
    let mut orders = world.place_orders(30, 11);
    // Two orders from the same shopper.
    let mut again = orders[0].clone();
    again.id = String::new();
    again.number = String::new();
    orders.push(world.shop.place_order(again).unwrap());
    world.start("orders").await;
    world.settle().await;

    assert!(
        world.jobs(&[JobState::Parked]).await.is_empty(),
        "{:?}",
        world.jobs(&[JobState::Parked]).await
    );
    for order in &orders {
        let sales = world.erp.sales_for(&order.number);
        assert_eq!(
            sales.len(),
            1,
            "order {} must be in the ERP exactly once",
            order.number
        );
        assert_eq!(
            sales[0].total, order.totals.total,
            "ERP total of {}",
            order.number
        );
        let link = world
            .store
            .link_by_external("acme", kinds::ORDER, "shop", &order.id)
            .await
            .unwrap()
            .unwrap();
        let erp_link = world
            .store
            .link_by_entity("acme", kinds::ORDER, "erp", &link.entity_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(erp_link.external_id, sales[0].id);
    }
    let emails: Vec<_> = world
        .erp
        .customers()
        .into_iter()
        .filter_map(|c| c.email)
        .collect();
    let unique: HashSet<_> = emails.iter().collect();
    assert_eq!(
        emails.len(),
        unique.len(),
        "a shopper was created twice in the ERP"
    );

    // A second run finds nothing new to do.
    world.start("orders").await;
    world.settle().await;
    assert_eq!(world.erp.sales().len(), orders.len());
}

/// The link of a shop order's entity to its document in `erp`.
async fn erp_link_of(world: &World, order: &kontor_model::Order) -> kontor_engine::Link {
    let link = world
        .store
        .link_by_external("acme", kinds::ORDER, "shop", &order.id)
        .await
        .unwrap()
        .unwrap();
    world
        .store
        .link_by_entity("acme", kinds::ORDER, "erp", &link.entity_id)
        .await
        .unwrap()
        .unwrap()
}

/// Removes what Kontor recorded of an order's import (its links), as a crash between
/// the ERP's create and Kontor's commit leaves it, and asks for the import again.
async fn forget_import(world: &World, order: &kontor_model::Order) {
    let erp_link = erp_link_of(world, order).await;
    world
        .store
        .unlink("acme", kinds::ORDER, "erp", &erp_link.external_id)
        .await
        .unwrap();
    world
        .store
        .unlink("acme", kinds::ORDER, "shop", &order.id)
        .await
        .unwrap();
    world
        .store
        .enqueue(kontor_engine::NewJob::new(
            "acme",
            "orders.import",
            json!({"flow": "orders", "order_id": order.id}),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn of_a_cancelled_sale_and_its_hand_entered_replacement_the_live_one_counts() {
    let world = World::new().await;
    let order = world.place_orders(1, 4).remove(0);
    world.start("orders").await;
    world.settle().await;
    let first = world.sale_of(&order);
    // In the ERP, someone cancelled the sale and keyed it in again by hand.
    let draft = world.erp.sale_draft(&first.id).unwrap();
    world
        .erp
        .set_sale_status(&first.id, OrderStatus::Cancelled, "cancelled")
        .unwrap();
    let again = kontor_connector::SalesSink::create_sale(&world.erp, &draft)
        .await
        .unwrap();
    forget_import(&world, &order).await;
    world.settle().await;
    world.assert_nothing_parked().await;
    assert_eq!(world.erp.sales_for(&order.number).len(), 2, "none made");
    assert_eq!(
        erp_link_of(&world, &order).await.external_id,
        again.id,
        "linked to the live sale"
    );
}

#[tokio::test]
async fn a_crash_after_the_erp_created_the_sale_does_not_create_it_twice() {
    let world = World::new().await;
    let order = world.place_orders(1, 3).remove(0);
    world.start("orders").await;
    world.settle().await;
    assert_eq!(world.erp.sales_for(&order.number).len(), 1);
    // As if the process died after the ERP created the sale but before Kontor recorded
    // it: the links are gone; the ERP document is not.
    forget_import(&world, &order).await;
    world.settle().await;
    assert_eq!(
        world.erp.sales_for(&order.number).len(),
        1,
        "found by reference, not created again"
    );
    assert!(
        world
            .store
            .link_by_external("acme", kinds::ORDER, "shop", &order.id)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn an_unknown_sku_parks_the_order_by_name_and_a_mapping_fixes_it() {
    let mut world = World::new().await;
    let mut order = world.place_orders(1, 5).remove(0);
    order.lines[0].sku = "OLD-TSHIRT-M".into();
    world.shop.update_order(order.clone()).unwrap();
    world.start("orders").await;
    world.settle().await;

    let parked = world.jobs(&[JobState::Parked]).await;
    assert_eq!(parked.len(), 1);
    let error = parked[0].last_error().unwrap();
    assert_eq!(error.code, "unknown_sku");
    assert!(error.message.contains("OLD-TSHIRT-M"), "{}", error.message);
    assert!(world.erp.sales().is_empty(), "nothing half-created");

    let mut mappings = demo_mappings();
    mappings
        .sku
        .insert("OLD-TSHIRT-M".into(), "TSH-M-BLK".into());
    world.configure(three_flows(), mappings);
    world
        .store
        .retry_job(parked[0].id, Some("acme"))
        .await
        .unwrap();
    world.settle().await;
    let sales = world.erp.sales_for(&order.number);
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0].lines[0].sku, "TSH-M-BLK");
}

#[tokio::test]
async fn catalogue_and_stock_reach_the_shop_and_unchanged_records_are_not_sent_again() {
    let world = World::new().await;
    world.start("catalogue").await;
    world.settle().await;
    world.start("stock").await;
    world.settle().await;
    assert!(
        world.jobs(&[JobState::Parked]).await.is_empty(),
        "{:?}",
        world.jobs(&[JobState::Parked]).await
    );

    assert_eq!(world.shop.variant_count(), world.erp.variant_count());
    for level in world
        .erp
        .stock()
        .iter()
        .filter(|l| l.warehouse == WEB_WAREHOUSE)
    {
        let shop = world.shop.stock_of(&level.sku, "default").unwrap();
        assert_eq!(
            shop.on_hand,
            (level.on_hand - level.reserved).max(Decimal::ZERO),
            "{}",
            level.sku
        );
    }
    // Showroom stock is not mapped to a shop location: not sold online.
    assert!(world.shop.stock().iter().all(|l| l.warehouse == "default"));

    // Nothing changed: another full pass sends nothing.
    world.shop.reset_api_calls();
    for name in ["catalogue", "stock"] {
        world
            .flow(name)
            .flow
            .rewind(&world.store, kontor_flows::SyncStart::Beginning)
            .await
            .unwrap();
        world.start(name).await;
        world.settle().await;
    }
    let calls = world.shop.api_calls();
    assert_eq!(calls.get("products.batch"), None, "{calls:?}");
    assert_eq!(calls.get("stock.batch"), None, "{calls:?}");

    // One change: one product goes out.
    let mut mug = world.erp.product_by_sku("MUG-330").unwrap();
    mug.description = kontor_model::LocalizedText::new("pl", "Nowy opis");
    world.erp.put_product(mug).unwrap();
    world.start("catalogue").await;
    world.settle().await;
    assert_eq!(world.shop.api_calls().get("products.batch"), Some(&1));
    assert_eq!(
        world
            .shop
            .product_by_sku("MUG-330")
            .unwrap()
            .description
            .get("pl"),
        Some("Nowy opis")
    );
}

#[tokio::test]
async fn an_erp_outage_parks_nothing_and_loses_nothing() {
    let world = World::new().await;
    let orders = world.place_orders(10, 9);
    world.erp.set_down(true);
    world.start("orders").await;
    // Work runs while the ERP is down: every order's import is tried and fails on the
    // ERP, more than once, and none is parked for it.
    let tried_while_down = |jobs: &[kontor_engine::Job]| {
        let imports: Vec<_> = jobs.iter().filter(|j| j.kind == "orders.import").collect();
        imports.len() == orders.len()
            && imports.iter().all(|j| {
                j.attempts >= 2
                    && j.last_error()
                        .is_some_and(|e| e.message.contains("down (connection refused)"))
            })
    };
    world.settle_until(tried_while_down).await;
    assert!(
        tried_while_down(&world.jobs(&[]).await),
        "the imports never ran while the ERP was down"
    );
    assert!(world.erp.sales().is_empty());
    world.assert_nothing_parked().await;
    world.erp.set_down(false);
    world.settle().await;
    world.assert_nothing_parked().await;
    for order in &orders {
        assert_eq!(world.erp.sales_for(&order.number).len(), 1);
    }
}

#[tokio::test]
async fn a_dry_run_says_what_would_change_and_changes_nothing() {
    let world = World::new().await;
    world.place_orders(3, 2);
    let plan = world
        .flow("orders")
        .flow
        .plan(&world.store, 100)
        .await
        .unwrap();
    assert_eq!(plan.changes.len(), 3);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.action == PlannedAction::Create),
        "{plan:?}"
    );
    let catalogue = world
        .flow("catalogue")
        .flow
        .plan(&world.store, 100)
        .await
        .unwrap();
    assert!(
        catalogue
            .changes
            .iter()
            .all(|c| c.action == PlannedAction::Create)
    );
    assert!(world.erp.sales().is_empty());
    assert!(world.erp.customers().is_empty());
    assert!(world.shop.products().is_empty());
    assert!(
        world
            .store
            .cursor("acme", "orders", "shop")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn ten_orders_from_one_new_customer_at_once_create_them_once() {
    let world = World::new().await;
    let first = world.place_orders(1, 21).remove(0);
    for _ in 0..9 {
        let mut again = first.clone();
        again.id = String::new();
        again.number = String::new();
        world.shop.place_order(again).unwrap();
    }
    world.start("orders").await;
    world.settle().await;
    assert!(
        world.jobs(&[JobState::Parked]).await.is_empty(),
        "{:?}",
        world.jobs(&[JobState::Parked]).await
    );
    assert_eq!(world.erp.sales().len(), 10);
    assert_eq!(
        world.erp.customers().len(),
        1,
        "one shopper, one ERP customer"
    );
}

#[tokio::test]
async fn a_webhook_and_a_poll_seeing_one_order_do_the_work_once() {
    let world = World::new().await;
    let order = world.place_orders(1, 4).remove(0);
    let change = kontor_flows::Change {
        connection: "shop".into(),
        entity: kinds::ORDER.into(),
        external_id: order.id.clone(),
    };
    let jobs = world.flow("orders").flow.jobs_for(&change);
    assert_eq!(jobs.len(), 1);
    let first = world.store.enqueue(jobs[0].clone()).await.unwrap();
    assert!(matches!(first, EnqueueOutcome::Created(_)));
    // The shop sends the webhook again: it joins the job already waiting.
    let replay = world
        .store
        .enqueue(world.flow("orders").flow.jobs_for(&change)[0].clone())
        .await
        .unwrap();
    assert_eq!(replay, EnqueueOutcome::Deduplicated(first.job_id()));

    // The poll sees the same order; whichever import runs second finds it done.
    world.start("orders").await;
    world.settle().await;
    assert_eq!(world.erp.sales_for(&order.number).len(), 1);
    let imports = world
        .store
        .list_jobs(&JobFilter {
            kind: Some("orders.import".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let did_work: Vec<_> = imports
        .iter()
        .filter(|j| !j.outcome.as_deref().unwrap_or("").contains("already in"))
        .collect();
    assert_eq!(did_work.len(), 1, "{imports:?}");

    // Changes elsewhere start nothing in this flow.
    let other = kontor_flows::Change {
        connection: "erp".into(),
        ..change
    };
    assert!(world.flow("orders").flow.jobs_for(&other).is_empty());
}
