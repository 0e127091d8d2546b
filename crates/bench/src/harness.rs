//! Kontor as `kontor run` runs it — store, workers, scheduler and HTTP server — started
//! in this process on a free loopback port, on SQLite in a fresh directory or on
//! PostgreSQL in a fresh schema.

use std::sync::Arc;
use std::time::Duration;

use kontor::app::App;
use kontor::auth::{Role, mint_key};
use kontor::config::ConfigFile;
use kontor::startup::Application;
use kontor_connectors::MemoryRegistry;
use kontor_engine::{JobFilter, JobState, NewApiKey, Shutdown};

use crate::BenchError;

/// Where Kontor keeps its state for a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    /// A server URL; each run gets a schema of its own, dropped afterwards.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

pub struct Kontor {
    pub app: Arc<App>,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub memory: MemoryRegistry,
    shutdown: Shutdown,
    running: tokio::task::JoinHandle<Result<(), kontor::app::AppError>>,
    postgres_schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Kontor {
    /// Starts Kontor with `tenants` (TOML of `[tenants.…]` tables) and `workers` job
    /// workers.
    pub async fn start(
        backend: &Backend,
        tenants: &str,
        workers: usize,
    ) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::io("making a directory", e))?;
        let (store, postgres_schema) = match backend {
            Backend::Sqlite => (
                format!(
                    "url = \"sqlite://{}\"",
                    dir.path().join("kontor.db").display()
                ),
                None,
            ),
            Backend::Postgres(url) => {
                let schema = format!("kb_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
                (
                    format!("url = \"{url}\"\nschema = \"{schema}\"\nmax_connections = 20"),
                    Some((url.clone(), schema)),
                )
            }
        };
        let text = format!(
            "data_dir = \"{dir}\"\n\n[store]\n{store}\n\n[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [runner]\nworkers = {workers}\n\n{tenants}",
            dir = dir.path().display(),
        );
        let path = dir.path().join("kontor.toml");
        let config = ConfigFile::parse(&text, &path)?;
        let memory = MemoryRegistry::default();
        let application = Application::build(config, memory.clone()).await?;
        let app = application.app().clone();
        let listener = app.listen().await?;
        let base = format!(
            "http://{}",
            listener
                .local_addr()
                .map_err(|e| BenchError::io("reading the listening address", e))?
        );
        let shutdown = Shutdown::new();
        let running = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { application.run(shutdown, Some(listener)).await }
        });
        Ok(Kontor {
            app,
            base,
            memory,
            shutdown,
            running,
            postgres_schema,
            _dir: dir,
        })
    }

    /// An API key for a shop integrating through the API, as `kontor keys create` makes.
    pub async fn shop_key(&self, tenant: &str) -> Result<String, BenchError> {
        let minted = mint_key();
        self.app
            .store
            .create_api_key(&NewApiKey {
                id: &minted.id,
                secret_hash: &minted.secret_hash,
                tenant,
                role: Role::ShopIntegration.name(),
                name: "benchmark",
            })
            .await?;
        Ok(minted.key)
    }

    /// Jobs parked so far (a benchmark that parks work has measured the wrong thing).
    pub async fn parked(&self) -> Result<usize, BenchError> {
        Ok(self
            .app
            .store
            .list_jobs(&JobFilter {
                states: vec![JobState::Parked],
                limit: 1000,
                ..Default::default()
            })
            .await?
            .len())
    }

    /// Stops workers and server, and removes a PostgreSQL schema.
    pub async fn stop(self) -> Result<(), BenchError> {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.running).await;
        let Kontor {
            app,
            postgres_schema,
            ..
        } = self;
        drop(app);
        if let Some((url, schema)) = postgres_schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|e| BenchError::Failed(format!("dropping schema {schema}: {e}")))?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .map_err(|e| BenchError::Failed(format!("dropping schema {schema}: {e}")))?;
        }
        Ok(())
    }
}
