//! Sales reports from the orders Kontor has synced: per channel and day, per product,
//! and in total — each per currency, never mixing them. Cancelled orders do not count.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kontor_engine::{Store, StoreError};
use kontor_model::{Currency, Money, Order, OrderStatus, tax_breakdown};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::kinds;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesReport {
    pub tenant: String,
    /// First day included (UTC).
    pub from: NaiveDate,
    /// Last day included (UTC).
    pub to: NaiveDate,
    pub by_day: Vec<DayRow>,
    pub by_product: Vec<ProductRow>,
    pub totals: Vec<TotalRow>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    pub day: NaiveDate,
    /// The shop connection the orders came from.
    pub channel: String,
    pub currency: Currency,
    pub orders: u64,
    #[serde(with = "kontor_model::decimal::plain")]
    pub units: Decimal,
    /// What customers paid, tax included.
    #[serde(with = "kontor_model::decimal::plain")]
    pub gross: Decimal,
    #[serde(with = "kontor_model::decimal::plain")]
    pub tax: Decimal,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub currency: Currency,
    #[serde(with = "kontor_model::decimal::plain")]
    pub units: Decimal,
    /// Line totals after line discounts, tax included.
    #[serde(with = "kontor_model::decimal::plain")]
    pub gross: Decimal,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalRow {
    pub channel: String,
    pub currency: Currency,
    pub orders: u64,
    #[serde(with = "kontor_model::decimal::plain")]
    pub gross: Decimal,
}

fn line_gross(order: &Order, amount: Money, rate: kontor_model::TaxRate) -> Decimal {
    tax_breakdown(order.currency, order.prices_include_tax, [(rate, amount)])
        .ok()
        .and_then(|b| b.first().map(|b| b.gross.amount))
        .unwrap_or(amount.amount)
}

/// Sales between `from` and `to` (both included, by the day each order was placed).
pub async fn sales_report(
    store: &Store,
    tenant: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<SalesReport, StoreError> {
    let mut days: BTreeMap<(NaiveDate, String, Currency), DayRow> = BTreeMap::new();
    let mut products: BTreeMap<(String, Currency), ProductRow> = BTreeMap::new();
    let mut totals: BTreeMap<(String, Currency), TotalRow> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_entities(tenant, kinds::ORDER, after.as_deref(), 500)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for entity in page {
            let Ok(order) = serde_json::from_value::<Order>(entity.data["order"].clone()) else {
                continue;
            };
            let day = order.placed_at.date_naive();
            if day < from || day > to || order.status == OrderStatus::Cancelled {
                continue;
            }
            let channel = entity.data["channel"].as_str().unwrap_or("shop").to_owned();
            let units: Decimal = order.lines.iter().map(|l| l.quantity).sum();
            let row = days
                .entry((day, channel.clone(), order.currency))
                .or_insert_with(|| DayRow {
                    day,
                    channel: channel.clone(),
                    currency: order.currency,
                    orders: 0,
                    units: Decimal::ZERO,
                    gross: Decimal::ZERO,
                    tax: Decimal::ZERO,
                });
            row.orders += 1;
            row.units += units;
            row.gross += order.totals.total.amount;
            row.tax += order.totals.tax.amount;
            let total = totals
                .entry((channel.clone(), order.currency))
                .or_insert_with(|| TotalRow {
                    channel,
                    currency: order.currency,
                    orders: 0,
                    gross: Decimal::ZERO,
                });
            total.orders += 1;
            total.gross += order.totals.total.amount;
            for line in &order.lines {
                let product = products
                    .entry((line.sku.clone(), order.currency))
                    .or_insert_with(|| ProductRow {
                        sku: line.sku.clone(),
                        name: line.name.clone(),
                        currency: order.currency,
                        units: Decimal::ZERO,
                        gross: Decimal::ZERO,
                    });
                product.units += line.quantity;
                if let Ok(amount) = line.amount() {
                    product.gross += line_gross(&order, amount, line.tax_rate);
                }
            }
        }
    }
    let mut by_product: Vec<ProductRow> = products.into_values().collect();
    by_product.sort_by(|a, b| b.gross.cmp(&a.gross).then_with(|| a.sku.cmp(&b.sku)));
    Ok(SalesReport {
        tenant: tenant.to_owned(),
        from,
        to,
        by_day: days.into_values().collect(),
        by_product,
        totals: totals.into_values().collect(),
    })
}

/// What a report's table or CSV is broken down by.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Breakdown {
    /// Per day and channel.
    #[default]
    Day,
    /// Per product.
    Product,
}

/// A CSV field, quoted when it needs to be.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

impl SalesReport {
    /// The report broken down by day or product: headers and rows of text.
    pub fn rows(&self, by: Breakdown) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let report = self;
        match by {
            Breakdown::Day => (
                vec![
                    "day", "channel", "currency", "orders", "units", "gross", "tax",
                ],
                report
                    .by_day
                    .iter()
                    .map(|r| {
                        vec![
                            r.day.to_string(),
                            r.channel.clone(),
                            r.currency.to_string(),
                            r.orders.to_string(),
                            r.units.normalize().to_string(),
                            r.gross.to_string(),
                            r.tax.to_string(),
                        ]
                    })
                    .collect(),
            ),
            Breakdown::Product => (
                vec!["sku", "name", "currency", "units", "gross"],
                report
                    .by_product
                    .iter()
                    .map(|r| {
                        vec![
                            r.sku.clone(),
                            r.name.clone(),
                            r.currency.to_string(),
                            r.units.normalize().to_string(),
                            r.gross.to_string(),
                        ]
                    })
                    .collect(),
            ),
        }
    }

    /// The report as CSV (RFC 4180: a header line, fields quoted when they need to be).
    pub fn csv(&self, by: Breakdown) -> String {
        let (headers, rows) = self.rows(by);
        let mut text = headers.join(",");
        text.push('\n');
        for row in rows {
            let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("Kubek"), "Kubek");
        assert_eq!(csv_field("Skarpety, 3-pak"), "\"Skarpety, 3-pak\"");
        assert_eq!(csv_field("Książka „Kuchnia\""), "\"Książka „Kuchnia\"\"\"");
    }
}
