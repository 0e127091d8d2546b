//! Kontor in-process on a free port, as the API's callers meet it: two tenants, each
//! with a memory ERP and shop and an `api` connection, and a test OIDC issuer.
#![allow(clippy::unwrap_used)] // Tests: a failed unwrap is a failed test.

use std::sync::Arc;
use std::time::Duration;

use kontor::app::{App, AppError};
use kontor::config::ConfigFile;
use kontor::startup::Application;
use kontor_connectors::MemoryRegistry;
use kontor_connectors::memory::MemorySystem;
use kontor_engine::{JobState, NewJob, Shutdown};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::issuer::{Issuer, SigningKey};

/// Kontor's settings: a store, the API on a free port, the test issuer.
pub const CONFIG: &str = r#"
data_dir = "{dir}"

[store]
url = "sqlite://{dir}/kontor.db"

[server]
listen = "127.0.0.1:0"

[server.auth.oidc]
issuer = "{issuer}"
audience = "api://kontor"
tenant_groups = { "group-acme" = ["acme"], "group-beta" = ["beta"], "group-all" = ["*"] }
client_id = "kontor-console"

[runner]
workers = 4
idle_poll = "20ms"
config_poll = "100ms"

[runner.retry]
initial_delay = "20ms"
max_delay = "200ms"
"#;

/// One tenant `{t}`: a memory ERP and shop, an `api` connection, the usual flows.
pub const TENANT: &str = r#"
[tenants.{t}.connections.erp]
type = "memory"
seed_demo = true

[tenants.{t}.connections.shop]
type = "memory"

[tenants.{t}.connections.portal]
type = "api"
description = "the B2B portal"

[tenants.{t}.connections.spare]
type = "memory"

[tenants.{t}.flows.catalogue]
from = "erp"
to = "shop"

[tenants.{t}.flows.prices]
from = "erp"
to = "shop"

[tenants.{t}.flows.stock]
from = "erp"
to = "shop"

[tenants.{t}.flows.customers]
from = "erp"
to = "shop"

[tenants.{t}.flows.portal_orders]
kind = "orders"
from = "portal"
to = "erp"

[tenants.{t}.flows.invoices]
from = "erp"
to = "shop"

[tenants.{t}.flows.shipments]
from = "erp"
to = "shop"

[tenants.{t}.mappings]
warehouses = { MAIN = "default" }
"#;

/// Kontor from a configuration file, run in-process and serving HTTP.
pub struct Served {
    pub app: Arc<App>,
    pub memory: MemoryRegistry,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub shutdown: Shutdown,
    pub running: tokio::task::JoinHandle<Result<(), AppError>>,
}

impl Served {
    /// Opens the configuration at `file` and serves on `listener` (bound first when the
    /// systems under test must know Kontor's address), else on the configured address.
    pub async fn start(
        file: &std::path::Path,
        listener: Option<tokio::net::TcpListener>,
    ) -> Served {
        let memory = MemoryRegistry::default();
        let application = Application::build(ConfigFile::load(file).unwrap(), memory.clone())
            .await
            .unwrap();
        let app = application.app().clone();
        let listener = match listener {
            Some(listener) => listener,
            None => app.listen().await.unwrap(),
        };
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = Shutdown::new();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { application.run(shutdown, Some(listener)).await }
        });
        Served {
            app,
            memory,
            base,
            shutdown,
            running,
        }
    }

    /// No job waits or runs.
    pub async fn idle(&self) -> bool {
        self.app
            .store
            .list_jobs(&kontor_engine::JobFilter {
                states: vec![JobState::Pending, JobState::Running],
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    }

    /// Waits until no job waits or runs.
    pub async fn settle(&self) {
        let limit = std::time::Duration::from_secs(60);
        super::eventually_within("the queue to settle", limit, async || self.idle().await).await;
    }

    /// Stops it, and waits until it has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.unwrap().unwrap();
    }
}

/// Kontor serving the API on a free port, with two tenants (`acme`, `beta`) and a
/// test OIDC issuer whose keys are made here.
pub struct TestApp {
    pub base: String,
    pub app: Arc<App>,
    pub memory: MemoryRegistry,
    pub issuer: Issuer,
    pub key: SigningKey,
    pub http: reqwest::Client,
    pub shutdown: Shutdown,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts it; both tenants run.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with("").await
    }

    /// Starts it with `extra` TOML added after the tenants (more settings, more tenants).
    pub async fn spawn_with(extra: &str) -> TestApp {
        let key = SigningKey::generate("key-1");
        let issuer = Issuer::start(&[&key]).await;
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{CONFIG}{}{}{extra}",
            TENANT.replace("{t}", "acme"),
            TENANT.replace("{t}", "beta")
        )
        .replace("{dir}", &dir.path().display().to_string())
        .replace("{issuer}", &issuer.url);
        let path = dir.path().join("kontor.toml");
        std::fs::write(&path, text).unwrap();
        let Served {
            app,
            memory,
            base,
            shutdown,
            ..
        } = Served::start(&path, None).await;
        assert!(
            app.tenants().broken.is_empty(),
            "{:?}",
            app.tenants().broken
        );
        TestApp {
            base,
            app,
            memory,
            issuer,
            key,
            http: reqwest::Client::new(),
            shutdown,
            _dir: dir,
        }
    }

    pub fn erp(&self, tenant: &str) -> MemorySystem {
        self.memory.get(tenant, "erp").unwrap()
    }

    /// A token from the test issuer with these roles, for these tenant groups.
    pub fn token(&self, roles: &[&str], groups: &[&str]) -> String {
        let mut claims = self.issuer.claims(roles);
        claims["groups"] = json!(groups);
        self.key.sign(&claims)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        credential: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    pub async fn get(&self, path: &str, credential: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(credential), None).await
    }

    /// An API key made through the API by a token admin of every tenant.
    pub async fn api_key(&self, tenant: &str, role: &str) -> (String, String) {
        let admin = self.token(&["Kontor.Admin"], &["group-all"]);
        let (status, made) = self
            .call(
                Method::POST,
                &format!("/api/v1/tenants/{tenant}/api-keys"),
                Some(&admin),
                Some(json!({ "name": format!("{role} key"), "role": role })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        (
            made["key"].as_str().unwrap().to_owned(),
            made["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A job of `tenant` no flow handles, which parks at once.
    pub async fn parked_job(&self, tenant: &str) -> i64 {
        let id = self
            .app
            .store
            .enqueue(NewJob::new(tenant, "nothing.handles_this", json!({"n": 1})).max_attempts(1))
            .await
            .unwrap()
            .job_id();
        self.until_state(id, JobState::Parked).await;
        id
    }

    pub async fn until_state(&self, job_id: i64, state: JobState) {
        for _ in 0..500 {
            let job = self.app.store.get_job(job_id, None).await.unwrap().unwrap();
            if job.state == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {job_id} never became {state}");
    }

    /// Waits until `done` (see [`super::eventually`]).
    pub async fn until<F: AsyncFn() -> bool>(&self, what: &str, done: F) {
        super::eventually(what, done).await;
    }
}
