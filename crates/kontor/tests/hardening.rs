#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.
//! What an attacker — a stranger, or an operator or admin of one tenant — tries against
//! a running Kontor with two tenants, and what stops them.

mod support;

use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::app::TestApp;

/// The tests that measure the process's memory run one at a time, and so do the rest
/// here, so that none inflates another's figures.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A place on loopback that keeps every byte sent to it: where an attacker would have
/// Kontor send secrets.
struct Catcher {
    url: String,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Catcher {
    async fn start() -> Catcher {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 {
                            break;
                        }
                        sink.lock().unwrap().extend_from_slice(&buffer[..n]);
                    }
                });
            }
        });
        Catcher { url, received }
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// A sealing key for the tenants' inline secrets, as the machine's administrator
/// configures it.
fn sealing_key() -> String {
    format!(
        "[store.secrets]\nkey = {{ value = \"{}\" }}\n",
        kontor::secrets::new_key().unwrap()
    )
}

async fn revision(app: &TestApp, tenant: &str) -> i64 {
    app.app
        .store
        .tenant_config(tenant)
        .await
        .unwrap()
        .unwrap()
        .revision
}

async fn put_connection(
    app: &TestApp,
    tenant: &str,
    name: &str,
    credential: &str,
    connection: Value,
) -> (StatusCode, Value) {
    let revision = revision(app, tenant).await;
    app.call(
        Method::PUT,
        &format!("/api/v1/tenants/{tenant}/config/connections/{name}"),
        Some(credential),
        Some(json!({ "revision": revision, "connection": connection })),
    )
    .await
}

async fn try_connection(
    app: &TestApp,
    name: &str,
    credential: &str,
    connection: Value,
) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        &format!("/api/v1/tenants/acme/connections/{name}/test"),
        Some(credential),
        Some(json!({ "connection": connection })),
    )
    .await
}

fn refused(answer: &(StatusCode, Value), code: &str, field: &str) {
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
    assert_eq!(answer.1["error"]["field"], field, "{}", answer.1);
}

