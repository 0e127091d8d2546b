//! SQLite: the embedded default. One file in WAL mode; writers take turns.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use super::StoreOptions;
use crate::error::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Per-connection settings. `synchronous = NORMAL` is durable in WAL mode against a
/// process crash (the case that matters here); only a power loss can lose the last
/// commits.
const CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL; \
PRAGMA foreign_keys = ON;";

fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

pub(super) async fn open(
    options: &StoreOptions,
    pool: AnyPoolOptions,
) -> Result<AnyPool, StoreError> {
    let url = with_create_mode(&options.url);
    let connect_options: AnyConnectOptions = url.parse().map_err(StoreError::Connect)?;

    // WAL mode needs an exclusive lock once; do it, and the migrations, on one connection
    // before the pool opens several.
    let mut conn = connect_options
        .connect()
        .await
        .map_err(StoreError::Connect)?;
    conn.execute(CONNECTION_PRAGMAS).await?;
    conn.execute("PRAGMA journal_mode = WAL;").await?;
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;

    // A local file does not drop connections the way a server can; checking each one on
    // every acquire would cost a round trip to its thread per query.
    pool.test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(CONNECTION_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(connect_options)
        .await
        .map_err(StoreError::Connect)
}
