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
        .connect_timeout(Duration::from_secs(10))
        // Servers close idle keep-alive connections (Node's default after 5 s); a request
        // sent on one just closed fails before it is read. Drop them sooner ourselves.
        .pool_idle_timeout(Duration::from_secs(4));
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

/// Whether a GraphQL document is a mutation (its first operation, past comments):
/// a query may be sent again in place, a mutation may already have run.
pub(crate) fn is_graphql_mutation(document: &str) -> bool {
    document
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.starts_with("mutation"))
}

/// Counts a connection's HTTP calls to its system by outcome, and times them
/// (`kontor_connector_calls_total`, `kontor_connector_call_seconds`, labelled with
/// tenant, connection and system). It is named when the connection is built; a system
/// built directly (a test) is unnamed and counts nothing.
#[derive(Clone, Default)]
pub struct Meter(std::sync::Arc<std::sync::OnceLock<MeterLabels>>);

struct MeterLabels {
    tenant: String,
    connection: String,
    system: &'static str,
}

impl Meter {
    /// Names the connection this meter counts for (once; later names are ignored).
    pub fn name(&self, tenant: &str, connection: &str, system: &'static str) {
        let _ = self.0.set(MeterLabels {
            tenant: tenant.to_owned(),
            connection: connection.to_owned(),
            system,
        });
    }

    /// Sends the request, counting and timing it.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let started = std::time::Instant::now();
        let result = request.send().await;
        if let Some(labels) = self.0.get() {
            let outcome = match &result {
                Ok(r) if r.status().is_success() => "ok",
                Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                Ok(r) if r.status().is_client_error() => "client_error",
                Ok(_) => "server_error",
                Err(e) if e.is_timeout() => "timeout",
                Err(_) => "unreachable",
            };
            let (tenant, connection) = (labels.tenant.clone(), labels.connection.clone());
            metrics::counter!("kontor_connector_calls_total", "tenant" => tenant.clone(), "connection" => connection.clone(), "system" => labels.system, "outcome" => outcome).increment(1);
            metrics::histogram!("kontor_connector_call_seconds", "tenant" => tenant, "connection" => connection, "system" => labels.system)
                .record(started.elapsed().as_secs_f64());
        }
        result
    }
}
