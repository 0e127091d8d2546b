//! Executes jobs: a pool of workers that lease due jobs, run their handlers, renew the
//! lease while they run, and record the result. A handler that panics parks its job
//! instead of taking the process down. A handler whose lease cannot be renewed (the
//! store is out of reach, a database fails over) is stopped before the lease lapses,
//! so it never runs beside the worker that takes the job next.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::current::Current;
use crate::effects::Effects;
use crate::error::StoreError;
use crate::job_error::JobError;
use crate::queue::{FailureOutcome, Job, Lease};
use crate::store::Store;

/// Signals the runner and scheduler to stop.
pub type Shutdown = CancellationToken;

/// What a handler gets: the job, and the store for lookups (links, entities, cursors).
/// Writes go in the returned [`Effects`], committed with the job's completion.
pub struct JobContext {
    pub job: Job,
    pub store: Store,
    /// Ties locks the job takes to its lease.
    pub(crate) lease_token: String,
}

impl JobContext {
    /// The context for running a leased job.
    pub fn new(lease: &Lease, store: Store) -> Self {
        JobContext {
            job: lease.job.clone(),
            store,
            lease_token: lease.token.clone(),
        }
    }
}

#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, ctx: &JobContext) -> Result<Effects, JobError>;
}

/// Handlers by job kind (e.g. `orders.import`).
#[derive(Default, Clone)]
pub struct HandlerRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl HandlerRegistry {
    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.into(), handler);
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.handlers.get(kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Jobs run at once.
    pub workers: usize,
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// How often an idle runner looks for due jobs it was not woken for (jobs enqueued by
    /// other processes, retries coming due).
    pub idle_poll: Duration,
    /// How long running jobs may take to finish on shutdown before they are given back.
    pub shutdown_grace: Duration,
    /// Shown in the jobs table: which process holds a lease.
    pub worker_id: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            workers: 8,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(10),
            worker_id: default_worker_id(),
        }
    }
}

pub fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kontor".to_owned());
    format!("{host}:{}", std::process::id())
}

pub struct Runner {
    store: Store,
    handlers: Current<HandlerRegistry>,
    config: RunnerConfig,
}

impl Runner {
    pub fn new(store: Store, handlers: HandlerRegistry, config: RunnerConfig) -> Self {
        Runner::with_current(store, Current::new(handlers), config)
    }

    /// A runner whose handlers may be replaced while it runs (configuration reloads):
    /// each job is dispatched with the handlers current when it starts.
    pub fn with_current(
        store: Store,
        handlers: Current<HandlerRegistry>,
        config: RunnerConfig,
    ) -> Self {
        Runner {
            store,
            handlers,
            config,
        }
    }

    /// Runs jobs until `shutdown`; then lets running jobs finish within the grace period
    /// and gives back the rest.
    pub async fn run(&self, shutdown: Shutdown) {
        let workers = self.config.workers.max(1);
        let permits = Arc::new(Semaphore::new(workers));
        let hard_stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut claim_failures = 0_u32;

        while !shutdown.is_cancelled() {
            while let Some(done) = tasks.try_join_next() {
                if let Err(error) = done {
                    tracing::error!(message = "Job task failed.", %error);
                }
            }
            // Listen before claiming, so a job enqueued in between still wakes us.
            let wakeup = self.store.wakeup().clone();
            let notified = wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tasks.join_next() => continue,
                }
            }
            // The leases run from no earlier than this.
            let claimed_at = Instant::now();
            let claimed = match self
                .store
                .claim(&self.config.worker_id, free as u32, self.config.lease)
                .await
            {
                Ok(leases) => {
                    claim_failures = 0;
                    leases
                }
                Err(error) => {
                    claim_failures += 1;
                    tracing::error!(message = "Cannot claim jobs from the store.", %error, failures = claim_failures);
                    let pause = Duration::from_millis(100 * 2_u64.pow(claim_failures.min(8)));
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            let got = claimed.len();
            for lease in claimed {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    // Cannot happen (we claimed no more than the free permits); give it back.
                    let _ = self.store.release(&lease).await;
                    continue;
                };
                let store = self.store.clone();
                let handlers = self.handlers.get();
                let lease_for = self.config.lease;
                let hard_stop = hard_stop.clone();
                tasks.spawn(async move {
                    let held = HeldLease {
                        lease,
                        length: lease_for,
                        since: claimed_at,
                    };
                    run_job(store, handlers, held, hard_stop).await;
                    drop(permit);
                });
            }
            if got == free {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = &mut notified => {}
                _ = tokio::time::sleep(self.config.idle_poll) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }

        if !tasks.is_empty() {
            tracing::info!(
                message = "Waiting for running jobs to finish.",
                running = tasks.len()
            );
        }
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                message = "Giving back jobs that did not finish in time.",
                running = tasks.len()
            );
            hard_stop.cancel();
            while tasks.join_next().await.is_some() {}
        }
    }
}

