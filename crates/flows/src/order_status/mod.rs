//! Order status, ERP → shop: when the ERP moves a shop order's document to a status the
//! merchant wants shown (completed, cancelled, …), the shop order follows, in the shop's
//! own words where the status map has them.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{OrderStatusSink, SalesDocument, SalesSource};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store, content_hash};
use kontor_model::OrderStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::{order_by_number, page_into_jobs};
use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of an `order_status` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderStatusOptions {
    /// The ERP statuses shown in the shop; others stay in the ERP.
    pub push: Vec<OrderStatus>,
    pub page_size: usize,
}

impl Default for OrderStatusOptions {
    fn default() -> Self {
        OrderStatusOptions {
            push: vec![OrderStatus::Completed, OrderStatus::Cancelled],
            page_size: 100,
        }
    }
}

pub struct OrderStatusFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: OrderStatusOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) erp: Arc<dyn SalesSource>,
    pub(crate) shop: Arc<dyn OrderStatusSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PushStatus {
    document: SalesDocument,
}

step!(PollStatuses, OrderStatusFlow, poll);
step!(PushStatusStep, OrderStatusFlow, push);

impl OrderStatusFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_connector::SalesDocument>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "sales documents", |cursor| async move {
                source.sales_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let mut changes = self.page(&ctx.store, self.options.page_size).await?;
        changes
            .items
            .retain(|d| self.options.push.contains(&d.status));
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "documents",
            |d| {
                self.ctx
                    .item_job("push", &d.id, json!({ "document": d }))
                    .ordering_key(self.ctx.record_key(&d.reference))
            },
            self.start_job(),
        ))
    }

    /// `order_status.push`: one document's status onto its shop order.
    pub(crate) async fn push(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: PushStatus =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let document = job.document;
        let t = &self.ctx.tenant;
        let Some((entity, order_id)) =
            order_by_number(&ctx.store, t, &document.reference, &self.ctx.to).await?
        else {
            return Ok(Effects::none().outcome(format!(
                "{} is not an order from `{}`",
                document.reference, self.ctx.to
            )));
        };
        let hash = content_hash(&json!({ "status": document.status }));
        let sent = ctx
            .store
            .link_by_entity(t, kinds::ORDER_STATUS, &self.ctx.to, &entity)
            .await
            .map_err(|e| store_failure("reading the status sent", e))?;
        if sent.is_some_and(|l| l.sent_hash.as_deref() == Some(hash.as_str())) {
            return Ok(Effects::none().outcome(format!(
                "{} already shows {:?}",
                document.reference, document.status
            )));
        }
        self.shop
            .set_order_status(
                &order_id,
                document.status,
                self.mappings.shop_status(document.status),
                None,
            )
            .await
            .map_err(|e| {
                connector_failure(
                    &format!(
                        "setting the status of order {order_id} in `{}`",
                        self.ctx.to
                    ),
                    e,
                )
            })?;
        Ok(Effects::none()
            .link(
                Link::new(t, kinds::ORDER_STATUS, &self.ctx.to, &order_id, &entity).with_hash(hash),
            )
            .outcome(format!(
                "{} is now {:?} in `{}`",
                document.reference, document.status, self.ctx.to
            )))
    }
}

#[async_trait]
impl Flow for OrderStatusFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::ORDER {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollStatuses(self.clone()))),
            (
                self.ctx.step("push"),
                Arc::new(PushStatusStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for document in changes
            .items
            .into_iter()
            .filter(|d| self.options.push.contains(&d.status))
        {
            let order =
                order_by_number(store, &self.ctx.tenant, &document.reference, &self.ctx.to).await?;
            plan.changes.push(PlannedChange {
                entity: format!("order {}", document.reference),
                action: if order.is_some() {
                    PlannedAction::Update
                } else {
                    PlannedAction::Unchanged
                },
                detail: format!("{:?} in `{}`", document.status, self.ctx.from),
            });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |_| None).await
    }
}
