//! Stock: WooCommerce keeps one managed quantity per product or variation.

use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, StockSink, StockUpdate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

use super::PAGE;
use crate::woocommerce::WooCommerceSystem;

#[async_trait]
impl StockSink for WooCommerceSystem {
    /// Sets `stock_quantity` (whole units, rounded down; WooCommerce counts pieces) and
    /// turns stock management on. Items Kontor has no id for are found by SKU first.
    /// WooCommerce lowers its own stock when an order is placed; the next update from
    /// the ERP, which has the order by then, agrees with it.
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let location = self.config().location.clone();
        let wanted: Vec<(&str, Option<&str>)> = updates
            .iter()
            .map(|u| (u.sku.as_str(), u.variant_id.as_deref()))
            .collect();
        let located = self.locate(&wanted).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        let mut writes = Vec::new();
        let mut slots = Vec::new();
        for (update, item) in updates.iter().zip(located) {
            if let Some(only) = &location
                && *only != update.location
            {
                results.push(Err(ConnectorError::Rejected {
                    code: Some("unknown_stock_location".into()),
                    message: format!(
                        "WooCommerce keeps one stock per product, fed from location `{only}`; `{}` is not it (map only `{only}` to this shop)",
                        update.location
                    ),
                    field: Some("location".into()),
                }));
                continue;
            }
            match item {
                Ok(item) => {
                    let quantity = update
                        .available
                        .max(Decimal::ZERO)
                        .floor()
                        .to_i64()
                        .unwrap_or(i64::MAX);
                    slots.push(results.len());
                    results.push(Ok(()));
                    writes.push((
                        item,
                        json!({"manage_stock": true, "stock_quantity": quantity}),
                    ));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        for (slot, written) in slots.into_iter().zip(self.update_items(&writes).await?) {
            results[slot] = written;
        }
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        PAGE
    }
}
