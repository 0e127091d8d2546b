//! Prices: a variant's `price`, written with `productVariantsBulkUpdate` (one call per
//! product, or one bulk operation when many products change). Shopify has one price
//! per variant in the shop's currency, on the shop's tax basis; B2B price lists live in
//! Shopify Plus catalogs, which this connector does not write.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, ItemResults, PriceSink, PriceUpdate};
use serde_json::{Value, json};

use crate::shopify::client::user_errors;
use crate::shopify::mappers::money_text;
use crate::shopify::{ShopifySystem, gid};
use crate::single_price::SinglePriceShop;

const UPDATE_VARIANTS: &str =
    "mutation SetPrices($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    productVariants { id }
    userErrors { field message code }
  }
}";

#[async_trait]
impl PriceSink for ShopifySystem {
    async fn set_prices(&self, updates: &[PriceUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        let settings = self.settings().await?;
        let shop = SinglePriceShop {
            platform: "Shopify",
            currency: settings.currency,
            taxes_included: settings.taxes_included,
            tax_setting: "Settings › Taxes and duties",
            promotions: false,
            scopes_need: "Shopify Plus catalogs",
        };
        let wanted: Vec<(&str, Option<&str>)> = updates
            .iter()
            .map(|u| (u.price.sku.as_str(), u.variant_id.as_deref()))
            .collect();
        let located = self.locate(&wanted).await?;
        let mut results: ItemResults<()> = Vec::with_capacity(updates.len());
        // Product → (update index, variant input).
        let mut by_product: BTreeMap<u64, Vec<(usize, Value)>> = BTreeMap::new();
        for (index, (update, item)) in updates.iter().zip(located).enumerate() {
            let price = &update.price;
            let refused = shop.refusal(price);
            if let Some(error) = refused {
                results.push(Err(error));
                continue;
            }
            match item {
                Ok(item) => {
                    results.push(Ok(()));
                    by_product.entry(item.product).or_default().push((
                        index,
                        json!({ "id": gid("ProductVariant", item.variant), "price": money_text(&price.amount) }),
                    ));
                }
                Err(error) => results.push(Err(error)),
            }
        }
        let calls: Vec<(u64, Vec<(usize, Value)>)> = by_product.into_iter().collect();
        let variables: Vec<Value> = calls
            .iter()
            .map(|(product, variants)| {
                json!({
                    "productId": gid("Product", *product),
                    "variants": variants.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let answers: Vec<Result<Value, ConnectorError>> =
            if calls.len() > self.config().bulk_threshold {
                self.bulk_mutation(UPDATE_VARIANTS, &variables).await?
            } else {
                let mut answers = Vec::new();
                for variables in variables {
                    match self
                        .client()
                        .run("productVariantsBulkUpdate", UPDATE_VARIANTS, variables)
                        .await
                    {
                        Err(error) if error.is_transient() => return Err(error),
                        answer => answers.push(answer),
                    }
                }
                answers
            };
        for ((_, variants), answer) in calls.iter().zip(answers) {
            let outcome = answer.and_then(|data| user_errors(&data["productVariantsBulkUpdate"]));
            if let Err(error) = outcome {
                for (index, _) in variants {
                    // Each variant of the product shares the call's fate.
                    results[*index] = Err(match &error {
                        ConnectorError::Rejected {
                            code,
                            message,
                            field,
                        } => ConnectorError::Rejected {
                            code: code.clone(),
                            message: message.clone(),
                            field: field.clone(),
                        },
                        other if other.is_transient() => {
                            ConnectorError::unavailable(other.to_string())
                        }
                        other => ConnectorError::protocol(other.to_string()),
                    });
                }
            }
        }
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        crate::shopify::PAGE * 4
    }
}
