//! The flows between a real Vendure 3.7 shop and an ERP — the memory ERP, and a real
//! Tryton 8.2 — through the real queue and runner: the catalogue, prices and stock reach
//! Vendure (page after page); an order placed through Vendure's Shop API reaches the ERP
//! exactly once; a shipment's tracking number comes back as a Vendure fulfilment; a
//! price changed in the ERP shows in Vendure after the next sync.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kontor_connector::{Connector, Secret};
use kontor_connectors::tryton::{TrytonConfig, TrytonConnector, TrytonSystem};
use kontor_connectors::vendure::{ImagePolicy, VendureConfig, VendureConnector, VendureSystem};
use kontor_flows::{FlowConfig, Mappings};
use kontor_model::{Money, PriceScope};
use kontor_testkit::{Checkout, TrytonServer, VendureServer, tryton, vendure};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::{World, flow, trade_customer};

fn vendure_connector(server: &VendureServer) -> Arc<dyn Connector> {
    let config = VendureConfig {
        url: format!("{}/admin-api", server.url()),
        username: vendure::USERNAME.into(),
        password: Secret::Value(vendure::PASSWORD.into()),
        channel_token: None,
        language: "en".into(),
        stock_locations: BTreeMap::from([
            ("MAIN".into(), "Default Stock Location".into()),
            ("WH".into(), "Default Stock Location".into()),
        ]),
        // The demo's images live on a CDN this machine cannot reach.
        images: ImagePolicy::Skip,
        webhook_secret: None,
        timeout: Duration::from_secs(30),
        poll_lag: Duration::ZERO,
        recheck_every: Duration::from_secs(900),
        recheck_window: Duration::from_secs(14 * 24 * 3600),
    };
    Arc::new(VendureConnector {
        system: VendureSystem::new(config, vendure::PASSWORD.into(), None).unwrap(),
    })
}

fn admin(server: &VendureServer, query: &str, variables: Value) -> Value {
    server
        .admin()
        .and_then(|mut admin| admin.query(query, variables))
        .unwrap_or_else(|e| panic!("admin query failed: {e}"))
}

fn variant(server: &VendureServer, sku: &str) -> Value {
    admin(
        server,
        "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) { items {
            id enabled price priceWithTax stockLevels { stockLocation { name } stockOnHand } } } }",
        json!({"sku": sku}),
    )["productVariants"]["items"][0]
        .clone()
}

fn order_id(server: &VendureServer, code: &str) -> String {
    server.order_id(code).unwrap()
}

fn start_vendure() -> VendureServer {
    VendureServer::start().unwrap_or_else(|e| panic!("cannot start Vendure: {e}"))
}

