//! Shop-side order operations: reading orders and returns; fulfilments, invoices and
//! statuses written onto orders.

use async_trait::async_trait;
use chrono::Utc;
use kontor_connector::{
    Changes, ConnectorError, FulfilmentRef, FulfilmentSink, InvoiceSink, OrderSource,
    OrderStatusSink, OrderSummary, ReturnSource,
};
use kontor_model::{Invoice, Order, OrderStatus, Return, Shipment};

use super::{not_found, page};
use crate::memory::state::{AttachedInvoice, FulfilmentRecord, Mutation};
use crate::memory::system::MemorySystem;

/// The shop's own name for a status, when the flow gives none.
fn status_name(status: OrderStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[async_trait]
impl OrderSource for MemorySystem {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        self.call("orders.list").await?;
        self.read(|s| {
            page(&s.order_feed, cursor, limit, |id| {
                s.orders.get(id).map(|o| OrderSummary {
                    id: o.id.clone(),
                    number: o.number.clone(),
                    updated_at: o.updated_at,
                })
            })
        })
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        self.call("orders.get").await?;
        self.read(|s| s.orders.get(order_id).cloned())
            .ok_or_else(|| not_found(format!("order {order_id}")))
    }
}

#[async_trait]
impl OrderStatusSink for MemorySystem {
    async fn set_order_status(
        &self,
        order_id: &str,
        status: OrderStatus,
        shop_status: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ConnectorError> {
        self.call("orders.status").await?;
        self.write(|s| match s.orders.get(order_id) {
            None => (vec![], Err(not_found(format!("order {order_id}")))),
            Some(order) => {
                let mut order = order.clone();
                order.status = status;
                order.source_status = Some(
                    shop_status
                        .map(str::to_owned)
                        .unwrap_or_else(|| status_name(status)),
                );
                if let Some(note) = note {
                    order.note = Some(match &order.note {
                        Some(previous) => format!("{previous}\n{note}"),
                        None => note.to_owned(),
                    });
                }
                order.updated_at = Utc::now();
                (vec![Mutation::Order(Box::new(order))], Ok(()))
            }
        })?
    }
}

#[async_trait]
impl FulfilmentSink for MemorySystem {
    async fn fulfilments_of(&self, order_id: &str) -> Result<Vec<FulfilmentRef>, ConnectorError> {
        self.call("fulfilments.list").await?;
        Ok(self.read(|s| {
            s.fulfilments
                .get(order_id)
                .into_iter()
                .flatten()
                .map(|f| f.fulfilment.clone())
                .collect()
        }))
    }

    async fn create_fulfilment(
        &self,
        order_id: &str,
        shipment: &Shipment,
        _customer_note: Option<&str>,
    ) -> Result<FulfilmentRef, ConnectorError> {
        self.call("fulfilments.create").await?;
        self.write(|s| {
            let Some(order) = s.orders.get(order_id) else {
                return (vec![], Err(not_found(format!("order {order_id}"))));
            };
            if let Some(line) = shipment
                .lines
                .iter()
                .find(|l| !order.lines.iter().any(|o| o.sku == l.sku))
            {
                return (
                    vec![],
                    Err(ConnectorError::rejected(format!(
                        "order {} has no line with SKU {}",
                        order.number, line.sku
                    ))),
                );
            }
            let fulfilment = FulfilmentRef {
                id: s.new_id("f"),
                reference: shipment.reference.clone(),
            };
            let record = FulfilmentRecord {
                order_id: order_id.to_owned(),
                fulfilment: fulfilment.clone(),
                shipment: shipment.clone(),
            };
            (vec![Mutation::Fulfilment(Box::new(record))], Ok(fulfilment))
        })?
    }
}

#[async_trait]
impl InvoiceSink for MemorySystem {
    async fn invoices_of(&self, order_id: &str) -> Result<Vec<String>, ConnectorError> {
        self.call("orders.invoices").await?;
        Ok(self.read(|s| {
            s.attached_invoices
                .get(order_id)
                .into_iter()
                .flatten()
                .map(|a| a.number.clone())
                .collect()
        }))
    }

    async fn attach_invoice(
        &self,
        order_id: &str,
        invoice: &Invoice,
        pdf: Option<&[u8]>,
    ) -> Result<(), ConnectorError> {
        self.call("orders.attach").await?;
        self.write(|s| {
            if !s.orders.contains_key(order_id) {
                return (vec![], Err(not_found(format!("order {order_id}"))));
            }
            let attached = AttachedInvoice {
                order_id: order_id.to_owned(),
                number: invoice.number.clone(),
                pdf_bytes: pdf.map(<[u8]>::len),
            };
            (vec![Mutation::AttachedInvoice(attached)], Ok(()))
        })?
    }
}

#[async_trait]
impl ReturnSource for MemorySystem {
    async fn returns_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Return>, ConnectorError> {
        self.call("returns.list").await?;
        self.read(|s| {
            page(&s.return_feed, cursor, limit, |reference| {
                s.returns.get(reference).cloned()
            })
        })
    }
}
