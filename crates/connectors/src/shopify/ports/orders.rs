//! Orders, read incrementally with `orders(query: "updated_at:>=…", sortKey:
//! UPDATED_AT)`. Shopify stamps whole seconds, so a read never ends inside a second:
//! all orders of the last second read are taken together, sorted by id, and the cursor
//! is (second, id). Refunds are read from the same change feed (a refund updates its
//! order), only for orders whose financial status says they have any.

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kontor_connector::{Changes, ConnectorError, OrderSource, OrderSummary, ReturnSource};
use kontor_model::{Order, Return};
use serde_json::{Value, json};

use crate::seconds_cursor::SecondsCursor;

use crate::shopify::mappers::{number_of, order_of, returns_of, time_of};
use crate::shopify::{ShopifySystem, gid, numeric};

const CHANGED: &str = "query Changed($query: String!, $after: String) {
  orders(first: 100, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id name updatedAt displayFinancialStatus }
  }
}";

pub(crate) const ORDER: &str = "query Order($id: ID!) {
  order(id: $id) {
    id name createdAt updatedAt cancelledAt email phone note currencyCode taxesIncluded
    displayFinancialStatus displayFulfillmentStatus paymentGatewayNames
    customAttributes { key value }
    customer { id email firstName lastName }
    billingAddress { name firstName lastName company address1 address2 city zip province countryCodeV2 phone }
    shippingAddress { name firstName lastName company address1 address2 city zip province countryCodeV2 phone }
    lineItems(first: 100) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku name quantity originalUnitPriceSet { shopMoney { amount currencyCode } }
              totalDiscountSet { shopMoney { amount currencyCode } } taxLines { ratePercentage } }
    }
    shippingLines(first: 20) {
      pageInfo { hasNextPage }
      nodes { title code source deliveryCategory discountedPriceSet { shopMoney { amount currencyCode } } taxLines { ratePercentage } }
    }
    totalPriceSet { shopMoney { amount currencyCode } }
    totalTaxSet { shopMoney { amount currencyCode } }
    transactions(first: 50) { id kind status gateway processedAt createdAt amountSet { shopMoney { amount currencyCode } } }
  }
}";

/// The rest of an order's lines, a page at a time, when it has more than ORDER reads.
const MORE_LINES: &str = "query MoreLines($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku name quantity originalUnitPriceSet { shopMoney { amount currencyCode } }
              totalDiscountSet { shopMoney { amount currencyCode } } taxLines { ratePercentage } }
    }
  }
}";

