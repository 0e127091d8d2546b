//! Kontor's durable sync core: the store (SQLite or PostgreSQL), the job queue, links,
//! entities, cursors, the scheduler and the runner that executes jobs.
//!
//! The engine knows nothing about commerce: jobs carry a kind and a JSON payload, and
//! handlers registered by the flows do the work. What the engine guarantees is that a job
//! runs until it succeeds or is parked for a person, that jobs of one ordering key never
//! overlap, and that a job's effects (links, cursors, follow-up jobs) are committed in the
//! same transaction that marks it done.

pub mod activity;
pub mod api_keys;
pub mod clock;
pub mod current;
pub mod cursors;
pub mod effects;
pub mod entities;
pub mod error;
pub mod hash;
pub mod inbox;
pub mod job_error;
pub mod links;
pub mod locks;
pub mod people;
pub mod queue;
pub mod runner;
pub mod scheduler;
pub mod store;
pub mod tenants;
mod time;

pub use activity::{ActivitySlot, FlowActivity, ParkedGroup, ParkedSelection};
pub use api_keys::{ApiKeyRecord, NewApiKey};
pub use clock::{Clock, ManualClock, SystemClock};
pub use current::Current;
pub use cursors::Cursor;
pub use effects::Effects;
pub use entities::{EntityRecord, MatchKey};
pub use error::{LinkClash, StoreError};
pub use hash::content_hash;
pub use inbox::{NewSubmission, Submission, Submitted};
pub use job_error::{ErrorClass, JobError};
pub use links::Link;
pub use locks::LockGuard;
pub use people::{SessionRecord, UserRecord};
pub use queue::{
    EnqueueOutcome, FailureOutcome, Job, JobErrorRecord, JobFilter, JobState, Lease, NewJob,
    QueueCount, RetryPolicy,
};
pub use runner::{HandlerRegistry, JobContext, JobHandler, Runner, RunnerConfig, Shutdown};
pub use scheduler::{Schedule, ScheduleError, ScheduledFlow, Scheduler};
pub use store::{Backend, Store, StoreOptions};
