//! A real Tryton 8.2 server for tests.
//!
//! `scripts/tryton/install` puts Tryton into a cached virtualenv; `scripts/tryton/template.py`
//! builds a SQLite database (company, fiscal years, chart of accounts, taxes, payment term,
//! products with stock) once per version of that script. Each server gets its own copy of
//! that database, so tests never see each other's records.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::HarnessError;
use crate::process::{
    DirLock, cache_dir, fingerprint, free_port, post_json, repo_root, run, tail, wait_until,
};

pub const DATABASE: &str = "kontor";
pub const USERNAME: &str = "admin";
pub const PASSWORD: &str = "kontor-test-admin";

const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running Tryton server on a loopback port, killed when dropped.
pub struct TrytonServer {
    venv: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    session_timeout: Duration,
}

impl TrytonServer {
    /// Installs Tryton if needed, copies the prepared database and starts a server.
    pub fn start() -> Result<TrytonServer, HarnessError> {
        TrytonServer::start_with_session_timeout(Duration::from_secs(3600))
    }

    /// As [`TrytonServer::start`], with sessions that expire `timeout` after login.
    pub fn start_with_session_timeout(timeout: Duration) -> Result<TrytonServer, HarnessError> {
        let venv = install()?;
        let template = template(&venv)?;
        let dir = tempfile::Builder::new()
            .prefix("kontor-tryton-")
            .tempdir()
            .map_err(HarnessError::io("creating a directory for Tryton"))?;
        let database = format!("{DATABASE}.sqlite");
        fs::copy(template.join(&database), dir.path().join(&database))
            .map_err(HarnessError::io("copying the Tryton database"))?;
        let mut server = TrytonServer {
            venv,
            dir,
            port: free_port()?,
            child: None,
            session_timeout: timeout,
        };
        server.write_config()?;
        server.resume()?;
        Ok(server)
    }

    /// The server's base URL (without the database).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs one SQL statement on the server's database, behind Tryton's back: for what
    /// no RPC can do, such as leaving a record stamped as a late commit leaves it.
    pub fn execute_sql(&self, statement: &str, params: &[&str]) -> Result<usize, HarnessError> {
        let path = self.dir.path().join(format!("{DATABASE}.sqlite"));
        let failed = |e: rusqlite::Error| HarnessError::Database {
            what: statement.to_owned(),
            message: e.to_string(),
        };
        let connection = rusqlite::Connection::open(path).map_err(failed)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(failed)?;
        connection
            .execute(statement, rusqlite::params_from_iter(params))
            .map_err(failed)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (an outage); [`TrytonServer::resume`] starts it again on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) and waits until it accepts a login.
    pub fn resume(&mut self) -> Result<(), HarnessError> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = fs::File::create(self.log_path())
            .map_err(HarnessError::io("creating the Tryton log"))?;
        let err = log
            .try_clone()
            .map_err(HarnessError::io("creating the Tryton log"))?;
        let child = Command::new(self.venv.join("bin").join("trytond"))
            .arg("-c")
            .arg(self.dir.path().join("trytond.conf"))
            .args(["-d", DATABASE])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(HarnessError::io("starting trytond"))?;
        self.child = Some(child);
        let body = format!(
            r#"{{"id": 1, "method": "common.db.login", "params": ["{USERNAME}", {{"password": "{PASSWORD}"}}, "en"]}}"#
        );
        let path = format!("/{DATABASE}/rpc/");
        let port = self.port;
        if !wait_until(READY_TIMEOUT, || {
            post_json(port, &path, &body)
                .is_some_and(|r| r.contains("\"result\": [") || r.contains("\"result\":["))
        }) {
            let log = fs::read_to_string(self.log_path()).unwrap_or_default();
            self.stop();
            return Err(HarnessError::NotReady {
                what: "trytond".into(),
                seconds: READY_TIMEOUT.as_secs(),
                log: tail(&log, 30),
            });
        }
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("trytond.log")
    }

    fn write_config(&self) -> Result<(), HarnessError> {
        let config = format!(
            "[database]\nuri = sqlite://\npath = {}\n\n[web]\nlisten = 127.0.0.1:{}\n\n[session]\nmax_age = {}\n",
            self.dir.path().display(),
            self.port,
            self.session_timeout.as_secs().max(1)
        );
        fs::write(self.dir.path().join("trytond.conf"), config)
            .map_err(HarnessError::io("writing trytond.conf"))
    }

    /// What trytond printed so far, for a failing test's message.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for TrytonServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The virtualenv with Tryton, installed by the project's script on first use.
