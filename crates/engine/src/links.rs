//! Links (the OCA connector's "bindings"): a record's id in a connected system ↔ the
//! Kontor entity it is, plus the hash of what was last sent there.

use crate::error::{LinkClash, StoreError};
use crate::store::value::Row;
use crate::store::{Sql, Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub tenant: String,
    /// Entity kind, e.g. `order`, `variant`, `customer`.
    pub kind: String,
    /// The connection the external id belongs to (e.g. `shop`, `erp`).
    pub system: String,
    pub external_id: String,
    /// Kontor's id for the entity.
    pub entity_id: String,
    /// Content hash of what Kontor last sent to this system; `None` leaves it unchanged.
    pub sent_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Link {
    pub fn new(
        tenant: &str,
        kind: &str,
        system: &str,
        external_id: impl Into<String>,
        entity_id: impl Into<String>,
    ) -> Self {
        Link {
            tenant: tenant.to_owned(),
            kind: kind.to_owned(),
            system: system.to_owned(),
            external_id: external_id.into(),
            entity_id: entity_id.into(),
            sent_hash: None,
            updated_at: None,
        }
    }

    pub fn with_hash(mut self, hash: impl Into<String>) -> Self {
        self.sent_hash = Some(hash.into());
        self
    }
}

const LINK_COLUMNS: &str = "tenant, kind, system, external_id, entity_id, sent_hash, updated_at";

/// Every link of the entity that `($3, $4)` is bound to. The entity is found by a scalar
/// subquery, which PostgreSQL runs once before the outer scan whatever its statistics
/// say; as `entity_id IN (…)` on a new store (statistics of an empty table) it chose a
/// nested loop over every link of the kind, per link — half a second at 700 customers.
/// No `ORDER BY` here (see [`by_system`]).
fn links_alongside_sql() -> String {
    format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE tenant = $1 AND kind = $2 AND entity_id = \
         (SELECT entity_id FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 \
          AND external_id = $4)"
    )
}

