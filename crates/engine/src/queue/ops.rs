//! Queue operations on the store. Every state change is one transaction, and every
//! change to a running job is fenced by its lease token.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};

use super::{
    EnqueueOutcome, FailureOutcome, Job, JobErrorRecord, JobFilter, JobState, Lease, NewJob,
    QueueCount,
};
use crate::effects::{self, Effects};
use crate::error::StoreError;
use crate::job_error::{ErrorClass, JobError};
use crate::store::Store;
use crate::store::sql::SqlBuilder;
use crate::time::{from_micros, opt_from_micros, to_micros};

/// Failures kept per job; older ones are dropped.
const ERROR_HISTORY: usize = 20;

pub(crate) const JOB_COLUMNS: &str = "id, tenant, flow, kind, payload, original_payload, dedupe_key, \
ordering_key, priority, state, run_at, attempts, max_attempts, lease_expires_at, worker, run_id, \
errors, outcome, created_at, updated_at, started_at, finished_at, lease_token";

fn parse_json(text: &str, what: &'static str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt(what))
}

pub(crate) fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    let errors: String = row.try_get("errors")?;
    let original: Option<String> = row.try_get("original_payload")?;
    Ok(Job {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        flow: row.try_get("flow")?,
        kind: row.try_get("kind")?,
        payload: parse_json(&row.try_get::<String, _>("payload")?, "job payload")?,
        original_payload: original
            .map(|p| parse_json(&p, "original job payload"))
            .transpose()?,
        dedupe_key: row.try_get("dedupe_key")?,
        ordering_key: row.try_get("ordering_key")?,
        priority: i32::try_from(row.try_get::<i64, _>("priority")?).unwrap_or_default(),
        state: JobState::parse(&state).ok_or_else(|| StoreError::WrongJobState {
            job_id: 0,
            state: state.clone(),
            expected: "a known state",
        })?,
        run_at: from_micros(row.try_get("run_at")?),
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or_default(),
        max_attempts: u32::try_from(row.try_get::<i64, _>("max_attempts")?).unwrap_or_default(),
        lease_expires_at: opt_from_micros(row.try_get("lease_expires_at")?),
        worker: row.try_get("worker")?,
        run_id: row.try_get("run_id")?,
        errors: serde_json::from_str(&errors).map_err(StoreError::corrupt("job errors"))?,
        outcome: row.try_get("outcome")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
        started_at: opt_from_micros(row.try_get("started_at")?),
        finished_at: opt_from_micros(row.try_get("finished_at")?),
    })
}

fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    let job = job_from_row(row)?;
    let token: Option<String> = row.try_get("lease_token")?;
    Ok(Lease {
        expires_at: job.lease_expires_at.unwrap_or(job.run_at),
        token: token.unwrap_or_default(),
        job,
    })
}

/// Inserts a job unless a waiting job with the same dedupe key exists.
pub(crate) async fn enqueue_in(
    conn: &mut AnyConnection,
    job: &NewJob,
    now: DateTime<Utc>,
    default_max_attempts: u32,
) -> Result<EnqueueOutcome, StoreError> {
    let payload = job.payload.to_string();
    let run_at = to_micros(job.run_at.unwrap_or(now));
    let max_attempts = i64::from(job.max_attempts.unwrap_or(default_max_attempts).max(1));
    // A concurrent writer can move the existing twin out of the waiting states between
    // the two statements; then the insert succeeds on the next round.
    for _ in 0..3 {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (tenant, kind, payload, dedupe_key, ordering_key, priority, state, \
             run_at, attempts, max_attempts, run_id, errors, created_at, updated_at, flow) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, 0, $8, $9, '[]', $10, $10, $11) \
             ON CONFLICT (tenant, dedupe_key) \
             WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'parked') DO NOTHING \
             RETURNING id",
        )
        .bind(&job.tenant)
        .bind(&job.kind)
        .bind(&payload)
        .bind(&job.dedupe_key)
        .bind(&job.ordering_key)
        .bind(i64::from(job.priority))
        .bind(run_at)
        .bind(max_attempts)
        .bind(&job.run_id)
        .bind(to_micros(now))
        .bind(job.payload.get("flow").and_then(|f| f.as_str()))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = inserted {
            return Ok(EnqueueOutcome::Created(id));
        }
        if let Some(key) = &job.dedupe_key
            && let Some(existing) = waiting_twin(conn, &job.tenant, key, None).await?
        {
            return Ok(EnqueueOutcome::Deduplicated(existing));
        }
    }
    Err(StoreError::Query(sqlx::Error::Protocol(format!(
        "could not enqueue job with dedupe key {:?}: it kept changing state",
        job.dedupe_key
    ))))
}

