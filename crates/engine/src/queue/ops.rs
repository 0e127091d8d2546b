//! Queue operations on the store. Every state change is one transaction, and every
//! change to a running job is fenced by its lease token.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    EnqueueOutcome, FailureOutcome, Job, JobErrorRecord, JobFilter, JobState, Lease, NewJob,
    QueueCount,
};
use crate::effects::{self, Effects};
use crate::error::StoreError;
use crate::job_error::{ErrorClass, JobError};
use crate::store::sql::SqlBuilder;
use crate::store::value::Row;
use crate::store::{Backend, Sql, Store, params};
use crate::time::{from_micros, opt_from_micros, to_micros};

/// Failures kept per job; older ones are dropped.
const ERROR_HISTORY: usize = 20;

pub(crate) const JOB_COLUMNS: &str = "id, tenant, flow, kind, payload, original_payload, dedupe_key, \
ordering_key, priority, state, run_at, attempts, max_attempts, lease_expires_at, worker, run_id, \
errors, outcome, created_at, updated_at, started_at, finished_at, lease_token";

fn parse_json(text: &str, what: &'static str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt(what))
}

pub(crate) fn job_from_row(row: &Row) -> Result<Job, StoreError> {
    let state: String = row.get("state")?;
    let errors: String = row.get("errors")?;
    let original: Option<String> = row.get("original_payload")?;
    Ok(Job {
        id: row.get("id")?,
        tenant: row.get("tenant")?,
        flow: row.get("flow")?,
        kind: row.get("kind")?,
        payload: parse_json(&row.get::<String>("payload")?, "job payload")?,
        original_payload: original
            .map(|p| parse_json(&p, "original job payload"))
            .transpose()?,
        dedupe_key: row.get("dedupe_key")?,
        ordering_key: row.get("ordering_key")?,
        priority: i32::try_from(row.get::<i64>("priority")?).unwrap_or_default(),
        state: JobState::parse(&state).ok_or_else(|| StoreError::WrongJobState {
            job_id: 0,
            state: state.clone(),
            expected: "a known state",
        })?,
        run_at: from_micros(row.get("run_at")?),
        attempts: u32::try_from(row.get::<i64>("attempts")?).unwrap_or_default(),
        max_attempts: u32::try_from(row.get::<i64>("max_attempts")?).unwrap_or_default(),
        lease_expires_at: opt_from_micros(row.get("lease_expires_at")?),
        worker: row.get("worker")?,
        run_id: row.get("run_id")?,
        errors: serde_json::from_str(&errors).map_err(StoreError::corrupt("job errors"))?,
        outcome: row.get("outcome")?,
        created_at: from_micros(row.get("created_at")?),
        updated_at: from_micros(row.get("updated_at")?),
        started_at: opt_from_micros(row.get("started_at")?),
        finished_at: opt_from_micros(row.get("finished_at")?),
    })
}

fn lease_from_row(row: &Row) -> Result<Lease, StoreError> {
    let job = job_from_row(row)?;
    let token: Option<String> = row.get("lease_token")?;
    Ok(Lease {
        expires_at: job.lease_expires_at.unwrap_or(job.run_at),
        token: token.unwrap_or_default(),
        job,
    })
}

