//! A shop's shipping lines as the one shipping charge Kontor's order has: lines at one
//! tax rate are added up (a free line fits any rate); lines at two rates are refused,
//! never dropped — the ERP document would not add up to what was paid.

use kontor_connector::ConnectorError;
use kontor_model::{Money, ShippingCharge, TaxRate};

/// One charge for `method` from each line's amount and tax rate, or `None` without
/// lines. `field` names the lines in a refusal.
pub(crate) fn one_charge(
    method: String,
    lines: &[(Money, TaxRate)],
    order_number: &str,
    field: &str,
) -> Result<Option<ShippingCharge>, ConnectorError> {
    let Some((first, _)) = lines.first() else {
        return Ok(None);
    };
    let rate = lines
        .iter()
        .find(|(amount, _)| !amount.amount.is_zero())
        .map_or(TaxRate::ZERO, |(_, rate)| *rate);
    let mut total = Money::zero(first.currency);
    for (amount, line_rate) in lines {
        if *line_rate != rate && !amount.amount.is_zero() {
            return Err(ConnectorError::Rejected {
                code: Some("mixed_shipping_tax_rates".into()),
                message: format!(
                    "order {order_number} has shipping lines taxed at {rate} and {line_rate}; Kontor takes one shipping charge per order"
                ),
                field: Some(field.into()),
            });
        }
        total = total
            .checked_add(amount)
            .map_err(|e| ConnectorError::protocol(format!("order {order_number}: {field}: {e}")))?;
    }
    Ok(Some(ShippingCharge {
        method,
        amount: total,
        tax_rate: rate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_model::Currency;
    use rust_decimal::Decimal;

    fn pln(cents: i64) -> Money {
        Money::new(Decimal::new(cents, 2), Currency::PLN)
    }

    #[test]
    fn lines_at_one_rate_add_up_free_ones_fit_any_and_two_rates_are_refused() {
        let vat = TaxRate(Decimal::from(23));
        let charge = one_charge(
            "courier".into(),
            &[(pln(0), TaxRate::ZERO), (pln(1500), vat), (pln(500), vat)],
            "1001",
            "shipping_lines",
        )
        .expect("one charge")
        .expect("some");
        assert_eq!((charge.amount, charge.tax_rate), (pln(2000), vat));
        assert_eq!(
            one_charge("x".into(), &[], "1001", "s").expect("none"),
            None
        );
        let refused = one_charge(
            "x".into(),
            &[(pln(1500), vat), (pln(500), TaxRate(Decimal::from(8)))],
            "1001",
            "shipping_lines",
        );
        assert!(matches!(
            refused,
            Err(ConnectorError::Rejected { code: Some(c), field: Some(f), .. })
                if c == "mixed_shipping_tax_rates" && f == "shipping_lines"
        ));
    }
}
