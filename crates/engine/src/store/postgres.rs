//! PostgreSQL: for several Kontor processes sharing one queue. The store's operations are
//! synchronous functions over a connection ([`Sql`]); here each runs on a blocking
//! thread, awaiting its statements there one by one over sqlx's pool.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{
    Column, ConnectOptions, Connection, Executor, PgConnection, PgPool, Postgres, Row as _,
    Transaction, TypeInfo, ValueRef,
};
use tokio::runtime::Handle;

use super::value::{Kind, Row, SqlValue, ToSql, Value};
use super::{Backend, StoreOptions};
use crate::error::StoreError;
use crate::store::sql::Sql;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The PostgreSQL side of a store.
pub(super) struct PgDb {
    pool: PgPool,
    statistics: Arc<Statistics>,
}

/// Kontor refreshes its tables' statistics itself rather than count on autovacuum,
/// which may be off (it is on some servers) or not yet have run on a new store. Without
/// statistics the planner cannot tell a lookup by a unique key from a scan of every row
/// of a tenant, and a plan that picked the scan makes each order slower than the last.
struct Statistics {
    writes: std::sync::atomic::AtomicU64,
    refreshing: std::sync::atomic::AtomicBool,
}

/// The tables that grow with the work (the rest stay small).
const ANALYZE: &str = "ANALYZE jobs, links, entities, entity_keys, submitted_orders, locks";

/// Write transactions between two refreshes of the statistics.
const ANALYZE_EVERY_WRITES: u64 = 2_000;

enum Held {
    Transaction(Transaction<'static, Postgres>),
    Connection(PoolConnection<Postgres>),
}

/// One pooled connection, in a transaction when the operation writes.
struct PgSql {
    handle: Handle,
    held: Held,
}

impl PgSql {
    fn connection(&mut self) -> &mut PgConnection {
        match &mut self.held {
            Held::Transaction(tx) => tx,
            Held::Connection(conn) => conn,
        }
    }
}

fn bind<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    params: &'q [&'q dyn ToSql],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for param in params {
        query = match param.to_sql() {
            SqlValue::Null(Kind::Int) => query.bind(None::<i64>),
            SqlValue::Null(Kind::Text) => query.bind(None::<String>),
            SqlValue::Int(i) => query.bind(i),
            SqlValue::Text(s) => query.bind(s),
        };
    }
    query
}

fn decode(row: &sqlx::postgres::PgRow, columns: &Arc<[Box<str>]>) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(columns.len());
    for (i, column) in row.columns().iter().enumerate() {
        if row.try_get_raw(i)?.is_null() {
            values.push(Value::Null(Kind::Text));
            continue;
        }
        values.push(match column.type_info().name() {
            "INT8" => Value::Int(row.try_get::<i64, _>(i)?),
            "INT4" => Value::Int(i64::from(row.try_get::<i32, _>(i)?)),
            "INT2" => Value::Int(i64::from(row.try_get::<i16, _>(i)?)),
            "BOOL" => Value::Int(i64::from(row.try_get::<bool, _>(i)?)),
            "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" => Value::Text(row.try_get::<String, _>(i)?),
            other => {
                return Err(StoreError::Decode {
                    column: column.name().to_owned(),
                    problem: format!("expected an integer or text, found {other}"),
                });
            }
        });
    }
    Ok(Row::new(columns.clone(), values))
}

impl Sql for PgSql {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<u64, StoreError> {
        let handle = self.handle.clone();
        let query = bind(sqlx::query(sql), params);
        Ok(handle
            .block_on(query.execute(self.connection()))?
            .rows_affected())
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<Row>, StoreError> {
        let handle = self.handle.clone();
        let query = bind(sqlx::query(sql), params);
        let rows = handle.block_on(query.fetch_all(self.connection()))?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let columns: Arc<[Box<str>]> = first.columns().iter().map(|c| c.name().into()).collect();
        rows.iter().map(|row| decode(row, &columns)).collect()
    }
}

impl PgDb {
    /// Runs `f` in a transaction on a blocking thread; commits if it succeeds.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.count_write();
        self.on_blocking_thread(move |pool, handle| {
            let tx = handle.block_on(pool.begin())?;
            let mut sql = PgSql {
                handle: handle.clone(),
                held: Held::Transaction(tx),
            };
            let result = f(&mut sql);
            let Held::Transaction(tx) = sql.held else {
                return result;
            };
            match result {
                Ok(value) => {
                    handle.block_on(tx.commit())?;
                    Ok(value)
                }
                Err(error) => {
                    // Rolling back cannot lose anything; the operation's error is what
                    // the caller needs to hear.
                    let _ = handle.block_on(tx.rollback());
                    Err(error)
                }
            }
        })
        .await
    }

