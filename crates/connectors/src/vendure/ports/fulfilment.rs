//! Fulfilments (Vendure's manual fulfilment handler, moved to `Shipped`) and order states.
//! A fulfilment's `method` carries the ERP shipment's reference in brackets, so Kontor
//! can tell afterwards which shipment a fulfilment was made for.

use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, FulfilmentRef, FulfilmentSink, OrderStatusSink};
use kontor_model::{OrderStatus, Shipment};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::vendure::VendureSystem;

const FULFILMENTS: &str = "query($id: ID!) {
  order(id: $id) {
    id state
    lines { id quantity productVariant { sku } }
    fulfillments { id state method trackingCode lines { orderLineId quantity } }
  }
}";

/// The fulfilment method text for a shipment: `<carrier> [<reference>]`.
fn method_of(shipment: &Shipment) -> String {
    format!(
        "{} [{}]",
        shipment.carrier.as_deref().unwrap_or("Shipment"),
        shipment.reference
    )
}

/// The shipment reference in a fulfilment's method, if Kontor made it.
fn reference_in(method: &str) -> Option<&str> {
    let inner = method.strip_suffix(']')?;
    inner.rfind('[').map(|at| &inner[at + 1..])
}

impl VendureSystem {
    async fn order_fulfilments(&self, order_id: &str) -> Result<Value, ConnectorError> {
        let data = self.run(FULFILMENTS, json!({"id": order_id})).await?;
        if data["order"].is_null() {
            return Err(ConnectorError::NotFound {
                what: format!("order {order_id} in Vendure"),
            });
        }
        Ok(data["order"].clone())
    }

    async fn transition_fulfilment(&self, id: &str, state: &str) -> Result<(), ConnectorError> {
        self.run(
            "mutation($id: ID!, $state: String!) {
               transitionFulfillmentToState(id: $id, state: $state) {
                 ... on Fulfillment { id }
                 ... on FulfillmentStateTransitionError { errorCode message transitionError }
               }
             }",
            json!({"id": id, "state": state}),
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl FulfilmentSink for VendureSystem {
    /// The order's fulfilments that have been shipped. One still `Pending` (made, but its
    /// move to `Shipped` did not happen) is left for `create_fulfilment` to finish.
    async fn fulfilments_of(&self, order_id: &str) -> Result<Vec<FulfilmentRef>, ConnectorError> {
        let order = self.order_fulfilments(order_id).await?;
        Ok(order["fulfillments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| matches!(f["state"].as_str(), Some("Shipped" | "Delivered")))
            .filter_map(|f| {
                Some(FulfilmentRef {
                    id: f["id"].as_str()?.to_owned(),
                    reference: reference_in(f["method"].as_str()?)?.to_owned(),
                })
            })
            .collect())
    }

    async fn create_fulfilment(
        &self,
        order_id: &str,
        shipment: &Shipment,
        _customer_note: Option<&str>,
    ) -> Result<FulfilmentRef, ConnectorError> {
        let order = self.order_fulfilments(order_id).await?;
        let fulfilments = order["fulfillments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let unfinished = fulfilments.iter().find(|f| {
            f["state"] == "Pending"
                && f["method"].as_str().and_then(reference_in) == Some(shipment.reference.as_str())
        });
        let id = match unfinished {
            Some(found) => found["id"].as_str().unwrap_or_default().to_owned(),
            None => {
                let lines = lines_to_fulfil(&order, &fulfilments, shipment)?;
                let data = self
                    .run(
                        "mutation($input: FulfillOrderInput!) {
                           addFulfillmentToOrder(input: $input) {
                             ... on Fulfillment { id }
                             ... on ErrorResult { errorCode message }
                           }
                         }",
                        json!({"input": {
                            "lines": lines,
                            "handler": {"code": "manual-fulfillment", "arguments": [
                                {"name": "method", "value": method_of(shipment)},
                                {"name": "trackingCode", "value": shipment.tracking_number.clone().unwrap_or_default()},
                            ]},
                        }}),
                    )
                    .await?;
                data["addFulfillmentToOrder"]["id"]
                    .as_str()
                    .ok_or_else(|| {
                        ConnectorError::protocol("addFulfillmentToOrder returned no id")
                    })?
                    .to_owned()
            }
        };
        self.transition_fulfilment(&id, "Shipped").await?;
        Ok(FulfilmentRef {
            id,
            reference: shipment.reference.clone(),
        })
    }
}

/// The order lines and quantities a shipment covers. A shipment without lines covers
/// what is left unfulfilled.
fn lines_to_fulfil(
    order: &Value,
    fulfilments: &[Value],
    shipment: &Shipment,
) -> Result<Vec<Value>, ConnectorError> {
    let mut fulfilled: HashMap<String, i64> = HashMap::new();
    for fulfilment in fulfilments.iter().filter(|f| f["state"] != "Cancelled") {
        for line in fulfilment["lines"].as_array().into_iter().flatten() {
            *fulfilled
                .entry(line["orderLineId"].as_str().unwrap_or_default().to_owned())
                .or_default() += line["quantity"].as_i64().unwrap_or_default();
        }
    }
    let open: Vec<(String, String, i64)> = order["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| {
            let id = line["id"].as_str()?.to_owned();
            let left = line["quantity"].as_i64()? - fulfilled.get(&id).copied().unwrap_or(0);
            let sku = line["productVariant"]["sku"].as_str()?.to_owned();
            (left > 0).then_some((id, sku, left))
        })
        .collect();
    if shipment.lines.is_empty() {
        return Ok(open
            .into_iter()
            .map(|(id, _, left)| json!({"orderLineId": id, "quantity": left}))
            .collect());
    }
    let mut lines = Vec::new();
    for wanted in &shipment.lines {
        let mut quantity = wanted
            .quantity
            .max(Decimal::ZERO)
            .ceil()
            .to_i64()
            .unwrap_or(0);
        for (id, _, left) in open.iter().filter(|(_, sku, _)| *sku == wanted.sku) {
            let take = quantity.min(*left);
            if take > 0 {
                lines.push(json!({"orderLineId": id, "quantity": take}));
                quantity -= take;
            }
        }
        if quantity > 0 {
            return Err(ConnectorError::Rejected {
                code: Some("nothing_left_to_fulfil".into()),
                message: format!(
                    "shipment {} sends {} of {}, but the Vendure order has {} of it left to fulfil",
                    shipment.reference,
                    wanted.quantity,
                    wanted.sku,
                    wanted.quantity - Decimal::from(quantity)
                ),
                field: Some("lines".into()),
            });
        }
    }
    Ok(lines)
}

