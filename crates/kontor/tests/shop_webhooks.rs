#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Webhook intake from the shop platforms' fakes, through `kontor run`: an order reaches
//! the ERP with no poll at all; a platform's retry of a delivery is recognised by the
//! delivery's id and queues nothing; the same body delivered anew creates nothing new;
//! forged, unsigned and tampered deliveries get 401 and are counted.

mod support;

use std::time::Duration;

use kontor_connectors::memory::MemorySystem;
use kontor_engine::JobFilter;
use kontor_fakes::{FakeShopify, FakeWooCommerce, shopify, woocommerce};
use serde_json::{Value, json};
use support::app::Served;

/// `kontor run` with a memory ERP, the shop connection given, and flows that put the
/// ERP's catalogue in the shop; orders have no schedule, so only webhooks import them.
struct Kontor {
    /// Each test its own tenant: metrics are process-wide.
    tenant: &'static str,
    served: Served,
    _dir: tempfile::TempDir,
}

impl Kontor {
    /// Binds the port first, so the shop's webhooks can be pointed at `hook()`.
    async fn listen() -> (tokio::net::TcpListener, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        (listener, base)
    }

    async fn start(
        tenant: &'static str,
        (listener, _): (tokio::net::TcpListener, String),
        shop: &str,
        ca_pem: &str,
        location: &str,
    ) -> Kontor {
        let dir = tempfile::tempdir().unwrap();
        let tenant_dir = dir.path().join("tenants").join(tenant);
        std::fs::create_dir_all(&tenant_dir).unwrap();
        std::fs::write(tenant_dir.join("shop-ca.pem"), ca_pem).unwrap();
        // The shop's keys are given inline: they are stored sealed under this key and
        // opened to build the connection (the signatures checked below prove it).
        std::fs::write(
            dir.path().join("secrets.key"),
            kontor::secrets::new_key().unwrap(),
        )
        .unwrap();
        let file = dir.path().join("kontor.toml");
        let config = format!(
            r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"
secrets = {{ key = {{ file = "{dir}/secrets.key" }} }}

[runner]
workers = 4
idle_poll = "20ms"

[runner.retry]
initial_delay = "20ms"
max_delay = "200ms"

[tenants.{tenant}.connections.shop]
{shop}
ca_file = "shop-ca.pem"
poll_lag = "0s"

[tenants.{tenant}.connections.erp]
type = "memory"
seed_demo = true

[tenants.{tenant}.flows.catalogue]
from = "erp"
to = "shop"

[tenants.{tenant}.flows.prices]
from = "erp"
to = "shop"
options = {{ scopes = ["base"] }}

[tenants.{tenant}.flows.stock]
from = "erp"
to = "shop"

[tenants.{tenant}.flows.orders]
from = "shop"
to = "erp"

[tenants.{tenant}.mappings]
warehouses = {{ MAIN = "{location}" }}
"#,
            dir = dir.path().display(),
        );
        std::fs::write(&file, config).unwrap();
        let kontor = Kontor {
            tenant,
            served: Served::start(&file, Some(listener)).await,
            _dir: dir,
        };
        for flow in ["catalogue", "prices", "stock"] {
            let app = &kontor.served.app;
            app.store
                .enqueue(app.flow(None, flow).unwrap().start_job())
                .await
                .unwrap();
            kontor.settle().await;
        }
        kontor
    }

    fn hook(base: &str, tenant: &str) -> String {
        format!("{base}/hooks/{tenant}/shop")
    }

    fn erp(&self) -> MemorySystem {
        self.served.memory.get(self.tenant, "erp").unwrap()
    }

    async fn settle(&self) {
        self.served.settle().await;
    }

