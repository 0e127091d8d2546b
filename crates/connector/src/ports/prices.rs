use async_trait::async_trait;
use kontor_model::Price;
use serde::{Deserialize, Serialize};

use super::ItemResults;
use crate::{Changes, ConnectorError};

/// Reads prices from the ERP: base prices, price lists, customer-group and
/// customer-specific prices, promotions.
#[async_trait]
pub trait PriceSource: Send + Sync {
    async fn prices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Price>, ConnectorError>;

    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let _ = since;
        None
    }
}

/// One price for the shop, with the shop's own ids where Kontor knows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceUpdate {
    pub price: Price,
    /// The shop's variant id.
    pub variant_id: Option<String>,
    /// The shop's id for the price's scope: its price list, customer group or customer.
    pub scope_id: Option<String>,
}

/// Sets prices in a shop.
#[async_trait]
pub trait PriceSink: Send + Sync {
    async fn set_prices(&self, updates: &[PriceUpdate]) -> Result<ItemResults<()>, ConnectorError>;

    fn batch_size(&self) -> usize {
        100
    }
}
