#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Webhook intake from a WooCommerce store (the fake): a checkout reaches the ERP with no
//! poll at all; a repeated delivery is recognised by its id and queues nothing; the same
//! body delivered anew creates nothing new; forged and unsigned deliveries get 401; the
//! unsigned ping WooCommerce sends when a webhook is saved is answered and ignored.

use std::sync::Arc;
use std::time::Duration;

use kontor::app::App;
use kontor::config::ConfigFile;
use kontor_connectors::MemoryRegistry;
use kontor_engine::{JobFilter, JobState, Shutdown};
use kontor_fakes::FakeWooCommerce;
use kontor_fakes::woocommerce::{CONSUMER_KEY, CONSUMER_SECRET, Delivery, OrderRequest, signature};
use serde_json::{Value, json};

const SECRET: &str = "wc-hook-secret-for-tests";

fn config(dir: &std::path::Path, url: &str) -> String {
    format!(
        r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"

[runner]
workers = 4
idle_poll = "20ms"

[runner.retry]
initial_delay = "20ms"
max_delay = "200ms"

[tenants.acme.connections.shop]
type = "woocommerce"
url = "{url}"
consumer_key = {{ value = "{CONSUMER_KEY}" }}
consumer_secret = {{ value = "{CONSUMER_SECRET}" }}
webhook_secret = {{ value = "{SECRET}" }}
ca_file = "shop-ca.pem"
poll_lag = "0s"

[tenants.acme.connections.erp]
type = "memory"
seed_demo = true

[tenants.acme.flows.catalogue]
from = "erp"
to = "shop"

[tenants.acme.flows.prices]
from = "erp"
to = "shop"
options = {{ scopes = ["base"] }}

[tenants.acme.flows.stock]
from = "erp"
to = "shop"

# No schedule: in this test only webhooks start order imports.
[tenants.acme.flows.orders]
from = "shop"
to = "erp"

[tenants.acme.mappings]
warehouses = {{ MAIN = "MAIN" }}
"#,
        dir = dir.display(),
    )
}

async fn settle(app: &App) {
    for _ in 0..600 {
        let busy = app
            .store
            .list_jobs(&JobFilter {
                states: vec![JobState::Pending, JobState::Running],
                ..Default::default()
            })
            .await
            .unwrap();
        if busy.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a delivery again, with `headers` changed as given (`None` drops the header).
async fn resend(url: &str, delivery: &Delivery, changes: &[(&str, Option<&str>)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(url).body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        match changes.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some((_, Some(changed))) => request = request.header(name, *changed),
            Some((_, None)) => {}
            None => request = request.header(name, value),
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_deliveries_bring_orders_in_once_and_forgeries_are_refused() {
    let fake = FakeWooCommerce::start().await.unwrap();
    fake.set_prices_include_tax(true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hook = format!("{base}/hooks/acme/shop");
    fake.add_webhook("order.created", &hook, SECRET);
    fake.add_webhook("order.updated", &hook, SECRET);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop-ca.pem"), fake.ca_pem()).unwrap();
    let file = dir.path().join("kontor.toml");
    std::fs::write(&file, config(dir.path(), &fake.url())).unwrap();
    let memory = MemoryRegistry::default();
    let app = Arc::new(
        App::open(ConfigFile::load(&file).unwrap(), memory.clone())
            .await
            .unwrap(),
    );
    let shutdown = Shutdown::new();
    let running = tokio::spawn({
        let (app, shutdown) = (app.clone(), shutdown.clone());
        async move { app.run(shutdown, Some(listener)).await }
    });
    for flow in ["catalogue", "prices", "stock"] {
        app.store
            .enqueue(app.flow(None, flow).unwrap().start_job())
            .await
            .unwrap();
        settle(&app).await;
    }

    // The store's webhook brings the checkout in at once.
    let order = fake
        .place_order(&OrderRequest::new(&[("MUG-450", 2)], "ola@example.com"))
        .unwrap();
    let number = order["number"].as_str().unwrap().to_owned();
    let erp = memory.get("acme", "erp").unwrap();
    for _ in 0..600 {
        if !erp.sales_for(&number).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settle(&app).await;
    assert_eq!(
        erp.sales_for(&number).len(),
        1,
        "order {number} reached the ERP once"
    );
    let polls = app
        .store
        .list_jobs(&JobFilter {
            kind: Some("orders.poll".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(polls.is_empty(), "no poll ran: {polls:?}");
    let delivered = fake.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].status, Some(202));

    // The same delivery again (WooCommerce retries on a timeout): recognised by its id.
    let (status, body) = resend(&hook, &delivered[0], &[]).await;
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)));
    // The same body as a new delivery: queued, and the import finds the sale.
    let (status, _) = resend(
        &hook,
        &delivered[0],
        &[("X-WC-Webhook-Delivery-ID", Some("999999"))],
    )
    .await;
    assert_eq!(status, 202);
    settle(&app).await;
    assert_eq!(erp.sales_for(&number).len(), 1, "a replay creates nothing");

    // Forged and unsigned: 401, logged and counted; nothing queued.
    let forged = signature("a guess", &delivered[0].body);
    for change in [Some(forged.as_str()), None] {
        let (status, body) =
            resend(&hook, &delivered[0], &[("X-WC-Webhook-Signature", change)]).await;
        assert_eq!(status, 401, "{change:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_signature");
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

    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = |outcome: &str, n: &str| {
        metrics.lines().any(|l| {
            l.starts_with("kontor_webhooks_total")
                && l.contains("connection=\"shop\"")
                && l.contains(&format!("outcome=\"{outcome}\""))
                && l.ends_with(&format!(" {n}"))
        })
    };
    assert!(counted("refused", "2"), "{metrics}");
    assert!(counted("duplicate", "1"), "{metrics}");

    shutdown.cancel();
    running.await.unwrap().unwrap();
}