/// The waiting (pending or parked) job holding `dedupe_key`, other than `except`.
async fn waiting_twin(
    conn: &mut AnyConnection,
    tenant: &str,
    dedupe_key: &str,
    except: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM jobs WHERE tenant = $1 AND dedupe_key = $2 \
         AND state IN ('pending', 'parked') AND id <> $3",
    )
    .bind(tenant)
    .bind(dedupe_key)
    .bind(except.unwrap_or(-1))
    .fetch_optional(conn)
    .await?)
}

/// How a failing job is identified: by its lease, or (for crash recovery) as a running
/// job whose lease has expired.
enum Holder<'a> {
    Lease(&'a str),
    ExpiredBy(i64),
}

/// How often claiming also looks for lapsed leases. Leases last seconds; looking on
/// every claim cost a query per job at full load.
const SWEEP_LEASES_EVERY_US: i64 = 1_000_000;

/// Jobs whose lease has run out. Ordered by the indexed column: `ORDER BY id` made
/// SQLite walk the whole jobs table in id order on every claim, however few jobs ran.
const EXPIRED_LEASES: &str = "SELECT id FROM jobs WHERE state = 'running' \
     AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT 500";

impl Store {
    /// Enqueues a job; a waiting job with the same dedupe key absorbs it.
    pub async fn enqueue(&self, job: NewJob) -> Result<EnqueueOutcome, StoreError> {
        let turn = self.write_turn().await;
        let mut conn = self.pool.acquire().await?;
        let outcome = enqueue_in(
            &mut conn,
            &job,
            self.now(),
            self.retry_policy().max_attempts,
        )
        .await?;
        drop(turn);
        if matches!(outcome, EnqueueOutcome::Created(_)) {
            self.wakeup().notify_waiters();
        }
        Ok(outcome)
    }

    /// Leases up to `limit` jobs that are due, highest priority first, for `lease_for`.
    /// Jobs whose lease expired (their worker died) are put back first, looked for at
    /// most once a second.
    pub async fn claim(
        &self,
        worker: &str,
        limit: u32,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, StoreError> {
        let now_us = to_micros(self.now());
        let swept = self.leases_swept_at.load(Ordering::Relaxed);
        if now_us.saturating_sub(swept) >= SWEEP_LEASES_EVERY_US
            && self
                .leases_swept_at
                .compare_exchange(swept, now_us, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            && let Err(error) = self.requeue_expired().await
        {
            // Look again on the next claim.
            self.leases_swept_at.store(swept, Ordering::Relaxed);
            return Err(error);
        }
        let now = self.now();
        let token = uuid::Uuid::now_v7().to_string();
        let expires = now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_token = $1, lease_expires_at = $2, \
             worker = $3, attempts = attempts + 1, started_at = $4, updated_at = $4 \
             WHERE id IN ( \
               SELECT j.id FROM jobs j \
               WHERE j.state = 'pending' AND j.run_at <= $4 \
                 AND (j.ordering_key IS NULL OR NOT EXISTS ( \
                   SELECT 1 FROM jobs e WHERE e.tenant = j.tenant \
                     AND e.ordering_key = j.ordering_key AND e.id < j.id \
                     AND e.state IN ('pending', 'running', 'parked'))) \
               ORDER BY j.priority DESC, j.run_at, j.id \
               LIMIT $5 {skip_locked}) \
             RETURNING {JOB_COLUMNS}",
            skip_locked = self.backend().skip_locked(),
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&sql)
            .bind(&token)
            .bind(to_micros(expires))
            .bind(worker)
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut leases = rows
            .iter()
            .map(lease_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        leases.sort_by(|a, b| {
            (b.job.priority, a.job.run_at, a.job.id).cmp(&(a.job.priority, b.job.run_at, b.job.id))
        });
        Ok(leases)
    }

    /// Extends a lease while the job is still being worked on.
    pub async fn heartbeat(
        &self,
        lease: &mut Lease,
        extend_by: Duration,
    ) -> Result<(), StoreError> {
        let expires =
            self.now() + chrono::Duration::from_std(extend_by).unwrap_or(chrono::Duration::MAX);
        let _turn = self.write_turn().await;
        let updated = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 \
             WHERE id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(to_micros(expires))
        .bind(lease.job.id)
        .bind(&lease.token)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::LeaseLost {
                job_id: lease.job.id,
            });
        }
        lease.expires_at = expires;
        Ok(())
    }

