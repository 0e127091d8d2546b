//! The store: one interface over two backends. SQLite (one file, WAL) is the embedded
//! default; PostgreSQL serves several Kontor processes at once.
//!
//! A store operation is a synchronous function over one connection (`&mut dyn Sql`),
//! written once for both backends: `Store::write` runs it in a transaction and commits
//! it before answering, `Store::read` runs it on a connection that only reads. What
//! differs — connecting, DDL (two migration folders), row-locking hints, and how the
//! operation reaches its connection — lives in `sqlite/` and `postgres.rs`. The shared
//! store suite runs against both.

mod postgres;
pub(crate) mod sql;
mod sqlite;
pub(crate) mod value;

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;
use crate::queue::RetryPolicy;
pub(crate) use sql::{Sql, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl {
                url: redact_url(url),
            })
        }
    }

    /// The row-locking clause that lets several processes claim jobs without waiting on
    /// each other. SQLite has a single writer, so it needs none.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Removes a password from a connection URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://kontor.db` or `postgres://user@host:5432/db`.
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL only: the schema to keep Kontor's tables in (created if missing).
    pub schema: Option<String>,
    /// Backoff for failed jobs, and the attempts a job gets unless it says otherwise.
    pub retry: RetryPolicy,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        StoreOptions {
            url: url.into(),
            max_connections: 10,
            schema: None,
            retry: RetryPolicy::default(),
        }
    }
}

enum Db {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PgDb),
}

/// Handle to Kontor's durable state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Db>,
    backend: Backend,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    /// Wakes this process's runner as soon as a job is enqueued here.
    wakeup: Arc<tokio::sync::Notify>,
    /// When this process last looked for jobs whose lease lapsed (µs since the epoch).
    pub(crate) leases_swept_at: Arc<std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens the store at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(StoreOptions::new(url), Arc::new(SystemClock)).await
    }

    pub async fn open_with(
        options: StoreOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let backend = Backend::from_url(&options.url)?;
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(sqlite::open(&options).await?),
            Backend::Postgres => Db::Postgres(postgres::open(&options).await?),
        };
        Ok(Store {
            db: Arc::new(db),
            backend,
            clock,
            retry: options.retry,
            wakeup: Arc::new(tokio::sync::Notify::new()),
            leases_swept_at: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The store's clock: times kept in the store are compared with this one.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub(crate) fn wakeup(&self) -> &Arc<tokio::sync::Notify> {
        &self.wakeup
    }

    /// Runs `op` in a transaction and answers once it is committed; an error from `op`
    /// rolls back what it wrote. On SQLite, operations arriving together share one
    /// commit (each in a savepoint of its own).
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match &*self.db {
            Db::Sqlite(db) => db.write(op).await,
            Db::Postgres(db) => db.write(op).await,
        }
    }

    /// Runs `op` on a connection that only reads.
    pub(crate) async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match &*self.db {
            Db::Sqlite(db) => db.read(op).await,
            Db::Postgres(db) => db.read(op).await,
        }
    }

    /// Checks that the store answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|sql| sql.execute("SELECT 1", params![]).map(drop))
            .await
    }

    /// SQLite's plan for `statement` (the detail of each step), for tests that a query
    /// goes through its index.
    #[cfg(test)]
    pub(crate) async fn sqlite_plan(
        &self,
        statement: &str,
        params: Vec<value::Value>,
    ) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {statement}");
        self.read(move |sql| {
            let params: Vec<&dyn value::ToSql> =
                params.iter().map(|v| v as &dyn value::ToSql).collect();
            sql.query(&explain, &params)?
                .iter()
                .map(|row| row.get::<String>("detail"))
                .collect()
        })
        .await
        .unwrap_or_else(|e| vec![format!("no plan: {e}")])
    }

    /// Finishes what was handed to the store, then closes its connections.
    pub async fn close(&self) {
        match &*self.db {
            Db::Sqlite(db) => db.close().await,
            Db::Postgres(db) => db.close().await,
        }
    }
}

/// Options for a PostgreSQL store in a new schema named `{prefix}_…` on the test server
/// (`KONTOR_TEST_POSTGRES_URL`, else the local one), and the server's URL.
#[cfg(test)]
pub(crate) fn test_postgres(prefix: &str) -> (StoreOptions, String) {
    let url = std::env::var("KONTOR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut options = StoreOptions::new(url.clone());
    options.schema = Some(format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    (options, url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://kontor:s3cret@db:5432/kontor"),
            "postgres://kontor:***@db:5432/kontor"
        );
        assert_eq!(
            redact_url("postgres://kontor@db/k"),
            "postgres://kontor@db/k"
        );
        assert_eq!(redact_url("sqlite://kontor.db"), "sqlite://kontor.db");
    }

    #[test]
    fn unsupported_urls_are_refused_with_the_password_hidden() {
        let err = Backend::from_url("mysql://u:pw@h/db").unwrap_err();
        assert!(err.to_string().contains("mysql://u:***@h/db"), "{err}");
    }
}
