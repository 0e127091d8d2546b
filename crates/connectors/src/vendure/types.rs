//! The Admin API's orders as `ORDER_FIELDS` selects them, typed after Vendure's Admin
//! schema (`../shared/specs/vendure/schema-admin.graphql`): non-null fields are required,
//! nullable ones `Option`s, so an answer missing a field money, quantity or identity
//! depends on is a mapping error naming it (read with [`crate::typed::read`]). `Money`
//! is an integer of minor units.

use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Customer {
    pub id: String,
    pub email_address: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderAddress {
    pub full_name: Option<String>,
    pub company: Option<String>,
    pub street_line1: Option<String>,
    pub street_line2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Variant {
    pub sku: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderLine {
    pub id: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub unit_price_with_tax: i64,
    pub line_price: i64,
    pub line_price_with_tax: i64,
    pub prorated_line_price: i64,
    pub prorated_line_price_with_tax: i64,
    pub tax_rate: f64,
    pub product_variant: Variant,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShippingMethod {
    pub code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShippingLine {
    pub shipping_method: ShippingMethod,
    pub discounted_price: i64,
    pub discounted_price_with_tax: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaxSummary {
    pub tax_rate: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refund {
    pub id: String,
    pub total: i64,
    pub state: String,
    pub transaction_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payment {
    pub id: String,
    pub method: String,
    pub amount: i64,
    pub state: String,
    pub transaction_id: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub refunds: Vec<Refund>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    pub id: String,
    pub code: String,
    pub state: String,
    pub order_placed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub currency_code: String,
    pub customer: Option<Customer>,
    pub shipping_address: Option<OrderAddress>,
    pub billing_address: Option<OrderAddress>,
    pub lines: Vec<OrderLine>,
    pub shipping_lines: Vec<ShippingLine>,
    pub tax_summary: Vec<TaxSummary>,
    pub total: i64,
    pub total_with_tax: i64,
    pub payments: Option<Vec<Payment>>,
}
