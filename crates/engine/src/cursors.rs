//! Sync cursors: where each incremental sync of each (tenant, flow, system) stopped.
//! A cursor moves only with the job that did the work it covers, so a crash never skips
//! records; at worst some are read again, which idempotent imports absorb.

use crate::error::StoreError;
use crate::store::value::Row;
use crate::store::{Sql, Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub tenant: String,
    pub flow: String,
    pub system: String,
    /// Opaque to the engine: the connector's watermark (a timestamp, an id, a page token).
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Cursor {
    pub fn new(tenant: &str, flow: &str, system: &str, value: impl Into<String>) -> Self {
        Cursor {
            tenant: tenant.to_owned(),
            flow: flow.to_owned(),
            system: system.to_owned(),
            value: value.into(),
            updated_at: None,
        }
    }
}

fn cursor_from_row(row: &Row) -> Result<Cursor, StoreError> {
    Ok(Cursor {
        tenant: row.get("tenant")?,
        flow: row.get("flow")?,
        system: row.get("system")?,
        value: row.get("value")?,
        updated_at: Some(from_micros(row.get("updated_at")?)),
    })
}

pub(crate) fn set_in(
    sql: &mut dyn Sql,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO cursors (tenant, flow, system, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant, flow, system) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![cursor.tenant, cursor.flow, cursor.system, cursor.value, to_micros(now)],
    )?;
    Ok(())
}

impl Store {
    pub async fn cursor(
        &self,
        tenant: &str,
        flow: &str,
        system: &str,
    ) -> Result<Option<Cursor>, StoreError> {
        let key = (tenant.to_owned(), flow.to_owned(), system.to_owned());
        self.read(move |sql| {
            sql.query_opt(
                "SELECT tenant, flow, system, value, updated_at FROM cursors WHERE tenant = $1 AND flow = $2 AND system = $3",
                params![key.0, key.1, key.2],
            )?
            .as_ref()
            .map(cursor_from_row)
            .transpose()
        })
        .await
    }

    /// Sets a cursor directly: used to backfill from a date or id on request.
    pub async fn set_cursor(&self, cursor: &Cursor) -> Result<(), StoreError> {
        let (cursor, now) = (cursor.clone(), self.now());
        self.write(move |sql| set_in(sql, &cursor, now)).await
    }

    /// Forgets a cursor: the next sync starts from the beginning.
    pub async fn reset_cursor(
        &self,
        tenant: &str,
        flow: &str,
        system: &str,
    ) -> Result<(), StoreError> {
        let key = (tenant.to_owned(), flow.to_owned(), system.to_owned());
        self.write(move |sql| {
            sql.execute(
                "DELETE FROM cursors WHERE tenant = $1 AND flow = $2 AND system = $3",
                params![key.0, key.1, key.2],
            )
            .map(drop)
        })
        .await
    }

    pub async fn list_cursors(&self, tenant: Option<&str>) -> Result<Vec<Cursor>, StoreError> {
        let tenant = tenant.unwrap_or_default().to_owned();
        self.read(move |sql| {
            sql.query(
                "SELECT tenant, flow, system, value, updated_at FROM cursors \
                 WHERE ($1 = '' OR tenant = $1) ORDER BY tenant, flow, system",
                params![tenant],
            )?
            .iter()
            .map(cursor_from_row)
            .collect()
        })
        .await
    }
}
