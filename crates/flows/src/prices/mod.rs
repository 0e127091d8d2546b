//! Prices, ERP → shop: base prices, price lists, customer-group and customer-specific
//! (B2B) prices, and promotions with their validity windows. Each price is addressed
//! with the shop's own ids — its variant, price list, customer group or customer
//! account — and sent only when it changed.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, PriceSink, PriceSource, PriceUpdate};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store, content_hash};
use kontor_model::{Price, PriceScope, Validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `prices` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesOptions {
    /// Prices read per poll.
    pub page_size: usize,
    /// Which kinds of price to send. A shop with one price per variant (Vendure) takes
    /// `["base"]`; the ERP's other prices are then passed over instead of parked.
    pub scopes: Vec<ScopeKind>,
}

/// The kinds of [`PriceScope`], for choosing which a shop gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Base,
    PriceList,
    CustomerGroup,
    Customer,
}

impl ScopeKind {
    fn of(scope: &PriceScope) -> ScopeKind {
        match scope {
            PriceScope::Base => ScopeKind::Base,
            PriceScope::PriceList(_) => ScopeKind::PriceList,
            PriceScope::CustomerGroup(_) => ScopeKind::CustomerGroup,
            PriceScope::Customer(_) => ScopeKind::Customer,
        }
    }
}

impl Default for PricesOptions {
    fn default() -> Self {
        PricesOptions {
            page_size: 500,
            scopes: vec![
                ScopeKind::Base,
                ScopeKind::PriceList,
                ScopeKind::CustomerGroup,
                ScopeKind::Customer,
            ],
        }
    }
}

pub struct PricesFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: PricesOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) erp: Arc<dyn PriceSource>,
    pub(crate) shop: Arc<dyn PriceSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportPrice {
    price: Price,
}

step!(PollPrices, PricesFlow, poll);
step!(ExportPriceStep, PricesFlow, export_one);

/// A price's identity in Kontor: SKU and scope.
fn price_id(price: &Price) -> String {
    let scope = match &price.scope {
        PriceScope::Base => "base".to_owned(),
        PriceScope::PriceList(id) => format!("list:{id}"),
        PriceScope::CustomerGroup(id) => format!("group:{id}"),
        PriceScope::Customer(id) => format!("customer:{id}"),
    };
    let kind = match price.kind {
        kontor_model::PriceKind::Regular => "",
        kontor_model::PriceKind::Promotion => ":promo",
    };
    format!(
        "{}@{scope}{kind}@{}",
        price.sku,
        price.min_quantity.normalize()
    )
}

enum Decision {
    Send(Box<PriceUpdate>, String),
    Unchanged,
    /// A kind of price this shop is not sent (the `scopes` option).
    NotForShop,
}

impl PricesFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_model::Price>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "changed prices", |cursor| async move {
                source.prices_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    /// The shop's ids for a price, and whether it changed since it was last sent.
    async fn decide(&self, store: &Store, price: &Price) -> Result<Decision, JobError> {
        if let Err(problems) = price.validate() {
            return Err(JobError::permanent(
                "invalid_price",
                format!("price of {}: {problems}", price.sku),
            ));
        }
        if !self.options.scopes.contains(&ScopeKind::of(&price.scope)) {
            return Ok(Decision::NotForShop);
        }
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up price links", e);
        let scope_id = match &price.scope {
            PriceScope::Base => None,
            PriceScope::PriceList(list) => Some(self.mappings.price_lists.get(list).cloned().ok_or_else(|| {
                JobError::needs_human(
                    "unmapped_price_list",
                    format!("price list `{list}` has no shop price list; map it under [tenants.{t}.mappings.price_lists]"),
                )
            })?),
            PriceScope::CustomerGroup(group) => Some(
                self.mappings.shop_customer_group(group).map(str::to_owned).ok_or_else(|| {
                    JobError::needs_human(
                        "unmapped_customer_group",
                        format!("customer group `{group}` has no shop group; map it under [tenants.{t}.mappings.customer_groups]"),
                    )
                })?,
            ),
            PriceScope::Customer(erp_id) => {
                let account = match store.link_by_external(t, kinds::CUSTOMER, &self.ctx.from, erp_id).await.map_err(failed)? {
                    Some(link) => store.link_by_entity(t, kinds::CUSTOMER, &self.ctx.to, &link.entity_id).await.map_err(failed)?,
                    None => None,
                };
                Some(account.map(|l| l.external_id).ok_or_else(|| {
                    JobError::waiting(
                "customer_not_in_shop",
                        format!("customer {erp_id} has no account in `{}` yet; the customers flow creates it", self.ctx.to),
                    )
                })?)
            }
        };
        let hash = content_hash(&json!({ "price": price, "scope": scope_id }));
        let id = price_id(price);
        let sent = store
            .link_by_entity(t, kinds::PRICE, &self.ctx.to, &id)
            .await
            .map_err(failed)?;
        if sent.is_some_and(|l| l.sent_hash.as_deref() == Some(hash.as_str())) {
            return Ok(Decision::Unchanged);
        }
        let variant_id = store
            .link_by_entity(t, kinds::VARIANT, &self.ctx.to, &price.sku)
            .await
            .map_err(failed)?
            .map(|l| l.external_id);
        Ok(Decision::Send(
            Box::new(PriceUpdate {
                price: price.clone(),
                variant_id,
                scope_id,
            }),
            hash,
        ))
    }

