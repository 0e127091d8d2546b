//! Kontor's own copy of the canonical records it has synced, with the keys they can be
//! matched by (SKU, e-mail, VAT id, document number).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::hash::content_hash;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

/// A key an entity can be found by. Values are compared exactly, so callers normalise
/// them first (the model's `Email` and `VatId` types do).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MatchKey {
    pub key_type: String,
    pub value: String,
}

impl MatchKey {
    pub fn new(key_type: &str, value: impl Into<String>) -> Self {
        MatchKey {
            key_type: key_type.to_owned(),
            value: value.into(),
        }
    }

    pub fn sku(sku: impl Into<String>) -> Self {
        MatchKey::new("sku", sku)
    }

    pub fn email(email: impl Into<String>) -> Self {
        MatchKey::new("email", email)
    }

    pub fn vat_id(vat_id: impl Into<String>) -> Self {
        MatchKey::new("vat_id", vat_id)
    }

    /// A document number, e.g. the shop's order number.
    pub fn number(number: impl Into<String>) -> Self {
        MatchKey::new("number", number)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    pub tenant: String,
    pub kind: String,
    pub id: String,
    pub data: serde_json::Value,
    pub keys: Vec<MatchKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl EntityRecord {
    pub fn new(tenant: &str, kind: &str, id: impl Into<String>, data: serde_json::Value) -> Self {
        EntityRecord {
            tenant: tenant.to_owned(),
            kind: kind.to_owned(),
            id: id.into(),
            data,
            keys: Vec::new(),
            updated_at: None,
        }
    }

    pub fn key(mut self, key: MatchKey) -> Self {
        self.keys.push(key);
        self
    }
}

pub(crate) async fn upsert_in(
    conn: &mut AnyConnection,
    entity: &EntityRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO entities (tenant, kind, id, data, content_hash, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant, kind, id) DO UPDATE SET data = excluded.data, \
         content_hash = excluded.content_hash, updated_at = excluded.updated_at",
    )
    .bind(&entity.tenant)
    .bind(&entity.kind)
    .bind(&entity.id)
    .bind(entity.data.to_string())
    .bind(content_hash(&entity.data))
    .bind(to_micros(now))
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM entity_keys WHERE tenant = $1 AND kind = $2 AND entity_id = $3")
        .bind(&entity.tenant)
        .bind(&entity.kind)
        .bind(&entity.id)
        .execute(&mut *conn)
        .await?;
    if entity.keys.is_empty() {
        return Ok(());
    }
    // All keys in one statement.
    let rows: Vec<String> = (0..entity.keys.len())
        .map(|i| {
            let n = 3 + i * 2;
            format!("($1, $2, $3, ${}, ${})", n + 1, n + 2)
        })
        .collect();
    let sql = format!(
        "INSERT INTO entity_keys (tenant, kind, entity_id, key_type, key_value) VALUES {} \
         ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    let mut insert = sqlx::query(&sql)
        .bind(&entity.tenant)
        .bind(&entity.kind)
        .bind(&entity.id);
    for key in &entity.keys {
        insert = insert.bind(&key.key_type).bind(&key.value);
    }
    insert.execute(&mut *conn).await?;
    Ok(())
}

fn entity_from_row(row: &AnyRow) -> Result<EntityRecord, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(EntityRecord {
        tenant: row.try_get("tenant")?,
        kind: row.try_get("kind")?,
        id: row.try_get("id")?,
        data: serde_json::from_str(&data).map_err(StoreError::corrupt("entity data"))?,
        keys: Vec::new(),
        updated_at: Some(from_micros(row.try_get("updated_at")?)),
    })
}

impl Store {
    pub async fn upsert_entity(&self, entity: &EntityRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        upsert_in(&mut tx, entity, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_entity(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<EntityRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant, kind, id, data, updated_at FROM entities WHERE tenant = $1 AND kind = $2 AND id = $3",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut entity = entity_from_row(&row)?;
        let keys = sqlx::query(
            "SELECT key_type, key_value FROM entity_keys WHERE tenant = $1 AND kind = $2 AND entity_id = $3 \
             ORDER BY key_type, key_value",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for key in keys {
            entity.keys.push(MatchKey {
                key_type: key.try_get("key_type")?,
                value: key.try_get("key_value")?,
            });
        }
        Ok(Some(entity))
    }

    /// Ids of the entities of `kind` that carry `key` (several means ambiguous).
    pub async fn find_entities(
        &self,
        tenant: &str,
        kind: &str,
        key: &MatchKey,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT entity_id FROM entity_keys WHERE tenant = $1 AND kind = $2 AND key_type = $3 \
             AND key_value = $4 ORDER BY entity_id",
        )
        .bind(tenant)
        .bind(kind)
        .bind(&key.key_type)
        .bind(&key.value)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Entities (kind, id) of `tenant` that `text` names: one of their keys (a number, a
    /// SKU, an e-mail, a VAT id), their id, or their id in one of the systems.
    pub async fn search_entities(
        &self,
        tenant: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, entity_id FROM entity_keys WHERE tenant = $1 AND key_value = $2 \
             UNION SELECT kind, entity_id FROM links WHERE tenant = $1 \
             AND (external_id = $2 OR entity_id = $2) \
             UNION SELECT kind, id AS entity_id FROM entities WHERE tenant = $1 AND id = $2 \
             ORDER BY kind, entity_id LIMIT $3",
        )
        .bind(tenant)
        .bind(text)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("kind")?, row.try_get("entity_id")?)))
            .collect()
    }

    /// Entities of one kind, in id order, `limit` at a time after `after_id`.
    pub async fn list_entities(
        &self,
        tenant: &str,
        kind: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<EntityRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, kind, id, data, updated_at FROM entities WHERE tenant = $1 AND kind = $2 \
             AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(tenant)
        .bind(kind)
        .bind(after_id.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entity_from_row).collect()
    }
}
