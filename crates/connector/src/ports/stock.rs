use async_trait::async_trait;
use kontor_model::{IncomingStock, StockLevel};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ItemResults;
use crate::{Changes, ConnectorError};

/// Reads stock from the ERP.
#[async_trait]
pub trait StockSource: Send + Sync {
    /// Stock levels changed after `cursor` (all when `None`), in change order.
    async fn stock_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<StockLevel>, ConnectorError>;

    /// Current stock of these SKUs in every warehouse.
    async fn stock_of(&self, skus: &[String]) -> Result<Vec<StockLevel>, ConnectorError>;

    /// The cursor from which changes made at or after `since` are read, if this system
    /// can tell (a backfill from a date). `None`: start from the beginning.
    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let _ = since;
        None
    }
}

/// The quantity a shop may sell of one SKU at one of its locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockUpdate {
    pub sku: String,
    /// The shop's variant id, when Kontor knows it.
    pub variant_id: Option<String>,
    /// The shop's location (mapped from ERP warehouses by configuration).
    pub location: String,
    #[serde(with = "kontor_model::decimal::plain")]
    pub available: Decimal,
    /// The next expected delivery, for shops that show planned availability.
    pub incoming: Option<IncomingStock>,
}

/// Sets sellable quantities in a shop.
#[async_trait]
pub trait StockSink: Send + Sync {
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError>;

    fn batch_size(&self) -> usize {
        100
    }
}