/// Inserts a job unless a waiting job with the same dedupe key exists.
pub(crate) fn enqueue_in(
    sql: &mut dyn Sql,
    job: &NewJob,
    now: DateTime<Utc>,
    default_max_attempts: u32,
) -> Result<EnqueueOutcome, StoreError> {
    let payload = job.payload.to_string();
    let run_at = to_micros(job.run_at.unwrap_or(now));
    let max_attempts = i64::from(job.max_attempts.unwrap_or(default_max_attempts).max(1));
    let flow = job.payload.get("flow").and_then(|f| f.as_str());
    // A concurrent writer (another process) can move the existing twin out of the
    // waiting states between the two statements; then the insert succeeds next round.
    for _ in 0..3 {
        let inserted: Option<i64> = sql.scalar(
            "INSERT INTO jobs (tenant, kind, payload, dedupe_key, ordering_key, priority, state, \
             run_at, attempts, max_attempts, run_id, errors, created_at, updated_at, flow) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, 0, $8, $9, '[]', $10, $10, $11) \
             ON CONFLICT (tenant, dedupe_key) \
             WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'parked') DO NOTHING \
             RETURNING id",
            params![
                job.tenant,
                job.kind,
                payload,
                job.dedupe_key,
                job.ordering_key,
                job.priority,
                run_at,
                max_attempts,
                job.run_id,
                to_micros(now),
                flow,
            ],
        )?;
        if let Some(id) = inserted {
            return Ok(EnqueueOutcome::Created(id));
        }
        if let Some(key) = &job.dedupe_key
            && let Some(existing) = waiting_twin(sql, &job.tenant, key, None)?
        {
            return Ok(EnqueueOutcome::Deduplicated(existing));
        }
    }
    Err(StoreError::Contended(format!(
        "could not enqueue job with dedupe key {:?}: it kept changing state",
        job.dedupe_key
    )))
}

/// The waiting (pending or parked) job holding `dedupe_key`, other than `except`.
fn waiting_twin(
    sql: &mut dyn Sql,
    tenant: &str,
    dedupe_key: &str,
    except: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    sql.scalar(
        "SELECT id FROM jobs WHERE tenant = $1 AND dedupe_key = $2 \
         AND state IN ('pending', 'parked') AND id <> $3",
        params![tenant, dedupe_key, except.unwrap_or(-1)],
    )
}

/// How a failing job is identified: by its lease, or (for crash recovery) as a running
/// job whose lease has expired.
enum Holder {
    Lease(String),
    ExpiredBy(i64),
}

/// How often claiming also looks for lapsed leases. Leases last seconds; looking on
/// every claim cost a query per job at full load.
const SWEEP_LEASES_EVERY_US: i64 = 1_000_000;

/// Jobs whose lease has run out. Ordered by the indexed column: `ORDER BY id` made
/// SQLite walk the whole jobs table in id order on every claim, however few jobs ran.
const EXPIRED_LEASES: &str = "SELECT id FROM jobs WHERE state = 'running' \
     AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT 500";

/// Whether any job is due (through the index of pending jobs).
const ANY_DUE: &str = "SELECT id FROM jobs WHERE state = 'pending' AND run_at <= $1 ORDER BY priority DESC, run_at, id LIMIT 1";

