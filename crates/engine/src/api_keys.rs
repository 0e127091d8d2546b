//! API keys: who may call Kontor's API as a machine. The store keeps a key's id, the
//! SHA-256 of its secret, the tenant it acts for and its role; the secret itself is
//! never stored. What a role may do is the server's business, not the store's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant: String,
    pub role: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key: its id and the hash of its secret, made by the caller.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub secret_hash: &'a str,
    pub tenant: &'a str,
    pub role: &'a str,
    pub name: &'a str,
}

const COLUMNS: &str = "id, tenant, role, name, created_at, revoked_at";

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let revoked: Option<i64> = row.try_get("revoked_at")?;
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        role: row.try_get("role")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?),
        revoked_at: revoked.map(from_micros),
    })
}

impl Store {
    pub async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKeyRecord, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO api_keys (id, secret_hash, tenant, role, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(key.id)
        .bind(key.secret_hash)
        .bind(key.tenant)
        .bind(key.role)
        .bind(key.name)
        .bind(to_micros(self.now()))
        .fetch_one(&self.pool)
        .await?;
        key_from_row(&row)
    }

    /// A key that has not been revoked, with its secret's hash, to check a caller's.
    pub async fn live_api_key(
        &self,
        id: &str,
    ) -> Result<Option<(ApiKeyRecord, String)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((key_from_row(&row)?, row.try_get("secret_hash")?)))
            .transpose()
    }

    /// A tenant's keys (all tenants' with `None`), revoked ones too, newest first.
    pub async fn api_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows =
            match tenant {
                Some(tenant) => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM api_keys WHERE tenant = $1 ORDER BY created_at DESC, id"
                ))
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query(&format!(
                        "SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id"
                    ))
                    .fetch_all(&self.pool)
                    .await?
                }
            };
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes a key of `tenant`; `false` if there is no such live key.
    pub async fn revoke_api_key(&self, id: &str, tenant: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant = $3 AND revoked_at IS NULL",
        )
        .bind(to_micros(self.now()))
        .bind(id)
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
