//! Bootstrap settings: what Kontor needs before it can read anything from its store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kontor_flows::ConfigProblem;
use serde::{Deserialize, Serialize};

pub(super) fn current_dir() -> PathBuf {
    PathBuf::from(".")
}

/// ```toml
/// [store]
/// url = "sqlite://kontor.db"      # or "postgres://kontor@db.internal/kontor"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://<file>` (the embedded default) or `postgres://user@host:port/db`.
    /// The password, if any, is best given through `KONTOR_STORE_URL` instead.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL only: the schema for Kontor's tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The key that seals inline secrets of connections in the store.
    #[serde(skip_serializing_if = "SecretsSettings::is_empty")]
    pub secrets: SecretsSettings,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://kontor.db".to_owned(),
            max_connections: 10,
            schema: None,
            secrets: SecretsSettings::default(),
        }
    }
}

/// Inline secrets of connections (`password = { value = "…" }`) are kept in the store
/// sealed with AES-256-GCM under `key`: 32 random bytes, base64, from the environment
/// or a file (`kontor secrets new-key` makes one). To rotate, make a new key, move the
/// old one to `previous`, and run `kontor secrets rotate`.
///
/// ```toml
/// [store.secrets]
/// key = { env = "KONTOR_SECRETS_KEY" }
/// previous = [{ file = "/run/secrets/kontor-key-2025" }]
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSettings {
    /// Seals new secrets and opens the ones it sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<kontor_connector::Secret>,
    /// Older keys: they only open what they sealed, until `kontor secrets rotate`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<kontor_connector::Secret>,
}

impl SecretsSettings {
    fn is_empty(&self) -> bool {
        self.key.is_none() && self.previous.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub enabled: bool,
    /// Address for health, metrics and the API.
    pub listen: SocketAddr,
    /// The address people reach Kontor at, when it is not `http://<listen>` (behind a
    /// reverse proxy, TLS): where the OIDC issuer sends browsers back to, and whether
    /// session cookies are marked `Secure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Who may call the API.
    pub auth: AuthSettings,
    /// The largest request body taken, in bytes (an order, a webhook); larger ones get
    /// `413 body_too_large`.
    pub max_body_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            auth: AuthSettings::default(),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Who may call the API: people with a token from an OIDC issuer, machines with an API
/// key (`kontor keys create`), and, only if asked for, anyone on this machine.
///
/// ```toml
/// [server.auth.oidc]
/// issuer = "https://login.microsoftonline.com/<tenant id>/v2.0"
/// audience = "api://kontor"
/// tenant_groups = { "<group object id>" = ["acme"], "Kontor.AllTenants" = ["*"] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Requests without credentials from a loopback address act as an admin of every
    /// tenant (the demo, a single-user laptop). Never behind a reverse proxy on the same
    /// machine: every request would come from loopback. The console still asks people
    /// to sign in.
    pub local_trust: bool,
    /// How long a console sign-in lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<crate::auth::OidcConfig>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            local_trust: false,
            session_ttl: Duration::from_secs(12 * 3600),
            oidc: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        let policy = kontor_engine::RetryPolicy::default();
        RetrySettings {
            max_attempts: policy.max_attempts,
            initial_delay: policy.initial_delay,
            max_delay: policy.max_delay,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerSettings {
    /// Jobs run at once.
    pub workers: usize,
    /// A job's lease; a worker that stops renewing it for this long loses the job.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How often an idle runner looks for due jobs.
    #[serde(with = "humantime_serde")]
    pub idle_poll: Duration,
    /// On shutdown, how long running jobs may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// How often the store is read for configuration another process changed.
    #[serde(with = "humantime_serde")]
    pub config_poll: Duration,
    pub retry: RetrySettings,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        let runner = kontor_engine::RunnerConfig::default();
        RunnerSettings {
            workers: runner.workers,
            lease: runner.lease,
            idle_poll: runner.idle_poll,
            shutdown_grace: runner.shutdown_grace,
            config_poll: Duration::from_secs(5),
            retry: RetrySettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter: `info`, or `kontor=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl super::ConfigFile {
    pub(super) fn settings_problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if let Err(e) = kontor_engine::Backend::from_url(&self.store_url()) {
            problems.push(ConfigProblem::new("store.url", e.to_string()));
        }
        if self.store.max_connections == 0 {
            problems.push(ConfigProblem::new(
                "store.max_connections",
                "must be at least 1",
            ));
        }
        if self.runner.workers == 0 {
            problems.push(ConfigProblem::new("runner.workers", "must be at least 1"));
        }
        if self.runner.lease < Duration::from_secs(1) {
            problems.push(ConfigProblem::new("runner.lease", "must be at least 1s"));
        }
        if self.runner.config_poll < Duration::from_millis(100) {
            problems.push(ConfigProblem::new(
                "runner.config_poll",
                "must be at least 100ms",
            ));
        }
        if self.runner.retry.max_attempts == 0 {
            problems.push(ConfigProblem::new(
                "runner.retry.max_attempts",
                "must be at least 1",
            ));
        }
        if self.runner.retry.initial_delay > self.runner.retry.max_delay {
            problems.push(ConfigProblem::new(
                "runner.retry.initial_delay",
                "must not exceed max_delay",
            ));
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.server.max_body_bytes) {
            problems.push(ConfigProblem::new(
                "server.max_body_bytes",
                "must be between 1024 and 268435456 (256 MiB)",
            ));
        }
        if self.server.auth.session_ttl < Duration::from_secs(60) {
            problems.push(ConfigProblem::new(
                "server.auth.session_ttl",
                "must be at least 1m",
            ));
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.push(ConfigProblem::new(
                "server.public_url",
                format!("`{url}` must be an http:// or https:// address"),
            ));
        }
        if let Some(oidc) = &self.server.auth.oidc {
            for (key, message) in oidc.problems() {
                problems.push(ConfigProblem::new(
                    format!("server.auth.oidc.{key}"),
                    message,
                ));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            problems.push(ConfigProblem::new(
                "log.level",
                format!("`{}` is not a log filter", self.log.level),
            ));
        }
        problems
    }

    /// The store URL, `KONTOR_STORE_URL` winning over the file (to keep passwords out of it).
    pub fn store_url(&self) -> String {
        std::env::var("KONTOR_STORE_URL").unwrap_or_else(|_| self.store.url.clone())
    }

    pub fn store_options(&self) -> kontor_engine::StoreOptions {
        let mut options = kontor_engine::StoreOptions::new(self.store_url());
        options.max_connections = self.store.max_connections;
        options.schema.clone_from(&self.store.schema);
        options.retry = kontor_engine::RetryPolicy {
            max_attempts: self.runner.retry.max_attempts,
            initial_delay: self.runner.retry.initial_delay,
            max_delay: self.runner.retry.max_delay,
        };
        options
    }

    pub fn runner_config(&self) -> kontor_engine::RunnerConfig {
        kontor_engine::RunnerConfig {
            workers: self.runner.workers,
            lease: self.runner.lease,
            idle_poll: self.runner.idle_poll,
            shutdown_grace: self.runner.shutdown_grace,
            worker_id: kontor_engine::runner::default_worker_id(),
        }
    }
}
