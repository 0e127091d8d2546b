//! Prices: base prices, price lists, customer-group and customer-specific (B2B) prices,
//! and promotions with a validity window.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;
use crate::validate::{Validate, Validator};

/// Who a price applies to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "id", rename_all = "snake_case")]
pub enum PriceScope {
    /// The price everyone pays unless something more specific applies.
    Base,
    /// A named price list (e.g. `wholesale`).
    PriceList(String),
    /// Everyone in a customer group.
    CustomerGroup(String),
    /// One customer (B2B negotiated price), by the customer's id in the price's source system.
    Customer(String),
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    #[default]
    Regular,
    /// A time-limited price; shops show it as a sale with the regular price struck out.
    Promotion,
}

/// One price of one variant.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub sku: String,
    pub amount: Money,
    /// Whether `amount` includes tax (gross) or not (net).
    pub includes_tax: bool,
    pub scope: PriceScope,
    #[serde(default)]
    pub kind: PriceKind,
    /// Applies from this quantity up (tiered prices); 1 for a plain price.
    #[serde(default = "one", with = "crate::decimal::plain")]
    pub min_quantity: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

fn one() -> Decimal {
    Decimal::ONE
}

impl Price {
    /// True if the price applies at `at` (validity window is [from, until)).
    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.valid_from.is_none_or(|from| at >= from)
            && self.valid_until.is_none_or(|until| at < until)
    }
}

impl Validate for Price {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.sku, "sku");
        v.check(!self.amount.is_negative(), "amount", "must not be negative");
        v.check(
            self.min_quantity > Decimal::ZERO,
            "min_quantity",
            "must be positive",
        );
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            v.check(from < until, "valid_until", "must be after valid_from");
        }
        if self.kind == PriceKind::Promotion {
            v.check(
                self.valid_until.is_some(),
                "valid_until",
                "a promotion needs an end date",
            );
        }
    }
}
