//! Returns, shop → ERP: a refund or return in the shop becomes a credit note or a goods
//! return against the order's sales document — once, whatever happens.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{ReturnDocumentKind, ReturnSink, ReturnSource};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store};
use kontor_model::{Return, ReturnLine, Validate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::{order_by_number, page_into_jobs};
use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `returns` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReturnsOptions {
    /// `credit_note` (money back) or `goods_return` (goods back into the warehouse).
    pub document: ReturnDocumentKind,
    pub page_size: usize,
}

impl Default for ReturnsOptions {
    fn default() -> Self {
        ReturnsOptions {
            document: ReturnDocumentKind::CreditNote,
            page_size: 100,
        }
    }
}

pub struct ReturnsFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: ReturnsOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) shop: Arc<dyn ReturnSource>,
    pub(crate) erp: Arc<dyn ReturnSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordReturn {
    #[serde(rename = "return")]
    goods_return: Return,
}

step!(PollReturns, ReturnsFlow, poll);
step!(RecordReturnStep, ReturnsFlow, record);

impl ReturnsFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_model::Return>, JobError> {
        let source = self.shop.clone();
        self.ctx
            .next_page(store, "returns", |cursor| async move {
                source.returns_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "returns",
            |r| {
                self.ctx
                    .item_job("record", &r.reference, json!({ "return": r }))
                    .ordering_key(self.ctx.record_key(&r.order_number))
            },
            self.start_job(),
        ))
    }

    /// `returns.record`: one return into the ERP.
    pub(crate) async fn record(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: RecordReturn =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let goods_return = job.goods_return;
        if let Err(problems) = goods_return.validate() {
            return Err(JobError::permanent(
                "invalid_return",
                format!("return {}: {problems}", goods_return.reference),
            ));
        }
        let t = &self.ctx.tenant;
        let Some((entity, sale_id)) =
            order_by_number(&ctx.store, t, &goods_return.order_number, &self.ctx.to).await?
        else {
            return Err(JobError::waiting(
                "order_not_imported",
                format!(
                    "return {} is for order {}, which is not in `{}` (yet)",
                    goods_return.reference, goods_return.order_number, self.ctx.to
                ),
            ));
        };
        let doing = |what: &str| {
            format!(
                "{what} return {} in `{}`",
                goods_return.reference, self.ctx.to
            )
        };
        let document = match self
            .erp
            .find_return(&goods_return.reference)
            .await
            .map_err(|e| connector_failure(&doing("looking up"), e))?
        {
            Some(found) => found,
            None => {
                let mut for_erp = goods_return.clone();
                for_erp.lines = goods_return
                    .lines
                    .iter()
                    .map(|l| ReturnLine {
                        sku: self.mappings.erp_sku(&l.sku).to_owned(),
                        ..l.clone()
                    })
                    .collect();
                self.erp
                    .create_return(&sale_id, &for_erp, self.options.document)
                    .await
                    .map_err(|e| connector_failure(&doing("recording"), e))?
            }
        };
        let key = format!("{entity}/{}", goods_return.reference);
        Ok(Effects::none()
            .link(Link::new(t, kinds::RETURN, &self.ctx.to, &document.id, key))
            .outcome(format!(
                "return {} → {} ({})",
                goods_return.reference, document.number, document.total
            )))
    }
}

#[async_trait]
impl Flow for ReturnsFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::RETURN {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollReturns(self.clone()))),
            (
                self.ctx.step("record"),
                Arc::new(RecordReturnStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for goods_return in changes.items {
            let sale = order_by_number(
                store,
                &self.ctx.tenant,
                &goods_return.order_number,
                &self.ctx.to,
            )
            .await?;
            plan.changes.push(PlannedChange {
                entity: format!("return {}", goods_return.reference),
                action: if sale.is_some() {
                    PlannedAction::Create
                } else {
                    PlannedAction::Wait
                },
                detail: format!(
                    "{:?} for order {}",
                    self.options.document, goods_return.order_number
                ),
            });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |_| None).await
    }
}
