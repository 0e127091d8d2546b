//! The Tryton connector against a real Tryton 8.2 server, started by the test harness.

mod support;

use std::time::Duration;

use chrono::Utc;
use kontor_connector::Secret;
use kontor_connector::{
    CatalogueSource, ConnectorError, CustomerQuery, CustomerSink, CustomerSource, DraftLine,
    InvoiceSource, PaymentSink, PriceSource, SalesDocumentKind, SalesDraft, SalesSink,
    ShipmentSource, StockSource,
};
use kontor_connectors::tryton::{TrytonConfig, TrytonSystem};
use kontor_model::{
    Address, CountryCode, Currency, Customer, CustomerKind, DeliveryMethod, Email, Money, Order,
    OrderCustomer, OrderStatus, OrderTotals, Payment, PaymentKind, PaymentState, PriceScope,
    ProductStatus, RequestedDocument, TaxRate, VatId,
};
use kontor_testkit::{HttpRelay, TrytonServer, conformance, tryton};
use rust_decimal::{Decimal, dec};
use serde_json::json;

fn config(server: &TrytonServer, password: &str) -> TrytonConfig {
    config_at(&server.url(), password)
}

/// The connection to the Tryton at `url` (the server's, or a relay's in front of it).
fn config_at(url: &str, password: &str) -> TrytonConfig {
    TrytonConfig {
        url: url.to_owned(),
        database: tryton::DATABASE.into(),
        username: tryton::USERNAME.into(),
        password: Secret::Value(password.into()),
        timeout: Duration::from_secs(60),
        warehouses: vec![],
        languages: vec!["en".into()],
        payment_method: None,
        payment_term: None,
        tracking_field: "reference".into(),
        carrier: Some("InPost".into()),
        poll_lag: Duration::ZERO,
    }
}

fn connect(server: &TrytonServer) -> TrytonSystem {
    TrytonSystem::new(config(server, tryton::PASSWORD), tryton::PASSWORD.into()).expect("client")
}

fn start() -> TrytonServer {
    TrytonServer::start().unwrap_or_else(|e| panic!("cannot start Tryton: {e}"))
}

fn pln(amount: Decimal) -> Money {
    Money::new(amount, Currency::new("PLN").expect("PLN"))
}

fn address(name: &str, street: &str) -> Address {
    Address {
        name: name.into(),
        company: None,
        street: street.into(),
        street2: None,
        postal_code: "00-950".into(),
        city: "Warszawa".into(),
        region: None,
        country: CountryCode::new("PL").expect("PL"),
        phone: None,
    }
}

fn company(reference: &str, email: &str, vat: &str) -> Customer {
    Customer {
        reference: reference.into(),
        kind: CustomerKind::Company {
            company_name: "Hurtownia Bałtyk Sp. z o.o.".into(),
            vat_id: Some(VatId::new(vat).expect("vat")),
        },
        name: "Anna Nowak".into(),
        email: Some(Email::new(email).expect("email")),
        phone: Some("+48 600 100 200".into()),
        addresses: vec![Address {
            company: Some("Hurtownia Bałtyk Sp. z o.o.".into()),
            ..address("Anna Nowak", "ul. Długa 5")
        }],
        group: None,
        price_list: None,
        payment_terms: None,
        credit_limit: None,
        balance: None,
    }
}

