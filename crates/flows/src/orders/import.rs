//! Importing one order: decide what to do (reading only), then do it.

use std::collections::BTreeMap;

use kontor_connector::{ConnectorError, DraftLine, SalesDocument, SalesDraft, VariantRef};
use kontor_engine::{
    Effects, EntityRecord, JobContext, JobError, Link, MatchKey, Store, content_hash,
};
use kontor_model::{Money, Order, OrderStatus, PaymentState, TaxRate, Validate, tax_breakdown};
use rust_decimal::Decimal;
use serde_json::json;

use super::customers::CustomerPlan;
use super::reconcile::{reconcile, reconcile_draft};
use super::{ImportOrder, ImportWhen, OrdersFlow};
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{PlannedAction, PlannedChange};
use crate::kinds;

/// What importing an order comes to.
pub(crate) enum Decision {
    /// Linked to an ERP document already; nothing to do.
    AlreadyImported { erp_id: String },
    /// Imported, and now cancelled in the shop: cancel the ERP document.
    Cancel { erp_id: String },
    /// Not to be imported (yet).
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
    /// The ERP document that stands for shop order `number`, if one was made. Where a
    /// sale was cancelled and entered again by hand, the live one counts: the order is
    /// in the ERP, and must not be created a third time.
    async fn document_of(&self, number: &str) -> Result<Option<SalesDocument>, ConnectorError> {
        let documents = self.erp_sales.find_sales(number).await?;
        let live = documents
            .iter()
            .position(|d| d.status != OrderStatus::Cancelled);
        Ok(match live {
            Some(index) => documents.into_iter().nth(index),
            None => documents.into_iter().next(),
        })
    }

    /// The order as the shop has it, its status translated by the status map.
    async fn read_order(&self, order_id: &str) -> Result<Order, JobError> {
        let mut order = self.shop_orders.get_order(order_id).await.map_err(|e| {
            connector_failure(
                &format!("reading order {order_id} from `{}`", self.ctx.from),
                e,
            )
        })?;
        if let Some(status) = order
            .source_status
            .as_deref()
            .and_then(|s| self.mappings.status_of(s))
        {
            order.status = status;
        }
        Ok(order)
    }