/// An entity's links, in system order. Sorted here rather than by `ORDER BY system`:
/// to return rows already in that order SQLite walked the (tenant, kind, system,
/// entity_id) index over every link of the kind instead of looking the entity up.
fn by_system(rows: &[Row]) -> Result<Vec<Link>, StoreError> {
    let mut links = rows
        .iter()
        .map(link_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    links.sort_by(|a, b| a.system.cmp(&b.system));
    Ok(links)
}

fn link_from_row(row: &Row) -> Result<Link, StoreError> {
    Ok(Link {
        tenant: row.get("tenant")?,
        kind: row.get("kind")?,
        system: row.get("system")?,
        external_id: row.get("external_id")?,
        entity_id: row.get("entity_id")?,
        sent_hash: row.get("sent_hash")?,
        updated_at: Some(from_micros(row.get("updated_at")?)),
    })
}

/// Binds, or refreshes the hash of an existing binding. Refuses to re-bind an external
/// record to another entity, or an entity to a second record in the same system. A new
/// binding is one insert, a refreshed one an insert and an update; a refusal is looked
/// into to say which rule it broke. Both rules are unique constraints, which the insert
/// checks through their indexes whatever the planner thinks (a `NOT EXISTS` here was
/// planned on PostgreSQL, before statistics, as a scan of the tenant's links).
pub(crate) fn upsert_in(
    sql: &mut dyn Sql,
    link: &Link,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = to_micros(now);
    let inserted: Option<String> = sql.scalar(
        "INSERT INTO links (tenant, kind, system, external_id, entity_id, sent_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING entity_id",
        params![
            link.tenant,
            link.kind,
            link.system,
            link.external_id,
            link.entity_id,
            link.sent_hash,
            now
        ],
    )?;
    if inserted.is_some() {
        return Ok(());
    }
    let bound: Option<String> = sql.scalar(
        "UPDATE links SET sent_hash = COALESCE($5, sent_hash), updated_at = $6 \
         WHERE tenant = $1 AND kind = $2 AND system = $3 AND external_id = $4 AND entity_id = $7 \
         RETURNING entity_id",
        params![
            link.tenant,
            link.kind,
            link.system,
            link.external_id,
            link.sent_hash,
            now,
            link.entity_id
        ],
    )?;
    if bound.is_some() {
        return Ok(());
    }
    let clash = |existing: String| {
        Box::new(LinkClash {
            kind: link.kind.clone(),
            system: link.system.clone(),
            external_id: link.external_id.clone(),
            entity_id: link.entity_id.clone(),
            existing,
        })
    };
    let other_record: Option<String> = sql.scalar(
        "SELECT external_id FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 \
         AND entity_id = $4 AND external_id <> $5",
        params![
            link.tenant,
            link.kind,
            link.system,
            link.entity_id,
            link.external_id
        ],
    )?;
    if let Some(other) = other_record {
        return Err(StoreError::EntityAlreadyLinked(clash(other)));
    }
    let existing: Option<String> = sql.scalar(
        "SELECT entity_id FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 AND external_id = $4",
        params![link.tenant, link.kind, link.system, link.external_id],
    )?;
    Err(StoreError::ExternalAlreadyLinked(clash(
        existing.unwrap_or_default(),
    )))
}

impl Store {
    /// Binds (or refreshes) one link outside a job.
    pub async fn upsert_link(&self, link: &Link) -> Result<(), StoreError> {
        let (link, now) = (link.clone(), self.now());
        self.write(move |sql| upsert_in(sql, &link, now)).await
    }

    /// The entity a system's record is bound to.
    pub async fn link_by_external(
        &self,
        tenant: &str,
        kind: &str,
        system: &str,
        external_id: &str,
    ) -> Result<Option<Link>, StoreError> {
        let key = [tenant, kind, system, external_id].map(str::to_owned);
        self.read(move |sql| {
            sql.query_opt(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 AND external_id = $4"
                ),
                params![key[0], key[1], key[2], key[3]],
            )?
            .as_ref()
            .map(link_from_row)
            .transpose()
        })
        .await
    }

    /// The record an entity is bound to in one system.
    pub async fn link_by_entity(
        &self,
        tenant: &str,
        kind: &str,
        system: &str,
        entity_id: &str,
    ) -> Result<Option<Link>, StoreError> {
        let key = [tenant, kind, system, entity_id].map(str::to_owned);
        self.read(move |sql| {
            sql.query_opt(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 AND entity_id = $4"
                ),
                params![key[0], key[1], key[2], key[3]],
            )?
            .as_ref()
            .map(link_from_row)
            .transpose()
        })
        .await
    }

    /// All records an entity is bound to, across systems, in system order.
    pub async fn links_of_entity(
        &self,
        tenant: &str,
        kind: &str,
        entity_id: &str,
    ) -> Result<Vec<Link>, StoreError> {
        let key = [tenant, kind, entity_id].map(str::to_owned);
        self.read(move |sql| {
            by_system(&sql.query(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE tenant = $1 AND kind = $2 AND entity_id = $3"
                ),
                params![key[0], key[1], key[2]],
            )?)
        })
        .await
    }

    /// Every link of the entity a system's record is bound to (that record's own among
    /// them), in one query, in system order; empty when the record is not bound.
    pub async fn links_alongside(
        &self,
        tenant: &str,
        kind: &str,
        system: &str,
        external_id: &str,
    ) -> Result<Vec<Link>, StoreError> {
        let key = [tenant, kind, system, external_id].map(str::to_owned);
        self.read(move |sql| {
            by_system(&sql.query(
                &links_alongside_sql(),
                params![key[0], key[1], key[2], key[3]],
            )?)
        })
        .await
    }

    /// Removes a binding (e.g. the record was deleted in that system).
    pub async fn unlink(
        &self,
        tenant: &str,
        kind: &str,
        system: &str,
        external_id: &str,
    ) -> Result<bool, StoreError> {
        let key = [tenant, kind, system, external_id].map(str::to_owned);
        let deleted = self
            .write(move |sql| {
                sql.execute(
                    "DELETE FROM links WHERE tenant = $1 AND kind = $2 AND system = $3 AND external_id = $4",
                    params![key[0], key[1], key[2], key[3]],
                )
            })
            .await?;
        Ok(deleted > 0)
    }

    /// Number of links per kind and system for a tenant.
    pub async fn link_counts(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let tenant = tenant.to_owned();
        self.read(move |sql| {
            sql.query(
                "SELECT kind, system, COUNT(*) AS n FROM links WHERE tenant = $1 GROUP BY kind, system ORDER BY kind, system",
                params![tenant],
            )?
            .iter()
            .map(|r| Ok((r.get("kind")?, r.get("system")?, r.get("n")?)))
            .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::Row as _;

    use super::*;

    /// On SQLite the lookups of an entity's links go to the entity through an index,
    /// never along every link of the kind (which the orders flow would pay per order).
    #[tokio::test]
    async fn an_entitys_links_are_looked_up_not_scanned_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = Store::open(&url).await.unwrap();
        for statement in [
            links_alongside_sql(),
            format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE tenant = $1 AND kind = $2 AND entity_id = $3"
            ),
        ] {
            let values = ["acme", "customer", "shop", "c-1"];
            let n = if statement.contains("$4") { 4 } else { 3 };
            let params = values[..n]
                .iter()
                .map(|v| crate::store::value::Value::Text((*v).to_owned()))
                .collect();
            let plan = store.sqlite_plan(&statement, params).await;
            // Every step searches with the entity id or the record's full key.
            assert!(
                plan.iter().all(|step| step.contains("entity_id=?")
                    || step.contains("external_id=?")
                    || step.starts_with("SCALAR SUBQUERY")),
                "{plan:?}"
            );
        }
    }

    /// The orders flow asks this for every order, through a prepared statement that
    /// PostgreSQL plans generically after five runs. On a new store (a table never
    /// analysed) it must find the record's entity once, not filter every link of the
    /// kind once per link.
    #[tokio::test]
    async fn links_alongside_reads_one_entity_on_a_new_postgres_store() {
        use sqlx::Connection;

        let (options, url) = crate::store::test_postgres("kt_links");
        let schema = options.schema.clone().unwrap();
        let store = Store::open_with(options, std::sync::Arc::new(crate::SystemClock))
            .await
            .unwrap();
        store
            .write(|sql| {
                for (kind, count) in [("customer", 300_i64), ("order", 600)] {
                    for system in ["erp", "shop"] {
                        sql.execute(
                            "INSERT INTO links (tenant, kind, system, external_id, entity_id, created_at, updated_at) \
                             SELECT 'acme', $1, $2, $2 || '-' || n, $1 || '-' || n, n, n FROM generate_series(1, $3) AS n",
                            params![kind, system, count],
                        )?;
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let mut plan = Vec::new();
        for statement in [
            format!("SET search_path TO {schema}"),
            "SET plan_cache_mode = force_generic_plan".to_owned(),
            format!(
                "PREPARE alongside(text, text, text, text) AS {}",
                links_alongside_sql()
            ),
            "EXPLAIN ANALYZE EXECUTE alongside('acme', 'customer', 'shop', 'shop-7')".to_owned(),
        ] {
            plan = sqlx::raw_sql(&statement)
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .filter_map(|row| row.try_get::<String, _>(0).ok())
                .collect();
        }
        // "Rows Removed by Filter" is per loop: multiply by the loops of its node.
        let mut loops = 1;
        let mut rows_looked_at = 0;
        for line in &plan {
            if let Some(n) = line.split("loops=").nth(1) {
                loops = n.trim_end_matches(')').parse::<u64>().unwrap_or(1);
            }
            if let Some(n) = line.split("Rows Removed by Filter: ").nth(1) {
                rows_looked_at += n.trim().parse::<u64>().unwrap_or(0) * loops;
            }
        }
        let found = store
            .links_alongside("acme", "customer", "shop", "shop-7")
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(found.len(), 2);
        // Without statistics each of the statement's two lookups may read the kind's 600
        // links once (the store soon gathers statistics, and then only the two links are read);
        // once per link would be 360,000.
        assert!(rows_looked_at <= 2 * 600, "{}", plan.join("\n"));
    }
}