/// A draft of a shop order with gross prices, its lines resolved to Tryton products.
async fn draft(
    erp: &TrytonSystem,
    number: &str,
    customer_id: &str,
    lines: &[(&str, u32, Decimal, u32)],
) -> SalesDraft {
    let skus: Vec<String> = lines.iter().map(|l| l.0.to_owned()).collect();
    let variants = erp.find_variants(&skus).await.expect("variants");
    let draft_lines: Vec<DraftLine> = lines
        .iter()
        .map(|(sku, quantity, gross, rate)| DraftLine {
            product_id: variants
                .iter()
                .find(|v| v.sku == *sku)
                .map(|v| v.variant_id.clone()),
            sku: (*sku).into(),
            description: format!("{sku} from the shop"),
            quantity: Decimal::from(*quantity),
            unit_price: pln(*gross),
            discount: pln(Decimal::ZERO),
            tax_rate: TaxRate(Decimal::from(*rate)),
            tax_code: None,
            warehouse: None,
        })
        .collect();
    let total: Decimal = lines.iter().map(|(_, q, g, _)| g * Decimal::from(*q)).sum();
    let order = Order {
        id: format!("shop-{number}"),
        number: number.into(),
        placed_at: Utc::now(),
        updated_at: Utc::now(),
        currency: Currency::new("PLN").expect("PLN"),
        prices_include_tax: true,
        customer: OrderCustomer {
            reference: None,
            email: None,
            name: "Anna Nowak".into(),
            phone: None,
            company: None,
            vat_id: None,
        },
        billing_address: Some(address("Anna Nowak", "ul. Długa 5")),
        shipping_address: Some(address("Jan Nowak", "ul. Krótka 1")),
        lines: vec![],
        shipping: None,
        discounts: vec![],
        totals: OrderTotals {
            total: pln(total),
            tax: pln(Decimal::ZERO),
        },
        payment_state: PaymentState::Paid,
        payment_method: None,
        payments: vec![],
        delivery: DeliveryMethod::Shipping {
            method: "courier".into(),
            carrier: None,
        },
        status: OrderStatus::Processing,
        source_status: None,
        requested_document: RequestedDocument::Invoice,
        note: Some("Leave at the door".into()),
    };
    SalesDraft {
        reference: number.into(),
        kind: SalesDocumentKind::CustomerOrder,
        customer_id: customer_id.into(),
        order,
        lines: draft_lines,
        prices_include_tax: true,
        warehouse: None,
        payment_method: None,
    }
}

