//! How a job failed, in terms the queue acts on.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of failure this is decides what happens next.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// May succeed if tried again later (timeouts, outages, rate limits): retried with
    /// backoff until the attempts run out.
    Transient,
    /// Will fail the same way every time (the data is wrong): parked at once.
    Permanent,
    /// A person must act (a mapping is missing, credentials are wrong): parked at once,
    /// with a reason that says what to fix.
    NeedsHuman,
    /// Something this job depends on is not there yet (a payment's order is still being
    /// imported): retried like a transient failure, and parked with its reason if the
    /// wait outlasts its attempts — but routine, not a fault.
    Waiting,
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::NeedsHuman => "needs_human",
            ErrorClass::Waiting => "waiting",
        })
    }
}

/// A job's failure: its class, a stable reason code operators can group by, a readable
/// message, the chain of underlying causes, and optional structured details (e.g. a
/// line-by-line totals diff).
#[derive(Debug, Clone, PartialEq)]
pub struct JobError {
    pub class: ErrorClass,
    /// Stable, snake_case: `unknown_sku`, `erp_unavailable`, `total_mismatch`.
    pub code: String,
    pub message: String,
    pub chain: Vec<String>,
    /// The other side asked us to wait this long (HTTP 429 / 503 Retry-After).
    pub retry_after: Option<Duration>,
    /// Boxed: rarely present, and it keeps `Result<_, JobError>` small.
    pub details: Option<Box<serde_json::Value>>,
}

impl JobError {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError {
            class,
            code: code.into(),
            message: message.into(),
            chain: Vec::new(),
            retry_after: None,
            details: None,
        }
    }

    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError::new(ErrorClass::Transient, code, message)
    }

    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError::new(ErrorClass::Permanent, code, message)
    }

    pub fn needs_human(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError::new(ErrorClass::NeedsHuman, code, message)
    }

    pub fn waiting(code: impl Into<String>, message: impl Into<String>) -> Self {
        JobError::new(ErrorClass::Waiting, code, message)
    }

    /// Records the causes of `error` (its `source()` chain) under this error.
    pub fn caused_by(mut self, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            let text = e.to_string();
            if text != self.message && self.chain.last() != Some(&text) {
                self.chain.push(text);
            }
            cause = e.source();
        }
        self
    }

    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.class, self.message)?;
        for cause in &self.chain {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for JobError {}
