//! Footprint: the size of the `kontor` binary, how long `kontor run` takes until it
//! answers `/ready`, and its resident memory once idle — against a process that does
//! nothing but serve `/ready` (this binary's hidden `floor-server` command).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;
use crate::client::LoadGenerator;
use crate::measure::{self, mebibytes, millis};
use crate::report::{Measurement, Target};

/// What an idle `kontor run` serves: one tenant with a memory ERP and shop and the three
/// main flows, as a small install would.
const CONFIG: &str = r#"
[store]
url = "sqlite://{dir}/kontor.db"

[server]
listen = "127.0.0.1:{port}"

[log]
level = "warn"

[tenants.bench.connections.erp]
type = "memory"
seed_demo = true

[tenants.bench.connections.shop]
type = "memory"

[tenants.bench.flows.catalogue]
from = "erp"
to = "shop"
every = "1m"

[tenants.bench.flows.stock]
from = "erp"
to = "shop"
every = "1m"

[tenants.bench.flows.orders]
from = "shop"
to = "erp"
every = "1m"

[tenants.bench.mappings]
warehouses = { MAIN = "default" }
"#;

/// How long a started process is left alone before its memory is read.
const SETTLE: Duration = Duration::from_secs(3);

pub struct Footprint {
    pub kontor: PathBuf,
    /// Starts measured (the first on a new store, the rest restarts).
    pub starts: usize,
}

#[derive(Debug, Clone)]
pub struct FootprintResult {
    pub binary_bytes: u64,
    pub first_start: Duration,
    /// Median of the restarts.
    pub start: Duration,
    pub idle_rss: u64,
    pub floor_start: Duration,
    pub floor_idle_rss: u64,
}

impl FootprintResult {
    pub fn measurements(&self) -> Vec<Measurement> {
        const FLOOR: &str = "a process serving only /ready";
        vec![
            Measurement::new(
                "footprint",
                "kontor",
                "binary size",
                "MiB",
                mebibytes(self.binary_bytes),
            ),
            Measurement::new(
                "footprint",
                "kontor run",
                "start-up to ready, new store",
                "ms",
                millis(self.first_start),
            )
            .against(FLOOR, millis(self.floor_start)),
            Measurement::new(
                "footprint",
                "kontor run",
                "start-up to ready",
                "ms",
                millis(self.start),
            )
            .against(FLOOR, millis(self.floor_start))
            .target(Target::AtMost(200.0)),
            Measurement::new(
                "footprint",
                "kontor run",
                "idle RSS",
                "MiB",
                mebibytes(self.idle_rss),
            )
            .against(FLOOR, mebibytes(self.floor_idle_rss))
            .target(Target::AtMost(30.0)),
        ]
    }
}

/// A process being measured; killed when dropped.
struct Started {
    child: Child,
    ready_after: Duration,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::io("finding a free port", e))
}

/// Starts `command` and waits until `/ready` on `port` answers 200.
async fn start(
    mut command: Command,
    port: u16,
    client: &LoadGenerator,
) -> Result<Started, BenchError> {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError::io("starting the process", e))?;
    let mut process = Started {
        child,
        ready_after: Duration::ZERO,
    };
    let url = format!("http://127.0.0.1:{port}/ready");
    loop {
        if client.get_status(&url).await == Some(200) {
            process.ready_after = started.elapsed();
            return Ok(process);
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            return Err(BenchError::Failed(format!(
                "the process exited before it was ready: {status}"
            )));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(BenchError::Failed("not ready after 30 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn kontor_command(kontor: &Path, config: &Path) -> Command {
    let mut command = Command::new(kontor);
    command.arg("--config").arg(config).arg("run");
    command
}

impl Footprint {
    pub async fn run(&self, client: &LoadGenerator) -> Result<FootprintResult, BenchError> {
        let binary_bytes = std::fs::metadata(&self.kontor)
            .map_err(|e| BenchError::io(&format!("reading {}", self.kontor.display()), e))?
            .len();
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("making a directory", e))?;
        let port = free_port()?;
        let config = dir.path().join("kontor.toml");
        std::fs::write(
            &config,
            CONFIG
                .replace("{dir}", &dir.path().display().to_string())
                .replace("{port}", &port.to_string()),
        )
        .map_err(|e| BenchError::io("writing the configuration", e))?;

        let mut first_start = Duration::ZERO;
        let mut starts = Vec::new();
        let mut idle_rss = 0;
        for i in 0..self.starts.max(2) {
            let process = start(kontor_command(&self.kontor, &config), port, client).await?;
            if i == 0 {
                first_start = process.ready_after;
            } else {
                starts.push(process.ready_after);
            }
            if i + 1 == self.starts.max(2) {
                tokio::time::sleep(SETTLE).await;
                idle_rss = measure::rss_of(process.child.id());
            }
        }

        let mut floor_starts = Vec::new();
        let mut floor_idle_rss = 0;
        let me = std::env::current_exe().map_err(|e| BenchError::io("finding this binary", e))?;
        for i in 0..self.starts.max(2) {
            let port = free_port()?;
            let mut command = Command::new(&me);
            command.arg("floor-server").arg(port.to_string());
            let process = start(command, port, client).await?;
            floor_starts.push(process.ready_after);
            if i + 1 == self.starts.max(2) {
                tokio::time::sleep(SETTLE).await;
                floor_idle_rss = measure::rss_of(process.child.id());
            }
        }
        Ok(FootprintResult {
            binary_bytes,
            first_start,
            start: median(starts),
            idle_rss,
            floor_start: median(floor_starts),
            floor_idle_rss,
        })
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// The floor process: answers `/ready` and nothing else, on the same runtime and HTTP
/// stack as Kontor.
pub async fn floor_server(port: u16) -> Result<(), BenchError> {
    let router = axum::Router::new().route("/ready", axum::routing::get(|| async { "ready" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| BenchError::io("binding the floor's port", e))?;
    axum::serve(listener, router)
        .await
        .map_err(|e| BenchError::io("serving", e))
}
