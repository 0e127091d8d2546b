//! Integration configuration records. At run time the store is the source of truth:
//! `kontor config apply` writes each tenant's document here, the API and console edit the
//! same records, and `kontor config export` reads them back. Each change bumps a revision
//! so concurrent editors cannot overwrite each other unseen.

use crate::error::StoreError;
use crate::store::value::Row;
use crate::store::{Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantConfigRecord {
    pub tenant: String,
    pub document: serde_json::Value,
    pub revision: i64,
    pub updated_at: DateTime<Utc>,
}

fn record_from_row(row: &Row) -> Result<TenantConfigRecord, StoreError> {
    let document: String = row.get("document")?;
    Ok(TenantConfigRecord {
        tenant: row.get("tenant")?,
        document: serde_json::from_str(&document).map_err(StoreError::corrupt("tenant config"))?,
        revision: row.get("revision")?,
        updated_at: from_micros(row.get("updated_at")?),
    })
}

impl Store {
    pub async fn tenant_configs(&self) -> Result<Vec<TenantConfigRecord>, StoreError> {
        self.read(|sql| {
            sql.query(
                "SELECT tenant, document, revision, updated_at FROM tenant_configs ORDER BY tenant",
                params![],
            )?
            .iter()
            .map(record_from_row)
            .collect()
        })
        .await
    }

    pub async fn tenant_config(
        &self,
        tenant: &str,
    ) -> Result<Option<TenantConfigRecord>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |sql| {
            sql.query_opt(
                "SELECT tenant, document, revision, updated_at FROM tenant_configs WHERE tenant = $1",
                params![tenant],
            )?
            .as_ref()
            .map(record_from_row)
            .transpose()
        })
        .await
    }

    /// Writes a tenant's document. With `expected_revision`, fails if someone else changed
    /// it since. Returns the new revision; an identical document keeps its revision.
    pub async fn put_tenant_config(
        &self,
        tenant: &str,
        document: &serde_json::Value,
        expected_revision: Option<i64>,
    ) -> Result<i64, StoreError> {
        let (tenant, text, now) = (
            tenant.to_owned(),
            document.to_string(),
            to_micros(self.now()),
        );
        self.write(move |sql| {
            let current = sql.query_opt(
                "SELECT document, revision FROM tenant_configs WHERE tenant = $1",
                params![tenant],
            )?;
            let (current_doc, current_rev): (Option<String>, i64) = match &current {
                Some(row) => (Some(row.get("document")?), row.get("revision")?),
                None => (None, 0),
            };
            if let Some(expected) = expected_revision
                && expected != current_rev
            {
                return Err(StoreError::RevisionConflict { tenant, expected });
            }
            if current_doc.as_deref() == Some(text.as_str()) {
                return Ok(current_rev);
            }
            let revision = current_rev + 1;
            sql.execute(
                "INSERT INTO tenant_configs (tenant, document, revision, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant) DO UPDATE SET document = excluded.document, revision = excluded.revision, \
                 updated_at = excluded.updated_at",
                params![tenant, text, revision, now],
            )?;
            Ok(revision)
        })
        .await
    }

    /// Removes a tenant's configuration (its jobs, links and history stay).
    pub async fn delete_tenant_config(&self, tenant: &str) -> Result<bool, StoreError> {
        let tenant = tenant.to_owned();
        let n = self
            .write(move |sql| {
                sql.execute(
                    "DELETE FROM tenant_configs WHERE tenant = $1",
                    params![tenant],
                )
            })
            .await?;
        Ok(n > 0)
    }
}
