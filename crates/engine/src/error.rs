use thiserror::Error;

/// A cause of any kind (a driver's error, a bad setting).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store URL `{url}` is not supported: use sqlite://<file> or postgres://<host>/<db>")]
    UnsupportedUrl { url: String },
    #[error("cannot open the store: {0}")]
    Connect(#[source] BoxError),
    #[error("migrating the store failed: {0}")]
    Migrate(#[source] BoxError),
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store query failed: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A stored value is not what the code reading it expects (a schema and code that
    /// disagree).
    #[error("reading column `{column}` of a stored record: {problem}")]
    Decode { column: String, problem: String },
    /// The operation was accepted but its outcome is unknown to the caller: the store's
    /// writer stopped, or the operation panicked (and was rolled back).
    #[error("the store operation did not finish: {0}")]
    Aborted(String),
    /// The writes were done, but committing them failed (e.g. the disk is full); none
    /// of them took effect.
    #[error("committing to the store failed: {0}")]
    CommitFailed(String),
    /// Concurrent writers kept changing what this operation depends on.
    #[error("{0}")]
    Contended(String),
    #[error("stored {what} is not valid JSON: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The job's lease expired and another worker took it; this worker's result is void.
    #[error("lease on job {job_id} was lost (expired and taken over)")]
    LeaseLost { job_id: i64 },
    #[error("job {job_id} not found")]
    JobNotFound { job_id: i64 },
    #[error("job {job_id} is {state}, but this needs it {expected}")]
    WrongJobState {
        job_id: i64,
        state: String,
        expected: &'static str,
    },
    /// The external record is already bound to another entity.
    #[error(
        "{} `{}` in `{}` is already linked to entity `{}`, not `{}`",
        .0.kind, .0.external_id, .0.system, .0.existing, .0.entity_id
    )]
    ExternalAlreadyLinked(Box<LinkClash>),
    /// The entity is already bound to another record in that system (a duplicate there).
    #[error(
        "{} entity `{}` is already linked to `{}` in `{}`, not `{}`",
        .0.kind, .0.entity_id, .0.existing, .0.system, .0.external_id
    )]
    EntityAlreadyLinked(Box<LinkClash>),
    /// A submission's insert was refused as a duplicate, yet nothing it duplicates exists.
    #[error("order {order_id} was neither stored nor found under key {idempotency_key}")]
    SubmissionConflict {
        order_id: String,
        idempotency_key: String,
    },
    #[error(
        "configuration of tenant `{tenant}` changed concurrently (expected revision {expected})"
    )]
    RevisionConflict { tenant: String, expected: i64 },
}

/// Two links that cannot both hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClash {
    pub kind: String,
    pub system: String,
    pub external_id: String,
    pub entity_id: String,
    /// What the other side is already linked to.
    pub existing: String,
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
        move |source| StoreError::Corrupt { what, source }
    }

    /// A unique-constraint violation (a concurrent writer got there first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            StoreError::Postgres(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }
}
