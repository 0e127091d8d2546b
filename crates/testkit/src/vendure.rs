//! A real Vendure 3 server for tests, on PostgreSQL.
//!
//! `scripts/vendure/install` puts the pinned Vendure into a cache with npm; a template
//! database is created and seeded (`scripts/vendure/seed.js`: zone, VAT, PLN channel,
//! shipping and payment methods) once per version of those files. Each server gets its
//! own copy of that database (`CREATE DATABASE … TEMPLATE`), so tests never see each
//! other's orders, and its own free loopback port.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::HarnessError;
use crate::process::{
    DirLock, cache_dir, fingerprint, free_port, repo_root, run, tail, wait_until,
};

pub const USERNAME: &str = "superadmin";
pub const PASSWORD: &str = "kontor-test-admin";

const READY_TIMEOUT: Duration = Duration::from_secs(120);
const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A running Vendure on a loopback port, with its own database; both go when dropped.
pub struct VendureServer {
    modules: PathBuf,
    database: String,
    port: u16,
    dir: tempfile::TempDir,
    webhook: Option<(String, String)>,
    child: Option<Child>,
}

impl VendureServer {
    /// Installs Vendure if needed, copies the seeded database and starts a server.
    pub fn start() -> Result<VendureServer, HarnessError> {
        VendureServer::start_inner(None)
    }

    /// As [`VendureServer::start`], with Kontor's plugin posting order events to `url`
    /// signed with `secret`.
    pub fn start_with_webhook(url: &str, secret: &str) -> Result<VendureServer, HarnessError> {
        VendureServer::start_inner(Some((url.to_owned(), secret.to_owned())))
    }

    fn start_inner(webhook: Option<(String, String)>) -> Result<VendureServer, HarnessError> {
        let modules = install()?;
        let template = template(&modules)?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let database = format!(
            "kontor_vendure_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand_suffix()
        );
        psql(&format!("CREATE DATABASE {database} TEMPLATE {template}"))?;
        let dir = tempfile::Builder::new()
            .prefix("kontor-vendure-")
            .tempdir()
            .map_err(HarnessError::io("creating a directory for Vendure"))?;
        let mut server = VendureServer {
            modules,
            database,
            port: free_port()?,
            dir,
            webhook,
            child: None,
        };
        server.resume()?;
        Ok(server)
    }

    /// The server's base URL; the Admin API is at `/admin-api`, the Shop API at `/shop-api`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (an outage); [`VendureServer::resume`] starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) and waits until its Admin API answers.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = self.dir.path().join("vendure.log");
        let child = spawn(
            &self.modules,
            &self.database,
            self.port,
            self.webhook.as_ref(),
            false,
            self.dir.path(),
        )?;
        self.child = Some(child);
        if let Err(error) = wait_ready(self.port, &log) {
            self.stop();
            return Err(error);
        }
        Ok(())
    }

    /// Runs SQL on this server's own database, behind Vendure's back: for what no API
    /// does, such as leaving an order stamped as a late commit leaves it.
    pub fn execute_sql(&self, sql: &str) -> Result<(), HarnessError> {
        let url = format!("postgres://postgres@127.0.0.1:5432/{}", self.database);
        run(
            &format!("psql -c \"{sql}\""),
            Command::new("psql").args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-qc", sql]),
        )
        .map(drop)
    }

    /// What Vendure printed so far, for a failing test's message.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("vendure.log")).unwrap_or_default()
    }

    /// The Admin API as the superadmin, for tests that play the merchant.
    pub fn admin(&self) -> Result<GraphQl, HarnessError> {
        let mut admin = GraphQl::new(self.port, "/admin-api");
        admin.query(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { ... on CurrentUser { id } ... on ErrorResult { errorCode message } } }",
            json!({"u": USERNAME, "p": PASSWORD}),
        )?;
        Ok(admin)
    }

    /// The Admin API's id of the order with this code.
    pub fn order_id(&self, code: &str) -> Result<String, HarnessError> {
        let found = self.admin()?.query(
            "query($code: String!) { orders(options: {filter: {code: {eq: $code}}}) { items { id } } }",
            json!({"code": code}),
        )?;
        found["orders"]["items"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Rpc {
                method: "orders".into(),
                message: format!("no order with code {code}"),
            })
    }

    /// The Shop API as a new, anonymous shopper.
    pub fn shopper(&self) -> GraphQl {
        GraphQl::new(self.port, "/shop-api")
    }
}

impl Drop for VendureServer {
    fn drop(&mut self) {
        self.stop();
        let _ = psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
    }
}

fn fastrand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{nanos:08x}")
}

