use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, PriceSink, PriceUpdate};
use kontor_model::{PriceKind, PriceScope};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::PAGE;
use crate::vendure::VendureSystem;
use crate::vendure::mappers::minor_units;

#[async_trait]
impl PriceSink for VendureSystem {
    /// Sets variants' prices in the channel. Vendure has one price per variant and
    /// currency: price lists, customer prices, tier and promotion prices are refused
    /// item by item. A variant Kontor created disabled (it had no price yet) is enabled
    /// with its first price, so nothing is ever on sale at 0.00.
    async fn set_prices(&self, updates: &[PriceUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let channel = self.channel().await?;
        let skus: Vec<String> = updates.iter().map(|u| u.price.sku.clone()).collect();
        let variants = self.variants_by_sku(&skus).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        let mut input: Vec<Value> = Vec::new();
        for update in updates {
            let price = &update.price;
            let refuse = |message: String| Err(ConnectorError::Unsupported(message));
            if price.scope != PriceScope::Base {
                results.push(refuse(format!(
                    "Vendure has one price per variant; {} for {:?} has nowhere to go",
                    price.sku, price.scope
                )));
                continue;
            }
            if price.kind != PriceKind::Regular || price.min_quantity > Decimal::ONE {
                results.push(refuse(format!(
                    "Vendure has no promotion or tier prices on variants ({})",
                    price.sku
                )));
                continue;
            }
            if price.includes_tax != channel.prices_include_tax {
                results.push(Err(ConnectorError::Rejected {
                    code: Some("tax_basis".into()),
                    message: format!(
                        "the price of {} is {} tax but the Vendure channel's prices {}; send {} prices or change the channel",
                        price.sku,
                        if price.includes_tax { "with" } else { "without" },
                        if channel.prices_include_tax { "include tax" } else { "exclude tax" },
                        if channel.prices_include_tax { "gross" } else { "net" },
                    ),
                    field: Some("includes_tax".into()),
                }));
                continue;
            }
            let Some(variant) = variants.get(&price.sku) else {
                results.push(Err(ConnectorError::NotFound {
                    what: format!("variant with SKU {} in Vendure", price.sku),
                }));
                continue;
            };
            let minor = match minor_units(&price.amount) {
                Ok(minor) => minor,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let mut item = if price.amount.currency == channel.currency {
                json!({"id": variant.id, "price": minor})
            } else {
                json!({"id": variant.id, "prices": [{"currencyCode": price.amount.currency.code(), "price": minor}]})
            };
            if !variant.enabled && variant.price == 0 && minor > 0 {
                item["enabled"] = json!(true);
            }
            input.push(item);
            results.push(Ok(()));
        }
        self.update_variants(&input).await?;
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        PAGE
    }
}
