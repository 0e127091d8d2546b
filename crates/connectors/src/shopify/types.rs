//! The Admin API's answers as Kontor selects them, typed after Shopify's published
//! schema (2026-10, in `crates/fakes/specs/`): a field the schema makes non-null is a
//! required field here, a nullable one an `Option`. An answer missing a field money,
//! quantity or identity depends on is a mapping error naming the field — never a zero
//! (read with [`crate::typed::read`]).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use kontor_connector::ConnectorError;
use kontor_model::{Currency, Money};

/// `MoneyBag`: an amount in the shop's currency.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyBag {
    pub shop_money: MoneyV2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MoneyV2 {
    /// `Decimal!`, sent as a decimal string.
    #[serde(with = "kontor_model::decimal::plain")]
    pub amount: Decimal,
    pub currency_code: String,
}

impl MoneyBag {
    /// The amount, in `currency`: an amount in another currency is refused, not added
    /// to the order's as if it were the same.
    pub fn money(&self, currency: Currency, what: &str) -> Result<Money, ConnectorError> {
        if self.shop_money.currency_code != currency.code() {
            return Err(ConnectorError::protocol(format!(
                "{what}: an amount in {} on an order in {currency}",
                self.shop_money.currency_code
            )));
        }
        Ok(Money::new(self.shop_money.amount, currency))
    }
}

/// A connection's nodes, and whether more are waiting past them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Nodes<T> {
    pub nodes: Vec<T>,
    #[serde(default)]
    pub page_info: Option<PageInfo>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub has_next_page: bool,
}

impl<T> Nodes<T> {
    /// More nodes than were asked for exist.
    pub fn truncated(&self) -> bool {
        self.page_info.as_ref().is_some_and(|p| p.has_next_page)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaxLine {
    /// Nullable in the schema; a tax line without a rate is refused where one is needed.
    pub rate_percentage: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attribute {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MailingAddress {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub zip: Option<String>,
    pub province: Option<String>,
    pub country_code_v2: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LineItem {
    pub id: String,
    pub sku: Option<String>,
    pub name: String,
    pub quantity: i64,
    pub original_unit_price_set: MoneyBag,
    pub total_discount_set: MoneyBag,
    pub tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShippingLine {
    pub title: String,
    pub code: Option<String>,
    pub source: Option<String>,
    pub delivery_category: Option<String>,
    pub discounted_price_set: MoneyBag,
    pub tax_lines: Vec<TaxLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Transaction {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub gateway: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub amount_set: MoneyBag,
}

/// An order as `ORDER` selects it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub note: Option<String>,
    pub currency_code: String,
    pub taxes_included: bool,
    pub display_financial_status: Option<String>,
    pub display_fulfillment_status: String,
    pub payment_gateway_names: Vec<String>,
    pub custom_attributes: Vec<Attribute>,
    pub customer: Option<Customer>,
    pub billing_address: Option<MailingAddress>,
    pub shipping_address: Option<MailingAddress>,
    pub line_items: Nodes<LineItem>,
    pub shipping_lines: Nodes<ShippingLine>,
    pub total_price_set: MoneyBag,
    pub total_tax_set: Option<MoneyBag>,
    pub transactions: Vec<Transaction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundedItem {
    pub sku: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundLineItem {
    pub quantity: i64,
    pub line_item: RefundedItem,
}

/// A refund as `REFUNDS` selects it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refund {
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub total_refunded_set: MoneyBag,
    pub refund_line_items: Nodes<RefundLineItem>,
}

/// The order a refund belongs to, as `REFUNDS` selects it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundedOrder {
    pub name: String,
    pub currency_code: String,
    pub refunds: Vec<Refund>,
}
