//! Refunds, as returns for the ERP. A refund is made by saving its order, so orders
//! modified since the last look are read, and all refunds of those that have any are
//! passed on, oldest first. An order saved again later passes its refunds on again; the
//! returns flow knows them by reference and makes nothing twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kontor_connector::{Changes, ConnectorError, ReturnSource};
use kontor_model::{Currency, Money, Return, ReturnLine};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::seconds_cursor::SecondsCursor;
use crate::woocommerce::WooCommerceSystem;
use crate::woocommerce::mappers::{decimal_of, gmt_of};

fn return_of(order: &Value, refund: &Value) -> Result<Return, ConnectorError> {
    let code = order["currency"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let reason = refund["reason"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let lines = refund["line_items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|line| {
            Some(ReturnLine {
                sku: line["sku"].as_str().filter(|s| !s.is_empty())?.to_owned(),
                quantity: Decimal::from(line["quantity"].as_i64()?.abs()),
                reason: reason.clone(),
            })
        })
        .collect();
    Ok(Return {
        reference: format!(
            "woocommerce-refund-{}",
            refund["id"].as_u64().unwrap_or_default()
        ),
        order_number: order["number"].as_str().unwrap_or_default().to_owned(),
        lines,
        refund: decimal_of(&refund["amount"]).map(|a| Money::new(a, currency)),
        created_at: gmt_of(&refund["date_created_gmt"]).unwrap_or_else(Utc::now),
    })
}

#[async_trait]
impl ReturnSource for WooCommerceSystem {
    async fn returns_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Return>, ConnectorError> {
        let cursor = SecondsCursor::parse(cursor)?;
        let (orders, more) = self.orders_after(cursor, limit.max(1)).await?;
        let mut returns: Vec<(DateTime<Utc>, u64, Return)> = Vec::new();
        for (_, id, order) in &orders {
            if order["refunds"].as_array().is_none_or(|r| r.is_empty()) {
                continue;
            }
            let refunds = self
                .client()
                .page(
                    &format!("/orders/{id}/refunds"),
                    &[("per_page", "100".into())],
                )
                .await?;
            for refund in &refunds.items {
                let (Some(at), Some(refund_id)) =
                    (gmt_of(&refund["date_created_gmt"]), refund["id"].as_u64())
                else {
                    continue;
                };
                returns.push((at, refund_id, return_of(order, refund)?));
            }
        }
        let Some((at, id, _)) = orders.last() else {
            return Ok(Changes::empty());
        };
        let next = SecondsCursor {
            at: Some(*at),
            id: *id,
        };
        returns.sort_by_key(|(at, id, _)| (*at, *id));
        Ok(Changes {
            items: returns.into_iter().map(|(_, _, r)| r).collect(),
            cursor: Some(next.text()),
            more,
        })
    }
}
