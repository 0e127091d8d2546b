//! Orders, shop → ERP: each order placed in the shop becomes one sales document in the
//! ERP — exactly once, through crashes and retries — with its customer matched or
//! created, its lines resolved to ERP products, and its total reconciled with what the
//! customer paid.

mod customers;
mod import;
mod reconcile;

use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{
    CatalogueSource, CustomerSink, OrderSource, SalesDocumentKind, SalesSink, StockSource,
};
use kontor_engine::{JobError, JobHandler, NewJob, Store};
use kontor_model::Currency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Mappings;
use crate::flow::{Flow, FlowContext, Plan, SyncStart, step};

pub use reconcile::TotalsDiff;

/// When an order is ready to go to the ERP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportWhen {
    /// As soon as it is placed.
    #[default]
    Always,
    /// Once paid (or authorised), except for the `unpaid_methods`.
    Paid,
}

/// Options of an `orders` flow (under `options`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersOptions {
    /// What an order becomes in the ERP: `customer_order` or `draft_invoice`.
    pub document: SalesDocumentKind,
    /// The ERP customer (by its reference) that consumer orders are booked to, instead of
    /// matching or creating each buyer. Business orders are always matched or created.
    pub b2c_customer: Option<String>,
    pub import_when: ImportWhen,
    /// Payment methods imported before payment even when `import_when = "paid"`
    /// (e.g. `cash_on_delivery`).
    pub unpaid_methods: Vec<String>,
    /// Largest accepted difference between the ERP document's total and the order's.
    #[serde(with = "kontor_model::decimal::plain")]
    pub tolerance: Decimal,
    /// SKU of an ERP service product for a rounding line that closes a difference
    /// within `tolerance`, so the document totals exactly what the customer paid.
    pub adjustment_sku: Option<String>,
    /// Cancel the ERP document when the shop order is cancelled.
    pub cancel_in_erp: bool,
    /// ERP warehouses to sell from, in order of preference: a line ships from the first
    /// with enough stock; one that no single warehouse covers is split. Empty: the ERP
    /// decides.
    pub warehouses: Vec<String>,
    /// Currencies the ERP takes orders in; an order in another is parked. Empty: any.
    pub currencies: Vec<Currency>,
    /// Orders read per poll.
    pub page_size: usize,
}

impl Default for OrdersOptions {
    fn default() -> Self {
        OrdersOptions {
            document: SalesDocumentKind::CustomerOrder,
            b2c_customer: None,
            import_when: ImportWhen::Always,
            unpaid_methods: Vec::new(),
            tolerance: Decimal::ZERO,
            adjustment_sku: None,
            cancel_in_erp: true,
            warehouses: Vec::new(),
            currencies: Vec::new(),
            page_size: 100,
        }
    }
}

pub struct OrdersFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: OrdersOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) shop_orders: Arc<dyn OrderSource>,
    pub(crate) erp_sales: Arc<dyn SalesSink>,
    pub(crate) erp_customers: Arc<dyn CustomerSink>,
    pub(crate) erp_catalogue: Arc<dyn CatalogueSource>,
    /// Present when orders are split across warehouses.
    pub(crate) erp_stock: Option<Arc<dyn StockSource>>,
}

/// Payload of `orders.import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportOrder {
    pub flow: String,
    pub order_id: String,
}

step!(PollOrders, OrdersFlow, poll);
step!(ImportOrderStep, OrdersFlow, import);

impl OrdersFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_connector::OrderSummary>, JobError> {
        let source = self.shop_orders.clone();
        self.ctx
            .next_page(store, "changed orders", |cursor| async move {
                source.orders_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    /// The job that imports one order (what a webhook about that order enqueues, too).
    pub fn import_job(&self, order_id: &str) -> NewJob {
        self.ctx
            .item_job("import", order_id, json!({ "order_id": order_id }))
            .ordering_key(self.ctx.record_key(order_id))
    }

    /// One page of changed orders: an import job for each, and the cursor moved past them
    /// in the same transaction.
    pub(crate) async fn poll(
        &self,
        ctx: &kontor_engine::JobContext,
    ) -> Result<kontor_engine::Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        let mut effects = kontor_engine::Effects::none()
            .outcome(format!("{} changed orders", changes.items.len()));
        for order in &changes.items {
            effects = effects.enqueue(self.import_job(&order.id));
        }
        effects.cursors.extend(self.ctx.cursor_at(changes.cursor));
        if changes.more {
            effects = effects.enqueue(self.start_job());
        }
        Ok(effects)
    }
}

#[async_trait]
impl Flow for OrdersFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(1)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == crate::kinds::ORDER {
            vec![self.import_job(&change.external_id)]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollOrders(self.clone()))),
            (
                self.ctx.step("import"),
                Arc::new(ImportOrderStep(self.clone())),
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
            plan.changes.push(self.plan_one(store, &summary.id).await?);
        }
        Ok(plan)
    }

    async fn rewind(&self, store: &Store, start: SyncStart) -> Result<(), JobError> {
        crate::rewind_cursor(store, &self.ctx, start, |at| self.shop_orders.cursor_at(at)).await
    }
}
