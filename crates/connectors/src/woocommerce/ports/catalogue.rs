//! The catalogue: a product with one variant and no options becomes a simple product
//! (its SKU is the variant's); any other becomes a variable product (SKU = the product's
//! code) with one variation per variant. Products go in `/products/batch` calls,
//! variations in one `/variations/batch` call per product, which is as few calls as the
//! API allows; existing items are found by SKU first so a retry never duplicates one.
//! Images are handed to WooCommerce by URL (it fetches them), and again only when they
//! change: their fingerprint is kept in the product's `_kontor_images` meta.

use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, ConnectorError, ItemResults, ProductUpsert, ProductWritten, VariantRef,
};
use kontor_model::{Product, ProductStatus, Variant};
use serde_json::{Value, json};
use sha2::Digest;

use super::{ItemId, PAGE};
use crate::woocommerce::WooCommerceSystem;
use crate::woocommerce::client::batch_item;

const IMAGES_META: &str = "_kontor_images";

/// What one product becomes in WooCommerce.
struct Plan<'a> {
    product: &'a Product,
    variable: bool,
    /// The product's own SKU (a simple product's is its variant's).
    sku: String,
    /// Its id, once known.
    id: Option<u64>,
    created: bool,
}

fn is_simple(product: &Product) -> bool {
    product.variants.len() == 1
        && product.options.is_empty()
        && product.variants[0].options.is_empty()
}

fn plan(product: &Product) -> Result<Plan<'_>, ConnectorError> {
    let rejected = |message: String| ConnectorError::Rejected {
        code: Some("unsupported_product".into()),
        message,
        field: Some("variants".into()),
    };
    if product.variants.is_empty() {
        return Err(rejected(format!(
            "product {} has no variants to sell",
            product.code
        )));
    }
    let variable = !is_simple(product);
    if variable && product.variants.iter().any(|v| v.sku == product.code) {
        return Err(rejected(format!(
            "product {} has a variant with its own code as SKU; WooCommerce needs the product's SKU to differ from its variations'",
            product.code
        )));
    }
    let sku = if variable {
        product.code.clone()
    } else {
        product.variants[0].sku.clone()
    };
    Ok(Plan {
        product,
        variable,
        sku,
        id: None,
        created: false,
    })
}