impl Store {
    /// Enqueues a job; a waiting job with the same dedupe key absorbs it.
    pub async fn enqueue(&self, job: NewJob) -> Result<EnqueueOutcome, StoreError> {
        let (now, max_attempts) = (self.now(), self.retry_policy().max_attempts);
        let outcome = self
            .write(move |sql| enqueue_in(sql, &job, now, max_attempts))
            .await?;
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
        // Workers look for work whenever one of them finishes: most looks find none, and
        // finding that out takes no write.
        let now_us = to_micros(now);
        let due: Option<i64> = self
            .read(move |sql| sql.scalar(ANY_DUE, params![now_us]))
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let token = uuid::Uuid::now_v7().to_string();
        let expires = now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
        let statement = format!(
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
        let worker = worker.to_owned();
        let rows = self
            .write(move |sql| {
                sql.query(
                    &statement,
                    params![token, to_micros(expires), worker, to_micros(now), limit],
                )
            })
            .await?;
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
        let (id, token) = (lease.job.id, lease.token.clone());
        let updated = self
            .write(move |sql| {
                sql.execute(
                    "UPDATE jobs SET lease_expires_at = $1 \
                     WHERE id = $2 AND lease_token = $3 AND state = 'running'",
                    params![to_micros(expires), id, token],
                )
            })
            .await?;
        if updated == 0 {
            return Err(StoreError::LeaseLost { job_id: id });
        }
        lease.expires_at = expires;
        Ok(())
    }

    /// Marks the job done and commits its effects (links, entities, cursors, follow-up
    /// jobs) in the same transaction, releasing the locks it held. Fails with
    /// `LeaseLost` — committing nothing — if the lease was taken over.
    pub async fn complete(&self, lease: &Lease, effects: Effects) -> Result<(), StoreError> {
        let (now, max_attempts) = (self.now(), self.retry_policy().max_attempts);
        let (job, token) = (lease.job.clone(), lease.token.clone());
        let enqueued = self
            .write(move |sql| {
                let updated = sql.execute(
                    "UPDATE jobs SET state = 'succeeded', lease_token = NULL, lease_expires_at = NULL, \
                     outcome = $1, finished_at = $2, updated_at = $2 \
                     WHERE id = $3 AND lease_token = $4 AND state = 'running'",
                    params![effects.outcome, to_micros(now), job.id, token],
                )?;
                if updated == 0 {
                    return Err(StoreError::LeaseLost { job_id: job.id });
                }
                release_locks(sql, job.id)?;
                effects::apply(sql, &job, &effects, now, max_attempts)
            })
            .await?;
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
        let (job_id, token, error) = (lease.job.id, lease.token.clone(), error.clone());
        let (now, policy) = (self.now(), self.retry_policy().clone());
        self.write(move |sql| fail_held(sql, job_id, &Holder::Lease(token), &error, now, &policy))
            .await?
            .ok_or(StoreError::LeaseLost { job_id })
    }

    /// Gives a job back without counting the attempt (a clean shutdown).
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let now = to_micros(self.now());
        let (job, token) = (lease.job.clone(), lease.token.clone());
        self.write(move |sql| {
            let released: Option<i64> = sql.scalar(
                "UPDATE jobs SET state = 'pending', attempts = attempts - 1, lease_token = NULL, \
                 lease_expires_at = NULL, worker = NULL, updated_at = $1 \
                 WHERE id = $2 AND lease_token = $3 AND state = 'running' \
                 AND (dedupe_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs t WHERE t.tenant = jobs.tenant \
                   AND t.dedupe_key = jobs.dedupe_key AND t.state IN ('pending', 'parked'))) \
                 RETURNING id",
                params![now, job.id, token],
            )?;
            if released.is_some() {
                release_locks(sql, job.id)?;
            }
            if released.is_none()
                && let Some(key) = &job.dedupe_key
                && let Some(twin) = waiting_twin(sql, &job.tenant, key, Some(job.id))?
            {
                sql.execute(
                    "UPDATE jobs SET state = 'superseded', outcome = $1, lease_token = NULL, \
                     lease_expires_at = NULL, finished_at = $2, updated_at = $2 \
                     WHERE id = $3 AND lease_token = $4 AND state = 'running'",
                    params![
                        format!("superseded by job {twin}, which will do the same work"),
                        now,
                        job.id,
                        token
                    ],
                )?;
            }
            Ok(())
        })
        .await?;
        self.wakeup().notify_waiters();
        Ok(())
    }

