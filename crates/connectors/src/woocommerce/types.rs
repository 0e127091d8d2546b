//! The REST API's orders as Kontor reads them, typed after WooCommerce's REST API
//! documentation (`wc/v3`, "Order properties"): what money, quantity or identity depends
//! on is required, so an answer without it is refused naming the field (read with
//! [`crate::typed::read`]). WooCommerce prints amounts as decimal strings.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// An amount as WooCommerce prints it: a decimal string (a number is taken too).
/// An empty string is refused: it is not an amount.
fn amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Printed {
        Text(String),
        Number(serde_json::Number),
    }
    let text = match Printed::deserialize(deserializer)? {
        Printed::Text(text) => text,
        Printed::Number(number) => number.to_string(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(serde::de::Error::custom("is empty, not an amount"));
    }
    kontor_model::decimal::parse_plain(text)
        .or_else(|_| text.parse::<Decimal>().map_err(|e| e.to_string()))
        .map_err(serde::de::Error::custom)
}

/// An amount that may be printed empty: a tax that does not apply to the line.
fn optional_amount<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let text = Option::<serde_json::Value>::deserialize(deserializer)?;
    match text {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(value) => amount(value).map(Some).map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ItemTax {
    pub id: u64,
    #[serde(default, deserialize_with = "optional_amount")]
    pub total: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LineItem {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
    #[serde(deserialize_with = "amount")]
    pub subtotal: Decimal,
    #[serde(deserialize_with = "amount")]
    pub subtotal_tax: Decimal,
    #[serde(deserialize_with = "amount")]
    pub total: Decimal,
    #[serde(deserialize_with = "amount")]
    pub total_tax: Decimal,
    pub taxes: Vec<ItemTax>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ShippingLine {
    pub method_id: String,
    pub method_title: String,
    #[serde(deserialize_with = "amount")]
    pub total: Decimal,
    #[serde(deserialize_with = "amount")]
    pub total_tax: Decimal,
    pub taxes: Vec<ItemTax>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TaxLine {
    pub rate_id: u64,
    #[serde(deserialize_with = "amount")]
    pub rate_percent: Decimal,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RefundSummary {
    pub id: u64,
    #[serde(deserialize_with = "amount")]
    pub total: Decimal,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Meta {
    pub key: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// An order, as `GET /orders/{id}` answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Order {
    pub id: u64,
    pub number: String,
    pub status: String,
    pub currency: String,
    pub prices_include_tax: bool,
    pub date_created_gmt: String,
    pub date_modified_gmt: String,
    #[serde(default)]
    pub date_paid_gmt: Option<String>,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub payment_method: String,
    pub customer_id: u64,
    #[serde(default)]
    pub customer_note: String,
    #[serde(default)]
    pub billing: Address,
    #[serde(default)]
    pub shipping: Address,
    pub line_items: Vec<LineItem>,
    pub shipping_lines: Vec<ShippingLine>,
    pub tax_lines: Vec<TaxLine>,
    #[serde(deserialize_with = "amount")]
    pub total: Decimal,
    #[serde(deserialize_with = "amount")]
    pub total_tax: Decimal,
    #[serde(default)]
    pub refunds: Vec<RefundSummary>,
    #[serde(default)]
    pub meta_data: Vec<Meta>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RefundLine {
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
}

/// A refund, as `GET /orders/{id}/refunds` answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Refund {
    pub id: u64,
    pub date_created_gmt: String,
    #[serde(deserialize_with = "amount")]
    pub amount: Decimal,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub line_items: Vec<RefundLine>,
}
