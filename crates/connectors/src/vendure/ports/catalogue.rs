use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, ConnectorError, ItemResults, ProductUpsert, ProductWritten, VariantRef,
};
use kontor_model::{Product, ProductStatus};
use serde_json::json;

use crate::vendure::mappers::slug;
use crate::vendure::{ImagePolicy, VendureSystem};

/// The facet Kontor files products' categories under.
const CATEGORY_FACET: &str = "category";

const PRODUCT_OPTIONS: &str = "query($id: ID!) {
  product(id: $id) { id optionGroups { id code options { id code } } }
}";

impl VendureSystem {
    fn lang(&self) -> &str {
        &self.config().language
    }

    /// Facet value ids for a product's categories (each path becomes one value, named by
    /// the whole path), creating the facet and values Vendure lacks.
    async fn category_values(&self, product: &Product) -> Result<Vec<String>, ConnectorError> {
        if product.categories.is_empty() {
            return Ok(Vec::new());
        }
        let lang = self.lang().to_owned();
        let data = self
            .run(
                "query($code: String!) { facets(options: {filter: {code: {eq: $code}}}) { items { id values { id code } } } }",
                json!({"code": CATEGORY_FACET}),
            )
            .await?;
        let facet = &data["facets"]["items"][0];
        let facet_id = match facet["id"].as_str() {
            Some(id) => id.to_owned(),
            None => {
                let created = self
                    .run(
                        "mutation($input: CreateFacetInput!) { createFacet(input: $input) { id } }",
                        json!({"input": {"code": CATEGORY_FACET, "isPrivate": false,
                               "translations": [{"languageCode": lang, "name": "Category"}]}}),
                    )
                    .await?;
                created["createFacet"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let mut known: HashMap<String, String> = facet["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["code"].as_str()?.to_owned(), v["id"].as_str()?.to_owned())))
            .collect();
        let mut ids = Vec::new();
        for path in &product.categories {
            let name = path.join(" / ");
            let code = slug(&name);
            if !known.contains_key(&code) {
                let created = self
                    .run(
                        "mutation($input: [CreateFacetValueInput!]!) { createFacetValues(input: $input) { id } }",
                        json!({"input": [{"facetId": facet_id, "code": code,
                               "translations": [{"languageCode": lang, "name": name}]}]}),
                    )
                    .await?;
                let id = created["createFacetValues"][0]["id"]
                    .as_str()
                    .unwrap_or_default();
                known.insert(code.clone(), id.to_owned());
            }
            ids.extend(known.get(&code).cloned());
        }
        Ok(ids)
    }

    /// Asset ids for a product's images, uploading the ones Vendure lacks. An image is
    /// named after its URL, so it is uploaded once however often the product changes.
    /// One that cannot be fetched is left out with a warning: a missing picture must not
    /// keep a product off the shop. `None` when images are left to the shop.
    async fn assets(&self, product: &Product) -> Result<Option<Vec<String>>, ConnectorError> {
        if self.config().images == ImagePolicy::Skip {
            return Ok(None);
        }
        let mut ids = Vec::new();
        for image in &product.images {
            let name = asset_name(&image.url, image.content_type.as_deref());
            let found = self
                .run(
                    "query($name: String!) { assets(options: {filter: {name: {eq: $name}}, take: 1}) { items { id } } }",
                    json!({"name": name}),
                )
                .await?;
            if let Some(id) = found["assets"]["items"][0]["id"].as_str() {
                ids.push(id.to_owned());
                continue;
            }
            let (bytes, served_as) = match self.client().fetch(&image.url).await {
                Ok(fetched) => fetched,
                Err(error) => {
                    tracing::warn!(message = "Product image not fetched; the product goes without it.", product = %product.code, url = %image.url, %error);
                    continue;
                }
            };
            let content_type = image
                .content_type
                .clone()
                .or(served_as)
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let uploaded = self
                .client()
                .upload(
                    "mutation($file: Upload!) { createAssets(input: [{file: $file}]) { ... on Asset { id } ... on MimeTypeError { errorCode message } } }",
                    &name,
                    &content_type,
                    bytes,
                )
                .await?;
            let created = &uploaded["createAssets"][0];
            if let Some(code) = created["errorCode"].as_str() {
                tracing::warn!(message = "Vendure refused a product image; the product goes without it.", product = %product.code, url = %image.url, code, reason = %created["message"]);
                continue;
            }
            ids.extend(created["id"].as_str().map(str::to_owned));
        }
        Ok(Some(ids))
    }

    /// Option ids by (axis, value): the product's option groups (one per axis, coded
    /// `<product>-<axis>`), with the groups and options Vendure lacks created.
    async fn options(
        &self,
        product_id: &str,
        product: &Product,
    ) -> Result<HashMap<(String, String), String>, ConnectorError> {
        let mut ids = HashMap::new();
        if product.options.is_empty() {
            return Ok(ids);
        }
        let lang = self.lang().to_owned();
        let data = self.run(PRODUCT_OPTIONS, json!({"id": product_id})).await?;
        let groups = data["product"]["optionGroups"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for axis in &product.options {
            let code = slug(&format!("{}-{axis}", product.code));
            let values: Vec<&String> = {
                let mut values: Vec<&String> = product
                    .variants
                    .iter()
                    .filter_map(|v| v.options.get(axis))
                    .collect();
                values.sort();
                values.dedup();
                values
            };
            let option = |value: &str| json!({"code": slug(value), "translations": [{"languageCode": lang, "name": value}]});
            let group = groups.iter().find(|g| g["code"] == code.as_str());
            let (group_id, existing) = match group {
                Some(group) => (
                    group["id"].as_str().unwrap_or_default().to_owned(),
                    group["options"].as_array().cloned().unwrap_or_default(),
                ),
                None => {
                    let created = self
                        .run(
                            "mutation($input: CreateProductOptionGroupInput!) { createProductOptionGroup(input: $input) { id options { id code } } }",
                            json!({"input": {"code": code,
                                   "translations": [{"languageCode": lang, "name": axis}],
                                   "options": values.iter().map(|v| option(v)).collect::<Vec<_>>()}}),
                        )
                        .await?;
                    let group = &created["createProductOptionGroup"];
                    let group_id = group["id"].as_str().unwrap_or_default().to_owned();
                    self.run(
                        "mutation($product: ID!, $group: ID!) { addOptionGroupToProduct(productId: $product, optionGroupId: $group) { id } }",
                        json!({"product": product_id, "group": group_id}),
                    )
                    .await?;
                    (
                        group_id,
                        group["options"].as_array().cloned().unwrap_or_default(),
                    )
                }
            };
            for value in values {
                let wanted = slug(value);
                let found = existing
                    .iter()
                    .find(|o| o["code"] == wanted.as_str())
                    .and_then(|o| o["id"].as_str())
                    .map(str::to_owned);
                let id = match found {
                    Some(id) => id,
                    None => {
                        let mut input = option(value);
                        input["productOptionGroupId"] = json!(group_id);
                        let created = self
                            .run(
                                "mutation($input: CreateProductOptionInput!) { createProductOption(input: $input) { id } }",
                                json!({"input": input}),
                            )
                            .await?;
                        created["createProductOption"]["id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    }
                };
                ids.insert((axis.clone(), value.clone()), id);
            }
        }
        Ok(ids)
    }

    async fn upsert_one(&self, upsert: &ProductUpsert) -> Result<ProductWritten, ConnectorError> {
        let product = &upsert.product;
        let lang = self.lang().to_owned();
        let skus: Vec<String> = product.variants.iter().map(|v| v.sku.clone()).collect();
        let existing = self.variants_by_sku(&skus).await?;
        let name = product.name.get(&lang).unwrap_or(&product.code).to_owned();
        let translation = json!({
            "languageCode": lang,
            "name": name,
            "slug": slug(&format!("{name}-{}", product.code)),
            "description": product.description.get(&lang).unwrap_or_default(),
        });
        let facet_values = self.category_values(product).await?;
        let assets = self.assets(product).await?;
        let enabled = product.status == ProductStatus::Active;
        let tax_category = match product.tax_rate {
            Some(rate) => Some(self.tax_category(rate.0).await?),
            None => None,
        };

        // Known by Kontor, else found by one of its SKUs, else new.
        let known = upsert
            .product_id
            .clone()
            .or_else(|| existing.values().next().map(|v| v.product_id.clone()));
        let mut created = false;
        let with_assets = |mut input: serde_json::Value| {
            if let Some(assets) = &assets {
                input["assetIds"] = json!(assets);
                input["featuredAssetId"] = json!(assets.first());
            }
            input
        };
        let product_id = match known {
            Some(id) => {
                let updated = self
                    .run(
                        "mutation($input: UpdateProductInput!) { updateProduct(input: $input) { id } }",
                        json!({"input": with_assets(json!({"id": id, "enabled": enabled,
                               "translations": [translation], "facetValueIds": facet_values}))}),
                    )
                    .await;
                match updated {
                    Ok(_) => Some(id),
                    // Deleted in Vendure since Kontor linked it: make it again.
                    Err(ConnectorError::NotFound { .. }) if existing.is_empty() => None,
                    Err(e) => return Err(e),
                }
            }
            None => None,
        };
        let product_id = match product_id {
            Some(id) => id,
            None => {
                let data = self
                    .run(
                        "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }",
                        json!({"input": with_assets(json!({"enabled": enabled,
                               "translations": [translation], "facetValueIds": facet_values}))}),
                    )
                    .await?;
                created = true;
                data["createProduct"]["id"]
                    .as_str()
                    .ok_or_else(|| ConnectorError::protocol("createProduct returned no id"))?
                    .to_owned()
            }
        };

        let options = self.options(&product_id, product).await?;
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for variant in &product.variants {
            let option_ids: Vec<&String> = product
                .options
                .iter()
                .filter_map(|axis| {
                    let value = variant.options.get(axis)?;
                    options.get(&(axis.clone(), value.clone()))
                })
                .collect();
            let variant_name = match variant.name.as_ref().and_then(|n| n.get(&lang)) {
                Some(own) => own.to_owned(),
                None => {
                    let values: Vec<&str> = product
                        .options
                        .iter()
                        .filter_map(|axis| variant.options.get(axis).map(String::as_str))
                        .collect();
                    if values.is_empty() {
                        name.clone()
                    } else {
                        format!("{name} {}", values.join(" / "))
                    }
                }
            };
            let mut input = json!({
                "translations": [{"languageCode": lang, "name": variant_name}],
                "optionIds": option_ids,
            });
            if let Some(category) = &tax_category {
                input["taxCategoryId"] = json!(category);
            }
            match existing.get(&variant.sku) {
                Some(found) => {
                    input["id"] = json!(found.id);
                    updates.push(input);
                }
                None => {
                    input["productId"] = json!(product_id);
                    input["sku"] = json!(variant.sku);
                    // On sale only once the prices flow has given it a price.
                    input["enabled"] = json!(false);
                    creates.push(input);
                }
            }
        }
        if !updates.is_empty() {
            self.run(
                "mutation($input: [UpdateProductVariantInput!]!) { updateProductVariants(input: $input) { id } }",
                json!({"input": updates}),
            )
            .await?;
        }
        if !creates.is_empty() {
            self.run(
                "mutation($input: [CreateProductVariantInput!]!) { createProductVariants(input: $input) { id } }",
                json!({"input": creates}),
            )
            .await?;
        }
        let written = self.variants_by_sku(&skus).await?;
        let variants = product
            .variants
            .iter()
            .filter_map(|v| {
                written.get(&v.sku).map(|found| VariantRef {
                    sku: v.sku.clone(),
                    product_id: found.product_id.clone(),
                    variant_id: found.id.clone(),
                })
            })
            .collect();
        Ok(ProductWritten {
            code: product.code.clone(),
            product_id,
            variants,
            created,
        })
    }
}

#[async_trait]
impl CatalogueSink for VendureSystem {
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        let found = self.variants_by_sku(skus).await?;
        Ok(skus
            .iter()
            .filter_map(|sku| {
                found.get(sku).map(|v| VariantRef {
                    sku: sku.clone(),
                    product_id: v.product_id.clone(),
                    variant_id: v.id.clone(),
                })
            })
            .collect())
    }

    /// Products one at a time: each takes a few calls (product, options, variants), and
    /// one product's refusal must not fail its neighbours.
    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        let mut results = Vec::with_capacity(products.len());
        for upsert in products {
            match self.upsert_one(upsert).await {
                // Vendure unreachable: the whole batch waits for a retry.
                Err(e) if e.is_transient() => return Err(e),
                result => results.push(result),
            }
        }
        Ok(results)
    }

    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError> {
        let mut results = Vec::with_capacity(product_ids.len());
        for id in product_ids {
            let archived = self
                .run(
                    "mutation($id: ID!) { updateProduct(input: {id: $id, enabled: false}) { id } }",
                    json!({"id": id}),
                )
                .await;
            match archived {
                Err(e) if e.is_transient() => return Err(e),
                result => results.push(result.map(drop)),
            }
        }
        Ok(results)
    }

    fn batch_size(&self) -> usize {
        20
    }
}

/// The asset name for an image: `kontor-<hash of its URL>.<extension>`.
fn asset_name(url: &str, content_type: Option<&str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let from_path = path
        .rsplit('/')
        .next()
        .and_then(|file| file.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        });
    let ext = from_path.unwrap_or_else(|| {
        match content_type.unwrap_or_default() {
            "image/png" => "png",
            "image/webp" => "webp",
            "image/gif" => "gif",
            _ => "jpg",
        }
        .to_owned()
    });
    format!("kontor-{hash:016x}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_named_by_its_url_with_its_extension() {
        let a = asset_name("https://cdn.example.com/p/tsh.JPG?v=2", None);
        assert!(a.starts_with("kontor-") && a.ends_with(".jpg"), "{a}");
        assert_eq!(a, asset_name("https://cdn.example.com/p/tsh.JPG?v=2", None));
        assert_ne!(a, asset_name("https://cdn.example.com/p/tsh.JPG?v=3", None));
        assert!(asset_name("https://x/img", Some("image/png")).ends_with(".png"));
    }
}
