//! What a shop with a single price per item (Shopify, WooCommerce) can take of the
//! ERP's prices. Both have one price per variant, in one currency, entered with or
//! without tax as the shop is set up; price lists, customer prices and quantity tiers
//! need plugins or paid plans. A price the shop cannot show as the ERP means it is
//! refused with a code the operator can act on, never converted behind their back.

use kontor_connector::ConnectorError;
use kontor_model::{Currency, Price, PriceKind, PriceScope};
use rust_decimal::Decimal;

/// How a shop keeps its prices, and the words to explain a refusal in.
pub(crate) struct SinglePriceShop<'a> {
    /// The platform's name, as a merchant knows it.
    pub platform: &'a str,
    pub currency: Currency,
    pub taxes_included: bool,
    /// Where the merchant changes the tax basis, e.g. `Settings › Taxes and duties`.
    pub tax_setting: &'a str,
    /// Whether promotions (a sale price with dates) can be written.
    pub promotions: bool,
    /// What other price scopes would need, e.g. `a plugin`.
    pub scopes_need: &'a str,
}

impl SinglePriceShop<'_> {
    /// Why this shop cannot take `price`, or `None` when it can.
    pub fn refusal(&self, price: &Price) -> Option<ConnectorError> {
        let platform = self.platform;
        let basis = |included: bool| if included { "with" } else { "without" };
        if price.scope != PriceScope::Base {
            Some(refuse(
                "unsupported_price_scope",
                format!(
                    "{platform} has one price per variant; {:?} prices need {} (set the prices flow's `scopes = [\"base\"]`)",
                    price.scope, self.scopes_need
                ),
                "scope",
            ))
        } else if price.kind == PriceKind::Promotion && !self.promotions {
            Some(refuse(
                "unsupported_promotion",
                format!(
                    "{platform} has no scheduled sale price; run promotions as {platform} discounts, or send the promotional price as the regular one"
                ),
                "kind",
            ))
        } else if price.min_quantity > Decimal::ONE {
            Some(refuse(
                "unsupported_tier_price",
                format!(
                    "{platform} has no quantity tiers; the price from {} pieces is not sent",
                    price.min_quantity
                ),
                "min_quantity",
            ))
        } else if price.amount.currency != self.currency {
            Some(refuse(
                "currency_mismatch",
                format!(
                    "the shop sells in {}, the price is in {}",
                    self.currency.code(),
                    price.amount.currency.code()
                ),
                "currency",
            ))
        } else if price.includes_tax != self.taxes_included {
            Some(refuse(
                "tax_basis_mismatch",
                format!(
                    "the shop's prices are entered {} tax, this price is {} tax ({platform} › {})",
                    basis(self.taxes_included),
                    basis(price.includes_tax),
                    self.tax_setting
                ),
                "includes_tax",
            ))
        } else {
            None
        }
    }
}

fn refuse(code: &str, message: String, field: &str) -> ConnectorError {
    ConnectorError::Rejected {
        code: Some(code.into()),
        message,
        field: Some(field.into()),
    }
}
