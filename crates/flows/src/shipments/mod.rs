//! Shipments, ERP → shop: each shipment becomes a fulfilment on the shop order with its
//! carrier and tracking number. Partial shipments are fulfilled as they come; once every
//! line has gone, the order is marked complete.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kontor_connector::{FulfilmentSink, OrderSource, OrderStatusSink, ShipmentSource};
use kontor_engine::{
    Effects, EntityRecord, JobContext, JobError, JobHandler, MatchKey, NewJob, Store,
};
use kontor_model::{OrderStatus, Shipment, ShipmentLine};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ConfigProblem;
use crate::common::{order_by_number, page_into_jobs};
use crate::config::Mappings;
use crate::error::{bad_payload, connector_failure, store_failure};
use crate::flow::{Flow, FlowContext, Plan, PlannedAction, PlannedChange, SyncStart, step};
use crate::kinds;
use crate::notes::{NoteTemplate, note, unknown_names};

/// Options of a `shipments` flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShipmentsOptions {
    /// The status an order gets once everything is shipped.
    pub complete_status: OrderStatus,
    /// The status while only part of it is.
    pub partial_status: OrderStatus,
    pub page_size: usize,
    /// The note the customer gets with each shipment, where the shop shows customers
    /// notes (see [`crate::notes`]; values: [`NOTE_VALUES`]). Empty: none.
    pub customer_note: Vec<NoteTemplate>,
    /// The note kept with the order's status change, for the shop's staff.
    pub status_note: Vec<NoteTemplate>,
}

/// The values a shipment's notes can use.
pub const NOTE_VALUES: &[&str] = &["order", "reference", "carrier", "tracking", "tracking_url"];

fn templates(texts: &[&str]) -> Vec<NoteTemplate> {
    texts
        .iter()
        .filter_map(|t| NoteTemplate::new(t).ok())
        .collect()
}

impl Default for ShipmentsOptions {
    fn default() -> Self {
        ShipmentsOptions {
            complete_status: OrderStatus::Shipped,
            partial_status: OrderStatus::PartiallyShipped,
            page_size: 100,
            customer_note: templates(&[
                "Your order has been shipped[ with {carrier}]: tracking number {tracking}[ ({tracking_url})].",
                "Your order has been shipped ({reference}).",
            ]),
            status_note: templates(&["Shipped[ with {carrier}], tracking {tracking}"]),
        }
    }
}

impl ShipmentsOptions {
    /// Notes naming values a shipment does not have, keyed as `flows.<name>.options.…`.
    pub(crate) fn check(&self, name: &str) -> Result<(), ConfigProblem> {
        for (key, templates) in [
            ("customer_note", &self.customer_note),
            ("status_note", &self.status_note),
        ] {
            if let Some(problem) = unknown_names(templates, NOTE_VALUES).into_iter().next() {
                return Err(ConfigProblem::new(
                    format!("flows.{name}.options.{key}"),
                    problem,
                ));
            }
        }
        Ok(())
    }
}

/// A shipment's value for a note's `{name}`.
fn note_value(shipment: &Shipment, name: &str) -> Option<String> {
    match name {
        "order" => Some(shipment.order_number.clone()),
        "reference" => Some(shipment.reference.clone()),
        "carrier" => shipment.carrier.clone(),
        "tracking" => shipment.tracking_number.clone(),
        "tracking_url" => shipment.tracking_url.clone(),
        _ => None,
    }
}

pub struct ShipmentsFlow {
    pub(crate) ctx: FlowContext,
    pub(crate) options: ShipmentsOptions,
    pub(crate) mappings: Arc<Mappings>,
    pub(crate) erp: Arc<dyn ShipmentSource>,
    pub(crate) shop: Arc<dyn FulfilmentSink>,
    pub(crate) shop_orders: Arc<dyn OrderSource>,
    pub(crate) shop_status: Arc<dyn OrderStatusSink>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FulfilShipment {
    shipment: Shipment,
}

step!(PollShipments, ShipmentsFlow, poll);
step!(FulfilStep, ShipmentsFlow, fulfil);

impl ShipmentsFlow {
    /// The next page of changes from the source, after the cursor.
    async fn page(
        &self,
        store: &Store,
        limit: usize,
    ) -> Result<kontor_connector::Changes<kontor_model::Shipment>, JobError> {
        let source = self.erp.clone();
        self.ctx
            .next_page(store, "shipments", |cursor| async move {
                source.shipments_changed(cursor.as_deref(), limit).await
            })
            .await
    }

