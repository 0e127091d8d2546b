use async_trait::async_trait;
use kontor_connector::{Changes, ConnectorError, ItemResults, PriceSink, PriceSource, PriceUpdate};
use kontor_model::Price;

use super::{not_found, page};
use crate::memory::state::Mutation;
use crate::memory::system::MemorySystem;

#[async_trait]
impl PriceSource for MemorySystem {
    async fn prices_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Price>, ConnectorError> {
        self.call("prices.list").await?;
        self.read(|s| {
            page(&s.price_feed, cursor, limit, |key| {
                s.prices.get(key).cloned()
            })
        })
    }
}

#[async_trait]
impl PriceSink for MemorySystem {
    async fn set_prices(&self, updates: &[PriceUpdate]) -> Result<ItemResults<()>, ConnectorError> {
        self.call("prices.batch").await?;
        self.check_batch(updates.len())?;
        self.write(|state| {
            let mut mutations = Vec::new();
            let results = updates
                .iter()
                .map(|u| {
                    if !state.sku_index.contains_key(&u.price.sku) {
                        return Err(not_found(format!("variant with SKU {}", u.price.sku)));
                    }
                    if u.price.scope != kontor_model::PriceScope::Base && u.scope_id.is_none() {
                        return Err(ConnectorError::rejected(format!(
                            "a {:?} price for {} needs the shop's id for its scope",
                            u.price.scope, u.price.sku
                        )));
                    }
                    mutations.push(Mutation::ShopPrice(Box::new(u.clone())));
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
