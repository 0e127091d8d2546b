//! API keys: who may call Kontor's API as a machine. The store keeps a key's id, the
//! SHA-256 of its secret, the tenant it acts for and its role; the secret itself is
//! never stored. What a role may do is the server's business, not the store's.

use crate::error::StoreError;
use crate::store::value::Row;
use crate::store::{Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

fn key_from_row(row: &Row) -> Result<ApiKeyRecord, StoreError> {
    let revoked: Option<i64> = row.get("revoked_at")?;
    Ok(ApiKeyRecord {
        id: row.get("id")?,
        tenant: row.get("tenant")?,
        role: row.get("role")?,
        name: row.get("name")?,
        created_at: from_micros(row.get("created_at")?),
        revoked_at: revoked.map(from_micros),
    })
}

impl Store {
    pub async fn create_api_key(&self, key: &NewApiKey<'_>) -> Result<ApiKeyRecord, StoreError> {
        let values = [key.id, key.secret_hash, key.tenant, key.role, key.name].map(str::to_owned);
        let now = to_micros(self.now());
        self.write(move |sql| {
            let [id, hash, tenant, role, name] = &values;
            let row = sql.query_opt(
                &format!(
                    "INSERT INTO api_keys (id, secret_hash, tenant, role, name, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
                ),
                params![id, hash, tenant, role, name, now],
            )?;
            row.as_ref()
                .map(key_from_row)
                .ok_or_else(|| StoreError::Contended("the new API key was not stored".to_owned()))?
        })
        .await
    }

    /// A key that has not been revoked, with its secret's hash, to check a caller's.
    pub async fn live_api_key(
        &self,
        id: &str,
    ) -> Result<Option<(ApiKeyRecord, String)>, StoreError> {
        let id = id.to_owned();
        self.read(move |sql| {
            sql.query_opt(
                &format!(
                    "SELECT {COLUMNS}, secret_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL"
                ),
                params![id],
            )?
            .map(|row| Ok((key_from_row(&row)?, row.get("secret_hash")?)))
            .transpose()
        })
        .await
    }

    /// A tenant's keys (all tenants' with `None`), revoked ones too, newest first.
    pub async fn api_keys(&self, tenant: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let tenant = tenant.map(str::to_owned);
        self.read(move |sql| {
            let rows = match tenant {
                Some(tenant) => sql.query(
                    &format!(
                        "SELECT {COLUMNS} FROM api_keys WHERE tenant = $1 ORDER BY created_at DESC, id"
                    ),
                    params![tenant],
                )?,
                None => sql.query(
                    &format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id"),
                    params![],
                )?,
            };
            rows.iter().map(key_from_row).collect()
        })
        .await
    }

    /// Revokes a key of `tenant`; `false` if there is no such live key.
    pub async fn revoke_api_key(&self, id: &str, tenant: &str) -> Result<bool, StoreError> {
        let (id, tenant, now) = (id.to_owned(), tenant.to_owned(), to_micros(self.now()));
        let done = self
            .write(move |sql| {
                sql.execute(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant = $3 AND revoked_at IS NULL",
                    params![now, id, tenant],
                )
            })
            .await?;
        Ok(done > 0)
    }
}
