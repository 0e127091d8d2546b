//! Integration configuration records. At run time the store is the source of truth:
//! `kontor config apply` writes each tenant's document here, the API and console edit the
//! same records, and `kontor config export` reads them back. Each change bumps a revision
//! so concurrent editors cannot overwrite each other unseen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantConfigRecord {
    pub tenant: String,
    pub document: serde_json::Value,
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<TenantConfigRecord, StoreError> {
    let document: String = row.try_get("document")?;
    Ok(TenantConfigRecord {
        tenant: row.try_get("tenant")?,
        document: serde_json::from_str(&document).map_err(StoreError::corrupt("tenant config"))?,
        revision: row.try_get("revision")?,
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

impl Store {
    pub async fn tenant_configs(&self) -> Result<Vec<TenantConfigRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, document, revision, updated_at FROM tenant_configs ORDER BY tenant",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    pub async fn tenant_config(
        &self,
        tenant: &str,
    ) -> Result<Option<TenantConfigRecord>, StoreError> {
        sqlx::query(
            "SELECT tenant, document, revision, updated_at FROM tenant_configs WHERE tenant = $1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(record_from_row)
        .transpose()
    }

    /// Writes a tenant's document. With `expected_revision`, fails if someone else changed
    /// it since. Returns the new revision; an identical document keeps its revision.
    pub async fn put_tenant_config(
        &self,
        tenant: &str,
        document: &serde_json::Value,
        expected_revision: Option<i64>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let current =
            sqlx::query("SELECT document, revision FROM tenant_configs WHERE tenant = $1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
        let (current_doc, current_rev): (Option<String>, i64) = match &current {
            Some(row) => (Some(row.try_get("document")?), row.try_get("revision")?),
            None => (None, 0),
        };
        if let Some(expected) = expected_revision
            && expected != current_rev
        {
            return Err(StoreError::RevisionConflict {
                tenant: tenant.to_owned(),
                expected,
            });
        }
        let text = document.to_string();
        if current_doc.as_deref() == Some(text.as_str()) {
            return Ok(current_rev);
        }
        let revision = current_rev + 1;
        sqlx::query(
            "INSERT INTO tenant_configs (tenant, document, revision, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant) DO UPDATE SET document = excluded.document, revision = excluded.revision, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(&text)
        .bind(revision)
        .bind(to_micros(self.now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revision)
    }

    /// Removes a tenant's configuration (its jobs, links and history stay).
    pub async fn delete_tenant_config(&self, tenant: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM tenant_configs WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n > 0)
    }
}
