//! The order inbox: a connection of type `api` is a shop with no connector of its own
//! that hands its orders over through Kontor's API (`POST /api/v1/tenants/{tenant}/orders`).
//! Kontor keeps each submitted order; this connector reads them back to the orders flow
//! as any shop's order list is read, with the inbox's sequence as the change cursor. So
//! an order submitted through the API takes the same path to the ERP as a Shopify
//! order: looked up by its number there first, created once.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{Changes, Connector, ConnectorError, OrderSource, OrderSummary};
use kontor_model::Order;
use serde::{Deserialize, Serialize};

/// Settings of an `api` connection: none yet; the orders come to Kontor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxConfig {
    /// What submits here, for people reading the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl crate::ConnectorSettings for InboxConfig {
    fn capabilities(&self) -> kontor_connector::Capabilities {
        [kontor_connector::Capability::OrderRead]
            .into_iter()
            .collect()
    }

    fn build(
        &self,
        ctx: &crate::BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, crate::BuildError> {
        let inbox = ctx
            .inbox
            .ok_or_else(|| ctx.fail("the API's order inbox is not available here"))?;
        Ok(Arc::new(InboxConnector {
            tenant: ctx.tenant.to_owned(),
            connection: ctx.connection.to_owned(),
            inbox: inbox.clone(),
        }))
    }
}

/// Where submitted orders are kept (Kontor's store), as this connector needs it.
#[async_trait]
pub trait OrderInbox: Send + Sync {
    /// Orders submitted to a connection after sequence `after`, oldest first, with
    /// their sequence numbers.
    async fn submitted_after(
        &self,
        tenant: &str,
        connection: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Order)>, ConnectorError>;

    /// One submitted order by its id.
    async fn submitted(
        &self,
        tenant: &str,
        connection: &str,
        order_id: &str,
    ) -> Result<Option<Order>, ConnectorError>;
}

/// An `api` connection: an order source over the inbox.
#[derive(Clone)]
pub struct InboxConnector {
    pub tenant: String,
    pub connection: String,
    pub inbox: Arc<dyn OrderInbox>,
}

/// The connector's kind, as `Connector::kind` says it.
pub const KIND: &str = "api";

#[async_trait]
impl Connector for InboxConnector {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn order_source(&self) -> Option<Arc<dyn OrderSource>> {
        Some(Arc::new(self.clone()))
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.inbox
            .submitted_after(&self.tenant, &self.connection, i64::MAX, 1)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl OrderSource for InboxConnector {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        let after = match cursor {
            None => 0,
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| ConnectorError::invalid_cursor(cursor, "an inbox cursor"))?,
        };
        let orders = self
            .inbox
            .submitted_after(&self.tenant, &self.connection, after, limit)
            .await?;
        Ok(Changes {
            more: orders.len() == limit,
            cursor: orders.last().map(|(seq, _)| seq.to_string()),
            items: orders
                .into_iter()
                .map(|(_, order)| OrderSummary {
                    id: order.id,
                    number: order.number,
                    updated_at: order.updated_at,
                })
                .collect(),
        })
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        self.inbox
            .submitted(&self.tenant, &self.connection, order_id)
            .await?
            .ok_or_else(|| ConnectorError::NotFound {
                what: format!("submitted order `{order_id}`"),
            })
    }
}
