//! Importing one order: decide what to do (reading only), then do it.

use kontor_connector::{DraftLine, SalesDocument, SalesDraft};
use kontor_engine::{
    Effects, EntityRecord, JobContext, JobError, Link, MatchKey, Store, content_hash,
};
use kontor_model::{Money, Order, PaymentState, Validate};
use rust_decimal::Decimal;
use serde_json::json;

use super::customers::CustomerPlan;
use super::reconcile::reconcile;
use super::{ImportOrder, ImportWhen, OrdersFlow};
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{PlannedAction, PlannedChange};
use crate::kinds;

/// What importing an order comes to.
pub(crate) enum Decision {
    /// Linked to an ERP document already.
    AlreadyImported { erp_id: String },
    /// Not to be imported yet.
    Wait { reason: String },
    /// An earlier attempt created the document but did not live to record it.
    Found { document: Box<SalesDocument> },
    Create {
        draft: Box<SalesDraft>,
        customer: Box<CustomerPlan>,
    },
}

pub(crate) struct Prepared {
    pub order: Order,
    pub entity: String,
    pub decision: Decision,
}

impl OrdersFlow {
    async fn read_order(&self, order_id: &str) -> Result<Order, JobError> {
        self.shop_orders.get_order(order_id).await.map_err(|e| {
            connector_failure(
                &format!("reading order {order_id} from `{}`", self.ctx.from),
                e,
            )
        })
    }

    /// Decides what importing `order_id` means now. Reads from both systems and the
    /// store; writes nothing.
    pub(crate) async fn prepare(
        &self,
        store: &Store,
        order_id: &str,
    ) -> Result<Prepared, JobError> {
        let order = self.read_order(order_id).await?;
        if let Err(errors) = order.validate() {
            return Err(JobError::permanent(
                "invalid_order",
                format!("order {} cannot be imported: {errors}", order.number),
            )
            .with_details(json!({ "problems": errors.0 })));
        }
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up order links", e);
        let entity = match store
            .link_by_external(t, kinds::ORDER, &self.ctx.from, &order.id)
            .await
            .map_err(failed)?
        {
            Some(link) => link.entity_id,
            None => crate::new_entity_id(),
        };
        if let Some(link) = store
            .link_by_entity(t, kinds::ORDER, &self.ctx.to, &entity)
            .await
            .map_err(failed)?
        {
            return Ok(Prepared {
                order,
                entity,
                decision: Decision::AlreadyImported {
                    erp_id: link.external_id,
                },
            });
        }
        if let Some(reason) = self.not_ready(&order) {
            return Ok(Prepared {
                order,
                entity,
                decision: Decision::Wait { reason },
            });
        }
        // Exactly once: before creating anything, look for what an earlier attempt made.
        let existing = self.erp_sales.find_sale(&order.number).await.map_err(|e| {
            connector_failure(
                &format!("looking up {} in `{}`", order.number, self.ctx.to),
                e,
            )
        })?;
        if let Some(document) = existing {
            return Ok(Prepared {
                order,
                entity,
                decision: Decision::Found {
                    document: Box::new(document),
                },
            });
        }
        let draft = self.draft(&order).await?;
        let customer = self.find_customer(store, &order).await?;
        Ok(Prepared {
            order,
            entity,
            decision: Decision::Create {
                draft: Box::new(draft),
                customer: Box::new(customer),
            },
        })
    }

    fn not_ready(&self, order: &Order) -> Option<String> {
        let paid = order.payment_state.is_paid() || order.payment_state == PaymentState::Authorized;
        let exempt = order
            .payment_method
            .as_ref()
            .is_some_and(|m| self.options.unpaid_methods.contains(m));
        (self.options.import_when == ImportWhen::Paid && !paid && !exempt).then(|| {
            format!(
                "order {} waits for payment ({:?})",
                order.number, order.payment_state
            )
        })
    }

