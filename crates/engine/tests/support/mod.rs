//! Test stores on both backends. Each test gets a fresh SQLite file or a fresh PostgreSQL
//! schema; PostgreSQL comes from `KONTOR_TEST_POSTGRES_URL` (default: the local server).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use kontor_engine::{Clock, ManualClock, RetryPolicy, Store, StoreOptions};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestStore {
    pub store: Store,
    /// Drives time, unless the store was opened on another clock.
    pub clock: ManualClock,
    pub options: StoreOptions,
    open_clock: Arc<dyn Clock>,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    /// Another connection pool on the same database: what a second process would see.
    pub async fn reopen(&self) -> Store {
        Store::open_with(self.options.clone(), self.open_clock.clone())
            .await
            .expect("reopen store")
    }
}

pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(10),
    }
}

fn manual_clock() -> ManualClock {
    ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("valid date"),
    )
}

pub async fn sqlite() -> TestStore {
    sqlite_with(retry_policy(), None).await
}

/// A SQLite store with this retry policy, on `clock` when given, else on a manual clock.
pub async fn sqlite_with(retry: RetryPolicy, clock: Option<Arc<dyn Clock>>) -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = StoreOptions::new(format!(
        "sqlite://{}",
        dir.path().join("kontor.db").display()
    ));
    options.retry = retry;
    let manual = manual_clock();
    let open_clock = clock.unwrap_or_else(|| Arc::new(manual.clone()));
    let store = Store::open_with(options.clone(), open_clock.clone())
        .await
        .expect("open sqlite store");
    TestStore {
        store,
        clock: manual,
        options,
        open_clock,
        _dir: Some(dir),
    }
}

pub fn postgres_url() -> String {
    std::env::var("KONTOR_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub async fn postgres() -> TestStore {
    postgres_with(retry_policy(), None).await
}

/// A fresh schema on the test PostgreSQL server.
pub async fn postgres_with(retry: RetryPolicy, clock: Option<Arc<dyn Clock>>) -> TestStore {
    let schema = format!(
        "kt_{}_{}",
        Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut options = StoreOptions::new(postgres_url());
    options.schema = Some(schema);
    options.max_connections = 5;
    options.retry = retry;
    let manual = manual_clock();
    let open_clock = clock.unwrap_or_else(|| Arc::new(manual.clone()));
    let store = Store::open_with(options.clone(), open_clock.clone())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for the store suite ({}): {e}. Start it, or point \
                 KONTOR_TEST_POSTGRES_URL at one.",
                postgres_url()
            )
        });
    drop_old_schemas().await;
    TestStore {
        store,
        clock: manual,
        options,
        open_clock,
        _dir: None,
    }
}

/// Test schemas are named `kt_<unix time>_…`; remove those older than two hours so
/// repeated runs don't accumulate them.
async fn drop_old_schemas() {
    use sqlx::Connection;
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await else {
            return;
        };
        let cutoff = Utc::now().timestamp() - 7200;
        let schemas: Vec<String> =
            sqlx::query_scalar("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kt\\_%'")
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
        for schema in schemas {
            let stamp = schema.split('_').nth(1).and_then(|s| s.parse::<i64>().ok());
            if stamp.is_some_and(|t| t < cutoff) {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
            }
        }
    })
    .await;
}

/// Runs each listed `async fn(TestStore)` once per backend, as `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::postgres().await).await
                }
            )*
        }
    };
}

/// A TCP relay in front of a server that can be cut: from then on nothing passes either
/// way, and the connections stay open but silent — the store as a worker sees it during
/// a network partition or a database failover.
pub struct CuttableRelay {
    pub addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableRelay {
    pub async fn start(target: &str) -> CuttableRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let (cut, watch) = tokio::sync::watch::channel(false);
        let target = target.to_owned();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let already_cut = *watch.borrow();
                    if already_cut {
                        // Accepted, never answered.
                        std::future::pending::<()>().await;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let relayed = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => true,
                        _ = watch.wait_for(|cut| *cut) => false,
                    };
                    if !relayed {
                        // Hold both ends open, silent, until the test ends.
                        std::future::pending::<()>().await;
                    }
                });
            }
        });
        CuttableRelay { addr, cut }
    }

    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }
}

/// `url` (a PostgreSQL URL) with its host and port replaced by `addr`.
pub fn postgres_url_through(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = rest.split_once('@').map_or(("", rest), |(u, r)| (u, r));
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let at = if user.is_empty() { "" } else { "@" };
    format!("{scheme}://{user}{at}{addr}{path}")
}
