//! Named locks, held across processes through the store.
//!
//! A lock taken by a running job is tied to the job's lease: it is free again as soon as
//! the job ends (the transaction that completes or fails it lets go) or its lease lapses (its process died). A lock
//! taken outside a job expires after its time-to-live.

use std::time::Duration;

use crate::error::StoreError;
use crate::runner::JobContext;
use crate::store::{Store, params};
use crate::time::to_micros;

/// A held lock; give it back with [`Store::unlock`].
#[derive(Debug, Clone)]
pub struct LockGuard {
    pub name: String,
    holder: String,
}

/// Whose lock it is.
struct Holder {
    job: Option<(i64, String)>,
    ttl: Duration,
}

impl Store {
    /// Takes the lock `name` for up to `ttl`, waiting up to `wait` for it. `None` if it
    /// could not be had in time.
    pub async fn lock(
        &self,
        name: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<LockGuard>, StoreError> {
        self.take_lock(name, Holder { job: None, ttl }, wait).await
    }

    async fn take_lock(
        &self,
        name: &str,
        holder: Holder,
        wait: Duration,
    ) -> Result<Option<LockGuard>, StoreError> {
        let me = uuid::Uuid::now_v7().to_string();
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let now = self.now();
            let expires =
                now + chrono::Duration::from_std(holder.ttl).unwrap_or(chrono::Duration::MAX);
            let (lock_name, me_now) = (name.to_owned(), me.clone());
            let job = holder.job.clone();
            let got: Option<String> = self
                .write(move |sql| {
                    sql.scalar(
                        "INSERT INTO locks (name, holder, job_id, lease_token, expires_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, job_id = excluded.job_id, \
                         lease_token = excluded.lease_token, expires_at = excluded.expires_at \
                         WHERE locks.expires_at <= $6 \
                            OR (locks.job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j \
                                WHERE j.id = locks.job_id AND j.lease_token = locks.lease_token \
                                AND j.state = 'running' AND j.lease_expires_at > $6)) \
                         RETURNING holder",
                        params![
                            lock_name,
                            me_now,
                            job.as_ref().map(|(id, _)| *id),
                            job.map(|(_, token)| token),
                            to_micros(expires),
                            to_micros(now)
                        ],
                    )
                })
                .await?;
            if got.as_deref() == Some(me.as_str()) {
                return Ok(Some(LockGuard {
                    name: name.to_owned(),
                    holder: me,
                }));
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Lets go of a lock (one taken over after it lapsed is left alone).
    pub async fn unlock(&self, guard: LockGuard) -> Result<(), StoreError> {
        self.write(move |sql| {
            sql.execute(
                "DELETE FROM locks WHERE name = $1 AND holder = $2",
                params![guard.name, guard.holder],
            )
            .map(drop)
        })
        .await
    }
}

impl JobContext {
    /// Takes the lock `name` until this job ends — it is released in the transaction
    /// that completes or fails the job, or when its lease lapses — waiting up to `wait`.
    /// `None` if another job holds it still.
    pub async fn lock(&self, name: &str, wait: Duration) -> Result<Option<LockGuard>, StoreError> {
        // The time-to-live only matters if the lease check cannot run; a day is "never".
        let holder = Holder {
            job: Some((self.job.id, self.lease_token.clone())),
            ttl: Duration::from_secs(86_400),
        };
        self.store.take_lock(name, holder, wait).await
    }
}
