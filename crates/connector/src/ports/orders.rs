use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_model::Order;
use serde::{Deserialize, Serialize};

use crate::{Changes, ConnectorError};

/// Enough to know an order changed; the import reads the whole order afresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub updated_at: DateTime<Utc>,
}

/// Reads orders from a shop.
#[async_trait]
pub trait OrderSource: Send + Sync {
    /// Orders placed or changed after `cursor` (all when `None`), in change order.
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError>;

    /// One order as it is now.
    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError>;

    /// The cursor from which changes made at or after `since` are read, if this system
    /// can tell (a backfill from a date). `None`: start from the beginning.
    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let _ = since;
        None
    }
}
