//! Shipments as fulfilments, and order status. An ERP shipment becomes a
//! `fulfillmentCreate` over the order's open fulfilment orders, its lines taken by SKU,
//! with the carrier and tracking number (Shopify e-mails the customer). Which fulfilment
//! belongs to which ERP shipment is kept in the order's `kontor.shipments` metafield;
//! a fulfilment made by an attempt that crashed before recording it is recognised by
//! its tracking number, so a retry never fulfils twice.

use std::collections::HashMap;

use async_trait::async_trait;
use kontor_connector::{ConnectorError, FulfilmentRef, FulfilmentSink, OrderStatusSink};
use kontor_model::{OrderStatus, Shipment};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

use crate::shopify::client::user_errors;
use crate::shopify::{ShopifySystem, gid, numeric};

const STATE: &str = "query Fulfilment($id: ID!) {
  order(id: $id) {
    id name cancelledAt displayFulfillmentStatus
    metafield(namespace: \"kontor\", key: \"shipments\") { value }
    fulfillments(first: 50) { id trackingInfo(first: 5) { number } }
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id sku remainingQuantity } } }
    }
  }
}";

const CREATE: &str = "mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}";

const RECORD: &str = "mutation Record($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key }
    userErrors { field message code }
  }
}";

const CANCEL: &str = "mutation Cancel($orderId: ID!, $note: String) {
  orderCancel(orderId: $orderId, reason: OTHER, restock: true, notifyCustomer: true, staffNote: $note) {
    job { id }
    orderCancelUserErrors { field message code }
    userErrors { field message }
  }
}";

const CLOSE: &str = "mutation Close($input: OrderCloseInput!) {
  orderClose(input: $input) { order { id closed } userErrors { field message } }
}";

const TAG: &str = "mutation Tag($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}";