    /// Waits for the order's sale, then asserts it is there once and came with no poll.
    async fn assert_imported_once_without_polling(&self, number: &str) {
        support::eventually_within(
            "the order in the ERP",
            Duration::from_secs(30),
            async || !self.erp().sales_for(number).is_empty(),
        )
        .await;
        self.settle().await;
        assert_eq!(
            self.erp().sales_for(number).len(),
            1,
            "order {number} reached the ERP once"
        );
        let polls = self
            .served
            .app
            .store
            .list_jobs(&JobFilter {
                kind: Some("orders.poll".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(polls.is_empty(), "no poll ran: {polls:?}");
    }

    /// A counter of the shop connection (`kontor_webhooks_total`,
    /// `kontor_connector_calls_total`) for `outcome`.
    async fn counted(&self, metric: &str, outcome: &str) -> Option<u64> {
        let metrics = reqwest::get(format!("{}/metrics", self.served.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!("{metric}{{"))
                    && l.contains(&format!("tenant=\"{}\"", self.tenant))
                    && l.contains("connection=\"shop\"")
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
    }

    async fn stop(self) {
        self.served.stop().await;
    }
}

/// Sends a delivery again, with `changes` made to its headers (`None` drops one).
async fn resend(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    changes: &[(&str, Option<&str>)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).body(body.to_vec());
    for (name, value) in headers {
        match changes.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, Some(changed))) => request = request.header(name, *changed),
            Some((_, None)) => {}
            None => request = request.header(name, value),
        }
    }
    for (name, value) in changes {
        if let Some(value) = value
            && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            request = request.header(*name, *value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_deliveries_bring_orders_in_once_and_forgeries_are_refused() {
    let fake = FakeShopify::start().await.unwrap();
    let port = Kontor::listen().await;
    let hook = Kontor::hook(&port.1, "shopify-shop");
    fake.add_webhook("orders/create", &hook);
    fake.add_webhook("orders/updated", &hook);
    let shop = format!(
        r#"type = "shopify"
shop = "{}"
access_token = {{ value = "{}" }}
client_secret = {{ value = "{}" }}"#,
        fake.url(),
        shopify::ACCESS_TOKEN,
        shopify::CLIENT_SECRET
    );
    let kontor = Kontor::start("shopify-shop", port, &shop, fake.ca_pem(), "Warszawa").await;

    // The shop's webhook brings the order in at once.
    let order = fake
        .place_order(&shopify::OrderRequest {
            email: "ola@example.com".into(),
            lines: vec![("MUG-450".into(), 2)],
            ..shopify::OrderRequest::default()
        })
        .unwrap();
    let number = order["name"].as_str().unwrap().trim_start_matches('#');
    kontor.assert_imported_once_without_polling(number).await;
    let delivered = fake.deliveries();
    assert!(!delivered.is_empty());
    assert!(
        delivered.iter().all(|d| d.status == Some(202)),
        "{:?}",
        delivered.iter().map(|d| d.status).collect::<Vec<_>>()
    );
    let (headers, body) = (&delivered[0].headers, &delivered[0].body);

    // The same delivery again (Shopify retries when the answer is slow): recognised by
    // its webhook id, nothing queued.
    let (status, answer) = resend(&hook, headers, body, &[]).await;
    assert_eq!((status, answer["duplicate"].clone()), (200, json!(true)));
    // The same body as a new delivery: queued, and the import finds the sale.
    let new_id = [(
        "X-Shopify-Webhook-Id",
        Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
    )];
    assert_eq!(resend(&hook, headers, body, &new_id).await.0, 202);
    kontor.settle().await;
    assert_eq!(
        kontor.erp().sales_for(number).len(),
        1,
        "a replay creates nothing"
    );

    // Forged and unsigned: 401, with a stable code; nothing queued.
    let forged = kontor_fakes::hmac_base64("a guess", body);
    for change in [Some(forged.as_str()), None] {
        let changes = [
            ("X-Shopify-Hmac-Sha256", change),
            ("X-Shopify-Webhook-Id", Some("a-new-forged-delivery")),
        ];
        let (status, answer) = resend(&hook, headers, body, &changes).await;
        assert_eq!(status, 401, "{change:?}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_signature");
    }
    // A genuine signature over a body changed on the way: refused too.
    let tampered = String::from_utf8(body.clone()).unwrap().replacen(
        "ola@example.com",
        "mallory@example.com",
        1,
    );
    let changes = [("X-Shopify-Webhook-Id", Some("tampered"))];
    assert_eq!(
        resend(&hook, headers, tampered.as_bytes(), &changes)
            .await
            .0,
        401
    );

    assert_eq!(
        kontor.counted("kontor_webhooks_total", "refused").await,
        Some(3)
    );
    assert_eq!(
        kontor.counted("kontor_webhooks_total", "duplicate").await,
        Some(1)
    );
    // The shop's API calls are counted per connection.
    let calls = kontor.counted("kontor_connector_calls_total", "ok").await;
    assert!(calls.is_some_and(|n| n > 0), "{calls:?}");
    kontor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_deliveries_bring_orders_in_once_and_forgeries_are_refused() {
    const SECRET: &str = "wc-hook-secret-for-tests";
    let fake = FakeWooCommerce::start().await.unwrap();
    fake.set_prices_include_tax(true);
    let port = Kontor::listen().await;
    let hook = Kontor::hook(&port.1, "woo-shop");
    fake.add_webhook("order.created", &hook, SECRET);
    fake.add_webhook("order.updated", &hook, SECRET);
    let shop = format!(
        r#"type = "woocommerce"
url = "{}"
consumer_key = {{ value = "{}" }}
consumer_secret = {{ value = "{}" }}
webhook_secret = {{ value = "{SECRET}" }}"#,
        fake.url(),
        woocommerce::CONSUMER_KEY,
        woocommerce::CONSUMER_SECRET
    );
    let kontor = Kontor::start("woo-shop", port, &shop, fake.ca_pem(), "MAIN").await;

    // The store's webhook brings the checkout in at once.
    let order = fake
        .place_order(&woocommerce::OrderRequest::new(
            &[("MUG-450", 2)],
            "ola@example.com",
        ))
        .unwrap();
    let number = order["number"].as_str().unwrap();
    kontor.assert_imported_once_without_polling(number).await;
    let delivered = fake.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].status, Some(202));
    let (headers, body) = (&delivered[0].headers, &delivered[0].body);

    // The same delivery again (WooCommerce retries on a timeout): recognised by its id.
    let (status, answer) = resend(&hook, headers, body, &[]).await;
    assert_eq!((status, answer["duplicate"].clone()), (200, json!(true)));
    // The same body as a new delivery: queued, and the import finds the sale.
    let new_id = [("X-WC-Webhook-Delivery-ID", Some("999999"))];
    assert_eq!(resend(&hook, headers, body, &new_id).await.0, 202);
    kontor.settle().await;
    assert_eq!(
        kontor.erp().sales_for(number).len(),
        1,
        "a replay creates nothing"
    );

    // Forged and unsigned: 401, with a stable code; nothing queued.
    let forged = woocommerce::signature("a guess", body);
    for change in [Some(forged.as_str()), None] {
        let changes = [("X-WC-Webhook-Signature", change)];
        let (status, answer) = resend(&hook, headers, body, &changes).await;
        assert_eq!(status, 401, "{change:?}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_signature");
    }
    // The ping sent when a merchant saves the webhook: unsigned, harmless, answered.
    let ping = reqwest::Client::new()
        .post(&hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=1")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 202);

    assert_eq!(
        kontor.counted("kontor_webhooks_total", "refused").await,
        Some(2)
    );
    assert_eq!(
        kontor.counted("kontor_webhooks_total", "duplicate").await,
        Some(1)
    );
    // The shop's API calls are counted per connection.
    let calls = kontor.counted("kontor_connector_calls_total", "ok").await;
    assert!(calls.is_some_and(|n| n > 0), "{calls:?}");
    kontor.stop().await;
}
