//! Refunds, as returns for the ERP. Vendure has no list of refunds, so they are read
//! from the orders placed within `recheck_window`, and taken in the order they were
//! settled (a refund's `updatedAt`) after the cursor. Kontor's plugin says when a refund
//! settles, so the returns flow need not wait for its next poll.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kontor_connector::{Changes, ConnectorError, ReturnSource};
use kontor_model::{Currency, Return, ReturnLine};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::PAGE;
use crate::vendure::VendureSystem;
use crate::vendure::mappers::money_of;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The last refund taken: when it was settled, and its id.
    at: Option<DateTime<Utc>>,
    id: Option<String>,
}

/// One settled refund with what it needs to become a return.
fn return_of(order: &Value, refund: &Value) -> Result<Return, ConnectorError> {
    let code = order["currencyCode"].as_str().unwrap_or_default();
    let currency = Currency::new(code)
        .map_err(|e| ConnectorError::protocol(format!("order currency `{code}`: {e}")))?;
    let sku_of = |line_id: &str| {
        order["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["id"].as_str() == Some(line_id))
            .and_then(|l| l["productVariant"]["sku"].as_str())
            .map(str::to_owned)
    };
    let reason = refund["reason"].as_str().map(str::to_owned);
    let mut lines = Vec::new();
    for line in refund["lines"].as_array().into_iter().flatten() {
        let line_id = line["orderLineId"].as_str().unwrap_or_default();
        let sku = sku_of(line_id).ok_or_else(|| {
            ConnectorError::protocol(format!("refund line for unknown order line {line_id}"))
        })?;
        lines.push(ReturnLine {
            sku,
            quantity: Decimal::from(line["quantity"].as_i64().unwrap_or_default()),
            reason: reason.clone(),
        });
    }
    Ok(Return {
        reference: format!(
            "vendure-refund-{}",
            refund["id"].as_str().unwrap_or_default()
        ),
        order_number: order["code"].as_str().unwrap_or_default().to_owned(),
        lines,
        refund: Some(money_of(&refund["total"], currency)?),
        created_at: settled_at(refund).unwrap_or_else(Utc::now),
    })
}

fn settled_at(refund: &Value) -> Option<DateTime<Utc>> {
    refund["updatedAt"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn after(cursor: &Cursor, at: DateTime<Utc>, id: &str) -> bool {
    match (cursor.at, cursor.id.as_deref()) {
        (None, _) => true,
        (Some(seen), _) if at != seen => at > seen,
        (Some(_), Some(seen_id)) => super::orders::id_after(id, seen_id),
        (Some(_), None) => true,
    }
}

#[async_trait]
impl ReturnSource for VendureSystem {
    async fn returns_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Return>, ConnectorError> {
        let position: Cursor = match cursor {
            Some(raw) => serde_json::from_str(raw).map_err(|e| {
                ConnectorError::invalid_cursor(raw, &format!("a Vendure refund cursor ({e})"))
            })?,
            None => Cursor::default(),
        };
        let window = Duration::from_std(self.config().recheck_window).unwrap_or(Duration::days(14));
        let lag = Duration::from_std(self.config().poll_lag).unwrap_or(Duration::seconds(2));
        let now = Utc::now();
        let until = now - lag;
        let mut found: Vec<(DateTime<Utc>, String, Return)> = Vec::new();
        let mut skip = 0;
        loop {
            let data = self
                .run(
                    "query($since: DateTime!, $skip: Int!, $take: Int!) {
                       orders(options: {filter: {orderPlacedAt: {after: $since}}, sort: {id: ASC}, skip: $skip, take: $take}) {
                         items {
                           code currencyCode
                           lines { id productVariant { sku } }
                           payments { refunds { id state total reason updatedAt lines { orderLineId quantity } } }
                         }
                       }
                     }",
                    json!({"since": (now - window).to_rfc3339(), "skip": skip, "take": PAGE}),
                )
                .await?;
            let orders = data["orders"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for order in &orders {
                for payment in order["payments"].as_array().into_iter().flatten() {
                    for refund in payment["refunds"].as_array().into_iter().flatten() {
                        let (Some(at), Some(id)) = (settled_at(refund), refund["id"].as_str())
                        else {
                            continue;
                        };
                        if refund["state"] == "Settled" && at <= until && after(&position, at, id) {
                            found.push((at, id.to_owned(), return_of(order, refund)?));
                        }
                    }
                }
            }
            if orders.len() < PAGE {
                break;
            }
            skip += orders.len();
        }
        found.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                if super::orders::id_after(&a.1, &b.1) {
                    std::cmp::Ordering::Greater
                } else if a.1 == b.1 {
                    std::cmp::Ordering::Equal
                } else {
                    std::cmp::Ordering::Less
                }
            })
        });
        let more = found.len() > limit;
        found.truncate(limit.max(1));
        let Some((at, id, _)) = found.last() else {
            return Ok(Changes::empty());
        };
        let cursor = serde_json::to_string(&Cursor {
            at: Some(*at),
            id: Some(id.clone()),
        })
        .map_err(|e| ConnectorError::protocol(e.to_string()))?;
        Ok(Changes {
            items: found.into_iter().map(|(_, _, r)| r).collect(),
            cursor: Some(cursor),
            more,
        })
    }
}