/// ERP shipment reference → fulfilment id, as kept in the order's metafield.
fn recorded(order: &Value) -> Map<String, Value> {
    order["metafield"]["value"]
        .as_str()
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn order_gid(order_id: &str) -> Result<String, ConnectorError> {
    order_id
        .parse::<u64>()
        .map(|id| gid("Order", id))
        .map_err(|_| ConnectorError::NotFound {
            what: format!("Shopify order `{order_id}`"),
        })
}

impl ShopifySystem {
    async fn fulfilment_state(&self, order_id: &str) -> Result<Value, ConnectorError> {
        let data = self
            .client()
            .run(
                "order fulfilment",
                STATE,
                json!({ "id": order_gid(order_id)? }),
            )
            .await?;
        if data["order"].is_null() {
            return Err(ConnectorError::NotFound {
                what: format!("Shopify order {order_id}"),
            });
        }
        Ok(data["order"].clone())
    }

    async fn record(
        &self,
        order: &Value,
        mut shipments: Map<String, Value>,
        reference: &str,
        fulfilment: &str,
    ) -> Result<(), ConnectorError> {
        shipments.insert(reference.to_owned(), json!(fulfilment));
        let data = self
            .client()
            .run(
                "metafieldsSet",
                RECORD,
                json!({ "metafields": [{
                    "ownerId": order["id"], "namespace": "kontor", "key": "shipments",
                    "type": "json", "value": Value::Object(shipments).to_string(),
                }] }),
            )
            .await?;
        user_errors(&data["metafieldsSet"])
    }
}

#[async_trait]
impl FulfilmentSink for ShopifySystem {
    async fn fulfilments_of(&self, order_id: &str) -> Result<Vec<FulfilmentRef>, ConnectorError> {
        let order = self.fulfilment_state(order_id).await?;
        Ok(recorded(&order)
            .into_iter()
            .filter_map(|(reference, id)| {
                Some(FulfilmentRef {
                    id: numeric(&id)?.to_string(),
                    reference,
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
        let order = self.fulfilment_state(order_id).await?;
        let shipments = recorded(&order);
        if let Some(id) = shipments.get(&shipment.reference).and_then(numeric) {
            return Ok(FulfilmentRef {
                id: id.to_string(),
                reference: shipment.reference.clone(),
            });
        }
        if let Some(number) = &shipment.tracking_number {
            let made = order["fulfillments"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| {
                    f["trackingInfo"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|t| t["number"] == number.as_str())
                        && !shipments.values().any(|known| *known == f["id"])
                });
            if let Some(made) = made {
                let id = made["id"].as_str().unwrap_or_default().to_owned();
                self.record(&order, shipments, &shipment.reference, &id)
                    .await?;
                return Ok(FulfilmentRef {
                    id: numeric(&json!(id)).unwrap_or_default().to_string(),
                    reference: shipment.reference.clone(),
                });
            }
        }
        if order["cancelledAt"].is_string() {
            return Err(ConnectorError::Rejected {
                code: Some("order_cancelled".into()),
                message: format!(
                    "Shopify order {} is cancelled; shipment {} is not recorded",
                    order["name"].as_str().unwrap_or(order_id),
                    shipment.reference
                ),
                field: None,
            });
        }
        // Take each shipped SKU from the open fulfilment order lines that still have it.
        let mut remaining: Vec<(String, String, String, i64)> = Vec::new();
        for fo in order["fulfillmentOrders"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if fo["status"] == "CLOSED" || fo["status"] == "CANCELLED" {
                continue;
            }
            for line in fo["lineItems"]["nodes"].as_array().into_iter().flatten() {
                let quantity = line["remainingQuantity"].as_i64().unwrap_or_default();
                if let (Some(fo_id), Some(line_id), Some(sku)) =
                    (fo["id"].as_str(), line["id"].as_str(), line["sku"].as_str())
                    && quantity > 0
                {
                    remaining.push((
                        fo_id.to_owned(),
                        line_id.to_owned(),
                        sku.to_owned(),
                        quantity,
                    ));
                }
            }
        }
        let mut by_order: HashMap<String, Vec<Value>> = HashMap::new();
        for line in &shipment.lines {
            let mut wanted = line.quantity.ceil().to_i64().unwrap_or_default();
            for (fo_id, line_id, sku, left) in remaining.iter_mut() {
                if wanted == 0 || *sku != line.sku || *left == 0 {
                    continue;
                }
                let take = wanted.min(*left);
                *left -= take;
                wanted -= take;
                by_order
                    .entry(fo_id.clone())
                    .or_default()
                    .push(json!({ "id": line_id, "quantity": take }));
            }
            if wanted > 0 {
                return Err(ConnectorError::Rejected {
                    code: Some("more_than_ordered".into()),
                    message: format!(
                        "shipment {} sends {} of {}, but Shopify order {} has {} left to fulfil",
                        shipment.reference,
                        line.quantity,
                        line.sku,
                        order["name"].as_str().unwrap_or(order_id),
                        line.quantity - Decimal::from(wanted)
                    ),
                    field: Some("lines".into()),
                });
            }
        }
        let mut fulfillment = json!({
            "lineItemsByFulfillmentOrder": by_order.into_iter().map(|(id, lines)| json!({
                "fulfillmentOrderId": id, "fulfillmentOrderLineItems": lines,
            })).collect::<Vec<_>>(),
            "notifyCustomer": true,
        });
        if shipment.tracking_number.is_some() || shipment.carrier.is_some() {
            fulfillment["trackingInfo"] = json!({
                "number": shipment.tracking_number, "company": shipment.carrier, "url": shipment.tracking_url,
            });
        }
        let data = self
            .client()
            .run(
                "fulfillmentCreate",
                CREATE,
                json!({ "fulfillment": fulfillment }),
            )
            .await?;
        let payload = &data["fulfillmentCreate"];
        user_errors(payload)?;
        let id = payload["fulfillment"]["id"]
            .as_str()
            .ok_or_else(|| {
                ConnectorError::protocol("fulfillmentCreate: fulfillment.id: is missing")
            })?
            .to_owned();
        self.record(&order, shipments, &shipment.reference, &id)
            .await?;
        Ok(FulfilmentRef {
            id: numeric(&json!(id)).unwrap_or_default().to_string(),
            reference: shipment.reference.clone(),
        })
    }
}

#[async_trait]
impl OrderStatusSink for ShopifySystem {
    /// Cancelled cancels the order (restocking it), Completed closes it; Shopify has no
    /// other order states to set, so any other status is added as a tag.
    async fn set_order_status(
        &self,
        order_id: &str,
        status: OrderStatus,
        shop_status: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ConnectorError> {
        let id = order_gid(order_id)?;
        match (status, shop_status) {
            (OrderStatus::Cancelled, None) | (_, Some("cancelled")) => {
                let data = self
                    .client()
                    .run(
                        "orderCancel",
                        CANCEL,
                        json!({ "orderId": id, "note": note }),
                    )
                    .await?;
                match user_errors(&data["orderCancel"]) {
                    // Cancelled already (a retry, or by the merchant): what was wanted.
                    Err(ConnectorError::Rejected { message, .. })
                        if message.contains("already been cancelled") =>
                    {
                        Ok(())
                    }
                    outcome => outcome,
                }
            }
            (OrderStatus::Completed, None) | (_, Some("closed")) => {
                let data = self
                    .client()
                    .run("orderClose", CLOSE, json!({ "input": { "id": id } }))
                    .await?;
                user_errors(&data["orderClose"])
            }
            (status, shop_status) => {
                let tag = shop_status.map_or_else(
                    || format!("kontor:{status:?}").to_lowercase(),
                    str::to_owned,
                );
                let data = self
                    .client()
                    .run("tagsAdd", TAG, json!({ "id": id, "tags": [tag] }))
                    .await?;
                user_errors(&data["tagsAdd"])
            }
        }
    }
}