fn spawn(
    modules: &std::path::Path,
    database: &str,
    port: u16,
    webhook: Option<&(String, String)>,
    synchronize: bool,
    dir: &std::path::Path,
) -> Result<Child, HarnessError> {
    let log = dir.join("vendure.log");
    let out = fs::File::create(&log).map_err(HarnessError::io("creating the Vendure log"))?;
    let err = out
        .try_clone()
        .map_err(HarnessError::io("creating the Vendure log"))?;
    let mut command = Command::new("node");
    command
        .arg(
            repo_root()
                .join("scripts")
                .join("vendure")
                .join("server.js"),
        )
        .env("NODE_PATH", modules.join("node_modules"))
        .env("VENDURE_DISABLE_TELEMETRY", "true")
        .env("VENDURE_PORT", port.to_string())
        .env("VENDURE_DB", database)
        .env("VENDURE_SUPERADMIN_PASSWORD", PASSWORD)
        .env("VENDURE_SYNCHRONIZE", if synchronize { "1" } else { "0" })
        .env("VENDURE_ASSET_DIR", dir.join("assets"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some((url, secret)) = webhook {
        command
            .env("KONTOR_WEBHOOK_URL", url)
            .env("KONTOR_WEBHOOK_SECRET", secret);
    }
    command
        .spawn()
        .map_err(HarnessError::io("starting node (is Node.js installed?)"))
}

fn wait_ready(port: u16, log: &std::path::Path) -> Result<(), HarnessError> {
    let probe = GraphQl::new(port, "/admin-api");
    if wait_until(READY_TIMEOUT, || {
        probe
            .send(r#"{"query":"{ __typename }"}"#)
            .is_some_and(|(_, body)| body.contains("__typename"))
    }) {
        return Ok(());
    }
    Err(HarnessError::NotReady {
        what: "Vendure".into(),
        seconds: READY_TIMEOUT.as_secs(),
        log: tail(&fs::read_to_string(log).unwrap_or_default(), 30),
    })
}

/// The directory whose `node_modules` holds Vendure, installed by the project's script.
fn install() -> Result<PathBuf, HarnessError> {
    let script = repo_root().join("scripts").join("vendure").join("install");
    let _lock = DirLock::acquire(cache_dir().join("vendure-install.lock"))?;
    let out = run(
        "scripts/vendure/install",
        Command::new(&script).env("KONTOR_CACHE", cache_dir()),
    )?;
    Ok(PathBuf::from(out.lines().last().unwrap_or_default().trim()))
}

/// The seeded template database, built once per version of the files that shape it.
fn template(modules: &std::path::Path) -> Result<String, HarnessError> {
    let dir = repo_root().join("scripts").join("vendure");
    let mut shape = Vec::new();
    for file in ["package-lock.json", "server.js", "seed.js"] {
        let path = dir.join(file);
        shape.extend(
            fs::read(&path).map_err(HarnessError::io(format!("reading {}", path.display())))?,
        );
    }
    let name = format!("kontor_vendure_template_{}", fingerprint(&shape));
    static CLEANED: std::sync::Once = std::sync::Once::new();
    CLEANED.call_once(|| {
        // Best effort: a leftover database costs disk, not correctness.
        let _ = drop_abandoned();
    });
    let ready = cache_dir().join(format!("{name}.ready"));
    if ready.exists() && database_exists(&name)? {
        return Ok(name);
    }
    let _lock = DirLock::acquire(cache_dir().join("vendure-template.lock"))?;
    if ready.exists() && database_exists(&name)? {
        return Ok(name);
    }
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    psql(&format!("CREATE DATABASE {name}"))?;
    let port = free_port()?;
    let work = tempfile::tempdir().map_err(HarnessError::io("creating a temporary directory"))?;
    let log = work.path().join("vendure.log");
    let mut child = spawn(modules, &name, port, None, true, work.path())?;
    let built = wait_ready(port, &log).and_then(|()| {
        run(
            "seeding Vendure (scripts/vendure/seed.js)",
            Command::new("node")
                .arg(dir.join("seed.js"))
                .arg(format!("http://127.0.0.1:{port}/admin-api"))
                .arg(PASSWORD),
        )
    });
    let _ = child.kill();
    let _ = child.wait();
    built?;
    fs::write(&ready, b"").map_err(HarnessError::io("marking the Vendure template ready"))?;
    Ok(name)
}

/// Drops the databases of test processes that died without dropping them (killed runs).
fn drop_abandoned() -> Result<(), HarnessError> {
    let out = run(
        "listing Vendure test databases",
        Command::new("psql").args([
            POSTGRES_URL,
            "-tAc",
            "SELECT datname FROM pg_database WHERE datname LIKE 'kontor_vendure_%' AND datname NOT LIKE 'kontor_vendure_template_%'",
        ]),
    )?;
    for name in out.lines().map(str::trim) {
        let pid = name
            .strip_prefix("kontor_vendure_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        }
    }
    Ok(())
}

fn database_exists(name: &str) -> Result<bool, HarnessError> {
    let out = run(
        "asking PostgreSQL for the Vendure template",
        Command::new("psql").args([
            POSTGRES_URL,
            "-tAc",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        ]),
    )?;
    Ok(out.trim() == "1")
}

fn psql(sql: &str) -> Result<(), HarnessError> {
    run(
        &format!("psql -c \"{sql}\""),
        Command::new("psql").args([POSTGRES_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql]),
    )
    .map(drop)
}

/// A GraphQL client for one of Vendure's APIs that keeps the session token Vendure hands
/// out in the `vendure-auth-token` header, as a browser or app would.
pub struct GraphQl {
    port: u16,
    path: &'static str,
    token: Option<String>,
}

impl GraphQl {
    fn new(port: u16, path: &'static str) -> GraphQl {
        GraphQl {
            port,
            path,
            token: None,
        }
    }

    /// Runs a query; GraphQL errors, and results carrying an `errorCode`, are errors.
    pub fn query(&mut self, query: &str, variables: Value) -> Result<Value, HarnessError> {
        let body = json!({"query": query, "variables": variables}).to_string();
        let failed = |message: String| HarnessError::Rpc {
            method: query.chars().take(80).collect(),
            message,
        };
        let (headers, text) = self.send(&body).ok_or_else(|| failed("no answer".into()))?;
        if let Some(token) = headers.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("vendure-auth-token")
                .then(|| value.trim().to_owned())
        }) {
            self.token = Some(token);
        }
        let mut value: Value =
            serde_json::from_str(&text).map_err(|e| failed(format!("{e}: {}", tail(&text, 5))))?;
        if let Some(errors) = value.get("errors") {
            return Err(failed(errors.to_string()));
        }
        let data = value["data"].take();
        if let Some(fields) = data.as_object() {
            for result in fields.values() {
                if let Some(code) = result.get("errorCode") {
                    return Err(failed(format!("{code}: {}", result["message"])));
                }
            }
        }
        Ok(data)
    }

    /// POSTs over HTTP/1.0 (so the answer is never chunked); (headers, body).
    fn send(&self, body: &str) -> Option<(String, String)> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .ok()?;
        let authorization = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST {} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\n\r\n{body}",
            self.path,
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (headers, body) = response.split_once("\r\n\r\n")?;
        Some((headers.to_owned(), body.to_owned()))
    }
}

/// An address a shopper gives at checkout.
pub struct Checkout<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub street: &'a str,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub company: Option<&'a str>,
}