    /// Sends what changed; returns the effects and the prices that need a job of their own.
    async fn export(
        &self,
        store: &Store,
        prices: Vec<Price>,
    ) -> Result<(Effects, Vec<(Price, JobError)>), JobError> {
        let mut effects = Effects::none();
        let mut failed = Vec::new();
        let mut pending = Vec::new();
        let mut unchanged = 0;
        for price in prices {
            match self.decide(store, &price).await {
                Ok(Decision::Send(update, hash)) => pending.push((*update, hash)),
                Ok(Decision::Unchanged | Decision::NotForShop) => unchanged += 1,
                Err(e) if e.code == "store_unavailable" => return Err(e),
                Err(e) => failed.push((price, e)),
            }
        }
        let t = &self.ctx.tenant;
        let mut sent = 0;
        for chunk in pending.chunks(self.shop.batch_size().max(1)) {
            let updates: Vec<PriceUpdate> = chunk.iter().map(|(u, _)| u.clone()).collect();
            let results = self.shop.set_prices(&updates).await.map_err(|e| {
                connector_failure(&format!("sending prices to `{}`", self.ctx.to), e)
            })?;
            for ((update, hash), result) in chunk.iter().zip(results) {
                let id = price_id(&update.price);
                match result {
                    Ok(()) => {
                        sent += 1;
                        effects = effects.link(
                            Link::new(t, kinds::PRICE, &self.ctx.to, &id, &id)
                                .with_hash(hash.clone()),
                        );
                    }
                    Err(ConnectorError::NotFound { what }) => failed.push((
                        update.price.clone(),
                        JobError::waiting(
                            "variant_missing",
                            format!(
                                "`{}` has no {what} yet; is the catalogue flow creating it?",
                                self.ctx.to
                            ),
                        ),
                    )),
                    Err(e) => failed.push((
                        update.price.clone(),
                        connector_failure(&format!("sending the price of {}", update.price.sku), e),
                    )),
                }
            }
        }
        effects.outcome = Some(format!(
            "{sent} prices sent, {unchanged} unchanged, {} failed",
            failed.len()
        ));
        Ok((effects, failed))
    }

    fn export_job(&self, price: &Price) -> NewJob {
        self.ctx
            .item_job("export", &price_id(price), json!({ "price": price }))
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        let (mut effects, failed) = self.export(&ctx.store, changes.items).await?;
        for (price, _) in &failed {
            effects = effects.enqueue(self.export_job(price));
        }
        effects.cursors.extend(self.ctx.cursor_at(changes.cursor));
        if changes.more {
            effects = effects.enqueue(self.start_job());
        }
        Ok(effects)
    }

    /// `prices.export`: one price again, after it could not go with its page.
    pub(crate) async fn export_one(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: ExportPrice =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let (effects, mut failed) = self.export(&ctx.store, vec![job.price]).await?;
        match failed.pop() {
            Some((_, error)) => Err(error),
            None => Ok(effects),
        }
    }
}

#[async_trait]
impl Flow for PricesFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(1)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::PRICE {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollPrices(self.clone()))),
            (
                self.ctx.step("export"),
                Arc::new(ExportPriceStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for price in changes.items {
            let entity = format!("price {}", price_id(&price));
            plan.changes.push(match self.decide(store, &price).await {
                Ok(Decision::Send(update, _)) => PlannedChange {
                    entity,
                    action: PlannedAction::Update,
                    detail: format!("would set {}", update.price.amount),
                },
                Ok(Decision::Unchanged) => PlannedChange {
                    entity,
                    action: PlannedAction::Unchanged,
                    detail: "unchanged".into(),
                },
                Ok(Decision::NotForShop) => PlannedChange {
                    entity,
                    action: PlannedAction::Unchanged,
                    detail: "not sent: its scope is not among the flow's `scopes`".into(),
                },
                Err(e) if e.code == "store_unavailable" => return Err(e),
                Err(e) => PlannedChange {
                    entity,
                    action: PlannedAction::Park,
                    detail: format!("{}: {}", e.code, e.message),
                },
            });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.erp.cursor_at(at)).await
    }
}
