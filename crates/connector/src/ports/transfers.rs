use async_trait::async_trait;
use kontor_model::StockTransfer;
use serde::{Deserialize, Serialize};

use crate::ConnectorError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRef {
    pub id: String,
    pub number: String,
    pub reference: String,
}

/// Moves stock between ERP warehouses (e.g. web store → showroom for a pickup order).
#[async_trait]
pub trait StockTransferSink: Send + Sync {
    /// The transfer created earlier with this reference, if any.
    async fn find_transfer(&self, reference: &str) -> Result<Option<TransferRef>, ConnectorError>;

    async fn create_transfer(
        &self,
        transfer: &StockTransfer,
    ) -> Result<TransferRef, ConnectorError>;

    /// Frees the stock a sales document reserved: its goods leave through another
    /// document (a sale completed at the showroom).
    async fn release_reservation(&self, sale_id: &str) -> Result<(), ConnectorError>;
}
