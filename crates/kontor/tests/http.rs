#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The HTTP server, spawned in-process on a random port.

mod support;

use std::time::Duration;

use support::app::Served;
use support::{MEMORY_CONFIG, Workspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_status_answer_while_orders_flow() {
    let ws = Workspace::new(&MEMORY_CONFIG.replace(
        "enabled = false",
        "listen = \"127.0.0.1:0\"\n\n[server.auth]\nlocal_trust = true",
    ));
    ws.seed(5);
    let served = Served::start(&ws.config(), None).await;
    let (app, base) = (&served.app, served.base.clone());

    app.store
        .enqueue(app.flow(None, "orders").unwrap().start_job())
        .await
        .unwrap();
    let erp = served.memory.get("acme", "erp").unwrap();
    let imported = || async {
        app.store
            .list_jobs(&kontor_engine::JobFilter {
                kind: Some("orders.import".into()),
                states: vec![kontor_engine::JobState::Succeeded],
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    };
    for _ in 0..300 {
        if imported().await == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(erp.sales().len(), 5);

    let health: serde_json::Value = reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = reqwest::get(format!("{base}/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("kontor_jobs_finished_total{kind=\"orders.import\",outcome=\"succeeded\"} 5"),
        "{metrics}"
    );
    let status: serde_json::Value = reqwest::get(format!("{base}/api/v1/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["store"], "sqlite");
    assert_eq!(status["tenants"][0]["tenant"], "acme");
    assert_eq!(status["tenants"][0]["flows"].as_array().unwrap().len(), 3);

    let today = chrono::Utc::now().date_naive();
    let report: serde_json::Value = reqwest::get(format!(
        "{base}/api/v1/tenants/acme/reports/sales?from={today}&to={today}"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(report["totals"][0]["orders"], 5);
    let missing = reqwest::get(format!("{base}/api/v1/tenants/acme/reports/sales"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let error: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_query");
    let reversed: serde_json::Value = reqwest::get(format!(
        "{base}/api/v1/tenants/acme/reports/sales?from={today}&to=2000-01-01"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        (
            reversed["error"]["code"].as_str(),
            reversed["error"]["field"].as_str()
        ),
        (Some("invalid_range"), Some("to"))
    );

    // The docs page is served from the binary (no CDN), and reads the document.
    let docs = reqwest::get(format!("{base}/api/docs/")).await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let initializer = reqwest::get(format!("{base}/api/docs/swagger-initializer.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api/v1/openapi.json"),
        "{initializer}"
    );

    tokio::time::timeout(Duration::from_secs(10), served.stop())
        .await
        .unwrap();
}