fn tryton(url: &str, password: Value) -> Value {
    json!({ "type": "tryton", "url": url, "database": "acme", "username": "admin", "password": password })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_configuration_route_reads_a_host_file_a_variable_or_another_tenants_data() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn_with(&sealing_key()).await;
    let catcher = Catcher::start().await;
    let admin = app.token(&["Kontor.Admin"], &["group-acme"]);
    let operator = app.token(&["Kontor.Operator"], &["group-acme"]);

    // What must never leave the host: a variable of the process (Kontor's own) and a
    // file outside every tenant's folder.
    let variable = std::env::var("PATH").unwrap();
    let canary = format!("canary-{}", std::process::id());
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), &canary).unwrap();
    let missing = outside.path().with_extension("missing");

    // 1. env and file secrets, saved by an admin or tried by an operator: refused by
    // name, the same whether the file exists or not, and nothing is sent anywhere.
    let host_references = [
        json!({ "env": "PATH" }),
        json!({ "file": outside.path() }),
        json!({ "file": missing }),
    ];
    let mut answers = Vec::new();
    for secret in &host_references {
        let saved = put_connection(
            &app,
            "acme",
            "ledger",
            &admin,
            tryton(&catcher.url, secret.clone()),
        )
        .await;
        refused(&saved, "secret_refused", "connections.ledger.password");
        let tried =
            try_connection(&app, "erp", &operator, tryton(&catcher.url, secret.clone())).await;
        refused(&tried, "secret_refused", "connections.erp.password");
        answers.push(tried.1["error"]["message"].clone());
    }
    assert_eq!(
        answers[1], answers[2],
        "a file's existence shows in the answer"
    );

    // A secret given as its value is taken, and sealed at rest.
    let legit = Catcher::start().await;
    let saved = put_connection(
        &app,
        "acme",
        "ledger",
        &admin,
        tryton(&legit.url, json!({ "value": "acme-ledger-password" })),
    )
    .await;
    assert_eq!(saved.0, StatusCode::OK, "{}", saved.1);
    let stored = saved.1["config"]["config"]["connections"]["ledger"]["password"].clone();
    assert!(stored["sealed"].is_string(), "{stored}");

    // 2. The saved secret, sent back unchanged, may not be taken to another address.
    let moved = tryton(&catcher.url, stored.clone());
    refused(
        &try_connection(&app, "ledger", &operator, moved.clone()).await,
        "secret_refused",
        "connections.ledger.password",
    );
    refused(
        &put_connection(&app, "acme", "ledger", &admin, moved).await,
        "secret_refused",
        "connections.ledger.password",
    );
    // …nor to another connection.
    refused(
        &put_connection(
            &app,
            "acme",
            "copy",
            &admin,
            tryton(&legit.url, stored.clone()),
        )
        .await,
        "secret_refused",
        "connections.copy.password",
    );

    // 3. Beta's secrets and files are out of reach of acme's admin.
    let beta_admin = app.token(&["Kontor.Admin"], &["group-beta"]);
    let beta_saved = put_connection(
        &app,
        "beta",
        "ledger",
        &beta_admin,
        tryton(&legit.url, json!({ "value": "beta-ledger-password" })),
    )
    .await;
    assert_eq!(beta_saved.0, StatusCode::OK, "{}", beta_saved.1);
    let beta_sealed = beta_saved.1["config"]["config"]["connections"]["ledger"]["password"].clone();
    refused(
        &put_connection(
            &app,
            "acme",
            "ledger",
            &admin,
            tryton(&legit.url, beta_sealed),
        )
        .await,
        "secret_refused",
        "connections.ledger.password",
    );
    let beta_journal = app.app.tenant_dir("beta").join("erp.jsonl");
    std::fs::create_dir_all(beta_journal.parent().unwrap()).unwrap();
    let beta_erp = kontor_connectors::memory::MemorySystem::open("beta", &beta_journal).unwrap();
    kontor_connectors::memory::seed_demo(&beta_erp, 1).unwrap();
    drop(beta_erp);
    let before = std::fs::read(&beta_journal).unwrap();
    for path in [
        json!("../beta/erp.jsonl"),
        json!(beta_journal),
        json!(outside.path()),
        json!("../../kontor.db"),
    ] {
        let answer = put_connection(
            &app,
            "acme",
            "stolen",
            &admin,
            json!({ "type": "memory", "state_file": path }),
        )
        .await;
        refused(&answer, "invalid_config", "connections.stolen.state_file");
        let tried = try_connection(
            &app,
            "stolen",
            &operator,
            json!({ "type": "memory", "state_file": path }),
        )
        .await;
        assert_eq!(tried.1["ok"], false, "{}", tried.1);
    }
    // A journal of acme's own is made in acme's folder, and beta's is untouched.
    let own = put_connection(
        &app,
        "acme",
        "own",
        &admin,
        json!({ "type": "memory", "state_file": "erp.jsonl" }),
    )
    .await;
    assert_eq!(own.0, StatusCode::OK, "{}", own.1);
    assert!(app.app.tenant_dir("acme").join("erp.jsonl").exists());
    assert_eq!(std::fs::read(&beta_journal).unwrap(), before);

    // Nothing was ever sent to the attacker's address, and no answer carried the canary.
    let received = catcher.received();
    assert!(received.is_empty(), "sent to the attacker: {received}");
    assert!(!received.contains(&variable));
    let config = app
        .get("/api/v1/tenants/acme/config", &admin)
        .await
        .1
        .to_string();
    assert!(!config.contains(&canary));
    assert!(!config.contains("beta-ledger-password") && !config.contains("acme-ledger-password"));
}