#[tokio::test]
async fn a_wrong_password_is_unauthorised_and_tryton_refusals_keep_trytons_words() {
    let server = start();
    let wrong = TrytonSystem::new(config(&server, "nope"), "nope".into()).expect("client");
    let err = wrong
        .find_variants(&["BOOK".into()])
        .await
        .expect_err("wrong password");
    assert!(matches!(err, ConnectorError::Unauthorized { .. }), "{err}");

    let erp = connect(&server);
    erp.create_customer(&company("shop:C-1", "a@example.com", "PL5260001246"))
        .await
        .expect("first");
    let err = erp
        .create_customer(&company("shop:C-1", "b@example.com", "PL6762468118"))
        .await
        .expect_err("same code");
    assert!(
        matches!(&err, ConnectorError::Rejected { message, .. } if message.contains("unique")),
        "{err}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn products_stock_and_prices_are_read_incrementally() {
    let server = start();
    let erp = connect(&server);
    let mut products = Vec::new();
    let mut cursor = None;
    loop {
        let page = erp
            .products_changed(cursor.as_deref(), 2)
            .await
            .expect("products");
        products.extend(page.items);
        cursor = page.cursor.or(cursor);
        if !page.more {
            break;
        }
    }
    let codes: Vec<&str> = products.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(
        codes,
        ["TSH", "MUG", "BOOK", "HONEY", "BAG"],
        "goods only, services left out"
    );
    let shirt = &products[0];
    assert_eq!(shirt.name.get("en"), Some("Koszulka bawełniana"));
    assert_eq!(shirt.status, ProductStatus::Active, "{shirt:?}");
    assert_eq!(shirt.tax_rate, Some(TaxRate(dec!(23))));
    let skus: Vec<&str> = shirt.variants.iter().map(|v| v.sku.as_str()).collect();
    assert_eq!(skus, ["TSH-S-WHT", "TSH-M-BLK", "TSH-L-NVY"]);
    assert_eq!(
        shirt.variants[1].options.get("Variant").map(String::as_str),
        Some("M-BLK")
    );
    assert_eq!(products[2].tax_rate, Some(TaxRate(dec!(5))));
    assert!(products[2].options.is_empty());

    // Nothing changed: nothing read. Then a change brings back that product alone: no
    // longer sold, so archived.
    let quiet = erp
        .products_changed(cursor.as_deref(), 10)
        .await
        .expect("again");
    assert!(
        quiet.items.is_empty(),
        "{:?}",
        quiet.items.iter().map(|p| &p.code).collect::<Vec<_>>()
    );
    let admin = server.admin().expect("admin");
    let mug = admin
        .call(
            "model.product.template.search",
            json!([[["code", "=", "MUG"]], 0, null, null]),
        )
        .expect("mug");
    admin
        .call("model.product.template.write", json!([mug, {"list_price": {"__class__": "Decimal", "decimal": "35.00"}, "salable": false}]))
        .expect("write");
    let changed = erp
        .products_changed(quiet.cursor.as_deref().or(cursor.as_deref()), 10)
        .await
        .expect("changed");
    assert_eq!(
        changed
            .items
            .iter()
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>(),
        ["MUG"]
    );
    assert_eq!(changed.items[0].status, ProductStatus::Archived);

    let stock = erp
        .stock_of(&["TSH-S-WHT".into(), "BAG-BLK".into()])
        .await
        .expect("stock");
    let bag = stock.iter().find(|l| l.sku == "BAG-BLK").expect("bag");
    assert_eq!(
        (bag.warehouse.as_str(), bag.on_hand, bag.reserved),
        ("WH", dec!(12), dec!(0))
    );
    let first = erp.stock_changed(None, 100).await.expect("stock changes");
    assert_eq!(
        first.items.len(),
        8,
        "every stocked variant, in the one warehouse"
    );

    let prices = erp.prices_changed(None, 100).await.expect("prices");
    let book: Vec<_> = prices.items.iter().filter(|p| p.sku == "BOOK").collect();
    assert!(
        book.iter().any(|p| p.scope == PriceScope::Base
            && p.amount == pln(dec!(61.81))
            && !p.includes_tax)
    );
    assert!(
        book.iter()
            .any(|p| p.scope == PriceScope::PriceList("Hurt".into())
                && p.amount.amount == dec!(52.5385)),
        "{book:?}"
    );
}

#[tokio::test]
async fn customers_are_found_by_email_vat_id_or_reference_and_read_back() {
    let server = start();
    let erp = connect(&server);
    let created = erp
        .create_customer(&company(
            "shop:C-7",
            "Orders@Baltyk.example.pl",
            "PL 526-000-12-46",
        ))
        .await
        .expect("create");
    let by_email = erp
        .find_customers(&CustomerQuery::Email(
            Email::new("orders@baltyk.example.pl").expect("e"),
        ))
        .await
        .expect("email");
    let by_vat = erp
        .find_customers(&CustomerQuery::VatId(
            VatId::new("pl5260001246").expect("v"),
        ))
        .await
        .expect("vat");
    let by_reference = erp
        .find_customers(&CustomerQuery::Reference("shop:C-7".into()))
        .await
        .expect("reference");
    for found in [&by_email, &by_vat, &by_reference] {
        assert_eq!(
            found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            [created.id.as_str()]
        );
    }
    assert!(
        erp.find_customers(&CustomerQuery::Reference("shop:C-8".into()))
            .await
            .expect("none")
            .is_empty()
    );

    let changed = erp.customers_changed(None, 100).await.expect("customers");
    let customer = &changed
        .items
        .iter()
        .find(|c| c.id == created.id)
        .expect("read back")
        .customer;
    assert!(
        matches!(&customer.kind, CustomerKind::Company { vat_id: Some(v), .. } if v.as_str() == "PL5260001246")
    );
    assert_eq!(customer.addresses[0].street, "ul. Długa 5");
    assert_eq!(
        (
            customer.addresses[0].name.as_str(),
            customer.addresses[0].company.as_deref()
        ),
        ("Anna Nowak", Some("Hurtownia Bałtyk Sp. z o.o."))
    );
    assert_eq!(customer.balance, Some(pln(dec!(0))));
    assert!(
        changed
            .items
            .iter()
            .all(|c| c.customer.name != "Kontor Goods Sp. z o.o."),
        "the company itself is no customer"
    );
}

#[tokio::test]
async fn a_sale_is_created_once_confirmed_paid_invoiced_shipped_and_read_back() {
    let server = start();
    let erp = connect(&server);
    let party = erp
        .create_customer(&company("shop:C-9", "c9@example.com", "PL6762468118"))
        .await
        .expect("party");
    // Two shirts, a book at 5 %, courier: 277.79 gross as the shop charged it.
    let lines = [
        ("TSH-M-BLK", 2, dec!(79.00), 23),
        ("MUG-330", 1, dec!(39.90), 23),
        ("BOOK", 1, dec!(64.90), 5),
        ("SHIP-COURIER", 1, dec!(14.99), 23),
    ];
    let draft = draft(&erp, "1001", &party.id, &lines).await;
    assert!(erp.find_sale("1001").await.expect("find").is_none());
    let quoted = erp.create_sale(&draft).await.expect("create");
    assert_eq!(
        (quoted.state.as_str(), quoted.status),
        ("quotation", OrderStatus::Pending)
    );
    assert_eq!(
        quoted.total,
        pln(dec!(277.79)),
        "Tryton's total is what the customer paid"
    );
    assert_eq!(
        quoted
            .lines
            .iter()
            .map(|l| l.sku.as_str())
            .collect::<Vec<_>>(),
        ["TSH-M-BLK", "MUG-330", "BOOK", "SHIP-COURIER"]
    );
    let found = erp
        .find_sale("1001")
        .await
        .expect("find")
        .expect("found by reference");
    assert_eq!(found.id, quoted.id);

    let confirmed = erp.confirm_sale(&found).await.expect("confirm");
    assert_eq!(
        (confirmed.state.as_str(), confirmed.status),
        ("processing", OrderStatus::Processing)
    );
    assert_eq!(
        erp.confirm_sale(&confirmed).await.expect("again").state,
        "processing",
        "confirming twice is harmless"
    );

    let payment = Payment {
        order_number: "1001".into(),
        kind: PaymentKind::Capture,
        amount: pln(dec!(277.79)),
        method: "card".into(),
        transaction_id: "pi_3Q0001".into(),
        at: Utc::now(),
    };
    assert!(
        erp.payments_of(&confirmed.id)
            .await
            .expect("none yet")
            .is_empty()
    );
    let recorded = erp
        .record_payment(&confirmed.id, &payment)
        .await
        .expect("pay");
    assert_eq!(
        (recorded.transaction_id.as_str(), recorded.amount),
        ("pi_3Q0001", pln(dec!(277.79)))
    );
    assert_eq!(
        erp.payments_of(&confirmed.id)
            .await
            .expect("payments")
            .len(),
        1
    );
    let invoices = erp.documents_of(&confirmed.id).await.expect("documents");
    assert_eq!(invoices.len(), 1);
    assert_eq!(
        (invoices[0].order_number.as_str(), invoices[0].total),
        ("1001", pln(dec!(277.79)))
    );

    let changed = erp.invoices_changed(None, 10).await.expect("invoices");
    assert_eq!(
        changed
            .items
            .iter()
            .map(|i| i.number.as_str())
            .collect::<Vec<_>>(),
        [invoices[0].number.as_str()]
    );
    let pdf = erp.invoice_pdf(&changed.items[0]).await.expect("pdf");
    assert!(
        pdf.starts_with(b"%PDF"),
        "a PDF, not {:?}",
        &pdf[..pdf.len().min(8)]
    );

    // The warehouse ships it with a tracking number.
    let admin = server.admin().expect("admin");
    let shipment = admin
        .call(
            "model.stock.shipment.out.search",
            json!([[["state", "!=", "cancelled"]], 0, null, null]),
        )
        .expect("shipments");
    admin
        .call(
            "model.stock.shipment.out.write",
            json!([shipment, {"reference": "INP-0001"}]),
        )
        .expect("tracking");
    for step in ["assign_try", "pick", "pack", "ship", "do"] {
        admin
            .call(
                &format!("model.stock.shipment.out.{step}"),
                json!([shipment]),
            )
            .expect(step);
    }
    let shipments = erp.shipments_changed(None, 10).await.expect("shipments");
    assert_eq!(shipments.items.len(), 1);
    let shipped = &shipments.items[0];
    assert_eq!(
        (
            shipped.order_number.as_str(),
            shipped.tracking_number.as_deref(),
            shipped.carrier.as_deref()
        ),
        ("1001", Some("INP-0001"), Some("InPost"))
    );
    assert!(
        shipped
            .lines
            .iter()
            .any(|l| l.sku == "TSH-M-BLK" && l.quantity == dec!(2))
    );
    assert_eq!(
        erp.find_sale("1001")
            .await
            .expect("find")
            .expect("sale")
            .status,
        OrderStatus::Completed
    );
    let stock = erp.stock_of(&["TSH-M-BLK".into()]).await.expect("stock");
    assert_eq!(stock[0].on_hand, dec!(38));
}

#[tokio::test]
async fn a_confirmed_sale_is_cancelled_with_its_shipment_and_invoice_until_it_is_invoiced() {
    let server = start();
    let erp = connect(&server);
    let party = erp
        .create_customer(&company("shop:C-11", "c11@example.com", "PL6762468118"))
        .await
        .expect("party");
    let lines = [("HONEY", 2, dec!(32.50), 5)];
    let sale = erp
        .create_sale(&draft(&erp, "1002", &party.id, &lines).await)
        .await
        .expect("create");
    let sale = erp.confirm_sale(&sale).await.expect("confirm");
    let reserved = erp.stock_of(&["HONEY".into()]).await.expect("stock");
    assert_eq!(
        (reserved[0].on_hand, reserved[0].reserved),
        (dec!(30), dec!(2))
    );
    let cancelled = erp
        .cancel_sale(&sale.id, "customer changed their mind")
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, OrderStatus::Cancelled, "{cancelled:?}");
    assert_eq!(
        erp.stock_of(&["HONEY".into()]).await.expect("stock")[0].reserved,
        dec!(0)
    );

    // Once invoiced, Tryton's accountants credit it: Kontor says so instead of trying.
    let sale = erp
        .create_sale(&draft(&erp, "1003", &party.id, &lines).await)
        .await
        .expect("create");
    let sale = erp.confirm_sale(&sale).await.expect("confirm");
    erp.issue_document(&sale.id, kontor_model::InvoiceKind::Invoice)
        .await
        .expect("invoice");
    let err = erp
        .cancel_sale(&sale.id, "too late")
        .await
        .expect_err("invoiced");
    assert!(
        matches!(&err, ConnectorError::Rejected { code: Some(c), .. } if c == "already_invoiced"),
        "{err}"
    );
    // A quotation is simply cancelled.
    let quotation = erp
        .create_sale(&draft(&erp, "1004", &party.id, &lines).await)
        .await
        .expect("create");
    assert_eq!(
        erp.cancel_sale(&quotation.id, "test")
            .await
            .expect("cancel")
            .status,
        OrderStatus::Cancelled
    );
}