fn install() -> Result<PathBuf, HarnessError> {
    let script = repo_root().join("scripts").join("tryton").join("install");
    let _lock = DirLock::acquire(cache_dir().join("tryton-install.lock"))?;
    let out = run(
        "scripts/tryton/install",
        Command::new(&script).env("KONTOR_CACHE", cache_dir()),
    )?;
    let venv = out.lines().last().unwrap_or_default().trim();
    Ok(PathBuf::from(venv))
}

/// The prepared database, built once per version of the template script.
fn template(venv: &Path) -> Result<PathBuf, HarnessError> {
    let script = repo_root()
        .join("scripts")
        .join("tryton")
        .join("template.py");
    let source =
        fs::read(&script).map_err(HarnessError::io(format!("reading {}", script.display())))?;
    let dir = cache_dir().join(format!("tryton-template-{}", fingerprint(&source)));
    let ready = dir.join("ready");
    if ready.exists() {
        return Ok(dir);
    }
    let _lock = DirLock::acquire(cache_dir().join("tryton-template.lock"))?;
    if ready.exists() {
        return Ok(dir);
    }
    let _ = fs::remove_dir_all(&dir);
    run(
        "building the Tryton test database (scripts/tryton/template.py)",
        Command::new(venv.join("bin").join("python"))
            .arg(&script)
            .arg(&dir)
            .arg(PASSWORD),
    )?;
    fs::write(&ready, b"").map_err(HarnessError::io("marking the Tryton template ready"))?;
    Ok(dir)
}

/// Tryton's administrator over JSON-RPC, for tests that play the ERP's users: posting an
/// invoice by hand, shipping goods, changing a price.
pub struct TrytonAdmin {
    port: u16,
    header: String,
    context: serde_json::Value,
}

impl TrytonServer {
    /// Logs in as the administrator.
    pub fn admin(&self) -> Result<TrytonAdmin, HarnessError> {
        use base64::Engine;
        let login = rpc(
            self.port,
            None,
            "common.db.login",
            serde_json::json!([USERNAME, {"password": PASSWORD}, "en"]),
        )?;
        let (user, token) = (
            login[0].as_i64().unwrap_or_default(),
            login[1].as_str().unwrap_or_default(),
        );
        let header = format!(
            "Session {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{user}:{token}"))
        );
        let context = rpc(
            self.port,
            Some(&header),
            "model.res.user.get_preferences",
            serde_json::json!([true, {}]),
        )?;
        Ok(TrytonAdmin {
            port: self.port,
            header,
            context,
        })
    }
}

impl TrytonAdmin {
    /// Calls `method` with `params` and the administrator's context appended.
    pub fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, HarnessError> {
        let mut params = params.as_array().cloned().unwrap_or_default();
        params.push(self.context.clone());
        rpc(
            self.port,
            Some(&self.header),
            method,
            serde_json::Value::Array(params),
        )
    }
}

impl TrytonAdmin {
    /// Ships a sale's customer shipments as the warehouse would: `reference` (where base
    /// Tryton keeps a tracking number) written on them, then assigned, picked, packed
    /// and shipped.
    pub fn ship_sale(&self, sale_id: i64, reference: &str) -> Result<(), HarnessError> {
        let read = self.call(
            "model.sale.sale.read",
            serde_json::json!([[sale_id], ["shipments"]]),
        )?;
        let shipments = read[0]["shipments"].clone();
        self.call(
            "model.stock.shipment.out.write",
            serde_json::json!([shipments, {"reference": reference}]),
        )?;
        for step in ["assign_try", "pick", "pack", "ship"] {
            self.call(
                &format!("model.stock.shipment.out.{step}"),
                serde_json::json!([shipments]),
            )?;
        }
        Ok(())
    }
}

fn rpc(
    port: u16,
    header: Option<&str>,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, HarnessError> {
    let body = serde_json::json!({"id": 1, "method": method, "params": params}).to_string();
    let response =
        crate::process::post_json_with(port, &format!("/{DATABASE}/rpc/"), &body, header)
            .ok_or_else(|| HarnessError::Rpc {
                method: method.to_owned(),
                message: "no answer".into(),
            })?;
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let mut value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| HarnessError::Rpc {
            method: method.to_owned(),
            message: format!("{e}: {}", tail(&response, 5)),
        })?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(HarnessError::Rpc {
            method: method.to_owned(),
            message: error.to_string(),
        });
    }
    Ok(value["result"].take())
}