    pub(crate) async fn poll(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let changes = self.page(&ctx.store, self.options.page_size).await?;
        Ok(page_into_jobs(
            &self.ctx,
            changes,
            "shipments",
            |s| {
                self.ctx
                    .item_job("fulfil", &s.reference, json!({ "shipment": s }))
                    // One order's shipments one at a time: completion is counted in order.
                    .ordering_key(self.ctx.record_key(&s.order_number))
            },
            self.start_job(),
        ))
    }

    /// What has been shipped of an order so far, by shop SKU, counting `this` one too.
    async fn shipped(
        &self,
        store: &Store,
        order_number: &str,
        this: &Shipment,
    ) -> Result<BTreeMap<String, Decimal>, JobError> {
        let t = &self.ctx.tenant;
        let failed = |e| store_failure("reading earlier shipments", e);
        let mut shipments: BTreeMap<String, Shipment> = BTreeMap::new();
        for id in store
            .find_entities(t, kinds::SHIPMENT, &MatchKey::number(order_number))
            .await
            .map_err(failed)?
        {
            if let Some(entity) = store
                .get_entity(t, kinds::SHIPMENT, &id)
                .await
                .map_err(failed)?
                && let Ok(shipment) = serde_json::from_value::<Shipment>(entity.data)
            {
                shipments.insert(shipment.reference.clone(), shipment);
            }
        }
        shipments.insert(this.reference.clone(), this.clone());
        let mut shipped = BTreeMap::new();
        for line in shipments.values().flat_map(|s| &s.lines) {
            *shipped
                .entry(self.mappings.shop_sku(&line.sku).to_owned())
                .or_insert(Decimal::ZERO) += line.quantity;
        }
        Ok(shipped)
    }

    /// `shipments.fulfil`: one shipment onto its shop order, and the order's status.
    pub(crate) async fn fulfil(&self, ctx: &JobContext) -> Result<Effects, JobError> {
        let job: FulfilShipment =
            serde_json::from_value(ctx.job.payload.clone()).map_err(bad_payload)?;
        let shipment = job.shipment;
        let t = &self.ctx.tenant;
        let Some((_, order_id)) =
            order_by_number(&ctx.store, t, &shipment.order_number, &self.ctx.to).await?
        else {
            return Ok(Effects::none().outcome(format!(
                "{} is for {}, not an order from `{}`",
                shipment.reference, shipment.order_number, self.ctx.to
            )));
        };
        let doing = |what: &str| format!("{what} order {order_id} in `{}`", self.ctx.to);
        // The shop knows the order's SKUs, not the ERP's.
        let mut for_shop = shipment.clone();
        for_shop.lines = shipment
            .lines
            .iter()
            .map(|l| ShipmentLine {
                sku: self.mappings.shop_sku(&l.sku).to_owned(),
                quantity: l.quantity,
            })
            .collect();
        let existing = self
            .shop
            .fulfilments_of(&order_id)
            .await
            .map_err(|e| connector_failure(&doing("reading fulfilments of"), e))?;
        let fulfilment = match existing
            .into_iter()
            .find(|f| f.reference == shipment.reference)
        {
            Some(found) => found,
            None => self
                .shop
                .create_fulfilment(
                    &order_id,
                    &for_shop,
                    note(&self.options.customer_note, &|n| note_value(&shipment, n)).as_deref(),
                )
                .await
                .map_err(|e| connector_failure(&doing("fulfilling"), e))?,
        };

        let order = self
            .shop_orders
            .get_order(&order_id)
            .await
            .map_err(|e| connector_failure(&doing("reading"), e))?;
        let shipped = self
            .shipped(&ctx.store, &shipment.order_number, &shipment)
            .await?;
        let complete = order
            .lines
            .iter()
            .all(|l| shipped.get(&l.sku).is_some_and(|q| *q >= l.quantity));
        let status = if complete {
            self.options.complete_status
        } else {
            self.options.partial_status
        };
        let note = note(&self.options.status_note, &|n| note_value(&shipment, n));
        if order.status != status {
            self.shop_status
                .set_order_status(
                    &order_id,
                    status,
                    self.mappings.shop_status(status),
                    note.as_deref(),
                )
                .await
                .map_err(|e| connector_failure(&doing("setting the status of"), e))?;
        }
        let record = EntityRecord::new(t, kinds::SHIPMENT, &shipment.reference, json!(shipment))
            .key(MatchKey::number(&shipment.order_number));
        Ok(Effects::none().entity(record).outcome(format!(
            "{} fulfilled on {} as {} ({status:?})",
            shipment.reference, shipment.order_number, fulfilment.id
        )))
    }
}

#[async_trait]
impl Flow for ShipmentsFlow {
    fn context(&self) -> &FlowContext {
        &self.ctx
    }

