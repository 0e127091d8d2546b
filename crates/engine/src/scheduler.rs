//! Interval and cron triggers. A trigger enqueues the same job a webhook or a manual
//! `kontor sync` would; the job's dedupe key keeps ticks from piling up while one waits.
//!
//! The next due time of each flow is kept in the store and advanced with compare-and-set
//! in the transaction that enqueues the job, so several processes fire each tick once,
//! and a restart neither loses a tick nor fires a missed one twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use tokio_util::sync::CancellationToken;

use crate::current::Current;
use crate::error::StoreError;
use crate::queue::NewJob;
use crate::queue::ops::enqueue_in;
use crate::store::{Sql, Store, params};
use crate::time::{from_micros, to_micros};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{expr}` is not a cron expression: {reason}")]
    BadCron { expr: String, reason: String },
    #[error("an interval must be at least one second")]
    TooShort,
}

#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    /// Standard 5-field cron, or 6 fields with seconds first; evaluated in UTC.
    Cron(Box<Cron>),
}

impl Schedule {
    pub fn every(interval: Duration) -> Result<Schedule, ScheduleError> {
        if interval < Duration::from_secs(1) {
            return Err(ScheduleError::TooShort);
        }
        Ok(Schedule::Every(interval))
    }

    pub fn cron(expr: &str) -> Result<Schedule, ScheduleError> {
        CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
            .map(|cron| Schedule::Cron(Box::new(cron)))
            .map_err(|e| ScheduleError::BadCron {
                expr: expr.to_owned(),
                reason: e.to_string(),
            })
    }

    /// When it is due next after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(interval) => chrono::Duration::from_std(*interval).ok().map(|d| t + d),
            Schedule::Cron(cron) => cron.find_next_occurrence(&t, false).ok(),
        }
    }

    /// The first due time for a schedule never run before: intervals start at once (a
    /// poll should not wait a whole interval after start-up); cron waits for its time.
    fn first(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Every(_) => Some(now),
            Schedule::Cron(_) => self.next_after(now),
        }
    }
}

/// A flow's trigger and the job it enqueues.
#[derive(Debug, Clone)]
pub struct ScheduledFlow {
    pub tenant: String,
    pub flow: String,
    pub schedule: Schedule,
    pub job: NewJob,
}

pub struct Scheduler {
    store: Store,
    flows: Current<Vec<ScheduledFlow>>,
}

impl Scheduler {
    pub fn new(store: Store, flows: Vec<ScheduledFlow>) -> Self {
        Scheduler::with_current(store, Current::new(flows))
    }

    /// A scheduler whose flows may be replaced while it runs (configuration reloads).
    pub fn with_current(store: Store, flows: Current<Vec<ScheduledFlow>>) -> Self {
        Scheduler { store, flows }
    }

    /// Fires every flow that is due, in one transaction; returns how many fired.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let flows = self.flows.get();
        let (now, max_attempts) = (self.store.now(), self.store.retry_policy().max_attempts);
        let fired = self
            .store
            .write(move |sql| {
                let mut fired = 0;
                for flow in flows.iter() {
                    if fire_if_due(sql, flow, now, max_attempts)? {
                        fired += 1;
                    }
                }
                Ok(fired)
            })
            .await?;
        if fired > 0 {
            self.store.wakeup().notify_waiters();
        }
        Ok(fired)
    }

    /// Ticks until `shutdown`, waking for the earliest due flow (at least once a second).
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut failures = 0_u32;
        loop {
            let pause = match self.tick().await {
                Ok(_) => {
                    failures = 0;
                    Duration::from_secs(1)
                }
                Err(error) => {
                    failures += 1;
                    tracing::error!(message = "Scheduler tick failed.", %error, failures);
                    Duration::from_millis(500 * u64::from(failures.min(20)))
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Enqueues `flow`'s job if its tick is due, advancing the tick by compare-and-set so
/// that of several processes only one fires it.
fn fire_if_due(
    sql: &mut dyn Sql,
    flow: &ScheduledFlow,
    now: DateTime<Utc>,
    max_attempts: u32,
) -> Result<bool, StoreError> {
    let current: Option<i64> = sql.scalar(
        "SELECT next_at FROM schedules WHERE tenant = $1 AND flow = $2",
        params![flow.tenant, flow.flow],
    )?;
    let due = match current {
        Some(next_at) => from_micros(next_at),
        None => {
            let Some(first) = flow.schedule.first(now) else {
                return Ok(false);
            };
            sql.execute(
                "INSERT INTO schedules (tenant, flow, next_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                params![flow.tenant, flow.flow, to_micros(first)],
            )?;
            first
        }
    };
    if due > now {
        return Ok(false);
    }
    // Missed ticks (Kontor was down) collapse into this one.
    let next = flow
        .schedule
        .next_after(now)
        .unwrap_or(now + chrono::Duration::days(365));
    let advanced = sql.execute(
        "UPDATE schedules SET next_at = $1 WHERE tenant = $2 AND flow = $3 AND next_at = $4",
        params![to_micros(next), flow.tenant, flow.flow, to_micros(due)],
    )?;
    if advanced == 0 {
        // Another process fired this tick.
        return Ok(false);
    }
    let mut job = flow.job.clone();
    if job.dedupe_key.is_none() {
        job.dedupe_key = Some(format!("schedule:{}", flow.flow));
    }
    enqueue_in(sql, &job, now, max_attempts)?;
    tracing::debug!(message = "Scheduled flow fired.", tenant = %flow.tenant, flow = %flow.flow, next = %next);
    Ok(true)
}
