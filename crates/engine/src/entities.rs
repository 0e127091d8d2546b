//! Kontor's own copy of the canonical records it has synced, with the keys they can be
//! matched by (SKU, e-mail, VAT id, document number).

use crate::error::StoreError;
use crate::hash::content_hash;
use crate::store::value::{Row, ToSql};
use crate::store::{Sql, Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

pub(crate) fn upsert_in(
    sql: &mut dyn Sql,
    entity: &EntityRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO entities (tenant, kind, id, data, content_hash, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant, kind, id) DO UPDATE SET data = excluded.data, \
         content_hash = excluded.content_hash, updated_at = excluded.updated_at",
        params![
            entity.tenant,
            entity.kind,
            entity.id,
            entity.data.to_string(),
            content_hash(&entity.data),
            to_micros(now)
        ],
    )?;
    sql.execute(
        "DELETE FROM entity_keys WHERE tenant = $1 AND kind = $2 AND entity_id = $3",
        params![entity.tenant, entity.kind, entity.id],
    )?;
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
    let statement = format!(
        "INSERT INTO entity_keys (tenant, kind, entity_id, key_type, key_value) VALUES {} \
         ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    let mut values: Vec<&dyn ToSql> = vec![&entity.tenant, &entity.kind, &entity.id];
    for key in &entity.keys {
        values.push(&key.key_type);
        values.push(&key.value);
    }
    sql.execute(&statement, &values)?;
    Ok(())
}

fn entity_from_row(row: &Row) -> Result<EntityRecord, StoreError> {
    let data: String = row.get("data")?;
    Ok(EntityRecord {
        tenant: row.get("tenant")?,
        kind: row.get("kind")?,
        id: row.get("id")?,
        data: serde_json::from_str(&data).map_err(StoreError::corrupt("entity data"))?,
        keys: Vec::new(),
        updated_at: Some(from_micros(row.get("updated_at")?)),
    })
}

impl Store {
    pub async fn upsert_entity(&self, entity: &EntityRecord) -> Result<(), StoreError> {
        let (entity, now) = (entity.clone(), self.now());
        self.write(move |sql| upsert_in(sql, &entity, now)).await
    }

    pub async fn get_entity(
        &self,
        tenant: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<EntityRecord>, StoreError> {
        let key = (tenant.to_owned(), kind.to_owned(), id.to_owned());
        self.read(move |sql| {
            let (tenant, kind, id) = &key;
            let row = sql.query_opt(
                "SELECT tenant, kind, id, data, updated_at FROM entities WHERE tenant = $1 AND kind = $2 AND id = $3",
                params![tenant, kind, id],
            )?;
            let Some(row) = row else { return Ok(None) };
            let mut entity = entity_from_row(&row)?;
            for key in sql.query(
                "SELECT key_type, key_value FROM entity_keys WHERE tenant = $1 AND kind = $2 AND entity_id = $3 \
                 ORDER BY key_type, key_value",
                params![tenant, kind, id],
            )? {
                entity.keys.push(MatchKey {
                    key_type: key.get("key_type")?,
                    value: key.get("key_value")?,
                });
            }
            Ok(Some(entity))
        })
        .await
    }

    /// Ids of the entities of `kind` that carry `key` (several means ambiguous).
    pub async fn find_entities(
        &self,
        tenant: &str,
        kind: &str,
        key: &MatchKey,
    ) -> Result<Vec<String>, StoreError> {
        let (tenant, kind, key) = (tenant.to_owned(), kind.to_owned(), key.clone());
        self.read(move |sql| {
            sql.scalars(
                "SELECT entity_id FROM entity_keys WHERE tenant = $1 AND kind = $2 AND key_type = $3 \
                 AND key_value = $4 ORDER BY entity_id",
                params![tenant, kind, key.key_type, key.value],
            )
        })
        .await
    }

    /// Entities (kind, id) of `tenant` that `text` names: one of their keys (a number, a
    /// SKU, an e-mail, a VAT id), their id, or their id in one of the systems.
    pub async fn search_entities(
        &self,
        tenant: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (tenant, text) = (tenant.to_owned(), text.to_owned());
        self.read(move |sql| {
            sql.query(
                "SELECT kind, entity_id FROM entity_keys WHERE tenant = $1 AND key_value = $2 \
                 UNION SELECT kind, entity_id FROM links WHERE tenant = $1 \
                 AND (external_id = $2 OR entity_id = $2) \
                 UNION SELECT kind, id AS entity_id FROM entities WHERE tenant = $1 AND id = $2 \
                 ORDER BY kind, entity_id LIMIT $3",
                params![tenant, text, limit],
            )?
            .iter()
            .map(|row| Ok((row.get("kind")?, row.get("entity_id")?)))
            .collect()
        })
        .await
    }

    /// Entities of one kind, in id order, `limit` at a time after `after_id`.
    pub async fn list_entities(
        &self,
        tenant: &str,
        kind: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<EntityRecord>, StoreError> {
        let (tenant, kind) = (tenant.to_owned(), kind.to_owned());
        let after = after_id.unwrap_or_default().to_owned();
        self.read(move |sql| {
            sql.query(
                "SELECT tenant, kind, id, data, updated_at FROM entities WHERE tenant = $1 AND kind = $2 \
                 AND id > $3 ORDER BY id LIMIT $4",
                params![tenant, kind, after, limit],
            )?
            .iter()
            .map(entity_from_row)
            .collect()
        })
        .await
    }
}
