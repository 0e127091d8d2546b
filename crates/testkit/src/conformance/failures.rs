//! How a connection fails: slowed down by a rate limit, refused for its credentials,
//! cut off from its system.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kontor_connector::{Connector, ConnectorError};

/// A system that can be made to fail as real ones do.
#[async_trait]
pub trait Faults: Send + Sync {
    /// The connection as configured.
    fn connector(&self) -> Arc<dyn Connector>;
    /// The same connection with a wrong password or key; `None` for a system that
    /// takes no credentials.
    fn with_wrong_credentials(&self) -> Option<Arc<dyn Connector>>;
    /// The same connection to a system that does not answer.
    fn unreachable(&self) -> Arc<dyn Connector>;
    /// Makes the system answer the next call "too many requests"; returns the least
    /// wait it asks for.
    async fn rate_limit_next(&self) -> Duration;
}

/// Runs every failure check against `system`.
pub async fn failures(system: &dyn Faults) {
    let connector = system.connector();
    connector
        .check()
        .await
        .unwrap_or_else(|e| panic!("the connection as configured works: {e}"));

    let wait = system.rate_limit_next().await;
    let started = Instant::now();
    match read_once(connector.as_ref()).await {
        // Waited, then done.
        Ok(()) => assert!(
            started.elapsed() >= wait,
            "a rate-limited call succeeded after {:?}: it did not wait the {wait:?} asked for",
            started.elapsed()
        ),
        // Handed back with the wait, for the queue to keep: slowed down, not failed.
        Err(ConnectorError::RateLimited {
            retry_after: Some(after),
        }) => assert!(
            after >= wait,
            "the rate limit's wait is passed on: {after:?} < {wait:?}"
        ),
        Err(other) => panic!("a rate limit must slow the call down, not fail it: {other:?}"),
    }

    if let Some(wrong) = system.with_wrong_credentials() {
        match wrong.check().await {
            Err(e @ ConnectorError::Unauthorized { .. }) => assert!(!e.is_transient()),
            other => panic!("wrong credentials must be Unauthorized, got {other:?}"),
        }
    }

    match system.unreachable().check().await {
        Err(e) => assert!(
            e.is_transient(),
            "an unreachable system is worth trying again later: {e:?}"
        ),
        Ok(()) => panic!("a connection to a system that does not answer passed its check"),
    }
}

/// A read that goes to the system every time (a check may be answered from a cache).
async fn read_once(connector: &dyn Connector) -> Result<(), ConnectorError> {
    if let Some(orders) = connector.order_source() {
        orders.orders_changed(None, 1).await.map(drop)
    } else if let Some(products) = connector.catalogue_source() {
        products.products_changed(None, 1).await.map(drop)
    } else {
        connector.check().await
    }
}
