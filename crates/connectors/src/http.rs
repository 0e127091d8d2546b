//! What the HTTP-based connectors share.

use std::time::Duration;

use kontor_connector::ConnectorError;

/// A 429 answer as [`ConnectorError::RateLimited`], with the wait its `Retry-After`
/// header asks for (in seconds), if any.
pub(crate) fn rate_limited(response: &reqwest::Response) -> ConnectorError {
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs);
    ConnectorError::RateLimited { retry_after }
}

/// An HTTP client with a per-request `timeout` and a 10-second connect timeout.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ConnectorError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ConnectorError::Unavailable {
            message: "cannot build the HTTP client".into(),
            source: Some(Box::new(e)),
        })
}
