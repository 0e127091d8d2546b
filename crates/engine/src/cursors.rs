//! Sync cursors: where each incremental sync of each (tenant, flow, system) stopped.
//! A cursor moves only with the job that did the work it covers, so a crash never skips
//! records; at worst some are read again, which idempotent imports absorb.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

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

fn cursor_from_row(row: &sqlx::any::AnyRow) -> Result<Cursor, StoreError> {
    Ok(Cursor {
        tenant: row.try_get("tenant")?,
        flow: row.try_get("flow")?,
        system: row.try_get("system")?,
        value: row.try_get("value")?,
        updated_at: Some(from_micros(row.try_get("updated_at")?)),
    })
}

pub(crate) async fn set_in(
    conn: &mut AnyConnection,
    cursor: &Cursor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cursors (tenant, flow, system, value, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant, flow, system) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(&cursor.tenant)
    .bind(&cursor.flow)
    .bind(&cursor.system)
    .bind(&cursor.value)
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    pub async fn cursor(
        &self,
        tenant: &str,
        flow: &str,
        system: &str,
    ) -> Result<Option<Cursor>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant, flow, system, value, updated_at FROM cursors WHERE tenant = $1 AND flow = $2 AND system = $3",
        )
        .bind(tenant)
        .bind(flow)
        .bind(system)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(cursor_from_row).transpose()
    }

    /// Sets a cursor directly: used to backfill from a date or id on request.
    pub async fn set_cursor(&self, cursor: &Cursor) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        set_in(&mut tx, cursor, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a cursor: the next sync starts from the beginning.
    pub async fn reset_cursor(
        &self,
        tenant: &str,
        flow: &str,
        system: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cursors WHERE tenant = $1 AND flow = $2 AND system = $3")
            .bind(tenant)
            .bind(flow)
            .bind(system)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_cursors(&self, tenant: Option<&str>) -> Result<Vec<Cursor>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, flow, system, value, updated_at FROM cursors \
             WHERE ($1 = '' OR tenant = $1) ORDER BY tenant, flow, system",
        )
        .bind(tenant.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(cursor_from_row).collect()
    }
}
