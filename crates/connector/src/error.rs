use std::time::Duration;

/// How a call to a connected system failed. Flows turn these into job errors: the first
/// four are worth retrying, the rest need the data or the configuration fixed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The system could not be reached or answered with a server error.
    #[error("unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Too many requests; the system said when to come back, if it did.
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The request conflicted with a concurrent change; reading again and retrying helps.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// Credentials missing, wrong or lacking a permission.
    #[error("not authorised: {message}")]
    Unauthorized { message: String },
    /// The system refused the data (a business rule, a validation error). The message is
    /// the system's own words.
    #[error("rejected: {message}")]
    Rejected {
        /// The system's error type or code, e.g. `UserError`.
        code: Option<String>,
        message: String,
        field: Option<String>,
    },
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The system answered something this connector does not understand.
    #[error("unexpected response: {message}")]
    Protocol {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The connector cannot do this with the system as configured.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A change cursor this connection did not make (a caller's typo, a cursor kept
    /// from another connection): the caller's fault, never the system's.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
}

impl ConnectorError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        ConnectorError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        ConnectorError::Rejected {
            code: None,
            message: message.into(),
            field: None,
        }
    }

    /// `cursor` is not one of this connection's cursors; `what` says whose it should be.
    pub fn invalid_cursor(cursor: &str, what: &str) -> Self {
        let shown: String = cursor.chars().take(80).collect();
        ConnectorError::InvalidCursor(format!("`{shown}` is not {what}"))
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        ConnectorError::Protocol {
            message: message.into(),
            source: None,
        }
    }

    /// Worth trying again later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectorError::Unavailable { .. }
                | ConnectorError::Timeout(_)
                | ConnectorError::RateLimited { .. }
                | ConnectorError::Conflict { .. }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}
