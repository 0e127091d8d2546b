//! Payments, shop → ERP: each payment the shop took is recorded once against the order's
//! sales document, and once the order is paid the ERP issues the receipt or VAT invoice
//! the customer asked for.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{OrderSource, PaymentSink};
use kontor_engine::{Effects, JobContext, JobError, JobHandler, Link, NewJob, Store};
use kontor_model::{InvoiceKind, Money, Order, PaymentKind, PaymentState, RequestedDocument};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::{page_into_jobs, sale_of_shop_order};
use crate::error::{bad_payload, connector_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of a `payments` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsOptions {
    /// Issue the receipt or VAT invoice once the order is paid.
    pub issue_documents: bool,
    pub page_size: usize,
}

impl Default for PaymentsOptions {
    fn default() -> Self {
        PaymentsOptions {
            issue_documents: true,
            page_size: 100,
        }
    }
}

pub struct PaymentsFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: PaymentsOptions,
    pub(crate) shop: Arc<dyn OrderSource>,
    pub(crate) erp: Arc<dyn PaymentSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordPayments {
    order_id: String,
}

step!(PollPayments, PaymentsFlow, poll);
step!(RecordPaymentsStep, PaymentsFlow, record);

fn document_kind(order: &Order) -> InvoiceKind {
    match order.requested_document {
        RequestedDocument::Receipt => InvoiceKind::Receipt,
        RequestedDocument::Invoice => InvoiceKind::Invoice,
    }
}

impl PaymentsFlow {
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

    fn record_job(&self, order_id: &str) -> NewJob {
        // A payment that runs before its order's import waits for it by retrying.
        self.ctx
            .item_job("record", order_id, json!({ "order_id": order_id }))
            .ordering_key(self.ctx.record_key(order_id))
    }

    async fn read_order(&self, order_id: &str) -> Result<Order, JobError> {
        self.shop.get_order(order_id).await.map_err(|e| {
            connector_failure(
                &format!("reading order {order_id} from `{}`", self.ctx.from),
                e,
            )
        })
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "orders",
            |o| self.record_job(&o.id),
            self.start_job(),
        ))
    }

    /// `payments.record`: the order's payments into the ERP, then its receipt or invoice.
    pub(crate) async fn record(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: RecordPayments =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let order = self.read_order(&job.order_id).await?;
        let captures: Vec<_> = order
            .payments
            .iter()
            .filter(|p| p.kind == PaymentKind::Capture)
            .collect();
        if captures.is_empty() {
            return Ok(Effects::none().outcome(format!("{} has no payment yet", order.number)));
        }
        let t = &self.ctx.tenant;
        let Some((entity, sale_id)) =
            sale_of_shop_order(&ctx.store, t, &self.ctx.from, &order.id, &self.ctx.to).await?
        else {
            return Err(JobError::waiting(
                "order_not_imported",
                format!(
                    "order {} is not in `{}` yet; its payment waits for the orders flow",
                    order.number, self.ctx.to
                ),
            ));
        };
        let doing = |what: &str| format!("{what} for {} in `{}`", order.number, self.ctx.to);
        let recorded = self
            .erp
            .payments_of(&sale_id)
            .await
            .map_err(|e| connector_failure(&doing("reading payments"), e))?;
        let mut effects = Effects::none();
        let mut new = 0;
        for payment in captures {
            let record = match recorded
                .iter()
                .find(|r| r.transaction_id == payment.transaction_id)
            {
                Some(existing) => existing.clone(),
                None => {
                    new += 1;
                    self.erp
                        .record_payment(&sale_id, payment)
                        .await
                        .map_err(|e| connector_failure(&doing("recording a payment"), e))?
                }
            };
            let key = format!("{entity}/{}", payment.transaction_id);
            effects = effects.link(Link::new(t, kinds::PAYMENT, &self.ctx.to, record.id, key));
        }
        let paid = Money::sum(
            order.currency,
            order
                .payments
                .iter()
                .filter(|p| p.kind == PaymentKind::Capture)
                .map(|p| &p.amount),
        )
        .map_err(|e| JobError::permanent("invalid_order", e.to_string()))?;
        let mut issued = None;
        if self.options.issue_documents
            && order.payment_state == PaymentState::Paid
            && paid.amount >= order.totals.total.amount
        {
            let kind = document_kind(&order);
            let documents = self
                .erp
                .documents_of(&sale_id)
                .await
                .map_err(|e| connector_failure(&doing("reading documents"), e))?;
            let invoice = match documents.into_iter().find(|d| d.kind == kind) {
                Some(existing) => existing,
                None => self
                    .erp
                    .issue_document(&sale_id, kind)
                    .await
                    .map_err(|e| connector_failure(&doing("issuing the document"), e))?,
            };
            effects = effects.link(Link::new(
                t,
                kinds::INVOICE,
                &self.ctx.to,
                &invoice.number,
                &entity,
            ));
            issued = Some(invoice.number);
        }
        Ok(effects.outcome(format!(
            "{}: {new} payments recorded{}",
            order.number,
            issued
                .map(|n| format!(", document {n}"))
                .unwrap_or_default()
        )))
    }
}

#[async_trait]
impl Flow for PaymentsFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::ORDER {
            vec![self.record_job(&change.external_id)]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollPayments(self.clone()))),
            (
                self.ctx.step("record"),
                Arc::new(RecordPaymentsStep(self.clone())),
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
            let order = self.read_order(&summary.id).await?;
            let captures = order
                .payments
                .iter()
                .filter(|p| p.kind == PaymentKind::Capture)
                .count();
            let sale = sale_of_shop_order(
                store,
                &self.ctx.tenant,
                &self.ctx.from,
                &order.id,
                &self.ctx.to,
            )
            .await?;
            let (action, detail) = match (captures, sale) {
                (0, _) => (PlannedAction::Unchanged, "no payment yet".to_owned()),
                (_, None) => (
                    PlannedAction::Wait,
                    "waits for the order's import".to_owned(),
                ),
                (n, Some((_, sale))) => (
                    PlannedAction::Update,
                    format!("would record {n} payments against {sale}"),
                ),
            };
            plan.changes.push(PlannedChange {
                entity: format!("order {}", order.number),
                action,
                detail,
            });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.shop.cursor_at(at)).await
    }
}
