use async_trait::async_trait;
use kontor_model::Product;
use serde::{Deserialize, Serialize};

use super::ItemResults;
use crate::{Changes, ConnectorError};

/// A variant's ids in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRef {
    pub sku: String,
    pub product_id: String,
    pub variant_id: String,
}

/// Reads the catalogue from the system that owns it (the ERP).
#[async_trait]
pub trait CatalogueSource: Send + Sync {
    /// Products changed after `cursor` (all when `None`), in change order.
    async fn products_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Product>, ConnectorError>;

    /// The variants with these SKUs; unknown SKUs are left out.
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError>;

    /// One product as it is now, by its code.
    async fn get_product(&self, code: &str) -> Result<Product, ConnectorError>;

    /// The cursor from which changes made at or after `since` are read, if this system
    /// can tell (a backfill from a date). `None`: start from the beginning.
    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        let _ = since;
        None
    }
}

/// A product to create or update, with its id in the target system if Kontor knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductUpsert {
    pub product: Product,
    pub product_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductWritten {
    pub code: String,
    pub product_id: String,
    pub variants: Vec<VariantRef>,
    /// Whether the product was new to the system.
    pub created: bool,
}

/// Writes the catalogue into a shop.
#[async_trait]
pub trait CatalogueSink: Send + Sync {
    /// The variants with these SKUs that already exist in the shop.
    async fn find_variants(&self, skus: &[String]) -> Result<Vec<VariantRef>, ConnectorError>;

    /// Creates or updates products (a product without `product_id` is looked up by its
    /// variants' SKUs before it is created, so a retry never makes a duplicate).
    async fn upsert_products(
        &self,
        products: &[ProductUpsert],
    ) -> Result<ItemResults<ProductWritten>, ConnectorError>;

    /// Takes products off sale without deleting them.
    async fn archive_products(
        &self,
        product_ids: &[String],
    ) -> Result<ItemResults<()>, ConnectorError>;

    /// Most products one `upsert_products` call should carry (the API's batch limit).
    fn batch_size(&self) -> usize {
        50
    }
}
