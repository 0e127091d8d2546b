//! The Vendure connector against a real Vendure 3.7 server, started by the test harness.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kontor_connector::{
    CatalogueSink, ConnectorError, FulfilmentSink, OrderSource, OrderStatusSink, PriceSink,
    PriceUpdate, ProductUpsert, Secret, StockSink, StockUpdate,
};
use kontor_connectors::vendure::{ImagePolicy, VendureConfig, VendureSystem};
use kontor_model::{
    LocalizedText, Money, OrderStatus, PaymentKind, PaymentState, Price, PriceKind, PriceScope,
    Product, ProductStatus, Shipment, ShipmentLine, TaxRate, Variant,
};
use kontor_testkit::{Checkout, HttpRelay, VendureServer, conformance, vendure};
use rust_decimal::{Decimal, dec};
use serde_json::{Value, json};

fn config(server: &VendureServer) -> VendureConfig {
    config_at(&server.url())
}

/// The connection to the Vendure at `base` (the server's, or a relay's in front of it).
fn config_at(base: &str) -> VendureConfig {
    VendureConfig {
        url: format!("{base}/admin-api"),
        username: vendure::USERNAME.into(),
        password: Secret::Value(vendure::PASSWORD.into()),
        channel_token: None,
        language: "en".into(),
        stock_locations: BTreeMap::from([("MAIN".into(), "Default Stock Location".into())]),
        images: ImagePolicy::Upload,
        webhook_secret: None,
        timeout: Duration::from_secs(30),
        poll_lag: Duration::ZERO,
        recheck_every: Duration::from_secs(900),
        recheck_window: Duration::from_secs(14 * 24 * 3600),
    }
}

fn connect(server: &VendureServer) -> VendureSystem {
    VendureSystem::new(config(server), vendure::PASSWORD.into(), None).expect("client")
}

fn start() -> VendureServer {
    VendureServer::start().unwrap_or_else(|e| panic!("cannot start Vendure: {e}"))
}

fn pln(amount: Decimal) -> Money {
    Money::new(amount, kontor_model::Currency::new("PLN").expect("PLN"))
}

fn tshirt(name: &str) -> Product {
    let variant = |size: &str| Variant {
        sku: format!("TSH-{size}"),
        ean: None,
        options: BTreeMap::from([("size".to_string(), size.to_string())]),
        name: None,
        images: vec![],
        weight_kg: None,
    };
    Product {
        code: "TSH".into(),
        name: LocalizedText::new("en", name),
        description: LocalizedText::new("en", "Organic cotton"),
        categories: vec![vec!["Clothing".into(), "Shirts".into()]],
        tags: vec![],
        attributes: BTreeMap::new(),
        options: vec!["size".into()],
        images: vec![],
        attachments: vec![],
        variants: vec![variant("S"), variant("M")],
        tax_rate: Some(TaxRate(dec!(23))),
        status: ProductStatus::Active,
        updated_at: None,
    }
}

fn mug() -> Product {
    Product {
        code: "MUG".into(),
        name: LocalizedText::new("en", "Mug"),
        options: vec![],
        categories: vec![],
        variants: vec![Variant {
            sku: "MUG".into(),
            ean: None,
            options: BTreeMap::new(),
            name: None,
            images: vec![],
            weight_kg: None,
        }],
        tax_rate: Some(TaxRate(dec!(8))),
        ..tshirt("Mug")
    }
}

fn base_price(sku: &str, amount: Decimal) -> PriceUpdate {
    PriceUpdate {
        price: Price {
            sku: sku.into(),
            amount: pln(amount),
            includes_tax: false,
            scope: PriceScope::Base,
            kind: PriceKind::Regular,
            min_quantity: Decimal::ONE,
            valid_from: None,
            valid_until: None,
        },
        variant_id: None,
        scope_id: None,
    }
}

fn stock(sku: &str, location: &str, available: Decimal) -> StockUpdate {
    StockUpdate {
        sku: sku.into(),
        variant_id: None,
        location: location.into(),
        available,
        incoming: None,
    }
}

