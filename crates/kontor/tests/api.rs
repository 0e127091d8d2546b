#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! The API as callers meet it: `kontor` on a random port, a test OIDC issuer whose keys
//! are generated here, two tenants (`acme`, `beta`) each with a memory ERP and shop and
//! an `api` connection taking orders.
//!
//! Proven here: tokens that are missing, expired, for another audience or signed by
//! another key get 401; a viewer cannot retry a job (403); every route of the OpenAPI
//! document answers its own tenant's caller, and none serves tenant beta's data to
//! tenant acme's key or token; an order submitted twice with one Idempotency-Key is one
//! order, in the ERP once.

mod support;

use std::collections::BTreeSet;

use kontor_connector::PaymentSink;
use kontor_connectors::memory::{MemorySystem, OrderGenerator, SellableItem};
use kontor_engine::JobState;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::app::TestApp;
use support::issuer::SigningKey;

/// An order a shop would place, for products the tenant's ERP sells.
fn order(erp: &MemorySystem, seed: u64) -> Value {
    let mut generator = OrderGenerator::new(seed, SellableItem::from_system(erp));
    let mut order = generator.next_order(chrono::Utc::now()).unwrap();
    // The shop numbers its orders; here the portal does.
    order.id = format!("portal-{seed}");
    order.number = format!("P-{seed}");
    serde_json::to_value(order).unwrap()
}

