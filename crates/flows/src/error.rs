//! Turning connector failures into job failures the queue can act on, with a reason
//! an operator can read.

use kontor_connector::ConnectorError;
use kontor_engine::{ErrorClass, JobError};

/// A job error for a failed call; `doing` says what Kontor was doing, e.g.
/// "creating the sale for #1001 in `erp`".
pub(crate) fn connector_failure(doing: &str, error: ConnectorError) -> JobError {
    let (class, code) = match &error {
        ConnectorError::Unavailable { .. } => (ErrorClass::Transient, "system_unavailable"),
        ConnectorError::Timeout(_) => (ErrorClass::Transient, "timeout"),
        ConnectorError::RateLimited { .. } => (ErrorClass::Transient, "rate_limited"),
        ConnectorError::Conflict { .. } => (ErrorClass::Transient, "conflict"),
        ConnectorError::Unauthorized { .. } => (ErrorClass::NeedsHuman, "unauthorized"),
        ConnectorError::Rejected { .. } => (ErrorClass::NeedsHuman, "rejected"),
        ConnectorError::NotFound { .. } => (ErrorClass::Permanent, "not_found"),
        ConnectorError::Protocol { .. } => (ErrorClass::NeedsHuman, "protocol_error"),
        ConnectorError::Unsupported(_) => (ErrorClass::NeedsHuman, "unsupported"),
        ConnectorError::InvalidCursor(_) => (ErrorClass::NeedsHuman, "invalid_cursor"),
    };
    let retry_after = error.retry_after();
    let mut job_error =
        JobError::new(class, code, format!("{doing}: {error}")).with_retry_after(retry_after);
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        job_error.chain.push(cause.to_string());
        source = cause.source();
    }
    job_error
}

/// A store failure inside a step: usually a passing database problem.
pub(crate) fn store_failure(doing: &str, error: kontor_engine::StoreError) -> JobError {
    JobError::transient("store_unavailable", format!("{doing}: {error}"))
}

/// A payload the step cannot read (edited badly by hand, or from an older version).
pub(crate) fn bad_payload(error: serde_json::Error) -> JobError {
    JobError::needs_human(
        "bad_payload",
        format!("the job's payload is not valid for this step: {error}"),
    )
}
