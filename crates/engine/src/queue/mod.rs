//! The durable job queue.
//!
//! - **Dedupe key**: at most one *waiting* (pending or parked) job per key and tenant; a
//!   repeated webhook or poll joins the job already waiting instead of adding another.
//! - **Ordering key**: jobs sharing one (e.g. everything about one order) run one at a
//!   time, in the order they were enqueued. A parked job holds back the later jobs of its
//!   key until an operator retries or skips it: a payment must not overtake the order it
//!   pays for.
//! - **Leases**: a worker owns a job until its lease expires; a crashed worker's jobs go
//!   back to the queue. Every completion is fenced by the lease token, so a worker that
//!   lost its lease cannot overwrite the result of the one that took over.
//! - **Failures** are classified: transient ones are retried with exponential backoff and
//!   jitter (a Retry-After hint is honoured and does not use up an attempt); permanent
//!   ones, those that need a person, and those out of attempts are parked with the payload
//!   and the whole error chain.

pub(crate) mod ops;
mod retry;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use retry::RetryPolicy;

use crate::job_error::ErrorClass;

/// A job to be enqueued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub tenant: String,
    /// Which handler runs it, e.g. `orders.import`.
    pub kind: String,
    pub payload: serde_json::Value,
    pub dedupe_key: Option<String>,
    pub ordering_key: Option<String>,
    /// Higher runs first.
    pub priority: i32,
    /// Not before this time; `None` means now.
    pub run_at: Option<DateTime<Utc>>,
    /// `None` takes the queue's default.
    pub max_attempts: Option<u32>,
    /// Correlates the jobs of one sync run (follow-up jobs inherit it).
    pub run_id: Option<String>,
}

impl NewJob {
    pub fn new(
        tenant: impl Into<String>,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewJob {
            tenant: tenant.into(),
            kind: kind.into(),
            payload,
            dedupe_key: None,
            ordering_key: None,
            priority: 0,
            run_at: None,
            max_attempts: None,
            run_id: None,
        }
    }

    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = Some(key.into());
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    pub fn run_id(mut self, run_id: Option<String>) -> Self {
        self.run_id = run_id;
        self
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    Running,
    Succeeded,
    /// Waiting for a person (dead letter): retry, skip, or edit and retry.
    Parked,
    /// An operator decided it should not run.
    Skipped,
    /// Another waiting job with the same dedupe key will do this work.
    Superseded,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Pending,
        JobState::Running,
        JobState::Succeeded,
        JobState::Parked,
        JobState::Skipped,
        JobState::Superseded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Parked => "parked",
            JobState::Skipped => "skipped",
            JobState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// Finished jobs never change again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Skipped | JobState::Superseded
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed attempt, as kept in the job's history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobErrorRecord {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// A job as stored.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub tenant: String,
    /// The flow it is a step of (its payload's `flow`), if it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The payload as first enqueued, kept when an operator edits it.
    pub original_payload: Option<serde_json::Value>,
    pub dedupe_key: Option<String>,
    pub ordering_key: Option<String>,
    pub priority: i32,
    pub state: JobState,
    pub run_at: DateTime<Utc>,
    pub attempts: u32,
    pub max_attempts: u32,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub run_id: Option<String>,
    /// Most recent failures, oldest first (bounded).
    pub errors: Vec<JobErrorRecord>,
    /// What a finished job did, or why it was skipped or superseded.
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    pub fn last_error(&self) -> Option<&JobErrorRecord> {
        self.errors.last()
    }
}

/// A job leased to one worker. Completing or failing it needs the lease.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job: Job,
    pub(crate) token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    Created(i64),
    /// A waiting job with the same dedupe key already exists.
    Deduplicated(i64),
}

impl EnqueueOutcome {
    pub fn job_id(&self) -> i64 {
        match self {
            EnqueueOutcome::Created(id) | EnqueueOutcome::Deduplicated(id) => *id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FailureOutcome {
    /// Back in the queue; runs again at this time.
    Retrying {
        at: DateTime<Utc>,
    },
    Parked,
    /// A newer waiting job with the same dedupe key will redo the work.
    Superseded {
        by: i64,
    },
}

/// Which jobs to list. Results are newest first; page with `before_id`.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub tenant: Option<String>,
    pub states: Vec<JobState>,
    pub flow: Option<String>,
    pub kind: Option<String>,
    /// Text somewhere in the job: its kind, keys, payload, outcome or last error code.
    pub search: Option<String>,
    pub run_id: Option<String>,
    pub error_code: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Number of jobs per tenant, kind and state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueCount {
    pub tenant: String,
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}
