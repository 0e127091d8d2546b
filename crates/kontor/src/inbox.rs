//! The order inbox: orders submitted through Kontor's API, kept in its store until the
//! orders flow of an `api` connection reads them.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::ConnectorError;
use kontor_connectors::inbox::OrderInbox;
use kontor_engine::{Store, Submission};
use kontor_model::Order;

/// The inbox over Kontor's store, for `api` connections.
pub struct StoreInbox(pub Store);

impl StoreInbox {
    pub fn shared(store: Store) -> Arc<dyn OrderInbox> {
        Arc::new(StoreInbox(store))
    }
}

fn unreadable(error: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::unavailable(format!("the order inbox: {error}"))
}

fn order_of(submission: Submission) -> Result<Order, ConnectorError> {
    serde_json::from_str(&submission.body).map_err(|e| {
        ConnectorError::protocol(format!(
            "submitted order `{}` no longer reads as an order: {e}",
            submission.order_id
        ))
    })
}

#[async_trait]
impl OrderInbox for StoreInbox {
    async fn submitted_after(
        &self,
        tenant: &str,
        connection: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Order)>, ConnectorError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.0
            .submitted_orders_after(tenant, connection, after, limit)
            .await
            .map_err(unreadable)?
            .into_iter()
            .map(|s| Ok((s.seq, order_of(s)?)))
            .collect()
    }

    async fn submitted(
        &self,
        tenant: &str,
        connection: &str,
        order_id: &str,
    ) -> Result<Option<Order>, ConnectorError> {
        self.0
            .submitted_order(tenant, connection, order_id)
            .await
            .map_err(unreadable)?
            .map(order_of)
            .transpose()
    }
}