#[tokio::test]
async fn bad_drafts_are_refused_with_what_to_fix() {
    let server = start();
    let erp = connect(&server);
    let party = erp
        .create_customer(&company("shop:C-12", "c12@example.com", "PL6762468118"))
        .await
        .expect("party");
    // The shop charges 8 % on a book Tryton taxes at 5 %.
    let wrong_rate = draft(&erp, "1005", &party.id, &[("BOOK", 1, dec!(66.75), 8)]).await;
    let err = erp
        .create_sale(&wrong_rate)
        .await
        .expect_err("tax mismatch");
    assert!(
        matches!(&err, ConnectorError::Rejected { code: Some(c), message, .. } if c == "tax_mismatch" && message.contains("BOOK")),
        "{err}"
    );
    let mut euro = draft(&erp, "1006", &party.id, &[("BOOK", 1, dec!(64.90), 5)]).await;
    euro.order.currency = Currency::new("EUR").expect("EUR");
    let err = erp.create_sale(&euro).await.expect_err("currency");
    assert!(
        matches!(&err, ConnectorError::Rejected { code: Some(c), .. } if c == "unknown_currency"),
        "{err}"
    );
    assert!(
        erp.find_sale("1005").await.expect("find").is_none(),
        "nothing half-made is left behind"
    );
}