    /// The sales document for `order`, with SKUs resolved to ERP products. The customer
    /// is filled in when it is known.
    async fn draft(&self, order: &Order) -> Result<SalesDraft, JobError> {
        let mut wanted: Vec<String> = order
            .lines
            .iter()
            .map(|l| self.mappings.erp_sku(&l.sku).to_owned())
            .collect();
        let shipping_sku = order
            .shipping
            .as_ref()
            .and_then(|s| self.mappings.shipping_methods.get(&s.method).cloned());
        wanted.extend(shipping_sku.clone());
        wanted.sort();
        wanted.dedup();
        let found = self
            .erp_catalogue
            .find_variants(&wanted)
            .await
            .map_err(|e| {
                connector_failure(
                    &format!("looking up the order's products in `{}`", self.ctx.to),
                    e,
                )
            })?;
        let product_of = |sku: &str| {
            found
                .iter()
                .find(|v| v.sku == sku)
                .map(|v| v.product_id.clone())
        };

        let mut missing = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in order.lines.iter().enumerate() {
            let sku = self.mappings.erp_sku(&line.sku);
            let product_id = product_of(sku);
            if product_id.is_none() {
                missing.push(format!("`{sku}` (line {}, {})", i + 1, line.name));
            }
            lines.push(DraftLine {
                product_id,
                sku: sku.to_owned(),
                description: line.name.clone(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                discount: line.discount,
                tax_rate: line.tax_rate,
                tax_code: self.mappings.tax_code(line.tax_rate),
                warehouse: None,
            });
        }
        if let Some(shipping) = &order.shipping {
            let product_id = shipping_sku.as_deref().and_then(product_of);
            if let (Some(sku), None) = (&shipping_sku, &product_id) {
                missing.push(format!(
                    "`{sku}` (the service product for shipping method {})",
                    shipping.method
                ));
            }
            lines.push(DraftLine {
                product_id,
                sku: shipping_sku.unwrap_or_else(|| format!("shipping:{}", shipping.method)),
                description: format!("Shipping: {}", shipping.method),
                quantity: Decimal::ONE,
                unit_price: shipping.amount,
                discount: Money::zero(order.currency),
                tax_rate: shipping.tax_rate,
                tax_code: self.mappings.tax_code(shipping.tax_rate),
                warehouse: None,
            });
        }
        if !missing.is_empty() {
            return Err(JobError::needs_human(
                "unknown_sku",
                format!(
                    "order {}: SKU {} not found in `{}`; create it there or map it under [tenants.{}.mappings.sku], then retry",
                    order.number,
                    missing.join(", "),
                    self.ctx.to,
                    self.ctx.tenant
                ),
            )
            .with_details(json!({ "missing": missing })));
        }
        for discount in &order.discounts {
            lines.push(DraftLine {
                product_id: None,
                sku: format!("discount:{}", discount.code.as_deref().unwrap_or("order")),
                description: discount.description.clone(),
                quantity: Decimal::ONE,
                unit_price: Money::zero(order.currency)
                    .checked_sub(&discount.amount)
                    .map_err(|e| JobError::permanent("invalid_order", e.to_string()))?,
                discount: Money::zero(order.currency),
                tax_rate: discount.tax_rate,
                tax_code: self.mappings.tax_code(discount.tax_rate),
                warehouse: None,
            });
        }
        Ok(SalesDraft {
            reference: order.number.clone(),
            kind: self.options.document,
            customer_id: String::new(),
            order: order.clone(),
            lines,
            prices_include_tax: order.prices_include_tax,
            warehouse: None,
            payment_method: order.payment_method.as_ref().map(|m| {
                self.mappings
                    .payment_methods
                    .get(m)
                    .cloned()
                    .unwrap_or_else(|| m.clone())
            }),
        })
    }

    /// `orders.import`: one order into the ERP.
    pub(crate) async fn import(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: ImportOrder =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let Prepared {
            order,
            entity,
            decision,
        } = self.prepare(&ctx.store, &job.order_id).await?;
        match decision {
            Decision::AlreadyImported { erp_id } => Ok(Effects::none().outcome(format!(
                "{} is already in `{}` as {erp_id}",
                order.number, self.ctx.to
            ))),
            Decision::Wait { reason } => Ok(Effects::none().outcome(reason)),
            Decision::Found { document } => {
                reconcile(&order, &document, self.options.tolerance)?;
                Ok(self.bind(&order, &entity, &document).outcome(format!(
                    "{} was already in `{}` as {}; linked",
                    order.number, self.ctx.to, document.number
                )))
            }
            Decision::Create { mut draft, .. } => {
                let customer = self.resolve_customer(ctx, &order).await?;
                draft.customer_id = customer.erp_id.clone();
                let document = self.erp_sales.create_sale(&draft).await.map_err(|e| {
                    connector_failure(
                        &format!(
                            "creating the sales document for {} in `{}`",
                            order.number, self.ctx.to
                        ),
                        e,
                    )
                })?;
                reconcile(&order, &document, self.options.tolerance)?;
                let mut effects = self.bind(&order, &entity, &document).outcome(format!(
                    "{} → {} in `{}`, {} for {}",
                    order.number, document.number, self.ctx.to, document.total, customer.note
                ));
                effects.links.extend(customer.links);
                effects.entities.extend(customer.entity);
                Ok(effects)
            }
        }
    }

    /// Links the order in both systems to one Kontor entity, with its snapshot.
    fn bind(&self, order: &Order, entity: &str, document: &SalesDocument) -> Effects {
        let t = &self.ctx.tenant;
        let mut record = EntityRecord::new(
            t,
            kinds::ORDER,
            entity,
            json!({ "order": order, "erp": { "id": document.id, "number": document.number, "total": document.total } }),
        )
        .key(MatchKey::number(&order.number));
        if let Some(email) = &order.customer.email {
            record = record.key(MatchKey::email(email.as_str()));
        }
        Effects::none()
            .link(Link::new(
                t,
                kinds::ORDER,
                &self.ctx.from,
                &order.id,
                entity,
            ))
            .link(
                Link::new(t, kinds::ORDER, &self.ctx.to, &document.id, entity)
                    .with_hash(content_hash(document)),
            )
            .entity(record)
    }

    /// What importing one order would do (for a dry run).
    pub(crate) async fn plan_one(
        &self,
        store: &Store,
        order_id: &str,
    ) -> Result<PlannedChange, JobError> {
        let change = |entity: String, action, detail: String| PlannedChange {
            entity,
            action,
            detail,
        };
        match self.prepare(store, order_id).await {
            Ok(Prepared {
                order, decision, ..
            }) => {
                let entity = format!("order {}", order.number);
                Ok(match decision {
                    Decision::AlreadyImported { erp_id } => change(
                        entity,
                        PlannedAction::Unchanged,
                        format!("already in `{}` as {erp_id}", self.ctx.to),
                    ),
                    Decision::Wait { reason } => change(entity, PlannedAction::Wait, reason),
                    Decision::Found { document } => change(
                        entity,
                        PlannedAction::Update,
                        format!(
                            "found as {} in `{}`; would link it",
                            document.number, self.ctx.to
                        ),
                    ),
                    Decision::Create { draft, customer } => {
                        let who = match customer.as_ref() {
                            CustomerPlan::WebSales { erp_id } => {
                                format!("consumer account {erp_id}")
                            }
                            CustomerPlan::Existing {
                                erp, matched_by, ..
                            } => {
                                format!("customer {} (by {matched_by})", erp.id)
                            }
                            CustomerPlan::Create { customer, .. } => {
                                format!("a new customer {}", customer.name)
                            }
                        };
                        change(
                            entity,
                            PlannedAction::Create,
                            format!(
                                "{} lines, {} for {who}",
                                draft.lines.len(),
                                order.totals.total
                            ),
                        )
                    }
                })
            }
            Err(e) if e.class == kontor_engine::ErrorClass::Transient => Err(e),
            Err(e) => Ok(change(
                format!("order {order_id}"),
                PlannedAction::Park,
                format!("{}: {}", e.code, e.message),
            )),
        }
    }
}
