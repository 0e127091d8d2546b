//! Shipments and order status. WooCommerce core has no shipments: each ERP shipment is
//! recorded on the order — in `_kontor_shipments` (what Kontor needs to find it again
//! and count what has shipped) and in `_wc_shipment_tracking_items`, the format of the
//! Shipment Tracking extension that themes and e-mails show — followed by a note to the
//! customer with the tracking number. Whether the order is then complete is the
//! shipments flow's to say (`set_order_status`). The note is a second write: it is
//! looked for among the order's notes before it is added, so a retry after a crash (or
//! after a call that may have landed) neither loses it nor sends a second e-mail.

use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, FulfilmentRef, FulfilmentSink, OrderStatusSink};
use kontor_model::{OrderStatus, Shipment};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sha2::Digest;

use crate::woocommerce::{WooCommerceSystem, types};

const SHIPMENTS_META: &str = "_kontor_shipments";
const TRACKING_META: &str = "_wc_shipment_tracking_items";

fn meta_list(order: &Value, key: &str) -> Vec<Value> {
    order["meta_data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["key"] == key)
        .and_then(|m| m["value"].as_array().cloned())
        .unwrap_or_default()
}

fn shipped_so_far(shipments: &[Value]) -> HashMap<String, Decimal> {
    let mut shipped = HashMap::new();
    for line in shipments
        .iter()
        .flat_map(|s| s["lines"].as_array().cloned().unwrap_or_default())
    {
        let (Some(sku), Some(quantity)) = (
            line["sku"].as_str(),
            line["quantity"]
                .as_str()
                .and_then(|q| q.parse::<Decimal>().ok()),
        ) else {
            continue;
        };
        *shipped.entry(sku.to_owned()).or_default() += quantity;
    }
    shipped
}

/// What the order has of each SKU.
fn ordered(order: &Value) -> Result<HashMap<String, Decimal>, ConnectorError> {
    let lines: Vec<types::LineItem> = crate::typed::read("order line_items", &order["line_items"])?;
    let mut ordered = HashMap::new();
    for line in lines {
        if let Some(sku) = line.sku.filter(|s| !s.trim().is_empty()) {
            *ordered.entry(sku).or_default() += Decimal::from(line.quantity);
        }
    }
    Ok(ordered)
}

fn refs(shipments: &[Value]) -> Vec<FulfilmentRef> {
    shipments
        .iter()
        .filter_map(|s| {
            Some(FulfilmentRef {
                id: s["id"].as_str()?.to_owned(),
                reference: s["reference"].as_str()?.to_owned(),
            })
        })
        .collect()
}

fn tracking_id(reference: &str) -> String {
    hex::encode(&sha2::Sha256::digest(reference.as_bytes())[..8])
}

impl WooCommerceSystem {
    async fn order_json(&self, order_id: &str) -> Result<Value, ConnectorError> {
        self.client().get(&format!("/orders/{order_id}"), &[]).await
    }

    /// Adds `note` to the order unless it already has it (a retry of a write that
    /// landed): WooCommerce e-mails customer notes, so one must never be sent twice.
    async fn ensure_note(
        &self,
        order_id: &str,
        note: &str,
        customer_note: bool,
    ) -> Result<(), ConnectorError> {
        let path = format!("/orders/{order_id}/notes");
        let notes: Value = self.client().get(&path, &[]).await?;
        let present = notes
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["note"].as_str() == Some(note));
        if !present {
            self.client()
                .post(
                    &path,
                    &json!({"note": note, "customer_note": customer_note}),
                )
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl FulfilmentSink for WooCommerceSystem {
    async fn fulfilments_of(&self, order_id: &str) -> Result<Vec<FulfilmentRef>, ConnectorError> {
        let order = self.order_json(order_id).await?;
        Ok(refs(&meta_list(&order, SHIPMENTS_META)))
    }

    async fn create_fulfilment(
        &self,
        order_id: &str,
        shipment: &Shipment,
        customer_note: Option<&str>,
    ) -> Result<FulfilmentRef, ConnectorError> {
        let order = self.order_json(order_id).await?;
        let mut shipments = meta_list(&order, SHIPMENTS_META);
        if let Some(known) = refs(&shipments)
            .into_iter()
            .find(|r| r.reference == shipment.reference)
        {
            // Recorded by an earlier attempt, which may have stopped before its note.
            if let Some(note) = customer_note {
                self.ensure_note(order_id, note, true).await?;
            }
            return Ok(known);
        }
        let ordered = ordered(&order)?;
        let mut shipped = shipped_so_far(&shipments);
        for line in &shipment.lines {
            let total = shipped.entry(line.sku.clone()).or_default();
            *total += line.quantity;
            let limit = ordered.get(&line.sku).copied().unwrap_or_default();
            if *total > limit {
                return Err(ConnectorError::Rejected {
                    code: Some("more_than_ordered".into()),
                    message: format!(
                        "shipment {} would bring {} shipped to {} of {limit} ordered in WooCommerce order {order_id}",
                        shipment.reference, line.sku, *total
                    ),
                    field: Some("lines".into()),
                });
            }
        }
        let id = tracking_id(&shipment.reference);
        shipments.push(json!({
            "id": id,
            "reference": shipment.reference,
            "lines": shipment.lines.iter().map(|l| json!({"sku": l.sku, "quantity": l.quantity.normalize().to_string()})).collect::<Vec<_>>(),
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "shipped_at": shipment.shipped_at.to_rfc3339(),
        }));
        let mut tracking = meta_list(&order, TRACKING_META);
        if let Some(number) = &shipment.tracking_number {
            tracking.push(json!({
                "tracking_provider": "",
                "custom_tracking_provider": shipment.carrier.clone().unwrap_or_default(),
                "custom_tracking_link": shipment.tracking_url.clone().unwrap_or_default(),
                "tracking_number": number,
                "date_shipped": shipment.shipped_at.timestamp().to_string(),
                "tracking_id": id,
            }));
        }
        let body = json!({"meta_data": [
            {"key": SHIPMENTS_META, "value": shipments},
            {"key": TRACKING_META, "value": tracking},
        ]});
        self.client()
            .put(&format!("/orders/{order_id}"), &body)
            .await?;
        if let Some(note) = customer_note {
            self.ensure_note(order_id, note, true).await?;
        }
        Ok(FulfilmentRef {
            id,
            reference: shipment.reference.clone(),
        })
    }
}

fn wc_status(status: OrderStatus) -> Option<&'static str> {
    match status {
        OrderStatus::Pending => Some("pending"),
        OrderStatus::Processing => Some("processing"),
        OrderStatus::OnHold => Some("on-hold"),
        OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Completed => Some("completed"),
        OrderStatus::Cancelled => Some("cancelled"),
        OrderStatus::Refunded => Some("refunded"),
        OrderStatus::PartiallyShipped | OrderStatus::ReadyForPickup => None,
    }
}

#[async_trait]
impl OrderStatusSink for WooCommerceSystem {
    async fn set_order_status(
        &self,
        order_id: &str,
        status: OrderStatus,
        shop_status: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ConnectorError> {
        let target = shop_status.or(wc_status(status)).ok_or_else(|| {
            ConnectorError::Unsupported(format!(
                "WooCommerce has no status for {status:?}; map it in the order status flow's `statuses`"
            ))
        })?;
        let order = self.order_json(order_id).await?;
        // Already there (a retry, or the merchant or a shipment did it): nothing to send.
        // The note is private, and only says why Kontor changed the status.
        if order["status"] != target {
            self.client()
                .put(&format!("/orders/{order_id}"), &json!({"status": target}))
                .await?;
            if let Some(note) = note {
                self.ensure_note(order_id, note, false).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_quantities_add_up_across_shipments() {
        let shipments = vec![
            json!({"id": "a", "reference": "WZ/1", "lines": [{"sku": "MUG", "quantity": "1"}]}),
            json!({"id": "b", "reference": "WZ/2", "lines": [{"sku": "MUG", "quantity": "2"}, {"sku": "TEE", "quantity": "1"}]}),
        ];
        let shipped = shipped_so_far(&shipments);
        assert_eq!(shipped["MUG"], Decimal::from(3));
        assert_eq!(shipped["TEE"], Decimal::ONE);
        assert_eq!(refs(&shipments)[1].reference, "WZ/2");
        assert_eq!(tracking_id("WZ/1"), tracking_id("WZ/1"));
        assert_ne!(tracking_id("WZ/1"), tracking_id("WZ/2"));
    }
}