    /// Marks the job done and commits its effects (links, entities, cursors, follow-up
    /// jobs) in the same transaction. Fails with `LeaseLost` — committing nothing — if the
    /// lease was taken over.
    pub async fn complete(&self, lease: &Lease, effects: Effects) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'succeeded', lease_token = NULL, lease_expires_at = NULL, \
             outcome = $1, finished_at = $2, updated_at = $2 \
             WHERE id = $3 AND lease_token = $4 AND state = 'running'",
        )
        .bind(&effects.outcome)
        .bind(to_micros(now))
        .bind(lease.job.id)
        .bind(&lease.token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::LeaseLost {
                job_id: lease.job.id,
            });
        }
        let enqueued = effects::apply(
            &mut tx,
            &lease.job,
            &effects,
            now,
            self.retry_policy().max_attempts,
        )
        .await?;
        tx.commit().await?;
        if enqueued > 0 {
            self.wakeup().notify_waiters();
        }
        Ok(())
    }

    /// Records a failed attempt and decides what happens next: retry later, or park.
    pub async fn fail(
        &self,
        lease: &Lease,
        error: &JobError,
    ) -> Result<FailureOutcome, StoreError> {
        self.fail_held(lease.job.id, Holder::Lease(&lease.token), error)
            .await?
            .ok_or(StoreError::LeaseLost {
                job_id: lease.job.id,
            })
    }

    /// Gives a job back without counting the attempt (a clean shutdown).
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let now = to_micros(self.now());
        let mut tx = self.begin_write().await?;
        let released: Option<i64> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'pending', attempts = attempts - 1, lease_token = NULL, \
             lease_expires_at = NULL, worker = NULL, updated_at = $1 \
             WHERE id = $2 AND lease_token = $3 AND state = 'running' \
             AND (dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs t WHERE t.tenant = jobs.tenant \
               AND t.dedupe_key = jobs.dedupe_key AND t.state IN ('pending', 'parked'))) \
             RETURNING id",
        )
        .bind(now)
        .bind(lease.job.id)
        .bind(&lease.token)
        .fetch_optional(&mut *tx)
        .await?;
        if released.is_none()
            && let Some(key) = &lease.job.dedupe_key
            && let Some(twin) =
                waiting_twin(&mut tx, &lease.job.tenant, key, Some(lease.job.id)).await?
        {
            sqlx::query(
                "UPDATE jobs SET state = 'superseded', outcome = $1, lease_token = NULL, \
                 lease_expires_at = NULL, finished_at = $2, updated_at = $2 \
                 WHERE id = $3 AND lease_token = $4 AND state = 'running'",
            )
            .bind(format!(
                "superseded by job {twin}, which will do the same work"
            ))
            .bind(now)
            .bind(lease.job.id)
            .bind(&lease.token)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.wakeup().notify_waiters();
        Ok(())
    }

    /// Puts jobs whose worker stopped renewing its lease back in the queue (or parks them
    /// when they have used up their attempts: a job that keeps killing its worker).
    pub async fn requeue_expired(&self) -> Result<usize, StoreError> {
        let now = to_micros(self.now());
        let expired: Vec<i64> = sqlx::query_scalar(EXPIRED_LEASES)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let error = JobError::transient(
            "lease_expired",
            "the worker running this job stopped renewing its lease (it crashed, was killed, or hung)",
        );
        let mut requeued = 0;
        for id in expired {
            if self
                .fail_held(id, Holder::ExpiredBy(now), &error)
                .await?
                .is_some()
            {
                requeued += 1;
            }
        }
        Ok(requeued)
    }

    async fn fail_held(
        &self,
        job_id: i64,
        holder: Holder<'_>,
        error: &JobError,
    ) -> Result<Option<FailureOutcome>, StoreError> {
        let now = self.now();
        let policy = self.retry_policy();
        let mut tx = self.begin_write().await?;
        let lock = match self.backend() {
            crate::store::Backend::Postgres => "FOR UPDATE",
            crate::store::Backend::Sqlite => "",
        };
        let row = match holder {
            Holder::Lease(token) => {
                sqlx::query(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running' {lock}"
                ))
                .bind(job_id)
                .bind(token)
                .fetch_optional(&mut *tx)
                .await?
            }
            Holder::ExpiredBy(now) => {
                sqlx::query(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND state = 'running' AND lease_expires_at <= $2 {lock}"
                ))
                .bind(job_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let job = job_from_row(&row)?;
        let mut history = job.errors.clone();
        history.push(JobErrorRecord {
            attempt: job.attempts,
            at: now,
            class: error.class,
            code: error.code.clone(),
            message: error.message.clone(),
            chain: error.chain.clone(),
            details: error.details.as_deref().cloned(),
        });
        if history.len() > ERROR_HISTORY {
            history.drain(..history.len() - ERROR_HISTORY);
        }
        let history = serde_json::to_string(&history).map_err(StoreError::corrupt("job errors"))?;

        // Being throttled is not the job's fault: it does not use up an attempt.
        let (state, attempts, run_at) = match (error.class, error.retry_after) {
            (ErrorClass::Transient, Some(after)) => (
                JobState::Pending,
                job.attempts.saturating_sub(1),
                now + to_chrono(policy.after_hint(after)),
            ),
            (ErrorClass::Transient, None) | (ErrorClass::Waiting, _)
                if job.attempts < job.max_attempts =>
            {
                (
                    JobState::Pending,
                    job.attempts,
                    now + to_chrono(policy.backoff(job.attempts)),
                )
            }
            _ => (JobState::Parked, job.attempts, job.run_at),
        };

        let now_us = to_micros(now);
        if let Some(key) = &job.dedupe_key
            && let Some(twin) = waiting_twin(&mut tx, &job.tenant, key, Some(job.id)).await?
        {
            // Record the failure on the superseded job, then hand the work to its twin.
            sqlx::query(
                "UPDATE jobs SET errors = $1, error_class = $2, error_code = $3 WHERE id = $4",
            )
            .bind(&history)
            .bind(error.class.to_string())
            .bind(&error.code)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
            supersede(&mut tx, job.id, twin, now_us).await?;
            tx.commit().await?;
            return Ok(Some(FailureOutcome::Superseded { by: twin }));
        }

        sqlx::query(
            "UPDATE jobs SET state = $1, attempts = $2, run_at = $3, lease_token = NULL, \
             lease_expires_at = NULL, worker = NULL, errors = $4, error_class = $5, \
             error_code = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(state.as_str())
        .bind(i64::from(attempts))
        .bind(to_micros(run_at))
        .bind(&history)
        .bind(error.class.to_string())
        .bind(&error.code)
        .bind(now_us)
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(match state {
            JobState::Pending => FailureOutcome::Retrying { at: run_at },
            _ => FailureOutcome::Parked,
        }))
    }

    /// Operator: runs a parked job again, with a fresh set of attempts.
    pub async fn retry_job(&self, job_id: i64, tenant: Option<&str>) -> Result<Job, StoreError> {
        self.revive_parked(job_id, tenant, None).await
    }

    /// Operator: replaces a parked job's payload (keeping the original) and runs it again.
    pub async fn edit_and_retry_job(
        &self,
        job_id: i64,
        tenant: Option<&str>,
        payload: serde_json::Value,
    ) -> Result<Job, StoreError> {
        self.revive_parked(job_id, tenant, Some(payload)).await
    }

    async fn revive_parked(
        &self,
        job_id: i64,
        tenant: Option<&str>,
        payload: Option<serde_json::Value>,
    ) -> Result<Job, StoreError> {
        let now = to_micros(self.now());
        let mut q = SqlBuilder::new("UPDATE jobs SET state = 'pending', attempts = 0, run_at = ");
        q.push_bind(now).push(", updated_at = ").push_bind(now);
        if let Some(payload) = payload {
            q.push(", original_payload = COALESCE(original_payload, payload), payload = ")
                .push_bind(payload.to_string());
        }
        q.push(" WHERE state = 'parked' AND id = ")
            .push_bind(job_id);
        if let Some(tenant) = tenant {
            q.push(" AND tenant = ").push_bind(tenant.to_owned());
        }
        q.push(&format!(" RETURNING {JOB_COLUMNS}"));
        let (sql, args) = q.build();
        let row = sqlx::query_with::<Any, _>(&sql, args)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                self.wakeup().notify_waiters();
                job_from_row(&row)
            }
            None => Err(self.state_error(job_id, tenant, "parked").await),
        }
    }

    /// Operator: decides a parked job should not run; `reason` is kept as its outcome.
    pub async fn skip_job(
        &self,
        job_id: i64,
        tenant: Option<&str>,
        reason: &str,
    ) -> Result<Job, StoreError> {
        let now = to_micros(self.now());
        let mut q = SqlBuilder::new("UPDATE jobs SET state = 'skipped', outcome = ");
        q.push_bind(format!("skipped: {reason}"))
            .push(", finished_at = ")
            .push_bind(now)
            .push(", updated_at = ")
            .push_bind(now)
            .push(" WHERE state = 'parked' AND id = ")
            .push_bind(job_id);
        if let Some(tenant) = tenant {
            q.push(" AND tenant = ").push_bind(tenant.to_owned());
        }
        q.push(&format!(" RETURNING {JOB_COLUMNS}"));
        let (sql, args) = q.build();
        let row = sqlx::query_with::<Any, _>(&sql, args)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                // The jobs queued behind it on its ordering key may run now.
                self.wakeup().notify_waiters();
                job_from_row(&row)
            }
            None => Err(self.state_error(job_id, tenant, "parked").await),
        }
    }

    async fn state_error(
        &self,
        job_id: i64,
        tenant: Option<&str>,
        expected: &'static str,
    ) -> StoreError {
        match self.get_job(job_id, tenant).await {
            Ok(Some(job)) => StoreError::WrongJobState {
                job_id,
                state: job.state.to_string(),
                expected,
            },
            Ok(None) => StoreError::JobNotFound { job_id },
            Err(e) => e,
        }
    }

    /// One job, if it exists (and belongs to `tenant`, when given).
    pub async fn get_job(
        &self,
        job_id: i64,
        tenant: Option<&str>,
    ) -> Result<Option<Job>, StoreError> {
        let mut q = SqlBuilder::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = "));
        q.push_bind(job_id);
        if let Some(tenant) = tenant {
            q.push(" AND tenant = ").push_bind(tenant.to_owned());
        }
        let (sql, args) = q.build();
        let row = sqlx::query_with::<Any, _>(&sql, args)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Jobs matching `filter`, newest first.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let mut q = SqlBuilder::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(tenant) = &filter.tenant {
            q.push(" AND tenant = ").push_bind(tenant.clone());
        }
        if !filter.states.is_empty() {
            q.push(" AND state IN (");
            for (i, state) in filter.states.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push_bind(state.as_str().to_owned());
            }
            q.push(")");
        }
        if let Some(flow) = &filter.flow {
            q.push(" AND flow = ").push_bind(flow.clone());
        }
        if let Some(kind) = &filter.kind {
            q.push(" AND kind = ").push_bind(kind.clone());
        }
        if let Some(text) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let pattern = format!("%{}%", like_escaped(&text.to_lowercase()));
            q.push(" AND (");
            for (i, column) in [
                "kind",
                "dedupe_key",
                "ordering_key",
                "payload",
                "outcome",
                "error_code",
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push(&format!("LOWER({column}) LIKE "))
                    .push_bind(pattern.clone())
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(run_id) = &filter.run_id {
            q.push(" AND run_id = ").push_bind(run_id.clone());
        }
        if let Some(code) = &filter.error_code {
            q.push(" AND error_code = ").push_bind(code.clone());
        }
        if let Some(before) = filter.before_id {
            q.push(" AND id < ").push_bind(before);
        }
        let limit = if filter.limit == 0 {
            100
        } else {
            filter.limit.min(1000)
        };
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let (sql, args) = q.build();
        let rows = sqlx::query_with::<Any, _>(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Job counts per tenant, kind and state; finished jobs only when asked for.
    pub async fn queue_counts(
        &self,
        include_finished: bool,
    ) -> Result<Vec<QueueCount>, StoreError> {
        let filter = if include_finished {
            ""
        } else {
            "WHERE state IN ('pending', 'running', 'parked')"
        };
        let rows = sqlx::query(&format!(
            "SELECT tenant, kind, state, COUNT(*) AS n FROM jobs {filter} \
             GROUP BY tenant, kind, state ORDER BY tenant, kind, state"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(QueueCount {
                    tenant: row.try_get("tenant")?,
                    kind: row.try_get("kind")?,
                    state: JobState::parse(&state).unwrap_or(JobState::Pending),
                    count: row.try_get("n")?,
                })
            })
            .collect()
    }

    /// Counts of one run's jobs by state (for `kontor sync` progress).
    pub async fn run_counts(&self, run_id: &str) -> Result<Vec<(JobState, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT state, COUNT(*) AS n FROM jobs WHERE run_id = $1 GROUP BY state")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok((
                    JobState::parse(&state).unwrap_or(JobState::Pending),
                    row.try_get("n")?,
                ))
            })
            .collect()
    }

    /// How long the oldest due job has been waiting (queue lag).
    pub async fn queue_lag(&self) -> Result<Duration, StoreError> {
        let now = self.now();
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= $1",
        )
        .bind(to_micros(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(oldest
            .map(|us| (now - from_micros(us)).to_std().unwrap_or_default())
            .unwrap_or_default())
    }
}

async fn supersede(
    conn: &mut AnyConnection,
    job_id: i64,
    by: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'superseded', outcome = $1, lease_token = NULL, \
         lease_expires_at = NULL, finished_at = $2, updated_at = $2 WHERE id = $3",
    )
    .bind(format!(
        "superseded by job {by}, which will do the same work"
    ))
    .bind(now)
    .bind(job_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// `text` for a LIKE pattern: its `%`, `_` and backslashes taken literally.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::Row;

    use super::*;

    /// Each claim looks for expired leases first; on a store that has run for a while the
    /// jobs table holds every job ever run, so that look must use its index.
    #[tokio::test]
    async fn looking_for_expired_leases_does_not_scan_every_job() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = Store::open(&url).await.unwrap();
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {EXPIRED_LEASES}"))
            .bind(0_i64)
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get::<String, _>("detail").unwrap())
            .collect();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|step| step.contains("jobs_leases")),
            "{plan:?}"
        );
    }
}
