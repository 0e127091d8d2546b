use async_trait::async_trait;
use kontor_connector::{Changes, ConnectorError, ItemResults, StockSink, StockSource, StockUpdate};
use kontor_model::StockLevel;
use rust_decimal::Decimal;

use super::{not_found, page};
use crate::memory::state::Mutation;
use crate::memory::system::MemorySystem;

#[async_trait]
impl StockSource for MemorySystem {
    async fn stock_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<StockLevel>, ConnectorError> {
        self.call("stock.list").await?;
        self.read(|s| {
            page(&s.stock_feed, cursor, limit, |key| {
                s.stock.get(key).cloned()
            })
        })
    }

    async fn stock_of(&self, skus: &[String]) -> Result<Vec<StockLevel>, ConnectorError> {
        self.call("stock.get").await?;
        Ok(self.read(|s| {
            s.stock
                .values()
                .filter(|l| skus.contains(&l.sku))
                .cloned()
                .collect()
        }))
    }
}

#[async_trait]
impl StockSink for MemorySystem {
    async fn set_stock(&self, updates: &[StockUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        self.call("stock.batch").await?;
        self.check_batch(updates.len())?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let results = updates
                .iter()
                .map(|u| {
                    if !state.sku_index.contains_key(&u.sku) {
                        return Err(not_found(format!("variant with SKU {}", u.sku)));
                    }
                    mutations.push(Mutation::Stock(StockLevel {
                        sku: u.sku.clone(),
                        warehouse: u.location.clone(),
                        on_hand: u.available,
                        reserved: Decimal::ZERO,
                        incoming: u.incoming.clone().into_iter().collect(),
                    }));
                    Ok(())
                })
                .collect();
            (mutations, results)
        })
    }

    fn batch_size(&self) -> usize {
        self.knobs().batch_size.max(1)
    }
}
