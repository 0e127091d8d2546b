//! Orders, read incrementally. Vendure stamps `orderPlacedAt` when an order is placed but
//! leaves `updatedAt` alone on state changes, so new orders are read by `orderPlacedAt`,
//! and state changes come from the plugin's notices — or, when Kontor cannot be reached,
//! from a periodic re-read of the orders still open.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kontor_connector::{Changes, ConnectorError, OrderSource, OrderSummary};
use kontor_model::Order;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::vendure::VendureSystem;
use crate::vendure::mappers::{ORDER_FIELDS, order_of};

/// States in which an order may still change in a way Kontor acts on.
const OPEN_STATES: [&str; 7] = [
    "PaymentAuthorized",
    "PaymentSettled",
    "PartiallyShipped",
    "Shipped",
    "PartiallyDelivered",
    "Modifying",
    "ArrangingAdditionalPayment",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// The last order read: its `orderPlacedAt` and id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// When the last re-read of open orders finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rechecked_at: Option<DateTime<Utc>>,
    /// A re-read in progress: how many open orders it has passed (Vendure filters ids
    /// by equality only, so it pages by offset; an order slipping between pages is
    /// caught by the next re-read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recheck_from: Option<usize>,
}

/// Vendure's ids are integers on SQL databases, strings (UUIDs) with another id
/// strategy; compare as numbers when both are.
pub(super) fn id_after(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn summary(item: &Value) -> Option<(OrderSummary, DateTime<Utc>)> {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let placed = parse(&item["orderPlacedAt"])?;
    Some((
        OrderSummary {
            id: item["id"].as_str()?.to_owned(),
            number: item["code"].as_str()?.to_owned(),
            updated_at: parse(&item["updatedAt"]).unwrap_or(placed),
        },
        placed,
    ))
}

impl VendureSystem {
    /// Orders placed in [from, until], oldest first, after the cursor's own order.
    async fn placed_between(
        &self,
        cursor: &Cursor,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<(OrderSummary, DateTime<Utc>)>, bool), ConnectorError> {
        let from = cursor.placed_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let mut found = Vec::new();
        let mut skip = 0;
        // Orders placed in the cursor's own millisecond are read again and passed over.
        loop {
            let take = (limit + 1).min(super::PAGE);
            let data = self
                .run(
                    "query($from: DateTime!, $until: DateTime!, $skip: Int!, $take: Int!) {
                       orders(options: {filter: {orderPlacedAt: {between: {start: $from, end: $until}}},
                                        sort: {orderPlacedAt: ASC, id: ASC}, skip: $skip, take: $take}) {
                         items { id code orderPlacedAt updatedAt } totalItems
                       }
                     }",
                    json!({"from": rfc3339(from), "until": rfc3339(until), "skip": skip, "take": take}),
                )
                .await?;
            let items = data["orders"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let page_len = items.len();
            for item in &items {
                let Some((order, placed)) = summary(item) else {
                    continue;
                };
                let seen = cursor.placed_at.is_some_and(|at| {
                    placed < at
                        || (placed == at
                            && cursor
                                .id
                                .as_deref()
                                .is_some_and(|id| !id_after(&order.id, id)))
                });
                if !seen {
                    found.push((order, placed));
                }
            }
            if found.len() > limit {
                found.truncate(limit);
                return Ok((found, true));
            }
            if page_len < take {
                return Ok((found, false));
            }
            skip += page_len;
        }
    }

    /// One page of the open orders placed within the re-read window, by id.
    async fn open_orders(
        &self,
        skip: usize,
        now: DateTime<Utc>,
        take: usize,
    ) -> Result<(Vec<OrderSummary>, bool), ConnectorError> {
        let window = Duration::from_std(self.config().recheck_window).unwrap_or(Duration::days(14));
        let filter = json!({
            "orderPlacedAt": {"after": rfc3339(now - window)},
            "state": {"in": OPEN_STATES},
        });
        let data = self
            .run(
                "query($filter: OrderFilterParameter!, $skip: Int!, $take: Int!) {
                   orders(options: {filter: $filter, sort: {id: ASC}, skip: $skip, take: $take}) {
                     items { id code orderPlacedAt updatedAt }
                   }
                 }",
                json!({"filter": filter, "skip": skip, "take": take}),
            )
            .await?;
        let items: Vec<OrderSummary> = data["orders"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| summary(item).map(|(s, _)| s))
            .collect();
        let more = items.len() == take;
        Ok((items, more))
    }
}

#[async_trait]
impl OrderSource for VendureSystem {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        let mut position: Cursor = match cursor {
            Some(raw) => serde_json::from_str(raw).map_err(|e| {
                ConnectorError::invalid_cursor(raw, &format!("a Vendure order cursor ({e})"))
            })?,
            None => Cursor::default(),
        };
        let limit = limit.max(1);
        let now = Utc::now();
        let lag = Duration::from_std(self.config().poll_lag).unwrap_or(Duration::seconds(2));
        let (placed, mut more) = self.placed_between(&position, now - lag, limit).await?;
        if let Some((last, at)) = placed.last() {
            position.placed_at = Some(*at);
            position.id = Some(last.id.clone());
        }
        let mut items: Vec<OrderSummary> = placed.into_iter().map(|(s, _)| s).collect();

        // A new cursor reads every open order as new anyway: its first re-read is due
        // one interval later.
        let rechecked_at = *position.rechecked_at.get_or_insert(now);
        let every = self.config().recheck_every;
        let due = !every.is_zero()
            && (position.recheck_from.is_some()
                || Duration::from_std(every).is_ok_and(|every| now - rechecked_at >= every));
        if due && items.len() < limit {
            let room = limit - items.len();
            let skip = position.recheck_from.unwrap_or(0);
            let (open, unfinished) = self.open_orders(skip, now, room).await?;
            position.recheck_from = if unfinished {
                Some(skip + open.len())
            } else {
                position.rechecked_at = Some(now);
                None
            };
            more |= unfinished;
            for order in open {
                if !items.iter().any(|o| o.id == order.id) {
                    items.push(order);
                }
            }
        }
        let cursor = serde_json::to_string(&position)
            .map_err(|e| ConnectorError::protocol(e.to_string()))?;
        Ok(Changes {
            items,
            cursor: Some(cursor),
            more,
        })
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        let channel = self.channel().await?;
        let data = self
            .run(
                &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"),
                json!({"id": order_id}),
            )
            .await?;
        if data["order"].is_null() {
            return Err(ConnectorError::NotFound {
                what: format!("order {order_id} in Vendure"),
            });
        }
        order_of(&data["order"], channel.prices_include_tax)
    }

    fn cursor_at(&self, since: DateTime<Utc>) -> Option<String> {
        serde_json::to_string(&Cursor {
            placed_at: Some(since - Duration::milliseconds(1)),
            id: None,
            ..Cursor::default()
        })
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_as_numbers_when_they_are() {
        assert!(id_after("10", "9"));
        assert!(!id_after("9", "10"));
        assert!(id_after("b", "a"));
    }

    #[test]
    fn cursors_survive_a_round_trip() {
        let cursor = Cursor {
            placed_at: Some(Utc::now()),
            id: Some("42".into()),
            rechecked_at: None,
            recheck_from: Some(7),
        };
        let raw = serde_json::to_string(&cursor).expect("serializes");
        assert_eq!(
            serde_json::from_str::<Cursor>(&raw).expect("parses"),
            cursor
        );
    }
}
