//! The ports Vendure offers, one file per area, and the variant lookup they share.

mod catalogue;
mod customers;
mod fulfilment;
mod orders;
mod prices;
mod returns;
mod stock;

use std::collections::HashMap;

use kontor_connector::ConnectorError;
use serde_json::{Value, json};

use super::VendureSystem;

/// A variant as the ports need it.
#[derive(Debug, Clone)]
pub(crate) struct VariantInfo {
    pub id: String,
    pub product_id: String,
    pub enabled: bool,
    /// In minor units, in the channel's currency.
    pub price: i64,
    /// (stock location id, on hand, allocated to orders not yet fulfilled).
    pub stock_levels: Vec<(String, i64, i64)>,
}

/// Vendure's page limit for list queries.
pub(crate) const PAGE: usize = 100;

impl VendureSystem {
    /// The variants with these SKUs, by SKU; unknown SKUs are left out.
    pub(crate) async fn variants_by_sku(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, VariantInfo>, ConnectorError> {
        let mut found = HashMap::new();
        for chunk in skus.chunks(PAGE) {
            let data = self
                .run(
                    "query($skus: [String!]!, $take: Int!) {
                       productVariants(options: {filter: {sku: {in: $skus}}, take: $take}) {
                         items { id sku enabled price product { id }
                                 stockLevels { stockLocationId stockOnHand stockAllocated } }
                       }
                     }",
                    json!({"skus": chunk, "take": PAGE}),
                )
                .await?;
            for item in data["productVariants"]["items"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let Some(sku) = item["sku"].as_str() else {
                    continue;
                };
                found.insert(sku.to_owned(), variant_info(item));
            }
        }
        Ok(found)
    }
}

impl VendureSystem {
    /// Writes variant changes in batches of a page. Each batch is one transaction in
    /// Vendure; a retry after a failure writes the same values again.
    pub(crate) async fn update_variants(&self, input: &[Value]) -> Result<(), ConnectorError> {
        for chunk in input.chunks(PAGE) {
            self.run(
                "mutation($input: [UpdateProductVariantInput!]!) { updateProductVariants(input: $input) { id } }",
                json!({"input": chunk}),
            )
            .await?;
        }
        Ok(())
    }
}

fn variant_info(item: &Value) -> VariantInfo {
    let id = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    VariantInfo {
        id: id(&item["id"]),
        product_id: id(&item["product"]["id"]),
        enabled: item["enabled"].as_bool().unwrap_or(false),
        price: item["price"].as_i64().unwrap_or_default(),
        stock_levels: item["stockLevels"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|level| {
                (
                    id(&level["stockLocationId"]),
                    level["stockOnHand"].as_i64().unwrap_or_default(),
                    level["stockAllocated"].as_i64().unwrap_or_default(),
                )
            })
            .collect(),
    }
}
