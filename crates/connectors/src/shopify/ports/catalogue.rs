//! The catalogue through `productSet`, which writes a product with its options and
//! variants in one mutation and, given an `identifier`, updates the product it finds or
//! creates it. Kontor identifies a product by its Shopify id once linked, and before
//! that by a handle made from the ERP code, so a retry after a crash finds what the
//! first attempt made instead of making a duplicate. A small batch goes one call per
//! product; a large one as a single bulk operation. Products with no options get
//! Shopify's `Title / Default Title`; images are passed by URL and fetched by Shopify.

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, ConnectorError, ItemResults, ProductUpsert, ProductWritten, VariantRef,
};
use kontor_model::{Product, ProductStatus};
use serde_json::{Value, json};

use crate::shopify::client::user_errors;
use crate::shopify::{ItemId, ShopifySystem, gid, numeric};

const PRODUCT_SET: &str =
    "mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle variants(first: 250) { nodes { id sku inventoryItem { id } } } }
    userErrors { field message code }
  }
}";

const ARCHIVE: &str =
    "mutation Archive($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id status }
    userErrors { field message code }
  }
}";

/// Most products in one bulk operation. A JSONL file of this many stays far below
/// Shopify's 100 MB limit.
const BULK_BATCH: usize = 2_000;

fn refuse(message: String) -> ConnectorError {
    ConnectorError::Rejected {
        code: Some("unsupported_product".into()),
        message,
        field: Some("variants".into()),
    }
}