impl Default for Checkout<'_> {
    fn default() -> Self {
        Checkout {
            email: "anna.nowak@example.com",
            first_name: "Anna",
            last_name: "Nowak",
            street: "ul. Długa 5",
            city: "Gdańsk",
            postal_code: "80-827",
            company: None,
        }
    }
}

impl VendureServer {
    /// Places an order as a shopper would through the Shop API: items by SKU, customer,
    /// address, the courier, and a card payment that settles at once. Returns the order's
    /// code.
    pub fn place_order(
        &self,
        items: &[(&str, u32)],
        checkout: &Checkout<'_>,
    ) -> Result<String, HarnessError> {
        let mut admin = self.admin()?;
        let mut shop = self.shopper();
        for (sku, quantity) in items {
            let found = admin.query(
                "query($sku: String!) { productVariants(options: {filter: {sku: {eq: $sku}}}) { items { id } } }",
                json!({"sku": sku}),
            )?;
            let id = found["productVariants"]["items"][0]["id"].clone();
            shop.query(
                "mutation($id: ID!, $q: Int!) { addItemToOrder(productVariantId: $id, quantity: $q) { ... on Order { id } ... on ErrorResult { errorCode message } } }",
                json!({"id": id, "q": quantity}),
            )?;
        }
        shop.query(
            "mutation($input: CreateCustomerInput!) { setCustomerForOrder(input: $input) { ... on Order { id } ... on ErrorResult { errorCode message } } }",
            json!({"input": {"emailAddress": checkout.email, "firstName": checkout.first_name, "lastName": checkout.last_name}}),
        )?;
        shop.query(
            "mutation($input: CreateAddressInput!) { setOrderShippingAddress(input: $input) { ... on Order { id } ... on ErrorResult { errorCode message } } }",
            json!({"input": {
                "fullName": format!("{} {}", checkout.first_name, checkout.last_name),
                "company": checkout.company,
                "streetLine1": checkout.street, "city": checkout.city,
                "postalCode": checkout.postal_code, "countryCode": "PL"
            }}),
        )?;
        let methods = shop.query("{ eligibleShippingMethods { id code } }", json!({}))?;
        let courier = methods["eligibleShippingMethods"]
            .as_array()
            .and_then(|all| all.iter().find(|m| m["code"] == "courier"))
            .map(|m| m["id"].clone())
            .ok_or_else(|| HarnessError::Rpc {
                method: "eligibleShippingMethods".into(),
                message: format!("no courier among {methods}"),
            })?;
        shop.query(
            "mutation($id: [ID!]!) { setOrderShippingMethod(shippingMethodId: $id) { ... on Order { id } ... on ErrorResult { errorCode message } } }",
            json!({"id": [courier]}),
        )?;
        shop.query(
            "mutation { transitionOrderToState(state: \"ArrangingPayment\") { ... on Order { id } ... on OrderStateTransitionError { errorCode message transitionError } } }",
            json!({}),
        )?;
        let paid = shop.query(
            "mutation { addPaymentToOrder(input: {method: \"card\", metadata: {}}) { ... on Order { code state } ... on ErrorResult { errorCode message } } }",
            json!({}),
        )?;
        Ok(paid["addPaymentToOrder"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}