#[tokio::test]
async fn a_memory_erp_fills_vendure_and_vendure_orders_reach_it_once() {
    let server = start_vendure();
    // The demo ERP keeps gross prices, as Polish B2C merchants do: so does this channel.
    let channel = admin(&server, "{ activeChannel { id } }", json!({}));
    admin(
        &server,
        "mutation($id: ID!) { updateChannel(input: {id: $id, pricesIncludeTax: true}) { ... on Channel { id } } }",
        json!({"id": channel["activeChannel"]["id"]}),
    );
    // Small pages, so every read goes past its first page.
    let flows = BTreeMap::from([
        (
            "catalogue".to_owned(),
            flow("erp", "shop", json!({"page_size": 3})),
        ),
        ("customers".to_owned(), flow("erp", "shop", json!(null))),
        (
            "prices".to_owned(),
            flow("erp", "shop", json!({"page_size": 4})),
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
    ]);
    let mappings = Mappings {
        warehouses: BTreeMap::from([("MAIN".to_owned(), "MAIN".to_owned())]),
        ..Mappings::default()
    };
    let world = World::with_shop(vendure_connector(&server), None, flows, mappings).await;
    world.erp.put_customer(trade_customer()).unwrap();
    world
        .run(&["catalogue", "prices", "stock", "customers"])
        .await;
    world.assert_nothing_parked().await;

    // The ERP's trade customer has an account in Vendure, in its group.
    let accounts = admin(
        &server,
        "{ customers(options: {filter: {emailAddress: {eq: \"zakupy@hotel.example\"}}}) { items { lastName groups { name } } } }",
        json!({}),
    );
    assert_eq!(
        accounts["customers"]["items"],
        json!([{"lastName": "Hotel Gdańsk", "groups": [{"name": "Hurt"}]}])
    );

    // Every ERP product is in Vendure, each variant priced as in the ERP and stocked.
    let products = admin(&server, "{ products { totalItems } }", json!({}));
    assert_eq!(
        products["products"]["totalItems"],
        world.erp.products().len()
    );
    let base: BTreeMap<String, Money> = world
        .erp
        .prices()
        .into_iter()
        .filter(|p| p.scope == PriceScope::Base)
        .map(|p| (p.sku, p.amount))
        .collect();
    for (sku, price) in &base {
        let found = variant(&server, sku);
        assert_eq!(found["enabled"], true, "{sku}");
        assert_eq!(
            found["priceWithTax"].as_i64().map(|p| Decimal::new(p, 2)),
            Some(price.amount),
            "{sku}"
        );
    }
    let in_stock = world
        .erp
        .stock()
        .into_iter()
        .find(|l| l.warehouse == "MAIN" && l.available(Decimal::ZERO) >= Decimal::from(3))
        .unwrap();
    let shown = variant(&server, &in_stock.sku)["stockLevels"][0]["stockOnHand"].clone();
    assert_eq!(
        Decimal::from(shown.as_i64().unwrap()),
        in_stock.available(Decimal::ZERO)
    );

    // Three shoppers order; each order becomes one sale, however often the flows run.
    let codes: Vec<String> = (0..3)
        .map(|_| {
            server
                .place_order(&[(in_stock.sku.as_str(), 1)], &Checkout::default())
                .unwrap()
        })
        .collect();
    world.run(&["orders", "payments"]).await;
    world.run(&["orders", "payments"]).await;
    world.assert_nothing_parked().await;
    for code in &codes {
        let sales = world.erp.sales_for(code);
        assert_eq!(sales.len(), 1, "order {code} must be in the ERP once");
    }

    // The warehouse ships the first; Vendure gets a shipped fulfilment with the tracking.
    let sale = world.erp.sales_for(&codes[0]).remove(0);
    world.erp.ship(&sale.id, None, "DPD", "DPD-777").unwrap();
    world.run(&["shipments"]).await;
    world.run(&["shipments"]).await;
    world.assert_nothing_parked().await;
    let order = admin(
        &server,
        "query($id: ID!) { order(id: $id) { state fulfillments { trackingCode method } } }",
        json!({"id": order_id(&server, &codes[0])}),
    );
    assert_eq!(order["order"]["state"], "Shipped");
    assert_eq!(
        order["order"]["fulfillments"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(order["order"]["fulfillments"][0]["trackingCode"], "DPD-777");

    // The merchant refunds the second order in Vendure: one credit note in the ERP.
    let refunded = admin(
        &server,
        "query($id: ID!) { order(id: $id) { lines { id } payments { id amount } } }",
        json!({"id": order_id(&server, &codes[1])}),
    );
    let refund = admin(
        &server,
        "mutation($input: RefundOrderInput!) { refundOrder(input: $input) { ... on Refund { id } } }",
        json!({"input": {"lines": [{"orderLineId": refunded["order"]["lines"][0]["id"], "quantity": 1}],
                         "shipping": 0, "adjustment": 0, "reason": "Changed my mind",
                         "amount": refunded["order"]["payments"][0]["amount"],
                         "paymentId": refunded["order"]["payments"][0]["id"]}}),
    );
    admin(
        &server,
        "mutation($id: ID!) { settleRefund(input: {id: $id, transactionId: \"bank-1\"}) { ... on Refund { id } } }",
        json!({"id": refund["refundOrder"]["id"]}),
    );
    world.run(&["returns"]).await;
    world.run(&["returns"]).await;
    world.assert_nothing_parked().await;
    let credit_notes = world.erp.return_documents();
    assert_eq!(credit_notes.len(), 1, "{credit_notes:?}");

    // A price changed in the ERP shows in Vendure after the next run.
    let (sku, old) = base.iter().next().unwrap();
    let mut changed = world
        .erp
        .prices()
        .into_iter()
        .find(|p| &p.sku == sku && p.scope == PriceScope::Base)
        .unwrap();
    changed.amount = Money::new(old.amount + Decimal::from(10), old.currency);
    world.erp.put_price(changed).unwrap();
    world.run(&["prices"]).await;
    assert_eq!(
        variant(&server, sku)["priceWithTax"]
            .as_i64()
            .map(|p| Decimal::new(p, 2)),
        Some(old.amount + Decimal::from(10))
    );
}

fn tryton_connector(server: &TrytonServer) -> (Arc<dyn Connector>, TrytonSystem) {
    let config = TrytonConfig {
        url: server.url(),
        database: tryton::DATABASE.into(),
        username: tryton::USERNAME.into(),
        password: Secret::Value(tryton::PASSWORD.into()),
        timeout: Duration::from_secs(60),
        warehouses: vec!["WH".into()],
        languages: vec!["en".into()],
        payment_method: Some("Card".into()),
        payment_term: None,
        tracking_field: "reference".into(),
        carrier: None,
        poll_lag: Duration::ZERO,
    };
    let system = TrytonSystem::new(config, tryton::PASSWORD.into()).unwrap();
    (
        Arc::new(TrytonConnector {
            system: system.clone(),
        }),
        system,
    )
}

fn tryton_vendure_flows() -> BTreeMap<String, FlowConfig> {
    BTreeMap::from([
        ("catalogue".to_owned(), flow("erp", "shop", json!(null))),
        // Vendure has one price per variant: Tryton's price lists stay in Tryton.
        (
            "prices".to_owned(),
            flow("erp", "shop", json!({"scopes": ["base"]})),
        ),
        ("stock".to_owned(), flow("erp", "shop", json!(null))),
        // Tryton cannot reach some totals to the cent (net prices, rounded lines).
        (
            "orders".to_owned(),
            flow("shop", "erp", json!({"tolerance": "0.01"})),
        ),
        ("payments".to_owned(), flow("shop", "erp", json!(null))),
        ("shipments".to_owned(), flow("erp", "shop", json!(null))),
    ])
}

#[tokio::test]
async fn tryton_and_vendure_end_to_end() {
    let tryton_server =
        TrytonServer::start().unwrap_or_else(|e| panic!("cannot start Tryton: {e}"));
    let server = start_vendure();
    let (erp_connector, erp) = tryton_connector(&tryton_server);
    let mappings = Mappings {
        warehouses: BTreeMap::from([("WH".to_owned(), "WH".to_owned())]),
        shipping_methods: BTreeMap::from([("courier".to_owned(), "SHIP-COURIER".to_owned())]),
        payment_methods: BTreeMap::from([("card".to_owned(), "Card".to_owned())]),
        ..Mappings::default()
    };
    let world = World::with_shop(
        vendure_connector(&server),
        Some(erp_connector),
        tryton_vendure_flows(),
        mappings,
    )
    .await;
    world.run(&["catalogue", "prices", "stock"]).await;
    world.assert_nothing_parked().await;

    // Tryton's mug, at its net list price, with its stock in the warehouse.
    let mug = variant(&server, "MUG-330");
    assert_eq!(mug["enabled"], true, "{mug}");
    assert!(mug["price"].as_i64().unwrap() > 0, "{mug}");
    assert!(
        mug["stockLevels"][0]["stockOnHand"].as_i64().unwrap() > 0,
        "{mug}"
    );

    // A shopper buys two mugs; Tryton gets one confirmed sale, paid once.
    let code = server
        .place_order(&[("MUG-330", 2)], &Checkout::default())
        .unwrap();
    world.run(&["orders", "payments"]).await;
    world.run(&["orders", "payments"]).await;
    world.assert_nothing_parked().await;
    let sale = kontor_connector::SalesSink::find_sale(&erp, &code)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no sale for {code}"));
    let order = kontor_connector::OrderSource::get_order(
        &*vendure_connector(&server).order_source().unwrap(),
        &order_id(&server, &code),
    )
    .await
    .unwrap();
    assert_eq!(
        sale.total, order.totals.total,
        "the sale's total is what was paid"
    );
    let payments = kontor_connector::PaymentSink::payments_of(&erp, &sale.id)
        .await
        .unwrap();
    assert_eq!(payments.len(), 1, "paid once in Tryton: {payments:?}");

    // Tryton's warehouse ships it with a tracking number; Vendure's order is shipped.
    tryton_server
        .admin()
        .unwrap()
        .ship_sale(sale.id.parse().unwrap(), "INPOST-42")
        .unwrap();
    world.run(&["shipments"]).await;
    world.assert_nothing_parked().await;
    let shipped = admin(
        &server,
        "query($id: ID!) { order(id: $id) { state fulfillments { trackingCode } } }",
        json!({"id": order_id(&server, &code)}),
    );
    assert_eq!(shipped["order"]["state"], "Shipped");
    assert_eq!(
        shipped["order"]["fulfillments"][0]["trackingCode"],
        "INPOST-42"
    );
}
