//! The store: one interface over two backends. SQLite (one file, WAL) is the embedded
//! default; PostgreSQL serves several Kontor processes at once.
//!
//! Both backends run the same SQL through sqlx's `Any` driver; only connecting, the
//! schema DDL and row-claiming hints differ, and those live in `sqlite.rs` and
//! `postgres.rs`. The shared store test suite runs against both.

mod postgres;
pub(crate) mod sql;
mod sqlite;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;
use crate::queue::RetryPolicy;

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

/// Handle to Kontor's durable state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    /// Wakes this process's runner as soon as a job is enqueued here.
    wakeup: Arc<Notify>,
    /// When this process last looked for jobs whose lease lapsed (µs since the epoch).
    pub(crate) leases_swept_at: Arc<std::sync::atomic::AtomicI64>,
    /// SQLite only: write transactions take turns here rather than in SQLite's busy
    /// handler, which sleeps a millisecond or more each time it finds the file locked.
    write_turn: Arc<Mutex<()>>,
}

/// A transaction that will write; on SQLite it holds this process's write turn until it
/// is committed or dropped.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
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
        install_default_drivers();
        let backend = Backend::from_url(&options.url)?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(std::time::Duration::from_secs(30));
        let pool = match backend {
            Backend::Sqlite => sqlite::open(&options, pool_options).await?,
            Backend::Postgres => postgres::open(&options, pool_options).await?,
        };
        Ok(Store {
            pool,
            backend,
            clock,
            retry: options.retry,
            wakeup: Arc::new(Notify::new()),
            leases_swept_at: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            write_turn: Arc::new(Mutex::new(())),
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

    pub(crate) fn wakeup(&self) -> &Arc<Notify> {
        &self.wakeup
    }

    /// On SQLite, this process's write turn, for a write outside [`Self::begin_write`]
    /// (held until dropped); on PostgreSQL, nothing to wait for.
    pub(crate) async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_turn.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Begins a transaction that will write. On SQLite it waits for this process's
    /// write turn, then takes the write lock at once (`BEGIN IMMEDIATE`), so that a read
    /// followed by a write cannot fail half-way with "database is locked".
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.write_turn().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: turn,
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            },
        })
    }

    /// Checks that the store answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
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
