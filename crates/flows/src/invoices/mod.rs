//! Invoices, ERP → shop: each invoice, receipt or credit note the ERP issues for a shop
//! order is put on that order — its number, and its PDF where the shop keeps files.

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{InvoiceSink, InvoiceSource};
use kontor_engine::{Effects, EntityRecord, JobContext, JobError, JobHandler, NewJob, Store};
use kontor_model::Invoice;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::common::{order_by_number, page_into_jobs};
use crate::error::{bad_payload, connector_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;

/// Options of an `invoices` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InvoicesOptions {
    /// Attach the PDF where the shop keeps files (otherwise only the number).
    pub attach_pdf: bool,
    pub page_size: usize,
}

impl Default for InvoicesOptions {
    fn default() -> Self {
        InvoicesOptions {
            attach_pdf: true,
            page_size: 100,
        }
    }
}

pub struct InvoicesFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: InvoicesOptions,
    pub(crate) erp: Arc<dyn InvoiceSource>,
    pub(crate) shop: Arc<dyn InvoiceSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AttachInvoice {
    invoice: Invoice,
}

step!(PollInvoices, InvoicesFlow, poll);
step!(AttachInvoiceStep, InvoicesFlow, attach);

impl InvoicesFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_model::Invoice>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "invoices", |cursor| async move {
                source.invoices_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "invoices",
            |invoice| {
                self.ctx
                    .item_job("attach", &invoice.number, json!({ "invoice": invoice }))
            },
            self.start_job(),
        ))
    }

    /// `invoices.attach`: one invoice onto its shop order. The invoice is kept as
    /// synced state either way (the API serves its PDF by number).
    pub(crate) async fn attach(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: AttachInvoice =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let record = EntityRecord::new(
            &self.ctx.tenant,
            kinds::ERP_INVOICE,
            &job.invoice.number,
            json!(job.invoice),
        );
        Ok(self.attach_invoice(ctx, job.invoice).await?.entity(record))
    }

    async fn attach_invoice(
        &self,
        ctx: &JobContext,
        invoice: Invoice,
    ) -> Result<Effects, JobError> {
        let Some((_, order_id)) = order_by_number(
            &ctx.store,
            &self.ctx.tenant,
            &invoice.order_number,
            &self.ctx.to,
        )
        .await?
        else {
            // Sold at the counter, or in another shop: not ours to show.
            return Ok(Effects::none().outcome(format!(
                "{} is for {}, not an order from `{}`",
                invoice.number, invoice.order_number, self.ctx.to
            )));
        };
        let doing = |what: &str| {
            format!(
                "{what} {} on order {order_id} in `{}`",
                invoice.number, self.ctx.to
            )
        };
        let attached = self
            .shop
            .invoices_of(&order_id)
            .await
            .map_err(|e| connector_failure(&doing("looking for"), e))?;
        if attached.contains(&invoice.number) {
            return Ok(Effects::none().outcome(format!(
                "{} is already on {}",
                invoice.number, invoice.order_number
            )));
        }
        let pdf = if self.options.attach_pdf && self.shop.accepts_pdf() {
            Some(self.erp.invoice_pdf(&invoice).await.map_err(|e| {
                connector_failure(
                    &format!(
                        "fetching the PDF of {} from `{}`",
                        invoice.number, self.ctx.from
                    ),
                    e,
                )
            })?)
        } else {
            None
        };
        self.shop
            .attach_invoice(&order_id, &invoice, pdf.as_deref())
            .await
            .map_err(|e| connector_failure(&doing("attaching"), e))?;
        Ok(Effects::none().outcome(format!(
            "{} attached to {}{}",
            invoice.number,
            invoice.order_number,
            pdf.map(|p| format!(" with its PDF ({} bytes)", p.len()))
                .unwrap_or_default()
        )))
    }
}

#[async_trait]
impl Flow for InvoicesFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::INVOICE {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollInvoices(self.clone()))),
            (
                self.ctx.step("attach"),
                Arc::new(AttachInvoiceStep(self.clone())),
            ),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for invoice in changes.items {
            let order =
                order_by_number(store, &self.ctx.tenant, &invoice.order_number, &self.ctx.to)
                    .await?;
            plan.changes.push(PlannedChange {
                entity: format!("invoice {}", invoice.number),
                action: if order.is_some() {
                    PlannedAction::Update
                } else {
                    PlannedAction::Unchanged
                },
                detail: match order {
                    Some((_, id)) => format!("would attach to order {id}"),
                    None => format!(
                        "{} is not an order from `{}`",
                        invoice.order_number, self.ctx.to
                    ),
                },
            });
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |_| None).await
    }
}