    /// Puts jobs whose worker stopped renewing its lease back in the queue (or parks them
    /// when they have used up their attempts: a job that keeps killing its worker).
    pub async fn requeue_expired(&self) -> Result<usize, StoreError> {
        let (now, policy) = (self.now(), self.retry_policy().clone());
        let now_us = to_micros(now);
        let expired: Vec<i64> = self
            .read(move |sql| sql.scalars(EXPIRED_LEASES, params![now_us]))
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let error = JobError::transient(
            "lease_expired",
            "the worker running this job stopped renewing its lease (it crashed, was killed, or hung)",
        );
        self.write(move |sql| {
            let mut requeued = 0;
            for id in expired {
                if fail_held(sql, id, &Holder::ExpiredBy(now_us), &error, now, &policy)?.is_some() {
                    requeued += 1;
                }
            }
            Ok(requeued)
        })
        .await
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
            q.push(" AND tenant = ").push_bind(tenant);
        }
        q.push(&format!(" RETURNING {JOB_COLUMNS}"));
        let built = q.build();
        let row = self
            .write(move |sql| Ok(sql.query_built(&built)?.into_iter().next()))
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
            q.push(" AND tenant = ").push_bind(tenant);
        }
        q.push(&format!(" RETURNING {JOB_COLUMNS}"));
        let built = q.build();
        let row = self
            .write(move |sql| Ok(sql.query_built(&built)?.into_iter().next()))
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
            q.push(" AND tenant = ").push_bind(tenant);
        }
        let built = q.build();
        self.read(move |sql| {
            sql.query_built(&built)?
                .first()
                .map(job_from_row)
                .transpose()
        })
        .await
    }

    /// Jobs matching `filter`, newest first.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        let mut q = SqlBuilder::new(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(tenant) = &filter.tenant {
            q.push(" AND tenant = ").push_bind(tenant);
        }
        if !filter.states.is_empty() {
            q.push(" AND state IN (");
            for (i, state) in filter.states.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.push_bind(state.as_str());
            }
            q.push(")");
        }
        if let Some(flow) = &filter.flow {
            q.push(" AND flow = ").push_bind(flow);
        }
        if let Some(kind) = &filter.kind {
            q.push(" AND kind = ").push_bind(kind);
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
                    .push_bind(&pattern)
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(run_id) = &filter.run_id {
            q.push(" AND run_id = ").push_bind(run_id);
        }
        if let Some(code) = &filter.error_code {
            q.push(" AND error_code = ").push_bind(code);
        }
        if let Some(before) = filter.before_id {
            q.push(" AND id < ").push_bind(before);
        }
        let limit = if filter.limit == 0 {
            100
        } else {
            filter.limit.min(1000)
        };
        q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let built = q.build();
        self.read(move |sql| sql.query_built(&built)?.iter().map(job_from_row).collect())
            .await
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
        let statement = format!(
            "SELECT tenant, kind, state, COUNT(*) AS n FROM jobs {filter} \
             GROUP BY tenant, kind, state ORDER BY tenant, kind, state"
        );
        self.read(move |sql| {
            sql.query(&statement, params![])?
                .iter()
                .map(|row| {
                    let state: String = row.get("state")?;
                    Ok(QueueCount {
                        tenant: row.get("tenant")?,
                        kind: row.get("kind")?,
                        state: JobState::parse(&state).unwrap_or(JobState::Pending),
                        count: row.get("n")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Counts of one run's jobs by state (for `kontor sync` progress).
    pub async fn run_counts(&self, run_id: &str) -> Result<Vec<(JobState, i64)>, StoreError> {
        let run_id = run_id.to_owned();
        self.read(move |sql| {
            sql.query(
                "SELECT state, COUNT(*) AS n FROM jobs WHERE run_id = $1 GROUP BY state",
                params![run_id],
            )?
            .iter()
            .map(|row| {
                let state: String = row.get("state")?;
                Ok((
                    JobState::parse(&state).unwrap_or(JobState::Pending),
                    row.get("n")?,
                ))
            })
            .collect()
        })
        .await
    }

    /// How long the oldest due job has been waiting (queue lag).
    pub async fn queue_lag(&self) -> Result<Duration, StoreError> {
        let now = self.now();
        let now_us = to_micros(now);
        let oldest: Option<i64> = self
            .read(move |sql| {
                Ok(sql
                    .scalar::<Option<i64>>(
                        "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= $1",
                        params![now_us],
                    )?
                    .flatten())
            })
            .await?;
        Ok(oldest
            .map(|us| (now - from_micros(us)).to_std().unwrap_or_default())
            .unwrap_or_default())
    }
}

/// Records a failure of the job `holder` identifies and decides what happens next;
/// `None` when the job is no longer held that way.
fn fail_held(
    sql: &mut dyn Sql,
    job_id: i64,
    holder: &Holder,
    error: &JobError,
    now: DateTime<Utc>,
    policy: &super::RetryPolicy,
) -> Result<Option<FailureOutcome>, StoreError> {
    let lock = match sql.backend() {
        Backend::Postgres => "FOR UPDATE",
        Backend::Sqlite => "",
    };
    let row = match holder {
        Holder::Lease(token) => sql.query_opt(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running' {lock}"
            ),
            params![job_id, token],
        )?,
        Holder::ExpiredBy(at) => sql.query_opt(
            &format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND state = 'running' AND lease_expires_at <= $2 {lock}"
            ),
            params![job_id, at],
        )?,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    let job = job_from_row(&row)?;
    release_locks(sql, job.id)?;
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
        && let Some(twin) = waiting_twin(sql, &job.tenant, key, Some(job.id))?
    {
        // Record the failure on the superseded job, then hand the work to its twin.
        sql.execute(
            "UPDATE jobs SET errors = $1, error_class = $2, error_code = $3 WHERE id = $4",
            params![history, error.class.to_string(), error.code, job.id],
        )?;
        supersede(sql, job.id, twin, now_us)?;
        return Ok(Some(FailureOutcome::Superseded { by: twin }));
    }

    sql.execute(
        "UPDATE jobs SET state = $1, attempts = $2, run_at = $3, lease_token = NULL, \
         lease_expires_at = NULL, worker = NULL, errors = $4, error_class = $5, \
         error_code = $6, updated_at = $7 WHERE id = $8",
        params![
            state.as_str(),
            attempts,
            to_micros(run_at),
            history,
            error.class.to_string(),
            error.code,
            now_us,
            job.id
        ],
    )?;
    Ok(Some(match state {
        JobState::Pending => FailureOutcome::Retrying { at: run_at },
        _ => FailureOutcome::Parked,
    }))
}

/// Lets go of the locks a job took (`JobContext::lock`): in the transaction that records
/// the job's end, so what the lock guarded (e.g. creating a customer) is committed before
/// another job can take it.
fn release_locks(sql: &mut dyn Sql, job_id: i64) -> Result<(), StoreError> {
    sql.execute("DELETE FROM locks WHERE job_id = $1", params![job_id])?;
    Ok(())
}

fn supersede(sql: &mut dyn Sql, job_id: i64, by: i64, now: i64) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE jobs SET state = 'superseded', outcome = $1, lease_token = NULL, \
         lease_expires_at = NULL, finished_at = $2, updated_at = $2 WHERE id = $3",
        params![
            format!("superseded by job {by}, which will do the same work"),
            now,
            job_id
        ],
    )?;
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

    use super::*;

    /// Each claim looks for expired leases first; on a store that has run for a while the
    /// jobs table holds every job ever run, so that look must use its index.
    #[tokio::test]
    async fn looking_for_expired_leases_does_not_scan_every_job() {
        let plan = plan_on_a_new_store(EXPIRED_LEASES).await;
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|step| step.contains("jobs_leases")),
            "{plan:?}"
        );
    }

    /// Workers ask whether anything is due each time one of them finishes a job; the
    /// answer must come from the index of pending jobs, not the table of every job.
    #[tokio::test]
    async fn asking_whether_a_job_is_due_reads_only_pending_jobs() {
        let plan = plan_on_a_new_store(ANY_DUE).await;
        assert!(
            plan.iter().all(|step| step.contains("jobs_ready")),
            "{plan:?}"
        );
    }

    /// SQLite's plan for `statement` (one time parameter) on a new store.
    async fn plan_on_a_new_store(statement: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.db").display());
        let store = Store::open(&url).await.unwrap();
        store
            .sqlite_plan(statement, vec![crate::store::value::Value::Int(0)])
            .await
    }
}
