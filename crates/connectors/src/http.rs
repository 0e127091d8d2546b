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
    client_trusting(timeout, None)
}

/// As [`client`], also trusting the PEM certificate `ca_pem` (a shop on premises with
/// its own certificate authority).
pub(crate) fn client_trusting(
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<reqwest::Client, ConnectorError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        let certificate =
            reqwest::Certificate::from_pem(pem).map_err(|e| ConnectorError::Unavailable {
                message: "the CA certificate is not valid PEM".into(),
                source: Some(Box::new(e)),
            })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build().map_err(|e| ConnectorError::Unavailable {
        message: "cannot build the HTTP client".into(),
        source: Some(Box::new(e)),
    })
}