async fn submit(
    server: &TestApp,
    tenant: &str,
    credential: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    server
        .http
        .post(format!("{}/api/v1/tenants/{tenant}/orders", server.base))
        .bearer_auth(credential)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_and_a_viewer_cannot_retry_a_job() {
    let server = TestApp::spawn().await;
    let jobs = "/api/v1/tenants/acme/jobs";

    let (status, body) = server.call(Method::GET, jobs, None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );

    let now = chrono::Utc::now().timestamp();
    let signed = |change: &dyn Fn(&mut Value)| {
        let mut claims = server.issuer.claims(&["Kontor.Admin"]);
        claims["groups"] = json!(["group-acme"]);
        change(&mut claims);
        server.key.sign(&claims)
    };
    let impostor = SigningKey::generate("key-1"); // the issuer's key id, other key material
    let mut impostor_claims = server.issuer.claims(&["Kontor.Admin"]);
    impostor_claims["groups"] = json!(["group-acme"]);
    let refused = [
        (
            "expired",
            signed(&|c| {
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 7200);
                c["nbf"] = json!(now - 7200);
            }),
        ),
        (
            "wrong audience",
            signed(&|c| c["aud"] = json!("api://someone-else")),
        ),
        (
            "wrong issuer",
            signed(&|c| c["iss"] = json!("https://login.example/other/v2.0")),
        ),
        ("wrong signature", impostor.sign(&impostor_claims)),
        ("not a token", "hello".to_owned()),
        (
            "unknown API key",
            "kontor_0123456789ab_00000000000000000000000000000000".to_owned(),
        ),
    ];
    for (case, credential) in &refused {
        let response = server
            .http
            .get(format!("{}{jobs}", server.base))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{case}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token", "{case}: {body}");
    }
    let good = signed(&|_| {});
    assert_eq!(server.get(jobs, &good).await.0, StatusCode::OK);

    let parked = server.parked_job("acme").await;
    let retry = format!("/api/v1/tenants/acme/jobs/{parked}/retry");
    let viewer = server.token(&["Kontor.Viewer"], &["group-acme"]);
    let (status, body) = server.call(Method::POST, &retry, Some(&viewer), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{body}"
    );
    let (_, viewer_key_id) = server.api_key("acme", "viewer").await;
    let (viewer_key, _) = server.api_key("acme", "viewer").await;
    assert_eq!(
        server
            .call(Method::POST, &retry, Some(&viewer_key), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let shop_key = server.api_key("acme", "shop").await.0;
    assert_eq!(
        server.get(jobs, &shop_key).await.0,
        StatusCode::FORBIDDEN,
        "a shop key sees no operations"
    );
    assert_eq!(
        server
            .get("/api/v1/tenants/acme/products", &shop_key)
            .await
            .0,
        StatusCode::OK
    );
    let job = server
        .app
        .store
        .get_job(parked, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.state,
        JobState::Parked,
        "the refused retries changed nothing"
    );

    let operator = server.token(&["Kontor.Operator"], &["group-acme"]);
    let (status, body) = server
        .call(Method::POST, &retry, Some(&operator), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["attempts"], 0);

    // A revoked key stops working at once.
    let admin = server.token(&["Kontor.Admin"], &["group-acme"]);
    let revoke = format!("/api/v1/tenants/acme/api-keys/{viewer_key_id}");
    assert_eq!(
        server
            .call(Method::DELETE, &revoke, Some(&admin), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .call(Method::DELETE, &revoke, Some(&admin), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (keys_status, keys) = server.get("/api/v1/tenants/acme/api-keys", &admin).await;
    assert_eq!(keys_status, StatusCode::OK);
    assert!(
        !keys.to_string().contains("secret"),
        "no secret or hash is shown: {keys}"
    );
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == viewer_key_id.as_str() && k["revoked_at"].is_string())
    );
    assert_eq!(
        server.get(jobs, &viewer_key).await.0,
        StatusCode::OK,
        "the other key still works"
    );
    server.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_twice_is_one_order_in_the_erp() {
    let server = TestApp::spawn().await;
    let shop_key = server.api_key("acme", "shop").await.0;
    let erp = server.erp("acme");
    let body = order(&erp, 7);
    let number = body["number"].as_str().unwrap().to_owned();

    let first = submit(&server, "acme", &shop_key, "order-7", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = submit(&server, "acme", &shop_key, "order-7", &body).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a retry answers the first result"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["submitted_at"], again["submitted_at"]);
    assert_eq!(first["id"], again["id"]);

    let mut changed = body.clone();
    changed["note"] = json!("another order under the same key");
    let reused = submit(&server, "acme", &shop_key, "order-7", &changed).await;
    assert_eq!(reused.status(), StatusCode::CONFLICT);
    let reused: Value = reused.json().await.unwrap();
    assert_eq!(reused["error"]["code"], "idempotency_conflict");
    let other_key = submit(&server, "acme", &shop_key, "order-7-bis", &body).await;
    assert_eq!(other_key.status(), StatusCode::CONFLICT);
    let missing_key = server
        .http
        .post(format!("{}/api/v1/tenants/acme/orders", server.base))
        .bearer_auth(&shop_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_key.status(), StatusCode::BAD_REQUEST);
    let missing_key: Value = missing_key.json().await.unwrap();
    assert_eq!(missing_key["error"]["field"], "Idempotency-Key");
    let mut invalid = body.clone();
    invalid["currency"] = json!("zł");
    let invalid: Value = submit(&server, "acme", &shop_key, "bad", &invalid)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invalid["error"]["code"], "invalid_body", "{invalid}");

    server
        .until("the order in the ERP", async || {
            erp.sales_for(&number).len() == 1
        })
        .await;
    let path = format!(
        "/api/v1/tenants/acme/orders/{}",
        first["id"].as_str().unwrap()
    );
    server
        .until("the order's links", async || {
            server.get(&path, &shop_key).await.1["state"] == "in_erp"
        })
        .await;
    // A poll of the inbox finds the same order and makes nothing new: once it and
    // whatever it queued have run, the ERP still has the order once.
    let poll = server
        .app
        .store
        .enqueue(
            server
                .app
                .flow(Some("acme"), "portal_orders")
                .unwrap()
                .start_job(),
        )
        .await
        .unwrap()
        .job_id();
    server.until_state(poll, JobState::Succeeded).await;
    server
        .until("the poll's work done", async || {
            server
                .app
                .store
                .list_jobs(&kontor_engine::JobFilter {
                    tenant: Some("acme".into()),
                    flow: Some("portal_orders".into()),
                    states: vec![JobState::Pending, JobState::Running],
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    assert_eq!(
        erp.sales_for(&number).len(),
        1,
        "one order, in the ERP once"
    );
    let viewer = server.api_key("acme", "viewer").await.0;
    let (status, imported) = server.get("/api/v1/tenants/acme/orders", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    let numbers: Vec<&str> = imported["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["order"]["number"].as_str())
        .collect();
    assert_eq!(numbers, [number.as_str()], "Kontor imported it once");
    assert_eq!(imported["items"][0]["channel"], "portal");
    server.shutdown.cancel();
}

/// Values for the path parameters of beta's routes, and a body for each operation that
/// takes one: everything the routes need to succeed for beta's own caller.
struct BetaData {
    params: Vec<(&'static str, String)>,
    /// Strings only beta's data contains.
    secrets: Vec<String>,
    /// Parked jobs, one per operation that revives or skips one.
    parked: Vec<i64>,
    order: Value,
}

async fn beta_data(server: &TestApp, beta_admin: &str) -> BetaData {
    let erp = server.erp("beta");
    // An order through the API into beta's ERP, invoiced and shipped there, and the
    // invoice synced by the invoices flow.
    let submitted = order(&erp, 99);
    let number = submitted["number"].as_str().unwrap().to_owned();
    let order_id = submitted["id"].as_str().unwrap().to_owned();
    assert_eq!(
        submit(server, "beta", beta_admin, "beta-1", &submitted)
            .await
            .status(),
        StatusCode::CREATED
    );
    server
        .until("beta's order in its ERP", async || {
            erp.sales_for(&number).len() == 1
        })
        .await;
    let status_path = format!("/api/v1/tenants/beta/orders/{order_id}");
    server
        .until("beta's order linked", async || {
            server.get(&status_path, beta_admin).await.1["state"] == "in_erp"
        })
        .await;
    let links = server.get(&status_path, beta_admin).await.1["links"].clone();
    let entity = links[0]["entity_id"].as_str().unwrap().to_owned();
    let sale = erp.sales_for(&number).remove(0);
    let invoice = erp
        .issue_document(&sale.id, kontor_model::InvoiceKind::Invoice)
        .await
        .unwrap();
    erp.ship(&sale.id, None, "DPD", "BETA-TRACK-1").unwrap();
    let invoices = server.app.flow(Some("beta"), "invoices").unwrap();
    server
        .app
        .store
        .enqueue(invoices.start_job())
        .await
        .unwrap();
    server
        .until("beta's invoice synced", async || {
            server
                .app
                .store
                .get_entity("beta", "erp_invoice", &invoice.number)
                .await
                .unwrap()
                .is_some()
        })
        .await;
    let product = erp.products().into_iter().next().unwrap();
    let all_admin = server.token(&["Kontor.Admin"], &["group-all"]);
    let (status, made) = server
        .call(
            Method::PUT,
            "/api/v1/users/bea",
            Some(&all_admin),
            Some(
                json!({ "password": "beta's own password", "role": "viewer", "tenants": ["beta"] }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (_, revocable) = server.api_key("beta", "viewer").await;
    let parked = vec![
        server.parked_job("beta").await,
        server.parked_job("beta").await,
        server.parked_job("beta").await,
    ];
    BetaData {
        secrets: vec![
            order_id.clone(),
            number.clone(),
            invoice.number.clone(),
            revocable.clone(),
            "BETA-TRACK-1".into(),
        ],
        params: vec![
            ("tenant", "beta".into()),
            ("connection", "shop".into()),
            ("order_id", order_id),
            ("number", invoice.number),
            ("code", product.code),
            ("key_id", revocable),
            ("kind", "order".into()),
            ("entity_id", entity),
            ("name", "spare".into()),
            ("username", "bea".into()),
        ],
        parked,
        order: order(&erp, 100),
    }
}

/// The document's operations: (method, path template).
fn operations(document: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            operations.push((method, path.clone()));
        }
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_serves_its_own_tenant_and_none_serves_another() {
    let server = TestApp::spawn().await;
    let (_, document) = server
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(document["openapi"], "3.1.0");
    let operations = operations(&document);
    assert!(operations.len() >= 25, "{operations:?}");

    let beta_admin = server.api_key("beta", "admin").await.0;
    let beta = beta_data(&server, &beta_admin).await;
    let acme_key = server.api_key("acme", "admin").await.0;
    let acme_token = server.token(&["Kontor.Admin"], &["group-acme"]);
    let mut parked = beta.parked.clone().into_iter();
    let mut served = BTreeSet::new();

    for (method, template) in &operations {
        let mut path = template.clone();
        for (name, value) in &beta.params {
            // Invoice numbers have slashes (FV/1/2026): one path segment, encoded.
            path = path.replace(&format!("{{{name}}}"), &value.replace('/', "%2F"));
        }
        if template.contains("{job_id}") {
            let id = if template.ends_with("/retry")
                || template.ends_with("/skip")
                || template.ends_with("/edit-and-retry")
            {
                parked.next().unwrap()
            } else {
                beta.parked[0]
            };
            path = path.replace("{job_id}", &id.to_string());
        }
        assert!(
            !path.contains('{'),
            "a parameter of {template} has no test value"
        );
        let revision = server
            .app
            .store
            .tenant_config("beta")
            .await
            .unwrap()
            .unwrap()
            .revision;
        let body = match (method.as_str(), template.rsplit('/').next().unwrap()) {
            // Nothing of beta's is revived here: the parked jobs are for the routes below.
            ("POST", "retry") if template.ends_with("/jobs/retry") => Some(json!({ "ids": [0] })),
            ("PUT", "mappings") => Some(json!({
                "revision": revision,
                "mappings": { "warehouses": { "MAIN": "default" }, "payment_methods": { "card": "KARTA" } }
            })),
            ("PUT", "{name}") => {
                Some(json!({ "revision": revision, "connection": { "type": "memory" } }))
            }
            ("POST", "skip") => Some(json!({ "reason": "a test" })),
            ("POST", "session") => {
                Some(json!({ "username": "bea", "password": "beta's own password" }))
            }
            ("PUT", "{username}") => Some(json!({
                "password": "beta's own password", "role": "viewer", "tenants": ["beta"]
            })),
            ("POST", "edit-and-retry") => Some(json!({ "payload": { "n": 2 } })),
            ("POST", "api-keys") => Some(json!({ "name": "ci", "role": "viewer" })),
            _ => None,
        };
        let query = if template.ends_with("/reports/sales") {
            let today = chrono::Utc::now().date_naive();
            format!("?from={today}&to={today}")
        } else if template.ends_with("/entities") {
            "?q=BETA-TRACK-1".to_owned()
        } else if *method == Method::DELETE && template.contains("/connections/") {
            format!("?revision={revision}")
        } else {
            String::new()
        };
        let url = format!("{}{path}{query}", server.base);

        // Tenant acme's key and token, as admin: nothing of beta's.
        for credential in [&acme_key, &acme_token] {
            let mut request = server
                .http
                .request(method.clone(), &url)
                .bearer_auth(credential);
            if *method == Method::POST && template.ends_with("/orders") {
                request = request
                    .header("Idempotency-Key", "acme-tries-beta")
                    .json(&beta.order);
            } else if template.starts_with("/hooks/") {
                request = request.json(&json!({ "id": 1 }));
            } else if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            for secret in &beta.secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{method} {template} showed beta's `{secret}` to acme: {text}"
                );
            }
            if template.contains("{tenant}") {
                assert!(
                    matches!(status, StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED),
                    "{method} {template} answered {status} to acme for beta: {text}"
                );
            } else if template == "/api/v1/status" {
                let status: Value = serde_json::from_str(&text).unwrap();
                let tenants: Vec<&str> = status["tenants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["tenant"].as_str().unwrap())
                    .collect();
                assert_eq!(tenants, ["acme"]);
                assert!(
                    status["queue"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|c| c["tenant"] == "acme")
                );
            }
        }
        // Beta's own admin: the route works.
        if template.starts_with("/hooks/") {
            // Deliveries are signed by the platform, not by callers; covered by the
            // webhook tests. Here: acme's credentials opened nothing.
            served.insert((method.clone(), template.clone()));
            continue;
        }
        let mut request = server
            .http
            .request(method.clone(), &url)
            .bearer_auth(&beta_admin);
        if *method == Method::POST && template.ends_with("/orders") {
            request = request
                .header("Idempotency-Key", "beta-2")
                .json(&beta.order);
        } else if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "{method} {template} answered {status} to beta's admin: {text}"
        );
        served.insert((method.clone(), template.clone()));
    }
    assert_eq!(
        served.len(),
        operations.len(),
        "every route in the document was exercised"
    );
    let submitted = server
        .app
        .store
        .submitted_orders_after("beta", "portal", 0, 100)
        .await
        .unwrap();
    let keys: Vec<&str> = submitted
        .iter()
        .map(|s| s.idempotency_key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["beta-1", "beta-2"],
        "acme's submissions to beta were all refused"
    );
    server.shutdown.cancel();
}

/// The document passes the reference validator (openapi-spec-validator, installed by
/// `scripts/openapi/install`), and names a parameter for every `{…}` of every path.
#[test]
fn the_openapi_document_validates() {
    let document = kontor::server::api::openapi();
    let json = serde_json::to_value(&document).unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let named: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .collect();
            assert_eq!(declared, named, "{method} {path}");
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
    let validator = support::installed("openapi");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let checked = std::process::Command::new(validator.trim())
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The console's configuration routes: a parked order for a SKU the ERP does not know is
/// fixed by mapping the SKU — refused for a viewer, refused against a stale revision or
/// with a blank code, accepted with a warning for a SKU the ERP lacks — and its retry
/// then succeeds with the mapped product, without a restart. Connections are changed by
/// admins only, one a flow uses cannot be removed, and "test connection" says what works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_fixed_through_the_api_lets_a_parked_order_through_at_once() {
    let server = TestApp::spawn().await;
    let erp = server.erp("acme");
    let shop_key = server.api_key("acme", "shop").await.0;
    let viewer = server.token(&["Kontor.Viewer"], &["group-acme"]);
    let operator = server.token(&["Kontor.Operator"], &["group-acme"]);
    let admin = server.token(&["Kontor.Admin"], &["group-acme"]);

    let mut body = order(&erp, 21);
    let real_sku = body["lines"][0]["sku"].as_str().unwrap().to_owned();
    body["lines"][0]["sku"] = json!("OLD-MUG");
    let number = body["number"].as_str().unwrap().to_owned();
    assert_eq!(
        submit(&server, "acme", &shop_key, "old-mug", &body)
            .await
            .status(),
        StatusCode::CREATED
    );
    let parked_path = "/api/v1/tenants/acme/jobs?state=parked&error_code=unknown_sku";
    server
        .until("the order parked for its SKU", async || {
            server.get(parked_path, &viewer).await.1["items"]
                .as_array()
                .is_some_and(|items| items.len() == 1)
        })
        .await;
    let parked = server.get(parked_path, &viewer).await.1["items"][0]["id"]
        .as_i64()
        .unwrap();
    // The error inbox groups it by reason, with what a fix needs.
    let (status, inbox) = server.get("/api/v1/tenants/acme/inbox", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let group = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == "unknown_sku")
        .unwrap();
    assert_eq!(
        (group["count"].as_i64(), group["kind"].as_str()),
        (Some(1), Some("orders.import"))
    );
    assert_eq!(group["flow"], "portal_orders");
    assert_eq!(group["details"]["skus"], json!(["OLD-MUG"]));
    assert!(group["message"].as_str().unwrap().contains("OLD-MUG"));
    let (_, dashboard) = server
        .get("/api/v1/tenants/acme/dashboard?hours=6", &viewer)
        .await;
    let card = dashboard["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "portal_orders")
        .unwrap();
    assert_eq!(
        (card["kind"].as_str(), card["parked"].as_i64()),
        (Some("orders"), Some(1))
    );
    assert_eq!(
        dashboard["slot_seconds"], 420,
        "6 hours in slots of 7 minutes"
    );
    let (status, _) = server
        .get("/api/v1/tenants/acme/dashboard?hours=0", &viewer)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, config) = server.get("/api/v1/tenants/acme/config", &viewer).await;
    assert_eq!(status, StatusCode::OK, "{config}");
    assert_eq!(config["running"], true);
    assert_eq!(config["connections"]["erp"]["kind"], "memory");
    assert!(
        config["connections"]["erp"]["used_by"]
            .as_array()
            .unwrap()
            .contains(&json!("portal_orders"))
    );
    let revision = config["revision"].as_i64().unwrap();
    let mappings = "/api/v1/tenants/acme/config/mappings";
    let change = |revision: i64, sku: Value| json!({ "revision": revision, "mappings": { "warehouses": { "MAIN": "default" }, "sku": sku } });
    let put = async |credential: &str, body: Value| {
        server
            .call(Method::PUT, mappings, Some(credential), Some(body))
            .await
    };

    let (status, refused) = put(&viewer, change(revision, json!({"OLD-MUG": real_sku}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, stale) = put(
        &operator,
        change(revision - 1, json!({"OLD-MUG": real_sku})),
    )
    .await;
    assert_eq!(
        (status, stale["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("revision_conflict")),
        "{stale}"
    );
    let (status, blank) = put(&operator, change(revision, json!({"OLD-MUG": " "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{blank}");
    assert_eq!(blank["error"]["code"], "invalid_config");
    assert_eq!(blank["error"]["field"], "mappings.sku.OLD-MUG");
    assert_eq!(
        blank["error"]["details"]["problems"][0]["key"],
        "mappings.sku.OLD-MUG"
    );
    let (status, unknown_table) = put(
        &operator,
        json!({ "revision": revision, "mappings": { "colours": {} } }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{unknown_table}");
    assert_eq!(unknown_table["error"]["field"], "mappings.colours");
    assert!(
        unknown_table["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colours"),
        "{unknown_table}"
    );

    // Mapped to a SKU the ERP lacks: accepted, with a warning; the order still waits.
    let (status, missing) = put(&operator, change(revision, json!({"OLD-MUG": "NO-SUCH"}))).await;
    assert_eq!(status, StatusCode::OK, "{missing}");
    assert!(
        missing["warnings"][0].as_str().unwrap().contains("NO-SUCH"),
        "{missing}"
    );
    let revision = missing["config"]["revision"].as_i64().unwrap();
    let (status, fixed) = put(&operator, change(revision, json!({"OLD-MUG": real_sku}))).await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert_eq!(fixed["warnings"], json!([]));
    assert_eq!(fixed["config"]["revision"], revision + 1);
    assert_eq!(fixed["config"]["running"], true);
    assert_eq!(
        fixed["config"]["config"]["mappings"]["sku"]["OLD-MUG"],
        real_sku.as_str()
    );

    let retry = format!("/api/v1/tenants/acme/jobs/{parked}/retry");
    let (status, retried) = server
        .call(Method::POST, &retry, Some(&operator), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    server.until_state(parked, JobState::Succeeded).await;
    let sale = erp.sales_for(&number).remove(0);
    assert!(
        sale.lines.iter().any(|l| l.sku == real_sku),
        "the sale has the mapped product"
    );
    let (_, inbox) = server.get("/api/v1/tenants/acme/inbox", &viewer).await;
    assert_eq!(inbox, json!([]), "nothing parked any more");
    let bulk = "/api/v1/tenants/acme/jobs/retry";
    let (status, _) = server
        .call(
            Method::POST,
            bulk,
            Some(&viewer),
            Some(json!({ "code": "unknown_sku" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, retried) = server
        .call(
            Method::POST,
            bulk,
            Some(&operator),
            Some(json!({ "code": "unknown_sku" })),
        )
        .await;
    assert_eq!(
        (status, retried["retried"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let (status, _) = server
        .call(Method::POST, bulk, Some(&operator), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a bulk retry says what");

    // The order across systems: found by its number, linked in both, with its history.
    let (_, hits) = server
        .get(
            &format!("/api/v1/tenants/acme/entities?q={number}"),
            &viewer,
        )
        .await;
    assert_eq!(hits[0]["kind"], "order", "{hits}");
    let entity = hits[0]["entity_id"].as_str().unwrap();
    let (status, view) = server
        .get(
            &format!("/api/v1/tenants/acme/entities/order/{entity}"),
            &viewer,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let systems: Vec<&str> = view["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["erp", "portal"]);
    assert!(
        view["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == parked && j["state"] == "succeeded"),
        "{view}"
    );
    let (_, dashboard) = server.get("/api/v1/tenants/acme/dashboard", &viewer).await;
    let created: i64 = dashboard["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["created"].as_i64().unwrap())
        .sum();
    assert_eq!(created, 1, "one order reached the ERP");
    let today = chrono::Utc::now().date_naive();
    let csv = server
        .http
        .get(format!(
            "{}/api/v1/tenants/acme/reports/sales?from={today}&to={today}&format=csv",
            server.base
        ))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("day,channel,currency,orders,units,gross,tax\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // Test connection: the saved ERP works; settings that cannot work say why.
    let test = "/api/v1/tenants/acme/connections/erp/test";
    let (status, tested) = server.call(Method::POST, test, Some(&operator), None).await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    let steps: Vec<&str> = tested["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["settings", "reach", "capabilities"]);
    let unreachable = json!({ "connection": {
        "type": "tryton", "url": "http://127.0.0.1:9", "database": "x",
        "username": "kontor", "password": { "value": "secret-xyz" }
    }});
    let (status, tested) = server
        .call(Method::POST, test, Some(&operator), Some(unreachable))
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], false);
    assert_eq!(tested["steps"][0]["ok"], true);
    assert_eq!(tested["steps"][1]["step"], "reach");
    assert_eq!(tested["steps"][1]["ok"], false, "{tested}");
    assert!(
        !tested.to_string().contains("secret-xyz"),
        "no secret in the answer"
    );
    let (status, tested) = server
        .call(
            Method::POST,
            test,
            Some(&operator),
            Some(json!({ "connection": { "type": "tryton", "url": "http://127.0.0.1:9" } })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{tested}");
    assert!(
        tested["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database"),
        "{tested}"
    );

    // Connections: admins only; one in use stays.
    let revision = fixed["config"]["revision"].as_i64().unwrap();
    let extra = "/api/v1/tenants/acme/config/connections/extra";
    let add = json!({ "revision": revision, "connection": { "type": "memory", "latency": "1ms" } });
    assert_eq!(
        server
            .call(Method::PUT, extra, Some(&operator), Some(add.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, added) = server
        .call(Method::PUT, extra, Some(&admin), Some(add))
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["config"]["connections"]["extra"]["kind"], "memory");
    let revision = added["config"]["revision"].as_i64().unwrap();
    let (status, in_use) = server
        .call(
            Method::DELETE,
            &format!("/api/v1/tenants/acme/config/connections/erp?revision={revision}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{in_use}");
    assert!(
        in_use["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("flows."),
        "{in_use}"
    );

    // Configuration another process writes to the store (`kontor config apply`) runs
    // within `config_poll`, without a restart.
    let stored = server
        .app
        .store
        .tenant_config("acme")
        .await
        .unwrap()
        .unwrap();
    let mut document = stored.document.clone();
    document["mappings"]["sku"]["OTHER-MUG"] = json!(real_sku);
    let written = server
        .app
        .store
        .put_tenant_config("acme", &document, Some(stored.revision))
        .await
        .unwrap();
    server
        .until("the running tenant to take the new revision", async || {
            server.app.tenant("acme").unwrap().revision == written
        })
        .await;
    server.shutdown.cancel();
}

/// The `name=value` of a `Set-Cookie` header named `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The console's sign-ins: a local account's password or the OIDC issuer starts a
/// session (an HttpOnly cookie); a change made with it needs its CSRF token; signing
/// out, or a new password, ends it; guessing passwords is slowed down; admins manage
/// accounts only within their tenants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_from_a_password_or_the_issuer_and_their_csrf_token() {
    let server = TestApp::spawn().await;
    let admin = server.token(&["Kontor.Admin"], &["group-acme"]);
    let account = |password: &str, role: &str, tenants: Value| json!({ "password": password, "role": role, "tenants": tenants });
    let put_user = async |who: &str, name: &str, body: Value| {
        server
            .call(
                Method::PUT,
                &format!("/api/v1/users/{name}"),
                Some(who),
                Some(body),
            )
            .await
    };
    let (status, made) = put_user(
        &admin,
        "anna",
        account("correct horse battery", "viewer", json!(["acme"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(
        !made.to_string().contains("argon2"),
        "no hash shown: {made}"
    );
    let (status, weak) = put_user(
        &admin,
        "olek",
        account("short", "operator", json!(["acme"])),
    )
    .await;
    assert_eq!(
        (status, weak["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    let (status, _) = put_user(
        &admin,
        "olek",
        account("long enough password", "shop", json!(["acme"])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "shop is for machines");
    let (status, _) = put_user(
        &admin,
        "olek",
        account("long enough password", "operator", json!(["beta"])),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "acme's admin cannot give beta"
    );
    assert_eq!(
        put_user(
            &admin,
            "olek",
            account("long enough password", "operator", json!(["acme"]))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let all_admin = server.token(&["Kontor.Admin"], &["group-all"]);
    assert_eq!(
        put_user(
            &all_admin,
            "bea",
            account("beta's own password", "admin", json!(["beta"]))
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let (_, listed) = server.get("/api/v1/users", &admin).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["anna", "olek"],
        "acme's admin does not see beta's accounts"
    );
    assert_eq!(
        server
            .call(Method::DELETE, "/api/v1/users/bea", Some(&admin), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = async |username: &str, password: &str| {
        plain
            .post(format!("{}/api/v1/session", server.base))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    };
    for (username, password) in [
        ("anna", "wrong password!!"),
        ("nobody", "correct horse battery"),
    ] {
        let refused = sign_in(username, password).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "invalid_credentials",
            "the same for both"
        );
    }
    let signed_in = sign_in("ANNA", "correct horse battery").await;
    assert_eq!(signed_in.status(), StatusCode::CREATED);
    let header = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    let anna = set_cookie(&signed_in, "kontor_session").unwrap();
    let session: Value = signed_in.json().await.unwrap();
    assert_eq!(
        (session["role"].as_str(), session["via"].as_str()),
        (Some("viewer"), Some("session"))
    );
    assert_eq!(session["oidc_sign_in"], true);
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let with_cookie = |method: Method, path: &str, cookie: &str, csrf: Option<&str>| {
        let mut request = plain
            .request(method, format!("{}{path}", server.base))
            .header("cookie", cookie);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
    };
    let current: Value = with_cookie(Method::GET, "/api/v1/session", &anna, None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["subject"], "user:anna");
    assert_eq!(current["csrf_token"], csrf.as_str());
    assert_eq!(
        with_cookie(Method::GET, "/api/v1/tenants/acme/jobs", &anna, None)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        with_cookie(Method::GET, "/api/v1/tenants/beta/jobs", &anna, None)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let parked = server.parked_job("acme").await;
    let retry = format!("/api/v1/tenants/acme/jobs/{parked}/retry");
    let no_csrf = with_cookie(Method::POST, &retry, &anna, None)
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        no_csrf.json::<Value>().await.unwrap()["error"]["code"],
        "csrf_token_missing"
    );
    let viewer_retry = with_cookie(Method::POST, &retry, &anna, Some(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(
        viewer_retry.status(),
        StatusCode::FORBIDDEN,
        "a viewer may not retry"
    );
    assert_eq!(
        viewer_retry.json::<Value>().await.unwrap()["error"]["code"],
        "forbidden"
    );

    let olek_in = sign_in("olek", "long enough password").await;
    let olek = set_cookie(&olek_in, "kontor_session").unwrap();
    let olek_csrf = olek_in.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        with_cookie(Method::POST, &retry, &olek, Some(&csrf))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN,
        "another session's CSRF token does not do"
    );
    assert_eq!(
        with_cookie(Method::POST, &retry, &olek, Some(&olek_csrf))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // A new password ends the account's sessions.
    assert_eq!(
        put_user(
            &admin,
            "olek",
            account("another long password", "operator", json!(["acme"]))
        )
        .await
        .0,
        StatusCode::OK
    );
    let ended = with_cookie(Method::GET, "/api/v1/session", &olek, None)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        ended.json::<Value>().await.unwrap()["error"]["code"],
        "session_expired"
    );
    // Signing out ends the session and clears the cookie.
    let out = with_cookie(Method::DELETE, "/api/v1/session", &anna, None)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookie(&out, "kontor_session").as_deref(),
        Some("kontor_session=")
    );
    assert_eq!(
        with_cookie(Method::GET, "/api/v1/tenants/acme/jobs", &anna, None)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Guessing is slowed down: past ten tries a minute, even the right password waits.
    for _ in 0..10 {
        sign_in("anna", "guess guess guess").await;
    }
    assert_eq!(
        sign_in("anna", "correct horse battery").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Through the issuer: authorization code with PKCE.
    let mut claims = server.issuer.claims(&["Kontor.Operator"]);
    claims["groups"] = json!(["group-acme"]);
    server.issuer.grant(server.key.sign(&claims)).await;
    let started = plain
        .get(format!(
            "{}/console/auth/oidc?return_to=/console/inbox",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert!(started.status().is_redirection(), "{}", started.status());
    let to_issuer = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to_issuer.starts_with(&server.issuer.url.replace("/v2.0", "/oauth2/v2.0/authorize")),
        "{to_issuer}"
    );
    assert!(
        to_issuer.contains("code_challenge_method=S256")
            && to_issuer.contains("client_id=kontor-console")
    );
    let login_state = set_cookie(&started, "kontor_login").unwrap();
    let at_issuer = plain.get(&to_issuer).send().await.unwrap();
    let back = at_issuer.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{}/console/auth/callback?code=", server.base)),
        "{back}"
    );
    // The same answer in another browser (no state cookie) signs nobody in.
    let elsewhere = plain.get(&back).send().await.unwrap();
    assert!(
        elsewhere.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/signin?error=")
    );
    assert_eq!(set_cookie(&elsewhere, "kontor_session"), None);
    let finished = plain
        .get(&back)
        .header("cookie", &login_state)
        .send()
        .await
        .unwrap();
    assert_eq!(finished.headers()["location"], "/console/inbox");
    let through_issuer = set_cookie(&finished, "kontor_session").unwrap();
    let who: Value = with_cookie(Method::GET, "/api/v1/session", &through_issuer, None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["subject"], "operator@acme.example");
    assert_eq!(
        (who["role"].as_str(), who["tenants"].clone()),
        (Some("operator"), json!(["acme"]))
    );
    // A code is good once.
    let replayed = plain
        .get(&back)
        .header("cookie", &login_state)
        .send()
        .await
        .unwrap();
    assert!(
        replayed.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/signin?error=")
    );
    server.shutdown.cancel();
}
