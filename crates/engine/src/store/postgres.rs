//! PostgreSQL: for several Kontor processes sharing one queue.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use super::StoreOptions;
use crate::error::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(super) async fn open(
    options: &StoreOptions,
    pool: AnyPoolOptions,
) -> Result<AnyPool, StoreError> {
    let connect_options: AnyConnectOptions = options.url.parse().map_err(StoreError::Connect)?;
    let search_path = match &options.schema {
        Some(schema) if is_identifier(schema) => Some(format!("SET search_path TO {schema}")),
        Some(schema) => {
            return Err(StoreError::Connect(sqlx::Error::Configuration(
                format!("`{schema}` is not a valid schema name (lower-case letters, digits, _)")
                    .into(),
            )));
        }
        None => None,
    };

    let mut conn = connect_options
        .connect()
        .await
        .map_err(StoreError::Connect)?;
    if let (Some(schema), Some(set)) = (&options.schema, &search_path) {
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        conn.execute(set.as_str()).await?;
    }
    MIGRATOR.run(&mut conn).await?;
    conn.close().await?;

    pool.after_connect(move |conn, _meta| {
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
    .map_err(StoreError::Connect)
}
