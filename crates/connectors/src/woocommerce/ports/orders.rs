//! Orders, read incrementally by `date_modified_gmt`. WordPress stamps whole seconds and
//! does not order ties, so a page never ends inside a second: all orders of the last
//! second read are taken together, sorted by id, and the cursor is (second, id).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kontor_connector::{Changes, ConnectorError, OrderSource, OrderSummary};
use kontor_model::Order;
use serde_json::Value;

use crate::seconds_cursor::SecondsCursor;

use super::PAGE;
use crate::woocommerce::WooCommerceSystem;
use crate::woocommerce::mappers::{gmt_of, gmt_text, order_of};

impl WooCommerceSystem {
    /// Orders modified after `cursor` and before now less the poll lag, oldest first:
    /// at least `limit` unless fewer are waiting, plus the rest of the last second.
    /// `true` when more are waiting.
    pub(super) async fn orders_after(
        &self,
        cursor: SecondsCursor,
        limit: usize,
    ) -> Result<(Vec<(DateTime<Utc>, u64, Value)>, bool), ConnectorError> {
        let lag = Duration::from_std(self.config().poll_lag).unwrap_or(Duration::seconds(2));
        let until = Utc::now() - lag;
        // `modified_after` is exclusive; one second back takes in the cursor's own second.
        let from = cursor.at.map(|at| at - Duration::seconds(1));
        let mut found: Vec<(DateTime<Utc>, u64, Value)> = Vec::new();
        let mut page = 1;
        let mut exhausted = false;
        loop {
            let mut query = vec![
                ("orderby", "modified".to_owned()),
                ("order", "asc".to_owned()),
                ("dates_are_gmt", "true".to_owned()),
                ("modified_before", gmt_text(until)),
                ("per_page", PAGE.to_string()),
                ("page", page.to_string()),
            ];
            if let Some(from) = from {
                query.push(("modified_after", gmt_text(from)));
            }
            let listed = self.client().page("/orders", &query).await?;
            for order in listed.items {
                let (Some(at), Some(id)) =
                    (gmt_of(&order["date_modified_gmt"]), order["id"].as_u64())
                else {
                    continue;
                };
                if !cursor.covers(at, id) {
                    found.push((at, id, order));
                }
            }
            if page >= listed.total_pages {
                exhausted = true;
                break;
            }
            // Enough, and the last second read is complete (the next page starts later).
            found.sort_by_key(|(at, id, _)| (*at, *id));
            if found.len() > limit && found[limit - 1].0 < found[found.len() - 1].0 {
                break;
            }
            page += 1;
        }
        found.sort_by_key(|(at, id, _)| (*at, *id));
        if found.len() > limit {
            let last_second = found[limit.max(1) - 1].0;
            let keep = found
                .iter()
                .take_while(|(at, _, _)| *at <= last_second)
                .count();
            let more = keep < found.len() || !exhausted;
            found.truncate(keep);
            return Ok((found, more));
        }
        Ok((found, !exhausted))
    }
}

#[async_trait]
impl OrderSource for WooCommerceSystem {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        let cursor = SecondsCursor::parse(cursor)?;
        let (found, more) = self.orders_after(cursor, limit.max(1)).await?;
        let Some((at, id, _)) = found.last() else {
            return Ok(Changes::empty());
        };
        let next = SecondsCursor {
            at: Some(*at),
            id: *id,
        };
        Ok(Changes {
            items: found
                .iter()
                .map(|(at, id, order)| OrderSummary {
                    id: id.to_string(),
                    number: order["number"]
                        .as_str()
                        .map_or_else(|| id.to_string(), str::to_owned),
                    updated_at: *at,
                })
                .collect(),
            cursor: Some(next.text()),
            more,
        })
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        let order = self
            .client()
            .get(&format!("/orders/{order_id}"), &[])
            .await?;
        order_of(&order)
    }

    fn cursor_at(&self, since: DateTime<Utc>) -> Option<String> {
        Some(
            SecondsCursor {
                at: Some(since - Duration::seconds(1)),
                id: u64::MAX,
            }
            .text(),
        )
    }
}