/// A fingerprint of a product's image URLs, in order.
fn images_fingerprint(product: &Product) -> String {
    let mut hash = sha2::Sha256::new();
    for image in &product.images {
        hash.update(image.url.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}

fn meta(item: &Value, key: &str) -> Option<String> {
    item["meta_data"]
        .as_array()?
        .iter()
        .find(|m| m["key"] == key)
        .and_then(|m| m["value"].as_str())
        .map(str::to_owned)
}

fn weight(variant: &Variant) -> Value {
    variant
        .weight_kg
        .map_or(Value::Null, |w| json!(w.normalize().to_string()))
}

fn status(product: &Product) -> &'static str {
    match product.status {
        ProductStatus::Active => "publish",
        _ => "draft",
    }
}

/// Variation attributes: each of the product's options with this variant's value.
fn variation_attributes(product: &Product, variant: &Variant) -> Value {
    json!(
        product
            .options
            .iter()
            .chain(
                variant
                    .options
                    .keys()
                    .filter(|k| !product.options.contains(k))
            )
            .filter_map(|name| variant
                .options
                .get(name)
                .map(|value| json!({"name": name, "option": value})))
            .collect::<Vec<_>>()
    )
}

fn product_attributes(product: &Product) -> Value {
    let mut names: Vec<&String> = product.options.iter().collect();
    for variant in &product.variants {
        for name in variant.options.keys() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    json!(
        names
            .into_iter()
            .map(|name| {
                let mut values: Vec<&String> = Vec::new();
                for value in product.variants.iter().filter_map(|v| v.options.get(name)) {
                    if !values.contains(&value) {
                        values.push(value);
                    }
                }
                json!({"name": name, "options": values, "visible": true, "variation": true})
            })
            .collect::<Vec<_>>()
    )
}

impl WooCommerceSystem {
    /// The ids of a product's category paths, creating the categories WooCommerce lacks.
    async fn category_ids(&self, product: &Product) -> Result<Vec<u64>, ConnectorError> {
        let mut ids = Vec::new();
        for path in &product.categories {
            let mut parent = 0;
            let mut key = String::new();
            for name in path {
                key = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}/{name}")
                };
                parent = match self.cached_category(&key).await {
                    Some(id) => id,
                    None => {
                        self.load_categories().await?;
                        match self.cached_category(&key).await {
                            Some(id) => id,
                            None => self.create_category(&key, name, parent).await?,
                        }
                    }
                };
            }
            if parent > 0 {
                ids.push(parent);
            }
        }
        Ok(ids)
    }

    async fn cached_category(&self, key: &str) -> Option<u64> {
        self.inner.cache.lock().await.categories.get(key).copied()
    }

    /// Reads every category and indexes them by path.
    async fn load_categories(&self) -> Result<(), ConnectorError> {
        let mut all: Vec<Value> = Vec::new();
        let mut page = 1;
        loop {
            let listed = self
                .client()
                .page(
                    "/products/categories",
                    &[("per_page", PAGE.to_string()), ("page", page.to_string())],
                )
                .await?;
            all.extend(listed.items);
            if page >= listed.total_pages {
                break;
            }
            page += 1;
        }
        let by_id: HashMap<u64, (&str, u64)> = all
            .iter()
            .filter_map(|c| {
                Some((
                    c["id"].as_u64()?,
                    (c["name"].as_str()?, c["parent"].as_u64().unwrap_or(0)),
                ))
            })
            .collect();
        let path_of = |mut id: u64| {
            let mut names = Vec::new();
            while let Some((name, parent)) = by_id.get(&id) {
                names.push(*name);
                if names.len() > 32 {
                    break;
                }
                id = *parent;
            }
            names.reverse();
            names.join("/")
        };
        let mut cache = self.inner.cache.lock().await;
        for id in by_id.keys() {
            cache.categories.insert(path_of(*id), *id);
        }
        Ok(())
    }

    async fn create_category(
        &self,
        key: &str,
        name: &str,
        parent: u64,
    ) -> Result<u64, ConnectorError> {
        let created = self
            .client()
            .post(
                "/products/categories",
                &json!({"name": name, "parent": parent}),
            )
            .await?;
        let id = created["id"]
            .as_u64()
            .ok_or_else(|| ConnectorError::protocol("a created category without an id"))?;
        self.inner
            .cache
            .lock()
            .await
            .categories
            .insert(key.to_owned(), id);
        Ok(id)
    }

    /// The product's body for `/products/batch`, with images only if they changed.
    async fn product_body(
        &self,
        plan: &Plan<'_>,
        existing: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let product = plan.product;
        let language = &self.config().language;
        let tax_class = match product.tax_rate {
            Some(rate) => Some(self.tax_class(rate.percent()).await?),
            None => None,
        };
        let categories = self.category_ids(product).await?;
        let fingerprint = images_fingerprint(product);
        let mut body = json!({
            "name": product.name.get(language).unwrap_or(&product.code),
            "type": if plan.variable { "variable" } else { "simple" },
            "status": status(product),
            "sku": plan.sku,
            "description": product.description.get(language).unwrap_or_default(),
            "categories": categories.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "meta_data": [{"key": IMAGES_META, "value": fingerprint}],
        });
        if let Some(class) = tax_class {
            body["tax_class"] = json!(class);
        }
        if existing.and_then(|e| meta(e, IMAGES_META)).as_deref() != Some(fingerprint.as_str()) {
            body["images"] = json!(
                product
                    .images
                    .iter()
                    .map(|i| json!({"src": i.url, "alt": i.alt.clone().unwrap_or_default()}))
                    .collect::<Vec<_>>()
            );
        }
        if plan.variable {
            body["attributes"] = product_attributes(product);
        } else {
            let variant = &product.variants[0];
            body["manage_stock"] = json!(true);
            body["weight"] = weight(variant);
            if let Some(ean) = &variant.ean {
                body["global_unique_id"] = json!(ean);
            }
        }
        Ok(body)
    }

    /// Writes the variations of variable products whose ids are known; `errors` gets
    /// the first failure per product.
    async fn write_variations(
        &self,
        plans: &[Plan<'_>],
        existing: &HashMap<String, Value>,
    ) -> Result<HashMap<usize, Result<Vec<VariantRef>, ConnectorError>>, ConnectorError> {
        let mut out = HashMap::new();
        for (index, plan) in plans.iter().enumerate() {
            let Some(parent) = plan.id.filter(|_| plan.variable) else {
                continue;
            };
            let mut refs = Vec::new();
            let mut create = Vec::new();
            let mut update = Vec::new();
            let mut failure = None;
            for variant in &plan.product.variants {
                let mut body = json!({
                    "sku": variant.sku,
                    "status": if plan.product.status == ProductStatus::Active { "publish" } else { "private" },
                    "attributes": variation_attributes(plan.product, variant),
                    "manage_stock": true,
                    "weight": weight(variant),
                });
                if let Some(ean) = &variant.ean {
                    body["global_unique_id"] = json!(ean);
                }
                match existing
                    .get(&variant.sku)
                    .map(|v| (v["id"].as_u64(), v["parent_id"].as_u64()))
                {
                    Some((Some(id), Some(p))) if p == parent => {
                        body["id"] = json!(id);
                        update.push((variant.sku.clone(), body));
                    }
                    Some((Some(id), _)) => {
                        failure = Some(ConnectorError::Rejected {
                            code: Some("sku_taken".into()),
                            message: format!(
                                "SKU {} is already used by WooCommerce item {id}, not a variation of product {}",
                                variant.sku, plan.product.code
                            ),
                            field: Some("sku".into()),
                        });
                    }
                    _ => {
                        if let Some(image) = variant.images.first() {
                            body["image"] = json!({"src": image.url});
                        }
                        create.push((variant.sku.clone(), body));
                    }
                }
            }
            if let Some(error) = failure {
                out.insert(index, Err(error));
                continue;
            }
            let path = format!("/products/{parent}/variations/batch");
            let mut sent: Vec<(&str, Vec<(String, Value)>)> = Vec::new();
            // Creates and updates share the 100-item limit of one call.
            let mut items: Vec<(&str, (String, Value))> =
                create.into_iter().map(|c| ("create", c)).collect();
            items.extend(update.into_iter().map(|u| ("update", u)));
            let mut result: Result<(), ConnectorError> = Ok(());
            for chunk in items.chunks(PAGE) {
                sent.clear();
                let mut request = json!({});
                for (kind, (sku, body)) in chunk {
                    match request[*kind].as_array_mut() {
                        Some(list) => list.push(body.clone()),
                        None => request[*kind] = json!([body]),
                    }
                    match sent.iter_mut().find(|(k, _)| k == kind) {
                        Some((_, list)) => list.push((sku.clone(), body.clone())),
                        None => sent.push((kind, vec![(sku.clone(), body.clone())])),
                    }
                }
                let answer = self.client().post(&path, &request).await?;
                for (kind, list) in &sent {
                    let answered = answer[*kind].as_array().cloned().unwrap_or_default();
                    for (n, (sku, _)) in list.iter().enumerate() {
                        match answered.get(n).map(batch_item) {
                            Some(Ok(item)) => refs.push(VariantRef {
                                sku: sku.clone(),
                                product_id: parent.to_string(),
                                variant_id: ItemId::Variation {
                                    parent,
                                    id: item["id"].as_u64().unwrap_or_default(),
                                }
                                .text(),
                            }),
                            Some(Err(e)) if result.is_ok() => {
                                result = Err(ConnectorError::Rejected {
                                    code: None,
                                    message: format!("variation {sku}: {e}"),
                                    field: Some("variants".into()),
                                });
                            }
                            None if result.is_ok() => {
                                result =
                                    Err(ConnectorError::protocol(format!("{path} left out {sku}")));
                            }
                            _ => {}
                        }
                    }
                }
            }
            // In the product's own variant order, whatever was created or updated.
            let position = |sku: &str| plan.product.variants.iter().position(|v| v.sku == sku);
            refs.sort_by_key(|r| position(&r.sku));
            out.insert(index, result.map(|()| refs));
        }
        Ok(out)
    }
}

#[async_trait]
impl CatalogueSink for WooCommerceSystem {
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        let found = self.by_sku(skus).await?;
        Ok(skus
            .iter()
            .filter_map(|sku| {
                let item = found.get(sku)?;
                let id = ItemId::of(item)?;
                let product_id = match id {
                    ItemId::Simple(id) | ItemId::Variation { parent: id, .. } => id,
                };
                Some(VariantRef {
                    sku: sku.clone(),
                    product_id: product_id.to_string(),
                    variant_id: id.text(),
                })
            })
            .collect())
    }

    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        let mut results: Vec<Option<Result<ProductWritten, ConnectorError>>> =
            (0..products.len()).map(|_| None).collect();
        let mut plans: Vec<Plan<'_>> = Vec::new();
        let mut slots: Vec<usize> = Vec::new();
        for (index, upsert) in products.iter().enumerate() {
            match plan(&upsert.product) {
                Ok(plan) => {
                    plans.push(plan);
                    slots.push(index);
                }
                Err(e) => results[index] = Some(Err(e)),
            }
        }
        // Existing products by SKU; a product Kontor has an id for but whose SKU is not
        // found any more is written by that id.
        let skus: Vec<String> = plans.iter().map(|p| p.sku.clone()).collect();
        let existing = self.by_sku(&skus).await?;
        let mut bodies = Vec::new();
        for (n, plan) in plans.iter_mut().enumerate() {
            let found = existing.get(&plan.sku);
            plan.id = found.and_then(|f| f["id"].as_u64()).or_else(|| {
                products[slots[n]]
                    .product_id
                    .as_deref()
                    .and_then(|id| id.parse().ok())
            });
            match self.product_body(plan, found).await {
                Ok(body) => bodies.push(Some(body)),
                Err(e) => {
                    results[slots[n]] = Some(Err(e));
                    bodies.push(None);
                }
            }
        }
        let pending: Vec<usize> = (0..plans.len()).filter(|&n| bodies[n].is_some()).collect();
        for chunk in pending.chunks(PAGE) {
            let mut request = json!({"create": [], "update": []});
            let mut order: Vec<(&str, usize)> = Vec::new();
            for &n in chunk {
                let Some(mut body) = bodies[n].take() else {
                    continue;
                };
                match plans[n].id {
                    Some(id) => {
                        body["id"] = json!(id);
                        if let Some(list) = request["update"].as_array_mut() {
                            list.push(body);
                        }
                        order.push(("update", n));
                    }
                    None => {
                        if let Some(list) = request["create"].as_array_mut() {
                            list.push(body);
                        }
                        order.push(("create", n));
                    }
                }
            }
            let answer = self.client().post("/products/batch", &request).await?;
            let mut seen: HashMap<&str, usize> = HashMap::new();
            for (kind, n) in order {
                let position = seen.entry(kind).or_default();
                let item = answer[kind]
                    .as_array()
                    .and_then(|a| a.get(*position))
                    .cloned();
                *position += 1;
                match item.as_ref().map(batch_item) {
                    Some(Ok(item)) => {
                        plans[n].created = kind == "create";
                        plans[n].id = item["id"].as_u64();
                    }
                    // Someone made it since we looked: the retry finds it by SKU.
                    Some(Err(ConnectorError::Rejected {
                        code: Some(code),
                        message,
                        ..
                    })) if code == "product_invalid_sku" && kind == "create" => {
                        results[slots[n]] = Some(Err(ConnectorError::Conflict {
                            message: format!("product {}: {message}", plans[n].sku),
                        }));
                        plans[n].id = None;
                    }
                    Some(Err(e)) => {
                        results[slots[n]] = Some(Err(e));
                        plans[n].id = None;
                    }
                    None => {
                        results[slots[n]] = Some(Err(ConnectorError::protocol(format!(
                            "/products/batch left out {}",
                            plans[n].sku
                        ))));
                        plans[n].id = None;
                    }
                }
            }
        }
        // Variations of products that existed before may exist; look them up together.
        let variant_skus: Vec<String> = plans
            .iter()
            .filter(|p| p.variable && p.id.is_some() && !p.created)
            .flat_map(|p| p.product.variants.iter().map(|v| v.sku.clone()))
            .collect();
        let existing_variations = if variant_skus.is_empty() {
            HashMap::new()
        } else {
            self.by_sku(&variant_skus).await?
        };
        let mut variations = self.write_variations(&plans, &existing_variations).await?;
        for (n, plan) in plans.iter().enumerate() {
            if results[slots[n]].is_some() {
                continue;
            }
            let Some(id) = plan.id else { continue };
            let variants = if plan.variable {
                variations.remove(&n).unwrap_or_else(|| Ok(Vec::new()))
            } else {
                Ok(vec![VariantRef {
                    sku: plan.sku.clone(),
                    product_id: id.to_string(),
                    variant_id: ItemId::Simple(id).text(),
                }])
            };
            results[slots[n]] = Some(variants.map(|variants| ProductWritten {
                code: plan.product.code.clone(),
                product_id: id.to_string(),
                variants,
                created: plan.created,
            }));
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(ConnectorError::protocol("a product was not written")))
            })
            .collect())
    }

    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError> {
        let mut results: ItemResults<()> = Vec::new();
        let mut writes = Vec::new();
        let mut slots = Vec::new();
        for id in product_ids {
            match id.parse::<u64>() {
                Ok(id) => {
                    slots.push(results.len());
                    results.push(Ok(()));
                    writes.push((ItemId::Simple(id), json!({"status": "draft"})));
                }
                Err(_) => results.push(Err(ConnectorError::rejected(format!(
                    "`{id}` is not a WooCommerce product id"
                )))),
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
