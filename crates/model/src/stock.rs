//! Stock per warehouse.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::validate::{Validate, Validator};

/// Stock of one SKU in one ERP warehouse.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    /// The ERP's warehouse code; mapped to shop locations by configuration.
    pub warehouse: String,
    #[serde(with = "crate::decimal::plain")]
    pub on_hand: Decimal,
    /// Promised to orders not yet shipped.
    #[serde(default, with = "crate::decimal::plain")]
    pub reserved: Decimal,
    /// Expected deliveries, for "available from" in the shop.
    #[serde(default)]
    pub incoming: Vec<IncomingStock>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingStock {
    #[serde(with = "crate::decimal::plain")]
    pub quantity: Decimal,
    pub expected_on: NaiveDate,
}

impl StockLevel {
    /// What can still be sold: on hand minus reserved minus a safety margin, never below zero.
    pub fn available(&self, safety_stock: Decimal) -> Decimal {
        (self.on_hand - self.reserved - safety_stock).max(Decimal::ZERO)
    }

    /// The earliest expected delivery, if any.
    pub fn next_incoming(&self) -> Option<&IncomingStock> {
        self.incoming.iter().min_by_key(|i| i.expected_on)
    }
}

impl Validate for StockLevel {
    fn validate_into(&self, v: &mut Validator) {
        v.required(&self.sku, "sku");
        v.required(&self.warehouse, "warehouse");
        v.check(
            !self.reserved.is_sign_negative(),
            "reserved",
            "must not be negative",
        );
        for (i, incoming) in self.incoming.iter().enumerate() {
            v.check(
                incoming.quantity > Decimal::ZERO,
                &format!("incoming[{i}].quantity"),
                "must be positive",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn available_subtracts_reserved_and_safety_and_never_goes_negative() {
        let level = StockLevel {
            sku: "A".into(),
            warehouse: "MAIN".into(),
            on_hand: dec!(10),
            reserved: dec!(3),
            incoming: vec![],
        };
        assert_eq!(level.available(dec!(2)), dec!(5));
        assert_eq!(level.available(dec!(20)), dec!(0));
    }
}