    /// Decides what importing `order_id` means now. Reads from both systems and the
    /// store; writes nothing.
    pub(crate) async fn prepare(
        &self,
        store: &Store,
        order_id: &str,
    ) -> Result<Prepared, JobError> {
        let order = self.read_order(order_id).await?;
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("looking up order links", e);
        let links = store
            .links_alongside(t, kinds::ORDER, &self.ctx.from, &order.id)
            .await
            .map_err(failed)?;
        let entity = links
            .first()
            .map_or_else(crate::new_entity_id, |l| l.entity_id.clone());
        let imported = links.into_iter().find(|l| l.system == self.ctx.to);
        let cancelled = order.status == OrderStatus::Cancelled;
        if let Some(link) = imported {
            let decision = if cancelled && self.options.cancel_in_erp {
                Decision::Cancel {
                    erp_id: link.external_id,
                }
            } else {
                Decision::AlreadyImported {
                    erp_id: link.external_id,
                }
            };
            return Ok(Prepared {
                order,
                entity,
                decision,
            });
        }
        if cancelled {
            let reason = format!(
                "{} was cancelled in the shop before it reached the ERP; not imported",
                order.number
            );
            return Ok(Prepared {
                order,
                entity,
                decision: Decision::Wait { reason },
            });
        }
        if let Err(errors) = order.validate() {
            return Err(JobError::permanent(
                "invalid_order",
                format!("order {} cannot be imported: {errors}", order.number),
            )
            .with_details(json!({ "problems": errors.0 })));
        }
        if !self.options.currencies.is_empty() && !self.options.currencies.contains(&order.currency)
        {
            let accepted: Vec<String> = self
                .options
                .currencies
                .iter()
                .map(ToString::to_string)
                .collect();
            return Err(JobError::needs_human(
                "currency_mismatch",
                format!(
                    "order {} is in {}, but `{}` takes orders in {} (flows.{}.options.currencies)",
                    order.number,
                    order.currency,
                    self.ctx.to,
                    accepted.join(", "),
                    self.ctx.name
                ),
            ));
        }
        if let Some(reason) = self.not_ready(&order) {
            return Ok(Prepared {
                order,
                entity,
                decision: Decision::Wait { reason },
            });
        }
        // Exactly once: before creating anything, look for what an earlier attempt made.
        let existing = self.document_of(&order.number).await.map_err(|e| {
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

    /// The ERP's products for these SKUs; unknown ones are named in a job error.
    async fn products(
        &self,
        order: &Order,
        wanted: Vec<(String, String)>,
    ) -> Result<Vec<VariantRef>, JobError> {
        let mut skus: Vec<String> = wanted.iter().map(|(sku, _)| sku.clone()).collect();
        skus.sort();
        skus.dedup();
        let found = self.erp_catalogue.find_variants(&skus).await.map_err(|e| {
            connector_failure(
                &format!("looking up the order's products in `{}`", self.ctx.to),
                e,
            )
        })?;
        let unknown: Vec<&(String, String)> = wanted
            .iter()
            .filter(|(sku, _)| !found.iter().any(|v| &v.sku == sku))
            .collect();
        let missing: Vec<String> = unknown
            .iter()
            .map(|(sku, what)| format!("`{sku}` ({what})"))
            .collect();
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
            // `skus`: what a mapping would map from (the console offers to).
            .with_details(json!({
                "missing": missing,
                "skus": unknown.iter().map(|(sku, _)| sku).collect::<Vec<_>>(),
            })));
        }
        Ok(found)
    }

    /// The sales document for `order`, with SKUs resolved to ERP products, lines split
    /// across warehouses if configured, and a rounding line if one is needed and allowed.
    /// The customer is filled in when it is known.
    async fn draft(&self, order: &Order) -> Result<SalesDraft, JobError> {
        let shipping_sku = order
            .shipping
            .as_ref()
            .and_then(|s| self.mappings.shipping_methods.get(&s.method).cloned());
        let mut wanted: Vec<(String, String)> = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    self.mappings.erp_sku(&l.sku).to_owned(),
                    format!("line {}, {}", i + 1, l.name),
                )
            })
            .collect();
        if let (Some(sku), Some(shipping)) = (&shipping_sku, &order.shipping) {
            wanted.push((
                sku.clone(),
                format!(
                    "the service product for shipping method {}",
                    shipping.method
                ),
            ));
        }
        if let Some(sku) = &self.options.adjustment_sku {
            wanted.push((
                sku.clone(),
                format!(
                    "the rounding product of flows.{}.options.adjustment_sku",
                    self.ctx.name
                ),
            ));
        }
        let found = self.products(order, wanted).await?;
        let product_of = |sku: &str| {
            found
                .iter()
                .find(|v| v.sku == sku)
                .map(|v| v.product_id.clone())
        };
        let line = |product_id,
                    sku: String,
                    description: String,
                    quantity,
                    unit_price,
                    discount,
                    tax_rate| DraftLine {
            product_id,
            sku,
            description,
            quantity,
            unit_price,
            discount,
            tax_rate,
            tax_code: self.mappings.tax_code(tax_rate),
            warehouse: None,
        };
        let zero = Money::zero(order.currency);
        let mut lines = Vec::new();
        for l in &order.lines {
            let sku = self.mappings.erp_sku(&l.sku).to_owned();
            lines.push(line(
                product_of(&sku),
                sku,
                l.name.clone(),
                l.quantity,
                l.unit_price,
                l.discount,
                l.tax_rate,
            ));
        }
        if let Some(stock) = &self.erp_stock {
            lines = self.split_across_warehouses(stock.as_ref(), lines).await?;
        }
        if let Some(shipping) = &order.shipping {
            let sku = shipping_sku
                .clone()
                .unwrap_or_else(|| format!("shipping:{}", shipping.method));
            lines.push(line(
                product_of(&sku),
                sku,
                format!("Shipping: {}", shipping.method),
                Decimal::ONE,
                shipping.amount,
                zero,
                shipping.tax_rate,
            ));
        }
        for discount in &order.discounts {
            let amount = zero
                .checked_sub(&discount.amount)
                .map_err(|e| JobError::permanent("invalid_order", e.to_string()))?;
            let sku = format!("discount:{}", discount.code.as_deref().unwrap_or("order"));
            lines.push(line(
                None,
                sku,
                discount.description.clone(),
                Decimal::ONE,
                amount,
                zero,
                discount.tax_rate,
            ));
        }
        let mut draft = SalesDraft {
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
        };
        // What the ERP will make of these lines, before anything is created there.
        let predicted =
            draft_total(&draft).map_err(|e| JobError::permanent("invalid_order", e.to_string()))?;
        let difference = order.totals.total.amount - predicted.amount;
        if !difference.is_zero()
            && difference.abs() <= self.options.tolerance
            && let Some(sku) = &self.options.adjustment_sku
        {
            draft.lines.push(line(
                product_of(sku),
                sku.clone(),
                "Rounding".to_owned(),
                Decimal::ONE,
                Money::new(difference, order.currency),
                zero,
                TaxRate::ZERO,
            ));
        }
        reconcile_draft(order, &draft, predicted, self.options.tolerance)?;
        Ok(draft)
    }

    /// Assigns each goods line to the first preferred warehouse that has enough
    /// available stock; a line none covers alone is split across them in order, and
    /// what none has is left on the first (a back order).
    async fn split_across_warehouses(
        &self,
        stock: &dyn kontor_connector::StockSource,
        lines: Vec<DraftLine>,
    ) -> Result<Vec<DraftLine>, JobError> {
        let skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
        let levels = stock
            .stock_of(&skus)
            .await
            .map_err(|e| connector_failure(&format!("reading stock from `{}`", self.ctx.to), e))?;
        let mut available: BTreeMap<(String, String), Decimal> = levels
            .iter()
            .map(|l| {
                (
                    (l.sku.clone(), l.warehouse.clone()),
                    (l.on_hand - l.reserved).max(Decimal::ZERO),
                )
            })
            .collect();
        let preferred = &self.options.warehouses;
        let mut split = Vec::new();
        for line in lines {
            let has = |available: &BTreeMap<(String, String), Decimal>, w: &String| {
                available
                    .get(&(line.sku.clone(), w.clone()))
                    .copied()
                    .unwrap_or_default()
            };
            if let Some(warehouse) = preferred
                .iter()
                .find(|w| has(&available, w) >= line.quantity)
            {
                *available
                    .entry((line.sku.clone(), warehouse.clone()))
                    .or_default() -= line.quantity;
                split.push(DraftLine {
                    warehouse: Some(warehouse.clone()),
                    ..line
                });
                continue;
            }
            let mut parts: Vec<(String, Decimal)> = Vec::new();
            let mut left = line.quantity;
            for warehouse in preferred {
                let take = has(&available, warehouse).min(left);
                if take > Decimal::ZERO {
                    *available
                        .entry((line.sku.clone(), warehouse.clone()))
                        .or_default() -= take;
                    parts.push((warehouse.clone(), take));
                    left -= take;
                }
            }
            if left > Decimal::ZERO {
                match parts.iter_mut().find(|(w, _)| Some(w) == preferred.first()) {
                    Some(first) => first.1 += left,
                    None => parts.insert(0, (preferred[0].clone(), left)),
                }
            }
            // The line's discount is shared by quantity; the last part takes the rest.
            let mut discount_left = line.discount;
            let count = parts.len();
            for (i, (warehouse, quantity)) in parts.into_iter().enumerate() {
                let discount = if i + 1 == count {
                    discount_left
                } else {
                    let share = line
                        .discount
                        .checked_mul(quantity)
                        .and_then(|d| d.checked_div(line.quantity))
                        .map(|d| d.rounded())
                        .map_err(|e| JobError::permanent("invalid_order", e.to_string()))?;
                    discount_left = discount_left
                        .checked_sub(&share)
                        .map_err(|e| JobError::permanent("invalid_order", e.to_string()))?;
                    share
                };
                split.push(DraftLine {
                    warehouse: Some(warehouse),
                    quantity,
                    discount,
                    ..line.clone()
                });
            }
        }
        Ok(split)
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
            Decision::AlreadyImported { erp_id } => Ok(self
                .refresh(&ctx.store, &order, &entity)
                .await?
                .outcome(format!(
                    "{} is already in `{}` as {erp_id}",
                    order.number, self.ctx.to
                ))),
            Decision::Cancel { erp_id } => {
                let current = self.document_of(&order.number).await.map_err(|e| {
                    connector_failure(
                        &format!("looking up {} in `{}`", order.number, self.ctx.to),
                        e,
                    )
                })?;
                if current.is_some_and(|d| d.status == OrderStatus::Cancelled) {
                    return Ok(self
                        .refresh(&ctx.store, &order, &entity)
                        .await?
                        .outcome(format!(
                            "{} is already cancelled in `{}`",
                            order.number, self.ctx.to
                        )));
                }
                let reason = format!(
                    "order {} was cancelled in `{}`",
                    order.number, self.ctx.from
                );
                let document = self
                    .erp_sales
                    .cancel_sale(&erp_id, &reason)
                    .await
                    .map_err(|e| {
                        connector_failure(
                            &format!(
                                "cancelling {} ({erp_id}) in `{}`",
                                order.number, self.ctx.to
                            ),
                            e,
                        )
                    })?;
                Ok(self
                    .refresh(&ctx.store, &order, &entity)
                    .await?
                    .outcome(format!(
                        "{} cancelled: {} in `{}`",
                        order.number, document.number, self.ctx.to
                    )))
            }
            Decision::Wait { reason } => Ok(Effects::none().outcome(reason)),
            Decision::Found { document } => {
                reconcile(&order, &document, self.options.tolerance)?;
                let document = self.confirm(&order, &document).await?;
                Ok(self.bind(&order, &entity, &document).outcome(format!(
                    "{} was already in `{}` as {}; linked",
                    order.number, self.ctx.to, document.number
                )))
            }
            Decision::Create {
                mut draft,
                customer,
            } => {
                let customer = self.resolve_customer(ctx, &order, *customer).await?;
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
                let document = self.confirm(&order, &document).await?;
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

    /// Confirms a reconciled document (see [`kontor_connector::SalesSink::confirm_sale`]).
    async fn confirm(
        &self,
        order: &Order,
        document: &SalesDocument,
    ) -> Result<SalesDocument, JobError> {
        self.erp_sales.confirm_sale(document).await.map_err(|e| {
            connector_failure(
                &format!(
                    "confirming {} for {} in `{}`",
                    document.number, order.number, self.ctx.to
                ),
                e,
            )
        })
    }

    /// Keeps Kontor's snapshot of an imported order current (its status, its lines), for
    /// reports and the API; what the ERP made of it stays as recorded.
    async fn refresh(
        &self,
        store: &Store,
        order: &Order,
        entity: &str,
    ) -> Result<Effects, JobError> {
        let t = &self.ctx.tenant;
        let previous = store
            .get_entity(t, kinds::ORDER, entity)
            .await
            .map_err(|e| store_failure("reading the order's snapshot", e))?;
        let erp = previous.map(|p| p.data["erp"].clone()).unwrap_or_default();
        let mut record = EntityRecord::new(
            t,
            kinds::ORDER,
            entity,
            json!({ "order": order, "channel": self.ctx.from, "erp": erp }),
        )
        .key(MatchKey::number(&order.number));
        if let Some(email) = &order.customer.email {
            record = record.key(MatchKey::email(email.as_str()));
        }
        Ok(Effects::none().entity(record))
    }

    /// Links the order in both systems to one Kontor entity, with its snapshot.
    fn bind(&self, order: &Order, entity: &str, document: &SalesDocument) -> Effects {
        let t = &self.ctx.tenant;
        let mut record = EntityRecord::new(
            t,
            kinds::ORDER,
            entity,
            json!({
                "order": order,
                "channel": self.ctx.from,
                "erp": { "id": document.id, "number": document.number, "total": document.total },
            }),
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
                    Decision::Cancel { erp_id } => change(
                        entity,
                        PlannedAction::Update,
                        format!("would cancel {erp_id} in `{}`", self.ctx.to),
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
                            } => format!("customer {} (by {matched_by})", erp.id),
                            CustomerPlan::Create { customer } => {
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

/// The total an ERP computes from a draft's lines: per tax rate, rounded per document.
pub(crate) fn draft_total(draft: &SalesDraft) -> Result<Money, kontor_model::MoneyError> {
    let currency = draft.order.currency;
    let mut amounts = Vec::with_capacity(draft.lines.len());
    for line in &draft.lines {
        amounts.push((
            line.tax_rate,
            line.unit_price
                .checked_mul(line.quantity)?
                .checked_sub(&line.discount)?,
        ));
    }
    let breakdown = tax_breakdown(currency, draft.prices_include_tax, amounts)?;
    Money::sum(currency, breakdown.iter().map(|b| &b.gross))
}
