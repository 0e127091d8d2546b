//! Logs and metrics, set up once per process.

use std::sync::OnceLock;
use std::time::Duration;

use kontor_engine::{JobState, Shutdown, Store};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs go to stderr, so that command output on stdout (tables, `--json`) stays clean.
/// `RUST_LOG`, when set, wins over `level`.
pub fn init_logs(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A second initialisation (tests) is refused by tracing; the first one stays.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The process's Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; metrics then go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Publishes queue depth per tenant, kind and state, and the queue lag, every few seconds.
pub async fn report_queue(store: Store, shutdown: Shutdown) {
    loop {
        match store.queue_counts(false).await {
            Ok(counts) => {
                let mut seen = std::collections::BTreeSet::new();
                for c in &counts {
                    seen.insert((c.tenant.clone(), c.kind.clone()));
                }
                for (tenant, kind) in seen {
                    for state in [JobState::Pending, JobState::Running, JobState::Parked] {
                        let n = counts
                            .iter()
                            .find(|c| c.tenant == tenant && c.kind == kind && c.state == state)
                            .map_or(0, |c| c.count);
                        metrics::gauge!("kontor_jobs", "tenant" => tenant.clone(), "kind" => kind.clone(), "state" => state.as_str())
                            .set(n as f64);
                    }
                }
            }
            Err(error) => tracing::warn!(message = "Cannot read queue depth.", %error),
        }
        if let Ok(lag) = store.queue_lag().await {
            metrics::gauge!("kontor_queue_lag_seconds").set(lag.as_secs_f64());
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}
