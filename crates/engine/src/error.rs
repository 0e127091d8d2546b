use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("store URL `{url}` is not supported: use sqlite://<file> or postgres://<host>/<db>")]
    UnsupportedUrl { url: String },
    #[error("cannot open the store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
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
        "{kind} `{external_id}` in `{system}` is already linked to entity `{existing_entity}`, not `{entity_id}`"
    )]
    ExternalAlreadyLinked {
        kind: String,
        system: String,
        external_id: String,
        entity_id: String,
        existing_entity: String,
    },
    /// The entity is already bound to another record in that system (a duplicate there).
    #[error(
        "{kind} entity `{entity_id}` is already linked to `{existing_external}` in `{system}`, not `{external_id}`"
    )]
    EntityAlreadyLinked {
        kind: String,
        system: String,
        entity_id: String,
        external_id: String,
        existing_external: String,
    },
    #[error(
        "configuration of tenant `{tenant}` changed concurrently (expected revision {expected})"
    )]
    RevisionConflict { tenant: String, expected: i64 },
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
        move |source| StoreError::Corrupt { what, source }
    }

    /// A unique-constraint violation (a concurrent writer got there first).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Query(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}
