//! Stock per warehouse. Any stock move touching a product marks it changed; its levels are
//! then read as Tryton computes them: `quantity` (on hand) and `forecast_quantity` (after
//! planned moves), the difference being what planned shipments have reserved.

use std::collections::BTreeSet;

use async_trait::async_trait;
use kontor_connector::{Changes, ConnectorError, StockSource};
use kontor_model::StockLevel;
use rust_decimal::Decimal;
use serde_json::json;

use crate::tryton::TrytonSystem;
use crate::tryton::values::{get_decimal, get_ref, get_str};
use crate::tryton::window::Window;

impl TrytonSystem {
    async fn levels(&self, domain: serde_json::Value) -> Result<Vec<StockLevel>, ConnectorError> {
        let mut levels = Vec::new();
        for (warehouse, code) in self.warehouses().await? {
            let context = Self::in_location(warehouse);
            let products = self
                .client()
                .search_read(
                    "product.product",
                    domain.clone(),
                    None,
                    json!([["id", "ASC"]]),
                    &["code", "quantity", "forecast_quantity"],
                    Some(&context),
                )
                .await?;
            for product in products {
                let Some(sku) = get_str(&product, "code") else {
                    continue;
                };
                let on_hand = get_decimal(&product, "quantity")?;
                let forecast = get_decimal(&product, "forecast_quantity")?;
                levels.push(StockLevel {
                    sku: sku.to_owned(),
                    warehouse: code.clone(),
                    on_hand,
                    reserved: (on_hand - forecast).max(Decimal::ZERO),
                    incoming: vec![],
                });
            }
        }
        Ok(levels)
    }
}

#[async_trait]
impl StockSource for TrytonSystem {
    async fn stock_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<StockLevel>, ConnectorError> {
        let page = self
            .read_window(
                "stock.move",
                vec![],
                &[],
                &self.window(cursor)?,
                limit,
                &["product"],
            )
            .await?;
        let products: BTreeSet<i64> = page
            .records
            .iter()
            .filter_map(|m| get_ref(m, "id").and(get_ref(m, "product")))
            .collect();
        let items = if products.is_empty() {
            vec![]
        } else {
            let ids: Vec<i64> = products.into_iter().collect();
            self.levels(json!([["id", "in", ids], ["type", "=", "goods"]]))
                .await?
        };
        Ok(Changes {
            items,
            cursor: Some(page.cursor),
            more: page.more,
        })
    }

    async fn stock_of(&self, skus: &[String]) -> Result<Vec<StockLevel>, ConnectorError> {
        if skus.is_empty() {
            return Ok(vec![]);
        }
        self.levels(json!([["code", "in", skus]])).await
    }

    fn cursor_at(&self, since: chrono::DateTime<chrono::Utc>) -> Option<String> {
        Some(Window::since(since))
    }
}