const REFUNDS: &str = "query Refunds($id: ID!) {
  order(id: $id) {
    id name currencyCode
    refunds(first: 50) {
      id createdAt note
      totalRefundedSet { shopMoney { amount currencyCode } }
      refundLineItems(first: 250) { pageInfo { hasNextPage } nodes { quantity lineItem { sku } } }
    }
  }
}";

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ShopifySystem {
    /// Orders updated after `cursor` and before now less the poll lag, oldest first: at
    /// least `limit` unless fewer are waiting, plus the rest of the last second. `true`
    /// when more are waiting.
    pub(crate) async fn orders_after(
        &self,
        cursor: SecondsCursor,
        limit: usize,
    ) -> Result<(Vec<(DateTime<Utc>, u64, Value)>, bool), ConnectorError> {
        let lag = Duration::from_std(self.config().poll_lag).unwrap_or(Duration::seconds(2));
        let until = Utc::now() - lag;
        let mut query = format!("updated_at:<='{}'", stamp(until));
        if let Some(at) = cursor.at {
            query = format!("updated_at:>='{}' AND {query}", stamp(at));
        }
        let mut found: Vec<(DateTime<Utc>, u64, Value)> = Vec::new();
        let mut after = Value::Null;
        let exhausted = loop {
            let data = self
                .client()
                .run(
                    "orders changed",
                    CHANGED,
                    json!({ "query": query, "after": after }),
                )
                .await?;
            let page = &data["orders"];
            for order in page["nodes"].as_array().into_iter().flatten() {
                let (Some(at), Some(id)) = (time_of(&order["updatedAt"]), numeric(&order["id"]))
                else {
                    continue;
                };
                if !cursor.covers(at, id) {
                    found.push((at, id, order.clone()));
                }
            }
            if page["pageInfo"]["hasNextPage"] != true {
                break true;
            }
            after = page["pageInfo"]["endCursor"].clone();
            // Enough, and the last second read is complete (the next page starts later).
            found.sort_by_key(|(at, id, _)| (*at, *id));
            if found.len() > limit && found[limit - 1].0 < found[found.len() - 1].0 {
                break false;
            }
        };
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

    fn next_cursor(found: &[(DateTime<Utc>, u64, Value)]) -> Option<String> {
        found.last().map(|(at, id, _)| {
            SecondsCursor {
                at: Some(*at),
                id: *id,
            }
            .text()
        })
    }
}

#[async_trait]
impl OrderSource for ShopifySystem {
    async fn orders_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<OrderSummary>, ConnectorError> {
        let cursor = SecondsCursor::parse(cursor)?;
        let (found, more) = self.orders_after(cursor, limit.max(1)).await?;
        let Some(next) = Self::next_cursor(&found) else {
            return Ok(Changes::empty());
        };
        Ok(Changes {
            items: found
                .iter()
                .map(|(at, id, order)| OrderSummary {
                    id: id.to_string(),
                    number: number_of(order),
                    updated_at: *at,
                })
                .collect(),
            cursor: Some(next),
            more,
        })
    }

    async fn get_order(&self, order_id: &str) -> Result<Order, ConnectorError> {
        let id = order_id
            .parse::<u64>()
            .map_err(|_| ConnectorError::NotFound {
                what: format!("Shopify order `{order_id}`"),
            })?;
        let data = self
            .client()
            .run("order", ORDER, json!({ "id": gid("Order", id) }))
            .await?;
        let mut order = data["order"].clone();
        if order.is_null() {
            return Err(ConnectorError::NotFound {
                what: format!("Shopify order {order_id}"),
            });
        }
        // A large B2B order has more lines than one answer carries: read the rest.
        while order["lineItems"]["pageInfo"]["hasNextPage"] == true {
            let after = order["lineItems"]["pageInfo"]["endCursor"].clone();
            let more = self
                .client()
                .run(
                    "order lines",
                    MORE_LINES,
                    json!({ "id": gid("Order", id), "after": after }),
                )
                .await?;
            let page = more["order"]["lineItems"].clone();
            if let (Some(lines), Some(next)) = (
                order["lineItems"]["nodes"].as_array_mut(),
                page["nodes"].as_array(),
            ) {
                lines.extend(next.iter().cloned());
            }
            if page["pageInfo"].is_null() {
                break;
            }
            order["lineItems"]["pageInfo"] = page["pageInfo"].clone();
        }
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

#[async_trait]
impl ReturnSource for ShopifySystem {
    async fn returns_changed(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Changes<Return>, ConnectorError> {
        let cursor = SecondsCursor::parse(cursor)?;
        let (orders, more) = self.orders_after(cursor, limit.max(1)).await?;
        let mut returns: Vec<(DateTime<Utc>, u64, Return)> = Vec::new();
        for (updated_at, id, order) in &orders {
            let status = order["displayFinancialStatus"].as_str().unwrap_or_default();
            if status != "PARTIALLY_REFUNDED" && status != "REFUNDED" {
                continue;
            }
            let data = self
                .client()
                .run("refunds", REFUNDS, json!({ "id": gid("Order", *id) }))
                .await?;
            returns.extend(returns_of(&data["order"], *updated_at)?);
        }
        let Some(next) = Self::next_cursor(&orders) else {
            return Ok(Changes::empty());
        };
        returns.sort_by_key(|(at, id, _)| (*at, *id));
        Ok(Changes {
            items: returns.into_iter().map(|(_, _, r)| r).collect(),
            cursor: Some(next),
            more,
        })
    }
}
