//! Stock, ERP → shop: what each shop location may sell, from the ERP warehouses mapped
//! to it — on hand, minus reserved, minus a safety margin, never below zero — with the
//! next expected delivery where the shop can show it. Only quantities that changed since
//! they were last sent go out, in the shop's batch size.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, StockSink, StockSource, StockUpdate};
use kontor_engine::{
    Effects, EntityRecord, JobContext, JobError, JobHandler, Link, MatchKey, NewJob, Store,
    content_hash,
};
use kontor_model::{IncomingStock, StockLevel};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `stock` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StockOptions {
    /// Kept back from every location, so the shop never sells the last pieces.
    #[serde(with = "kontor_model::decimal::plain")]
    pub safety_stock: Decimal,
    /// Stock levels read per poll.
    pub page_size: usize,
}

impl Default for StockOptions {
    fn default() -> Self {
        StockOptions {
            safety_stock: Decimal::ZERO,
            page_size: 500,
        }
    }
}

pub struct StockFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: StockOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) erp: Arc<dyn StockSource>,
    pub(crate) shop: Arc<dyn StockSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportStock {
    flow: String,
    sku: String,
    location: String,
}

step!(PollStock, StockFlow, poll);
step!(ExportStockStep, StockFlow, export_one);

fn level_id(sku: &str, warehouse: &str) -> String {
    format!("{sku}@{warehouse}")
}

/// One computed update, with the hash that says whether it must be sent.
struct Pending {
    update: StockUpdate,
    hash: String,
}

impl StockFlow {
    /// ERP levels of `sku` Kontor knows, by warehouse; `fresh` ones (this page) win.
    async fn levels_of(
        &self,
        store: &Store,
        sku: &str,
        fresh: &BTreeMap<(String, String), StockLevel>,
    ) -> Result<BTreeMap<String, StockLevel>, JobError> {
        let failed = |e| store_failure("reading stock snapshots", e);
        let mut levels = BTreeMap::new();
        let ids = store
            .find_entities(&self.ctx.tenant, kinds::STOCK_LEVEL, &MatchKey::sku(sku))
            .await
            .map_err(failed)?;
        for id in ids {
            if let Some(entity) = store
                .get_entity(&self.ctx.tenant, kinds::STOCK_LEVEL, &id)
                .await
                .map_err(failed)?
                && let Ok(level) = serde_json::from_value::<StockLevel>(entity.data)
            {
                levels.insert(level.warehouse.clone(), level);
            }
        }
        for ((fresh_sku, warehouse), level) in fresh {
            if fresh_sku == sku {
                levels.insert(warehouse.clone(), level.clone());
            }
        }
        Ok(levels)
    }

    /// What `location` may sell of `sku`, and whether it differs from what was sent.
    async fn compute(
        &self,
        store: &Store,
        sku: &str,
        location: &str,
        fresh: &BTreeMap<(String, String), StockLevel>,
    ) -> Result<Option<Pending>, JobError> {
        let levels = self.levels_of(store, sku, fresh).await?;
        let feeding: Vec<&StockLevel> = levels
            .values()
            .filter(|l| self.mappings.location_for(&l.warehouse) == Some(location))
            .collect();
        let sellable: Decimal = feeding.iter().map(|l| l.on_hand - l.reserved).sum();
        let available = (sellable - self.options.safety_stock).max(Decimal::ZERO);
        let incoming: Option<IncomingStock> = feeding
            .iter()
            .filter_map(|l| l.next_incoming())
            .min_by_key(|i| i.expected_on)
            .cloned();
        let hash = content_hash(
            &json!({ "available": available.normalize().to_string(), "incoming": incoming }),
        );
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up stock links", e);
        let id = level_id(sku, location);
        let sent = store
            .link_by_entity(t, kinds::STOCK, &self.ctx.to, &id)
            .await
            .map_err(failed)?;
        if sent.is_some_and(|l| l.sent_hash.as_deref() == Some(hash.as_str())) {
            return Ok(None);
        }
        let variant_id = store
            .link_by_entity(t, kinds::VARIANT, &self.ctx.to, sku)
            .await
            .map_err(failed)?
            .map(|l| l.external_id);
        Ok(Some(Pending {
            update: StockUpdate {
                sku: sku.to_owned(),
                variant_id,
                location: location.to_owned(),
                available,
                incoming,
            },
            hash,
        }))
    }