#[tokio::test]
async fn an_expired_session_is_renewed_without_the_caller_noticing() {
    let server = TrytonServer::start_with_session_timeout(Duration::from_secs(1))
        .unwrap_or_else(|e| panic!("cannot start Tryton: {e}"));
    let erp = connect(&server);
    assert_eq!(
        erp.find_variants(&["BOOK".into()])
            .await
            .expect("first call")
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        erp.find_variants(&["BOOK".into()])
            .await
            .expect("after the session expired")
            .len(),
        1
    );
}

/// Tryton as the conformance suite drives it, through a relay that can answer 429.
struct Erp {
    server: TrytonServer,
    relay: HttpRelay,
    erp: TrytonSystem,
    customer_id: String,
    added: std::sync::atomic::AtomicU32,
}

const CONFORMANCE_LAG: Duration = Duration::from_secs(2);

/// A connection to the Tryton at `url`, reading with the suite's poll lag.
fn lagged(url: &str, password: &str) -> TrytonSystem {
    let config = TrytonConfig {
        poll_lag: CONFORMANCE_LAG,
        ..config_at(url, password)
    };
    TrytonSystem::new(config, password.into()).expect("client")
}

impl Erp {
    fn connection(
        &self,
        url: &str,
        password: &str,
    ) -> std::sync::Arc<dyn kontor_connector::Connector> {
        std::sync::Arc::new(kontor_connectors::tryton::TrytonConnector {
            system: lagged(url, password),
        })
    }
}

