#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! Webhook intake with a real Vendure and Kontor's plugin: orders placed in Vendure reach
//! the ERP with no poll at all; forged, unsigned and stale notices are refused with 401;
//! a replayed notice creates nothing new.

mod support;

use std::time::Duration;

use kontor_engine::JobFilter;
use kontor_testkit::{Checkout, VendureServer, vendure};
use serde_json::{Value, json};
use support::app::Served;

const SECRET: &str = "hook-secret-for-tests";

fn config(dir: &std::path::Path, vendure_url: &str) -> String {
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
type = "vendure"
url = "{vendure_url}/admin-api"
username = "{user}"
password = {{ file = "{dir}/vendure-password" }}
webhook_secret = {{ file = "{dir}/webhook-secret" }}
poll_lag = "0s"
images = "skip"
stock_locations = {{ MAIN = "Default Stock Location" }}

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
        user = vendure::USERNAME,
    )
}

async fn post(url: &str, signature: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Kontor-Signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendure_notices_bring_orders_in_and_forgeries_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hook = format!("{base}/hooks/acme/shop");
    let server = VendureServer::start_with_webhook(&hook, SECRET)
        .unwrap_or_else(|e| panic!("cannot start Vendure: {e}"));
    // The demo ERP's prices include tax; so do this shop's.
    let mut admin = server.admin().unwrap();
    let channel = admin.query("{ activeChannel { id } }", json!({})).unwrap();
    admin
        .query(
            "mutation($id: ID!) { updateChannel(input: {id: $id, pricesIncludeTax: true}) { ... on Channel { id } } }",
            json!({"id": channel["activeChannel"]["id"]}),
        )
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kontor.toml");
    std::fs::write(&file, config(dir.path(), &server.url())).unwrap();
    // Secrets by reference, as a production install keeps them.
    std::fs::write(dir.path().join("vendure-password"), vendure::PASSWORD).unwrap();
    std::fs::write(dir.path().join("webhook-secret"), format!("{SECRET}\n")).unwrap();
    let served = Served::start(&file, Some(listener)).await;
    let app = &served.app;

    // The shop gets the ERP's goods.
    for flow in ["catalogue", "prices", "stock"] {
        app.store
            .enqueue(app.flow(None, flow).unwrap().start_job())
            .await
            .unwrap();
        served.settle().await;
    }

    // A shopper orders; the plugin tells Kontor, which imports the order at once.
    let code = server
        .place_order(&[("MUG-450", 2)], &Checkout::default())
        .unwrap();
    let erp = served.memory.get("acme", "erp").unwrap();
    support::eventually_within(
        "the order in the ERP",
        Duration::from_secs(30),
        async || !erp.sales_for(&code).is_empty() && served.idle().await,
    )
    .await;
    assert_eq!(erp.sales_for(&code).len(), 1, "{code} reached the ERP once");
    let polls = app
        .store
        .list_jobs(&JobFilter {
            kind: Some("orders.poll".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(polls.is_empty(), "no poll ran: {polls:?}");

    // The same notice again (a replay, or the plugin's retry): nothing new.
    let order_id = admin
        .query(
            "query($code: String!) { orders(options: {filter: {code: {eq: $code}}}) { items { id } } }",
            json!({"code": code}),
        )
        .unwrap()["orders"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let notice =
        json!({"id": "n-1", "event": "order.placed", "order_id": order_id, "order_code": code})
            .to_string();
    let now = chrono::Utc::now().timestamp();
    let signed = kontor_connectors::vendure::sign(SECRET, now, notice.as_bytes());
    for _ in 0..2 {
        let (status, body) = post(&hook, Some(&signed), &notice).await;
        assert_eq!((status, body["accepted"].clone()), (202, json!(1)));
    }
    served.settle().await;
    assert_eq!(erp.sales_for(&code).len(), 1, "a replay creates nothing");

    // Forged, unsigned, stale: 401 with a stable code; nothing queued.
    let forged = kontor_connectors::vendure::sign("a guess", now, notice.as_bytes());
    let stale = kontor_connectors::vendure::sign(SECRET, now - 3600, notice.as_bytes());
    for signature in [Some(forged.as_str()), None, Some(stale.as_str())] {
        let (status, body) = post(&hook, signature, &notice).await;
        assert_eq!(status, 401, "{signature:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_signature");
    }
    // No such tenant, no such connection, a connection without webhooks: one answer,
    // so strangers learn nothing of which tenants and connections exist.
    let mut answers = Vec::new();
    for path in ["nobody/erp", "acme/nope", "acme/erp"] {
        answers.push(post(&format!("{base}/hooks/{path}"), Some(&signed), &notice).await);
    }
    assert_eq!(answers[0].0, 404);
    assert_eq!(answers[0].1["error"]["code"], "not_found");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kontor_webhooks_total")
                && l.contains("outcome=\"refused\"")
                && l.ends_with(" 3")),
        "{metrics}"
    );

    served.stop().await;
}
