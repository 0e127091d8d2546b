use std::collections::BTreeMap;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSink, CatalogueSource, Changes, ConnectorError, ItemResults, ProductUpsert,
    ProductWritten, VariantRef,
};
use kontor_model::{Product, ProductStatus};

use super::{not_found, page};
use crate::memory::state::{Mutation, ProductRecord, State};
use crate::memory::system::MemorySystem;

pub(in crate::memory) fn variant_refs(state: &State, skus: &[String]) -> Vec<VariantRef> {
    skus.iter()
        .filter_map(|sku| {
            let product_id = state.sku_index.get(sku)?;
            let record = state.products.get(product_id)?;
            Some(VariantRef {
                sku: sku.clone(),
                product_id: product_id.clone(),
                variant_id: record.variant_ids.get(sku)?.clone(),
            })
        })
        .collect()
}

#[async_trait]
impl CatalogueSource for MemorySystem {
    async fn products_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Product>, ConnectorError> {
        self.call("products.list").await?;
        self.read(|s| {
            page(&s.product_feed, cursor, limit, |id| {
                s.products.get(id).map(ProductRecord::view)
            })
        })
    }

    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        self.call("variants.find").await?;
        Ok(self.read(|s| variant_refs(s, skus)))
    }

    async fn get_product(&self, code: &str) -> Result<Product, ConnectorError> {
        self.call("products.get").await?;
        self.read(|s| {
            s.products
                .values()
                .find(|p| p.product.code == code)
                .map(ProductRecord::view)
        })
        .ok_or_else(|| not_found(format!("product {code}")))
    }
}

#[async_trait]
impl CatalogueSink for MemorySystem {
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError> {
        self.call("variants.find").await?;
        Ok(self.read(|s| variant_refs(s, skus)))
    }

    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError> {
        self.call("products.batch").await?;
        self.check_batch(products.len())?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let mut results = Vec::new();
            for upsert in products {
                let product = &upsert.product;
                // Known id first, then any of its SKUs: a retried create updates instead.
                let existing_id = upsert
                    .product_id
                    .clone()
                    .filter(|id| state.products.contains_key(id))
                    .or_else(|| {
                        product
                            .variants
                            .iter()
                            .find_map(|v| state.sku_index.get(&v.sku).cloned())
                    });
                let existing = existing_id
                    .as_ref()
                    .and_then(|id| state.products.get(id))
                    .cloned();
                let id = existing_id.unwrap_or_else(|| state.new_id("p"));
                let mut variant_ids = BTreeMap::new();
                for variant in &product.variants {
                    let known = existing
                        .as_ref()
                        .and_then(|p| p.variant_ids.get(&variant.sku).cloned());
                    variant_ids.insert(
                        variant.sku.clone(),
                        known.unwrap_or_else(|| state.new_id("v")),
                    );
                }
                let written = ProductWritten {
                    code: product.code.clone(),
                    product_id: id.clone(),
                    variants: variant_ids
                        .iter()
                        .map(|(sku, variant_id)| VariantRef {
                            sku: sku.clone(),
                            product_id: id.clone(),
                            variant_id: variant_id.clone(),
                        })
                        .collect(),
                    created: existing.is_none(),
                };
                mutations.push(Mutation::Product(ProductRecord {
                    id,
                    product: product.clone(),
                    variant_ids,
                    archived: product.status == ProductStatus::Archived,
                }));
                results.push(Ok(written));
            }
            (mutations, results)
        })
    }

    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError> {
        self.call("products.archive").await?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let results = product_ids
                .iter()
                .map(|id| match state.products.get(id) {
                    Some(record) => {
                        let mut record = record.clone();
                        record.archived = true;
                        mutations.push(Mutation::Product(record));
                        Ok(())
                    }
                    None => Err(not_found(format!("product {id}"))),
                })
                .collect();
            (mutations, results)
        })
    }

    fn batch_size(&self) -> usize {
        self.knobs().batch_size.max(1)
    }
}