/// A lease as the worker holding it knows it: how long it lasts, and since when at the
/// latest it runs (measured before the claim or renewal was asked for).
struct HeldLease {
    lease: Lease,
    length: Duration,
    since: Instant,
}

async fn run_job(
    store: Store,
    handlers: Arc<HandlerRegistry>,
    held: HeldLease,
    hard_stop: CancellationToken,
) {
    let lease = held.lease.clone();
    let job = lease.job.clone();
    let span = tracing::info_span!(
        "job",
        job_id = job.id,
        tenant = %job.tenant,
        flow = job.payload.get("flow").and_then(|f| f.as_str()).unwrap_or("-"),
        kind = %job.kind,
        entity = job.ordering_key.as_deref().unwrap_or("-"),
        attempt = job.attempts,
    );
    async move {
        let started = Instant::now();
        let result = match handlers.get(&job.kind) {
            None => Some(Ok(Err(JobError::needs_human(
                "no_handler",
                format!("no handler for job kind `{}`: is its flow configured for this tenant?", job.kind),
            )))),
            Some(handler) => {
                let lease_lost = CancellationToken::new();
                let heartbeat = tokio::spawn(keep_lease(store.clone(), held, lease_lost.clone()));
                let ctx = JobContext::new(&lease, store.clone());
                let outcome = tokio::select! {
                    r = AssertUnwindSafe(handler.run(&ctx)).catch_unwind() => Some(r),
                    _ = lease_lost.cancelled() => None,
                    _ = hard_stop.cancelled() => {
                        if let Err(error) = store.release(&lease).await {
                            tracing::warn!(message = "Could not give the job back; its lease will expire.", %error);
                        }
                        None
                    }
                };
                heartbeat.abort();
                outcome
            }
        };
        let elapsed = started.elapsed();
        let outcome = match result {
            None => "abandoned",
            Some(Err(panic)) => {
                let message = panic_message(&panic);
                tracing::error!(message = "Job handler panicked.", panic = %message);
                let error = JobError::permanent("handler_panicked", format!("the handler panicked: {message}"));
                record_failure(&store, &lease, &error).await
            }
            Some(Ok(Ok(effects))) => {
                let summary = effects.outcome.clone();
                match store.complete(&lease, effects).await {
                    Ok(()) => {
                        tracing::info!(message = "Job done.", outcome = summary.as_deref().unwrap_or(""), ms = elapsed.as_millis() as u64);
                        "succeeded"
                    }
                    Err(StoreError::LeaseLost { .. }) => {
                        tracing::warn!(message = "Lease lost before completion; another worker has the job.");
                        "lease_lost"
                    }
                    Err(error @ (StoreError::ExternalAlreadyLinked(_) | StoreError::EntityAlreadyLinked(_))) => {
                        // Often two jobs racing to bind the same new record: a retry reads the
                        // link the other one committed. One that persists parks.
                        let error = JobError::transient("link_conflict", error.to_string());
                        record_failure(&store, &lease, &error).await
                    }
                    Err(error) => {
                        tracing::error!(message = "Could not record the job's completion; it will run again when its lease expires.", %error);
                        "store_error"
                    }
                }
            }
            Some(Ok(Err(error))) => record_failure(&store, &lease, &error).await,
        };
        metrics::counter!("kontor_jobs_finished_total", "kind" => job.kind.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!("kontor_job_duration_seconds", "kind" => job.kind.clone()).record(elapsed.as_secs_f64());
    }
    .instrument(span)
    .await;
}

async fn record_failure(store: &Store, lease: &Lease, error: &JobError) -> &'static str {
    match store.fail(lease, error).await {
        Ok(FailureOutcome::Retrying { at }) => {
            // Waiting for another flow's work, being paced by a rate limit, or a first or
            // second retry after a blip is routine; a job that keeps failing deserves a
            // warning.
            if error.class == crate::job_error::ErrorClass::Waiting {
                tracing::info!(message = "Job waits; will look again.", reason = %error, retry_at = %at);
            } else if error.retry_after.is_some() {
                tracing::debug!(message = "Job paced by a rate limit; will retry.", reason = %error, retry_at = %at);
            } else if lease.job.attempts <= 2 {
                tracing::info!(message = "Job failed; will retry.", error = %error, retry_at = %at);
            } else {
                tracing::warn!(message = "Job keeps failing; will retry.", error = %error, retry_at = %at);
            }
            "retrying"
        }
        Ok(FailureOutcome::Parked) => {
            tracing::error!(message = "Job parked for an operator.", error = %error, code = %error.code);
            "parked"
        }
        Ok(FailureOutcome::Superseded { by }) => {
            tracing::info!(message = "Job failed and was superseded by a newer one.", error = %error, by);
            "superseded"
        }
        Err(StoreError::LeaseLost { .. }) => {
            tracing::warn!(message = "Lease lost before the failure was recorded.", error = %error);
            "lease_lost"
        }
        Err(store_error) => {
            tracing::error!(message = "Could not record the job's failure; it will run again when its lease expires.", error = %error, %store_error);
            "store_error"
        }
    }
}