    /// Runs `f` on a blocking thread, on a connection outside a transaction.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_blocking_thread(move |pool, handle| {
            let conn = handle.block_on(pool.acquire())?;
            f(&mut PgSql {
                handle,
                held: Held::Connection(conn),
            })
        })
        .await
    }

    async fn on_blocking_thread<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(PgPool, Handle) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (pool, handle) = (self.pool.clone(), Handle::current());
        tokio::task::spawn_blocking(move || f(pool, handle))
            .await
            .map_err(|e| StoreError::Aborted(e.to_string()))?
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    /// Every `ANALYZE_EVERY_WRITES` writes, refreshes the statistics in the background
    /// (one refresh at a time; a write never waits for it).
    fn count_write(&self) {
        use std::sync::atomic::Ordering;
        let writes = self.statistics.writes.fetch_add(1, Ordering::Relaxed) + 1;
        if !writes.is_multiple_of(ANALYZE_EVERY_WRITES)
            || self.statistics.refreshing.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let (pool, statistics) = (self.pool.clone(), self.statistics.clone());
        tokio::spawn(async move {
            if let Err(error) = pool.execute(ANALYZE).await {
                tracing::warn!(message = "Refreshing the store's table statistics failed.", %error);
            }
            statistics.refreshing.store(false, Ordering::Relaxed);
        });
    }
}

pub(super) async fn open(options: &StoreOptions) -> Result<PgDb, StoreError> {
    let connect_options: PgConnectOptions = options
        .url
        .parse()
        .map_err(|e: sqlx::Error| StoreError::Connect(e.into()))?;
    let search_path = match &options.schema {
        Some(schema) if is_identifier(schema) => Some(format!("SET search_path TO {schema}")),
        Some(schema) => {
            return Err(StoreError::Connect(
                format!("`{schema}` is not a valid schema name (lower-case letters, digits, _)")
                    .into(),
            ));
        }
        None => None,
    };

    let mut conn = connect_options
        .connect()
        .await
        .map_err(|e| StoreError::Connect(e.into()))?;
    if let (Some(schema), Some(set)) = (&options.schema, &search_path) {
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        conn.execute(set.as_str()).await?;
    }
    MIGRATOR
        .run(&mut conn)
        .await
        .map_err(|e| StoreError::Migrate(e.into()))?;
    conn.execute(ANALYZE).await?;
    conn.close().await?;

    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            let search_path = search_path.clone();
            Box::pin(async move {
                if let Some(set) = search_path {
                    conn.execute(set.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect_options)
        .await
        .map_err(|e| StoreError::Connect(e.into()))?;
    Ok(PgDb {
        pool,
        statistics: Arc::new(Statistics {
            writes: std::sync::atomic::AtomicU64::new(0),
            refreshing: std::sync::atomic::AtomicBool::new(false),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::params;

    /// Autovacuum is off on some servers (this one's included): the store gathers its
    /// own statistics, when it opens and as it is written to.
    #[tokio::test]
    async fn a_store_gathers_its_statistics_without_autovacuum() {
        let (options, _) = crate::store::test_postgres("kt_stats");
        let schema = options.schema.clone().unwrap();
        let db = Arc::new(open(&options).await.unwrap());
        // -1: never analysed; 0: analysed, and empty.
        let links_counted = |db: Arc<PgDb>| async move {
            db.read(|sql| {
                sql.scalar::<i64>(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = 'links'::regclass",
                    params![],
                )
            })
            .await
            .unwrap()
            .unwrap()
        };
        assert_eq!(links_counted(db.clone()).await, 0);

        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..20 {
            let db = db.clone();
            writers.spawn(async move {
                for n in 0..ANALYZE_EVERY_WRITES / 20 {
                    db.write(move |sql| {
                        sql.execute(
                            "INSERT INTO links (tenant, kind, system, external_id, entity_id, created_at, updated_at) \
                             VALUES ('acme', 'order', 'shop', $1, $1, 0, 0)",
                            params![format!("{writer}-{n}")],
                        )
                    })
                    .await
                    .unwrap();
                }
            });
        }
        while let Some(done) = writers.join_next().await {
            done.unwrap();
        }
        let mut counted = 0;
        for _ in 0..100 {
            counted = links_counted(db.clone()).await;
            if counted > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        db.write(move |sql| sql.execute(&format!("DROP SCHEMA {schema} CASCADE"), params![]))
            .await
            .unwrap();
        assert!(
            counted >= 1_000,
            "the planner thinks links has {counted} rows"
        );
    }
}