/// The handle Kontor gives a product it creates: the ERP code, URL-safe.
pub(crate) fn handle_of(code: &str) -> String {
    let mut out = String::new();
    for c in code.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The option axes: the product's, then any its variants name besides.
fn option_names(product: &Product) -> Vec<String> {
    let mut names: Vec<String> = product.options.clone();
    for variant in &product.variants {
        for name in variant.options.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// `productSet`'s variables for one product.
fn product_set(upsert: &ProductUpsert, language: &str) -> Result<Value, ConnectorError> {
    let product = &upsert.product;
    if product.variants.is_empty() {
        return Err(refuse(format!(
            "product {} has no variants to sell",
            product.code
        )));
    }
    let mut names = option_names(product);
    // Shopify tells variants apart by option values only.
    let synthetic = names.is_empty();
    if synthetic {
        names.push(
            if product.variants.len() == 1 {
                "Title"
            } else {
                "Variant"
            }
            .to_owned(),
        );
    }
    let value_of = |variant: &kontor_model::Variant, name: &str| -> Option<String> {
        if synthetic {
            Some(if product.variants.len() == 1 {
                "Default Title".to_owned()
            } else {
                variant.sku.clone()
            })
        } else {
            variant.options.get(name).cloned()
        }
    };
    let mut options = Vec::new();
    for name in &names {
        let mut values: Vec<String> = Vec::new();
        for variant in &product.variants {
            let value = value_of(variant, name).ok_or_else(|| {
                refuse(format!(
                    "variant {} of product {} has no `{name}`; Shopify needs every variant to have a value for every option",
                    variant.sku, product.code
                ))
            })?;
            if !values.contains(&value) {
                values.push(value);
            }
        }
        options.push(json!({
            "name": name,
            "values": values.iter().map(|v| json!({ "name": v })).collect::<Vec<_>>(),
        }));
    }
    let variants: Vec<Value> = product
        .variants
        .iter()
        .map(|variant| {
            let mut item = json!({ "tracked": true });
            if let Some(kg) = variant.weight_kg {
                item["measurement"] = json!({ "weight": {
                    "value": kg.normalize().to_string().parse::<f64>().unwrap_or_default(),
                    "unit": "KILOGRAMS",
                }});
            }
            let mut body = json!({
                "sku": variant.sku,
                "optionValues": names.iter().map(|name| json!({
                    "optionName": name,
                    "name": value_of(variant, name).unwrap_or_default(),
                })).collect::<Vec<_>>(),
                "inventoryItem": item,
            });
            if let Some(ean) = &variant.ean {
                body["barcode"] = json!(ean);
            }
            body
        })
        .collect();
    let mut tags = product.tags.clone();
    for path in &product.categories {
        let joined = path.join(" > ");
        if !joined.is_empty() && !tags.contains(&joined) {
            tags.push(joined);
        }
    }
    let input = json!({
        "title": product.name.get(language).unwrap_or(&product.code),
        "descriptionHtml": product.description.get(language).unwrap_or_default(),
        "status": match product.status {
            ProductStatus::Active => "ACTIVE",
            ProductStatus::Draft => "DRAFT",
            ProductStatus::Archived => "ARCHIVED",
        },
        "vendor": product.attributes.get("brand").or(product.attributes.get("vendor")).cloned().unwrap_or_default(),
        "productType": product.categories.first().and_then(|p| p.last()).cloned().unwrap_or_default(),
        "tags": tags,
        "productOptions": options,
        "variants": variants,
        "files": product.images.iter().map(|image| json!({
            "originalSource": image.url, "alt": image.alt.clone().unwrap_or_default(),
            "contentType": "IMAGE",
        })).collect::<Vec<_>>(),
        "metafields": [{
            "namespace": "kontor", "key": "code", "type": "single_line_text_field",
            "value": product.code,
        }],
    });
    let identifier = match upsert
        .product_id
        .as_deref()
        .and_then(|id| id.parse::<u64>().ok())
    {
        Some(id) => json!({ "id": gid("Product", id) }),
        None => json!({ "handle": handle_of(&product.code) }),
    };
    Ok(json!({ "identifier": identifier, "input": input }))
}

/// What `productSet` answered, as the refs Kontor keeps.
fn written(upsert: &ProductUpsert, data: &Value) -> Result<ProductWritten, ConnectorError> {
    let payload = &data["productSet"];
    user_errors(payload)?;
    let product = &payload["product"];
    let product_id = numeric(&product["id"])
        .ok_or_else(|| ConnectorError::protocol("productSet answered no product"))?;
    let mut variants = Vec::new();
    for variant in product["variants"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(sku), Some(variant_id), Some(item)) = (
            variant["sku"].as_str(),
            numeric(&variant["id"]),
            numeric(&variant["inventoryItem"]["id"]),
        ) else {
            continue;
        };
        variants.push(VariantRef {
            sku: sku.to_owned(),
            product_id: product_id.to_string(),
            variant_id: ItemId {
                product: product_id,
                variant: variant_id,
                item,
            }
            .text(),
        });
    }
    // In the order Kontor sent them.
    let order = |sku: &str| {
        upsert
            .product
            .variants
            .iter()
            .position(|v| v.sku == sku)
            .unwrap_or(usize::MAX)
    };
    variants.sort_by_key(|v| order(&v.sku));
    Ok(ProductWritten {
        code: upsert.product.code.clone(),
        product_id: product_id.to_string(),
        variants,
        created: upsert.product_id.is_none(),
    })
}

#[async_trait]
impl CatalogueSink for ShopifySystem {
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        let found = self.by_sku(skus).await?;
        Ok(skus
            .iter()
            .filter_map(|sku| {
                let item = ItemId::of(found.get(sku)?)?;
                Some(VariantRef {
                    sku: sku.clone(),
                    product_id: item.product.to_string(),
                    variant_id: item.text(),
                })
            })
            .collect())
    }

    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        let language = self.config().language.clone();
        let mut results: Vec<Option<Result<ProductWritten, ConnectorError>>> =
            (0..products.len()).map(|_| None).collect();
        let mut planned = Vec::new();
        for (index, upsert) in products.iter().enumerate() {
            match product_set(upsert, &language) {
                Ok(variables) => planned.push((index, variables)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        if planned.len() > self.config().bulk_threshold {
            for chunk in planned.chunks(BULK_BATCH) {
                let lines: Vec<Value> = chunk.iter().map(|(_, v)| v.clone()).collect();
                let answers = self.bulk_mutation(PRODUCT_SET, &lines).await?;
                for ((index, _), answer) in chunk.iter().zip(answers) {
                    results[*index] =
                        Some(answer.and_then(|data| written(&products[*index], &data)));
                }
            }
        } else {
            for (index, variables) in planned {
                let answer = self
                    .client()
                    .run("productSet", PRODUCT_SET, variables)
                    .await;
                results[index] = Some(match answer {
                    Ok(data) => written(&products[index], &data),
                    Err(error) if error.is_transient() => return Err(error),
                    Err(error) => Err(error),
                });
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ConnectorError::protocol("a product was not sent"))))
            .collect())
    }

    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError> {
        let mut results = Vec::with_capacity(product_ids.len());
        for id in product_ids {
            let Some(id) = id.parse::<u64>().ok() else {
                results.push(Err(ConnectorError::NotFound {
                    what: format!("Shopify product `{id}`"),
                }));
                continue;
            };
            let answer = self
                .client()
                .run(
                    "productSet (archive)",
                    ARCHIVE,
                    json!({ "identifier": { "id": gid("Product", id) }, "input": { "status": "ARCHIVED" } }),
                )
                .await;
            results.push(match answer {
                Ok(data) => user_errors(&data["productSet"]),
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => Err(error),
            });
        }
        Ok(results)
    }

    /// One bulk operation can carry thousands of products; flows hand over this many.
    fn batch_size(&self) -> usize {
        BULK_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_url_safe_codes() {
        assert_eq!(handle_of("KUB-01/Biały"), "kub-01-bia-y");
        assert_eq!(handle_of("  Mug  "), "mug");
    }
}