/// Renews the lease every third of its length. Signals `lost` when another worker took
/// the job, or when renewals have failed until the lease is about to lapse: the handler
/// is then stopped before anyone else may take the job, rather than run beside them.
async fn keep_lease(store: Store, held: HeldLease, lost: CancellationToken) {
    let HeldLease {
        mut lease,
        length,
        since: mut renewed,
    } = held;
    let every = length / 3;
    // Stop a little before the lease would lapse: the handler needs a moment to be
    // dropped, and the store's clock may run a little ahead of this one.
    let margin = (length / 10).min(Duration::from_secs(5));
    let mut next = renewed + every;
    loop {
        let deadline = renewed + length.saturating_sub(margin);
        tokio::time::sleep_until(next.min(deadline).into()).await;
        if Instant::now() >= deadline {
            tracing::error!(
                message = "The job's lease could not be renewed and is about to lapse; stopping it before another worker takes it.",
                lease_ms = length.as_millis() as u64
            );
            lost.cancel();
            return;
        }
        let asked = Instant::now();
        match tokio::time::timeout_at(deadline.into(), store.heartbeat(&mut lease, length)).await {
            Ok(Ok(())) => {
                renewed = asked;
                next = renewed + every;
            }
            Ok(Err(StoreError::LeaseLost { .. })) => {
                lost.cancel();
                return;
            }
            Ok(Err(error)) => {
                tracing::warn!(message = "Could not renew the job's lease; trying again.", %error);
                next = Instant::now() + every / 4;
            }
            // The deadline passed while the store did not answer: stopped above.
            Err(_) => next = Instant::now(),
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