#[async_trait]
impl OrderStatusSink for VendureSystem {
    /// Vendure moves an order through its states itself as payments settle and
    /// fulfilments ship, so most statuses need nothing here. `Cancelled` cancels the
    /// order (its stock released); `Delivered` marks its shipped fulfilments delivered; a
    /// mapped `shop_status` is a transition Vendure is asked to make.
    async fn set_order_status(
        &self,
        order_id: &str,
        status: OrderStatus,
        shop_status: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ConnectorError> {
        let order = self.order_fulfilments(order_id).await?;
        let state = order["state"].as_str().unwrap_or_default();
        match (status, shop_status) {
            (_, Some(target)) if target == state => Ok(()),
            (OrderStatus::Cancelled, _) => {
                if state == "Cancelled" {
                    return Ok(());
                }
                self.run(
                    "mutation($input: CancelOrderInput!) {
                       cancelOrder(input: $input) { ... on Order { id } ... on ErrorResult { errorCode message } }
                     }",
                    json!({"input": {"orderId": order_id, "reason": note.unwrap_or("Cancelled in the ERP"), "cancelShipping": true}}),
                )
                .await
                .map(drop)
            }
            (OrderStatus::Delivered, _) => {
                for fulfilment in order["fulfillments"].as_array().into_iter().flatten() {
                    if fulfilment["state"] == "Shipped" {
                        let id = fulfilment["id"].as_str().unwrap_or_default();
                        self.transition_fulfilment(id, "Delivered").await?;
                    }
                }
                Ok(())
            }
            (_, Some(target)) => self
                .run(
                    "mutation($id: ID!, $state: String!) {
                       transitionOrderToState(id: $id, state: $state) {
                         ... on Order { id }
                         ... on OrderStateTransitionError { errorCode message transitionError }
                       }
                     }",
                    json!({"id": order_id, "state": target}),
                )
                .await
                .map(drop),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipment_reference_is_found_again_in_the_method() {
        assert_eq!(reference_in("DPD [WH/OUT/12]"), Some("WH/OUT/12"));
        assert_eq!(reference_in("Shipment [a [b]]"), Some("b]"));
        assert_eq!(reference_in("made by hand"), None);
    }
}
