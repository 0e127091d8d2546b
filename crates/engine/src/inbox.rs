//! The order inbox: orders handed over through Kontor's API, kept until the orders flow
//! has read them, and forever as the record of what was submitted. A submission is
//! idempotent by its key: the same key and body again returns the first submission; the
//! same key with another body, or another key for an order id already submitted, is a
//! conflict the caller must see.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::StoreError;
use crate::store::Store;
use crate::time::{from_micros, to_micros};

/// A submission, as asked.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    pub tenant: &'a str,
    pub connection: &'a str,
    pub order_id: &'a str,
    pub idempotency_key: &'a str,
    /// A hash of the request body, to tell a retry from a different order.
    pub request_hash: &'a str,
    pub body: &'a serde_json::Value,
}

/// A submission, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The inbox's sequence number (its change cursor).
    pub seq: i64,
    pub tenant: String,
    pub connection: String,
    pub order_id: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub body: serde_json::Value,
    pub submitted_at: DateTime<Utc>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Stored now.
    Accepted(Submission),
    /// The same key and body were submitted before: the first submission.
    Replayed(Submission),
    /// The key was used for a different body.
    KeyReused(Submission),
    /// The order id was already submitted under another key.
    AlreadySubmitted(Submission),
}

const COLUMNS: &str =
    "seq, tenant, connection, order_id, idempotency_key, request_hash, body, submitted_at";

fn submission_from_row(row: &sqlx::any::AnyRow) -> Result<Submission, StoreError> {
    let body: String = row.try_get("body")?;
    Ok(Submission {
        seq: row.try_get("seq")?,
        tenant: row.try_get("tenant")?,
        connection: row.try_get("connection")?,
        order_id: row.try_get("order_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        body: serde_json::from_str(&body).map_err(StoreError::corrupt("submitted order"))?,
        submitted_at: from_micros(row.try_get("submitted_at")?),
    })
}

impl Store {
    /// Stores a submission unless its key or order id was seen before (then says what
    /// was there). The insert comes first — a new order, the usual case, costs one
    /// statement — and only a conflict is looked into. Concurrent submissions with one
    /// key store one: the loser's insert does nothing and it reads the winner's.
    pub async fn submit_order(&self, new: &NewSubmission<'_>) -> Result<Submitted, StoreError> {
        let turn = self.write_turn().await;
        let inserted = sqlx::query(&format!(
            "INSERT INTO submitted_orders (tenant, connection, order_id, idempotency_key, \
             request_hash, body, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        ))
        .bind(new.tenant)
        .bind(new.connection)
        .bind(new.order_id)
        .bind(new.idempotency_key)
        .bind(new.request_hash)
        .bind(new.body.to_string())
        .bind(to_micros(self.now()))
        .fetch_optional(&self.pool)
        .await?;
        drop(turn);
        if let Some(row) = inserted {
            return Ok(Submitted::Accepted(submission_from_row(&row)?));
        }
        if let Some(existing) = self.submission_by_key(new).await? {
            return Ok(if existing.request_hash == new.request_hash {
                Submitted::Replayed(existing)
            } else {
                Submitted::KeyReused(existing)
            });
        }
        match self
            .submitted_order(new.tenant, new.connection, new.order_id)
            .await?
        {
            Some(existing) => Ok(Submitted::AlreadySubmitted(existing)),
            // Only a unique key can make the insert do nothing, and both were looked up.
            None => Err(StoreError::SubmissionConflict {
                order_id: new.order_id.to_owned(),
                idempotency_key: new.idempotency_key.to_owned(),
            }),
        }
    }

    async fn submission_by_key(
        &self,
        new: &NewSubmission<'_>,
    ) -> Result<Option<Submission>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM submitted_orders WHERE tenant = $1 AND connection = $2 \
             AND idempotency_key = $3"
        ))
        .bind(new.tenant)
        .bind(new.connection)
        .bind(new.idempotency_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(submission_from_row).transpose()
    }

    /// One submitted order by its id.
    pub async fn submitted_order(
        &self,
        tenant: &str,
        connection: &str,
        order_id: &str,
    ) -> Result<Option<Submission>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM submitted_orders WHERE tenant = $1 AND connection = $2 \
             AND order_id = $3"
        ))
        .bind(tenant)
        .bind(connection)
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(submission_from_row).transpose()
    }

    /// Submissions to a connection after sequence `after`, oldest first.
    pub async fn submitted_orders_after(
        &self,
        tenant: &str,
        connection: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Submission>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM submitted_orders WHERE tenant = $1 AND connection = $2 \
             AND seq > $3 ORDER BY seq LIMIT $4"
        ))
        .bind(tenant)
        .bind(connection)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(submission_from_row).collect()
    }
}