fn admin_query(server: &VendureServer, query: &str, variables: Value) -> Value {
    server
        .admin()
        .and_then(|mut admin| admin.query(query, variables))
        .unwrap_or_else(|e| panic!("admin query failed: {e}"))
}

fn variant_in_vendure(server: &VendureServer, sku: &str) -> Value {
    admin_query(
        server,
        "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) { items {
            name enabled price priceWithTax taxCategory { name } options { code }
            stockLevels { stockLocation { name } stockOnHand stockAllocated }
            product { name slug description enabled optionGroups { code } facetValues { name facet { code } } } } } }",
        json!({"sku": sku}),
    )["productVariants"]["items"][0]
        .clone()
}

/// Catalogue, prices and stock as a shop would carry them, so that orders can be placed.
async fn stocked_shop(system: &VendureSystem) {
    let written = system
        .upsert_products(&[
            ProductUpsert {
                product: tshirt("T-shirt"),
                product_id: None,
            },
            ProductUpsert {
                product: mug(),
                product_id: None,
            },
        ])
        .await
        .expect("upsert");
    assert!(written.iter().all(Result::is_ok), "{written:?}");
    let prices = system
        .set_prices(&[
            base_price("TSH-S", dec!(50)),
            base_price("TSH-M", dec!(50)),
            base_price("MUG", dec!(20)),
        ])
        .await
        .expect("prices");
    assert!(prices.iter().all(Result::is_ok), "{prices:?}");
    let levels = system
        .set_stock(&[
            stock("TSH-S", "MAIN", dec!(10)),
            stock("TSH-M", "MAIN", dec!(10)),
            stock("MUG", "MAIN", dec!(10)),
        ])
        .await
        .expect("stock");
    assert!(levels.iter().all(Result::is_ok), "{levels:?}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_as_unauthorised() {
    let server = start();
    let system = VendureSystem::new(config(&server), "wrong".into(), None).expect("client");
    let refused = system.find_variants(&["X".into()]).await;
    assert!(
        matches!(refused, Err(ConnectorError::Unauthorized { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn products_are_upserted_by_sku_with_options_categories_tax_prices_and_stock() {
    let server = start();
    let system = connect(&server);
    let written = system
        .upsert_products(&[ProductUpsert {
            product: tshirt("T-shirt"),
            product_id: None,
        }])
        .await
        .expect("upsert")
        .remove(0)
        .expect("written");
    assert!(written.created);
    assert_eq!(written.variants.len(), 2);

    let small = variant_in_vendure(&server, "TSH-S");
    assert_eq!(small["name"], "T-shirt S");
    assert_eq!(small["taxCategory"]["name"], "Standard");
    assert_eq!(small["options"], json!([{"code": "s"}]));
    assert_eq!(
        small["product"]["facetValues"][0]["name"],
        "Clothing / Shirts"
    );
    // Not on sale until it has a price.
    assert_eq!(
        (small["enabled"].clone(), small["price"].clone()),
        (json!(false), json!(0))
    );

    // Written again with a new name and a new size: the same product, one more variant.
    let mut renamed = tshirt("Organic T-shirt");
    let mut large = renamed.variants[1].clone();
    large.sku = "TSH-L".into();
    large.options.insert("size".into(), "L".into());
    renamed.variants.push(large);
    let again = system
        .upsert_products(&[ProductUpsert {
            product: renamed,
            product_id: None,
        }])
        .await
        .expect("upsert")
        .remove(0)
        .expect("written");
    assert!(!again.created);
    assert_eq!(again.product_id, written.product_id);
    assert_eq!(again.variants.len(), 3);
    let products = admin_query(&server, "{ products { totalItems } }", json!({}));
    assert_eq!(products["products"]["totalItems"], 1);
    assert_eq!(
        variant_in_vendure(&server, "TSH-L")["options"],
        json!([{"code": "l"}])
    );
    assert_eq!(
        variant_in_vendure(&server, "TSH-S")["product"]["name"],
        "Organic T-shirt"
    );

    // Prices: net, in minor units; the first price puts a variant on sale.
    let priced = system
        .set_prices(&[
            base_price("TSH-S", dec!(49.99)),
            base_price("NOPE", dec!(1)),
            PriceUpdate {
                price: Price {
                    scope: PriceScope::PriceList("wholesale".into()),
                    ..base_price("TSH-S", dec!(40)).price
                },
                ..base_price("TSH-S", dec!(40))
            },
        ])
        .await
        .expect("prices");
    assert!(priced[0].is_ok());
    assert!(matches!(priced[1], Err(ConnectorError::NotFound { .. })));
    assert!(matches!(priced[2], Err(ConnectorError::Unsupported(_))));
    let small = variant_in_vendure(&server, "TSH-S");
    assert_eq!(
        (
            small["enabled"].clone(),
            small["price"].clone(),
            small["priceWithTax"].clone()
        ),
        (json!(true), json!(4999), json!(6149))
    );

    // Stock per location; unknown locations are refused by name.
    let levels = system
        .set_stock(&[
            stock("TSH-S", "MAIN", dec!(7)),
            stock("TSH-S", "Showroom", dec!(2.5)),
            stock("TSH-M", "Basement", dec!(1)),
        ])
        .await
        .expect("stock");
    assert!(levels[0].is_ok() && levels[1].is_ok());
    assert!(
        matches!(&levels[2], Err(ConnectorError::Rejected { message, .. }) if message.contains("Basement")),
        "{levels:?}"
    );
    let mut on_hand: Vec<(String, i64)> = variant_in_vendure(&server, "TSH-S")["stockLevels"]
        .as_array()
        .expect("levels")
        .iter()
        .map(|l| {
            (
                l["stockLocation"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                l["stockOnHand"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    on_hand.sort();
    assert_eq!(
        on_hand,
        [
            ("Default Stock Location".to_owned(), 7),
            ("Showroom".to_owned(), 2)
        ]
    );

    // Archiving takes the product off sale.
    let archived = system
        .archive_products(std::slice::from_ref(&written.product_id))
        .await
        .expect("archive");
    assert!(archived[0].is_ok());
    assert_eq!(
        variant_in_vendure(&server, "TSH-S")["product"]["enabled"],
        false
    );
}

#[tokio::test]
async fn orders_are_read_once_by_cursor_and_mapped_with_exact_totals() {
    let server = start();
    let system = connect(&server);
    stocked_shop(&system).await;
    let first = server
        .place_order(&[("TSH-S", 2), ("MUG", 1)], &Checkout::default())
        .expect("order placed");
    let mut codes = vec![first.clone()];
    for _ in 0..4 {
        codes.push(
            server
                .place_order(&[("MUG", 1)], &Checkout::default())
                .expect("order placed"),
        );
    }

    // Pages of two: five orders, in the order they were placed, none twice.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = system
            .orders_changed(cursor.as_deref(), 2)
            .await
            .expect("orders");
        seen.extend(page.items.iter().map(|o| o.number.clone()));
        cursor = page.cursor.or(cursor);
        if !page.more {
            break;
        }
    }
    assert_eq!(seen, codes);
    let after = system
        .orders_changed(cursor.as_deref(), 10)
        .await
        .expect("orders");
    assert!(after.items.is_empty(), "{:?}", after.items);

    let id = server.order_id(&first).expect("order id");
    let order = system.get_order(&id).await.expect("order");
    assert_eq!(order.number, first);
    assert!(!order.prices_include_tax);
    // 2 × 50.00 at 23 %, 1 × 20.00 at 8 %, courier 15.00 at 23 %.
    assert_eq!(order.totals.total, pln(dec!(163.05)));
    assert_eq!(order.totals.tax, pln(dec!(28.05)));
    assert_eq!(order.computed_totals().expect("computes"), order.totals);
    assert_eq!(order.lines.len(), 2);
    assert_eq!(
        order.shipping.as_ref().map(|s| s.tax_rate),
        Some(TaxRate(dec!(23)))
    );
    assert_eq!(
        (order.status, order.payment_state),
        (OrderStatus::Processing, PaymentState::Paid)
    );
    assert_eq!(order.payments.len(), 1);
    assert_eq!(order.payments[0].kind, PaymentKind::Capture);
    assert_eq!(order.payments[0].amount, pln(dec!(163.05)));
    assert_eq!(
        order.shipping_address.as_ref().map(|a| a.city.as_str()),
        Some("Gdańsk")
    );
    assert_eq!(
        order
            .customer
            .email
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("anna.nowak@example.com")
    );
    let missing = system.get_order("999999").await;
    assert!(
        matches!(missing, Err(ConnectorError::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn shipments_become_shipped_fulfilments_once_and_cancellation_cancels() {
    let server = start();
    let system = connect(&server);
    stocked_shop(&system).await;
    let code = server
        .place_order(&[("TSH-S", 2), ("MUG", 1)], &Checkout::default())
        .expect("order placed");
    let order_id = system
        .orders_changed(None, 10)
        .await
        .expect("orders")
        .items
        .into_iter()
        .find(|o| o.number == code)
        .expect("order listed")
        .id;
    let shipment = |reference: &str, lines: Vec<ShipmentLine>| Shipment {
        reference: reference.into(),
        order_number: code.clone(),
        carrier: Some("InPost".into()),
        tracking_number: Some(format!("TRACK-{reference}")),
        tracking_url: None,
        lines,
        warehouse: None,
        shipped_at: chrono::Utc::now(),
    };
    let part = shipment(
        "OUT/1",
        vec![ShipmentLine {
            sku: "TSH-S".into(),
            quantity: dec!(2),
        }],
    );
    let made = system
        .create_fulfilment(&order_id, &part, None)
        .await
        .expect("fulfilled");
    assert_eq!(made.reference, "OUT/1");
    let order = system.get_order(&order_id).await.expect("order");
    assert_eq!(order.status, OrderStatus::PartiallyShipped);
    // More than is left is refused, naming the SKU.
    let too_much = system
        .create_fulfilment(
            &order_id,
            &shipment(
                "OUT/2",
                vec![ShipmentLine {
                    sku: "TSH-S".into(),
                    quantity: dec!(1),
                }],
            ),
            None,
        )
        .await;
    assert!(
        matches!(&too_much, Err(ConnectorError::Rejected { message, .. }) if message.contains("TSH-S")),
        "{too_much:?}"
    );
    // The rest; then the order is shipped, with both tracking codes in Vendure.
    system
        .create_fulfilment(&order_id, &shipment("OUT/3", vec![]), None)
        .await
        .expect("fulfilled");
    let refs = system.fulfilments_of(&order_id).await.expect("fulfilments");
    let mut references: Vec<&str> = refs.iter().map(|f| f.reference.as_str()).collect();
    references.sort_unstable();
    assert_eq!(references, ["OUT/1", "OUT/3"]);
    let fulfilments = admin_query(
        &server,
        "query($id: ID!) { order(id: $id) { state fulfillments { trackingCode state } } }",
        json!({"id": order_id}),
    );
    assert_eq!(fulfilments["order"]["state"], "Shipped");
    let mut codes: Vec<String> = fulfilments["order"]["fulfillments"]
        .as_array()
        .expect("fulfilments")
        .iter()
        .map(|f| f["trackingCode"].as_str().unwrap_or_default().to_owned())
        .collect();
    codes.sort();
    assert_eq!(codes, ["TRACK-OUT/1", "TRACK-OUT/3"]);
    system
        .set_order_status(&order_id, OrderStatus::Delivered, None, None)
        .await
        .expect("delivered");
    assert_eq!(
        system.get_order(&order_id).await.expect("order").status,
        OrderStatus::Delivered
    );

    // Another order, cancelled: twice is the same as once.
    let other = server
        .place_order(&[("MUG", 1)], &Checkout::default())
        .expect("order placed");
    let other_id = server.order_id(&other).expect("order id");
    for _ in 0..2 {
        system
            .set_order_status(
                &other_id,
                OrderStatus::Cancelled,
                None,
                Some("Out of stock"),
            )
            .await
            .expect("cancelled");
    }
    assert_eq!(
        system.get_order(&other_id).await.expect("order").status,
        OrderStatus::Cancelled
    );
}

#[tokio::test]
async fn open_orders_are_read_again_to_notice_state_changes_without_webhooks() {
    let server = start();
    let mut settings = config(&server);
    settings.recheck_every = Duration::from_secs(1);
    let system = VendureSystem::new(settings, vendure::PASSWORD.into(), None).expect("client");
    stocked_shop(&system).await;
    server
        .place_order(&[("MUG", 1)], &Checkout::default())
        .expect("order placed");
    let first = system.orders_changed(None, 10).await.expect("orders");
    assert_eq!(first.items.len(), 1);
    // Right away, nothing: the re-read is not due.
    let quiet = system
        .orders_changed(first.cursor.as_deref(), 10)
        .await
        .expect("orders");
    assert!(quiet.items.is_empty());
    // Later, the open order comes round again, so a cancellation would be seen.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = system
        .orders_changed(quiet.cursor.as_deref(), 10)
        .await
        .expect("orders");
    assert_eq!(again.items.len(), 1, "{:?}", again.items);
    assert_eq!(again.items[0].id, first.items[0].id);
}

#[tokio::test]
async fn b2b_accounts_are_found_by_email_and_put_in_their_group_once() {
    use kontor_connector::{AccountSink, AccountUpsert, CustomerQuery};
    use kontor_model::{Address, CountryCode, Customer, CustomerKind, Email};
    let server = start();
    let system = connect(&server);
    let hotel = Customer {
        reference: "K-100".into(),
        kind: CustomerKind::Company {
            company_name: "Hotel Gdańsk".into(),
            vat_id: None,
        },
        name: "Jan Kowalski".into(),
        email: Some(Email::new("zakupy@hotel.example").expect("email")),
        phone: Some("+48 58 000 00 00".into()),
        addresses: vec![Address {
            name: "Jan Kowalski".into(),
            company: Some("Hotel Gdańsk".into()),
            street: "ul. Długa 1".into(),
            street2: None,
            postal_code: "80-827".into(),
            city: "Gdańsk".into(),
            region: None,
            country: CountryCode::new("PL").expect("PL"),
            phone: None,
        }],
        group: Some("Hurt".into()),
        price_list: None,
        payment_terms: None,
        credit_limit: None,
        balance: None,
    };
    let upsert = AccountUpsert {
        customer: hotel.clone(),
        account_id: None,
    };
    let first = system
        .upsert_accounts(std::slice::from_ref(&upsert))
        .await
        .expect("upsert")
        .remove(0)
        .expect("written");
    assert!(first.created);
    // A retry that lost the link finds the account by e-mail; a renamed contact updates it.
    let mut renamed = upsert.clone();
    renamed.customer.name = "Janina Kowalska".into();
    let again = system
        .upsert_accounts(&[renamed])
        .await
        .expect("upsert")
        .remove(0)
        .expect("written");
    assert_eq!(
        (again.account_id.clone(), again.created),
        (first.account_id.clone(), false)
    );
    let found = system
        .find_accounts(&CustomerQuery::Email(
            Email::new("ZAKUPY@hotel.example").expect("email"),
        ))
        .await
        .expect("found");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "Janina Kowalska");
    let customer = admin_query(
        &server,
        "query($id: ID!) { customer(id: $id) { groups { name } addresses { streetLine1 company } } }",
        json!({"id": first.account_id}),
    );
    assert_eq!(customer["customer"]["groups"], json!([{"name": "Hurt"}]));
    assert_eq!(
        customer["customer"]["addresses"],
        json!([{"streetLine1": "ul. Długa 1", "company": "Hotel Gdańsk"}])
    );
    // Without an e-mail Vendure cannot hold the account: refused, with the reason.
    let mut anonymous = hotel;
    anonymous.email = None;
    let refused = system
        .upsert_accounts(&[AccountUpsert {
            customer: anonymous,
            account_id: None,
        }])
        .await
        .expect("upsert")
        .remove(0);
    assert!(
        matches!(&refused, Err(ConnectorError::Rejected { code: Some(code), .. }) if code == "email_required"),
        "{refused:?}"
    );
}

/// Serves one PNG at any path, counting requests, as an ERP's image server would.
async fn image_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
        .expect("png");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0_u8; 2048];
            let _ = stream.read(&mut request).await;
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                png.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&png).await;
        }
    });
    (base, served)
}

#[tokio::test]
async fn product_images_are_uploaded_once_and_an_unreachable_one_is_left_out() {
    let server = start();
    let system = connect(&server);
    let (images, served) = image_server().await;
    let mut product = mug();
    product.images = vec![
        kontor_model::MediaRef {
            url: format!("{images}/mug.png"),
            alt: Some("Mug".into()),
            content_type: None,
        },
        kontor_model::MediaRef {
            url: "http://127.0.0.1:9/gone.jpg".into(),
            alt: None,
            content_type: None,
        },
    ];
    for _ in 0..2 {
        let written = system
            .upsert_products(&[ProductUpsert {
                product: product.clone(),
                product_id: None,
            }])
            .await
            .expect("upsert");
        assert!(written[0].is_ok(), "{written:?}");
    }
    let shown = variant_in_vendure(&server, "MUG");
    let assets = admin_query(
        &server,
        "{ products { items { featuredAsset { mimeType width } assets { id } } } }",
        json!({}),
    );
    let first = &assets["products"]["items"][0];
    assert_eq!(
        first["featuredAsset"],
        json!({"mimeType": "image/png", "width": 1})
    );
    assert_eq!(first["assets"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once"
    );
    assert_eq!(shown["product"]["name"], "Mug");
}

#[tokio::test]
async fn settled_refunds_are_read_once_as_returns_with_their_lines() {
    use kontor_connector::ReturnSource;
    let server = start();
    let system = connect(&server);
    stocked_shop(&system).await;
    let code = server
        .place_order(&[("TSH-S", 2), ("MUG", 1)], &Checkout::default())
        .expect("order placed");
    let order = admin_query(
        &server,
        "query($code: String!) { orders(options: {filter: {code: {eq: $code}}}) { items {
            lines { id productVariant { sku } } payments { id } } } }",
        json!({"code": code}),
    )["orders"]["items"][0]
        .clone();
    let mug_line = order["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["productVariant"]["sku"] == "MUG")
        .expect("mug line")["id"]
        .clone();
    let nothing = system.returns_changed(None, 10).await.expect("returns");
    assert!(nothing.items.is_empty());
    // The merchant refunds the mug (20.00 + 8 % = 21.60).
    let refund = admin_query(
        &server,
        "mutation($input: RefundOrderInput!) { refundOrder(input: $input) {
            ... on Refund { id state } ... on ErrorResult { errorCode message } } }",
        json!({"input": {"lines": [{"orderLineId": mug_line, "quantity": 1}], "shipping": 0,
                         "adjustment": 0, "amount": 2160, "paymentId": order["payments"][0]["id"],
                         "reason": "Broken in transit"}}),
    );
    // Pending until the money has actually gone back.
    assert_eq!(refund["refundOrder"]["state"], "Pending");
    let pending = system.returns_changed(None, 10).await.expect("returns");
    assert!(pending.items.is_empty(), "{:?}", pending.items);
    admin_query(
        &server,
        "mutation($id: ID!) { settleRefund(input: {id: $id, transactionId: \"bank-77\"}) {
            ... on Refund { id state } ... on ErrorResult { errorCode message } } }",
        json!({"id": refund["refundOrder"]["id"]}),
    );
    let returns = system.returns_changed(None, 10).await.expect("returns");
    assert_eq!(returns.items.len(), 1, "{:?}", returns.items);
    let refund = &returns.items[0];
    assert_eq!(refund.order_number, code);
    assert_eq!(refund.refund, Some(pln(dec!(21.60))));
    assert_eq!(
        refund
            .lines
            .iter()
            .map(|l| (l.sku.as_str(), l.quantity, l.reason.as_deref()))
            .collect::<Vec<_>>(),
        [("MUG", dec!(1), Some("Broken in transit"))]
    );
    let again = system
        .returns_changed(returns.cursor.as_deref(), 10)
        .await
        .expect("returns");
    assert!(again.items.is_empty(), "{:?}", again.items);
    // The order shows the money going back.
    let order_now = system
        .get_order(&server.order_id(&code).expect("order id"))
        .await
        .expect("order");
    assert_eq!(order_now.payment_state, PaymentState::PartiallyRefunded);
}

/// Vendure as the conformance suite drives it, through a relay that can answer 429.
struct Shop {
    server: VendureServer,
    relay: HttpRelay,
}

const CONFORMANCE_LAG: Duration = Duration::from_secs(2);

impl Shop {
    fn connection(
        &self,
        base: &str,
        password: &str,
    ) -> std::sync::Arc<dyn kontor_connector::Connector> {
        let config = VendureConfig {
            poll_lag: CONFORMANCE_LAG,
            password: Secret::Value(password.into()),
            ..config_at(base)
        };
        let system = VendureSystem::new(config, password.into(), None).expect("client");
        std::sync::Arc::new(kontor_connectors::vendure::VendureConnector { system })
    }
}

#[async_trait::async_trait]
impl conformance::FeedSystem for Shop {
    async fn add(&self) -> String {
        let code = self
            .server
            .place_order(&[("MUG", 1)], &Checkout::default())
            .expect("order placed");
        self.server.order_id(&code).expect("its id")
    }
    async fn restamp(&self, key: &str, at: chrono::DateTime<chrono::Utc>) {
        let id: u64 = key.parse().expect("a Vendure order id");
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        self.server
            .execute_sql(&format!(
                r#"UPDATE "order" SET "orderPlacedAt" = '{at}', "updatedAt" = '{at}' WHERE id = {id}"#
            ))
            .expect("restamped");
    }
    fn lag(&self) -> Duration {
        CONFORMANCE_LAG
    }
    fn unknown_key(&self) -> String {
        "999999".into()
    }
}

#[async_trait::async_trait]
impl conformance::Faults for Shop {
    fn connector(&self) -> std::sync::Arc<dyn kontor_connector::Connector> {
        self.connection(self.relay.url(), vendure::PASSWORD)
    }
    fn with_wrong_credentials(&self) -> Option<std::sync::Arc<dyn kontor_connector::Connector>> {
        Some(self.connection(&self.server.url(), "not-the-password"))
    }
    fn unreachable(&self) -> std::sync::Arc<dyn kontor_connector::Connector> {
        self.connection(
            &format!("http://127.0.0.1:{}", support::closed_port()),
            vendure::PASSWORD,
        )
    }
    async fn rate_limit_next(&self) -> Duration {
        self.relay.rate_limit_next(1, 1);
        Duration::from_secs(1)
    }
}

#[tokio::test]
async fn vendure_passes_the_conformance_suite() {
    let server = start();
    let direct = connect(&server);
    stocked_shop(&direct).await;
    // The suite places a dozen orders.
    direct
        .set_stock(&[stock("MUG", "MAIN", dec!(100))])
        .await
        .expect("stock");
    let relay = HttpRelay::start(&server.url()).await.expect("relay");
    let shop = Shop { server, relay };
    let connector = conformance::Faults::connector(&shop);
    let feed = conformance::order_feed(connector.order_source().expect("orders"));
    conformance::change_feed(&feed, &shop).await;
    conformance::failures(&shop).await;
}
