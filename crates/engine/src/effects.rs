//! What a job wants written when it succeeds. The runner commits these in the same
//! transaction that marks the job done — the link to a new ERP order can never be lost
//! while the job that created it counts as finished.

use chrono::{DateTime, Utc};

use crate::cursors::{self, Cursor};
use crate::entities::{self, EntityRecord};
use crate::error::StoreError;
use crate::links::{self, Link};
use crate::queue::{Job, NewJob};
use crate::store::Sql;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    pub links: Vec<Link>,
    pub entities: Vec<EntityRecord>,
    pub cursors: Vec<Cursor>,
    /// Follow-up jobs; they inherit the finishing job's run id.
    pub jobs: Vec<NewJob>,
    /// One line for the log and the job's history: what was done.
    pub outcome: Option<String>,
}

impl Effects {
    pub fn none() -> Self {
        Effects::default()
    }

    pub fn link(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }

    pub fn entity(mut self, entity: EntityRecord) -> Self {
        self.entities.push(entity);
        self
    }

    pub fn cursor(mut self, cursor: Cursor) -> Self {
        self.cursors.push(cursor);
        self
    }

    pub fn enqueue(mut self, job: NewJob) -> Self {
        self.jobs.push(job);
        self
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }
}

/// Writes `effects` inside the caller's transaction; returns the number of jobs created.
pub(crate) fn apply(
    sql: &mut dyn Sql,
    parent: &Job,
    effects: &Effects,
    now: DateTime<Utc>,
    default_max_attempts: u32,
) -> Result<usize, StoreError> {
    for entity in &effects.entities {
        entities::upsert_in(sql, entity, now)?;
    }
    for link in &effects.links {
        links::upsert_in(sql, link, now)?;
    }
    for cursor in &effects.cursors {
        cursors::set_in(sql, cursor, now)?;
    }
    let mut created = 0;
    for job in &effects.jobs {
        let mut job = job.clone();
        if job.run_id.is_none() {
            job.run_id.clone_from(&parent.run_id);
        }
        if let crate::queue::EnqueueOutcome::Created(_) =
            crate::queue::ops::enqueue_in(sql, &job, now, default_max_attempts)?
        {
            created += 1;
        }
    }
    Ok(created)
}
