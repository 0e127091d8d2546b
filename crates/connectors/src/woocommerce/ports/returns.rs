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
use crate::woocommerce::mappers::gmt_of;
use crate::woocommerce::types;

/// A refund of `order` as a return for the ERP, with when it was made and its id.
fn return_of(
    order: &Value,
    refund: &Value,
) -> Result<(DateTime<Utc>, u64, Return), ConnectorError> {
    let number = order["number"].as_str().unwrap_or_default().to_owned();
    let refund: types::Refund = crate::typed::read(&format!("order {number}: refund"), refund)?;
    let what = format!("order {number}: refund {}", refund.id);
    let code = order["currency"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("{what}: order currency `{code}`: {e}")))?;
    let reason = Some(refund.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let mut lines = Vec::new();
    for (i, line) in refund.line_items.iter().enumerate() {
        let sku = line
            .sku
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                crate::typed::line_without_sku(format!(
                    "{what}: line_items[{i}] has no SKU; the ERP cannot take it back"
                ))
            })?;
        lines.push(ReturnLine {
            sku: sku.to_owned(),
            quantity: Decimal::from(line.quantity.abs()),
            reason: reason.clone(),
        });
    }
    let at = gmt_of(&Value::String(refund.date_created_gmt.clone())).ok_or_else(|| {
        ConnectorError::protocol(format!(
            "{what}: date_created_gmt `{}` is not a GMT date",
            refund.date_created_gmt
        ))
    })?;
    Ok((
        at,
        refund.id,
        Return {
            reference: format!("woocommerce-refund-{}", refund.id),
            order_number: number,
            lines,
            refund: Some(Money::new(refund.amount, currency)),
            created_at: at,
        },
    ))
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
                returns.push(return_of(order, refund)?);
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