    /// Computes and sends the updates for these (SKU, location) pairs.
    async fn push(
        &self,
        store: &Store,
        pairs: BTreeSet<(String, String)>,
        fresh: &BTreeMap<(String, String), StockLevel>,
    ) -> Result<(Effects, usize, Vec<(String, String, ConnectorError)>), JobError> {
        let mut pending = Vec::new();
        let mut unchanged = 0;
        for (sku, location) in &pairs {
            match self.compute(store, sku, location, fresh).await? {
                Some(p) => pending.push(p),
                None => unchanged += 1,
            }
        }
        let mut effects = Effects::none();
        let mut failed = Vec::new();
        let t = &self.ctx.tenant;
        for chunk in pending.chunks(self.shop.batch_size().max(1)) {
            let updates: Vec<StockUpdate> = chunk.iter().map(|p| p.update.clone()).collect();
            let results = self.shop.set_stock(&updates).await.map_err(|e| {
                connector_failure(&format!("sending stock to `{}`", self.ctx.to), e)
            })?;
            for (p, result) in chunk.iter().zip(results) {
                let id = level_id(&p.update.sku, &p.update.location);
                match result {
                    Ok(()) => {
                        effects = effects.link(
                            Link::new(t, kinds::STOCK, &self.ctx.to, &id, &id)
                                .with_hash(p.hash.clone()),
                        )
                    }
                    Err(e) => failed.push((p.update.sku.clone(), p.update.location.clone(), e)),
                }
            }
        }
        let sent = pending.len() - failed.len();
        effects.outcome = Some(format!(
            "{sent} stock levels sent, {unchanged} unchanged, {} failed",
            failed.len()
        ));
        Ok((effects, sent, failed))
    }

    fn export_job(&self, sku: &str, location: &str) -> NewJob {
        self.ctx.item_job(
            "export",
            &format!("{sku}@{location}"),
            json!({ "sku": sku, "location": location }),
        )
    }

    async fn read_page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<StockLevel>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "changed stock", |cursor| async move {
                source.stock_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    fn affected(&self, levels: &[StockLevel]) -> BTreeSet<(String, String)> {
        levels
            .iter()
            .filter_map(|l| {
                self.mappings
                    .location_for(&l.warehouse)
                    .map(|loc| (l.sku.clone(), loc.to_owned()))
            })
            .collect()
    }

    /// `stock.poll`: one page of changed ERP stock, pushed to the shop.
    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.read_page(&ctx.store, self.options.page_size).await?;
        let fresh: BTreeMap<(String, String), StockLevel> = changes
            .items
            .iter()
            .map(|l| ((l.sku.clone(), l.warehouse.clone()), l.clone()))
            .collect();
        let (mut effects, _, failed) = self
            .push(&ctx.store, self.affected(&changes.items), &fresh)
            .await?;
        let t = &self.ctx.tenant;
        for level in &changes.items {
            effects = effects.entity(
                EntityRecord::new(
                    t,
                    kinds::STOCK_LEVEL,
                    level_id(&level.sku, &level.warehouse),
                    json!(level),
                )
                .key(MatchKey::sku(&level.sku)),
            );
        }
        for (sku, location, _) in &failed {
            effects = effects.enqueue(self.export_job(sku, location));
        }
        effects.cursors.extend(self.ctx.cursor_at(changes.cursor));
        if changes.more {
            effects = effects.enqueue(self.start_job());
        }
        Ok(effects)
    }

    /// `stock.export`: one SKU at one location, again, after the shop refused it.
    pub(crate) async fn export_one(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: ExportStock =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let pairs = BTreeSet::from([(job.sku.clone(), job.location.clone())]);
        let (effects, _, mut failed) = self.push(&ctx.store, pairs, &BTreeMap::new()).await?;
        match failed.pop() {
            // The catalogue flow may not have created the variant yet: worth waiting for.
            Some((sku, location, ConnectorError::NotFound { .. })) => Err(JobError::waiting(
                "variant_missing",
                format!(
                    "`{}` has no variant with SKU {sku} (location {location}) yet; is the catalogue flow creating it?",
                    self.ctx.to
                ),
            )),
            Some((sku, _, error)) => {
                Err(connector_failure(&format!("sending stock of {sku}"), error))
            }
            None => Ok(effects),
        }
    }
}

#[async_trait]
impl Flow for StockFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(2)
    }

    /// A stock change in the ERP starts a poll: it is cheap (deltas only) and keeps the
    /// cursor the single record of what was sent.
    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::STOCK {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollStock(self.clone()))),
            (
                self.ctx.step("export"),
                Arc::new(ExportStockStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.read_page(store, limit).await?;
        let fresh: BTreeMap<(String, String), StockLevel> = changes
            .items
            .iter()
            .map(|l| ((l.sku.clone(), l.warehouse.clone()), l.clone()))
            .collect();
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for (sku, location) in self.affected(&changes.items) {
            let entity = format!("stock {sku} @ {location}");
            plan.changes
                .push(match self.compute(store, &sku, &location, &fresh).await? {
                    Some(p) => PlannedChange {
                        entity,
                        action: PlannedAction::Update,
                        detail: format!("would set available to {}", p.update.available),
                    },
                    None => PlannedChange {
                        entity,
                        action: PlannedAction::Unchanged,
                        detail: "unchanged".to_owned(),
                    },
                });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.erp.cursor_at(at)).await
    }
}
