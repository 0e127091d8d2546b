use async_trait::async_trait;
use kontor_model::{OrderStatus, Shipment};
use serde::{Deserialize, Serialize};

use crate::{Changes, ConnectorError, SalesDocument};

/// Reads shipments (customer deliveries) from the ERP.
#[async_trait]
pub trait ShipmentSource: Send + Sync {
    async fn shipments_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Shipment>, ConnectorError>;
}

/// A fulfilment in a shop, and the ERP shipment it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfilmentRef {
    pub id: String,
    /// The ERP shipment's reference.
    pub reference: String,
}

/// Marks goods as sent in a shop, with carrier and tracking.
#[async_trait]
pub trait FulfilmentSink: Send + Sync {
    async fn fulfilments_of(&self, order_id: &str) -> Result<Vec<FulfilmentRef>, ConnectorError>;

    /// `customer_note` is the flow's text for the customer (the merchant's words, in
    /// their language), written where the shop shows customers notes. A shop that tells
    /// customers in its own way (Shopify's shipping e-mail) leaves it out; a connector
    /// never writes a text of its own.
    async fn create_fulfilment(
        &self,
        order_id: &str,
        shipment: &Shipment,
        customer_note: Option<&str>,
    ) -> Result<FulfilmentRef, ConnectorError>;
}

/// Reads changes to sales documents (their status) from the ERP.
#[async_trait]
pub trait SalesSource: Send + Sync {
    async fn sales_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<SalesDocument>, ConnectorError>;
}

/// Sets an order's status in a shop.
#[async_trait]
pub trait OrderStatusSink: Send + Sync {
    /// `shop_status`, when given, is the shop's own status name to use (from the status
    /// map); otherwise the connector picks its equivalent of `status`.
    async fn set_order_status(
        &self,
        order_id: &str,
        status: OrderStatus,
        shop_status: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ConnectorError>;
}
