//! Showroom pickup, shop → ERP: when an order to be collected in a showroom reaches the
//! configured status ("sent to showroom"), its goods are moved from the web store's
//! warehouse to the showroom's with a stock transfer, and the order's reservation is
//! released; the sale itself is completed at the showroom.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use kontor_connector::{OrderSource, StockTransferSink};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store};
use kontor_model::{DeliveryMethod, Order, StockTransfer, TransferLine};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::{page_into_jobs, sale_of_shop_order};
use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `showroom` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShowroomOptions {
    /// The shop status (its own name) that sends an order to the showroom.
    pub when_status: String,
    /// The web store's ERP warehouse the goods leave.
    pub from_warehouse: String,
    /// Pickup location in the shop → the showroom's ERP warehouse (same name if absent).
    pub showrooms: BTreeMap<String, String>,
    /// Release the order's reservation once the goods are moved.
    pub release_reservation: bool,
    pub page_size: usize,
}

impl Default for ShowroomOptions {
    fn default() -> Self {
        ShowroomOptions {
            when_status: "sent_to_showroom".to_owned(),
            from_warehouse: "MAIN".to_owned(),
            showrooms: BTreeMap::new(),
            release_reservation: true,
            page_size: 100,
        }
    }
}

pub struct ShowroomFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: ShowroomOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) shop: Arc<dyn OrderSource>,
    pub(crate) erp: Arc<dyn StockTransferSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TransferOrder {
    order_id: String,
}

step!(PollShowroom, ShowroomFlow, poll);
step!(TransferStep, ShowroomFlow, transfer);

impl ShowroomFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_connector::OrderSummary>, JobError> {
        let source = self.shop.clone();
        self.ctx
            .next_page(store, "changed orders", |cursor| async move {
                source.orders_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    /// The showroom warehouse, if the order is one for the showroom now.
    fn showroom_of(&self, order: &Order) -> Option<String> {
        match &order.delivery {
            DeliveryMethod::StorePickup { location }
                if order.source_status.as_deref() == Some(self.options.when_status.as_str()) =>
            {
                Some(
                    self.options
                        .showrooms
                        .get(location)
                        .cloned()
                        .unwrap_or_else(|| location.clone()),
                )
            }
            _ => None,
        }
    }

    fn transfer_job(&self, order_id: &str) -> NewJob {
        self.ctx
            .item_job("transfer", order_id, json!({ "order_id": order_id }))
            .ordering_key(self.ctx.record_key(order_id))
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "orders",
            |o| self.transfer_job(&o.id),
            self.start_job(),
        ))
    }

    /// `showroom.transfer`: the goods of one pickup order to its showroom.
    pub(crate) async fn transfer(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: TransferOrder =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let order = self.shop.get_order(&job.order_id).await.map_err(|e| {
            connector_failure(
                &format!("reading order {} from `{}`", job.order_id, self.ctx.from),
                e,
            )
        })?;
        let Some(showroom) = self.showroom_of(&order) else {
            return Ok(
                Effects::none().outcome(format!("{} is not for the showroom now", order.number))
            );
        };
        let t = &self.ctx.tenant;
        let Some((entity, sale_id)) =
            sale_of_shop_order(&ctx.store, t, &self.ctx.from, &order.id, &self.ctx.to).await?
        else {
            return Err(JobError::waiting(
                "order_not_imported",
                format!(
                    "order {} is not in `{}` yet; the showroom transfer waits for it",
                    order.number, self.ctx.to
                ),
            ));
        };
        let reference = format!("{}/showroom", order.number);
        let doing = |what: &str| {
            format!(
                "{what} the showroom transfer for {} in `{}`",
                order.number, self.ctx.to
            )
        };
        let transfer = match self
            .erp
            .find_transfer(&reference)
            .await
            .map_err(|e| connector_failure(&doing("looking up"), e))?
        {
            Some(found) => found,
            None => {
                let transfer = StockTransfer {
                    reference: reference.clone(),
                    from_warehouse: self.options.from_warehouse.clone(),
                    to_warehouse: showroom.clone(),
                    lines: order
                        .lines
                        .iter()
                        .map(|l| TransferLine {
                            sku: self.mappings.erp_sku(&l.sku).to_owned(),
                            quantity: l.quantity,
                        })
                        .collect(),
                    order_number: Some(order.number.clone()),
                    created_at: Utc::now(),
                };
                self.erp
                    .create_transfer(&transfer)
                    .await
                    .map_err(|e| connector_failure(&doing("creating"), e))?
            }
        };
        if self.options.release_reservation {
            self.erp.release_reservation(&sale_id).await.map_err(|e| {
                connector_failure(&format!("releasing the reservation of {}", order.number), e)
            })?;
        }
        Ok(Effects::none()
            .link(Link::new(
                t,
                kinds::TRANSFER,
                &self.ctx.to,
                &transfer.id,
                format!("{entity}/showroom"),
            ))
            .outcome(format!(
                "{} → {} to {showroom}",
                order.number, transfer.number
            )))
    }
}

#[async_trait]
impl Flow for ShowroomFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::ORDER {
            vec![self.transfer_job(&change.external_id)]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollShowroom(self.clone()))),
            (
                self.ctx.step("transfer"),
                Arc::new(TransferStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for summary in changes.items {
            let order = self.shop.get_order(&summary.id).await.map_err(|e| {
                connector_failure(
                    &format!("reading order {} from `{}`", summary.id, self.ctx.from),
                    e,
                )
            })?;
            if let Some(showroom) = self.showroom_of(&order) {
                plan.changes.push(PlannedChange {
                    entity: format!("order {}", order.number),
                    action: PlannedAction::Create,
                    detail: format!(
                        "would move {} lines from {} to {showroom}",
                        order.lines.len(),
                        self.options.from_warehouse
                    ),
                });
            }
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.shop.cursor_at(at)).await
    }
}
