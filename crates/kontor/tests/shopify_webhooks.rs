#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Webhook intake from a Shopify shop (the fake): an order reaches the ERP with no poll
//! at all; a repeated delivery is recognised by its `X-Shopify-Webhook-Id` and queues
//! nothing; the same body delivered anew creates nothing new; forged and unsigned
//! deliveries get 401 and are counted.

use std::sync::Arc;
use std::time::Duration;

use kontor::app::App;
use kontor::config::ConfigFile;
use kontor_connectors::MemoryRegistry;
use kontor_engine::{JobFilter, JobState, Shutdown};
use kontor_fakes::FakeShopify;
use kontor_fakes::shopify::{ACCESS_TOKEN, CLIENT_SECRET, Delivery, OrderRequest};
use serde_json::{Value, json};

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
type = "shopify"
shop = "{url}"
access_token = {{ value = "{ACCESS_TOKEN}" }}
client_secret = {{ value = "{CLIENT_SECRET}" }}
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
warehouses = {{ MAIN = "Warszawa" }}
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
async fn shopify_deliveries_bring_orders_in_once_and_forgeries_are_refused() {
    let fake = FakeShopify::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hook = format!("{base}/hooks/acme/shop");
    fake.add_webhook("orders/create", &hook);
    fake.add_webhook("orders/updated", &hook);

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

    // The shop's webhook brings the order in at once.
    let order = fake
        .place_order(&OrderRequest {
            email: "ola@example.com".into(),
            lines: vec![("MUG-450".into(), 2)],
            ..OrderRequest::default()
        })
        .unwrap();
    let number = order["name"]
        .as_str()
        .unwrap()
        .trim_start_matches('#')
        .to_owned();
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
    assert!(!delivered.is_empty());
    assert!(
        delivered.iter().all(|d| d.status == Some(202)),
        "{:?}",
        delivered.iter().map(|d| d.status).collect::<Vec<_>>()
    );

    // The same delivery again (Shopify retries when the answer is slow): recognised by
    // its webhook id.
    let (status, body) = resend(&hook, &delivered[0], &[]).await;
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)));
    // The same body as a new delivery: queued, and the import finds the sale.
    let (status, _) = resend(
        &hook,
        &delivered[0],
        &[(
            "X-Shopify-Webhook-Id",
            Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        )],
    )
    .await;
    assert_eq!(status, 202);
    settle(&app).await;
    assert_eq!(erp.sales_for(&number).len(), 1, "a replay creates nothing");

    // Forged and unsigned: 401, logged and counted; nothing queued.
    let forged = kontor_fakes::hmac_base64("a guess", &delivered[0].body);
    for change in [Some(forged.as_str()), None] {
        let (status, body) = resend(
            &hook,
            &delivered[0],
            &[
                ("X-Shopify-Hmac-Sha256", change),
                ("X-Shopify-Webhook-Id", Some("a-new-forged-delivery")),
            ],
        )
        .await;
        assert_eq!(status, 401, "{change:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_signature");
    }
    // A genuine signature over a body that was changed on the way: refused too.
    let mut tampered = delivered[0].clone();
    tampered.body = String::from_utf8(tampered.body)
        .unwrap()
        .replacen("ola@example.com", "mallory@example.com", 1)
        .into_bytes();
    let (status, _) = resend(
        &hook,
        &tampered,
        &[("X-Shopify-Webhook-Id", Some("tampered"))],
    )
    .await;
    assert_eq!(status, 401);

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
    assert!(counted("refused", "3"), "{metrics}");
    assert!(counted("duplicate", "1"), "{metrics}");

    shutdown.cancel();
    running.await.unwrap().unwrap();
}