/// The process's resident memory now, in MiB (Linux).
fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// What `work` gives, and how many MiB the process's resident memory grew at most
/// while it ran (sampled every 2 ms).
async fn peak_growth<T>(work: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = resident_mib();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(resident_mib(), std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    });
    let done = work.await;
    sampling.abort();
    let grew = peak.load(std::sync::atomic::Ordering::SeqCst) - before;
    (done, grew)
}

async fn sign_in(app: &TestApp, from: &str, username: &str, password: &str) -> StatusCode {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().ok())
        .build()
        .unwrap();
    client
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sign_ins_cannot_exhaust_memory_nor_lock_an_operator_out() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let admin = app.token(&["Kontor.Admin"], &["group-acme"]);
    let (status, made) = app
        .call(
            Method::PUT,
            "/api/v1/users/ops",
            Some(&admin),
            Some(json!({ "password": "the operator's own password", "role": "operator", "tenants": ["acme"] })),
        )
        .await;
    assert!(status.is_success(), "{made}");

    // A stranger sends 64 sign-ins at once, each for a made-up account: each would
    // hash a password (~19 MiB apiece). They are refused or answered, and memory stays
    // in bounds.
    let attempts = (0..64).map(|n| {
        let app = &app;
        async move { sign_in(app, "127.0.0.2", &format!("guess-{n}"), "wrong password!").await }
    });
    let (answers, grew) = peak_growth(futures_util::future::join_all(attempts)).await;
    assert!(
        answers
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    assert!(grew < 300, "64 anonymous sign-ins took {grew} MiB more");

    // The stranger guesses the operator's password until refused...
    let mut refused = false;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        if sign_in(&app, "127.0.0.2", "ops", "a wrong guess").await == StatusCode::TOO_MANY_REQUESTS
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "the stranger's guesses were never limited");
    // ...and the operator, from their own address, still signs in.
    assert_eq!(
        sign_in(&app, "127.0.0.1", "ops", "the operator's own password").await,
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_webhook_paths_grow_no_metrics_and_tell_no_tenant_apart() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let post = async |path: &str| {
        let response = app
            .http
            .post(format!("{}/hooks/{path}", app.base))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    for n in 0..2000 {
        let answer = post(&format!("stranger-{n}/conn-{n}")).await;
        assert_eq!(answer.0, StatusCode::NOT_FOUND);
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("stranger-"),
        "made-up paths became series"
    );
    let webhook_series = metrics
        .lines()
        .filter(|l| l.starts_with("kontor_webhooks"))
        .count();
    assert!(webhook_series <= 2, "{webhook_series} series: {metrics}");

    // No such tenant, a tenant's unknown connection, a connection without webhooks.
    let answers = [
        post("nobody/erp").await,
        post("acme/nope").await,
        post("acme/erp").await,
    ];
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
}

/// An order for acme's ERP as a shop would submit it.
fn order(app: &TestApp, seed: u64) -> Value {
    use kontor_connectors::memory::{OrderGenerator, SellableItem};
    let mut generator = OrderGenerator::new(seed, SellableItem::from_system(&app.erp("acme")));
    let mut order = generator.next_order(chrono::Utc::now()).unwrap();
    order.id = format!("portal-{seed}");
    order.number = format!("P-{seed}");
    serde_json::to_value(order).unwrap()
}

async fn submit(
    app: &TestApp,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, Value) {
    let response = app
        .http
        .post(format!("{}/api/v1/tenants/acme/orders", app.base))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("k-{}", body.len()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// POSTs `body` over a plain socket and reads the answer even when the server answers
/// before it has read everything and closes (as it may for a body over the limit: a
/// client library then reports the reset instead of the answer).
async fn post_raw(app: &TestApp, path: &str, key: &str, body: &[u8]) -> (StatusCode, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Idempotency-Key: raw\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = body.to_vec();
    let sending = tokio::spawn(async move {
        // The server may stop reading and close first: that is what is tested.
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
    });
    let mut answer = Vec::new();
    let _ = reader.read_to_end(&mut answer).await;
    sending.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body.trim()).ok())
        .unwrap_or(Value::String(text.clone()));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_too_large_or_not_json_get_structured_errors() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let (shop, _) = app.api_key("acme", "shop").await;
    let big = vec![b' '; 3 * 1024 * 1024];
    let answer = post_raw(&app, "/api/v1/tenants/acme/orders", &shop, &big).await;
    assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], "body_too_large");
    let hook = post_raw(&app, "/hooks/acme/portal", &shop, &big).await;
    assert_eq!(hook.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", hook.1);
    assert_eq!(hook.1["error"]["code"], "body_too_large");

    let order = serde_json::to_vec(&order(&app, 1)).unwrap();
    let answer = submit(&app, &shop, order, "text/plain").await;
    assert_eq!(answer.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], "unsupported_media_type");
    let admin = app.token(&["Kontor.Admin"], &["group-acme"]);
    let mappings = app
        .http
        .put(format!("{}/api/v1/tenants/acme/config/mappings", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(mappings.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let unknown = app.get("/api/v1/no/such/route", &admin).await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert_eq!(unknown.1["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_no_erp_should_get_is_refused_naming_the_field() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let (shop, _) = app.api_key("acme", "shop").await;
    type Spoil = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("id", Box::new(|o| o["id"] = json!("x".repeat(300)))),
        ("number", Box::new(|o| o["number"] = json!("P-1\u{0}"))),
        (
            "lines[0].sku",
            Box::new(|o| o["lines"][0]["sku"] = json!("SKU\u{1b}[2J")),
        ),
        (
            "lines[0].unit_price.amount",
            Box::new(|o| o["lines"][0]["unit_price"]["amount"] = json!("1e2")),
        ),
        (
            "lines[0].quantity",
            Box::new(|o| o["lines"][0]["quantity"] = json!("1_0")),
        ),
        (
            "lines[0].tax_rate",
            Box::new(|o| o["lines"][0]["tax_rate"] = json!("150")),
        ),
        (
            "lines[0].unit_price.amount",
            Box::new(|o| o["lines"][0]["unit_price"]["amount"] = json!("10.005")),
        ),
        (
            "totals.total.amount",
            Box::new(|o| o["totals"]["total"]["amount"] = json!(12.5)),
        ),
    ];
    for (n, (field, change)) in cases.iter().enumerate() {
        let mut body = order(&app, 100 + n as u64);
        change(&mut body);
        let answer = submit(
            &app,
            &shop,
            serde_json::to_vec(&body).unwrap(),
            "application/json",
        )
        .await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{field}: {}", answer.1);
        assert_eq!(answer.1["error"]["field"], *field, "{}", answer.1);
    }
    assert!(app.erp("acme").sales().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_order_costs_about_what_it_weighs() {
    let _alone = SERIAL.lock().await;
    let app = TestApp::spawn().await;
    let (shop, _) = app.api_key("acme", "shop").await;
    // Near the 2 MiB limit: thousands of lines with long names.
    let mut body = order(&app, 7);
    let line = body["lines"][0].clone();
    let lines: Vec<Value> = (0..4_000)
        .map(|i| {
            let mut line = line.clone();
            line["id"] = json!(format!("line-{i}"));
            line["name"] = json!(format!("{i} {}", "a long product name ".repeat(16)));
            line
        })
        .collect();
    body["lines"] = json!(lines);
    let bytes = serde_json::to_vec(&body).unwrap();
    assert!(
        bytes.len() > 1_500_000 && bytes.len() < 2 * 1024 * 1024,
        "{}",
        bytes.len()
    );

    // Read, checked and kept: what is measured. (Its totals do not add up, so the
    // orders flow will park it later; that is not measured here.)
    let (answer, grew) = peak_growth(submit(&app, &shop, bytes, "application/json")).await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.1);
    assert!(grew < 50, "a 1.9 MB order took {grew} MiB more");
}
