//! The order inbox: orders handed over through Kontor's API, kept until the orders flow
//! has read them, and forever as the record of what was submitted. A submission is
//! idempotent by its key: the same key and body again returns the first submission; the
//! same key with another body, or another key for an order id already submitted, is a
//! conflict the caller must see.

use crate::error::StoreError;
use crate::queue::NewJob;
use crate::queue::ops::enqueue_in;
use crate::store::value::Row;
use crate::store::{Sql, Store, params};
use crate::time::{from_micros, to_micros};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A submission, as asked.
#[derive(Debug, Clone)]
pub struct NewSubmission<'a> {
    pub tenant: &'a str,
    pub connection: &'a str,
    pub order_id: &'a str,
    pub idempotency_key: &'a str,
    /// A hash of the request body, to tell a retry from a different order.
    pub request_hash: &'a str,
    /// The order, as JSON text.
    pub body: &'a str,
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
    /// The order, as JSON text (parsed only by whoever needs it: a large order is not
    /// turned into a tree of values on every read).
    pub body: String,
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

fn submission_from_row(row: &Row) -> Result<Submission, StoreError> {
    Ok(Submission {
        seq: row.get("seq")?,
        tenant: row.get("tenant")?,
        connection: row.get("connection")?,
        order_id: row.get("order_id")?,
        idempotency_key: row.get("idempotency_key")?,
        request_hash: row.get("request_hash")?,
        body: row.get("body")?,
        submitted_at: from_micros(row.get("submitted_at")?),
    })
}

/// The submission to (`tenant`, `connection`) whose `column` is `value`.
fn submission_by(
    sql: &mut dyn Sql,
    tenant: &str,
    connection: &str,
    column: &str,
    value: &str,
) -> Result<Option<Submission>, StoreError> {
    sql.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM submitted_orders WHERE tenant = $1 AND connection = $2 \
             AND {column} = $3"
        ),
        params![tenant, connection, value],
    )?
    .as_ref()
    .map(submission_from_row)
    .transpose()
}

impl Store {
    /// Stores a submission unless its key or order id was seen before (then says what
    /// was there), and with a new one enqueues `jobs` (its import) in the same
    /// transaction. The insert comes first — a new order, the usual case, costs one
    /// statement — and only a conflict is looked into.
    pub async fn submit_order(
        &self,
        new: &NewSubmission<'_>,
        jobs: Vec<NewJob>,
    ) -> Result<Submitted, StoreError> {
        let [tenant, connection, order_id, key, hash] = [
            new.tenant,
            new.connection,
            new.order_id,
            new.idempotency_key,
            new.request_hash,
        ]
        .map(str::to_owned);
        let (body, now) = (new.body.to_owned(), self.now());
        let max_attempts = self.retry_policy().max_attempts;
        let submitted = self
            .write(move |sql| {
                let inserted = sql.query_opt(
                &format!(
                    "INSERT INTO submitted_orders (tenant, connection, order_id, idempotency_key, \
                     request_hash, body, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
                ),
                params![tenant, connection, order_id, key, hash, body, to_micros(now)],
            )?;
                if let Some(row) = inserted {
                    for job in &jobs {
                        enqueue_in(sql, job, now, max_attempts)?;
                    }
                    return Ok(Submitted::Accepted(submission_from_row(&row)?));
                }
                if let Some(existing) =
                    submission_by(sql, &tenant, &connection, "idempotency_key", &key)?
                {
                    return Ok(if existing.request_hash == hash {
                        Submitted::Replayed(existing)
                    } else {
                        Submitted::KeyReused(existing)
                    });
                }
                match submission_by(sql, &tenant, &connection, "order_id", &order_id)? {
                    Some(existing) => Ok(Submitted::AlreadySubmitted(existing)),
                    // Only a unique key can make the insert do nothing, and both were looked up.
                    None => Err(StoreError::SubmissionConflict {
                        order_id,
                        idempotency_key: key,
                    }),
                }
            })
            .await?;
        if matches!(submitted, Submitted::Accepted(_)) {
            self.wakeup().notify_waiters();
        }
        Ok(submitted)
    }

    /// One submitted order by its id.
    pub async fn submitted_order(
        &self,
        tenant: &str,
        connection: &str,
        order_id: &str,
    ) -> Result<Option<Submission>, StoreError> {
        let key = [tenant, connection, order_id].map(str::to_owned);
        self.read(move |sql| submission_by(sql, &key[0], &key[1], "order_id", &key[2]))
            .await
    }

    /// Submissions to a connection after sequence `after`, oldest first.
    pub async fn submitted_orders_after(
        &self,
        tenant: &str,
        connection: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Submission>, StoreError> {
        let key = [tenant, connection].map(str::to_owned);
        self.read(move |sql| {
            sql.query(
                &format!(
                    "SELECT {COLUMNS} FROM submitted_orders WHERE tenant = $1 AND connection = $2 \
                     AND seq > $3 ORDER BY seq LIMIT $4"
                ),
                params![key[0], key[1], after, limit],
            )?
            .iter()
            .map(submission_from_row)
            .collect()
        })
        .await
    }
}