    fn start_job(&self) -> NewJob {
        self.ctx.poll_job(0)
    }

    fn jobs_for(&self, change: &crate::Change) -> Vec<NewJob> {
        if change.connection == self.ctx.from && change.entity == kinds::SHIPMENT {
            vec![self.start_job()]
        } else {
            vec![]
        }
    }

    fn steps(self: Arc<Self>) -> Vec<(String, Arc<dyn JobHandler>)> {
        vec![
            (self.ctx.step("poll"), Arc::new(PollShipments(self.clone()))),
            (self.ctx.step("fulfil"), Arc::new(FulfilStep(self.clone()))),
        ]
    }

    async fn plan(&self, store: &Store, limit: usize) -> Result<Plan, JobError> {
        let changes = self.page(store, limit).await?;
        let mut plan = Plan {
            changes: Vec::new(),
            more: changes.more,
        };
        for shipment in changes.items {
            let order = order_by_number(
                store,
                &self.ctx.tenant,
                &shipment.order_number,
                &self.ctx.to,
            )
            .await?;
            plan.changes.push(PlannedChange {
                entity: format!("shipment {}", shipment.reference),
                action: if order.is_some() {
                    PlannedAction::Create
                } else {
                    PlannedAction::Unchanged
                },
                detail: match order {
                    Some((_, id)) => format!(
                        "would fulfil order {id} ({})",
                        shipment.tracking_number.as_deref().unwrap_or("no tracking")
                    ),
                    None => format!(
                        "{} is not an order from `{}`",
                        shipment.order_number, self.ctx.to
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(carrier: Option<&str>, tracking: Option<&str>) -> Shipment {
        Shipment {
            reference: "WZ/7".into(),
            order_number: "1001".into(),
            carrier: carrier.map(str::to_owned),
            tracking_number: tracking.map(str::to_owned),
            tracking_url: None,
            lines: vec![],
            warehouse: None,
            shipped_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn default_notes_say_what_is_known_and_nothing_of_what_is_not() {
        let options = ShipmentsOptions::default();
        let status = |s: &Shipment| note(&options.status_note, &|n| note_value(s, n));
        let customer = |s: &Shipment| note(&options.customer_note, &|n| note_value(s, n));
        let tracked = shipment(Some("DPD"), Some("777"));
        assert_eq!(
            status(&tracked).as_deref(),
            Some("Shipped with DPD, tracking 777")
        );
        assert_eq!(
            customer(&tracked).as_deref(),
            Some("Your order has been shipped with DPD: tracking number 777.")
        );
        let untracked = shipment(Some("DPD"), None);
        assert_eq!(status(&untracked), None, "no tracking, no status note");
        assert_eq!(
            customer(&untracked).as_deref(),
            Some("Your order has been shipped (WZ/7).")
        );
    }

    #[test]
    fn a_note_naming_a_value_shipments_lack_is_refused_with_its_key() {
        let options: ShipmentsOptions =
            serde_json::from_value(json!({"customer_note": ["Sent {trackin}"]})).expect("reads");
        let problem = options.check("ship").expect_err("refused");
        assert_eq!(problem.key, "flows.ship.options.customer_note");
        assert!(problem.message.contains("{trackin}"), "{}", problem.message);
        let none: ShipmentsOptions =
            serde_json::from_value(json!({"customer_note": []})).expect("reads");
        assert!(none.check("ship").is_ok());
        assert_eq!(
            note(&none.customer_note, &|_| Some("x".into())),
            None,
            "no note at all"
        );
    }
}
