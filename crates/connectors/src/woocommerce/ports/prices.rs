//! Prices: a product's or variation's `regular_price`, and promotions as its
//! `sale_price` with the dates it applies.

use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, PriceSink, PriceUpdate};
use kontor_model::PriceKind;
use serde_json::{Value, json};

use super::PAGE;
use crate::single_price::SinglePriceShop;
use crate::woocommerce::WooCommerceSystem;
use crate::woocommerce::mappers::{gmt_text, price_text};

#[async_trait]
impl PriceSink for WooCommerceSystem {
    /// Base prices only: WooCommerce has one price per item (price lists and B2B prices
    /// need plugins). Prices must be in the store's currency and on its tax basis.
    async fn set_prices(&self, updates: &[PriceUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let settings = self.settings().await?;
        let shop = SinglePriceShop {
            platform: "WooCommerce",
            currency: settings.currency,
            taxes_included: settings.prices_include_tax,
            tax_setting: "Settings › Tax › Prices entered with tax",
            promotions: true,
            scopes_need: "a plugin",
        };
        let wanted: Vec<(&str, Option<&str>)> = updates
            .iter()
            .map(|u| (u.price.sku.as_str(), u.variant_id.as_deref()))
            .collect();
        let located = self.locate(&wanted).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        let mut writes = Vec::new();
        let mut slots = Vec::new();
        for (update, item) in updates.iter().zip(located) {
            let price = &update.price;
            let refused = shop.refusal(price);
            if let Some(error) = refused {
                results.push(Err(error));
                continue;
            }
            let body = match price.kind {
                PriceKind::Regular => json!({"regular_price": price_text(&price.amount)}),
                PriceKind::Promotion => json!({
                    "sale_price": price_text(&price.amount),
                    "date_on_sale_from_gmt": price.valid_from.map(gmt_text).map_or(Value::Null, Value::from),
                    "date_on_sale_to_gmt": price.valid_until.map(gmt_text).map_or(Value::Null, Value::from),
                }),
            };
            match item {
                Ok(item) => {
                    slots.push(results.len());
                    results.push(Ok(()));
                    writes.push((item, body));
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