#[async_trait::async_trait]
impl conformance::FeedSystem for Erp {
    async fn add(&self) -> String {
        let n = self.added.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let code = format!("CONF-{n}");
        let admin = self.server.admin().expect("admin");
        let mug = admin
            .call(
                "model.product.template.search_read",
                json!([
                    [["code", "=", "MUG"]],
                    0,
                    null,
                    null,
                    ["default_uom", "sale_uom", "account_category", "list_price"]
                ]),
            )
            .expect("the mug");
        let mug = &mug[0];
        admin
            .call(
                "model.product.template.create",
                json!([[{
                    "name": format!("Mug {n}"), "code": code, "type": "goods", "salable": true,
                    "default_uom": mug["default_uom"], "sale_uom": mug["sale_uom"],
                    "account_category": mug["account_category"], "list_price": mug["list_price"],
                    "products": [["create", [{"suffix_code": ""}]]],
                }]]),
            )
            .expect("a mug like the mug");
        code
    }
    async fn restamp(&self, key: &str, at: chrono::DateTime<Utc>) {
        let at = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        for statement in [
            "UPDATE product_template SET create_date = ?1, write_date = ?1 WHERE code = ?2",
            "UPDATE product_product SET create_date = ?1, write_date = ?1 \
             WHERE template IN (SELECT id FROM product_template WHERE code = ?2)",
        ] {
            self.server
                .execute_sql(statement, &[&at, key])
                .expect("restamped");
        }
    }
    fn lag(&self) -> Duration {
        CONFORMANCE_LAG
    }
    fn unknown_key(&self) -> String {
        "NO-SUCH-CODE".into()
    }
}

#[async_trait::async_trait]
impl conformance::SalesErp for Erp {
    async fn draft(&self, reference: &str) -> SalesDraft {
        draft(
            &self.erp,
            reference,
            &self.customer_id,
            &[("HONEY", 1, dec!(32.50), 5)],
        )
        .await
    }
}

#[async_trait::async_trait]
impl conformance::Faults for Erp {
    fn connector(&self) -> std::sync::Arc<dyn kontor_connector::Connector> {
        self.connection(self.relay.url(), tryton::PASSWORD)
    }
    fn with_wrong_credentials(&self) -> Option<std::sync::Arc<dyn kontor_connector::Connector>> {
        Some(self.connection(&self.server.url(), "not-the-password"))
    }
    fn unreachable(&self) -> std::sync::Arc<dyn kontor_connector::Connector> {
        self.connection(
            &format!("http://127.0.0.1:{}", support::closed_port()),
            tryton::PASSWORD,
        )
    }
    async fn rate_limit_next(&self) -> Duration {
        self.relay.rate_limit_next(1, 1);
        Duration::from_secs(1)
    }
}

#[tokio::test]
async fn tryton_passes_the_conformance_suite() {
    let server = start();
    let relay = HttpRelay::start(&server.url()).await.expect("relay");
    let party = connect(&server)
        .create_customer(&company("shop:C-CONF", "conf@example.com", "PL6762468118"))
        .await
        .expect("party");
    let erp = Erp {
        erp: lagged(relay.url(), tryton::PASSWORD),
        customer_id: party.id,
        server,
        relay,
        added: std::sync::atomic::AtomicU32::new(0),
    };
    let feed = conformance::catalogue_feed(std::sync::Arc::new(erp.erp.clone()));
    conformance::change_feed(&feed, &erp).await;
    conformance::sales_sink(&erp.erp, &erp).await;
    conformance::failures(&erp).await;
}
