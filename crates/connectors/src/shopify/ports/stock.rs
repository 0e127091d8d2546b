//! Stock: the `available` quantity of a variant's inventory item at a location, set
//! with `inventorySetQuantities`, 250 quantities per call. The ERP is the source of
//! truth for stock, so the compare-and-set check is skipped (`changeFromQuantity:
//! null`), as Shopify's documentation advises for that case.

use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, StockSink, StockUpdate};
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::shopify::client::user_errors;
use crate::shopify::{ShopifySystem, gid};

const SET_QUANTITIES: &str = "mutation SetStock($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}";

/// Most quantities one `inventorySetQuantities` call takes.
const PER_CALL: usize = 250;

#[async_trait]
impl StockSink for ShopifySystem {
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let wanted: Vec<(&str, Option<&str>)> = updates
            .iter()
            .map(|u| (u.sku.as_str(), u.variant_id.as_deref()))
            .collect();
        let located = self.locate(&wanted).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        let mut quantities: Vec<(usize, Value)> = Vec::new();
        for (index, (update, item)) in updates.iter().zip(located).enumerate() {
            let item = match item {
                Ok(item) => item,
                Err(error) => {
                    results.push(Err(error));
                    continue;
                }
            };
            let location = match self.location(&update.location).await {
                Ok(location) => location,
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => {
                    results.push(Err(error));
                    continue;
                }
            };
            // Shopify counts whole units; fractions (metres, kilograms) are floored.
            let Some(quantity) = update.available.floor().to_i64() else {
                results.push(Err(ConnectorError::Rejected {
                    code: Some("quantity_out_of_range".into()),
                    message: format!(
                        "{} of {} does not fit Shopify's quantity",
                        update.available, update.sku
                    ),
                    field: Some("available".into()),
                }));
                continue;
            };
            results.push(Ok(()));
            quantities.push((
                index,
                json!({
                    "inventoryItemId": gid("InventoryItem", item.item),
                    "locationId": location,
                    "quantity": quantity,
                    "changeFromQuantity": null,
                }),
            ));
        }
        for chunk in quantities.chunks(PER_CALL) {
            let mut pending: Vec<&(usize, Value)> = chunk.iter().collect();
            // A refused quantity fails the whole call: it is set aside with its error
            // and the rest are sent again.
            while !pending.is_empty() {
                let data = self
                    .client()
                    .run(
                        "inventorySetQuantities",
                        SET_QUANTITIES,
                        json!({ "input": {
                            "name": "available", "reason": "correction",
                            "referenceDocumentUri": "gid://kontor/StockSync/erp",
                            "quantities": pending.iter().map(|(_, q)| q.clone()).collect::<Vec<_>>(),
                        }}),
                    )
                    .await?;
                let payload = &data["inventorySetQuantities"];
                let errors = payload["userErrors"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if errors.is_empty() {
                    break;
                }
                let mut refused = Vec::new();
                for error in &errors {
                    let position = error["field"]
                        .as_array()
                        .and_then(|f| f.get(2))
                        .and_then(|n| n.as_str()?.parse::<usize>().ok());
                    match position.filter(|p| *p < pending.len()) {
                        Some(p) => {
                            let slot = pending[p].0;
                            results[slot] = user_errors(&json!({ "userErrors": [error] }));
                            refused.push(p);
                        }
                        None => {
                            return Err(user_errors(payload).err().unwrap_or_else(|| {
                                ConnectorError::protocol(
                                    "inventorySetQuantities refused without saying why",
                                )
                            }));
                        }
                    }
                }
                pending = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(p, _)| !refused.contains(p))
                    .map(|(_, q)| q)
                    .collect();
            }
        }
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        PER_CALL
    }
}
