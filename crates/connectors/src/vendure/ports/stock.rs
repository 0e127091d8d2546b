use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, StockSink, StockUpdate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::PAGE;
use crate::vendure::VendureSystem;

#[async_trait]
impl StockSink for VendureSystem {
    /// Sets each variant's stock on hand at a stock location so that what Vendure lets
    /// shoppers buy equals what Kontor says is available: Vendure subtracts the stock it
    /// has allocated to orders not yet fulfilled (which the ERP has not shipped either),
    /// so that allocation is added back. One read and one write per batch.
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let skus: Vec<String> = updates.iter().map(|u| u.sku.clone()).collect();
        let variants = self.variants_by_sku(&skus).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        let mut levels: HashMap<String, Vec<Value>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for update in updates {
            let Some(variant) = variants.get(&update.sku) else {
                results.push(Err(ConnectorError::NotFound {
                    what: format!("variant with SKU {} in Vendure", update.sku),
                }));
                continue;
            };
            let location = match self.stock_location(&update.location).await {
                Ok(location) => location,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let allocated = variant
                .stock_levels
                .iter()
                .find(|(at, _, _)| *at == location)
                .map_or(0, |(_, _, allocated)| *allocated);
            // Vendure counts whole units; a fraction cannot be sold.
            let available = update
                .available
                .max(Decimal::ZERO)
                .floor()
                .to_i64()
                .unwrap_or(0);
            if !levels.contains_key(&variant.id) {
                order.push(variant.id.clone());
            }
            levels.entry(variant.id.clone()).or_default().push(json!({
                "stockLocationId": location,
                "stockOnHand": available + allocated,
            }));
            results.push(Ok(()));
        }
        let input: Vec<Value> = order
            .iter()
            .map(|id| json!({"id": id, "stockLevels": levels[id]}))
            .collect();
        self.update_variants(&input).await?;
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        PAGE
    }
}
